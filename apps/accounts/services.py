"""Writes for accounts: the teacher CSV import, the demo data and officers' two-factor login."""

import csv
import logging
import math
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TextIO

import django_otp
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.backends import user_cache_forget_on_commit
from apps.accounts.models import Batch, District, User
from apps.core.exceptions import Invalid, Refused

TEACHER_CSV_REQUIRED = ("employee_id", "first_name", "last_name", "email", "district")
TEACHER_CSV_OPTIONAL = ("batch",)
# What a re-import overwrites (employee_id is the key); the optional columns only when present.
TEACHER_CSV_UPDATED = ("first_name", "last_name", "email", "district")

ERR_HEADER_MISSING = "The CSV header is missing required column(s): {columns}."
ERR_HEADER_UNKNOWN = "The CSV header has unknown column(s): {columns}."
ERR_HEADER_EMPTY = "The file is empty: expected a header row with {columns}."
ERR_ENCODING = "The file is not valid UTF-8 text."
ERR_MALFORMED = "The file is not a readable CSV (line {line}: {error})."
ERR_NUL = "{column} contains a NUL character"
ERR_MISSING_VALUE = "missing {column}"
ERR_TOO_LONG = "{column} is longer than {limit} characters"
ERR_BAD_EMAIL = "invalid email {value!r}"
ERR_UNKNOWN_DISTRICT = "unknown district {value!r}"
ERR_UNKNOWN_BATCH = "unknown batch {value!r}"
ERR_DUPLICATE_ID = "employee_id {value!r} already appears on line {line}"
ERR_USERNAME_TAKEN = "username {value!r} belongs to another account"
ERR_COLUMN_COUNT = "expected {expected} values, found {found}"

_LIMITS = {"employee_id": 32, "first_name": 150, "last_name": 150, "email": 254}


class TeacherImportError(Exception):
    """The file as a whole cannot be imported (header, encoding)."""


@dataclass
class RowError:
    line: int
    employee_id: str
    problems: list[str]

    def __str__(self) -> str:
        who = f" ({self.employee_id})" if self.employee_id else ""
        return f"line {self.line}{who}: {'; '.join(self.problems)}"


@dataclass
class TeacherImportResult:
    total_rows: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0
    errors: list[RowError] = field(default_factory=list)
    dry_run: bool = False
    imported: bool = False


@dataclass
class _TeacherRow:
    line: int
    employee_id: str
    first_name: str
    last_name: str
    email: str
    district_id: int
    batch_id: int | None


def _lookup(model) -> dict[str, int]:
    """name and code, case-insensitive, to id."""
    table = {}
    for pk, name, code in model.objects.values_list("pk", "name", "code"):
        table[name.casefold()] = pk
        table[code.casefold()] = pk
    return table


def _read_header(reader) -> list[str]:
    try:
        header = next(reader)
    except StopIteration:
        raise TeacherImportError(
            ERR_HEADER_EMPTY.format(columns=", ".join(TEACHER_CSV_REQUIRED))
        ) from None
    header = [name.strip().lower() for name in header]
    missing = [c for c in TEACHER_CSV_REQUIRED if c not in header]
    if missing:
        raise TeacherImportError(ERR_HEADER_MISSING.format(columns=", ".join(missing)))
    unknown = [c for c in header if c not in TEACHER_CSV_REQUIRED + TEACHER_CSV_OPTIONAL]
    if unknown:
        raise TeacherImportError(ERR_HEADER_UNKNOWN.format(columns=", ".join(unknown)))
    return header


def _taken_usernames(employee_ids: list[str]) -> set[str]:
    """Usernames in the file that belong to an account with another (or no) employee id."""
    taken: set[str] = set()
    for start in range(0, len(employee_ids), 5000):
        chunk = employee_ids[start : start + 5000]
        taken.update(
            User.objects.filter(username__in=chunk)
            .exclude(employee_id__in=chunk)
            .values_list("username", flat=True)
        )
    return taken


def teachers_parse(*, file: TextIO) -> tuple[list[_TeacherRow], list[RowError], list[str]]:
    """Read and validate every row; return the good rows, a report of the bad ones and the
    header's columns."""
    reader = csv.reader(file)
    try:
        header = _read_header(reader)
        districts, batches = _lookup(District), _lookup(Batch)
        rows: list[_TeacherRow] = []
        errors: list[RowError] = []
        first_line_of: dict[str, int] = {}
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue  # blank lines are not rows
            problems: list[str] = []
            if len(values) != len(header):
                problems.append(ERR_COLUMN_COUNT.format(expected=len(header), found=len(values)))
            record = {name: value.strip() for name, value in zip(header, values, strict=False)}
            employee_id = record.get("employee_id", "")
            for column in TEACHER_CSV_REQUIRED:
                if not record.get(column):
                    problems.append(ERR_MISSING_VALUE.format(column=column))
            # PostgreSQL text cannot hold NUL: refuse the row instead of failing the chunk.
            problems.extend(ERR_NUL.format(column=c) for c, v in record.items() if "\x00" in v)
            for column, limit in _LIMITS.items():
                if len(record.get(column, "")) > limit:
                    problems.append(ERR_TOO_LONG.format(column=column, limit=limit))
            if record.get("email"):
                try:
                    validate_email(record["email"])
                except ValidationError:
                    problems.append(ERR_BAD_EMAIL.format(value=record["email"]))
            district_id = districts.get(record.get("district", "").casefold())
            if record.get("district") and district_id is None:
                problems.append(ERR_UNKNOWN_DISTRICT.format(value=record["district"]))
            batch_id = batches.get(record.get("batch", "").casefold())
            if record.get("batch") and batch_id is None:
                problems.append(ERR_UNKNOWN_BATCH.format(value=record["batch"]))
            if employee_id in first_line_of:
                problems.append(
                    ERR_DUPLICATE_ID.format(value=employee_id, line=first_line_of[employee_id])
                )
            elif employee_id:
                first_line_of[employee_id] = line
            if problems:
                errors.append(RowError(line=line, employee_id=employee_id, problems=problems))
                continue
            rows.append(
                _TeacherRow(
                    line=line,
                    employee_id=employee_id,
                    first_name=record["first_name"],
                    last_name=record["last_name"],
                    email=record["email"].lower(),
                    district_id=district_id,
                    batch_id=batch_id,
                )
            )
    except UnicodeDecodeError:
        raise TeacherImportError(ERR_ENCODING) from None
    except csv.Error as error:  # e.g. a field over csv's size limit
        raise TeacherImportError(ERR_MALFORMED.format(line=reader.line_num, error=error)) from None

    taken = _taken_usernames([row.employee_id for row in rows])
    if taken:
        errors.extend(
            RowError(row.line, row.employee_id, [ERR_USERNAME_TAKEN.format(value=row.employee_id)])
            for row in rows
            if row.employee_id in taken
        )
        errors.sort(key=lambda error: error.line)
        rows = [row for row in rows if row.employee_id not in taken]
    return rows, errors, header


def _upsert_teachers(
    rows: list[_TeacherRow], password_hash: str | None, update_fields: list[str]
) -> int:
    """INSERT ... ON CONFLICT (employee_id) DO UPDATE for one chunk; returns how many were new."""
    ids = [row.employee_id for row in rows]
    existing = dict(User.objects.filter(employee_id__in=ids).values_list("employee_id", "pk"))
    User.objects.bulk_create(
        [
            User(
                username=row.employee_id,
                employee_id=row.employee_id,
                first_name=row.first_name,
                last_name=row.last_name,
                email=row.email,
                district_id=row.district_id,
                batch_id=row.batch_id,
                role=User.Role.TEACHER,
                # Only new accounts get this; the upsert never touches an existing password.
                password=password_hash or make_password(None),
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["employee_id"],
        update_fields=update_fields,
    )
    # The upsert bypasses save() and its signals; signed-in teachers must see a new district
    # or batch at once.
    user_cache_forget_on_commit(*existing.values())
    return len(rows) - len(existing)


def teachers_import(
    *,
    file: TextIO,
    dry_run: bool = False,
    skip_invalid: bool = False,
    atomic: bool = False,
    chunk_size: int = 2000,
    initial_password: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> TeacherImportResult:
    """Import teachers from CSV, idempotent by employee id (a re-import updates, never duplicates).

    Every row is validated first. With bad rows nothing is imported unless `skip_invalid`.
    Rows are upserted in chunks, one transaction per chunk, or all in one with `atomic`.
    New teachers get `initial_password` (hashed once, shared) or an unusable password.
    """
    rows, errors, header = teachers_parse(file=file)
    result = TeacherImportResult(total_rows=len(rows) + len(errors), errors=errors, dry_run=dry_run)
    if errors and not skip_invalid:
        return result
    result.skipped = len(errors)
    if dry_run:
        existing = _count_existing(row.employee_id for row in rows)
        result.updated, result.created = existing, len(rows) - existing
        return result

    password_hash = make_password(initial_password) if initial_password else None
    # An optional column the file leaves out keeps what teachers have; an empty cell in a
    # column that is there clears the value.
    optional = [column for column in TEACHER_CSV_OPTIONAL if column in header]
    update_fields = [*TEACHER_CSV_UPDATED, *optional]
    chunks = [rows[i : i + chunk_size] for i in range(0, len(rows), chunk_size)]
    with transaction.atomic(durable=True) if atomic else nullcontext():
        for chunk in chunks:
            with transaction.atomic():
                created = _upsert_teachers(chunk, password_hash, update_fields)
            result.created += created
            result.updated += len(chunk) - created
            if progress:
                progress(len(chunk))
    result.imported = True
    return result


def _count_existing(employee_ids: Iterable[str]) -> int:
    ids = list(employee_ids)
    return sum(
        User.objects.filter(employee_id__in=ids[i : i + 5000]).count()
        for i in range(0, len(ids), 5000)
    )


# --- Officers' two-factor login (django-otp) --------------------------------------------
# Who needs it and whether a request has it: apps/accounts/two_factor.py.

RECOVERY_CODE_COUNT = 10
TOTP_DEVICE_NAME = "authenticator"
RECOVERY_DEVICE_NAME = "recovery codes"
ERR_TWO_FACTOR_CODE = _(
    "That code is not right. Type the 6 digits your authenticator app shows now, or one of "
    "your recovery codes."
)
ERR_TWO_FACTOR_THROTTLED = _(
    "Too many wrong codes for this account. Wait %(seconds)s seconds, then try again."
)
ERR_TWO_FACTOR_ENROLLED = _("Two-factor login is already set up for this account.")
ERR_TWO_FACTOR_NOT_ENROLLED = _("Two-factor login is not set up for this account yet.")
TWO_FACTOR_THROTTLED = "two_factor_throttled"  # the Refused's code: a 429, not a 409

logger = logging.getLogger(__name__)


def _code_normalised(code: str) -> str:
    """Spaces and dashes people type into codes do not count; recovery codes are lower case."""
    return "".join(code.split()).replace("-", "").lower()


def _verify(user: User, device, code: str):
    """django-otp's verification (the device locked, its throttling counted and committed);
    a device still in its back-off after wrong codes refuses with how long to wait."""
    allowed, details = device.verify_is_allowed()
    if not allowed:
        seconds = max(1, math.ceil((details["locked_until"] - timezone.now()).total_seconds()))
        raise Refused(ERR_TWO_FACTOR_THROTTLED % {"seconds": seconds}, code=TWO_FACTOR_THROTTLED)
    # Its own transaction, so that a wrong code's count survives the refusal below.
    verified = django_otp.verify_token(user, device.persistent_id, code)
    if verified is None:
        raise Invalid(ERR_TWO_FACTOR_CODE, errors={"code": [ERR_TWO_FACTOR_CODE]})
    return verified


def _recovery_codes_replace(user: User) -> list[str]:
    device, _created = StaticDevice.objects.get_or_create(
        user=user, defaults={"name": RECOVERY_DEVICE_NAME}
    )
    device.token_set.all().delete()
    codes = [StaticToken.random_token() for _ in range(RECOVERY_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def two_factor_enrol_start(*, user: User) -> TOTPDevice:
    """The officer's authenticator waiting for its first code: the same one until confirmed,
    so reloading the enrolment page keeps the QR code the phone may already have read."""
    with transaction.atomic(durable=True):
        devices = TOTPDevice.objects.select_for_update().filter(user=user).order_by("pk")
        if any(device.confirmed for device in devices):
            raise Refused(ERR_TWO_FACTOR_ENROLLED)
        device = next(iter(devices), None)
        if device is None:
            device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def two_factor_enrol_confirm(*, user: User, code: str) -> tuple[TOTPDevice, list[str]]:
    """Confirm the pending authenticator with a code it shows; returns it and the officer's
    ten new recovery codes, which are shown once and never again (not recoverable)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("pk").first()
    if device is None:
        raise Refused(
            ERR_TWO_FACTOR_ENROLLED
            if TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            else ERR_TWO_FACTOR_NOT_ENROLLED
        )
    device = _verify(user, device, _code_normalised(code))
    with transaction.atomic(durable=True):
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
    logger.info("two-factor login set up for user %s", user.pk)
    return device, codes


def two_factor_verify(*, user: User, code: str):
    """The device that accepts `code`: 6 digits go to the authenticator, anything else is a
    recovery code (used up by this). Raises Invalid for a wrong code, Refused while the
    device is throttled."""
    code = _code_normalised(code)
    model = TOTPDevice if code.isascii() and code.isdigit() and len(code) <= 8 else StaticDevice
    device = model.objects.filter(user=user, confirmed=True).order_by("pk").first()
    if device is None:
        if model is TOTPDevice:
            raise Refused(ERR_TWO_FACTOR_NOT_ENROLLED)
        raise Invalid(ERR_TWO_FACTOR_CODE, errors={"code": [ERR_TWO_FACTOR_CODE]})
    return _verify(user, device, code)


def recovery_codes_regenerate(*, user: User) -> list[str]:
    """Ten new recovery codes; the old ones stop working."""
    with transaction.atomic(durable=True):
        codes = _recovery_codes_replace(user)
    logger.info("recovery codes replaced for user %s", user.pk)
    return codes


def two_factor_reset(*, user: User, by: User) -> int:
    """An officer lost their phone: remove their authenticator and recovery codes, so that
    their next login enrols again. Their sessions lose their verification at the next
    request (the device they were verified with is gone). Returns the devices removed."""
    with transaction.atomic(durable=True):
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        removed_codes, _ = StaticDevice.objects.filter(user=user).delete()
    logger.warning("two-factor login of user %s reset by user %s", user.pk, by.pk)
    return removed + removed_codes

"""Bench data that every run reuses while the schema is unchanged (bench/stack.py drops the
bench database when a migration changes). Each loader tops up to the size asked for, so a
quick run after a full one reuses the full data and a full run after a quick one adds the
rest."""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.core.management import call_command
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import Batch, District, User

TEACHER_PREFIX = "BT"  # bench teachers' employee ids: BT000001 ...
DISTRICTS = 10
BATCHES = 2


@contextmanager
def timed(label: str) -> Iterator[None]:
    began = time.monotonic()
    yield
    print(f"[bench]   {label}: {time.monotonic() - began:.1f} s", flush=True)


def teacher_id(number: int) -> str:
    return f"{TEACHER_PREFIX}{number:06d}"


def ensure_teachers(count: int, workdir: Path) -> list[User]:
    """`count` bench teachers, loaded through the real import command (the same upsert path
    staff use for 40,000 teachers); returns them in employee id order."""
    teachers = User.objects.filter(employee_id__startswith=TEACHER_PREFIX)
    if teachers.count() < count:
        districts = [
            District.objects.get_or_create(code=f"bench-{n}", defaults={"name": f"Bench {n}"})[0]
            for n in range(1, DISTRICTS + 1)
        ]
        batches = [
            Batch.objects.get_or_create(code=f"bench-{n}", defaults={"name": f"Bench {n}"})[0]
            for n in range(1, BATCHES + 1)
        ]
        path = workdir / "teachers.csv"
        with open(path, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                ["employee_id", "first_name", "last_name", "email", "district", "batch"]
            )
            for n in range(1, count + 1):
                writer.writerow(
                    [
                        teacher_id(n),
                        "Bench",
                        f"Teacher {n}",
                        f"{teacher_id(n).lower()}@bench.crowdproof.example",
                        districts[n % DISTRICTS].code,
                        batches[n % BATCHES].code,
                    ]
                )
        with timed(f"import_teachers ({count:,} rows)"):
            call_command("import_teachers", str(path), "--no-progress", verbosity=0)
    return list(teachers.order_by("employee_id")[:count])


def bench_staff() -> User:
    """A superuser for the staff and officer pages (results, complaints dashboard), with an
    authenticator: its bench sessions are verified ones (bench/sessions.py)."""
    user, _ = User.objects.get_or_create(
        username="bench-staff",
        defaults={"role": User.Role.STAFF, "is_staff": True, "is_superuser": True},
    )
    TOTPDevice.objects.get_or_create(user=user, confirmed=True, defaults={"name": "bench"})
    return user


def service_history_forget() -> None:
    """A bench or drill run starting is not the service coming back from an outage: forget
    the heartbeat of earlier runs (their stop and the minutes since would be a gap that the
    first web beat credits to every attempt left running), with any credit it gave."""
    from apps.assessments.models import AttemptAdjustment
    from apps.core.models import ServiceInterval, ServiceOutage

    AttemptAdjustment.objects.filter(outage__isnull=False).delete()
    ServiceOutage.objects.all().delete()
    ServiceInterval.objects.all().delete()

"""Attachments: the limits and accepted types (checked here, whoever files), the type
sniffed from the content, safe display names, storage, orphans."""

import hashlib
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

import filetype
from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.storage import default_storage
from django.template.defaultfilters import filesizeformat
from django.utils import timezone
from django.utils.text import get_valid_filename
from django.utils.translation import gettext_lazy as _

from apps.complaints.models import Attachment
from apps.core.exceptions import Invalid

SNIFF_BYTES = 8192
MB = 1024 * 1024
ERR_TOO_MANY_FILES = _("At most %(limit)s files can be attached.")
ERR_FILE_EMPTY = _("“%(name)s” is empty (0 bytes).")
ERR_FILE_TOO_BIG = _("“%(name)s” is larger than the limit of %(limit)s per file.")
ERR_TOTAL_TOO_BIG = _("The attachments together are larger than the limit of %(limit)s.")
ERR_FILE_TYPE = _(
    "“%(name)s” is not an accepted file type (its content is %(found)s). "
    "Accepted: PDF, images, audio, video and office documents."
)


@dataclass(frozen=True)
class CheckedUpload:
    """An upload read once: its type sniffed from its first bytes, and its digest."""

    upload: File
    content_type: str | None
    sha256: str


def _attachment_read(upload) -> CheckedUpload:
    """One pass over the content: the digest of every chunk, the type from the first bytes
    (not the file's name or the browser's header)."""
    digest, head = hashlib.sha256(), b""
    for chunk in upload.chunks():
        if len(head) < SNIFF_BYTES:
            head += chunk[: SNIFF_BYTES - len(head)]
        digest.update(chunk)
    kind = filetype.guess(head) if head else None
    return CheckedUpload(upload, kind.mime if kind else None, digest.hexdigest())


def attachments_check(uploads, *, kept_files: int = 0, kept_bytes: int = 0) -> list[CheckedUpload]:
    """The uploads if they keep the limits (count, size of each and in all, accepted types);
    Invalid with a message per file under "attachments" otherwise. Nothing is stored. The
    limits are per complaint: a follow-up passes what the complaint already holds (`kept_*`)
    and is told what is left."""
    uploads = list(uploads)
    if len(uploads) > settings.COMPLAINTS_MAX_FILES - kept_files:
        message = ERR_TOO_MANY_FILES % {"limit": max(settings.COMPLAINTS_MAX_FILES - kept_files, 0)}
        raise Invalid(errors={"attachments": [message]})
    per_file = settings.COMPLAINTS_MAX_FILE_MB * MB
    checked, errors = [], []
    for upload in uploads:
        params = {"name": upload.name, "limit": filesizeformat(per_file)}
        if not upload.size:
            errors.append(ERR_FILE_EMPTY % params)
        elif upload.size > per_file:
            errors.append(ERR_FILE_TOO_BIG % params)
        else:
            read = _attachment_read(upload)
            if read.content_type not in settings.COMPLAINTS_ALLOWED_TYPES:
                found = read.content_type or _("unrecognised")
                errors.append(ERR_FILE_TYPE % {**params, "found": found})
            checked.append(read)
    if errors:
        raise Invalid(errors={"attachments": errors})
    total = max(settings.COMPLAINTS_MAX_TOTAL_MB * MB - kept_bytes, 0)
    if sum(upload.size for upload in uploads) > total:
        message = ERR_TOTAL_TOO_BIG % {"limit": filesizeformat(total)}
        raise Invalid(errors={"attachments": [message]})
    return checked


def attachment_filename_clean(name: str) -> str:
    """A display name that is safe in a header and on any file system; never a path."""
    name = unicodedata.normalize("NFKC", PurePath(name.replace("\\", "/")).name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    stem, dot, ext = name.rpartition(".")
    if dot:
        name = f"{stem[:100]}.{ext[:20]}"
    try:
        return get_valid_filename(name)[:150]
    except SuspiciousFileOperation:
        return "attachment"


@dataclass
class StoredFile:
    name: str
    original_name: str
    content_type: str
    size: int
    sha256: str


def attachment_store(checked: CheckedUpload) -> StoredFile:
    """Write the file under a random name; the caller deletes it if its complaint fails."""
    upload = checked.upload
    upload.seek(0)
    today = timezone.now()
    name = default_storage.save(f"complaints/{today:%Y/%m}/{uuid.uuid4().hex}", upload)
    return StoredFile(
        name=name,
        original_name=attachment_filename_clean(upload.name or ""),
        content_type=checked.content_type or "application/octet-stream",
        size=upload.size,
        sha256=checked.sha256,
    )


@contextmanager
def attachments_stored(checked: list[CheckedUpload]):
    """Store the checked uploads (before the transaction that records them); if the block
    fails, the files are deleted again: no orphans."""
    stored: list[StoredFile] = []
    try:
        for upload in checked:
            stored.append(attachment_store(upload))
        yield stored
    except BaseException:
        for f in stored:
            default_storage.delete(f.name)
        raise


def attachments_record(complaint, stored: list[StoredFile], now) -> list[Attachment]:
    """The Attachment rows of stored files, in the caller's transaction (one insert)."""
    return Attachment.objects.bulk_create(
        Attachment(
            complaint=complaint,
            file=f.name,
            original_name=f.original_name,
            content_type=f.content_type,
            size=f.size,
            sha256=f.sha256,
            uploaded_at=now,
        )
        for f in stored
    )


# A filing or follow-up stores its files before the transaction that points rows at them
# commits: a file younger than this may belong to one in flight, never to an orphan.
ORPHAN_MIN_AGE = timedelta(minutes=10)
ORPHAN_MAX_AGE = timedelta(days=3650)
ERR_ORPHAN_AGE = _(
    "Only files older than %(minimum)s to %(maximum)s seconds can be swept: a younger file may "
    "belong to a filing in progress."
)


def attachment_orphans_delete(*, older_than: timedelta) -> list[str]:
    """Delete stored files that no Attachment row points to (a process killed between writing
    a file and committing its complaint), once older than `older_than` (10 minutes at least).
    Returns their names."""
    if not ORPHAN_MIN_AGE <= older_than <= ORPHAN_MAX_AGE:
        raise Invalid(
            ERR_ORPHAN_AGE
            % {
                "minimum": int(ORPHAN_MIN_AGE.total_seconds()),
                "maximum": int(ORPHAN_MAX_AGE.total_seconds()),
            }
        )
    cutoff = timezone.now() - older_than
    known = set(Attachment.objects.values_list("file", flat=True))
    deleted = []
    pending = ["complaints"]
    while pending:
        folder = pending.pop()
        if not default_storage.exists(folder):
            continue
        subfolders, files = default_storage.listdir(folder)
        pending += [f"{folder}/{name}" for name in subfolders]
        for name in (f"{folder}/{name}" for name in files):
            if name not in known and default_storage.get_modified_time(name) < cutoff:
                default_storage.delete(name)
                deleted.append(name)
    return deleted

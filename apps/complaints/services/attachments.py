"""Attachments: the type sniffed from the content, safe display names, storage, orphans."""

import hashlib
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import PurePath

import filetype
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import get_valid_filename

from apps.complaints.models import Attachment

SNIFF_BYTES = 8192


def attachment_sniff(*, upload) -> str | None:
    """The MIME type from the file's first bytes (not its name or the browser's header)."""
    upload.seek(0)
    head = upload.read(SNIFF_BYTES)
    upload.seek(0)
    kind = filetype.guess(head) if head else None
    return kind.mime if kind else None


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


def attachment_store(upload) -> StoredFile:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    today = timezone.now()
    name = default_storage.save(f"complaints/{today:%Y/%m}/{uuid.uuid4().hex}", upload)
    return StoredFile(
        name=name,
        original_name=attachment_filename_clean(upload.name or ""),
        content_type=attachment_sniff(upload=upload) or "application/octet-stream",
        size=upload.size,
        sha256=digest.hexdigest(),
    )


def attachment_orphans_delete(*, older_than: timedelta) -> list[str]:
    """Delete stored files that no Attachment row points to (a process killed between writing
    a file and committing its complaint), once older than `older_than`. Returns their names."""
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

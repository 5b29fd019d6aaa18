"""Attachments of needs and results: sniffed uploads, add, delete."""

from __future__ import annotations

import zipfile
from collections.abc import Iterable
from functools import partial

import filetype
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.catalogue.services.common import (
    ALLOWED_UPLOADS,
    DOCX_MIME,
    NEED_FROZEN_STATUSES,
)
from matching.models import (
    Attachment,
    Need,
    Result,
)

# --- attachments ----------------------------------------------------------------------------------


def _sniff(head: bytes, upload: UploadedFile) -> str | None:
    kind = filetype.guess(head)
    mime = kind.mime if kind else None
    if mime in (DOCX_MIME, "application/zip") or head.startswith(b"PK\x03\x04"):
        # A DOCX is a zip with word/document.xml; anything else zipped is refused.
        try:
            upload.seek(0)
            with zipfile.ZipFile(upload) as archive:
                return DOCX_MIME if "word/document.xml" in archive.namelist() else None
        except (zipfile.BadZipFile, OSError, ValueError):
            return None
        finally:
            upload.seek(0)
    return mime if mime in ALLOWED_UPLOADS else None


def validate_upload(upload: UploadedFile) -> str:
    """The sniffed content type of an acceptable upload: PDF, DOCX, PNG or JPEG, at most
    ``settings.MAX_UPLOAD_MB``, with an extension matching its bytes. Raises ValidationError
    ``{"file": [...]}`` otherwise."""
    limit = settings.MAX_UPLOAD_MB * 1024 * 1024
    if upload.size is None or upload.size > limit:
        raise ValidationError(
            {"file": [_("文件不能超过 %(mb)d MB。") % {"mb": settings.MAX_UPLOAD_MB}]}
        )
    if upload.size == 0:
        raise ValidationError({"file": [_("文件是空的。")]})
    name = (upload.name or "").lower()
    upload.seek(0)
    head = upload.read(8192)
    upload.seek(0)
    mime = _sniff(head, upload)
    if mime is None:
        raise ValidationError({"file": [_("只能上传 PDF、DOCX、PNG 或 JPEG 文件。")]})
    if not name.endswith(ALLOWED_UPLOADS[mime]):
        raise ValidationError({"file": [_("文件内容与扩展名不符，请检查文件。")]})
    return mime


def _clean_original_name(name: str) -> str:
    name = name.replace("\\", "/").rsplit("/", 1)[-1].strip() or "file"
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > 200:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 199 - len(ext)] + dot + ext) if dot else name[:200]
    return name


@transaction.atomic
def attachment_add(*, owner: Need | Result, actor: User, upload: UploadedFile) -> Attachment:
    """Store ``upload`` under a random name and attach it to ``owner`` (a need or a result)."""
    require_acts_for(user=actor, org=owner.organization)
    if isinstance(owner, Need) and owner.status in NEED_FROZEN_STATUSES:
        raise ValidationError({"file": [_("已关闭或已撤回的需求不能再添加附件。")]})
    mime = validate_upload(upload)
    attachment = Attachment(
        original_name=_clean_original_name(upload.name or ""),
        content_type=mime,
        size=upload.size,
        uploaded_by=actor,
    )
    if isinstance(owner, Need):
        attachment.need = owner
    else:
        attachment.result = owner
    attachment.file.save(attachment.original_name, upload, save=False)
    try:
        attachment.save()
        audit_record(
            actor=actor,
            action="attachment.add",
            target=owner,
            data={"attachment": str(attachment.uuid), "name": attachment.original_name},
        )
    except Exception:
        # The file went to disk before the row; do not leave it behind. (An enclosing transaction
        # rolled back later can still orphan a file; it has a random name and no row to serve it.)
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment


@transaction.atomic
def attachments_add(
    *, owner: Need | Result, actor: User, uploads: Iterable[UploadedFile]
) -> list[Attachment]:
    """Several attachments at once: all of them or none."""
    return [attachment_add(owner=owner, actor=actor, upload=upload) for upload in uploads]


@transaction.atomic
def attachment_delete(*, attachment: Attachment, actor: User) -> None:
    owner = attachment.need or attachment.result
    require_acts_for(user=actor, org=owner.organization)
    audit_record(
        actor=actor,
        action="attachment.delete",
        target=owner,
        data={"attachment": str(attachment.uuid), "name": attachment.original_name},
    )
    storage, path = attachment.file.storage, attachment.file.name
    attachment.delete()
    transaction.on_commit(partial(storage.delete, path))

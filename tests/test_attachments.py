"""Attachments: only PDF/DOCX/PNG/JPEG (sniffed from the bytes), size-capped, stored under random
names outside the web root, served only to viewers allowed to see the owner's full text."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from matching.catalogue import services
from matching.models import Attachment, Need, Result
from tests.factories import NeedFactory, ResultFactory
from tests.web_helpers import (  # noqa: F401
    JPEG_BYTES,
    PDF_BYTES,
    PNG_BYTES,
    docx_bytes,
    fast_passwords,
    need_form_data,
    taxonomy,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAX_UPLOAD_MB = 1
    taxonomy()
    return settings.MEDIA_ROOT


def stored_files(media: Path) -> list[Path]:
    return [p for p in media.rglob("*") if p.is_file()] if media.exists() else []


@pytest.mark.parametrize(
    ("name", "content", "mime"),
    [
        ("方案.pdf", PDF_BYTES, "application/pdf"),
        ("照片.PNG", PNG_BYTES, "image/png"),
        ("现场.jpeg", JPEG_BYTES, "image/jpeg"),
        (
            "说明.docx",
            docx_bytes(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
    ],
)
def test_need_form_stores_accepted_files_under_random_names(
    client, cast, media, name, content, mime
):
    client.force_login(cast.member)
    data = need_form_data(attachments=upload(name, content, "text/plain"))
    response = client.post(reverse("matching:need-create"), data)
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.need == Need.objects.get()
    assert attachment.original_name == name
    assert attachment.content_type == mime  # sniffed, not what the browser claimed
    assert attachment.size == len(content)
    (path,) = stored_files(media)
    assert path.read_bytes() == content
    assert attachment.uuid.hex == path.name and name not in str(path)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "伪装.pdf",
            b"just some text pretending to be a PDF\n" * 10,
            "只能上传 PDF、DOCX、PNG 或 JPEG",
        ),
        ("假图片.png", PDF_BYTES, "文件内容与扩展名不符"),
        ("报告.docx", docx_bytes(with_document=False), "只能上传 PDF、DOCX、PNG 或 JPEG"),
        ("脚本.html", b"<script>alert(1)</script>", "只能上传 PDF、DOCX、PNG 或 JPEG"),
        ("空.pdf", b"", "提交的是空文件"),
    ],
)
def test_forged_or_unsupported_files_are_form_errors_and_nothing_is_written(
    client, cast, media, name, content, message
):
    client.force_login(cast.member)
    data = need_form_data(attachments=upload(name, content, "application/pdf"))
    response = client.post(reverse("matching:need-create"), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Need.objects.exists()
    assert not Attachment.objects.exists()
    assert stored_files(media) == []


def test_oversized_file_is_refused(client, cast, media):
    client.force_login(cast.member)
    big = PDF_BYTES + b"0" * (1024 * 1024)
    response = client.post(
        reverse("matching:need-create"), need_form_data(attachments=upload("大文件.pdf", big))
    )
    assert response.status_code == 400
    assert "文件不能超过 1 MB" in response.content.decode()
    assert not Need.objects.exists() and stored_files(media) == []


def test_upload_on_detail_page_and_delete(client, cast, media):
    need = NeedFactory(organization=cast.org)
    client.force_login(cast.member)
    url = reverse("matching:need-attachments", kwargs={"uuid": need.uuid})
    client.post(url, {"attachments": [upload("a.pdf", PDF_BYTES), upload("b.png", PNG_BYTES)]})
    assert sorted(need.attachments.values_list("original_name", flat=True)) == ["a.pdf", "b.png"]
    # A forged one in the batch: refused, and nothing of the batch is kept.
    response = client.post(
        url, {"attachments": [upload("c.pdf", PDF_BYTES), upload("d.pdf", b"text")]}, follow=True
    )
    assert "文件内容" in response.content.decode() or "只能上传" in response.content.decode()
    assert need.attachments.count() == 2
    attachment = need.attachments.get(original_name="a.pdf")
    client.post(reverse("matching:attachment-delete", kwargs={"uuid": attachment.uuid}))
    assert need.attachments.count() == 1


def test_outsider_cannot_upload_or_delete(client, cast, media):
    need = NeedFactory(organization=cast.org)
    attachment = services.attachment_add(
        owner=need, actor=cast.owner, upload=upload("a.pdf", PDF_BYTES)
    )
    client.force_login(cast.outsider)
    url = reverse("matching:need-attachments", kwargs={"uuid": need.uuid})
    assert client.post(url, {"attachments": upload("x.pdf", PDF_BYTES)}).status_code == 404
    delete = reverse("matching:attachment-delete", kwargs={"uuid": attachment.uuid})
    assert client.post(delete).status_code == 404
    assert need.attachments.count() == 1


def test_download_is_an_attachment_with_nosniff(client, cast, media):
    need = NeedFactory(organization=cast.org)
    attachment = services.attachment_add(
        owner=need, actor=cast.owner, upload=upload("测试 方案.pdf", PDF_BYTES)
    )
    response = client.get(reverse("matching:attachment-download", kwargs={"uuid": attachment.uuid}))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment;")
    assert "filename*=utf-8''" in response["Content-Disposition"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == PDF_BYTES


def test_media_root_is_not_served_as_static(client, cast, media, settings):
    need = NeedFactory(organization=cast.org, confidentiality=Need.Confidentiality.PRIVATE)
    attachment = services.attachment_add(
        owner=need, actor=cast.owner, upload=upload("a.pdf", PDF_BYTES)
    )
    assert not str(settings.MEDIA_ROOT).startswith(str(settings.STATIC_ROOT))
    for guess in (f"/media/{attachment.file.name}", f"/static/{attachment.file.name}"):
        assert client.get(guess).status_code == 404


def test_result_attachments_follow_the_result_status(client, cast, media):
    draft = ResultFactory(organization=cast.other_org, status=Result.Status.DRAFT)
    published = ResultFactory(organization=cast.other_org)
    on_draft = services.attachment_add(
        owner=draft, actor=cast.outsider, upload=upload("d.pdf", PDF_BYTES)
    )
    on_published = services.attachment_add(
        owner=published, actor=cast.outsider, upload=upload("p.pdf", PDF_BYTES)
    )

    def status(attachment):
        url = reverse("matching:attachment-download", kwargs={"uuid": attachment.uuid})
        return client.get(url).status_code

    assert (status(on_draft), status(on_published)) == (404, 200)  # anonymous
    client.force_login(cast.member)  # member of the enterprise, not of the institution
    assert (status(on_draft), status(on_published)) == (404, 200)
    client.force_login(cast.outsider)  # member of the institution
    assert (status(on_draft), status(on_published)) == (200, 200)

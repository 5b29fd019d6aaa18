"""Shared data for the needs/results web tests: form payloads, sample files, taxonomy."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from taxonomy.models import Field, Region
from tests.factories import FieldFactory, RegionFactory

# Smallest files each sniffer recognises.
PDF_BYTES = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
PNG_BYTES = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f"
    b"\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00"
    b"\x00IEND\xaeB`\x82"
)
JPEG_BYTES = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xd9"


def docx_bytes(with_document: bool = True) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        if with_document:
            archive.writestr("word/document.xml", "<w:document/>")
        else:
            archive.writestr("data.txt", "not a word document")
    return buffer.getvalue()


def upload(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def taxonomy() -> tuple[Field, Field, Region]:
    """A top-level field with one sub-field, and a region."""
    sub = FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    top = sub.parent
    top.name = "新能源"
    top.save()
    return top, sub, RegionFactory(name="江苏省")


def indicator_rows(rows: list[dict], prefix: str = "indicators") -> dict:
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(rows)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for i, row in enumerate(rows):
        for key, value in row.items():
            data[f"{prefix}-{i}-{key}"] = value
    return data


def need_form_data(*, indicators: list[dict] | None = None, **overrides) -> dict:
    data = {
        "title": "锂电池隔膜涂覆工艺优化",
        "field": "new_energy.batteries",
        "region": str(Region.objects.get(name="江苏省").pk),
        "industry_chain": "中游制造",
        "confidentiality": "public",
        "summary": "寻求锂电池隔膜陶瓷涂覆的工艺改进方案。",
        "terms": "",
        "description": "我司湿法隔膜在涂覆后透气度下降明显，需要新的浆料配方与涂布工艺。",
        "scenario": "动力电池隔膜产线",
        "budget_min": "100",
        "budget_max": "300",
        "funding_mode": "milestone",
        "coop_modes": ["joint_dev", "commissioned"],
        "trl_min": "5",
        "deadline": "",
        "contact_name": "王工",
        "contact_phone": "0512-12345678",
        "contact_email": "wang@example.cn",
    }
    if indicators is None:
        indicators = [
            {"name": "透气度增幅", "operator": "<=", "target": "15", "unit": "%"},
            {
                "name": "热收缩率",
                "operator": "range",
                "target": "1",
                "target_max": "3",
                "unit": "%",
            },
        ]
    data.update(indicator_rows(indicators))
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def patent_rows(rows: list[dict]) -> dict:
    return indicator_rows(rows, prefix="patents")


def result_form_data(*, patents: list[dict] | None = None, **overrides) -> dict:
    data = {
        "title": "锂电池隔膜陶瓷涂覆浆料",
        "field": "new_energy.batteries",
        "industry_chain": "",
        "abstract": "一种水性陶瓷涂覆浆料，涂覆后透气度增幅小于10%，热收缩率低于2%。",
        "keywords": "锂电池隔膜、陶瓷涂覆",
        "application_fields": "动力电池，储能",
        "trl": "6",
        "is_service_invention": "on",
        "transfer_modes": ["license"],
        "price_min": "50",
        "price_max": "120",
        "team": "教授2人",
    }
    if patents is None:
        patents = [{"number": "202310123456.6", "kind": "invention", "status": "granted"}]
    data.update(patent_rows(patents))
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    """Factories hash a password per user; the default hasher makes that the slowest part."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

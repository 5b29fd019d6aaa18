import pytest
from django.core.exceptions import ValidationError

from accounts.validators import credit_code_check_char, validate_credit_code

# A published sample code: check character computed by GB 32100-2015 (see validators.py).
VALID = "91350100M000100Y43"


def test_known_valid_code_passes():
    validate_credit_code(VALID)


def test_check_character_matches_standard_example():
    assert credit_code_check_char(VALID[:17]) == VALID[17]


def test_bad_check_character_is_rejected():
    bad = VALID[:17] + ("0" if VALID[17] != "0" else "1")
    with pytest.raises(ValidationError) as exc:
        validate_credit_code(bad)
    assert exc.value.code == "credit_code_check"


@pytest.mark.parametrize("code", [VALID[:17], VALID + "0", ""])
def test_wrong_length_is_rejected(code):
    with pytest.raises(ValidationError) as exc:
        validate_credit_code(code)
    assert exc.value.code == "credit_code_length"


def test_lowercase_is_rejected_with_its_own_message():
    with pytest.raises(ValidationError) as exc:
        validate_credit_code(VALID.lower())
    assert exc.value.code == "credit_code_case"


def test_letters_outside_the_alphabet_are_rejected():
    with pytest.raises(ValidationError) as exc:
        validate_credit_code("91350100M000100O43")
    assert exc.value.code == "credit_code_charset"


@pytest.mark.django_db
def test_organization_form_shows_credit_code_error_and_creates_nothing(client, cast):
    from accounts.models import Organization

    client.force_login(cast.owner)
    before = Organization.objects.count()
    response = client.post(
        "/accounts/orgs/new/",
        {"name": "丙科技有限公司", "kind": "enterprise", "credit_code": VALID[:17] + "0"},
    )
    assert response.status_code == 400
    assert "校验位错误" in response.content.decode()
    assert Organization.objects.count() == before


@pytest.mark.django_db
def test_enterprise_without_credit_code_is_a_form_error(client, cast):
    from accounts.models import Organization

    client.force_login(cast.owner)
    before = Organization.objects.count()
    response = client.post("/accounts/orgs/new/", {"name": "丁公司", "kind": "enterprise"})
    assert "须填写统一社会信用代码" in response.content.decode()
    assert Organization.objects.count() == before


@pytest.mark.django_db
def test_api_patch_with_bad_credit_code_is_400_with_field_message(client, cast):
    client.force_login(cast.owner)
    response = client.patch(
        f"/api/v1/organizations/{cast.org.uuid}/",
        {"credit_code": VALID.lower()},
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "credit_code" in response.json()
    cast.org.refresh_from_db()
    assert cast.org.credit_code != VALID.lower()

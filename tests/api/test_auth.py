"""Who gets in: a key of a co-op service account, nothing else; how often."""

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from loans.api.permissions import ApiKeyRateThrottle, CoopApiPermission
from loans.keys.services import api_key_issue, api_key_revoke
from loans.models import ApiKey
from tests.api.conftest import client_with, codes

pytestmark = pytest.mark.django_db

LOANS = "/api/v1/loans/"


def assert_envelope(response, status: int, code: str):
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    assert [error["code"] for error in response.json()["errors"]] == [code]
    error = response.json()["errors"][0]
    assert error["field"] is None and error["message"] and "index" not in error


def test_a_request_without_a_key_is_401_with_the_scheme_named(cast):
    response = client_with(None).get(LOANS)
    assert_envelope(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Token realm="api"'


@pytest.mark.parametrize(
    "header",
    ["Token nonsense", "Token a.b", "Token ", "Token one two", "Token 密钥"],
)
def test_a_wrong_or_malformed_key_is_401(cast, key, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(LOANS)
    assert response.status_code == 401
    assert codes(response)[0][2] in {"invalid_token", "malformed_token"}


def test_a_revoked_key_is_401(cast, coop, key):
    assert client_with(key).get(LOANS).status_code == 200
    api_key_revoke(actor=cast.county, api_key=ApiKey.objects.get())
    assert_envelope(client_with(key).get(LOANS), 401, "invalid_token")


def test_a_deactivated_account_is_401(cast, key):
    cast.coop.is_active = False
    cast.coop.save()
    assert_envelope(client_with(key).get(LOANS), 401, "invalid_token")


def test_an_account_that_is_no_longer_a_coop_account_is_403(cast, key):
    cast.coop.groups.set([Group.objects.get(name=Role.FINANCE)])
    assert_envelope(client_with(key).get(LOANS), 403, "not_a_coop_account")


def test_a_logged_in_browser_session_does_not_open_the_api(client, cast):
    client.force_login(cast.county)
    assert client.get(LOANS).status_code == 401


def test_each_use_of_a_key_records_when(cast, key):
    api_key = ApiKey.objects.get()
    assert api_key.last_used_at is None
    client_with(key).get(LOANS)
    api_key.refresh_from_db()
    first = api_key.last_used_at
    assert first is not None and first <= timezone.now()
    client_with(key).get(LOANS)
    api_key.refresh_from_db()
    assert api_key.last_used_at > first


def test_an_endpoint_that_declares_no_permission_is_closed(cast, key, rf):
    class Undeclared:
        def get(self, request):
            raise AssertionError("never reached")

    request = rf.get(LOANS)
    request.auth = ApiKey.objects.get()
    request.user = cast.coop
    request.method = "GET"
    with pytest.raises(Exception) as refused:
        CoopApiPermission().has_permission(request, Undeclared())
    assert refused.value.get_codes() == "missing_permission"


def test_a_busy_key_is_throttled_with_a_clear_429(cast, coop, key, monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "2/minute", raising=False)
    client = client_with(key)
    assert [client.get(LOANS).status_code for _ in range(2)] == [200, 200]
    response = client.get(LOANS)
    assert_envelope(response, 429, "throttled")
    assert int(response["Retry-After"]) > 0
    other_key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)[1]
    assert client_with(other_key).get(LOANS).status_code == 200


def test_an_unknown_path_under_the_api_is_a_404_in_the_envelope(api):
    assert_envelope(api.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_envelope(client_with(None).post("/api/v1/"), 404, "not_found")


def test_a_method_an_endpoint_does_not_have_is_405(api):
    assert_envelope(api.delete(LOANS), 405, "method_not_allowed")


def test_a_body_that_is_not_json_is_refused(api):
    response = api.post(LOANS, "contract_no=1", content_type="application/x-www-form-urlencoded")
    assert_envelope(response, 415, "unsupported_media_type")
    response = api.post(LOANS, "{not json", content_type="application/json")
    assert_envelope(response, 400, "parse_error")

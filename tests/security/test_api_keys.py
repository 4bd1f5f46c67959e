"""The co-op's API keys: only a hash is stored (anywhere, history included),
a revoked key is refused at once and stays revoked, and each accepted use
(and only an accepted one) records when."""

import datetime
import hashlib

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from loans.keys.services import api_key_issue, api_key_revoke
from loans.models import ApiKey
from tests.loans.conftest import mojiang_coop

LOANS = "/api/v1/loans/"
LONG_AGO = timezone.now() - datetime.timedelta(days=30)


@pytest.fixture
def coop(db):
    return mojiang_coop()


@pytest.fixture
def issued(cast, coop):
    return api_key_issue(actor=cast.county, user=cast.coop, coop=coop)


def call(key: str, path: str = LOANS):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + key)
    return client.get(path)


def stored_text(model) -> str:
    return "\n".join(str(value) for row in model.objects.values() for value in row.values())


def test_the_key_is_stored_nowhere_only_its_sha256(issued):
    api_key, key = issued
    prefix, secret = key.split(".")
    assert len(secret) >= 40
    assert api_key.key_hash == hashlib.sha256(key.encode()).hexdigest()
    for model in (ApiKey, ApiKey.history.model):
        text = stored_text(model)
        assert prefix in text  # the row is there ...
        assert secret not in text  # ... its secret is not
    assert ApiKey.history.count() == 1


def test_the_key_is_not_shown_again(client, cast, issued):
    api_key, key = issued
    client.force_login(cast.county)
    html = client.get(reverse("coop_keys:list")).content.decode()
    assert api_key.prefix in html
    assert key.split(".")[1] not in html


def test_a_revoked_key_is_refused_at_once_and_stays_revoked(cast, coop, issued):
    api_key, key = issued
    other, other_key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    assert call(key).status_code == 200

    api_key_revoke(actor=cast.county, api_key=api_key)
    assert call(key).status_code == 401
    # The account's other key is untouched.
    assert call(other_key).status_code == 200

    api_key.refresh_from_db()
    revoked_at = api_key.revoked_at
    assert revoked_at is not None
    api_key_revoke(actor=cast.county, api_key=api_key)
    api_key.refresh_from_db()
    assert api_key.revoked_at == revoked_at
    assert call(key).status_code == 401
    # Who revoked it, and when, is in the key's history.
    change = api_key.history.order_by("history_date").last()
    assert (change.history_user, change.revoked_at) == (cast.county, revoked_at)


@pytest.mark.parametrize("who", ["township_officer_a", "finance", "auditor", "coop"])
def test_only_the_county_office_may_revoke(client, cast, issued, who):
    api_key, key = issued
    client.force_login(getattr(cast, who))
    response = client.post(reverse("coop_keys:revoke", args=[api_key.pk]))
    assert response.status_code == 403
    api_key.refresh_from_db()
    assert api_key.revoked_at is None
    assert call(key).status_code == 200


def test_each_use_records_when_without_a_history_row_per_call(issued):
    api_key, key = issued
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=LONG_AGO)
    for path in (LOANS, "/api/v1/applications/"):
        before = timezone.now()
        assert call(key, path).status_code == 200
        api_key.refresh_from_db()
        assert before <= api_key.last_used_at <= timezone.now()
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=LONG_AGO)
    assert ApiKey.history.count() == 1


def test_a_refused_key_records_no_use(cast, issued):
    api_key, key = issued
    prefix = key.split(".")[0]
    # The right prefix with a wrong secret.
    assert call(prefix + ".not-the-secret").status_code == 401
    api_key.refresh_from_db()
    assert api_key.last_used_at is None

    api_key_revoke(actor=cast.county, api_key=api_key)
    assert call(key).status_code == 401
    api_key.refresh_from_db()
    assert api_key.last_used_at is None

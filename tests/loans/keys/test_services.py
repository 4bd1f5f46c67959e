import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from loans.keys.services import api_key_check, api_key_issue, api_key_revoke
from loans.models import ApiKey


def test_a_key_is_stored_only_as_a_hash_and_checks_back(cast, coop):
    api_key, key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    stored = ApiKey.objects.get()
    assert key not in (stored.prefix, stored.key_hash)
    assert key.split(".")[1] not in stored.key_hash
    assert api_key_check(key) == api_key
    stored.refresh_from_db()
    assert stored.last_used_at is not None


def test_a_wrong_or_revoked_key_is_refused(cast, coop):
    api_key, key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    assert api_key_check(key[:-1] + ("a" if key[-1] != "a" else "b")) is None
    assert api_key_check("nonsense") is None
    api_key_revoke(actor=cast.county, api_key=api_key)
    assert api_key_check(key) is None


def test_only_the_county_issues_keys_and_only_for_coop_accounts(cast, coop):
    with pytest.raises(PermissionDenied):
        api_key_issue(actor=cast.finance, user=cast.coop, coop=coop)
    with pytest.raises(ValidationError):
        api_key_issue(actor=cast.county, user=cast.finance, coop=coop)
    assert not ApiKey.objects.exists()

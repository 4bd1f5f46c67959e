"""Issuing, checking and revoking the co-op's API keys.

A key is ``<prefix>.<secret>``; the database keeps the prefix (to find the
row) and a SHA-256 of the whole key (to check it), never the key itself.
A random 32-byte secret makes a salted slow hash unnecessary.
"""

import hashlib
import hmac
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import Role, role_of
from loans.models import ApiKey, CreditCoop


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def api_key_issue(*, actor, user, coop: CreditCoop) -> tuple[ApiKey, str]:
    """Issue a key for a co-op service account; return the row and the key,
    which is shown once and cannot be recovered."""
    if actor is not None and not actor.has_perm("loans.add_apikey"):
        raise PermissionDenied
    if role_of(user) != Role.COOP:
        raise ValidationError({"user": _("API keys are for co-op service accounts only.")})
    prefix = secrets.token_hex(4)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = ApiKey(user=user, coop=coop, prefix=prefix, key_hash=_digest(key), created_by=actor)
    api_key._history_user = actor
    api_key.save()
    return api_key, key


@transaction.atomic
def api_key_revoke(*, actor, api_key: ApiKey) -> ApiKey:
    if actor is not None and not actor.has_perm("loans.change_apikey"):
        raise PermissionDenied
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key._history_user = actor
        api_key.save()
    return api_key


def api_key_check(key: str) -> ApiKey | None:
    """The active key matching ``key``, its last use recorded; None otherwise."""
    prefix, _dot, _secret = key.partition(".")
    candidate = (
        ApiKey.objects.select_related("user", "coop")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if candidate is None or not hmac.compare_digest(candidate.key_hash, _digest(key)):
        return None
    if not candidate.user.is_active:
        return None
    ApiKey.objects.filter(pk=candidate.pk).update(last_used_at=timezone.now())
    return candidate

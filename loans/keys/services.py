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

from accounts.roles import Role, counties_of, role_of
from divisions.models import Division
from loans.models import ApiKey, CreditCoop

Level = Division.Level


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def credit_coop_save(*, code: str, name: str, counties) -> CreditCoop:
    """Create or update the co-op ``code``: its name and the counties it
    serves, exactly those given. Running it again with the same words
    changes nothing. Keys already issued keep their counties, less any the
    co-op no longer serves."""
    counties = list(counties)
    not_counties = [str(division) for division in counties if division.level != Level.COUNTY]
    if not_counties:
        raise ValidationError(
            {"counties": _("Not a county: %(names)s.") % {"names": "、".join(not_counties)}}
        )
    coop, _created = CreditCoop.objects.update_or_create(code=code, defaults={"name": name})
    coop.counties.set(counties)
    served = {division.pk for division in counties}
    for api_key in ApiKey.objects.filter(coop=coop).prefetch_related("counties"):
        dropped = [county for county in api_key.counties.all() if county.pk not in served]
        if dropped:
            api_key.counties.remove(*dropped)
    return coop


@transaction.atomic
def api_key_issue(*, actor, user, coop: CreditCoop, counties=None) -> tuple[ApiKey, str]:
    """Issue a key for a co-op service account; return the row and the key,
    which is shown once and cannot be recovered.

    The key reaches ``counties`` (by default every county the co-op serves
    that the issuer may see): a county office issues keys for its own county
    only, whoever runs ``manage.py`` on the server (``actor=None``) for any
    of the co-op's counties."""
    if actor is not None and not actor.has_perm("loans.add_apikey"):
        raise PermissionDenied
    if role_of(user) != Role.COOP:
        raise ValidationError({"user": _("API keys are for co-op service accounts only.")})
    served = set(coop.counties.values_list("pk", flat=True))
    allowed = served if actor is None else served & set(counties_of(actor))
    if actor is not None and not set(counties_of(user)) & set(counties_of(actor)):
        raise ValidationError({"user": _("This service account belongs to another county.")})
    if not allowed:
        raise ValidationError(
            {
                "coop": _("%(coop)s serves none of your counties.") % {"coop": coop.name}
                if actor is not None and served
                else _("%(coop)s serves no county yet: name its counties first.")
                % {"coop": coop.name}
            }
        )
    chosen = allowed if counties is None else {county.pk for county in counties}
    outside = chosen - allowed
    if outside or not chosen:
        names = "、".join(
            Division.objects.filter(pk__in=outside).order_by("code").values_list("name", flat=True)
        )
        raise ValidationError(
            {
                "counties": _("%(coop)s does not serve %(names)s, or you may not issue keys there.")
                % {"coop": coop.name, "names": names or "—"}
            }
        )
    prefix = secrets.token_hex(4)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    api_key = ApiKey(user=user, coop=coop, prefix=prefix, key_hash=_digest(key), created_by=actor)
    api_key._history_user = actor
    api_key.save()
    api_key.counties.set(sorted(chosen))
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
        .prefetch_related("counties")
        .filter(prefix=prefix, revoked_at__isnull=True)
        .first()
    )
    if candidate is None or not hmac.compare_digest(candidate.key_hash, _digest(key)):
        return None
    if not candidate.user.is_active:
        return None
    ApiKey.objects.filter(pk=candidate.pk).update(last_used_at=timezone.now())
    return candidate

"""The roles of DOMAIN.md sections 3 and 7, as Django groups: the five of a
county and the offices above it (city and province), which read every
county under them and change nothing but the programmes of their own region.

A user's role is the one role group they belong to. What each role may do is
declared once, in ROLE_PERMISSIONS; views and the API check those permissions
(never group names), and ``township_of`` is the one place that says which
township a user is bound to.
"""

import copy

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from divisions.models import Division


class Role(models.TextChoices):
    COUNTY = "county", _("County programme office")
    TOWNSHIP = "township", _("Township officer")
    COOP = "coop", _("Credit co-op")
    FINANCE = "finance", _("Finance bureau")
    AUDITOR = "auditor", _("Auditor")
    CITY = "city", _("City programme office")
    PROVINCE = "province", _("Province programme office")


# "app_label.codename" for each role. Later apps add their permissions here.
_REGISTRY_MODELS = ("household", "borrower", "position", "enterprise", "drivenhousehold")


def _perms(app: str, actions: tuple[str, ...], models: tuple[str, ...]) -> set[str]:
    return {f"{app}.{action}_{model}" for action in actions for model in models}


_REGISTRY_VIEW = _perms("beneficiaries", ("view",), _REGISTRY_MODELS)
_REGISTRY_EDIT = _perms("beneficiaries", ("view", "add", "change"), _REGISTRY_MODELS)

_LOANS_VIEW = _perms(
    "loans",
    ("view",),
    (
        "programme",
        "programmequota",
        "lprrate",
        "application",
        "publicnotice",
        "loan",
        "ledgerentry",
    ),
)

_REPORTS = {"reports.view_report", "reports.request_report"}

_FUND_VIEW = _perms("riskfund", ("view",), ("fund", "movement", "claim"))

_SUBSIDIES_VIEW = _perms(
    "subsidies", ("view",), ("subsidyrun", "subsidyline", "paymentbatch", "subsidyadjustment")
)

ROLE_PERMISSIONS: dict[str, set[str]] = {
    Role.COUNTY: {
        *_REPORTS,
        *_FUND_VIEW,
        "riskfund.add_fund",
        "riskfund.change_fund",
        "riskfund.check_claim",
        *_SUBSIDIES_VIEW,
        "subsidies.compute_subsidyrun",
        "subsidies.submit_subsidyrun",
        *_LOANS_VIEW,
        *_perms("loans", ("add", "change"), ("programme", "programmequota", "lprrate")),
        "loans.add_application",
        "loans.review_application",
        "loans.approve_application",
        "loans.manage_notice",
        "loans.add_loan",
        "loans.view_apikey",
        "loans.add_apikey",
        "loans.change_apikey",
        *_perms("divisions", ("view", "add", "change"), ("division",)),
        *_perms("beneficiaries", ("view", "add", "change"), ("industry",)),
        *_REGISTRY_EDIT,
        "beneficiaries.view_personal_data",
        "beneficiaries.import_borrowers",
        "beneficiaries.export_borrowers",
    },
    Role.TOWNSHIP: {
        *_REPORTS,
        "riskfund.view_claim",
        *_LOANS_VIEW,
        *_SUBSIDIES_VIEW,
        "loans.add_application",
        "loans.review_application",
        "divisions.view_division",
        "beneficiaries.view_industry",
        *_REGISTRY_EDIT,
        "beneficiaries.view_personal_data",
        "beneficiaries.import_borrowers",
        "beneficiaries.export_borrowers",
    },
    Role.COOP: {
        "divisions.view_division",
        "beneficiaries.view_industry",
        *_LOANS_VIEW,
        "loans.add_loan",
        "loans.add_ledgerentry",
        "subsidies.view_subsidyline",
        "riskfund.view_fund",
        "riskfund.view_claim",
        "riskfund.add_claim",
    },
    Role.FINANCE: {
        *_REPORTS,
        *_FUND_VIEW,
        "riskfund.add_movement",
        "riskfund.approve_claim",
        *_LOANS_VIEW,
        *_SUBSIDIES_VIEW,
        "subsidies.approve_subsidyrun",
        "subsidies.pay_subsidyrun",
        "divisions.view_division",
        "beneficiaries.view_industry",
        "beneficiaries.view_household",
        "beneficiaries.view_borrower",
    },
    Role.AUDITOR: {
        *_REPORTS,
        *_FUND_VIEW,
        *_LOANS_VIEW,
        *_SUBSIDIES_VIEW,
        "divisions.view_division",
        "beneficiaries.view_industry",
        *_REGISTRY_VIEW,
        "beneficiaries.view_personal_data",
        "beneficiaries.export_borrowers",
    },
    # Read-only and in figures only: the league table of their counties and
    # each county's dashboard; the programmes and divisions behind them;
    # and the programmes of their own region (a city's 精扶贷 that its
    # counties run, with a budget per county), which they set up.
    Role.CITY: {
        "reports.view_league",
        "riskfund.view_fund",
        "riskfund.add_fund",
        "riskfund.change_fund",
        "divisions.view_division",
        *_perms("loans", ("view",), ("programme", "programmequota", "lprrate")),
        *_perms("loans", ("add", "change"), ("programme", "programmequota")),
    },
    Role.PROVINCE: {
        "reports.view_league",
        "riskfund.view_fund",
        "divisions.view_division",
        *_perms("loans", ("view",), ("programme", "programmequota", "lprrate")),
        *_perms("loans", ("add", "change"), ("programme", "programmequota")),
    },
}

# Roles whose work is confined to one township.
TOWNSHIP_BOUND_ROLES = {Role.TOWNSHIP}
# The offices above the county, each bound to a division of this level: they
# see every county under it, read-only, and never a borrower's whole number.
OFFICE_LEVELS = {Role.CITY: Division.Level.CITY, Role.PROVINCE: Division.Level.PROVINCE}
OFFICE_ROLES = set(OFFICE_LEVELS)


def sync_role_groups(sender=None, apps=None, using="default", **kwargs) -> None:
    """Create the role groups and give each exactly its declared permissions.

    ``apps`` is the migration state's app registry (post_migrate and data
    migrations pass it). Permissions whose model does not exist yet are
    passed over; the next migration run that creates them picks them up.
    """
    if apps is None:
        from django.apps import apps
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    wanted = {perm for perms in ROLE_PERMISSIONS.values() for perm in perms}
    by_name = {
        f"{perm.content_type.app_label}.{perm.codename}": perm
        for perm in Permission.objects.using(using).select_related("content_type")
        if f"{perm.content_type.app_label}.{perm.codename}" in wanted
    }
    for role in Role:
        group, _created = Group.objects.using(using).get_or_create(name=role.value)
        group.permissions.set([by_name[name] for name in ROLE_PERMISSIONS[role] if name in by_name])


def role_of(user) -> Role | None:
    """The user's role, or None for anonymous users and accounts with no role."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_role_cache", False)
    if cached is not False:
        return cached
    names = set(user.groups.values_list("name", flat=True)) & set(Role.values)
    role = Role(names.pop()) if len(names) == 1 else None
    user._role_cache = role
    return role


def township_of(user):
    """The township a township-bound user works in; None for everyone else."""
    if role_of(user) not in TOWNSHIP_BOUND_ROLES:
        return None
    profile = getattr(user, "profile", None)
    return profile.township if profile else None


def office_of(user):
    """The city or province an office above the county is bound to; None for
    everyone else."""
    if role_of(user) not in OFFICE_ROLES:
        return None
    profile = getattr(user, "profile", None)
    return profile.office if profile else None


def within_county(user, county_id: int):
    """``user`` narrowed to one of their counties: the same account, whose
    scope (``counties_of``) is that county alone, for an office's drill-down
    into one county's dashboard. Every selector that takes a user then
    reads that county only. Refuses (PermissionDenied) a county outside the
    user's scope."""
    if county_id not in counties_of(user):
        raise PermissionDenied
    return narrowed_to(user, (county_id,))


def narrowed_to(user, county_ids):
    """``user`` seen through a narrower door: the same account, whose scope
    (``counties_of``) is ``county_ids``. The caller vouches for the counties:
    ``within_county`` for an office's drill-down, the API key's own counties
    for a co-op's service account (a key reaches what it was issued for,
    whatever else the account may see in the browser)."""
    narrowed = copy.copy(user)
    narrowed._counties_cache = tuple(sorted(county_ids))
    narrowed._townships_cache = None
    narrowed._county_cache = None
    return narrowed


def counties_of(user) -> tuple[int, ...]:
    """The ids of the counties whose records ``user`` may see (DOMAIN.md
    section 7: the county is the boundary of people's data): a township
    officer's township's county, the county a county-wide account is bound
    to, every county under an office's city or province; none for anyone
    else."""
    cached = getattr(user, "_counties_cache", None)
    if cached is not None:
        return cached
    role = role_of(user)
    counties: tuple[int, ...] = ()
    if role in TOWNSHIP_BOUND_ROLES:
        township = township_of(user)
        counties = (township.parent_id,) if township is not None else ()
    elif role in OFFICE_ROLES:
        office = office_of(user)
        counties = (
            tuple(
                Division.objects.filter(level=Division.Level.COUNTY)
                .filter(Q(parent=office) | Q(parent__parent=office))
                .order_by("code")
                .values_list("pk", flat=True)
            )
            if office is not None
            else ()
        )
    elif role is not None:
        profile = getattr(user, "profile", None)
        counties = (profile.county_id,) if profile is not None and profile.county_id else ()
    user._counties_cache = counties
    return counties


def county_of(user):
    """The one county ``user`` works in (a Division), or None."""
    counties = counties_of(user)
    if len(counties) != 1:
        return None
    cached = getattr(user, "_county_cache", None)
    if cached is None or cached.pk != counties[0]:
        cached = user._county_cache = Division.objects.get(pk=counties[0])
    return cached


def _townships_of(user) -> frozenset[int]:
    cached = getattr(user, "_townships_cache", None)
    if cached is None:
        cached = frozenset(
            Division.objects.filter(
                level=Division.Level.TOWNSHIP, parent_id__in=counties_of(user)
            ).values_list("pk", flat=True)
        )
        user._townships_cache = cached
    return cached


def may_act_in_township(user, township_id: int | None) -> bool:
    """Whether ``user`` may register or change records of that township:
    county-wide roles in any township of their county, a township officer in
    their own only."""
    role = role_of(user)
    if role is None or role in OFFICE_ROLES:
        return False
    if role not in TOWNSHIP_BOUND_ROLES:
        return township_id in _townships_of(user)
    township = township_of(user)
    return township is not None and township.pk == township_id


# Matches no row: the filter for anyone who may see nothing.
NOTHING = Q(pk__in=[])


def township_q(user, *paths: str) -> Q:
    """The filter that confines a queryset to what ``user`` may see.

    ``paths`` are lookups from the model to its township's id (several where
    the township sits at different depths, as with divisions). County-wide
    roles get an empty filter; a user with no role, or a township officer
    with no township (refused by ``user_create``, guarded here anyway), gets
    one that matches nothing.
    """
    role = role_of(user)
    if role is None:
        return NOTHING
    if role not in TOWNSHIP_BOUND_ROLES:
        return Q()
    township = township_of(user)
    if township is None:
        return NOTHING
    condition = Q()
    for path in paths:
        condition |= Q(**{path: township.pk})
    return condition


def scope_q(user, *, county: str = "county_id", township: tuple[str, ...] = ("township_id",)) -> Q:
    """The one filter that confines a queryset to what ``user`` may see: the
    user's county (the lookup ``county`` from the model to its county's id)
    and, for a township officer, their township (``township``: lookups to
    the township's id; empty for records that have none, such as a subsidy
    run, which every role of the county sees)."""
    counties = counties_of(user)
    if not counties:
        return NOTHING
    if len(counties) == 1:
        condition = Q(**{county: counties[0]})
    else:
        condition = Q(**{f"{county}__in": counties})
    if township:
        condition &= township_q(user, *township)
    return condition


def require_permission(actor, *permissions: str) -> None:
    """Refuse (PermissionDenied) an actor without every one of ``permissions``."""
    if not all(actor.has_perm(permission) for permission in permissions):
        raise PermissionDenied


def require_county(actor, county_id: int | None) -> None:
    """Refuse (PermissionDenied) an actor outside that county."""
    if county_id is None or county_id not in counties_of(actor):
        raise PermissionDenied


def require_township(actor, township_id: int | None) -> None:
    """Refuse (PermissionDenied) an actor who may not act in that township."""
    if not may_act_in_township(actor, township_id):
        raise PermissionDenied


def require_township_field(actor, township_id: int | None, field: str) -> None:
    """The same, as a form error on ``field``: for registry records, whose
    township follows from the village chosen."""
    if township_id is not None and not may_act_in_township(actor, township_id):
        raise ValidationError(
            {field: _("This is outside your township; you may register records of your own only.")}
        )

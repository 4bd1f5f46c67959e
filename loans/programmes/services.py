"""Services that configure programmes: a programme with its quotas, its copy
for the next year, and the table of loan prime rates.

Each takes the acting user as ``actor``, checks the permission, validates
fully, records the actor in the change history and runs in one
transaction. Bad input raises ``ValidationError`` keyed by field (messages
in the user's language, ``quotas`` for the quota table) and saves nothing.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.roles import OFFICE_ROLES, county_of, office_of, require_permission, role_of
from beneficiaries.models import Borrower
from common.money import yuan
from divisions.models import Division
from loans.applications.services import programme_budget_used
from loans.models import (
    LprRate,
    Programme,
    ProgrammeCountyBudget,
    ProgrammeQuota,
    region_code_of,
    region_level,
)

# The fields a programme form may set; everything else is bookkeeping.
PROGRAMME_FIELDS = (
    "name",
    "year",
    "region_code",
    "region_name",
    "description",
    "is_active",
    "enterprise_quota",
    "min_term_months",
    "max_term_months",
    "rate_ceiling",
    "budget",
    "day_count_basis",
    "subsidy_ratio",
    "rate_cap_mode",
    "rate_cap",
    "subsidy_year",
    "grace_days",
    "overdue_treatment",
    "notice_days",
    "reconciliation_tolerance",
)

_ZERO = Decimal("0")
_ONE = Decimal("1")


def _full_clean(instance, errors: dict) -> None:
    """Run the model's validation on the fields not already found wrong, and
    raise everything at once.

    Excluding the fields with an error keeps Django's generic constraint
    messages ("Constraint … is violated") from repeating a specific one.
    """
    try:
        instance.full_clean(exclude=list(errors))
    except ValidationError as error:
        errors = error.update_error_dict(errors)
    if errors:
        raise ValidationError(errors)


def home_region(actor) -> Division | None:
    """The division whose programmes ``actor`` sets up: a county office its
    county's, a city or province office its city's or province's; None for
    everyone else."""
    if role_of(actor) in OFFICE_ROLES:
        return office_of(actor)
    return county_of(actor)


def may_configure(actor, programme: Programme) -> bool:
    """Whether ``actor`` may change ``programme``: it is of their own region
    (a county office reads its city's programme but only the city changes it)."""
    region = home_region(actor)
    return region is not None and programme.region_code == region_code_of(region)


def _is_rate(value: Decimal | None) -> bool:
    return value is not None and _ZERO < value < _ONE


def programme_errors(programme: Programme) -> dict:
    """What the model's own ``clean`` does not say in a person's words:
    constraints (budget, uniqueness) and sane rates and codes, as messages
    by field. ``programme`` may be unsaved; forms use this to show these
    mistakes together with the others."""
    errors = {}
    if programme.budget is not None and programme.budget <= _ZERO:
        errors["budget"] = _("The budget must be more than 0 yuan.")
    if programme.enterprise_quota is not None and programme.enterprise_quota <= _ZERO:
        errors["enterprise_quota"] = _(
            "The quota per enterprise must be more than 0 yuan; leave it empty if enterprises "
            "may not borrow."
        )
    if programme.rate_ceiling is not None and not _is_rate(programme.rate_ceiling):
        errors["rate_ceiling"] = _("The rate ceiling must be between 0 % and 100 %.")
    if programme.rate_cap is not None and not _is_rate(programme.rate_cap):
        errors["rate_cap"] = _("The cap rate must be between 0 % and 100 %.")
    if programme.min_term_months == 0:
        errors["min_term_months"] = _("The shortest term is at least 1 month.")
    code = programme.region_code or ""
    if code and not (len(code) == 6 and code.isdigit()):
        errors["region_code"] = _("A region code has 6 digits, e.g. 530822.")
    duplicate = Programme.objects.filter(
        name=programme.name, year=programme.year, region_code=programme.region_code
    ).exclude(pk=programme.pk)
    if programme.name and programme.year and duplicate.exists():
        errors["name"] = _(
            "%(name)s %(year)s already exists for region %(region)s; change the year or the name."
        ) % {"name": programme.name, "year": programme.year, "region": programme.region_code}
    return errors


def _quota_errors(quotas: list[dict]) -> list[str]:
    categories = dict(Borrower.Category.choices)
    errors = []
    if not quotas:
        errors.append(_("Give at least one borrower category a quota."))
    seen = set()
    for quota in quotas:
        category, amount = quota.get("category"), quota.get("amount")
        label = categories.get(category)
        if label is None:
            errors.append(_("Choose a borrower category for every quota."))
            continue
        if category in seen:
            errors.append(_("%(category)s has more than one quota.") % {"category": label})
        seen.add(category)
        if amount is None or amount <= _ZERO:
            errors.append(
                _("The quota for %(category)s must be more than 0 yuan.") % {"category": label}
            )
    return errors


def _keep_baselines(programme: Programme) -> None:
    """Record a programme and its quotas as they are, if they have no
    history yet, so that the first change shows what it changed.

    The shipped programmes were inserted by a migration, which keeps no
    history. The baseline is the system's (no user), dated when the
    programme was last saved.
    """
    reason = _("As it was before the first recorded change")
    for instance in [programme, *programme.quotas.all()]:
        history = type(instance).history
        if history.filter(id=instance.pk).exists():
            continue
        history.model.objects.create(
            history_date=programme.updated_at,
            history_user=None,
            history_type="~",
            history_change_reason=reason,
            **{
                field.attname: getattr(instance, field.attname)
                for field in history.model.tracked_fields
            },
        )


def _save_quotas(programme: Programme, quotas: list[dict], *, actor) -> None:
    """Make the programme's quotas exactly ``quotas``, touching only the rows
    that change, so that the history shows what really changed."""
    existing = {quota.category: quota for quota in programme.quotas.all()}
    wanted = {quota["category"]: quota["amount"] for quota in quotas}
    for category, quota in existing.items():
        if category not in wanted:
            quota._history_user = actor
            quota.delete()
    for category, amount in wanted.items():
        quota = existing.get(category) or ProgrammeQuota(programme=programme, category=category)
        if quota.pk and quota.amount == amount:
            continue
        quota.amount = amount
        quota.full_clean()
        quota._history_user = actor
        quota.save()


def county_budget_errors(programme: Programme, county_budgets: list[dict]) -> list[str]:
    """What is wrong with the parts of a city's or province's programme
    (``county_budgets``: dicts of ``county`` and ``amount``), in a person's
    words: every county under the region at most once, each part above 0
    and not below what the county has already lent or approved."""
    if not programme.is_above_county:
        if county_budgets:
            return [_("Only a city's or province's programme has a budget per county.")]
        return []
    errors = []
    if not county_budgets:
        errors.append(_("Give at least one county under the region a budget."))
    province = region_level(programme.region_code) == Division.Level.PROVINCE
    prefix = programme.region_code[: 2 if province else 4]
    seen = set()
    for part in county_budgets:
        county, amount = part.get("county"), part.get("amount")
        if county is None:
            errors.append(_("Choose a county for every budget."))
            continue
        if county.level != Division.Level.COUNTY or not county.code.startswith(prefix):
            errors.append(
                _("%(county)s is not a county of %(region)s.")
                % {"county": county, "region": programme.region_name or programme.region_code}
            )
            continue
        if county.pk in seen:
            errors.append(_("%(county)s has more than one budget.") % {"county": county})
        seen.add(county.pk)
        if amount is None or amount <= _ZERO:
            errors.append(
                _("The budget of %(county)s must be more than 0 yuan.") % {"county": county}
            )
        elif programme.pk:
            used = programme_budget_used(programme=programme, county=county)
            if amount < used:
                errors.append(
                    _(
                        "%(county)s has already lent or approved %(used)s yuan; its budget "
                        "cannot be less."
                    )
                    % {"county": county, "used": yuan(used)}
                )
    if programme.pk:
        kept = {part["county"].pk for part in county_budgets if part.get("county")}
        for part in programme.county_budgets.exclude(county__in=kept).select_related("county"):
            used = programme_budget_used(programme=programme, county=part.county)
            if used:
                errors.append(
                    _(
                        "%(county)s has already lent or approved %(used)s yuan; its budget "
                        "cannot be removed."
                    )
                    % {"county": part.county, "used": yuan(used)}
                )
    return errors


def _save_county_budgets(programme: Programme, county_budgets: list[dict], *, actor) -> None:
    """Make the programme's county parts exactly ``county_budgets``, touching
    only the rows that change."""
    existing = {part.county_id: part for part in programme.county_budgets.all()}
    wanted = {part["county"].pk: part["amount"] for part in county_budgets}
    for county_id, part in existing.items():
        if county_id not in wanted:
            part._history_user = actor
            part.delete()
    for county_id, amount in wanted.items():
        part = existing.get(county_id) or ProgrammeCountyBudget(
            programme=programme, county_id=county_id
        )
        if part.pk and part.amount == amount:
            continue
        part.amount = amount
        part.full_clean()
        part._history_user = actor
        part.save()


@transaction.atomic
def programme_save(
    *,
    actor,
    programme: Programme | None = None,
    quotas: list[dict],
    county_budgets: list[dict] | None = None,
    **fields,
) -> Programme:
    """Create a programme (``programme=None``) or change one, with its quota
    per borrower category (``quotas``: dicts of ``category`` and ``amount``,
    the complete list: a category left out loses its quota).

    A city's or province's programme (its region code is the office's own)
    has a budget per county (``county_budgets``: dicts of ``county`` and
    ``amount``, the complete list), and its budget is their sum.

    ``fields`` are model fields of ``PROGRAMME_FIELDS``; an unknown name is a
    programming error (TypeError), not a user's. A fixed cap rate is kept
    only while the cap mode is "fixed". The actor sets up programmes of
    their own region only: a county office its county's, a city or
    province office its own.
    """
    county_budgets = list(county_budgets or ())
    creating = programme is None
    if creating:
        require_permission(actor, "loans.add_programme", "loans.add_programmequota")
        programme = Programme()
    else:
        require_permission(actor, "loans.change_programme", "loans.change_programmequota")
        programme = Programme.objects.select_for_update().get(pk=programme.pk)
        if not may_configure(actor, programme):
            raise PermissionDenied(_("Only the office that runs this programme may change it."))
        _keep_baselines(programme)
    for name, value in fields.items():
        if name not in PROGRAMME_FIELDS:
            raise TypeError("Programme has no editable field %r" % name)
        setattr(programme, name, value)
    if programme.rate_cap_mode != Programme.RateCapMode.FIXED:
        # A cap rate means something only in fixed mode; a stale one would
        # read as if it applied.
        programme.rate_cap = None

    errors = programme_errors(programme)
    region = home_region(actor)
    if "region_code" not in errors and (
        region is None or programme.region_code != region_code_of(region)
    ):
        errors["region_code"] = (
            _("You set up programmes of %(region)s only: its region code is %(code)s.")
            % {"region": region, "code": region_code_of(region)}
            if region is not None
            else _("Your account is bound to no county, city or province.")
        )
    quota_errors = _quota_errors(quotas)
    if quota_errors:
        errors["quotas"] = quota_errors
    if "region_code" not in errors:
        budget_errors = county_budget_errors(programme, county_budgets)
        if budget_errors:
            errors["county_budgets"] = budget_errors
        elif programme.is_above_county:
            programme.budget = sum((part["amount"] for part in county_budgets), _ZERO)
    _full_clean(programme, errors)

    programme._history_user = actor
    programme.save()
    _save_quotas(programme, quotas, actor=actor)
    if programme.is_above_county:
        _save_county_budgets(programme, county_budgets, actor=actor)
    return programme


@transaction.atomic
def programme_copy_to_year(*, actor, programme: Programme, year: int | None = None) -> Programme:
    """Copy a programme and its quotas to another year (the next by default).

    The copy is inactive, so that no application lands in it before the
    county office has checked its figures. Refused when the programme
    already has a row for that year.
    """
    require_permission(actor, "loans.add_programme", "loans.add_programmequota")
    if not may_configure(actor, programme):
        raise PermissionDenied(_("Only the office that runs this programme may copy it."))
    year = year or programme.year + 1
    if Programme.objects.filter(
        name=programme.name, year=year, region_code=programme.region_code
    ).exists():
        raise ValidationError(
            {
                "year": _("%(name)s already has a programme for %(year)s; open that one instead.")
                % {"name": programme.name, "year": year}
            }
        )
    copy = Programme(
        **{name: getattr(programme, name) for name in PROGRAMME_FIELDS},
    )
    copy.year = year
    copy.is_active = False
    _full_clean(copy, {})
    copy._history_user = actor
    copy._change_reason = _("Copied from %(programme)s") % {"programme": programme}
    copy.save()
    quotas = [{"category": q.category, "amount": q.amount} for q in programme.quotas.all()]
    _save_quotas(copy, quotas, actor=actor)
    parts = [{"county": p.county, "amount": p.amount} for p in programme.county_budgets.all()]
    _save_county_budgets(copy, parts, actor=actor)
    return copy


@transaction.atomic
def lpr_rate_save(
    *,
    actor,
    rate: LprRate | None = None,
    effective_on: datetime.date,
    one_year_rate: Decimal,
) -> LprRate:
    """Record a one-year LPR from a date (``rate=None``) or correct one.

    ``one_year_rate`` is a fraction (0.031 for 3.10 %). One rate per date:
    a second one for the same date is refused, not merged.
    """
    if rate is None:
        require_permission(actor, "loans.add_lprrate")
        rate = LprRate()
    else:
        require_permission(actor, "loans.change_lprrate")
        rate = LprRate.objects.select_for_update().get(pk=rate.pk)
    rate.effective_on, rate.one_year_rate = effective_on, one_year_rate

    errors = {}
    if one_year_rate is not None and not _is_rate(one_year_rate):
        errors["one_year_rate"] = _("The LPR must be between 0 % and 100 %.")
    if (
        effective_on is not None
        and LprRate.objects.filter(effective_on=effective_on).exclude(pk=rate.pk).exists()
    ):
        errors["effective_on"] = _(
            "An LPR in force from %(date)s is already recorded; correct that one instead."
        ) % {"date": effective_on.isoformat()}
    _full_clean(rate, errors)
    rate._history_user = actor
    rate.save()
    return rate

"""What the programme pages read: programmes by year with their budget
position, a programme's parameters in plain words, its applications and
loans by state, its change history, and the LPR table.

Programmes are county-wide configuration that every staff role may read;
the counts of applications and loans are confined to what the user may see.
"""

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Prefetch
from django.utils.translation import gettext as _

from accounts.roles import OFFICE_ROLES, counties_of, county_of, role_of
from beneficiaries.registry.selectors import FieldChange, HistoryEntry
from common.money import yuan
from divisions.models import Division
from loans.applications.services import programme_budget_used
from loans.ledger.selectors import status_label
from loans.models import Application, Loan, LprRate, Programme, ProgrammeQuota

# Shown as percentages: rates are stored as fractions (0.0345).
PERCENT_FIELDS = {"rate_ceiling", "rate_cap", "one_year_rate"}
# Shown as yuan with thousands separators.
MONEY_FIELDS = {"budget", "enterprise_quota", "amount", "reconciliation_tolerance"}
# Never shown as a change: bookkeeping, not configuration.
HISTORY_SKIPPED_FIELDS = {"id", "created_at", "updated_at", "programme"}


def percent_text(rate: Decimal | None) -> str:
    """0.0345 → "3.45%", 0.031 → "3.10%", 0.03125 → "3.125%"; None → "—"."""
    if rate is None:
        return "—"
    percent = (rate * 100).quantize(Decimal("0.0001")).normalize()
    whole, _dot, decimals = f"{percent:f}".partition(".")
    return "%s.%s%%" % (whole, decimals.ljust(2, "0"))


# --- The list ---------------------------------------------------------------


@dataclass(frozen=True)
class QuotaLine:
    label: str
    amount: str  # "100,000.00"


@dataclass(frozen=True)
class BudgetPosition:
    """A budget and how much of it is spoken for: lent, plus approved and
    not yet lent (``programme_budget_used``)."""

    budget: Decimal
    used: Decimal

    @property
    def remaining(self) -> Decimal:
        return self.budget - self.used

    @property
    def used_share(self) -> str:
        """ "12.5%": the share used, to a tenth of a per cent half-up."""
        share = self.used / self.budget * 100 if self.budget else Decimal(0)
        return "%s%%" % share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def budget_text(self) -> str:
        return yuan(self.budget)

    @property
    def used_text(self) -> str:
        return yuan(self.used)

    @property
    def remaining_text(self) -> str:
        return yuan(self.remaining)

    @property
    def nearly_spent_at(self) -> Decimal:
        """Where the budget bar turns to a warning: nine tenths of the budget."""
        return self.budget * Decimal("0.9")


@dataclass(frozen=True)
class CountyPart(BudgetPosition):
    """One county's part of a city's or province's programme."""

    county: Division | None = None


@dataclass(frozen=True)
class BudgetLine(BudgetPosition):
    """One programme in the list, with how much of its budget is spoken for
    (amounts formatted for display as yuan with separators). The budget is
    the programme's, or the user's county's part of a city's or province's
    programme (``county``); ``parts`` are the parts of the counties the user
    may see."""

    programme: Programme | None = None
    quotas: list[QuotaLine] = field(default_factory=list)
    county: Division | None = None
    parts: tuple[CountyPart, ...] = ()

    @property
    def rate_ceiling(self) -> str:
        return percent_text(self.programme.rate_ceiling)

    @property
    def enterprise_quota_text(self) -> str:
        quota = self.programme.enterprise_quota
        return "" if quota is None else yuan(quota)


@dataclass(frozen=True)
class YearGroup:
    year: int
    lines: list[BudgetLine]


def programme_budget_line(*, programme: Programme, user) -> BudgetLine:
    """The programme with its quotas and budget position. A county's user
    sees their county's part of a city's or province's programme; an office
    the whole, with each of its counties' parts."""
    quotas = [
        QuotaLine(label=quota.get_category_display(), amount=yuan(quota.amount))
        for quota in programme.quotas.all()
    ]
    visible = set(counties_of(user))
    parts = tuple(
        CountyPart(
            budget=part.amount,
            used=programme_budget_used(programme=programme, county=part.county),
            county=part.county,
        )
        for part in programme.county_budgets.select_related("county")
        if part.county_id in visible
    )
    county = county_of(user)
    own = next((part for part in parts if county and part.county.pk == county.pk), None)
    if programme.is_above_county and own is not None:
        return BudgetLine(
            budget=own.budget, used=own.used, programme=programme, quotas=quotas, county=county
        )
    return BudgetLine(
        budget=programme.budget,
        used=programme_budget_used(programme=programme),
        programme=programme,
        quotas=quotas,
        parts=parts if role_of(user) in OFFICE_ROLES else (),
    )


def programme_years(*, user) -> list[int]:
    years = Programme.objects.for_user(user).values_list("year", flat=True)
    return sorted(set(years), reverse=True)


def programme_overview(
    *, user, year: int | None = None, active: bool | None = None
) -> list[YearGroup]:
    """The programmes run in the user's counties grouped by year (newest
    first; active ones first within a year), each with its quotas and its
    budget used (``programme_budget_used``: lent plus approved and not yet
    lent) and remaining."""
    programmes = (
        Programme.objects.for_user(user)
        .prefetch_related(
            Prefetch("quotas", queryset=ProgrammeQuota.objects.order_by("-amount", "category"))
        )
        .order_by("-year", "-is_active", "name", "region_code")
    )
    if year is not None:
        programmes = programmes.filter(year=year)
    if active is not None:
        programmes = programmes.filter(is_active=active)
    groups: dict[int, list[BudgetLine]] = {}
    for programme in programmes:
        groups.setdefault(programme.year, []).append(
            programme_budget_line(programme=programme, user=user)
        )
    return [YearGroup(year=year, lines=lines) for year, lines in groups.items()]


# --- A programme's parameters in plain words ---------------------------------


@dataclass(frozen=True)
class Parameter:
    label: str
    value: str
    note: str = ""


def _rate_cap_text(programme: Programme, today: datetime.date) -> tuple[str, str]:
    mode = programme.rate_cap_mode
    if mode == Programme.RateCapMode.FIXED:
        return (
            _("Fixed at %(rate)s") % {"rate": percent_text(programme.rate_cap)},
            _("Interest above this rate is not subsidised."),
        )
    if mode == Programme.RateCapMode.LPR:
        current = LprRate.in_force_on(today)
        note = (
            _("In force today: %(rate)s, since %(date)s.")
            % {"rate": percent_text(current.one_year_rate), "date": current.effective_on}
            if current
            else _("No LPR is recorded yet: add one to the LPR table.")
        )
        return _("The one-year LPR on the disbursement date"), note
    return _("The contract rate"), _("No cap beyond the contract rate ceiling.")


def _subsidy_year_text(programme: Programme) -> tuple[str, str]:
    first, last = programme.subsidy_year_bounds(programme.year)
    window = _("For %(year)s: %(first)s to %(last)s, both days included.") % {
        "year": programme.year,
        "first": first.isoformat(),
        "last": last.isoformat(),
    }
    if programme.subsidy_year == Programme.SubsidyYear.CALENDAR:
        return _("The calendar year, 1 January to 31 December"), window
    return (
        _("21 December of the previous year to 20 December of the year"),
        window + " " + _("Matches the quarterly interest settlements on the 20th."),
    )


def programme_parameters(programme: Programme, *, today: datetime.date) -> list[Parameter]:
    """Every parameter of the programme as a person would say it."""
    ratio = programme.subsidy_ratio
    if ratio == 1:
        ratio_text = _("100 % (full interest subsidy)")
    else:
        ratio_text = _("%(percent)s of the interest") % {"percent": percent_text(ratio)}
    if programme.enterprise_quota is None:
        enterprise = _("Enterprises may not borrow")
    else:
        enterprise = _("%(amount)s yuan") % {"amount": yuan(programme.enterprise_quota)}
    grace = programme.grace_days
    return [
        Parameter(_("Region"), "%s（%s）" % (programme.region_name, programme.region_code)),
        Parameter(
            _("Status"),
            _("Active: open for applications")
            if programme.is_active
            else _("Inactive: closed for applications"),
        ),
        Parameter(
            _("Loan term"),
            _("%(min)s to %(max)s months")
            % {"min": programme.min_term_months, "max": programme.max_term_months},
        ),
        Parameter(_("Contract rate ceiling"), percent_text(programme.rate_ceiling)),
        Parameter(
            _("Budget (principal)"), _("%(amount)s yuan") % {"amount": yuan(programme.budget)}
        ),
        Parameter(_("Quota per enterprise"), enterprise),
        Parameter(
            _("Day-count basis"),
            _("%(days)s days a year") % {"days": programme.day_count_basis},
            _("A day's interest is balance × annual rate ÷ %(days)s.")
            % {"days": programme.day_count_basis},
        ),
        Parameter(_("Subsidy ratio"), ratio_text),
        Parameter(_("Subsidy rate cap"), *_rate_cap_text(programme, today)),
        Parameter(_("Subsidy year"), *_subsidy_year_text(programme)),
        Parameter(
            _("Grace for on-time payment"),
            _("%(days)s days") % {"days": grace},
            _("Interest paid up to %(days)s days after its due date still counts as on time.")
            % {"days": grace}
            if grace
            else _("Interest must be paid by its due date to count as on time."),
        ),
        Parameter(
            _("Overdue loans"),
            _("The overdue days are not subsidised")
            if programme.overdue_treatment == Programme.OverdueTreatment.EXCLUDE_DAYS
            else _("An overdue loan loses the whole year's subsidy"),
        ),
        Parameter(_("Public notice period"), _("%(days)s days") % {"days": programme.notice_days}),
        Parameter(
            _("Reconciliation tolerance"),
            _("%(amount)s yuan") % {"amount": yuan(programme.reconciliation_tolerance)},
            _(
                "A difference between the co-op's interest and the expected interest up to this "
                "amount is not flagged."
            ),
        ),
    ]


# --- Applications and loans of a programme ------------------------------------


@dataclass(frozen=True)
class StateCount:
    value: str
    label: str
    count: int


def _counts(queryset, field_name: str, choices) -> list[StateCount]:
    """``choices``: (value, label) in the order to show, zeros included."""
    found = dict(queryset.values_list(field_name).annotate(n=Count("pk")).order_by())
    return [StateCount(value, str(label), found.get(value, 0)) for value, label in choices]


def programme_application_counts(*, programme: Programme, user) -> list[StateCount]:
    """Applications of the programme by state, among those the user may see."""
    queryset = Application.objects.for_user(user).filter(programme=programme)
    return _counts(queryset, "state", Application.State.choices)


def programme_loan_counts(*, programme: Programme, user) -> list[StateCount]:
    """Loans of the programme by recorded status, among those the user may see."""
    queryset = Loan.objects.for_user(user).filter(programme=programme)
    # The loan pages' words for the statuses, so both pages say the same.
    return _counts(queryset, "status", [(s, status_label(s)) for s in Loan.Status.values])


# --- Change history ------------------------------------------------------------


def _display(model_field, value) -> str:
    if value is None or value == "":
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if model_field.name in PERCENT_FIELDS:
        return percent_text(value)
    if model_field.name in MONEY_FIELDS:
        return yuan(value)
    return str(value)


def _subject(model, record) -> str:
    if model is ProgrammeQuota:
        return _("Quota: %(category)s") % {"category": record.get_category_display()}
    return _("Programme")


def programme_history(*, programme: Programme) -> list[HistoryEntry]:
    """Every saved change of the programme and its quotas, newest first:
    when, by whom, from where and which values changed (simple-history's
    ``diff_against``). Saves that changed nothing are left out. ``kind`` is
    "created", "changed", "deleted", or "baseline" for a first recorded
    save of a row that existed before its history did."""
    series = [
        (Programme, Programme.history.filter(id=programme.pk)),
        (ProgrammeQuota, ProgrammeQuota.history.filter(programme_id=programme.pk)),
    ]
    entries = []
    for model, records in series:
        previous_by_object = {}
        for record in records.select_related("history_user").order_by("history_date", "pk"):
            previous = previous_by_object.get(record.id)
            previous_by_object[record.id] = record
            changes = []
            if record.history_type == "~" and previous is not None:
                tracked = [
                    f.name for f in record.tracked_fields if f.name not in HISTORY_SKIPPED_FIELDS
                ]
                delta = record.diff_against(previous, included_fields=tracked)
                for change in delta.changes:
                    model_field = model._meta.get_field(change.field)
                    changes.append(
                        FieldChange(
                            label=str(model_field.verbose_name),
                            old=_display(model_field, change.old),
                            new=_display(model_field, change.new),
                        )
                    )
                if not changes:
                    continue
            if record.history_type == "~" and previous is None:
                # A row inserted by a migration: its first version on record
                # has nothing to compare to (see programme_services).
                kind = "baseline"
            else:
                kind = {"+": "created", "-": "deleted"}.get(record.history_type, "changed")
            entries.append(
                HistoryEntry(
                    when=record.history_date,
                    user=record.history_user,
                    ip_address=record.ip_address,
                    subject=_subject(model, record),
                    kind=kind,
                    reason=record.history_change_reason,
                    changes=changes,
                    order=record.pk,
                )
            )
    entries.sort(key=lambda entry: (entry.when, entry.order), reverse=True)
    return entries


# --- The LPR table --------------------------------------------------------------


@dataclass(frozen=True)
class LprLine:
    rate: LprRate
    percent: str
    in_force: bool


def lpr_lines(*, today: datetime.date) -> list[LprLine]:
    """The LPR table, newest first, marking the rate in force today."""
    current = LprRate.in_force_on(today)
    return [
        LprLine(rate=rate, percent=percent_text(rate.one_year_rate), in_force=rate == current)
        for rate in LprRate.objects.order_by("-effective_on")
    ]

"""Programmes and the life of a loan: applications with their approvals and
public notice, contracts, and the co-op's interest and principal ledger."""

import datetime
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import counties_of
from accounts.scoping import ScopedQuerySet
from beneficiaries.models import Borrower, Enterprise, Household, Industry
from common.history import traced_history
from divisions.models import Division, county_field


class CreditCoop(models.Model):
    """A rural credit co-op (农信社, 联社) that lends under the programme and
    posts through the API. It serves one or more counties (DOMAIN.md
    section 7); each of its keys reaches some of them, never another."""

    name = models.CharField(_("name"), max_length=100)
    code = models.SlugField(_("code"), max_length=30, unique=True)
    counties = models.ManyToManyField(
        Division,
        verbose_name=_("counties served"),
        limit_choices_to={"level": Division.Level.COUNTY},
        related_name="+",
        blank=True,
    )

    class Meta:
        verbose_name = _("credit co-op")
        verbose_name_plural = _("credit co-ops")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class LprRate(models.Model):
    """The one-year loan prime rate (LPR) in force from a date, for programmes
    whose subsidy is capped at the LPR on the disbursement date."""

    effective_on = models.DateField(_("in force from"), unique=True)
    one_year_rate = models.DecimalField(_("one-year LPR"), max_digits=8, decimal_places=6)

    history = traced_history()

    class Meta:
        verbose_name = _("loan prime rate")
        verbose_name_plural = _("loan prime rates")
        ordering = ["-effective_on"]
        constraints = [
            models.CheckConstraint(
                name="lpr_rate_positive", condition=Q(one_year_rate__gt=0, one_year_rate__lt=1)
            )
        ]

    def __str__(self) -> str:
        return f"{self.effective_on}: {self.one_year_rate:%}"

    @classmethod
    def in_force_on(cls, day: datetime.date) -> "LprRate | None":
        return cls.objects.filter(effective_on__lte=day).order_by("-effective_on").first()


def region_level(region_code: str) -> str:
    """The level of a programme's region code: 530822 a county, 530800 a
    city, 530000 a province (official codes pad a city or province with 0s)."""
    if region_code.endswith("0000"):
        return Division.Level.PROVINCE
    if region_code.endswith("00"):
        return Division.Level.CITY
    return Division.Level.COUNTY


def region_code_of(division: Division) -> str:
    """The programme region code of a county, city or province: its code
    padded to six digits (5308 → 530800)."""
    return division.code.ljust(6, "0")


def region_codes_above(county_code: str) -> tuple[str, ...]:
    """The region codes of a county's programmes: the county's own, its
    city's (530822 → 530800) and its province's (530000)."""
    return (county_code, county_code[:4] + "00", county_code[:2] + "0000")


class ProgrammeQuerySet(models.QuerySet):
    def for_user(self, user):
        """The programmes run in any of the user's counties: a county's own,
        its city's and its province's (``region_codes_above``)."""
        codes = Division.objects.filter(pk__in=counties_of(user)).values_list("code", flat=True)
        regions = {region for code in codes for region in region_codes_above(code)}
        return self.filter(region_code__in=regions)


class Programme(models.Model):
    """One programme for one year: its quotas, terms, rate ceiling, budget and
    the parameters of the subsidy rule (DOMAIN.md section 5). Neighbouring
    programmes (精扶贷, 扶贫贷) are rows like this one, not code."""

    class RateCapMode(models.TextChoices):
        CONTRACT = "contract", _("The contract rate (no cap)")
        FIXED = "fixed", _("A fixed rate")
        LPR = "lpr", _("The one-year LPR on the disbursement date")

    class SubsidyYear(models.TextChoices):
        SETTLEMENT = "settlement", _("21 December to 20 December (quarterly settlements)")
        CALENDAR = "calendar", _("Calendar year")

    class OverdueTreatment(models.TextChoices):
        EXCLUDE_DAYS = "exclude_days", _("Exclude the overdue days")
        LOSE_YEAR = "lose_year", _("Lose the whole year")

    name = models.CharField(_("name"), max_length=60)
    year = models.PositiveSmallIntegerField(_("year"))
    region_code = models.CharField(_("region code"), max_length=6)
    region_name = models.CharField(_("region"), max_length=60)
    description = models.TextField(_("description"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    enterprise_quota = models.DecimalField(
        _("quota per enterprise"),
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("Leave empty if enterprises may not borrow."),
    )
    min_term_months = models.PositiveSmallIntegerField(_("shortest term (months)"), default=1)
    max_term_months = models.PositiveSmallIntegerField(_("longest term (months)"), default=36)
    rate_ceiling = models.DecimalField(_("contract rate ceiling"), max_digits=8, decimal_places=6)
    budget = models.DecimalField(_("budget (principal)"), max_digits=16, decimal_places=2)

    day_count_basis = models.PositiveSmallIntegerField(
        _("day-count basis"), choices=[(360, "360"), (365, "365")], default=360
    )
    subsidy_ratio = models.DecimalField(
        _("subsidy ratio"), max_digits=5, decimal_places=4, default=Decimal("1.0000")
    )
    rate_cap_mode = models.CharField(
        _("subsidy rate cap"),
        max_length=10,
        choices=RateCapMode.choices,
        default=RateCapMode.CONTRACT,
    )
    rate_cap = models.DecimalField(
        _("fixed cap rate"), max_digits=8, decimal_places=6, null=True, blank=True
    )
    subsidy_year = models.CharField(
        _("subsidy year"),
        max_length=12,
        choices=SubsidyYear.choices,
        default=SubsidyYear.SETTLEMENT,
    )
    grace_days = models.PositiveSmallIntegerField(_("grace days for on-time payment"), default=0)
    overdue_treatment = models.CharField(
        _("overdue loans"),
        max_length=12,
        choices=OverdueTreatment.choices,
        default=OverdueTreatment.EXCLUDE_DAYS,
    )
    notice_days = models.PositiveSmallIntegerField(_("public notice period (days)"), default=10)
    reconciliation_tolerance = models.DecimalField(
        _("reconciliation tolerance (yuan)"),
        max_digits=8,
        decimal_places=2,
        default=Decimal("1.00"),
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ProgrammeQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        ordering = ["-year", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name", "year", "region_code"], name="programme_unique_per_year"
            ),
            models.CheckConstraint(name="programme_budget_positive", condition=Q(budget__gt=0)),
            models.CheckConstraint(
                name="programme_ratio_between_0_and_1",
                condition=Q(subsidy_ratio__gte=0, subsidy_ratio__lte=1),
            ),
            models.CheckConstraint(
                name="programme_terms_ordered",
                condition=Q(min_term_months__lte=F("max_term_months")),
            ),
            models.CheckConstraint(
                name="programme_fixed_cap_has_rate",
                condition=~Q(rate_cap_mode="fixed") | Q(rate_cap__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.year}"

    def clean(self):
        errors = {}
        terms = (self.min_term_months, self.max_term_months)
        if all(terms) and terms[0] > terms[1]:
            errors["max_term_months"] = _("The longest term is shorter than the shortest.")
        if self.rate_cap_mode == self.RateCapMode.FIXED and self.rate_cap is None:
            errors["rate_cap"] = _("A fixed cap needs its rate.")
        if self.subsidy_ratio is not None and not Decimal("0") <= self.subsidy_ratio <= 1:
            errors["subsidy_ratio"] = _("The subsidy ratio is between 0 and 1 (1 = full).")
        if errors:
            raise ValidationError(errors)

    @property
    def is_above_county(self) -> bool:
        """A city's or province's programme, run by the counties under it,
        each within a budget of its own (``ProgrammeCountyBudget``)."""
        return region_level(self.region_code) != Division.Level.COUNTY

    def covers(self, county: Division) -> bool:
        """Whether the programme runs in ``county``: its region is the county
        or the city or province above it."""
        return self.region_code in region_codes_above(county.code)

    def quota_for(self, category: str) -> Decimal | None:
        """The household quota for a borrower category, None if it may not borrow."""
        for quota in self.quotas.all():
            if quota.category == category:
                return quota.amount
        return None

    def subsidy_year_bounds(self, year: int) -> tuple[datetime.date, datetime.date]:
        """First and last day (both inclusive) of subsidy year ``year``."""
        if self.subsidy_year == self.SubsidyYear.CALENDAR:
            return datetime.date(year, 1, 1), datetime.date(year, 12, 31)
        return datetime.date(year - 1, 12, 21), datetime.date(year, 12, 20)


class ProgrammeQuota(models.Model):
    """The quota per household for borrowers of one category (额度)."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.CASCADE, related_name="quotas"
    )
    category = models.CharField(_("category"), max_length=20, choices=Borrower.Category.choices)
    amount = models.DecimalField(_("quota per household"), max_digits=14, decimal_places=2)

    history = traced_history()

    class Meta:
        verbose_name = _("quota")
        verbose_name_plural = _("quotas")
        ordering = ["-amount"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "category"], name="quota_unique"),
            models.CheckConstraint(name="quota_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}: {self.amount}"


class ProgrammeCountyBudget(models.Model):
    """The part of a city's or province's programme one county under it may
    lend (DOMAIN.md section 7: one 精扶贷 with a budget per county). The
    programme's budget is the sum of its counties' parts; approvals in a
    county are checked against the county's part."""

    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.CASCADE,
        related_name="county_budgets",
    )
    county = models.ForeignKey(
        Division,
        verbose_name=_("county"),
        on_delete=models.PROTECT,
        limit_choices_to={"level": Division.Level.COUNTY},
        related_name="+",
    )
    amount = models.DecimalField(_("budget (principal)"), max_digits=16, decimal_places=2)

    history = traced_history()

    class Meta:
        verbose_name = _("county budget")
        verbose_name_plural = _("county budgets")
        ordering = ["county__code"]
        constraints = [
            models.UniqueConstraint(fields=["programme", "county"], name="county_budget_unique"),
            models.CheckConstraint(name="county_budget_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.programme} {self.county}: {self.amount}"


class Application(models.Model):
    """A loan application and its way through the approvals (an explicit
    state machine: TRANSITIONS; ``application_transition`` moves it)."""

    class State(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        VILLAGE_RECOMMENDED = "village_recommended", _("Recommended by the village")
        TOWNSHIP_REVIEWED = "township_reviewed", _("Reviewed by the township")
        COUNTY_APPROVED = "county_approved", _("Approved by the county")
        IN_NOTICE = "in_notice", _("In public notice")
        RELEASED = "released", _("Released to the co-op")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    OPEN_STATES = (
        State.SUBMITTED,
        State.VILLAGE_RECOMMENDED,
        State.TOWNSHIP_REVIEWED,
        State.COUNTY_APPROVED,
        State.IN_NOTICE,
    )
    # What may follow each state; a closed state has no way out.
    TRANSITIONS = {
        State.SUBMITTED: {State.VILLAGE_RECOMMENDED, State.REJECTED, State.WITHDRAWN},
        State.VILLAGE_RECOMMENDED: {State.TOWNSHIP_REVIEWED, State.REJECTED, State.WITHDRAWN},
        State.TOWNSHIP_REVIEWED: {State.COUNTY_APPROVED, State.REJECTED, State.WITHDRAWN},
        State.COUNTY_APPROVED: {State.IN_NOTICE, State.REJECTED, State.WITHDRAWN},
        State.IN_NOTICE: {State.RELEASED, State.REJECTED, State.WITHDRAWN},
        State.RELEASED: set(),
        State.REJECTED: set(),
        State.WITHDRAWN: set(),
    }

    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="applications",
    )
    borrower = models.ForeignKey(
        Borrower,
        verbose_name=_("borrower"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="applications",
    )
    # The household whose quota the application uses (none for an enterprise).
    household = models.ForeignKey(
        Household,
        verbose_name=_("household"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        editable=False,
        related_name="applications",
    )
    township = models.ForeignKey(
        Division,
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        editable=False,
        blank=True,
        related_name="+",
    )
    county = county_field()
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    industry = models.ForeignKey(
        Industry, verbose_name=_("industry"), on_delete=models.PROTECT, related_name="+"
    )
    purpose = models.CharField(_("purpose"), max_length=200)
    # The household quota that applied when the application was made, kept so
    # that the subsidy run can cap eligible interest at the quota share.
    quota = models.DecimalField(
        _("quota"), max_digits=14, decimal_places=2, editable=False, null=True
    )
    state = models.CharField(
        _("state"), max_length=20, choices=State.choices, default=State.SUBMITTED, editable=False
    )
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True, editable=False)
    released_at = models.DateTimeField(_("released"), null=True, blank=True, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        permissions = [
            ("review_application", _("Recommend and review applications of a township")),
            ("approve_application", _("Approve applications for the county")),
            ("manage_notice", _("Publish public notices and release applications")),
        ]
        ordering = ["-submitted_at", "-pk"]
        indexes = [models.Index(fields=["programme", "state"], name="application_state")]
        constraints = [
            models.CheckConstraint(name="application_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="application_has_one_applicant",
                condition=(Q(borrower__isnull=False) & Q(enterprise__isnull=True))
                | (Q(borrower__isnull=True) & Q(enterprise__isnull=False)),
            ),
            models.UniqueConstraint(
                fields=["programme", "household"],
                condition=Q(
                    state__in=[
                        "submitted",
                        "village_recommended",
                        "township_reviewed",
                        "county_approved",
                        "in_notice",
                    ]
                ),
                name="application_one_open_per_household",
            ),
        ]

    def __str__(self) -> str:
        return _("Application %(number)s") % {"number": self.pk}

    @property
    def applicant(self):
        return self.borrower or self.enterprise

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

    def allowed_next_states(self) -> set[str]:
        return self.TRANSITIONS[self.State(self.state)]


class ApplicationTransition(models.Model):
    """One step of an application: who moved it, when, from what to what, and why."""

    application = models.ForeignKey(
        Application,
        verbose_name=_("application"),
        on_delete=models.CASCADE,
        related_name="transitions",
    )
    from_state = models.CharField(
        _("from"), max_length=20, choices=Application.State.choices, blank=True
    )
    to_state = models.CharField(_("to"), max_length=20, choices=Application.State.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)
    comment = models.TextField(_("comment"), blank=True)

    class Meta:
        verbose_name = _("application step")
        verbose_name_plural = _("application steps")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"


class PublicNotice(models.Model):
    """A public notice (公示) of approved applications, posted in the villages
    for the programme's notice period before release to the co-op."""

    programme = models.ForeignKey(
        Programme, verbose_name=_("programme"), on_delete=models.PROTECT, related_name="notices"
    )
    county = county_field()
    title = models.CharField(_("title"), max_length=200)
    starts_on = models.DateField(_("first day"))
    ends_on = models.DateField(_("last day"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    # A notice is the county's: every role of the county sees it (a township
    # officer its entries of their township only, loans.applications.selectors).
    objects = ScopedQuerySet.as_manager()
    history = traced_history()
    scope_township = ()

    class Meta:
        verbose_name = _("public notice")
        verbose_name_plural = _("public notices")
        ordering = ["-starts_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                name="notice_ends_after_it_starts", condition=Q(ends_on__gte=F("starts_on"))
            )
        ]

    def __str__(self) -> str:
        return self.title


class NoticeEntry(models.Model):
    notice = models.ForeignKey(
        PublicNotice, verbose_name=_("notice"), on_delete=models.CASCADE, related_name="entries"
    )
    application = models.OneToOneField(
        Application,
        verbose_name=_("application"),
        on_delete=models.PROTECT,
        related_name="notice_entry",
    )

    class Meta:
        verbose_name = _("notice entry")
        verbose_name_plural = _("notice entries")
        ordering = ["pk"]

    def __str__(self) -> str:
        return str(self.application)


class Objection(models.Model):
    """An objection raised against a notice entry; an open objection holds the
    application back from release until it is resolved."""

    entry = models.ForeignKey(
        NoticeEntry,
        verbose_name=_("notice entry"),
        on_delete=models.CASCADE,
        related_name="objections",
    )
    raised_by = models.CharField(_("raised by"), max_length=100)
    content = models.TextField(_("objection"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    resolution = models.TextField(_("resolution"), blank=True)
    upheld = models.BooleanField(_("upheld"), null=True, blank=True)

    history = traced_history()

    class Meta:
        verbose_name = _("objection")
        verbose_name_plural = _("objections")
        ordering = ["recorded_at", "pk"]

    def __str__(self) -> str:
        return self.content[:40]

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class Loan(models.Model):
    """A loan contract posted by the co-op for a released application.

    Balance and status are derived from the ledger as of any date
    (``loans.selectors.loan_position``); ``status`` here is the status
    recorded by the daily task, for lists and filters.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", _("Performing")
        OVERDUE = "overdue", _("Overdue")
        REPAID = "repaid", _("Repaid")
        WRITTEN_OFF = "written_off", _("Written off")

    application = models.OneToOneField(
        Application, verbose_name=_("application"), on_delete=models.PROTECT, related_name="loan"
    )
    coop = models.ForeignKey(
        CreditCoop, verbose_name=_("credit co-op"), on_delete=models.PROTECT, related_name="loans"
    )
    contract_no = models.CharField(_("contract number"), max_length=40)
    principal = models.DecimalField(_("principal"), max_digits=14, decimal_places=2)
    annual_rate = models.DecimalField(_("annual rate"), max_digits=8, decimal_places=6)
    disbursed_on = models.DateField(_("disbursed on"))
    maturity_on = models.DateField(_("matures on"))
    written_off_on = models.DateField(_("written off on"), null=True, blank=True)
    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        editable=False,
        blank=True,
        related_name="loans",
    )
    township = models.ForeignKey(
        Division,
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        editable=False,
        blank=True,
        related_name="+",
    )
    county = county_field()
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.ACTIVE, editable=False
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True, db_index=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        ordering = ["-disbursed_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["coop", "contract_no"], name="loan_contract_unique"),
            models.CheckConstraint(name="loan_principal_positive", condition=Q(principal__gt=0)),
            models.CheckConstraint(
                name="loan_rate_sane", condition=Q(annual_rate__gt=0, annual_rate__lt=1)
            ),
            models.CheckConstraint(
                name="loan_matures_after_disbursement",
                condition=Q(maturity_on__gt=F("disbursed_on")),
            ),
        ]

    def __str__(self) -> str:
        return self.contract_no


class LedgerEntry(models.Model):
    """One record the co-op posted: interest collected for a settlement
    period, principal repaid, or a reversal of an earlier entry.

    Append-only: an entry is never changed or deleted; a mistake is undone by
    a reversal entry pointing at it. ``txn_id`` is the co-op's own id, unique
    per co-op, so a re-post is recognised and never counted twice.
    """

    class Kind(models.TextChoices):
        INTEREST = "interest", _("Interest")
        PRINCIPAL = "principal", _("Principal repayment")
        REVERSAL = "reversal", _("Reversal")

    coop = models.ForeignKey(
        CreditCoop, verbose_name=_("credit co-op"), on_delete=models.PROTECT, related_name="+"
    )
    txn_id = models.CharField(_("transaction id"), max_length=64)
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="ledger"
    )
    county = county_field()
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    paid_on = models.DateField(_("paid on"))
    period_start = models.DateField(_("period start"), null=True, blank=True)
    period_end = models.DateField(_("period end"), null=True, blank=True)
    due_on = models.DateField(_("due on"), null=True, blank=True)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("reverses"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
    )
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    posted_at = models.DateTimeField(_("posted"), auto_now_add=True)
    posted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("posted by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )

    objects = ScopedQuerySet.as_manager()
    history = traced_history()
    scope_township = ("loan__township_id",)

    class Meta:
        verbose_name = _("ledger entry")
        verbose_name_plural = _("ledger entries")
        ordering = ["paid_on", "pk"]
        indexes = [models.Index(fields=["loan", "kind", "paid_on"], name="ledger_loan_kind")]
        constraints = [
            models.UniqueConstraint(fields=["coop", "txn_id"], name="ledger_txn_unique"),
            models.CheckConstraint(name="ledger_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="ledger_reversal_points_at_entry",
                condition=Q(kind="reversal", reverses__isnull=False)
                | (~Q(kind="reversal") & Q(reverses__isnull=True)),
            ),
            models.CheckConstraint(
                name="ledger_interest_has_period",
                condition=~Q(kind="interest")
                | Q(
                    period_start__isnull=False,
                    period_end__isnull=False,
                    due_on__isnull=False,
                    period_end__gte=F("period_start"),
                ),
            ),
        ]

    def __str__(self) -> str:
        return self.txn_id

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Ledger entries are append-only; post a reversal instead.")
        if self.county_id is None and self.loan_id:
            self.county_id = self.loan.county_id
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Ledger entries are append-only; post a reversal instead.")


class LoanStatusChange(models.Model):
    """A change of a loan's status, recorded by the daily task (and on posting)."""

    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.CASCADE, related_name="status_changes"
    )
    on = models.DateField(_("date"))
    from_status = models.CharField(_("from"), max_length=12, choices=Loan.Status.choices)
    to_status = models.CharField(_("to"), max_length=12, choices=Loan.Status.choices)
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)

    class Meta:
        verbose_name = _("loan status change")
        verbose_name_plural = _("loan status changes")
        ordering = ["on", "pk"]

    def __str__(self) -> str:
        return f"{self.loan}: {self.from_status} → {self.to_status}"


class ApiKey(models.Model):
    """A co-op service account's API key. Only a hash of the key is stored;
    the key itself is shown once, when it is issued."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("service account"),
        on_delete=models.PROTECT,
        related_name="api_keys",
    )
    coop = models.ForeignKey(
        CreditCoop, verbose_name=_("credit co-op"), on_delete=models.PROTECT, related_name="+"
    )
    # The counties whose records the key reaches: some or all of the co-op's.
    counties = models.ManyToManyField(
        Division,
        verbose_name=_("counties reached"),
        limit_choices_to={"level": Division.Level.COUNTY},
        related_name="+",
    )
    prefix = models.CharField(_("key prefix"), max_length=12, unique=True)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        on_delete=models.PROTECT,
        null=True,
        related_name="+",
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    history = traced_history()

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.prefix}…"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

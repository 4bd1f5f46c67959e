"""The yearly subsidy run (一年一补), its lines and their payout.

A run computes, for one programme and one subsidy year, a line per loan with
its working (subsidies.calculation); the county submits it, the finance
bureau approves it (never the submitter: a constraint as well as a service
rule), and pays it in batches. An approved run is frozen: a ledger entry that
arrives later for its year is carried as an adjustment into the programme's
next run.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.utils.translation import gettext_lazy as _

from accounts.scoping import ScopedQuerySet
from common.history import traced_history
from divisions.models import Division, county_field
from loans.models import Loan, Programme

MONEY = {"max_digits": 14, "decimal_places": 2}
TOTAL = {"max_digits": 16, "decimal_places": 2}


class SubsidyRun(models.Model):
    class State(models.TextChoices):
        DRAFT = "draft", _("Draft")
        COMPUTING = "computing", _("Computing")
        COMPUTED = "computed", _("Computed")
        SUBMITTED = "submitted", _("Submitted for approval")
        APPROVED = "approved", _("Approved")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    # What may follow each state. Computing is entered by the computation
    # service and left by its tasks; an approved run is frozen.
    TRANSITIONS = {
        State.DRAFT: {State.COMPUTING, State.CANCELLED},
        State.COMPUTING: {State.COMPUTED, State.FAILED, State.COMPUTING, State.CANCELLED},
        State.COMPUTED: {State.COMPUTING, State.SUBMITTED, State.CANCELLED},
        State.FAILED: {State.COMPUTING, State.CANCELLED},
        State.SUBMITTED: {State.APPROVED, State.COMPUTED, State.CANCELLED},
        State.APPROVED: {State.PAID},
        State.PAID: set(),
        State.CANCELLED: set(),
    }
    FROZEN_STATES = (State.APPROVED, State.PAID)

    programme = models.ForeignKey(
        Programme,
        verbose_name=_("programme"),
        on_delete=models.PROTECT,
        related_name="subsidy_runs",
    )
    county = county_field()
    year = models.PositiveSmallIntegerField(_("subsidy year"))
    state = models.CharField(
        _("state"), max_length=12, choices=State.choices, default=State.DRAFT, editable=False
    )
    # Bumped by every computation; a task of an earlier one finds it changed
    # and does nothing, so a recomputation cleanly replaces the lines.
    generation = models.PositiveIntegerField(_("computation"), default=0, editable=False)
    # The ledger as it stood at this moment is what the lines are computed
    # from: entries posted later are adjustments for the next run.
    as_of = models.DateTimeField(_("ledger as of"), null=True, blank=True, editable=False)
    parts_total = models.PositiveIntegerField(_("parts"), default=0, editable=False)
    error = models.TextField(_("error"), blank=True, editable=False)
    returned_reason = models.TextField(_("reason sent back"), blank=True, editable=False)

    line_count = models.PositiveIntegerField(_("lines"), default=0, editable=False)
    total_reported = models.DecimalField(_("reported interest"), default=0, **TOTAL)
    total_eligible = models.DecimalField(_("eligible interest"), default=0, **TOTAL)
    total_subsidy = models.DecimalField(_("subsidy"), default=0, **TOTAL)
    total_adjustment = models.DecimalField(_("adjustments"), default=0, **TOTAL)
    total_due = models.DecimalField(_("amount due"), default=0, **TOTAL)
    flagged_count = models.PositiveIntegerField(_("exceptions"), default=0, editable=False)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("started by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("started"), auto_now_add=True)
    computed_at = models.DateTimeField(_("computed"), null=True, blank=True, editable=False)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("submitted by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    submitted_at = models.DateTimeField(_("submitted"), null=True, blank=True, editable=False)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True, editable=False)
    paid_at = models.DateTimeField(_("paid"), null=True, blank=True, editable=False)

    # Every role of the county sees the county's runs (a township officer
    # the figures of their township's lines, subsidies.runs.selectors).
    objects = ScopedQuerySet.as_manager()
    history = traced_history()
    scope_township = ()

    class Meta:
        verbose_name = _("subsidy run")
        verbose_name_plural = _("subsidy runs")
        ordering = ["-year", "-pk"]
        permissions = [
            ("compute_subsidyrun", _("Can start and recompute subsidy runs")),
            ("submit_subsidyrun", _("Can submit subsidy runs for approval")),
            ("approve_subsidyrun", _("Can approve or send back subsidy runs")),
            ("pay_subsidyrun", _("Can issue payment batches and record payments")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "county", "year"],
                condition=~Q(state="cancelled"),
                name="subsidy_run_one_per_year",
            ),
            # Four eyes: whoever submitted a run can never approve it.
            models.CheckConstraint(
                name="subsidy_run_four_eyes",
                condition=Q(approved_by__isnull=True)
                | Q(submitted_by__isnull=True)
                | ~Q(approved_by=F("submitted_by")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.programme} · {self.year}"

    @property
    def is_frozen(self) -> bool:
        return self.state in self.FROZEN_STATES

    def may_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]


class SubsidyRunTransition(models.Model):
    """One step in a run's life: who moved it, when, from where to where, why."""

    run = models.ForeignKey(
        SubsidyRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="transitions"
    )
    from_state = models.CharField(_("from"), max_length=12, choices=SubsidyRun.State.choices)
    to_state = models.CharField(_("to"), max_length=12, choices=SubsidyRun.State.choices)
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
        verbose_name = _("subsidy run step")
        verbose_name_plural = _("subsidy run steps")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.run}: {self.from_state} → {self.to_state}"


class SubsidyRunPart(models.Model):
    """One township's share of a computation, written with its lines in one
    transaction: the run's progress is the parts done."""

    run = models.ForeignKey(
        SubsidyRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="parts"
    )
    township = models.ForeignKey(
        Division, verbose_name=_("township"), on_delete=models.PROTECT, related_name="+"
    )
    generation = models.PositiveIntegerField(_("computation"))
    line_count = models.PositiveIntegerField(_("lines"))
    done_at = models.DateTimeField(_("done"), auto_now_add=True)

    class Meta:
        verbose_name = _("subsidy run part")
        verbose_name_plural = _("subsidy run parts")
        constraints = [
            models.UniqueConstraint(fields=["run", "township"], name="subsidy_part_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run} · {self.township}"


class PaymentBatch(models.Model):
    """Lines sent to the bank together in one batch-payment file."""

    run = models.ForeignKey(
        SubsidyRun, verbose_name=_("run"), on_delete=models.PROTECT, related_name="batches"
    )
    county = county_field()
    number = models.PositiveSmallIntegerField(_("batch"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("issued by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("issued"), auto_now_add=True)
    line_count = models.PositiveIntegerField(_("lines"))
    total = models.DecimalField(_("total"), **TOTAL)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()
    scope_township = ()

    class Meta:
        verbose_name = _("payment batch")
        verbose_name_plural = _("payment batches")
        ordering = ["run", "number"]
        constraints = [
            models.UniqueConstraint(fields=["run", "number"], name="payment_batch_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.run} #{self.number}"

    @property
    def reference(self) -> str:
        return f"ZXD{self.run.year}-{self.run_id:04d}-{self.number:02d}"


class SubsidyLine(models.Model):
    """One loan's subsidy for the run's year, with its working."""

    class Payment(models.TextChoices):
        PENDING = "pending", _("Not yet issued")
        ISSUED = "issued", _("Issued to the bank")
        PAID = "paid", _("Paid")
        FAILED = "failed", _("Payment failed")
        NOTHING_DUE = "nothing_due", _("Nothing to pay")

    run = models.ForeignKey(
        SubsidyRun, verbose_name=_("run"), on_delete=models.CASCADE, related_name="lines"
    )
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="subsidy_lines"
    )
    township = models.ForeignKey(
        Division, verbose_name=_("township"), on_delete=models.PROTECT, related_name="+"
    )
    county = county_field()
    generation = models.PositiveIntegerField(_("computation"))

    # The inputs the rule applied, kept with the line.
    quota = models.DecimalField(_("quota"), null=True, blank=True, **MONEY)
    subsidised_rate = models.DecimalField(_("subsidised rate"), max_digits=8, decimal_places=6)

    eligible_days = models.PositiveIntegerField(_("eligible days"))
    days_outside_year = models.PositiveIntegerField(_("days outside the year"))
    days_overdue = models.PositiveIntegerField(_("overdue days"))
    days_late = models.PositiveIntegerField(_("days paid late"))
    days_written_off = models.PositiveIntegerField(_("days written off"))
    days_unreported = models.PositiveIntegerField(_("days not reported"))

    reported_interest = models.DecimalField(_("reported interest"), **MONEY)
    expected_interest = models.DecimalField(_("expected interest"), **MONEY)
    eligible_interest = models.DecimalField(_("eligible interest"), **MONEY)
    interest_above_cap = models.DecimalField(_("interest above the rate cap"), **MONEY)
    interest_above_quota = models.DecimalField(_("interest above the quota"), **MONEY)
    subsidy = models.DecimalField(_("subsidy"), **MONEY)
    adjustment = models.DecimalField(_("adjustment from earlier years"), **MONEY)
    amount_due = models.DecimalField(_("amount due"), **MONEY)
    reconciliation_flag = models.BooleanField(_("does not reconcile"))

    payment = models.CharField(
        _("payment"), max_length=12, choices=Payment.choices, default=Payment.PENDING
    )
    batch = models.ForeignKey(
        PaymentBatch,
        verbose_name=_("payment batch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
    )
    voucher_no = models.CharField(_("voucher number"), max_length=40, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_note = models.CharField(_("payment note"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    # Lines are written by COPY and replaced in bulk: the services record
    # those rows' history with common.history.history_record_bulk.
    history = traced_history()

    class Meta:
        verbose_name = _("subsidy line")
        verbose_name_plural = _("subsidy lines")
        ordering = ["township", "loan"]
        constraints = [
            models.UniqueConstraint(fields=["run", "loan"], name="subsidy_line_unique"),
            models.CheckConstraint(
                name="subsidy_line_due_adds_up",
                # Rounded: SQLite compares decimals as floating point.
                condition=Q(amount_due=Round(F("subsidy") + F("adjustment"), 2)),
            ),
            models.CheckConstraint(name="subsidy_not_negative", condition=Q(subsidy__gte=0)),
        ]
        indexes = [models.Index(fields=["run", "township"], name="subsidy_line_run_township")]

    def __str__(self) -> str:
        return f"{self.run} · {self.loan}"

    @property
    def difference(self):
        return self.reported_interest - self.expected_interest

    @property
    def is_exception(self) -> bool:
        return bool(
            self.reconciliation_flag
            or self.days_late
            or self.days_overdue
            or self.days_unreported
            or self.days_written_off
        )


class SubsidyAdjustment(models.Model):
    """An amount carried into a later run from a frozen one, of two kinds.

    Recomputed: the frozen year recomputed on the ledger as it stands now
    (``recomputed``) against what was settled for it so far (the approved
    line plus earlier recomputations, ``settled``). Unrecovered: a frozen
    line whose amount due was negative (a recovery bigger than that year's
    subsidy) was paid nothing (``settled`` 0); what it still owes
    (``recomputed``, negative) is carried until it is recovered.
    """

    class Kind(models.TextChoices):
        RECOMPUTED = "recomputed", _("Year recomputed after later ledger entries")
        UNRECOVERED = "unrecovered", _("Still to recover from that run")

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.RECOMPUTED)
    line = models.ForeignKey(
        SubsidyLine, verbose_name=_("line"), on_delete=models.CASCADE, related_name="adjustments"
    )
    for_run = models.ForeignKey(
        SubsidyRun,
        verbose_name=_("year adjusted"),
        on_delete=models.PROTECT,
        related_name="carried_adjustments",
    )
    settled = models.DecimalField(_("subsidy settled so far"), **MONEY)
    recomputed = models.DecimalField(_("subsidy recomputed"), **MONEY)
    difference = models.DecimalField(_("difference"), **MONEY)

    class Meta:
        verbose_name = _("subsidy adjustment")
        verbose_name_plural = _("subsidy adjustments")
        constraints = [
            models.UniqueConstraint(
                fields=["line", "for_run", "kind"], name="subsidy_adjustment_unique"
            ),
            models.CheckConstraint(
                name="subsidy_adjustment_adds_up",
                condition=Q(difference=Round(F("recomputed") - F("settled"), 2)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line} ← {self.for_run.year}: {self.difference}"


class PaymentRecord(models.Model):
    """Each change to a line's payment: who recorded what, when."""

    line = models.ForeignKey(
        SubsidyLine, verbose_name=_("line"), on_delete=models.PROTECT, related_name="payments"
    )
    batch = models.ForeignKey(
        PaymentBatch, verbose_name=_("batch"), on_delete=models.PROTECT, null=True, blank=True
    )
    county = county_field()
    status = models.CharField(_("payment"), max_length=12, choices=SubsidyLine.Payment.choices)
    voucher_no = models.CharField(_("voucher number"), max_length=40, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("by"), on_delete=models.PROTECT, related_name="+"
    )
    at = models.DateTimeField(_("at"), auto_now_add=True)

    class Meta:
        verbose_name = _("payment record")
        verbose_name_plural = _("payment records")
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.line}: {self.status}"

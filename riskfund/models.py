"""The risk-compensation fund (风险补偿金, DOMAIN.md section 8): a county's
(or a city's) fund, the programmes it covers and its parameters; the
movements of its account (deposits, interest, compensation paid,
recoveries returned), whose sum is its balance; and the co-op's claims.

Movements and claims are append-only in spirit: a movement is never changed
(a reversed recovery is a movement of its own), and a claim changes only by
the steps of its procedure, each recorded with who and when.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import counties_of
from accounts.scoping import ScopedQuerySet
from common.history import traced_history
from divisions.models import Division, county_field
from loans.models import CreditCoop, LedgerEntry, Loan, Programme

from . import loss


class FundQuerySet(models.QuerySet):
    def for_user(self, user):
        """The funds of the user's counties: a county's own and its city's."""
        counties = Division.objects.filter(pk__in=counties_of(user))
        return self.filter(
            Q(region__in=counties) | Q(region__in=counties.values("parent_id"))
        ).distinct()


class Fund(models.Model):
    """One fund and its rule. A city's fund covers the loans of its
    counties; a county's, its own county's loans."""

    class LossBasis(models.TextChoices):
        PRINCIPAL = loss.PRINCIPAL, _("The outstanding principal")
        PRINCIPAL_AND_INTEREST = (
            loss.PRINCIPAL_AND_INTEREST,
            _("The outstanding principal and the contract interest unpaid to the claim date"),
        )

    name = models.CharField(_("name"), max_length=60)
    region = models.ForeignKey(
        Division,
        verbose_name=_("region"),
        on_delete=models.PROTECT,
        limit_choices_to={"level__in": [Division.Level.COUNTY, Division.Level.CITY]},
        related_name="+",
    )
    programmes = models.ManyToManyField(
        Programme, verbose_name=_("programmes covered"), related_name="risk_funds"
    )
    fund_share = models.DecimalField(
        _("fund's share of a loss"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.8000"),
        help_text=_("0.8 = the fund bears 80 %, the bank 20 %."),
    )
    claim_days = models.PositiveSmallIntegerField(_("claim after days overdue"), default=90)
    loss_basis = models.CharField(
        _("what the loss is"),
        max_length=20,
        choices=LossBasis.choices,
        default=LossBasis.PRINCIPAL,
    )
    leverage = models.DecimalField(
        _("leverage"),
        max_digits=6,
        decimal_places=2,
        default=Decimal("10.00"),
        help_text=_("Covered outstanding principal may reach this many times the balance."),
    )
    tolerance = models.DecimalField(
        _("non-performing tolerance"),
        max_digits=5,
        decimal_places=4,
        default=Decimal("0.0500"),
        help_text=_(
            "0.05 = lending stops once 5 percent of the covered balance is non-performing."
        ),
    )
    account = models.CharField(_("fund account"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = FundQuerySet.as_manager()
    history = traced_history(m2m_fields=[programmes])

    class Meta:
        verbose_name = _("risk-compensation fund")
        verbose_name_plural = _("risk-compensation funds")
        ordering = ["region__code", "name"]
        constraints = [
            models.UniqueConstraint(fields=["region", "name"], name="fund_name_unique"),
            models.CheckConstraint(
                name="fund_share_between_0_and_1",
                condition=Q(fund_share__gt=0, fund_share__lte=1),
            ),
            models.CheckConstraint(name="fund_leverage_positive", condition=Q(leverage__gt=0)),
            models.CheckConstraint(
                name="fund_tolerance_between_0_and_1",
                condition=Q(tolerance__gt=0, tolerance__lt=1),
            ),
            models.CheckConstraint(name="fund_claim_days_positive", condition=Q(claim_days__gt=0)),
        ]

    def __str__(self) -> str:
        return self.name

    def county_ids(self) -> list[int]:
        """The counties whose loans the fund covers."""
        if self.region.level == Division.Level.COUNTY:
            return [self.region_id]
        return list(
            Division.objects.filter(parent=self.region, level=Division.Level.COUNTY).values_list(
                "pk", flat=True
            )
        )


class Movement(models.Model):
    """One movement of the fund's account. ``amount`` is signed: money in is
    positive (deposit, interest, recovery returned), money out negative
    (compensation paid, a recovery undone by the reversal of its entry)."""

    class Kind(models.TextChoices):
        DEPOSIT = "deposit", _("Deposit")
        INTEREST = "interest", _("Account interest")
        COMPENSATION = "compensation", _("Compensation paid")
        RECOVERY = "recovery", _("Recovery returned")
        RECOVERY_REVERSAL = "recovery_reversal", _("Recovery reversed")

    INFLOWS = (Kind.DEPOSIT, Kind.INTEREST, Kind.RECOVERY)
    RECORDED_BY_FINANCE = (Kind.DEPOSIT, Kind.INTEREST)

    fund = models.ForeignKey(
        Fund, verbose_name=_("fund"), on_delete=models.PROTECT, related_name="movements"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    on = models.DateField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=16, decimal_places=2)
    voucher = models.CharField(_("voucher"), max_length=40, blank=True)
    claim = models.ForeignKey(
        "Claim",
        verbose_name=_("claim"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="movements",
    )
    ledger_entry = models.OneToOneField(
        LedgerEntry,
        verbose_name=_("ledger entry"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="fund_movement",
    )
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_at = models.DateTimeField(_("recorded"), auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    history = traced_history()

    class Meta:
        verbose_name = _("fund movement")
        verbose_name_plural = _("fund movements")
        ordering = ["on", "pk"]
        indexes = [models.Index(fields=["fund", "on"], name="fund_movement_on")]
        constraints = [
            models.CheckConstraint(
                name="movement_sign_follows_kind",
                condition=Q(kind__in=["deposit", "interest", "recovery"], amount__gt=0)
                | Q(kind__in=["compensation", "recovery_reversal"], amount__lt=0),
            ),
            models.UniqueConstraint(
                fields=["fund", "voucher"],
                condition=~Q(voucher=""),
                name="movement_voucher_unique",
            ),
            models.CheckConstraint(
                name="movement_compensation_has_claim",
                condition=~Q(kind="compensation") | Q(claim__isnull=False),
            ),
            models.CheckConstraint(
                name="movement_recovery_has_entry",
                condition=~Q(kind__in=["recovery", "recovery_reversal"])
                | Q(claim__isnull=False, ledger_entry__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["claim"],
                condition=Q(kind="compensation"),
                name="movement_one_compensation_per_claim",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise ValueError("Fund movements are never changed; record another movement.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Fund movements are never deleted; record another movement.")


class Claim(models.Model):
    """A co-op's claim on the fund for one overdue loan, and its procedure:
    filed → checked by the county office → approved by finance (another
    person) → paid from the fund (at once, or when a deposit covers it).
    The figures are computed by the system as of the claim date and kept,
    with their working, as they were when the claim was filed."""

    class State(models.TextChoices):
        FILED = "filed", _("Filed")
        CHECKED = "checked", _("Checked by the county")
        APPROVED = "approved", _("Approved, waiting for funds")
        PAID = "paid", _("Paid")
        REJECTED = "rejected", _("Rejected")

    OPEN_STATES = (State.FILED, State.CHECKED, State.APPROVED)

    fund = models.ForeignKey(
        Fund, verbose_name=_("fund"), on_delete=models.PROTECT, related_name="claims"
    )
    coop = models.ForeignKey(
        CreditCoop, verbose_name=_("credit co-op"), on_delete=models.PROTECT, related_name="+"
    )
    claim_id = models.CharField(_("claim id"), max_length=64)
    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.PROTECT, related_name="claims"
    )
    county = county_field()
    township = models.ForeignKey(
        Division, verbose_name=_("township"), on_delete=models.PROTECT, related_name="+"
    )
    claimed_on = models.DateField(_("claim date"))
    days_overdue = models.PositiveIntegerField(_("days overdue"))
    loss_basis = models.CharField(
        _("what the loss is"), max_length=20, choices=Fund.LossBasis.choices
    )
    principal_loss = models.DecimalField(
        _("principal outstanding"), max_digits=14, decimal_places=2
    )
    unpaid_days = models.PositiveIntegerField(_("days of unpaid interest"), default=0)
    interest_loss = models.DecimalField(
        _("contract interest unpaid"), max_digits=14, decimal_places=2, default=Decimal("0.00")
    )
    loss = models.DecimalField(_("loss"), max_digits=14, decimal_places=2)
    fund_share = models.DecimalField(_("fund's share"), max_digits=5, decimal_places=4)
    compensation = models.DecimalField(_("compensation"), max_digits=14, decimal_places=2)
    bank_share = models.DecimalField(_("borne by the bank"), max_digits=14, decimal_places=2)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.FILED)
    filed_at = models.DateTimeField(_("filed"), auto_now_add=True)
    filed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("filed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    checked_at = models.DateTimeField(_("checked"), null=True, blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    approved_at = models.DateTimeField(_("approved"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("approved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    voucher = models.CharField(_("payment voucher"), max_length=40, blank=True)
    comment = models.CharField(_("comment"), max_length=200, blank=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("compensation claim")
        verbose_name_plural = _("compensation claims")
        ordering = ["-claimed_on", "-pk"]
        permissions = [
            ("check_claim", _("Can check a compensation claim")),
            ("approve_claim", _("Can approve a compensation claim")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["coop", "claim_id"], name="claim_id_unique"),
            models.UniqueConstraint(
                fields=["loan"],
                condition=~Q(state="rejected"),
                name="claim_one_per_loan",
            ),
            models.CheckConstraint(
                name="claim_shares_add_up",
                condition=Q(compensation__gte=0, bank_share__gte=0)
                & Q(loss=F("compensation") + F("bank_share")),
            ),
            models.CheckConstraint(
                name="claim_loss_adds_up",
                condition=Q(loss=F("principal_loss") + F("interest_loss")),
            ),
            models.CheckConstraint(
                name="claim_checker_is_not_approver",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("checked_by")),
            ),
        ]

    def __str__(self) -> str:
        return self.claim_id

    @property
    def is_open(self) -> bool:
        return self.state in self.OPEN_STATES

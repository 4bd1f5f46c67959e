"""Reading a fund: its balance, what it covers, how much of its leverage is
used and how much of what it covers is non-performing, as of any date; its
statement for a period; the figures behind its chart."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from beneficiaries.registry.selectors import FieldChange, HistoryEntry
from common.money import ZERO, round_fen, yuan
from divisions.models import Division
from loans.models import Application, LedgerEntry, Loan

from .models import Claim, Fund, Movement

# Approved applications of a covered programme the co-op has not yet lent:
# their amounts count against the leverage as the loans will.
APPROVED_NOT_LENT = (
    Application.State.COUNTY_APPROVED,
    Application.State.IN_NOTICE,
    Application.State.RELEASED,
)
WARNING_AT = Decimal("0.90")
_MONEY = DecimalField(max_digits=16, decimal_places=2)


def fen(total) -> Decimal:
    """A database sum to the fen: SQLite sums decimals as floats."""
    return ZERO if total is None else round_fen(Decimal(total))


def funds_covering(*, programme_id: int, county: Division):
    """The funds that cover a programme's loans in ``county``: the county's
    own and its city's."""
    return Fund.objects.filter(
        programmes=programme_id, region_id__in=[county.pk, county.parent_id]
    ).select_related("region")


def balance(fund: Fund, *, on: datetime.date | None = None) -> Decimal:
    """The sum of the fund's movements (to the end of day ``on``, if given)."""
    movements = fund.movements.all()
    if on is not None:
        movements = movements.filter(on__lte=on)
    return fen(movements.aggregate(total=Sum("amount"))["total"])


def covered_loans(fund: Fund):
    return Loan.objects.filter(programme__in=fund.programmes.all(), county_id__in=fund.county_ids())


def _repaid_by(on: datetime.date):
    repaid = (
        LedgerEntry.objects.filter(
            loan=OuterRef("pk"),
            kind=LedgerEntry.Kind.PRINCIPAL,
            reversed_by__isnull=True,
            paid_on__lte=on,
        )
        .values("loan")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    return Coalesce(Subquery(repaid, output_field=_MONEY), Value(ZERO), output_field=_MONEY)


@dataclass(frozen=True)
class Exposure:
    """What the fund covers on a date: the outstanding principal of the
    covered loans not written off, the part overdue at least the claim
    days (non-performing), and the amounts approved and not yet lent."""

    on: datetime.date
    outstanding: Decimal
    non_performing: Decimal
    approved_not_lent: Decimal

    @property
    def committed(self) -> Decimal:
        return self.outstanding + self.approved_not_lent

    @property
    def non_performing_rate(self) -> Decimal:
        """Non-performing ÷ outstanding, as a fraction (0 when nothing is out)."""
        if not self.outstanding:
            return Decimal("0")
        return self.non_performing / self.outstanding


def exposure(fund: Fund, *, on: datetime.date, excluding: Application | None = None) -> Exposure:
    loans = (
        covered_loans(fund)
        .filter(disbursed_on__lte=on)
        .filter(Q(written_off_on__isnull=True) | Q(written_off_on__gt=on))
        .annotate(balance=F("principal") - _repaid_by(on))
    )
    overdue_since = on - datetime.timedelta(days=fund.claim_days)
    totals = loans.aggregate(
        outstanding=Sum("balance", filter=Q(balance__gt=0)),
        non_performing=Sum("balance", filter=Q(balance__gt=0, maturity_on__lte=overdue_since)),
    )
    approved = Application.objects.filter(
        state__in=APPROVED_NOT_LENT,
        loan__isnull=True,
        programme__in=fund.programmes.all(),
        county_id__in=fund.county_ids(),
    )
    if excluding is not None:
        approved = approved.exclude(pk=excluding.pk)
    return Exposure(
        on=on,
        outstanding=fen(totals["outstanding"]),
        non_performing=fen(totals["non_performing"]),
        approved_not_lent=fen(approved.aggregate(total=Sum("amount"))["total"]),
    )


def percent_text(fraction: Decimal | None) -> str:
    """0.0512 → "5.12 %", half-up; None → "—"."""
    if fraction is None:
        return "—"
    return "%s %%" % round_fen(Decimal(fraction) * 100)


@dataclass(frozen=True)
class Standing:
    """The fund's two limits on a date, and how near each is."""

    fund: Fund
    balance: Decimal
    exposure: Exposure

    @property
    def limit(self) -> Decimal:
        """The most covered principal the balance allows: leverage × balance."""
        return round_fen(self.fund.leverage * self.balance)

    @property
    def leverage_used(self) -> Decimal | None:
        """Committed principal ÷ the limit (None with an empty fund)."""
        if not self.limit:
            return None
        return self.exposure.committed / self.limit

    @property
    def leverage_used_text(self) -> str:
        return percent_text(self.leverage_used)

    @property
    def non_performing_text(self) -> str:
        return percent_text(self.exposure.non_performing_rate)

    @property
    def tolerance_text(self) -> str:
        return percent_text(self.fund.tolerance)

    @property
    def tolerance_used(self) -> Decimal:
        return self.exposure.non_performing_rate / self.fund.tolerance

    @property
    def warnings(self) -> list[str]:
        """'leverage' and/or 'tolerance' when 90 % of either is reached."""
        found = []
        if self.leverage_used is None or self.leverage_used >= WARNING_AT:
            found.append("leverage")
        if self.tolerance_used >= WARNING_AT:
            found.append("tolerance")
        return found


def standing(fund: Fund, *, on: datetime.date) -> Standing:
    return Standing(fund=fund, balance=balance(fund, on=on), exposure=exposure(fund, on=on))


@dataclass(frozen=True)
class Statement:
    fund: Fund
    start: datetime.date
    end: datetime.date
    opening: Decimal
    deposits: Decimal
    interest: Decimal
    compensation: Decimal  # paid out, as a positive figure
    recoveries: Decimal  # returned, net of reversed ones
    closing: Decimal
    standing: Standing
    movements: list
    claims: list

    @property
    def adds_up(self) -> bool:
        return (
            self.opening + self.deposits + self.interest - self.compensation + self.recoveries
            == self.closing
        )


def statement(fund: Fund, *, start: datetime.date, end: datetime.date) -> Statement:
    """The fund from ``start`` to ``end`` (both inclusive)."""
    before = fen(fund.movements.filter(on__lt=start).aggregate(total=Sum("amount"))["total"])
    movements = list(
        fund.movements.filter(on__gte=start, on__lte=end)
        .select_related("claim__loan", "ledger_entry")
        .order_by("on", "pk")
    )
    by_kind: dict[str, Decimal] = {}
    for movement in movements:
        by_kind[movement.kind] = by_kind.get(movement.kind, ZERO) + movement.amount
    kind = Movement.Kind
    closing = before + sum((m.amount for m in movements), ZERO)
    return Statement(
        fund=fund,
        start=start,
        end=end,
        opening=before,
        deposits=by_kind.get(kind.DEPOSIT, ZERO),
        interest=by_kind.get(kind.INTEREST, ZERO),
        compensation=-by_kind.get(kind.COMPENSATION, ZERO),
        recoveries=by_kind.get(kind.RECOVERY, ZERO) + by_kind.get(kind.RECOVERY_REVERSAL, ZERO),
        closing=closing,
        standing=Standing(fund=fund, balance=closing, exposure=exposure(fund, on=end)),
        movements=movements,
        claims=list(
            fund.claims.filter(claimed_on__lte=end)
            .filter(Q(paid_on__isnull=True) | Q(paid_on__gte=start))
            .select_related("loan", "township")
        ),
    )


def balance_series(fund: Fund) -> list[tuple[datetime.date, Decimal]]:
    """The balance at the end of every day a movement was recorded."""
    days = (
        fund.movements.values_list("on")
        .annotate(total=Sum("amount"))
        .order_by("on")
        .values_list("on", "total")
    )
    series, running = [], ZERO
    for day, total in days:
        running += fen(total)
        series.append((day, running))
    return series


def claims_for(user):
    return Claim.objects.for_user(user).select_related("loan", "township", "fund", "coop")


def returned_so_far(claim: Claim) -> Decimal:
    """The fund's share of recoveries on the claim's loan, net of reversals."""
    return fen(
        claim.movements.filter(
            kind__in=[Movement.Kind.RECOVERY, Movement.Kind.RECOVERY_REVERSAL]
        ).aggregate(total=Sum("amount"))["total"]
    )


def _shown(model_field, value) -> str:
    if value is None or value == "":
        return "—"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return str(value)


def fund_history(fund: Fund) -> list[HistoryEntry]:
    """Every saved change of the fund's parameters and every movement
    recorded, newest first."""
    entries = []
    previous = None
    skipped = {"id", "created_at", "updated_at", "region"}
    for record in (
        Fund.history.filter(id=fund.pk)
        .select_related("history_user")
        .order_by("history_date", "pk")
    ):
        changes = []
        if record.history_type == "~" and previous is not None:
            tracked = [f.name for f in record.tracked_fields if f.name not in skipped]
            for change in record.diff_against(previous, included_fields=tracked).changes:
                model_field = Fund._meta.get_field(change.field)
                changes.append(
                    FieldChange(
                        label=str(model_field.verbose_name),
                        old=_shown(model_field, change.old),
                        new=_shown(model_field, change.new),
                    )
                )
        previous = record
        if record.history_type == "~" and not changes:
            continue
        entries.append(
            HistoryEntry(
                when=record.history_date,
                user=record.history_user,
                ip_address=record.ip_address,
                subject=_("Fund"),
                kind="created" if record.history_type == "+" else "changed",
                reason=record.history_change_reason,
                changes=changes,
                order=record.pk,
            )
        )
    for record in Movement.history.filter(fund_id=fund.pk).select_related("history_user"):
        entries.append(
            HistoryEntry(
                when=record.history_date,
                user=record.history_user,
                ip_address=record.ip_address,
                subject=_("%(kind)s %(amount)s yuan")
                % {"kind": Movement.Kind(record.kind).label, "amount": yuan(record.amount)},
                kind="created",
                reason=record.history_change_reason,
                order=record.pk,
            )
        )
    entries.sort(key=lambda entry: (entry.when, entry.order), reverse=True)
    return entries

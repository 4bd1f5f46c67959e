"""Services of the risk-compensation fund (DOMAIN.md section 8).

Each takes the acting user as ``actor``, checks the permission and the
county, runs in one transaction and raises ``ValidationError`` (keyed by
field, in the user's language) or ``PermissionDenied``, leaving nothing
changed. Everything that moves money locks the fund's row first, so the
balance is read and changed by one transaction at a time: it never goes
below zero, and two approvals near the leverage limit run one after the
other.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import counties_of, require_county, require_permission
from common.history import save_traced
from common.money import ZERO, yuan
from divisions.models import Division
from loans import signals
from loans.ledger.position import loan_position
from loans.ledger.services import loan_status_record
from loans.models import (
    Application,
    LedgerEntry,
    Loan,
    Programme,
    region_code_of,
    region_codes_above,
)
from loans.programmes.services import home_region

from . import loss as rule
from . import selectors
from .models import Claim, Fund, Movement

FUND_FIELDS = (
    "name",
    "fund_share",
    "claim_days",
    "loss_basis",
    "leverage",
    "tolerance",
    "account",
)
State = Claim.State
Kind = Movement.Kind


def _percent(fraction: Decimal) -> str:
    return f"{fraction * 100:.2f} %"


def _locked(fund: Fund) -> Fund:
    return Fund.objects.select_for_update().select_related("region").get(pk=fund.pk)


# The fund as data ------------------------------------------------------------


def may_configure(actor, fund: Fund) -> bool:
    """A fund is set up and changed by the office of its region: a county
    office its county's, a city office its city's."""
    region = home_region(actor)
    return region is not None and fund.region_id == region.pk


def programmes_for_region(region: Division):
    """The programmes a fund of ``region`` may cover: those run in it (a
    county's own, its city's and province's; a city's and its province's)."""
    code = region_code_of(region)
    return Programme.objects.filter(region_code__in=region_codes_above(code)).order_by(
        "-year", "name"
    )


def _programmes_outside(region: Division, programmes) -> list[Programme]:
    counties = (
        [region]
        if region.level == Division.Level.COUNTY
        else list(Division.objects.filter(parent=region, level=Division.Level.COUNTY))
    )
    return [p for p in programmes if not any(p.covers(county) for county in counties)]


@transaction.atomic
def fund_save(*, actor, fund: Fund | None = None, programmes, **fields) -> Fund:
    """Set up a fund of the actor's own region (``fund=None``) or change one:
    its parameters (``FUND_FIELDS``) and the programmes it covers (the
    complete list). Every change is in the fund's history."""
    unknown = set(fields) - set(FUND_FIELDS)
    if unknown:
        raise TypeError(f"not fund fields: {sorted(unknown)}")
    if fund is None:
        require_permission(actor, "riskfund.add_fund")
        region = home_region(actor)
        if region is None or region.level not in (Division.Level.COUNTY, Division.Level.CITY):
            raise PermissionDenied
        fund = Fund(region=region)
    else:
        require_permission(actor, "riskfund.change_fund")
        fund = _locked(fund)
        if not may_configure(actor, fund):
            raise PermissionDenied
    for name, value in fields.items():
        setattr(fund, name, value)
    programmes = list(programmes)
    errors = {}
    if not programmes:
        errors["programmes"] = [_("Choose the programmes the fund covers.")]
    outside = _programmes_outside(fund.region, programmes)
    if outside:
        errors["programmes"] = [
            _("%(programme)s does not run in %(region)s.")
            % {"programme": outside[0], "region": fund.region.name}
        ]
    try:
        save_traced(fund, actor=actor)
    except ValidationError as error:
        errors = {**error.message_dict, **errors}
    if errors:
        raise ValidationError(errors)
    fund.programmes.set(programmes)
    return fund


# Movements -------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """A recorded movement and the waiting claims it let the fund pay."""

    movement: Movement
    claims_paid: list[Claim]


@transaction.atomic
def movement_record(
    *, actor, fund: Fund, kind: str, on: datetime.date, amount: Decimal, voucher: str, note=""
) -> Recorded:
    """Finance records a deposit or the account's interest; then claims that
    were waiting for funds are paid, oldest approval first, while the
    balance covers them."""
    require_permission(actor, "riskfund.add_movement")
    fund = _locked(fund)
    _require_fund_county(actor, fund)
    errors = {}
    if kind not in Movement.RECORDED_BY_FINANCE:
        errors["kind"] = [_("Finance records deposits and the account's interest.")]
    if amount is None or amount <= 0:
        errors["amount"] = [_("The amount must be more than zero.")]
    voucher = (voucher or "").strip()
    if not voucher:
        errors["voucher"] = [_("Give the voucher number.")]
    elif fund.movements.filter(voucher=voucher).exists():
        errors["voucher"] = [
            _("Voucher %(voucher)s is already recorded in this fund.") % {"voucher": voucher}
        ]
    if on is not None and on > timezone.localdate():
        errors["on"] = [_("The date is in the future.")]
    if errors:
        raise ValidationError(errors)
    movement = save_traced(
        Movement(
            fund=fund,
            kind=kind,
            on=on,
            amount=amount,
            voucher=voucher,
            note=note,
            recorded_by=actor,
        ),
        actor=actor,
    )
    return Recorded(movement=movement, claims_paid=_pay_waiting(fund, actor=actor, on=on))


def _require_fund_county(actor, fund: Fund) -> None:
    """Refuse an actor none of whose counties the fund covers."""
    if not set(fund.county_ids()) & set(counties_of(actor)):
        raise PermissionDenied


def _pay(claim: Claim, fund: Fund, *, actor, on: datetime.date) -> bool:
    """Pay an approved claim if the (locked) fund's balance covers it."""
    if selectors.balance(fund) < claim.compensation:
        return False
    save_traced(
        Movement(
            fund=fund,
            kind=Kind.COMPENSATION,
            on=on,
            amount=-claim.compensation,
            voucher=claim.voucher,
            claim=claim,
            recorded_by=actor,
        ),
        actor=actor,
    )
    claim.state = State.PAID
    claim.paid_on = on
    save_traced(claim, actor=actor)
    return True


def _pay_waiting(fund: Fund, *, actor, on: datetime.date) -> list[Claim]:
    paid = []
    for claim in fund.claims.filter(state=State.APPROVED).order_by("approved_at", "pk"):
        if not _pay(claim, fund, actor=actor, on=max(on, claim.claimed_on)):
            break
        paid.append(claim)
    return paid


# Claims ----------------------------------------------------------------------


def claimable_fund(loan: Loan) -> Fund | None:
    return selectors.funds_covering(programme_id=loan.programme_id, county=loan.county).first()


def claim_errors(*, coop, loan: Loan | None, claimed_on: datetime.date) -> dict:
    """Why a claim for ``loan`` may not be filed on ``claimed_on``, by field
    (each a ``ValidationError`` with the code the API answers)."""
    if loan is None or loan.coop_id != coop.pk:
        message = _("There is no loan with this contract number of your co-op.")
        return {"contract_no": [ValidationError(message, code="unknown_contract")]}
    fund = claimable_fund(loan)
    if fund is None:
        message = _("No risk-compensation fund covers %(programme)s in %(county)s.") % {
            "programme": loan.programme,
            "county": loan.county.name,
        }
        return {"contract_no": [ValidationError(message, code="not_covered")]}
    if claimed_on > timezone.localdate():
        message = _("The claim date is in the future.")
        return {"claimed_on": [ValidationError(message, code="claim_date_in_future")]}
    earlier = loan.claims.exclude(state=State.REJECTED).first()
    if earlier is not None:
        message = _("Loan %(contract)s is already claimed (claim %(claim)s, %(state)s).") % {
            "contract": loan.contract_no,
            "claim": earlier.claim_id,
            "state": earlier.get_state_display(),
        }
        return {"contract_no": [ValidationError(message, code="loan_already_claimed")]}
    if loan.written_off_on is not None:
        message = _("Loan %(contract)s was written off on %(day)s.") % {
            "contract": loan.contract_no,
            "day": loan.written_off_on,
        }
        return {"contract_no": [ValidationError(message, code="loan_written_off")]}
    position = loan_position(loan, on=claimed_on)
    days = (claimed_on - loan.maturity_on).days
    if position.balance <= 0 or days < fund.claim_days:
        message = _(
            "On %(day)s loan %(contract)s is %(days)s days overdue; a claim needs "
            "at least %(needed)s."
        ) % {
            "day": claimed_on,
            "contract": loan.contract_no,
            "days": max(days, 0) if position.balance > 0 else 0,
            "needed": fund.claim_days,
        }
        return {"claimed_on": [ValidationError(message, code="not_overdue_enough")]}
    return {}


def loss_of(loan: Loan, fund: Fund, *, claimed_on: datetime.date) -> rule.Loss:
    """The loss as of the claim date, from the ledger (see ``riskfund.loss``)."""
    entries = LedgerEntry.objects.filter(
        loan=loan, reversed_by__isnull=True, paid_on__lte=claimed_on
    )
    repayments = entries.filter(kind=LedgerEntry.Kind.PRINCIPAL).values_list("paid_on", "amount")
    periods = entries.filter(kind=LedgerEntry.Kind.INTEREST).values_list(
        "period_start", "period_end"
    )
    return rule.claim_loss(
        basis_of_loss=fund.loss_basis,
        fund_share=fund.fund_share,
        principal=loan.principal,
        rate=loan.annual_rate,
        day_count=loan.programme.day_count_basis,
        disbursed_on=loan.disbursed_on,
        claimed_on=claimed_on,
        repayments=list(repayments),
        paid_periods=list(periods),
    )


class ClaimConflictError(ValidationError):
    """The claim id is already used for a claim with other content."""


@transaction.atomic
def claim_file(
    *, actor, coop, claim_id: str, loan: Loan | None, claimed_on: datetime.date
) -> tuple[Claim, bool]:
    """File a claim once: (claim, True) when filed, (claim, False) when the
    co-op already filed this claim id for the same loan and date. The same
    id with other content raises ``ClaimConflictError``."""
    require_permission(actor, "riskfund.add_claim")
    claim_id = (claim_id or "").strip()
    if not claim_id:
        raise ValidationError({"claim_id": [_("Give the claim id.")]})
    existing = Claim.objects.filter(coop=coop, claim_id=claim_id).select_related("loan").first()
    if existing is not None:
        if loan is not None and existing.loan_id == loan.pk and existing.claimed_on == claimed_on:
            return existing, False
        message = _("Claim %(claim)s is already filed for loan %(contract)s on %(day)s.") % {
            "claim": claim_id,
            "contract": existing.loan.contract_no,
            "day": existing.claimed_on,
        }
        raise ClaimConflictError({"claim_id": [ValidationError(message, code="claim_id_conflict")]})
    if loan is not None:
        loan = (
            Loan.objects.select_for_update().select_related("county", "programme").get(pk=loan.pk)
        )
        require_county(actor, loan.county_id)
    errors = claim_errors(coop=coop, loan=loan, claimed_on=claimed_on)
    if errors:
        raise ValidationError(errors)
    fund = claimable_fund(loan)
    working = loss_of(loan, fund, claimed_on=claimed_on)
    claim = Claim(
        fund=fund,
        coop=coop,
        claim_id=claim_id,
        loan=loan,
        county_id=loan.county_id,
        township_id=loan.township_id,
        claimed_on=claimed_on,
        days_overdue=(claimed_on - loan.maturity_on).days,
        loss_basis=fund.loss_basis,
        principal_loss=working.principal,
        unpaid_days=working.unpaid_days,
        interest_loss=working.interest,
        loss=working.total,
        fund_share=working.fund_share,
        compensation=working.compensation,
        bank_share=working.bank_share,
        filed_by=actor,
    )
    return save_traced(claim, actor=actor), True


def claim_file_for_contract(
    *, actor, coop, loans, claim_id: str, contract_no: str, claimed_on: datetime.date
) -> tuple[Claim, bool]:
    """``claim_file`` for the loan of ``loans`` (those the caller may reach)
    with ``contract_no``. Two requests filing one claim id at once: the one
    that waited is answered as the other's claim (filed, or a conflict),
    never an error, never a second claim."""
    loan = loans.filter(contract_no=contract_no).first()
    for attempt in range(2):
        try:
            return claim_file(
                actor=actor, coop=coop, claim_id=claim_id, loan=loan, claimed_on=claimed_on
            )
        except ClaimConflictError:
            raise
        except (ValidationError, IntegrityError):
            # The other request held the loan's lock, or inserted the id
            # first: ask again, which finds its claim.
            if attempt == 0 and Claim.objects.filter(coop=coop, claim_id=claim_id).exists():
                continue
            raise
    raise AssertionError("unreachable")


def _open_claim(actor, claim: Claim, permission: str) -> Claim:
    require_permission(actor, permission)
    claim = Claim.objects.select_for_update().get(pk=claim.pk)
    require_county(actor, claim.county_id)
    return claim


@transaction.atomic
def claim_check(*, actor, claim: Claim, accept: bool, comment: str = "") -> Claim:
    """The county office checks a filed claim: accepts it for finance, or
    rejects it with the reason (the co-op may then file again)."""
    claim = _open_claim(actor, claim, "riskfund.check_claim")
    if claim.state != State.FILED:
        raise ValidationError(
            _("Only a filed claim is checked; this one is %(state)s.")
            % {"state": claim.get_state_display()}
        )
    if not accept and not comment.strip():
        raise ValidationError({"comment": [_("Give the reason.")]})
    claim.state = State.CHECKED if accept else State.REJECTED
    claim.checked_by = actor
    claim.checked_at = timezone.now()
    claim.comment = comment.strip()
    return save_traced(claim, actor=actor)


@transaction.atomic
def claim_approve(*, actor, claim: Claim, voucher: str, on: datetime.date | None = None) -> Claim:
    """Finance approves a checked claim (never the person who checked it),
    giving the voucher of the payment. The loan is written off from the
    claim date; the fund pays at once if its balance covers the
    compensation, otherwise the claim waits, approved, for a deposit."""
    claim = _open_claim(actor, claim, "riskfund.approve_claim")
    on = on or timezone.localdate()
    fund = _locked(claim.fund)
    if claim.state != State.CHECKED:
        raise ValidationError(
            _("Only a checked claim is approved; this one is %(state)s.")
            % {"state": claim.get_state_display()}
        )
    if claim.checked_by_id == actor.pk:
        raise ValidationError(_("You checked this claim; another person approves it."))
    voucher = (voucher or "").strip()
    if not voucher:
        raise ValidationError({"voucher": [_("Give the voucher number of the payment.")]})
    if fund.movements.filter(voucher=voucher).exists():
        raise ValidationError(
            {
                "voucher": [
                    _("Voucher %(voucher)s is already recorded in this fund.")
                    % {"voucher": voucher}
                ]
            }
        )
    claim.state = State.APPROVED
    claim.approved_by = actor
    claim.approved_at = timezone.now()
    claim.voucher = voucher
    save_traced(claim, actor=actor)
    loan = Loan.objects.select_for_update().get(pk=claim.loan_id)
    loan.written_off_on = claim.claimed_on
    save_traced(loan, actor=actor, reason=_("compensated: claim %(claim)s") % {"claim": claim})
    loan_status_record(loan, on=max(on, claim.claimed_on))
    _pay(claim, fund, actor=actor, on=max(on, claim.claimed_on))
    return claim


# What the loans app asks the fund ---------------------------------------------


@receiver(signals.approving, dispatch_uid="riskfund.leverage_and_tolerance")
def check_leverage_and_tolerance(sender, *, application: Application, on: datetime.date, **kw):
    """Refuse an approval that would take the covered principal above
    leverage × balance, or any approval while the non-performing rate is at
    or above the tolerance; under the fund's row lock."""
    for fund in selectors.funds_covering(
        programme_id=application.programme_id, county=application.county
    ):
        fund = _locked(fund)
        held = selectors.balance(fund)
        exposure = selectors.exposure(fund, on=on, excluding=application)
        rate = exposure.non_performing_rate
        if rate >= fund.tolerance:
            raise ValidationError(
                _(
                    "Lending under %(fund)s is stopped: %(npl)s yuan of the %(outstanding)s "
                    "yuan it covers is overdue %(days)s days or more, a non-performing rate of "
                    "%(rate)s, at or above the tolerance of %(tolerance)s."
                )
                % {
                    "fund": fund.name,
                    "npl": yuan(exposure.non_performing),
                    "outstanding": yuan(exposure.outstanding),
                    "days": fund.claim_days,
                    "rate": _percent(rate),
                    "tolerance": _percent(fund.tolerance),
                }
            )
        limit = fund.leverage * held
        if exposure.committed + application.amount > limit:
            raise ValidationError(
                _(
                    "%(fund)s covers at most %(limit)s yuan (leverage %(leverage)s × balance "
                    "%(balance)s yuan); %(committed)s yuan is lent or approved, so %(amount)s "
                    "yuan more would exceed it by %(excess)s yuan."
                )
                % {
                    "fund": fund.name,
                    "limit": yuan(limit),
                    "leverage": f"{fund.leverage.normalize():f}",
                    "balance": yuan(held),
                    "committed": yuan(exposure.committed),
                    "amount": yuan(application.amount),
                    "excess": yuan(exposure.committed + application.amount - limit),
                }
            )


@receiver(signals.ledger_posted, dispatch_uid="riskfund.recoveries")
def return_recoveries(sender, *, entries, **kwargs):
    """Principal or interest posted on a compensated loan is a recovery: the
    fund's share goes back to the fund, never more in all than it paid.
    One query for the whole batch: a co-op's batch seldom touches a
    compensated loan."""
    loan_ids = {entry.loan_id for entry in entries}
    paid = Claim.objects.filter(loan_id__in=loan_ids, state=State.PAID).select_related("fund")
    claims = {claim.loan_id: claim for claim in paid}
    for entry in entries:
        claim = claims.get(entry.loan_id)
        if claim is None:
            continue
        fund = _locked(claim.fund)
        room = claim.compensation - selectors.returned_so_far(claim)
        share = min(rule.recovery_share(entry.amount, claim.fund_share), room)
        if share <= ZERO:
            continue
        save_traced(
            Movement(
                fund=fund,
                kind=Kind.RECOVERY,
                on=entry.paid_on,
                amount=share,
                claim=claim,
                ledger_entry=entry,
                recorded_by=entry.posted_by,
                note=_("%(share)s of %(amount)s recovered (%(kind)s %(txn)s)")
                % {
                    "share": f"{claim.fund_share:.0%}",
                    "amount": yuan(entry.amount),
                    "kind": entry.get_kind_display(),
                    "txn": entry.txn_id,
                },
            ),
            actor=entry.posted_by,
        )


@receiver(signals.ledger_reversed, dispatch_uid="riskfund.recovery_reversals")
def reverse_recoveries(sender, *, reversal: LedgerEntry, **kwargs):
    """The reversal of an entry whose recovery went back to the fund takes
    that recovery out again, if the balance still holds it."""
    returned = Movement.objects.filter(
        ledger_entry_id=reversal.reverses_id, kind=Kind.RECOVERY
    ).first()
    if returned is None:
        return
    fund = _locked(returned.fund)
    held = selectors.balance(fund)
    if held < returned.amount:
        raise ValidationError(
            {
                "reverses_txn_id": [
                    _(
                        "%(amount)s yuan of this entry went back to %(fund)s, which holds only "
                        "%(balance)s yuan now; the reversal would take it below zero."
                    )
                    % {"amount": yuan(returned.amount), "fund": fund.name, "balance": yuan(held)}
                ]
            }
        )
    save_traced(
        Movement(
            fund=fund,
            kind=Kind.RECOVERY_REVERSAL,
            on=reversal.paid_on,
            amount=-returned.amount,
            claim=returned.claim,
            ledger_entry=reversal,
            recorded_by=reversal.posted_by,
            note=_("reversal %(txn)s") % {"txn": reversal.txn_id},
        ),
        actor=reversal.posted_by,
    )

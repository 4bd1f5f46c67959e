"""Services of the loan life cycle: applications and their approvals, public
notices, contracts and the co-op's ledger.

Each takes the acting user as ``actor``, checks role and township, runs in
one transaction and raises ``ValidationError`` (keyed by field, in the
user's language) or ``PermissionDenied``, leaving nothing changed. Quota and
budget are checked under row locks on the household and the programme, so
two approvals running at once can never together exceed either.
"""

import datetime
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.roles import require_permission, require_township
from beneficiaries.models import Borrower, Enterprise, Household
from common.history import history_record_bulk, save_traced
from common.money import ZERO, yuan

from .models import (
    Application,
    ApplicationTransition,
    CreditCoop,
    LedgerEntry,
    Loan,
    LoanStatusChange,
    NoticeEntry,
    Objection,
    Programme,
    PublicNotice,
)
from .selectors import loan_position

State = Application.State

# Applications whose amount is spoken for: open ones, and released ones the
# co-op has not yet turned into a loan.
_COMMITTED = Q(state__in=Application.OPEN_STATES) | Q(state=State.RELEASED, loan__isnull=True)


def household_quota(*, programme: Programme, household: Household, on: datetime.date) -> Decimal:
    """The household's quota on a date: the highest tier among its borrowers'
    categories then (two cadres in one household share one quota)."""
    best = ZERO
    for borrower in household.borrowers.prefetch_related("positions"):
        amount = programme.quota_for(borrower.category_on(on))
        if amount is not None and amount > best:
            best = amount
    return best


def household_quota_used(
    *, programme: Programme, household: Household, excluding: Application | None = None
) -> Decimal:
    """What the household has committed in the programme: open and released
    applications not yet lent, plus the principal of loans not closed."""
    applications = Application.objects.filter(_COMMITTED, programme=programme, household=household)
    if excluding is not None:
        applications = applications.exclude(pk=excluding.pk)
    pending = applications.aggregate(total=Sum("amount"))["total"] or ZERO
    lent = (
        Loan.objects.filter(programme=programme, application__household=household)
        .exclude(status__in=[Loan.Status.REPAID, Loan.Status.WRITTEN_OFF])
        .aggregate(total=Sum("principal"))["total"]
        or ZERO
    )
    return pending + lent


def programme_budget_used(*, programme: Programme, excluding: Application | None = None) -> Decimal:
    """Principal lent plus the amounts approved and not yet lent."""
    approved = Application.objects.filter(
        Q(state__in=[State.COUNTY_APPROVED, State.IN_NOTICE]) | Q(state=State.RELEASED),
        programme=programme,
        loan__isnull=True,
    )
    if excluding is not None:
        approved = approved.exclude(pk=excluding.pk)
    pending = approved.aggregate(total=Sum("amount"))["total"] or ZERO
    lent = Loan.objects.filter(programme=programme).aggregate(total=Sum("principal"))["total"]
    return pending + (lent or ZERO)


def _check_quota(application: Application, on: datetime.date) -> None:
    """Lock the household (or enterprise) and check the amount fits what is left."""
    programme = application.programme
    if application.enterprise_id:
        Enterprise.objects.select_for_update().get(pk=application.enterprise_id)
        if programme.enterprise_quota is None:
            raise ValidationError(
                {"enterprise": _("Enterprises may not borrow in this programme.")}
            )
        used = (
            Application.objects.filter(
                _COMMITTED, programme=programme, enterprise=application.enterprise
            )
            .exclude(pk=application.pk)
            .aggregate(total=Sum("amount"))["total"]
            or ZERO
        )
        remaining = programme.enterprise_quota - used
    else:
        household = Household.objects.select_for_update().get(pk=application.household_id)
        quota = household_quota(programme=programme, household=household, on=on)
        if quota == ZERO:
            message = _("No member of this household has a category the programme lends to.")
            raise ValidationError({"borrower": message})
        application.quota = quota
        used = household_quota_used(programme=programme, household=household, excluding=application)
        remaining = quota - used
    if application.amount > remaining:
        raise ValidationError(
            {
                "amount": _(
                    "The amount exceeds the remaining quota: %(remaining)s yuan is left of this "
                    "household's quota in %(programme)s."
                )
                % {"remaining": yuan(max(remaining, ZERO)), "programme": programme}
            }
        )


def _check_budget(application: Application) -> None:
    """Lock the programme row and check the approval fits the remaining budget."""
    programme = Programme.objects.select_for_update().get(pk=application.programme_id)
    remaining = programme.budget - programme_budget_used(programme=programme, excluding=application)
    if application.amount > remaining:
        raise ValidationError(
            {
                "amount": _(
                    "The amount exceeds the programme's remaining budget of %(remaining)s yuan."
                )
                % {"remaining": yuan(max(remaining, ZERO))}
            }
        )


def _record_step(application, *, actor, from_state: str, to_state: str, comment: str = ""):
    ApplicationTransition.objects.create(
        application=application,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        comment=comment,
    )


@transaction.atomic
def application_submit(
    *,
    actor,
    programme: Programme,
    amount: Decimal,
    term_months: int,
    industry,
    purpose: str,
    borrower: Borrower | None = None,
    enterprise: Enterprise | None = None,
    comment: str = "",
    today: datetime.date | None = None,
) -> Application:
    """Register an application for a borrower (or an enterprise).

    The amount must fit the household's remaining quota, counting every
    member's open applications and loans.
    """
    require_permission(actor, "loans.add_application")
    today = today or timezone.localdate()
    applicant = borrower or enterprise
    if applicant is None or (borrower and enterprise):
        raise ValidationError({"borrower": _("Choose a borrower or an enterprise.")})
    require_township(actor, applicant.township_id)
    if not programme.is_active:
        raise ValidationError({"programme": _("This programme is closed.")})
    application = Application(
        programme=programme,
        borrower=borrower,
        enterprise=enterprise,
        household_id=borrower.household_id if borrower else None,
        township_id=applicant.township_id,
        amount=amount,
        term_months=term_months,
        industry=industry,
        purpose=purpose,
    )
    if borrower:
        # Hold the household while checking, so that two officers submitting
        # for one household at once are served one after the other.
        Household.objects.select_for_update().get(pk=borrower.household_id)
    if (
        borrower
        and Application.objects.filter(
            programme=programme,
            household_id=borrower.household_id,
            state__in=Application.OPEN_STATES,
        ).exists()
    ):
        raise ValidationError(
            {"borrower": _("This household already has an open application in this programme.")}
        )
    errors = {}
    try:
        application.full_clean(exclude=["quota"])
    except ValidationError as error:
        errors.update(error.message_dict)
    if not programme.min_term_months <= term_months <= programme.max_term_months:
        errors["term_months"] = [
            _("The term must be from %(min)d to %(max)d months.")
            % {"min": programme.min_term_months, "max": programme.max_term_months}
        ]
    if errors:
        raise ValidationError(errors)
    _check_quota(application, today)
    application._history_user = actor
    application.save()
    _record_step(application, actor=actor, from_state="", to_state=State.SUBMITTED, comment=comment)
    return application


# Who may take an application to each state, beyond the map of allowed steps.
_STEP_PERMISSION = {
    State.VILLAGE_RECOMMENDED: "loans.review_application",
    State.TOWNSHIP_REVIEWED: "loans.review_application",
    State.COUNTY_APPROVED: "loans.approve_application",
    State.IN_NOTICE: "loans.manage_notice",
    State.RELEASED: "loans.manage_notice",
}
_NEEDS_REASON = {State.REJECTED, State.WITHDRAWN}


@transaction.atomic
def application_transition(
    *,
    actor,
    application: Application,
    to_state: str,
    comment: str = "",
    today: datetime.date | None = None,
) -> Application:
    """Move an application one step along its state machine, recording who,
    when and why. A rejection or withdrawal needs a reason; an approval
    re-checks quota and budget under locks."""
    today = today or timezone.localdate()
    application = Application.objects.select_for_update().get(pk=application.pk)
    to_state = State(to_state)
    from_state = State(application.state)
    if to_state not in application.allowed_next_states():
        raise ValidationError(
            _("An application that is %(from)s cannot become %(to)s.")
            % {"from": from_state.label, "to": to_state.label}
        )
    if to_state in _NEEDS_REASON:
        # A township officer may stop an application until it reaches the county.
        before_county = from_state in (
            State.SUBMITTED,
            State.VILLAGE_RECOMMENDED,
            State.TOWNSHIP_REVIEWED,
        )
        may_stop = actor.has_perm("loans.approve_application") or (
            before_county and actor.has_perm("loans.review_application")
        )
        if not may_stop:
            raise PermissionDenied
        if not comment.strip():
            raise ValidationError({"comment": _("Give the reason.")})
    else:
        require_permission(actor, _STEP_PERMISSION[to_state])
    require_township(actor, application.township_id)
    if to_state == State.COUNTY_APPROVED:
        _check_quota(application, today)
        _check_budget(application)
        application.approved_at = timezone.now()
    if to_state == State.RELEASED:
        application.released_at = timezone.now()
    application.state = to_state
    application._history_user = actor
    application.save()
    _record_step(
        application, actor=actor, from_state=from_state, to_state=to_state, comment=comment
    )
    return application


@transaction.atomic
def notice_publish(
    *,
    actor,
    programme: Programme,
    starts_on: datetime.date,
    applications: list[Application] | None = None,
    title: str = "",
) -> PublicNotice:
    """Put approved applications (all of the programme's, by default) into a
    public notice that runs for the programme's notice period."""
    require_permission(actor, "loans.manage_notice")
    queryset = Application.objects.select_for_update().filter(
        programme=programme, state=State.COUNTY_APPROVED
    )
    if applications is not None:
        queryset = queryset.filter(pk__in=[a.pk for a in applications])
    chosen = list(queryset.order_by("township__code", "pk"))
    if not chosen:
        raise ValidationError(_("No approved application is waiting for a notice."))
    notice = PublicNotice(
        programme=programme,
        title=title
        or _("Public notice of %(programme)s loans, %(date)s")
        % {"programme": programme, "date": starts_on.isoformat()},
        starts_on=starts_on,
        ends_on=starts_on + datetime.timedelta(days=programme.notice_days - 1),
        created_by=actor,
    )
    save_traced(notice, actor=actor)
    for application in chosen:
        NoticeEntry.objects.create(notice=notice, application=application)
        application_transition(actor=actor, application=application, to_state=State.IN_NOTICE)
    return notice


@transaction.atomic
def objection_record(*, actor, entry: NoticeEntry, raised_by: str, content: str) -> Objection:
    """Record an objection; it holds the application back until resolved."""
    application = Application.objects.get(pk=entry.application_id)
    require_township(actor, application.township_id)
    if not (actor.has_perm("loans.review_application") or actor.has_perm("loans.manage_notice")):
        raise PermissionDenied
    if application.state != State.IN_NOTICE:
        raise ValidationError(_("Only an application in public notice can be objected to."))
    return save_traced(
        Objection(entry=entry, raised_by=raised_by, content=content, recorded_by=actor),
        actor=actor,
    )


@transaction.atomic
def objection_resolve(*, actor, objection: Objection, upheld: bool, resolution: str) -> Objection:
    """Close an objection. An upheld objection rejects the application."""
    require_permission(actor, "loans.manage_notice")
    if not objection.is_open:
        raise ValidationError(_("This objection is already resolved."))
    if not resolution.strip():
        raise ValidationError({"resolution": _("Say how the objection was resolved.")})
    objection.upheld = upheld
    objection.resolution = resolution
    objection.resolved_at = timezone.now()
    save_traced(objection, actor=actor)
    if upheld:
        application_transition(
            actor=actor,
            application=Application.objects.get(pk=objection.entry.application_id),
            to_state=State.REJECTED,
            comment=_("Objection upheld: %(resolution)s") % {"resolution": resolution},
        )
    return objection


@transaction.atomic
def notices_release_due(*, actor, today: datetime.date, notice: PublicNotice | None = None) -> int:
    """Release every application (of ``notice``, or of every notice) whose
    notice period is over and that has no open objection; close notices with
    nothing left in notice. Safe to run twice: released applications are
    not in notice any more."""
    entries = (
        NoticeEntry.objects.select_related("application", "notice")
        .filter(notice__ends_on__lt=today, application__state=State.IN_NOTICE)
        .exclude(objections__resolved_at__isnull=True, objections__isnull=False)
    )
    notices = PublicNotice.objects.filter(closed_at__isnull=True, ends_on__lt=today)
    if notice is not None:
        entries = entries.filter(notice=notice)
        notices = notices.filter(pk=notice.pk)
    released = 0
    for entry in entries:
        application_transition(
            actor=actor,
            application=entry.application,
            to_state=State.RELEASED,
            comment=_("Notice period ended without objection."),
        )
        released += 1
    for finished in notices:
        if not finished.entries.filter(application__state=State.IN_NOTICE).exists():
            finished.closed_at = timezone.now()
            save_traced(finished, actor=actor)
    return released


def _add_months(day: datetime.date, months: int) -> datetime.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return datetime.date(year, month, candidate)
        except ValueError:
            continue
    raise AssertionError("unreachable")


@transaction.atomic
def loan_create(
    *,
    actor,
    application: Application,
    coop: CreditCoop,
    contract_no: str,
    principal: Decimal,
    annual_rate: Decimal,
    disbursed_on: datetime.date,
    maturity_on: datetime.date,
) -> Loan:
    """Record the co-op's contract for a released application."""
    require_permission(actor, "loans.add_loan")
    application = Application.objects.select_for_update().get(pk=application.pk)
    programme = application.programme
    errors: dict[str, list[str]] = {}
    if application.state != State.RELEASED:
        errors["application"] = [_("Only an application released to the co-op can be lent.")]
    elif Loan.objects.filter(application=application).exists():
        errors["application"] = [_("This application already has a loan.")]
    if Loan.objects.filter(coop=coop, contract_no=contract_no).exists():
        errors["contract_no"] = [
            _("Contract number %(number)s is already used.") % {"number": contract_no}
        ]
    if principal is not None and principal > application.amount:
        errors["principal"] = [
            _("The principal exceeds the approved amount of %(amount)s yuan.")
            % {"amount": yuan(application.amount)}
        ]
    if annual_rate is not None and annual_rate > programme.rate_ceiling:
        errors["annual_rate"] = [
            _("The rate exceeds the programme's ceiling of %(rate)s.")
            % {"rate": f"{programme.rate_ceiling * 100:.4f}%"}
        ]
    if disbursed_on and maturity_on:
        earliest = _add_months(disbursed_on, programme.min_term_months)
        latest = _add_months(disbursed_on, programme.max_term_months)
        if not earliest <= maturity_on <= latest:
            errors["maturity_on"] = [
                _(
                    "The maturity must fall from %(earliest)s to %(latest)s (a term of %(min)d to "
                    "%(max)d months)."
                )
                % {
                    "earliest": earliest.isoformat(),
                    "latest": latest.isoformat(),
                    "min": programme.min_term_months,
                    "max": programme.max_term_months,
                }
            ]
    if errors:
        raise ValidationError(errors)
    loan = Loan(
        application=application,
        coop=coop,
        contract_no=contract_no,
        principal=principal,
        annual_rate=annual_rate,
        disbursed_on=disbursed_on,
        maturity_on=maturity_on,
        programme=programme,
        township_id=application.township_id,
    )
    return save_traced(loan, actor=actor)


def _effective_interest(loan: Loan):
    """Interest entries of the loan that no reversal has undone."""
    return LedgerEntry.objects.filter(
        loan=loan, kind=LedgerEntry.Kind.INTEREST, reversed_by__isnull=True
    )


def interest_entry_errors(
    *,
    loan: Loan,
    period_start: datetime.date,
    period_end: datetime.date,
    paid_on: datetime.date,
    amount: Decimal,
) -> dict[str, list[str]]:
    """What is wrong with an interest posting, by field (empty if nothing)."""
    errors: dict[str, list[str]] = {}
    if amount is not None and amount <= 0:
        errors["amount"] = [_("The amount must be more than zero.")]
    if period_end < period_start:
        errors["period_end"] = [_("The period ends before it starts.")]
    elif paid_on < period_start:
        errors["paid_on"] = [_("The paid date is before the period starts.")]
    if period_start < loan.disbursed_on:
        errors["period_start"] = [_("The period starts before the loan was disbursed.")]
    overlapping = _effective_interest(loan).filter(
        period_start__lte=period_end, period_end__gte=period_start
    )
    if overlapping.exists():
        other = overlapping.first()
        errors["period_start"] = [
            _("The period overlaps %(start)s to %(end)s, already posted as %(txn)s.")
            % {"start": other.period_start, "end": other.period_end, "txn": other.txn_id}
        ]
    return errors


@transaction.atomic
def ledger_post_interest(
    *,
    actor,
    coop: CreditCoop,
    loan: Loan,
    txn_id: str,
    period_start: datetime.date,
    period_end: datetime.date,
    due_on: datetime.date,
    paid_on: datetime.date,
    amount: Decimal,
) -> LedgerEntry:
    require_permission(actor, "loans.add_ledgerentry")
    Loan.objects.select_for_update().get(pk=loan.pk)
    errors = interest_entry_errors(
        loan=loan, period_start=period_start, period_end=period_end, paid_on=paid_on, amount=amount
    )
    if errors:
        raise ValidationError(errors)
    entry = LedgerEntry(
        coop=coop,
        txn_id=txn_id,
        loan=loan,
        kind=LedgerEntry.Kind.INTEREST,
        amount=amount,
        paid_on=paid_on,
        period_start=period_start,
        period_end=period_end,
        due_on=due_on,
        posted_by=actor,
    )
    return save_traced(entry, actor=actor)


@transaction.atomic
def ledger_post_repayment(
    *,
    actor,
    coop: CreditCoop,
    loan: Loan,
    txn_id: str,
    paid_on: datetime.date,
    amount: Decimal,
) -> LedgerEntry:
    require_permission(actor, "loans.add_ledgerentry")
    loan = Loan.objects.select_for_update().get(pk=loan.pk)
    if amount <= 0:
        raise ValidationError({"amount": [_("The amount must be more than zero.")]})
    if paid_on < loan.disbursed_on:
        raise ValidationError({"paid_on": [_("The loan was not disbursed yet on that date.")]})
    balance = loan_position(loan, on=datetime.date.max).balance
    if amount > balance:
        raise ValidationError(
            {
                "amount": [
                    _("The repayment exceeds the balance of %(balance)s yuan.")
                    % {"balance": yuan(balance)}
                ]
            }
        )
    entry = LedgerEntry(
        coop=coop,
        txn_id=txn_id,
        loan=loan,
        kind=LedgerEntry.Kind.PRINCIPAL,
        amount=amount,
        paid_on=paid_on,
        posted_by=actor,
    )
    save_traced(entry, actor=actor)
    _record_status(loan, on=paid_on)
    return entry


@transaction.atomic
def ledger_post_reversal(
    *,
    actor,
    coop: CreditCoop,
    txn_id: str,
    reverses_txn_id: str,
    reason: str,
    paid_on: datetime.date | None = None,
) -> LedgerEntry:
    """Undo an earlier entry of the same co-op by a reversal that points at it."""
    require_permission(actor, "loans.add_ledgerentry")
    original = (
        LedgerEntry.objects.select_for_update().filter(coop=coop, txn_id=reverses_txn_id).first()
    )
    if original is None:
        raise ValidationError(
            {"reverses_txn_id": [_("No entry %(txn)s to reverse.") % {"txn": reverses_txn_id}]}
        )
    if original.kind == LedgerEntry.Kind.REVERSAL:
        raise ValidationError({"reverses_txn_id": [_("A reversal cannot be reversed.")]})
    if LedgerEntry.objects.filter(reverses=original).exists():
        raise ValidationError({"reverses_txn_id": [_("This entry is already reversed.")]})
    if not reason.strip():
        raise ValidationError({"reason": [_("Give the reason.")]})
    entry = LedgerEntry(
        coop=coop,
        txn_id=txn_id,
        loan=original.loan,
        kind=LedgerEntry.Kind.REVERSAL,
        amount=original.amount,
        paid_on=paid_on or timezone.localdate(),
        reverses=original,
        reason=reason,
        posted_by=actor,
    )
    save_traced(entry, actor=actor)
    _record_status(original.loan, on=entry.paid_on)
    return entry


def _record_status(loan: Loan, *, on: datetime.date) -> bool:
    """Store the loan's status as of ``on`` and record a change; True if changed."""
    status = loan_position(loan, on=on).status
    if status == loan.status:
        return False
    LoanStatusChange.objects.create(loan=loan, on=on, from_status=loan.status, to_status=status)
    Loan.objects.filter(pk=loan.pk).update(status=status, updated_at=timezone.now())
    # update() skips save(): record the change in the history here.
    history_record_bulk(Loan.objects.filter(pk=loan.pk), history_type="~")
    loan.status = status
    return True


def loan_statuses_record(*, today: datetime.date) -> int:
    """The daily task: record every loan whose status changed by ``today``
    (a loan falls overdue the day after maturity with principal left)."""
    changed = 0
    for loan in Loan.objects.exclude(status__in=[Loan.Status.REPAID, Loan.Status.WRITTEN_OFF]):
        with transaction.atomic():
            changed += _record_status(loan, on=today)
    return changed

"""Services of applications and their approvals: submit, recommend, review,
approve, reject, withdraw; the household's quota and the programme's budget.

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
from common.history import validate_for_save
from common.money import ZERO, yuan
from loans import signals
from loans.models import (
    Application,
    ApplicationTransition,
    Loan,
    Programme,
)

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


def programme_budget_used(
    *, programme: Programme, county=None, excluding: Application | None = None
) -> Decimal:
    """Principal lent plus the amounts approved and not yet lent; of one
    county's loans only, given ``county`` (a county's part of a city's or
    province's programme)."""
    approved = Application.objects.filter(
        Q(state__in=[State.COUNTY_APPROVED, State.IN_NOTICE]) | Q(state=State.RELEASED),
        programme=programme,
        loan__isnull=True,
    )
    lent = Loan.objects.filter(programme=programme)
    if county is not None:
        approved = approved.filter(county=county)
        lent = lent.filter(county=county)
    if excluding is not None:
        approved = approved.exclude(pk=excluding.pk)
    pending = approved.aggregate(total=Sum("amount"))["total"] or ZERO
    return pending + (lent.aggregate(total=Sum("principal"))["total"] or ZERO)


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


def budget_of(programme: Programme, county) -> tuple[Decimal | None, object]:
    """The budget an approval in ``county`` is checked against, and the
    county whose loans count towards it (None: the whole programme's): a
    county's own programme has one budget; a city's or province's has a part
    per county once their parts are set (None where ``county`` has none)."""
    if programme.is_above_county:
        parts = {part.county_id: part.amount for part in programme.county_budgets.all()}
        if parts:
            return parts.get(getattr(county, "pk", county)), county
    return programme.budget, None


def _check_budget(application: Application) -> None:
    """Lock the programme row and check the approval fits the remaining
    budget: the programme's, or the county's part of it."""
    programme = Programme.objects.select_for_update().get(pk=application.programme_id)
    budget, county = budget_of(programme, application.county)
    if budget is None:
        raise ValidationError(
            {
                "amount": _(
                    "%(programme)s has no budget for %(county)s yet; the office that runs "
                    "it sets each county's part."
                )
                % {"programme": programme, "county": application.county}
            }
        )
    used = programme_budget_used(programme=programme, county=county, excluding=application)
    remaining = budget - used
    if application.amount > remaining:
        if county is None:
            message = _(
                "The amount exceeds the programme's remaining budget of %(remaining)s yuan."
            ) % {"remaining": yuan(max(remaining, ZERO))}
        else:
            message = _(
                "The amount exceeds the remaining budget of %(county)s in %(programme)s: "
                "%(remaining)s yuan."
            ) % {
                "county": application.county,
                "programme": programme,
                "remaining": yuan(max(remaining, ZERO)),
            }
        raise ValidationError({"amount": message})


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
    if not programme.covers(applicant.county):
        message = _("This programme is not run in %(county)s.")
        raise ValidationError({"programme": message % {"county": applicant.county}})
    application = Application(
        programme=programme,
        borrower=borrower,
        enterprise=enterprise,
        household_id=borrower.household_id if borrower else None,
        township_id=applicant.township_id,
        county_id=applicant.county_id,
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
        validate_for_save(application, exclude=["quota"])
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
        signals.approving.send(sender=Application, application=application, on=today)
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

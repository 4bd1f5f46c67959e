"""Reads of applications and public notices for pages: what a user may see,
shaped for display.

Every selector takes the user (or an object already fetched for them) and
confines itself with the township scope; none of them writes. The rules of
who may move an application live in ``loans.services``; ``application_steps``
only decides which buttons to offer, and a test holds it to the services.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from accounts.roles import TOWNSHIP_BOUND_ROLES, Role, may_act_in_township, scope_q
from accounts.scoping import divisions_for
from beneficiaries.models import Borrower
from divisions.models import Division
from loans.models import Application, Loan, NoticeEntry, Objection, Programme, PublicNotice

from .services import household_quota, household_quota_used

State = Application.State


# --- Application list -------------------------------------------------------


@dataclass(frozen=True)
class StateCount:
    value: str
    label: str
    count: int


@dataclass(frozen=True)
class ApplicationList:
    """The applications to page through and the count of each state among
    everything that matches the other filters (for the state tabs)."""

    applications: object  # a QuerySet, ready to paginate
    state_counts: list[StateCount]
    total: int


def application_list(
    *,
    user,
    state: str = "",
    programme: Programme | None = None,
    township: Division | None = None,
    village: Division | None = None,
    category: str = "",
    search: str = "",
) -> ApplicationList:
    """The applications ``user`` may see, narrowed by the list's filters.

    The rows join in every column the list shows, so a page costs one query
    whatever its length; the state counts cost one GROUP BY query.
    """
    matching = Application.objects.for_user(user)
    if programme is not None:
        matching = matching.filter(programme=programme)
    if township is not None:
        matching = matching.filter(township=township)
    if village is not None:
        matching = matching.filter(
            Q(household__village_group__parent=village) | Q(enterprise__village=village)
        )
    if category:
        matching = matching.filter(borrower__category=category)
    if search:
        matching = matching.filter(
            Q(borrower__name__icontains=search) | Q(enterprise__name__icontains=search)
        )
    counted = dict(matching.order_by().values_list("state").annotate(count=Count("pk")))
    state_counts = [StateCount(s.value, s.label, counted.get(s.value, 0)) for s in State]
    rows = matching.filter(state=state) if state else matching
    rows = rows.select_related(
        "programme",
        "township",
        "industry",
        "borrower",
        "household__village_group__parent",
        "enterprise__village",
    ).order_by("-submitted_at", "-pk")
    return ApplicationList(rows, state_counts, sum(counted.values()))


def villages_for(user):
    """The villages a user may see, with their township, in code order."""
    return (
        divisions_for(user)
        .filter(level=Division.Level.VILLAGE)
        .select_related("parent")
        .order_by("code")
    )


# --- Submitting -------------------------------------------------------------


def borrowers_to_apply_for(*, user, search: str = ""):
    """Borrowers the user may submit an application for, by township and
    village, narrowed by a name or (part of an) ID number."""
    borrowers = (
        Borrower.objects.for_user(user)
        .select_related("township", "household__village_group__parent")
        .order_by("township__code", "household__village_group__parent__code", "name", "pk")
    )
    if search:
        borrowers = borrowers.filter(Q(name__icontains=search) | Q(id_number__icontains=search))
    return borrowers


def active_programmes(user):
    """The active programmes run in the user's counties (``for_user``)."""
    return Programme.objects.for_user(user).filter(is_active=True).order_by("-year", "name")


def default_programme(today: datetime.date, *, user) -> Programme | None:
    """This year's active programme if there is one, else the latest active."""
    programmes = list(active_programmes(user))
    for programme in programmes:
        if programme.year == today.year:
            return programme
    return programmes[0] if programmes else None


@dataclass(frozen=True)
class QuotaPosition:
    """A household's quota in a programme, what is committed and what is left."""

    quota: Decimal
    used: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.quota - self.used, Decimal("0.00"))


def quota_position(*, programme: Programme, household, on: datetime.date) -> QuotaPosition:
    return QuotaPosition(
        quota=household_quota(programme=programme, household=household, on=on),
        used=household_quota_used(programme=programme, household=household),
    )


def household_open_applications(*, household, programme: Programme):
    """The household's applications in the programme that still use its quota."""
    return (
        Application.objects.filter(household=household, programme=programme)
        .filter(Q(state__in=Application.OPEN_STATES) | Q(state=State.RELEASED))
        .select_related("borrower")
        .order_by("-submitted_at")
    )


# --- Application detail -----------------------------------------------------


def application_for_detail(*, user, pk: int) -> Application | None:
    """One application with what its page shows, or None when it does not
    exist or lies outside the user's township."""
    return (
        Application.objects.for_user(user)
        .select_related(
            "programme",
            "township",
            "industry__parent",
            "borrower__industry",
            "household__village_group__parent",
            "enterprise__village",
        )
        .filter(pk=pk)
        .first()
    )


def application_timeline(*, application: Application) -> list:
    """Every step of the application, oldest first, with who took it and in
    what role (``actor_role``, e.g. "乡镇经办人员 · 联珠镇")."""
    steps = list(
        application.transitions.select_related("actor__profile__township")
        .prefetch_related("actor__groups")
        .order_by("at", "pk")
    )
    for step in steps:
        step.actor_role = _role_label(step.actor)
    return steps


def _role_label(user) -> str:
    """The user's role (and township) from prefetched groups: ``role_of``
    would cost a query per step."""
    if user is None:
        return ""
    names = {group.name for group in user.groups.all()} & set(Role.values)
    if len(names) != 1:
        return ""
    role = Role(names.pop())
    profile = getattr(user, "profile", None)
    if role in TOWNSHIP_BOUND_ROLES and profile is not None and profile.township is not None:
        return "%s · %s" % (role.label, profile.township.name)
    return str(role.label)


def application_notice_entry(*, application: Application) -> NoticeEntry | None:
    """The notice entry of the application, with its notice and objections."""
    return (
        NoticeEntry.objects.filter(application=application)
        .select_related("notice", "application")
        .prefetch_related("objections")
        .first()
    )


def application_loan(*, application: Application) -> Loan | None:
    return Loan.objects.filter(application=application).select_related("coop").first()


# The steps a page offers on an application; entering and leaving a public
# notice happen on the notice pages.
FORWARD_STEPS = (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED, State.COUNTY_APPROVED)
STOP_STEPS = (State.REJECTED, State.WITHDRAWN)
_FORWARD_PERMISSION = {
    State.VILLAGE_RECOMMENDED: "loans.review_application",
    State.TOWNSHIP_REVIEWED: "loans.review_application",
    State.COUNTY_APPROVED: "loans.approve_application",
}
_BEFORE_COUNTY = (State.SUBMITTED, State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED)

STEP_ACTION_LABELS = {
    State.VILLAGE_RECOMMENDED: _("Recommend (village)"),
    State.TOWNSHIP_REVIEWED: _("Review (township)"),
    State.COUNTY_APPROVED: _("Approve (county)"),
    State.REJECTED: _("Reject"),
    State.WITHDRAWN: _("Withdraw"),
}


@dataclass(frozen=True)
class Step:
    to_state: str
    label: str


def application_steps(*, user, application: Application) -> list[Step]:
    """The steps ``user`` may take on the application now, in the order the
    page shows them: the next forward step, then rejection and withdrawal.

    Mirrors ``services.application_transition``; the service still decides.
    """
    if not may_act_in_township(user, application.township_id):
        return []
    allowed = application.allowed_next_states()
    steps = [
        state
        for state in FORWARD_STEPS
        if state in allowed and user.has_perm(_FORWARD_PERMISSION[state])
    ]
    may_stop = user.has_perm("loans.approve_application") or (
        application.state in _BEFORE_COUNTY and user.has_perm("loans.review_application")
    )
    if may_stop:
        steps += [state for state in STOP_STEPS if state in allowed]
    return [Step(state, str(STEP_ACTION_LABELS[state])) for state in steps]


# --- Public notices ---------------------------------------------------------


def entry_scope(user, prefix: str = "") -> Q:
    """Confines notice entries (through ``prefix``) to the user's county
    and, for a township officer, their township."""
    return scope_q(
        user,
        county=prefix + "application__county_id",
        township=(prefix + "application__township_id",),
    )


def notices_for_list(*, user):
    """The notices with entries the user may see, each with the count of its
    entries, of those released and of those with an open objection (counted
    within the user's township)."""
    scope = entry_scope(user, "entries__")
    open_objection = Q(
        entries__objections__isnull=False, entries__objections__resolved_at__isnull=True
    )
    return (
        PublicNotice.objects.for_user(user)
        .filter(scope)
        .select_related("programme")
        .annotate(
            entry_count=Count("entries", filter=scope, distinct=True),
            released_count=Count(
                "entries",
                filter=scope & Q(entries__application__state=State.RELEASED),
                distinct=True,
            ),
            objected_count=Count("entries", filter=scope & open_objection, distinct=True),
        )
        .distinct()
        .order_by("-starts_on", "-pk")
    )


def notice_for_user(*, user, pk: int) -> PublicNotice | None:
    """The notice if it holds an entry the user may see, else None."""
    return (
        PublicNotice.objects.for_user(user)
        .filter(entry_scope(user, "entries__"))
        .select_related("programme", "created_by")
        .filter(pk=pk)
        .distinct()
        .first()
    )


def notice_entries(*, user, notice: PublicNotice) -> list[NoticeEntry]:
    """The entries of the notice the user may see, by township, village and
    name, with their objections."""
    return list(
        NoticeEntry.objects.filter(notice=notice)
        .filter(entry_scope(user))
        .select_related(
            "application__borrower",
            "application__enterprise__village",
            "application__household__village_group__parent",
            "application__township",
            "application__industry",
        )
        .prefetch_related("objections__recorded_by")
        .order_by(
            "application__township__code",
            "application__household__village_group__parent__code",
            "application__borrower__name",
            "pk",
        )
    )


def notice_status(notice: PublicNotice, today: datetime.date) -> str:
    """closed, over (period ended, entries still waiting), running or upcoming."""
    if notice.closed_at is not None:
        return "closed"
    if notice.ends_on < today:
        return "over"
    if notice.starts_on > today:
        return "upcoming"
    return "running"


NOTICE_STATUS_LABELS = {
    "running": _("Running"),
    "upcoming": _("Not started"),
    "over": _("Period over"),
    "closed": _("Closed"),
}


def applications_awaiting_notice(*, programme: Programme, user):
    """The programme's approved applications of the user's county that a new
    notice would take in (a city's programme has other counties' too)."""
    return (
        Application.objects.for_user(user)
        .filter(programme=programme, state=State.COUNTY_APPROVED)
        .select_related(
            "borrower",
            "enterprise__village",
            "household__village_group__parent",
            "township",
            "industry",
        )
        .order_by("township__code", "household__village_group__parent__code", "pk")
    )


def open_objections(entries: list[NoticeEntry]) -> list[Objection]:
    return [o for entry in entries for o in entry.objections.all() if o.is_open]

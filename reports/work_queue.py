"""What waits for each role (待办), shown above the dashboard on the home page.

Each item is one count in one query, confined to what the user may see
(``for_user``: a township officer counts their own township only), with the
page where the work is done. A role's items are declared in ``work_for``;
items with nothing waiting are left out, and an empty queue says so.

The auditor has nothing to do: they get the latest changes instead.
"""

import datetime
from dataclasses import dataclass

from django.db.models import Count, Exists, F, Max, OuterRef, Subquery
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from accounts.history.selectors import HistoryFilter, history_rows, history_search
from accounts.roles import Role, role_of
from loans.models import Application, Loan, Objection, PublicNotice
from riskfund.models import Claim
from subsidies.models import PaymentBatch, SubsidyLine, SubsidyRun
from subsidies.payout.services import PAYEE_HAS_NO_ACCOUNT

State = Application.State
RunState = SubsidyRun.State
Payment = SubsidyLine.Payment
LATEST_CHANGES = 6


@dataclass(frozen=True)
class WorkItem:
    key: str
    label: str
    count: int
    url: str
    note: str = ""


def _applications_url(state: str) -> str:
    return "%s?%s" % (reverse("applications:list"), urlencode({"state": state}))


def _run_url(run_id: int | None, name: str = "subsidies:run", fragment: str = "") -> str:
    if run_id is None:
        return reverse("subsidies:runs")
    return reverse(name, args=[run_id]) + fragment


def _applications_in(user, state: str, key: str, label, note="") -> WorkItem:
    count = Application.objects.for_user(user).filter(state=state).count()
    return WorkItem(key, str(label), count, _applications_url(state), str(note))


def _open_objections(user, note) -> WorkItem:
    applications = Application.objects.for_user(user)
    count = Objection.objects.filter(
        resolved_at__isnull=True, entry__application__in=applications
    ).count()
    return WorkItem(
        "objections", str(_("Objections not yet answered")), count, reverse("notices:list"), note
    )


def _notices_to_release(user, today: datetime.date) -> WorkItem:
    count = (
        PublicNotice.objects.for_user(user)
        .filter(closed_at__isnull=True, ends_on__lt=today)
        .count()
    )
    return WorkItem(
        "notices_to_release",
        str(_("Public notices whose period has ended, to release to the co-op")),
        count,
        reverse("notices:list"),
    )


def _lines_waiting_for_account(user) -> WorkItem:
    """Subsidy lines of approved runs that cannot be paid: the payee has no account."""
    found = (
        SubsidyLine.objects.for_user(user)
        .filter(
            PAYEE_HAS_NO_ACCOUNT,
            run__state=RunState.APPROVED,
            payment__in=[Payment.PENDING, Payment.FAILED],
            amount_due__gt=0,
        )
        .aggregate(count=Count("pk"), run=Max("run_id"))
    )
    return WorkItem(
        "missing_accounts",
        str(_("Subsidies waiting for the household's bank account")),
        found["count"],
        _run_url(found["run"], "subsidies:payout"),
        str(_("Add the account on the household's page; finance then pays it in a new batch.")),
    )


def _runs_in(
    user, states, key: str, label, *, returned: bool | None = None, fragment=""
) -> WorkItem:
    runs = SubsidyRun.objects.for_user(user).filter(state__in=states)
    if returned is not None:
        runs = runs.exclude(returned_reason="") if returned else runs.filter(returned_reason="")
    found = runs.aggregate(count=Count("pk"), run=Max("pk"))
    url = _run_url(found["run"], fragment=fragment) if found["count"] == 1 else _run_url(None)
    return WorkItem(key, str(label), found["count"], url)


def _interest_exceptions(user) -> WorkItem:
    """Lines flagged by the reconciliation (the co-op's interest differs from
    the expected by more than the programme's tolerance) in each
    programme's latest run that has lines."""
    latest = (
        SubsidyRun.objects.filter(
            programme=OuterRef("run__programme"),
            state__in=[RunState.COMPUTED, RunState.SUBMITTED, RunState.APPROVED, RunState.PAID],
        )
        .order_by("-year", "-pk")
        .values("pk")[:1]
    )
    found = (
        SubsidyLine.objects.for_user(user)
        .filter(reconciliation_flag=True)
        .alias(latest_run=Subquery(latest))
        .filter(run_id=F("latest_run"))
        .aggregate(count=Count("pk"), run=Max("run_id"))
    )
    return WorkItem(
        "interest_exceptions",
        str(_("Co-op interest differing from the expected beyond the tolerance")),
        found["count"],
        _run_url(found["run"], fragment="#exceptions-heading"),
        str(_("Ask the co-op to correct its postings, or note why they differ.")),
    )


def _batches_to_record(user) -> WorkItem:
    found = (
        PaymentBatch.objects.for_user(user)
        .filter(lines__payment=Payment.ISSUED)
        .aggregate(count=Count("pk", distinct=True), run=Max("run_id"))
    )
    return WorkItem(
        "batches_to_record",
        str(_("Payment batches sent to the bank, payment not yet recorded")),
        found["count"],
        _run_url(found["run"], "subsidies:payout"),
    )


def _failed_payments(user) -> WorkItem:
    found = (
        SubsidyLine.objects.for_user(user)
        .filter(payment=Payment.FAILED, run__state=RunState.APPROVED)
        .exclude(PAYEE_HAS_NO_ACCOUNT)
        .aggregate(count=Count("pk"), run=Max("run_id"))
    )
    return WorkItem(
        "failed_payments",
        str(_("Failed payments to issue again in a new batch")),
        found["count"],
        _run_url(found["run"], "subsidies:payout"),
    )


def _released_without_contract(user) -> WorkItem:
    count = (
        Application.objects.for_user(user)
        .filter(state=State.RELEASED)
        .exclude(Exists(Loan.objects.filter(application=OuterRef("pk"))))
        .count()
    )
    return WorkItem(
        "released_without_contract",
        str(_("Applications released to the co-op, no contract posted yet")),
        count,
        _applications_url(State.RELEASED),
        str(_("The co-op posts each contract through the API.")),
    )


def _claims_in(user, state: str, key: str, label, note="") -> WorkItem:
    """Compensation claims in ``state`` (the county checks filed claims,
    finance approves checked ones and sees those waiting for a deposit)."""
    count = Claim.objects.for_user(user).filter(state=state).count()
    url = "%s?%s" % (reverse("riskfund:claims"), urlencode({"state": state}))
    return WorkItem(key, str(label), count, url, str(note))


def work_for(user, *, today: datetime.date) -> list[WorkItem]:
    """The user's waiting work, items with nothing waiting left out."""
    role = role_of(user)
    if role == Role.TOWNSHIP:
        items = [
            _applications_in(
                user,
                State.SUBMITTED,
                "to_recommend",
                _("Applications to record the village's recommendation"),
            ),
            _applications_in(
                user,
                State.VILLAGE_RECOMMENDED,
                "to_review",
                _("Applications to review for the township"),
            ),
            _open_objections(
                user, _("Look into each with the village; the county office answers it.")
            ),
            _lines_waiting_for_account(user),
        ]
    elif role == Role.COUNTY:
        items = [
            _applications_in(
                user, State.TOWNSHIP_REVIEWED, "to_approve", _("Applications to approve")
            ),
            _notices_to_release(user, today),
            _open_objections(user, _("Answer each on the notice's page.")),
            _runs_in(
                user,
                [RunState.COMPUTED],
                "runs_returned",
                _("Subsidy runs sent back by the finance bureau"),
                returned=True,
            ),
            _runs_in(
                user,
                [RunState.COMPUTED],
                "runs_to_submit",
                _("Computed subsidy runs to check and submit"),
                returned=False,
            ),
            _runs_in(
                user, [RunState.FAILED], "runs_failed", _("Subsidy runs that failed to compute")
            ),
            _interest_exceptions(user),
            _lines_waiting_for_account(user),
            _claims_in(
                user, Claim.State.FILED, "claims_to_check", _("Compensation claims to check")
            ),
        ]
    elif role == Role.FINANCE:
        items = [
            _runs_in(
                user,
                [RunState.SUBMITTED],
                "runs_to_approve",
                _("Subsidy runs to check and approve"),
            ),
            _batches_to_record(user),
            _failed_payments(user),
            _claims_in(
                user,
                Claim.State.CHECKED,
                "claims_to_approve",
                _("Compensation claims to approve and pay"),
            ),
            _claims_in(
                user,
                Claim.State.APPROVED,
                "claims_waiting",
                _("Approved claims waiting for a deposit"),
                _("They are paid when a deposit covers them."),
            ),
        ]
    elif role == Role.COOP:
        items = [_released_without_contract(user)]
    else:
        items = []
    return [item for item in items if item.count]


def latest_changes(user) -> list:
    """The latest recorded changes, for the auditor (who has no work waiting)."""
    keys = list(history_search(HistoryFilter())[:LATEST_CHANGES])
    return history_rows(keys, show_personal_data=user.has_perm("beneficiaries.view_personal_data"))

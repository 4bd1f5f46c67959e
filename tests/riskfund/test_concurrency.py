"""The fund's limits hold when two people act at once.

On PostgreSQL with real connections, one per thread, started together at a
barrier: the fund's row lock makes the second wait for the first and then
see what the first did.
"""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from loans.applications.services import application_transition
from loans.models import Application, Programme
from loans.programmes.services import PROGRAMME_FIELDS
from riskfund.models import Claim, Movement
from riskfund.selectors import balance
from riskfund.services import claim_approve, claim_check, fund_save
from tests.loans.applications.test_flow import submit

from .conftest import deposit, file, overdue_loan

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
State = Application.State


def at_once(*calls) -> list[str]:
    """Run each call in its own thread and connection, together; the
    outcome of each is "ok" or the messages of its ValidationError."""
    barrier = threading.Barrier(len(calls))
    outcomes: list[str] = []

    def run(call):
        try:
            barrier.wait(timeout=10)
            call()
            outcomes.append("ok")
        except ValidationError as error:
            outcomes.append(" ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == len(calls), "a thread did not finish"
    return outcomes


def second_programme(shipped: Programme) -> Programme:
    """Another programme in Mojiang, so that the programme's own row lock
    (its budget) does not order the two approvals: only the fund's does."""
    fields = {name: getattr(shipped, name) for name in PROGRAMME_FIELDS}
    fields.update(name="振兴贷（第二期）")
    other = Programme.objects.create(**fields)
    for quota in shipped.quotas.all():
        other.quotas.create(category=quota.category, amount=quota.amount)
    return other


def reviewed(cast, programme, borrower, amount):
    application = submit(cast.county, programme, borrower, amount=amount)
    for state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED):
        application = application_transition(
            actor=cast.county, application=application, to_state=state
        )
    return application


def test_two_approvals_at_once_cannot_pass_leverage_times_balance(cast, programme, people):
    other = second_programme(programme)
    fund = fund_save(actor=cast.county, name="墨江县风险补偿金", programmes=[programme, other])
    deposit(cast, fund, "15000.00")  # leverage 10: at most 150,000 covered
    first = reviewed(cast, programme, people.borrower(), "100000.00")
    second = reviewed(cast, other, people.borrower(), "100000.00")

    def approve(application):
        return lambda: application_transition(
            actor=cast.county, application=application, to_state=State.COUNTY_APPROVED
        )

    outcomes = at_once(approve(first), approve(second))

    assert outcomes.count("ok") == 1, outcomes
    refused = next(outcome for outcome in outcomes if outcome != "ok")
    assert "150,000.00" in refused and "50,000.00" in refused, refused
    assert Application.objects.filter(state=State.COUNTY_APPROVED).count() == 1


def test_two_claims_approved_at_once_never_take_the_balance_below_zero(
    cast, programme, people, coop, fund
):
    deposit(cast, fund, "20000.00", voucher="D-0")  # room for the two loans' approvals
    claims = [
        file(cast, coop, overdue_loan(cast, programme, people, coop, number), claim_id)
        for number, claim_id in (("MJ-2025-0001", "C-1"), ("MJ-2025-0002", "C-2"))
    ]
    claims = [claim_check(actor=cast.county, claim=claim, accept=True) for claim in claims]
    compensation = claims[0].compensation
    assert claims[1].compensation == compensation
    half = (compensation / 2).quantize(Decimal("0.01"))
    deposit(cast, fund, compensation + half - balance(fund))  # one claim and a half

    def approve(claim, voucher):
        return lambda: claim_approve(actor=cast.finance, claim=claim, voucher=voucher)

    assert at_once(approve(claims[0], "P-1"), approve(claims[1], "P-2")) == ["ok", "ok"]

    states = sorted(Claim.objects.values_list("state", flat=True))
    assert states == sorted([Claim.State.PAID, Claim.State.APPROVED])
    assert Movement.objects.filter(kind=Movement.Kind.COMPENSATION).count() == 1
    assert balance(fund) == half

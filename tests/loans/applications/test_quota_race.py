"""Two approvals at once can never together exceed the quota or the budget.

Runs on PostgreSQL with two real connections: each thread approves one
application; the row locks in the service make the second wait for the
first and then see its amount.
"""

import threading
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from loans.applications.services import application_transition
from loans.models import Application
from tests.loans.applications.test_flow import submit

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
State = Application.State


def reviewed(cast, programme, borrower, amount):
    application = submit(cast.county, programme, borrower, amount=amount)
    for state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED):
        application = application_transition(
            actor=cast.county, application=application, to_state=state
        )
    return application


def approve_at_once(cast, applications) -> list[str]:
    barrier = threading.Barrier(len(applications))
    outcomes: list[str] = []

    def approve(application):
        try:
            barrier.wait(timeout=10)
            application_transition(
                actor=cast.county, application=application, to_state=State.COUNTY_APPROVED
            )
            outcomes.append("approved")
        except ValidationError as error:
            outcomes.append(error.message_dict["amount"][0])
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(a,)) for a in applications]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return outcomes


def test_two_concurrent_approvals_cannot_exceed_the_budget(cast, programme, people):
    programme.budget = Decimal("150000.00")
    programme.save()
    applications = [
        reviewed(cast, programme, people.borrower(), "100000.00"),
        reviewed(cast, programme, people.borrower(), "100000.00"),
    ]
    outcomes = approve_at_once(cast, applications)
    assert sorted(outcomes, key=len)[0] == "approved"
    assert len(outcomes) == 2 and outcomes.count("approved") == 1
    assert Application.objects.filter(state=State.COUNTY_APPROVED).count() == 1


def test_two_concurrent_submissions_for_one_household_give_one_application(cast, programme, people):
    household = people.household()
    borrowers = [people.borrower(household=household), people.borrower(household=household)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def apply(borrower):
        try:
            barrier.wait(timeout=10)
            submit(cast.county, programme, borrower, amount="60000.00")
            outcomes.append("submitted")
        except ValidationError as error:
            outcomes.append(" ".join(error.messages))
        finally:
            connection.close()

    threads = [threading.Thread(target=apply, args=(b,)) for b in borrowers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes.count("submitted") == 1, outcomes
    assert Application.objects.filter(household=household).count() == 1

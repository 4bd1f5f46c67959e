import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from loans.applications.services import application_submit, application_transition
from loans.ledger.services import loan_create
from loans.models import Application, ApplicationTransition, Loan
from loans.notices.services import (
    notice_publish,
    notices_release_due,
    objection_record,
    objection_resolve,
)
from tests.loans.conftest import TODAY, pig_industry

State = Application.State


def submit(actor, programme, borrower, amount="100000.00", **extra):
    fields = {
        "actor": actor,
        "programme": programme,
        "borrower": borrower,
        "amount": Decimal(amount),
        "term_months": 24,
        "industry": pig_industry(),
        "purpose": "扩大生猪养殖规模",
        "today": TODAY,
    }
    fields.update(extra)
    return application_submit(**fields)


def approve(cast, application):
    for actor, state in (
        (cast.township_officer_a, State.VILLAGE_RECOMMENDED),
        (cast.township_officer_a, State.TOWNSHIP_REVIEWED),
        (cast.county, State.COUNTY_APPROVED),
    ):
        application = application_transition(
            actor=actor, application=application, to_state=state, today=TODAY
        )
    return application


def test_an_application_goes_from_submission_to_release_with_a_timeline(cast, programme, people):
    application = submit(cast.township_officer_a, programme, people.borrower())
    application = approve(cast, application)
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    assert notice.ends_on == TODAY + datetime.timedelta(days=9)
    application.refresh_from_db()
    assert application.state == State.IN_NOTICE

    assert notices_release_due(actor=cast.county, today=notice.ends_on) == 0  # still running
    assert notices_release_due(actor=cast.county, today=notice.ends_on + datetime.timedelta(1)) == 1
    application.refresh_from_db()
    assert application.state == State.RELEASED
    assert application.released_at is not None
    steps = list(application.transitions.values_list("to_state", "actor__username"))
    assert steps == [
        ("submitted", "township-officer-a"),
        ("village_recommended", "township-officer-a"),
        ("township_reviewed", "township-officer-a"),
        ("county_approved", "county-officer"),
        ("in_notice", "county-officer"),
        ("released", "county-officer"),
    ]
    notice.refresh_from_db()
    assert notice.closed_at is not None


def test_releasing_twice_changes_nothing(cast, programme, people):
    approve(cast, submit(cast.county, programme, people.borrower()))
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    after = notice.ends_on + datetime.timedelta(days=1)
    assert notices_release_due(actor=cast.county, today=after) == 1
    assert notices_release_due(actor=cast.county, today=after) == 0
    assert ApplicationTransition.objects.filter(to_state="released").count() == 1


def test_a_step_that_is_not_allowed_is_refused_and_changes_nothing(cast, programme, people):
    application = submit(cast.county, programme, people.borrower())
    with pytest.raises(ValidationError) as error:
        application_transition(
            actor=cast.county, application=application, to_state=State.COUNTY_APPROVED
        )
    assert "不能" in error.value.messages[0] or "cannot" in error.value.messages[0]
    application.refresh_from_db()
    assert application.state == State.SUBMITTED
    assert application.transitions.count() == 1


def test_only_the_county_approves(cast, programme, people):
    application = submit(cast.township_officer_a, programme, people.borrower())
    for state in (State.VILLAGE_RECOMMENDED, State.TOWNSHIP_REVIEWED):
        application = application_transition(
            actor=cast.township_officer_a, application=application, to_state=state
        )
    for outsider in (cast.township_officer_a, cast.finance, cast.coop, cast.auditor):
        with pytest.raises(PermissionDenied):
            application_transition(
                actor=outsider, application=application, to_state=State.COUNTY_APPROVED
            )


def test_a_township_officer_acts_only_in_their_township(cast, programme, people):
    application = submit(cast.county, programme, people.borrower())
    with pytest.raises(PermissionDenied):
        application_transition(
            actor=cast.township_officer_b,
            application=application,
            to_state=State.VILLAGE_RECOMMENDED,
        )
    with pytest.raises(PermissionDenied):
        submit(cast.township_officer_b, programme, people.borrower())


def test_a_rejection_needs_a_reason_and_ends_the_application(cast, programme, people):
    application = submit(cast.township_officer_a, programme, people.borrower())
    with pytest.raises(ValidationError) as error:
        application_transition(
            actor=cast.township_officer_a, application=application, to_state=State.REJECTED
        )
    assert "comment" in error.value.message_dict
    application = application_transition(
        actor=cast.township_officer_a,
        application=application,
        to_state=State.REJECTED,
        comment="村民代表会议未通过推荐",
    )
    assert application.allowed_next_states() == set()
    assert application.transitions.last().comment == "村民代表会议未通过推荐"


def test_a_township_officer_cannot_reject_after_county_approval(cast, programme, people):
    application = approve(cast, submit(cast.county, programme, people.borrower()))
    with pytest.raises(PermissionDenied):
        application_transition(
            actor=cast.township_officer_a,
            application=application,
            to_state=State.REJECTED,
            comment="x",
        )


def test_an_amount_above_the_remaining_quota_states_what_is_left(cast, programme, people):
    borrower = people.borrower(title="group_leader")  # 50,000 quota
    with pytest.raises(ValidationError) as error:
        submit(cast.county, programme, borrower, amount="60000.00")
    assert "50,000.00" in error.value.message_dict["amount"][0]
    assert not Application.objects.exists()


def test_two_cadres_of_one_household_share_its_quota(cast, programme, people):
    household = people.household()
    husband = people.borrower(household=household, title="committee_member")
    wife = people.borrower(household=household, title="group_leader")
    first = submit(cast.county, programme, husband, amount="70000.00")
    application_transition(
        actor=cast.county, application=first, to_state=State.REJECTED, comment="重复"
    )
    submit(cast.county, programme, wife, amount="70000.00")  # household quota is 100,000
    assert Application.objects.get(borrower=wife).quota == Decimal("100000.00")


def test_one_open_application_per_household(cast, programme, people):
    household = people.household()
    submit(cast.county, programme, people.borrower(household=household), amount="30000.00")
    with pytest.raises(ValidationError) as error:
        submit(cast.county, programme, people.borrower(household=household), amount="30000.00")
    assert "borrower" in error.value.message_dict


def test_the_term_must_be_within_the_programmes_limits(cast, programme, people):
    with pytest.raises(ValidationError) as error:
        submit(cast.county, programme, people.borrower(), term_months=48)
    assert "term_months" in error.value.message_dict


def test_approval_checks_the_remaining_budget(cast, programme, people):
    programme.budget = Decimal("150000.00")
    programme.save()
    approve(cast, submit(cast.county, programme, people.borrower(), amount="100000.00"))
    second = submit(cast.county, programme, people.borrower(), amount="100000.00")
    with pytest.raises(ValidationError) as error:
        approve(cast, second)
    assert "50,000.00" in error.value.message_dict["amount"][0]
    second.refresh_from_db()
    assert second.state == State.TOWNSHIP_REVIEWED


def test_an_open_objection_holds_an_application_back(cast, programme, people):
    application = approve(cast, submit(cast.county, programme, people.borrower()))
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    objection = objection_record(
        actor=cast.township_officer_a,
        entry=application.notice_entry,
        raised_by="村民张三",
        content="借款人并非本村村民小组长",
    )
    after = notice.ends_on + datetime.timedelta(days=1)
    assert notices_release_due(actor=cast.county, today=after) == 0
    objection_resolve(
        actor=cast.county, objection=objection, upheld=False, resolution="经核实确在任职"
    )
    assert notices_release_due(actor=cast.county, today=after) == 1


def test_an_upheld_objection_rejects_the_application(cast, programme, people):
    application = approve(cast, submit(cast.county, programme, people.borrower()))
    notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    objection = objection_record(
        actor=cast.county, entry=application.notice_entry, raised_by="匿名", content="不符合条件"
    )
    objection_resolve(actor=cast.county, objection=objection, upheld=True, resolution="情况属实")
    application.refresh_from_db()
    assert application.state == State.REJECTED


def released(cast, programme, people, **borrower):
    application = approve(cast, submit(cast.county, programme, people.borrower(**borrower)))
    notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
    notices_release_due(actor=cast.county, today=notice.ends_on + datetime.timedelta(days=1))
    application.refresh_from_db()
    return application


def contract(cast, application, coop, **extra):
    fields = {
        "actor": cast.county,
        "application": application,
        "coop": coop,
        "contract_no": "MJ-2025-0001",
        "principal": Decimal("100000.00"),
        "annual_rate": Decimal("0.034500"),
        "disbursed_on": datetime.date(2025, 3, 20),
        "maturity_on": datetime.date(2027, 3, 20),
    }
    fields.update(extra)
    return loan_create(**fields)


def test_a_released_application_becomes_a_loan(cast, programme, people, coop):
    application = released(cast, programme, people)
    loan = contract(cast, application, coop)
    assert (loan.programme, loan.township, loan.status) == (
        programme,
        cast.township_a,
        Loan.Status.ACTIVE,
    )


def test_a_contract_is_checked_against_approval_ceiling_and_term(cast, programme, people, coop):
    application = released(cast, programme, people)
    with pytest.raises(ValidationError) as error:
        contract(
            cast,
            application,
            coop,
            principal=Decimal("100000.01"),
            annual_rate=Decimal("0.050000"),
            maturity_on=datetime.date(2029, 3, 20),
        )
    assert set(error.value.message_dict) == {"principal", "annual_rate", "maturity_on"}
    assert not Loan.objects.exists()


def test_a_contract_number_is_used_once_per_coop(cast, programme, people, coop):
    contract(cast, released(cast, programme, people), coop)
    second = released(cast, programme, people)
    with pytest.raises(ValidationError) as error:
        contract(cast, second, coop)
    assert "contract_no" in error.value.message_dict


def test_an_application_that_is_not_released_cannot_be_lent(cast, programme, people, coop):
    application = approve(cast, submit(cast.county, programme, people.borrower()))
    with pytest.raises(ValidationError) as error:
        contract(cast, application, coop)
    assert "application" in error.value.message_dict

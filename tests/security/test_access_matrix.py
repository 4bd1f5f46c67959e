"""The authorisation matrix (issue #8): for every URL name of the project and
every role, the answer a request gets; and township isolation in pages,
exports, reports, search results and counts.

``EXPECTED`` is the table, written from each view's decorators and the
permissions of ``accounts/roles.py``, never read back from the views. A URL
name added to the project without a row here fails
``test_every_url_name_has_a_row``. The table's records are township a's;
township a's officer asking for township b's gets what the table gives
township b's officer for township a's (404). Three columns are another
county's (宁洱): its office, a township officer and its co-op's key, on
Mojiang's records: 404 wherever a record is Mojiang's, their own county's
answer elsewhere. Roles that may not act also
POST to every URL (an empty or minimal body) and get the same refusal, with
no row of the database changed; roles that pass a POST-only view's
decorators but may not act there (``REFUSED_POSTS``) are refused by the
view or its service.

The world is built once for the module through the services, inside a
transaction rolled back at the end (``world``): in each of the cast's two
townships (a: 联珠镇, b: 通关镇) a village with three borrowers, each the head
of a household of their own, with valid ID, mobile and account numbers:

* one with a released application, its notice (one per township), a loan
  with its 2025 interest, a line of the approved 2025 subsidy run and a
  payment batch of that township's lines alone;
* one whose application is in a public notice shared by both townships,
  with an objection recorded against it;
* one whose application is only submitted;

and an enterprise, and stored reports of each township and of the county;
and 宁洱's accounts, its co-op and a key of that co-op reaching 宁洱 alone.
"""

import datetime
import io
import subprocess
from dataclasses import dataclass
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, Sum
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone
from openpyxl import load_workbook
from rest_framework.test import APIClient

from accounts.roles import Role, counties_of, role_of, township_of
from accounts.services import user_create
from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Enterprise, Household, Industry
from beneficiaries.registry.services import borrower_create, enterprise_create, household_create
from common.masking import mask_phone, mask_resident_id
from divisions.models import Division
from divisions.services import divisions_load
from loans.applications.services import application_submit, application_transition
from loans.keys.services import api_key_issue, credit_coop_save
from loans.ledger.interest import expected_schedule
from loans.ledger.services import ledger_post_interest, loan_create
from loans.models import ApiKey, Application, Loan, LprRate, NoticeEntry, Programme
from loans.notices.services import notice_publish, notices_release_due, objection_record
from reports.models import Report
from reports.services import report_key
from riskfund.models import Claim
from riskfund.services import fund_save, movement_record
from subsidies.models import PaymentBatch, SubsidyLine, SubsidyRun
from subsidies.payout.services import payment_batch_issue
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.beneficiaries.factories import mobile, resident_id
from tests.conftest import MOJIANG, PASSWORD, make_cast
from tests.loans.conftest import mojiang_coop
from zhenxingdai.celery import app as celery_app

# Every test asks for the database, so that pytest-django runs the module
# before the transactional tests whose end empties the tables the world's
# seed needs (the role groups, the shipped programmes).
pytestmark = pytest.mark.django_db

D = datetime.date
TODAY = D(2025, 3, 1)
AFTER_2025 = D(2026, 1, 5)
BANK = "墨江哈尼族自治县农村信用合作联社"
NINGER = "530821"  # 宁洱哈尼族彝族自治县, beside Mojiang in 普洱市
State = Application.State
PIG = "生猪"


# --- The world ------------------------------------------------------------------


# What differs between the two townships' halves of the world. The serials
# give each person distinct ID and mobile numbers, down to the last four
# digits that a masked number shows.
SIDES = {
    "a": {
        "village": "碧溪村",
        "people": ("张山林", "李水清", "王木森"),
        "serials": (111, 112, 113),
        "account": "6217001234567893",
        "enterprise": "墨江县碧溪生猪养殖专业合作社",
        "credit_serial": 1,
        "contract": "MJ-2025-A001",
    },
    "b": {
        "village": "坝心村",
        "people": ("赵云海", "钱雨田", "孙石磊"),
        "serials": (221, 222, 223),
        "account": "6228480012345678",
        "enterprise": "墨江县坝心茶叶种植专业合作社",
        "credit_serial": 2,
        "contract": "MJ-2025-B001",
    },
}


def credit_code(serial: int) -> str:
    from stdnum.cn import uscc

    base = f"93530822MA6K{serial:05d}"
    return base + uscc.calc_check_digit(base + "0")


def _person(cast, group, name: str, serial: int, account: str) -> Borrower:
    """A borrower at the head of a household of their own."""
    id_number = resident_id(serial, birth="19800315")
    household = household_create(
        actor=cast.county,
        head_name=name,
        head_id_number=id_number,
        village_group=group,
        member_count=4,
        account_holder=name,
        account_number=account,
        bank_name=BANK,
    )
    return borrower_create(
        actor=cast.county,
        household=household,
        name=name,
        id_number=id_number,
        phone=mobile(serial),
        industry=Industry.objects.get(name=PIG),
        positions=[{"title": "committee_member", "started_on": D(2021, 3, 1)}],
        today=TODAY,
    )


def _submit(cast, programme, borrower) -> Application:
    return application_submit(
        actor=cast.county,
        programme=programme,
        borrower=borrower,
        amount=Decimal("100000.00"),
        term_months=24,
        industry=Industry.objects.get(name=PIG),
        purpose="扩大生猪养殖规模",
        today=TODAY,
    )


def _approve(cast, officer, application) -> Application:
    for actor, state in (
        (officer, State.VILLAGE_RECOMMENDED),
        (officer, State.TOWNSHIP_REVIEWED),
        (cast.county, State.COUNTY_APPROVED),
    ):
        application = application_transition(
            actor=actor, application=application, to_state=state, today=TODAY
        )
    return application


def _lend(cast, programme, coop, application, contract_no: str):
    """The contract and its 2025 interest at the bank's figures."""
    loan = loan_create(
        actor=cast.county,
        application=application,
        coop=coop,
        contract_no=contract_no,
        principal=Decimal("100000.00"),
        annual_rate=Decimal("0.034500"),
        disbursed_on=D(2025, 3, 20),
        maturity_on=D(2027, 3, 20),
    )
    schedule = expected_schedule(
        principal=loan.principal,
        rate=loan.annual_rate,
        basis=programme.day_count_basis,
        disbursed_on=loan.disbursed_on,
        ends_on=D(2025, 12, 21),
    )
    for period in schedule:
        ledger_post_interest(
            actor=cast.coop,
            coop=coop,
            loan=loan,
            txn_id=f"{contract_no}-{period.end:%Y%m%d}",
            period_start=period.start,
            period_end=period.end,
            due_on=period.end,
            paid_on=period.end,
            amount=period.interest,
        )
    return loan


def _stored_report(cast, *, kind, fmt, township=None, programme=None, run=None) -> Report:
    """A report row as the task leaves it, with a small stand-in file."""
    as_of = TODAY if kind == Report.Kind.COUNTY else None
    now = timezone.now()
    report = Report(
        key=report_key(
            kind=kind,
            format=fmt,
            county=cast.county_division,
            programme=programme,
            run=run,
            as_of=as_of,
            township=township,
        ),
        county=cast.county_division,
        kind=kind,
        format=fmt,
        programme=programme,
        run=run,
        as_of=as_of,
        township=township,
        state=Report.State.DONE,
        progress=100,
        requested_by=cast.county,
        requested_at=now,
        finished_at=now,
        row_count=1,
    )
    report.file.save(f"{kind}.{fmt}", ContentFile(b"%PDF-1.4 stand-in"), save=False)
    report.save()
    return report


def _office_report(cast) -> Report:
    """The city's consolidated report of all programmes, as the task leaves
    it, with a small stand-in file."""
    office = cast.city.profile.office
    now = timezone.now()
    report = Report(
        key=report_key(
            kind=Report.Kind.CONSOLIDATED, format=Report.Format.PDF, office=office, as_of=TODAY
        ),
        office=office,
        kind=Report.Kind.CONSOLIDATED,
        format=Report.Format.PDF,
        as_of=TODAY,
        state=Report.State.DONE,
        progress=100,
        requested_by=cast.city,
        requested_at=now,
        finished_at=now,
        row_count=1,
    )
    report.file.save("consolidated.pdf", ContentFile(b"%PDF-1.4 stand-in"), save=False)
    report.save()
    return report


def _other_county(cast) -> tuple[ApiKey, str]:
    """宁洱's county office, a township officer of 宁洱 and its co-op's
    account (added to the cast as other_county, other_officer, other_coop),
    and a key of 宁洱's co-op reaching 宁洱 alone."""
    ninger = divisions_load(counties=[NINGER]).county
    township = Division.objects.townships().filter(parent=ninger).order_by("code").first()
    cast.other_county = user_create(
        username="ninger-county", password=PASSWORD, role=Role.COUNTY, county=ninger
    )
    cast.other_officer = user_create(
        username="ninger-township", password=PASSWORD, role=Role.TOWNSHIP, township=township
    )
    cast.other_coop = user_create(
        username="ninger-coop", password=PASSWORD, role=Role.COOP, county=ninger
    )
    coop = credit_coop_save(code="NINGER-RCC", name="宁洱县农村信用合作联社", counties=[ninger])
    return api_key_issue(actor=cast.other_county, user=cast.other_coop, coop=coop)


def _filed_claim(fund, coop, loan) -> Claim:
    """A claim as filed, on the township's loan. Written directly: the
    world's loans are not overdue (the claim's own rules are tested in
    tests/riskfund); here only who may read and act on it matters."""
    principal = loan.principal
    return Claim.objects.create(
        fund=fund,
        coop=coop,
        claim_id=f"CLAIM-{loan.contract_no}",
        loan=loan,
        county_id=loan.county_id,
        township_id=loan.township_id,
        claimed_on=AFTER_2025,
        days_overdue=91,
        loss_basis="principal",
        principal_loss=principal,
        loss=principal,
        fund_share=Decimal("0.8"),
        compensation=principal * Decimal("0.8"),
        bank_share=principal * Decimal("0.2"),
    )


def build_world() -> SimpleNamespace:
    cast = make_cast()
    _other_api_key, other_key = _other_county(cast)
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code=MOJIANG)
    coop = mojiang_coop()
    officers = {"a": cast.township_officer_a, "b": cast.township_officer_b}
    townships = {"a": cast.township_a, "b": cast.township_b}
    sides = {}
    for key, spec in SIDES.items():
        township = townships[key]
        village = division_create(
            actor=cast.county, parent=township, code=township.code + "001", name=spec["village"]
        )
        group = division_create(
            actor=cast.county, parent=village, code=village.code + "001", name="一组"
        )
        lent, noticed, submitted = (
            _person(cast, group, name, serial, spec["account"])
            for name, serial in zip(spec["people"], spec["serials"], strict=True)
        )
        # Its own notice: published while only this township's application
        # waits, then released.
        application = _approve(cast, officers[key], _submit(cast, programme, lent))
        notice = notice_publish(actor=cast.county, programme=programme, starts_on=TODAY)
        notices_release_due(actor=cast.county, today=notice.ends_on + datetime.timedelta(days=1))
        application.refresh_from_db()
        loan = _lend(cast, programme, coop, application, spec["contract"])
        enterprise = enterprise_create(
            actor=cast.county,
            name=spec["enterprise"],
            kind=Enterprise.Kind.COOPERATIVE,
            credit_code=credit_code(spec["credit_serial"]),
            legal_representative=spec["people"][0],
            phone=lent.phone,
            village=village,
            industry=Industry.objects.get(name=PIG),
        )
        sides[key] = SimpleNamespace(
            key=key,
            township=township,
            officer=officers[key],
            village=village,
            group=group,
            people=(lent, noticed, submitted),
            borrower=lent,
            noticed_borrower=noticed,
            application=application,
            notice=notice,
            loan=loan,
            enterprise=enterprise,
            submitted=_submit(cast, programme, submitted),
        )
    # One notice for both townships, each with an objection.
    for key, side in sides.items():
        side.noticed = _approve(
            cast, officers[key], _submit(cast, programme, side.noticed_borrower)
        )
    shared_notice = notice_publish(actor=cast.county, programme=programme, starts_on=D(2025, 6, 1))
    for side in sides.values():
        side.entry = NoticeEntry.objects.get(notice=shared_notice, application=side.noticed)
        side.objection = objection_record(
            actor=cast.county, entry=side.entry, raised_by="村民", content="家庭情况与申报不符"
        )

    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=AFTER_2025)
    run.refresh_from_db()
    assert run.state == SubsidyRun.State.COMPUTED, run.error
    subsidy_run_submit(actor=cast.county, run=run)
    run = subsidy_run_approve(actor=cast.finance, run=run)
    # A batch per township: township b's household has no account while
    # township a's batch is issued.
    household_b = Household.objects.get(pk=sides["b"].borrower.household_id)
    Household.objects.filter(pk=household_b.pk).update(account_number="")
    batch_a = payment_batch_issue(actor=cast.finance, run=run)
    Household.objects.filter(pk=household_b.pk).update(account_number=household_b.account_number)
    batch_b = payment_batch_issue(actor=cast.finance, run=run)
    for key, batch in (("a", batch_a), ("b", batch_b)):
        side = sides[key]
        side.batch = batch
        side.line = SubsidyLine.objects.get(run=run, loan=side.loan)
        side.report = _stored_report(
            cast,
            kind=Report.Kind.COUNTY,
            fmt=Report.Format.PDF,
            township=side.township,
            programme=programme,
        )
    county_report = _stored_report(
        cast, kind=Report.Kind.COUNTY, fmt=Report.Format.PDF, programme=programme
    )
    payout_report = _stored_report(cast, kind=Report.Kind.PAYOUT, fmt=Report.Format.PDF, run=run)
    api_key, key = api_key_issue(actor=cast.county, user=cast.coop, coop=coop)
    fund = fund_save(actor=cast.county, name="墨江县振兴贷风险补偿金", programmes=[programme])
    movement_record(
        actor=cast.finance,
        fund=fund,
        kind="deposit",
        on=TODAY,
        amount=Decimal("2000000.00"),
        voucher="FUND-1",
    )
    for side in sides.values():
        side.claim = _filed_claim(fund, coop, side.loan)
    return SimpleNamespace(
        fund=fund,
        cast=cast,
        programme=programme,
        coop=coop,
        a=sides["a"],
        b=sides["b"],
        shared_notice=shared_notice,
        run=run,
        county_report=county_report,
        payout_report=payout_report,
        office_report=_office_report(cast),
        api_key=api_key,
        key=key,
        other_key=other_key,
        industry=Industry.objects.get(name=PIG),
        lpr=LprRate.objects.order_by("pk").first(),
    )


@pytest.fixture(scope="module")
def media_root(tmp_path_factory):
    with override_settings(MEDIA_ROOT=str(tmp_path_factory.mktemp("media"))):
        yield


@pytest.fixture(scope="module")
def world(media_root, django_db_setup, django_db_blocker):
    """The world, built once for the module; rolled back at its end. The
    subsidy run's computation, launched on commit, runs at once."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    with (
        pytest.MonkeyPatch.context() as patch,
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        patch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
        yield build_world()
        transaction.set_rollback(True)
    celery_app.conf.task_always_eager = eager


# --- Answers ----------------------------------------------------------------------


@dataclass(frozen=True)
class Redirect:
    """A 302 to the page of this URL name."""

    to: str

    def __repr__(self) -> str:
        return "302→" + self.to


LOGIN = Redirect("login")

ROLES = (
    "county",
    "township_officer_a",
    "township_officer_b",
    "coop",
    "finance",
    "auditor",
    "city",
    "province",
    "anonymous",
    # The office, a township officer and the co-op of another county (宁洱),
    # asking for Mojiang's records.
    "other_county",
    "other_officer",
    "other_coop",
)

# Left out of the table, each for its reason:
EXCLUDED = {
    # Django's admin: only for superusers, who are none of the roles.
    "admin",
    # i18n: the language switch, open to everyone by design.
    "set_language",
    # The health check for the load balancer: no data, open by design.
    "healthz",
    # Login and logout themselves (throttling is tested with them).
    "login",
    "logout",
}

# The answer to a GET, by URL name, for the roles in ROLES order (for the
# co-op on the API: with its key; every other role on the API: logged in
# to the site, which the API does not take, so 401). 405 is a POST-only view
# whose decorators the role passes.
#
#   county  twp_a  twp_b  coop  finance  auditor  city  province  anonymous
EXPECTED: dict[str, tuple] = {
    "home": (200, 200, 200, 200, 200, 200, 200, 200, LOGIN, 200, 200, 200),
    # Divisions: every role reads them; the county office adds and renames.
    "divisions:list": (200, 200, 200, 200, 200, 200, 200, 200, LOGIN, 200, 200, 200),
    "divisions:township": (200, 200, 404, 200, 200, 200, 200, 200, LOGIN, 404, 404, 404),
    "divisions:add": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 404, 403, 403),
    "divisions:edit": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 404, 403, 403),
    # The borrower registry: not the co-op; the finance bureau reads.
    "borrowers:list": (200, 200, 200, 403, 200, 200, 403, 403, LOGIN, 200, 200, 403),
    "borrowers:create": (200, 200, 200, 403, 403, 403, 403, 403, LOGIN, 200, 200, 403),
    "borrowers:detail": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "borrowers:edit": (200, 200, 404, 403, 403, 403, 403, 403, LOGIN, 404, 404, 403),
    "borrowers:driven_household_add": (
        405,
        405,
        405,
        403,
        403,
        403,
        403,
        403,
        LOGIN,
        405,
        405,
        403,
    ),
    # Import (county and townships) and export (also the auditor).
    "transfer:import": (200, 200, 200, 403, 403, 403, 403, 403, LOGIN, 200, 200, 403),
    "transfer:confirm": (405, 405, 405, 403, 403, 403, 403, 403, LOGIN, 405, 405, 403),
    "transfer:cancel": (405, 405, 405, 403, 403, 403, 403, 403, LOGIN, 405, 405, 403),
    # Nothing uploaded in this session: back to the upload page.
    "transfer:annotated": (
        Redirect("transfer:import"),
        Redirect("transfer:import"),
        Redirect("transfer:import"),
        403,
        403,
        403,
        403,
        403,
        LOGIN,
        Redirect("transfer:import"),
        Redirect("transfer:import"),
        403,
    ),
    "transfer:template": (200, 200, 200, 403, 403, 403, 403, 403, LOGIN, 200, 200, 403),
    "transfer:export": (200, 200, 200, 403, 403, 200, 403, 403, LOGIN, 200, 200, 403),
    # Enterprises: the registry roles; not the co-op nor the finance bureau.
    "enterprises:list": (200, 200, 200, 403, 403, 200, 403, 403, LOGIN, 200, 200, 403),
    "enterprises:create": (200, 200, 200, 403, 403, 403, 403, 403, LOGIN, 200, 200, 403),
    "enterprises:detail": (200, 200, 404, 403, 403, 200, 403, 403, LOGIN, 404, 404, 403),
    "enterprises:edit": (200, 200, 404, 403, 403, 403, 403, 403, LOGIN, 404, 404, 403),
    # Industries: county-wide reference data.
    "industries:list": (200, 200, 200, 200, 200, 200, 403, 403, LOGIN, 200, 200, 200),
    "industries:add_sector": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    "industries:add_kind": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    "industries:edit": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    # Programmes and the LPR table: every role reads; the county changes its
    # own programmes, the city and province offices set up theirs (a
    # county's programme is not theirs to change) and not the LPR table.
    "programmes:list": (200, 200, 200, 200, 200, 200, 200, 200, LOGIN, 200, 200, 200),
    "programmes:create": (200, 403, 403, 403, 403, 403, 200, 200, LOGIN, 200, 403, 403),
    "programmes:lpr": (200, 200, 200, 200, 200, 200, 200, 200, LOGIN, 200, 200, 200),
    "programmes:lpr_edit": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    "programmes:detail": (200, 200, 200, 200, 200, 200, 200, 200, LOGIN, 404, 404, 404),
    "programmes:edit": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 404, 403, 403),
    "programmes:copy": (405, 403, 403, 403, 403, 403, 405, 405, LOGIN, 405, 403, 403),
    # Applications: every role reads (in its scope); county and townships act.
    "applications:list": (200, 200, 200, 200, 200, 200, 403, 403, LOGIN, 200, 200, 200),
    "applications:create": (200, 200, 200, 403, 403, 403, 403, 403, LOGIN, 200, 200, 403),
    "applications:detail": (200, 200, 404, 200, 200, 200, 403, 403, LOGIN, 404, 404, 404),
    "applications:transition": (405, 405, 405, 405, 405, 405, 403, 403, LOGIN, 405, 405, 405),
    # Public notices.
    "notices:list": (200, 200, 200, 200, 200, 200, 403, 403, LOGIN, 200, 200, 200),
    "notices:create": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    "notices:release": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    "notices:detail": (200, 200, 404, 200, 200, 200, 403, 403, LOGIN, 404, 404, 404),
    "notices:pdf": (200, 200, 404, 200, 200, 200, 403, 403, LOGIN, 404, 404, 404),
    "notices:objection_add": (405, 405, 405, 405, 405, 405, 403, 403, LOGIN, 405, 405, 405),
    "notices:objection_resolve": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    # Loans: every role reads; the contract form is the county's (the co-op
    # posts contracts through the API).
    "loans:list": (200, 200, 200, 200, 200, 200, 403, 403, LOGIN, 200, 200, 200),
    "loans:create": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    "loans:detail": (200, 200, 404, 200, 200, 200, 403, 403, LOGIN, 404, 404, 404),
    # Subsidy runs: county, townships (their lines), finance, auditor; the
    # co-op reads its lines through the API only.
    "subsidies:runs": (200, 200, 200, 403, 200, 200, 403, 403, LOGIN, 200, 200, 403),
    "subsidies:start": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    "subsidies:run": (200, 200, 200, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "subsidies:progress": (200, 200, 200, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "subsidies:compute": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    "subsidies:submit": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    "subsidies:approve": (403, 403, 403, 403, 405, 403, 403, 403, LOGIN, 403, 403, 403),
    "subsidies:send_back": (403, 403, 403, 403, 405, 403, 403, 403, LOGIN, 403, 403, 403),
    "subsidies:cancel": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    # The fund: the county office sets it up, finance records deposits and
    # approves claims, the co-op files them; the city and province read the
    # funds side by side (the city sets up a fund of its own); a township
    # officer sees the claims of their township alone.
    "riskfund:list": (200, 403, 403, 200, 200, 200, 200, 200, LOGIN, 200, 403, 200),
    "riskfund:create": (200, 403, 403, 403, 403, 403, 200, 403, LOGIN, 200, 403, 403),
    "riskfund:detail": (200, 403, 403, 200, 200, 200, 200, 200, LOGIN, 404, 403, 404),
    "riskfund:edit": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 404, 403, 403),
    "riskfund:movement_create": (403, 403, 403, 403, 200, 403, 403, 403, LOGIN, 403, 403, 403),
    "riskfund:statement_pdf": (200, 403, 403, 200, 200, 200, 200, 200, LOGIN, 404, 403, 404),
    "riskfund:statement_xlsx": (200, 403, 403, 200, 200, 200, 200, 200, LOGIN, 404, 403, 404),
    "riskfund:claims": (200, 200, 200, 200, 200, 200, 403, 403, LOGIN, 200, 200, 200),
    "riskfund:claim_create": (403, 403, 403, 200, 403, 403, 403, 403, LOGIN, 403, 403, 200),
    "riskfund:claim": (200, 200, 404, 200, 200, 200, 403, 403, LOGIN, 404, 404, 404),
    "riskfund:claim_check": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    "riskfund:claim_approve": (403, 403, 403, 403, 405, 403, 403, 403, LOGIN, 403, 403, 403),
    "subsidies:line": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "subsidies:payout": (200, 200, 200, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "subsidies:issue_batch": (403, 403, 403, 403, 405, 403, 403, 403, LOGIN, 403, 403, 403),
    "subsidies:batch_file": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "subsidies:record_batch": (403, 403, 403, 403, 405, 403, 403, 403, LOGIN, 403, 403, 403),
    "subsidies:record_line": (403, 403, 403, 403, 405, 403, 403, 403, LOGIN, 403, 403, 403),
    # Stored reports: not the co-op; a township officer their own township's.
    "reports:list": (200, 200, 200, 403, 200, 200, 403, 403, LOGIN, 200, 200, 403),
    "reports:request": (405, 405, 405, 403, 405, 405, 403, 403, LOGIN, 405, 405, 403),
    "reports:detail": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "reports:progress": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "reports:download": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    "reports:statement": (200, 200, 404, 403, 200, 200, 403, 403, LOGIN, 404, 404, 403),
    # The co-op API: its key only; the site's login opens nothing there.
    "api-subsidy-lines": (401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 200),
    "api-compensation-claims": (401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 200),
    "api-compensation-claim": (401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 404),
    "api:applications": (401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 200),
    "api:loans": (401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 200),
    "api:loan": (401, 401, 401, 200, 401, 401, 401, 401, 401, 401, 401, 404),
    "api:interest-payments": (401, 401, 401, 405, 401, 401, 401, 401, 401, 401, 401, 405),
    "api:repayments": (401, 401, 401, 405, 401, 401, 401, 401, 401, 401, 401, 405),
    "api:reversals": (401, 401, 401, 405, 401, 401, 401, 401, 401, 401, 401, 405),
    # The schema and its reference page are public (README: no key needed).
    "api:schema": (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api:docs": (200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200),
    "api:not-found": (404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404, 404),
    # The change history: the auditor and the county office.
    "history:list": (200, 403, 403, 403, 403, 200, 403, 403, LOGIN, 200, 403, 403),
    "history:export": (200, 403, 403, 403, 403, 200, 403, 403, LOGIN, 200, 403, 403),
    # The co-op's API keys: the county office alone.
    "coop_keys:list": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 200, 403, 403),
    "coop_keys:issue": (405, 403, 403, 403, 403, 403, 403, 403, LOGIN, 405, 403, 403),
    "coop_keys:revoke": (200, 403, 403, 403, 403, 403, 403, 403, LOGIN, 404, 403, 403),
    # The offices above the county: their counties side by side, and one
    # county's dashboard (of a county under them: Mojiang, under both).
    "reports:league": (403, 403, 403, 403, 403, 403, 200, 200, LOGIN, 403, 403, 403),
    "reports:county-dashboard": (403, 403, 403, 403, 403, 403, 200, 200, LOGIN, 403, 403, 403),
    # The offices' consolidated reports: asked for by the offices alone; the
    # world's is the city's, which the province does not see (it has its own).
    "reports:office-request": (403, 403, 403, 403, 403, 403, 405, 405, LOGIN, 403, 403, 403),
    "reports:office-report": (403, 403, 403, 403, 403, 403, 200, 404, LOGIN, 403, 403, 403),
    "reports:office-progress": (403, 403, 403, 403, 403, 403, 200, 404, LOGIN, 403, 403, 403),
    "reports:office-download": (403, 403, 403, 403, 403, 403, 200, 404, LOGIN, 403, 403, 403),
}

# The arguments of each URL that takes some, from one township's half of
# the world (``s``: w.a or w.b).
ARGS = {
    "riskfund:detail": lambda w, s: [w.fund.pk],
    "riskfund:edit": lambda w, s: [w.fund.pk],
    "riskfund:movement_create": lambda w, s: [w.fund.pk],
    "riskfund:statement_pdf": lambda w, s: [w.fund.pk],
    "riskfund:statement_xlsx": lambda w, s: [w.fund.pk],
    "riskfund:claim": lambda w, s: [s.claim.pk],
    "riskfund:claim_check": lambda w, s: [s.claim.pk],
    "riskfund:claim_approve": lambda w, s: [s.claim.pk],
    "divisions:township": lambda w, s: [s.township.pk],
    "divisions:add": lambda w, s: [s.township.pk],
    "divisions:edit": lambda w, s: [s.village.pk],
    "borrowers:detail": lambda w, s: [s.borrower.pk],
    "borrowers:edit": lambda w, s: [s.borrower.pk],
    "borrowers:driven_household_add": lambda w, s: [s.borrower.pk],
    "enterprises:detail": lambda w, s: [s.enterprise.pk],
    "enterprises:edit": lambda w, s: [s.enterprise.pk],
    "industries:edit": lambda w, s: [w.industry.pk],
    "programmes:lpr_edit": lambda w, s: [w.lpr.pk],
    "programmes:detail": lambda w, s: [w.programme.pk],
    "programmes:edit": lambda w, s: [w.programme.pk],
    "programmes:copy": lambda w, s: [w.programme.pk],
    "applications:detail": lambda w, s: [s.submitted.pk],
    "applications:transition": lambda w, s: [s.submitted.pk],
    "notices:detail": lambda w, s: [s.notice.pk],
    "notices:pdf": lambda w, s: [s.notice.pk],
    "notices:objection_add": lambda w, s: [w.shared_notice.pk, s.entry.pk],
    "notices:objection_resolve": lambda w, s: [w.shared_notice.pk, s.objection.pk],
    "loans:detail": lambda w, s: [s.loan.pk],
    "subsidies:run": lambda w, s: [w.run.pk],
    "subsidies:progress": lambda w, s: [w.run.pk],
    "subsidies:compute": lambda w, s: [w.run.pk],
    "subsidies:submit": lambda w, s: [w.run.pk],
    "subsidies:approve": lambda w, s: [w.run.pk],
    "subsidies:send_back": lambda w, s: [w.run.pk],
    "subsidies:cancel": lambda w, s: [w.run.pk],
    "subsidies:line": lambda w, s: [s.line.pk],
    "subsidies:payout": lambda w, s: [w.run.pk],
    "subsidies:issue_batch": lambda w, s: [w.run.pk],
    "subsidies:batch_file": lambda w, s: [s.batch.pk, "xlsx"],
    "subsidies:record_batch": lambda w, s: [s.batch.pk],
    "subsidies:record_line": lambda w, s: [s.line.pk],
    "reports:detail": lambda w, s: [s.report.pk],
    "reports:progress": lambda w, s: [s.report.pk],
    "reports:download": lambda w, s: [s.report.pk],
    "reports:statement": lambda w, s: [s.borrower.pk],
    "api:loan": lambda w, s: [s.loan.contract_no],
    "api-compensation-claim": lambda w, s: [s.claim.claim_id],
    "coop_keys:revoke": lambda w, s: [w.api_key.pk],
    "history:export": lambda w, s: ["csv"],
    "reports:county-dashboard": lambda w, s: [w.cast.county_division.code],
    "reports:office-report": lambda w, s: [w.office_report.pk],
    "reports:office-progress": lambda w, s: [w.office_report.pk],
    "reports:office-download": lambda w, s: [w.office_report.pk],
}

# What a role that may not act POSTs: what a role that may would send, so
# that the refusal cannot come from a form's validation.
BODIES = {
    "divisions:add": lambda w, s: {"code": s.township.code + "009", "name": "新村"},
    "divisions:edit": lambda w, s: {"name": "改名村"},
    "industries:add_sector": lambda w, s: {"name": "新行业"},
    "industries:edit": lambda w, s: {"name": "改名"},
    "programmes:lpr": lambda w, s: {"effective_on": "2026-01-20", "one_year_rate": "3.00"},
    "programmes:lpr_edit": lambda w, s: {"effective_on": "2026-01-20", "one_year_rate": "3.00"},
    "applications:transition": lambda w, s: {"to_state": State.VILLAGE_RECOMMENDED},
    "notices:release": lambda w, s: {},
    "notices:objection_add": lambda w, s: {
        f"entry-{s.entry.pk}-raised_by": "村民",
        f"entry-{s.entry.pk}-content": "不符合条件",
    },
    "notices:objection_resolve": lambda w, s: {
        f"objection-{s.objection.pk}-outcome": "upheld",
        f"objection-{s.objection.pk}-resolution": "核实属实",
    },
    "subsidies:record_batch": lambda w, s: {
        f"batch{s.batch.pk}-paid_on": "2026-02-01",
        f"batch{s.batch.pk}-voucher_no": "PZ-1",
    },
    "subsidies:record_line": lambda w, s: {
        "outcome": "paid",
        f"line{s.line.pk}-paid_on": "2026-02-01",
        f"line{s.line.pk}-voucher_no": "PZ-1",
    },
    "subsidies:send_back": lambda w, s: {"send-back-reason": "数据有误"},
    "subsidies:cancel": lambda w, s: {"cancel-reason": "重新计算"},
    "coop_keys:issue": lambda w, s: {"user": w.cast.coop.pk, "coop": w.coop.pk},
    "reports:request": lambda w, s: {
        "kind": Report.Kind.COUNTY,
        "format": Report.Format.PDF,
        "programme": w.programme.pk,
        "as_of": "2025-12-31",
    },
    "reports:office-request": lambda w, s: {
        "report": "consolidated:pdf",
        "as_of": "2025-12-31",
    },
    "api:loans": lambda w, s: {
        "application": s.noticed.pk,
        "contract_no": "MJ-2025-X001",
        "principal": "100000.00",
        "annual_rate": "0.034500",
        "disbursed_on": "2025-07-01",
        "maturity_on": "2027-07-01",
    },
    "api:interest-payments": lambda w, s: {
        "txn_id": "X-1",
        "contract_no": s.loan.contract_no,
        "period_start": "2025-12-21",
        "period_end": "2026-03-20",
        "due_on": "2026-03-20",
        "paid_on": "2026-03-20",
        "amount": "862.50",
    },
    "api:repayments": lambda w, s: {
        "txn_id": "X-2",
        "contract_no": s.loan.contract_no,
        "paid_on": "2026-03-20",
        "amount": "10000.00",
    },
    "api:reversals": lambda w, s: {
        "txn_id": "X-3",
        "reverses_txn_id": f"{s.loan.contract_no}-20250620",
        "reason": "重复入账",
        "paid_on": "2026-03-20",
    },
    "api-compensation-claims": lambda w, s: {
        "claim_id": "X-CLAIM-1",
        "contract_no": s.loan.contract_no,
        "claimed_on": "2026-06-19",
    },
}

# Roles that pass a view's decorators (GET answers 200 or 405) but may not
# act, and what their POST gets from the view or its service.
#
#   county  twp_a  twp_b  coop  finance  auditor  city  province  anonymous   (None: may act)
REFUSED_POSTS: dict[str, tuple] = {
    "programmes:lpr": (None, 403, 403, 403, 403, 403, 403, 403, LOGIN, None, 403, 403),
    # The offices may copy programmes, but only their own region's.
    "programmes:copy": (None, 403, 403, 403, 403, 403, 403, 403, LOGIN, 404, 403, 403),
    # Recommending is the township's step: the co-op, the finance bureau
    # and the auditor are refused by the service; township b never sees it.
    "applications:transition": (None, None, 404, 403, 403, 403, 403, 403, LOGIN, 404, 404, 404),
    "notices:objection_add": (None, None, 404, 403, 403, 403, 403, 403, LOGIN, 404, 404, 404),
    "borrowers:driven_household_add": (
        None,
        None,
        404,
        403,
        403,
        403,
        403,
        403,
        LOGIN,
        404,
        404,
        403,
    ),
    # Another county's co-op posting Mojiang's contracts: no such contract
    # (an application) in its counties, nothing recorded.
    "api:loans": (None, None, None, None, None, None, None, None, None, None, None, 400),
    "api:interest-payments": (
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        400,
    ),
    "api:repayments": (None, None, None, None, None, None, None, None, None, None, None, 400),
    "api:reversals": (None, None, None, None, None, None, None, None, None, None, None, 400),
    # Another county's co-op claiming on Mojiang's loan: no such contract of
    # its own, nothing filed.
    "api-compensation-claims": (
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        400,
    ),
    # Another county's office, officer and co-op, on Mojiang's records.
    "notices:objection_resolve": (
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        None,
        404,
        None,
        None,
    ),
    "subsidies:compute": (None, None, None, None, None, None, None, None, None, 404, None, None),
    "subsidies:submit": (None, None, None, None, None, None, None, None, None, 404, None, None),
    "subsidies:cancel": (None, None, None, None, None, None, None, None, None, 404, None, None),
    "riskfund:claim_check": (None, None, None, None, None, None, None, None, None, 404, None, None),
}

DENIED = (401, 403, 404, LOGIN)

# Views that answer GET alone: a POST may get 405 instead of the refusal a
# GET gets, depending on whether the method is checked before the login and
# the permission or after them (before the record is looked up, always).
GET_ONLY = {
    "transfer:annotated",
    "transfer:template",
    "transfer:export",
    "subsidies:payout",
    "subsidies:batch_file",
    "reports:statement",
    "history:list",
    "history:export",
    # The co-op API's loan and claim: the method is refused before the
    # record is looked up, so another county's co-op learns nothing from the 405.
    "api:loan",
    "api-compensation-claim",
}


def refused_post(name: str, got, expected) -> bool:
    """Whether a POST got the refusal expected (or a GET-only view's 405)."""
    return got == expected or (name in GET_ONLY and got == 405)


def url_names() -> set[str]:
    """Every named URL of the project, with its namespace."""
    names = set()

    def walk(resolver, namespace):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace
                walk(pattern, ":".join(filter(None, [namespace, inner])) or None)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver(), None)
    return {name for name in names if name.split(":")[0] not in EXCLUDED}


def is_api(name: str) -> bool:
    return name.startswith("api")


def url_of(world, name: str, side) -> str:
    if name == "api:not-found":
        # The API's catch-all: any path under /api/v1/ that names nothing.
        return "/api/v1/no-such-endpoint/"
    args = ARGS.get(name)
    return reverse(name, args=args(world, side) if args else None)


def client_for(world, role: str, name: str):
    """The role's client: logged in to the site, or for the co-op on the
    API, sending its key."""
    if role == "anonymous":
        return Client()
    if role in ("coop", "other_coop") and is_api(name):
        client = APIClient()
        key = world.key if role == "coop" else world.other_key
        client.credentials(HTTP_AUTHORIZATION="Token " + key)
        return client
    client = Client()
    client.force_login(getattr(world.cast, role))
    return client


def answer(response):
    """The status, or for a redirect where it goes (by URL name)."""
    if response.streaming:
        # Read to its end, which closes the file (as the test client
        # closes a response, without closing the database connection).
        b"".join(response.streaming_content)
    if response.status_code in (301, 302):
        target = resolve(response.url.split("?")[0])
        return Redirect(target.view_name)
    return response.status_code


def post(client, name: str, url: str, body: dict):
    if is_api(name):
        return client.post(url, body, content_type="application/json")
    return client.post(url, body)


# Models whose rows a refused request must leave alone: the project's apps,
# their history tables included (an update shows there as a new row).
TRACKED_APPS = ("accounts", "beneficiaries", "loans", "riskfund", "subsidies", "reports")


def row_counts() -> dict[str, int]:
    return {
        model._meta.label: model._default_manager.count()
        for app in TRACKED_APPS
        for model in apps.get_app_config(app).get_models()
    }


# --- The matrix --------------------------------------------------------------------


def test_every_url_name_has_a_row():
    """A new URL needs its row in the table before this passes."""
    names = url_names()
    assert names - set(EXPECTED) == set(), "URL names with no row in EXPECTED"
    assert set(EXPECTED) - names == set(), "rows in EXPECTED for URL names that do not exist"
    assert all(len(row) == len(ROLES) for row in EXPECTED.values())
    assert set(ARGS) | set(BODIES) | set(REFUSED_POSTS) <= names


def test_the_tables_columns_are_every_role_two_townships_and_another_county(world):
    cast = world.cast
    others = ("other_county", "other_officer", "other_coop")
    users = [getattr(cast, role) for role in ROLES if role not in ("anonymous", *others)]
    assert sorted(role_of(user) for user in users) == sorted([*Role, Role.TOWNSHIP])
    assert township_of(cast.township_officer_a) == world.a.township
    assert township_of(cast.township_officer_b) == world.b.township != world.a.township
    assert [role_of(getattr(cast, role)) for role in others] == [
        Role.COUNTY,
        Role.TOWNSHIP,
        Role.COOP,
    ]
    mojiang = (cast.county_division.pk,)
    assert counties_of(cast.county) == mojiang
    assert {counties_of(getattr(cast, role)) for role in others} == {
        (Division.objects.get(code=NINGER).pk,)
    }


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_role_gets_the_expected_answer(world, name):
    url = url_of(world, name, world.a)
    wrong = {}
    for role, expected in zip(ROLES, EXPECTED[name], strict=True):
        got = answer(client_for(world, role, name).get(url))
        if got != expected:
            wrong[role] = (got, expected)
    assert wrong == {}, f"GET {url}: role: (got, expected)"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_a_role_that_may_not_act_is_refused_a_post_and_nothing_changes(world, name):
    url = url_of(world, name, world.a)
    body = BODIES.get(name, lambda w, s: {})(world, world.a)
    refused = dict(zip(ROLES, REFUSED_POSTS.get(name, (None,) * len(ROLES)), strict=True))
    before = row_counts()
    wrong = {}
    for role, on_get in zip(ROLES, EXPECTED[name], strict=True):
        expected = on_get if on_get in DENIED else refused[role]
        if expected is None:
            continue
        got = answer(post(client_for(world, role, name), name, url, body))
        if not refused_post(name, got, expected):
            wrong[role] = (got, expected)
    assert wrong == {}, f"POST {url}: role: (got, expected)"
    assert row_counts() == before


def _scoped_names(world) -> list[str]:
    """URL names whose arguments are one township's records."""
    return sorted(
        name
        for name, args in ARGS.items()
        if args(world, world.a) != args(world, world.b) and not is_api(name)
    )


def test_an_officer_gets_for_the_other_townships_records_what_the_other_officer_gets_for_theirs(
    world,
):
    """Township a's officer on township b's records, against the table's
    column of township b's officer on township a's: 404 wherever a record
    lies outside the officer's township."""
    names = _scoped_names(world)
    assert {"borrowers:detail", "loans:detail", "subsidies:batch_file", "reports:download"} <= set(
        names
    )
    officer_b = ROLES.index("township_officer_b")
    wrong = {}
    for name in names:
        url = url_of(world, name, world.b)
        client = client_for(world, "township_officer_a", name)
        expected = EXPECTED[name][officer_b]
        got = answer(client.get(url))
        if got != expected:
            wrong["GET " + url] = (got, expected)
        on_get = EXPECTED[name][officer_b]
        if on_get in DENIED:
            expected = on_get
        else:
            expected = REFUSED_POSTS.get(name, (None,) * len(ROLES))[officer_b]
        if expected is None:
            continue
        before = row_counts()
        got = answer(client.post(url, BODIES.get(name, lambda w, s: {})(world, world.b)))
        if not refused_post(name, got, expected):
            wrong["POST " + url] = (got, expected)
        assert row_counts() == before, url
    assert wrong == {}


def test_an_officer_cannot_apply_for_or_register_into_another_township(world):
    client = client_for(world, "township_officer_a", "")
    before = row_counts()
    # The other township's borrower named in the link is not offered.
    page = client.get(
        reverse("applications:create"),
        {"borrower": world.b.people[2].pk, "programme": world.programme.pk},
    )
    assert page.status_code == 200
    assert_no_marks(page.content.decode(), world.b, "applications:create?borrower=b")
    # Posted all the same: sent back to choose again, nothing written.
    response = client.post(
        reverse("applications:create"),
        {
            "programme": world.programme.pk,
            "borrower": world.b.people[2].pk,
            "amount": "50000.00",
            "term_months": "24",
            "industry": world.industry.pk,
            "purpose": "养猪",
        },
    )
    assert answer(response) == Redirect("applications:create")
    # A household of the other township, by its head's ID number.
    response = client.post(
        reverse("borrowers:create"),
        {
            "household_mode": "existing",
            "existing_head_id_number": world.b.borrower.household.head_id_number,
            "name": "周新",
            "id_number": resident_id(901, birth="19900101"),
            "phone": mobile(901),
            "industry": world.industry.pk,
            "positions-TOTAL_FORMS": "0",
            "positions-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 400
    assert "existing_head_id_number" in response.context["choice_form"].errors
    # Nor linked as driven by one of the officer's own borrowers.
    response = client.post(
        reverse("borrowers:driven_household_add", args=[world.a.borrower.pk]),
        {
            "head_id_number": world.b.borrower.household.head_id_number,
            "benefit": "wages",
            "yearly_amount": "3000.00",
        },
    )
    assert response.status_code == 400
    assert "head_id_number" in response.context["driven_form"].errors
    assert row_counts() == before


# --- What township a's officer sees ------------------------------------------------------


def marks_of(side) -> dict[str, str]:
    """Everything that would give away one of the township's people:
    names, ID, mobile and account numbers (whole and masked), the
    enterprise, the contract number."""
    marks = {}
    for person in side.people:
        marks[person.name] = "name"
        marks[person.id_number] = "ID number"
        marks[mask_resident_id(person.id_number)] = "masked ID number"
        marks[person.phone] = "mobile number"
        marks[mask_phone(person.phone)] = "masked mobile number"
    marks[SIDES[side.key]["account"]] = "account number"
    marks[side.enterprise.name] = "enterprise"
    marks[side.enterprise.credit_code] = "credit code"
    marks[side.loan.contract_no] = "contract number"
    marks[side.village.name] = "village"
    return marks


def found_marks(text: str, side) -> dict[str, str]:
    return {mark: what for mark, what in marks_of(side).items() if mark in text}


def assert_no_marks(text: str, side, where: str) -> None:
    assert found_marks(text, side) == {}, where


def text_of(response) -> str:
    """A page's HTML, a PDF's text, a workbook's cells, a JSON body."""
    content = b"".join(response.streaming_content) if response.streaming else response.content
    kind = response.get("Content-Type", "")
    if kind.startswith("application/pdf"):
        return subprocess.run(
            ["pdftotext", "-layout", "-", "-"], input=content, capture_output=True, check=True
        ).stdout.decode()
    if "spreadsheetml" in kind:
        workbook = load_workbook(io.BytesIO(content), read_only=True)
        return "\n".join(
            " ".join(str(cell) for cell in row if cell is not None)
            for sheet in workbook.worksheets
            for row in sheet.iter_rows(values_only=True)
        )
    return content.decode()


def without_query(text: str, query: dict) -> str:
    """The page without what was searched for, which the search box and the
    page's links echo: the other marks of a person found (their masked ID
    number, village, contract) still give them away."""
    return text.replace(query["q"], "") if "q" in query else text


def _looks(world) -> list[tuple[str, dict, bool]]:
    """(URL, query, whether the county's answer shows township b's people):
    every list, search, export and report page, searched for b's people."""
    b = world.b
    person = b.borrower
    return [
        (reverse("home"), {}, False),
        (reverse("divisions:list"), {}, False),
        (reverse("borrowers:list"), {}, True),
        (reverse("borrowers:list"), {"q": person.name}, True),
        (reverse("borrowers:list"), {"q": person.id_number}, True),
        (reverse("borrowers:list"), {"q": person.id_number[-4:]}, True),
        (reverse("borrowers:list"), {"q": person.phone}, True),
        (reverse("borrowers:list"), {"township": b.township.pk}, True),
        (reverse("borrowers:list"), {"village": b.village.pk}, True),
        (reverse("borrowers:list"), {"sort": "newest"}, True),
        (reverse("transfer:export"), {}, True),
        (reverse("transfer:export"), {"q": person.name}, True),
        (reverse("transfer:export"), {"township": b.township.pk}, True),
        (reverse("enterprises:list"), {}, True),
        (reverse("enterprises:list"), {"q": b.enterprise.name}, True),
        (reverse("enterprises:list"), {"q": b.enterprise.credit_code}, True),
        (reverse("industries:list"), {}, False),
        (reverse("applications:list"), {}, True),
        (reverse("applications:list"), {"q": person.name}, True),
        (reverse("applications:list"), {"township": b.township.pk}, True),
        (reverse("applications:create"), {"q": b.people[2].name}, True),
        (reverse("loans:list"), {}, True),
        (reverse("loans:list"), {"q": person.name}, True),
        (reverse("loans:list"), {"q": b.loan.contract_no}, True),
        (reverse("loans:list"), {"township": b.township.pk}, True),
        (reverse("notices:list"), {}, False),
        (reverse("notices:detail", args=[world.shared_notice.pk]), {}, True),
        (reverse("notices:pdf", args=[world.shared_notice.pk]), {}, True),
        (reverse("programmes:detail", args=[world.programme.pk]), {}, False),
        (reverse("subsidies:runs"), {}, False),
        (reverse("subsidies:run", args=[world.run.pk]), {}, True),
        (reverse("subsidies:run", args=[world.run.pk]), {"township": b.township.pk}, True),
        (reverse("subsidies:payout", args=[world.run.pk]), {}, True),
        (reverse("subsidies:payout", args=[world.run.pk]), {"payment": "issued"}, True),
        (reverse("reports:list"), {}, False),
    ]


def test_the_other_townships_people_appear_nowhere_an_officer_looks(world):
    """Every list, search, export and report page township a's officer
    opens, searched for township b's people, shows none of them; the
    county officer's answer to the same request shows them, so the check
    can fail."""
    officer = client_for(world, "township_officer_a", "")
    county = client_for(world, "county", "")
    leaks, blind = {}, []
    for url, query, county_sees in _looks(world):
        response = officer.get(url, query)
        assert response.status_code == 200, (url, query)
        found = found_marks(without_query(text_of(response), query), world.b)
        if found:
            leaks[f"{url}?{query}"] = found
        shown = without_query(text_of(county.get(url, query)), query)
        if county_sees and not found_marks(shown, world.b):
            blind.append(f"{url}?{query}")
    assert leaks == {}
    assert blind == []


# The co-op API's lists.
API_LISTS = ("api:applications", "api:loans", "api-subsidy-lines", "api-compensation-claims")


def test_the_api_shows_nothing_to_an_officer(world):
    officer = client_for(world, "township_officer_a", "")
    for name in API_LISTS:
        response = officer.get(reverse(name))
        assert response.status_code == 401
        assert_no_marks(text_of(response), world.b, name)
        assert_no_marks(text_of(response), world.a, name)


def test_mojiangs_people_appear_nowhere_another_county_looks(world):
    """Every list, search, export and report page, opened by 宁洱's office
    and its township officer and searched for Mojiang's people (the pages
    of Mojiang's own records are a 404, the filters by its townships a
    field error or, for an export, a 400), and the API lists with 宁洱's co-op key: none of either
    township's people, nor Mojiang's notices or loans."""
    leaks = {}
    for role in ("other_county", "other_officer"):
        client = client_for(world, role, "")
        for url, query, _county_sees in _looks(world):
            response = client.get(url, query)
            # 400: an export asked for by another county's township.
            assert response.status_code in (200, 400, 404), (role, url, query)
            text = without_query(text_of(response), query)
            for side in (world.a, world.b):
                found = found_marks(text, side)
                if found:
                    leaks[f"{role} {url}?{query}"] = found
        notices = client.get(reverse("notices:list")).context["notices"]
        assert list(notices) == [], role
        assert client.get(reverse("loans:list")).context["total"] == 0, role
    coop = client_for(world, "other_coop", "api:loans")
    for name in API_LISTS:
        response = coop.get(reverse(name))
        assert response.status_code == 200, name
        for side in (world.a, world.b):
            found = found_marks(text_of(response), side)
            if found:
                leaks["other_coop " + name] = found
    assert leaks == {}


def test_an_officers_counts_are_their_townships(world):
    officer = client_for(world, "township_officer_a", "")
    township = world.a.township

    listing = officer.get(reverse("applications:list")).context["listing"]
    assert listing.total == Application.objects.filter(township=township).count() == 3
    assert sum(count.count for count in listing.state_counts) == listing.total

    total = officer.get(reverse("loans:list")).context["total"]
    assert total == Loan.objects.filter(township=township).count() == 1

    notices = {n.pk: n for n in officer.get(reverse("notices:list")).context["notices"]}
    assert set(notices) == {world.a.notice.pk, world.shared_notice.pk}
    assert notices[world.shared_notice.pk].entry_count == 1

    page = officer.get(reverse("subsidies:run", args=[world.run.pk])).context
    own_lines = SubsidyLine.objects.filter(run=world.run, township=township)
    assert page["totals"].line_count == own_lines.count() == 1
    assert page["totals"].due == own_lines.aggregate(due=Sum("amount_due"))["due"]
    assert [row.name for row in page["townships"]] == [township.name]

    reports = officer.get(reverse("reports:list")).context["reports"]
    assert [report.pk for report in reports] == [world.a.report.pk]


def test_the_payout_page_counts_an_officers_own_lines_and_batches(world):
    """The batches a township officer sees, and their line counts and
    totals, are those of their own township's lines."""
    officer = client_for(world, "township_officer_a", "")
    page = officer.get(reverse("subsidies:payout", args=[world.run.pk])).context
    own = SubsidyLine.objects.filter(run=world.run, township=world.a.township)
    assert page["summary"]["due"]["count"] == own.filter(amount_due__gt=0).count() == 1
    shown = {batch.pk: batch for batch in page["batches"]}
    assert set(shown) == {world.a.batch.pk}
    batch = shown[world.a.batch.pk]
    figures = own.filter(batch=batch).aggregate(count=Count("pk"), total=Sum("amount_due"))
    assert (batch.line_count, batch.total) == (figures["count"], figures["total"])
    # The county sees both batches, each whole.
    county = client_for(world, "county", "")
    batches = county.get(reverse("subsidies:payout", args=[world.run.pk])).context["batches"]
    assert {batch.pk: batch.line_count for batch in batches} == {
        world.a.batch.pk: 1,
        world.b.batch.pk: 1,
    }
    assert PaymentBatch.objects.filter(run=world.run).count() == 2


@pytest.fixture
def report_launch_at_once(monkeypatch):
    monkeypatch.setattr("reports.services._after_commit", lambda callback: callback())


@pytest.mark.parametrize(
    "kind, fmt",
    [
        (Report.Kind.COUNTY, Report.Format.PDF),
        (Report.Kind.COUNTY, Report.Format.XLSX),
        (Report.Kind.PAYOUT, Report.Format.PDF),
        (Report.Kind.PAYOUT, Report.Format.XLSX),
        (Report.Kind.RUN_NOTICE, Report.Format.PDF),
    ],
)
def test_a_report_an_officer_asks_for_covers_their_township_alone(
    world, report_launch_at_once, kind, fmt
):
    """Even asked for township b (the form has no such field for them)."""
    officer = client_for(world, "township_officer_a", "")
    if kind == Report.Kind.COUNTY:
        of = {"programme": world.programme.pk, "as_of": "2025-12-31"}
    else:
        of = {"run": world.run.pk}
    response = officer.post(
        reverse("reports:request"),
        {"kind": kind, "format": fmt, "township": world.b.township.pk, **of},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    report = Report.objects.get(pk=resolve(response.url).kwargs["pk"])
    assert (report.state, report.township) == (Report.State.DONE, world.a.township), report.error
    text = text_of(officer.get(reverse("reports:download", args=[report.pk])))
    assert_no_marks(text, world.b, f"{kind} {fmt}")
    assert world.b.township.name not in text
    assert world.a.township.name in text
    if kind != Report.Kind.COUNTY:
        # The lists name people: township a's are there.
        assert world.a.borrower.name in text
    # Township b's officer cannot open it.
    other = client_for(world, "township_officer_b", "")
    assert other.get(reverse("reports:download", args=[report.pk])).status_code == 404

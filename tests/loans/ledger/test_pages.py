"""The loan pages: who may open them, township isolation, the list with its
ledger totals and filters, a loan's schedule beside its ledger, and the
contract form."""

import datetime
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from loans.ledger import views as loan_views
from loans.ledger.services import loan_statuses_record
from loans.ledger.views import rate_percent, term_in_months
from loans.models import Loan
from loans.programmes.services import PROGRAMME_FIELDS
from tests.loans.ledger.test_selectors import (
    WORKED_PERIODS,
    post_interest,
    release,
    repay,
    worked_loan,
)
from tests.loans.ledger.test_selectors import reverse as reverse_entry

D = datetime.date
TODAY = D(2025, 3, 1)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    """Show every page as of 1 March 2025, after the worked example matured."""
    monkeypatch.setattr(loan_views, "_today", lambda: TODAY)


@pytest.fixture
def loans(cast, programme, people, coop):
    """The worked example in township a with two quarters posted and a
    repayment, and a loan in township b."""
    a = worked_loan(cast, programme, people, coop, contract_no="MJ-2024-0001")
    post_interest(cast, coop, a, "I-1", WORKED_PERIODS[0], "680.42")
    post_interest(cast, coop, a, "I-2", WORKED_PERIODS[1], "881.67", paid_on=D(2024, 6, 24))
    repay(cast, coop, a, "P-1", D(2024, 6, 21), "40000.00")
    b = worked_loan(
        cast, programme, people, coop, contract_no="MJ-2024-0002", township=cast.township_b
    )
    return a, b


def as_user(client, user):
    client.force_login(user)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


def rows_of(response, testid: str) -> list[list[str]]:
    """The body rows of the table marked ``data-testid=testid``, as cell texts."""
    html = response.content.decode()
    table = re.search(rf'<table[^>]*data-testid="{testid}"[^>]*>(.*?)</table>', html, re.S)
    assert table, testid
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


def field_error(response, name: str) -> str:
    html = response.content.decode()
    match = re.search(rf'data-testid="error-{name}">(.*?)</div>', html, re.S)
    return text(match.group(1)) if match else ""


# --- Who may open each page -------------------------------------------------


@pytest.mark.parametrize(
    "who", ["county", "township_officer_a", "township_officer_b", "coop", "finance", "auditor"]
)
def test_every_staff_role_may_open_the_list(client, cast, loans, who):
    assert as_user(client, getattr(cast, who)).get(reverse("loans:list")).status_code == 200


DETAIL_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "township_officer_b": 404,
    "coop": 200,  # read-only in the browser, county-wide
    "finance": 200,
    "auditor": 200,
}


@pytest.mark.parametrize(("who", "status"), DETAIL_ACCESS.items())
def test_a_loan_is_shown_to_its_township_and_the_county_wide_roles(
    client, cast, loans, who, status
):
    response = as_user(client, getattr(cast, who)).get(reverse("loans:detail", args=[loans[0].pk]))
    assert response.status_code == status


def test_a_loan_that_does_not_exist_is_a_404(client, cast, loans):
    response = as_user(client, cast.county).get(reverse("loans:detail", args=[999999]))
    assert response.status_code == 404


CREATE_ACCESS = {
    "county": 200,
    "township_officer_a": 403,
    "coop": 403,  # posts contracts through the API, not the browser
    "finance": 403,
    "auditor": 403,
}


@pytest.mark.parametrize(("who", "status"), CREATE_ACCESS.items())
def test_only_county_staff_record_contracts_in_the_browser(client, cast, loans, who, status):
    response = as_user(client, getattr(cast, who)).get(reverse("loans:create"))
    assert response.status_code == status


def test_the_coop_cannot_post_the_contract_form_either(client, cast, programme, people, coop):
    application = release(cast, programme, people)
    response = as_user(client, cast.coop).post(
        reverse("loans:create"), contract_form(application, coop)
    )
    assert response.status_code == 403
    assert not Loan.objects.exists()


def test_a_user_without_a_role_sees_no_loan_page(client, loans, roleless_user):
    client = as_user(client, roleless_user)
    assert client.get(reverse("loans:list")).status_code == 403
    assert client.get(reverse("loans:detail", args=[loans[0].pk])).status_code == 403


@pytest.mark.parametrize("name", ["loans:list", "loans:detail", "loans:create"])
def test_anonymous_visitors_are_sent_to_log_in(client, loans, name):
    args = [loans[0].pk] if name == "loans:detail" else []
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_only_county_staff_are_offered_the_contract_form(client, cast, loans):
    assert "/loans/new/" in as_user(client, cast.county).get("/loans/").content.decode()
    client.logout()
    assert "/loans/new/" not in as_user(client, cast.coop).get("/loans/").content.decode()


# --- The list -----------------------------------------------------------------


def contracts_listed(response) -> list[str]:
    return [loan.contract_no for loan in response.context["loans"]]


def test_a_township_officer_never_sees_another_townships_loans_or_counts(client, cast, loans):
    response = as_user(client, cast.township_officer_b).get(reverse("loans:list"))
    assert contracts_listed(response) == ["MJ-2024-0002"]
    assert response.context["total"] == 1
    assert sum(s.count for s in response.context["status_counts"]) == 1
    assert "MJ-2024-0001" not in response.content.decode()
    # Naming the other township changes nothing: the filter is not offered.
    response = client.get(reverse("loans:list"), {"township": cast.township_a.pk})
    assert contracts_listed(response) == ["MJ-2024-0002"]
    assert 'name="township"' not in response.content.decode()


def test_the_county_filters_by_township(client, cast, loans):
    client = as_user(client, cast.county)
    assert sorted(contracts_listed(client.get("/loans/"))) == ["MJ-2024-0001", "MJ-2024-0002"]
    response = client.get("/loans/", {"township": cast.township_a.pk})
    assert contracts_listed(response) == ["MJ-2024-0001"]
    assert response.context["total"] == 1


def test_the_list_searches_contract_numbers_and_borrower_names(client, cast, loans):
    client = as_user(client, cast.county)
    assert contracts_listed(client.get("/loans/", {"q": "0002"})) == ["MJ-2024-0002"]
    assert len(contracts_listed(client.get("/loans/", {"q": "李四"}))) == 2
    response = client.get("/loans/", {"q": "张三丰"})
    assert contracts_listed(response) == []
    assert "没有符合条件的贷款" in response.content.decode()


def test_the_list_filters_by_programme(client, cast, loans, programme):
    client = as_user(client, cast.county)
    assert len(contracts_listed(client.get("/loans/", {"programme": programme.pk}))) == 2
    # Another county's programme is not a choice: the filter says so and is
    # left out; a programme of the county's with no loans lists none.
    other = type(programme).objects.exclude(region_code__in=["530822", "530800", "530000"]).first()
    response = client.get("/loans/", {"programme": other.pk})
    assert len(contracts_listed(response)) == 2
    assert 'data-testid="filter-error-programme"' in response.content.decode()
    empty = type(programme).objects.create(
        **{name: getattr(programme, name) for name in PROGRAMME_FIELDS} | {"year": 2031}
    )
    assert contracts_listed(client.get("/loans/", {"programme": empty.pk})) == []


def test_the_list_filters_by_status_and_counts_each_status(client, cast, loans):
    loan_statuses_record(today=TODAY)  # both matured on 2025-01-10 with principal left
    a, b = loans
    repay(cast, a.coop, b, "B-P-1", D(2025, 2, 1), "100000.00")
    client = as_user(client, cast.county)
    response = client.get("/loans/")
    counts = {s.value: s.count for s in response.context["status_counts"]}
    assert counts == {"active": 0, "overdue": 1, "repaid": 1, "written_off": 0}
    assert contracts_listed(client.get("/loans/", {"status": "overdue"})) == ["MJ-2024-0001"]
    response = client.get("/loans/", {"status": "repaid"})
    assert contracts_listed(response) == ["MJ-2024-0002"]
    # The counts stay those of every status, so each tab says what it holds.
    assert {s.value: s.count for s in response.context["status_counts"]}["overdue"] == 1
    html = response.content.decode()
    assert 'class="status-badge status-repaid"' in html


def test_the_list_shows_balance_and_interest_paid_from_the_ledger(client, cast, loans):
    response = as_user(client, cast.county).get("/loans/", {"q": "0001"})
    (row,) = rows_of_list(response)
    assert row[0] == "MJ-2024-0001"
    assert row[3:9] == [
        "100,000.00",
        "3.45%",
        "2024-01-10",
        "2025-01-10",
        "60,000.00",
        "1,562.09",
    ]
    (loan,) = response.context["loans"]
    position = loan_views.selectors.loan_position(loan, on=TODAY)
    assert (loan.balance, loan.interest_paid) == (position.balance, position.interest_paid)


def rows_of_list(response):
    html = response.content.decode()
    body = re.search(r'<table class="data-table loan-table">.*?<tbody>(.*?)</tbody>', html, re.S)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)
    return [[text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in rows]


@pytest.fixture
def many_loans(cast, programme, people, coop):
    def make(count: int):
        for number in range(Loan.objects.count(), count):
            loan = worked_loan(cast, programme, people, coop, contract_no=f"MJ-2024-{number:04d}")
            post_interest(cast, coop, loan, f"I-{number}", WORKED_PERIODS[0], "680.42")
            repay(cast, coop, loan, f"P-{number}", D(2024, 6, 21), "1000.00")

    return make


def test_the_list_reads_the_same_number_of_queries_for_3_or_30_loans(
    client, cast, many_loans, django_assert_max_num_queries
):
    client = as_user(client, cast.county)
    many_loans(3)
    client.get("/loans/")  # the session and the like settle on the first request
    with CaptureQueriesContext(connection) as few:
        response = client.get("/loans/")
    assert len(response.context["loans"]) == 3
    many_loans(30)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get("/loans/")
    assert len(response.context["loans"]) == 30
    assert all(loan.balance == Decimal("99000.00") for loan in response.context["loans"])


# --- One loan ---------------------------------------------------------------------


def test_the_detail_shows_the_worked_examples_schedule_beside_its_ledger(
    client, cast, programme, people, coop
):
    loan = worked_loan(cast, programme, people, coop)
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "680.42")
    post_interest(cast, coop, loan, "I-2", WORKED_PERIODS[1], "881.67")
    response = as_user(client, cast.county).get(reverse("loans:detail", args=[loan.pk]))
    schedule = rows_of(response, "schedule")
    assert [row[4] for row in schedule if row] == [
        "680.42",
        "881.67",
        "881.67",
        "872.08",
        "191.67",
    ]
    assert [row[2] for row in schedule if row] == ["71", "92", "92", "91", "20"]
    assert schedule[0][1] == "2024-01-10 – 2024-03-20"
    ledger = rows_of(response, "ledger")
    assert ledger[0][:4] == ["I-1", "2024-03-20", "680.42", "0.00"]
    assert ledger[1][:4] == ["I-2", "2024-06-20", "881.67", "0.00"]
    # The three later periods were due by 1 March 2025 and nothing came.
    assert [row[0] for row in ledger[2:]] == [
        "缺失 应于 2024-09-20 结息，未见入账。",
        "缺失 应于 2024-12-20 结息，未见入账。",
        "缺失 应于 2025-01-10 结息，未见入账。",
    ]
    html = response.content.decode()
    assert 'data-testid="side-by-side"' in html
    assert "3,507.51" in html  # the expected total
    assert "1,562.09" in html  # the posted total


def test_the_detail_flags_differences_late_payments_and_reversals(
    client, cast, programme, people, coop
):
    loan = worked_loan(cast, programme, people, coop)
    post_interest(cast, coop, loan, "I-1", WORKED_PERIODS[0], "690.42")  # 10.00 over
    post_interest(cast, coop, loan, "I-2", WORKED_PERIODS[1], "881.67", paid_on=D(2024, 6, 28))
    post_interest(cast, coop, loan, "I-3", WORKED_PERIODS[2], "900.00")
    reverse_entry(cast, coop, "R-3", "I-3", paid_on=D(2024, 9, 25), reason="金额有误")
    post_interest(cast, coop, loan, "I-3b", WORKED_PERIODS[2], "881.67", paid_on=D(2024, 9, 25))
    response = as_user(client, cast.county).get(reverse("loans:detail", args=[loan.pk]))
    html = response.content.decode()
    ledger = rows_of(response, "ledger")
    assert ledger[0][3] == "+10.00" and "超出容差" in ledger[0][4]
    assert re.search(r'<tr class="entry beyond" data-period="1" data-txn="I-1">', html)
    assert ledger[1][3] == "0.00" and "逾期缴付" in ledger[1][4]
    assert "逾期缴付" not in ledger[0][4]
    # The reversed entry is struck through, its reversal under it, then the correction.
    assert ledger[2][0] == "I-3" and "<del>I-3</del>" in html
    assert ledger[3][0] == "↳ R-3" and "金额有误" in ledger[3][4]
    assert ledger[4][:3] == ["I-3b", "2024-09-25", "881.67"]
    # The schedule spans period 3 over the three ledger lines, keeping the tables level.
    assert re.search(r'<td class="num" rowspan="3">3</td>', html)
    assert html.count('<tr class="continuation" aria-hidden="true"></tr>') == 2


def test_the_detail_shows_the_balance_history_after_a_repayment(client, cast, loans):
    response = as_user(client, cast.county).get(reverse("loans:detail", args=[loans[0].pk]))
    assert rows_of(response, "balance-history") == [
        ["2024-01-10", "放款", "+100,000.00", "100,000.00"],
        ["2024-06-21", "偿还本金", "-40,000.00", "60,000.00"],
    ]
    assert rows_of(response, "repayments") == [["P-1", "2024-06-21", "40,000.00", ""]]
    html = response.content.decode()
    assert '<svg class="balance-chart"' in html
    assert "style=" not in html.split('<main class="content">')[1]
    schedule = rows_of(response, "schedule")
    assert [row[4] for row in schedule if row][2:] == ["529.00", "523.25", "115.00"]


def test_the_detail_shows_todays_position_and_recorded_status_changes(client, cast, loans):
    loan_statuses_record(today=TODAY)
    response = as_user(client, cast.county).get(reverse("loans:detail", args=[loans[0].pk]))
    position = text(
        re.search(r'data-testid="position">(.*?)</dl>', response.content.decode(), re.S).group(1)
    )
    assert "余额 60,000.00" in position
    assert "已还本金 40,000.00" in position
    assert "已付利息 1,562.09" in position
    assert "逾期" in position
    assert rows_of(response, "status-changes") == [["2025-03-01", "正常", "逾期"]]


def test_the_borrower_is_linked_for_roles_that_see_the_registry(client, cast, loans):
    loan = loans[0]
    borrower_url = reverse("borrowers:detail", args=[loan.application.borrower_id])
    assert borrower_url in as_user(client, cast.county).get(f"/loans/{loan.pk}/").content.decode()
    client.logout()
    html = as_user(client, cast.coop).get(f"/loans/{loan.pk}/").content.decode()
    assert borrower_url not in html
    assert loan.application.borrower.name in html


def test_the_loan_links_to_its_application(client, cast, loans):
    loan = loans[0]
    html = as_user(client, cast.county).get(f"/loans/{loan.pk}/").content.decode()
    assert f'href="/applications/{loan.application_id}/" data-testid="application-link"' in html


# --- The contract form ---------------------------------------------------------------


def contract_form(application, coop, **overrides):
    data = {
        "application": application.pk,
        "coop": coop.pk,
        "contract_no": "MJ-2024-0100",
        "principal": "100000.00",
        "annual_rate": "3.45",
        "disbursed_on": "2024-01-10",
        "maturity_on": "2025-01-10",
    }
    data.update(overrides)
    return data


def test_the_form_preselects_the_application_and_its_approved_amount(
    client, cast, programme, people, coop
):
    application = release(cast, programme, people)
    response = as_user(client, cast.county).get(
        reverse("loans:create"), {"application": application.pk}
    )
    form = response.context["form"]
    assert form.initial == {"application": application.pk, "principal": application.amount}
    assert form["coop"].value() == coop.pk  # the only co-op


def test_the_form_says_why_an_application_cannot_be_lent(client, cast, loans):
    response = as_user(client, cast.county).get(
        reverse("loans:create"), {"application": loans[0].application_id}
    )
    assert "已有合同" in response.content.decode()
    assert response.context["form"].initial == {}


def test_the_form_offers_only_released_applications_without_a_loan(
    client, cast, programme, people, coop, loans
):
    waiting = release(cast, programme, people)
    response = as_user(client, cast.county).get(reverse("loans:create"))
    offered = list(response.context["form"].fields["application"].queryset)
    assert offered == [waiting]


def test_a_contract_is_recorded_with_the_rate_as_a_fraction(client, cast, programme, people, coop):
    application = release(cast, programme, people)
    response = as_user(client, cast.county).post(
        reverse("loans:create"), contract_form(application, coop)
    )
    loan = Loan.objects.get()
    assert response.status_code == 302
    assert response.url == reverse("loans:detail", args=[loan.pk])
    assert loan.annual_rate == Decimal("0.034500")
    assert (loan.principal, loan.disbursed_on, loan.maturity_on) == (
        Decimal("100000.00"),
        D(2024, 1, 10),
        D(2025, 1, 10),
    )
    assert loan.history.get().history_user == cast.county


def test_a_contract_that_breaks_the_programme_is_refused_field_by_field(
    client, cast, programme, people, coop
):
    application = release(cast, programme, people)
    response = as_user(client, cast.county).post(
        reverse("loans:create"),
        contract_form(
            application,
            coop,
            principal="100000.01",
            annual_rate="4.36",
            maturity_on="2028-01-11",
        ),
    )
    assert response.status_code == 400
    assert not Loan.objects.exists()
    assert "超过" in field_error(response, "principal")
    assert "100,000.00" in field_error(response, "principal")
    assert "上限" in field_error(response, "annual_rate")
    assert "4.3500%" in field_error(response, "annual_rate")
    assert "2024-07-10" in field_error(response, "maturity_on")
    assert "2027-01-10" in field_error(response, "maturity_on")
    assert "未保存" in response.content.decode()


def test_a_duplicate_contract_number_is_refused(client, cast, programme, people, coop, loans):
    application = release(cast, programme, people)
    response = as_user(client, cast.county).post(
        reverse("loans:create"), contract_form(application, coop, contract_no="MJ-2024-0001")
    )
    assert response.status_code == 400
    assert "MJ-2024-0001" in field_error(response, "contract_no")
    assert "已被使用" in field_error(response, "contract_no")
    assert Loan.objects.count() == 2


def test_the_form_refuses_a_maturity_before_the_disbursement(client, cast, programme, people, coop):
    application = release(cast, programme, people)
    response = as_user(client, cast.county).post(
        reverse("loans:create"),
        contract_form(application, coop, disbursed_on="2024-01-10", maturity_on="2024-01-01"),
    )
    assert response.status_code == 400
    assert "到期日须晚于放款日" in field_error(response, "maturity_on")
    assert not Loan.objects.exists()


def test_an_application_already_lent_is_refused(client, cast, programme, people, coop, loans):
    data = contract_form(release(cast, programme, people), coop)
    data["application"] = loans[0].application_id
    response = as_user(client, cast.county).post(reverse("loans:create"), data)
    assert response.status_code == 400
    assert "尚无合同" in field_error(response, "application")
    assert Loan.objects.count() == 2


# --- Small helpers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rate", "shown"),
    [
        ("0.034500", "3.45%"),
        ("0.043500", "4.35%"),
        ("0.030000", "3.00%"),
        ("0.034567", "3.4567%"),
        ("0.034560", "3.456%"),
    ],
)
def test_rates_show_as_percentages_with_two_to_four_decimals(rate, shown):
    assert rate_percent(Decimal(rate)) == shown


def test_the_term_counts_whole_months_and_the_days_left():
    assert term_in_months(D(2024, 1, 10), D(2025, 1, 10)) == (12, 0)
    assert term_in_months(D(2024, 1, 10), D(2025, 1, 9)) == (11, 30)
    assert term_in_months(D(2024, 1, 31), D(2024, 2, 29)) == (1, 0)

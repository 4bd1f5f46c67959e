"""The subsidy run pages: who may see and do what, township isolation of
the lines and their totals, the start form and the reasons refused with
nothing changed, four eyes, the progress JSON, and a line's working set
against the stored line.

The run is computed eagerly (no broker), so ``subsidy_run_start`` leaves a
computed run. The year's figures are worked by hand below, never read back
from the code under test.
"""

import datetime
import re
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.urls import reverse

from loans.models import Programme
from subsidies.models import SubsidyAdjustment, SubsidyLine, SubsidyRun, SubsidyRunPart
from subsidies.runs import views as run_views
from subsidies.runs.services import (
    subsidy_run_approve,
    subsidy_run_start,
    subsidy_run_submit,
    subsidy_runs_start_due,
)
from tests.loans.applications.test_flow import contract
from tests.loans.ledger.test_pages import as_user, text
from tests.loans.ledger.test_selectors import WORKED_PERIODS, post_interest, release, repay

D = datetime.date
State = SubsidyRun.State
# A day in 2026 before 20 December: subsidy year 2025 is over, 2026 is not.
TODAY = D(2026, 3, 1)

# Subsidy year 2025 runs from 2024-12-21 to 2025-12-20.
QUARTERS_2025 = [
    (D(2025, 1, 15), D(2025, 3, 20)),  # 65 days
    (D(2025, 3, 21), D(2025, 6, 20)),  # 92 days
    (D(2025, 6, 21), D(2025, 9, 20)),  # 92 days
    (D(2025, 9, 21), D(2025, 12, 20)),  # 91 days
]


def build_year(cast, programme, people, coop):
    """Three loans in subsidy year 2025, with figures worked by hand
    (3.45 % a year on basis 360):

    * A, township a: the worked example (100,000 from 2024-01-10), repaid at
      maturity on 2025-01-10; its last period, 2024-12-21 .. 2025-01-09
      (20 days), pays 191.67: subsidy 191.67, reconciles.
    * B, township a: 80,000 from 2025-01-15; 498.33 (65 days), 705.33 paid
      5 days late (92 days, not subsidised), 710.00 where 705.33 is expected
      (4.67 over: the subsidy takes 705.33), 697.67 (91 days). Reported
      2,611.33, expected 2,606.66, eligible and subsidy 1,901.33; 92 days
      late and off by 4.67: an exception.
    * C, township b: 72,000 at 3.5 % from 2025-01-15, 7.00 a day; 455.00,
      644.00, 644.00 posted, the last quarter (91 days, 637.00 expected) not:
      subsidy 1,743.00, expected 2,380.00; 91 days unreported and off by
      -637.00. (Whole yuan: SQLite checks the adjustment's constraint in
      floating point.)
    """
    a = contract(
        cast,
        release(cast, programme, people),
        coop,
        contract_no="MJ-2024-0001",
        disbursed_on=D(2024, 1, 10),
        maturity_on=D(2025, 1, 10),
    )
    for index, (period, amount) in enumerate(
        zip(WORKED_PERIODS, ["680.42", "881.67", "881.67", "872.08", "191.67"], strict=True)
    ):
        post_interest(cast, coop, a, "A-I-%d" % index, period, amount)
    repay(cast, coop, a, "A-P-1", D(2025, 1, 10), "100000.00")

    b = contract(
        cast,
        release(cast, programme, people),
        coop,
        contract_no="MJ-2025-0002",
        principal=Decimal("80000.00"),
        disbursed_on=D(2025, 1, 15),
        maturity_on=D(2027, 1, 15),
    )
    post_interest(cast, coop, b, "B-I-1", QUARTERS_2025[0], "498.33")
    post_interest(cast, coop, b, "B-I-2", QUARTERS_2025[1], "705.33", paid_on=D(2025, 6, 25))
    post_interest(cast, coop, b, "B-I-3", QUARTERS_2025[2], "710.00")
    post_interest(cast, coop, b, "B-I-4", QUARTERS_2025[3], "697.67")

    c = contract(
        cast,
        release(cast, programme, people, township=cast.township_b),
        coop,
        contract_no="MJ-2025-0003",
        principal=Decimal("72000.00"),
        annual_rate=Decimal("0.035000"),
        disbursed_on=D(2025, 1, 15),
        maturity_on=D(2027, 1, 15),
    )
    post_interest(cast, coop, c, "C-I-1", QUARTERS_2025[0], "455.00")
    post_interest(cast, coop, c, "C-I-2", QUARTERS_2025[1], "644.00")
    post_interest(cast, coop, c, "C-I-3", QUARTERS_2025[2], "644.00")
    return SimpleNamespace(a=a, b=b, c=c)


@pytest.fixture(autouse=True)
def fixed_today(monkeypatch):
    monkeypatch.setattr(run_views, "_today", lambda: TODAY)


@pytest.fixture
def loans(cast, programme, people, coop):
    return build_year(cast, programme, people, coop)


@pytest.fixture
def run(cast, programme, loans) -> SubsidyRun:
    """The computed run of 2025 (computed at once: Celery is eager)."""
    run = subsidy_run_start(actor=cast.county, programme=programme, year=2025, today=TODAY)
    run.refresh_from_db()
    assert run.state == State.COMPUTED
    return run


def line_of(run, loan) -> SubsidyLine:
    return SubsidyLine.objects.get(run=run, loan=loan)


def rows_of(response, testid: str) -> list[list[str]]:
    """The body rows of the table marked ``data-testid=testid``, as cell
    texts, row headers (<th>) included, unlike tests/loans' helper."""
    html = response.content.decode()
    table = re.search(rf'<table[^>]*data-testid="{testid}"[^>]*>(.*?)</table>', html, re.S)
    assert table, testid
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.S).group(1)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [
        [text(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)] for row in rows
    ]


def figure(response, name: str) -> str:
    match = re.search(rf'data-figure="{name}">(.*?)</dd>', response.content.decode(), re.S)
    assert match, name
    return text(match.group(1))


def field_error(response, name: str) -> str:
    match = re.search(rf'data-testid="error-{name}">(.*?)</div>', response.content.decode(), re.S)
    return text(match.group(1)) if match else ""


def html_of(response) -> str:
    return response.content.decode()


def messages_of(response) -> list[str]:
    return [
        text(m)
        for m in re.findall(r'<li class="message[^"]*">(.*?)</li>', response.content.decode(), re.S)
    ]


# --- The computed figures, as the pages show them ------------------------------------


def test_the_run_computes_the_figures_worked_by_hand(run, loans):
    a, b, c = line_of(run, loans.a), line_of(run, loans.b), line_of(run, loans.c)
    assert (a.subsidy, a.expected_interest, a.reconciliation_flag) == (
        Decimal("191.67"),
        Decimal("191.67"),
        False,
    )
    assert (b.reported_interest, b.expected_interest, b.subsidy, b.days_late) == (
        Decimal("2611.33"),
        Decimal("2606.66"),
        Decimal("1901.33"),
        92,
    )
    assert (c.subsidy, c.expected_interest, c.days_unreported) == (
        Decimal("1743.00"),
        Decimal("2380.00"),
        91,
    )
    assert run.total_subsidy == Decimal("3836.00")
    assert run.flagged_count == 2


# --- Who may open each page ----------------------------------------------------------

PAGE_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "township_officer_b": 200,
    "coop": 403,  # reads its lines through the API, never these pages
    "finance": 200,
    "auditor": 200,
}


@pytest.mark.parametrize(("who", "status"), PAGE_ACCESS.items())
def test_the_run_pages_are_for_the_staff_roles_but_not_the_coop(client, cast, run, who, status):
    client = as_user(client, getattr(cast, who))
    assert client.get(reverse("subsidies:runs")).status_code == status
    assert client.get(reverse("subsidies:run", args=[run.pk])).status_code == status
    assert client.get(reverse("subsidies:progress", args=[run.pk])).status_code == status


def test_a_user_without_a_role_is_refused_and_a_visitor_sent_to_log_in(client, run, roleless_user):
    assert client.get(reverse("subsidies:runs")).status_code == 302
    assert client.get(reverse("subsidies:run", args=[run.pk]))["Location"].startswith("/login/")
    as_user(client, roleless_user)
    assert client.get(reverse("subsidies:runs")).status_code == 403


LINE_ACCESS = {
    "county": 200,
    "township_officer_a": 200,
    "township_officer_b": 404,  # another township's line: as if it did not exist
    "coop": 403,
    "finance": 200,
    "auditor": 200,
}


@pytest.mark.parametrize(("who", "status"), LINE_ACCESS.items())
def test_a_line_is_shown_to_its_township_and_the_county_wide_roles(
    client, cast, run, loans, who, status
):
    line = line_of(run, loans.b)  # township a
    response = as_user(client, getattr(cast, who)).get(reverse("subsidies:line", args=[line.pk]))
    assert response.status_code == status


def test_a_run_or_line_that_does_not_exist_is_a_404(client, cast, run):
    client = as_user(client, cast.county)
    assert client.get(reverse("subsidies:run", args=[999999])).status_code == 404
    assert client.get(reverse("subsidies:line", args=[999999])).status_code == 404


ACTIONS = ["subsidies:compute", "subsidies:submit", "subsidies:approve"]


@pytest.mark.parametrize("who", ["township_officer_a", "auditor", "coop"])
def test_township_officers_auditors_and_the_coop_change_nothing(client, cast, run, who):
    client = as_user(client, getattr(cast, who))
    start = client.post(reverse("subsidies:start"), {"programme": run.programme_id, "year": 2025})
    assert start.status_code == 403
    for name in ACTIONS:
        assert client.post(reverse(name, args=[run.pk])).status_code == 403, name
    for name in ("subsidies:send_back", "subsidies:cancel"):
        response = client.post(
            reverse(name, args=[run.pk]), {"send-back-reason": "x", "cancel-reason": "x"}
        )
        assert response.status_code == 403, name
    run.refresh_from_db()
    assert (run.state, run.generation) == (State.COMPUTED, 1)
    assert run.transitions.count() == 3  # started, computing, computed


def test_finance_neither_starts_nor_submits_and_the_county_does_not_approve(client, cast, run):
    finance = as_user(client, cast.finance)
    assert finance.post(reverse("subsidies:compute", args=[run.pk])).status_code == 403
    assert finance.post(reverse("subsidies:submit", args=[run.pk])).status_code == 403
    county = as_user(client, cast.county)
    subsidy_run_submit(actor=cast.county, run=run)
    assert county.post(reverse("subsidies:approve", args=[run.pk])).status_code == 403
    run.refresh_from_db()
    assert run.state == State.SUBMITTED


def test_actions_are_only_posted(client, cast, run):
    client = as_user(client, cast.county)
    assert client.get(reverse("subsidies:submit", args=[run.pk])).status_code == 405
    assert client.get(reverse("subsidies:start")).status_code == 405


# --- The list and the start form -----------------------------------------------------


def run_row(response, run) -> list[str]:
    html = response.content.decode()
    match = re.search(rf'<tr data-testid="run-{run.pk}">(.*?)</tr>', html, re.S)
    assert match, run.pk
    return [text(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", match.group(1), re.S)]


def test_the_list_shows_each_run_with_its_figures(client, cast, run):
    response = as_user(client, cast.county).get(reverse("subsidies:runs"))
    programme, year, state, lines, subsidy, due, exceptions, started, approved = run_row(
        response, run
    )
    assert programme.startswith("振兴贷 2025")
    assert (year, state, lines, subsidy, due, exceptions) == (
        "2025",
        "已计算",
        "3",
        "3,836.00",
        "3,836.00",
        "2",
    )
    assert started.startswith("county-officer")
    assert approved == "—"


@pytest.mark.parametrize(
    ("who", "figures"),
    [
        ("township_officer_a", ["2", "2,093.00", "2,093.00", "1"]),  # A 191.67 + B 1,901.33
        ("township_officer_b", ["1", "1,743.00", "1,743.00", "1"]),  # C
    ],
)
def test_a_township_officer_sees_the_totals_of_their_own_lines(client, cast, run, who, figures):
    response = as_user(client, getattr(cast, who)).get(reverse("subsidies:runs"))
    assert run_row(response, run)[3:7] == figures
    assert "start-form" not in response.content.decode()


def test_the_list_filters_by_programme_and_state(client, cast, run):
    client = as_user(client, cast.county)
    other = Programme.objects.get(name="振兴贷", year=2024, region_code="530822")
    assert (
        f"run-{run.pk}"
        in client.get(reverse("subsidies:runs"), {"state": "computed"}).content.decode()
    )
    for params in ({"state": "approved"}, {"programme": other.pk}):
        response = client.get(reverse("subsidies:runs"), params)
        assert f"run-{run.pk}" not in response.content.decode()
        assert rows_of(response, "runs") == [["还没有补贴核算。"]]


def test_the_county_is_offered_the_last_finished_year_of_an_active_programme(
    client, cast, programme
):
    response = as_user(client, cast.county).get(reverse("subsidies:runs"))
    form = response.context["start_form"]
    assert form["year"].value() == 2025  # on 2026-03-01 the 2026 year runs to 20 December
    assert form["programme"].value() == programme.pk
    # Every active programme is offered; 振兴贷 2026 had not begun by 2025.
    offered = {(p.name, p.year) for p in form.fields["programme"].queryset}
    assert offered == {("振兴贷", 2024), ("振兴贷", 2025), ("振兴贷", 2026)}
    # Only Mojiang's: 精扶贷 (铜仁市) and 扶贫贷 (凌源市) are run elsewhere.
    filters = {p.name for p in response.context["filter_form"].fields["programme"].queryset}
    assert filters == {"振兴贷"}


def test_the_county_starts_a_run_and_sees_it_computed(client, cast, programme, loans):
    client = as_user(client, cast.county)
    response = client.post(reverse("subsidies:start"), {"programme": programme.pk, "year": 2025})
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    assert response.status_code == 302
    assert response["Location"] == reverse("subsidies:run", args=[run.pk])
    page = client.get(response["Location"])
    assert run.state == State.COMPUTED
    assert figure(page, "subsidy") == "3,836.00"
    assert figure(page, "lines") == "3"
    assert any("已开始" in message for message in messages_of(page))
    assert [step[0] for step in run.transitions.values_list("to_state")] == [
        "draft",
        "computing",
        "computed",
    ]
    assert run.created_by == cast.county


def test_a_run_the_schedule_started_shows_it_started_in_nobodys_name(
    client, cast, programme, loans
):
    subsidy_runs_start_due(today=TODAY)
    run = SubsidyRun.objects.get(programme=programme, year=2025)
    client = as_user(client, cast.county)
    page = client.get(reverse("subsidies:run", args=[run.pk]))
    assert "定时任务于" in text(page.content.decode())
    assert figure(page, "subsidy") == "3,836.00"
    assert run_row(client.get(reverse("subsidies:runs")), run)[7].startswith("系统")


def test_a_year_that_is_not_over_is_refused_next_to_the_year(client, cast, programme, loans):
    response = as_user(client, cast.county).post(
        reverse("subsidies:start"), {"programme": programme.pk, "year": 2026}
    )
    assert response.status_code == 400
    assert field_error(response, "year") == "2026 年度贴息期至 2026-12-20 结束，次日起方可计算。"
    assert not SubsidyRun.objects.exists()


def test_a_year_is_refused_while_the_year_before_is_not_approved(
    client, cast, programme, run, monkeypatch
):
    monkeypatch.setattr(run_views, "_today", lambda: D(2027, 1, 5))
    response = as_user(client, cast.county).post(
        reverse("subsidies:start"), {"programme": programme.pk, "year": 2026}
    )
    assert response.status_code == 400
    assert field_error(response, "year") == "2025 年度的补贴核算尚未审批，请先审批或作废。"
    assert list(SubsidyRun.objects.values_list("year", flat=True)) == [2025]


def test_a_year_that_is_not_a_number_is_refused(client, cast, programme):
    response = as_user(client, cast.county).post(
        reverse("subsidies:start"), {"programme": programme.pk, "year": "二〇二五"}
    )
    assert response.status_code == 400
    assert field_error(response, "year") == "输入整数。"
    assert not SubsidyRun.objects.exists()


# --- A run's page: figures and township isolation --------------------------------------


def test_the_run_page_shows_the_rule_totals_townships_and_exceptions(client, cast, run):
    response = as_user(client, cast.county).get(reverse("subsidies:run", args=[run.pk]))
    figures = {
        name: figure(response, name)
        for name in ("lines", "reported", "expected", "eligible", "subsidy", "due", "exceptions")
    }
    assert figures == {
        "lines": "3",
        "reported": "4,546.00",  # 191.67 + 2,611.33 + 1,743.00
        "expected": "5,178.33",  # 191.67 + 2,606.66 + 2,380.00
        "eligible": "3,836.00",  # 191.67 + 1,901.33 + 1,743.00
        "subsidy": "3,836.00",
        "due": "3,836.00",
        "exceptions": "2",
    }
    townships = rows_of(response, "townships")
    assert [row[:5] for row in townships] == [
        ["联珠镇", "2", "2,803.00", "2,798.33", "2,093.00"],
        ["通关镇", "1", "1,743.00", "2,380.00", "1,743.00"],
    ]
    exceptions = rows_of(response, "exceptions")
    assert [row[:7] for row in exceptions] == [
        ["MJ-2025-0002", "李四", "联珠镇", "2,611.33", "2,606.66", "+4.67", "92"],
        ["MJ-2025-0003", "李四", "通关镇", "1,743.00", "2,380.00", "-637.00", "91"],
    ]
    assert exceptions[0][7] == "对账不符 迟付：92 天"
    assert exceptions[1][7] == "对账不符 未报送：91 天"
    parameters = text(
        re.search(r'data-testid="parameters">(.*?)</dl>', response.content.decode(), re.S).group(1)
    )
    assert "2024-12-21 至 2025-12-20（含首尾两日）" in parameters
    assert "一年按 360 天计" in parameters
    assert "1.00 元" in parameters


def test_the_lines_are_listed_with_their_figures_and_filtered(client, cast, run, loans):
    client = as_user(client, cast.county)
    url = reverse("subsidies:run", args=[run.pk])
    lines = rows_of(client.get(url), "lines")
    assert [row[2:9] for row in lines] == [
        ["MJ-2024-0001", "20", "191.67", "191.67", "191.67", "—", "191.67"],
        ["MJ-2025-0002", "248", "2,611.33", "1,901.33", "1,901.33", "—", "1,901.33"],
        ["MJ-2025-0003", "249", "1,743.00", "1,743.00", "1,743.00", "—", "1,743.00"],
    ]
    assert lines[0][:2] == ["李四", "联珠镇 · 碧溪村"]
    assert lines[0][10] == "未发放"
    only_b = rows_of(client.get(url, {"township": cast.township_b.pk}), "lines")
    assert [row[2] for row in only_b] == ["MJ-2025-0003"]
    exceptions_a = rows_of(
        client.get(url, {"township": cast.township_a.pk, "exceptions": "on"}), "lines"
    )
    assert [row[2] for row in exceptions_a] == ["MJ-2025-0002"]


def test_the_lines_are_paged_keeping_the_filter(client, cast, run, monkeypatch):
    monkeypatch.setattr(run_views, "PAGE_SIZE", 1)
    client = as_user(client, cast.county)
    url = reverse("subsidies:run", args=[run.pk])
    params = {"township": cast.township_a.pk}
    first = client.get(url, params)
    assert [row[2] for row in rows_of(first, "lines")] == ["MJ-2024-0001"]
    assert f'href="?township={cast.township_a.pk}&amp;page=2"' in first.content.decode()
    second = client.get(url, {**params, "page": 2})
    assert [row[2] for row in rows_of(second, "lines")] == ["MJ-2025-0002"]


def test_a_township_officer_sees_only_their_townships_lines_and_totals(client, cast, run):
    response = as_user(client, cast.township_officer_b).get(reverse("subsidies:run", args=[run.pk]))
    assert figure(response, "lines") == "1"
    assert figure(response, "subsidy") == "1,743.00"
    assert figure(response, "reported") == "1,743.00"
    assert figure(response, "expected") == "2,380.00"
    assert figure(response, "exceptions") == "1"
    assert [row[0] for row in rows_of(response, "townships")] == ["通关镇"]
    assert [row[0] for row in rows_of(response, "exceptions")] == ["MJ-2025-0003"]
    assert [row[2] for row in rows_of(response, "lines")] == ["MJ-2025-0003"]
    html = response.content.decode()
    assert "MJ-2025-0002" not in html and "MJ-2024-0001" not in html
    assert "联珠镇" not in text(html.split('data-testid="parameters"')[1])
    # Asking for the other township's lines by the filter shows nothing.
    other = as_user(client, cast.township_officer_b).get(
        reverse("subsidies:run", args=[run.pk]), {"township": cast.township_a.pk}
    )
    assert "MJ-2025-0002" not in other.content.decode()
    assert 'data-testid="actions"' not in html


def test_the_auditor_reads_everything_and_is_offered_no_action(client, cast, run):
    response = as_user(client, cast.auditor).get(reverse("subsidies:run", args=[run.pk]))
    assert figure(response, "subsidy") == "3,836.00"
    assert 'data-testid="actions"' not in response.content.decode()


# --- The steps: recompute, submit, approve, send back, cancel ------------------------


def buttons(response) -> set[str]:
    """The run's own steps (not the buttons that ask for its reports)."""
    found = re.findall(r'<button[^>]*data-testid="([a-z_-]+)"', response.content.decode())
    return {name for name in found if not name.startswith("request-")}


def test_each_role_is_offered_its_own_steps(client, cast, run):
    url = reverse("subsidies:run", args=[run.pk])
    assert buttons(as_user(client, cast.county).get(url)) == {"submit", "recompute", "cancel"}
    assert buttons(as_user(client, cast.finance).get(url)) == set()
    subsidy_run_submit(actor=cast.county, run=run)
    assert buttons(as_user(client, cast.county).get(url)) == {"cancel"}
    assert buttons(as_user(client, cast.finance).get(url)) == {"approve", "send-back"}


def test_the_county_recomputes_and_submits_and_finance_approves(client, cast, run):
    county = as_user(client, cast.county)
    response = county.post(reverse("subsidies:compute", args=[run.pk]), follow=True)
    assert response.redirect_chain == [(reverse("subsidies:run", args=[run.pk]), 302)]
    assert messages_of(response) == ["正在重新计算。"]
    run.refresh_from_db()
    assert (run.state, run.generation, run.total_subsidy) == (
        State.COMPUTED,
        2,
        Decimal("3836.00"),
    )
    response = county.post(reverse("subsidies:submit", args=[run.pk]), follow=True)
    assert messages_of(response) == ["已提交财政局审批。"]
    run.refresh_from_db()
    assert (run.state, run.submitted_by) == (State.SUBMITTED, cast.county)

    finance = as_user(client, cast.finance)
    response = finance.post(reverse("subsidies:approve", args=[run.pk]), follow=True)
    run.refresh_from_db()
    assert (run.state, run.approved_by) == (State.APPROVED, cast.finance)
    assert messages_of(response) == ["已审批，核算结果已锁定。"]
    html = response.content.decode()
    assert reverse("subsidies:payout", args=[run.pk]) in html
    steps = re.findall(r'class="step-name">([^<]*)<', html)
    assert steps == ["发起", "计算中", "已计算", "重新计算", "已计算", "已提交审批", "已审批"]
    # Approved: frozen, nothing more to do here but pay.
    assert (
        buttons(as_user(client, cast.county).get(reverse("subsidies:run", args=[run.pk]))) == set()
    )


def test_the_submitter_is_not_offered_the_approval_and_is_refused_it(client, cast, run):
    """Even holding the finance bureau's permission, whoever submitted a run
    cannot approve it: the button is not there, and a POST is refused in
    words, with nothing changed."""
    from django.contrib.auth.models import Permission

    cast.county.user_permissions.add(Permission.objects.get(codename="approve_subsidyrun"))
    subsidy_run_submit(actor=cast.county, run=run)
    client = as_user(client, cast.county)
    url = reverse("subsidies:run", args=[run.pk])
    page = client.get(url)
    assert "approve" not in buttons(page)
    assert "send-back" in buttons(page)
    assert "该核算由您提交，须由其他人审批。" in text(page.content.decode())

    response = client.post(reverse("subsidies:approve", args=[run.pk]))
    assert response.status_code == 403
    assert messages_of(response) == ["该核算由您提交，须由其他人审批。"]
    run.refresh_from_db()
    assert (run.state, run.approved_by) == (State.SUBMITTED, None)
    assert not run.transitions.filter(to_state=State.APPROVED).exists()


def test_sending_back_needs_a_reason_and_shows_it(client, cast, run):
    subsidy_run_submit(actor=cast.county, run=run)
    finance = as_user(client, cast.finance)
    url = reverse("subsidies:send_back", args=[run.pk])
    response = finance.post(url, {"send-back-reason": "  "})
    assert response.status_code == 400
    assert field_error(response, "send-back") == "请说明退回原因。"
    assert '<details class="reason-form" open data-testid="send-back-form">' in html_of(response)
    run.refresh_from_db()
    assert run.state == State.SUBMITTED

    response = finance.post(url, {"send-back-reason": "通关镇一笔未报送，请核实。"}, follow=True)
    run.refresh_from_db()
    assert (run.state, run.returned_reason, run.submitted_by) == (
        State.COMPUTED,
        "通关镇一笔未报送，请核实。",
        None,
    )
    page = as_user(client, cast.county).get(reverse("subsidies:run", args=[run.pk]))
    html = page.content.decode()
    assert "通关镇一笔未报送，请核实。" in text(html.split('data-testid="returned-reason"')[1])
    timeline = html.split('data-testid="timeline"')[1].split("</ol>")[0]
    assert "退回" in timeline and "通关镇一笔未报送，请核实。" in timeline
    assert "finance-officer" in timeline
    assert "submit" in buttons(page)  # the county may submit it again


def test_cancelling_needs_a_reason(client, cast, run):
    county = as_user(client, cast.county)
    url = reverse("subsidies:cancel", args=[run.pk])
    response = county.post(url, {"cancel-reason": ""})
    assert response.status_code == 400
    assert field_error(response, "cancel") == "请说明作废原因。"
    run.refresh_from_db()
    assert run.state == State.COMPUTED
    county.post(url, {"cancel-reason": "项目参数有误"})
    run.refresh_from_db()
    assert run.state == State.CANCELLED
    assert buttons(county.get(reverse("subsidies:run", args=[run.pk]))) == set()


def test_a_step_the_state_does_not_allow_is_refused_in_words(client, cast, run):
    response = as_user(client, cast.finance).post(reverse("subsidies:approve", args=[run.pk]))
    assert response.status_code == 400
    assert messages_of(response) == ["只有已提交的核算才能审批。"]
    run.refresh_from_db()
    assert run.state == State.COMPUTED


# --- Progress and failure ------------------------------------------------------------


def test_the_progress_of_a_computed_run_is_complete(client, cast, run):
    response = as_user(client, cast.finance).get(reverse("subsidies:progress", args=[run.pk]))
    assert response["Content-Type"] == "application/json"
    assert response.json() == {
        "state": "computed",
        "state_label": "已计算",
        "parts_done": 2,
        "parts_total": 2,
        "percent": 100,
        "done": 2,
        "total": 2,
        "finished": True,
    }


def computing(run, *, done_townships=()):
    """The run as a worker leaves it mid-way: a new computation whose parts
    are stored for ``done_townships`` only."""
    SubsidyRun.objects.filter(pk=run.pk).update(
        state=State.COMPUTING, generation=run.generation + 1, computed_at=None
    )
    SubsidyRunPart.objects.filter(run=run).delete()
    for township in done_townships:
        SubsidyRunPart.objects.create(
            run=run, township=township, generation=run.generation + 1, line_count=1
        )
    run.refresh_from_db()
    return run


def test_a_computing_run_shows_a_bar_that_its_script_updates(client, cast, run):
    run = computing(run, done_townships=[cast.township_a])
    client = as_user(client, cast.county)
    assert client.get(reverse("subsidies:progress", args=[run.pk])).json() == {
        "state": "computing",
        "state_label": "计算中",
        "parts_done": 1,
        "parts_total": 2,
        "percent": 50,
        "done": 1,
        "total": 2,
        "finished": False,
    }
    response = client.get(reverse("subsidies:run", args=[run.pk]))
    html = response.content.decode()
    bar = re.search(r'<progress[^>]*data-testid="progress-bar"[^>]*>', html).group(0)
    assert 'max="2"' in bar and 'value="1"' in bar
    assert f'data-progress-url="{reverse("subsidies:progress", args=[run.pk])}"' in html
    assert "js/progress.js" in html
    assert "已完成 1 / 2 个乡镇（50%）" in text(html)
    # Half computed: no figures, and no step but cancelling.
    assert 'data-testid="totals"' not in html
    assert buttons(response) == {"cancel"}


def test_an_older_computation_does_not_count_towards_the_progress(client, cast, run):
    run = computing(run)
    SubsidyRunPart.objects.create(
        run=run, township=cast.township_a, generation=run.generation - 1, line_count=2
    )
    progress = as_user(client, cast.county).get(reverse("subsidies:progress", args=[run.pk]))
    assert (progress.json()["parts_done"], progress.json()["percent"]) == (0, 0)


def test_a_failed_run_shows_its_error_and_may_be_recomputed(client, cast, run):
    SubsidyRun.objects.filter(pk=run.pk).update(
        state=State.FAILED,
        computed_at=None,
        error="贷款 MJ-2025-0002 于 2025-01-15 发放，早于 LPR 表中的所有利率。",
    )
    response = as_user(client, cast.county).get(reverse("subsidies:run", args=[run.pk]))
    html = response.content.decode()
    error = text(html.split('data-testid="run-error"')[1].split("</div>")[0])
    assert "计算失败" in error and "早于 LPR 表中的所有利率" in error
    assert 'data-testid="totals"' not in html
    assert buttons(response) == {"recompute", "cancel"}
    as_user(client, cast.county).post(reverse("subsidies:compute", args=[run.pk]))
    run.refresh_from_db()
    assert (run.state, run.error) == (State.COMPUTED, "")


# --- A line's working ----------------------------------------------------------------


def test_a_line_shows_the_stored_figures_and_the_working_that_gives_them(client, cast, run, loans):
    line = line_of(run, loans.b)
    response = as_user(client, cast.township_officer_a).get(
        reverse("subsidies:line", args=[line.pk])
    )
    html = response.content.decode()
    assert 'data-testid="working-mismatch"' not in html
    shown = {
        name: figure(response, name)
        for name in ("reported", "expected", "difference", "eligible", "subsidy", "due")
    }
    assert shown == {
        "reported": "2,611.33",
        "expected": "2,606.66",
        "difference": "+4.67",
        "eligible": "1,901.33",
        "subsidy": "1,901.33",
        "due": "1,901.33",
    }
    stored = {
        "reported": line.reported_interest,
        "expected": line.expected_interest,
        "difference": line.difference,
        "eligible": line.eligible_interest,
        "subsidy": line.subsidy,
        "due": line.amount_due,
    }
    assert shown == {
        name: f"{value:+,}" if name == "difference" else f"{value:,}"
        for name, value in stored.items()
    }
    for name, days in (
        ("eligible", line.eligible_days),
        ("late", line.days_late),
        ("overdue", line.days_overdue),
        ("unreported", line.days_unreported),
        ("written_off", line.days_written_off),
    ):
        assert f'data-days="{name}">{days}<' in html, name
    assert (line.eligible_days, line.days_late) == (248, 92)
    assert reverse("loans:detail", args=[loans.b.pk]) in html
    assert text(re.search(r'data-testid="quota">(.*?)</dd>', html).group(1)) == "100,000.00 元"
    assert text(re.search(r'data-testid="subsidised-rate">(.*?)</dd>', html).group(1)) == "3.45%"
    assert rows_of(response, "periods") == [
        ["B-I-1", "2025-01-15 – 2025-03-20", "2025-03-20", "2025-03-20", "是", "65",
         "498.33", "498.33", "498.33", "498.33"],
        ["B-I-2", "2025-03-21 – 2025-06-20", "2025-06-20", "2025-06-25", "否：迟付 5 天", "92",
         "705.33", "705.33", "0.00", "0.00"],
        ["B-I-3", "2025-06-21 – 2025-09-20", "2025-09-20", "2025-09-20", "是", "92",
         "710.00", "705.33", "705.33", "705.33"],
        ["B-I-4", "2025-09-21 – 2025-12-20", "2025-12-20", "2025-12-20", "是", "91",
         "697.67", "697.67", "697.67", "697.67"],
    ]  # fmt: skip
    rule = text(re.search(r'data-testid="rule-sum">(.*?)</p>', html, re.S).group(1))
    assert rule == "Σ 498.33 + 0.00 + 705.33 + 697.67 = 1,901.33 × 100.00% = 1,901.33 元"
    segments = rows_of(response, "segments")
    assert [(row[0], row[1], row[2], row[6], row[7]) for row in segments] == [
        ("2025-01-15", "2025-03-20", "65", "可贴息", "B-I-1"),
        ("2025-03-21", "2025-06-20", "92", "利息迟付", "B-I-2"),
        ("2025-06-21", "2025-09-20", "92", "可贴息", "B-I-3"),
        ("2025-09-21", "2025-12-20", "91", "可贴息", "B-I-4"),
    ]
    # 80,000 × 3.45 % ÷ 360 = 7.666… a day: 65 days 498.333333, unrounded.
    assert [row[4] for row in segments] == ["100,000.00"] * 4  # the quota left, alone
    assert segments[0][8:] == ["498.333333", "498.333333"]
    assert segments[1][8:] == ["705.333333", "0.000000"]
    assert 'class="day-row"' not in html


def test_a_stored_line_the_working_does_not_give_is_pointed_out(client, cast, run, loans):
    line = line_of(run, loans.a)
    SubsidyLine.objects.filter(pk=line.pk).update(
        subsidy=Decimal("191.66"), amount_due=Decimal("191.66")
    )
    response = as_user(client, cast.county).get(reverse("subsidies:line", args=[line.pk]))
    assert 'data-testid="working-mismatch"' in response.content.decode()
    assert figure(response, "subsidy") == "191.66"
    assert (
        text(re.search(r'data-testid="rule-subsidy">(.*?)<', response.content.decode()).group(1))
        == "191.67"
    )


def test_every_day_of_the_line_is_shown_on_request(client, cast, run, loans):
    line = line_of(run, loans.b)
    response = as_user(client, cast.county).get(
        reverse("subsidies:line", args=[line.pk]), {"days": "all"}
    )
    days = re.findall(
        r'<tr class="day-row" data-day="([0-9-]+)">(.*?)</tr>', response.content.decode(), re.S
    )
    assert len(days) == 65 + 92 + 92 + 91  # 2025-01-15 .. 2025-12-20
    first_day, first_cells = days[0]
    cells = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", first_cells, re.S)]
    assert first_day == "2025-01-15"
    assert cells[-2:] == ["7.666667", "7.666667"]  # 80,000 × 0.0345 ÷ 360
    late_day = dict(days)["2025-04-01"]
    late_cells = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", late_day, re.S)]
    assert late_cells[-2:] == ["7.666667", "0.000000"]  # paid late: nothing eligible


def test_a_line_with_unreported_days_shows_them_as_such(client, cast, run, loans):
    line = line_of(run, loans.c)
    response = as_user(client, cast.county).get(reverse("subsidies:line", args=[line.pk]))
    last = rows_of(response, "segments")[-1]
    assert (last[0], last[1], last[2], last[6], last[7]) == (
        "2025-09-21",
        "2025-12-20",
        "91",
        "未报送利息",
        "—",
    )
    assert last[8] == "637.000000"  # 72,000 × 91 × 0.035 ÷ 360
    assert 'data-days="unreported">91<' in response.content.decode()


# --- Adjustments carried into the next year ------------------------------------------


def test_an_entry_posted_after_approval_is_carried_into_the_next_run(
    client, cast, programme, coop, run, loans, monkeypatch
):
    subsidy_run_submit(actor=cast.county, run=run)
    subsidy_run_approve(actor=cast.finance, run=run)
    # The co-op posts C's last quarter of 2025 after the year was approved.
    post_interest(cast, coop, loans.c, "C-I-4", QUARTERS_2025[3], "637.00")
    monkeypatch.setattr(run_views, "_today", lambda: D(2027, 1, 5))
    client = as_user(client, cast.county)
    response = client.post(reverse("subsidies:start"), {"programme": programme.pk, "year": 2026})
    next_run = SubsidyRun.objects.get(programme=programme, year=2026)
    assert response["Location"] == reverse("subsidies:run", args=[next_run.pk])
    page = client.get(response["Location"])
    assert rows_of(page, "adjustments") == [
        [
            "MJ-2025-0003",
            "李四",
            "2025",
            "台账后补记录，该年度重新核算",
            "1,743.00",
            "2,380.00",
            "+637.00",
        ],
    ]
    assert figure(page, "adjustment") == "637.00"
    adjustment = SubsidyAdjustment.objects.get(line__run=next_run)
    assert adjustment.difference == Decimal("637.00")
    # Township a's officer sees no adjustment of township b.
    officer = as_user(client, cast.township_officer_a).get(response["Location"])
    assert 'data-testid="adjustments"' not in officer.content.decode()


@pytest.mark.parametrize("who", ["finance", "auditor"])
def test_finance_and_auditors_find_the_runs_under_payouts_too(client, cast, who):
    home = as_user(client, getattr(cast, who)).get(reverse("home")).content.decode()
    runs = reverse("subsidies:runs")
    assert f'<h2><a href="{runs}">年度贴息</a></h2>' in home
    assert f'<h2><a href="{runs}">贴息拨付</a></h2>' in home

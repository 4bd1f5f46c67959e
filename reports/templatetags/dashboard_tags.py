"""The home page's dashboard: ``{% load dashboard_tags %}{% dashboard %}``.

What it shows follows the request user's role: the county programme office
and the auditor see the county's programme at a glance, a township officer
the same for their own township, the finance bureau the runs awaiting its
approval and payment with the county's headline figures. The co-op and an
account without a role see nothing here (their home page is unchanged).

The figures come from ``reports.dashboard``; the charts from
``reports.charts``, the same drawings the PDF reports use, each with its
figures in a table beside it for readers who cannot see the chart.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.roles import Role, role_of, township_of
from common.charts import bar_chart
from common.money import yuan
from loans.models import Loan
from reports import dashboard as selectors

register = template.Library()

TEN_THOUSAND = 10_000
# Show amounts in 万元 on a chart's axis from this largest bar up.
WAN_FROM = Decimal("100000")
# Inches at 72 dpi: drawn narrower than a card, so that the page scales the
# charts' text up rather than down.
CHART_WIDTH = 5.6

COUNTY_WIDE = (Role.COUNTY, Role.AUDITOR)


def _today() -> datetime.date:
    """The day balances and overdue loans are shown as of (a seam for tests)."""
    return timezone.localdate()


def wan(amount: Decimal) -> str:
    """``43205000.00`` → ``4,320.50``: an amount in 万元, half-up to two places."""
    return yuan(amount / TEN_THOUSAND)


@dataclass(frozen=True)
class ChartRow:
    label: str
    figures: tuple[str, ...]


@dataclass(frozen=True)
class Chart:
    """An SVG chart and the same figures as a table (``headers`` over ``rows``)."""

    key: str
    title: str
    svg: str
    headers: tuple[str, ...]
    rows: list[ChartRow]


def applications_chart(counts: list[selectors.StateCount]) -> Chart:
    title = _("Applications in each state")
    return Chart(
        key="applications",
        title=title,
        svg=bar_chart(
            title="",
            labels=[count.label for count in counts],
            series=[(_("Applications"), [count.count for count in counts])],
            axis_label=_("Number of applications"),
            horizontal=True,
            width=CHART_WIDTH,
        ),
        headers=(_("State"), _("Number of applications")),
        rows=[ChartRow(count.label, (f"{count.count:,}",)) for count in counts],
    )


def disbursement_chart(months: list[selectors.MonthFigure]) -> Chart:
    return Chart(
        key="disbursement",
        title=_("Principal disbursed by month"),
        svg=bar_chart(
            title="",
            labels=[month.month.strftime("%Y-%m") for month in months],
            series=[(_("Principal disbursed"), [month.principal for month in months])],
            axis_label=_("10,000 yuan"),
            unit_divisor=TEN_THOUSAND,
            width=CHART_WIDTH,
        ),
        headers=(_("Month"), _("Number of loans"), _("Principal (yuan)")),
        rows=[
            ChartRow(month.month.strftime("%Y-%m"), (f"{month.loans:,}", yuan(month.principal)))
            for month in months
        ],
    )


def subsidy_chart(subsidy: selectors.SubsidyFigures) -> Chart:
    areas = subsidy.by_area
    in_wan = max((area.amount_due for area in areas), default=Decimal(0)) >= WAN_FROM
    if subsidy.area_is_village:
        title, area_header = _("Subsidy due by village"), _("Village")
    else:
        title, area_header = _("Subsidy due by township"), _("Township")
    return Chart(
        key="subsidy",
        title=title,
        svg=bar_chart(
            title="",
            labels=[area.name for area in areas],
            series=[(_("Amount due"), [area.amount_due for area in areas])],
            axis_label=_("10,000 yuan") if in_wan else _("yuan"),
            unit_divisor=TEN_THOUSAND if in_wan else 1,
            horizontal=True,
            width=CHART_WIDTH,
        ),
        headers=(area_header, _("Lines"), _("Amount due (yuan)")),
        rows=[ChartRow(area.name, (f"{area.lines:,}", yuan(area.amount_due))) for area in areas],
    )


def overdue_url(programme) -> str:
    """The loan list filtered to the programme's overdue loans (the status
    the daily task records)."""
    query = urlencode({"status": Loan.Status.OVERDUE, "programme": programme.pk})
    return "%s?%s" % (reverse("loans:list"), query)


def programme_context(*, user, request, today: datetime.date, charts: bool) -> dict:
    programmes = selectors.dashboard_programmes(user=user)
    programme = selectors.chosen_programme(programmes, request.GET.get("programme"))
    context = {"programmes": programmes, "programme": programme}
    if programme is None:
        return context
    loans = selectors.loan_figures(user=user, programme=programme, today=today)
    subsidy = selectors.subsidy_figures(user=user, programme=programme)
    fund = selectors.fund_standing(user=user, programme=programme, today=today)
    context.update(
        loans=loans,
        subsidy=subsidy,
        fund=fund,
        overdue_url=overdue_url(programme),
        figures={
            "principal": wan(loans.principal),
            "principal_yuan": yuan(loans.principal),
            "balance": wan(loans.balance),
            "balance_yuan": yuan(loans.balance),
            "overdue_balance": wan(loans.overdue_balance),
            "subsidy_due": wan(subsidy.due),
            "subsidy_due_yuan": yuan(subsidy.due),
            "latest_due": yuan(subsidy.latest_due),
            "interest_paid": yuan(loans.interest_paid),
            "fund_balance": wan(fund.balance) if fund else "",
            "fund_balance_yuan": yuan(fund.balance) if fund else "",
        },
    )
    if charts:
        context["charts"] = [
            applications_chart(selectors.applications_by_state(user=user, programme=programme)),
            disbursement_chart(loans.by_month),
        ]
        if subsidy.by_area:
            context["charts"].append(subsidy_chart(subsidy))
    return context


@register.inclusion_tag("reports/_dashboard.html", takes_context=True)
def dashboard(context):
    request = context["request"]
    user = request.user
    role = role_of(user)
    if role not in (*COUNTY_WIDE, Role.TOWNSHIP, Role.FINANCE):
        return {"shown": False}
    today = _today()
    result = {
        "shown": True,
        "today": today,
        "role": role,
        "is_finance": role == Role.FINANCE,
        "scope_township": township_of(user),
        "links": True,
    }
    result.update(
        programme_context(user=user, request=request, today=today, charts=role != Role.FINANCE)
    )
    if role == Role.FINANCE:
        result["awaiting_approval"] = selectors.runs_awaiting_approval(user)
        result["awaiting_payment"] = selectors.runs_awaiting_payment(user)
    return result


@register.filter
def money(amount) -> str:
    """An amount in yuan to the fen with thousands separators: ``1,234.50``."""
    return yuan(amount)


@register.inclusion_tag("reports/_work_queue.html", takes_context=True)
def work_queue(context):
    """What waits for the user (待办): counts with links; for the auditor the
    latest changes."""
    from reports.work_queue import latest_changes, work_for

    user = context["request"].user
    role = role_of(user)
    if role is None:
        return {"shown": False}
    if role == Role.AUDITOR:
        return {"shown": True, "is_auditor": True, "changes": latest_changes(user)}
    return {"shown": True, "items": work_for(user, today=_today())}

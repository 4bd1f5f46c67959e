"""Template tags of the reports for other apps' pages.

``{% run_reports run %}`` on a subsidy run's page: the buttons that ask for
its payout list and public notice (where the run's state allows them and
the user may ask), and the files already generated from it.
"""

from django import template

from accounts.roles import TOWNSHIP_BOUND_ROLES, role_of
from divisions.models import Division

from ..models import Report
from ..services import RUN_STATES, is_stale, reports_for

register = template.Library()

RUN_REPORTS = (
    (Report.Kind.PAYOUT, Report.Format.PDF),
    (Report.Kind.PAYOUT, Report.Format.XLSX),
    (Report.Kind.RUN_NOTICE, Report.Format.PDF),
)


@register.inclusion_tag("reports/_run_reports.html", takes_context=True)
def run_reports(context, run):
    user = context["request"].user
    if not user.has_perm("reports.view_report"):
        return {"shown": False}
    may_request = user.has_perm("reports.request_report")
    buttons = [
        {
            "kind": kind,
            "format": format,
            "label": Report.Kind(kind).label,
            "format_label": Report.Format(format).label,
        }
        for kind, format in RUN_REPORTS
        if may_request and run.state in RUN_STATES[kind]
    ]
    reports = list(reports_for(user).filter(run=run).select_related("requested_by"))
    for report in reports:
        report.stale = is_stale(report)
    return {
        "shown": bool(buttons or reports),
        "run": run,
        "buttons": buttons,
        "reports": reports,
        "townships": (
            None
            if role_of(user) in TOWNSHIP_BOUND_ROLES
            else Division.objects.filter(level=Division.Level.TOWNSHIP).order_by("code")
        ),
    }

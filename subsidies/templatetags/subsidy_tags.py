"""Template tags of the subsidy run for other apps' pages.

``{% borrower_subsidies borrower %}`` on the borrower page: each year's
subsidy lines of the borrower's loans.
"""

from django import template

from subsidies.models import SubsidyLine, SubsidyRun

register = template.Library()

State = SubsidyRun.State
# Runs whose lines stand: computed (being checked), submitted, or frozen.
# A draft or computing run's lines are being replaced; a failed or
# cancelled run's lines count for nothing.
SHOWN_STATES = (State.COMPUTED, State.SUBMITTED, State.APPROVED, State.PAID)


def borrower_lines(*, user, borrower):
    """The lines of the borrower's loans that ``user`` may see, newest year first."""
    if not user.has_perm("subsidies.view_subsidyline"):
        return SubsidyLine.objects.none()
    return (
        SubsidyLine.objects.for_user(user)
        .filter(loan__application__borrower=borrower, run__state__in=SHOWN_STATES)
        .select_related("run__programme", "loan")
        .order_by("-run__year", "run__programme__name", "loan__contract_no")
    )


@register.inclusion_tag("subsidies/_borrower_subsidies.html", takes_context=True)
def borrower_subsidies(context, borrower):
    user = context["request"].user
    return {
        "lines": list(borrower_lines(user=user, borrower=borrower)),
        "may_view": user.has_perm("subsidies.view_subsidyline"),
    }

"""The borrower statement as a PDF download, linked from the borrower page.

Whoever may open the borrower page may download the statement, and nobody
else: the borrower is fetched with the page's own selector, so a borrower
outside the user's township is a 404, and a role without the borrower
permission (the co-op) is refused with a 403, as on the page.
"""

import datetime
from urllib.parse import quote

from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts.services import personal_data_export_log
from beneficiaries.registry import selectors as borrower_selectors

from .statement import render_statement, statement_for

PERMISSIONS = ("beneficiaries.view_borrower", "loans.view_loan")


def _today() -> datetime.date:
    """The day balances and statuses are shown as of (a seam for tests)."""
    return timezone.localdate()


def content_disposition(borrower) -> str:
    """An ASCII ``filename`` for every client, and ``filename*`` with the
    borrower's name for those that read RFC 6266."""
    ascii_name = "statement-%d.pdf" % borrower.pk
    utf8_name = quote("对账单-%s-%d.pdf" % (borrower.name, borrower.pk), safe="")
    return "attachment; filename=\"%s\"; filename*=UTF-8''%s" % (ascii_name, utf8_name)


@login_required
@permission_required(PERMISSIONS, raise_exception=True)
@require_GET
def borrower_statement(request, pk: int):
    borrower = borrower_selectors.borrower_for_detail(user=request.user, pk=pk)
    if borrower is None:
        raise Http404(_("No such borrower."))
    statement = statement_for(borrower, user=request.user, today=_today())
    content = render_statement(statement)
    personal_data_export_log(
        request=request,
        what="borrower statement",
        row_count=len(statement.loans),
        filters="borrower=%d" % borrower.pk,
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(borrower)
    response["Cache-Control"] = "no-store"
    return response

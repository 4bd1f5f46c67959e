"""Pages of the public notice (公示): the notices, publishing one, a notice
with its entries and objections, its printable PDF, and release.

A township officer sees the entries of their own township only, on the page
and in the PDF; a notice with none of them is a 404. Writes go through
``loans.services``, which check role and township again.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from accounts.roles import may_act_in_township
from loans.applications import selectors
from loans.applications.forms import add_service_error
from loans.models import Application, NoticeEntry, Objection, PublicNotice

from .forms import NoticeForm, ObjectionForm, ObjectionResolveForm
from .pdf import render_notice_pdf
from .services import (
    notice_publish,
    notices_release_due,
    objection_record,
    objection_resolve,
)


def _get_notice_for_user(request, pk: int) -> PublicNotice:
    """The notice, if it holds an entry the user may see; 404 otherwise."""
    notice = selectors.notice_for_user(user=request.user, pk=pk)
    if notice is None:
        raise Http404(_("No such notice."))
    return notice


def _may_record_objection(user, entry: NoticeEntry) -> bool:
    may = user.has_perm("loans.review_application") or user.has_perm("loans.manage_notice")
    return (
        may
        and entry.application.state == Application.State.IN_NOTICE
        and may_act_in_township(user, entry.application.township_id)
    )


@login_required
@permission_required("loans.view_publicnotice", raise_exception=True)
def notice_list(request):
    today = timezone.localdate()
    notices = list(selectors.notices_for_list(user=request.user))
    for notice in notices:
        notice.status = selectors.notice_status(notice, today)
        notice.status_label = selectors.NOTICE_STATUS_LABELS[notice.status]
    return render(
        request,
        "loans/notices/list.html",
        {
            "notices": notices,
            "any_due": any(notice.status == "over" for notice in notices),
            "today": today,
        },
    )


@login_required
@permission_required("loans.manage_notice", raise_exception=True)
def notice_create(request):
    """Choose the programme and the first day, see the approved applications
    that will go in, publish."""
    if request.method == "POST":
        form = NoticeForm(request.POST, user=request.user)
        valid = form.is_valid()
        programme = form.cleaned_data.get("programme")
        if valid:
            data = form.cleaned_data
            try:
                notice = notice_publish(
                    actor=request.user,
                    programme=programme,
                    starts_on=data["starts_on"],
                    title=data["title"],
                )
            except ValidationError as error:
                add_service_error(form, error)
            else:
                count = notice.entries.count()
                messages.success(
                    request,
                    ngettext(
                        "Notice published with %(count)d application.",
                        "Notice published with %(count)d applications.",
                        count,
                    )
                    % {"count": count},
                )
                return redirect("notices:detail", pk=notice.pk)
    else:
        programme = _programme_to_preview(request) or selectors.default_programme(
            user=request.user, today=timezone.localdate()
        )
        form = NoticeForm(initial={"programme": programme}, user=request.user)
    waiting = (
        list(selectors.applications_awaiting_notice(programme=programme, user=request.user))
        if programme
        else []
    )
    return render(
        request,
        "loans/notices/form.html",
        {
            "form": form,
            "programme": programme,
            "waiting": waiting,
            "waiting_total": sum(application.amount for application in waiting),
        },
        status=400 if request.method == "POST" else 200,
    )


def _programme_to_preview(request):
    """The active programme chosen in ?programme=, if it is one."""
    pk = request.GET.get("programme", "")
    return selectors.active_programmes(request.user).filter(pk=pk).first() if pk.isdigit() else None


@login_required
@permission_required("loans.view_publicnotice", raise_exception=True)
def notice_detail(request, pk: int):
    notice = _get_notice_for_user(request, pk)
    return _render_detail(request, notice)


def _render_detail(request, notice, *, bound_entry=None, bound_objection=None, status=200):
    """The notice page; ``bound_entry``/``bound_objection`` are (pk, form)
    pairs of a form that failed, shown again with its errors."""
    user = request.user
    today = timezone.localdate()
    entries = selectors.notice_entries(user=user, notice=notice)
    may_resolve = user.has_perm("loans.manage_notice")
    for entry in entries:
        entry.objection_form = None
        if _may_record_objection(user, entry):
            if bound_entry and bound_entry[0] == entry.pk:
                entry.objection_form = bound_entry[1]
            else:
                entry.objection_form = ObjectionForm(prefix="entry-%d" % entry.pk)
        for objection in entry.objections.all():
            objection.resolve_form = None
            if may_resolve and objection.is_open:
                if bound_objection and bound_objection[0] == objection.pk:
                    objection.resolve_form = bound_objection[1]
                else:
                    objection.resolve_form = ObjectionResolveForm(
                        prefix="objection-%d" % objection.pk
                    )
    status_name = selectors.notice_status(notice, today)
    return render(
        request,
        "loans/notices/detail.html",
        {
            "notice": notice,
            "entries": entries,
            "total": sum(entry.application.amount for entry in entries),
            "open_objections": selectors.open_objections(entries),
            "status": status_name,
            "status_label": selectors.NOTICE_STATUS_LABELS[status_name],
            "may_release": may_resolve and status_name == "over",
            "today": today,
        },
        status=status,
    )


@login_required
@permission_required("loans.view_publicnotice", raise_exception=True)
def notice_pdf(request, pk: int):
    """The notice as a printable A4 PDF for the village notice boards: name,
    village, category, industry and amount only."""
    notice = _get_notice_for_user(request, pk)
    entries = selectors.notice_entries(user=request.user, notice=notice)
    response = HttpResponse(render_notice_pdf(notice, entries), content_type="application/pdf")
    response["Content-Disposition"] = 'inline; filename="notice-%d.pdf"' % notice.pk
    return response


@login_required
@permission_required("loans.view_publicnotice", raise_exception=True)
@require_POST
def objection_add(request, pk: int, entry_pk: int):
    """Record an objection against an entry; the service refuses anyone who
    may not (403) and an entry no longer in notice (shown on the page)."""
    notice = _get_notice_for_user(request, pk)
    entry = get_object_or_404(
        NoticeEntry.objects.filter(selectors.entry_scope(request.user)).select_related(
            "application"
        ),
        pk=entry_pk,
        notice=notice,
    )
    form = ObjectionForm(request.POST, prefix="entry-%d" % entry.pk)
    if form.is_valid():
        try:
            objection_record(actor=request.user, entry=entry, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _(
                    "Objection against %(name)s recorded; the application is held back until it "
                    "is resolved."
                )
                % {"name": entry.application.applicant},
            )
            return redirect(notice_anchor(notice, entry))
    return _render_detail(request, notice, bound_entry=(entry.pk, form), status=400)


@login_required
@permission_required("loans.manage_notice", raise_exception=True)
@require_POST
def objection_settle(request, pk: int, objection_pk: int):
    notice = _get_notice_for_user(request, pk)
    objection = get_object_or_404(
        Objection.objects.select_related("entry__application"),
        pk=objection_pk,
        entry__notice=notice,
    )
    form = ObjectionResolveForm(request.POST, prefix="objection-%d" % objection.pk)
    if form.is_valid():
        try:
            objection_resolve(
                actor=request.user,
                objection=objection,
                upheld=form.upheld,
                resolution=form.cleaned_data["resolution"],
            )
        except ValidationError as error:
            add_service_error(form, error)
        else:
            if form.upheld:
                message = _("Objection upheld: the application of %(name)s is rejected.")
            else:
                message = _("Objection not upheld: the application of %(name)s goes ahead.")
            messages.success(request, message % {"name": objection.entry.application.applicant})
            return redirect(notice_anchor(notice, objection.entry))
    return _render_detail(request, notice, bound_objection=(objection.pk, form), status=400)


def notice_anchor(notice: PublicNotice, entry: NoticeEntry) -> str:
    return "%s#entry-%d" % (notice_url(notice), entry.pk)


def notice_url(notice: PublicNotice) -> str:
    return reverse("notices:detail", args=[notice.pk])


@login_required
@permission_required("loans.manage_notice", raise_exception=True)
@require_POST
def notices_release(request):
    """Release, in every notice, the entries whose period is over and that
    have no open objection (what the daily task does, now)."""
    count = notices_release_due(actor=request.user, today=timezone.localdate())
    if count:
        messages.success(
            request,
            ngettext(
                "%(count)d application released to the co-op.",
                "%(count)d applications released to the co-op.",
                count,
            )
            % {"count": count},
        )
    else:
        messages.info(
            request,
            _(
                "Nothing to release: no entry has a finished notice period without an open "
                "objection."
            ),
        )
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        return redirect(next_url)
    return redirect("notices:list")

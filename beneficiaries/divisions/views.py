from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Count, Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.roles import county_of
from accounts.scoping import divisions_for
from divisions.models import Division

from .forms import DivisionForm, next_free_code
from .services import division_create, division_rename


def _get_division_for_user(request, pk: int, *levels: str) -> Division:
    """The division if the user may see it (404 otherwise, as for a missing one)."""
    queryset = divisions_for(request.user).filter(level__in=levels)
    return get_object_or_404(queryset, pk=pk)


@login_required
@permission_required("divisions.view_division", raise_exception=True)
def division_list(request):
    """The townships the user may see, with how many villages and groups each has."""
    townships = (
        divisions_for(request.user)
        .townships()
        .annotate(
            village_count=Count("children", distinct=True),
            group_count=Count("children__children", distinct=True),
        )
        .order_by("code")
    )
    county = county_of(request.user)
    return render(
        request, "beneficiaries/division_list.html", {"townships": townships, "county": county}
    )


@login_required
@permission_required("divisions.view_division", raise_exception=True)
def township_detail(request, pk: int):
    """A township's villages and their groups; the county office adds and renames them."""
    township = _get_division_for_user(request, pk, Division.Level.TOWNSHIP)
    villages = township.children.order_by("code").prefetch_related(
        Prefetch("children", queryset=Division.objects.order_by("code"), to_attr="groups")
    )
    may_edit = request.user.has_perm("divisions.add_division")
    return render(
        request,
        "beneficiaries/township_detail.html",
        {
            "township": township,
            "villages": villages,
            "may_edit": may_edit,
            "village_form": DivisionForm(initial={"code": next_free_code(township)})
            if may_edit
            else None,
        },
    )


@login_required
@permission_required("divisions.add_division", raise_exception=True)
def division_add(request, pk: int):
    """Add a village under a township (GET shows the form, POST saves), or a
    group under a village."""
    parent = _get_division_for_user(request, pk, Division.Level.TOWNSHIP, Division.Level.VILLAGE)
    form = DivisionForm(request.POST or None, initial={"code": next_free_code(parent)})
    if request.method == "POST" and form.is_valid():
        try:
            division = division_create(actor=request.user, parent=parent, **form.cleaned_data)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request, _("%(name)s (%(code)s) added.") % {"name": division, "code": division.code}
            )
            return redirect("divisions:township", pk=_township_of(division).pk)
    return render(request, "beneficiaries/division_form.html", {"form": form, "parent": parent})


@login_required
@permission_required("divisions.change_division", raise_exception=True)
def division_edit(request, pk: int):
    """Rename a village or group; its code is its identity and stays."""
    division = _get_division_for_user(request, pk, Division.Level.VILLAGE, Division.Level.GROUP)
    initial = {"name": division.name, "code": division.code}
    form = DivisionForm(request.POST or None, initial=initial)
    form.fields["code"].disabled = True
    if request.method == "POST" and form.is_valid():
        try:
            division_rename(actor=request.user, division=division, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("Renamed to %(name)s.") % {"name": division.name})
            return redirect("divisions:township", pk=_township_of(division).pk)
    return render(
        request,
        "beneficiaries/division_form.html",
        {"form": form, "parent": division.parent, "division": division},
    )


def _township_of(division: Division) -> Division:
    while division.level != Division.Level.TOWNSHIP:
        division = division.parent
    return division

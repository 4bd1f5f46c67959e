"""The industry page: the two-level tree of sectors and kinds that
borrowers, enterprises and applications choose from. Every staff role
reads it; the county office adds, renames, reorders and re-sorts.

Industries are county-wide reference data, so there is no township scope
to the tree itself; the borrower counts beside it are the user's own reach.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from beneficiaries.models import Industry

from .forms import KindForm, SectorForm, add_service_error
from .selectors import industry_tree
from .services import industry_save


@login_required
@permission_required("beneficiaries.view_industry", raise_exception=True)
def industry_list(request):
    tree = industry_tree(user=request.user)
    return render(
        request,
        "beneficiaries/industries/list.html",
        {
            "tree": tree,
            "kind_count": sum(len(node.kinds) for node in tree),
            "may_add": request.user.has_perm("beneficiaries.add_industry"),
            "may_edit": request.user.has_perm("beneficiaries.change_industry"),
        },
    )


def _form_page(request, form, *, industry: Industry | None, title: str):
    """Save the form through ``industry_save`` or show it again with the errors."""
    if request.method == "POST" and form.is_valid():
        try:
            saved = industry_save(actor=request.user, industry=industry, **form.cleaned_data)
        except ValidationError as error:
            add_service_error(error, form)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": saved.name})
            return redirect("industries:list")
    return render(
        request,
        "beneficiaries/industries/form.html",
        {"form": form, "industry": industry, "title": title},
        status=400 if request.method == "POST" else 200,
    )


@login_required
@permission_required("beneficiaries.add_industry", raise_exception=True)
def sector_add(request):
    form = SectorForm(request.POST or None)
    return _form_page(request, form, industry=None, title=_("Add a sector"))


@login_required
@permission_required("beneficiaries.add_industry", raise_exception=True)
def kind_add(request):
    """Add a kind; ``?sector=<pk>`` chooses the sector beforehand."""
    initial = {"parent": request.GET.get("sector"), "farming": Industry.Farming.PLANTING}
    form = KindForm(request.POST or None, initial=initial)
    return _form_page(request, form, industry=None, title=_("Add a kind"))


@login_required
@permission_required("beneficiaries.change_industry", raise_exception=True)
def industry_edit(request, pk: int):
    industry = get_object_or_404(Industry.objects.select_related("parent"), pk=pk)
    form_class = SectorForm if industry.is_sector else KindForm
    form = form_class(request.POST or None, industry=industry)
    return _form_page(
        request, form, industry=industry, title=_("Edit %(name)s") % {"name": industry.name}
    )

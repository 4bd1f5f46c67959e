from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q, Sum
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _

from accounts.roles import may_act_in_township
from beneficiaries.models import Enterprise
from beneficiaries.registry.services import enterprise_create, enterprise_update

from .forms import EnterpriseForm


def _get_enterprise_for_user(request, pk: int) -> Enterprise:
    """The enterprise if it is in the user's scope; 404 otherwise."""
    queryset = Enterprise.objects.for_user(request.user).select_related(
        "village", "township", "industry__parent"
    )
    return get_object_or_404(queryset, pk=pk)


@login_required
@permission_required("beneficiaries.view_enterprise", raise_exception=True)
def enterprise_list(request):
    query = request.GET.get("q", "").strip()
    enterprises = (
        Enterprise.objects.for_user(request.user)
        .select_related("village", "township", "industry__parent")
        .annotate(
            driven_count=Count("driven_households", distinct=True),
            representative_count=Count("representatives", distinct=True),
        )
        .order_by("township__code", "name")
    )
    if query:
        enterprises = enterprises.filter(
            Q(name__icontains=query) | Q(credit_code=query.upper()) | Q(legal_representative=query)
        )
    page = Paginator(enterprises, 50).get_page(request.GET.get("page"))
    return render(
        request,
        "beneficiaries/enterprises/list.html",
        {
            "page": page,
            "query": query,
            "may_add": request.user.has_perm("beneficiaries.add_enterprise"),
        },
    )


@login_required
@permission_required("beneficiaries.view_enterprise", raise_exception=True)
def enterprise_detail(request, pk: int):
    enterprise = _get_enterprise_for_user(request, pk)
    driven = enterprise.driven_households.select_related(
        "household__village_group__parent"
    ).order_by("pk")
    totals = driven.aggregate(total=Sum("yearly_amount"))
    return render(
        request,
        "beneficiaries/enterprises/detail.html",
        {
            "enterprise": enterprise,
            "representatives": enterprise.representatives.for_user(request.user).order_by("name"),
            "driven": driven,
            "driven_total": totals["total"],
            "may_edit": request.user.has_perm("beneficiaries.change_enterprise")
            and may_act_in_township(request.user, enterprise.township_id),
            "history": enterprise.history.select_related("history_user")[:50],
        },
    )


@login_required
@permission_required("beneficiaries.add_enterprise", raise_exception=True)
def enterprise_create_view(request):
    form = EnterpriseForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            enterprise = enterprise_create(actor=request.user, **form.service_fields())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("%(name)s registered.") % {"name": enterprise.name})
            return redirect("enterprises:detail", pk=enterprise.pk)
    return render(request, "beneficiaries/enterprises/form.html", {"form": form})


@login_required
@permission_required("beneficiaries.change_enterprise", raise_exception=True)
def enterprise_edit(request, pk: int):
    enterprise = _get_enterprise_for_user(request, pk)
    form = EnterpriseForm(request.POST or None, instance=enterprise, user=request.user)
    if request.method == "POST" and form.is_valid():
        try:
            enterprise_update(actor=request.user, enterprise=enterprise, **form.service_fields())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, _("%(name)s saved.") % {"name": enterprise.name})
            return redirect("enterprises:detail", pk=enterprise.pk)
    return render(
        request, "beneficiaries/enterprises/form.html", {"form": form, "enterprise": enterprise}
    )

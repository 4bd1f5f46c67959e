"""Pages of the borrower registry for county and township staff.

Every view states the permission it needs; every view that takes a pk
fetches through ``_get_borrower_for_user``, so a borrower outside the
user's township is a 404, never a 403 that would confirm it exists.
Writes go through the services, inside one transaction per page.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.roles import may_act_in_township
from beneficiaries.models import Borrower

from . import selectors
from .forms import (
    BorrowerForm,
    DrivenHouseholdForm,
    HouseholdChoiceForm,
    HouseholdForm,
    PositionCreateFormSet,
    PositionEditFormSet,
    add_service_error,
)
from .services import (
    borrower_create,
    borrower_update,
    driven_household_link,
    household_create,
    household_update,
    position_delete,
    position_save,
)

PAGE_SIZE = 50
VIEW_PERSONAL_DATA = "beneficiaries.view_personal_data"


def _get_borrower_for_user(request, pk: int) -> Borrower:
    """The borrower, if the user may see them; 404 for anyone outside the
    borrower's township, exactly as for a borrower that does not exist."""
    borrower = selectors.borrower_for_detail(user=request.user, pk=pk)
    if borrower is None:
        raise Http404(_("No such borrower."))
    return borrower


def _may_edit(user, borrower: Borrower) -> bool:
    return user.has_perm("beneficiaries.change_borrower") and may_act_in_township(
        user, borrower.township_id
    )


@login_required
@permission_required("beneficiaries.view_borrower", raise_exception=True)
def borrower_list(request):
    """Search, filter, sort and page through the borrowers the user may see."""
    filterset = selectors.borrower_list(user=request.user, params=request.GET)
    page = Paginator(filterset.qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "beneficiaries/borrowers/list.html",
        {"filter": filterset, "page": page, "borrowers": page.object_list},
    )


@login_required
@permission_required("beneficiaries.view_borrower", raise_exception=True)
def borrower_detail(request, pk: int):
    borrower = _get_borrower_for_user(request, pk)
    return _render_detail(request, borrower)


def _render_detail(request, borrower: Borrower, driven_form=None, status=200):
    """The detail page; ``driven_form`` is a bound form whose errors to show."""
    show_personal_data = request.user.has_perm(VIEW_PERSONAL_DATA)
    may_link = _may_edit(request.user, borrower) and request.user.has_perm(
        "beneficiaries.add_drivenhousehold"
    )
    if may_link and driven_form is None:
        driven_form = DrivenHouseholdForm(user=request.user, borrower=borrower)
    return render(
        request,
        "beneficiaries/borrowers/detail.html",
        {
            "borrower": borrower,
            "household": borrower.household,
            "positions": selectors.borrower_positions(borrower=borrower, day=timezone.localdate()),
            "driven": selectors.borrower_driven_households(borrower=borrower),
            "driven_form": driven_form if may_link else None,
            "history": selectors.borrower_history(
                borrower=borrower, show_personal_data=show_personal_data
            ),
            "show_personal_data": show_personal_data,
            "may_edit": _may_edit(request.user, borrower),
        },
        status=status,
    )


@login_required
@permission_required("beneficiaries.add_borrower", raise_exception=True)
def borrower_new(request):
    """Register a borrower, in a household already registered or a new one."""
    data = request.POST if request.method == "POST" else None
    choice_form = HouseholdChoiceForm(data, user=request.user)
    household_form = HouseholdForm(data, user=request.user)
    borrower_form = BorrowerForm(data, user=request.user)
    positions = PositionCreateFormSet(data, instance=Borrower(), prefix="positions")

    if request.method == "POST":
        valid = [choice_form.is_valid(), borrower_form.is_valid(), positions.is_valid()]
        new_household = choice_form.wants_new_household
        if new_household:
            valid.append(household_form.is_valid())
        else:
            # Keep what was typed, without reporting on a form not in use.
            household_form = HouseholdForm(initial=request.POST.dict(), user=request.user)
        if all(valid):
            try:
                borrower = _create(request, choice_form, household_form, borrower_form, positions)
            except ValidationError as error:
                add_service_error(
                    error,
                    [borrower_form, household_form, choice_form],
                    aliases={
                        "household": "village_group" if new_household else "existing_head_id_number"
                    },
                )
            else:
                messages.success(
                    request, _("Borrower %(name)s registered.") % {"name": borrower.name}
                )
                return redirect("borrowers:detail", pk=borrower.pk)
    return render(
        request,
        "beneficiaries/borrowers/form.html",
        {
            "choice_form": choice_form,
            "household_form": household_form,
            "borrower_form": borrower_form,
            "positions": positions,
            "creating": True,
        },
        status=400 if request.method == "POST" else 200,
    )


def _create(request, choice_form, household_form, borrower_form, positions) -> Borrower:
    """All or nothing: a household created for a borrower the service then
    refuses is rolled back with it."""
    with transaction.atomic():
        if choice_form.wants_new_household:
            household = household_create(actor=request.user, **household_form.cleaned_data)
        else:
            household = choice_form.household
        return borrower_create(
            actor=request.user,
            household=household,
            positions=positions.position_data(),
            **borrower_form.cleaned_data,
        )


@login_required
@permission_required("beneficiaries.change_borrower", raise_exception=True)
def borrower_edit(request, pk: int):
    """Change a borrower, their positions and their household's details."""
    borrower = _get_borrower_for_user(request, pk)
    if not may_act_in_township(request.user, borrower.township_id):
        raise Http404(_("No such borrower."))
    data = request.POST if request.method == "POST" else None
    household_form = HouseholdForm(data, instance=borrower.household, user=request.user)
    borrower_form = BorrowerForm(data, instance=borrower, user=request.user)
    positions = PositionEditFormSet(data, instance=borrower, prefix="positions")

    if request.method == "POST":
        valid = [form.is_valid() for form in (borrower_form, household_form, positions)]
        if all(valid):
            try:
                _update(request, borrower, household_form, borrower_form, positions)
            except ValidationError as error:
                add_service_error(error, [borrower_form, household_form])
            else:
                messages.success(request, _("Changes to %(name)s saved.") % {"name": borrower.name})
                return redirect("borrowers:detail", pk=borrower.pk)
    return render(
        request,
        "beneficiaries/borrowers/form.html",
        {
            "borrower": borrower,
            "household_form": household_form,
            "borrower_form": borrower_form,
            "positions": positions,
            "creating": False,
        },
        status=400 if request.method == "POST" else 200,
    )


def _update(request, borrower, household_form, borrower_form, positions) -> None:
    actor = request.user
    with transaction.atomic():
        if household_form.has_changed():
            household_update(
                actor=actor,
                household=borrower.household,
                **{name: household_form.cleaned_data[name] for name in household_form.changed_data},
            )
        if borrower_form.has_changed() or household_form.has_changed():
            # Saving the borrower also carries a moved household's township over.
            borrower_update(
                actor=actor,
                borrower=borrower,
                **{name: borrower_form.cleaned_data[name] for name in borrower_form.changed_data},
            )
        # commit=False only sorts the rows into new, changed and removed.
        positions.save(commit=False)
        for position in positions.deleted_objects:
            position_delete(actor=actor, position=position)
        for position, changed in positions.changed_objects:
            position_save(
                actor=actor,
                borrower=borrower,
                position=position,
                **{name: getattr(position, name) for name in changed},
            )
        for data in positions.position_data(new_only=True):
            position_save(actor=actor, borrower=borrower, **data)


@login_required
@permission_required("beneficiaries.add_drivenhousehold", raise_exception=True)
@require_POST
def driven_household_add(request, pk: int):
    borrower = _get_borrower_for_user(request, pk)
    if not _may_edit(request.user, borrower):
        raise Http404(_("No such borrower."))
    form = DrivenHouseholdForm(request.POST, user=request.user, borrower=borrower)
    if form.is_valid():
        try:
            driven_household_link(
                actor=request.user,
                borrower=borrower,
                household=form.household,
                benefit=form.cleaned_data["benefit"],
                yearly_amount=form.cleaned_data["yearly_amount"],
                since=form.cleaned_data["since"],
            )
        except ValidationError as error:
            add_service_error(error, [form], aliases={"household": "head_id_number"})
        else:
            messages.success(
                request,
                _("%(household)s is now recorded as driven by %(name)s.")
                % {"household": form.household, "name": borrower.name},
            )
            return redirect("borrowers:detail", pk=borrower.pk)
    return _render_detail(request, borrower, driven_form=form, status=400)

"""The county programme office's page for the co-op's API keys: which
service accounts exist, their keys (prefix, issued, last used, revoked),
issuing a key (shown once) and revoking one."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.roles import Role
from loans.models import ApiKey, CreditCoop

from .services import api_key_issue, api_key_revoke


def _coop_accounts():
    """Service accounts of the co-op role, each with its keys, newest first."""
    keys = ApiKey.objects.select_related("coop", "created_by").order_by("-created_at")
    return (
        get_user_model()
        .objects.filter(groups__name=Role.COOP.value)
        .prefetch_related(Prefetch("api_keys", queryset=keys, to_attr="keys"))
        .order_by("username")
    )


class KeyIssueForm(forms.Form):
    user = forms.ModelChoiceField(
        label=gettext_lazy("Service account"), queryset=get_user_model().objects.none()
    )
    coop = forms.ModelChoiceField(
        label=gettext_lazy("Credit co-op"), queryset=CreditCoop.objects.all()
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = _coop_accounts().filter(is_active=True)
        self.fields["user"].queryset = accounts
        self.fields["user"].label_from_instance = lambda user: user.get_full_name() or user.username
        # The usual case is one account of one co-op: choose them already.
        if len(accounts) == 1:
            self.fields["user"].initial = accounts[0]
        if CreditCoop.objects.count() == 1:
            self.fields["coop"].initial = CreditCoop.objects.get()


def _get_key_for_user(request, pk: int) -> ApiKey:
    # Keys are county-wide: whoever may manage them sees all of them.
    return get_object_or_404(ApiKey.objects.select_related("user", "coop"), pk=pk)


@login_required
@permission_required("loans.view_apikey", raise_exception=True)
def key_list(request):
    """Every co-op service account with its keys, and the form to issue one."""
    return _render_list(request, KeyIssueForm())


def _render_list(request, form, *, status=200):
    may_issue = request.user.has_perm("loans.add_apikey")
    return render(
        request,
        "loans/keys/list.html",
        {
            "accounts": _coop_accounts(),
            "form": form if may_issue else None,
            "may_revoke": request.user.has_perm("loans.change_apikey"),
        },
        status=status,
    )


@never_cache
@login_required
@permission_required("loans.add_apikey", raise_exception=True)
@require_POST
def key_issue(request):
    """Issue a key and show it this once: it is not stored and the page is
    not cached, so reloading or going back does not show it again."""
    form = KeyIssueForm(request.POST)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    try:
        api_key, key = api_key_issue(
            actor=request.user, user=form.cleaned_data["user"], coop=form.cleaned_data["coop"]
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _render_list(request, form, status=400)
    return render(request, "loans/keys/issued.html", {"api_key": api_key, "key": key})


@login_required
@permission_required("loans.change_apikey", raise_exception=True)
def key_revoke(request, pk: int):
    """Ask to confirm (GET), then revoke (POST): the co-op's system is refused
    from its next request on."""
    api_key = _get_key_for_user(request, pk)
    if request.method == "POST":
        api_key_revoke(actor=request.user, api_key=api_key)
        messages.success(request, _("Key %(prefix)s… is revoked.") % {"prefix": api_key.prefix})
        return redirect("coop_keys:list")
    return render(request, "loans/keys/revoke.html", {"api_key": api_key})

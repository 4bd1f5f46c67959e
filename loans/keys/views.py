"""The county programme office's page for the co-op's API keys: which
service accounts exist, their keys (prefix, counties reached, issued, last
used, revoked), issuing a key (shown once) and revoking one. A county sees
and revokes the keys that reach it, and issues keys for itself alone."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.db.models import Prefetch, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.roles import Role, counties_of
from divisions.models import Division
from loans.models import ApiKey, CreditCoop

from .services import api_key_issue, api_key_revoke


def _keys_for(user):
    """The keys that reach one of ``user``'s counties, newest first."""
    return (
        ApiKey.objects.filter(counties__in=counties_of(user))
        .distinct()
        .select_related("coop", "created_by")
        .prefetch_related(Prefetch("counties", queryset=Division.objects.order_by("code")))
        .order_by("-created_at")
    )


def _coop_accounts(user):
    """The co-op service accounts of ``user``'s counties, and any other
    account holding a key into them (one issued on the server for a co-op
    of several counties), each with the keys that reach those counties."""
    return (
        get_user_model()
        .objects.filter(groups__name=Role.COOP.value)
        .filter(
            Q(profile__county__in=counties_of(user)) | Q(api_keys__in=_keys_for(user).values("pk"))
        )
        .distinct()
        .prefetch_related(Prefetch("api_keys", queryset=_keys_for(user), to_attr="keys"))
        .order_by("username")
    )


class KeyIssueForm(forms.Form):
    user = forms.ModelChoiceField(
        label=gettext_lazy("Service account"), queryset=get_user_model().objects.none()
    )
    coop = forms.ModelChoiceField(
        label=gettext_lazy("Credit co-op"), queryset=CreditCoop.objects.none()
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        accounts = (
            get_user_model()
            .objects.filter(
                groups__name=Role.COOP.value,
                is_active=True,
                profile__county__in=counties_of(user),
            )
            .order_by("username")
        )
        self.fields["user"].queryset = accounts
        self.fields["user"].label_from_instance = lambda user: user.get_full_name() or user.username
        # The co-ops lending in the issuer's county; the key reaches that
        # county alone.
        coops = CreditCoop.objects.filter(counties__in=counties_of(user)).distinct()
        self.fields["coop"].queryset = coops
        # The usual case is one account of one co-op: choose them already.
        if len(accounts) == 1:
            self.fields["user"].initial = accounts[0]
        if len(coops) == 1:
            self.fields["coop"].initial = coops[0]


def _get_key_for_user(request, pk: int) -> ApiKey:
    # A key that reaches none of the user's counties is not theirs to see.
    return get_object_or_404(_keys_for(request.user).select_related("user"), pk=pk)


@login_required
@permission_required("loans.view_apikey", raise_exception=True)
def key_list(request):
    """Every co-op service account with its keys, and the form to issue one."""
    return _render_list(request, KeyIssueForm(user=request.user))


def _render_list(request, form, *, status=200):
    may_issue = request.user.has_perm("loans.add_apikey")
    return render(
        request,
        "loans/keys/list.html",
        {
            "accounts": _coop_accounts(request.user),
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
    form = KeyIssueForm(request.POST, user=request.user)
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

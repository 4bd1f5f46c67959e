"""Who may call the API, and how often.

One permission class for every endpoint: the caller authenticated with an
API key (``request.auth``), the key's account is a co-op service account,
and it holds the Django permission the view declares:

    class LoanList(CoopApiView):
        required_permission = {"GET": "loans.view_loan", "POST": "loans.add_loan"}

A view that declares nothing is refused: forgetting the declaration closes
the endpoint rather than opening it.
"""

from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions, permissions, throttling

from accounts.roles import Role, role_of
from loans.models import ApiKey


def required_permission_of(view, method: str) -> str | None:
    required = getattr(view, "required_permission", None)
    if isinstance(required, dict):
        if method == "HEAD":
            method = "GET"
        return required.get(method)
    return required


class CoopApiPermission(permissions.BasePermission):
    message = _("This API is for credit co-op service accounts.")
    code = "not_a_coop_account"

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.auth, ApiKey):
            # Anonymous: DRF turns this into 401 with WWW-Authenticate.
            return False
        if role_of(request.user) != Role.COOP:
            return False
        if not hasattr(view, request.method.lower()):
            # Let the view answer 405 with its Allow header.
            return True
        required = required_permission_of(view, request.method)
        if required is None and request.method == "OPTIONS":
            return True
        if required is None or not request.user.has_perm(required):
            raise exceptions.PermissionDenied(
                _("This account may not do this."), code="missing_permission"
            )
        return True


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """Requests per API key (settings: DEFAULT_THROTTLE_RATES["api_key"]).

    The count lives in Django's cache; with the default per-process cache
    each gunicorn worker counts on its own, so the effective limit is the
    rate times the number of workers.
    """

    scope = "api_key"

    def get_cache_key(self, request, view):
        if not isinstance(request.auth, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}

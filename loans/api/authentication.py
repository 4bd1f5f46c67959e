"""``Authorization: Token <key>``: the co-op service account's API key.

A request without the header is anonymous (the permission then answers 401);
a request with a key that is unknown, revoked or belongs to a deactivated
account is refused outright with 401. On success ``request.user`` is the
service account narrowed to the counties the key reaches (a co-op's key
never reaches another county's records, whatever the account may see in
the browser) and ``request.auth`` the ``ApiKey`` row, which tells the views
which co-op is calling.
"""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from accounts.roles import narrowed_to
from loans.keys.services import api_key_check

KEYWORD = "Token"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        words = request.META.get("HTTP_AUTHORIZATION", "").split()
        if not words or words[0].lower() != KEYWORD.lower():
            return None
        if len(words) != 2:
            raise exceptions.AuthenticationFailed(
                _("Send the key as: Authorization: Token <key>."), code="malformed_token"
            )
        api_key = api_key_check(words[1]) if words[1].isascii() else None
        if api_key is None:
            raise exceptions.AuthenticationFailed(
                _("The API key is unknown or revoked."), code="invalid_token"
            )
        # The key reaches its own counties, whatever else the account sees.
        counties = [county.pk for county in api_key.counties.all()]
        return narrowed_to(api_key.user, counties), api_key

    def authenticate_header(self, request) -> str:
        # Makes DRF answer 401 (not 403) to a request that sent no key.
        return '%s realm="api"' % KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """How the schema (and the reference page's "Authorize" button) describe the key."""

    target_class = ApiKeyAuthentication
    name = "TokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`, the key issued by the county programme office.",
        }

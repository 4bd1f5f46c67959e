"""Logging in and staying logged in: the lockout page of django-axes, the
address a failed login is counted against, and the longest a session lasts.

Settings: AXES_* (how many failures lock out, and for how long),
SESSION_IDLE_SECONDS and SESSION_MAX_SECONDS.
"""

import time

from django.conf import settings
from django.contrib.auth import logout, user_logged_in
from django.contrib.auth.forms import AuthenticationForm
from django.dispatch import receiver
from django.shortcuts import render
from django.utils.translation import ngettext

LOGGED_IN_AT = "logged_in_at"


def lockout_response(request, original_response=None, credentials=None):
    """The login page again, saying why the password was not even tried
    (AXES_LOCKOUT_CALLABLE); 429 Too Many Requests."""
    minutes = max(int(settings.AXES_COOLOFF_TIME.total_seconds() // 60), 1)
    username = (credentials or {}).get("username") or request.POST.get("username", "")
    message = ngettext(
        "Too many wrong passwords for this user from this computer. Logging in is "
        "blocked for %(minutes)d minute; try again then, or ask the programme office "
        "to unlock the account.",
        "Too many wrong passwords for this user from this computer. Logging in is "
        "blocked for %(minutes)d minutes; try again then, or ask the programme office "
        "to unlock the account.",
        minutes,
    ) % {"minutes": minutes}
    context = {
        "form": AuthenticationForm(request, initial={"username": username}),
        "next": request.POST.get("next", ""),
        "lockout": message,
    }
    return render(request, "registration/login.html", context, status=429)


def proxied_client_ip(request) -> str | None:
    """The address the reverse proxy saw: the last X-Forwarded-For entry,
    which the proxy appends. Earlier entries are whatever the client sent,
    so counting failures against them would let an attacker pick a fresh
    address for every guess. Use only behind exactly one proxy."""
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    last = forwarded.rsplit(",", 1)[-1].strip()
    return last or request.META.get("REMOTE_ADDR") or None


@receiver(user_logged_in, dispatch_uid="accounts.login.record_login_time")
def record_login_time(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        request.session[LOGGED_IN_AT] = time.time()


class SessionLifetimeMiddleware:
    """Log out a session SESSION_MAX_SECONDS after its login, however busy.

    Inactivity is Django's: with SESSION_SAVE_EVERY_REQUEST each request
    moves the expiry SESSION_COOKIE_AGE ahead. A session with no login time
    (one from before this was deployed) starts counting at its next request.
    Requests without a session cookie (the API, static files) are not
    looked at.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SESSION_COOKIE_NAME in request.COOKIES and request.user.is_authenticated:
            now = time.time()
            logged_in_at = request.session.setdefault(LOGGED_IN_AT, now)
            if now - logged_in_at > settings.SESSION_MAX_SECONDS:
                logout(request)
        return self.get_response(request)

"""A session ends after half an hour without a request, and eight hours after
its login however busy; the clock is moved by editing the stored session."""

import datetime
import time

from django.conf import settings
from django.contrib.sessions.models import Session
from django.urls import reverse
from django.utils import timezone

from accounts.login import LOGGED_IN_AT
from tests.conftest import PASSWORD

IDLE = datetime.timedelta(minutes=30)


def log_in(client, user):
    response = client.post(reverse("login"), {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return Session.objects.get(session_key=client.session.session_key)


def home(client):
    return client.get(reverse("home"))


def test_the_idle_limit_is_half_an_hour_and_every_request_counts():
    assert settings.SESSION_IDLE_SECONDS == 30 * 60
    assert settings.SESSION_COOKIE_AGE == settings.SESSION_IDLE_SECONDS
    assert settings.SESSION_SAVE_EVERY_REQUEST is True
    assert settings.SESSION_MAX_SECONDS == 8 * 60 * 60


def test_a_session_expires_half_an_hour_after_login(client, cast):
    before = timezone.now()
    session = log_in(client, cast.county)
    assert before + IDLE <= session.expire_date <= timezone.now() + IDLE


def test_a_request_moves_the_expiry_half_an_hour_ahead(client, cast):
    session = log_in(client, cast.county)
    # 29 minutes pass without a request: one minute is left.
    Session.objects.filter(pk=session.pk).update(
        expire_date=timezone.now() + datetime.timedelta(minutes=1)
    )
    assert home(client).status_code == 200
    expire_date = Session.objects.get(pk=session.pk).expire_date
    assert expire_date >= timezone.now() + IDLE - datetime.timedelta(seconds=5)


def test_an_idle_session_is_logged_out(client, cast):
    session = log_in(client, cast.county)
    assert home(client).status_code == 200
    # Thirty minutes and a second pass without a request.
    Session.objects.filter(pk=session.pk).update(
        expire_date=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = home(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_an_active_session_stays_until_eight_hours_after_login(client, cast):
    log_in(client, cast.county)
    # Busy all day: 7 h 59 min after the login it still holds ...
    set_login_time(client, time.time() - (8 * 60 - 1) * 60)
    assert home(client).status_code == 200
    # ... and past 8 h it ends, though it was used a minute ago.
    set_login_time(client, time.time() - (8 * 60 + 1) * 60)
    response = home(client)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))
    assert home(client).status_code == 302


def test_a_new_login_starts_a_new_eight_hours(client, cast):
    log_in(client, cast.county)
    set_login_time(client, time.time() - 9 * 60 * 60)
    assert home(client).status_code == 302
    log_in(client, cast.county)
    assert home(client).status_code == 200
    assert time.time() - client.session[LOGGED_IN_AT] < 60


def test_the_api_gets_no_session(client, cast):
    response = client.get("/api/v1/applications/")
    assert response.status_code == 401
    assert settings.SESSION_COOKIE_NAME not in response.cookies
    assert not Session.objects.exists()


def set_login_time(client, when: float):
    session = client.session
    session[LOGGED_IN_AT] = when
    session.save()

import pytest
from django.urls import reverse


def test_healthz_reports_the_database_and_eager_tasks_without_a_broker(client, db, settings):
    settings.CELERY_BROKER_URL = ""
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    state = response.json()
    assert state["status"] == "ok"
    assert state["database"]["ok"] is True
    assert state["broker"] == {"ok": True, "mode": "eager"}


def test_healthz_answers_503_when_the_broker_is_down(client, db, settings):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = client.get(reverse("healthz"))
    assert response.status_code == 503
    state = response.json()
    assert state["status"] == "unavailable"
    assert state["broker"]["ok"] is False
    assert state["database"]["ok"] is True


@pytest.mark.redis
def test_healthz_reaches_the_real_broker(client, db):
    response = client.get(reverse("healthz"))
    assert response.status_code == 200
    assert response.json()["broker"] == {"ok": True, "mode": "broker"}


@pytest.mark.postgres
def test_healthz_names_postgresql_when_it_runs_on_it(client, db):
    response = client.get(reverse("healthz"))
    assert response.json()["database"]["vendor"] == "postgresql"


def test_healthz_needs_no_login_and_refuses_other_methods(client, db):
    assert client.post(reverse("healthz")).status_code == 405

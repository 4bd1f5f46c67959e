"""The OpenAPI schema, the reference page, and schemathesis against the live
schema with a co-op key: no 5xx, and every response as the schema says.
Then every operation again with every other caller: no key, a revoked key,
a key whose account was deactivated, a key held by
each role that is not a co-op (made directly: the service refuses to issue
one), a logged-in officer's session without a key, and another co-op's
key: no 5xx, each refused as the schema says (401, 403), and the other
co-op sees nothing of the first one's.

The fuzz run is marked ``postgres`` (CI runs it on PostgreSQL, as part of
``make test``); it calls the WSGI application in-process, on the test's own
database connection, and is held to a few dozen examples per operation to
stay well under a minute. ``derandomize`` makes CI runs repeatable.
"""

import datetime
import json

import pytest
import schemathesis
from django.core import signals
from django.core.management import call_command
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.roles import Role
from accounts.services import user_create
from loans.api.permissions import ApiKeyRateThrottle
from loans.keys.services import _digest, api_key_issue, api_key_revoke, credit_coop_save
from loans.models import ApiKey
from riskfund.services import fund_save
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit
from tests.api.conftest import CONTRACT, client_with, quarter_rows, repayment_row
from tests.riskfund.conftest import CLAIM_DAY, overdue_loan
from zhenxingdai.wsgi import application

SCHEMA = "/api/v1/schema/?format=json"


@pytest.fixture
def schema_document(db) -> dict:
    return json.loads(client_with(None).get(SCHEMA).content)


def test_the_schema_is_valid_openapi_and_generates_without_warnings(db, tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "s.yml"))
    assert "/api/v1/interest-payments/" in (tmp_path / "s.yml").read_text()


def test_every_operation_declares_its_errors(schema_document):
    operations = {
        (method.upper(), path): operation
        for path, item in schema_document["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == {
        ("GET", "/api/v1/applications/"),
        ("GET", "/api/v1/loans/"),
        ("POST", "/api/v1/loans/"),
        ("GET", "/api/v1/loans/{contract_no}/"),
        ("POST", "/api/v1/interest-payments/"),
        ("POST", "/api/v1/repayments/"),
        ("POST", "/api/v1/reversals/"),
        ("GET", "/api/v1/subsidy-lines/"),
        ("GET", "/api/v1/compensation-claims/"),
        ("POST", "/api/v1/compensation-claims/"),
        ("GET", "/api/v1/compensation-claims/{claim_id}/"),
    }
    for (method, path), operation in operations.items():
        declared = set(operation["responses"])
        assert {"200", "401", "403", "429"} <= declared, (method, path)
        if method == "POST":
            assert {"201", "400", "409"} <= declared, (method, path)
        if "{contract_no}" in path or "{claim_id}" in path:
            assert "404" in declared
        assert operation["security"] == [{"TokenAuth": []}]
    error = schema_document["components"]["schemas"]["ErrorEnvelope"]
    assert error["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/Error"}


def test_a_batch_body_is_one_record_or_a_list_of_up_to_5000(schema_document):
    body = schema_document["paths"]["/api/v1/interest-payments/"]["post"]["requestBody"]
    one, many = body["content"]["application/json"]["schema"]["oneOf"]
    assert one == {"$ref": "#/components/schemas/InterestPaymentRequest"}
    assert (many["type"], many["minItems"], many["maxItems"]) == ("array", 1, 5000)


def test_the_schema_says_subsidy_lines_wait_for_approved_runs(schema_document):
    operation = schema_document["paths"]["/api/v1/subsidy-lines/"]["get"]
    assert "approved subsidy run" in operation["description"]
    line = schema_document["components"]["schemas"]["SubsidyLine"]["properties"]
    assert {
        "contract_no",
        "year",
        "programme",
        "reported_interest",
        "eligible_interest",
        "subsidy",
        "adjustment",
        "amount_due",
        "payment_status",
        "paid_on",
    } <= set(line)


def test_subsidy_lines_are_an_empty_page_until_then(api):
    response = api.get("/api/v1/subsidy-lines/", {"year": 2025, "programme": 1})
    assert response.status_code == 200
    assert response.json() == {"next": None, "previous": None, "results": []}
    assert api.get("/api/v1/subsidy-lines/", {"year": "last"}).status_code == 400


def test_the_reference_page_loads_its_files_from_this_server(client, db):
    page = client.get("/api/v1/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "cdn.jsdelivr.net" not in html
    bundle = "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"
    assert bundle in html
    asset = client.get(bundle)
    asset.close()
    assert asset.status_code == 200


# schemathesis ---------------------------------------------------------------------


# The schema as the running application serves it. Loaded when the module is
# collected (schemathesis' fixture-based loader does not work with pytest 9);
# serving the schema touches no table.
live_schema = schemathesis.openapi.from_wsgi(SCHEMA, application)
# The key is sent by the test itself; unknown query parameters are ignored by
# design (as most APIs do), so they are not "invalid data" here.
live_schema.config.generation.update(allow_extra_parameters=False, with_security_parameters=False)
# A body over Django's upload limit is refused with 413, as the schema declares.
rejection = live_schema.config.checks.negative_data_rejection
rejection.expected_statuses = [*rejection.expected_statuses, "413"]


# The co-op's second loan, overdue, and its compensation claim (the
# schema's examples).
OVERDUE = "MJ-2025-0002"
CLAIM_ID = "PC-2026-0001"


@pytest.fixture
def fuzz_ready(api, loan, cast, programme, people, coop, monkeypatch):
    """A released application, its loan, some postings, a second loan
    overdue with a compensation claim on it, and an approved subsidy run
    (so that reads return full records); then the WSGI application is
    called directly."""
    api.post("/api/v1/interest-payments/", quarter_rows(2), format="json")
    api.post("/api/v1/repayments/", repayment_row(), format="json")
    overdue_loan(cast, programme, people, coop, number=OVERDUE)
    fund_save(actor=cast.county, name="墨江县振兴贷风险补偿金", programmes=[programme])
    claim = {"claim_id": CLAIM_ID, "contract_no": OVERDUE, "claimed_on": CLAIM_DAY.isoformat()}
    assert api.post("/api/v1/compensation-claims/", claim, format="json").status_code == 201
    # The test's transaction never commits: compute the run at once.
    monkeypatch.setattr("subsidies.runs.services._after_commit", lambda callback: callback())
    run = subsidy_run_start(
        actor=cast.county, programme=loan.programme, year=2025, today=datetime.date(2026, 1, 5)
    )
    subsidy_run_submit(actor=cast.county, run=run)
    subsidy_run_approve(actor=cast.finance, run=run)
    assert api.get("/api/v1/subsidy-lines/").json()["results"]
    # Keep Django from closing the test's connection around each request, as
    # its own test client does (it reconnects the handlers after each of its
    # requests, so this comes after the last one): the test's data lives in
    # an open transaction on that connection.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.mark.postgres
@pytest.mark.django_db
@live_schema.parametrize()
@settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_schema(case, key, fuzz_ready, monkeypatch):
    # Let the fuzzer through: the throttle has its own test.
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "100000/minute", raising=False)
    case.call_and_validate(
        headers={"Authorization": "Token " + key},
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
            negative_data_rejection,
        ],
    )


# Every other caller --------------------------------------------------------------


def _key_held_by(user, coop, name: str) -> str:
    """A key row for any account, as a mistake or a forged row would make it."""
    key = f"{name}.{name}-secret-{user.pk}"
    ApiKey.objects.create(user=user, coop=coop, prefix=name, key_hash=_digest(key))
    return key


@pytest.fixture
def callers(cast, coop, key, client) -> dict[str, tuple[dict, set[int] | None]]:
    """Each caller's headers and the statuses it may get (None: any but 5xx)."""
    revoked_account = user_create(
        username="coop-revoked", password="x" * 20, role=Role.COOP, county=cast.county_division
    )
    revoked = api_key_issue(actor=cast.county, user=revoked_account, coop=coop)
    api_key_revoke(actor=cast.county, api_key=revoked[0])
    leaver = user_create(
        username="coop-leaver", password="x" * 20, role=Role.COOP, county=cast.county_division
    )
    left = api_key_issue(actor=cast.county, user=leaver, coop=coop)[1]
    leaver.is_active = False
    leaver.save()
    other_coop = credit_coop_save(
        code="puer-rcb", name="普洱农商行", counties=[cast.county_division]
    )
    other_account = user_create(
        username="coop-other", password="x" * 20, role=Role.COOP, county=cast.county_division
    )
    other = api_key_issue(actor=cast.county, user=other_account, coop=other_coop)[1]
    client.force_login(cast.county)
    session = client.cookies["sessionid"].value

    def token(value: str) -> dict:
        return {"Authorization": "Token " + value}

    refused, forbidden = {401}, {403}
    return {
        "no key": ({}, refused),
        "revoked key": (token(revoked[1]), refused),
        "deactivated account": (token(left), refused),
        "county officer's session": ({"Cookie": f"sessionid={session}"}, refused),
        **{
            f"{role} key": (token(_key_held_by(getattr(cast, role), coop, role[:10])), forbidden)
            for role in ("county", "township_officer_a", "finance", "auditor")
        },
        "another co-op's key": (token(other), None),
    }


@pytest.mark.postgres
@pytest.mark.django_db
@live_schema.parametrize()
@settings(
    max_examples=5,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_caller_gets_a_server_error_or_another_coops_records(
    case, callers, fuzz_ready, monkeypatch
):
    monkeypatch.setattr(ApiKeyRateThrottle, "rate", "100000/minute", raising=False)
    for name, (headers, expected) in callers.items():
        response = case.call_and_validate(
            headers=headers,
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
        )
        if expected is not None:
            assert response.status_code in expected, (name, response.status_code, response.text)
            assert response.json()["errors"], name
        elif response.status_code < 300 and "/applications/" not in case.path:
            # Applications are the county's, for every co-op to lend on;
            # loans, their ledger, subsidy lines and claims are each co-op's own.
            assert CONTRACT not in response.text, (name, response.text)
            assert OVERDUE not in response.text and CLAIM_ID not in response.text, name

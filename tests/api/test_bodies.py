"""Bodies the JSON parser cannot take: too deep, not JSON, not UTF-8, NaN,
numbers too long. Each is a 400 ``parse_error`` in the error envelope, in the
request's language, on every endpoint; never a 500, never HTML; nothing
written. Then hypothesis throws arbitrary bytes and nestings at every
endpoint."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from loans.models import LedgerEntry, Loan
from tests.api.conftest import interest_row

POSTS = [
    "/api/v1/loans/",
    "/api/v1/interest-payments/",
    "/api/v1/repayments/",
    "/api/v1/reversals/",
]
GETS = ["/api/v1/loans/", "/api/v1/applications/", "/api/v1/subsidy-lines/"]

BAD_BODIES = {
    "arrays nested 1,100 deep": b"[" * 1100 + b"]" * 1100,
    "objects nested 3,000 deep": b'{"a":' * 3000 + b"1" + b"}" * 3000,
    "arrays nested 100,000 deep, unclosed": b"[" * 100_000,
    "not JSON": b"{not json",
    "truncated": b'[{"txn_id": "I-1", "amount": "1.00"',
    "not UTF-8": b'{"txn_id": "\xff\xfe"}',
    "NaN": b'{"amount": NaN}',
    "Infinity": b"[Infinity]",
    "a number of 5,000 digits": b'{"amount": ' + b"9" * 5000 + b"}",
    "empty object key soup": b"{" + b'"":' * 50 + b"}",
}


def assert_parse_error(response, language="zh-hans"):
    assert response.status_code == 400, response.content[:300]
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert [error["code"] for error in errors] == ["parse_error"]
    message = errors[0]["message"]
    if language == "en":
        assert message.startswith("The request body is not valid JSON")
    else:
        assert message.startswith("请求体不是有效的 JSON")


def post(api, path, body: bytes, **headers):
    return api.generic("POST", path, body, content_type="application/json", **headers)


@pytest.mark.parametrize("path", POSTS)
@pytest.mark.parametrize("name", sorted(BAD_BODIES))
def test_a_body_the_parser_cannot_take_is_a_parse_error(api, loan, path, name):
    before = (LedgerEntry.objects.count(), Loan.objects.count())
    assert_parse_error(post(api, path, BAD_BODIES[name]))
    assert (LedgerEntry.objects.count(), Loan.objects.count()) == before


@pytest.mark.parametrize("path", POSTS)
def test_the_parse_error_is_in_english_when_asked(api, loan, path):
    response = post(api, path, BAD_BODIES["arrays nested 1,100 deep"], HTTP_ACCEPT_LANGUAGE="en")
    assert_parse_error(response, language="en")
    assert "nested too deeply" in response.json()["errors"][0]["message"]


def test_the_error_names_where_the_json_breaks(api, loan):
    response = post(api, "/api/v1/repayments/", b'{"txn_id": "P-1",\n "amount": }')
    assert_parse_error(response)
    assert "第 2 行" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize("path", GETS)
def test_a_get_with_a_bad_body_ignores_it(api, loan, path):
    """A GET reads its query, never its body: the nesting does it no harm."""
    response = api.generic("GET", path, BAD_BODIES["arrays nested 1,100 deep"], "application/json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


def test_nesting_the_parser_takes_is_answered_by_the_validation(api, loan):
    # 500 levels parse; the rows are then refused field by field, not as a 500.
    response = post(api, "/api/v1/interest-payments/", b"[" * 500 + b"]" * 500)
    assert response.status_code == 400
    assert response.json()["errors"]
    assert not LedgerEntry.objects.exists()


def test_a_good_body_after_a_bad_one_still_posts(api, loan):
    assert_parse_error(post(api, "/api/v1/interest-payments/", BAD_BODIES["NaN"]))
    assert (
        api.post("/api/v1/interest-payments/", [interest_row()], format="json").status_code == 201
    )


def nested(leaf, depth_and_kinds):
    depth, kinds = depth_and_kinds
    text = leaf
    for kind in kinds[:depth]:
        text = "[" + text + "]" if kind else '{"a":' + text + "}"
    return text.encode()


bodies = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(str.encode),
    st.builds(
        nested,
        st.sampled_from(["1", '"x"', "null", "[]", "{}", "NaN", "1e999", "", "-"]),
        st.integers(min_value=0, max_value=4000).flatmap(
            lambda depth: st.tuples(
                st.just(depth), st.lists(st.booleans(), min_size=depth, max_size=depth)
            )
        ),
    ),
)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(POSTS), body=bodies)
def test_no_body_makes_a_server_error(api, loan, path, body):
    response = post(api, path, body)
    assert response.status_code < 500, (body[:80], response.content[:300])
    assert response["Content-Type"] == "application/json"
    assert response.json()["errors"] or response.status_code in (200, 201)

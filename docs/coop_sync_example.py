"""A nightly sync as the credit co-op's system would run it against the
Zhenxingdai API (v1). It needs only ``requests``.

    ZXD_API_URL=https://zxd.example.cn/api/v1 ZXD_API_TOKEN=<key> \\
        python coop_sync_example.py --quarter-end 2025-06-20

1. fetch the applications released since the last run (page by page);
2. post a contract for each new one (the bank's own terms);
3. post the quarter's interest for every loan, in batches of up to 5,000;
   a batch whose answer was lost (a timeout) is simply posted again: every
   record carries the bank's own ``txn_id``, so nothing is counted twice;
4. read the loans back and check their balances.

The parts marked BANK stand for the core banking system's own data; the rest
is the whole client. Amounts and rates travel as decimal strings, never floats.
"""

# ruff: noqa: T201 (a command-line example: it reports with print)

import argparse
import datetime
import os
import time
from decimal import ROUND_HALF_UP, Decimal

import requests

BATCH = 1000


class ApiError(Exception):
    """The API refused a request; ``errors`` is its list of
    {"index", "field", "code", "message"}."""

    def __init__(self, status: int, errors: list[dict]):
        self.status = status
        self.errors = errors
        super().__init__("%d: %s" % (status, errors))


class CoopApi:
    def __init__(self, base_url: str, token: str, *, timeout: float = 60):
        self.base_url = base_url.rstrip("/") + "/"
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = "Token " + token

    def close(self):
        self.session.close()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        """One call, waiting out a 429 as the API asks (Retry-After) and
        retrying a lost or failed call a few times: safe here, because every
        POST of this API can be repeated without effect."""
        url = path if path.startswith("http") else self.base_url + path.lstrip("/")
        for attempt in range(5):
            try:
                response = self.session.request(method, url, timeout=self.timeout, **kwargs)
            except (requests.ConnectionError, requests.Timeout):
                time.sleep(2**attempt)
                continue
            if response.status_code == 429:
                time.sleep(int(response.headers.get("Retry-After", "5")))
                continue
            if response.status_code >= 500:
                time.sleep(2**attempt)
                continue
            if response.status_code >= 400:
                raise ApiError(response.status_code, response.json()["errors"])
            return response
        raise RuntimeError("the API did not answer %s %s" % (method, url))

    def pages(self, path: str, params: dict):
        """Every item of a paginated list, following ``next``."""
        response = self.request("GET", path, params=params)
        while True:
            body = response.json()
            yield from body["results"]
            if not body["next"]:
                return
            response = self.request("GET", body["next"])


def sync_applications(api: CoopApi, since: str | None) -> list[dict]:
    """Released applications changed since the last run (all of them the first time)."""
    params = {"state": "released"}
    if since:
        params["updated_since"] = since
    return list(api.pages("applications/", params))


def contract_for(application: dict) -> dict:
    """BANK: the contract the bank signed for an application."""
    return {
        "application": application["id"],
        "contract_no": "MJ-%d-%05d" % (application["programme_year"], application["id"]),
        "principal": application["amount"],
        "annual_rate": "0.034500",
        "disbursed_on": "2025-03-20",
        "maturity_on": "2027-03-20",
    }


def post_contracts(api: CoopApi, applications: list[dict]) -> list[dict]:
    """Post a contract for every application that has none yet. Posting one
    again is harmless (200, the same loan); a different one is refused (409)."""
    loans = []
    for application in applications:
        if application["contract_no"] is None:
            loans.append(api.request("POST", "loans/", json=contract_for(application)).json())
    return loans


def quarter_interest(loans: list[dict], quarter_end: datetime.date) -> list[dict]:
    """BANK: the interest collected for the quarter ending on ``quarter_end``
    (the 20th of the quarter's last month), one record per loan."""
    records = []
    for loan in loans:
        disbursed = datetime.date.fromisoformat(loan["disbursed_on"])
        previous_end = _previous_quarter_end(quarter_end)
        # A loan's first period starts on its disbursement day (included).
        if disbursed >= previous_end:
            start = disbursed
        else:
            start = previous_end + datetime.timedelta(days=1)
        days = (quarter_end - start).days + 1
        interest = Decimal(loan["balance"]) * Decimal(loan["annual_rate"]) * days / 360
        records.append(
            {
                "txn_id": "INT-%s-%s" % (loan["contract_no"], quarter_end.isoformat()),
                "contract_no": loan["contract_no"],
                "period_start": start.isoformat(),
                "period_end": quarter_end.isoformat(),
                "due_on": quarter_end.isoformat(),
                "paid_on": quarter_end.isoformat(),
                "amount": str(interest.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
            }
        )
    return records


def _previous_quarter_end(day: datetime.date) -> datetime.date:
    month = day.month - 3
    return datetime.date(day.year + (month - 1) // 12, (month - 1) % 12 + 1, 20)


def post_in_batches(api: CoopApi, path: str, records: list[dict]) -> dict:
    """Post records in batches; returns how many were created and how many
    were already there. A batch is all-or-nothing: on an ApiError nothing of
    it was written, and ``errors`` names every bad row by its index."""
    totals = {"created": 0, "already_exists": 0}
    for start in range(0, len(records), BATCH):
        body = api.request("POST", path, json=records[start : start + BATCH]).json()
        totals["created"] += body["created"]
        totals["already_exists"] += body["already_exists"]
    return totals


def read_loans(api: CoopApi, since: str | None = None) -> dict[str, dict]:
    params = {"updated_since": since} if since else {}
    return {loan["contract_no"]: loan for loan in api.pages("loans/", params)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quarter-end", required=True, type=datetime.date.fromisoformat)
    parser.add_argument("--since", help="updated_since of the last run (ISO 8601)")
    arguments = parser.parse_args()
    api = CoopApi(os.environ["ZXD_API_URL"], os.environ["ZXD_API_TOKEN"])
    try:
        applications = sync_applications(api, arguments.since)
        print("%d released applications" % len(applications))
        print("%d contracts posted" % len(post_contracts(api, applications)))
        loans = list(read_loans(api).values())
        records = quarter_interest(loans, arguments.quarter_end)
        print(
            "interest: %(created)d created, %(already_exists)d already there"
            % (post_in_batches(api, "interest-payments/", records))
        )
        for number, loan in sorted(read_loans(api).items()):
            print(
                "%s  balance %s  interest paid %s  %s"
                % (number, loan["balance"], loan["interest_paid"], loan["status"])
            )
    finally:
        api.close()


if __name__ == "__main__":
    main()

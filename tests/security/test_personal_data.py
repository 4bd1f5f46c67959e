"""Personal data (issue #8, DOMAIN.md section 6): ID, phone and account
numbers appear whole only where the role needs them, every export that
carries them is logged, and public outputs carry none of them.

Every output is scanned for an unmasked resident ID number (``\\d{17}[\\dXx]``)
and a mobile number (``1[3-9]\\d{9}``), and for the world's own numbers
(every borrower's and household head's ID, every mobile and account
number), so that a number the patterns would miss is caught too. The world
is the authorisation matrix's (tests/security/test_access_matrix.py): real
ID, mobile and account numbers in both townships, a loan each with its
2025 subsidy line, an approved run, notices and payment batches.

Whole numbers are for the county office, the township officers and the
auditor (``beneficiaries.view_personal_data``); the finance bureau and the
co-op see them masked in the browser. The co-op's API serves the whole ID
and mobile number of released applications, which its contracts need
(README, "Released applications"), and logs every page of them.
"""

import re

import pytest
from django.urls import resolve, reverse

from accounts.models import PersonalDataExport
from beneficiaries.models import Borrower, Household
from common.masking import mask_resident_id
from reports.models import Report
from tests.security import test_access_matrix as matrix
from tests.security.test_access_matrix import ARGS, EXPECTED, ROLES, client_for, is_api, text_of

# The matrix's world, built once for this module too.
world = matrix.world
media_root = matrix.media_root

pytestmark = pytest.mark.django_db

WHOLE_ID = re.compile(r"(?<!\d)\d{17}[\dXx](?![\dXx])")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
# A masked ID number as the masking helper writes it: 5308**********1230.
MASKED_ID = re.compile(r"\d{4}\*{10}\d{3}[\dXx]")
MASKED_MOBILE = re.compile(r"1[3-9]\d\*{4}\d{4}")


def identifiers() -> dict[str, str]:
    """Every whole number of the world's people: number -> what it is."""
    found = {}
    for id_number, phone in Borrower.objects.values_list("id_number", "phone"):
        found[id_number] = "ID number"
        found[phone] = "mobile number"
    for head_id, account in Household.objects.values_list("head_id_number", "account_number"):
        found[head_id] = "ID number"
        if account:
            found[account] = "account number"
    return found


def whole_numbers(text: str) -> dict[str, str]:
    """The unmasked identifiers in ``text``: by the patterns, and the
    world's own numbers."""
    found = dict.fromkeys(WHOLE_ID.findall(text), "ID pattern")
    found.update(dict.fromkeys(MOBILE.findall(text), "mobile pattern"))
    for number, what in identifiers().items():
        if number in text:
            found[number] = what
    return found


@pytest.fixture
def report_launch_at_once(monkeypatch):
    """The generation a request queues on commit starts at once (the test's
    transaction never commits)."""
    monkeypatch.setattr("reports.services._after_commit", lambda callback: callback())


def generated(world, role: str, kind, fmt, **of) -> tuple[Report, str]:
    """A report asked for through the page and downloaded: the row and the
    file's text."""
    client = client_for(world, role, "")
    response = client.post(reverse("reports:request"), {"kind": kind, "format": fmt, **of})
    assert response.status_code == 302, response.content.decode()[:1000]
    report = Report.objects.get(pk=resolve(response.url).kwargs["pk"])
    assert report.state == Report.State.DONE, report.error
    download = client.get(reverse("reports:download", args=[report.pk]))
    assert download.status_code == 200
    return report, text_of(download)


# --- Public outputs ---------------------------------------------------------------


def test_the_notices_of_applications_name_people_without_a_number(world):
    client = client_for(world, "county", "")
    for notice, people in (
        (world.a.notice, [world.a.borrower]),
        (world.b.notice, [world.b.borrower]),
        (world.shared_notice, [world.a.noticed_borrower, world.b.noticed_borrower]),
    ):
        text = text_of(client.get(reverse("notices:pdf", args=[notice.pk])))
        assert all(person.name in text for person in people), notice
        assert whole_numbers(text) == {}, notice
        # Not even masked: a notice shows name, village and amount.
        assert MASKED_ID.findall(text) + MASKED_MOBILE.findall(text) == [], notice


def test_the_notice_of_a_subsidy_names_people_without_a_number(world, report_launch_at_once):
    _report, text = generated(
        world, "county", Report.Kind.RUN_NOTICE, Report.Format.PDF, run=world.run.pk
    )
    assert world.a.borrower.name in text and world.b.borrower.name in text
    assert whole_numbers(text) == {}
    assert MASKED_ID.findall(text) + MASKED_MOBILE.findall(text) == []


@pytest.mark.parametrize("fmt", [Report.Format.PDF, Report.Format.XLSX])
def test_the_payout_list_masks_the_id_numbers_and_its_download_is_logged(
    world, report_launch_at_once, fmt
):
    before = PersonalDataExport.objects.count()
    report, text = generated(world, "finance", Report.Kind.PAYOUT, fmt, run=world.run.pk)
    assert whole_numbers(text) == {}
    for side in (world.a, world.b):
        assert mask_resident_id(side.borrower.id_number) in text
    assert PersonalDataExport.objects.count() == before + 1
    row = PersonalDataExport.objects.order_by("-pk").first()
    assert (row.user, row.row_count) == (world.cast.finance, 2)
    assert "#%d" % report.pk in row.what


@pytest.mark.parametrize("fmt", [Report.Format.PDF, Report.Format.XLSX])
def test_the_county_report_carries_no_number(world, report_launch_at_once, fmt):
    before = PersonalDataExport.objects.count()
    _report, text = generated(
        world,
        "county",
        Report.Kind.COUNTY,
        fmt,
        programme=world.programme.pk,
        as_of="2025-12-31",
    )
    assert world.a.township.name in text
    assert whole_numbers(text) == {}
    # Figures only: nothing that lists people, so nothing logged.
    assert PersonalDataExport.objects.count() == before


def test_the_statement_masks_and_its_download_is_logged(world):
    borrower = world.a.borrower
    for role in ("county", "finance"):
        before = PersonalDataExport.objects.count()
        response = client_for(world, role, "").get(reverse("reports:statement", args=[borrower.pk]))
        text = text_of(response)
        assert borrower.name in text and mask_resident_id(borrower.id_number) in text
        assert whole_numbers(text) == {}
        assert PersonalDataExport.objects.count() == before + 1
        row = PersonalDataExport.objects.order_by("-pk").first()
        assert (row.user, row.what, row.row_count) == (
            getattr(world.cast, role),
            "borrower statement",
            1,
        )


# --- Pages by role ----------------------------------------------------------------

# Downloads that carry whole numbers because the role's work needs them:
# logged (tests below), not scanned.
NEEDED_WHOLE = {
    # The bank's batch-payment file: account numbers for the bank.
    "subsidies:batch_file",
    # The borrower workbook: the registry's own export.
    "transfer:export",
}
# The world's stored reports hold stand-in files; the generated ones are
# scanned above.
STAND_INS = {"reports:download"}


def pages_of(role: str) -> list[str]:
    """Every page the role may open (the matrix's 200s), but the API's."""
    column = ROLES.index(role)
    return sorted(
        name
        for name, row in EXPECTED.items()
        if row[column] == 200 and not is_api(name) and name not in NEEDED_WHOLE | STAND_INS
    )


@pytest.mark.parametrize("role", ["finance", "coop"])
def test_a_role_without_personal_data_sees_every_number_masked(world, role):
    """Every page the finance bureau and the co-op may open, for both
    townships' records, with searches: no whole ID, mobile or account
    number (a masked one is fine)."""
    client = client_for(world, role, "")
    found = {}
    shown = 0
    for name in pages_of(role):
        for side in (world.a, world.b):
            args = ARGS[name](world, side) if name in ARGS else None
            url = reverse(name, args=args)
            response = client.get(url)
            assert response.status_code == 200, url
            text = text_of(response)
            shown += len(MASKED_ID.findall(text))
            if whole_numbers(text):
                found[url] = whole_numbers(text)
    if role == "finance":
        person = world.b.borrower
        for query in (person.name, person.id_number, person.phone):
            text = text_of(client.get(reverse("borrowers:list"), {"q": query}))
            # The search box echoes what was typed; the rows must not add to it.
            text = text.replace(query, "")
            shown += len(MASKED_ID.findall(text))
            if whole_numbers(text):
                found["borrowers:list?q=" + query] = whole_numbers(text)
    assert found == {}
    # The people are on these pages, masked.
    assert shown > 0


def test_a_role_with_personal_data_sees_the_whole_numbers_the_scan_looks_for(world):
    """The scan finds whole numbers where they are meant to be: the
    borrower's page for the county office and their own township's officer."""
    borrower = world.a.borrower
    url = reverse("borrowers:detail", args=[borrower.pk])
    for role in ("county", "township_officer_a", "auditor"):
        found = whole_numbers(text_of(client_for(world, role, "").get(url)))
        assert found[borrower.id_number] == "ID number", role
        assert found[borrower.phone] == "mobile number", role
    finance = whole_numbers(text_of(client_for(world, "finance", "").get(url)))
    assert finance == {}


@pytest.mark.parametrize("role", ["county", "township_officer_a", "finance", "auditor"])
def test_the_dashboard_carries_no_number(world, role):
    text = text_of(client_for(world, role, "").get(reverse("home")))
    assert whole_numbers(text) == {}


# --- The co-op's API --------------------------------------------------------------


def test_the_api_serves_whole_numbers_of_released_applications_only_and_logs_each_page(world):
    """README: each released application carries the whole ID number the
    contract needs (and the mobile number), and every page is logged."""
    api = client_for(world, "coop", "api:applications")
    before = PersonalDataExport.objects.count()
    body = api.get(reverse("api:applications")).json()
    served = {item["borrower_name"]: item for item in body["results"]}
    released = {side.borrower.name: side.borrower for side in (world.a, world.b)}
    assert set(served) == set(released)
    for name, borrower in released.items():
        assert (served[name]["id_number"], served[name]["phone"]) == (
            borrower.id_number,
            borrower.phone,
        )
    assert PersonalDataExport.objects.count() == before + 1
    row = PersonalDataExport.objects.order_by("-pk").first()
    assert (row.user, row.what, row.row_count) == (world.cast.coop, "api: applications", 2)
    # The people whose applications are not released are not served at all.
    text = str(body)
    for side in (world.a, world.b):
        for person in (side.noticed_borrower, side.submitted.borrower):
            assert person.name not in text and person.id_number not in text


@pytest.mark.parametrize("name", ["api:loans", "api:loan", "api-subsidy-lines"])
def test_the_apis_other_answers_carry_no_number(world, name):
    api = client_for(world, "coop", name)
    args = ARGS[name](world, world.a) if name in ARGS else None
    response = api.get(reverse(name, args=args))
    assert response.status_code == 200
    assert whole_numbers(response.content.decode()) == {}


# --- Every export with whole numbers is logged -------------------------------------


@pytest.mark.parametrize("role", ["county", "township_officer_a", "auditor"])
def test_the_borrower_export_is_logged_with_its_rows(world, role):
    before = PersonalDataExport.objects.count()
    response = client_for(world, role, "").get(reverse("transfer:export"))
    text = text_of(response)
    user = getattr(world.cast, role)
    visible = Borrower.objects.for_user(user)
    # It does carry whole numbers: that is why it is logged.
    assert all(borrower.id_number in text for borrower in visible)
    assert PersonalDataExport.objects.count() == before + 1
    row = PersonalDataExport.objects.order_by("-pk").first()
    assert (row.user, row.what, row.row_count) == (user, "borrower workbook", visible.count())
    assert visible.count() == (3 if role == "township_officer_a" else 6)


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_the_bank_file_of_a_batch_is_logged(world, fmt):
    before = PersonalDataExport.objects.count()
    batch = world.a.batch
    response = client_for(world, "finance", "").get(
        reverse("subsidies:batch_file", args=[batch.pk, fmt])
    )
    text = text_of(response) if fmt == "xlsx" else response.content.decode("utf-8-sig")
    assert world.a.borrower.household.account_number in text
    assert world.b.borrower.household.account_number not in text
    assert PersonalDataExport.objects.count() == before + 1
    row = PersonalDataExport.objects.order_by("-pk").first()
    assert (row.user, row.row_count) == (world.cast.finance, 1)
    assert batch.reference in row.what and fmt in row.what


def test_a_refused_export_is_neither_served_nor_logged(world):
    before = PersonalDataExport.objects.count()
    for role, name, args in (
        ("finance", "transfer:export", None),
        ("coop", "transfer:export", None),
        ("township_officer_b", "subsidies:batch_file", [world.a.batch.pk, "xlsx"]),
        ("township_officer_b", "reports:statement", [world.a.borrower.pk]),
        ("coop", "reports:statement", [world.a.borrower.pk]),
    ):
        response = client_for(world, role, "").get(reverse(name, args=args))
        assert response.status_code in (403, 404), (role, name)
        assert whole_numbers(response.content.decode(errors="replace")) == {}
    assert PersonalDataExport.objects.count() == before

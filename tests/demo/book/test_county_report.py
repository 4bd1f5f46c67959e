"""The county report on the Mojiang demo reproduces the programme's figures
(seed 000): 680 households, over 40 million yuan, 600 cadre households =
88.2 %, 360 households in husbandry and 320 in planting.

The demo is seeded once for the package (conftest.py); the PDF is built
once for the module.
"""

import re
import subprocess
from decimal import Decimal
from io import BytesIO

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Sum
from django.utils import timezone
from openpyxl import load_workbook
from PIL import Image

from common.money import yuan
from divisions.models import Division
from loans.models import Loan, Programme
from reports.builders import no_progress
from reports.county import county_pdf, county_xlsx
from reports.models import Report
from tests.demo.book.conftest import TODAY
from tests.pdf import pdf_text

# Every test asks for the database (``db``), so that pytest-django runs the
# module with the other database tests, before the transactional ones whose
# end empties the tables the module's seed needs (the role groups).
pytestmark = pytest.mark.django_db


def county_report(fmt: str) -> Report:
    return Report(
        county=Division.objects.get(code="530822"),
        kind=Report.Kind.COUNTY,
        format=fmt,
        programme=Programme.objects.get(name="振兴贷", year=2025, region_code="530822"),
        as_of=TODAY,
        requested_by=get_user_model().objects.get(username="county"),
        requested_at=timezone.now(),
    )


@pytest.fixture(scope="module")
def pdf_path(seeded, django_db_blocker, tmp_path_factory):
    with django_db_blocker.unblock():
        built = county_pdf(county_report(Report.Format.PDF), no_progress)
    assert built.row_count == 680
    path = tmp_path_factory.mktemp("county") / "county.pdf"
    path.write_bytes(built.content)
    return path


@pytest.fixture(scope="module")
def text(pdf_path) -> str:
    return pdf_text(pdf_path)


def lines_with(text: str, *tokens: str) -> list[str]:
    """The lines of the PDF's text holding every one of ``tokens`` as a word."""
    return [line for line in text.splitlines() if set(tokens) <= set(line.split())]


def demo_loans():
    return Loan.objects.filter(programme__name="振兴贷", programme__year=2025)


def test_the_pdf_shows_680_households_and_the_principal_lent(seeded, db, text):
    households = demo_loans().values("application__household").distinct().count()
    principal = demo_loans().aggregate(total=Sum("principal"))["total"]
    assert households == 680 and demo_loans().count() == 680
    assert principal > Decimal("40000000.00")
    # The township table's total row: 680 households, 680 loans, the principal.
    assert re.search(r"\s680\s+680\s+" + re.escape(yuan(principal)) + r"\s", text)
    assert lines_with(text, "680") and yuan(principal) in text


def test_the_pdf_shows_600_cadre_households_88_2_percent(seeded, db, text):
    assert lines_with(text, "600", "88.2%")


def test_the_pdf_shows_360_husbandry_and_320_planting_households(seeded, db, text):
    assert lines_with(text, "360", "52.9%")
    assert lines_with(text, "320", "47.1%")


def test_the_workbook_has_the_same_figures(seeded, db):
    built = county_xlsx(county_report(Report.Format.XLSX), no_progress)
    workbook = load_workbook(BytesIO(built.content))
    # The sixth sheet is the risk-compensation fund's (demo/riskfund.py).
    summary, _townships, categories, _industries, farming, _fund = workbook.worksheets
    principal = demo_loans().aggregate(total=Sum("principal"))["total"]
    assert [summary.cell(row=row, column=2).value for row in (5, 6)] == [680, 680]
    assert Decimal(str(summary["B7"].value)) == principal
    subtotals = [row for row in categories.iter_rows(min_row=5, values_only=True) if 600 in row]
    assert subtotals and subtotals[0][9] == 88.2
    assert [row[1] for row in farming.iter_rows(min_row=5, max_row=6, values_only=True)] == [
        360,
        320,
    ]


def test_page_one_renders_to_an_image(seeded, db, pdf_path, tmp_path):
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf_path), str(tmp_path / "p")],
        check=True,
    )
    (png,) = tmp_path.glob("p*.png")
    assert png.stat().st_size > 10_000
    with Image.open(png) as image:
        assert image.size[1] > image.size[0] > 400  # A4 upright
        dark = sum(image.convert("L").histogram()[:128])
        assert dark > 2_000  # text and table rules, not a blank page

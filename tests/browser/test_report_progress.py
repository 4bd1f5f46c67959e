"""A report being generated, as the county officer watches it in Chromium:
the page shows the bar and the stage the worker has reached, the script
moves them as the worker writes its progress, and the page reloads itself
with the download once the file is stored."""

import datetime

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone
from playwright.sync_api import expect

from loans.models import Programme
from reports.models import Report
from tests.browser.conftest import log_in, save_screenshot
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_page_follows_a_report_being_generated(page, cast, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path)
    programme = Programme.objects.get(name="振兴贷", year=2025, region_code="530822")
    # As a worker leaves it while laying out the pages.
    report = Report.objects.create(
        key="county:pdf:test",
        county=cast.county_division,
        kind=Report.Kind.COUNTY,
        format=Report.Format.PDF,
        programme=programme,
        as_of=datetime.date(2026, 1, 5),
        state=Report.State.RUNNING,
        generation=1,
        progress=35,
        stage="正在排版第 3 页",
        requested_by=cast.county,
        requested_at=timezone.now(),
    )

    log_in(page, cast.county.username, PASSWORD)
    page.wait_for_url("**/")
    page.goto(f"/reports/{report.pk}/")
    bar = page.get_by_test_id("progress-bar")
    expect(bar).to_have_attribute("value", "35")
    expect(page.locator("[data-progress-text]")).to_have_text("35% · 正在排版第 3 页")
    save_screenshot(page, "report-generating")

    Report.objects.filter(pk=report.pk).update(progress=80, stage="正在写入 PDF（6 页）")
    expect(page.locator("[data-progress-text]")).to_have_text("80% · 正在写入 PDF（6 页）")
    expect(bar).to_have_js_property("value", 80)

    # The file is stored: the page reloads itself and offers it.
    report.refresh_from_db()
    report.file.save("county-test.pdf", ContentFile(b"%PDF-1.7 test"), save=False)
    report.state = Report.State.DONE
    report.progress = 100
    report.finished_at = timezone.now()
    report.file_size = 13
    report.save()
    expect(page.get_by_test_id("report-state")).to_have_text("已生成")
    expect(page.get_by_test_id("download")).to_be_visible()
    expect(page.get_by_test_id("progress-bar")).to_have_count(0)

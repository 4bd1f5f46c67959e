"""Importing 10,000 borrowers from an .xlsx: the real import against
django-import-export's bulk mode on the same file.

The real path is ``transfer.borrowers_import`` as the confirm view calls
it: every row read and validated in full, the valid file written in bulk
with a history row per record; its dry run (the preview) is timed apart.
The baseline is what django-import-export does fastest: three plain
ModelResources (households, borrowers, positions) with ``use_bulk=True``
and the cached instance loader, which validate nothing beyond parsing,
write no history and call no ``save()`` (the bench fills the denormalised
columns itself). A sample written row by row through the registry
services, as forms write, shows why the import does not do that.
Goal: under 30 s for 10,000 rows on PostgreSQL.
"""

import datetime
import os
import tempfile
import time
from pathlib import Path

from django.db import connection, transaction
from import_export import resources, widgets
from import_export.fields import Field
from import_export.instance_loaders import CachedInstanceLoader
from openpyxl import Workbook
from stdnum.cn import ric

from accounts.roles import Role
from accounts.services import user_create
from bench.harness import Figure
from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Household, Position
from beneficiaries.registry import services
from beneficiaries.transfer import resources as wb
from beneficiaries.transfer import services as transfer
from divisions.models import Division
from divisions.services import divisions_load

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "10000"))
VILLAGES_PER_TOWNSHIP = 4
GROUPS_PER_VILLAGE = 5
GOAL_SECONDS = 30.0
BASELINE = "import-export bulk mode"
SERVICES_SAMPLE = 1000
INDUSTRIES = ("生猪", "肉牛", "茶叶", "紫米", "核桃", "生物药材", "林下养鸡", "乡村民宿")
TITLES = ("村民小组长", "村民小组副组长", "党小组长", "村委会主任", "村“两委”委员")
SURNAMES = "李王张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
GIVEN = ("国华", "建国", "秀英", "文明", "海燕", "志强", "玉兰", "春梅", "德明", "光荣")


def _places(actor) -> list[tuple[str, str, str]]:
    """Villages and groups under every township, through the services."""
    names = []
    for township in Division.objects.townships().order_by("code"):
        for v in range(1, VILLAGES_PER_TOWNSHIP + 1):
            village = division_create(
                actor=actor, parent=township, code="%s%03d" % (township.code, v), name="第%d村" % v
            )
            for g in range(1, GROUPS_PER_VILLAGE + 1):
                group = division_create(
                    actor=actor, parent=village, code="%s%03d" % (village.code, g), name="%d组" % g
                )
                names.append((township.name, village.name, group.name))
    return names


def _id_number(index: int) -> str:
    birth = datetime.date(1965, 1, 1) + datetime.timedelta(days=index // 50)
    base = "530822%s%03d" % (birth.strftime("%Y%m%d"), index % 50 * 2 + 1)
    return base + ric.calc_check_digit(base + "0")


def _write_workbook(path: Path, places) -> None:
    """ROWS valid rows; every tenth borrower shares the previous one's household."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("借款人")
    sheet.append(list(wb.COLUMNS))
    head = None
    for index in range(ROWS):
        number = _id_number(index)
        name = SURNAMES[index % len(SURNAMES)] + GIVEN[index // len(SURNAMES) % len(GIVEN)]
        if head is None or index % 10 != 9:
            township, village, group = places[index % len(places)]
            head = (name, number, township, village, group, 3 + index % 4, index)
        has_position = index % 2 == 0
        row = {
            wb.TOWNSHIP: head[2],
            wb.VILLAGE: head[3],
            wb.GROUP: head[4],
            wb.HEAD_NAME: head[0],
            wb.HEAD_ID: head[1],
            wb.MEMBERS: head[5],
            wb.POVERTY: "一般户",
            wb.ACCOUNT_HOLDER: head[0],
            wb.ACCOUNT_NUMBER: "62284800%08d" % head[6],
            wb.BANK: "墨江县农村信用合作联社",
            wb.NAME: name,
            wb.ID_NUMBER: number,
            wb.PHONE: "139%08d" % index,
            wb.PARTY: "是" if index % 3 == 0 else "否",
            wb.BASE_CATEGORY: "致富带头人" if index % 4 else "村组后备力量",
            wb.INDUSTRY: INDUSTRIES[index % len(INDUSTRIES)],
            wb.ENTITY: "养殖场",
            wb.SCALE: 10 + index % 300,
            wb.UNIT: "头",
            wb.TITLE: TITLES[index % len(TITLES)] if has_position else None,
            wb.STARTED: datetime.date(2021, 3, 1) if has_position else None,
        }
        sheet.append([row.get(column) for column in wb.COLUMNS])
    book.save(path)


# The baseline: django-import-export's bulk mode with plain resources ------------


class _GroupWidget(widgets.Widget):
    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def clean(self, value, row=None, **kwargs):
        return self.groups[(row[wb.TOWNSHIP], row[wb.VILLAGE], row[wb.GROUP])]


class _IndustryWidget(wb.IndustryWidget):
    pass


def _bulk_resources(groups):
    class HouseholdBulk(resources.ModelResource):
        head_id_number = Field("head_id_number", wb.HEAD_ID, widgets.CharWidget())
        head_name = Field("head_name", wb.HEAD_NAME, widgets.CharWidget())
        village_group = Field("village_group", wb.GROUP, _GroupWidget(groups))
        member_count = Field("member_count", wb.MEMBERS, widgets.IntegerWidget())
        poverty_status = Field("poverty_status", wb.POVERTY, wb.LabelWidget(wb.POVERTY_LABELS))
        account_holder = Field("account_holder", wb.ACCOUNT_HOLDER, widgets.CharWidget())
        account_number = Field("account_number", wb.ACCOUNT_NUMBER, widgets.CharWidget())
        bank_name = Field("bank_name", wb.BANK, widgets.CharWidget())

        class Meta:
            model = Household
            fields = (
                "head_id_number",
                "head_name",
                "village_group",
                "member_count",
                "poverty_status",
                "account_holder",
                "account_number",
                "bank_name",
            )
            import_id_fields = ["head_id_number"]
            instance_loader_class = CachedInstanceLoader
            use_bulk = True
            batch_size = 1000
            skip_diff = True

        def before_save_instance(self, instance, row, **kwargs):
            instance.township_id = instance.village_group.parent.parent_id
            instance.county_id = instance.village_group.parent.parent.parent_id

    class BorrowerBulk(resources.ModelResource):
        id_number = Field("id_number", wb.ID_NUMBER, widgets.CharWidget())
        name = Field("name", wb.NAME, widgets.CharWidget())
        phone = Field("phone", wb.PHONE, widgets.CharWidget())
        household = Field(
            "household", wb.HEAD_ID, widgets.CachedForeignKeyWidget(Household, "head_id_number")
        )
        party_member = Field("party_member", wb.PARTY, wb.YesNoWidget())
        base_category = Field(
            "base_category", wb.BASE_CATEGORY, wb.LabelWidget(wb.BASE_CATEGORY_LABELS)
        )
        industry = Field("industry", wb.INDUSTRY, _IndustryWidget())
        entity_description = Field("entity_description", wb.ENTITY, widgets.CharWidget())
        scale = Field("scale", wb.SCALE, widgets.DecimalWidget())
        scale_unit = Field("scale_unit", wb.UNIT, widgets.CharWidget())

        class Meta:
            model = Borrower
            fields = (
                "id_number",
                "name",
                "phone",
                "household",
                "party_member",
                "base_category",
                "industry",
                "entity_description",
                "scale",
                "scale_unit",
            )
            import_id_fields = ["id_number"]
            instance_loader_class = CachedInstanceLoader
            use_bulk = True
            batch_size = 1000
            skip_diff = True

        def before_save_instance(self, instance, row, **kwargs):
            # bulk_create calls no save(): fill what Borrower.save derives.
            instance.township_id = instance.household.township_id
            instance.county_id = instance.household.county_id
            instance.birth_date = ric.get_birth_date(instance.id_number)
            male = int(instance.id_number[16]) % 2
            instance.gender = Borrower.Gender.MALE if male else Borrower.Gender.FEMALE
            instance.category = instance.base_category

    class PositionBulk(resources.ModelResource):
        borrower = Field(
            "borrower", wb.ID_NUMBER, widgets.CachedForeignKeyWidget(Borrower, "id_number")
        )
        title = Field("title", wb.TITLE, wb.LabelWidget(wb.TITLE_LABELS))
        started_on = Field("started_on", wb.STARTED, wb.DateWidget())
        ended_on = Field("ended_on", wb.ENDED, wb.DateWidget())

        class Meta:
            model = Position
            fields = ("borrower", "title", "started_on", "ended_on")
            use_bulk = True
            batch_size = 1000
            skip_diff = True
            force_init_instance = True

    return HouseholdBulk(), BorrowerBulk(), PositionBulk()


def _bulk_import(path: Path) -> float:
    """Time the bulk-mode baseline on the file, then roll it back."""
    start = time.perf_counter()
    sheet = transfer.read_workbook(path)
    groups = {}
    for group in Division.objects.filter(level=Division.Level.GROUP).select_related(
        "parent__parent"
    ):
        groups[(group.parent.parent.name, group.parent.name, group.name)] = group
    households, borrowers, positions = _bulk_resources(groups)
    first_of_household = {}
    for row in sheet.dataset.dict:
        first_of_household.setdefault(row[wb.HEAD_ID], row)
    household_rows = sheet.dataset.__class__(headers=sheet.dataset.headers)
    for row in first_of_household.values():
        household_rows.append([row[h] for h in sheet.dataset.headers])
    position_rows = sheet.dataset.__class__(headers=sheet.dataset.headers)
    for row in sheet.dataset.dict:
        if row[wb.TITLE]:
            position_rows.append([row[h] for h in sheet.dataset.headers])
    with transaction.atomic():
        for resource, dataset in (
            (households, household_rows),
            (borrowers, sheet.dataset),
            (positions, position_rows),
        ):
            result = resource.import_data(dataset, raise_errors=True, use_transactions=True)
            assert not result.has_errors() and not result.has_validation_errors()
        seconds = time.perf_counter() - start
        assert Borrower.objects.count() == ROWS, Borrower.objects.count()
        transaction.set_rollback(True)
    return seconds


class _ServicesPerRow(wb.BorrowerResource):
    """The same reading and checks, but each row written by the registry
    services (household_create, borrower_create), as a form would: the
    design the import does not use, measured to show why."""

    def save_instance(self, instance, is_create, row, **kwargs):
        plan = self._plan
        household = plan.household
        if household is None:
            new = plan.new_household
            fields = {name: getattr(new, name) for name in wb.HOUSEHOLD_FIELD_COLUMNS}
            household = services.household_create(actor=self.actor, reason=self.reason, **fields)
            self._households[household.head_id_number] = household
        services.borrower_create(
            actor=self.actor,
            household=household,
            positions=[plan.position_fields] if plan.position_fields else [],
            reason=self.reason,
            today=self.today,
            **{name: getattr(plan.new_borrower, name) for name in wb.BORROWER_FIELD_COLUMNS},
        )

    def after_import(self, dataset, result, **kwargs):
        pass


def _services_per_row(actor, path: Path, sample: int) -> float:
    """Seconds for ``sample`` rows written row by row through the services
    (in a transaction rolled back afterwards)."""
    sheet = transfer.read_workbook(path)
    dataset = sheet.dataset.__class__(*sheet.dataset[:sample], headers=sheet.dataset.headers)
    resource = _ServicesPerRow(
        actor=actor, filename="bench.xlsx", row_numbers=sheet.row_numbers[:sample]
    )
    start = time.perf_counter()
    result = resource.import_data(dataset, dry_run=True, use_transactions=True)
    seconds = time.perf_counter() - start
    assert not result.has_errors() and not result.has_validation_errors()
    assert result.totals["new"] == sample
    return seconds


def _import(actor, path: Path, *, dry_run: bool) -> tuple[float, transfer.ImportReport]:
    start = time.perf_counter()
    report = transfer.borrowers_import(
        actor=actor, path=path, filename="bench.xlsx", dry_run=dry_run
    )
    seconds = time.perf_counter() - start
    assert report.ok, report.errors[:5]
    return seconds, report


def run() -> list[Figure]:
    county = divisions_load(counties=["530822"]).county
    actor = user_create(
        username="bench-county", password="bench-password-1", role=Role.COUNTY, county=county
    )
    places = _places(actor)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.xlsx"
        _write_workbook(path, places)
        print(
            "%s: %d rows, %d village groups, %.0f KB"
            % (connection.vendor, ROWS, len(places), path.stat().st_size / 1024),
            flush=True,
        )
        baseline = _bulk_import(path)
        print("import-export bulk mode (rolled back):  %6.2f s" % baseline, flush=True)
        sample = min(ROWS, SERVICES_SAMPLE)
        per_row = _services_per_row(actor, path, sample) * ROWS / sample
        print(
            "services row by row (rolled back):     %6.2f s  (%d-row sample, scaled to %d)"
            % (per_row, sample, ROWS),
            flush=True,
        )
        dry_run, _ = _import(actor, path, dry_run=True)
        print("import, dry run (the preview):         %6.2f s" % dry_run, flush=True)
        seconds, report = _import(actor, path, dry_run=False)
        print(
            "import (the confirmation):             %6.2f s  new %d, updated %d, unchanged %d"
            % (seconds, report.new, report.updated, report.unchanged),
            flush=True,
        )
        assert report.new == ROWS and Borrower.objects.count() == ROWS
        assert Borrower.history.filter(history_change_reason="import: bench.xlsx").count() == ROWS
        again, report = _import(actor, path, dry_run=False)
        assert report.unchanged == ROWS
        print("the same file again (all unchanged):   %6.2f s" % again, flush=True)
    verdict = "met" if seconds < GOAL_SECONDS else "NOT MET"
    print(
        "goal: %d rows under %.0f s: %s (%.2f s, %.2f ms a row)"
        % (ROWS, GOAL_SECONDS, verdict, seconds, seconds * 1000 / ROWS),
        flush=True,
    )
    return [
        Figure("import %d rows (confirm)" % ROWS, seconds, BASELINE, baseline),
        Figure("dry run of the same rows (preview)", dry_run, BASELINE, baseline),
        Figure("re-import, all rows unchanged", again, BASELINE, baseline),
        Figure("services row by row (scaled)", per_row, BASELINE, baseline),
    ]

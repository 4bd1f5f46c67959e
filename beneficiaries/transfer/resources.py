"""The borrower workbook: one row per borrower, Chinese column headers and
Chinese labels, read and written with django-import-export.

The same format goes both ways, so an export imports again unchanged.

An import holds every row to the rules the registry services apply to a
form: the models' own field and record validation (``clean_fields`` and
``clean``), the township check of ``accounts.roles.may_act_in_township``,
unique ID numbers, and the category derived by ``models.derive_category``.
What the services' ``full_clean`` asks the database row by row (does the
group exist, is the ID number taken) is answered here from lookups made
once per file, and the valid rows are then written in bulk, each record
with its history row (actor, "import: <file>", address). Why not call the
services row by row: they cost some 30 queries a row, minutes for the
10,000-row file the programme expects (bench/bench_import.py measures
both).

Column headers and the labels in the cells (一般户, 是, 村民小组长 ...) are
the workbook's vocabulary, fixed whatever language the pages are shown in:
a workbook exported in English must import in Chinese.
"""

import datetime
import re
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from import_export import resources, widgets
from import_export.fields import Field
from import_export.instance_loaders import BaseInstanceLoader
from simple_history.models import HistoricalRecords
from simple_history.utils import bulk_create_with_history, bulk_update_with_history

from accounts.roles import may_act_in_township
from beneficiaries.models import Borrower, Household, Industry, Position, derive_category
from common.history import client_ip
from common.identifiers import (
    normalize_resident_id,
    resident_id_birth_date,
    resident_id_is_male,
)
from divisions.models import Division

# The columns, in workbook order.
TOWNSHIP = "乡镇"
VILLAGE = "村"
GROUP = "村民小组"
HEAD_NAME = "户主姓名"
HEAD_ID = "户主身份证号"
MEMBERS = "家庭人口"
POVERTY = "户类型"
ACCOUNT_HOLDER = "开户人"
ACCOUNT_NUMBER = "账号"
BANK = "开户行"
NAME = "姓名"
ID_NUMBER = "身份证号"
GENDER = "性别"
BIRTH_DATE = "出生日期"
PHONE = "手机号"
PARTY = "是否党员"
BASE_CATEGORY = "不任职时类别"
INDUSTRY = "产业"
ENTITY = "经营主体"
SCALE = "规模"
UNIT = "单位"
TITLE = "职务"
STARTED = "任职起始日期"
ENDED = "任职截止日期"

COLUMNS = (
    TOWNSHIP,
    VILLAGE,
    GROUP,
    HEAD_NAME,
    HEAD_ID,
    MEMBERS,
    POVERTY,
    ACCOUNT_HOLDER,
    ACCOUNT_NUMBER,
    BANK,
    NAME,
    ID_NUMBER,
    GENDER,
    BIRTH_DATE,
    PHONE,
    PARTY,
    BASE_CATEGORY,
    INDUSTRY,
    ENTITY,
    SCALE,
    UNIT,
    TITLE,
    STARTED,
    ENDED,
)
# Only checked against the ID number, never stored: a workbook may leave them out.
CHECK_ONLY_COLUMNS = (GENDER, BIRTH_DATE)
REQUIRED_HEADERS = tuple(column for column in COLUMNS if column not in CHECK_ONLY_COLUMNS)
# Kept as text in the workbook: Excel would round an 18-digit number.
TEXT_COLUMNS = (HEAD_ID, ACCOUNT_NUMBER, ID_NUMBER, PHONE)
DATE_COLUMNS = (BIRTH_DATE, STARTED, ENDED)
# Cells that must be filled; blank cells elsewhere take the form's default.
REQUIRED_CELLS = (TOWNSHIP, VILLAGE, GROUP, HEAD_NAME, HEAD_ID, NAME, ID_NUMBER, PHONE, INDUSTRY)

POVERTY_LABELS = {
    Household.PovertyStatus.GENERAL: "一般户",
    Household.PovertyStatus.LIFTED: "脱贫户",
    Household.PovertyStatus.MONITORED: "监测户",
}
BASE_CATEGORY_LABELS = {
    Borrower.Category.INDUSTRY_LEADER: "致富带头人",
    Borrower.Category.RESERVE_CADRE: "村组后备力量",
    Borrower.Category.POOR_HOUSEHOLD: "贫困户",
    Borrower.Category.ENTERPRISE_REPRESENTATIVE: "企业代表",
}
BASE_CATEGORY_ALIASES = {"后备力量": Borrower.Category.RESERVE_CADRE}
TITLE_LABELS = {
    Position.Title.BRANCH_SECRETARY: "村党组织书记",
    Position.Title.COMMITTEE_DIRECTOR: "村委会主任",
    Position.Title.COMMITTEE_MEMBER: "村“两委”委员",
    Position.Title.GROUP_BRANCH_SECRETARY: "村民小组党支部书记",
    Position.Title.PARTY_GROUP_LEADER: "党小组长",
    Position.Title.GROUP_LEADER: "村民小组长",
    Position.Title.GROUP_DEPUTY_LEADER: "村民小组副组长",
}
TITLE_ALIASES = {
    '村"两委"委员': Position.Title.COMMITTEE_MEMBER,
    "村两委委员": Position.Title.COMMITTEE_MEMBER,
    "村党支部书记": Position.Title.BRANCH_SECRETARY,
    "村民小组组长": Position.Title.GROUP_LEADER,
}
GENDER_LABELS = {Borrower.Gender.MALE: "男", Borrower.Gender.FEMALE: "女"}
YES, NO = "是", "否"

# Where the services' field errors belong in the workbook.
HOUSEHOLD_FIELD_COLUMNS = {
    "head_name": HEAD_NAME,
    "head_id_number": HEAD_ID,
    "village_group": GROUP,
    "member_count": MEMBERS,
    "poverty_status": POVERTY,
    "account_holder": ACCOUNT_HOLDER,
    "account_number": ACCOUNT_NUMBER,
    "bank_name": BANK,
}
BORROWER_FIELD_COLUMNS = {
    "name": NAME,
    "id_number": ID_NUMBER,
    "phone": PHONE,
    "party_member": PARTY,
    "base_category": BASE_CATEGORY,
    "industry": INDUSTRY,
    "entity_description": ENTITY,
    "scale": SCALE,
    "scale_unit": UNIT,
}
POSITION_FIELD_COLUMNS = {"title": TITLE, "started_on": STARTED, "ended_on": ENDED}

# Excel stores numbers as doubles: beyond 15 digits they are rounded.
EXCEL_EXACT_DIGITS = 15
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日", "%Y%m%d")


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime.datetime):
        value = value.date()
    return str(value).strip()


class RowErrors:
    """The errors of one row, by column, each message once."""

    def __init__(self):
        self.by_column: dict[str, list[str]] = {}

    def __bool__(self) -> bool:
        return bool(self.by_column)

    def __contains__(self, column: str) -> bool:
        return column in self.by_column

    def add(self, column: str, message) -> None:
        messages = self.by_column.setdefault(column, [])
        if str(message) not in messages:
            messages.append(str(message))

    def add_model_errors(self, error: ValidationError, columns: dict[str, str]) -> None:
        for name, errors in getattr(error, "error_dict", {NON_FIELD_ERRORS: [error]}).items():
            column = columns.get(name, NON_FIELD_ERRORS)
            for item in errors:
                for single in item.error_list:
                    if single.code in ("blank", "required", "null"):
                        self.add(column, _("Fill in this column."))
                    elif single.params:
                        self.add(column, single.message % single.params)
                    else:
                        self.add(column, single.message)

    def raise_if_any(self) -> None:
        if self.by_column:
            raise ValidationError(self.by_column)


# Widgets: each turns a cell into a Python value (or raises ValueError with
# the reason, in the user's language) and a value back into a cell.


class TextWidget(widgets.CharWidget):
    def clean(self, value, row=None, **kwargs):
        return _as_text(value)

    def render(self, value, obj=None, **kwargs):
        return "" if value is None else str(value)


class DigitsWidget(TextWidget):
    """Numbers kept as text (phone, account). Excel rounds a number cell of
    more than 15 digits, so such a cell cannot be trusted."""

    def clean(self, value, row=None, **kwargs):
        if isinstance(value, int | float) and not isinstance(value, bool):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(_("Write this number as digits only."))
            if len(str(int(value))) > EXCEL_EXACT_DIGITS:
                raise ValueError(
                    _(
                        "This cell holds a number, and Excel keeps only 15 digits of a number, "
                        "so the last digits may be lost. Format the column as text and type "
                        "the number again."
                    )
                )
        return re.sub(r"\s", "", _as_text(value))


class ResidentIdWidget(DigitsWidget):
    # Already compact: spare python-stdnum's slower clean-up (several per row).
    COMPACT = re.compile(r"^[0-9]{17}[0-9X]$")

    def clean(self, value, row=None, **kwargs):
        text = super().clean(value, row, **kwargs)
        return text if self.COMPACT.match(text) else normalize_resident_id(text)


class LabelWidget(TextWidget):
    """A choice written as its Chinese label (一般户, 村民小组长)."""

    def __init__(self, labels: dict, aliases: dict | None = None, default=None):
        super().__init__()
        self.labels = labels
        self.values = {label: value for value, label in labels.items()} | (aliases or {})
        self.default = default

    def clean(self, value, row=None, **kwargs):
        text = _as_text(value)
        if not text:
            return self.default
        if text not in self.values:
            raise ValueError(
                _("Unknown value “%(value)s”; use one of: %(choices)s.")
                % {"value": text, "choices": "、".join(self.labels.values())}
            )
        return self.values[text]

    def render(self, value, obj=None, **kwargs):
        return self.labels.get(value, "")


class YesNoWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        if isinstance(value, bool):
            return value
        text = _as_text(value)
        if text in ("", NO):
            return False
        if text == YES:
            return True
        raise ValueError(_("Write 是 or 否."))

    def render(self, value, obj=None, **kwargs):
        return YES if value else NO


class DateWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        text = _as_text(value)
        if not text:
            return None
        for date_format in DATE_FORMATS:
            try:
                return datetime.datetime.strptime(text, date_format).date()
            except ValueError:
                continue
        raise ValueError(_("“%(value)s” is not a date; write it as 2024-01-31.") % {"value": text})

    def render(self, value, obj=None, **kwargs):
        return value


class CountWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        text = _as_text(value)
        if not text:
            return None
        if not text.isdigit() or int(text) < 1:
            raise ValueError(_("Give a whole number of at least 1, such as 4."))
        return int(text)

    def render(self, value, obj=None, **kwargs):
        return value


class ScaleWidget(TextWidget):
    def clean(self, value, row=None, **kwargs):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = Decimal(str(value))
        text = _as_text(value)
        if not text:
            return None
        try:
            number = Decimal(text.replace(",", ""))
        except InvalidOperation:
            raise ValueError(_("Give a number, such as 200 or 30.5.")) from None
        if not number.is_finite():
            raise ValueError(_("Give a number, such as 200 or 30.5."))
        if number < 0:
            raise ValueError(_("The scale cannot be negative."))
        return number

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return None
        return int(value) if value == value.to_integral_value() else value


class IndustryWidget(TextWidget):
    """A kind of industry by name (生猪), or as sector/kind (养殖业/生猪) where
    the kind's name alone is ambiguous. Loads the industry table once."""

    SEPARATOR = re.compile(r"\s*[/／·]\s*")

    def __init__(self):
        super().__init__()
        self._kinds_by_name = None

    def _load(self):
        if self._kinds_by_name is None:
            self._kinds_by_name = defaultdict(list)
            self._sectors = set()
            for industry in Industry.objects.select_related("parent"):
                if industry.is_sector:
                    self._sectors.add(industry.name)
                else:
                    self._kinds_by_name[industry.name].append(industry)

    def clean(self, value, row=None, **kwargs):
        text = _as_text(value)
        if not text:
            return None
        self._load()
        parts = self.SEPARATOR.split(text)
        if len(parts) == 2:
            sector, kind = parts
            matches = [i for i in self._kinds_by_name.get(kind, []) if i.parent.name == sector]
        else:
            kind, matches = text, self._kinds_by_name.get(text, [])
        if len(matches) == 1:
            return matches[0]
        if not matches and text in self._sectors:
            raise ValueError(
                _("%(value)s is a sector; give the kind of industry, such as 生猪 or 茶叶.")
                % {"value": text}
            )
        if matches:
            raise ValueError(
                _("%(value)s is a kind in several sectors; write it as sector/kind.")
                % {"value": text}
            )
        raise ValueError(
            _("Unknown industry “%(value)s”; write a kind such as 生猪 or 茶叶, or sector/kind.")
            % {"value": text}
        )

    def render(self, value, obj=None, **kwargs):
        if value is None:
            return ""
        self._load()
        if len(self._kinds_by_name.get(value.name, [])) > 1:
            return "%s/%s" % (value.parent.name, value.name)
        return value.name


class DivisionDirectory:
    """Townships, villages and groups by name, loaded once per import, with
    each group's village and township attached so no lookup queries again."""

    def __init__(self):
        townships, villages, self.groups = {}, {}, {}
        by_id = {}
        below_county = [Division.Level.TOWNSHIP, Division.Level.VILLAGE, Division.Level.GROUP]
        for division in Division.objects.filter(level__in=below_county).order_by("level"):
            by_id[division.pk] = division
        for division in by_id.values():
            if division.parent_id in by_id:
                division.parent = by_id[division.parent_id]
            if division.level == Division.Level.TOWNSHIP:
                townships.setdefault(division.name, division)
            elif division.level == Division.Level.VILLAGE:
                villages[(division.parent_id, division.name)] = division
            elif division.level == Division.Level.GROUP:
                self.groups[(division.parent_id, division.name)] = division
        self.townships, self.villages = townships, villages

    def find_group(self, township_name: str, village_name: str, group_name: str, errors):
        township = self.townships.get(township_name)
        if township is None:
            errors.add(
                TOWNSHIP, _("There is no township named %(name)s.") % {"name": township_name}
            )
            return None
        village = self.villages.get((township.pk, village_name))
        if village is None:
            errors.add(
                VILLAGE,
                _("There is no village named %(village)s in %(township)s.")
                % {"village": village_name, "township": township_name},
            )
            return None
        group = self.groups.get((village.pk, group_name))
        if group is None:
            errors.add(
                GROUP,
                _("There is no village group named %(group)s in %(village)s.")
                % {"group": group_name, "village": village_name},
            )
        return group


class KnownBorrowerLoader(BaseInstanceLoader):
    """Finds the borrower of a row among those loaded once in ``before_import``."""

    def get_instance(self, row):
        return self.resource.known_borrower(row)


@dataclass
class RowPlan:
    """What one valid row will write."""

    household: Household | None  # as registered; None for a new one
    new_household: Household  # as the row gives it, checked
    household_changes: dict
    borrower: Borrower | None
    new_borrower: Borrower
    borrower_changes: dict
    position: Position | None  # the registered position the row matches
    position_fields: dict | None
    position_changed: bool = False

    @property
    def changes_anything(self) -> bool:
        if self.household is None or self.household_changes or self.borrower is None:
            return True
        if self.borrower_changes or self.position_changed:
            return True
        return (
            self.borrower.household_id != self.household.pk
            or self.borrower.township_id != self.household.township_id
        )


def _chunks(items: list, size: int = 2000):
    for start in range(0, len(items), size):
        yield items[start : start + size]


class BorrowerResource(resources.ModelResource):
    """The borrower workbook. For an import, construct it with the acting
    user, the file name (for the history) and the Excel row number of each
    dataset row, and call ``import_data`` with ``use_transactions=True`` and
    ``rollback_on_validation_errors=True``: rows are only queued as they are
    read, and written together at the end if no row is bad.

    An export needs none of these: ``BorrowerResource().export(queryset)``
    with the queryset from ``transfer.borrowers_for_export``, which selects
    and prefetches what the columns read.
    """

    township = Field(column_name=TOWNSHIP, widget=TextWidget())
    village = Field(column_name=VILLAGE, widget=TextWidget())
    village_group = Field(column_name=GROUP, widget=TextWidget())
    head_name = Field(attribute="household__head_name", column_name=HEAD_NAME, widget=TextWidget())
    head_id_number = Field(
        attribute="household__head_id_number", column_name=HEAD_ID, widget=ResidentIdWidget()
    )
    member_count = Field(
        attribute="household__member_count", column_name=MEMBERS, widget=CountWidget()
    )
    poverty_status = Field(
        attribute="household__poverty_status",
        column_name=POVERTY,
        widget=LabelWidget(POVERTY_LABELS, default=Household.PovertyStatus.GENERAL),
    )
    account_holder = Field(
        attribute="household__account_holder", column_name=ACCOUNT_HOLDER, widget=TextWidget()
    )
    account_number = Field(
        attribute="household__account_number", column_name=ACCOUNT_NUMBER, widget=DigitsWidget()
    )
    bank_name = Field(attribute="household__bank_name", column_name=BANK, widget=TextWidget())
    name = Field(attribute="name", column_name=NAME, widget=TextWidget())
    id_number = Field(attribute="id_number", column_name=ID_NUMBER, widget=ResidentIdWidget())
    gender = Field(
        attribute="gender", column_name=GENDER, widget=LabelWidget(GENDER_LABELS, default="")
    )
    birth_date = Field(attribute="birth_date", column_name=BIRTH_DATE, widget=DateWidget())
    phone = Field(attribute="phone", column_name=PHONE, widget=DigitsWidget())
    party_member = Field(attribute="party_member", column_name=PARTY, widget=YesNoWidget())
    base_category = Field(
        attribute="base_category",
        column_name=BASE_CATEGORY,
        widget=LabelWidget(
            BASE_CATEGORY_LABELS,
            BASE_CATEGORY_ALIASES,
            default=Borrower.Category.INDUSTRY_LEADER,
        ),
    )
    industry = Field(attribute="industry", column_name=INDUSTRY, widget=IndustryWidget())
    entity_description = Field(
        attribute="entity_description", column_name=ENTITY, widget=TextWidget()
    )
    scale = Field(attribute="scale", column_name=SCALE, widget=ScaleWidget())
    scale_unit = Field(attribute="scale_unit", column_name=UNIT, widget=TextWidget())
    title = Field(column_name=TITLE, widget=LabelWidget(TITLE_LABELS, TITLE_ALIASES, default=None))
    started_on = Field(column_name=STARTED, widget=DateWidget())
    ended_on = Field(column_name=ENDED, widget=DateWidget())

    class Meta:
        model = Borrower
        fields = (
            "township",
            "village",
            "village_group",
            "head_name",
            "head_id_number",
            "member_count",
            "poverty_status",
            "account_holder",
            "account_number",
            "bank_name",
            "name",
            "id_number",
            "gender",
            "birth_date",
            "phone",
            "party_member",
            "base_category",
            "industry",
            "entity_description",
            "scale",
            "scale_unit",
            "title",
            "started_on",
            "ended_on",
        )
        import_order = fields
        export_order = fields
        import_id_fields = ["id_number"]
        instance_loader_class = KnownBorrowerLoader
        use_transactions = True
        # Rows are queued and written together (``PendingWrites``): no
        # savepoint per row. import-export's own bulk lists stay empty.
        use_bulk = True
        # Export pages through the queryset (it prefetches positions).
        chunk_size = 1000
        skip_diff = True
        report_skipped = True
        clean_model_instances = False

    def __init__(
        self,
        *,
        actor=None,
        filename: str = "",
        row_numbers: list[int] | None = None,
        today: datetime.date | None = None,
    ):
        super().__init__()
        self.actor = actor
        self.reason = "import: %s" % filename
        self.row_numbers = row_numbers
        self.today = today or timezone.localdate()
        self._plan: RowPlan | None = None

    # Export ----------------------------------------------------------------

    @staticmethod
    def position_for_export(borrower: Borrower) -> Position | None:
        """The position the row shows: one in force today, else the latest."""
        positions = list(borrower.positions.all())
        today = timezone.localdate()
        in_force = [p for p in positions if p.in_force_on(today)]
        return (in_force or positions or [None])[0]

    def dehydrate_township(self, borrower):
        return borrower.household.village_group.parent.parent.name

    def dehydrate_village(self, borrower):
        return borrower.household.village_group.parent.name

    def dehydrate_village_group(self, borrower):
        return borrower.household.village_group.name

    def dehydrate_title(self, borrower):
        position = self.position_for_export(borrower)
        return TITLE_LABELS.get(position.title, "") if position else ""

    def dehydrate_started_on(self, borrower):
        position = self.position_for_export(borrower)
        return position.started_on if position else None

    def dehydrate_ended_on(self, borrower):
        position = self.position_for_export(borrower)
        return position.ended_on if position else None

    # Import ----------------------------------------------------------------

    def before_import(self, dataset, **kwargs):
        """Load, once, everything the rows look up: divisions by name, the
        households and borrowers the file names (by ID number), their
        positions, and which ID numbers the file repeats."""
        if self.actor is None or self.row_numbers is None:
            raise TypeError("An import needs the actor and the row numbers.")
        self._directory = DivisionDirectory()
        id_column = dataset.headers.index(ID_NUMBER)
        head_column = dataset.headers.index(HEAD_ID)
        id_widget = ResidentIdWidget()

        def normalized(value):
            try:
                return id_widget.clean(value)
            except ValueError:
                return ""

        ids = [normalized(row[id_column]) for row in dataset]
        head_ids = {normalized(row[head_column]) for row in dataset} - {""}
        self._rows_by_id = defaultdict(list)
        for index, number in enumerate(ids):
            if number:
                self._rows_by_id[number].append(self.row_numbers[index])

        self._households = {}
        for chunk in _chunks(sorted(head_ids)):
            for household in Household.objects.filter(head_id_number__in=chunk).select_related(
                "village_group__parent__parent"
            ):
                self._households[household.head_id_number] = household
        households_by_pk = {h.pk: h for h in self._households.values()}
        self._borrowers = {}
        for chunk in _chunks(sorted(self._rows_by_id)):
            for borrower in Borrower.objects.filter(id_number__in=chunk).select_related(
                "household__village_group__parent__parent", "industry"
            ):
                # Share one household object between the row that may change
                # it and the borrower that reads its township on save.
                if borrower.household_id in households_by_pk:
                    borrower.household = households_by_pk[borrower.household_id]
                self._borrowers[borrower.id_number] = borrower
        # Each borrower's positions: a row's position is matched against them,
        # and the category is derived from them with the row's one added.
        self._positions = defaultdict(list)
        borrower_ids = [b.pk for b in self._borrowers.values()]
        for chunk in _chunks(borrower_ids):
            for position in Position.objects.filter(borrower_id__in=chunk):
                self._positions[position.borrower_id].append(position)
        # Household data as the first row giving each household had it.
        self._household_rows: dict[str, tuple[int, dict]] = {}
        self._pending = PendingWrites()
        self._id_checks: dict[str, tuple] = {}

    def known_borrower(self, row) -> Borrower | None:
        try:
            number = self.fields["id_number"].clean(row)
        except ValueError:
            return None
        return self._borrowers.get(number)

    def import_instance(self, instance, row, **kwargs):
        """Read and check the row; keep what it will write in ``self._plan``."""
        self._plan = None
        excel_row = self.row_numbers[kwargs["row_number"] - 1]
        errors = RowErrors()
        values = {}
        for name, resource_field in self.fields.items():
            try:
                values[name] = resource_field.clean(row)
            except ValueError as error:
                errors.add(resource_field.column_name, error)
                values[name] = None
        for name, resource_field in self.fields.items():
            column = resource_field.column_name
            if column in REQUIRED_CELLS and column not in errors and values[name] in (None, ""):
                errors.add(column, _("Fill in this column."))

        group = None
        if values["township"] and values["village"] and values["village_group"]:
            group = self._directory.find_group(
                values["township"], values["village"], values["village_group"], errors
            )
        if group is not None and not may_act_in_township(self.actor, group.parent.parent_id):
            errors.add(
                GROUP,
                _(
                    "%(group)s is in %(township)s, outside your township; you may import "
                    "rows of your own township only."
                )
                % {"group": group.name, "township": group.parent.parent.name},
            )
            group = None

        household_fields = {
            "head_name": values["head_name"],
            "head_id_number": values["head_id_number"],
            "village_group": group,
            "member_count": 1 if values["member_count"] is None else values["member_count"],
            "poverty_status": values["poverty_status"],
            "account_holder": values["account_holder"],
            "account_number": values["account_number"],
            "bank_name": values["bank_name"],
        }
        borrower_fields = {
            "name": values["name"],
            "id_number": values["id_number"],
            "phone": values["phone"],
            "party_member": values["party_member"],
            "base_category": values["base_category"],
            "industry": values["industry"],
            "entity_description": values["entity_description"],
            "scale": values["scale"],
            "scale_unit": values["scale_unit"],
        }
        new_household, new_borrower = self._check_models(household_fields, borrower_fields, errors)
        self._check_against_id(values, errors)
        self._check_duplicates(values["id_number"], excel_row, errors)

        household = self._households.get(values["head_id_number"] or "")
        if household is not None:
            self._check_known_household(household, values, errors)
        borrower = instance if instance.pk else None
        if borrower is not None:
            self._check_known_borrower(borrower, values, errors)
        self._check_same_household(excel_row, household_fields, errors)

        position_fields = self._position_fields(values, errors)
        errors.raise_if_any()
        self._plan = self._make_plan(
            household, new_household, borrower, new_borrower, position_fields
        )

    def _check_models(self, household_fields, borrower_fields, errors: RowErrors):
        """The models' own field and record checks, without the queries that
        the services' full validation adds (the foreign keys were looked up,
        the uniqueness is checked against the lookups). Returns the checked
        household and borrower, which a new record is written from."""
        household = Household(**household_fields)
        try:
            household.clean_fields(exclude={"village_group", "township", "head_id_number"})
        except ValidationError as error:
            errors.add_model_errors(error, HOUSEHOLD_FIELD_COLUMNS)
        self._check_resident_id(household, "head_id_number", HEAD_ID, errors)
        try:
            household.clean()
        except ValidationError as error:
            errors.add_model_errors(error, HOUSEHOLD_FIELD_COLUMNS)
        borrower = Borrower(**borrower_fields)
        try:
            borrower.clean_fields(
                exclude={"household", "industry", "enterprise", "township", "id_number"}
            )
        except ValidationError as error:
            errors.add_model_errors(error, BORROWER_FIELD_COLUMNS)
        self._check_resident_id(borrower, "id_number", ID_NUMBER, errors)
        try:
            borrower.clean()
        except ValidationError as error:
            errors.add_model_errors(error, BORROWER_FIELD_COLUMNS)
        return household, borrower

    def _check_resident_id(self, instance, name: str, column: str, errors: RowErrors) -> None:
        """The model field's own validation of an ID number, remembered per
        number: a head who borrows has the same number in two columns."""
        number = getattr(instance, name)
        if not number:
            return  # reported as a required cell
        if number not in self._id_checks:
            try:
                instance._meta.get_field(name).clean(number, instance)
                self._id_checks[number] = ()
            except ValidationError as error:
                self._id_checks[number] = tuple(error.messages)
        for message in self._id_checks[number]:
            errors.add(column, message)

    def _check_against_id(self, values, errors: RowErrors) -> None:
        number = values["id_number"]
        if not number or ID_NUMBER in errors:
            return
        try:
            birth_date = resident_id_birth_date(number)
        except ValidationError:
            return
        gender = Borrower.Gender.MALE if resident_id_is_male(number) else Borrower.Gender.FEMALE
        if values["gender"] and values["gender"] != gender:
            errors.add(
                GENDER,
                _("This does not match the resident ID number, which gives %(value)s.")
                % {"value": GENDER_LABELS[gender]},
            )
        if values["birth_date"] and values["birth_date"] != birth_date:
            errors.add(
                BIRTH_DATE,
                _("This does not match the resident ID number, which gives %(value)s.")
                % {"value": birth_date.isoformat()},
            )

    def _check_duplicates(self, number, excel_row: int, errors: RowErrors) -> None:
        others = [row for row in self._rows_by_id.get(number or "", []) if row != excel_row]
        if others:
            errors.add(
                ID_NUMBER,
                _("This resident ID number is also in row %(rows)s; a borrower may appear once.")
                % {"rows": "、".join(str(row) for row in others)},
            )

    def _check_known_household(self, household: Household, values, errors: RowErrors) -> None:
        if not may_act_in_township(self.actor, household.township_id):
            errors.add(
                HEAD_ID,
                _(
                    "This household is registered in another township; you may import rows of "
                    "your own township only."
                ),
            )
        elif values["head_name"] and household.head_name != values["head_name"]:
            errors.add(
                HEAD_NAME,
                _(
                    "The household of this head's ID number is registered under the name "
                    "%(name)s. Check the ID number, or correct the name on the household's page."
                )
                % {"name": household.head_name},
            )

    def _check_known_borrower(self, borrower: Borrower, values, errors: RowErrors) -> None:
        if not may_act_in_township(self.actor, borrower.township_id):
            errors.add(
                ID_NUMBER,
                _("This resident ID number is already registered in another township."),
            )
        elif values["name"] and borrower.name != values["name"]:
            errors.add(
                ID_NUMBER,
                _(
                    "This resident ID number is already registered to another borrower, "
                    "%(name)s. Check the number, or correct the name on the borrower's page."
                )
                % {"name": borrower.name},
            )

    def _check_same_household(self, excel_row: int, household_fields, errors: RowErrors) -> None:
        """Rows of one household (the same head's ID number) must agree on
        the household, or the last row would silently win."""
        head_id = household_fields["head_id_number"]
        if not head_id or errors:
            return
        first = self._household_rows.get(head_id)
        if first is None:
            self._household_rows[head_id] = (excel_row, household_fields)
            return
        first_row, first_fields = first
        for name, column in HOUSEHOLD_FIELD_COLUMNS.items():
            if first_fields[name] != household_fields[name]:
                errors.add(
                    column,
                    _(
                        "Row %(row)d gives the same household (the same head's ID number) "
                        "another value here; the rows of one household must agree."
                    )
                    % {"row": first_row},
                )

    def _position_fields(self, values, errors: RowErrors) -> dict | None:
        title, started_on, ended_on = values["title"], values["started_on"], values["ended_on"]
        if title is None:
            if (started_on or ended_on) and TITLE not in errors:
                errors.add(TITLE, _("Give the position these dates belong to."))
            return None
        if started_on is None:
            if STARTED not in errors:
                errors.add(STARTED, _("Give the date the position started."))
            return None
        fields = {"title": title, "started_on": started_on, "ended_on": ended_on}
        try:
            position = Position(**fields)
            position.clean_fields(exclude={"borrower"})
            position.clean()
        except ValidationError as error:
            errors.add_model_errors(error, POSITION_FIELD_COLUMNS)
        return fields

    def _make_plan(self, household, new_household, borrower, new_borrower, position_fields):
        household_changes = {}
        if household is not None:
            household_changes = {
                name: getattr(new_household, name)
                for name in HOUSEHOLD_FIELD_COLUMNS
                if getattr(household, name) != getattr(new_household, name)
            }
        borrower_changes, position, position_changed = {}, None, False
        if borrower is not None:
            borrower_changes = {
                name: getattr(new_borrower, name)
                for name in BORROWER_FIELD_COLUMNS
                if getattr(borrower, name) != getattr(new_borrower, name)
            }
            if position_fields is not None:
                position = next(
                    (
                        p
                        for p in self._positions.get(borrower.pk, [])
                        if (p.title, p.started_on)
                        == (position_fields["title"], position_fields["started_on"])
                    ),
                    None,
                )
                position_changed = (
                    position is None or position.ended_on != position_fields["ended_on"]
                )
        return RowPlan(
            household=household,
            new_household=new_household,
            household_changes=household_changes,
            borrower=borrower,
            new_borrower=new_borrower,
            borrower_changes=borrower_changes,
            position=position,
            position_fields=position_fields,
            position_changed=position_changed,
        )

    def skip_row(self, instance, original, row, import_validation_errors=None):
        """An unchanged row writes nothing and is counted as unchanged."""
        if import_validation_errors or self._plan is None:
            return False
        return not self._plan.changes_anything

    def validate_instance(self, instance, import_validation_errors=None, validate_unique=True):
        # ``import_instance`` has run the models' validation already.
        if import_validation_errors:
            raise ValidationError(import_validation_errors)

    def save_instance(self, instance, is_create, row, **kwargs):
        """Queue what the row writes; ``after_import`` writes every queued
        record at once, and only when no row of the file is bad."""
        plan, pending = self._plan, self._pending
        household = plan.household
        if household is None:
            household = plan.new_household
            _derive_household(household)
            self._households[household.head_id_number] = household
            pending.created(household)
        elif plan.household_changes:
            for name, value in plan.household_changes.items():
                setattr(household, name, value)
            _derive_household(household)
            pending.changed(household, [*plan.household_changes, "township"])

        if plan.borrower is None:
            borrower = plan.new_borrower
            borrower.household = household
            positions = []
            if plan.position_fields is not None:
                positions.append(Position(borrower=borrower, **plan.position_fields))
            _derive_borrower(borrower, positions, self.today)
            pending.created(borrower)
            for position in positions:
                pending.created(position)
            return

        borrower = plan.borrower
        changed = list(plan.borrower_changes)
        for name, value in plan.borrower_changes.items():
            setattr(borrower, name, value)
        if borrower.household_id != household.pk:  # a new household has no pk yet
            borrower.household = household
            changed.append("household")
        positions = self._positions[borrower.pk]
        if plan.position_changed:
            if plan.position is None:
                position = Position(borrower=borrower, **plan.position_fields)
                positions.append(position)
                pending.created(position)
            else:
                plan.position.ended_on = plan.position_fields["ended_on"]
                pending.changed(plan.position, ["ended_on"])
        before = (borrower.township_id, borrower.category)
        _derive_borrower(borrower, positions, self.today)
        if (borrower.township_id, borrower.category) != before:
            changed += ["township", "category"]
        if changed:
            pending.changed(borrower, changed)

    def after_import(self, dataset, result, **kwargs):
        """Write the queued records of a file with no bad row, each with its
        history row naming the actor, the file and the client's address."""
        if result.has_validation_errors() or result.has_errors():
            return
        request = getattr(HistoricalRecords.context, "request", None)
        self._pending.write(
            actor=self.actor,
            reason=self.reason,
            ip_address=client_ip(request) if request is not None else None,
        )


def _derive_household(household: Household) -> None:
    """What ``Household.save`` derives, for a bulk write that skips save()."""
    township = household.village_group.parent.parent
    household.township_id, household.county_id = township.pk, township.parent_id


def _derive_borrower(borrower: Borrower, positions, today: datetime.date) -> None:
    """What ``Borrower.save`` and the borrower services derive, for a bulk
    write: gender and birth date from the ID number, the household's
    township, the category in force ``today``."""
    borrower.birth_date = resident_id_birth_date(borrower.id_number)
    male = resident_id_is_male(borrower.id_number)
    borrower.gender = Borrower.Gender.MALE if male else Borrower.Gender.FEMALE
    borrower.township_id = borrower.household.township_id
    borrower.county_id = borrower.household.county_id
    borrower.category = derive_category(positions, borrower.base_category, today)


class PendingWrites:
    """Records an import creates and changes, written in bulk in dependency
    order (households, borrowers, positions), with their history."""

    BATCH_SIZE = 500
    ORDER = (Household, Borrower, Position)

    def __init__(self):
        self.new = {model: [] for model in self.ORDER}
        self.updated = {model: {} for model in self.ORDER}
        self.update_fields = {model: set() for model in self.ORDER}

    def created(self, instance) -> None:
        self.new[type(instance)].append(instance)

    def changed(self, instance, fields) -> None:
        model = type(instance)
        self.updated[model][instance.pk] = instance
        self.update_fields[model].update(fields)

    def write(self, *, actor, reason: str, ip_address: str | None) -> None:
        history = {
            "default_user": actor,
            "default_change_reason": reason,
            "custom_historical_attrs": {"ip_address": ip_address},
            "batch_size": self.BATCH_SIZE,
        }
        now = timezone.now()
        for model in self.ORDER:
            if self.new[model]:
                bulk_create_with_history(self.new[model], model, **history)
            if self.updated[model]:
                fields = sorted(self.update_fields[model])
                if any(f.name == "updated_at" for f in model._meta.fields):
                    # bulk_update skips save(), so auto_now does not apply.
                    for instance in self.updated[model].values():
                        instance.updated_at = now
                    fields.append("updated_at")
                bulk_update_with_history(
                    list(self.updated[model].values()), model, fields, **history
                )

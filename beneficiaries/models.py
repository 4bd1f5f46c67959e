import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.scoping import ScopedQuerySet
from common.history import traced_history
from common.identifiers import (
    bank_card_warning,
    normalize_credit_code,
    normalize_resident_id,
    resident_id_birth_date,
    resident_id_is_male,
    validate_credit_code,
    validate_mobile,
    validate_resident_id,
)
from divisions.models import Division, county_field


class Industry(models.Model):
    """A two-level tree: a sector (养殖业, 种植业, 林下种养殖, 文化旅游) and the
    kinds under it (生猪, 茶叶, ...). Borrowers and entities pick a kind.

    ``farming`` sorts each kind into animal husbandry or planting, the split
    the programme reports (360 husbandry and 320 planting households in
    Mojiang), whatever sector the kind sits in: 林下养鸡 is husbandry under
    林下种养殖.
    """

    class Farming(models.TextChoices):
        HUSBANDRY = "husbandry", _("Animal husbandry")
        PLANTING = "planting", _("Planting")
        OTHER = "other", _("Other")

    name = models.CharField(_("name"), max_length=50)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("sector"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="kinds",
    )
    farming = models.CharField(
        _("husbandry or planting"), max_length=10, choices=Farming.choices, default=Farming.OTHER
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    history = traced_history()

    class Meta:
        verbose_name = _("industry")
        verbose_name_plural = _("industries")
        ordering = ["sort_order", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="industry_unique_name"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="industry_unique_sector"
            ),
        ]

    def __str__(self) -> str:
        return self.name if self.parent_id is None else f"{self.parent.name} · {self.name}"

    @property
    def is_sector(self) -> bool:
        return self.parent_id is None


class Household(models.Model):
    """A household (户): the unit a quota belongs to and the subsidy is paid to.

    Its natural key is the head's resident ID number. Borrowers are the
    members registered in the programme; driven households are households
    too, usually with no borrower.
    """

    class PovertyStatus(models.TextChoices):
        GENERAL = "general", _("Ordinary household")
        LIFTED = "lifted", _("Household lifted out of poverty")
        MONITORED = "monitored", _("Household under monitoring")

    head_name = models.CharField(_("head of household"), max_length=60)
    head_id_number = models.CharField(
        _("head's resident ID number"),
        max_length=18,
        unique=True,
        validators=[validate_resident_id],
    )
    village_group = models.ForeignKey(
        Division,
        verbose_name=_("village group"),
        on_delete=models.PROTECT,
        limit_choices_to={"level": Division.Level.GROUP},
        related_name="households",
    )
    # The group's township, kept here so that every township filter is one
    # indexed column (set from the group on every save).
    township = models.ForeignKey(
        Division,
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        editable=False,
        blank=True,
        related_name="+",
    )
    county = county_field()
    member_count = models.PositiveSmallIntegerField(_("household members"), default=1)
    poverty_status = models.CharField(
        _("poverty status"),
        max_length=10,
        choices=PovertyStatus.choices,
        default=PovertyStatus.GENERAL,
    )
    account_holder = models.CharField(_("account holder"), max_length=60, blank=True)
    account_number = models.CharField(_("account number"), max_length=32, blank=True)
    bank_name = models.CharField(_("bank"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(name="household_has_members", condition=Q(member_count__gte=1)),
        ]

    def __str__(self) -> str:
        return _("%(name)s's household") % {"name": self.head_name}

    def save(self, *args, **kwargs):
        if self.village_group_id:
            township = self.village_group.parent.parent
            self.township_id, self.county_id = township.pk, township.parent_id
        super().save(*args, **kwargs)

    def clean(self):
        self.head_id_number = normalize_resident_id(self.head_id_number)
        errors = {}
        if self.village_group_id and self.village_group.level != Division.Level.GROUP:
            errors["village_group"] = _("Choose a village group, not a %(level)s.") % {
                "level": self.village_group.get_level_display()
            }
        if self.account_number and not (self.account_holder and self.bank_name):
            errors["account_holder"] = _("An account needs its holder and its bank.")
        if errors:
            raise ValidationError(errors)

    @property
    def village(self) -> Division:
        return self.village_group.parent

    @property
    def account_warning(self) -> str | None:
        return bank_card_warning(self.account_number)


class Enterprise(models.Model):
    """A leading company, co-operative or family farm (龙头企业, 合作社): it can
    borrow itself (Lingyuan's 扶贫贷) or be the entity behind a borrower."""

    class Kind(models.TextChoices):
        LEADING_COMPANY = "leading_company", _("Leading company")
        COOPERATIVE = "cooperative", _("Farmers' co-operative")
        FAMILY_FARM = "family_farm", _("Family farm")

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    credit_code = models.CharField(
        _("unified social credit code"),
        max_length=18,
        unique=True,
        validators=[validate_credit_code],
    )
    legal_representative = models.CharField(_("legal representative"), max_length=60)
    phone = models.CharField(_("phone"), max_length=11, blank=True, validators=[validate_mobile])
    village = models.ForeignKey(
        Division,
        verbose_name=_("village"),
        on_delete=models.PROTECT,
        limit_choices_to={"level": Division.Level.VILLAGE},
        related_name="enterprises",
    )
    township = models.ForeignKey(
        Division,
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        editable=False,
        blank=True,
        related_name="+",
    )
    county = county_field()
    industry = models.ForeignKey(
        Industry, verbose_name=_("industry"), on_delete=models.PROTECT, related_name="+"
    )
    scale = models.DecimalField(_("scale"), max_digits=12, decimal_places=2, null=True, blank=True)
    scale_unit = models.CharField(_("unit"), max_length=10, blank=True)
    account_holder = models.CharField(_("account holder"), max_length=100, blank=True)
    account_number = models.CharField(_("account number"), max_length=32, blank=True)
    bank_name = models.CharField(_("bank"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("enterprise or co-operative")
        verbose_name_plural = _("enterprises and co-operatives")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.village_id:
            township = self.village.parent
            self.township_id, self.county_id = township.pk, township.parent_id
        super().save(*args, **kwargs)

    def clean(self):
        self.credit_code = normalize_credit_code(self.credit_code)
        if self.village_id and self.village.level != Division.Level.VILLAGE:
            raise ValidationError({"village": _("Choose a village.")})
        if self.industry_id and self.industry.is_sector:
            raise ValidationError({"industry": _("Choose a kind of industry, not a sector.")})


class Borrower(models.Model):
    """A person registered in the programme (借款人 / 放贷对象).

    The category is derived: a borrower holding a village "two committees"
    position on a date is a village committee member that day, one holding
    a village group position a village group cadre, and otherwise their
    ``base_category`` (industry leader, reserve cadre, ...). ``category``
    stores the category in force on the day of the last change, for lists
    and filters; ``category_on(date)`` answers for any other day.
    """

    class Category(models.TextChoices):
        VILLAGE_COMMITTEE = "village_committee", _("Village committee member")
        GROUP_CADRE = "group_cadre", _("Village group cadre")
        INDUSTRY_LEADER = "industry_leader", _("Industry leader")
        RESERVE_CADRE = "reserve_cadre", _("Reserve cadre")
        POOR_HOUSEHOLD = "poor_household", _("Poor household")
        ENTERPRISE_REPRESENTATIVE = "enterprise_rep", _("Enterprise representative")

    POSITION_CATEGORIES = {Category.VILLAGE_COMMITTEE, Category.GROUP_CADRE}
    MINIMUM_AGE = 18

    class Gender(models.TextChoices):
        MALE = "male", _("Male")
        FEMALE = "female", _("Female")

    name = models.CharField(_("name"), max_length=60)
    id_number = models.CharField(
        _("resident ID number"),
        max_length=18,
        unique=True,
        validators=[validate_resident_id],
    )
    gender = models.CharField(
        _("gender"), max_length=6, choices=Gender.choices, editable=False, blank=True
    )
    birth_date = models.DateField(_("birth date"), editable=False, blank=True)
    phone = models.CharField(_("mobile number"), max_length=11, validators=[validate_mobile])
    household = models.ForeignKey(
        Household, verbose_name=_("household"), on_delete=models.PROTECT, related_name="borrowers"
    )
    township = models.ForeignKey(
        Division,
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        editable=False,
        blank=True,
        related_name="+",
    )
    county = county_field()
    party_member = models.BooleanField(_("party member"), default=False)
    base_category = models.CharField(
        _("category when holding no position"),
        max_length=20,
        choices=[
            (Category.INDUSTRY_LEADER, Category.INDUSTRY_LEADER.label),
            (Category.RESERVE_CADRE, Category.RESERVE_CADRE.label),
            (Category.POOR_HOUSEHOLD, Category.POOR_HOUSEHOLD.label),
            (Category.ENTERPRISE_REPRESENTATIVE, Category.ENTERPRISE_REPRESENTATIVE.label),
        ],
        default=Category.INDUSTRY_LEADER,
    )
    category = models.CharField(
        _("category"), max_length=20, choices=Category.choices, editable=False, blank=True
    )
    industry = models.ForeignKey(
        Industry, verbose_name=_("industry"), on_delete=models.PROTECT, related_name="+"
    )
    entity_description = models.CharField(
        _("entity"), max_length=100, blank=True, help_text=_("For example: pig farm, tea garden.")
    )
    scale = models.DecimalField(_("scale"), max_digits=12, decimal_places=2, null=True, blank=True)
    scale_unit = models.CharField(
        _("unit"), max_length=10, blank=True, help_text=_("For example: 头, 亩, 只, 箱.")
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("enterprise behind the borrower"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="representatives",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()

    class Meta:
        verbose_name = _("borrower")
        verbose_name_plural = _("borrowers")
        permissions = [
            ("view_personal_data", _("See whole ID, phone and account numbers")),
            ("import_borrowers", _("Import borrowers from a workbook")),
            ("export_borrowers", _("Export borrowers to a workbook")),
        ]
        ordering = ["pk"]
        indexes = [
            models.Index(fields=["township", "category"], name="borrower_township_category"),
            models.Index(fields=["name"], name="borrower_name"),
            models.Index(fields=["phone"], name="borrower_phone"),
        ]
        constraints = [
            models.CheckConstraint(
                name="borrower_scale_not_negative",
                condition=Q(scale__isnull=True) | Q(scale__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if self.id_number:
            self.birth_date = resident_id_birth_date(self.id_number)
            male = resident_id_is_male(self.id_number)
            self.gender = self.Gender.MALE if male else self.Gender.FEMALE
        if self.household_id:
            self.township_id = self.household.township_id
            self.county_id = self.household.county_id
        if not self.category:
            self.category = self.base_category
        super().save(*args, **kwargs)

    def clean(self):
        self.id_number = normalize_resident_id(self.id_number)
        errors = {}
        try:
            birth_date = resident_id_birth_date(self.id_number)
        except ValidationError:
            birth_date = None  # the field validator reports it
        if birth_date is not None:
            today = datetime.date.today()
            age = (
                today.year
                - birth_date.year
                - ((today.month, today.day) < (birth_date.month, birth_date.day))
            )
            if age < self.MINIMUM_AGE:
                errors["id_number"] = _("A borrower must be at least %(age)d years old.") % {
                    "age": self.MINIMUM_AGE
                }
        if self.industry_id and self.industry.is_sector:
            errors["industry"] = _("Choose a kind of industry, not a sector.")
        if self.scale is not None and not self.scale_unit:
            errors["scale_unit"] = _("Give the unit of the scale.")
        if errors:
            raise ValidationError(errors)

    def category_on(self, day: datetime.date) -> str:
        """The borrower's category on ``day``, from the positions held then."""
        return derive_category(self.positions.all(), self.base_category, day)


def derive_category(positions, base_category: str, day: datetime.date) -> str:
    """A village committee position outranks a group one; with neither in
    force on ``day`` the borrower is their base category."""
    held = {position.category for position in positions if position.in_force_on(day)}
    for category in (Borrower.Category.VILLAGE_COMMITTEE, Borrower.Category.GROUP_CADRE):
        if category in held:
            return category
    return base_category


class Position(models.Model):
    """A position a borrower holds or held, with its term."""

    class Title(models.TextChoices):
        BRANCH_SECRETARY = "branch_secretary", _("Village Party branch secretary")
        COMMITTEE_DIRECTOR = "committee_director", _("Village committee director")
        COMMITTEE_MEMBER = "committee_member", _("Member of the village two committees")
        GROUP_BRANCH_SECRETARY = "group_branch_secretary", _("Village group Party branch secretary")
        PARTY_GROUP_LEADER = "party_group_leader", _("Party group leader")
        GROUP_LEADER = "group_leader", _("Village group leader")
        GROUP_DEPUTY_LEADER = "group_deputy_leader", _("Deputy village group leader")

    TITLE_CATEGORY = {
        Title.BRANCH_SECRETARY: Borrower.Category.VILLAGE_COMMITTEE,
        Title.COMMITTEE_DIRECTOR: Borrower.Category.VILLAGE_COMMITTEE,
        Title.COMMITTEE_MEMBER: Borrower.Category.VILLAGE_COMMITTEE,
        Title.GROUP_BRANCH_SECRETARY: Borrower.Category.GROUP_CADRE,
        Title.PARTY_GROUP_LEADER: Borrower.Category.GROUP_CADRE,
        Title.GROUP_LEADER: Borrower.Category.GROUP_CADRE,
        Title.GROUP_DEPUTY_LEADER: Borrower.Category.GROUP_CADRE,
    }

    borrower = models.ForeignKey(
        Borrower, verbose_name=_("borrower"), on_delete=models.CASCADE, related_name="positions"
    )
    title = models.CharField(_("position"), max_length=30, choices=Title.choices)
    started_on = models.DateField(_("from"))
    ended_on = models.DateField(_("until"), null=True, blank=True)

    history = traced_history()

    class Meta:
        verbose_name = _("position")
        verbose_name_plural = _("positions")
        ordering = ["-started_on", "pk"]
        constraints = [
            models.CheckConstraint(
                name="position_ends_after_it_starts",
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=models.F("started_on")),
            ),
        ]

    def __str__(self) -> str:
        return self.get_title_display()

    def clean(self):
        if self.ended_on and self.started_on and self.ended_on < self.started_on:
            raise ValidationError({"ended_on": _("A position cannot end before it starts.")})

    def in_force_on(self, day: datetime.date) -> bool:
        return self.started_on <= day and (self.ended_on is None or day <= self.ended_on)

    @property
    def category(self) -> str:
        return self.TITLE_CATEGORY[self.title]


class DrivenHousehold(models.Model):
    """A household that a borrower or an enterprise leads (带动户), with the
    benefit it receives. Exactly one of ``borrower`` and ``enterprise`` is set."""

    class Benefit(models.TextChoices):
        DIVIDEND = "dividend", _("Dividend")
        WAGES = "wages", _("Wages")
        LAND_RENT = "land_rent", _("Land rent")
        TECHNICAL_HELP = "technical_help", _("Technical help")

    borrower = models.ForeignKey(
        Borrower,
        verbose_name=_("leading borrower"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="driven_households",
    )
    enterprise = models.ForeignKey(
        Enterprise,
        verbose_name=_("leading enterprise"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="driven_households",
    )
    household = models.ForeignKey(
        Household, verbose_name=_("driven household"), on_delete=models.PROTECT, related_name="+"
    )
    county = county_field()
    benefit = models.CharField(_("benefit"), max_length=20, choices=Benefit.choices)
    yearly_amount = models.DecimalField(
        _("yearly amount (yuan)"), max_digits=12, decimal_places=2, default=Decimal("0.00")
    )
    since = models.DateField(_("since"), null=True, blank=True)

    objects = ScopedQuerySet.as_manager()
    history = traced_history()
    scope_township = ("household__township_id",)

    class Meta:
        verbose_name = _("driven household")
        verbose_name_plural = _("driven households")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(
                name="driven_household_has_one_leader",
                condition=(Q(borrower__isnull=False) & Q(enterprise__isnull=True))
                | (Q(borrower__isnull=True) & Q(enterprise__isnull=False)),
            ),
            models.CheckConstraint(
                name="driven_household_amount_not_negative",
                condition=Q(yearly_amount__gte=0),
            ),
            models.UniqueConstraint(
                fields=["borrower", "household", "benefit"],
                condition=Q(borrower__isnull=False),
                name="driven_household_unique_per_borrower",
            ),
            models.UniqueConstraint(
                fields=["enterprise", "household", "benefit"],
                condition=Q(enterprise__isnull=False),
                name="driven_household_unique_per_enterprise",
            ),
        ]

    def __str__(self) -> str:
        return str(self.household)

    def save(self, *args, **kwargs):
        if self.household_id:
            self.county_id = self.household.county_id
        super().save(*args, **kwargs)

    def clean(self):
        if bool(self.borrower_id) == bool(self.enterprise_id):
            raise ValidationError(_("A driven household is led by a borrower or an enterprise."))

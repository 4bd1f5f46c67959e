"""The division tree: one row per administrative division, with its
official code."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from common.history import traced_history


class DivisionQuerySet(models.QuerySet):
    def counties(self):
        return self.filter(level=Division.Level.COUNTY)

    def townships(self):
        return self.filter(level=Division.Level.TOWNSHIP)

    def counties_by_code(self, codes) -> tuple[list, list[str]]:
        """The loaded counties of ``codes``, in their order, and the codes
        that name no loaded county."""
        found = {county.code: county for county in self.counties().filter(code__in=codes)}
        return [found[code] for code in codes if code in found], [
            code for code in codes if code not in found
        ]


class Division(models.Model):
    """An administrative division with its official statistical code.

    Province, city, county and township rows come from the National Bureau of
    Statistics tables in ``divisions/data`` (``load_divisions``); villages and
    village groups are entered by the county office (the demo invents them).
    """

    class Level(models.TextChoices):
        # From the top down: the order is the tree's.
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County")
        TOWNSHIP = "township", _("Township")
        VILLAGE = "village", _("Village")
        GROUP = "group", _("Village group")

    # Code length per level: province 2, city 4, county 6, township 9,
    # village 12, group 15; each extends its parent's.
    CODE_LENGTH = {
        Level.PROVINCE: 2,
        Level.CITY: 4,
        Level.COUNTY: 6,
        Level.TOWNSHIP: 9,
        Level.VILLAGE: 12,
        Level.GROUP: 15,
    }
    PARENT_LEVEL = {
        Level.CITY: Level.PROVINCE,
        Level.COUNTY: Level.CITY,
        Level.TOWNSHIP: Level.COUNTY,
        Level.VILLAGE: Level.TOWNSHIP,
        Level.GROUP: Level.VILLAGE,
    }

    code = models.CharField(_("division code"), max_length=15, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=10, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent division"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="children",
    )

    objects = DivisionQuerySet.as_manager()
    # The table and its history keep the names they had in the registry app,
    # where the model was first (migrations 0001 of divisions, 0006 of
    # beneficiaries: the rows stayed where they were).
    history = traced_history(table_name="beneficiaries_historicaldivision")

    class Meta:
        db_table = "beneficiaries_division"
        verbose_name = _("division")
        verbose_name_plural = _("divisions")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                name="division_only_province_has_no_parent",
                condition=Q(level="province", parent__isnull=True)
                | (~Q(level="province") & Q(parent__isnull=False)),
            ),
            models.CheckConstraint(
                name="division_code_is_digits",
                condition=Q(code__regex=r"^[0-9]+$"),
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        errors = {}
        expected_length = self.CODE_LENGTH.get(self.level)
        if expected_length and (len(self.code) != expected_length or not self.code.isdigit()):
            errors["code"] = _("A %(level)s code has %(length)d digits.") % {
                "level": self.get_level_display(),
                "length": expected_length,
            }
        if self.level in self.PARENT_LEVEL:
            if self.parent is None:
                errors["parent"] = _("This division needs a parent division.")
            elif self.parent.level != self.PARENT_LEVEL[self.level]:
                errors["parent"] = _("The parent of a %(level)s must be a %(parent)s.") % {
                    "level": self.get_level_display(),
                    "parent": Division.Level(self.PARENT_LEVEL[self.level]).label,
                }
            elif not self.code.startswith(self.parent.code):
                errors["code"] = _("The code must start with the parent's code %(code)s.") % {
                    "code": self.parent.code
                }
        if errors:
            raise ValidationError(errors)


def county_field(**kwargs) -> models.ForeignKey:
    """The county a large record belongs to (DOMAIN.md section 7: the county
    is the boundary of people's data). Every query of such a record filters
    by it (``accounts.scoping``), and a deployment that outgrows one database
    distributes the table by it. Set by the model or the service from the
    record's own township, run or loan, never by a form."""
    return models.ForeignKey(
        Division,
        verbose_name=_("county"),
        on_delete=models.PROTECT,
        editable=False,
        limit_choices_to={"level": Division.Level.COUNTY},
        related_name="+",
        **kwargs,
    )

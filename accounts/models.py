from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from divisions.models import county_field


class Profile(models.Model):
    """What a staff account needs beyond Django's user: the township binding."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="profile",
    )
    township = models.ForeignKey(
        "divisions.Division",
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        limit_choices_to={"level": "township"},
        related_name="+",
    )
    # The county a county-wide role works in; a township officer's is their
    # township's (set by user_create).
    county = models.ForeignKey(
        "divisions.Division",
        verbose_name=_("county"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        limit_choices_to={"level": "county"},
        related_name="+",
    )
    # The city or province an office above the county is bound to.
    office = models.ForeignKey(
        "divisions.Division",
        verbose_name=_("office's division"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        limit_choices_to={"level__in": ("city", "province")},
        related_name="+",
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)


class PersonalDataExport(models.Model):
    """A download that carried whole ID, phone or account numbers: who, when,
    from where, what and how many rows (DOMAIN.md: every export is logged)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    exported_at = models.DateTimeField(_("exported at"), auto_now_add=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    what = models.CharField(_("what"), max_length=100)
    filters = models.CharField(_("filters"), max_length=500, blank=True)
    row_count = models.PositiveIntegerField(_("rows"))
    county = county_field()

    class Meta:
        verbose_name = _("personal data export")
        verbose_name_plural = _("personal data exports")
        ordering = ["-exported_at"]

    def __str__(self) -> str:
        return f"{self.what} ({self.row_count})"

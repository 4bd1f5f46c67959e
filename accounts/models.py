from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Profile(models.Model):
    """What a staff account needs beyond Django's user: the township binding."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="profile",
    )
    township = models.ForeignKey(
        "beneficiaries.Division",
        verbose_name=_("township"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        limit_choices_to={"level": "township"},
        related_name="+",
    )
    phone = models.CharField(_("phone"), max_length=20, blank=True)

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self) -> str:
        return str(self.user)

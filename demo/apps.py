from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DemoConfig(AppConfig):
    """The Mojiang demo data. It sits above every domain app because it fills
    all of them, through their services."""

    name = "demo"
    verbose_name = _("Demo data")

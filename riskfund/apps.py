from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RiskfundConfig(AppConfig):
    name = "riskfund"
    verbose_name = _("Risk-compensation fund")

    def ready(self):
        # Connect the fund's answers to what the loans app signals.
        from . import services  # noqa: F401

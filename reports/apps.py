from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        # Register the tasks by name in every process: services queue them
        # by name (common.queue) and never import the tasks module.
        from . import tasks  # noqa: F401

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and roles")

    def ready(self):
        from .roles import sync_role_groups

        # Keep each role's group in step with ROLE_PERMISSIONS whenever a
        # migration adds models (and with them, permissions).
        post_migrate.connect(sync_role_groups, dispatch_uid="accounts.sync_role_groups")

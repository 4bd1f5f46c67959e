from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from beneficiaries.models import Division
from demo.services import DEMO_PASSWORD, demo_seed


class Command(BaseCommand):
    help = "Load the Mojiang demo data and one login per role. Safe to run again."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-production",
            action="store_true",
            help="Seed even with DJANGO_ENV=production (demo logins share one known password).",
        )

    def handle(self, *args, allow_production: bool, **options):
        if settings.PRODUCTION and not allow_production:
            raise CommandError(
                "Refusing to create demo logins in production; pass --allow-production."
            )
        result = demo_seed()
        divisions = result["divisions"]
        self.stdout.write(
            f"Divisions: {divisions.county.name} with "
            f"{Division.objects.townships().filter(parent=divisions.county).count()} townships "
            f"({divisions.created} created, {divisions.updated} updated)."
        )
        self.stdout.write("")
        self.stdout.write("Demo logins (password for all: %s):" % DEMO_PASSWORD)
        for login, created in result["logins"]:
            township = (
                Division.objects.get(code=login.township_code).name if login.township_code else ""
            )
            note = "" if created else " (already there)"
            self.stdout.write(f"  {login.username:<10} {login.role.label} {township}{note}")

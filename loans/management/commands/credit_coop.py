"""``manage.py credit_coop CODE --name NAME --county CODE [--county CODE ...]``:
create or update a credit co-op and say which counties it serves (exactly
those named). Running it again with the same words changes nothing. Keys
already issued lose any county the co-op no longer serves."""

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from divisions.models import Division
from loans.keys.services import credit_coop_save
from loans.models import CreditCoop


class Command(BaseCommand):
    help = "Create or update a credit co-op and the counties it serves."

    def add_arguments(self, parser):
        parser.add_argument("code", help="The co-op's code, e.g. ninger-rcc.")
        parser.add_argument("--name", help="Its name; needed for a new co-op.")
        parser.add_argument(
            "--county",
            metavar="CODE",
            action="append",
            dest="counties",
            required=True,
            help="A county it serves (six-digit code, loaded by load_divisions); repeat.",
        )

    def handle(self, *args, code, name=None, counties, **options):
        existing = CreditCoop.objects.filter(code=code).first()
        if name is None and existing is None:
            raise CommandError("A new co-op needs --name.")
        found, unknown = Division.objects.counties_by_code(counties)
        if unknown:
            raise CommandError(
                "There is no county %s loaded (load_divisions --county CODE loads one)."
                % ", ".join(unknown)
            )
        try:
            coop = credit_coop_save(
                code=code,
                name=name or existing.name,
                counties=found,
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        self.stdout.write(
            "%s %s serves %s."
            % (
                coop.code,
                coop.name,
                "、".join(county.name for county in coop.counties.order_by("code")),
            )
        )

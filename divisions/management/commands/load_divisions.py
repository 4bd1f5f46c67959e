from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from divisions.services import UnknownCountyError, divisions_load_county


class Command(BaseCommand):
    help = "Load a county and its townships from the official division code tables."

    def add_arguments(self, parser):
        parser.add_argument(
            "county_code",
            nargs="?",
            default=settings.COUNTY_CODE,
            help="Six-digit county code (default: COUNTY_CODE, Mojiang 530822).",
        )

    def handle(self, *args, county_code: str, **options):
        try:
            result = divisions_load_county(county_code=county_code)
        except UnknownCountyError:
            raise CommandError(
                f"No county with code {county_code!r} in the division tables."
            ) from None
        townships = result.county.children.count()
        self.stdout.write(
            f"{result.county.name} ({result.county.code}): {townships} townships, "
            f"{result.created} created, {result.updated} updated."
        )

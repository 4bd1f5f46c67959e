from django.core.management.base import BaseCommand, CommandError

from divisions.services import UnknownDivisionError, divisions_load


class Command(BaseCommand):
    help = (
        "Load counties with their townships, and the city and province above each, from the "
        "official division code tables: the counties named, and every county of the cities "
        "and provinces named. Running it again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--county",
            action="append",
            default=[],
            metavar="CODE",
            help="A six-digit county code (墨江 530822); may be given again.",
        )
        parser.add_argument(
            "--city",
            action="append",
            default=[],
            metavar="CODE",
            help="A four-digit city code (普洱市 5308): every county of the city.",
        )
        parser.add_argument(
            "--province",
            action="append",
            default=[],
            metavar="CODE",
            help="A two-digit province code (云南省 53): every county of the province.",
        )

    def handle(self, *args, county: list, city: list, province: list, **options):
        if not (county or city or province):
            raise CommandError(
                "Name what to load: --county 530822, --city 5308 or --province 53 "
                "(each may be given more than once)."
            )
        try:
            result = divisions_load(counties=county, cities=city, provinces=province)
        except UnknownDivisionError as error:
            raise CommandError(f"Not in the division tables, nothing loaded: {error}.") from None
        for loaded in result.counties:
            townships = loaded.children.filter(level="township").count()
            self.stdout.write(f"{loaded.name} ({loaded.code}): {townships} townships")
        self.stdout.write(
            f"{len(result.counties)} counties; {result.created} divisions created, "
            f"{result.updated} updated."
        )

"""``manage.py issue_api_token USERNAME [--coop CODE] [--county CODE ...]``:
issue an API key for a co-op service account and print it. The key reaches
the counties named (by default every county the co-op serves), and no other.

The key alone goes to standard output (so a script can capture it); what it
is for goes to standard error. It is shown this once: only its hash is kept.
"""

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from divisions.models import Division
from loans.keys.services import api_key_issue
from loans.models import CreditCoop


class Command(BaseCommand):
    help = "Issue an API key for a co-op service account and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username", help="The co-op service account.")
        parser.add_argument(
            "--coop",
            metavar="CODE",
            help="The credit co-op's code (e.g. mojiang-rcc); needed when there is more than one.",
        )

        parser.add_argument(
            "--county",
            metavar="CODE",
            action="append",
            dest="counties",
            help="A county the key reaches (six-digit code); repeat for several. "
            "By default, every county the co-op serves.",
        )

    def handle(self, *args, username, coop=None, counties=None, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError("There is no account %r." % username)
        credit_coop = self._coop(coop)
        try:
            # actor=None: whoever runs manage.py on the server is trusted.
            api_key, key = api_key_issue(
                actor=None, user=user, coop=credit_coop, counties=self._counties(counties)
            )
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from error
        reached = "、".join(
            "%s %s" % (county.code, county.name) for county in api_key.counties.order_by("code")
        )
        self.stderr.write(
            "Key %s… issued for %s at %s (%s), reaching %s. It is shown once; keep it safe."
            % (api_key.prefix, user.username, credit_coop.code, credit_coop.name, reached)
        )
        self.stdout.write(key)

    def _counties(self, codes: list[str] | None):
        if not codes:
            return None
        found, unknown = Division.objects.counties_by_code(codes)
        if unknown:
            raise CommandError("There is no county %s loaded." % ", ".join(unknown))
        return found

    def _coop(self, code: str | None) -> CreditCoop:
        if code:
            coop = CreditCoop.objects.filter(code=code).first()
            if coop is None:
                known = ", ".join(CreditCoop.objects.values_list("code", flat=True))
                raise CommandError("There is no co-op %r (known: %s)." % (code, known))
            return coop
        coops = list(CreditCoop.objects.all()[:2])
        if len(coops) != 1:
            raise CommandError("Name the co-op with --coop CODE.")
        return coops[0]

from collections import Counter

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django.utils import timezone

from demo.counties import SMALL_COUNTIES
from demo.data import REFERENCE_DATE
from demo.generator import demo_registry_figures
from demo.loans import PROGRAMME_NAME, REGION_CODE, demo_loans_figures
from demo.services import DEMO_PASSWORD, demo_seed
from divisions.models import Division
from loans.ledger.selectors import status_label
from loans.models import Application, Loan
from reports.models import Report
from subsidies.models import SubsidyLine, SubsidyRun


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
        result = demo_seed(today=timezone.localdate())
        divisions = result["divisions"]
        counties = ", ".join(
            f"{county.name} ({Division.objects.townships().filter(parent=county).count()} "
            "townships)"
            for county in divisions.counties
        )
        self.stdout.write(
            f"Divisions: {counties}, with 普洱市 and 云南省 above them "
            f"({divisions.created} created, {divisions.updated} updated)."
        )
        self._write_registry(result["registry"])
        self._write_loans(result["loans"], result["today"])
        self._write_subsidies(result["subsidies"])
        self._write_others(result["others"])
        self.stdout.write("")
        self.stdout.write("Demo logins (password for all: %s):" % DEMO_PASSWORD)
        for login, created in result["logins"]:
            where = Division.objects.get(code=login.division_code).name
            note = "" if created else " (already there)"
            self.stdout.write(f"  {login.username:<10} {login.role.label} {where}{note}")

    def _write_others(self, created) -> None:
        lines = ["", "The other counties of 普洱市 (for the city and province offices):"]
        for spec in SMALL_COUNTIES:
            county = Division.objects.get(code=spec.code)
            loans = Loan.objects.filter(county=county)
            programme = loans.values_list("programme__name", flat=True).first() or "—"
            lines.append(
                f"  {county.name}: {loans.count()} loans under {programme}, "
                f"{SubsidyRun.objects.filter(county=county).count()} subsidy run(s)"
            )
        if any(created.values()):
            made = ", ".join(f"{count:,} {kind}" for kind, count in created.items() if count)
            lines.append(f"  created this run: {made}")
        else:
            lines.append("  (already there: nothing created)")
        for line in lines:
            self.stdout.write(line)

    def _write_registry(self, registry) -> None:
        figures = demo_registry_figures()
        households = figures["borrower households"]
        cadre = figures["village committee households"] + figures["village group cadre households"]
        share = 100 * cadre / households if households else 0
        lines = [
            f"Registry (as of {REFERENCE_DATE.isoformat()}):",
            f"  {figures['villages']:,} villages and communities, "
            f"{figures['village groups']:,} village groups",
            f"  {households} borrower households, {figures['borrowers']} borrowers: "
            f"{cadre} cadre households ({share:.1f} %: "
            f"{figures['village committee households']} village committee, "
            f"{figures['village group cadre households']} village group), "
            f"{figures['other households']} industry leaders or reserve cadres",
            f"  {figures['husbandry households']} in animal husbandry, "
            f"{figures['planting households']} in planting",
            f"  {figures['enterprises']} enterprises and co-operatives, "
            f"{figures['driven households']:,} driven households",
            f"  largest total the quotas allow: {figures['maximum quota']:,.0f} yuan",
        ]
        created = registry.created
        if any(created.values()):
            made = ", ".join(f"{count:,} {kind}" for kind, count in created.items() if count)
            lines.append(f"  created this run: {made}")
        else:
            lines.append("  (already there: nothing created)")
        self.stdout.write("")
        for line in lines:
            self.stdout.write(line)

    def _write_loans(self, seeded, today) -> None:
        figures = demo_loans_figures()
        states = figures["applications by year and state"]
        lines = [f"Applications and loans (as of {today.isoformat()}):"]
        for year in sorted({year for year, _state in states}):
            counts = ", ".join(
                f"{states[year, state]} {Application.State(state).label}"
                for state in Application.State.values
                if states[year, state]
            )
            lines.append(f"  applications {year}: {counts}")
        by_status = figures["loans by status"]
        lines += [
            f"  {figures['loans']} loans to {figures['households']} households, "
            f"{figures['principal']:,.2f} yuan lent, "
            f"{figures['principal repaid']:,.2f} repaid",
            "  loans by status: "
            + ", ".join(
                f"{by_status[status]} {status_label(status)}" for status in Loan.Status.values
            ),
            f"  {figures['early repaid loans']} repaid before maturity, "
            f"{by_status[Loan.Status.OVERDUE]} overdue",
            f"  {figures['interest postings']:,} interest postings, "
            f"{figures['interest posted']:,.2f} yuan of interest; "
            f"{figures['late postings']} paid late; "
            f"{figures['principal repayments']} principal repayments",
            f"  {figures['notices']} public notices, {figures['objections']} objections",
        ]
        created = seeded.created
        if any(created.values()):
            made = ", ".join(f"{count:,} {kind}" for kind, count in created.items() if count)
            lines.append(f"  created this run: {made}")
        else:
            lines.append("  (already there: nothing created)")
        self.stdout.write("")
        for line in lines:
            self.stdout.write(line)

    def _write_subsidies(self, created) -> None:
        runs = SubsidyRun.objects.filter(
            programme__name=PROGRAMME_NAME, programme__region_code=REGION_CODE
        ).exclude(state=SubsidyRun.State.CANCELLED)
        lines = ["Subsidy runs:"]
        for run in runs.order_by("year"):
            payments = Counter(
                dict(
                    run.lines.values_list("payment")
                    .annotate(n=Count("pk"))
                    .values_list("payment", "n")
                )
            )
            lines.append(
                f"  {run.programme} subsidy year {run.year}: {run.get_state_display()}, "
                f"{run.line_count} lines, {run.total_due:,.2f} yuan due, "
                f"{run.flagged_count} reconciliation exceptions"
            )
            if run.batches.exists():
                lines.append(
                    f"    {run.batches.count()} payment batches; lines "
                    + ", ".join(
                        f"{payments[status]} {SubsidyLine.Payment(status).label}"
                        for status in SubsidyLine.Payment.values
                        if payments[status]
                    )
                )
        if len(lines) == 1:
            lines.append("  none yet (the 2025 year is computed once 5 January 2026 has passed)")
        reports = Report.objects.filter(state=Report.State.DONE).count()
        lines.append(f"  {reports} stored reports")
        if any(created.values()):
            made = ", ".join(f"{count:,} {kind}" for kind, count in created.items() if count)
            lines.append(f"  created this run: {made}")
        else:
            lines.append("  (already there: nothing created)")
        self.stdout.write("")
        for line in lines:
            self.stdout.write(line)

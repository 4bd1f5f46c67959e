"""The Mojiang demo's subsidy year 2025 (21 December 2024 to 20 December
2025), taken through the subsidy services as the county office and the
finance bureau would (DOMAIN.md section 4, steps 7 and 8):

* 5 January 2026: the county computes the year, with the reconciliation
  exceptions the demo's ledger holds (late payments, figures that differ
  from the expected interest, overdue loans);
* 7 January: the county submits it; 8 January: a township reports that one
  household's bank account was closed, and clears it, so that household's
  subsidy waits for a new account; 9 January: finance approves the run;
* 12 January: finance issues the first payment batch (the bank's file);
  16 January: the bank returns four payments (the name does not match the
  account) and pays the rest, recorded with one voucher;
* 20 January: the townships correct the four accounts; 26 January: finance
  issues them in a second batch; 30 January: two are paid, one fails
  again (the account is frozen), one waits for the bank's confirmation;
* 2 February: the payout list (PDF and xlsx), the run's public notice and
  the county report as of that day are generated and stored.

So every payment state is there to look at, and the finance officer has a
batch to finish and a failed payment to issue again. Each step is written
only once its day is before ``today``, and only if it is not there yet, so
a second run changes nothing. Once 5 January 2027 has passed, the 2026 year
is computed and submitted too, waiting for finance's approval.
"""

import datetime
import random
from collections import Counter
from contextlib import contextmanager
from unittest import mock

from celery import current_app as celery_app
from stdnum import luhn

from beneficiaries.registry.services import household_update
from loans.models import Programme
from reports.models import Report
from reports.services import report_key, report_request
from subsidies.models import PaymentBatch, SubsidyLine, SubsidyRun
from subsidies.payout.services import payment_batch_issue, payment_batch_record, payment_line_record
from subsidies.runs.services import subsidy_run_approve, subsidy_run_start, subsidy_run_submit

from .loans import PROGRAMME_NAME, REGION_CODE, SEED, YEAR, _clock

State = SubsidyRun.State
Payment = SubsidyLine.Payment
D = datetime.datetime

COMPUTED_AT = D(2026, 1, 5, 9, 30)
SUBMITTED_AT = D(2026, 1, 7, 10, 15)
ACCOUNT_CLOSED_AT = D(2026, 1, 8, 11, 0)
APPROVED_AT = D(2026, 1, 9, 15, 40)
FIRST_BATCH_AT = D(2026, 1, 12, 10, 0)
FIRST_PAID_AT = D(2026, 1, 16, 16, 20)
ACCOUNTS_CORRECTED_AT = D(2026, 1, 20, 10, 30)
SECOND_BATCH_AT = D(2026, 1, 26, 9, 45)
SECOND_PAID_AT = D(2026, 1, 30, 15, 10)
REPORTS_AT = D(2026, 2, 2, 9, 0)
FIRST_VOUCHER = "墨财贴〔2026〕3号"
SECOND_VOUCHER = "墨财贴〔2026〕7号"
RETURNED = "户名与账号不符，银行退回"
FROZEN = "账户已冻结，银行退回；请乡镇核实后更换账户"
CLOSED = "信用社告知该账户已销户，待农户提供新账户"
CORRECTED = "银行退回户名与账号不符，已与农户核实并更正账号"
FAILED_IN_FIRST_BATCH = 4

# The township whose household's account is closed: 联珠镇, where the demo's
# township officer works, so that their home page shows the waiting subsidy.
CLOSED_ACCOUNT_TOWNSHIP = "530822101"


@contextmanager
def _in_process():
    """Compute runs and build reports in this process, at once.

    The demo writes its story in one transaction, where the services'
    on-commit hooks would wait for the end, and each step needs the one
    before it finished (a run computed before it is submitted)."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    try:
        with (
            mock.patch("subsidies.runs.services._after_commit", lambda callback: callback()),
            mock.patch("reports.services._after_commit", lambda callback: callback()),
        ):
            yield
    finally:
        celery_app.conf.task_always_eager = eager


def _account_number(rng: random.Random) -> str:
    body = "6217" + "%014d" % rng.randrange(10**14)
    return body + luhn.calc_check_digit(body)


class _Story:
    def __init__(self, *, county, finance, officers, today, created):
        self.county = county
        self.finance = finance
        self.officers = officers
        self.today = today
        self.created = created
        self.programme = Programme.objects.get(
            name=PROGRAMME_NAME, year=YEAR, region_code=REGION_CODE
        )
        self.rng = random.Random(SEED + 2025)

    def due(self, moment: D) -> bool:
        return moment.date() < self.today

    def officer_of(self, household):
        return self.officers.get(household.township.code, self.county)

    def run_of(self, year: int) -> SubsidyRun | None:
        return (
            SubsidyRun.objects.filter(programme=self.programme, year=year)
            .exclude(state=State.CANCELLED)
            .first()
        )

    def computed(self, year: int, at: D) -> SubsidyRun | None:
        run = self.run_of(year)
        if run is None and self.due(at):
            with _clock(at):
                run = subsidy_run_start(
                    actor=self.county, programme=self.programme, year=year, today=at.date()
                )
            self.created["subsidy runs"] += 1
            run.refresh_from_db()
        return run

    def submitted(self, run: SubsidyRun, at: D) -> None:
        if run.state == State.COMPUTED and self.due(at):
            with _clock(at):
                subsidy_run_submit(actor=self.county, run=run)
            run.refresh_from_db()
            self.created["runs submitted"] += 1

    def approved(self, run: SubsidyRun) -> None:
        if run.state == State.SUBMITTED and self.due(APPROVED_AT):
            with _clock(APPROVED_AT):
                subsidy_run_approve(actor=self.finance, run=run)
            run.refresh_from_db()
            self.created["runs approved"] += 1

    def account_closed(self, run: SubsidyRun) -> None:
        """Before the first batch, one household of the township loses its account."""
        if run.batches.exists() or not self.due(ACCOUNT_CLOSED_AT):
            return
        lines = run.lines.filter(
            township__code=CLOSED_ACCOUNT_TOWNSHIP, amount_due__gt=0
        ).select_related("loan__application__household__village_group__parent__parent")
        if lines.filter(loan__application__household__account_number="").exists():
            return  # closed already
        lines = lines.order_by("loan__contract_no")
        chosen = lines[self.rng.randrange(lines.count())]
        household = chosen.loan.application.household
        with _clock(ACCOUNT_CLOSED_AT):
            household_update(
                actor=self.officer_of(household),
                household=household,
                account_number="",
                reason=CLOSED,
            )
        self.created["bank accounts closed"] += 1

    def first_batch(self, run: SubsidyRun) -> PaymentBatch | None:
        batch = run.batches.filter(number=1).first()
        if batch is None and run.state == State.APPROVED and self.due(FIRST_BATCH_AT):
            with _clock(FIRST_BATCH_AT):
                batch = payment_batch_issue(actor=self.finance, run=run)
            self.created["payment batches"] += 1
        if batch is None or not self.due(FIRST_PAID_AT):
            return batch
        issued = list(batch.lines.filter(payment=Payment.ISSUED).order_by("loan__contract_no"))
        if len(issued) == batch.line_count:
            for line in self.rng.sample(issued, FAILED_IN_FIRST_BATCH):
                with _clock(FIRST_PAID_AT):
                    payment_line_record(
                        actor=self.finance, line=line, paid=False, note=RETURNED, today=self.today
                    )
            with _clock(FIRST_PAID_AT):
                paid = payment_batch_record(
                    actor=self.finance,
                    batch=batch,
                    voucher_no=FIRST_VOUCHER,
                    paid_on=FIRST_PAID_AT.date(),
                    today=self.today,
                )
            self.created["payments recorded"] += paid
            self.created["payments failed"] += FAILED_IN_FIRST_BATCH
        return batch

    def accounts_corrected(self, run: SubsidyRun) -> None:
        if run.batches.filter(number=2).exists() or not self.due(ACCOUNTS_CORRECTED_AT):
            return
        failed = run.lines.filter(payment=Payment.FAILED).select_related(
            "loan__application__household__village_group__parent__parent"
        )
        for line in failed.order_by("loan__contract_no"):
            household = line.loan.application.household
            with _clock(ACCOUNTS_CORRECTED_AT):
                household_update(
                    actor=self.officer_of(household),
                    household=household,
                    account_number=_account_number(self.rng),
                    reason=CORRECTED,
                )
            self.created["bank accounts corrected"] += 1

    def second_batch(self, run: SubsidyRun) -> None:
        batch = run.batches.filter(number=2).first()
        if batch is None and self.due(SECOND_BATCH_AT):
            if not run.lines.filter(payment=Payment.FAILED).exists():
                return
            with _clock(SECOND_BATCH_AT):
                batch = payment_batch_issue(actor=self.finance, run=run)
            self.created["payment batches"] += 1
        if batch is None or not self.due(SECOND_PAID_AT):
            return
        issued = list(batch.lines.filter(payment=Payment.ISSUED).order_by("loan__contract_no"))
        if len(issued) != batch.line_count:
            return  # recorded already
        paid, frozen = issued[:-2], issued[-2]
        for line in paid:
            with _clock(SECOND_PAID_AT):
                payment_line_record(
                    actor=self.finance,
                    line=line,
                    paid=True,
                    voucher_no=SECOND_VOUCHER,
                    paid_on=SECOND_PAID_AT.date(),
                    today=self.today,
                )
        with _clock(SECOND_PAID_AT):
            payment_line_record(
                actor=self.finance, line=frozen, paid=False, note=FROZEN, today=self.today
            )
        self.created["payments recorded"] += len(paid)
        self.created["payments failed"] += 1

    def reports(self, run: SubsidyRun) -> None:
        if not self.due(REPORTS_AT):
            return
        wanted = [
            (self.finance, Report.Kind.PAYOUT, Report.Format.PDF, {"run": run}),
            (self.finance, Report.Kind.PAYOUT, Report.Format.XLSX, {"run": run}),
            (self.county, Report.Kind.RUN_NOTICE, Report.Format.PDF, {"run": run}),
            (
                self.county,
                Report.Kind.COUNTY,
                Report.Format.PDF,
                {"programme": self.programme, "as_of": REPORTS_AT.date()},
            ),
        ]
        for actor, kind, format, subject in wanted:
            key = report_key(kind=kind, format=format, county=run.county, **subject)
            if Report.objects.filter(key=key, state=Report.State.DONE).exists():
                continue
            with _clock(REPORTS_AT):
                report_request(actor=actor, kind=kind, format=format, **subject)
            self.created["reports"] += 1


def demo_subsidies_seed(*, county, finance, township_officers: dict, today) -> Counter:
    """Write whatever of the subsidy story is missing, cut off at ``today``;
    answer what was created, by kind."""
    created = Counter()
    story = _Story(
        county=county, finance=finance, officers=township_officers, today=today, created=created
    )
    if not story.programme.loans.exists():
        return created
    with _in_process():
        run = story.computed(YEAR, COMPUTED_AT)
        if run is None:
            return created
        story.submitted(run, SUBMITTED_AT)
        story.account_closed(run)
        story.approved(run)
        run.refresh_from_db()
        story.first_batch(run)
        story.accounts_corrected(run)
        story.second_batch(run)
        run.refresh_from_db()
        story.reports(run)
        # The next year, once it is over and its run is due (5 January).
        following = YEAR + 1
        next_run = story.computed(following, D(following + 1, 1, 5, 9, 30))
        if next_run is not None:
            story.submitted(next_run, D(following + 1, 1, 7, 10, 15))
    return created

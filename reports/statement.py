"""The borrower statement (借款人贷款及贴息对账单): one borrower's loans, the
postings the co-op made on each with the running balance, and the subsidy
of each year, as an A4 PDF rendered in the request.

It carries the borrower's name, masked resident ID and finances, so the view
logs every download; it never carries the whole ID, the phone number or the
bank account. Everything is read through ``for_user``: a township officer's
statement holds only what that officer may see.
"""

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone, translation

from beneficiaries.models import Borrower
from common.masking import mask_resident_id
from common.money import ZERO
from common.pdf import PRINT_LANGUAGE, render_pdf
from loans.ledger.position import effective_entries, loan_position
from loans.ledger.selectors import status_label
from loans.models import LedgerEntry, Loan
from loans.programmes.selectors import percent_text
from subsidies.models import SubsidyLine, SubsidyRun

RunState = SubsidyRun.State
# Lines of an approved or paid run are final. Those of a computed or
# submitted run are shown too, marked as not final: the borrower may ask
# about them. Draft, computing, failed and cancelled runs' lines count for
# nothing.
FINAL_STATES = (RunState.APPROVED, RunState.PAID)
PROVISIONAL_STATES = (RunState.COMPUTED, RunState.SUBMITTED)


@dataclass(frozen=True)
class PostingRow:
    """One interest settlement or principal repayment as the co-op posted it.

    ``balance`` is the principal outstanding after the entry; a reversed
    entry moves nothing, so its balance is None and ``reversal`` says why.
    """

    entry: LedgerEntry
    balance: Decimal | None
    reversal: LedgerEntry | None = None
    late_days: int = 0

    @property
    def is_interest(self) -> bool:
        return self.entry.kind == LedgerEntry.Kind.INTEREST

    @property
    def is_reversed(self) -> bool:
        return self.reversal is not None


@dataclass(frozen=True)
class SubsidyRow:
    line: SubsidyLine

    @property
    def is_final(self) -> bool:
        return self.line.run.state in FINAL_STATES

    @property
    def paid_amount(self) -> Decimal:
        return self.line.amount_due if self.line.payment == SubsidyLine.Payment.PAID else ZERO


@dataclass
class LoanSection:
    loan: Loan
    rate_text: str
    status: str
    postings: list[PostingRow]
    subsidies: list[SubsidyRow]
    interest_paid: Decimal
    principal_repaid: Decimal
    balance: Decimal

    @property
    def final_subsidies(self) -> list[SubsidyRow]:
        return [row for row in self.subsidies if row.is_final]

    @property
    def has_provisional(self) -> bool:
        return any(not row.is_final for row in self.subsidies)

    def _final_sum(self, name: str) -> Decimal:
        return sum((getattr(row.line, name) for row in self.final_subsidies), ZERO)

    @property
    def reported_interest(self) -> Decimal:
        return self._final_sum("reported_interest")

    @property
    def eligible_interest(self) -> Decimal:
        return self._final_sum("eligible_interest")

    @property
    def subsidy(self) -> Decimal:
        return self._final_sum("subsidy")

    @property
    def adjustment(self) -> Decimal:
        return self._final_sum("adjustment")

    @property
    def amount_due(self) -> Decimal:
        return self._final_sum("amount_due")

    @property
    def subsidy_paid(self) -> Decimal:
        return sum((row.paid_amount for row in self.final_subsidies), ZERO)

    @property
    def reversed_count(self) -> int:
        return sum(1 for row in self.postings if row.is_reversed)


@dataclass(frozen=True)
class HouseholdMember:
    """Another borrower of the same household, who shares its quota."""

    name: str
    loan_count: int
    principal: Decimal


@dataclass
class BorrowerStatement:
    borrower: Borrower
    masked_id: str
    category: str
    today: datetime.date
    generated_at: datetime.datetime
    generated_by: str
    loans: list[LoanSection] = field(default_factory=list)
    household_members: list[HouseholdMember] = field(default_factory=list)

    def _sum(self, name: str) -> Decimal:
        return sum((getattr(section, name) for section in self.loans), ZERO)

    @property
    def principal(self) -> Decimal:
        return sum((section.loan.principal for section in self.loans), ZERO)

    @property
    def balance(self) -> Decimal:
        return self._sum("balance")

    @property
    def interest_paid(self) -> Decimal:
        return self._sum("interest_paid")

    @property
    def amount_due(self) -> Decimal:
        return self._sum("amount_due")

    @property
    def subsidy_paid(self) -> Decimal:
        return self._sum("subsidy_paid")


def borrower_loans(*, borrower: Borrower, user):
    """The loans of the borrower's own applications that ``user`` may see,
    oldest first."""
    return (
        Loan.objects.for_user(user)
        .filter(application__borrower=borrower)
        .select_related("programme", "coop")
        .order_by("disbursed_on", "pk")
    )


def loan_postings(loan: Loan) -> list[PostingRow]:
    """The loan's interest and principal entries in date order with the
    principal balance after each. The balance moves with the entries
    ``effective_entries`` counts; entries a reversal undid are listed at
    their date, with the reversal, and move nothing."""
    effective = list(effective_entries(loan))
    undone = list(
        LedgerEntry.objects.filter(
            loan=loan,
            kind__in=[LedgerEntry.Kind.INTEREST, LedgerEntry.Kind.PRINCIPAL],
            reversed_by__isnull=False,
        ).select_related("reversed_by")
    )
    undone_pks = {entry.pk for entry in undone}
    grace = datetime.timedelta(days=loan.programme.grace_days)
    rows = []
    balance = loan.principal
    for entry in sorted(effective + undone, key=lambda e: (e.paid_on, e.pk)):
        if entry.pk in undone_pks:
            rows.append(PostingRow(entry=entry, balance=None, reversal=entry.reversed_by))
            continue
        late = 0
        if entry.kind == LedgerEntry.Kind.PRINCIPAL:
            balance -= entry.amount
        elif entry.paid_on > entry.due_on + grace:
            late = (entry.paid_on - entry.due_on).days
        rows.append(PostingRow(entry=entry, balance=balance, late_days=late))
    return rows


def loan_subsidy_lines(*, loans: list[Loan], user) -> dict[int, list[SubsidyRow]]:
    """Each loan's subsidy lines of runs that stand, oldest year first."""
    by_loan: dict[int, list[SubsidyRow]] = {loan.pk: [] for loan in loans}
    if not user.has_perm("subsidies.view_subsidyline"):
        return by_loan
    lines = (
        SubsidyLine.objects.for_user(user)
        .filter(loan__in=loans, run__state__in=FINAL_STATES + PROVISIONAL_STATES)
        .select_related("run")
        .order_by("run__year", "run__pk")
    )
    for line in lines:
        by_loan[line.loan_id].append(SubsidyRow(line=line))
    return by_loan


def household_members(*, borrower: Borrower, user) -> list[HouseholdMember]:
    """The household's other borrowers and what they borrowed: the quota is
    the household's, so their loans bear on this borrower's."""
    others = (
        Borrower.objects.for_user(user)
        .filter(household_id=borrower.household_id)
        .exclude(pk=borrower.pk)
        .order_by("name", "pk")
    )
    loans = (
        Loan.objects.for_user(user)
        .filter(application__borrower__in=others)
        .values("application__borrower")
        .annotate(count=Count("pk"), principal=Sum("principal"))
    )
    by_borrower = {row["application__borrower"]: row for row in loans}
    members = []
    for other in others:
        row = by_borrower.get(other.pk, {"count": 0, "principal": ZERO})
        members.append(
            HouseholdMember(
                name=other.name, loan_count=row["count"], principal=row["principal"] or ZERO
            )
        )
    return members


def borrower_statement(
    *, borrower: Borrower, user, today: datetime.date, generated_at: datetime.datetime
) -> BorrowerStatement:
    """The statement's figures, with balances and statuses as of ``today``.
    Build it under the print language: its labels are translated here."""
    loans = list(borrower_loans(borrower=borrower, user=user))
    lines = loan_subsidy_lines(loans=loans, user=user)
    sections = []
    for loan in loans:
        postings = loan_postings(loan)
        effective = [row.entry for row in postings if not row.is_reversed]
        interest = [e.amount for e in effective if e.kind == LedgerEntry.Kind.INTEREST]
        repaid = sum((e.amount for e in effective if e.kind == LedgerEntry.Kind.PRINCIPAL), ZERO)
        sections.append(
            LoanSection(
                loan=loan,
                rate_text=percent_text(loan.annual_rate),
                status=status_label(loan_position(loan, on=today).status),
                postings=postings,
                subsidies=lines[loan.pk],
                interest_paid=sum(interest, ZERO),
                principal_repaid=repaid,
                balance=loan.principal - repaid,
            )
        )
    return BorrowerStatement(
        borrower=borrower,
        masked_id=mask_resident_id(borrower.id_number),
        category=str(borrower.get_category_display()),
        today=today,
        generated_at=generated_at,
        generated_by=user.get_full_name() or user.get_username(),
        loans=sections,
        household_members=household_members(borrower=borrower, user=user),
    )


def statement_for(borrower: Borrower, *, user, today: datetime.date) -> BorrowerStatement:
    """The statement as printed now, its labels in the print language."""
    with translation.override(PRINT_LANGUAGE):
        return borrower_statement(
            borrower=borrower, user=user, today=today, generated_at=timezone.localtime()
        )


def render_statement(statement: BorrowerStatement) -> bytes:
    return render_pdf("reports/statement.html", {"statement": statement})


def statement_pdf(borrower: Borrower, *, user, today: datetime.date | None = None) -> bytes:
    """The borrower's statement as PDF bytes; balances as of ``today``
    (default: the local date)."""
    return render_statement(statement_for(borrower, user=user, today=today or timezone.localdate()))

"""A synthetic loan book written in bulk, for benchmarks and for tests that
need many loans (a worker killed in the middle of a long computation).

Not the demo: demo/loans.py takes every loan through the services. Here the
rows are written directly, already released and lent, each loan with its
four quarterly interest settlements of one subsidy year posted on time at
the exact figure (loans.interest), except every 10th paid a week late and
every 7th reported two yuan high, so a run has exceptions to find.
"""

import datetime
from decimal import Decimal

from django.utils import timezone
from stdnum.cn import ric

from beneficiaries.divisions.services import division_create
from beneficiaries.models import Borrower, Household, Industry
from loans.ledger.interest import expected_schedule
from loans.models import Application, CreditCoop, LedgerEntry, Loan, Programme

PRINCIPAL = Decimal("50000.00")
RATE = Decimal("0.034500")


def _id_number(index: int, county_code: str = "530822") -> str:
    birth = datetime.date(1950, 1, 1) + datetime.timedelta(days=index // 400)
    base = "%s%s%03d" % (county_code, birth.strftime("%Y%m%d"), index % 400 * 2 + 1)
    return base + ric.calc_check_digit(base + "0")


def loan_book_create(
    *,
    actor,
    township,
    programme: Programme,
    coop: CreditCoop,
    count: int,
    first_index: int = 0,
    year: int | None = None,
) -> list[Loan]:
    """``count`` loans in ``township``, disbursed on 20 December before
    subsidy year ``year`` (the programme's year by default) and settled
    quarterly through it. ``first_index`` keeps ID and contract numbers
    apart between calls."""
    year = year or programme.year
    village = division_create(
        actor=actor,
        parent=township,
        code=f"{township.code}{first_index % 900 + 100:03d}",
        name=f"示范{first_index}村",
    )
    group = division_create(actor=actor, parent=village, code=village.code + "001", name="一组")
    industry = Industry.objects.get(name="生猪")
    indexes = range(first_index, first_index + count)
    county_code = township.code[:6]
    households = Household.objects.bulk_create(
        Household(
            head_name=f"户主{index}",
            head_id_number=_id_number(index, county_code),
            village_group=group,
            township=township,
            county_id=township.parent_id,
            account_holder=f"户主{index}",
            account_number="6217001234567893",
            bank_name="墨江农信社",
        )
        for index in indexes
    )
    borrowers = Borrower.objects.bulk_create(
        Borrower(
            name=f"户主{index}",
            id_number=_id_number(index, county_code),
            birth_date=ric.get_birth_date(_id_number(index, county_code)),
            gender=Borrower.Gender.MALE,
            phone=f"139{index:08d}",
            household=household,
            township=township,
            county_id=township.parent_id,
            category=Borrower.Category.VILLAGE_COMMITTEE,
            industry=industry,
        )
        for index, household in zip(indexes, households, strict=True)
    )
    now = timezone.now()
    applications = Application.objects.bulk_create(
        Application(
            programme=programme,
            borrower=borrower,
            household=borrower.household,
            township=township,
            county_id=township.parent_id,
            amount=PRINCIPAL,
            term_months=36,
            industry=industry,
            purpose="扩大养殖",
            quota=Decimal("100000.00"),
            state=Application.State.RELEASED,
            released_at=now,
        )
        for borrower in borrowers
    )
    disbursed = datetime.date(year - 1, 12, 21)
    loans = Loan.objects.bulk_create(
        Loan(
            application=application,
            coop=coop,
            contract_no=f"BK-{index:07d}",
            principal=PRINCIPAL,
            annual_rate=RATE,
            disbursed_on=disbursed,
            maturity_on=datetime.date(year + 2, 12, 21),
            programme=programme,
            township=township,
            county_id=township.parent_id,
        )
        for index, application in zip(indexes, applications, strict=True)
    )
    schedule = expected_schedule(
        principal=PRINCIPAL,
        rate=RATE,
        basis=programme.day_count_basis,
        disbursed_on=disbursed,
        ends_on=datetime.date(year, 12, 21),
    )
    late = datetime.timedelta(days=7)
    LedgerEntry.objects.bulk_create(
        (
            LedgerEntry(
                coop=coop,
                txn_id=f"BK-{index:07d}-Q{quarter}",
                loan=loan,
                county_id=loan.county_id,
                kind=LedgerEntry.Kind.INTEREST,
                amount=period.interest + (Decimal("2.00") if index % 7 == 0 else 0),
                period_start=period.start,
                period_end=period.end,
                due_on=period.end,
                paid_on=period.end + (late if index % 10 == 0 and quarter == 2 else 0 * late),
                posted_by=actor,
            )
            for index, loan in zip(indexes, loans, strict=True)
            for quarter, period in enumerate(schedule, start=1)
        ),
        batch_size=5000,
    )
    return loans

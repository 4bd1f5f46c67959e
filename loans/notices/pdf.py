"""The public notice as a printable A4 PDF (WeasyPrint from a Django template).

The PDF is what goes up on the village notice boards, so it carries name,
village, category, industry and amount only: never an ID, phone or account
number. It is always rendered in Chinese, whatever language the officer who
prints it reads the site in.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import translation

from common.pdf import PRINT_LANGUAGE, render_pdf
from loans.models import NoticeEntry, PublicNotice


@dataclass
class TownshipGroup:
    name: str
    rows: list = field(default_factory=list)
    total: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class NoticeRow:
    name: str
    village: str
    category: str
    industry: str
    amount: Decimal


def notice_rows(entries: list[NoticeEntry]) -> list[TownshipGroup]:
    """The entries grouped by township in code order, keeping the order they
    come in (``notice_entries``: village, then name), with the only fields a
    public notice may show."""
    groups: dict[str, TownshipGroup] = {}
    for entry in entries:
        application = entry.application
        if application.borrower_id:
            applicant = application.borrower
            village = application.household.village_group.parent.name
            category = applicant.get_category_display()
        else:
            applicant = application.enterprise
            village = applicant.village.name if applicant.village_id else ""
            category = applicant.get_kind_display()
        group = groups.setdefault(
            application.township.code, TownshipGroup(application.township.name)
        )
        group.rows.append(
            NoticeRow(
                name=applicant.name,
                village=village,
                category=str(category),
                industry=application.industry.name,
                amount=application.amount,
            )
        )
        group.total += application.amount
    return [groups[code] for code in sorted(groups)]


def render_notice_pdf(notice: PublicNotice, entries: list[NoticeEntry]) -> bytes:
    with translation.override(PRINT_LANGUAGE):
        groups = notice_rows(entries)
    return render_pdf(
        "loans/notices/pdf.html",
        {
            "notice": notice,
            "programme": notice.programme,
            "groups": groups,
            "count": sum(len(group.rows) for group in groups),
            "total": sum((group.total for group in groups), Decimal("0.00")),
        },
    )

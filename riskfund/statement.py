"""The fund's statement as a chart, a PDF (A4, for the finance bureau's
files) and a workbook: the figures of ``selectors.statement``, nothing
computed here."""

import io

from django.utils.translation import gettext as _
from openpyxl import Workbook
from openpyxl.styles import Font

from common.charts import balance_chart
from common.pdf import render_pdf

from . import selectors
from .models import Fund, Movement

MONEY_FORMAT = "#,##0.00"


def fund_chart(fund: Fund) -> str:
    """The balance over time with the compensation paid on its dates."""
    paid = fund.movements.filter(kind=Movement.Kind.COMPENSATION).order_by("on")
    return balance_chart(
        title=_("Fund balance and claims paid (yuan)"),
        points=selectors.balance_series(fund),
        events=[(movement.on, -movement.amount) for movement in paid],
        line_label=_("Balance"),
        events_label=_("Claims paid"),
    )


def file_name(statement: selectors.Statement, extension: str) -> str:
    return "fund-%d-%s-%s.%s" % (
        statement.fund.pk,
        statement.start.isoformat(),
        statement.end.isoformat(),
        extension,
    )


def summary_rows(statement: selectors.Statement) -> list[tuple[str, object]]:
    """The statement's figures in order, as (name, value)."""
    standing = statement.standing
    return [
        (_("Opening balance"), statement.opening),
        (_("Deposits"), statement.deposits),
        (_("Account interest"), statement.interest),
        (_("Compensation paid"), statement.compensation),
        (_("Recoveries returned"), statement.recoveries),
        (_("Closing balance"), statement.closing),
        (_("Covered principal outstanding"), standing.exposure.outstanding),
        (_("Approved, not yet lent"), standing.exposure.approved_not_lent),
        (_("Limit (leverage × balance)"), standing.limit),
        (_("Non-performing principal"), standing.exposure.non_performing),
    ]


def statement_pdf(statement: selectors.Statement) -> bytes:
    return render_pdf(
        "riskfund/statement_pdf.html",
        {
            "statement": statement,
            "rows": summary_rows(statement),
            "chart": fund_chart(statement.fund),
        },
    )


def statement_xlsx(statement: selectors.Statement) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.title = _("Statement")
    sheet.append([statement.fund.name])
    sheet.append(
        [_("From %(start)s to %(end)s, in yuan") % {"start": statement.start, "end": statement.end}]
    )
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([])
    sheet.append([_("Figure"), _("Value")])
    for name, value in summary_rows(statement):
        sheet.append([name, value])
        sheet.cell(row=sheet.max_row, column=2).number_format = MONEY_FORMAT
    standing = statement.standing
    for name, value in (
        (_("Leverage used"), standing.leverage_used),
        (_("Non-performing rate"), standing.exposure.non_performing_rate),
    ):
        sheet.append([name, None if value is None else float(value)])
        sheet.cell(row=sheet.max_row, column=2).number_format = "0.00%"
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 20

    movements = book.create_sheet(_("Movements"))
    movements.append([_("Date"), _("Kind"), _("Amount"), _("Voucher"), _("Claim"), _("Note")])
    for movement in statement.movements:
        movements.append(
            [
                movement.on,
                movement.get_kind_display(),
                movement.amount,
                movement.voucher,
                movement.claim.claim_id if movement.claim else "",
                movement.note,
            ]
        )
        movements.cell(row=movements.max_row, column=1).number_format = "yyyy-mm-dd"
        movements.cell(row=movements.max_row, column=3).number_format = MONEY_FORMAT
    claims = book.create_sheet(_("Claims"))
    claims.append(
        [
            _("Claim id"),
            _("Contract number"),
            _("Claim date"),
            _("Days overdue"),
            _("Loss"),
            _("Compensation"),
            _("Borne by the bank"),
            _("State"),
        ]
    )
    for claim in statement.claims:
        claims.append(
            [
                claim.claim_id,
                claim.loan.contract_no,
                claim.claimed_on,
                claim.days_overdue,
                claim.loss,
                claim.compensation,
                claim.bank_share,
                claim.get_state_display(),
            ]
        )
        claims.cell(row=claims.max_row, column=3).number_format = "yyyy-mm-dd"
        for column in (5, 6, 7):
            claims.cell(row=claims.max_row, column=column).number_format = MONEY_FORMAT
    for sheet in (movements, claims):
        for row in sheet.iter_rows(max_row=1):
            for cell in row:
                cell.font = Font(bold=True)
        for letter in "ABCDEFGH":
            sheet.column_dimensions[letter].width = 16
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()

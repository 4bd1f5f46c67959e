"""The bank's batch-payment file of a payment batch, as xlsx and as CSV.

Both carry the same columns, in the order banks' batch-payment (代发) templates
use: 户名, 账号, 开户行, 金额, 摘要 and the contract number. Amounts come from
``Decimal`` and never pass through a float: the workbook stores them as
numbers formatted ``0.00``, the CSV as text with two places. The rows come
from ``services.payment_batch_rows``; whoever serves a file logs the download
(it holds whole account numbers).
"""

import csv
import io
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from common.money import ZERO, round_fen
from subsidies.models import PaymentBatch

# (heading, key of payment_batch_rows, column width)
COLUMNS = (
    ("户名", "account_holder", 16),
    ("账号", "account_number", 24),
    ("开户行", "bank", 32),
    ("金额", "amount", 14),
    ("摘要", "reference", 26),
    ("合同编号", "contract_no", 20),
)
HEADINGS = [heading for heading, _key, _width in COLUMNS]
TOTAL_LABEL = "合计"
AMOUNT_FORMAT = "0.00"
HEADER_FILL = PatternFill("solid", fgColor="E6F2EC")

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_TYPE = "text/csv; charset=utf-8"
FORMATS = {"xlsx": XLSX_TYPE, "csv": CSV_TYPE}


def filename(batch: PaymentBatch, fmt: str) -> str:
    """``补贴代发-ZXD2025-0003-01.xlsx``: the batch's reference names the file."""
    return "补贴代发-%s.%s" % (batch.reference, fmt)


def _amount(value: Decimal) -> Decimal:
    return round_fen(value)  # refuses anything but a Decimal


def batch_xlsx(batch: PaymentBatch, rows: list[dict]) -> bytes:
    """The workbook: a header row, one row per line, and a total row."""
    book = Workbook()
    sheet = book.active
    sheet.title = batch.reference
    book.properties.title = "补贴代发 %s" % batch.reference
    sheet.append(HEADINGS)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = HEADER_FILL
    amount_column = HEADINGS.index("金额") + 1
    total = ZERO
    for row in rows:
        amount = _amount(row["amount"])
        total += amount
        sheet.append([amount if key == "amount" else row[key] for _h, key, _w in COLUMNS])
        for cell in sheet[sheet.max_row]:
            if cell.column == amount_column:
                cell.number_format = AMOUNT_FORMAT
            else:
                # Text as text: account numbers are not numbers (Excel would
                # round them), and a name starting with "=" is not a formula.
                cell.data_type = "s"
                cell.number_format = "@"
    sheet.append([TOTAL_LABEL if key == "account_holder" else None for _h, key, _w in COLUMNS])
    total_row = sheet[sheet.max_row]
    total_cell = total_row[amount_column - 1]
    total_cell.value = total
    total_cell.number_format = AMOUNT_FORMAT
    for cell in total_row:
        cell.font = Font(bold=True)
    for index, (_heading, _key, width) in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[get_column_letter(index)].width = width
    sheet.freeze_panes = "A2"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue()


def batch_csv(batch: PaymentBatch, rows: list[dict]) -> bytes:
    """The CSV for the bank's upload: UTF-8 with a byte-order mark (so that
    Excel reads the Chinese), no total row, amounts with two places."""
    output = io.StringIO()
    writer = csv.writer(output, lineterminator="\r\n")
    writer.writerow(HEADINGS)
    for row in rows:
        writer.writerow(
            ["%s" % _amount(row[key]) if key == "amount" else row[key] for _h, key, _w in COLUMNS]
        )
    return output.getvalue().encode("utf-8-sig")


WRITERS = {"xlsx": batch_xlsx, "csv": batch_csv}

"""What each stored report is built by, and the interface builders share.

A builder takes the ``Report`` row (what to build: kind, format,
programme, as_of, run, township; who asked and when, to print on the file)
and a ``progress`` callback, and returns the file's bytes and how many rows
of people or loans it lists. It reads the database and nothing else: the
task (``reports.tasks``) stores the file and records the state.

``progress(percent, stage)`` may be called as often as is useful; it writes
to the database at most every half second and only when the figure moves.
"""

from collections.abc import Callable
from dataclasses import dataclass
from importlib import import_module

from common.pdf import Progress

from .models import Report


@dataclass(frozen=True)
class Built:
    content: bytes
    row_count: int


Builder = Callable[[Report, Progress], Built]

BUILDERS: dict[tuple[str, str], str] = {
    (Report.Kind.COUNTY, Report.Format.PDF): "reports.county:county_pdf",
    (Report.Kind.COUNTY, Report.Format.XLSX): "reports.county:county_xlsx",
    (Report.Kind.PAYOUT, Report.Format.PDF): "reports.payout_list:payout_pdf",
    (Report.Kind.PAYOUT, Report.Format.XLSX): "reports.payout_list:payout_xlsx",
    (Report.Kind.RUN_NOTICE, Report.Format.PDF): "reports.run_notice:run_notice_pdf",
    (Report.Kind.CONSOLIDATED, Report.Format.PDF): "reports.consolidated:consolidated_pdf",
    (Report.Kind.CONSOLIDATED, Report.Format.XLSX): "reports.consolidated:consolidated_xlsx",
}


def builder_for(kind: str, format: str) -> Builder:
    module, name = BUILDERS[(kind, format)].split(":")
    return getattr(import_module(module), name)


def no_progress(percent: int, stage: str) -> None:
    """For building a report outside a task (tests, benchmarks)."""

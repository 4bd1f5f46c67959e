"""PDFs rendered by WeasyPrint from Django templates, always in Chinese.

Every printed output (public notices, reports, payout lists, statements) is
filed or posted in the county, so it is rendered in Chinese whatever
language the officer who asks for it reads the site in.
"""

import functools
import gc
import logging
from collections.abc import Callable
from contextlib import contextmanager

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

PRINT_LANGUAGE = "zh-hans"

# progress(percent, stage): reports.builders passes it to the builders.
Progress = Callable[[int, str], None]


def page_counter_content() -> str:
    """The CSS ``content`` value that prints "第 x 页 共 y 页" at the foot of
    each page, built from the translated message around CSS counters."""
    marker = "\x00"
    text = _("Page %(page)s of %(pages)s") % {
        "page": marker + "page" + marker,
        "pages": marker + "pages" + marker,
    }
    parts = []
    for piece in text.split(marker):
        if piece in ("page", "pages"):
            parts.append("counter(%s)" % piece)
        elif piece:
            parts.append('"%s"' % piece.replace("\\", "\\\\").replace('"', '\\"'))
    return " ".join(parts)


def render_print_html(template_name: str, context: dict) -> str:
    """The template rendered in the print language, with ``page_counter``
    (for ``@page`` rules) in its context."""
    with translation.override(PRINT_LANGUAGE):
        return render_to_string(template_name, {**context, "page_counter": page_counter_content()})


def html_to_pdf(html: str) -> bytes:
    with cyclic_gc_paused():
        return lean_html_class()(string=html).write_pdf()


def render_pdf(template_name: str, context: dict) -> bytes:
    return html_to_pdf(render_print_html(template_name, context))


# Long documents: progress and speed ----------------------------------------------


class _PageProgress(logging.Handler):
    """WeasyPrint logs each page it lays out on its ``weasyprint.progress``
    logger ("Step 5 - Creating layout - Page %d"): turn those records into
    ``progress`` calls between ``start`` and ``end`` percent. If the message
    ever changes, progress stays at ``start`` until the layout is done."""

    def __init__(self, progress: Progress, expected_pages: int, start: int, end: int):
        super().__init__(logging.INFO)
        self.progress = progress
        self.expected_pages = max(expected_pages, 1)
        self.start = start
        self.end = end
        self.pages = 0

    def emit(self, record: logging.LogRecord) -> None:
        if not (str(record.msg).startswith("Step 5") and record.args):
            return
        # A page laid out again (its content changed) does not move the bar back.
        self.pages = max(self.pages, record.args[0])
        share = min(self.pages, self.expected_pages) / self.expected_pages
        self.progress(
            self.start + int((self.end - self.start) * share),
            _("Laying out page %(page)s") % {"page": self.pages},
        )


@functools.cache
def lean_html_class():
    """WeasyPrint's ``HTML`` with its user-agent stylesheet less the rules
    that style the ``::marker`` and footnote pseudo-elements of *every*
    element (``::marker``, ``::footnote-call`` ...). They make WeasyPrint
    compute and keep six styles per table cell instead of one: for a
    10,000-line list, 1.9 GB of memory instead of 1.15 GB, and a tenth of
    the time. These PDFs have no lists or footnotes. Should WeasyPrint move
    its stylesheet, its own ``HTML`` is used unchanged."""
    # Imported here: WeasyPrint loads Pango and fonts, which no page needs.
    from weasyprint import CSS, HTML

    try:
        from weasyprint.html import UA
    except ImportError:
        return HTML
    rules = "\n".join(line for line in UA.splitlines() if not line.startswith("::"))
    stylesheet = CSS(string=rules)

    class LeanHTML(HTML):
        def _ua_stylesheets(self, forms=False):
            return [stylesheet]

    return LeanHTML


@contextmanager
def cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while WeasyPrint works.

    WeasyPrint builds millions of objects for a long list (boxes, styles,
    text layouts), all alive until the PDF is written, and the collector
    would walk them again and again: a third of the time of a 10,000-line
    list. Reference counting still frees what is dropped. At the end one
    collection frees the cycles WeasyPrint leaves (2.6 million objects,
    3 s, for 10,000 lines) here rather than in whatever the process runs
    next; drop the document before leaving the block."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()


def render_with_progress(html: str, progress: Progress, *, expected_pages: int) -> bytes:
    """WeasyPrint with progress: laying out the pages (reported page by
    page) takes about four fifths of the time, writing the PDF the rest."""
    html_class = lean_html_class()
    progress(10, _("Laying out the pages"))
    logger = logging.getLogger("weasyprint.progress")
    handler = _PageProgress(progress, expected_pages, 10, 84)
    level, propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False  # a line per page is no news for the worker's log
    logger.addHandler(handler)
    try:
        with cyclic_gc_paused():
            document = html_class(string=html).render()
            progress(85, _("Writing the PDF (%(pages)s pages)") % {"pages": len(document.pages)})
            content = document.write_pdf()
            del document
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
    progress(100, _("Done"))
    return content

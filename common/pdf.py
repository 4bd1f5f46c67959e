"""PDFs rendered by WeasyPrint from Django templates, always in Chinese.

Every printed output (public notices, reports, payout lists, statements) is
filed or posted in the county, so it is rendered in Chinese whatever
language the officer who asks for it reads the site in.
"""

from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext as _

PRINT_LANGUAGE = "zh-hans"


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
    # Imported here: WeasyPrint loads Pango and fonts, which no page needs.
    from weasyprint import HTML

    return HTML(string=html).write_pdf()


def render_pdf(template_name: str, context: dict) -> bytes:
    return html_to_pdf(render_print_html(template_name, context))

"""Charts drawn once, on the server, as SVG (in common: the fund's pages
below the reports draw them too).

The dashboard puts the SVG in its page and the PDF reports put the same SVG
in theirs, so what the county sees on screen and what the finance bureau
files on paper come from one drawing (matplotlib, without pyplot, so that
concurrent requests never share a figure).

Text stays text in the SVG (``svg.fonttype: none``) in the CJK font, so the
browser and WeasyPrint set it with the same Noto font, and ``pdftotext`` can
read a chart's labels back. Each chart carries a ``<title>`` and the figures
it shows as a table next to it in the page, for readers who cannot see it.

Values are Decimals or ints; they are converted to float only here, to place
bars on the drawing: no figure the reader is given is computed in float.
"""

import datetime
import hashlib
import io
import os
import re
import tempfile
from collections.abc import Sequence
from decimal import Decimal

# matplotlib keeps its font cache in its config directory; the app's home
# may be read-only (the container), so it goes to the temporary directory.
os.environ.setdefault("MPLCONFIGDIR", os.path.join(tempfile.gettempdir(), "zhenxingdai-matplotlib"))

import matplotlib  # after MPLCONFIGDIR

matplotlib.use("Agg")

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from common.money import percent

FONT_FAMILY = ["Noto Sans CJK SC", "Noto Sans CJK JP", "DejaVu Sans"]

PALETTE = ("#2f6f4e", "#d08c2a", "#4c78a8", "#b0413e", "#7a6fae", "#6b8e23", "#8c8c8c")

_RC = {
    "svg.fonttype": "none",
    "svg.hashsalt": "zhenxingdai",
    "font.family": "sans-serif",
    "font.sans-serif": FONT_FAMILY,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#888888",
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
}

Number = int | Decimal


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), dpi=72, layout="constrained")


def _svg(figure: Figure, title: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context(_RC):
        figure.savefig(buffer, format="svg", metadata={"Date": None, "Title": title})
    svg = buffer.getvalue()
    # Drop the XML prologue and doctype so that the SVG can sit inside HTML,
    # and let the page size it: the drawing keeps its proportions.
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r'<svg\1 role="img"', svg, count=1)
    # matplotlib numbers its ids from 1 in every drawing; a page with several
    # charts would hold each id several times. Prefix them per drawing.
    prefix = "c" + hashlib.sha1(svg.encode()).hexdigest()[:8] + "-"
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    # The pages' Content Security Policy refuses inline styles (a <style>
    # element or a style="" attribute) in the dashboard: state the same
    # properties as SVG presentation attributes, which browsers and
    # WeasyPrint read alike. matplotlib's one rule, stroke joins and caps,
    # is inherited from the root.
    svg = re.sub(r"\s*<defs>\s*<style[^>]*>[^<]*</style>\s*</defs>", "", svg, count=1)
    svg = svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)
    svg = re.sub(r' style="([^"]*)"', _presentation_attributes, svg)
    return svg


def _presentation_attributes(match: re.Match) -> str:
    """``style="fill: #fff; stroke-width: 0.8"`` as ``fill="#fff" stroke-width="0.8"``."""
    attributes = []
    for declaration in match.group(1).split(";"):
        name, _colon, value = declaration.partition(":")
        if name.strip():
            attributes.append('%s="%s"' % (name.strip(), value.strip()))
    return " " + " ".join(attributes)


def _amount_formatter(unit_divisor: int):
    def format_tick(value, _position):
        # Below 10, as many places as the tick needs (0.25, not 0.2).
        scaled = value / unit_divisor
        if abs(scaled) >= 10 or scaled == 0:
            return f"{scaled:,.0f}"
        return f"{scaled:,.2f}".rstrip("0").rstrip(".")

    return FuncFormatter(format_tick)


def bar_chart(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[Number]]],
    axis_label: str = "",
    unit_divisor: int = 1,
    horizontal: bool = False,
    width: float = 7.0,
    height: float | None = None,
) -> str:
    """Bars for one or more series of figures against the same labels (side
    by side when there are several), as an SVG document.

    ``unit_divisor`` scales the axis ticks only (10,000 for 万元); the
    figures themselves are shown in the tables beside the chart.
    """
    count = max(len(labels), 1)
    if height is None:
        height = max(2.4, 0.28 * count + 1.0) if horizontal else 3.0
    figure = _figure(width, height)
    with matplotlib.rc_context(_RC):
        axes = figure.subplots()
        axes.set_title(title, loc="left")
        positions = list(range(len(labels)))
        bar_size = 0.8 / max(len(series), 1)
        for index, (name, values) in enumerate(series):
            offsets = [p - 0.4 + bar_size * (index + 0.5) for p in positions]
            floats = [float(value) for value in values]
            colour = PALETTE[index % len(PALETTE)]
            if horizontal:
                axes.barh(offsets, floats, height=bar_size, label=name, color=colour)
            else:
                axes.bar(offsets, floats, width=bar_size, label=name, color=colour)
        value_axis = axes.xaxis if horizontal else axes.yaxis
        value_axis.set_major_formatter(_amount_formatter(unit_divisor))
        if horizontal:
            axes.set_yticks(positions, labels)
            axes.invert_yaxis()
            axes.set_xlabel(axis_label)
            axes.grid(axis="x", color="#dddddd", linewidth=0.6)
        else:
            axes.set_xticks(
                positions,
                labels,
                rotation=45 if count > 8 else 0,
                ha="right" if count > 8 else "center",
            )
            axes.set_ylabel(axis_label)
            axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        if len(series) > 1:
            # Above the drawing, so that it never covers a bar.
            axes.legend(
                frameon=False,
                loc="lower right",
                bbox_to_anchor=(1.0, 1.0),
                ncols=len(series),
            )
    return _svg(figure, title)


def share_chart(
    *, title: str, labels: Sequence[str], values: Sequence[Number], width: float = 5.0
) -> str:
    """A ring showing how a whole divides (husbandry against planting, say),
    with a legend giving each part's count and percentage (half-up to 0.1),
    as an SVG document."""
    figure = _figure(width, width * 0.6)
    total = sum(values)
    with matplotlib.rc_context(_RC):
        axes = figure.subplots()
        axes.set_title(title, loc="left")
        wedges, _texts = axes.pie(
            [float(value) for value in values] if total else [1] * len(values),
            colors=PALETTE[: len(values)],
            startangle=90,
            counterclock=False,
            wedgeprops={"width": 0.42, "edgecolor": "white"},
        )
        axes.legend(
            wedges,
            [
                f"{label}  {value:,} ({percent(value, total)}%)"
                for label, value in zip(labels, values, strict=True)
            ],
            frameon=False,
            loc="center left",
            bbox_to_anchor=(1.0, 0.5),
        )
        axes.set_aspect("equal")
    return _svg(figure, title)


def balance_chart(
    *,
    title: str,
    points: Sequence[tuple[datetime.date, Number]],
    events: Sequence[tuple[datetime.date, Number]] = (),
    line_label: str = "",
    events_label: str = "",
    unit_divisor: int = 1,
    width: float = 7.0,
    height: float = 3.0,
) -> str:
    """A balance over time as a step line (it holds until the next
    movement), with ``events`` (payments out, say) as bars on their dates,
    as an SVG document."""
    figure = _figure(width, height)
    with matplotlib.rc_context(_RC):
        axes = figure.subplots()
        axes.set_title(title, loc="left")
        if points:
            days = [day for day, _value in points]
            values = [float(value) for _day, value in points]
            axes.step(days, values, where="post", color=PALETTE[0], label=line_label)
            axes.fill_between(days, values, step="post", color=PALETTE[0], alpha=0.12)
        if events:
            axes.bar(
                [day for day, _value in events],
                [float(value) for _day, value in events],
                width=6,
                color=PALETTE[3],
                label=events_label,
            )
        axes.yaxis.set_major_formatter(_amount_formatter(unit_divisor))
        axes.grid(axis="y", color="#dddddd", linewidth=0.6)
        axes.set_axisbelow(True)
        figure.autofmt_xdate()
        if line_label and events:
            axes.legend(frameon=False, loc="lower right", bbox_to_anchor=(1.0, 1.0), ncols=2)
    return _svg(figure, title)

"""The Content Security Policy (django-csp): every response carries it, it
allows scripts, styles and everything else from this server only, and no
page template holds inline script or style that it would refuse.

The PDF templates are not pages (WeasyPrint reads them, no browser) and
keep their inline styles. Chromium's view of the same pages is in
tests/browser/test_csp.py."""

import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
# Rendered to PDF by WeasyPrint, never served as a page.
PDF_TEMPLATES = {
    "loans/notices/pdf.html",
    "reports/_figures_style.html",
    "reports/consolidated.html",
    "reports/county.html",
    "reports/payout_list.html",
    "reports/run_notice.html",
    "reports/statement.html",
    "riskfund/statement_pdf.html",
}
POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}
NONCE_ATTRIBUTE = 'nonce="{{ request.csp_nonce }}"'


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {part[0]: (part[1] if len(part) > 1 else "") for part in parts}


def page_templates() -> list[Path]:
    return sorted(
        path
        for path in TEMPLATES.rglob("*.html")
        if path.relative_to(TEMPLATES).as_posix() not in PDF_TEMPLATES
    )


def plain_url_names(resolver: URLResolver | None = None, namespace: str = "") -> list[str]:
    """Every named route that takes no argument (the API's catch-all aside)."""
    resolver = resolver or get_resolver()
    names = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.pattern.regex.groupindex:
                continue
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names += plain_url_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            if pattern.pattern.regex.groupindex or pattern.name == "not-found":
                continue
            names.append(namespace + pattern.name)
    return names


def test_the_policy_allows_this_server_only(client, db):
    response = client.get(reverse("login"))
    policy = directives(response["Content-Security-Policy"])
    assert policy == {**POLICY, "font-src": "'self'", "connect-src": "'self'"}
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "nonce" not in response["Content-Security-Policy"]


@pytest.mark.parametrize("who", ["anonymous", "county", "township_officer_a", "finance"])
def test_every_page_carries_the_policy(client, cast, who):
    if who != "anonymous":
        client.force_login(getattr(cast, who))
    names = plain_url_names()
    assert len(names) > 20
    missing = []
    for name in names:
        response = client.get(reverse(name))
        if "Content-Security-Policy" not in response:
            missing.append((name, response.status_code))
    assert missing == []


def test_error_pages_and_the_api_carry_it_too(client, cast):
    client.force_login(cast.county)
    for url in ["/no-such-page/", "/api/v1/loans/", "/api/v1/no-such-endpoint/"]:
        response = client.get(url)
        assert response.status_code in {401, 404}
        assert directives(response["Content-Security-Policy"])["default-src"] == "'self'"


def test_the_api_reference_page_marks_its_inline_blocks_with_the_nonce(client, db):
    response = client.get(reverse("api:docs"))
    assert response.status_code == 200
    policy = directives(response["Content-Security-Policy"])
    nonce = re.fullmatch(r"'self' 'nonce-([A-Za-z0-9+/=]+)'", policy["script-src"]).group(1)
    assert policy["style-src"] == f"'self' 'nonce-{nonce}'"
    html = response.content.decode()
    inline = re.findall(r"<(script|style)(?![^>]*\bsrc=)([^>]*)>", html)
    assert {tag for tag, _attributes in inline} == {"script", "style"}
    for _tag, attributes in inline:
        assert f'nonce="{nonce}"' in attributes
    # A fresh nonce for every response.
    again = directives(client.get(reverse("api:docs"))["Content-Security-Policy"])
    assert nonce not in again["script-src"]


# The templates ------------------------------------------------------------------


INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
STYLE_BLOCK = re.compile(r"<style\b[^>]*>", re.IGNORECASE)
HANDLER = re.compile(r"""\son[a-z]+\s*=""", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"""\sstyle\s*=""", re.IGNORECASE)
JAVASCRIPT_URL = re.compile(r"""(href|src|action)\s*=\s*["']?\s*javascript:""", re.IGNORECASE)


def offences(text: str) -> list[str]:
    found = []
    for tag in INLINE_SCRIPT.findall(text) + STYLE_BLOCK.findall(text):
        if NONCE_ATTRIBUTE not in tag:
            found.append(tag)
    found += [m.group(0).strip() for m in HANDLER.finditer(text)]
    found += [m.group(0).strip() for m in STYLE_ATTRIBUTE.finditer(text)]
    found += [m.group(0) for m in JAVASCRIPT_URL.finditer(text)]
    return found


def test_the_scan_finds_what_the_policy_refuses():
    assert offences('<script>alert(1)</script><script src="/static/js/a.js"></script>') == [
        "<script>"
    ]
    assert offences('<input onfocus="this.select()">') == ["onfocus="]
    assert offences('<button type="submit" ONCLICK = "go()">') == ["ONCLICK ="]
    assert offences('<span style="width: 3%">') == ["style="]
    assert offences("<style>\n.a { color: red }\n</style>") == ["<style>"]
    assert offences('<a href="javascript:void(0)">') == ['href="javascript:']
    assert offences('<script nonce="{{ request.csp_nonce }}">') == []
    assert offences('<p data-online="yes" class="button">') == []


def test_no_page_template_holds_inline_script_or_style():
    assert len(page_templates()) > 50
    found = {
        path.relative_to(TEMPLATES).as_posix(): offences(path.read_text(encoding="utf-8"))
        for path in page_templates()
    }
    assert {name: tags for name, tags in found.items() if tags} == {}


@pytest.mark.parametrize("who", ["county", "finance", "auditor"])
def test_no_rendered_page_holds_inline_script_or_style(client, cast, who):
    # Catches what templates do not show: HTML written by Python code.
    client.force_login(getattr(cast, who))
    found = {}
    for name in plain_url_names():
        if name.startswith("admin") or name == "api:docs":
            continue
        response = client.get(reverse(name))
        if "text/html" in response.get("Content-Type", ""):
            tags = offences(response.content.decode())
            if tags:
                found[name] = tags
    assert found == {}


def test_the_charts_are_drawn_without_inline_style():
    from common.charts import bar_chart, share_chart

    drawings = [
        bar_chart(title="各乡镇", labels=["联珠镇", "通关镇"], series=[("补贴", [3, 2])]),
        share_chart(title="构成", labels=["种植", "养殖"], values=[1, 2]),
    ]
    for svg in drawings:
        assert "<svg" in svg and "<path" in svg
        assert offences(svg) == []
        # The colours are still there, as attributes.
        assert 'fill="#2f6f4e"' in svg


def test_the_pdf_templates_exist_and_are_left_out_on_purpose():
    for name in PDF_TEMPLATES:
        assert (TEMPLATES / name).exists()
    assert "reports/county.html" not in {
        p.relative_to(TEMPLATES).as_posix() for p in page_templates()
    }

"""CSRF on every form: each POST form in a page template carries
``{% csrf_token %}``, each rendered POST form carries the token, and no
view outside the API (key authentication, no session) is exempt."""

import re

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.conftest import PASSWORD
from tests.security.test_csp import page_templates, plain_url_names

FORM = re.compile(r"<form\b(?P<attributes>[^>]*)>(?P<body>.*?)</form>", re.S | re.I)
POST = re.compile(r"""\bmethod\s*=\s*["']?post\b""", re.I)
INCLUDE = re.compile(r"""{%\s*include\s+["']([^"']+)["']""")


def post_forms_without_token(text: str, read_template) -> list[str]:
    """The opening tags of POST forms with no csrf_token in their body (or in
    a template their body includes)."""
    missing = []
    for form in FORM.finditer(text):
        if not POST.search(form.group("attributes")):
            continue
        body = form.group("body")
        bodies = [body] + [read_template(name) for name in INCLUDE.findall(body)]
        if not any("{% csrf_token %}" in part for part in bodies):
            missing.append(form.group(0).split(">", 1)[0] + ">")
    return missing


def test_the_scan_finds_a_post_form_without_the_token():
    def no_include(name):
        return ""

    assert post_forms_without_token('<form method="post"><button></button></form>', no_include)
    assert post_forms_without_token("<form\n  METHOD='POST'\n  action='/x/'>\n</form>", no_include)
    assert not post_forms_without_token(
        '<form method="post">{% csrf_token %}</form><form method="get"></form>', no_include
    )
    assert not post_forms_without_token(
        '<form method="post">{% include "_f.html" %}</form>',
        lambda name: "{% csrf_token %}" if name == "_f.html" else "",
    )


def test_every_post_form_in_the_templates_carries_the_token():
    from tests.security.test_csp import TEMPLATES

    def read_template(name):
        path = TEMPLATES / name
        return path.read_text(encoding="utf-8") if path.exists() else ""

    post_forms = 0
    missing = {}
    for path in page_templates():
        text = path.read_text(encoding="utf-8")
        post_forms += sum(1 for f in FORM.finditer(text) if POST.search(f.group("attributes")))
        found = post_forms_without_token(text, read_template)
        if found:
            missing[path.relative_to(TEMPLATES).as_posix()] = found
    assert post_forms > 30
    assert missing == {}


@pytest.mark.parametrize("who", ["county", "township_officer_a", "finance", "auditor"])
def test_every_rendered_post_form_carries_the_token(client, cast, who):
    client.force_login(getattr(cast, who))
    checked = 0
    for name in plain_url_names():
        if name.startswith(("api", "admin")):
            continue
        response = client.get(reverse(name))
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        html = response.content.decode()
        for form in FORM.finditer(html):
            if POST.search(form.group("attributes")):
                checked += 1
                assert 'name="csrfmiddlewaretoken"' in form.group("body"), (name, form.group(0))
    # At least the log-out and language forms of every page.
    assert checked > 10


def exempt_views(resolver: URLResolver | None = None, prefix: str = "") -> list[str]:
    resolver = resolver or get_resolver()
    found = []
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += exempt_views(pattern, route)
        elif isinstance(pattern, URLPattern) and getattr(pattern.callback, "csrf_exempt", False):
            found.append(route)
    return found


def test_outside_the_api_an_exempt_view_checks_the_token_itself(cast):
    # The workbook upload is exempt from the middleware so that it can put
    # its size limit in place before the body is read, then checks the
    # token itself (Django's pattern for upload handlers).
    exempt = exempt_views()
    assert any(route.startswith("api/v1/") for route in exempt)
    outside = [route for route in exempt if not route.startswith("api/v1/")]
    assert outside == ["registry/transfer/import/"]
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.county)
    for route in outside:
        assert client.get("/" + route).status_code == 200
        assert client.post("/" + route, {}).status_code == 403


def test_the_api_does_not_accept_a_session_so_needs_no_csrf(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.coop)
    response = client.post("/api/v1/repayments/", [], content_type="application/json")
    assert response.status_code == 401


def test_a_post_without_the_token_is_refused(cast):
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        reverse("login"), {"username": cast.county.username, "password": PASSWORD}
    )
    assert response.status_code == 403
    client.force_login(cast.county)
    assert client.post(reverse("logout")).status_code == 403
    assert client.get(reverse("home")).status_code == 200

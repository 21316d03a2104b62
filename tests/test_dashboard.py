"""The dashboard page as served: what it links, what it is given, what it weighs.

What it shows in a browser is tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders

from analysis.percentiles import DEFAULT_PERCENTILES
from dashboard.views import WINDOWS
from ingestion.parser import DIMENSIONS, POST_TYPES
from tests.conftest import ROOT

MAX_PAGE_BYTES = 300 * 1024  # HTML + JS + CSS, uncompressed (issue 13)
VENDORED_UPLOT = ROOT / "dashboard/static/dashboard/vendor/uplot"


class _Assets(HTMLParser):
    """Collect the page's script sources, stylesheets and links."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "script" and "src" in attributes:
            self.scripts.append(attributes["src"])
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.styles.append(attributes["href"])
        elif tag == "a":
            self.links.append(attributes["href"])


@pytest.fixture
def page(client) -> tuple[str, _Assets]:
    response = client.get("/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = _Assets()
    assets.feed(html)
    return html, assets


def test_it_links_the_admin_the_api_docs_and_the_metrics(page):
    _, assets = page
    assert {"/admin/", "/api/docs/", "/metrics"} <= set(assets.links)


def test_every_asset_is_served_by_the_app_so_it_works_offline(page):
    html, assets = page
    assert assets.scripts and assets.styles
    for url in assets.scripts + assets.styles:
        assert url.startswith("/static/dashboard/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)


def test_the_page_weighs_at_most_300_kb(page):
    html, assets = page
    files = [finders.find(url.removeprefix("/static/")) for url in assets.scripts + assets.styles]
    weight = len(html.encode()) + sum(Path(path).stat().st_size for path in files)
    assert weight <= MAX_PAGE_BYTES, f"{weight} bytes"


def test_the_choices_come_from_their_one_definition(page):
    html, _ = page
    config = json.loads(re.search(r'id="dashboard-config"[^>]*>(.*?)</script>', html).group(1))
    assert config["dimensions"] == list(DIMENSIONS)
    assert config["postTypes"] == list(POST_TYPES)
    assert config["percentiles"] == [p.name.removeprefix("p") for p in DEFAULT_PERCENTILES]
    assert [(w["duration"], w["step"]) for w in config["windows"]] == list(WINDOWS)
    assert config["liveSeconds"] == {"min": 5, "max": 60}


def test_the_vendored_chart_library_keeps_its_licence_and_pinned_version():
    assert "MIT License" in (VENDORED_UPLOT / "LICENSE").read_text()
    assert (VENDORED_UPLOT / "VERSION").read_text().startswith("uPlot 1.6.32,")
    assert "(v1.6.32)" in (VENDORED_UPLOT / "uPlot.iife.min.js").read_text()[:100]

"""The HTML report in headless Chromium: no console errors, no network, links resolve.

Chromium is Debian's (``make test`` installs it when missing); Playwright drives it through
``executable_path`` and never downloads a browser of its own. Screenshots are saved under
``test-artifacts/`` for people to look at.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed "
                       "(make test installs it with apt-get when run as root)"),
]
ARTIFACTS = REPO / "test-artifacts"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.ids: set[str] = set()
        self.srcs: list[str] = []
        self.imgs_without_alt = 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.hrefs.append(attrs["href"])
        if tag in ("img", "script", "link") and (attrs.get("src") or attrs.get("href")):
            self.srcs.append(attrs.get("src") or attrs.get("href"))
        if tag == "img" and not attrs.get("alt"):
            self.imgs_without_alt += 1


def _check_pages(report: Path, label: str) -> None:
    from playwright.sync_api import sync_playwright

    pages = sorted(report.glob("*.html"))
    assert (report / "index.html") in pages
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        for path in pages:
            page = browser.new_page()
            errors, requests = [], []
            page.on("console", lambda m, errors=errors: m.type == "error" and errors.append(m.text))
            page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
            page.on("request", lambda r, requests=requests: requests.append(r.url))
            page.goto(path.resolve().as_uri())
            page.wait_for_load_state("load")
            assert not errors, f"{path.name}: console errors {errors}"
            remote = [u for u in requests if not u.startswith(("file:", "data:"))]
            assert not remote, f"{path.name}: network requests {remote}"
            if path.name == "index.html" or path.name.startswith("cohort_"):
                page.screenshot(path=str(ARTIFACTS / f"{label}_{path.stem}.png"), full_page=False)
            # sorting and filtering work without errors
            if page.locator("table.data").count():
                page.locator("table.data th").first.click()
                box = page.locator("input.filter").first
                box.fill("zzz-no-such-row")
                visible = page.locator("table.data").first.locator("tbody tr:visible").count()
                assert visible == 0
            page.close()
        browser.close()
    for path in pages:
        parser = _Links()
        parser.feed(path.read_text(encoding="utf-8"))
        assert parser.imgs_without_alt == 0, path.name
        for src in parser.srcs:
            assert src.startswith("data:"), f"{path.name} loads {src}"
        for href in parser.hrefs:
            target, _, anchor = href.partition("#")
            if re.match(r"^[a-z]+:", target):
                raise AssertionError(f"{path.name} links outside the report: {href}")
            resolved = (path.parent / target) if target else path
            assert resolved.exists(), f"{path.name}: broken link {href}"
            if anchor and resolved.suffix == ".html":
                ids = _Links()
                ids.feed(resolved.read_text(encoding="utf-8"))
                assert anchor in ids.ids, f"{path.name}: missing anchor {href}"


def test_demo_report_in_browser(demo_run):
    _check_pages(demo_run / "results/demo/report", "demo")


def test_real_report_in_browser(real_run):
    report = real_run / "results/report"
    assert (report / "index.html").stat().st_size <= 5_000_000
    _check_pages(report, "real")

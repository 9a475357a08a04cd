"""The HTML report in headless Chromium, looked at as a reviewer would.

No console errors, no network, links resolve; the evidence table shows the numbers of
``tables/evidence.tsv``; filtering and sorting change what is shown; nothing is wider than a
1280 px window; every image has a size. Chromium is Debian's (``make test`` installs it when
missing); Playwright drives it through ``executable_path`` and never downloads a browser of its
own. Screenshots of the index, a cohort page and a signature page are saved under
``test-artifacts/`` (the path is printed) for people to look at.
"""

from __future__ import annotations

import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.pipeline,
    pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed "
                       "(make test installs it with apt-get when run as root)"),
]
ARTIFACTS = REPO / "test-artifacts"
WIDTH = 1280
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

# elements whose right edge passes the window and that no scrolling box contains
OVERFLOWING = """() => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const limit = document.documentElement.clientWidth + 1;
  const clipped = el => {
    for (let a = el.parentElement; a; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if (o === 'auto' || o === 'scroll' || o === 'hidden') return true;
    }
    return false;
  };
  return Array.from(document.body.querySelectorAll('*'))
    .filter(el => el.getBoundingClientRect().right > limit && !clipped(el))
    .map(el => el.tagName + (el.id ? '#' + el.id : '') + ' ' + Math.round(el.getBoundingClientRect().right));
}"""

IMAGES = """async () => {
  const imgs = Array.from(document.images);
  imgs.forEach(i => { i.loading = 'eager'; });
  await Promise.all(imgs.map(i => i.decode().catch(() => null)));
  return imgs.map(i => [i.getAttribute('src'), i.naturalWidth, i.naturalHeight]);
}"""


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


def _browser(p):
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS)


def _open(browser, path: Path):
    page = browser.new_page(viewport={"width": WIDTH, "height": 900})
    page.goto(path.resolve().as_uri())
    page.wait_for_load_state("load")
    return page


def _check_links(path: Path) -> None:
    parser = _Links()
    parser.feed(path.read_text(encoding="utf-8"))
    assert parser.imgs_without_alt == 0, path.name
    for src in parser.srcs:  # figures are files inside the report folder
        assert not re.match(r"^[a-z]+:", src), f"{path.name} loads {src}"
        assert (path.parent / src).is_file(), f"{path.name}: missing {src}"
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


def _check_pages(report: Path) -> None:
    """Every page: no console error, no network request, links and figure files resolve."""
    from playwright.sync_api import sync_playwright

    pages = sorted(report.glob("*.html"))
    assert (report / "index.html") in pages
    with sync_playwright() as p:
        browser = _browser(p)
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
            page.close()
        browser.close()
    for path in pages:
        _check_links(path)


def _looked_at(report: Path) -> list[Path]:
    """Index, the first cohort page and the primary (or first) signature page."""
    cohort = sorted(report.glob("cohort_*.html"))[0]
    signatures = sorted(report.glob("signature_*.html"))
    primary = [s for s in signatures if "IL6_LOOP" in s.name] or signatures
    return [report / "index.html", cohort, primary[0]]


def _layout_and_images(report: Path, label: str) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = _browser(p)
        for path in _looked_at(report):
            page = _open(browser, path)
            images = page.evaluate(IMAGES)  # loads the lazy images too, before the screenshot
            shot = ARTIFACTS / f"{label}_{path.stem}.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            assert images, f"{path.name} shows no figure"
            empty = [src for src, w, h in images if not (w > 0 and h > 0)]
            assert not empty, f"{path.name}: images without a size {empty}"
            wide = page.evaluate(OVERFLOWING)
            assert not wide, f"{path.name}: wider than {WIDTH} px: {wide[:10]}"
            assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
            page.close()
        browser.close()


def _hypothesis_signatures(results: Path) -> list[str]:
    catalogue = pd.read_csv(results / "signatures/catalogue.tsv", sep="\t")
    return sorted(catalogue.loc[catalogue["role"].isin(["hypothesis", "demo"]), "signature"])


def _evidence_matches_tsv(results: Path) -> None:
    from playwright.sync_api import sync_playwright

    report = results / "report"
    tsv = pd.read_csv(report / "tables/evidence.tsv", sep="\t", keep_default_na=False)
    hyp = tsv[tsv["block"] == "hypothesis"]
    assert sorted(hyp["signature"].unique()) == _hypothesis_signatures(results)
    with sync_playwright() as p:
        browser = _browser(p)
        page = _open(browser, report / "index.html")
        table = page.locator("#evidence-table")
        block = table.locator("tbody").first
        shown = block.locator("tr[data-signature]").evaluate_all(
            "rows => rows.map(r => r.dataset.signature)")
        assert sorted(shown) == _hypothesis_signatures(results)
        for row in hyp.to_dict("records"):
            cell = block.locator(f'tr[data-signature="{row["signature"]}"] '
                                 f'td[data-column="{row["column"]}"]')
            assert cell.get_attribute("data-verdict") == row["verdict"]
            assert cell.locator(".nums").inner_text() == row["value"]
            number = re.match(r"[\d.]+", row["value"])
            if row["estimate"] != "NA" and row["column"] not in ("null", "methods"):
                # the first number shown is the estimate (3 significant digits)
                assert float(number.group()) == pytest.approx(float(row["estimate"]), rel=5e-3)
        browser.close()


def _filter_and_sort(report: Path) -> None:
    from playwright.sync_api import sync_playwright

    cohorts = pd.read_csv(report / "tables/cohorts.tsv", sep="\t")
    with sync_playwright() as p:
        browser = _browser(p)
        page = _open(browser, report / "index.html")
        rows = page.locator("#cohort-table tbody tr")
        before = rows.locator("visible=true").count()
        assert before == len(cohorts) > 1
        target = cohorts["cohort"].iloc[-1]
        page.locator('input[data-table="cohort-table"]').fill(target)
        visible = rows.locator("visible=true")
        assert 0 < visible.count() < before
        assert target in visible.first.inner_text()
        page.locator('input[data-table="cohort-table"]').fill("")
        assert rows.locator("visible=true").count() == before
        header = page.locator("#cohort-table th", has_text=re.compile(r"^n$"))
        first_cell = page.locator("#cohort-table tbody tr").first.locator("td").first
        header.click()  # ascending
        assert first_cell.inner_text() == cohorts.sort_values("n", kind="stable")["cohort"].iloc[0]
        header.click()  # descending
        assert first_cell.inner_text() == cohorts.sort_values("n", ascending=False,
                                                              kind="stable")["cohort"].iloc[0]
        browser.close()


def test_demo_report_in_browser(demo_run):
    _check_pages(demo_run / "results/demo/report")


def test_demo_report_layout_and_images(demo_run):
    _layout_and_images(demo_run / "results/demo/report", "demo")


def test_demo_evidence_table_shows_the_tsv(demo_run):
    _evidence_matches_tsv(demo_run / "results/demo")


def test_demo_tables_filter_and_sort(demo_run):
    _filter_and_sort(demo_run / "results/demo/report")


def test_real_report_in_browser(real_run):
    report = real_run / "results/report"
    assert (report / "index.html").stat().st_size <= 1_000_000  # figures are files
    _check_pages(report)
    _layout_and_images(report, "real")
    _evidence_matches_tsv(real_run / "results")

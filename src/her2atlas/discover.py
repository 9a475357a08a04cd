"""``her2atlas discover``: GEO series that could become cohorts, found with NCBI E-utilities.

esearch (``db=gds``) finds series for a query; esummary (in batches) gives each series' sample
count, platforms and title. Series already named by a manifest in ``workflow/cohorts/`` are left
out; each new one gets a ready ``her2atlas draft`` command.

NCBI's rules are kept: at most 3 requests a second without an API key and 10 with one
(``NCBI_API_KEY``, sent as ``api_key``), and every request names ``tool`` (and ``email`` when
given). A network failure stops with one message; nothing is retried except one wait after
HTTP 429 / 5xx.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .errors import Her2AtlasError

EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
DEFAULT_TERM = ('breast[All Fields] AND (HER2[All Fields] OR ERBB2[All Fields] OR '
                'trastuzumab[All Fields]) AND "expression profiling by array"[DataSet Type] '
                'AND gse[Entry Type] AND "Homo sapiens"[Organism]')
OFFLINE_FIX = ("discover needs the internet (or --eutils-url pointing at a reachable E-utilities "
               "server); offline, draft a cohort from local files: her2atlas draft "
               "--characteristics TABLE, or GSEnnn with --data-root MIRROR")


class RateLimiter:
    """Space requests at least ``1 / per_second`` apart, with an injectable clock and sleep."""

    def __init__(self, per_second: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 1.0 / per_second
        self.clock, self.sleep = clock, sleep
        self._next = float("-inf")

    def wait(self) -> None:
        """Sleep until the next request is allowed, then book the slot after it."""
        now = self.clock()
        if now < self._next:
            self.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


@dataclass
class Eutils:
    """A small E-utilities client (JSON answers) that keeps NCBI's rate and naming rules."""

    base_url: str = EUTILS
    api_key: str | None = None
    email: str | None = None
    tool: str = "her2atlas"
    timeout: float = 30.0
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    opener: Callable = urllib.request.urlopen
    limiter: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.limiter = RateLimiter(10.0 if self.api_key else 3.0, clock=self.clock,
                                   sleep=self.sleep)

    def _url(self, endpoint: str, params: dict) -> str:
        query = {**params, "retmode": "json", "tool": self.tool}
        if self.email:
            query["email"] = self.email
        if self.api_key:
            query["api_key"] = self.api_key
        return f"{self.base_url.rstrip('/')}/{endpoint}?{urllib.parse.urlencode(query)}"

    def get(self, endpoint: str, params: dict) -> dict:
        """GET ``endpoint`` and parse its JSON; one retry after HTTP 429/5xx, none otherwise."""
        url = self._url(endpoint, params)
        for attempt in (1, 2):
            self.limiter.wait()
            try:
                with self.opener(url, timeout=self.timeout) as response:
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                if attempt == 1 and (exc.code == 429 or exc.code >= 500):
                    self.sleep(_retry_after(exc))
                    continue
                raise Her2AtlasError(f"E-utilities answered HTTP {exc.code} {exc.reason}",
                                     field=endpoint, fix=_http_fix(exc.code)) from None
            except (urllib.error.URLError, OSError) as exc:
                raise Her2AtlasError(_network_message(self.base_url, exc), field=endpoint,
                                     fix=OFFLINE_FIX) from None
            except json.JSONDecodeError as exc:
                raise Her2AtlasError(f"E-utilities answer is not JSON ({exc})", field=endpoint,
                                     fix="check --eutils-url") from None
        raise AssertionError("unreachable")  # pragma: no cover


def _retry_after(exc: urllib.error.HTTPError) -> float:
    """Seconds to wait from a Retry-After header (1 s if absent or a date; at most 60 s)."""
    try:
        return min(60.0, max(0.0, float((exc.headers or {}).get("Retry-After") or 1.0)))
    except ValueError:
        return 1.0


def _http_fix(code: int) -> str:
    if code == 429:
        return "too many requests: wait a minute, or set NCBI_API_KEY for 10 requests a second"
    if code >= 500:
        return "NCBI is having trouble: try again later"
    return "check --term and --eutils-url"


def _network_message(base_url: str, exc: Exception) -> str:
    reason = getattr(exc, "reason", exc)
    host = urllib.parse.urlsplit(base_url).netloc
    if isinstance(reason, socket.gaierror):
        return f"cannot resolve {host} (DNS lookup failed: offline?)"
    if isinstance(reason, TimeoutError):
        return f"{host} did not answer in time"
    return f"cannot reach {host} ({reason})"


@dataclass
class Series:
    """One GEO series as esummary describes it."""

    accession: str
    samples: int
    platforms: list[str]
    title: str
    pubmed: list[str]

    def draft_command(self) -> str:
        """The command that drafts this series' manifest."""
        return (f"her2atlas draft {self.accession} --out "
                f"workflow/cohorts/{self.accession.lower()}.yaml")


def search(client: Eutils, term: str, *, limit: int) -> tuple[list[str], int]:
    """esearch ``db=gds``: (uids, total count) for ``term``, at most ``limit`` uids."""
    answer = client.get("esearch.fcgi", {"db": "gds", "term": term, "retmax": limit})
    result = answer.get("esearchresult", {})
    if "ERROR" in result or "error" in answer:
        raise Her2AtlasError(f"esearch error: {result.get('ERROR') or answer.get('error')}",
                             field="--term", fix="check the query syntax")
    return [str(u) for u in result.get("idlist", [])], int(result.get("count", 0))


def _series(record: dict) -> Series | None:
    accession = str(record.get("accession", ""))
    if not accession.startswith("GSE"):
        return None
    gpl = str(record.get("gpl", ""))
    platforms = [f"GPL{p}" for p in re.split(r"[;,\s]+", gpl) if p]
    return Series(accession, int(record.get("n_samples") or 0), platforms,
                  str(record.get("title", "")).strip(),
                  [str(p) for p in record.get("pubmedids", [])])


def summaries(client: Eutils, uids: list[str], *, batch: int = 100) -> list[Series]:
    """esummary in batches of ``batch`` uids; GDS (curated dataset) records are skipped."""
    out = []
    for start in range(0, len(uids), batch):
        chunk = uids[start:start + batch]
        answer = client.get("esummary.fcgi", {"db": "gds", "id": ",".join(chunk)})
        result = answer.get("result", {})
        for uid in result.get("uids", chunk):
            series = _series(result.get(str(uid), {}))
            if series is not None:
                out.append(series)
    return out


def known_series(manifests_dir: Path) -> dict[str, str]:
    """GSE accession → manifest file, for every GEO series a manifest names."""
    known = {}
    for path in sorted(manifests_dir.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        names = [str((doc.get("geo") or {}).get("series", ""))]
        names += re.findall(r"GSE\d+", str((doc.get("source") or {}).get("accession", "")))
        for name in names:
            if name:
                known.setdefault(name, path.name)
    return known


def discover(client: Eutils, term: str, *, manifests_dir: Path, limit: int = 200,
             batch: int = 100) -> tuple[list[Series], dict[str, str], int]:
    """(new series, already-known series → manifest, total hits) for ``term``."""
    uids, total = search(client, term, limit=limit)
    found = summaries(client, uids, batch=batch)
    known = known_series(manifests_dir)
    new = [s for s in found if s.accession not in known]
    seen = {s.accession: known[s.accession] for s in found if s.accession in known}
    new.sort(key=lambda s: (-s.samples, s.accession))
    return new, seen, total


def format_table(series: list[Series]) -> str:
    """Aligned text table (accession, samples, platforms, title) with a draft command each."""
    if not series:
        return "no new series"
    rows = [("accession", "samples", "platforms", "title")]
    rows += [(s.accession, str(s.samples), ",".join(s.platforms), s.title) for s in series]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = []
    for i, row in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(row[:3], widths, strict=True))
                     + "  " + row[3])
        if i:
            lines.append(f"    {series[i - 1].draft_command()}")
    return "\n".join(lines)


def write_tsv(series: list[Series], path: Path) -> None:
    """The table as TSV, one row per series (platforms and PubMed ids ';'-joined)."""
    lines = ["accession\tsamples\tplatforms\ttitle\tpubmed\tdraft_command"]
    lines += [f"{s.accession}\t{s.samples}\t{';'.join(s.platforms)}\t"
              f"{s.title.replace(chr(9), ' ')}\t{';'.join(s.pubmed)}\t{s.draft_command()}"
              for s in series]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def add_parser(sub) -> None:
    """Register ``her2atlas discover`` on the CLI's subparsers."""
    p = sub.add_parser("discover", help="list GEO series not yet in workflow/cohorts/")
    p.add_argument("--term", default=DEFAULT_TERM, help="esearch query (db=gds); default: "
                   "breast AND (HER2 OR ERBB2 OR trastuzumab), expression profiling by array, "
                   "human series")
    p.add_argument("--max", type=int, default=200, help="series to summarise (default 200)")
    p.add_argument("--batch", type=int, default=100, help="ids per esummary request")
    p.add_argument("--manifests-dir", default="workflow/cohorts")
    p.add_argument("--eutils-url", default=EUTILS, help="E-utilities base URL")
    p.add_argument("--email", default=os.environ.get("NCBI_EMAIL"),
                   help="sent as email= (NCBI asks for it; default $NCBI_EMAIL)")
    p.add_argument("--tsv", help="also write the table as TSV")


def run(args) -> int:
    """Run ``her2atlas discover`` and print the table."""
    client = Eutils(base_url=args.eutils_url, api_key=os.environ.get("NCBI_API_KEY") or None,
                    email=args.email)
    new, seen, total = discover(client, args.term, manifests_dir=Path(args.manifests_dir),
                                limit=args.max, batch=args.batch)
    print(format_table(new))
    shown = min(total, args.max)
    print(f"\n{total} series match; {shown} summarised; {len(new)} new; {len(seen)} already in "
          f"{args.manifests_dir}: " + (", ".join(f"{a} ({m})" for a, m in sorted(seen.items()))
                                       or "none"))
    if total > args.max:
        print(f"(only the first {args.max}: raise --max to see more)")
    if args.tsv:
        write_tsv(new, Path(args.tsv))
    return 0

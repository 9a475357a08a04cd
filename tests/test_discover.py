"""`her2atlas discover` against a local server answering E-utilities-shaped JSON (127.0.0.1)."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import urllib.error
import urllib.parse

import pytest

from her2atlas import discover
from her2atlas.cli import main
from her2atlas.errors import Her2AtlasError

from conftest import REPO

RECORDS = {
    "200050948": {"accession": "GSE50948", "entrytype": "GSE", "n_samples": 156, "gpl": "570",
                  "title": "Expression Data from transNOAH breast cancer trial"},
    "200000111": {"accession": "GSE111", "entrytype": "GSE", "n_samples": 40, "gpl": "570",
                  "title": "HER2+ tumours before trastuzumab", "pubmedids": ["123"]},
    "200000222": {"accession": "GSE222", "entrytype": "GSE", "n_samples": 120, "gpl": "96;97",
                  "title": "ERBB2 breast cancer, two platforms"},
    "5": {"accession": "GDS5", "entrytype": "GDS", "n_samples": 10, "gpl": "96",
          "title": "a curated GDS record"},
    "200020194": {"accession": "GSE20194", "entrytype": "GSE", "n_samples": 278, "gpl": "96",
                  "title": "MAQC-II breast"},
}


class EutilsStandIn:
    """E-utilities esearch/esummary stand-in; records every query; optional status plan."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        self.queries: list[tuple[str, dict]] = []
        self.statuses = list(statuses or [])
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802 - http.server API
                parts = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(parts.query))
                outer.queries.append((parts.path, query))
                if outer.statuses:
                    self.send_response(outer.statuses.pop(0))
                    self.send_header("Retry-After", "2")
                    self.end_headers()
                    return
                body = json.dumps(outer.answer(parts.path, query)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def answer(self, path: str, query: dict) -> dict:
        ids = list(RECORDS)
        if path.endswith("esearch.fcgi"):
            return {"esearchresult": {"count": str(len(ids) + 10), "retmax": query["retmax"],
                                      "idlist": ids[:int(query["retmax"])]}}
        wanted = query["id"].split(",")
        return {"header": {"type": "esummary"},
                "result": {"uids": wanted, **{u: RECORDS[u] for u in wanted}}}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/entrez/eutils"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


class FakeClock:
    """A clock that only moves when the code sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _client(url: str, clock: FakeClock, **kw) -> discover.Eutils:
    return discover.Eutils(base_url=url, clock=clock.time, sleep=clock.sleep, **kw)


def test_new_series_listed_with_counts_platforms_and_draft_commands(tmp_path):
    clock = FakeClock()
    with EutilsStandIn() as server:
        new, seen, total = discover.discover(_client(server.url, clock), "breast HER2",
                                             manifests_dir=REPO / "workflow/cohorts", limit=5,
                                             batch=2)
    assert total == 15
    assert [(s.accession, s.samples, s.platforms) for s in new] == [
        ("GSE222", 120, ["GPL96", "GPL97"]), ("GSE111", 40, ["GPL570"])]
    assert seen == {"GSE50948": "gse50948_noah.yaml", "GSE20194": "gse20194.yaml"}
    paths = [p for p, _ in server.queries]
    assert paths == ["/entrez/eutils/esearch.fcgi"] + ["/entrez/eutils/esummary.fcgi"] * 3
    search = server.queries[0][1]
    assert search == {"db": "gds", "term": "breast HER2", "retmax": "5", "retmode": "json",
                      "tool": "her2atlas"}
    assert [q["id"] for _, q in server.queries[1:]] == ["200050948,200000111",
                                                        "200000222,5", "200020194"]
    table = discover.format_table(new).splitlines()
    assert table == [
        "accession  samples  platforms    title",
        "GSE222     120      GPL96,GPL97  ERBB2 breast cancer, two platforms",
        "    her2atlas draft GSE222 --out workflow/cohorts/gse222.yaml",
        "GSE111     40       GPL570       HER2+ tumours before trastuzumab",
        "    her2atlas draft GSE111 --out workflow/cohorts/gse111.yaml",
    ]


def test_rate_without_key_is_three_per_second():
    clock = FakeClock()
    with EutilsStandIn() as server:
        client = _client(server.url, clock)
        for _ in range(4):
            client.get("esearch.fcgi", {"db": "gds", "term": "x", "retmax": 1})
    assert clock.sleeps == pytest.approx([1 / 3] * 3, abs=1e-12)
    assert all("api_key" not in q for _, q in server.queries)


def test_rate_with_api_key_is_ten_per_second_and_key_and_email_are_sent():
    clock = FakeClock()
    with EutilsStandIn() as server:
        client = _client(server.url, clock, api_key="KEY", email="me@example.org")
        for _ in range(3):
            client.get("esearch.fcgi", {"db": "gds", "term": "x", "retmax": 1})
    assert clock.sleeps == pytest.approx([0.1, 0.1], abs=1e-12)
    assert server.queries[0][1]["api_key"] == "KEY"
    assert server.queries[0][1]["email"] == "me@example.org"


def test_no_wait_when_requests_are_already_spaced():
    clock = FakeClock()
    limiter = discover.RateLimiter(3.0, clock=clock.time, sleep=clock.sleep)
    limiter.wait()
    clock.now += 0.5
    limiter.wait()
    clock.now += 0.1
    limiter.wait()
    assert clock.sleeps == pytest.approx([1 / 3 - 0.1], abs=1e-12)


def test_one_retry_after_429_then_a_clear_error():
    clock = FakeClock()
    with EutilsStandIn(statuses=[429]) as server:
        answer = _client(server.url, clock).get("esearch.fcgi", {"db": "gds", "term": "x",
                                                                 "retmax": 2})
    assert answer["esearchresult"]["idlist"] == ["200050948", "200000111"]
    assert clock.sleeps == [2.0]  # Retry-After
    with EutilsStandIn(statuses=[429, 429, 429]) as server:
        with pytest.raises(Her2AtlasError) as err:
            _client(server.url, FakeClock()).get("esearch.fcgi", {"db": "gds", "term": "x",
                                                                  "retmax": 2})
    assert len(server.queries) == 2
    assert "HTTP 429" in err.value.message
    assert "NCBI_API_KEY" in err.value.fix


def test_dns_failure_is_one_message_and_no_retry():
    calls = []

    def offline(url, timeout):
        calls.append(url)
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    clock = FakeClock()
    client = discover.Eutils(clock=clock.time, sleep=clock.sleep, opener=offline)
    with pytest.raises(Her2AtlasError) as err:
        discover.discover(client, "x", manifests_dir=REPO / "workflow/cohorts")
    assert len(calls) == 1 and clock.sleeps == []
    assert err.value.message == "cannot resolve eutils.ncbi.nlm.nih.gov (DNS lookup failed: offline?)"
    assert "her2atlas draft --characteristics TABLE" in err.value.fix


def test_cli_prints_the_table_and_uses_the_api_key_from_the_environment(tmp_path, capsys,
                                                                        monkeypatch):
    monkeypatch.setenv("NCBI_API_KEY", "ENVKEY")
    tsv = tmp_path / "new.tsv"
    with EutilsStandIn() as server:
        code = main(["discover", "--eutils-url", server.url, "--max", "5", "--manifests-dir",
                     str(REPO / "workflow/cohorts"), "--tsv", str(tsv), "--email", "a@b.org"])
    out = capsys.readouterr().out
    assert code == 0
    assert {q.get("api_key") for _, q in server.queries} == {"ENVKEY"}
    assert {q.get("email") for _, q in server.queries} == {"a@b.org"}
    assert ("15 series match; 5 summarised; 2 new; 2 already in "
            f"{REPO / 'workflow/cohorts'}: GSE20194 (gse20194.yaml), GSE50948 "
            "(gse50948_noah.yaml)") in out
    assert "(only the first 5: raise --max to see more)" in out
    assert tsv.read_text().splitlines()[1] == (
        "GSE222\t120\tGPL96;GPL97\tERBB2 breast cancer, two platforms\t\t"
        "her2atlas draft GSE222 --out workflow/cohorts/gse222.yaml")


def test_cli_unreachable_server_says_so_once(capsys):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    code = main(["discover", "--eutils-url", f"http://127.0.0.1:{port}/eutils"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"cannot reach 127.0.0.1:{port}" in err
    assert "discover needs the internet" in err
    assert err.count("error:") == 1

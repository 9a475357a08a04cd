"""The fetch layer: mirrors, downloads with faults, checksums, atomic writes, safe names."""

from __future__ import annotations

import gzip
import hashlib
import json

import pytest

from her2atlas import fetch
from her2atlas.errors import Her2AtlasError

from httpfixture import Server

BODY = gzip.compress(b"gene\tS1\nIL6\t1.0\n" * 2000, mtime=0)
SHA = hashlib.sha256(BODY).hexdigest()


@pytest.fixture(autouse=True)
def fast_retries(monkeypatch):
    """Keep backoff waits short in tests."""
    original = fetch.download

    def quick(url, dest, **kw):
        kw.setdefault("backoff", 0.01)
        kw.setdefault("timeout", 1.0)
        return original(url, dest, **kw)

    monkeypatch.setattr(fetch, "download", quick)


def _no_partial(directory):
    return not [p for p in directory.rglob("*") if p.name.endswith(".part")]


def test_mirror_is_used_and_checksum_recorded(tmp_path):
    mirror = tmp_path / "mirror" / "sub"
    mirror.mkdir(parents=True)
    (mirror / "x.tsv.gz").write_bytes(BODY)
    dest = tmp_path / "raw" / "c1"
    rec = fetch.fetch_file({"name": "x.tsv.gz", "path": "sub/x.tsv.gz", "sha256": SHA}, dest,
                           data_roots=[tmp_path / "nowhere", tmp_path / "mirror"])
    assert rec.sha256 == SHA and rec.source.endswith("x.tsv.gz")
    record = json.loads((dest / "checksums.json").read_text())
    assert record["x.tsv.gz"]["sha256"] == SHA
    # a later run reads the cache and verifies the recorded checksum
    again = fetch.fetch_file({"name": "x.tsv.gz", "path": "sub/x.tsv.gz"}, dest, data_roots=[])
    assert again.source == "cache"
    (dest / "x.tsv.gz").write_bytes(b"tampered")
    with pytest.raises(Her2AtlasError, match="checksum mismatch"):
        fetch.fetch_file({"name": "x.tsv.gz", "path": "sub/x.tsv.gz"}, dest, data_roots=[])


def test_download_retries_5xx_then_succeeds(tmp_path):
    with Server() as server:
        route = server.add("/f.gz", BODY, ["status:503", "status:500", "ok"])
        rec = fetch.fetch_file({"name": "f.gz", "url": server.url + "/f.gz", "sha256": SHA},
                               tmp_path, data_roots=[])
    assert rec.sha256 == SHA and route.requests == 3
    assert _no_partial(tmp_path)


def test_connection_reset_mid_body_resumes(tmp_path):
    with Server() as server:
        route = server.add("/f.gz", BODY, ["reset", "ok"])
        fetch.fetch_file({"name": "f.gz", "url": server.url + "/f.gz", "sha256": SHA}, tmp_path,
                         data_roots=[])
    assert (tmp_path / "f.gz").read_bytes() == BODY and route.requests == 2
    assert _no_partial(tmp_path)


def test_404_fails_at_once_without_partial_file(tmp_path):
    with Server() as server:
        with pytest.raises(Her2AtlasError, match="HTTP 404"):
            fetch.fetch_file({"name": "f.gz", "url": server.url + "/missing.gz"}, tmp_path,
                             data_roots=[])
    assert not (tmp_path / "f.gz").exists() and _no_partial(tmp_path)


def test_truncated_gzip_is_rejected(tmp_path):
    with Server() as server:
        server.add("/t.gz", BODY[: len(BODY) // 2])
        with pytest.raises(Her2AtlasError, match="truncated or corrupt"):
            fetch.fetch_file({"name": "t.gz", "url": server.url + "/t.gz"}, tmp_path, data_roots=[])
    assert not (tmp_path / "t.gz").exists() and _no_partial(tmp_path)


def test_wrong_checksum_removes_download(tmp_path):
    with Server() as server:
        server.add("/f.gz", BODY)
        with pytest.raises(Her2AtlasError, match="checksum mismatch"):
            fetch.fetch_file({"name": "f.gz", "url": server.url + "/f.gz", "sha256": "0" * 64},
                             tmp_path, data_roots=[])
    assert not (tmp_path / "f.gz").exists() and _no_partial(tmp_path)


def test_stalled_server_times_out_and_gives_up(tmp_path):
    with Server() as server:
        server.add("/s.gz", BODY, ["stall"])
        with pytest.raises(Her2AtlasError, match="after 2 attempts"):
            fetch.download(server.url + "/s.gz", tmp_path / "s.gz", retries=1, timeout=0.5,
                           progress=False)
    assert not (tmp_path / "s.gz").exists() and _no_partial(tmp_path)


@pytest.mark.parametrize("name", ["../escape.txt", "/etc/passwd", "a/../../b", "~/x"])
def test_unsafe_names_are_refused(tmp_path, name):
    with pytest.raises(Her2AtlasError, match="not a safe relative path"):
        fetch.fetch_file({"name": name, "path": "x"}, tmp_path, data_roots=[tmp_path])


def test_disallowed_scheme(tmp_path):
    with pytest.raises(Her2AtlasError, match="scheme 'ftp' is not allowed"):
        fetch.download("ftp://example.org/x", tmp_path / "x", progress=False)


def test_missing_everywhere_names_the_fix(tmp_path):
    with pytest.raises(Her2AtlasError) as info:
        fetch.fetch_file({"name": "x.tsv", "path": "a/x.tsv"}, tmp_path, data_roots=[tmp_path],
                         context="workflow/cohorts/c.yaml")
    assert "workflow/cohorts/c.yaml" in str(info.value) and "data_roots" in str(info.value)


# --- content signature: what decides a fetch rerun --------------------------------------------

def test_content_signature_is_the_files_checksum_not_the_data_root(tmp_path):
    """Adding, reordering data roots and the fetch itself leave the signature unchanged."""
    first, second, dest = tmp_path / "m1", tmp_path / "m2", tmp_path / "raw"
    (first / "sub").mkdir(parents=True)
    (first / "sub" / "x.tsv.gz").write_bytes(BODY)
    entries = [{"name": "x.tsv.gz", "path": "sub/x.tsv.gz"}]
    before = fetch.content_signature(entries, dest, data_roots=[first])
    assert before == [f"x.tsv.gz sha256:{SHA}"]
    (second / "sub").mkdir(parents=True)  # a new root holding other bytes at the same path
    (second / "sub" / "x.tsv.gz").write_bytes(gzip.compress(b"other", mtime=0))
    fetch.fetch_all(entries, dest, data_roots=[first], allow_download=False)
    # fetched: the recorded checksum decides; new or reordered roots are not looked at
    assert fetch.content_signature(entries, dest, data_roots=[second, first]) == before
    assert fetch.content_signature(entries, dest, data_roots=[]) == before


def test_content_signature_changes_with_the_content_to_be_fetched(tmp_path):
    root = tmp_path / "m"
    root.mkdir()
    (root / "x.tsv.gz").write_bytes(BODY)
    entries = [{"name": "x.tsv.gz", "path": "x.tsv.gz"}]
    old = fetch.content_signature(entries, tmp_path / "raw", data_roots=[root])
    (root / "x.tsv.gz").write_bytes(gzip.compress(b"changed", mtime=0))
    new = fetch.content_signature(entries, tmp_path / "raw", data_roots=[root])
    changed = hashlib.sha256(gzip.compress(b"changed", mtime=0)).hexdigest()
    assert new == [f"x.tsv.gz sha256:{changed}"]
    assert new != old


def test_content_signature_of_declared_and_downloaded_files(tmp_path):
    """A declared sha256 is the signature; a download is known by its URL before and after."""
    with Server() as server:
        server.add("/x.tsv.gz", BODY, ["ok", "ok"])
        url = f"{server.url}/x.tsv.gz"
        entries = [{"name": "x.tsv.gz", "url": url},
                   {"name": "y.tsv.gz", "url": url, "sha256": SHA}]
        dest = tmp_path / "raw"
        before = fetch.content_signature(entries, dest, data_roots=[tmp_path])
        fetch.fetch_all(entries, dest, data_roots=[tmp_path])
        after = fetch.content_signature(entries, dest, data_roots=[tmp_path])
    assert before == after == [f"x.tsv.gz from:{url}", f"y.tsv.gz sha256:{SHA}"]

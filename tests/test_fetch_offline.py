"""Offline behaviour of the fetch layer: no retries on DNS failure, messages that say where."""

from __future__ import annotations

import socket
import urllib.error

import pytest

from her2atlas import fetch
from her2atlas.errors import Her2AtlasError


def test_dns_failure_is_not_retried_and_points_at_the_offline_config(tmp_path, monkeypatch):
    calls = []

    def no_dns(request, timeout=None):
        calls.append(request.full_url)
        raise urllib.error.URLError(socket.gaierror(-3, "Temporary failure in name resolution"))

    monkeypatch.setattr(fetch.urllib.request, "urlopen", no_dns)
    monkeypatch.setattr(fetch.time, "sleep", lambda s: pytest.fail("a DNS failure was retried"))
    with pytest.raises(Her2AtlasError) as info:
        fetch.download("https://ftp.example.org/x.gz", tmp_path / "x.gz", progress=False)
    assert len(calls) == 1
    text = str(info.value)
    assert "cannot resolve host 'ftp.example.org'" in text
    assert "make real" in text and "config/offline.yaml" in text and "allow_download" in text
    assert not list(tmp_path.iterdir())  # nothing partial left


def test_other_connection_errors_are_still_retried(tmp_path, monkeypatch):
    calls = []

    def refused(request, timeout=None):
        calls.append(1)
        raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))

    monkeypatch.setattr(fetch.urllib.request, "urlopen", refused)
    monkeypatch.setattr(fetch.time, "sleep", lambda s: None)
    with pytest.raises(Her2AtlasError, match="after 3 attempts"):
        fetch.download("https://ftp.example.org/x.gz", tmp_path / "x.gz", retries=2,
                       progress=False)
    assert len(calls) == 3


def test_missing_file_names_the_relative_path_looked_for(tmp_path):
    roots = [tmp_path / "m1", tmp_path / "m2"]
    with pytest.raises(Her2AtlasError) as info:
        fetch.fetch_file({"name": "x.tsv", "path": "a/x.tsv"}, tmp_path / "raw", data_roots=roots,
                         context="workflow/cohorts/c.yaml")
    text = str(info.value)
    assert f"{roots[0]}/a/x.tsv" in text and f"{roots[1]}/a/x.tsv" in text
    assert "put the file at <data root>/a/x.tsv" in text and "data_roots" in text


def test_missing_geo_platform_file_says_where_it_goes(tmp_path):
    rel = "geo/platforms/GPL5nnn/GPL570/soft/GPL570_family.soft.gz"
    with pytest.raises(Her2AtlasError) as info:
        fetch.fetch_file({"name": "GPL570_family.soft.gz", "path": rel}, tmp_path / "raw",
                         data_roots=[tmp_path], allow_download=False)
    text = str(info.value)
    assert f"<data root>/{rel}" in text and "data/README.md" in text
    assert "add the folder" not in text  # that fix cannot work for GEO's layout

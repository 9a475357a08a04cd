"""Shared test fixtures: repository paths and the offline mirror in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
CONFIG_SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"
MANIFEST_SCHEMA = REPO / "workflow" / "schemas" / "manifest.schema.yaml"

needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(),
    reason=f"offline mirror {SHARED_DATA} is absent (real-data tests read ../shared/data in place)",
)


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory) -> Path:
    """The synthetic demo files, generated once per session."""
    from her2atlas.demo import write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out)
    return out

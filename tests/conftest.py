"""Shared test fixtures: repository paths and the offline mirror in ../shared/data.

Also sorts the suite for `make test` (pytest-xdist, ``-n 3 --dist loadgroup``): every test that
uses the once-per-session ``demo_run`` or ``real_run`` is marked ``pipeline`` and grouped with
that run, and the two groups (the long poles) are scheduled first, one per worker; the unit
tests fill in. Each run is built once for the whole session, by the first worker that needs it
(the others wait for it under a file lock and reuse it), so the tests that make a run of their
own (the byte-identical rerun, the SLURM stand-in run) need not wait on the worker of
``demo_run``: they run first on a third worker and ask for ``demo_run`` only to compare
(``OWN_RUNS_FIRST``). ``make test-fast`` deselects ``pipeline``.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
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


DEMO_TITLE = 'DEMO cohort B <script>alert("x")</script> (SYNTHETIC)'


def _shared_run(tmp_path_factory, name: str, build) -> Path:
    """``build(work)`` once per test session, shared by every xdist worker.

    The first worker to ask builds the run in the session's shared temporary folder while
    holding a lock; the others wait on the lock and reuse it (or fail at once with the
    builder's error instead of building it again).
    """
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the session's folder, common to all workers
    work, done = base / name, base / f"{name}.done"
    with open(base / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if done.exists():
            failure = done.read_text()
            if failure:
                raise AssertionError(f"{name} failed on another worker:\n{failure}")
            return work
        work.mkdir()
        try:
            build(work)
        except BaseException as exc:
            done.write_text(f"{type(exc).__name__}: {exc}"[-8000:] or type(exc).__name__)
            raise
        done.write_text("")
    return work


def _compile_numba_kernels(work: Path) -> None:
    """Compile GSVA's numba kernels into their on-disk cache (``cache=True``) once.

    On a fresh clone every test process and Snakemake job that scores with GSVA would otherwise
    compile them itself (about 6 s of CPU per array layout, 29 s for the five below) until one
    of them has written the cache, several at a time.
    """
    import numpy as np

    from her2atlas.score_methods import gsva_density

    rng = np.random.default_rng(0)
    normal, counts = rng.normal(size=(8, 20)), rng.poisson(5.0, size=(8, 20)).astype(float)
    # each array layout and dtype the tests and jobs pass is compiled (and cached) on its own
    for X in (normal, np.asfortranarray(normal), normal.astype(np.float32)):
        gsva_density(X, kernel="gaussian")
    for X in (counts, np.asfortranarray(counts)):
        gsva_density(X, kernel="poisson")


def retitle_demo_b(work: Path) -> None:
    """Give demo cohort B the title with markup of ``demo_run`` (in a copy of the workflow)."""
    import yaml

    manifest = work / "workflow/cohorts/demo_neoadjuvant_b.yaml"
    doc = yaml.safe_load(manifest.read_text())
    doc["title"] = DEMO_TITLE  # data-borne strings must be escaped in the report
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False))


def _build_demo_run(work: Path) -> None:
    from her2atlas.demo import write_demo

    from pipeline_helpers import make_workdir, snakemake

    make_workdir(work)
    retitle_demo_b(work)
    write_demo(work / "data/demo")
    snakemake(work, "--configfile", "demo/config.yaml")


def _build_real_run(work: Path) -> None:
    from pipeline_helpers import make_workdir, snakemake, write_config

    make_workdir(work)
    write_config(work, "offline_roots.yaml", {"data_roots": [str(SHARED_DATA)]})
    snakemake(work, "--configfile", "config/offline.yaml", "offline_roots.yaml")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """The demo workflow run once per session in a scratch copy (cohort B's title has markup)."""
    _shared_run(tmp_path_factory, "numba_kernels", _compile_numba_kernels)
    return _shared_run(tmp_path_factory, "demo_run", _build_demo_run)


@pytest.fixture(scope="session")
def real_run(tmp_path_factory) -> Path:
    """The four offline cohorts run once per session, reading ../shared/data in place."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"offline mirror {SHARED_DATA} is absent")
    _shared_run(tmp_path_factory, "numba_kernels", _compile_numba_kernels)
    return _shared_run(tmp_path_factory, "real_run", _build_real_run)


# the session runs, in the order their groups are scheduled (longest first)
SESSION_RUNS = ("demo_run", "real_run")
# tests that run Snakemake in their own scratch copy without a session run (pipeline_helpers
# refuses to run Snakemake from a test that is not marked, so a missing entry shows at once)
OWN_RUNS = {"test_overlap.py::test_a_copy_of_a_cohort_under_another_id_stops_the_run"}
# tests with a Snakemake run of their own that ask for ``demo_run`` only after it, to compare:
# scheduled first after the two session groups, so that on a free worker their runs go on while
# the session runs are built
OWN_RUNS_FIRST = {
    "test_slurm_profile.py::test_demo_cohorts_through_the_slurm_executor_equal_a_local_run",
    "test_pipeline_demo.py::test_two_demo_runs_give_byte_identical_tsvs",
}


# where xdist workers tell the controller which session run each test belongs to
GROUPS_ENV = "HER2ATLAS_XDIST_GROUPS"


@pytest.hookimpl(tryfirst=True)  # before `-m "not pipeline"` deselects
def pytest_collection_modifyitems(config, items):
    """Mark and group the users of a session run, and schedule those groups first."""
    rank, groups = {}, {}
    for item in items:
        names = getattr(item, "fixturenames", ())
        runs = [run for run in SESSION_RUNS if run in names]
        name = item.nodeid.split("/")[-1]
        if runs or name in OWN_RUNS:
            item.add_marker(pytest.mark.pipeline)
        if runs:
            item.add_marker(pytest.mark.xdist_group(runs[0]))
            groups[item.nodeid] = runs[0]
        rank[item] = (SESSION_RUNS.index(runs[0]) if runs else
                      len(SESSION_RUNS) + (name not in OWN_RUNS_FIRST))
    items.sort(key=rank.__getitem__)  # stable: file order within each rank
    path = os.environ.get(GROUPS_ENV)
    if path and hasattr(config, "workerinput"):  # an xdist worker: every worker writes the same
        tmp = f"{path}.{config.workerinput['workerid']}"
        Path(tmp).write_text(json.dumps(groups))
        os.replace(tmp, path)


def pytest_configure(config):
    """On the xdist controller with ``--dist loadgroup``: a file for the workers' groups."""
    if hasattr(config, "workerinput") or getattr(config.option, "dist", "no") != "loadgroup":
        return
    os.environ[GROUPS_ENV] = str(Path(tempfile.mkdtemp(prefix="her2atlas-groups-")) / "groups.json")


def pytest_unconfigure(config):
    path = os.environ.get(GROUPS_ENV)
    if path and not hasattr(config, "workerinput"):
        shutil.rmtree(Path(path).parent, ignore_errors=True)
        del os.environ[GROUPS_ENV]


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` with the groups above.

    pytest-xdist 3.8 groups by an ``@group`` suffix that it writes into each item's node id;
    pytest 9 computes node ids and drops the suffix, so every test became its own group and each
    worker ran ``demo_run`` itself. This scheduler takes the groups from the workers' file instead.
    """
    if getattr(config.option, "dist", "no") != "loadgroup" or not os.environ.get(GROUPS_ENV):
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SessionRunScheduling(LoadGroupScheduling):
        _groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self._groups is None:  # read once, after every worker has collected
                path = Path(os.environ[GROUPS_ENV])
                self._groups = json.loads(path.read_text()) if path.exists() else {}
            return self._groups.get(nodeid) or super()._split_scope(nodeid)

    return SessionRunScheduling(config, log)


@pytest.hookimpl(tryfirst=True)  # before the fixtures (demo_run, real_run) are set up
def pytest_runtest_setup(item):
    """Tell pipeline_helpers.snakemake whether this test is marked ``pipeline``."""
    os.environ["HER2ATLAS_TEST_PIPELINE"] = "1" if item.get_closest_marker("pipeline") else "0"

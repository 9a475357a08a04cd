"""Whole-workflow wall time, CPU time and peak memory on synthetic cohorts (prints a table).

Usage::

    python benchmarks/pipeline.py                       # the full grid (takes a while)
    python benchmarks/pipeline.py --cohorts 1 5 --sizes 100 1000
    python benchmarks/pipeline.py --real                # also the offline real run (../shared)
    python benchmarks/pipeline.py --public-scale --write-readme   # the default analysis at
                                                        # its real size on 2 and 1 cores
    python benchmarks/pipeline.py --public-scale --scale 0.05 --cores-list 2   # a smoke run

Each configuration runs the Snakemake workflow from scratch in a scratch folder with the
synthetic demo signature set; then one more cohort is added and the rerun is timed (it should
cost that cohort's jobs plus meta-analysis and report). CPU time and peak RSS are those of the
Snakemake process and all its jobs (``RUSAGE_CHILDREN`` of a launcher started for each
measurement); peak is the largest single process.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "config.yaml", "config", "workflow", "scripts", "demo", "envs"]


def _manifest(name: str, n: int) -> dict:
    return {
        "id": name, "title": f"BENCHMARK {name} (synthetic)", "citation": "synthetic",
        "synthetic": True, "source": {"kind": "files"}, "design": "trastuzumab_treated",
        "files": [{"name": "expression.tsv.gz", "path": f"{name}/expression.tsv.gz"},
                  {"name": "clinical.tsv", "path": f"{name}/clinical.tsv"}],
        "expression": {"files": ["expression.tsv.gz"], "gene_column": "gene", "units": "log2"},
        "clinical": {"tables": {"clin": {"file": "clinical.tsv", "id_column": "sample_id"}},
                     "fields": {"her2_status": {"table": "clin", "column": "her2",
                                                "map": {"HER2+": "positive",
                                                        "HER2-": "negative"}},
                                "er_status": {"table": "clin", "column": "er",
                                              "map": {"ER+": "positive", "ER-": "negative"}},
                                "trastuzumab": {"value": True},
                                "pcr": {"table": "clin", "column": "response",
                                        "map": {"pCR": 1, "RD": 0}}}},
        "endpoints": {"response": "pcr"},
        "expected": {"samples": n},
    }


def _workdir(root: Path, n_cohorts: int, n_samples: int) -> Path:
    from her2atlas.demo import demo_gmt, demo_weights, write_cohort_files

    for name in COPIED:
        src = REPO / name
        (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
    data = root / "data" / "bench"
    for i in range(n_cohorts + 1):  # one extra, added for the rerun
        name = f"bench_{i:02d}"
        write_cohort_files(data, name, {"n": n_samples, "units": "log2", "endpoint": "pcr",
                                        "her2_frac": 1.0, "seed": 1000 + i})
        (root / "workflow/cohorts" / f"{name}.yaml").write_text(
            yaml.safe_dump(_manifest(name, n_samples)))
    (data / "demo_signatures.gmt").write_text(demo_gmt())
    (data / "demo_weights.tsv").write_text(demo_weights())
    return root


def _config(root: Path, cohorts: list[str]) -> Path:
    demo = yaml.safe_load((REPO / "demo/config.yaml").read_text())
    demo.update(cohorts=cohorts, data_roots=["data/bench"])
    path = root / "bench.yaml"
    path.write_text(yaml.safe_dump(demo))
    return path


# Runs one command and prints the CPU seconds and peak RSS (KiB) of it and all its children, so
# every measurement has its own RUSAGE_CHILDREN (which is cumulative within a process).
_LAUNCHER = (
    "import resource, subprocess, sys; "
    "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
    "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.ru_utime + r.ru_stime, r.ru_maxrss)"
)


def _run(root: Path, config: Path, cores: int) -> tuple[float, float, float]:
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "snakemake", "--cores",
         str(cores), "--configfile", str(config), "--quiet"],
        cwd=root, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    cpu, peak_kib = result.stdout.split()
    return wall, float(cpu), float(peak_kib) / 1024


def bench(n_cohorts: int, n_samples: int, cores: int) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        root = _workdir(Path(tmp), n_cohorts, n_samples)
        names = [f"bench_{i:02d}" for i in range(n_cohorts)]
        wall, cpu, peak = _run(root, _config(root, names), cores)
        rerun, _, _ = _run(root, _config(root, [*names, f"bench_{n_cohorts:02d}"]), cores)
    return (f"| {n_cohorts} | {n_samples:,} | {wall:.1f} | {cpu:.1f} | {peak:.0f} | "
            f"{rerun:.1f} |")


def bench_real(cores: int) -> str:
    shared = REPO.parent / "shared" / "data"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for name in COPIED:
            src = REPO / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, root / name)
        extra = root / "roots.yaml"
        extra.write_text(yaml.safe_dump({"data_roots": [str(shared)]}))
        cmd = [sys.executable, "-m", "snakemake", "--cores", str(cores), "--quiet",
               "--configfile", "config/offline.yaml", str(extra)]
        start = time.perf_counter()
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
        cold = time.perf_counter() - start
        shutil.rmtree(root / "results")  # keep data/raw: a warm cache
        start = time.perf_counter()
        subprocess.run(cmd, cwd=root, check=True, capture_output=True)
        warm = time.perf_counter() - start
    return f"| offline real run (4 cohorts) | cold {cold:.1f} s | warm cache {warm:.1f} s |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cohorts", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--real", action="store_true", help="also time the offline real run")
    parser.add_argument("--public-scale", action="store_true",
                        help="time the default analysis on synthetic stand-ins with the real "
                        "shapes of config.yaml's cohorts (benchmarks/public_scale.py)")
    parser.add_argument("--scale", type=float, default=1.0, metavar="FRACTION",
                        help="with --public-scale: this fraction of every cohort's samples "
                        "(e.g. 0.05 for a smoke run; genes stay at full size)")
    parser.add_argument("--cores-list", type=int, nargs="+", default=[2, 1],
                        help="with --public-scale: one from-scratch run per core count")
    parser.add_argument("--write-readme", action="store_true",
                        help="with --public-scale: write the table into benchmarks/README.md")
    parser.add_argument("--keep", metavar="DIR",
                        help="with --public-scale: work in DIR and keep it (default: a "
                        "temporary folder, removed afterwards)")
    args = parser.parse_args()
    if args.public_scale:
        import public_scale

        public_scale.main(args)
        return
    print(f"cores = {args.cores}; synthetic cohorts of 1,568 genes; times in seconds\n")
    print("| cohorts | samples each | wall s | CPU s | peak MiB | rerun after adding one |")
    print("|---|---|---|---|---|---|")
    for n_cohorts in args.cohorts:
        sizes = args.sizes if n_cohorts == args.cohorts[0] else [args.sizes[0]]
        for n_samples in sizes:
            print(bench(n_cohorts, n_samples, args.cores), flush=True)
    if args.real:
        print()
        print(bench_real(args.cores))


if __name__ == "__main__":
    main()

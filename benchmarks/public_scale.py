"""The default analysis at its real size on SYNTHETIC stand-ins (``pipeline.py --public-scale``).

For every cohort of config.yaml's ``cohorts`` list a ``files`` stand-in with that cohort's shape
(samples, genes, units, endpoints, design, HER2+ fraction; :mod:`her2atlas.scale`) is written
into a scratch copy of the workflow, replacing the real manifest under the same id. Then the
whole default workflow (every scoring method, the random-signature null, every model, the
report; the real signature catalogue from the data roots of config.yaml) runs from scratch, once
per ``--cores`` value. Per-rule wall/CPU/peak memory come from Snakemake's ``benchmark:`` files
(logs/benchmarks/); whole-run wall time, CPU time (RUSAGE_CHILDREN) and peak memory (largest
single process, and the sum over the process tree sampled every 0.5 s) from the launcher.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
COPIED = ["Snakefile", "config.yaml", "config", "workflow", "scripts", "demo", "envs", "profiles"]
README = REPO / "benchmarks" / "README.md"
START, END = "<!-- public-scale:start -->", "<!-- public-scale:end -->"


@dataclass
class RunResult:
    """One timed workflow run."""

    cores: int
    wall: float
    cpu: float
    peak_process_mib: float
    peak_total_mib: float
    rules: pd.DataFrame


def _write_one(args: tuple) -> dict:
    from her2atlas.scale import write_stand_in

    data, shape, genes = args
    return write_stand_in(data, shape, genes)


def prepare(root: Path, fraction: float, workers: int = 2) -> list:
    """Copy the workflow into ``root`` and write every default cohort's stand-in; the shapes."""
    from her2atlas.scale import scaled, shape_from_manifest, signature_genes

    for name in COPIED:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, root / name, dirs_exist_ok=True)  # --keep DIR may be reused
        else:
            shutil.copy2(src, root / name)
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    roots = [(REPO / r).resolve() for r in config["data_roots"]]
    named = signature_genes(config, roots)
    shapes = [scaled(shape_from_manifest(yaml.safe_load(
        (REPO / config["manifests_dir"] / f"{c}.yaml").read_text())), fraction)
        for c in config["cohorts"]]
    data = root / "data" / "scale"
    order = sorted(shapes, key=lambda s: -s.samples * s.genes)  # biggest first
    with ProcessPoolExecutor(workers) as pool:
        manifests = pool.map(_write_one, [(data, s, named) for s in order])
        for shape, manifest in zip(order, manifests, strict=True):
            path = root / config["manifests_dir"] / f"{shape.id}.yaml"
            path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    overlay = {"data_roots": [str(data), *map(str, roots)], "allow_download": False}
    (root / "scale.yaml").write_text(yaml.safe_dump(overlay))
    return shapes


def _portable(argv: list[str]) -> list[str]:
    """The arguments without ``--keep DIR`` (a machine's scratch path, not part of the recipe)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--keep":
            skip = True
        elif not arg.startswith("--keep="):
            out.append(arg)
    return out


# Runs one command and prints the CPU seconds and peak RSS (KiB) of it and all its children.
_LAUNCHER = (
    "import resource, subprocess, sys; "
    "rc = subprocess.run(sys.argv[1:]).returncode; "
    "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
    "print(r.ru_utime + r.ru_stime, r.ru_maxrss, rc, file=sys.stderr)"
)


def _sample_tree_rss(pid: int, stop: threading.Event, peak: list[float]) -> None:
    """Largest sum of RSS over ``pid`` and its descendants, sampled every 0.5 s (MiB)."""
    import psutil

    try:
        root = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    while not stop.wait(0.5):
        total = 0
        try:
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        peak[0] = max(peak[0], total / 2**20)


def run_workflow(root: Path, cores: int) -> RunResult:
    """Run the workflow from scratch in ``root`` on ``cores`` cores and measure it."""
    for sub in ("results", "logs", ".snakemake"):
        shutil.rmtree(root / sub, ignore_errors=True)
    log = open(root / f"snakemake-{cores}cores.log", "w")
    cmd = [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "snakemake", "--cores",
           str(cores), "--configfile", "config.yaml", "scale.yaml"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.PIPE, text=True)
    stop, peak = threading.Event(), [0.0]
    sampler = threading.Thread(target=_sample_tree_rss, args=(proc.pid, stop, peak))
    sampler.start()
    _, err = proc.communicate()
    wall = time.perf_counter() - start
    stop.set()
    sampler.join()
    log.close()
    cpu, peak_kib, rc = err.split()[-3:]
    if int(rc) != 0:
        raise RuntimeError(f"snakemake failed (exit {rc}); see {root}/snakemake-{cores}cores.log")
    return RunResult(cores, wall, float(cpu), float(peak_kib) / 1024, peak[0],
                     rule_table(root))


def rule_patterns(rules_dir: Path) -> dict[str, tuple[re.Pattern, int]]:
    """{rule: (regex of its benchmark file, threads)} from workflow/rules/*.smk."""
    out = {}
    for smk in sorted(rules_dir.glob("*.smk")):
        for block in re.split(r"\n(?=rule \w+:)", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            bench = re.search(r'benchmark:\s*\n\s*"([^"]+)"', block)
            if not (name and bench):
                continue
            threads = re.search(r"threads:\s*(\d+)", block)
            pattern = re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(bench.group(1)))
            out[name.group(1)] = (re.compile(pattern + "$"), int(threads.group(1)) if threads else 1)
    return out


def rule_table(root: Path) -> pd.DataFrame:
    """Per rule: jobs, threads, summed and longest wall s, summed CPU s, largest max RSS MiB."""
    patterns = rule_patterns(root / "workflow" / "rules")
    rows = []
    for path in sorted((root / "logs" / "benchmarks").rglob("*.tsv")):
        rel = str(path.relative_to(root))
        # a literal file (fetch/_signatures.tsv) before a wildcard one (fetch/{cohort}.tsv)
        rule = next((r for r, (p, _) in sorted(patterns.items(),
                                                key=lambda kv: "[^/]+" in kv[1][0].pattern)
                     if p.match(rel)), None)
        if rule is None:
            continue
        bench = pd.read_csv(path, sep="\t")
        rss = pd.to_numeric(bench["max_rss"], errors="coerce").max()
        rows.append({"rule": rule, "wall": bench["s"].iloc[-1],
                     "cpu": pd.to_numeric(bench["cpu_time"], errors="coerce").iloc[-1],
                     "rss": rss, "job": path.stem})
    jobs = pd.DataFrame(rows)
    table = jobs.groupby("rule").agg(jobs=("wall", "size"), wall=("wall", "sum"),
                                     longest=("wall", "max"), cpu=("cpu", "sum"),
                                     peak=("rss", "max"))
    longest_job = jobs.loc[jobs.groupby("rule")["wall"].idxmax()].set_index("rule")["job"]
    table["longest_job"] = longest_job
    table["threads"] = [patterns[r][1] for r in table.index]
    return table.sort_values("wall", ascending=False)


def _fmt(x: float, digits: int = 1) -> str:
    return f"{x:,.{digits}f}"


def shapes_table(shapes: list) -> list[str]:
    """Markdown rows: one per stand-in, with where its numbers come from."""
    lines = ["| cohort | samples | genes | units | endpoints | design | HER2+ | numbers not from "
             "the manifest's `expected:` |", "|---|---|---|---|---|---|---|---|"]
    for s in shapes:
        ends = ", ".join((["pcr"] if s.pcr else []) + s.survival)
        her2 = "not mapped" if s.her2_frac is None else f"{s.her2_frac:.0%}"
        lines.append(f"| {s.id} | {s.samples:,} | {s.genes:,} | {s.units} | {ends} | {s.design} "
                     f"| {her2} | {'; '.join(s.notes)} |")
    return lines


def rules_table(result: RunResult) -> list[str]:
    """Markdown rows of the per-rule table of one run."""
    lines = [f"Per rule, {result.cores} core(s) (sums over the rule's jobs; peak = largest "
             "max RSS of one job):", "",
             "| rule | threads | jobs | wall s (sum) | longest job s | CPU s (sum) | peak MiB |",
             "|---|---|---|---|---|---|---|"]
    for rule, row in result.rules.iterrows():
        lines.append(f"| {rule} | {row.threads} | {row.jobs} | {_fmt(row.wall)} | "
                     f"{_fmt(row.longest)} ({row.longest_job}) | {_fmt(row.cpu)} | "
                     f"{_fmt(row.peak, 0)} |")
    return lines


def totals_table(results: list[RunResult]) -> list[str]:
    """Markdown rows: the whole-run totals per core count."""
    lines = ["| cores | wall s | CPU s | CPU/wall | peak MiB (one process) | peak MiB (all "
             "processes, sampled) |", "|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r.cores} | {_fmt(r.wall)} | {_fmt(r.cpu)} | {r.cpu / r.wall:.2f} | "
                     f"{_fmt(r.peak_process_mib, 0)} | {_fmt(r.peak_total_mib, 0)} |")
    return lines


THREADS_NOTE = [
    "Threads: the `threads` column is what each rule declares (Snakemake counts it against "
    "`--cores`). `score` and `null` declare 1, but GSVA's kernel runs in numba on every core "
    "of the node and ranks are sorted on 2 threads, so the CPU/wall of a large cohort's "
    "`score` job is above 1 and two of them at once share the cores; `report` declares 2 "
    "(figures in parallel processes). On a cluster give `score` the cores GSVA should use "
    "(profiles/slurm sets 2) and its memory (peak MiB above). Per-rule wall times are sums "
    "over jobs that partly ran at the same time, so they add up to more than the run's wall."]


def section(shapes: list, results: list[RunResult], fraction: float, load: tuple[str, str],
            command: str) -> str:
    """The README's public-scale subsection (markdown between the START/END markers)."""
    total = sum(s.samples for s in shapes)
    two = next((r for r in results if r.cores == 2), None)
    lines = [START, "### Public scale: the default analysis on synthetic stand-ins", "",
             "```", command, "```", "",
             "Every cohort of config.yaml gets a SYNTHETIC `files` stand-in with its shape "
             "(`her2atlas.scale`: samples and HER2+ share from the manifest's `expected:`, genes "
             "from its platform, units, endpoints and design; noise data, so only the timings "
             "mean anything), and the whole default workflow runs from scratch on each core "
             "count: all scoring methods, the 1,000-set null, every model, genes, meta-analysis "
             "and report, with the real signature catalogue read from config.yaml's data roots. "
             "Whole-run CPU is RUSAGE_CHILDREN of a launcher; peak memory is the largest single "
             "process and the sum over all processes of the run (sampled every 0.5 s); per-rule "
             "figures come from the rules' `benchmark:` files (logs/benchmarks/).", "",
             f"{len(shapes)} cohorts, {total:,} samples"
             + ("" if fraction == 1 else f" (--scale {fraction}: a fraction of every cohort's "
                "samples; NOT the public-scale figure)")
             + f"; measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
             f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}. Load averages (1/5/15 min, "
             f"`uptime`) before: {load[0]}; after: {load[1]}.", ""]
    lines += shapes_table(shapes) + [""] + totals_table(results) + [""]
    if two is not None:
        ok_time = "met" if two.wall <= 600 else "**not met**"
        ok_mem = "met" if two.peak_total_mib <= 8192 else "**not met**"
        lines += [f"Targets (2 cores): whole analysis ≤ 10 min — {ok_time} ({two.wall / 60:.1f} "
                  f"min); ≤ 8 GiB peak — {ok_mem} ({two.peak_total_mib / 1024:.2f} GiB, all "
                  "processes).", ""]
    lines += THREADS_NOTE + [""]
    for r in results:
        lines += rules_table(r) + [""]
    return "\n".join(lines + [END]) + "\n"


def write_readme(text: str, readme: Path = README) -> None:
    """Put ``text`` between the markers inside the `pipeline.py` section (appended there once)."""
    doc = readme.read_text()
    if START in doc:
        doc = re.sub(re.escape(START) + r".*?" + re.escape(END) + r"\n", lambda _: text, doc,
                     flags=re.S)
    else:
        head = doc.index("## `pipeline.py`")
        nxt = doc.find("\n## ", head + 1)
        nxt = len(doc) if nxt < 0 else nxt + 1
        doc = doc[:nxt] + text + "\n" + doc[nxt:]
    readme.write_text(doc)


def _load() -> str:
    """The 1/5/15-minute load averages, as `uptime` prints them."""
    return "{:.2f}, {:.2f}, {:.2f}".format(*os.getloadavg())


def main(args) -> None:
    """``pipeline.py --public-scale`` (see its ``--help``)."""
    load_before = _load()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="her2atlas-scale-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        shapes = prepare(tmp, args.scale)
        print(f"stand-ins written in {time.perf_counter() - t0:.0f} s under {tmp}\n", flush=True)
        print("\n".join(shapes_table(shapes)) + "\n", flush=True)
        results = []
        for cores in args.cores_list:
            results.append(run_workflow(tmp, cores))
            print("\n".join(totals_table(results[-1:]) + [""] + rules_table(results[-1])) + "\n",
                  flush=True)
        load_after = _load()
        command = "python benchmarks/pipeline.py " + " ".join(_portable(sys.argv[1:]))
        text = section(shapes, results, args.scale, (load_before, load_after), command)
        print(text)
        if args.write_readme:
            write_readme(text)
            print(f"written to {README}")
    except BaseException:
        print(f"stopped; the scratch folder {tmp} is kept for its logs", file=sys.stderr)
        raise
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)

"""Scoring speed and memory on synthetic cohorts, against gseapy.ssgsea and gseapy.gsva in the same run.

Usage::

    python benchmarks/scoring.py                      # N = 100, 500, 2000, 10000; GSVA at 500
    python benchmarks/scoring.py --sizes 100 500      # a quicker subset
    python benchmarks/scoring.py --gseapy-max 2000    # largest N also run through gseapy.ssgsea
    python benchmarks/scoring.py --sizes 500 2000 5000 10000 --gsva-sizes 500 2000 5000

Each measurement runs in a fresh subprocess so that peak memory (max RSS) belongs to that
method alone; the baseline RSS of a process that only built the matrix is subtracted. Data: a
20,000-gene log2-like matrix and 50 gene sets of 20-200 genes (seeded). Prints a Markdown table.
GSVA (Gaussian kernel) runs at ``--gsva-sizes`` beside ``gseapy.gsva`` (2 threads), which is
skipped where the N² scaling of its previous size predicts more than ``--gseapy-gsva-limit``
seconds, and stopped at that limit otherwise.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np

N_GENES = 20_000
N_SETS = 50


def make_data(n_samples: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    base = rng.normal(6, 2, N_GENES)
    X = np.empty((n_samples, N_GENES))
    for start in range(0, n_samples, 500):  # filled in blocks: no full-size temporaries
        block = X[start:start + 500]
        block[:] = rng.normal(0, 1, block.shape)
        block += base
    sizes = rng.integers(20, 201, N_SETS)
    sets = [np.sort(rng.choice(N_GENES, size=s, replace=False)) for s in sizes]
    return X, sets


def run_one(method: str, n_samples: int) -> dict:
    """Run one method in this process; return seconds, peak RSS (MiB) and a checksum of the result."""
    X, sets = make_data(n_samples)
    # imports happen before the clock starts, for gseapy and for this package alike
    import gseapy
    import pandas as pd

    from her2atlas import score_methods as km

    if method == "gsva":  # numba's compiled kernel is loaded (or compiled) before the clock
        km.gsva_density(np.ascontiguousarray(X[:20, :10]))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if method == "gseapy.gsva":
        genes = [f"G{i}" for i in range(N_GENES)]
        frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(n_samples)])
        gmt = {f"SET{j}": [genes[i] for i in s] for j, s in enumerate(sets)}
        res = gseapy.gsva(data=frame, gene_sets=gmt, outdir=None, kcdf="Gaussian", min_size=1,
                          max_size=1000, threads=2)
        table = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
        out = table.loc[frame.columns, [f"SET{j}" for j in range(N_SETS)]].to_numpy()
    elif method == "gseapy.ssgsea":
        genes = [f"G{i}" for i in range(N_GENES)]
        frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(n_samples)])
        gmt = {f"SET{j}": [genes[i] for i in s] for j, s in enumerate(sets)}
        res = gseapy.ssgsea(data=frame, gene_sets=gmt, outdir=None, sample_norm_method="rank",
                            min_size=1, max_size=1000, weight=0.25, no_plot=True, threads=2)
        table = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
        out = table.loc[frame.columns, [f"SET{j}" for j in range(N_SETS)]].to_numpy()
    else:
        if method == "ssgsea":
            out = km.ssgsea(km.ascending_ranks(X), sets, alpha=0.25)
        elif method == "zmean":  # as the pipeline: statistics of the set genes, z per set
            out = km.zmean(X, sets, stats=km.gene_zstats(X, np.concatenate(sets)))
        elif method == "singscore":
            out = km.singscore(km.ascending_ranks(X, ties="min"), sets)[0]
        elif method == "gsva":
            out = km.gsva(km.gsva_density(X), sets)
        else:
            raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "extra_mib": peak - baseline,
            "result": out.tolist() if (method.endswith("ssgsea") and n_samples <= 2000)
            or method.endswith("gsva") else None}


def measure(method: str, n_samples: int, timeout: float | None = None) -> dict | None:
    """Run ``method`` at ``n_samples`` in a fresh process; None if it exceeds ``timeout`` s."""
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", method, str(n_samples)],
                              capture_output=True, text=True, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(proc.stdout.splitlines()[-1])


def _row(n: int, method: str, got: dict, ratio: str = "", rel: str = "", absdiff: str = "") -> None:
    print(f"| {n:,} | {method} | {got['seconds']:.2f} | {got['peak_mib']:.0f} | "
          f"{got['extra_mib']:.0f} | {ratio} | {rel} | {absdiff} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000, 10000])
    parser.add_argument("--gseapy-max", type=int, default=2000)
    parser.add_argument("--gsva-sizes", type=int, nargs="*", default=[500],
                        help="N at which GSVA (O(genes x N^2) kernel step) runs beside gseapy.gsva")
    parser.add_argument("--gseapy-gsva-limit", type=float, default=600.0,
                        help="seconds gseapy.gsva may take at one N (predicted from N^2, then enforced)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], int(args.child[1]))))
        return
    print(f"{N_GENES:,} genes, {N_SETS} sets of 20-200 genes; times in seconds, peak RSS in MiB\n")
    print("| N | method | seconds | peak MiB (process) | MiB above input | vs gseapy "
          "| max rel. diff of ssGSEA ES | max abs diff of GSVA ES |")
    print("|---|---|---|---|---|---|---|---|")
    previous_gsva: tuple[int, float] | None = None  # (N, seconds) of gseapy.gsva's last run
    notes = []
    for n in sorted(set(args.sizes) | set(args.gsva_sizes)):
        ref = measure("gseapy.ssgsea", n) if n in args.sizes and n <= args.gseapy_max else None
        methods = ["ssgsea", "zmean", "singscore"] if n in args.sizes else []
        for method in methods:
            got = measure(method, n)
            ratio = rel = ""
            if ref is not None and method == "ssgsea":
                ratio = f"{ref['seconds'] / got['seconds']:.1f}x faster"
                a, b = np.asarray(got["result"]), np.asarray(ref["result"])
                rel = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
            _row(n, method, got, ratio, rel)
        if ref is not None:
            _row(n, "gseapy.ssgsea (2 threads)", ref, "1x")
        if n not in args.gsva_sizes:
            continue
        got = measure("gsva", n)
        predicted = (previous_gsva[1] * (n / previous_gsva[0]) ** 2 if previous_gsva else 0.0)
        gref = None
        if predicted > args.gseapy_gsva_limit:
            notes.append(f"gseapy.gsva not run at N = {n:,}: {previous_gsva[1]:.0f} s at "
                         f"N = {previous_gsva[0]:,} predicts ~{predicted:.0f} s (N^2), over the "
                         f"{args.gseapy_gsva_limit:.0f} s limit")
        else:
            gref = measure("gseapy.gsva", n, timeout=args.gseapy_gsva_limit)
            if gref is None:
                notes.append(f"gseapy.gsva at N = {n:,} stopped after {args.gseapy_gsva_limit:.0f} s")
            else:
                previous_gsva = (n, gref["seconds"])
        if gref is not None:
            a, b = np.asarray(got["result"]), np.asarray(gref["result"])
            _row(n, "gsva", got, f"{gref['seconds'] / got['seconds']:.1f}x faster", "",
                 f"{np.max(np.abs(a - b)):.1e}")
            _row(n, "gseapy.gsva (2 threads)", gref, "1x")
        else:
            _row(n, "gsva", got)
    for note in notes:
        print(f"\n- {note}")


if __name__ == "__main__":
    main()

"""Scoring speed and memory on synthetic cohorts, against gseapy.ssgsea in the same run.

Usage::

    python benchmarks/scoring.py                      # N = 100, 500, 2000, 10000
    python benchmarks/scoring.py --sizes 100 500      # a quicker subset
    python benchmarks/scoring.py --gseapy-max 2000    # largest N also run through gseapy

Each measurement runs in a fresh subprocess so that peak memory (max RSS) belongs to that
method alone; the baseline RSS of a process that only built the matrix is subtracted. Data: a
20,000-gene log2-like matrix and 50 gene sets of 20-200 genes (seeded). Prints a Markdown table.
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

    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    if method == "gseapy.ssgsea":

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
        elif method == "zmean":
            out = km.zmean(km.zscore_genes(X), sets)
        elif method == "singscore":
            out = km.singscore(km.ascending_ranks(X, ties="min"), sets)[0]
        elif method == "gsva":
            out = km.gsva(km.gsva_density(X), sets)
        else:
            raise SystemExit(f"unknown method {method}")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "extra_mib": peak - baseline,
            "result": out.tolist() if method.endswith("ssgsea") and n_samples <= 2000 else None}


def measure(method: str, n_samples: int) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", method, str(n_samples)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 500, 2000, 10000])
    parser.add_argument("--gseapy-max", type=int, default=2000)
    parser.add_argument("--gsva-max", type=int, default=500,
                        help="GSVA's kernel step is O(genes x N^2); largest N to time")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], int(args.child[1]))))
        return
    print(f"{N_GENES:,} genes, {N_SETS} sets of 20-200 genes; times in seconds, peak RSS in MiB\n")
    print("| N | method | seconds | peak MiB (process) | MiB above input | vs gseapy.ssgsea "
          "| max rel. diff of ES |")
    print("|---|---|---|---|---|---|---|")
    for n in args.sizes:
        ref = measure("gseapy.ssgsea", n) if n <= args.gseapy_max else None
        methods = ["ssgsea", "zmean", "singscore"] + (["gsva"] if n <= args.gsva_max else [])
        for method in methods:
            got = measure(method, n)
            ratio = diff = ""
            if ref is not None and method == "ssgsea":
                ratio = f"{ref['seconds'] / got['seconds']:.1f}x faster"
                a, b = np.asarray(got["result"]), np.asarray(ref["result"])
                diff = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
            print(f"| {n:,} | {method} | {got['seconds']:.2f} | {got['peak_mib']:.0f} | "
                  f"{got['extra_mib']:.0f} | {ratio} | {diff} |", flush=True)
        if ref is not None:
            print(f"| {n:,} | gseapy.ssgsea (2 threads) | {ref['seconds']:.2f} | "
                  f"{ref['peak_mib']:.0f} | {ref['extra_mib']:.0f} | 1x | |", flush=True)


if __name__ == "__main__":
    main()

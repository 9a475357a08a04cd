"""Scoring speed and memory on synthetic cohorts, against gseapy.ssgsea and gseapy.gsva in the same run.

Usage::

    python benchmarks/scoring.py            # N = 500, 2000, 10000; GSVA at 100 ... 10000
    python benchmarks/scoring.py --quick    # smoke run: N = 100, 200 (about a minute)
    python benchmarks/scoring.py --sizes 500 2000 --gsva-sizes 500 2000

Each measurement runs in a fresh subprocess so that peak memory (max RSS) belongs to that
method alone; the RSS of the process after it built its input (and loaded the compiled GSVA
kernels) is subtracted. Data: a 20,000-gene log2-like matrix and 50 gene sets of 20-200 genes
(seeded); the Poisson kernel gets a counts matrix (gene means e^0-e^9, log-normal sample
noise). Prints a Markdown table. GSVA runs with both kernels at ``--gsva-sizes`` beside
``gseapy.gsva`` (2 threads) with the same kernel, which is skipped where the N² scaling of
its previous size predicts more than ``--gseapy-gsva-limit`` seconds (or above
``--gseapy-gsva-max``), and stopped at that limit otherwise.
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
N_WEIGHTS = 12_000  # genes with an mRNAsi weight (the published index has ~13,000)
SET_METHODS = ["ssgsea", "zmean", "combined_z", "singscore", "mrnasi"]
KERNELS = ["gaussian", "poisson"]


def make_data(n_samples: int, seed: int = 0, counts: bool = False):
    """Samples × genes float64 matrix (log2-like, or counts) and the 50 seeded gene sets."""
    rng = np.random.default_rng(seed)
    base = rng.normal(6, 2, N_GENES)
    mean = np.exp(rng.uniform(0, 9, N_GENES))
    X = np.empty((n_samples, N_GENES))
    for start in range(0, n_samples, 500):  # filled in blocks: no full-size temporaries
        block = X[start:start + 500]
        if counts:
            block[:] = rng.poisson(mean * rng.lognormal(0, 0.5, block.shape))
        else:
            block[:] = rng.normal(0, 1, block.shape)
            block += base
    sets_rng = np.random.default_rng(seed + 1)
    sizes = sets_rng.integers(20, 201, N_SETS)
    sets = [np.sort(sets_rng.choice(N_GENES, size=s, replace=False)) for s in sizes]
    return X, sets


def _gseapy_table(res, frame) -> np.ndarray:
    table = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    return table.loc[frame.columns, [f"SET{j}" for j in range(N_SETS)]].to_numpy()


def _run_gseapy(method: str, X: np.ndarray, sets: list[np.ndarray]) -> np.ndarray:
    import gseapy
    import pandas as pd

    genes = [f"G{i}" for i in range(N_GENES)]
    frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(X.shape[0])])
    gmt = {f"SET{j}": [genes[i] for i in s] for j, s in enumerate(sets)}
    if method == "gseapy.ssgsea":
        res = gseapy.ssgsea(data=frame, gene_sets=gmt, outdir=None, sample_norm_method="rank",
                            min_size=1, max_size=1000, weight=0.25, no_plot=True, threads=2)
    else:
        kcdf = "Gaussian" if method.endswith("gaussian") else "Poisson"
        res = gseapy.gsva(data=frame, gene_sets=gmt, outdir=None, kcdf=kcdf, min_size=1,
                          max_size=1000, threads=2)
    return _gseapy_table(res, frame)


def _run_ours(method: str, X: np.ndarray, sets: list[np.ndarray], timing: dict) -> np.ndarray:
    from her2atlas import score_methods as km

    if method == "ssgsea":
        return km.ssgsea(km.ascending_ranks(X), sets, alpha=0.25)
    if method in ("zmean", "combined_z"):  # as the pipeline: set-gene statistics, z per set
        stats = km.gene_zstats(X, np.concatenate(sets))
        return (km.zmean if method == "zmean" else km.combined_z)(X, sets, stats=stats)
    if method == "singscore":
        return km.singscore(km.ascending_ranks(X, ties="min"), sets)[0]
    if method == "mrnasi":
        w = np.random.default_rng(7).normal(size=N_WEIGHTS)
        return km.mrnasi(X, w, columns=np.arange(N_WEIGHTS))[0][:, None]
    kernel = method.split(".")[1]
    start = time.perf_counter()
    density = km.gsva_density(X, kernel=kernel)
    timing["kernel_seconds"] = time.perf_counter() - start
    timing["density"] = density  # for the tie-order comparison, after the clock (see run_one)
    return km.gsva(density, sets)


def run_one(method: str, n_samples: int) -> dict:
    """Run one method in this process; return seconds, peak RSS (MiB) and its result."""
    X, sets = make_data(n_samples, counts=method.endswith("poisson"))
    # imports happen before the clock starts, for gseapy and for this package alike
    import gseapy  # noqa: F401
    import pandas  # noqa: F401

    from her2atlas import score_methods as km

    if method.startswith("gsva."):  # numba's compiled kernels are loaded before the clock
        km.gsva_density(np.ascontiguousarray(X[:20, :10]), kernel=method.split(".")[1])
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    timing: dict = {}
    start = time.perf_counter()
    if method.startswith("gseapy."):
        out = _run_gseapy(method, X, sets)
    else:
        out = _run_ours(method, X, sets, timing)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    density = timing.pop("density", None)
    if density is not None and n_samples <= 5000:
        # gseapy orders genes of exactly equal density in reverse gene order, R's
        # order(decreasing = TRUE) and we in gene order: the same walk with that tie order
        # isolates the numerical agreement (computed after the clock and the peak)
        timing["result_ties_reversed"] = km.gsva(np.ascontiguousarray(density[:, ::-1]), [
            np.sort(N_GENES - 1 - idx) for idx in sets]).tolist()
    keep = ("ssgsea" in method and n_samples <= 2000) or "gsva" in method
    return {"seconds": seconds, "peak_mib": peak, "extra_mib": peak - baseline,
            "result": out.tolist() if keep else None, **timing}


def measure(method: str, n_samples: int, timeout: float | None = None) -> dict | None:
    """Run ``method`` at ``n_samples`` in a fresh process; None if it exceeds ``timeout`` s."""
    try:
        proc = subprocess.run([sys.executable, __file__, "--child", method, str(n_samples)],
                              capture_output=True, text=True, check=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None
    return json.loads(proc.stdout.splitlines()[-1])


def _row(n: int, method: str, got: dict, ratio: str = "", rel: str = "",
         absdiff: str = "") -> None:
    kernel = f"{got['kernel_seconds']:.2f}" if "kernel_seconds" in got else ""
    print(f"| {n:,} | {method} | {got['seconds']:.2f} | {kernel} | {got['peak_mib']:.0f} | "
          f"{got['extra_mib']:.0f} | {ratio} | {rel} | {absdiff} |", flush=True)


def _set_rows(n: int, gseapy_max: int) -> None:
    """ssGSEA, zmean, combined z, singscore and mRNAsi at N = n, gseapy.ssgsea beside them."""
    ref = measure("gseapy.ssgsea", n) if n <= gseapy_max else None
    for method in SET_METHODS:
        got = measure(method, n)
        ratio = rel = ""
        if ref is not None and method == "ssgsea":
            ratio = f"{ref['seconds'] / got['seconds']:.1f}x faster"
            a, b = np.asarray(got["result"]), np.asarray(ref["result"])
            rel = f"{np.max(np.abs(a - b) / np.abs(b)):.1e}"
        _row(n, method, got, ratio, rel)
    if ref is not None:
        _row(n, "gseapy.ssgsea (2 threads)", ref, "1x")


def _gsva_rows(n: int, kernel: str, args, previous: dict, notes: list[str]) -> None:
    """Our GSVA with one kernel at N = n, and gseapy.gsva with it where it can finish."""
    got = measure(f"gsva.{kernel}", n)
    ref_name = f"gseapy.gsva.{kernel}"
    last = previous.get(kernel)  # (N, seconds) of gseapy's last run with this kernel
    predicted = last[1] * (n / last[0]) ** 2 if last else 0.0
    ref = None
    if n > args.gseapy_gsva_max:
        notes.append(f"gseapy.gsva ({kernel}) not run at N = {n:,} (above --gseapy-gsva-max)")
    elif predicted > args.gseapy_gsva_limit:
        notes.append(f"gseapy.gsva ({kernel}) not run at N = {n:,}: {last[1]:.0f} s at "
                     f"N = {last[0]:,} predicts ~{predicted:.0f} s (N^2), over the "
                     f"{args.gseapy_gsva_limit:.0f} s limit")
    else:
        ref = measure(ref_name, n, timeout=args.gseapy_gsva_limit)
        if ref is None:
            notes.append(f"gseapy.gsva ({kernel}) at N = {n:,} stopped after "
                         f"{args.gseapy_gsva_limit:.0f} s")
        else:
            previous[kernel] = (n, ref["seconds"])
    if ref is None:
        _row(n, f"gsva ({kernel})", got)
        return
    a, b = np.asarray(got["result"]), np.asarray(ref["result"])
    tied = np.asarray(got["result_ties_reversed"])
    _row(n, f"gsva ({kernel})", got, f"{ref['seconds'] / got['seconds']:.1f}x faster", "",
         f"{np.max(np.abs(tied - b)):.1e} ({np.max(np.abs(a - b)):.1e})")
    _row(n, f"gseapy.gsva ({kernel}, 2 threads)", ref, "1x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[500, 2000, 10000])
    parser.add_argument("--gseapy-max", type=int, default=2000,
                        help="largest N also run through gseapy.ssgsea")
    parser.add_argument("--gsva-sizes", type=int, nargs="*",
                        default=[100, 500, 2000, 5000, 10000],
                        help="N at which GSVA (O(genes x N^2) kernel step) runs, both kernels "
                             "(100: gseapy's time there predicts whether it can finish at 500)")
    parser.add_argument("--gseapy-gsva-limit", type=float, default=600.0,
                        help="seconds gseapy.gsva may take at one N (predicted from N^2, then enforced)")
    parser.add_argument("--gseapy-gsva-max", type=int, default=5000,
                        help="largest N at which gseapy.gsva is tried")
    parser.add_argument("--kernels", nargs="+", choices=KERNELS, default=KERNELS,
                        help="GSVA kernels to run, in this order")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: N = 100 and 200 for everything (gseapy included)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_one(args.child[0], int(args.child[1]))))
        return
    if args.quick:
        args.sizes, args.gsva_sizes, args.gseapy_gsva_limit = [100, 200], [100, 200], 120.0
    print(f"{N_GENES:,} genes, {N_SETS} sets of 20-200 genes; times in seconds, peak RSS in MiB\n")
    print("| N | method | seconds | GSVA kernel step s | peak MiB (process) | MiB above input "
          "| vs gseapy | max rel. diff of ssGSEA ES | max abs diff of GSVA ES, ties as "
          "gseapy (as is) |")
    print("|---|---|---|---|---|---|---|---|---|")
    previous: dict = {}
    notes: list[str] = []
    for n in sorted(set(args.sizes) | set(args.gsva_sizes)):
        if n in args.sizes:
            _set_rows(n, args.gseapy_max)
        if n in args.gsva_sizes:
            for kernel in args.kernels:
                _gsva_rows(n, kernel, args, previous, notes)
    for note in notes:
        print(f"\n- {note}")


if __name__ == "__main__":
    main()

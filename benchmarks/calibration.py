"""Calibration of the pooled interval rules and of Firth intervals, by simulation.

Usage::

    python benchmarks/calibration.py                  # 10,000 replicates per cell, 2 workers
    python benchmarks/calibration.py --reps 500       # quicker (less precise)
    python benchmarks/calibration.py --workers 1 --firth-reps 0

Pooling part: for k = 2, 3, 5, 10 cohorts, each with n ~ U{25..150} patients, baseline pCR
rate ~ U(0.25, 0.50) (the intercept at score 0) and a standard-normal score, the cohort's true
log OR per SD is β + τ·N(0, 1) with β = 0 (type-I error) or log 0.6 (power) and τ = 0 or 0.3.
Each cohort is analysed as the pipeline does (``association.fit_logistic``): score z-scored
within the cohort, ``pcr ~ z`` by ``stats.logistic_fit``, Firth (``stats.firth_logistic_fit``)
when min(pCR, non-pCR) < 10 or ML fails, no fit when min(pCR, non-pCR) < 5. The log OR and SE
are pooled with ``meta.dersimonian_laird`` and ``meta.hksj``:

* ``HKSJ (new)``: DL estimate, HKSJ interval and p, t(k − 1) — the pipeline's reported rule;
* ``old rule``: HKSJ below k = 5, DL normal from k = 5;
* ``HKSJ trunc``: HKSJ with max(1, q);
* ``DL normal``: DL estimate with its normal interval.

Type-I error / power are rejection rates at α = 0.05; coverage is the share of pooled 95%
intervals containing β. k is the number of cohorts simulated; a replicate where fewer than two
cohorts could be fitted counts as not rejecting and not covering (the footer gives their number);
the ``k<`` column counts replicates where at least one cohort was not fitted, and the rules then
use the number fitted.

Firth part: single cohorts with n ~ U{15..30}, the same baseline and score, β = 0 or log 0.6,
fitted by ``stats.firth_logistic_fit`` when min(pCR, non-pCR) ≥ 5 (as the pipeline: fewer is
not fitted); coverage of β by the Wald interval (``Fit.wald``) and by the profile penalised-
likelihood interval (``Fit.inference``), and the rejection rate of each test at α = 0.05.

Seeds are fixed per cell and block (results do not depend on the number of workers).
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from multiprocessing import Pool
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # one BLAS thread per worker: tiny matrices, 2 workers

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from her2atlas import stats  # noqa: E402
from her2atlas.meta import dersimonian_laird, hksj  # noqa: E402

SEED = 20120601
BLOCK = 250
KS = (2, 3, 5, 10)
TAUS = (0.0, 0.3)
BETAS = (0.0, float(np.log(0.6)))
RULES = ("HKSJ (new)", "old rule", "HKSJ trunc", "DL normal")
MIN_EVENTS = 5
FIRTH_BELOW = 10


def simulate_cohort(rng: np.random.Generator, beta: float, n_range: tuple[int, int]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """One cohort: (score, pCR) with logit P(pCR) = logit(p0) + beta · score."""
    n = int(rng.integers(n_range[0], n_range[1] + 1))
    p0 = rng.uniform(0.25, 0.50)
    x = rng.standard_normal(n)
    eta = np.log(p0 / (1 - p0)) + beta * x
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(float)
    return x, y


def design(x: np.ndarray) -> np.ndarray:
    """Intercept and the score z-scored within the cohort (as ``association._zscore``)."""
    return np.column_stack([np.ones(len(x)), (x - x.mean()) / np.std(x, ddof=1)])


def fit_cohort(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(log OR per SD, SE) as the pipeline fits it, or None when it would not be fitted."""
    events = min(int(y.sum()), int(len(y) - y.sum()))
    if events < MIN_EVENTS:
        return None
    X = design(x)
    if events < FIRTH_BELOW:
        fit = stats.firth_logistic_fit(X, y)
    else:
        fit = stats.logistic_fit(X, y)
        if not fit.converged:
            fit = stats.firth_logistic_fit(X, y)
    b, s = float(fit.coef[1]), float(fit.se[1])
    return (b, s) if np.isfinite(b) and np.isfinite(s) and s > 0 else None


def rule_intervals(y: np.ndarray, v: np.ndarray) -> dict[str, tuple[float, float, float]]:
    """(lower, upper, p) on the log scale for each pooling rule."""
    dl = dersimonian_laird(y, v)
    new = hksj(y, v, dl["tau2"])
    trunc = hksj(y, v, dl["tau2"], truncate=True)
    normal = (dl["ci_low"], dl["ci_high"], dl["p"])
    out = {"HKSJ (new)": (new["ci_low"], new["ci_high"], new["p"]),
           "HKSJ trunc": (trunc["ci_low"], trunc["ci_high"], trunc["p"]),
           "DL normal": normal}
    out["old rule"] = out["HKSJ (new)"] if len(y) < 5 else normal
    return out


def pooled_block(args: tuple[int, int, float, float, int, int]) -> dict:
    """Rejections and coverage counts of one block of replicates of one cell."""
    cell, k, tau, beta, block, reps = args
    rng = np.random.default_rng(np.random.SeedSequence([SEED, cell, block]))
    counts = {r: [0, 0] for r in RULES}  # rejections, covered
    short = unpooled = 0
    for _ in range(reps):
        fits = []
        for _ in range(k):
            x, y = simulate_cohort(rng, beta + tau * rng.standard_normal(), (25, 150))
            res = fit_cohort(x, y)
            if res is not None:
                fits.append(res)
        short += len(fits) < k
        if len(fits) < 2:
            unpooled += 1
            continue
        b, s = np.array(fits).T
        for rule, (lo, hi, p) in rule_intervals(b, s**2).items():
            counts[rule][0] += p < 0.05
            counts[rule][1] += lo <= beta <= hi
    return {"cell": cell, "reps": reps, "counts": counts, "short": short, "unpooled": unpooled}


def firth_block(args: tuple[int, float, int, int]) -> dict:
    """Wald vs profile Firth interval coverage and rejections for one block of cohorts."""
    cell, beta, block, reps = args
    rng = np.random.default_rng(np.random.SeedSequence([SEED, 1000 + cell, block]))
    out = {"cell": cell, "fitted": 0, "skipped": 0, "wald": [0, 0], "profile": [0, 0]}
    for _ in range(reps):
        x, y = simulate_cohort(rng, beta, (15, 30))
        if min(y.sum(), len(y) - y.sum()) < MIN_EVENTS:
            out["skipped"] += 1
            continue
        fit = stats.firth_logistic_fit(design(x), y)
        out["fitted"] += 1
        for name, (_, lo, hi, p) in (("wald", fit.wald(1)), ("profile", fit.inference(1))):
            out[name][0] += p < 0.05
            out[name][1] += lo <= beta <= hi
    return out


def _blocks(reps: int) -> list[int]:
    return [min(BLOCK, reps - start) for start in range(0, reps, BLOCK)]


def run_pooled(reps: int, workers: int) -> list[dict]:
    """All cells of the pooling simulation, aggregated."""
    cells = [(k, tau, beta) for beta in BETAS for tau in TAUS for k in KS]
    jobs = [(i, k, tau, beta, b, n) for i, (k, tau, beta) in enumerate(cells)
            for b, n in enumerate(_blocks(reps))]
    with Pool(workers) as pool:
        parts = pool.map(pooled_block, jobs, chunksize=1)
    out = []
    for i, (k, tau, beta) in enumerate(cells):
        mine = [p for p in parts if p["cell"] == i]
        total = sum(p["reps"] for p in mine)
        counts = {r: [sum(p["counts"][r][j] for p in mine) / total for j in (0, 1)]
                  for r in RULES}
        out.append({"k": k, "tau": tau, "beta": beta, "reps": total, "counts": counts,
                    "short": sum(p["short"] for p in mine),
                    "unpooled": sum(p["unpooled"] for p in mine)})
    return out


def run_firth(reps: int, workers: int) -> list[dict]:
    """Firth Wald vs profile coverage at n 15–30, aggregated per β."""
    jobs = [(i, beta, b, n) for i, beta in enumerate(BETAS) for b, n in enumerate(_blocks(reps))]
    with Pool(workers) as pool:
        parts = pool.map(firth_block, jobs, chunksize=1)
    out = []
    for i, beta in enumerate(BETAS):
        mine = [p for p in parts if p["cell"] == i]
        fitted = sum(p["fitted"] for p in mine)
        out.append({"beta": beta, "fitted": fitted, "skipped": sum(p["skipped"] for p in mine),
                    **{m: [sum(p[m][j] for p in mine) / fitted for j in (0, 1)]
                       for m in ("wald", "profile")}})
    return out


def _mark(value: float, low: float, high: float) -> str:
    return f"{value:.3f}" + ("" if low <= value <= high else " ✗")


def print_pooled(results: list[dict]) -> None:
    """Markdown table: one row per cell, rejection rate and coverage per rule."""
    head = " | ".join(f"{r} reject | {r} cover" for r in RULES)
    print(f"| true OR | τ | k | reps | k< | {head} |")
    print("|" + "---|" * (5 + 2 * len(RULES)))
    for res in results:
        null = res["beta"] == 0
        cells = []
        for r in RULES:
            rej, cov = res["counts"][r]
            cells.append(_mark(rej, 0.035, 0.065) if null else f"{rej:.3f}")
            cells.append(_mark(cov, 0.94, 1.0))
        print(f"| {np.exp(res['beta']):.1f} | {res['tau']:.1f} | {res['k']} | {res['reps']:,} | "
              f"{res['short']} | " + " | ".join(cells) + " |")


def print_firth(results: list[dict]) -> None:
    """Markdown table of Firth Wald vs profile coverage and rejection rates."""
    print("| true OR | cohorts fitted | not fitted (<5 events) | Wald reject | Wald cover "
          "| profile reject | profile cover |")
    print("|---|---|---|---|---|---|---|")
    for res in results:
        null = res["beta"] == 0
        cols = []
        for m in ("wald", "profile"):
            rej, cov = res[m]
            cols += [_mark(rej, 0.035, 0.065) if null else f"{rej:.3f}", _mark(cov, 0.94, 1.0)]
        print(f"| {np.exp(res['beta']):.1f} | {res['fitted']:,} | {res['skipped']:,} | "
              + " | ".join(cols) + " |")


def main(argv: list[str] | None = None) -> None:
    """Parse options, run both simulations and print the tables."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=10000, help="replicates per pooling cell")
    ap.add_argument("--firth-reps", type=int, default=5000,
                    help="single cohorts per β for the Firth part (0 skips it)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    start = time.time()
    pooled = run_pooled(args.reps, args.workers)
    print(f"## Pooled intervals ({args.reps:,} replicates per cell; targets: type-I error "
          "0.035–0.065, coverage ≥ 0.94; ✗ = target missed)\n")
    print_pooled(pooled)
    print(f"\nReplicates with fewer than 2 cohorts fitted (not pooled): "
          f"{sum(r['unpooled'] for r in pooled)} of {sum(r['reps'] for r in pooled):,}")
    if args.firth_reps:
        fit = stats.firth_logistic_fit(design(np.arange(20.0)), np.r_[np.zeros(12), np.ones(8)])
        if not hasattr(fit, "inference"):
            print("\nFirth part pending: stats.Fit.inference (profile intervals) not available")
        else:
            print(f"\n## Firth intervals, n 15–30 ({args.firth_reps:,} cohorts per β)\n")
            print_firth(run_firth(args.firth_reps, args.workers))
    print(f"\n{time.time() - start:.0f} s, {args.workers} worker(s), seed {SEED}, "
          f"{platform.node() or 'machine'} ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}, numpy {np.__version__}")


if __name__ == "__main__":
    main()

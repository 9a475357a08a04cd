"""CPU of the per-gene models (``genes.gene_effects_cohort``): genes fitted together vs one by one.

Usage::

    python benchmarks/genes_models.py                 # SCAN-B-sized survival + pCR stand-ins
    python benchmarks/genes_models.py --genes 600

Synthetic noise cohorts in memory (no files): a survival cohort of 3,273 samples (SCAN-B's
size; ``os`` and ``rfs``, rounded times so risk sets have ties, design ``mixed``) and a pCR
cohort of 500 samples (``trastuzumab_treated``), each with ``--genes`` hypothesis genes (one
with missing values, so one gene always takes the per-gene path). Each cohort's table is made
both ways; the script reports CPU seconds (``time.process_time``, after one warm-up call that
loads the compiled kernels) and the largest relative difference over the numeric columns, and
fails if any text column (estimator, note …) differs.
"""

from __future__ import annotations

import argparse
import time

import anndata as ad
import numpy as np
import pandas as pd

from her2atlas import genes as gx
from her2atlas.signatures import Signature


def stand_in(n: int, g: int, *, pcr: bool, seed: int = 0) -> tuple[ad.AnnData, list[Signature]]:
    """A noise cohort of ``n`` samples × ``g`` genes, with pCR or two survival endpoints."""
    rng = np.random.default_rng(seed)
    X = rng.normal(8, 1.5, size=(n, g))
    X[:5, 3] = np.nan
    obs = {"her2_status": np.where(rng.random(n) < 0.9, "positive", "negative"),
           "er_status": np.where(rng.random(n) < 0.5, "positive", "negative"),
           "trastuzumab": pd.array(rng.random(n) < 0.5, dtype="boolean")}
    if pcr:
        p = 1 / (1 + np.exp(0.3 + 0.5 * (X[:, 0] - 8)))
        obs["pcr"] = pd.array((rng.random(n) < p).astype(int), dtype="Int8")
    else:
        for e in ("os", "rfs"):
            obs[f"{e}_time"] = np.round(rng.exponential(60 * np.exp(-0.3 * (X[:, 1] - 8)), n), 1)
            obs[f"{e}_event"] = pd.array((rng.random(n) < 0.3).astype(int), dtype="Int8")
    names = [f"G{i}" for i in range(g)]
    adata = ad.AnnData(X, obs=pd.DataFrame(obs, index=[f"S{i}" for i in range(n)]),
                       var=pd.DataFrame(index=names))
    sigs = [Signature("A", names[: g // 2], role="hypothesis"),
            Signature("B", names[g // 2:], role="hypothesis", down=names[:10])]
    return adata, sigs


def compare(fast: pd.DataFrame, slow: pd.DataFrame) -> float:
    """Largest relative difference of the numeric columns; raises if any other column differs."""
    worst = 0.0
    for column in slow.columns:
        a, b = fast[column], slow[column]
        if pd.api.types.is_float_dtype(b):
            a, b = a.to_numpy(float), b.to_numpy(float)
            if not np.array_equal(np.isnan(a), np.isnan(b)):
                raise AssertionError(f"{column}: missing values differ")
            ok = ~np.isnan(b)
            rel = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(b[ok]), 1e-300)
            worst = max(worst, float(rel.max(initial=0.0)))
        elif not (a.astype(str) == b.astype(str)).all():
            raise AssertionError(f"{column}: values differ")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--genes", type=int, default=1500)
    args = parser.parse_args()
    cases = {"survival (3,273 samples, os + rfs)": (3273, False, "mixed",
                                                    {"response": None,
                                                     "survival": ["os", "rfs"]}),
             "pCR (500 samples)": (500, True, "trastuzumab_treated",
                                   {"response": "pcr", "survival": []})}
    for label, (n, pcr, design, endpoints) in cases.items():
        adata, sigs = stand_in(n, args.genes, pcr=pcr)
        kw = {"cohort": "c", "design": design, "endpoints": endpoints}
        gx.gene_effects_cohort(adata[:, :20].copy(), sigs, **kw)  # warm-up: compiled kernels
        tables, cpu = {}, {}
        for fast in (False, True):
            t0 = time.process_time()
            tables[fast] = gx.gene_effects_cohort(adata, sigs, fast=fast, **kw)
            cpu[fast] = time.process_time() - t0
        worst = compare(tables[True], tables[False])
        print(f"{label}, {args.genes} genes, {len(tables[True])} rows: per gene "
              f"{cpu[False]:.2f} s CPU, together {cpu[True]:.2f} s "
              f"({cpu[False] / cpu[True]:.1f}×); largest relative difference {worst:.1e}")


if __name__ == "__main__":
    main()

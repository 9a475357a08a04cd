"""Deterministic synthetic demo cohorts with a planted IL-6/stemness → non-pCR association.

Everything here is SYNTHETIC: made-up patients, generated from a fixed seed, so the demo report
shows a visible effect and the pipeline can run offline. Three cohorts exercise three unit
conventions (raw counts, log2 microarray, log2 FPKM) and both endpoints (pCR and survival).
"""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path

IL6_LOOP = ["IL6", "IL6R", "IL6ST", "JAK1", "JAK2", "STAT3", "NFKB1", "RELA", "SOCS3"]
STEM = ["ALDH1A1", "CD44", "SOX2", "NANOG", "POU5F1", "KLF4", "PROM1", "BMI1", "NOTCH1", "JAG1",
        "ITGA6", "LIN28A", "SALL4", "MYC", "TWIST1", "SNAI2", "ZEB1", "VIM", "NES", "ABCG2"]
IMMUNE = ["GZMA", "PRF1", "CD8A", "CD2", "CD3E", "CXCL9", "CXCL10", "IFNG"]
PROLIF = ["BIRC5", "CCNB1", "CDC20", "NUF2", "CEP55", "NDC80", "MKI67", "PTTG1", "RRM2",
          "TYMS", "UBE2C"]
ERBB2_AMPLICON = ["ERBB2", "GRB7", "PGAP3", "STARD3", "TCAP", "PNMT", "MIEN1", "ORMDL3", "PSMD3",
                  "MED1"]
LUMINAL = ["ESR1", "PGR", "GATA3", "FOXA1", "XBP1", "TFF1", "AGR2", "CA12", "SCUBE2", "NAT1"]
N_FILLER = 1500

COHORTS = {
    "demo_neoadjuvant_a": {"n": 140, "units": "counts", "endpoint": "pcr", "her2_frac": 1.0,
                           "seed": 11},
    "demo_neoadjuvant_b": {"n": 90, "units": "log2", "endpoint": "pcr", "her2_frac": 1.0,
                           "seed": 22},
    "demo_adjuvant_c": {"n": 220, "units": "log2_fpkm", "endpoint": "os", "her2_frac": 0.55,
                        "seed": 33},
    "demo_neoadjuvant_d": {"n": 110, "units": "tpm", "endpoint": "pcr", "her2_frac": 1.0,
                           "seed": 44},
    "demo_neoadjuvant_e": {"n": 100, "units": "log2", "endpoint": "pcr", "her2_frac": 1.0,
                           "seed": 55},
}


def gene_universe() -> list[str]:
    """Signature genes plus neutral filler genes named DEMO0001…"""
    named = IL6_LOOP + STEM + IMMUNE + PROLIF + ERBB2_AMPLICON + LUMINAL
    return named + [f"DEMO{i:04d}" for i in range(1, N_FILLER + 1)]


def make_cohort(name: str, spec: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (genes × samples expression in the cohort's units, clinical table) for a demo cohort.

    ``spec`` (n, units, endpoint, her2_frac, seed) defaults to the built-in demo cohort ``name``;
    benchmarks pass their own to make cohorts of any size.
    """
    spec = spec or COHORTS[name]
    rng = np.random.default_rng(spec["seed"])
    n = spec["n"]
    genes = gene_universe()
    g = len(genes)
    inflam = rng.normal(size=n)   # the planted IL-6/stem programme
    immune = rng.normal(size=n)
    prolif = rng.normal(size=n)
    her2 = rng.random(n) < spec["her2_frac"]
    er = rng.random(n) < 0.45
    base = rng.normal(6.0, 1.5, size=g)
    log2 = base[:, None] + rng.normal(0, 0.6, size=(g, n))
    idx = {gene: i for i, gene in enumerate(genes)}
    for gene in IL6_LOOP + STEM:
        log2[idx[gene]] += 0.9 * inflam + 0.3 * immune
    for gene in IMMUNE:
        log2[idx[gene]] += 1.0 * immune
    for gene in PROLIF:
        log2[idx[gene]] += 0.9 * prolif
    for gene in ERBB2_AMPLICON:
        log2[idx[gene]] += 2.5 * her2
    for gene in LUMINAL:
        log2[idx[gene]] += 2.0 * er
    samples = [f"{name.upper()}_{i:03d}" for i in range(1, n + 1)]
    clinical = pd.DataFrame({
        "sample_id": samples,
        "her2": np.where(her2, "HER2+", "HER2-"),
        "er": np.where(er, "ER+", "ER-"),
        "treatment": np.where(her2, "chemotherapy + trastuzumab", "chemotherapy"),
    })
    if spec["endpoint"] == "pcr":
        logit = -0.2 - 1.1 * inflam + 0.5 * immune + 0.3 * prolif - 0.6 * er
        pcr = rng.random(n) < 1 / (1 + np.exp(-logit))
        clinical["response"] = np.where(pcr, "pCR", "RD")
        missing = rng.choice(n, size=3, replace=False)
        clinical.loc[missing, "response"] = "NA"
    else:
        hazard = 0.01 * np.exp(0.6 * inflam - 0.3 * immune + 0.3 * her2)
        event_time = rng.exponential(1 / hazard)
        censor = rng.uniform(24, 150, size=n)
        clinical["os_months"] = np.round(np.minimum(event_time, censor), 2)
        clinical["os_event"] = (event_time <= censor).astype(int)
    if spec["units"] == "counts":
        library = rng.uniform(2e7, 6e7, size=n)
        frac = np.exp2(log2)
        frac /= frac.sum(axis=0)
        values = rng.poisson(frac * library).astype(np.int64)
        matrix = pd.DataFrame(values, index=genes, columns=samples)
    elif spec["units"] == "log2_fpkm":
        matrix = pd.DataFrame(np.round(log2 - 2.0, 3), index=genes, columns=samples)
    elif spec["units"] == "tpm":
        tpm = np.exp2(log2)
        matrix = pd.DataFrame(np.round(tpm / tpm.sum(axis=0) * 1e6, 4), index=genes,
                              columns=samples)
    else:
        matrix = pd.DataFrame(np.round(log2, 4), index=genes, columns=samples)
    matrix.index.name = "gene"
    return matrix, clinical


def demo_gmt() -> str:
    """A small GMT of demo gene sets, served through the same file layer as MSigDB files."""
    rows = [
        ("DEMO_STEMNESS_SYNTHETIC", "synthetic demo stemness set", STEM),
        ("DEMO_NEUTRAL_SYNTHETIC", "synthetic demo set of neutral genes",
         [f"DEMO{i:04d}" for i in range(1, 41)]),
    ]
    return "".join(f"{n}\t{d}\t" + "\t".join(genes) + "\n" for n, d, genes in rows)


def demo_weights() -> str:
    """Synthetic stemness weights (TSV gene, weight) standing in for the mRNAsi weights."""
    rng = np.random.default_rng(44)
    genes = gene_universe()
    weights = rng.normal(0, 0.01, len(genes))
    for i, gene in enumerate(genes):
        if gene in STEM:
            weights[i] += 0.05
    return "gene\tweight\n" + "".join(f"{g}\t{w:.6g}\n" for g, w in zip(genes, weights,
                                                                         strict=True))


def _write_if_changed(path: Path, data: bytes) -> None:
    if path.is_file() and path.read_bytes() == data:
        return  # keep mtimes so that Snakemake does not rerun anything
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_cohort_files(out_dir: str | Path, name: str, spec: dict) -> None:
    """Write one synthetic cohort's expression (.tsv.gz) and clinical table under out_dir/name."""
    matrix, clin = make_cohort(name, spec)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(matrix.to_csv(sep="\t").encode())
    _write_if_changed(Path(out_dir) / name / "expression.tsv.gz", buffer.getvalue())
    _write_if_changed(Path(out_dir) / name / "clinical.tsv",
                      clin.to_csv(sep="\t", index=False).encode())


def write_demo(out_dir: str | Path) -> list[Path]:
    """Write every demo cohort (expression .tsv.gz + clinical .tsv) and the demo GMT.

    Output is byte-identical on every call (gzip timestamps fixed), so reruns change nothing.
    """
    out_dir = Path(out_dir)
    written = []
    for name in COHORTS:
        matrix, clin = make_cohort(name)
        buffer = io.BytesIO()
        with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
            gz.write(matrix.to_csv(sep="\t").encode())
        paths = {out_dir / name / "expression.tsv.gz": buffer.getvalue(),
                 out_dir / name / "clinical.tsv": clin.to_csv(sep="\t", index=False).encode()}
        for path, data in paths.items():
            _write_if_changed(path, data)
            written.append(path)
    gmt = out_dir / "demo_signatures.gmt"
    _write_if_changed(gmt, demo_gmt().encode())
    written.append(gmt)
    weights = out_dir / "demo_weights.tsv"
    _write_if_changed(weights, demo_weights().encode())
    written.append(weights)
    readme = out_dir / "README.txt"
    _write_if_changed(readme, b"SYNTHETIC demo data generated by `her2atlas demo-data`. "
                      b"Not real patients.\n")
    return written

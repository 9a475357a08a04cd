"""Deterministic synthetic demo cohorts with a planted IL-6/stemness → non-pCR association.

Everything here is SYNTHETIC: made-up patients, generated from a fixed seed, so the demo report
shows a visible effect and the pipeline can run offline. The cohorts exercise four unit
conventions (raw counts, log2 microarray, log2 FPKM, TPM), both endpoints (pCR and survival) and
every trial design of the pipeline:

- five trastuzumab-treated cohorts (A, B, D, E with pCR; C with overall survival);
- ``demo_randomised_f``: randomised chemotherapy ± trastuzumab with a planted
  score × trastuzumab interaction (effect in the trastuzumab arm only);
- ``demo_three_arm_g``: a three-arm anti-HER2 trial (TH, TL, THL) with the effect in the
  trastuzumab-containing arms and a weak one under lapatinib alone.

Every tumour also gets a planted PAM50 subtype pattern over dedicated ``DEMO_PAM50_*`` genes,
matching the synthetic centroid table :func:`demo_pam50_centroids`, so nearest-centroid calls
are recoverable; HER2-enriched tumours have a higher pCR rate under trastuzumab (the positive
control) and not without it.

Planted pCR model, per arm (``inflam`` = the latent IL-6/stem programme, N(0, 1))::

    logit P(pCR) = intercept + il6 * inflam + immune * immune_latent + 0.3 * prolif - 0.6 * ER
                   + her2e * [PAM50 HER2-enriched] + const

The HER2-E term is planted by drawing the subtype given the pCR outcome (odds ratio ``exp(her2e)``
between pCR and residual disease), which is the same joint law as the additive logit term above
(Bayes), and leaves the pCR draws of the original five cohorts unchanged.

Each planted programme gene has a mirror gene (``DEMO_BAL_*``) at the same base level that moves
the opposite way, so that rank-based scores of the neutral gene set stay neutral
(see :func:`_balance_block`).
"""

from __future__ import annotations

import gzip
import io
import math
from dataclasses import dataclass, field
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

PAM50_SUBTYPES = ("Basal", "Her2", "LumA", "LumB", "Normal")
#: Dedicated synthetic PAM50 genes: 10 per subtype block, in PAM50_SUBTYPES order.
PAM50_GENES = [f"DEMO_PAM50_{i:02d}" for i in range(1, 51)]
#: log2 amplitude with which a tumour's centroid column is added to its PAM50 genes.
PAM50_AMPLITUDE = 1.0
#: P(HER2-enriched) of a HER2+ tumour with residual disease (pCR cohorts) or of any HER2+
#: tumour (survival cohorts); the pCR tumours get odds × exp(arm.her2e).
HER2E_BASE = {"pcr": 0.28, "other": 0.45}
#: Subtype mix of HER2+ tumours that are not HER2-enriched, and of HER2- tumours.
OTHER_SUBTYPES_HER2POS = {"Basal": 0.20, "LumA": 0.25, "LumB": 0.35, "Normal": 0.20}
SUBTYPES_HER2NEG = {"Basal": 0.25, "Her2": 0.05, "LumA": 0.35, "LumB": 0.25, "Normal": 0.10}
LOG_OR_HER2E = math.log(4.0)
#: Mirror genes of the planted programmes (see _balance_block), in programme-gene order.
BALANCE_GENES = [f"DEMO_BAL_{g}" for g in IL6_LOOP + STEM + IMMUNE + PROLIF + ERBB2_AMPLICON
                 + LUMINAL]


@dataclass(frozen=True)
class Arm:
    """One treatment arm of a synthetic cohort and its planted pCR model.

    Attributes
    ----------
    label
        Arm label written to the clinical table (``arm`` column); "" for single-arm cohorts.
    fraction
        Share of the cohort's patients randomised to the arm.
    trastuzumab
        Whether the arm contains trastuzumab.
    anti_her2
        Anti-HER2 agent(s) of the arm ("none" without one).
    intercept, il6, immune
        Intercept and log OR of pCR per SD of the latent IL-6/stem and immune programmes.
    her2e
        log OR of pCR for a PAM50 HER2-enriched tumour vs any other subtype.
    """

    label: str = ""
    fraction: float = 1.0
    trastuzumab: bool = True
    anti_her2: str = "trastuzumab"
    intercept: float = -0.2
    il6: float = -1.1
    immune: float = 0.5
    her2e: float = LOG_OR_HER2E


#: The single-arm, trastuzumab-treated pCR model of cohorts A, B, D and E.
TREATED = Arm()

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
    # randomised 1:1, chemotherapy + trastuzumab (CT+H) vs chemotherapy (CT): the IL-6/stem
    # programme lowers pCR under trastuzumab only (score-level log OR per SD about -0.9 vs 0)
    "demo_randomised_f": {
        "n": 260, "units": "log2", "endpoint": "pcr", "her2_frac": 1.0, "seed": 223,
        "arms": (Arm("CT+H", 0.5, True, "trastuzumab", -0.2, il6=-1.35, immune=0.5),
                 Arm("CT", 0.5, False, "none", -0.8, il6=0.0, immune=0.0, her2e=0.0))},
    # three arms 1:1:1: trastuzumab (TH, reference), lapatinib (TL), both (THL)
    "demo_three_arm_g": {
        "n": 240, "units": "log2", "endpoint": "pcr", "her2_frac": 1.0, "seed": 191,
        "arms": (Arm("TH", 1 / 3, True, "trastuzumab", -0.2),
                 Arm("TL", 1 / 3, False, "lapatinib", -0.5, il6=-0.3, immune=0.5,
                     her2e=math.log(2.0)),
                 Arm("THL", 1 / 3, True, "trastuzumab+lapatinib", 0.2))},
}


@dataclass
class DemoCohort:
    """A simulated cohort: what the pipeline reads plus the latent truth that generated it.

    Attributes
    ----------
    matrix
        Genes × samples expression in the cohort's units.
    clinical
        The clinical table written to ``clinical.tsv``.
    truth
        Per sample (index = sample id): latent programmes ``inflam``, ``immune``, ``prolif``,
        ``er``, ``her2`` (bool), ``arm``, ``trastuzumab`` (bool), planted ``pam50`` subtype and
        the true ``pcr`` outcome (before labels are masked as missing; absent for survival).
    """

    matrix: pd.DataFrame
    clinical: pd.DataFrame
    truth: pd.DataFrame = field(default_factory=pd.DataFrame)


def _base_genes() -> list[str]:
    """Signature genes plus neutral filler genes named DEMO0001… (no PAM50 genes)."""
    named = IL6_LOOP + STEM + IMMUNE + PROLIF + ERBB2_AMPLICON + LUMINAL
    return named + [f"DEMO{i:04d}" for i in range(1, N_FILLER + 1)]


def gene_universe() -> list[str]:
    """Every gene of a demo expression matrix: signature, filler, DEMO_PAM50_* and DEMO_BAL_*."""
    return _base_genes() + PAM50_GENES + BALANCE_GENES


def pam50_centroid_matrix() -> pd.DataFrame:
    """Synthetic PAM50 centroids (genes × subtypes), rounded as written to the TSV.

    Gene block ``k`` (10 genes) is high (1.2) in subtype ``k`` and low (-0.3) elsewhere, plus a
    fixed jitter (sd 0.25), so subtypes are distinct but not trivially so.
    """
    rng = np.random.default_rng(50)
    block = np.repeat(np.arange(len(PAM50_SUBTYPES)), len(PAM50_GENES) // len(PAM50_SUBTYPES))
    values = np.where(block[:, None] == np.arange(len(PAM50_SUBTYPES))[None, :], 1.2, -0.3)
    values = np.round(values + rng.normal(0, 0.25, size=values.shape), 6)
    return pd.DataFrame(values, index=PAM50_GENES, columns=list(PAM50_SUBTYPES))


def demo_pam50_centroids() -> str:
    """The synthetic centroid table in genefu's layout (that of genefu_pam50_robust_centroids.tsv).

    Columns ``probe, probe.centroids, EntrezGene.ID, Basal, Her2, LumA, LumB, Normal``; the
    synthetic genes have no Entrez id (``NA``).
    """
    cent = pam50_centroid_matrix()
    table = pd.DataFrame({"probe": cent.index, "probe.centroids": cent.index,
                          "EntrezGene.ID": "NA"})
    table = pd.concat([table, cent.reset_index(drop=True)], axis=1)
    return table.to_csv(sep="\t", index=False, float_format="%.6f")


def _programme_shifts(inflam: np.ndarray, immune: np.ndarray, prolif: np.ndarray,
                      her2: np.ndarray, er: np.ndarray) -> dict[str, np.ndarray]:
    """Per-gene log2 shift (per sample) of every planted programme gene."""
    shifts: dict[str, np.ndarray] = {}
    for gene in IL6_LOOP + STEM:
        shifts[gene] = 0.9 * inflam + 0.3 * immune
    for gene in IMMUNE:
        shifts[gene] = 1.0 * immune
    for gene in PROLIF:
        shifts[gene] = 0.9 * prolif
    for gene in ERBB2_AMPLICON:
        shifts[gene] = 2.5 * her2
    for gene in LUMINAL:
        shifts[gene] = 2.0 * er
    return shifts


def _balance_block(rng: np.random.Generator, base: np.ndarray, idx: dict[str, int],
                   shifts: dict[str, np.ndarray]) -> np.ndarray:
    """Mirror genes (DEMO_BAL_*): each programme gene's base level, shifted the other way.

    Rank-based scores (singscore, ssGSEA, GSVA) of a neutral gene set otherwise pick up the
    inverse of every planted programme: when 29 IL-6/stem genes rise in a sample, every other
    gene's within-sample rank falls a little, and 40 averaged neutral genes show it (correlation
    about -0.14 with the programme). A mirror gene at the same base level falling by the same
    amount cancels that in expectation, so the neutral set stays neutral for every method.
    """
    genes = list(shifts)
    rows = np.array([base[idx[g]] for g in genes])[:, None] - np.array(list(shifts.values()))
    return rows + rng.normal(0, 0.6, size=rows.shape)


def _assign_arms(rng: np.random.Generator, n: int, arms: tuple[Arm, ...]) -> np.ndarray:
    """Randomise ``n`` patients to arms in the arms' proportions (block, then permuted)."""
    counts = [int(round(a.fraction * n)) for a in arms]
    counts[-1] = n - sum(counts[:-1])
    index = np.repeat(np.arange(len(arms)), counts)
    return rng.permutation(index)


def _arm_coefficients(arms: tuple[Arm, ...], arm_index: np.ndarray) -> dict[str, np.ndarray]:
    """Per-sample pCR-model coefficients (intercept, il6, immune, her2e) from the arm index."""
    return {name: np.array([getattr(a, name) for a in arms])[arm_index]
            for name in ("intercept", "il6", "immune", "her2e")}


def _draw_subtypes(rng: np.random.Generator, her2: np.ndarray, pcr: np.ndarray | None,
                   her2e_log_or: np.ndarray) -> np.ndarray:
    """Planted PAM50 subtypes: HER2-E more likely among pCR tumours by odds ``exp(her2e)``."""
    n = len(her2)
    if pcr is None:
        p_her2e = np.full(n, HER2E_BASE["other"])
    else:
        base_logit = math.log(HER2E_BASE["pcr"] / (1 - HER2E_BASE["pcr"]))
        p_her2e = 1 / (1 + np.exp(-(base_logit + her2e_log_or * pcr)))
    is_her2e = rng.random(n) < p_her2e
    others = rng.choice(list(OTHER_SUBTYPES_HER2POS), size=n,
                        p=list(OTHER_SUBTYPES_HER2POS.values()))
    negative = rng.choice(list(SUBTYPES_HER2NEG), size=n, p=list(SUBTYPES_HER2NEG.values()))
    return np.where(her2, np.where(is_her2e, "Her2", others), negative)


def _pam50_block(rng: np.random.Generator, subtypes: np.ndarray) -> np.ndarray:
    """log2 expression of the DEMO_PAM50_* genes carrying each tumour's centroid pattern."""
    cent = pam50_centroid_matrix()
    g, n = len(PAM50_GENES), len(subtypes)
    base = rng.normal(6.0, 1.5, size=g)
    noise = rng.normal(0, 0.6, size=(g, n))
    return base[:, None] + noise + PAM50_AMPLITUDE * cent[list(subtypes)].to_numpy()


def _to_units(rng: np.random.Generator, log2: np.ndarray, units: str, genes: list[str],
              samples: list[str]) -> pd.DataFrame:
    """Convert log2 expression to the cohort's units (counts, log2 FPKM, TPM or log2)."""
    if units == "counts":
        library = rng.uniform(2e7, 6e7, size=log2.shape[1])
        frac = np.exp2(log2)
        frac /= frac.sum(axis=0)
        matrix = pd.DataFrame(rng.poisson(frac * library).astype(np.int64), index=genes,
                              columns=samples)
    elif units == "log2_fpkm":
        matrix = pd.DataFrame(np.round(log2 - 2.0, 3), index=genes, columns=samples)
    elif units == "tpm":
        tpm = np.exp2(log2)
        matrix = pd.DataFrame(np.round(tpm / tpm.sum(axis=0) * 1e6, 4), index=genes,
                              columns=samples)
    else:
        matrix = pd.DataFrame(np.round(log2, 4), index=genes, columns=samples)
    matrix.index.name = "gene"
    return matrix


def simulate(name: str, spec: dict | None = None) -> DemoCohort:
    """Simulate one demo cohort: expression, clinical table and the latent truth.

    Parameters
    ----------
    name
        Cohort id (sample ids are ``NAME_001``…).
    spec
        ``n, units, endpoint, her2_frac, seed`` and optionally ``arms`` (a tuple of
        :class:`Arm`); defaults to the built-in demo cohort ``name``. Without ``arms`` the
        HER2+ patients are trastuzumab-treated with the :data:`TREATED` model.

    Returns
    -------
    DemoCohort
        The random streams of the original single-arm cohorts are unchanged: the PAM50 block
        and subtypes come from a second generator seeded ``[seed, 50]``.
    """
    spec = spec or COHORTS[name]
    rng = np.random.default_rng(spec["seed"])
    n = spec["n"]
    genes = _base_genes()
    g = len(genes)
    inflam = rng.normal(size=n)   # the planted IL-6/stem programme
    immune = rng.normal(size=n)
    prolif = rng.normal(size=n)
    her2 = rng.random(n) < spec["her2_frac"]
    er = rng.random(n) < 0.45
    base = rng.normal(6.0, 1.5, size=g)
    log2 = base[:, None] + rng.normal(0, 0.6, size=(g, n))
    idx = {gene: i for i, gene in enumerate(genes)}
    shifts = _programme_shifts(inflam, immune, prolif, her2, er)
    for gene, shift in shifts.items():
        log2[idx[gene]] += shift
    arms = spec.get("arms")
    arm_index = _assign_arms(rng, n, arms) if arms else np.zeros(n, dtype=int)
    arms = arms or (TREATED,)
    coef = _arm_coefficients(arms, arm_index)
    samples = [f"{name.upper()}_{i:03d}" for i in range(1, n + 1)]
    clinical = pd.DataFrame({
        "sample_id": samples,
        "her2": np.where(her2, "HER2+", "HER2-"),
        "er": np.where(er, "ER+", "ER-"),
    })
    if spec.get("arms"):
        clinical["arm"] = [arms[i].label for i in arm_index]
        treated = np.array([arms[i].trastuzumab for i in arm_index])
    else:
        clinical["treatment"] = np.where(her2, "chemotherapy + trastuzumab", "chemotherapy")
        treated = her2.copy()
    truth = pd.DataFrame({"inflam": inflam, "immune": immune, "prolif": prolif, "er": er,
                          "her2": her2, "arm": [arms[i].label for i in arm_index],
                          "trastuzumab": treated}, index=samples)
    pcr = None
    if spec["endpoint"] == "pcr":
        logit = (coef["intercept"] + coef["il6"] * inflam + coef["immune"] * immune
                 + 0.3 * prolif - 0.6 * er)
        pcr = rng.random(n) < 1 / (1 + np.exp(-logit))
        truth["pcr"] = pcr.astype(int)
        clinical["response"] = np.where(pcr, "pCR", "RD")
        missing = rng.choice(n, size=3, replace=False)
        clinical.loc[missing, "response"] = "NA"
    else:
        hazard = 0.01 * np.exp(0.6 * inflam - 0.3 * immune + 0.3 * her2)
        event_time = rng.exponential(1 / hazard)
        censor = rng.uniform(24, 150, size=n)
        clinical["os_months"] = np.round(np.minimum(event_time, censor), 2)
        clinical["os_event"] = (event_time <= censor).astype(int)
    rng_pam50 = np.random.default_rng([spec["seed"], 50])
    subtypes = _draw_subtypes(rng_pam50, her2, pcr, coef["her2e"])
    truth["pam50"] = subtypes
    balance = _balance_block(np.random.default_rng([spec["seed"], 60]), base, idx, shifts)
    log2 = np.vstack([log2, _pam50_block(rng_pam50, subtypes), balance])
    matrix = _to_units(rng, log2, spec["units"], genes + PAM50_GENES + BALANCE_GENES, samples)
    return DemoCohort(matrix=matrix, clinical=clinical, truth=truth)


def make_cohort(name: str, spec: dict | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (genes × samples expression in the cohort's units, clinical table) for a demo cohort.

    ``spec`` (n, units, endpoint, her2_frac, seed, optional arms) defaults to the built-in demo
    cohort ``name``; benchmarks pass their own to make cohorts of any size.
    """
    cohort = simulate(name, spec)
    return cohort.matrix, cohort.clinical


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
    genes = _base_genes()  # the PAM50 genes carry no weight (absent = not used)
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


def write_cohort_files(out_dir: str | Path, name: str, spec: dict | None = None) -> list[Path]:
    """Write one synthetic cohort's expression (.tsv.gz) and clinical table under out_dir/name.

    ``spec`` defaults to the built-in demo cohort ``name``; returns the two paths.
    """
    matrix, clin = make_cohort(name, spec)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz:
        gz.write(matrix.to_csv(sep="\t").encode())
    paths = {Path(out_dir) / name / "expression.tsv.gz": buffer.getvalue(),
             Path(out_dir) / name / "clinical.tsv": clin.to_csv(sep="\t", index=False).encode()}
    for path, data in paths.items():
        _write_if_changed(path, data)
    return list(paths)


def write_demo(out_dir: str | Path) -> list[Path]:
    """Write every demo cohort (expression .tsv.gz + clinical .tsv), the demo GMT, the
    synthetic stemness weights and the synthetic PAM50 centroids.

    Output is byte-identical on every call (gzip timestamps fixed), so reruns change nothing.
    """
    out_dir = Path(out_dir)
    written: list[Path] = []
    for name in COHORTS:
        written += write_cohort_files(out_dir, name)
    gmt = out_dir / "demo_signatures.gmt"
    _write_if_changed(gmt, demo_gmt().encode())
    written.append(gmt)
    centroids = out_dir / "demo_pam50_centroids.tsv"
    _write_if_changed(centroids, demo_pam50_centroids().encode())
    written.append(centroids)
    weights = out_dir / "demo_weights.tsv"
    _write_if_changed(weights, demo_weights().encode())
    written.append(weights)
    readme = out_dir / "README.txt"
    _write_if_changed(readme, b"SYNTHETIC demo data generated by `her2atlas demo-data`. "
                      b"Not real patients.\n")
    return written

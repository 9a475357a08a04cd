"""SYNTHETIC stand-ins with the real shapes of the default cohorts (for the scale benchmark).

``benchmarks/pipeline.py --public-scale`` times the whole default analysis at its real size
without the real data: for every cohort of the config it writes a ``files`` cohort with that
cohort's number of samples and genes, expression units, endpoints, design and HER2+ fraction,
read from the cohort's manifest (``expected:`` counts, ``platform``, ``expression.units``,
``endpoints``, ``design``, ``clinical.fields``). Where a manifest asserts no count, the number
documented in the manifest's own text (or, for gene counts, the platform's annotation) is used
and the shape says so in ``notes``. Everything written here is random noise around per-gene
levels: the timings are real, the results mean nothing.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path

#: Genes per platform after probe → symbol collapse. GPL570/96/6947/10558: distinct symbols of
#: the platform in ../shared/data/GPL_annotation/bioc_probe2symbol_human.tsv.gz (counted
#: 2026-12-05); the others are typical sizes (not in that table; approximate).
PLATFORM_GENES = {
    "GPL570": (20188, "distinct symbols in the Bioconductor probe table"),
    "GPL96": (12403, "distinct symbols in the Bioconductor probe table"),
    "GPL6947": (19236, "distinct symbols in the Bioconductor probe table"),
    "GPL10558": (20937, "distinct symbols in the Bioconductor probe table"),
    "GPL6480": (19000, "approximate (Agilent 4x44K; not in the probe table)"),
    "GPL5325": (19000, "approximate (not in the probe table)"),
    "GPL14951": (19000, "approximate (Illumina HT-12 WG-DASL v4; not in the probe table)"),
    "Illumina HT-12 v3": (24368, "approximate: cBioPortal brca_metabric mRNA rows"),
    "Illumina RNA-seq (RSEM)": (20531, "approximate: TCGA PanCancer RSEM gene rows"),
    "Illumina RNA-seq": (30865, "approximate: GSE96058 gene rows"),
}
DEFAULT_GENES = 20000

#: Numbers for cohorts whose manifest asserts no sample count, taken from the manifest's text
#: (``title``, ``unverified``, ``expected_clinical``) or, where it has none, stated here.
DOCUMENTED = {
    "gse130788_trio_b07": {"samples": 110, "source": "companion series GSE130786: 110 samples "
                           "(manifest 'unverified'); baseline count unknown"},
    "metabric": {"samples": 1904, "her2_frac": 247 / 1980,
                 "source": "about 1,900 samples with expression (issue #13; the "
                 "manifest asserts none); HER2+ fraction from expected_clinical 247 of 1,980"},
    "tcga_brca_pancan": {"samples": 1082, "her2_frac": 164 / 1090,
                         "source": "PanCancer Atlas BRCA mRNA samples (approximate; the "
                         "manifest asserts none); HER2+ fraction IHC-positive patients in the "
                         "mirror's TCGA-BRCA labels (164 of 1,090; ISH calls of IHC 2+ not "
                         "counted)"},
    "scanb_gse96058": {"samples": 3273, "her2_frac": 42 / 400,
                       "source": "3,273 tumours (manifest title); HER2+ fraction of the "
                       "400-sample offline subset (42 of 400); the 136 technical replicates "
                       "the real file also holds are not simulated"},
}
#: HER2+ fraction where neither the manifest nor DOCUMENTED gives one.
DEFAULT_HER2_FRAC = 0.5


@dataclass
class CohortShape:
    """The shape of one cohort as the pipeline sees it.

    Attributes
    ----------
    id, design, units
        Manifest id, design tag and expression units (``auto`` read as log2: GEO arrays).
    samples, genes
        Samples after the manifest's filter and genes after probe collapse.
    her2_frac
        Share of HER2+ samples; None when the manifest maps no HER2 status.
    pcr, survival
        Whether pCR is an endpoint; the survival endpoints (e.g. ``["os", "dss"]``).
    trastuzumab_frac
        Share of trastuzumab-treated patients in a randomised cohort (the CT+H arm).
    pam50
        Whether the manifest maps a published PAM50 column.
    notes
        Where a number did not come from the manifest's ``expected:`` / ``platform``.
    """

    id: str
    design: str
    units: str
    samples: int
    genes: int
    her2_frac: float | None
    pcr: bool
    survival: list[str]
    trastuzumab_frac: float = 0.5
    pam50: bool = False
    notes: list[str] = field(default_factory=list)


def _her2_frac(doc: dict, expected: dict, notes: list[str]) -> float | None:
    her2 = doc.get("clinical", {}).get("fields", {}).get("her2_status")
    if her2 is None:
        notes.append("no HER2 status mapped (as in the manifest)")
        return None
    if her2.get("value") == "positive":
        return 1.0
    if "her2_positive" in expected and expected.get("samples"):
        return expected["her2_positive"] / expected["samples"]
    documented = DOCUMENTED.get(doc["id"], {})
    if "her2_frac" in documented:
        return documented["her2_frac"]
    notes.append(f"HER2+ fraction not documented: {DEFAULT_HER2_FRAC} assumed")
    return DEFAULT_HER2_FRAC


def shape_from_manifest(doc: dict) -> CohortShape:
    """Read a cohort's shape from its manifest (see the module docstring for the fallbacks).

    Parameters
    ----------
    doc
        The parsed manifest (``workflow/cohorts/<id>.yaml``).

    Returns
    -------
    CohortShape
        ``notes`` lists every number that is not an ``expected:`` count of the manifest.
    """
    notes: list[str] = []
    expected = doc.get("expected") or {}
    documented = DOCUMENTED.get(doc["id"], {})
    samples = expected.get("samples") or documented.get("samples")
    if samples is None:
        raise ValueError(f"workflow/cohorts/{doc['id']}.yaml: no expected.samples and no "
                         f"documented count in her2atlas.scale.DOCUMENTED; add one there")
    if "samples" not in expected:
        notes.append(f"samples: {documented['source']}")
    platform = str(doc.get("platform", ""))
    genes, gene_source = PLATFORM_GENES.get(platform, (DEFAULT_GENES, "platform unknown"))
    notes.append(f"genes ({platform or 'no platform'}): {genes:,}, {gene_source}")
    units = (doc.get("expression") or {}).get("units", "auto")
    endpoints = doc.get("endpoints") or {}
    trastuzumab = expected.get("trastuzumab")
    frac = trastuzumab / expected["samples"] if trastuzumab and expected.get("samples") else 0.5
    return CohortShape(
        id=doc["id"], design=doc.get("design", "trastuzumab_treated"),
        units="log2" if units == "auto" else units, samples=int(samples), genes=genes,
        her2_frac=_her2_frac(doc, expected, notes), pcr=endpoints.get("response") == "pcr",
        survival=list(endpoints.get("survival") or []), trastuzumab_frac=frac,
        pam50="pam50" in doc.get("clinical", {}).get("fields", {}), notes=notes)


def scaled(shape: CohortShape, fraction: float, minimum: int = 20) -> CohortShape:
    """The same shape with ``fraction`` of the samples (at least ``minimum``); genes unchanged."""
    samples = max(minimum, int(round(shape.samples * fraction)))
    return CohortShape(**{**shape.__dict__, "samples": min(samples, shape.samples),
                          "notes": list(shape.notes)})


def gene_names(named: list[str], n_genes: int) -> list[str]:
    """``n_genes`` gene names: the signature genes first (deduplicated), then ``FILL00001``…

    The signature genes make every default set score; when the platform has fewer genes than
    there are named genes, the first ``n_genes`` named ones are kept.
    """
    unique = list(dict.fromkeys(named))[:n_genes]
    return unique + [f"FILL{i:05d}" for i in range(1, n_genes - len(unique) + 1)]


def _seed(cohort: str) -> int:
    return zlib.crc32(cohort.encode())


def clinical_table(shape: CohortShape, samples: list[str],
                   rng: np.random.Generator) -> pd.DataFrame:
    """The stand-in's clinical table: HER2, ER, arm/treatment, pCR or survival, PAM50."""
    n = len(samples)
    clin = pd.DataFrame({"sample_id": samples})
    her2 = rng.random(n) < (shape.her2_frac if shape.her2_frac is not None else 0.0)
    if shape.her2_frac is not None:
        clin["her2"] = np.where(her2, "HER2+", "HER2-")
    clin["er"] = np.where(rng.random(n) < 0.45, "ER+", "ER-")
    if shape.design == "randomised_trastuzumab":
        clin["arm"] = np.where(rng.random(n) < shape.trastuzumab_frac, "CT+H", "CT")
    elif shape.design == "multi_arm_anti_her2":
        clin["arm"] = rng.choice(["TH", "TL", "THL"], size=n)
    else:
        clin["treatment"] = np.where(her2, "chemotherapy + trastuzumab", "chemotherapy")
    if shape.pcr:
        clin["response"] = np.where(rng.random(n) < 0.35, "pCR", "RD")
    for endpoint in shape.survival:
        event_time = rng.exponential(120.0, size=n)
        censor = rng.uniform(24, 150, size=n)
        clin[f"{endpoint}_months"] = np.round(np.minimum(event_time, censor), 2)
        clin[f"{endpoint}_event"] = (event_time <= censor).astype(int)
    if shape.pam50:
        clin["pam50"] = rng.choice(["Basal", "Her2", "LumA", "LumB", "Normal"], size=n)
    return clin


def expression_matrix(shape: CohortShape, genes: list[str], samples: list[str],
                      rng: np.random.Generator) -> pd.DataFrame:
    """Genes × samples noise around per-gene log2 levels, in the shape's units (3 decimals)."""
    base = rng.normal(6.0, 1.5, size=len(genes)).astype(np.float32)
    log2 = base[:, None] + rng.standard_normal((len(genes), len(samples)), dtype=np.float32) * 0.6
    if shape.units == "counts":
        frac = np.exp2(log2.astype(np.float64))
        values = rng.poisson(frac / frac.sum(axis=0) * 3e7)
    elif shape.units == "tpm":
        tpm = np.exp2(log2.astype(np.float64))
        values = np.round(tpm / tpm.sum(axis=0) * 1e6, 3)
    elif shape.units == "log2_fpkm":
        values = np.round(log2 - 2.0, 3)
    else:
        values = np.round(log2, 3)
    frame = pd.DataFrame(values, index=pd.Index(genes, name="gene"), columns=samples)
    return frame


def _field(column: str, mapping: dict | None = None) -> dict:
    out: dict = {"table": "clin", "column": column}
    if mapping:
        out["map"] = mapping
    return out


def _treatment_fields(shape: CohortShape) -> dict:
    if shape.design == "randomised_trastuzumab":
        return {"arm": _field("arm"), "trastuzumab": _field("arm", {"CT+H": True, "CT": False}),
                "anti_her2": _field("arm", {"CT+H": "trastuzumab", "CT": "none"})}
    if shape.design == "multi_arm_anti_her2":
        return {"arm": _field("arm"),
                "trastuzumab": _field("arm", {"TH": True, "THL": True, "TL": False}),
                "anti_her2": _field("arm", {"TH": "trastuzumab", "TL": "lapatinib",
                                            "THL": "trastuzumab+lapatinib"})}
    if shape.design == "not_trastuzumab_treated":
        return {"trastuzumab": {"value": False}, "anti_her2": {"value": "none"}}
    if shape.design == "treatment_unrecorded":
        return {}
    return {"trastuzumab": _field("treatment", {"chemotherapy + trastuzumab": True,
                                                "chemotherapy": False})}


def stand_in_manifest(shape: CohortShape, clin: pd.DataFrame) -> dict:
    """A ``files`` manifest for the stand-in, with ``expected`` counts of the written data."""
    fields = {"er_status": _field("er", {"ER+": "positive", "ER-": "negative"})}
    if shape.her2_frac is not None:
        fields["her2_status"] = _field("her2", {"HER2+": "positive", "HER2-": "negative"})
    fields.update(_treatment_fields(shape))
    if shape.pcr:
        fields["pcr"] = _field("response", {"pCR": 1, "RD": 0})
    for endpoint in shape.survival:
        fields[f"{endpoint}_time"] = {**_field(f"{endpoint}_months"), "unit": "months"}
        fields[f"{endpoint}_event"] = _field(f"{endpoint}_event")
    if shape.pam50:
        fields["pam50"] = _field("pam50")
    endpoints: dict = {}
    if shape.pcr:
        endpoints["response"] = "pcr"
    if shape.survival:
        endpoints["survival"] = list(shape.survival)
    expected = {"samples": len(clin)}
    if shape.her2_frac is not None:
        expected["her2_positive"] = int((clin["her2"] == "HER2+").sum())
    return {
        "id": shape.id, "title": f"SYNTHETIC stand-in with the shape of {shape.id}",
        "citation": "Synthetic data (her2atlas.scale); not real patients.", "synthetic": True,
        "source": {"kind": "files", "description": "; ".join(shape.notes)},
        "design": shape.design,
        "files": [{"name": "expression.tsv.gz", "path": f"{shape.id}/expression.tsv.gz"},
                  {"name": "clinical.tsv", "path": f"{shape.id}/clinical.tsv"}],
        "expression": {"files": ["expression.tsv.gz"], "orientation": "genes_by_samples",
                       "gene_column": "gene", "units": shape.units},
        "clinical": {"tables": {"clin": {"file": "clinical.tsv", "id_column": "sample_id"}},
                     "fields": fields},
        "endpoints": endpoints, "expected": expected,
    }


def write_stand_in(out_dir: str | Path, shape: CohortShape, named_genes: list[str]) -> dict:
    """Write a stand-in's expression.tsv.gz and clinical.tsv under ``out_dir/<id>/``.

    Parameters
    ----------
    out_dir
        The data root of the stand-ins.
    shape
        The cohort's shape (use :func:`scaled` for a smaller run).
    named_genes
        Genes to include first (the signature genes of the config, :func:`gene_names`).

    Returns
    -------
    dict
        The stand-in's manifest (:func:`stand_in_manifest`); seeded by the cohort id, so the
        same shape gives the same files.
    """
    rng = np.random.default_rng(_seed(shape.id))
    samples = [f"{shape.id.upper()}_{i:05d}" for i in range(1, shape.samples + 1)]
    clin = clinical_table(shape, samples, rng)
    matrix = expression_matrix(shape, gene_names(named_genes, shape.genes), samples, rng)
    folder = Path(out_dir) / shape.id
    with atomic_path(folder / "expression.tsv.gz") as tmp:
        with gzip.open(tmp, "wt", compresslevel=1) as handle:  # fast: the data are noise
            matrix.to_csv(handle, sep="\t", float_format="%.3f")
    with atomic_path(folder / "clinical.tsv") as tmp:
        clin.to_csv(tmp, sep="\t", index=False)
    return stand_in_manifest(shape, clin)


def _find(roots: list[Path], rel: str, what: str) -> Path:
    for root in roots:
        if (root / rel).is_file():
            return root / rel
    raise FileNotFoundError(f"{what}: '{rel}' is under none of the data roots "
                            f"{[str(r) for r in roots]}; add the folder that holds it to "
                            f"data_roots (the default config points at ../shared/data)")


def signature_genes(config: dict, roots: list[Path]) -> list[str]:
    """Every gene the config's signatures, weights and PAM50 centroids name, in config order.

    Parameters
    ----------
    config
        The merged config (``signatures`` and ``pam50`` sections).
    roots
        Data roots to find the GMT, weight and centroid files under (``path`` entries).
    """
    sig = config["signatures"]
    wanted: dict[str, set[str]] = {}
    for sel in sig.get("select", []):
        wanted.setdefault(sel["collection"], set()).update(
            s for s in (sel["set"], sel.get("down_set")) if s)
    genes: list[str] = []
    for coll in sig.get("collections", []):
        gmt = _find(roots, coll["path"], f"signatures.collections {coll['id']}")
        for line in gmt.read_text().splitlines():
            parts = line.split("\t")
            if parts[0] in wanted.get(coll["id"], ()):
                genes += [g for g in parts[2:] if g]
    for custom in sig.get("custom", []):
        genes += custom["genes"]
    for weights in sig.get("weights", []):
        path = _find(roots, weights["file"]["path"], f"signatures.weights {weights['name']}")
        genes += pd.read_csv(path, sep="\t")[weights.get("gene_column", "gene")].astype(str).tolist()
    centroids = config.get("pam50", {}).get("centroids")
    if centroids:
        path = _find(roots, centroids["path"], "pam50.centroids")
        genes += pd.read_csv(path, sep="\t")["probe"].astype(str).tolist()
    return list(dict.fromkeys(genes))

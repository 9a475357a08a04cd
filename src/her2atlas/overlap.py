"""One patient counts once: stop a run whose configured cohorts share samples or patients.

Two checks, both naming both cohorts and the fix:

* :func:`check_manifests` (when the workflow starts): two configured cohorts drawn from the
  same source (GEO series, cBioPortal study, accession) must declare one a ``subset_of`` the
  other, so the parent alone is pooled.
* :func:`check_samples` (after the cohorts are built, before the meta-analysis): no sample id
  and no patient id may appear in two configured cohorts unless one is a declared subset of
  the other. This catches a copy of a cohort re-expanded under another id.
"""

from __future__ import annotations

from itertools import combinations

import pandas as pd

from .errors import Her2AtlasError

FIX = ("drop one of the two from 'cohorts', or declare the smaller one a subset of the other "
       "(subset_of: <parent id> in its manifest): the parent is then pooled and the subset is "
       "reported but not pooled")


def source_key(manifest: dict) -> str:
    """The source a manifest reads (GEO series, cBioPortal study or accession), lower case."""
    if "geo" in manifest:
        return f"geo:{manifest['geo']['series']}".lower()
    if "cbioportal" in manifest:
        return f"cbioportal:{manifest['cbioportal']['study']}".lower()
    accession = (manifest.get("source") or {}).get("accession", "")
    return f"accession:{accession}".lower().split(" ")[0] if accession else ""


def _related(a: str, b: str, manifests: dict[str, dict]) -> bool:
    return manifests[a].get("subset_of") == b or manifests[b].get("subset_of") == a


def _accession(manifest: dict) -> str:
    key = source_key(manifest)
    return key.split(":", 1)[1] if key else ""


def check_manifests(manifests: dict[str, dict], *, file: str = "config.yaml") -> None:
    """Stop when two configured cohorts read the same source and neither is a declared subset.

    Parameters
    ----------
    manifests
        Cohort id → loaded manifest, for the configured cohorts.
    file
        The config file named in the error.
    """
    problems = []
    for a, b in combinations(sorted(manifests), 2):
        acc_a, acc_b = _accession(manifests[a]), _accession(manifests[b])
        if acc_a and acc_a == acc_b and not _related(a, b, manifests):
            problems.append(f"{a} and {b} both read {acc_a.upper()}")
    if problems:
        raise Her2AtlasError(
            "the same patients would be analysed twice: " + "; ".join(problems),
            file=file, field="cohorts", fix=FIX)


def _ids(obs: pd.DataFrame) -> dict[str, set[str]]:
    out = {"sample": set(map(str, obs.index))}
    if "patient_id" in obs:
        out["patient"] = {str(p) for p in obs["patient_id"].dropna()}
    return out


def check_samples(obs_by_cohort: dict[str, pd.DataFrame], manifests: dict[str, dict]
                  ) -> pd.DataFrame:
    """Shared sample and patient ids between every pair of cohorts; raise on undeclared overlap.

    Returns
    -------
    pandas.DataFrame
        One row per cohort pair: ``cohort_a, cohort_b, shared_samples, shared_patients,
        relation`` (``subset`` when declared, else ``independent``).
    """
    ids = {c: _ids(obs) for c, obs in obs_by_cohort.items()}
    rows, problems = [], []
    for a, b in combinations(sorted(ids), 2):
        samples = ids[a]["sample"] & ids[b]["sample"]
        patients = ids[a].get("patient", set()) & ids[b].get("patient", set())
        related = _related(a, b, manifests)
        rows.append({"cohort_a": a, "cohort_b": b, "shared_samples": len(samples),
                     "shared_patients": len(patients),
                     "relation": "subset" if related else "independent"})
        if (samples or patients) and not related:
            example = sorted(samples or patients)[:5]
            problems.append(f"{a} and {b} share {len(samples)} sample id(s) and "
                            f"{len(patients)} patient id(s) (e.g. {', '.join(example)})")
    if problems:
        raise Her2AtlasError("the same patients appear in two cohorts: " + "; ".join(problems),
                             field="cohorts", fix=FIX)
    return pd.DataFrame(rows, columns=["cohort_a", "cohort_b", "shared_samples",
                                       "shared_patients", "relation"])

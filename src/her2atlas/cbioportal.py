"""cBioPortal web API client: study version, clinical attributes and mRNA expression.

Writes the study as cBioPortal data files (the format of the study archives and of
``data_clinical_patient.txt``/``data_clinical_sample.txt``), so the cohort stage reads API
downloads and archive copies alike:

* ``study.json`` — the study record (name, citation, import date = the study version);
* ``data_clinical_patient.txt`` / ``data_clinical_sample.txt`` — one row per patient / sample,
  one column per clinical attribute (four ``#`` header lines as in cBioPortal files);
* ``data_mrna.txt`` — ``Hugo_Symbol``, ``Entrez_Gene_Id`` and one column per sample.

Every file is written atomically; requests go through :func:`her2atlas.fetch.download`
(retries, backoff, timeouts).
"""

from __future__ import annotations

import json
import tempfile
import urllib.request
from pathlib import Path

import pandas as pd

from .atomic import atomic_path, write_text
from .errors import Her2AtlasError
from .fetch import download

DEFAULT_URL = "https://www.cbioportal.org"


def _get_json(url: str):
    with tempfile.TemporaryDirectory() as tmp:
        path = download(url, Path(tmp) / "response.json", progress=False)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise Her2AtlasError(f"answer is not JSON ({exc})", field=url,
                                 fix="check cbioportal_url in config.yaml") from exc


def _post_json(url: str, body: dict, *, timeout: float = 120.0):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Accept": "application/json",
                                              "User-Agent": "her2atlas"})
    last: Exception | None = None
    for _ in range(4):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.loads(response.read().decode())
        except (OSError, json.JSONDecodeError) as exc:  # includes URLError/HTTPError
            last = exc
            if getattr(exc, "code", 500) < 500 and getattr(exc, "code", 500) != 429:
                break
    raise Her2AtlasError(f"POST failed: {last}", field=url,
                         fix="check the network and cbioportal_url in config.yaml")


def _pivot(records: list[dict], id_key: str) -> pd.DataFrame:
    if not records:
        return pd.DataFrame(columns=[id_key])
    frame = pd.DataFrame(records)
    table = frame.pivot_table(index=id_key, columns="clinicalAttributeId", values="value",
                              aggfunc="first")
    table.columns.name = None
    return table.reset_index()


def _write_clinical(table: pd.DataFrame, path: Path) -> None:
    """cBioPortal clinical file: 4 '#' header lines (display name, description, type, priority)."""
    columns = list(table.columns)
    header = ["#" + "\t".join(columns)] * 2 + ["#" + "\t".join(["STRING"] * len(columns)),
                                                "#" + "\t".join(["1"] * len(columns))]
    body = table.to_csv(sep="\t", index=False, na_rep="")
    write_text(path, "\n".join(header) + "\n" + body)


def fetch_study(study: str, out_dir: str | Path, *, base_url: str = DEFAULT_URL,
                expression_profile: str = "mrna", genes: list[str] | None = None) -> dict:
    """Download one study through the API into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    study
        Study id, e.g. ``brca_metabric`` or ``brca_tcga_pan_can_atlas_2018``.
    out_dir
        ``data/raw/{cohort}/``.
    base_url
        cBioPortal instance.
    expression_profile
        Suffix of the molecular profile id to use (``{study}_{suffix}``), e.g. ``mrna`` or
        ``mrna_median_all_sample_Zscores``; the profile must be MRNA_EXPRESSION.
    genes
        Hugo symbols to fetch (default: every gene the instance knows).

    Returns
    -------
    dict
        The study record, with ``importDate`` as the study version.
    """
    api = base_url.rstrip("/") + "/api"
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    record = _get_json(f"{api}/studies/{study}")
    if not isinstance(record, dict) or record.get("studyId") != study:
        raise Her2AtlasError(f"study {study!r} not found", field="cbioportal.study",
                             fix="check the study id on the cBioPortal instance")
    patients = _get_json(f"{api}/studies/{study}/clinical-data?clinicalDataType=PATIENT"
                         "&projection=SUMMARY&pageSize=10000000")
    samples = _get_json(f"{api}/studies/{study}/clinical-data?clinicalDataType=SAMPLE"
                        "&projection=SUMMARY&pageSize=10000000")
    patient_table = _pivot(patients, "patientId").rename(columns={"patientId": "PATIENT_ID"})
    sample_frame = pd.DataFrame(samples)
    sample_table = _pivot(samples, "sampleId").rename(columns={"sampleId": "SAMPLE_ID"})
    if len(sample_frame):
        owners = sample_frame.drop_duplicates("sampleId").set_index("sampleId")["patientId"]
        sample_table.insert(1, "PATIENT_ID", sample_table["SAMPLE_ID"].map(owners))
    _write_clinical(patient_table, out_dir / "data_clinical_patient.txt")
    _write_clinical(sample_table, out_dir / "data_clinical_sample.txt")

    profiles = _get_json(f"{api}/studies/{study}/molecular-profiles")
    profile_id = f"{study}_{expression_profile}"
    profile = next((p for p in profiles if p.get("molecularProfileId") == profile_id), None)
    if profile is None or profile.get("molecularAlterationType") != "MRNA_EXPRESSION":
        available = [p.get("molecularProfileId") for p in profiles
                     if p.get("molecularAlterationType") == "MRNA_EXPRESSION"]
        raise Her2AtlasError(f"no mRNA profile {profile_id!r}", field="cbioportal.profile",
                             fix=f"use one of: {', '.join(available) or '(none)'}")
    gene_records = _get_json(f"{api}/genes?pageSize=10000000&projection=SUMMARY")
    symbol_of = {g["entrezGeneId"]: g["hugoGeneSymbol"] for g in gene_records}
    wanted = [e for e, s in symbol_of.items() if genes is None or s in set(genes)]
    data = _post_json(f"{api}/molecular-profiles/{profile_id}/molecular-data/fetch"
                      "?projection=SUMMARY",
                      {"sampleListId": f"{study}_all", "entrezGeneIds": wanted})
    frame = pd.DataFrame(data)
    if frame.empty:
        raise Her2AtlasError("the expression profile returned no values",
                             field=profile_id, fix="check the profile and sample list")
    matrix = frame.pivot_table(index="entrezGeneId", columns="sampleId", values="value",
                               aggfunc="first")
    matrix.insert(0, "Hugo_Symbol", [symbol_of.get(e, "") for e in matrix.index])
    matrix.index.name = "Entrez_Gene_Id"
    matrix = matrix.reset_index()[["Hugo_Symbol", "Entrez_Gene_Id",
                                   *[c for c in matrix.columns if c not in
                                     ("Hugo_Symbol", "Entrez_Gene_Id")]]]
    with atomic_path(out_dir / "data_mrna.txt") as tmp:
        matrix.to_csv(tmp, sep="\t", index=False, float_format="%.6g")
    record["profile"] = profile_id
    record["n_patients"] = int(len(patient_table))
    record["n_samples"] = int(len(sample_table))
    write_text(out_dir / "study.json", json.dumps(record, indent=1, sort_keys=True) + "\n")
    return record

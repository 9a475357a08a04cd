"""The run's tables, read once for every page of the report."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..association import Settings
from ..cohort import plain
from ..signatures import read_catalogue
from .tables import read_results


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


@dataclass
class ReportData:
    """Everything the pages are built from (per-cohort lists follow ``cohorts``)."""

    inputs: dict
    cohorts: list[str]
    config: dict
    primary: dict | None
    catalogue: list
    catalogue_frame: pd.DataFrame
    settings: Settings
    responses: list[pd.DataFrame]
    survivals: list[pd.DataFrame]
    coverages: list[pd.DataFrame]
    concordances: list[pd.DataFrame]
    nulls: list[pd.DataFrame]
    meta_response: pd.DataFrame
    meta_survival: pd.DataFrame

    @property
    def per_cohort(self) -> pd.DataFrame:
        """All per-cohort statistics rows (pCR and survival)."""
        return _concat(self.responses + self.survivals)

    @property
    def meta(self) -> pd.DataFrame:
        """All pooled rows (pCR and survival)."""
        return _concat([self.meta_response, self.meta_survival])

    @property
    def method(self) -> str:
        """The scoring method of the summary figures and tables (the primary's)."""
        return (self.primary or {}).get("method", "zmean")

    @property
    def endpoint_families(self) -> dict | None:
        """``meta.endpoint_families`` of the configuration (None: the defaults)."""
        return (self.config.get("meta") or {}).get("endpoint_families")

    def qc(self, i: int) -> dict:
        """The i-th cohort's QC JSON (counts, PAM50 calls, expression quantiles)."""
        return json.loads(Path(self.inputs["qc"][i]).read_text(encoding="utf-8"))

    def cohort(self, i: int) -> tuple[pd.DataFrame, dict, np.ndarray]:
        """obs, provenance and expression matrix of the i-th cohort."""
        import anndata as ad

        adata = ad.read_h5ad(self.inputs["cohorts"][i])
        return adata.obs.copy(), plain(dict(adata.uns["provenance"])), np.asarray(adata.X)


def load(inputs: dict, cohorts: list[str], config: dict, primary: dict | None) -> ReportData:
    """Read the catalogue and every result table named in ``inputs``."""
    n = len(cohorts)
    return ReportData(
        inputs=inputs, cohorts=cohorts, config=config, primary=primary,
        catalogue=read_catalogue(inputs["catalogue"]),
        catalogue_frame=pd.read_csv(inputs["catalogue"], sep="\t", dtype=str,
                                    keep_default_na=False),
        settings=Settings.from_config(config.get("association")),
        responses=[read_results(p) for p in inputs["response"]],
        survivals=[read_results(p) for p in inputs["survival"]],
        coverages=[read_results(p) for p in inputs["coverage"]],
        concordances=[read_results(p) for p in inputs.get("concordance", [])]
        or [pd.DataFrame()] * n,
        nulls=[read_results(p) for p in inputs.get("null", [])] or [pd.DataFrame()] * n,
        meta_response=read_results(inputs["meta_response"]),
        meta_survival=read_results(inputs["meta_survival"]))

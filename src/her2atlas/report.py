"""The self-contained HTML report: index, one page per cohort, one page per signature.

All CSS, JavaScript and images are inline; nothing is fetched when the report is viewed.
Every string that comes from data is HTML-escaped by Jinja2's autoescaping.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from . import __version__, figures, stats
from .association import Settings, subgroups
from .atomic import atomic_path, write_text, write_tsv
from .clinical import as_float_array
from .cohort import plain
from .signatures import read_catalogue

PRIMARY_MODELS = {"pcr": "logistic"}
FIGURE_QUESTIONS = ("within_trastuzumab", "prognosis")
INTERVAL_RULE = ("DerSimonian–Laird estimate with the Hartung–Knapp–Sidik–Jonkman interval, "
                 "t with k − 1 df, at every k")
SOFTWARE = ["her2atlas", "snakemake", "numpy", "pandas", "scipy", "anndata", "statsmodels",
            "lifelines", "gseapy", "matplotlib", "jinja2"]


_POOL = None  # a ProcessPoolExecutor while build_report runs with workers > 1


class LazyFigure:
    """A figure rendered in a worker process; ``str()`` waits for and returns its data URI."""

    def __init__(self, future) -> None:
        self._future = future
        self._value: str | None = None

    def __str__(self) -> str:
        if self._value is None:
            self._value = self._future.result()
        return self._value


def _lazy(func, *args, **kwargs):
    """Render ``func(*args, **kwargs)`` in the pool if one is running, else right away."""
    if _POOL is None:
        return func(*args, **kwargs)
    return LazyFigure(_POOL.submit(func, *args, **kwargs))


@dataclass
class Table:
    """Columns and pre-formatted cells for the ``data_table`` macro."""

    columns: list[str]
    rows: list[list[dict]] = field(default_factory=list)


def fmt(value, digits: int = 3) -> str:
    """Format a number for display (NA for missing)."""
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "NA"
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e5):
            return f"{value:.{digits - 1}e}"
        return f"{value:.{digits}g}"
    return str(value)


def to_table(frame: pd.DataFrame, columns: list[str] | None = None) -> Table:
    """Turn a DataFrame into a :class:`Table` (numeric columns right-aligned and sortable)."""
    columns = columns or list(frame.columns)
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
               for c in columns]
    table = Table(columns)
    for record in frame[columns].itertuples(index=False):
        cells = []
        for value, is_num in zip(record, numeric, strict=True):
            missing = value is None or (isinstance(value, float) and np.isnan(value))
            if is_num:
                cells.append({"text": "NA" if missing else fmt(value), "num": True,
                              "v": "" if missing else value})
            else:  # missing text (an empty note or reason) shows as blank
                cells.append({"text": "" if missing else fmt(value), "num": False, "v": ""})
        table.rows.append(cells)
    return table


TEXT_COLUMNS = ("note", "direction", "formula", "reason", "missing_genes", "cohorts", "subgroup",
                "question", "role", "stratum", "covariates", "ci_method", "era", "endpoints",
                "cohort_effects", "interval")


def read_results(path: str | Path) -> pd.DataFrame:
    """Read a result TSV; text columns that happen to be all empty stay text, not float NaN."""
    frame = pd.read_csv(path, sep="\t")
    for column in TEXT_COLUMNS:
        if column in frame:
            frame[column] = frame[column].astype(object).where(frame[column].notna(), "")
    return frame


def ratio(value: float) -> str:
    """An OR/HR for text: 3 significant digits, never a rounded-down 0.00."""
    return "NA" if not np.isfinite(value) else f"{value:.3g}"


def effect_ci(row) -> str:
    """'0.62 (0.41–0.93)' or NA."""
    if not np.isfinite(row["effect"]):
        return "NA"
    return f"{ratio(row['effect'])} ({ratio(row['ci_low'])}–{ratio(row['ci_high'])})"


def _results_view(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["cohort"])
    view = frame.copy()
    view["effect (95% CI)"] = [effect_ci(r) for _, r in view.iterrows()]
    keep = ["analysis", "cohort", "stratum", "subgroup", "signature", "method", "endpoint",
            "model", "estimator", "n", "events", "effect_type", "effect (95% CI)", "ci_method",
            "p", "q", "direction", "ph_p", "note", "formula", "covariates"]
    return view[[c for c in keep if c in view.columns]]


def _meta_view(frame: pd.DataFrame) -> pd.DataFrame:
    if frame.empty:
        return pd.DataFrame(columns=["signature"])
    view = frame.copy()
    view["effect (95% CI)"] = [effect_ci(r) for _, r in view.iterrows()]
    view["prediction interval"] = [
        f"{r['pi_low']:.2f}–{r['pi_high']:.2f}" if np.isfinite(r["pi_low"]) else "NA"
        for _, r in view.iterrows()]
    view["leave-one-out range"] = [
        f"{r['loo_min']:.2f}–{r['loo_max']:.2f}" if np.isfinite(r["loo_min"]) else "NA"
        for _, r in view.iterrows()]
    view["DL normal CI"] = [
        f"{r['dl_ci_low']:.2f}–{r['dl_ci_high']:.2f}" if np.isfinite(r["dl_ci_low"]) else "NA"
        for _, r in view.iterrows()]
    view["HKSJ q < 1"] = view["hksj_q_below_1"].map(
        lambda v: "yes" if str(v) == "True" else "")
    keep = ["analysis", "stratum", "signature", "role", "method", "endpoint", "endpoints",
            "model", "k", "cohorts", "n_total", "events_total", "effect_type", "effect (95% CI)",
            "interval", "p", "q", "HKSJ q < 1", "hksj_q", "DL normal CI", "tau2_dl",
            "tau2_pm", "i2", "q_p", "prediction interval", "leave-one-out range",
            "cohort_effects", "direction", "note"]
    return view[[c for c in keep if c in view.columns]]


ADJUSTMENT_MODELS = (("", "unadjusted"), ("_adj", "+ clinical"),
                     ("_adj_controls", "+ clinical + control scores"))


def adjustment_table(per_cohort: pd.DataFrame, method: str, *,
                     endpoint_families: dict | None = None) -> pd.DataFrame:
    """Pooled effects side by side (unadjusted, + clinical, + control scores) over the same cohorts.

    Per stratum, endpoint family and signature, only cohorts with an estimate from all three
    models enter any column (:func:`her2atlas.meta.compare_models`), so the columns differ only
    by the adjustment.
    """
    from . import meta

    columns = ["stratum", "signature", "role", "endpoint", "cohorts", "k",
               *[label for _, label in ADJUSTMENT_MODELS], "note"]
    if per_cohort.empty:
        return pd.DataFrame(columns=columns)
    rows = per_cohort[per_cohort["method"] == method]
    compared = [meta.compare_models([rows], *[base + s for s, _ in ADJUSTMENT_MODELS],
                                    endpoint_families=endpoint_families)
                for base in ("logistic", "cox")]
    compared = pd.concat([c for c in compared if not c.empty] or compared, ignore_index=True)
    out = []
    for _, grp in compared.groupby(["question", "era", "endpoint", "signature"], sort=False):
        first = grp.iloc[0]
        row = {"stratum": first["stratum"], "signature": first["signature"],
               "role": first["role"], "endpoint": first["endpoint"],
               "cohorts": first["cohorts"], "k": first["k"],
               "note": first["note"] if isinstance(first["note"], str) else ""}
        for suffix, label in ADJUSTMENT_MODELS:
            hit = grp[grp["model"].str.fullmatch(r"(logistic|cox)" + suffix)]
            row[label] = effect_ci(hit.iloc[0]) if len(hit) else "NA"
        out.append(row)
    return pd.DataFrame(out, columns=columns)


FOREST_MODELS = ("logistic", "cox", "interaction")


def _forest_section(sig, per_cohort: pd.DataFrame, meta_response: pd.DataFrame,
                    meta_survival: pd.DataFrame) -> dict | None:
    """Forest plots of one signature: one per evidence stratum, endpoint family and model."""
    meta = pd.concat([meta_response, meta_survival], ignore_index=True)
    if per_cohort.empty or meta.empty:
        return None
    meta = meta[(meta["signature"] == sig.name) & meta["model"].isin(FOREST_MODELS)]
    section = {"name": sig.name, "title": f"{sig.name} ({sig.role})", "figures": []}
    for (question, era, family, model), pooled in meta.groupby(
            ["question", "era", "endpoint", "model"], sort=False):
        endpoints = {e for text in pooled["endpoints"].dropna().astype(str)
                     for e in text.split(",") if e} or {family}
        rows = per_cohort[(per_cohort["signature"] == sig.name)
                          & (per_cohort["question"] == question) & (per_cohort["era"] == era)
                          & (per_cohort["model"] == model) & per_cohort["endpoint"].isin(endpoints)
                          & per_cohort["pooled"].astype(bool)]
        if rows.empty:
            continue
        effect = pooled["effect_type"].iloc[0]
        label = f"{effect} ({family})"
        stratum = pooled["stratum"].iloc[0]
        section["figures"].append({
            "uri": _lazy(figures.forest, rows, pooled, title=f"{sig.name}: {label}\n{stratum}",
                         xlabel=label),
            "alt": f"Forest plot of {sig.name} {label}, {stratum}",
            "caption": f"{label}, {stratum}: per-cohort estimates (95% CI) and, per scoring "
                       f"method, the pooled diamond ({INTERVAL_RULE}; k in the label)."})
    return section if section["figures"] else None


GENE_VIEW_COLUMNS = ["leading_rank", "gene", "part", "model", "k", "effect (95% CI)", "p", "q",
                     "leading", "score_effect", "note"]


def _gene_section(signature: str, paths: list[str]) -> dict | None:
    """Leading genes and a gene × cohort heatmap of the within-trastuzumab pCR stratum."""
    from . import genes

    path = next((p for p in paths if Path(p).stem == signature), None)
    if path is None or not Path(path).is_file():
        return None
    table = read_results(path)
    if table.empty:
        return None
    lead = genes.leading_genes(table, top=20)
    lead = lead[lead["model"] == "logistic"] if "model" in lead else lead
    view = lead.assign(**{"effect (95% CI)": [effect_ci(r) for _, r in lead.iterrows()]})
    figs = []
    matrix = genes.gene_cohort_matrix(table, genes=list(lead["gene"].head(30)) or None)
    if not matrix.empty:
        matrix = matrix.head(30)
        figs.append({"uri": _lazy(figures.effect_heatmap, matrix,
                                  pd.DataFrame("", index=matrix.index, columns=matrix.columns),
                                  title=f"{signature}: per-gene log OR per SD (pCR)",
                                  label="log OR per SD (orange: more pCR)"),
                     "alt": f"Gene by cohort heatmap of {signature} per-gene effects on pCR",
                     "caption": "Per-gene log OR per SD for pCR within trastuzumab-treated "
                                "patients (unadjusted logistic, gene z-scored within the analysed "
                                "samples), per cohort and pooled (DL with HKSJ interval); rows: "
                                "leading genes first."})
    return {"table": to_table(view[[c for c in GENE_VIEW_COLUMNS if c in view]]) if len(view)
            else None, "figures": figs, "source": f"../genes/{signature}.tsv",
            "rule": f"{genes.__name__}.leading_genes: genes whose pooled effect points the way of "
                    "the signature's pooled score effect, ranked by |z|; 'leading' = pooled "
                    f"p < {genes.LEADING_P}"}


def save_figures(figs: dict[str, dict], directory: Path) -> None:
    """Write every figure as a PNG (for Snakemake's report); names are file-safe."""
    import base64
    import re

    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.png"):
        old.unlink()
    for name, fig in figs.items():
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)
        with atomic_path(directory / f"{safe}.png") as tmp:
            tmp.write_bytes(base64.b64decode(str(fig["uri"]).split(",", 1)[1]))


def software_versions() -> pd.DataFrame:
    """Installed versions of the packages the pipeline uses."""
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in SOFTWARE:
        try:
            version = metadata.version(name)
        except metadata.PackageNotFoundError:
            version = "not installed"
        rows.append({"package": name, "version": version})
    return pd.DataFrame(rows)


def primary_summary(primary: dict | None, meta_response: pd.DataFrame,
                    meta_survival: pd.DataFrame, per_cohort: pd.DataFrame,
                    endpoint_families: dict | None = None) -> dict:
    """The pre-specified primary result as one plain sentence with its numbers."""
    if not primary:
        return {"statement": "No primary hypothesis is declared in config.yaml (report.primary).",
                "sentence": "", "table": None}
    meta = meta_response if primary["endpoint"] == "pcr" else meta_survival
    match = meta[(meta["analysis"] == "primary")] if "analysis" in meta else meta.iloc[:0]
    if not per_cohort.empty:  # per-cohort endpoints of the primary's endpoint family
        from .meta import family_of

        families = family_of(endpoint_families)
        per_cohort = per_cohort.assign(endpoint=per_cohort["endpoint"].map(
            lambda e: families.get(e, e)))
    rows = per_cohort[(per_cohort["question"] == "within_trastuzumab")
                      & (per_cohort["signature"] == primary["signature"])
                      & (per_cohort["method"] == primary["method"])
                      & (per_cohort["endpoint"] == primary["endpoint"])
                      & (per_cohort["model"] == primary["model"])
                      & per_cohort["pooled"].astype(bool)] if not per_cohort.empty else per_cohort
    what = (f"{primary['signature']} ({primary['method']}), endpoint {primary['endpoint']}, "
            f"model {primary['model']}, within trastuzumab-treated patients")
    if match.empty or not np.isfinite(match["effect"].iloc[0]):
        note = match["note"].iloc[0] if not match.empty else "no pooled row"
        sentence = f"{what}: not pooled ({note})."
        if len(rows):
            parts = [f"{r.cohort}: {effect_ci(r._asdict())}, p = {fmt(r.p)}" for r in rows.itertuples()]
            sentence += " Per cohort: " + "; ".join(parts) + "."
    else:
        m = match.iloc[0]
        sentence = (
            f"{what}: pooled {m['effect_type']} = {ratio(m['effect'])} (95% CI "
            f"{ratio(m['ci_low'])}–{ratio(m['ci_high'])}, {m['interval']}), p = {fmt(m['p'])}, "
            f"q = {fmt(m['q'])}, over {int(m['k'])} cohorts ({m['cohorts']}; "
            f"n = {int(m['n_total'])}, {int(m['events_total'])} events); I² = {m['i2']:.0f}%, "
            f"τ² = {m['tau2_dl']:.3g}. Direction: {m['direction']}. "
        )
        consistent = (m["effect"] < 1) == (primary["expect"] == "below_1")
        significant = m["p"] < 0.05
        sentence += (
            "The estimate points in the hypothesised direction"
            if consistent else "The estimate points against the hypothesised direction"
        ) + (" and its 95% CI excludes 1." if significant else ", but its 95% CI includes 1.")
        if int(m["k"]) == 2:
            sentence += (" A random-effects interval from two cohorts is fragile; the two "
                         f"cohort estimates are {m['cohort_effects']}.")
        if str(m.get("hksj_q_below_1")) == "True":
            sentence += (f" HKSJ q = {m['hksj_q']:.3g} < 1: the cohorts agree more than their "
                         "standard errors imply, so the HKSJ standard error is below the "
                         "DerSimonian–Laird one; the DL normal interval is "
                         f"{ratio(m['dl_ci_low'])}–{ratio(m['dl_ci_high'])}.")
    return {"statement": primary.get("statement", what), "sentence": sentence,
            "table": to_table(_results_view(rows)) if len(rows) else None}


def _pam50_warning(qc: dict) -> list[str]:
    """A warning when PAM50 called from expression agrees poorly with the published calls."""
    called = qc.get("pam50_called")
    agreement = called.get("agreement") if isinstance(called, dict) else None
    if not isinstance(agreement, dict) or not agreement.get("kappa", 1) < 0.6:
        return []
    return [f"PAM50 called from expression agrees poorly with the published calls "
            f"({agreement['percent']:.1f}% agree, κ = {agreement['kappa']:.2f}, n = "
            f"{agreement['n']}; genes median-centred within this cohort): the HER2-enriched "
            "positive control is reported for both (methods pam50_published and pam50_called)"]


def _qc_columns(qc: dict, score_qc_path: str | None) -> dict:
    """PAM50-from-expression calls (and agreement with published calls), GSVA gene filter."""
    called = qc.get("pam50_called") or {}
    called = called if isinstance(called, dict) else {}
    agreement = called.get("agreement")
    agreement = agreement if isinstance(agreement, dict) else {}
    if called.get("status") == "called":
        text = f"{called.get('counts', {}).get('Her2', 0)} HER2-E; genes " \
               f"{called.get('genes_used', 'NA')}/{called.get('genes_total', 'NA')}"
        if agreement:
            text += (f"; vs published: {agreement['percent']:.1f}% agree, "
                     f"κ = {agreement['kappa']:.2f} (n = {agreement['n']})")
    else:
        text = called.get("note", "not called")
    dropped = "NA"
    if score_qc_path and Path(score_qc_path).is_file():
        gsva = json.loads(Path(score_qc_path).read_text(encoding="utf-8")).get("gsva") or {}
        dropped = gsva.get("constant_genes_dropped", "NA")
    return {"PAM50 from expression": text, "GSVA constant genes dropped": dropped}


def _methods_text(config: dict, settings: Settings) -> str:
    """The methods paragraph, from the run's configuration."""
    scoring = config.get("scoring", {})
    auc = ("DeLong SE with a normal interval on the AUC scale (pROC's default)"
           if settings.auc_ci == "delong" else "DeLong SE with a logit-scale interval")
    families = config.get("meta", {}).get("endpoint_families", {})
    family_text = "; ".join(f"{k}: {', '.join(v)}" for k, v in families.items())
    return (
        "Expression was harmonised per cohort to gene-level log2 values (units conversion and "
        "duplicate collapse as listed per cohort); replicate samples of one patient are collapsed "
        "by the manifest's declared rule, and a sample or patient that appears in two configured "
        "cohorts stops the run. PAM50 subtypes were called from expression by nearest centroid "
        "(Spearman correlation to the PAM50 centroids after median-centring each gene within the "
        "cohort; Parker et al. 2009). Signatures were scored per cohort with "
        f"{', '.join(scoring.get('methods', []))} (zmean: mean of per-gene z-scores; combined z "
        "(Lee et al. 2008) only for up/down sets; singscore (Foroutan et al. 2018); single-sample "
        f"GSEA (Barbie et al. 2009, weight {scoring.get('ssgsea_alpha', 0.25)}, unnormalised ES); "
        "GSVA (Hänzelmann et al. 2013; genes constant across the cohort dropped as R GSVA does); "
        "mRNA stemness index (Malta et al. 2018)). Every analysis is within HER2-positive "
        "samples and answers one evidence stratum: within trastuzumab-treated patients (treated "
        "cohorts, trastuzumab arms of randomised trials, trastuzumab arms of multi-arm trials as "
        "one estimate with arm as covariate), the score × trastuzumab interaction in randomised "
        "trials, the no-trastuzumab arm, score × arm against the declared reference arm in "
        "multi-arm trials, and prognosis without recorded trastuzumab. pCR was related to "
        f"scores by ROC AUC ({auc}; Mann–Whitney p) and logistic regression per 1 SD within the "
        "analysed samples; Firth's penalised likelihood (profile-likelihood CI, penalised "
        "likelihood-ratio p, as logistf) replaces ML when events are few or the data separate. "
        "Survival: Cox regression per 1 SD (Breslow ties), the exact proportional-hazards score "
        "test of survival ≥ 3.0 (cox.zph), and a pre-specified split log-rank test. Adjusted "
        "models are fitted on their own complete cases; a covariate constant among them is "
        "dropped and named in the row's note, and each row lists the covariates that entered. "
        "The PAM50 HER2-enriched call is a positive control (HER2-E vs other, and its "
        "interaction with trastuzumab in randomised trials). Each signature is compared with "
        "1,000 random gene sets of the same size matched on mean expression (Venet et al. "
        "2011). Benjamini–Hochberg q values are computed within the families declared in the "
        "configuration. Per-cohort log effects were pooled only within one stratum, treatment "
        f"era and endpoint family ({family_text}): DerSimonian–Laird τ² with the "
        "Hartung–Knapp–Sidik–Jonkman interval and p (t, k − 1 df) at every k, chosen by the "
        "calibration benchmark; DerSimonian–Laird and Paule–Mandel normal intervals, I², a 95% "
        "prediction interval and leave-one-out ranges alongside; rows where the HKSJ scale "
        "factor q < 1 (HKSJ standard error below the DerSimonian–Laird one) are flagged, and "
        "two-cohort intervals are marked fragile. Scores are never pooled across cohorts.")


def _load_cohort(path: str) -> tuple[pd.DataFrame, dict, np.ndarray]:
    import anndata as ad

    adata = ad.read_h5ad(path)
    return adata.obs.copy(), plain(dict(adata.uns["provenance"])), np.asarray(adata.X)


def _qc_figures(obs: pd.DataFrame, X: np.ndarray, scores: pd.DataFrame, cohort: str,
                primary: dict | None) -> list[dict]:
    """PCA coloured by pCR (or arm / HER2) and the primary score by treatment arm."""
    out = []
    if "pcr" in obs and obs["pcr"].notna().any():
        groups = obs["pcr"].map({1: "pCR", 0: "RD"}).rename("pCR")
    elif "arm" in obs and obs["arm"].nunique() > 1:
        groups = obs["arm"].rename("arm")
    elif "her2_status" in obs:
        groups = obs["her2_status"].rename("HER2")
    else:
        groups = pd.Series("all", index=obs.index, name="samples")
    if X.shape[0] >= 3:
        out.append({"uri": _lazy(figures.pca_plot, X, groups, title=f"{cohort}: PCA"),
                    "alt": f"PCA of {cohort} coloured by {groups.name}",
                    "caption": f"First two principal components (2,000 most variable genes), "
                               f"coloured by {groups.name}."})
    arm = None
    for column in ("arm", "trastuzumab", "her2_status"):
        if column in obs and obs[column].nunique() > 1:
            arm = obs[column].rename(column)
            break
    if arm is not None and primary and len(scores):
        sel = scores[(scores["signature"] == primary["signature"])
                     & (scores["method"] == primary["method"])]
        if len(sel) and sel["score_z"].notna().any():
            values = sel.set_index("sample")["score_z"].reindex(obs.index).to_numpy(float)
            ok = np.isfinite(values)
            out.append({"uri": _lazy(figures.score_by_category,
                values[ok], arm[ok], title=f"{primary['signature']} ({primary['method']}) by "
                                            f"{arm.name}"),
                "alt": f"{primary['signature']} score by {arm.name} in {cohort}",
                "caption": f"Primary signature score (z within the cohort) by {arm.name}."})
    return out


SHORT_QUESTION = {"within_trastuzumab": "treated", "prognosis": "prognosis",
                  "within_untreated_arm": "untreated arm"}
SHORT_ERA = {"trastuzumab": "T era", "pre_trastuzumab": "pre-T era", "mixed": "mixed era",
             "unrecorded": "era ?"}


def heatmap_table(per_cohort: pd.DataFrame, meta: pd.DataFrame, *, method: str, model: str,
                  signatures: list[str], question: str | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Wide log-effect matrix (signature × cohort[:endpoint] + pooled), marks and long table.

    ``question`` keeps one evidence stratum; otherwise columns name their stratum. Pooled
    columns come last.
    """
    keep = per_cohort["pooled"].astype(bool) & (per_cohort["method"] == method) & (
        per_cohort["model"] == model) if not per_cohort.empty else None
    if keep is None or not keep.any():
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()
    rows = per_cohort[keep]
    pooled = meta[(meta["method"] == method) & (meta["model"] == model)
                  & np.isfinite(meta["effect"].astype(float))]
    if question:
        rows, pooled = rows[rows["question"] == question], pooled[pooled["question"] == question]
    if rows.empty:
        return pd.DataFrame(), pd.DataFrame(), pd.DataFrame()

    def label(frame, first):
        text = first + (":" + frame["endpoint"] if model != "logistic" else "")
        return text if question else text + " (" + frame["question"].map(
            lambda q: SHORT_QUESTION.get(q, q)) + ", " + frame["era"].map(
            lambda e: SHORT_ERA.get(e, e)) + ")"

    rows = rows.assign(column=label(rows, rows["cohort"]))
    pooled = pooled.assign(column=label(pooled, "pooled"), cohort="pooled")
    long = pd.concat([rows, pooled], ignore_index=True)[
        ["signature", "column", "cohort", "question", "endpoint", "model", "method",
         "log_effect", "effect", "p", "q"]]
    order = [s for s in signatures if s in set(long["signature"])]
    columns = list(dict.fromkeys(rows["column"])) + list(dict.fromkeys(pooled["column"]))
    values = long.pivot_table(index="signature", columns="column", values="log_effect",
                              aggfunc="first", dropna=False).reindex(index=order,
                                                                     columns=columns)
    marks = long.assign(mark=np.where(long["q"] < 0.05, "**", np.where(long["p"] < 0.05, "*", ""))
                        ).pivot_table(index="signature", columns="column", values="mark",
                                      aggfunc="first").reindex(index=values.index,
                                                               columns=values.columns)
    return values, marks.fillna(""), long


def _cohort_figures(obs: pd.DataFrame, scores: pd.DataFrame, response: pd.DataFrame,
                    survival: pd.DataFrame, signatures, cohort: str,
                    settings: Settings, design: str) -> tuple[list, list]:
    """Score-by-pCR, ROC and Kaplan–Meier figures for the pooled subgroup of a cohort."""
    resp_figs, surv_figs = [], []
    zmean = scores[scores["method"] == scores["method"].iloc[0]] if len(scores) else scores
    method = zmean["method"].iloc[0] if len(zmean) else ""
    wide = zmean.pivot(index="sample", columns="signature", values="score") if len(zmean) else \
        pd.DataFrame()
    # the samples of the within-trastuzumab (or prognosis) subgroups, as the association stage
    # selects them; arm-level and untreated-arm subgroups are in the tables
    her2 = np.zeros(len(obs), bool)
    for _label, question, mask, _pooled in subgroups(obs, design):
        if question in FIGURE_QUESTIONS:
            her2 |= np.asarray(mask, bool)
    # figures for the hypothesis (and demo) signatures; controls are in the tables
    named = [s for s in signatures if s.name in wide.columns and wide[s.name].notna().any()
             and s.role != "control"]
    if len(response) and "pcr" in obs:
        y = as_float_array(obs["pcr"])
        curves = []
        for sig in named:
            s = wide[sig.name].reindex(obs.index).to_numpy(float)
            m = her2 & np.isfinite(y) & np.isfinite(s)
            if m.sum() < 4 or len(set(y[m])) < 2:
                continue
            z = (s[m] - s[m].mean()) / (s[m].std(ddof=1) or 1)
            resp_figs.append({
                "uri": _lazy(figures.score_by_group, z, y[m].astype(int), ("RD", "pCR"),
                                              title=f"{sig.name} ({method})"),
                "alt": f"{sig.name} {method} score by pCR status in {cohort}",
                "caption": f"{sig.name} ({method}) score, z within the analysed HER2+ subgroup, "
                           "for residual disease vs pCR."})
            if sig.role == "hypothesis":
                auc = stats.auc_delong(s[m], y[m].astype(int))[0]
                curves.append((sig.name, s[m], y[m].astype(int), auc))
        if curves:
            resp_figs.insert(0, {"uri": _lazy(figures.roc, curves, title=f"ROC for pCR ({method})"),
                                 "alt": f"ROC curves of hypothesis signatures for pCR in {cohort}",
                                 "caption": "ROC curves: score predicting pCR (AUC > 0.5: higher "
                                            "score → more pCR)."})
    if len(survival):
        for endpoint in sorted(survival["endpoint"].unique()):
            t = as_float_array(obs[f"{endpoint}_time"])
            e = as_float_array(obs[f"{endpoint}_event"])
            if settings.horizon_months:
                e = np.where(t > settings.horizon_months, 0, e)
                t = np.minimum(t, settings.horizon_months)
            for sig in named:
                s = wide[sig.name].reindex(obs.index).to_numpy(float)
                m = her2 & np.isfinite(t) & np.isfinite(e) & np.isfinite(s)
                if m.sum() < 4 or e[m].sum() < 1:
                    continue
                if settings.survival_split == "tertile":
                    group = np.digitize(s[m], np.quantile(s[m], [1 / 3, 2 / 3]), right=True)
                    groups = [(name, group == g) for g, name in
                              enumerate(["low tertile", "middle tertile", "high tertile"])]
                    split = "tertiles"
                else:
                    group = (s[m] > np.median(s[m])).astype(int)
                    groups = [("low score", group == 0), ("high score", group == 1)]
                    split = "above vs at/below the median"
                _, p = stats.logrank_test_k(t[m], e[m].astype(int), group)
                surv_figs.append({
                    "uri": _lazy(figures.kaplan_meier_plot, t[m], e[m].astype(int), groups,
                                                     title=f"{sig.name} ({method})", p_value=p,
                                                     endpoint=endpoint),
                    "alt": f"Kaplan-Meier {endpoint} by {sig.name} {split} in {cohort}",
                    "caption": f"{endpoint.upper()} by {sig.name} ({method}) {split} "
                               "(pre-specified split), numbers at risk below."})
    return resp_figs, surv_figs


def build_report(*, inputs: dict, cohorts: list[str], out_index: str, out_dir: str,
                 signature_names: list[str], config: dict, title: str,
                 primary: dict | None, workers: int = 1) -> None:
    """Write ``index.html``, ``cohort_<id>.html`` and ``signature_<name>.html``.

    Parameters
    ----------
    inputs
        Paths by kind: ``qc``, ``cohorts``, ``scores``, ``coverage``, ``response``, ``survival``
        (lists in ``cohorts`` order) and ``meta_response``, ``meta_survival``, ``catalogue``.
    cohorts
        Cohort ids, in config order.
    out_index, out_dir
        Index path and the folder for the other pages.
    signature_names
        Signatures that get a page.
    config
        The run's configuration (shown in the provenance section).
    title
        Report title.
    primary
        The pre-specified primary hypothesis from the config.
    workers
        Processes rendering figures (matplotlib is single-threaded; pages wait only for
        their own figures).
    """
    global _POOL
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor

        figures._plt()  # import matplotlib once; forked workers inherit it
        _POOL = ProcessPoolExecutor(max_workers=workers)
    try:
        _build_report(inputs=inputs, cohorts=cohorts, out_index=out_index, out_dir=out_dir,
                      signature_names=signature_names, config=config, title=title,
                      primary=primary)
    finally:
        if _POOL is not None:
            _POOL.shutdown()
            _POOL = None


def _build_report(*, inputs: dict, cohorts: list[str], out_index: str, out_dir: str,
                  signature_names: list[str], config: dict, title: str,
                  primary: dict | None) -> None:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("her2atlas", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined)
    catalogue = read_catalogue(inputs["catalogue"])
    settings = Settings.from_config(config.get("association"))
    catalogue_frame = pd.read_csv(inputs["catalogue"], sep="\t", dtype=str, keep_default_na=False)
    read = read_results
    responses = [read(p) for p in inputs["response"]]
    survivals = [read(p) for p in inputs["survival"]]
    coverages = [read(p) for p in inputs["coverage"]]
    concordances = [read(p) for p in inputs.get("concordance", [])] or [pd.DataFrame()] * len(cohorts)
    nulls = [read(p) for p in inputs.get("null", [])] or [pd.DataFrame()] * len(cohorts)
    meta_response, meta_survival = read(inputs["meta_response"]), read(inputs["meta_survival"])
    per_cohort = pd.concat([t for t in responses + survivals if not t.empty] or [pd.DataFrame()],
                           ignore_index=True)
    synthetic_cohorts = []
    cohort_rows, checksum_rows, all_warnings = [], [], []
    all_figures: dict[str, dict] = {}
    sample_tables: dict[str, pd.DataFrame] = {}
    out_dir_path = Path(out_dir)
    for i, cohort in enumerate(cohorts):
        qc = json.loads(Path(inputs["qc"][i]).read_text(encoding="utf-8"))
        obs, prov, X = _load_cohort(inputs["cohorts"][i])
        if str(prov.get("synthetic")) in ("True", "true", "1"):
            synthetic_cohorts.append(cohort)
        counts = qc["counts"]
        cov = coverages[i]
        hyp = cov[cov["role"] != "control"]
        cov_text = "; ".join(f"{r.signature} {r.genes_used}/{r.genes_in_set}" for r in hyp.itertuples())
        files = prov["files"] if isinstance(prov["files"], list) else []
        for f in files:
            checksum_rows.append({"cohort": cohort, "file": f["name"], "sha256": f["sha256"],
                                  "bytes": f["bytes"], "source": f["source"]})
        warnings = prov.get("warnings", [])
        warnings = [w for w in ([warnings] if isinstance(warnings, str) else warnings)
                    if w and w != "NA"] + _pam50_warning(qc)
        all_warnings += [{"cohort": cohort, "warning": w} for w in warnings]
        if prov.get("unverified") and prov["unverified"] != "NA":
            all_warnings.append({"cohort": cohort, "warning": "unverified: " + prov["unverified"]})
        surv_events = "; ".join(f"{k.removesuffix('_events')} {v}" for k, v in counts.items()
                                if k.endswith("_events") and k not in ("pcr_events",)
                                and not k.startswith("her2_positive"))
        source = prov["source"]
        source_text = " ".join(str(source.get(k, "")) for k in ("kind", "accession")).strip()
        cohort_rows.append({
            "cohort": cohort, "title": prov.get("title", ""), "source": source_text,
            "design": prov["design"], "n": counts["samples"],
            "HER2+": counts.get("her2_positive", np.nan),
            "trastuzumab": counts.get("trastuzumab", np.nan),
            "pCR events": counts.get("pcr_events", np.nan),
            "survival events": surv_events or "—", "coverage (hypothesis sets)": cov_text,
            **_qc_columns(qc, inputs.get("score_qc", [None] * len(cohorts))[i]),
            "warnings": len(warnings)})
        scores = read(inputs["scores"][i])
        resp_figs, surv_figs = _cohort_figures(obs, scores, responses[i], survivals[i], catalogue,
                                               cohort, settings, prov["design"])
        qc_figs = _qc_figures(obs, X, scores, cohort, primary)
        # the sample-level values behind the figures (scores of the primary method, clinical)
        wide = scores[scores["method"] == (primary or {}).get("method", "zmean")].pivot(
            index="sample", columns="signature", values="score") if len(scores) else None
        samples_table = obs.astype(object).where(obs.notna(), None)
        if wide is not None:
            samples_table = samples_table.join(wide.add_prefix("score:"))
        sample_tables[cohort] = samples_table.reset_index(names="sample")
        all_figures.update({f"{cohort}_{n}": f for n, f in enumerate(qc_figs + resp_figs
                                                                     + surv_figs)})
        page = env.get_template("cohort.html").render(
            page_title=f"{cohort} — {prov.get('title', '')}", nav_cohorts=cohorts,
            synthetic=("This cohort is synthetic demo data generated by her2atlas.demo."
                       if cohort in synthetic_cohorts else ""),
            cohort={
                "id": cohort, "title": prov.get("title", cohort), "citation": prov.get("citation", ""),
                "source": source_text + (f" — {source['url']}" if source.get("url") else ""),
                "design": prov["design"], "design_meaning": prov.get("design_meaning", ""),
                "warnings": warnings,
                "counts": to_table(pd.DataFrame({"count": list(counts), "value": list(counts.values())})),
                "transformations": yaml.safe_dump(prov.get("transformations", {}),
                                                  sort_keys=False, allow_unicode=True),
                "qc_figures": [{"uri": _lazy(figures.sample_distributions,
                                   qc, title=f"{cohort}: log2 expression per sample"),
                               "alt": f"Per-sample expression distribution in {cohort}",
                               "caption": "Per-sample log2 expression quantiles after "
                                          "harmonisation."}] + qc_figs,
                "counts_source": f"../qc/{cohort}.json",
                "coverage": to_table(cov.drop(columns=["cohort"])),
                "coverage_source": f"../scores/{cohort}.coverage.tsv",
                "response_figures": resp_figs, "response": to_table(_results_view(responses[i])),
                "response_source": f"../stats/{cohort}/response.tsv",
                "survival_figures": surv_figs, "survival": to_table(_results_view(survivals[i])),
                "survival_source": f"../stats/{cohort}/survival.tsv",
                "files": to_table(pd.DataFrame([r for r in checksum_rows if r["cohort"] == cohort])),
                "null": to_table(nulls[i]) if len(nulls[i]) else None,
                "null_source": f"../null/{cohort}.tsv",
                "concordance": to_table(concordances[i]) if len(concordances[i]) else None,
                "concordance_source": f"../scores/{cohort}.concordance.tsv",
            })
        write_text(out_dir_path / f"cohort_{cohort}.html", page)

    forests = [section for sig in catalogue
               if (section := _forest_section(sig, per_cohort, meta_response, meta_survival))]
    for section in forests:
        all_figures.update({f"forest_{section['name']}_{n}": f
                            for n, f in enumerate(section["figures"])})

    checksum_rows += [{"cohort": "(signatures)", "file": r["source"], "sha256": r["sha256"],
                       "bytes": np.nan, "source": r["version"]}
                      for r in catalogue_frame.drop_duplicates("source").to_dict("records")
                      if r["sha256"]]
    sig_table = catalogue_frame.drop(columns=["genes", "sha256"]).copy()
    sig_table["page"] = [f"signature_{n}.html" if n in signature_names else ""
                         for n in sig_table["signature"]]
    synthetic_note = (f"Cohorts {', '.join(synthetic_cohorts)} are synthetic demo data generated "
                      "by her2atlas.demo with a planted effect; they are not real patients."
                      if synthetic_cohorts else "")
    methods_text = _methods_text(config, settings)
    method = (primary or {}).get("method", "zmean")
    names = [sig.name for sig in catalogue]
    heatmaps, heat_tables = [], []
    for model, label, question in (
            ("logistic", "log OR per SD (pCR, within trastuzumab-treated)", "within_trastuzumab"),
            ("cox", "log HR per SD", None)):
        values, marks, long = heatmap_table(per_cohort, pd.concat(
            [meta_response, meta_survival], ignore_index=True), method=method, model=model,
            signatures=names, question=question)
        if values.empty:
            continue
        heat_tables.append(long)
        heatmaps.append({"uri": _lazy(figures.effect_heatmap, values, marks, title=f"{label}, {method}",
                                                       label=label),
                         "alt": f"Heatmap of {label} by signature and cohort",
                         "caption": f"{label} ({method}); ** q < 0.05, * p < 0.05 (BH within the "
                                    "declared family); pooled = random-effects estimate."})
    all_figures.update({f"heatmap_{n}": f for n, f in enumerate(heatmaps)})
    tables_dir = out_dir_path / "tables"
    adjustment = adjustment_table(per_cohort, method, endpoint_families=config.get(
        "meta", {}).get("endpoint_families"))
    derived = {"cohorts": pd.DataFrame(cohort_rows), "adjustment": adjustment,
               "software": software_versions(), "checksums": pd.DataFrame(checksum_rows),
               "warnings": pd.DataFrame(all_warnings, columns=["cohort", "warning"]),
               "heatmap": pd.concat(heat_tables, ignore_index=True) if heat_tables
               else pd.DataFrame()}
    derived.update({f"samples_{c}": t for c, t in sample_tables.items()})
    for name, frame in derived.items():
        write_tsv(tables_dir / f"{name}.tsv", frame)
    save_figures(all_figures, out_dir_path / "figures")
    index = env.get_template("index.html").render(
        page_title=title, nav_cohorts=cohorts, synthetic=synthetic_note,
        primary=primary_summary(primary, meta_response, meta_survival, per_cohort,
                                config.get("meta", {}).get("endpoint_families")),
        cohort_table=to_table(pd.DataFrame(cohort_rows)), forests=forests,
        meta_response=to_table(_meta_view(meta_response)),
        adjustment=to_table(adjustment), adjustment_method=method, heatmaps=heatmaps,
        warnings=to_table(derived["warnings"]),
        meta_survival=to_table(_meta_view(meta_survival)),
        signature_table=to_table(sig_table), signature_pages=list(signature_names),
        methods_text=methods_text, software=to_table(software_versions()),
        interval_rule=INTERVAL_RULE,
        checksums=to_table(pd.DataFrame(checksum_rows)),
        config_yaml=yaml.safe_dump(config, sort_keys=False, allow_unicode=True),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), version=__version__)
    write_text(out_index, index)

    for sig in catalogue:
        if sig.name not in signature_names:
            continue
        presence = pd.DataFrame({"gene": sig.genes})
        for cohort, cov in zip(cohorts, coverages, strict=True):
            row = cov[cov["signature"] == sig.name]
            missing = set(str(row["missing_genes"].iloc[0]).split(",")) if len(row) else set()
            presence[cohort] = ["–" if g in missing else "✓" for g in sig.genes]
        results = per_cohort[per_cohort["signature"] == sig.name] if not per_cohort.empty \
            else per_cohort
        pooled = pd.concat([meta_response, meta_survival], ignore_index=True)
        conc = pd.concat([c[c["signature"] == sig.name] for c in concordances if len(c)]
                         or [pd.DataFrame()], ignore_index=True)
        gene_view = _gene_section(sig.name, inputs.get("genes", []))
        page = env.get_template("signature.html").render(
            page_title=f"Signature {sig.name}", nav_cohorts=cohorts, synthetic=synthetic_note,
            sig={"name": sig.name, "description": sig.description, "role": sig.role,
                 "source": sig.source, "size": len(sig.genes), "genes": to_table(presence),
                 "results": to_table(_results_view(results)),
                 "pooled": to_table(_meta_view(pooled[pooled["signature"] == sig.name])),
                 "concordance": to_table(conc) if len(conc) else None,
                 "gene_effects": gene_view})
        write_text(out_dir_path / f"signature_{sig.name}.html", page)

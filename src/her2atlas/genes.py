"""The genes behind each association: per-gene effects and ssGSEA/GSVA leading edges.

Per-gene effects
----------------
For every hypothesis signature (catalogue role ``hypothesis``, and ``demo`` in the synthetic
demo) and every gene of it present in a cohort, the gene's log2 expression takes the place of
the score in the **unadjusted** models of :mod:`her2atlas.association`, in the same analysed
subgroups (:func:`her2atlas.strata.subgroups` with the cohort's design):

* ``logistic``: pCR ~ z(gene) (+ arm indicators where one estimate pools several trastuzumab
  arms of a multi-arm trial), OR per SD, with the same Firth rules (``firth``,
  ``firth_below_events``, ML failure) and the same ``min_events`` floor;
* ``cox``: Surv(endpoint) ~ z(gene) (+ the same arm indicators and Cox strata), HR per SD.

z is taken within each model's analysed samples, exactly as the score's z. The genes of a
subgroup without missing values are fitted together (:mod:`her2atlas.gene_fits`, the same
Newton–Raphson iterations and numbers); genes with missing values, models with arm
indicators, Firth rules and failed ML fits go through the single-gene code. Only these two
models are fitted: no clinically or control-adjusted models, no AUC or log-rank rows and no
score × trastuzumab interaction. A gene's rows do not depend on the signature, so each gene
is fitted once per cohort and its rows are repeated for every signature it belongs to.
Weight signatures (mRNAsi) contribute their ``max_weight_genes`` genes of largest |weight|.

Pooling (:func:`pool_gene_tables`) uses :func:`her2atlas.meta.pool` on the per-cohort rows
(same strata, endpoint families and interval rule as the score: DL estimate, HKSJ interval).
BH q is computed within signature × cohort (or ``pooled``) × subgroup × stratum × endpoint ×
model.

Leading genes
-------------
On a pooled row, ``sign`` × log effect is the gene's effect in the direction the signature
counts it (``sign`` = −1 for genes of a down list and genes of negative weight). The gene is
**concordant** when that has the same sign as the signature's pooled score effect in the same
stratum, endpoint family and model (method: the first of :data:`REFERENCE_METHODS` the meta
table has for the signature; ``score_method`` names it). ``leading_rank`` orders the
concordant genes by |z| = |pooled log effect / its HKSJ SE| (1 = largest); ``leading`` marks
the concordant genes with pooled p < 0.05 — "the genes that carry the pooled effect".

Leading edges
-------------
For a set scored by ssGSEA, a sample's walk visits genes from the highest expressed down,
stepping up by r^α / Σ_set r^α at a set gene (r = ascending average rank, α = the ssGSEA
weight) and down by 1 / (G − k) otherwise, as the score's closed form integrates it; its
leading edge is the set genes visited up to and including the walk's maximum (empty when the
maximum is not above 0, up to :data:`WALK_TOL`). Tied genes enter the walk together,
consistent with the average-rank tie rule of the score. For GSVA the walk is the one
:func:`her2atlas.score_methods.gsva` scores (genes ordered by the kernel density, rank-score
weights). Down lists have their own
walk (``part = down``: those genes pull the score down when they lead). The table gives, per
set gene, the fraction of the cohort's analysed samples (union of the analysed subgroups) in
whose leading edge it lies.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import association as assoc
from . import gene_fits as gf
from . import model_specs as ms
from . import score_methods as km
from . import stats
from .clinical import as_float_array
from .meta import pool
from .signatures import Signature
from .stats import benjamini_hochberg
from .strata import CohortDesign, era_of, reference_arm, stratum_label, subgroups

HYPOTHESIS_ROLES = ("hypothesis", "demo")
"""Catalogue roles whose genes are analysed (``demo`` = the synthetic demo's stand-ins)."""

GENE_MODELS = ("logistic", "cox")
"""The only models fitted per gene (unadjusted, as the score's ``logistic``/``cox`` rows)."""

REFERENCE_METHODS = ("zmean", "singscore", "ssgsea", "gsva", "combined_z", "mrnasi")
"""Score methods, in order of preference, whose pooled effect defines the leading direction."""

LEADING_P = 0.05
"""Pooled p below which a concordant gene is ``leading``."""

WALK_TOL = 1e-12
"""A walk maximum must exceed 0 by this much (a walk that ends on a hit returns to 0 exactly,
which rounding can put a hair above 0)."""

COHORT_COLUMNS = [
    "cohort", "design", "question", "era", "stratum", "subgroup", "signature", "gene", "part",
    "sign", "endpoint", "model", "formula", "estimator", "ci_method", "effect_type", "n",
    "events", "effect", "ci_low", "ci_high", "log_effect", "se", "p", "q", "pooled", "note",
]
"""Columns of a per-cohort gene table (``results/genes/cohorts/{cohort}.tsv``)."""

GENE_COLUMNS = [
    "signature", "gene", "part", "sign", "cohort", "question", "era", "stratum", "subgroup",
    "endpoint", "endpoint_family", "model", "effect_type", "n", "events", "k", "effect",
    "ci_low", "ci_high", "log_effect", "se", "z", "p", "q", "i2", "interval", "estimator",
    "pooled", "score_method", "score_effect", "concordant", "leading", "leading_rank", "note",
]
"""Columns of a signature's gene table (``results/genes/{signature}.tsv``)."""

LEADING_EDGE_COLUMNS = ["cohort", "signature", "gene", "part", "method",
                        "fraction_in_leading_edge", "n_samples"]
"""Columns of ``results/genes/leading_edge/{cohort}.tsv``."""


# --------------------------------------------------------------------------------------------
# members of the hypothesis signatures


def signature_members(signatures: list[Signature], present, *,
                      roles: tuple[str, ...] = HYPOTHESIS_ROLES,
                      max_weight_genes: int | None = 500) -> pd.DataFrame:
    """Genes of the analysed signatures that are present in a cohort.

    Parameters
    ----------
    signatures
        The catalogue.
    present
        Gene symbols of the cohort.
    roles
        Catalogue roles analysed (default :data:`HYPOTHESIS_ROLES`).
    max_weight_genes
        Weight signatures keep this many present genes of largest |weight| (None = all).

    Returns
    -------
    pandas.DataFrame
        ``signature``, ``gene``, ``part`` (``up``, ``down`` or ``weight``) and ``sign``
        (+1, or −1 for down genes and negative weights), in catalogue order.
    """
    present = set(map(str, present))
    rows = []
    for sig in signatures:
        if sig.role not in roles:
            continue
        if sig.weights is not None:
            weights = {g: w for g, w in sig.weights.items() if g in present}
            kept = sorted(weights, key=lambda g: -abs(weights[g]))[:max_weight_genes]
            rows += [(sig.name, g, "weight", 1 if weights[g] >= 0 else -1) for g in kept]
            continue
        rows += [(sig.name, g, "up", 1) for g in sig.genes if g in present]
        rows += [(sig.name, g, "down", -1) for g in sig.down if g in present]
    return pd.DataFrame(rows, columns=["signature", "gene", "part", "sign"])


# --------------------------------------------------------------------------------------------
# per-cohort effects


def _logistic_gene_row(x_all: np.ndarray, y_all: np.ndarray, spec: ms.ModelSpec, *,
                       base: dict, settings: assoc.Settings) -> dict:
    """The ``logistic`` row of :func:`her2atlas.association.response_rows` for one gene."""
    y = y_all[spec.mask].astype(int)
    n, events = len(y), int(y.sum())
    row_base = assoc._spec_base(base, spec, events, n)
    reason = spec.reason or (
        f"not fitted: {events} pCR / {n - events} non-pCR (minimum {settings.min_events} each)"
        if min(events, n - events) < settings.min_events else "")
    if reason:
        return assoc._row(**{**row_base, "note": "; ".join(filter(None, [reason, spec.note]))},
                          effect_type="OR per SD")
    X = np.column_stack([np.ones(n), assoc._zscore(x_all[spec.mask]), spec.columns])
    return assoc._logistic_row(X, y, 1, base=row_base, settings=settings,
                               effect_type="OR per SD", direction=assoc._direction_pcr)


def _fast_logistic_rows(X: np.ndarray, genes: list[str], y_all: np.ndarray,
                        spec: ms.ModelSpec, eligible: np.ndarray, base0: dict,
                        settings: assoc.Settings) -> dict[int, dict]:
    """ML ``logistic`` rows of the eligible genes fitted together ({gene index: row}).

    Only where :func:`her2atlas.association.fit_logistic` would fit ML (no Firth rule applies)
    and the model has no arm indicators; genes whose ML fit fails are left to the caller.
    """
    y = y_all[spec.mask].astype(int)
    n, events = len(y), int(y.sum())
    smallest = min(events, n - events)
    firth_first = settings.firth == "always" or (settings.firth == "auto"
                                                 and smallest < settings.firth_below_events)
    if spec.reason or spec.columns.shape[1] or smallest < settings.min_events or firth_first:
        return {}
    out = {}
    for block in _blocks(np.flatnonzero(eligible)):
        Z, sd_ok = gf.zscore_rows(X[np.ix_(spec.mask, block)].T)
        beta, se, ok = gf.logistic_many(Z, y)
        for k in np.flatnonzero(ok & sd_ok):
            j = int(block[k])
            row_base = assoc._spec_base({**base0, "gene": genes[j], "endpoint": "pcr"}, spec,
                                        events, n)
            fit = stats.Fit(beta[k], se[k], True, 0)
            out[j] = assoc.logistic_fit_row(fit, "ML", 1, base=row_base, effect_type="OR per SD",
                                            direction=assoc._direction_pcr)
    return out


def _fast_cox_rows(X: np.ndarray, genes: list[str], survival: tuple, spec: ms.ModelSpec,
                   eligible: np.ndarray, base0: dict,
                   settings: assoc.Settings) -> dict[int, dict]:
    """``cox`` rows of the eligible genes fitted together ({gene index: row}); see above."""
    time, event, strata = survival
    m = spec.mask
    n, events = int(m.sum()), int(event[m].sum())
    if spec.reason or spec.columns.shape[1] or events < settings.min_events:
        return {}
    risk = gf.CoxRisk(time[m], event[m], None if strata is None else strata[m])
    out = {}
    for block in _blocks(np.flatnonzero(eligible)):
        Z, sd_ok = gf.zscore_rows(X[np.ix_(m, block)].T)
        beta, se, ok = gf.cox_many(Z, risk)
        ok &= sd_ok
        ph_p = gf.ph_many(Z[ok], risk, beta[ok], transform=settings.ph_transform)
        for k, p in zip(np.flatnonzero(ok), ph_p, strict=True):
            j = int(block[k])
            row_base = assoc._spec_base({**base0, "gene": genes[j]}, spec, events, n)
            fit = stats.Fit(np.array([beta[k]]), np.array([se[k]]), True, 0)
            out[j] = assoc.cox_fit_row(fit, float(p), row_base=row_base, spec=spec,
                                       settings=settings)
    return out


def _gene_rows(done: dict[int, dict], common: np.ndarray, finite: np.ndarray,
               specs: _SpecCache, one_gene) -> list[dict]:
    """Rows in gene order: the fast path's where it has one, else ``one_gene(j, spec)``."""
    rows = []
    for j in range(finite.shape[1]):
        m = common & finite[:, j]
        if j in done:
            rows.append(done[j])
        elif m.sum() >= 2:
            rows.append(one_gene(j, specs.get(m)))
    return rows


def _blocks(idx: np.ndarray) -> list[np.ndarray]:
    return [idx[i:i + gf.BLOCK] for i in range(0, len(idx), gf.BLOCK)]


class _SpecCache:
    """Model specs keyed by the analysed-sample mask (genes without NA share one)."""

    def __init__(self, family: str, lhs: str, arm_cols: list[ms.Covariate], suffix: str):
        self.args = (family, lhs)
        self.arm_cols = arm_cols
        self.suffix = suffix
        self.cache: dict[bytes, ms.ModelSpec] = {}

    def get(self, mask: np.ndarray) -> ms.ModelSpec:
        key = np.packbits(mask).tobytes()
        if key not in self.cache:
            self.cache[key] = ms.build(*self.args, mask, self.arm_cols, suffix=self.suffix)
        return self.cache[key]


def _subgroup_gene_rows(X: np.ndarray, genes: list[str], obs: pd.DataFrame, sub, *,
                        cohort: str, design: CohortDesign, endpoints: dict,
                        settings: assoc.Settings, fast: bool = True) -> list[dict]:
    """Per-gene logistic and Cox rows of one analysed subgroup (one row per gene × endpoint).

    ``fast``: fit the genes without missing values together (:mod:`her2atlas.gene_fits`);
    genes those fits cannot settle (Firth, failures, missing values) go one by one.
    """
    mask = np.asarray(sub.mask, bool)
    arm_cols: list[ms.Covariate] = []
    arm_note = ""
    if sub.question == "within_trastuzumab" and design.design == "multi_arm_anti_her2" \
            and "arm" in obs:
        ref, arm_note = reference_arm(obs[mask], design)
        arm_cols = ms.arm_covariates(obs, mask, ref)
    era = era_of(sub.question, design)
    base0 = {"cohort": cohort, "design": design.design, "question": sub.question, "era": era,
             "stratum": stratum_label(sub.question, era), "subgroup": sub.label,
             "pooled": sub.pooled and design.parent is None}
    finite = np.isfinite(X)
    rows: list[dict] = []
    if endpoints.get("response") == "pcr" and "pcr" in obs:
        y = as_float_array(obs["pcr"])
        specs = _SpecCache("logistic", "pcr", arm_cols, "")
        common = mask & np.isfinite(y)
        done = (_fast_logistic_rows(X, genes, y, specs.get(common), finite[common].all(axis=0),
                                    base0, settings)
                if fast and common.sum() >= 2 else {})
        rows += _gene_rows(done, common, finite, specs, lambda j, spec: _logistic_gene_row(
            X[:, j], y, spec, settings=settings,
            base={**base0, "gene": genes[j], "endpoint": "pcr"}))
    for endpoint in endpoints.get("survival", []) or []:
        if f"{endpoint}_time" not in obs or f"{endpoint}_event" not in obs:
            continue
        t, e, strata, suffix = assoc._survival_arrays(obs, endpoint, settings)
        known = np.isfinite(t) & np.isfinite(e) & (strata != "" if strata is not None else True)
        event = np.nan_to_num(e).astype(int)
        specs = _SpecCache("cox", f"Surv({endpoint})", arm_cols, suffix)
        common = mask & known
        base_e = {**base0, "endpoint": endpoint}
        done = (_fast_cox_rows(X, genes, (t, event, strata), specs.get(common),
                               finite[common].all(axis=0), base_e, settings)
                if fast and common.sum() >= 2 else {})
        rows += _gene_rows(done, common, finite, specs,
                           lambda j, spec, t=t, ev=event, st=strata, b=base_e: assoc._cox_row(
                               X[:, j], t, ev, spec, st, base={**b, "gene": genes[j]},
                               settings=settings))
    for row in rows:
        notes = [row["note"] if isinstance(row["note"], str) else "", arm_note,
                 f"not pooled: a declared subset of {design.parent}, which this run pools"
                 if design.parent else ""]
        row["note"] = "; ".join(filter(None, notes))
    return rows


def add_gene_q(table: pd.DataFrame) -> pd.DataFrame:
    """BH q within signature × cohort × subgroup × stratum × endpoint × model."""
    family = ["signature", "cohort", "subgroup", "question", "era", "endpoint", "model"]
    table = table.copy()
    table["q"] = np.nan
    if table.empty:
        return table
    for _, idx in table.groupby(family, dropna=False, sort=False).groups.items():
        table.loc[idx, "q"] = benjamini_hochberg(table.loc[idx, "p"].to_numpy(float))
    return table


def gene_effects_cohort(adata, signatures: list[Signature], *, cohort: str,
                        design: str | CohortDesign, endpoints: dict,
                        settings: assoc.Settings | None = None,
                        roles: tuple[str, ...] = HYPOTHESIS_ROLES,
                        max_weight_genes: int | None = 500, fast: bool = True) -> pd.DataFrame:
    """Per-gene unadjusted logistic (pCR) and Cox (survival) rows of one cohort.

    Parameters
    ----------
    adata
        The harmonised cohort (samples × genes, log2; ``obs`` in the standard vocabulary).
    signatures
        The catalogue; signatures with a role in ``roles`` are analysed.
    cohort
        Cohort id.
    design
        Design tag or :class:`~her2atlas.strata.CohortDesign` (as the association stage).
    endpoints
        ``{"response": "pcr" or None, "survival": [...]}`` from the manifest.
    settings
        Association settings (``min_events``, Firth rules, Cox strata, horizon); only the
        unadjusted models are fitted whatever ``adjust_for``/``adjust_controls`` say.
    roles, max_weight_genes
        See :func:`signature_members`.
    fast
        Fit the genes of a subgroup together where the single-gene code would fit plain ML
        (:mod:`her2atlas.gene_fits`; same numbers). False: every gene one by one.

    Returns
    -------
    pandas.DataFrame
        :data:`COHORT_COLUMNS`, one row per signature × gene × subgroup × endpoint × model.
    """
    settings = settings or assoc.Settings()
    design = design if isinstance(design, CohortDesign) else CohortDesign(design)
    members = signature_members(signatures, adata.var_names, roles=roles,
                                max_weight_genes=max_weight_genes)
    genes = list(dict.fromkeys(members["gene"]))
    if not genes:
        return pd.DataFrame(columns=COHORT_COLUMNS)
    var = pd.Index(adata.var_names)
    X = np.asarray(adata[:, var.get_indexer(genes)].X, dtype=float)
    obs = adata.obs.copy()
    rows: list[dict] = []
    for sub in subgroups(obs, design):
        rows += _subgroup_gene_rows(X, genes, obs, sub, cohort=cohort, design=design,
                                    endpoints=endpoints, settings=settings, fast=fast)
    if not rows:
        return pd.DataFrame(columns=COHORT_COLUMNS)
    per_gene = pd.DataFrame(rows).drop(columns=["signature"], errors="ignore")
    table = members.merge(per_gene, on="gene", how="inner")
    table["note"] = table["note"].fillna("")
    return add_gene_q(table)[COHORT_COLUMNS].reset_index(drop=True)


# --------------------------------------------------------------------------------------------
# pooling and leading genes


def _score_effects(meta_tables: list[pd.DataFrame]) -> pd.DataFrame:
    """Pooled score log effects per signature × stratum × family × model (reference method)."""
    keys = ["signature", "question", "era", "endpoint", "model"]
    frames = [t for t in meta_tables if t is not None and not t.empty]
    if not frames:
        return pd.DataFrame(columns=[*keys, "score_method", "score_log_effect"])
    meta = pd.concat(frames, ignore_index=True)
    meta = meta[meta["model"].isin(GENE_MODELS) & meta["method"].isin(REFERENCE_METHODS)]
    preference = {m: i for i, m in enumerate(REFERENCE_METHODS)}
    first = (meta.assign(_rank=meta["method"].map(preference))
             .groupby("signature")["_rank"].min())
    meta = meta[meta["method"].map(preference) == meta["signature"].map(first)]
    return (meta.rename(columns={"method": "score_method", "log_effect": "score_log_effect"})
            [[*keys, "score_method", "score_log_effect"]].drop_duplicates(keys))


def _leading(pooled: pd.DataFrame, alpha: float) -> pd.DataFrame:
    """Concordant / leading flags and the rank of concordant genes by |z| within each group."""
    pooled = pooled.copy()
    for col in ("sign", "log_effect", "p", "z", "score_log_effect"):
        pooled[col] = pd.to_numeric(pooled[col], errors="coerce").astype(float)
    signed = pooled["sign"] * pooled["log_effect"] * np.sign(pooled["score_log_effect"])
    ok = np.isfinite(signed.astype(float)) & (pooled["score_log_effect"] != 0)
    concordant = ok & (signed > 0)
    pooled = pooled.assign(concordant=np.where(ok, concordant, pd.NA))
    pooled["concordant"] = pooled["concordant"].astype("boolean")
    pooled["leading"] = (pooled["concordant"] & (pooled["p"] < alpha)).astype("boolean")
    pooled.loc[~ok, "leading"] = pd.NA
    keys = ["signature", "question", "era", "endpoint", "model"]
    strength = pooled["z"].abs().where(concordant)
    pooled["leading_rank"] = (strength.groupby([pooled[k] for k in keys], dropna=False)
                              .rank(ascending=False, method="first").astype("Int64"))
    return pooled


def pool_gene_tables(tables: list[pd.DataFrame], meta_tables: list[pd.DataFrame] | None = None,
                     *, min_cohorts: int = 2,
                     endpoint_families: dict[str, list[str]] | None = None,
                     alpha: float = LEADING_P) -> pd.DataFrame:
    """Per-cohort gene rows plus pooled rows, with q and the leading-gene columns.

    Parameters
    ----------
    tables
        Per-cohort gene tables (:func:`gene_effects_cohort`).
    meta_tables
        The pooled score tables (``results/meta/response.tsv``, ``survival.tsv``): the
        direction each gene is compared with (see the module docstring).
    min_cohorts, endpoint_families
        As for :func:`her2atlas.meta.pool` (config ``meta``).
    alpha
        Pooled p below which a concordant gene is ``leading``.

    Returns
    -------
    pandas.DataFrame
        :data:`GENE_COLUMNS` for every signature: its cohort rows and one ``pooled`` row per
        gene × stratum × endpoint family × model (``k`` < 2: not pooled, the note says so).
    """
    frames = [t for t in tables if t is not None and not t.empty]
    if not frames:
        return pd.DataFrame(columns=GENE_COLUMNS)
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows["model"].isin(GENE_MODELS)]
    fam = {e: f for f, eps in (endpoint_families or {}).items() for e in eps}
    members = rows[["signature", "gene", "part", "sign"]].drop_duplicates()
    # one estimate per gene: identical for every signature the gene belongs to
    unique = (rows.drop_duplicates(["cohort", "subgroup", "gene", "endpoint", "model"])
              .assign(signature=lambda d: d["gene"], method="expression", role=""))
    pooled = pool([unique], min_cohorts=min_cohorts, endpoint_families=endpoint_families)
    pooled = pooled.rename(columns={"signature": "gene", "endpoint": "endpoint_family",
                                    "n_total": "n", "events_total": "events"})
    pooled = members.merge(pooled.drop(columns=["method", "role", "q"]), on="gene")
    pooled = pooled.assign(cohort="pooled", subgroup="", endpoint=pooled["endpoint_family"],
                           estimator="random effects (DL τ²)", pooled=pd.NA)
    pooled["z"] = pooled["log_effect"] / pooled["se"]
    scores = _score_effects(meta_tables or [])
    pooled = pooled.merge(scores, on=["signature", "question", "era", "endpoint", "model"],
                          how="left")
    pooled = _leading(pooled, alpha)
    pooled["score_effect"] = np.exp(pooled["score_log_effect"])
    cohort_rows = rows.assign(endpoint_family=[fam.get(e, e) for e in rows["endpoint"]], k=1,
                              z=rows["log_effect"] / rows["se"])
    out = pd.concat([cohort_rows, pooled], ignore_index=True)
    out = add_gene_q(out.reindex(columns=GENE_COLUMNS))
    out["note"] = out["note"].fillna("")
    out["leading_rank"] = out["leading_rank"].astype("Int64")
    order = {s: i for i, s in enumerate(dict.fromkeys(members["signature"]))}
    out = out.assign(_s=out["signature"].map(order), _pooled=out["cohort"] == "pooled")
    out = out.sort_values(["_s", "question", "era", "endpoint_family", "model", "_pooled",
                           "cohort", "subgroup", "gene"], kind="stable")
    return out[GENE_COLUMNS].reset_index(drop=True)


def leading_genes(table: pd.DataFrame, *, question: str = "within_trastuzumab",
                  era: str | None = "trastuzumab", endpoint: str = "pcr",
                  top: int | None = 20, only_significant: bool = False) -> pd.DataFrame:
    """The ranked genes that carry a signature's pooled effect in one stratum.

    Parameters
    ----------
    table
        A signature's gene table (``results/genes/{signature}.tsv`` or
        :func:`pool_gene_tables`).
    question, era
        The stratum (``era`` None: any era of the question).
    endpoint
        Endpoint family of the pooled rows (``pcr``, ``overall``, ``event_free`` …).
    top
        Keep the first ``top`` ranks (None = all concordant genes).
    only_significant
        Keep only ``leading`` genes (pooled p below :data:`LEADING_P`).

    Returns
    -------
    pandas.DataFrame
        Pooled rows ordered by ``leading_rank`` (concordant genes only).
    """
    rows = table[(table["cohort"] == "pooled") & (table["question"] == question)
                 & (table["endpoint"] == endpoint) & table["leading_rank"].notna()]
    if era is not None:
        rows = rows[rows["era"] == era]
    if only_significant:
        rows = rows[rows["leading"].astype("boolean").fillna(False).astype(bool)]
    rows = rows.sort_values(["signature", "era", "model", "leading_rank"])
    if top is not None:
        rows = rows[rows["leading_rank"].astype(float) <= top]
    return rows.reset_index(drop=True)


def gene_cohort_matrix(table: pd.DataFrame, *, question: str = "within_trastuzumab",
                       era: str | None = "trastuzumab", endpoint: str = "pcr",
                       genes: list[str] | None = None, value: str = "log_effect") -> pd.DataFrame:
    """Gene × cohort matrix of one stratum for a heatmap (``pooled`` as the last column).

    Parameters
    ----------
    table
        A signature's gene table.
    question, era, endpoint
        The stratum and endpoint family (cohort rows are matched on their family).
    genes
        Rows to keep, in this order (default: the ranked leading genes, then the rest by
        pooled |z|).
    value
        Column to show (``log_effect``, ``z``, ``effect``, ``p``, ``q``).

    Returns
    -------
    pandas.DataFrame
        Genes × cohorts (the pooled-score columns only where the stratum was pooled).
        A cohort with several subgroups of the stratum (arms of a multi-arm trial that are not
        pooled) gets one column per subgroup, named ``cohort · subgroup``.
    """
    rows = table[(table["question"] == question) & (table["endpoint_family"] == endpoint)]
    if era is not None:
        rows = rows[rows["era"] == era]
    rows = rows.drop_duplicates(["cohort", "subgroup", "gene"])
    per_cohort = rows.groupby("cohort")["subgroup"].nunique()
    column = [c if c == "pooled" or per_cohort.get(c, 1) <= 1 else f"{c} · {s}"
              for c, s in zip(rows["cohort"], rows["subgroup"], strict=True)]
    wide = rows.assign(column=column).pivot(index="gene", columns="column", values=value)
    cohorts = sorted(c for c in wide.columns if c != "pooled")
    wide = wide[cohorts + (["pooled"] if "pooled" in wide.columns else [])]
    if genes is None:
        pooled = rows[rows["cohort"] == "pooled"].set_index("gene")
        rank = pooled["leading_rank"].astype(float) if len(pooled) else pd.Series(dtype=float)
        strength = pooled["z"].abs() if len(pooled) else pd.Series(dtype=float)
        key = pd.DataFrame({"rank": rank.reindex(wide.index),
                            "strength": -strength.reindex(wide.index).fillna(0)})
        genes = list(key.sort_values(["rank", "strength"], na_position="last").index)
    return wide.reindex([g for g in genes if g in wide.index])


# --------------------------------------------------------------------------------------------
# leading edges


def ssgsea_leading_edge(avg_ranks: np.ndarray, min_ranks: np.ndarray, idx: np.ndarray, *,
                        alpha: float = 0.25) -> np.ndarray:
    """Leading edge of one set in every sample under the ssGSEA walk.

    Parameters
    ----------
    avg_ranks, min_ranks
        Ascending ranks of the genes within each sample (samples × genes; ties ``average``, as
        the score uses, and ``min``, which counts the genes at or above a tied value).
    idx
        Column indices of the set's genes.
    alpha
        ssGSEA weight.

    Returns
    -------
    numpy.ndarray
        Samples × len(idx) booleans: gene in the sample's leading edge.
    """
    n, g = avg_ranks.shape
    k = len(idx)
    out = np.zeros((n, k), bool)
    if k == 0 or k >= g:
        return out
    r = avg_ranks[:, idx].astype(float)
    order = np.argsort(-r, axis=1, kind="stable")
    rs = np.take_along_axis(r, order, axis=1)
    mr = np.take_along_axis(min_ranks[:, idx].astype(float), order, axis=1)
    w = rs**alpha
    cum = np.cumsum(w, axis=1) / w.sum(axis=1, keepdims=True)
    hits = np.arange(1, k + 1)[None, :]
    misses = (g - mr + 1) - hits   # genes at or above this value that are not in the set
    walk = cum - misses / (g - k)
    block_end = np.ones((n, k), bool)  # tied set genes enter the walk together
    block_end[:, :-1] = rs[:, 1:] != rs[:, :-1]
    walk = np.where(block_end, walk, -np.inf)
    top = walk.argmax(axis=1)
    above = walk.max(axis=1) > WALK_TOL
    lead_sorted = (np.arange(k)[None, :] <= top[:, None]) & above[:, None]
    np.put_along_axis(out, order, lead_sorted, axis=1)
    return out


def gsva_leading_edge(density: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Leading edge of one set in every sample under GSVA's walk (the positive excursion).

    ``density`` is :func:`her2atlas.score_methods.gsva_density` on the genes GSVA keeps and
    ``idx`` the set's columns among them; genes up to the walk's maximum (if above 0) lead.
    """
    n, g = density.shape
    k = len(idx)
    out = np.zeros((n, k), bool)
    if k == 0 or k >= g:
        return out
    order = np.argsort(-density, axis=1, kind="stable")
    position = np.empty_like(order)
    position[np.arange(n)[:, None], order] = np.arange(1, g + 1)[None, :]
    rank_score = np.abs(g - position[:, idx] + 1 - g / 2.0)
    pos = position[:, idx]
    srt = np.argsort(pos, axis=1, kind="stable")
    pos = np.take_along_axis(pos, srt, axis=1)
    weight = np.take_along_axis(rank_score, srt, axis=1)
    cum = np.cumsum(weight, axis=1) / weight.sum(axis=1, keepdims=True)
    walk = cum - (pos - np.arange(1, k + 1)[None, :]) / (g - k)
    top = walk.argmax(axis=1)
    above = walk.max(axis=1) > WALK_TOL
    lead_sorted = (np.arange(k)[None, :] <= top[:, None]) & above[:, None]
    np.put_along_axis(out, srt, lead_sorted, axis=1)
    return out


def analysed_samples(obs: pd.DataFrame, design: str | CohortDesign) -> np.ndarray:
    """Union of the analysed subgroups' samples (boolean over ``obs``)."""
    design = design if isinstance(design, CohortDesign) else CohortDesign(design)
    mask = np.zeros(len(obs), bool)
    for sub in subgroups(obs, design):
        mask |= np.asarray(sub.mask, bool)
    return mask


def _scored(scores: pd.DataFrame | None, method: str) -> set[str] | None:
    if scores is None:
        return None
    rows = scores[(scores["method"] == method) & scores["score"].notna()]
    return set(rows["signature"])


def leading_edge_cohort(adata, signatures: list[Signature], *, cohort: str,
                        design: str | CohortDesign, methods: list[str],
                        scores: pd.DataFrame | None = None, alpha: float = 0.25,
                        gsva_kernel: str = "auto",
                        roles: tuple[str, ...] = HYPOTHESIS_ROLES,
                        gsva_density: np.ndarray | None = None) -> pd.DataFrame:
    """How often each gene of a hypothesis set is in the ssGSEA/GSVA leading edge.

    Parameters
    ----------
    adata
        The harmonised cohort; ranks and GSVA densities are computed over all its samples and
        its genes without missing values, as :func:`her2atlas.scoring.score_cohort_qc` does.
    signatures
        The catalogue (gene sets with a role in ``roles``; weight signatures are skipped).
    cohort, design
        Cohort id and design (the analysed samples: :func:`analysed_samples`).
    methods
        Configured scoring methods; ``ssgsea`` and ``gsva`` are used.
    scores
        The cohort's long scores: only sets with a score under the method are reported.
    alpha, gsva_kernel
        ssGSEA weight and GSVA kernel, as configured for scoring.
    roles
        Catalogue roles analysed.
    gsva_density
        The score step's GSVA density of this cohort (samples × non-constant genes,
        :func:`her2atlas.scoring.score_matrix` ``shared``): reused instead of running the
        kernel again. Ignored (and computed here) when its shape does not match.

    Returns
    -------
    pandas.DataFrame
        :data:`LEADING_EDGE_COLUMNS`, per set, method and part sorted by decreasing fraction.
    """
    from .scoring import _Prepared

    used = [m for m in ("ssgsea", "gsva") if m in methods]
    X = np.asarray(adata.X, dtype=float)
    complete = ~np.isnan(X).any(axis=0)
    genes = pd.Index(adata.var_names)[complete]
    counts = (np.asarray(adata.layers["counts"], dtype=float)[:, complete]
              if "counts" in getattr(adata, "layers", {}) else None)
    prep = _Prepared(X[:, complete], counts, gsva_kernel)
    if (gsva_density is not None and "gsva" in used
            and gsva_density.shape == (X.shape[0], int(prep.get("gsva_keep").sum()))):
        prep._cache["gsva"] = gsva_density  # the same kernel on the same matrix: reuse it
    keep_rows = analysed_samples(adata.obs, design)
    sets = [s for s in signatures if s.role in roles and s.weights is None]
    rows = []
    for method in used:
        scored = _scored(scores, method)
        if method == "ssgsea":
            # ranks are within each sample: rank the analysed samples only
            avg = km.ascending_ranks(prep.X[keep_rows], ties="average")
            low = km.ascending_ranks(prep.X[keep_rows], ties="min")
            universe = genes
        else:
            keep = prep.get("gsva_keep")
            density = prep.get("gsva")[keep_rows]
            universe = genes[keep]
            if density.shape[1] == 0:
                continue
        for sig in sets:
            if scored is not None and sig.name not in scored:
                continue
            for part, members in (("up", sig.genes), ("down", sig.down)):
                names = [g for g in members if g in universe]
                if not names:
                    continue
                idx = universe.get_indexer(names)
                lead = (ssgsea_leading_edge(avg, low, idx, alpha=alpha) if method == "ssgsea"
                        else gsva_leading_edge(density, idx))
                rows += [{"cohort": cohort, "signature": sig.name, "gene": g, "part": part,
                          "method": method, "fraction_in_leading_edge": float(f),
                          "n_samples": int(keep_rows.sum())}
                         for g, f in zip(names, lead.mean(axis=0) if len(lead) else
                                         np.full(len(names), np.nan), strict=True)]
    table = pd.DataFrame(rows, columns=LEADING_EDGE_COLUMNS)
    return table.sort_values(["signature", "method", "part", "fraction_in_leading_edge"],
                             ascending=[True, True, False, False], kind="stable"
                             ).reset_index(drop=True)

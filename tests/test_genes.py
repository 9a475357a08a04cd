"""The genes behind each association: per-gene models, pooling, leading genes and edges."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from her2atlas import genes as gx
from her2atlas import score_methods as km
from her2atlas.association import Settings, associate_cohort
from her2atlas.meta import pool
from her2atlas.signatures import Signature

GENES = [f"G{i}" for i in range(12)]
SIGS = [
    Signature("SET_A", GENES[:5], role="hypothesis"),
    Signature("SET_UD", GENES[3:7], role="hypothesis", down=GENES[7:9]),
    Signature("CTRL", GENES[9:], role="control"),
]


def _cohort(n: int = 120, seed: int = 0, arms: bool = False, nan_gene: bool = False) -> ad.AnnData:
    """HER2+ (and 10 HER2−) samples, pCR driven by G0 and OS by G1; optional three arms."""
    rng = np.random.default_rng(seed)
    X = rng.normal(8, 1.5, size=(n, len(GENES)))
    if nan_gene:
        X[:7, 2] = np.nan
    eta = -0.3 - 0.8 * (X[:, 0] - 8) / 1.5
    pcr = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int)
    obs = pd.DataFrame({
        "her2_status": ["positive"] * (n - 10) + ["negative"] * 10,
        "er_status": np.where(rng.random(n) < 0.4, "positive", "negative"),
        "trastuzumab": pd.array(np.ones(n, bool), dtype="boolean"),
        "pcr": pd.array(pcr, dtype="Int8"),
        "os_time": rng.exponential(50 * np.exp(-0.4 * (X[:, 1] - 8)), n),
        "os_event": pd.array((rng.random(n) < 0.6).astype(int), dtype="Int8"),
    }, index=[f"S{i}" for i in range(n)])
    if arms:
        obs["arm"] = np.array(["TH", "TL", "THL"])[np.arange(n) % 3]
        obs["trastuzumab"] = pd.array(obs["arm"] != "TL", dtype="boolean")
    adata = ad.AnnData(X.astype(np.float32), obs=obs, var=pd.DataFrame(index=GENES))
    adata.X = X  # float64: the statsmodels comparison needs the same values
    return adata


ENDPOINTS = {"response": "pcr", "survival": ["os"]}


def _scores_of(adata: ad.AnnData, gene: str) -> pd.DataFrame:
    """A long score table whose only 'signature' is one gene's expression."""
    x = np.asarray(adata[:, gene].X, float).ravel()
    return pd.DataFrame({"sample": adata.obs_names, "signature": "S", "method": "zmean",
                         "score": x, "score_z": x, "genes_used": 1, "genes_in_set": 1})


def test_members_roles_signs_and_weights():
    weights = Signature("W", [], role="hypothesis",
                        weights={"G0": 0.5, "G1": -2.0, "G2": 0.1, "NOPE": 9.0})
    m = gx.signature_members([*SIGS, weights], GENES, max_weight_genes=2)
    assert "CTRL" not in set(m["signature"])
    ud = m[m["signature"] == "SET_UD"].set_index("gene")
    assert ud.loc["G7", "part"] == "down" and ud.loc["G7", "sign"] == -1
    assert ud.loc["G3", "sign"] == 1
    w = m[m["signature"] == "W"]
    assert list(w["gene"]) == ["G1", "G0"] and list(w["sign"]) == [-1, 1]


def test_gene_logistic_equals_statsmodels_logit():
    import statsmodels.api as sm

    adata = _cohort(nan_gene=True)
    table = gx.gene_effects_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                   endpoints=ENDPOINTS)
    assert set(table["model"]) == {"logistic", "cox"}
    assert list(table.columns) == gx.COHORT_COLUMNS
    her2 = (adata.obs["her2_status"] == "positive").to_numpy()
    for gene in ("G0", "G2", "G4"):
        row = table[(table["gene"] == gene) & (table["model"] == "logistic")
                    & (table["signature"] == "SET_A")].iloc[0]
        x = np.asarray(adata[:, gene].X, float).ravel()
        m = her2 & np.isfinite(x)
        z = (x[m] - x[m].mean()) / x[m].std(ddof=1)
        y = adata.obs["pcr"].to_numpy(int)[m]
        ref = sm.Logit(y, sm.add_constant(z)).fit(disp=0)
        assert row["estimator"] == "ML"
        assert row["n"] == m.sum() and row["events"] == y.sum()
        assert row["log_effect"] == pytest.approx(ref.params[1], abs=1e-7)
        assert row["se"] == pytest.approx(ref.bse[1], abs=1e-7)
        assert row["p"] == pytest.approx(ref.pvalues[1], abs=1e-7)
        lo, hi = np.exp(ref.conf_int()[1])
        assert row["ci_low"] == pytest.approx(lo, abs=1e-7)
        assert row["ci_high"] == pytest.approx(hi, abs=1e-7)
    assert table.loc[table["gene"] == "G2", "n"].max() < table.loc[table["gene"] == "G0", "n"].max()


@pytest.mark.parametrize("design", ["trastuzumab_treated", "multi_arm_anti_her2"])
def test_gene_rows_equal_score_rows_of_the_association_stage(design):
    """A gene's rows are the score's unadjusted rows with the gene in place of the score."""
    adata = _cohort(arms=design == "multi_arm_anti_her2", seed=4)
    table = gx.gene_effects_cohort(adata, SIGS, cohort="c", design=design, endpoints=ENDPOINTS,
                                   settings=Settings(firth="auto"))
    for gene in ("G0", "G1"):
        resp, surv = associate_cohort(adata.obs.copy(), _scores_of(adata, gene), cohort="c",
                                      design=design, endpoints=ENDPOINTS,
                                      roles={"S": "hypothesis"})
        score_rows = pd.concat([resp, surv])
        score_rows = score_rows[score_rows["model"].isin(gx.GENE_MODELS)]
        mine = table[(table["gene"] == gene) & (table["signature"] == "SET_A")]
        assert len(mine) == len(score_rows)
        merged = mine.merge(score_rows, on=["subgroup", "endpoint", "model"], suffixes=("", "_s"))
        assert len(merged) == len(mine)
        for col in ("n", "events", "log_effect", "se", "p", "ci_low", "ci_high"):
            np.testing.assert_allclose(merged[col].astype(float), merged[f"{col}_s"].astype(float),
                                       rtol=1e-10, equal_nan=True)
        assert (merged["formula"] == merged["formula_s"]).all()
        assert (merged["pooled"] == merged["pooled_s"]).all()


def test_gene_rows_repeat_across_signatures_and_q_per_signature():
    table = gx.gene_effects_cohort(_cohort(), SIGS, cohort="c", design="trastuzumab_treated",
                                   endpoints=ENDPOINTS)
    g3 = table[(table["gene"] == "G3") & (table["model"] == "logistic")]
    assert set(g3["signature"]) == {"SET_A", "SET_UD"}
    assert g3["log_effect"].nunique() == 1
    fam = table[(table["signature"] == "SET_A") & (table["model"] == "logistic")]
    from her2atlas.stats import benjamini_hochberg

    np.testing.assert_allclose(fam["q"], benjamini_hochberg(fam["p"].to_numpy(float)))


def _three_cohorts():
    tables = [gx.gene_effects_cohort(_cohort(seed=s), SIGS, cohort=f"c{s}",
                                     design="trastuzumab_treated", endpoints=ENDPOINTS)
              for s in (1, 2, 3)]
    meta = pd.DataFrame({
        "signature": ["SET_A", "SET_A", "SET_UD"], "method": ["zmean", "ssgsea", "zmean"],
        "question": "within_trastuzumab", "era": "trastuzumab", "endpoint": "pcr",
        "model": "logistic", "log_effect": [-0.5, 0.4, -0.3]})
    return tables, meta


def test_pooled_gene_row_equals_meta_pool_on_cohort_rows():
    tables, meta = _three_cohorts()
    out = gx.pool_gene_tables(tables, [meta], min_cohorts=2,
                              endpoint_families={"pcr": ["pcr"], "overall": ["os"]})
    assert list(out.columns) == gx.GENE_COLUMNS
    rows = pd.concat(tables)
    for gene, model, family in (("G0", "logistic", "pcr"), ("G1", "cox", "overall")):
        cohort_rows = rows[(rows["gene"] == gene) & (rows["model"] == model)
                           & (rows["signature"] == "SET_A")]
        ref = pool([cohort_rows.assign(method="m")], min_cohorts=2,
                   endpoint_families={"pcr": ["pcr"], "overall": ["os"]}).iloc[0]
        mine = out[(out["gene"] == gene) & (out["model"] == model) & (out["cohort"] == "pooled")
                   & (out["signature"] == "SET_A")].iloc[0]
        assert mine["k"] == 3 and mine["endpoint"] == family
        for col in ("effect", "ci_low", "ci_high", "p", "log_effect", "se", "i2"):
            assert mine[col] == pytest.approx(ref[col], rel=1e-12)
        assert mine["n"] == ref["n_total"] and mine["events"] == ref["events_total"]
        assert mine["interval"] == ref["interval"]
    # cohort rows are carried through unchanged
    c1 = out[(out["cohort"] == "c1") & (out["gene"] == "G0") & (out["model"] == "logistic")
             & (out["signature"] == "SET_A")].iloc[0]
    src = rows[(rows["cohort"] == "c1") & (rows["gene"] == "G0") & (rows["model"] == "logistic")
               & (rows["signature"] == "SET_A")].iloc[0]
    assert c1["log_effect"] == src["log_effect"] and c1["endpoint_family"] == "pcr"


def test_leading_genes_follow_the_pooled_score_direction():
    tables, meta = _three_cohorts()
    out = gx.pool_gene_tables(tables, [meta], endpoint_families={"pcr": ["pcr"]})
    pooled = out[(out["cohort"] == "pooled") & (out["model"] == "logistic")]
    a = pooled[pooled["signature"] == "SET_A"].set_index("gene")
    # zmean is the reference method (preferred over ssgsea); its effect is < 0
    assert (a["score_method"] == "zmean").all() and (a["score_effect"] < 1).all()
    assert a.loc["G0", "effect"] < 1 and bool(a.loc["G0", "leading"])
    assert a.loc["G0", "leading_rank"] == 1
    conc = a[a["concordant"].astype(bool)]
    assert (conc["log_effect"] < 0).all()
    assert list(conc.sort_values("leading_rank").index) == list(
        conc["z"].abs().sort_values(ascending=False).index)
    assert (a.loc[~a["concordant"].astype(bool), "leading_rank"].isna()).all()
    lead = a[a["leading"].astype(bool)]
    assert (lead["p"] < gx.LEADING_P).all()
    # a down gene is concordant when its own effect is opposite to the score's
    ud = pooled[pooled["signature"] == "SET_UD"].set_index("gene")
    down = ud[ud["part"] == "down"]
    assert ((down["log_effect"] > 0) == down["concordant"].astype(bool)).all()
    # API views
    top = gx.leading_genes(out[out["signature"] == "SET_A"], top=3)
    assert list(top["gene"])[0] == "G0" and len(top) <= 3
    mat = gx.gene_cohort_matrix(out[out["signature"] == "SET_A"])
    assert list(mat.columns) == ["c1", "c2", "c3", "pooled"] and mat.index[0] == "G0"


def _brute_ssgsea_edge(x: np.ndarray, members: list[int], alpha: float) -> set[int]:
    """Walk one sample gene by gene from the highest value down (no ties)."""
    g, k = len(x), len(members)
    order = np.argsort(-x)
    ranks = np.empty(g)
    ranks[np.argsort(x)] = np.arange(1, g + 1)
    total = sum(ranks[m] ** alpha for m in members)
    walk, best, best_at = 0.0, 0.0, -1
    for i, gene in enumerate(order):
        if gene in members:
            walk += ranks[gene] ** alpha / total
        else:
            walk -= 1 / (g - k)
        if walk > best:
            best, best_at = walk, i
    if best <= gx.WALK_TOL:
        return set()
    return {int(gene) for gene in order[:best_at + 1] if gene in members}


def _brute_gsva_edge(d: np.ndarray, members: list[int]) -> set[int]:
    g, k = len(d), len(members)
    order = np.argsort(-d, kind="stable")
    score = {int(gene): abs(g - (i + 1) + 1 - g / 2) for i, gene in enumerate(order)}
    total = sum(score[m] for m in members)
    walk, best, best_at = 0.0, 0.0, -1
    for i, gene in enumerate(order):
        walk += score[int(gene)] / total if gene in members else -1 / (g - k)
        if walk > best:
            best, best_at = walk, i
    if best <= gx.WALK_TOL:
        return set()
    return {int(gene) for gene in order[:best_at + 1] if gene in members}


def test_ssgsea_leading_edge_equals_brute_force_walk():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(25, 60))
    members = [3, 7, 11, 20, 21, 40, 59]
    X[:12, members] += 1.0  # some samples enriched, some not
    avg = km.ascending_ranks(X, ties="average")
    low = km.ascending_ranks(X, ties="min")
    lead = gx.ssgsea_leading_edge(avg, low, np.array(members), alpha=0.25)
    for i in range(len(X)):
        got = {members[j] for j in np.flatnonzero(lead[i])}
        assert got == _brute_ssgsea_edge(X[i], members, 0.25)
    assert lead[:12].mean() > lead[12:].mean()


def test_ssgsea_leading_edge_with_ties_does_not_depend_on_gene_order():
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(size=(10, 40)), 0)  # heavy ties
    members = np.array([1, 5, 9, 13, 30])
    perm = rng.permutation(40)
    inv = np.argsort(perm)
    a = gx.ssgsea_leading_edge(km.ascending_ranks(X), km.ascending_ranks(X, ties="min"), members)
    Xp = X[:, perm]
    b = gx.ssgsea_leading_edge(km.ascending_ranks(Xp), km.ascending_ranks(Xp, ties="min"),
                               inv[members])
    np.testing.assert_array_equal(a, b)


def test_gsva_leading_edge_equals_brute_force_walk():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(30, 50))
    members = [0, 4, 8, 15, 33]
    X[:10, members] += 1.5
    density = km.gsva_density(X)
    lead = gx.gsva_leading_edge(density, np.array(members))
    for i in range(len(X)):
        got = {members[j] for j in np.flatnonzero(lead[i])}
        assert got == _brute_gsva_edge(density[i], members)


def test_leading_edge_cohort_table():
    adata = _cohort(n=60)
    table = gx.leading_edge_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                   methods=["zmean", "ssgsea", "gsva"])
    assert list(table.columns) == gx.LEADING_EDGE_COLUMNS
    assert set(table["method"]) == {"ssgsea", "gsva"}
    assert set(table["signature"]) == {"SET_A", "SET_UD"}
    assert set(table.loc[table["signature"] == "SET_UD", "part"]) == {"up", "down"}
    assert table["fraction_in_leading_edge"].between(0, 1).all()
    assert (table["n_samples"] == 50).all()  # HER2+ only
    # the fraction is over the analysed samples' own walks
    X = np.asarray(adata.X, float)
    her2 = (adata.obs["her2_status"] == "positive").to_numpy()
    idx = np.arange(5)
    lead = gx.ssgsea_leading_edge(km.ascending_ranks(X[her2]),
                                  km.ascending_ranks(X[her2], ties="min"), idx)
    got = table[(table["signature"] == "SET_A") & (table["method"] == "ssgsea")]
    expected = dict(zip(GENES[:5], lead.mean(axis=0), strict=True))
    for row in got.itertuples():
        assert row.fraction_in_leading_edge == pytest.approx(expected[row.gene])
    # sets without a score under a method are left out
    scores = pd.DataFrame({"sample": "S0", "signature": ["SET_A"], "method": ["ssgsea"],
                           "score": [1.0]})
    only = gx.leading_edge_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                  methods=["ssgsea"], scores=scores)
    assert set(only["signature"]) == {"SET_A"}


@pytest.mark.pipeline
def test_demo_run_writes_gene_tables(demo_run):
    import yaml

    config = yaml.safe_load((demo_run / "demo/config.yaml").read_text())
    base = yaml.safe_load((demo_run / "config.yaml").read_text())
    names = [s.get("name", s.get("set")) for kind in ("select", "custom", "weights")
             for s in (config["signatures"].get(kind) or base["signatures"].get(kind, []))
             if s.get("role", "hypothesis") in gx.HYPOTHESIS_ROLES]
    assert "KORKAYA2012_IL6_LOOP" in names
    for name in names:
        table = pd.read_csv(demo_run / f"results/demo/genes/{name}.tsv", sep="\t")
        assert list(table.columns) == gx.GENE_COLUMNS and len(table)
        assert (table["signature"] == name).all() and "pooled" in set(table["cohort"])
    il6 = pd.read_csv(demo_run / "results/demo/genes/KORKAYA2012_IL6_LOOP.tsv", sep="\t")
    primary = il6[(il6["cohort"] == "pooled") & (il6["question"] == "within_trastuzumab")
                  & (il6["endpoint"] == "pcr")]
    assert primary["leading"].astype(bool).any()  # the planted IL-6 loop effect
    for cohort in ("demo_neoadjuvant_a", "demo_three_arm_g"):
        assert (demo_run / f"results/demo/genes/cohorts/{cohort}.tsv").stat().st_size > 0
        edge = pd.read_csv(demo_run / f"results/demo/genes/leading_edge/{cohort}.tsv", sep="\t")
        assert list(edge.columns) == gx.LEADING_EDGE_COLUMNS and len(edge)


def test_leading_edges_reuse_the_score_steps_gsva_density():
    from her2atlas.scoring import score_cohort_qc

    adata = _cohort(n=60)
    adata.uns["provenance"] = {"cohort": "c"}
    shared: dict = {}
    score_cohort_qc(adata, SIGS, methods=["gsva"], min_coverage=0.0, min_genes=1,
                    shared=shared)
    density = shared["gsva_density"]
    X = np.asarray(adata.X, float)
    np.testing.assert_array_equal(density, km.gsva_density(X, kernel="gaussian"))
    fresh = gx.leading_edge_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                   methods=["gsva"])
    reused = gx.leading_edge_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                    methods=["gsva"], gsva_density=density)
    pd.testing.assert_frame_equal(reused, fresh)
    # the passed density is what the walks read: a reversed one moves the leading edges
    flipped = gx.leading_edge_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                     methods=["gsva"], gsva_density=-density)
    assert not flipped["fraction_in_leading_edge"].equals(fresh["fraction_in_leading_edge"])
    # a density of another shape (e.g. the empty file written without GSVA) is not used
    other = gx.leading_edge_cohort(adata, SIGS, cohort="c", design="trastuzumab_treated",
                                   methods=["gsva"], gsva_density=np.empty((0, 0)))
    pd.testing.assert_frame_equal(other, fresh)

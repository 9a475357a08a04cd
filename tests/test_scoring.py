"""Signature scores against gseapy and against their definitions."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import yaml

from her2atlas.score_methods import combined_z, gene_zstats, zscore_genes
from her2atlas.score_methods import zmean as zmean_scores
from her2atlas.scoring import SCORE_COLUMNS, score_cohort, ssgsea_scores
from her2atlas.signatures import Signature, coverage, read_gmt

from conftest import REPO


def _matrix(n_samples=8, n_genes=400, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(6, 2, size=(n_samples, n_genes)), [f"G{i}" for i in range(n_genes)]


def test_ssgsea_equals_gseapy_es():
    import gseapy

    X, genes = _matrix()
    sets = {"A": genes[:15], "B": genes[50:170:3], "C": genes[300:309]}
    frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(X.shape[0])])
    res = gseapy.ssgsea(data=frame, gene_sets=sets, outdir=None, sample_norm_method="rank",
                        min_size=5, weight=0.25, no_plot=True, threads=1)
    ref = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    ref = ref.loc[frame.columns, ["A", "B", "C"]].to_numpy()
    index_sets = [np.array([genes.index(g) for g in sets[k]]) for k in "ABC"]
    mine = ssgsea_scores(X, index_sets, alpha=0.25)
    np.testing.assert_allclose(mine, ref, rtol=1e-9)


def test_ssgsea_ties_do_not_depend_on_gene_order():
    X, genes = _matrix(n_samples=5, n_genes=200, seed=4)
    X = np.round(X)  # many ties
    idx = np.arange(0, 40, 2)
    a = ssgsea_scores(X, [idx])
    perm = np.random.default_rng(0).permutation(X.shape[1])
    inverse = np.argsort(perm)
    b = ssgsea_scores(X[:, perm], [inverse[idx]])
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_ssgsea_tie_rule_is_mean_over_tie_orders():
    """With average ranks the ES equals the mean ES over all orders of the tied genes."""
    from itertools import permutations

    x = np.array([[5.0, 3.0, 3.0, 3.0, 1.0, 0.0]])
    member = np.array([1, 4])  # one tied gene in the set
    es = ssgsea_scores(x, [member], alpha=0.25)[0, 0]

    def es_for_order(order):
        # order: gene indices from highest to lowest expression (one order of the tie)
        n = len(order)
        hits = [g for g in order if g in member]
        # tied genes share their average ascending rank (3+4+5)/3 as weight, as in gseapy's metric
        weight = {0: 6.0, 1: 4.0, 2: 4.0, 3: 4.0, 4: 2.0, 5: 1.0}
        w = sum(weight[g] ** 0.25 for g in hits)
        run, total = 0.0, 0.0
        for g in order:
            run += weight[g] ** 0.25 / w if g in member else -1 / (n - len(member))
            total += run
        return total

    orders = [[0, *p, 4, 5] for p in permutations([1, 2, 3])]
    assert es == pytest.approx(np.mean([es_for_order(o) for o in orders]), rel=1e-12)


def test_zmean_is_mean_of_gene_zscores():
    X, _ = _matrix()
    Z = zscore_genes(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Z.std(axis=0, ddof=1), 1, rtol=1e-12)
    out = zmean_scores(Z, [np.array([0, 5, 9])])
    manual = np.mean([(X[:, j] - X[:, j].mean()) / X[:, j].std(ddof=1) for j in (0, 5, 9)],
                     axis=0)
    np.testing.assert_allclose(out[:, 0], manual, rtol=1e-12)


@pytest.mark.parametrize(("dtype", "tol"), [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_zmean_per_set_equals_the_full_z_matrix(dtype, tol):
    """Set z-scores formed per set from gene statistics (computed in blocks, set genes only)
    equal slices of the full z-matrix: zmean and combined_z alike, NaNs and constant genes too
    (to the precision of the input: the pipeline scores float64)."""
    rng = np.random.default_rng(11)
    X = rng.normal(6, 2, size=(40, 700)).astype(dtype)
    X[3, 10] = X[7, 500] = np.nan
    X[:, 20] = 4.0  # constant: z = 0
    sets = [np.arange(0, 30), np.array([20, 500, 699, 3]), np.arange(100, 700, 7)]
    stats = gene_zstats(X, np.concatenate(sets), block=64)
    Z = zscore_genes(X)
    for per_set, full in [(zmean_scores(X, sets, stats=stats), zmean_scores(Z, sets)),
                          (combined_z(X, sets, stats=stats), combined_z(Z, sets))]:
        assert per_set.dtype == full.dtype
        np.testing.assert_allclose(per_set, full, rtol=tol, atol=tol)
    mean, sd = stats
    assert np.isnan(mean[50]) and np.isinf(sd[20])  # gene 50 is in no set: not computed


def test_coverage_and_na_scores_with_reason():
    X, genes = _matrix(n_samples=6)
    adata = ad.AnnData(X.astype(np.float32), obs=pd.DataFrame(index=[f"S{i}" for i in range(6)]),
                       var=pd.DataFrame(index=genes))
    adata.uns["provenance"] = {"cohort": "toy"}
    sigs = [Signature("OK", genes[:10]), Signature("HALF", genes[:3] + ["X1", "X2", "X3", "X4"]),
            Signature("SMALL", ["G1", "ABSENT"])]
    scores, cov = score_cohort(adata, sigs, methods=["zmean", "ssgsea"], min_coverage=0.5,
                               min_genes=2)
    cov = cov.set_index("signature")
    assert cov.loc["OK", "scored"] and cov.loc["OK", "genes_used"] == 10
    assert not cov.loc["HALF", "scored"] and "coverage 43%" in cov.loc["HALF", "reason"]
    assert not cov.loc["SMALL", "scored"] and "only 1 gene" in cov.loc["SMALL", "reason"]
    half = scores[scores["signature"] == "HALF"]
    assert half["score"].isna().all() and (half["genes_used"] == 3).all()
    ok = scores[(scores["signature"] == "OK") & (scores["method"] == "zmean")]
    assert ok["score_z"].std(ddof=1) == pytest.approx(1.0)
    assert list(scores.columns) == SCORE_COLUMNS


def test_nine_gene_il6_loop_set_from_config_scores():
    """The primary signature as config.yaml defines it: the nine genes of Korkaya et al. 2012."""
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    custom = {c["name"]: c for c in config["signatures"]["custom"]}
    assert config["primary"]["signature"] == "KORKAYA2012_IL6_LOOP"
    genes = custom["KORKAYA2012_IL6_LOOP"]["genes"]
    # the IL-6 -> IL-6R/gp130 -> JAK -> STAT3 loop with its NF-kB arm (Korkaya, Mol Cell 2012)
    assert sorted(genes) == sorted(["IL6", "IL6R", "IL6ST", "JAK1", "JAK2", "STAT3", "NFKB1",
                                    "RELA", "SOCS3"])
    X, filler = _matrix(n_samples=6, n_genes=100)
    names = genes + filler[len(genes):]
    sig = Signature("KORKAYA2012_IL6_LOOP", genes)
    cov = coverage([sig], pd.Index(names), min_coverage=config["signatures"]["min_coverage"],
                   min_genes=config["signatures"]["min_genes"])
    assert bool(cov["scored"].iloc[0]) and cov["genes_used"].iloc[0] == 9
    adata = ad.AnnData(X, obs=pd.DataFrame(index=[f"S{i}" for i in range(6)]),
                       var=pd.DataFrame(index=names))
    adata.uns["provenance"] = {"cohort": "toy"}
    scores, _ = score_cohort(adata, [sig], methods=["zmean"], min_coverage=0.5, min_genes=2)
    z = (X[:, :9] - X[:, :9].mean(axis=0)) / X[:, :9].std(axis=0, ddof=1)
    np.testing.assert_allclose(scores["score"], z.mean(axis=1), rtol=1e-12)
    assert (scores["genes_used"] == 9).all()


def test_read_gmt_rejects_malformed_line(tmp_path):
    from her2atlas.errors import Her2AtlasError

    path = tmp_path / "bad.gmt"
    path.write_text("SET_A\tdesc\tG1\tG2\nBROKEN_LINE_WITHOUT_TABS\n")
    with pytest.raises(Her2AtlasError, match="line 2"):
        read_gmt(path)

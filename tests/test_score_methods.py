"""Scoring kernels against gseapy, scipy and their published definitions."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.stats import median_abs_deviation, rankdata, spearmanr

from her2atlas import score_methods as km
from her2atlas.scoring import concordance, score_cohort, score_cohort_qc
from her2atlas.signatures import Signature


def _gseapy_gsva(frame, sets, kcdf):
    import gseapy

    res = gseapy.gsva(data=frame, gene_sets=sets, outdir=None, kcdf=kcdf, min_size=3, threads=1)
    table = res.res2d.pivot(index="Name", columns="Term", values="ES").astype(float)
    return table.loc[frame.columns, list(sets)].to_numpy()


@pytest.mark.parametrize("kernel", ["gaussian", "poisson"])
def test_gsva_equals_gseapy(kernel):
    rng = np.random.default_rng(12)
    n_genes, n = 250, 15
    if kernel == "gaussian":
        X = rng.normal(7, 2, size=(n, n_genes))
    else:
        X = rng.poisson(rng.uniform(2, 60, n_genes), size=(n, n_genes)).astype(float)
    genes = [f"G{i}" for i in range(n_genes)]
    sets = {"A": genes[:12], "B": genes[40:130:3], "C": genes[200:240]}
    idx = [np.array([genes.index(g) for g in v]) for v in sets.values()]
    frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(n)])
    ref = _gseapy_gsva(frame, sets, "Gaussian" if kernel == "gaussian" else "Poisson")
    mine = km.gsva(km.gsva_density(X, kernel=kernel), idx)
    np.testing.assert_allclose(mine, ref, atol=1e-10)



@pytest.mark.parametrize("kernel", ["gaussian", "poisson"])
def test_gsva_equals_gseapy_at_60_samples(kernel):
    """Enough samples for the Gaussian kernel's paths (7 full 8-row tiles and the rows left
    over, pairs far enough apart to count as exactly 1, ties) and Poisson counts from 0 to
    ~5e4 reads."""
    rng = np.random.default_rng(60)
    n_genes, n = 300, 60
    if kernel == "gaussian":
        X = rng.normal(rng.uniform(2, 12, n_genes), rng.uniform(0.2, 3, n_genes), (n, n_genes))
        X[:, :20] = np.round(X[:, :20], 1)  # ties
        X[:30, 20:40] += 40.0  # two far groups: pairs >= 8.3 bandwidths apart
    else:
        mean = np.exp(rng.uniform(-1, 10.8, n_genes))
        X = rng.poisson(mean * rng.lognormal(0, 0.4, (n, n_genes))).astype(float)
    genes = [f"G{i}" for i in range(n_genes)]
    sets = {"A": genes[:25], "B": genes[15:120:4], "C": genes[100:260:5], "D": genes[250:]}
    idx = [np.array([genes.index(g) for g in v]) for v in sets.values()]
    frame = pd.DataFrame(X.T, index=genes, columns=[f"S{i}" for i in range(n)])
    ref = _gseapy_gsva(frame, sets, "Gaussian" if kernel == "gaussian" else "Poisson")
    mine = km.gsva(km.gsva_density(X, kernel=kernel), idx)
    np.testing.assert_allclose(mine, ref, atol=1e-10, rtol=0)

# R GSVA 1.46.0 (Debian r-bioc-gsva), reference for the constant-gene filter:
#   library(GSVA)
#   x <- rbind(G1 = c(5, 12, 0, 3, 8, 20), G2 = c(40, 35, 60, 22, 51, 30), G3 = rep(0, 6),
#              G4 = c(1, 0, 2, 0, 4, 1), G5 = c(100, 80, 150, 95, 70, 120),
#              G6 = c(9, 14, 6, 11, 3, 17), G7 = c(0, 2, 1, 5, 0, 3),
#              G8 = c(250, 310, 190, 280, 220, 330), G9 = rep(0, 6),
#              G10 = c(18, 25, 30, 12, 16, 21), G11 = rep(7, 6), G12 = c(60, 45, 52, 70, 38, 49))
#   colnames(x) <- paste0("S", 1:6)
#   sets <- list(A = c("G1", "G3", "G4", "G6"), B = c("G2", "G5", "G9", "G10", "G11"),
#                C = c("G7", "G8", "G12"), D = c("G3", "G9", "G11", "G4"))
#   print(gsva(x, sets, kcdf = "Poisson", mx.diff = TRUE, min.sz = 2), digits = 15)
#   print(gsva(log2(x + 1), sets, kcdf = "Gaussian", mx.diff = TRUE, min.sz = 2), digits = 15)
# R warns "3 genes with constant expression values ... are discarded" (G3, G9, G11) and leaves D
# (one non-constant gene after filtering) out: filtering comes before the set-size rule.
R_COUNTS = np.array([
    [5, 12, 0, 3, 8, 20], [40, 35, 60, 22, 51, 30], [0] * 6, [1, 0, 2, 0, 4, 1],
    [100, 80, 150, 95, 70, 120], [9, 14, 6, 11, 3, 17], [0, 2, 1, 5, 0, 3],
    [250, 310, 190, 280, 220, 330], [0] * 6, [18, 25, 30, 12, 16, 21], [7] * 6,
    [60, 45, 52, 70, 38, 49]], dtype=float).T  # samples x genes
R_SETS = {"A": ["G1", "G3", "G4", "G6"], "B": ["G2", "G5", "G9", "G10", "G11"],
          "C": ["G7", "G8", "G12"], "D": ["G3", "G9", "G11", "G4"]}
R_GSVA = {
    "poisson": [
        [0.166666666666667, 0.372549019607843, -0.393939393939394, 5.55111512312578e-17,
         0.473684210526316, 0.656862745098039],
        [0.269230769230769, -0.636363636363636, 1.0, -0.923076923076923, -0.156862745098039,
         -0.636363636363636],
        [-0.142857142857143, 0.692307692307692, -0.777777777777778, 0.842105263157895,
         -0.333333333333333, 0.153846153846154]],
    "gaussian": [
        [-0.166666666666667, -0.156862745098039, -0.602564102564103, -0.166666666666667,
         0.166666666666667, 0.842105263157895],
        [0.372549019607843, -0.166666666666667, 1.0, -0.923076923076923, 0.269230769230769,
         -0.636363636363636],
        [0.117647058823530, 0.692307692307692, -0.5, 1.0, -0.5, -0.166666666666667]],
}


@pytest.mark.parametrize("kernel", ["poisson", "gaussian"])
def test_gsva_drops_constant_genes_as_r_gsva(kernel):
    genes = [f"G{i}" for i in range(1, 13)]
    adata = ad.AnnData(np.log2(R_COUNTS + 1), obs=pd.DataFrame(index=[f"S{i}" for i in range(6)]),
                       var=pd.DataFrame(index=genes))
    if kernel == "poisson":
        adata.layers["counts"] = R_COUNTS
    adata.uns["provenance"] = {"cohort": "toy"}
    sigs = [Signature(name, members) for name, members in R_SETS.items()]
    scores, cov, qc = score_cohort_qc(adata, sigs, methods=["gsva"], min_coverage=0.0,
                                      min_genes=2)
    wide = scores.pivot(index="signature", columns="sample", values="score")
    np.testing.assert_allclose(wide.loc[["A", "B", "C"], adata.obs_names].to_numpy(),
                               R_GSVA[kernel], atol=1e-12)
    assert wide.loc["D"].isna().all()  # R drops it (min.sz = 2 after filtering)
    assert cov.set_index("signature")["scored"].all()  # all genes present: not a coverage matter
    used = scores.groupby("signature")["genes_used"].first()
    assert used.to_dict() == {"A": 3, "B": 3, "C": 3, "D": 1}
    record = qc["gsva"]
    assert (record["kernel"], record["input"]) == (
        ("poisson", "counts") if kernel == "poisson" else ("gaussian", "log2"))
    assert (record["genes"], record["constant_genes_dropped"], record["genes_kept"]) == (12, 3, 9)
    assert record["dropped_genes"] == ["G11", "G3", "G9"]
    by_set = {r["signature"]: r for r in record["signatures"]}
    assert sorted(by_set) == ["A", "B", "D"]
    assert (by_set["B"]["constant_genes_dropped"], by_set["B"]["genes_used_gsva"]) == (2, 3)
    assert not by_set["D"]["scored"] and by_set["D"]["reason"] == (
        "only 1 non-constant gene(s) (minimum 2)")
    assert json.loads(json.dumps(qc)) == qc  # written as results/scores/{cohort}.json


@pytest.mark.parametrize("kernel", ["gaussian", "poisson"])
def test_gsva_with_zero_genes_equals_gseapy_on_the_filtered_matrix(kernel):
    """gseapy keeps constant genes, so it is given the matrix R GSVA would score."""
    rng = np.random.default_rng(21)
    n_genes, n = 200, 12
    counts = rng.poisson(rng.uniform(1, 60, n_genes), size=(n, n_genes)).astype(float)
    zero = np.arange(0, 200, 9)  # 23 genes zero in every sample, several inside the sets
    counts[:, zero] = 0.0
    genes = [f"G{i}" for i in range(n_genes)]
    sets = {"A": genes[:30], "B": genes[50:140:3], "C": genes[150:190]}
    adata = ad.AnnData(np.log2(counts + 1), obs=pd.DataFrame(index=[f"S{i}" for i in range(n)]),
                       var=pd.DataFrame(index=genes))
    if kernel == "poisson":
        adata.layers["counts"] = counts
    adata.uns["provenance"] = {"cohort": "toy"}
    scores, _, qc = score_cohort_qc(adata, [Signature(k, v) for k, v in sets.items()],
                                    methods=["gsva"], min_coverage=0.5, min_genes=2)
    keep = np.setdiff1d(np.arange(n_genes), zero)
    data = counts if kernel == "poisson" else np.log2(counts + 1)
    frame = pd.DataFrame(data[:, keep].T, index=[genes[i] for i in keep],
                         columns=list(adata.obs_names))
    kept = {k: [g for g in v if g in set(frame.index)] for k, v in sets.items()}
    ref = _gseapy_gsva(frame, kept, "Gaussian" if kernel == "gaussian" else "Poisson")
    wide = scores.pivot(index="signature", columns="sample", values="score")
    np.testing.assert_allclose(wide.loc[list(sets), frame.columns].to_numpy().T, ref, atol=1e-10)
    assert qc["gsva"]["constant_genes_dropped"] == len(zero)


def _reference_gaussian_density(X):
    """GSVA's C loop written out: every ordered sample pair, table CDF, no symmetry."""
    n, g = X.shape
    bw = X.std(axis=0, ddof=1) / 4.0
    bw[bw == 0] = np.inf
    out = np.empty((n, g))
    for i in range(g):
        for j in range(n):
            total = 0.0
            for k in range(n):
                v = (X[j, i] - X[k, i]) / bw[i]
                if v < -10.0:
                    continue
                if v > 10.0:
                    total += 1.0
                    continue
                cdf = km._GSVA_TABLE[int(abs(v) / 10.0 * 10000)]
                total += 1.0 - cdf if v < 0 else cdf
            out[j, i] = total / n
    return np.log(out / (1.0 - out))


def test_gaussian_kernel_equals_the_pairwise_reference():
    """Pairs visited once, 16-row tiles, far pairs counted: same numbers as the plain loop."""
    rng = np.random.default_rng(31)
    n = 53  # not a multiple of the 16-row tile
    X = np.column_stack([
        rng.normal(6, 2, n),                       # ordinary gene
        np.round(rng.normal(6, 2, n), 1),          # many ties
        np.r_[rng.normal(0, 0.1, 30), rng.normal(50, 0.1, n - 30)],  # far pairs (> 10 SD/4)
        np.full(n, 3.0),                           # constant: bandwidth inf, all 0.5
        rng.exponential(1.0, n) ** 3,              # skewed
        np.arange(n, dtype=float) * 0.125,         # exact differences land on table edges
    ])
    np.testing.assert_allclose(km.gsva_density(X), _reference_gaussian_density(X),
                               atol=1e-12, rtol=0)
    # float32 input is scored on float32 bandwidths, as before
    X32 = X.astype(np.float32)
    np.testing.assert_allclose(km.gsva_density(X32), _reference_gaussian_density(X32),
                               atol=1e-12, rtol=0)


def test_poisson_kernel_equals_scipy_pair_by_pair():
    """Distinct counts evaluated once, windows by binary search: every pair's CDF as scipy's
    (incomplete gamma), including ties, all-zero genes and far-apart groups."""
    from scipy.stats import poisson

    rng = np.random.default_rng(32)
    n = 41
    X = np.column_stack([rng.poisson(lam, n) for lam in (0.3, 4, 60, 2500)]
                        + [np.zeros(n), np.r_[np.zeros(20), np.full(n - 20, 900.0)]]).astype(float)
    mine = km.gsva_density(X, kernel="poisson")
    cdf = poisson.cdf(X[:, None, :], X[None, :, :] + 0.5).mean(axis=1)  # [j, i]: mean over k
    np.testing.assert_allclose(mine, np.log(cdf / (1 - cdf)), atol=1e-12, rtol=0)
    # negative and fractional values are floored at 0 first, as GSVA's C code reads them
    shifted = X - 0.25
    np.testing.assert_array_equal(km.gsva_density(shifted, kernel="poisson"),
                                  km.gsva_density(np.floor(np.clip(shifted, 0, None)),
                                                  kernel="poisson"))
    # integer counts are read as they are (no float copy), with the same result
    np.testing.assert_array_equal(km.gsva_density(X.astype(np.int32), kernel="poisson"), mine)


def test_gsva_walk_shortcut_equals_full_walk():
    """Max/min read at set positions equal the maxima of the full running sum."""
    rng = np.random.default_rng(1)
    density = rng.normal(size=(6, 120))
    idx = np.array([3, 17, 40, 41, 90, 110])
    fast = km.gsva(density, [idx])[:, 0]
    np.testing.assert_array_equal(km.gsva(density, [idx], block=4)[:, 0], fast)  # sample blocks
    g, k = 120, len(idx)
    for s in range(6):
        order = np.argsort(-density[s], kind="stable")
        pos = np.empty(g, int)
        pos[order] = np.arange(1, g + 1)
        score = np.abs(g - pos + 1 - g / 2)
        member = np.isin(order, idx)
        step = np.where(member, score[order] / score[idx].sum(), -1 / (g - k))
        walk = np.cumsum(step)
        assert fast[s] == pytest.approx(max(walk.max(), 0) + min(walk.min(), 0), abs=1e-12)


def test_singscore_follows_the_published_definition():
    rng = np.random.default_rng(3)
    X = np.round(rng.normal(5, 2, size=(7, 300)), 1)  # ties, ranked with 'min' as in singscore
    up, down = np.arange(0, 30), np.arange(100, 125)
    ranks = km.ascending_ranks(X, ties="min")
    up_s, up_d = km.singscore(ranks, [up])
    dn_s, dn_d = km.singscore(ranks, [down])
    for s in range(7):
        r = rankdata(X[s], method="min")
        g, k = 300, 30
        norm_up = (r[up].mean() - (k + 1) / 2) / ((2 * g - k + 1) / 2 - (k + 1) / 2)
        assert up_s[s, 0] == pytest.approx(norm_up - 0.5, rel=1e-12)
        assert up_d[s, 0] == pytest.approx(
            median_abs_deviation(r[up], scale=1 / 1.4826), rel=1e-9)
        kd = len(down)
        norm_dn = (r[down].mean() - (kd + 1) / 2) / ((2 * g - kd + 1) / 2 - (kd + 1) / 2)
        total = (norm_up - 0.5) + ((1 - norm_dn) - 0.5)  # the reference's TotalScore
        assert up_s[s, 0] - dn_s[s, 0] == pytest.approx(total, rel=1e-12)
    # extremes: the top-k genes score +0.5, the bottom-k genes -0.5
    Y = np.arange(300, dtype=float)[None, :]
    top, _ = km.singscore(km.ascending_ranks(Y, ties="min"), [np.arange(270, 300)])
    bottom, _ = km.singscore(km.ascending_ranks(Y, ties="min"), [np.arange(30)])
    assert top[0, 0] == pytest.approx(0.5) and bottom[0, 0] == pytest.approx(-0.5)


def test_mrnasi_is_spearman_with_weights():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(9, 400))
    w = rng.normal(size=400)
    rho, index = km.mrnasi(X, w)
    expected = [spearmanr(X[s], w).statistic for s in range(9)]
    np.testing.assert_allclose(rho, expected, rtol=1e-12)
    assert index.min() == 0 and index.max() == 1
    np.testing.assert_allclose(index, (rho - rho.min()) / (rho.max() - rho.min()))
    # a few samples at a time, on a column subset of a wider matrix: the same numbers
    wide = np.concatenate([rng.normal(size=(9, 50)), X], axis=1)
    rho_blocks, _ = km.mrnasi(wide, w, columns=np.arange(50, 450), block=2)
    np.testing.assert_allclose(rho_blocks, rho, rtol=1e-14)


def test_combined_z_of_a_plain_set_is_zmean_times_sqrt_k():
    """Why combined_z is produced only for up/down sets: per set it is √k · zmean."""
    rng = np.random.default_rng(6)
    Z = km.zscore_genes(rng.normal(size=(10, 50)))
    idx = [np.arange(16)]
    np.testing.assert_allclose(km.combined_z(Z, idx), km.zmean(Z, idx) * 4.0, rtol=1e-12)


def test_combined_z_only_for_up_down_sets_of_unequal_size():
    rng = np.random.default_rng(7)
    n, g = 12, 60
    X = rng.normal(5, 1.5, size=(n, g))
    genes = [f"G{i}" for i in range(g)]
    adata = ad.AnnData(X, obs=pd.DataFrame(index=[f"S{i}" for i in range(n)]),
                       var=pd.DataFrame(index=genes))
    adata.uns["provenance"] = {"cohort": "toy"}
    sigs = [Signature("PLAIN", genes[:8]), Signature("EQUAL", genes[10:15], down=genes[20:25]),
            Signature("UNEQUAL", genes[30:39], down=genes[40:44])]
    scores, _, qc = score_cohort_qc(adata, sigs, methods=["zmean", "combined_z"],
                                    min_coverage=0.5, min_genes=2)
    cz = scores[scores.method == "combined_z"]
    assert set(cz["signature"]) == {"UNEQUAL"}
    assert set(scores.loc[scores.method == "zmean", "signature"]) == {"PLAIN", "EQUAL", "UNEQUAL"}
    z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)  # Lee 2008: Σz/√k of each part
    expected = z[:, 30:39].sum(axis=1) / 3.0 - z[:, 40:44].sum(axis=1) / 2.0
    np.testing.assert_allclose(cz["score"], expected, rtol=1e-12)
    assert qc["combined_z"]["signatures"] == ["UNEQUAL"]
    assert sorted(qc["combined_z"]["not_produced"]) == ["EQUAL", "PLAIN"]
    assert qc["gsva"] is None


def test_score_cohort_all_methods_up_down_weights_and_counts_layer():
    rng = np.random.default_rng(8)
    n, g = 20, 200
    counts = rng.poisson(rng.uniform(5, 80, g), size=(n, g)).astype(np.float32)
    logged = np.log2(counts / counts.sum(axis=1, keepdims=True) * 1e6 + 1).astype(np.float32)
    genes = [f"G{i}" for i in range(g)]
    adata = ad.AnnData(logged, obs=pd.DataFrame(index=[f"S{i}" for i in range(n)]),
                       var=pd.DataFrame(index=genes))
    adata.layers["counts"] = counts
    adata.uns["provenance"] = {"cohort": "toy"}
    sigs = [Signature("UPDN", genes[:10], down=genes[10:16]),
            Signature("W", list(genes), weights={x: float(i) for i, x in enumerate(genes)})]
    methods = ["zmean", "combined_z", "singscore", "ssgsea", "gsva", "mrnasi"]
    scores, cov = score_cohort(adata, sigs, methods=methods, min_coverage=0.5, min_genes=2)
    assert set(scores["method"]) == set(methods)
    assert set(scores.loc[scores.method == "mrnasi", "signature"]) == {"W"}
    assert set(scores.loc[scores.method != "mrnasi", "signature"]) == {"UPDN"}
    assert cov.set_index("signature").loc["UPDN", "genes_in_set"] == 16
    # Poisson kernel on the counts layer (gsva_kernel auto) vs forced Gaussian on log2
    gsva_auto = scores[scores.method == "gsva"]["score"].to_numpy()
    density = km.gsva_density(counts.astype(float), kernel="poisson")
    expected = (km.gsva(density, [np.arange(10)]) - km.gsva(density, [np.arange(10, 16)]))[:, 0]
    np.testing.assert_allclose(gsva_auto, expected, atol=1e-12)
    single = scores[scores.method == "singscore"]
    assert single["dispersion"].notna().all()
    mr = scores[scores.method == "mrnasi"]
    assert mr["scaled_index"].between(0, 1).all()
    conc = concordance(scores, cohort="toy")
    assert len(conc) == 10  # 5 set methods on UPDN: every pair once
    pair = conc[(conc.method_a == "combined_z") & (conc.method_b == "zmean")]
    z = km.zscore_genes(logged.astype(float))
    rho = spearmanr(z[:, :10].mean(axis=1) - z[:, 10:16].mean(axis=1),
                    z[:, :10].sum(axis=1) / np.sqrt(10) - z[:, 10:16].sum(axis=1) / np.sqrt(6))
    assert pair["spearman_rho"].iloc[0] == pytest.approx(rho.statistic, rel=1e-12)


def test_poisson_kernel_matches_scipy_over_a_wide_count_range():
    """The recurrence-based Poisson CDF sums equal scipy's, from 0 to millions of reads."""
    from scipy.stats import poisson

    rng = np.random.default_rng(9)
    X = np.concatenate([rng.poisson(rng.uniform(0, 5, 40), size=(60, 40)),
                        rng.poisson(rng.uniform(1, 5e4, 40), size=(60, 40)),
                        rng.poisson(rng.uniform(1, 3e6, 10), size=(60, 10))], axis=1)
    X = X.astype(float)
    cdf = poisson.cdf(X[:, None, :], X[None, :, :] + 0.5).mean(axis=1)
    expected = np.log(cdf / (1 - cdf))
    mine = km.gsva_density(X, kernel="poisson")
    # the starting pmf is Loader's saddle-point form (as R's dpois): up to 5e4 reads the
    # log-odds equal scipy's to 1e-12 (the naive −λ + x·log λ − log x! was 1e-10 off there)
    np.testing.assert_allclose(mine[:, :80], expected[:, :80], atol=1e-12, rtol=0)
    np.testing.assert_allclose(mine[:, 80:], expected[:, 80:], atol=1e-8, rtol=0)

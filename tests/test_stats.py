"""bench.stats against scipy/statsmodels called directly and against hand-worked examples."""

from __future__ import annotations

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
import scikit_posthocs as sp
from scipy import stats as sps
from statsmodels.stats.anova import AnovaRM
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.power import TTestPower
from statsmodels.stats.weightstats import ttost_paired

from bench import stats

matplotlib.use("Agg")


def make_runs(
    values: dict[str, list[float]],
    dataset: str = "digits",
    seeds: dict[str, list[int]] | None = None,
    metric: str = "test_acc",
) -> pd.DataFrame:
    """Tidy runs table: values[variant][i] is the metric of seed seeds[variant][i] (default i)."""
    rows = []
    for variant, vals in values.items():
        vseeds = (seeds or {}).get(variant, list(range(len(vals))))
        for seed, v in zip(vseeds, vals, strict=True):
            rows.append({"dataset": dataset, "variant": variant, "seed": seed, metric: v})
    return pd.DataFrame(rows)


# Fixed data, 8 seeds, 4 variants: every pairwise difference is non-zero and the |differences|
# of each pair are distinct (no ties), vsa is the lowest variant on every seed.
BASE = [90.34, 89.84, 89.94, 90.33, 90.26, 90.68, 89.16, 90.34]
VSA = [89.21, 88.9, 88.42, 89.33, 89.18, 89.09, 87.92, 88.72]
SDSA = [90.48, 90.36, 89.92, 91.39, 90.87, 91.75, 89.35, 90.39]
QK = [90.21, 89.93, 89.51, 90.28, 90.05, 91.13, 88.69, 90.56]


@pytest.fixture
def runs3() -> pd.DataFrame:
    return make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA})


def test_matches_scipy_and_statsmodels(runs3: pd.DataFrame) -> None:
    out = stats.compare_to_baseline(runs3, "ssa", "test_acc", family="baseline")
    assert list(out["variant"]) == ["vsa", "sdsa"]
    b = np.array(BASE)
    p_w, p_t = [], []
    for row, v in zip(out.itertuples(), [VSA, SDSA], strict=True):
        v = np.array(v)
        w = sps.wilcoxon(v, b, method="exact")
        t = sps.ttest_rel(v, b)
        assert row.wilcoxon_method == "exact"
        assert row.p_wilcoxon == pytest.approx(w.pvalue, rel=1e-12)
        assert row.wilcoxon_stat == pytest.approx(w.statistic)
        assert row.p_t == pytest.approx(t.pvalue, rel=1e-12)
        assert row.t_stat == pytest.approx(t.statistic, rel=1e-12)
        assert row.n == 8 and row.n_dropped == 0
        assert row.mean_variant == pytest.approx(v.mean())
        assert row.mean_baseline == pytest.approx(b.mean())
        d = v - b
        half = sps.t.ppf(0.975, 7) * d.std(ddof=1) / math.sqrt(8)
        assert row.diff == pytest.approx(d.mean())
        assert (row.ci_low, row.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
        assert row.ci_low < row.diff < row.ci_high
        assert row.d_z == pytest.approx(d.mean() / d.std(ddof=1))
        p_w.append(w.pvalue)
        p_t.append(t.pvalue)
    np.testing.assert_allclose(out["p_wilcoxon_holm"], multipletests(p_w, method="holm")[1])
    np.testing.assert_allclose(out["p_t_holm"], multipletests(p_t, method="holm")[1])
    # vsa is below ssa on every seed: R- holds all 36 ranks, p = 2/256, Holm over 2 -> 4/256.
    vsa = out.iloc[0]
    assert vsa.p_wilcoxon == pytest.approx(2 / 2**8)
    assert vsa.p_wilcoxon_holm == pytest.approx(4 / 2**8)
    assert vsa.rank_biserial == pytest.approx(-1.0)
    assert bool(vsa.significant) and vsa.verdict_class == "worse"
    assert vsa.verdict.startswith("vsa is lower than ssa in test_acc by")
    assert "worse" in vsa.verdict and "exact Wilcoxon signed-rank p_holm = 0.0156" in vsa.verdict
    # The default family is all pairs: Holm over the 3 pairs of ssa, vsa, sdsa.
    allp = stats.compare_to_baseline(runs3, "ssa", "test_acc")
    raw = [*p_w, sps.wilcoxon(VSA, SDSA, method="exact").pvalue]
    np.testing.assert_allclose(allp["p_wilcoxon_holm"], multipletests(raw, method="holm")[1][:2])
    assert set(allp["family_size"]) == {3} and set(allp["family"]) == {"all-pairs"}


def test_direction_follows_higher_is_better(runs3: pd.DataFrame) -> None:
    out = stats.compare_to_baseline(runs3, "ssa", "test_acc", higher_is_better=False)
    assert "lower" in out.iloc[0].verdict and "better" in out.iloc[0].verdict
    assert out.iloc[0].verdict_class == "better"
    up = stats.compare_to_baseline(runs3, "ssa", "test_acc")
    # P(variant better) and P(baseline better) swap with the direction.
    assert out.iloc[0].p_bayes_variant_better == up.iloc[0].p_bayes_baseline_better


def test_worked_example_six_positive_pairs() -> None:
    # Differences 1..6, all positive: only the all-plus sign pattern reaches R+ = 21, so the
    # exact two-sided p is 2 / 2**6; d_z = mean / sd = 3.5 / sqrt(3.5); rank-biserial = 1.
    runs = make_runs({"base": [10.0] * 6, "new": [11.0, 12, 13, 14, 15, 16]})
    row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
    assert row.p_wilcoxon == 0.03125
    assert row.p_wilcoxon_holm == 0.03125  # one comparison: Holm changes nothing
    assert row.min_possible_p == 0.03125
    assert row.d_z == pytest.approx(math.sqrt(3.5))
    assert row.rank_biserial == 1.0
    assert bool(row.significant) and row.verdict_class == "better"
    assert "new is higher than base" in row.verdict and "better" in row.verdict


def test_worked_example_mixed_signs() -> None:
    # Differences 1, -2, 3, 4, 5, 6: R+ = 19, R- = 2. Sign patterns with R- <= 2 are {}, {1}, {2}:
    # one-sided 3/64, two-sided 6/64. Rank-biserial = (19 - 2) / 21.
    runs = make_runs({"base": [0.0] * 6, "new": [1.0, -2, 3, 4, 5, 6]})
    row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
    assert row.p_wilcoxon == pytest.approx(6 / 64)
    assert row.wilcoxon_stat == 2.0
    assert row.rank_biserial == pytest.approx(17 / 21)
    assert not row.significant and row.verdict_class == "inconclusive"
    assert row.verdict.startswith("inconclusive: new vs base in test_acc, new - base = 2.83")


def test_five_pairs_cannot_reach_significance() -> None:
    runs = make_runs({"base": [0.0] * 5, "new": [1.0, 2, 3, 4, 5]})
    row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
    assert row.p_wilcoxon == 0.0625
    assert row.min_possible_p == 0.0625
    assert not row.significant and row.verdict_class == "inconclusive"
    assert (
        "n = 5 pairs cannot reach p_holm < 0.05 with the exact Wilcoxon test (minimum "
        "p_holm = 0.0625)"
    ) in row.verdict
    # d_z = 3 / sqrt(2.5) needs few seeds under a paired t; the Wilcoxon floor (6) governs.
    assert row.seeds_for_power < 6
    assert "the exact Wilcoxon test needs at least 6 to reach p_holm < 0.05" in row.verdict


def test_holm_on_known_p_values() -> None:
    np.testing.assert_allclose(stats.holm([0.01, 0.04, 0.03]), [0.03, 0.06, 0.06])
    np.testing.assert_allclose(stats.holm([0.01, np.nan, 0.03]), [0.02, np.nan, 0.03])
    rng = np.random.default_rng(0)
    for m in (1, 2, 5, 12):
        p = rng.uniform(0, 0.2, m)
        np.testing.assert_allclose(stats.holm(p), multipletests(p, method="holm")[1])
    # Three variants on 6 seeds with hand-known exact p: all positive 2/64, only rank 1 negative
    # 4/64, only rank 2 negative 6/64. Holm: 3 * 2/64, max(2 * 4/64, ...), max(..., 6/64).
    runs = make_runs(
        {
            "base": [0.0] * 6,
            "a": [1.0, 2, 3, 4, 5, 6],
            "b": [-1.0, 2, 3, 4, 5, 6],
            "c": [1.0, -2, 3, 4, 5, 6],
        }
    )
    out = stats.compare_to_baseline(runs, "base", "test_acc", family="baseline")
    np.testing.assert_allclose(out["p_wilcoxon"], [2 / 64, 4 / 64, 6 / 64])
    np.testing.assert_allclose(out["p_wilcoxon_holm"], [6 / 64, 8 / 64, 8 / 64])
    # With 3 comparisons, 6 seeds cannot reach p_holm < 0.05 (3 * 2/64 = 0.094); 7 can (0.047).
    np.testing.assert_allclose(out["min_possible_p_holm"], 3 * 2 / 64)
    assert not out["significant"].any()
    assert "minimum p_holm = 0.0938" in out.iloc[0].verdict
    assert "would need 7 seeds for 80% power (paired t at alpha = 0.0167)" in out.iloc[0].verdict
    assert stats.seeds_needed(0.05, 1) == 6 and stats.seeds_needed(0.05, 3) == 7


def test_ties_and_zeros_use_the_exact_sign_flip_distribution() -> None:
    rng = np.random.default_rng(1)
    for d in ([1.0, 1, 2, -3, 4, 5], [2.0, 2, -2, 3, 3, 5, -1], [0.0, 1, -1, 2, 3, 4, 4, 5]):
        d = np.array(d)
        base = rng.normal(90, 1, len(d))
        runs = make_runs({"base": list(base), "new": list(base + d)})
        row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
        assert row.wilcoxon_method == "exact-ties"
        # For n <= 13 scipy's method="auto" enumerates all 2**n sign flips: the exact answer.
        assert row.p_wilcoxon == pytest.approx(sps.wilcoxon(d).pvalue, rel=1e-9)
        for zm in ("wilcox", "pratt"):
            perm = sps.PermutationMethod(n_resamples=2 ** len(d))
            want = sps.wilcoxon(d, zero_method=zm, method=perm).pvalue
            assert stats.wilcoxon_exact(d, zm).p == pytest.approx(want, rel=1e-9)
    # Beyond n = 13 scipy goes asymptotic with ties; the enumeration stays exact.
    d = np.array([1.0, 1, 2, -3, 4, 5, 5, -6, 7, 8, 9, 9, -10, 11])
    perm = sps.PermutationMethod(n_resamples=2**14)
    assert stats.wilcoxon_exact(d).p == pytest.approx(sps.wilcoxon(d, method=perm).pvalue, rel=1e-9)


def test_zero_differences_and_float_noise() -> None:
    # One zero difference is dropped (wilcox): 5 non-zero pairs, minimum p 2/32.
    runs = make_runs({"base": [0.0] * 6, "new": [0.0, 1, 2, 3, 4, 5]})
    row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
    assert row.n == 6 and row.n_nonzero == 5
    assert row.p_wilcoxon == pytest.approx(0.0625)
    assert "n = 5 non-zero pairs cannot reach" in row.verdict
    # Differences that are equal up to float noise still rank as ties (0.93-0.91 vs 0.95-0.93).
    w = stats.wilcoxon_exact(np.array([0.93 - 0.91, 0.95 - 0.93, 0.03, 0.04, 0.05, 0.06]))
    assert w.method == "exact-ties"
    # A metric identical on every seed: p_wilcoxon 1, t undefined.
    runs = make_runs({"base": [1.0, 2, 3], "new": [1.0, 2, 3]})
    row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
    assert row.wilcoxon_method == "degenerate" and row.p_wilcoxon == 1.0
    assert math.isnan(row.p_t) and not row.significant


def test_pairing_drops_unpaired_seeds() -> None:
    base = [90.1, 89.7, 90.4, 90.0, 89.5, 90.8, 90.2, 89.9]
    new = [89.0, 88.9, 89.6, 88.2, 88.8, 89.1, 89.5]
    runs = make_runs(
        {"base": base, "new": new},
        seeds={"base": [0, 1, 2, 3, 4, 5, 6, 7], "new": [0, 1, 2, 3, 4, 5, 9]},
    )
    # A failed run (NaN metric) is unpaired too.
    runs.loc[(runs["variant"] == "new") & (runs["seed"] == 5), "test_acc"] = np.nan
    row = stats.compare_to_baseline(runs, "base", "test_acc").iloc[0]
    assert row.n == 5 and row.n_dropped == 4 and row.dropped_seeds == "5,6,7,9"
    b, v = np.array(base[:5]), np.array(new[:5])
    assert row.mean_baseline == pytest.approx(b.mean())
    assert row.p_wilcoxon == pytest.approx(sps.wilcoxon(v, b, method="exact").pvalue)
    assert row.p_t == pytest.approx(sps.ttest_rel(v, b).pvalue)


def test_friedman_matches_scipy() -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK})
    # Seed 7 lacks qk: Friedman uses complete blocks only.
    runs = runs[~((runs["variant"] == "qk") & (runs["seed"] == 7))]
    fr = stats.friedman_test(runs, "test_acc")
    want = sps.friedmanchisquare(BASE[:7], VSA[:7], SDSA[:7], QK[:7])
    assert fr["statistic"] == pytest.approx(want.statistic)
    assert fr["p"] == pytest.approx(want.pvalue)
    assert fr["n_blocks"] == 7 and fr["k"] == 4 and fr["dropped_seeds"] == [7]
    ranks = sps.rankdata(-np.array([BASE[:7], VSA[:7], SDSA[:7], QK[:7]]).T, axis=1).mean(axis=0)
    np.testing.assert_allclose(list(fr["mean_ranks"].values()), ranks)
    assert fr["mean_ranks"]["vsa"] == 4.0  # vsa is the lowest on every seed
    low = stats.friedman_test(runs, "test_acc", higher_is_better=False)
    assert low["mean_ranks"]["vsa"] == 1.0
    assert low["p"] == pytest.approx(fr["p"])


def test_friedman_hand_example() -> None:
    # Identical orderings on 3 seeds: ranks (1, 2, 3) every block, chi2 = 12/(n k (k+1)) * sum R^2
    # - 3 n (k+1) = 12/36 * (9 + 36 + 81) - 36 = 6, p = exp(-6/2).
    runs = make_runs({"a": [3.0, 3, 3], "b": [2.0, 2, 2], "c": [1.0, 1, 1]})
    fr = stats.friedman_test(runs, "test_acc")
    assert fr["statistic"] == pytest.approx(6.0)
    assert fr["p"] == pytest.approx(math.exp(-3.0))
    assert fr["mean_ranks"] == {"a": 1.0, "b": 2.0, "c": 3.0}


def test_pairwise_wilcoxon_holm_matches_scikit_posthocs_and_direct() -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK})
    out = stats.pairwise_wilcoxon_holm(runs, "test_acc")
    assert len(out) == 6
    data = {"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK}
    raw = [
        sps.wilcoxon(data[a], data[b], method="exact").pvalue
        for a, b in zip(out["variant_a"], out["variant_b"], strict=True)
    ]
    np.testing.assert_allclose(out["p_wilcoxon"], raw)
    np.testing.assert_allclose(out["p_wilcoxon_holm"], multipletests(raw, method="holm")[1])
    ph = sp.posthoc_wilcoxon(
        runs.sort_values("seed"), val_col="test_acc", group_col="variant", p_adjust="holm"
    )
    for a, b, p in out[["variant_a", "variant_b", "p_wilcoxon_holm"]].itertuples(index=False):
        assert p == pytest.approx(ph.loc[a, b])


def test_critical_difference_diagram_draws(tmp_path) -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK})
    fig, ax = stats.critical_difference_diagram(runs, "test_acc")
    assert ax in fig.axes
    assert len(ax.texts) == 4  # one label per variant
    assert len(ax.lines) >= 4 and "Friedman p" in ax.get_title()
    path = tmp_path / "cd.png"
    fig.savefig(path)
    assert path.stat().st_size > 0
    # Drawing into a given Axes.
    from matplotlib.figure import Figure

    fig2 = Figure()
    ax2 = fig2.add_subplot()
    got_fig, got_ax = stats.critical_difference_diagram(runs, "test_acc", ax=ax2)
    assert got_fig is fig2 and got_ax is ax2 and len(ax2.texts) == 4


def test_summarize() -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA})
    runs["energy"] = np.arange(len(runs), dtype=float)
    runs.loc[0, "energy"] = np.nan
    out = stats.summarize(runs, ["test_acc", "energy"])
    assert list(out.columns) == [
        "dataset",
        "variant",
        "metric",
        "n",
        "mean",
        "std",
        "ci_low",
        "ci_high",
    ]
    assert len(out) == 4
    row = out[(out["variant"] == "ssa") & (out["metric"] == "test_acc")].iloc[0]
    x = np.array(BASE)
    half = sps.t.ppf(0.975, 7) * x.std(ddof=1) / math.sqrt(8)
    assert row["n"] == 8
    assert row["mean"] == pytest.approx(x.mean()) and row["std"] == pytest.approx(x.std(ddof=1))
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((x.mean() - half, x.mean() + half))
    e = out[(out["variant"] == "ssa") & (out["metric"] == "energy")].iloc[0]
    assert e["n"] == 7 and e["mean"] == pytest.approx(np.arange(1, 8).mean())


def test_analyse_table() -> None:
    runs = pd.concat(
        [
            make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA}, dataset="cifar10"),
            make_runs({"ssa": BASE[:6], "vsa": VSA[:6]}, dataset="digits"),
        ]
    )
    runs["energy"] = runs["variant"].map({"ssa": 5.0, "vsa": 3.0, "sdsa": 5.5})
    out = stats.analyse(runs, "ssa", ["test_acc", "energy"], {"test_acc": True, "energy": False})
    required = [
        "dataset",
        "metric",
        "variant",
        "baseline",
        "n",
        "mean_baseline",
        "mean_variant",
        "diff",
        "ci_low",
        "ci_high",
        "p_wilcoxon",
        "p_wilcoxon_holm",
        "p_t",
        "p_t_holm",
        "d_z",
        "rank_biserial",
        "wilcoxon_method",
        "min_possible_p",
        "significant",
        "verdict",
    ]
    assert set(required) <= set(out.columns)
    assert len(out) == 2 * 2 + 1 * 2  # cifar10: 2 variants x 2 metrics, digits: 1 x 2
    c10 = out[(out["dataset"] == "cifar10") & (out["metric"] == "test_acc")]
    pd.testing.assert_series_equal(
        c10["p_wilcoxon_holm"].reset_index(drop=True),
        stats.compare_to_baseline(runs, "ssa", "test_acc", dataset="cifar10")["p_wilcoxon_holm"],
    )
    fr = stats.friedman_test(runs, "test_acc", dataset="cifar10")
    assert c10["friedman_p"].iloc[0] == pytest.approx(fr["p"])
    assert list(c10["mean_rank"]) == [fr["mean_ranks"]["vsa"], fr["mean_ranks"]["sdsa"]]
    assert out[out["dataset"] == "digits"]["friedman_p"].isna().all()  # k = 2: no Friedman
    e = out[(out["dataset"] == "digits") & (out["metric"] == "energy")].iloc[0]
    assert e["p_wilcoxon"] == pytest.approx(2 / 64) and "better" in e["verdict"]
    pw = stats.analyse_pairwise(runs, ["test_acc", "energy"])
    assert len(pw) == 2 * 3 and set(pw["dataset"]) == {"cifar10"}
    with pytest.raises(ValueError, match="higher_is_better has no entry for metric 'energy'"):
        stats.analyse(runs, "ssa", ["test_acc", "energy"], {"test_acc": True})


def test_errors(runs3: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="baseline 'xyz' is not among the variants"):
        stats.compare_to_baseline(runs3, "xyz", "test_acc")
    with pytest.raises(ValueError, match="metric column 'energy_paper_mj' is not in the runs"):
        stats.compare_to_baseline(runs3, "ssa", "energy_paper_mj")
    one = make_runs({"ssa": [1.0, 2.0], "vsa": [1.5, 2.5]}, seeds={"vsa": [1, 5]})
    with pytest.raises(ValueError, match="share 1 seed"):
        stats.compare_to_baseline(one, "ssa", "test_acc")
    two = pd.concat([runs3, make_runs({"ssa": BASE, "vsa": VSA}, dataset="cifar10")])
    with pytest.raises(ValueError, match="several datasets"):
        stats.compare_to_baseline(two, "ssa", "test_acc")
    with pytest.raises(ValueError, match="keep one run per variant and seed"):
        stats.compare_to_baseline(pd.concat([runs3, runs3]), "ssa", "test_acc")
    with pytest.raises(ValueError, match="at least 3 variants"):
        stats.friedman_test(make_runs({"ssa": BASE, "vsa": VSA}), "test_acc")


# --------------------------------------------------------------------------- equivalence (TOST)


def test_tost_against_hand_formula_and_statsmodels() -> None:
    rng = np.random.default_rng(3)
    base = rng.normal(80, 2, 10)
    for shift, sd in ((0.1, 0.3), (0.6, 0.5), (1.4, 0.4)):
        new = base + shift + rng.normal(0, sd, 10)
        d = new - base
        res = stats.tost_paired(d, margin=1.0)
        n, se = len(d), d.std(ddof=1) / math.sqrt(len(d))
        p_lo = sps.t.sf((d.mean() + 1.0) / se, n - 1)
        p_up = sps.t.cdf((d.mean() - 1.0) / se, n - 1)
        assert res.p_lower == pytest.approx(p_lo, rel=1e-12)
        assert res.p_upper == pytest.approx(p_up, rel=1e-12)
        assert res.p_tost == pytest.approx(ttost_paired(new, base, -1.0, 1.0)[0], rel=1e-10)
        half = sps.t.ppf(0.95, n - 1) * se  # the 90% interval
        assert (res.ci_low, res.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
        # TOST at 0.05 rejects exactly when the 90% CI lies inside the margin.
        assert res.equivalent == (-1.0 < res.ci_low and res.ci_high < 1.0)
    # The same difference on every seed: p is the limit 0 inside the margin, 1 outside.
    assert stats.tost_paired(np.full(5, 0.5), 1.0).p_tost == 0.0
    assert stats.tost_paired(np.full(5, 1.5), 1.0).p_tost == 1.0
    assert math.isnan(stats.tost_paired(np.ones(5), math.nan).p_tost)


def test_equivalence_margin_by_unit_and_per_metric() -> None:
    assert stats.equivalence_margin("test_acc_pct") == 1.0  # percent: 1 point
    assert stats.equivalence_margin("test_acc") == 0.01  # fraction: 1 point
    assert stats.equivalence_margin("score", units={"score": "percent"}) == 1.0
    assert stats.equivalence_margin("test_acc_pct", margins={"test_acc_pct": 0.5}) == 0.5
    assert math.isnan(stats.equivalence_margin("energy_paper_mj"))
    with pytest.raises(ValueError, match="unit 'mJ' of metric 'energy' has no default margin"):
        stats.equivalence_margin("energy", units={"energy": "mJ"})
    with pytest.raises(ValueError, match="must be positive"):
        stats.equivalence_margin("test_acc", margins={"test_acc": 0.0})


# --------------------------------------------------------------------------- Bayesian signed-rank

# Differences in points of accuracy: mostly inside a +-1 ROPE, some above it.
BAYES_D = np.array([0.5, 1.5, -0.3, 2.0, 1.2, 0.8, -0.6, 1.1])


def _bayes_by_loops(d: np.ndarray, rope: float, s: float, draws: int, seed: int) -> np.ndarray:
    """The same posterior written out: Dirichlet draws as normalised gammas, explicit double
    loop over the Walsh averages, share of draws each region wins (ties split)."""
    rng = np.random.Generator(np.random.PCG64(seed))
    z = [0.0, *d]
    wins = np.zeros(3)
    for _ in range(draws):
        g = np.array([rng.gamma(s)] + [rng.gamma(1.0) for _ in d])
        w = g / g.sum()
        theta = np.zeros(3)  # left, rope, right
        for i in range(len(z)):
            for j in range(len(z)):
                walsh = z[i] + z[j]
                region = 2 if walsh > 2 * rope else (0 if walsh < -2 * rope else 1)
                theta[region] += w[i] * w[j]
        best = theta == theta.max()
        wins += best / best.sum()
    return wins / draws


def test_bayes_signed_rank_against_independent_monte_carlo() -> None:
    res = stats.bayes_signed_rank(BAYES_D, rope=1.0)
    assert (res.prior_strength, res.z0, res.n_samples, res.seed) == (0.5, 0.0, 50_000, 0)
    got = np.array([res.p_left, res.p_rope, res.p_right])
    assert got.sum() == pytest.approx(1.0)
    assert 0.1 < res.p_right < 0.9 and 0.1 < res.p_rope < 0.9  # a non-trivial example
    draws = 8_000
    want = _bayes_by_loops(BAYES_D, 1.0, 0.5, draws, seed=12345)
    # Two independent Monte Carlo estimates of one probability: 4 standard errors apart at most.
    se = np.sqrt(want * (1 - want) / draws + got * (1 - got) / res.n_samples)
    assert np.all(np.abs(got - want) < 4 * se + 1e-9), (got, want)
    # Fixed seed: the same answer every time; posterior masses sum to one.
    assert stats.bayes_signed_rank(BAYES_D, rope=1.0) == res
    assert res.theta_left + res.theta_rope + res.theta_right == pytest.approx(1.0)


def test_bayes_signed_rank_limits() -> None:
    # Every difference beyond 2 * rope: every Walsh average but the prior's own (z0 + z0 = 0) is
    # to the right, so theta_rope = w0**2, theta_right = 1 - w0**2, with w0 ~ Beta(s, n): the
    # rope wins exactly when w0 > 1/sqrt(2), and its mean mass is E[w0**2].
    draws, s, n = 20_000, 0.5, 5
    res = stats.bayes_signed_rank(np.array([3.0, 4, 5, 6, 7]), rope=1.0, n_samples=draws)
    want = sps.beta.sf(1 / math.sqrt(2), s, n)
    assert abs(res.p_rope - want) < 4 * math.sqrt(want * (1 - want) / draws)
    assert res.p_left == 0.0 and res.p_right == pytest.approx(1 - res.p_rope)
    assert res.theta_rope == pytest.approx(s * (s + 1) / ((s + n) * (s + n + 1)), rel=0.05)
    flipped = stats.bayes_signed_rank(-BAYES_D, rope=1.0)
    res = stats.bayes_signed_rank(BAYES_D, rope=1.0)
    assert flipped.p_left == pytest.approx(res.p_right) and flipped.p_rope == res.p_rope


# --------------------------------------------------------------------------- McNemar


def _vectors(both: int, only_b: int, only_v: int, neither: int) -> tuple[list[int], list[int]]:
    base = [1] * both + [1] * only_b + [0] * only_v + [0] * neither
    var = [1] * both + [0] * only_b + [1] * only_v + [0] * neither
    return base, var


def _exact_binomial(b: int, c: int) -> float:
    """Two-sided exact binomial test of c successes out of b + c at 1/2, by hand."""
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_mcnemar_exact_by_hand() -> None:
    assert stats.mcnemar_exact(2, 9) == pytest.approx(2 * (1 + 11 + 55) / 2**11)
    assert stats.mcnemar_exact(9, 2) == stats.mcnemar_exact(2, 9)
    assert stats.mcnemar_exact(0, 0) == 1.0 and stats.mcnemar_exact(4, 4) == 1.0
    assert stats.mcnemar_exact(0, 6) == pytest.approx(2 / 64)
    for b, c in ((0, 1), (3, 10), (17, 5), (40, 61)):
        assert stats.mcnemar_exact(b, c) == pytest.approx(_exact_binomial(b, c), rel=1e-12)
        assert stats.mcnemar_exact(b, c) == pytest.approx(
            sps.binomtest(c, b + c, 0.5).pvalue, rel=1e-9
        )


def test_paired_correctness_per_seed_and_pooled() -> None:
    cells = {0: (10, 2, 6, 2), 1: (12, 1, 4, 3), 2: (11, 3, 3, 3)}  # both, only base, only var
    rows = []
    for seed, counts in cells.items():
        base, var = _vectors(*counts)
        rows += [
            {"dataset": "digits", "variant": "ssa", "seed": seed, "correct": base},
            {"dataset": "digits", "variant": "vsa", "seed": seed, "correct": var},
            {"dataset": "digits", "variant": "sdsa", "seed": seed, "correct": base},
        ]
    out = stats.paired_correctness(pd.DataFrame(rows), "ssa")
    vsa = out[out["variant"] == "vsa"]
    per_seed = vsa[vsa["scope"] == "seed"]
    assert list(per_seed["seed"]) == [0, 1, 2]
    for (_, row), (both, b, c, neither) in zip(per_seed.iterrows(), cells.values(), strict=True):
        assert (row.both_correct, row.only_baseline, row.only_variant, row.both_wrong) == (
            both,
            b,
            c,
            neither,
        )
        assert row.p_mcnemar == pytest.approx(_exact_binomial(b, c))
        assert row.acc_variant == pytest.approx((both + c) / 20)
    pooled = vsa[vsa["scope"] == "pooled"].iloc[0]
    assert (pooled.only_baseline, pooled.only_variant, pooled.n_samples) == (6, 13, 60)
    assert pooled.p_mcnemar == pytest.approx(_exact_binomial(6, 13))
    # sdsa is identical to the baseline: no discordant pair, p = 1; Holm over the two variants.
    sdsa = out[(out["variant"] == "sdsa") & (out["scope"] == "pooled")].iloc[0]
    assert sdsa.p_mcnemar == 1.0
    assert pooled.p_mcnemar_holm == pytest.approx(min(1.0, 2 * pooled.p_mcnemar))
    assert out.loc[out["scope"] == "seed", "p_mcnemar_holm"].isna().all()
    bad = pd.DataFrame(rows)
    bad.at[1, "correct"] = [1, 0]
    with pytest.raises(ValueError, match="both must be evaluated on the same test split"):
        stats.paired_correctness(bad, "ssa")


# --------------------------------------------------------------------------- power and verdicts


def test_seeds_for_power_against_statsmodels_and_by_hand() -> None:
    for d_z, alpha in ((0.5, 0.05), (1.0, 0.05), (-1.34, 0.05), (1.34, 0.05 / 15), (2.5, 0.01)):
        n = stats.seeds_for_power(d_z, alpha)
        want = TTestPower().solve_power(effect_size=abs(d_z), alpha=alpha, power=0.8)
        assert n == math.ceil(want)

        def power(k: int, d_z: float = d_z, alpha: float = alpha) -> float:
            crit = sps.t.ppf(1 - alpha / 2, k - 1)
            nc = abs(d_z) * math.sqrt(k)
            return sps.nct.sf(crit, k - 1, nc) + sps.nct.cdf(-crit, k - 1, nc)

        assert power(int(n)) >= 0.8 > power(int(n) - 1)
    assert math.isinf(stats.seeds_for_power(0.0)) and math.isinf(stats.seeds_for_power(math.nan))
    assert stats.seeds_for_power(math.inf) == 2.0  # the same non-zero difference on every seed


def _verdict_row(base: list[float], new: list[float], metric: str, **kw) -> pd.Series:
    runs = make_runs({"base": base, "new": new}, metric=metric)
    return stats.compare_to_baseline(runs, "base", metric, **kw).iloc[0]


def test_four_way_verdicts() -> None:
    rng = np.random.default_rng(11)
    base = list(rng.normal(80, 2, 10))
    # better: +3 points on every seed.
    row = _verdict_row(base, [b + 3 + 0.1 * i for i, b in enumerate(base)], "test_acc_pct")
    assert row.verdict_class == "better"
    assert row.verdict.startswith("new is higher than base in test_acc_pct by 3.45 (better; ")
    assert (
        "95% CI [" in row.verdict and "exact Wilcoxon signed-rank p_holm = 0.00195" in row.verdict
    )
    # equivalent: within +-0.3 of the baseline on every seed, mixed signs, margin 1 point.
    small = [0.2, -0.1, 0.25, -0.2, 0.05, -0.15, 0.1, -0.05, 0.3, -0.25]
    row = _verdict_row(base, [b + e for b, e in zip(base, small, strict=True)], "test_acc_pct")
    assert row.verdict_class == "equivalent" and row.margin == 1.0 and row.p_tost_holm < 0.05
    assert row.verdict.startswith("new is equivalent to base in test_acc_pct within +-1: ")
    assert "TOST (two one-sided paired t-tests at +-1) p_holm = " in row.verdict
    assert "90% CI [" in row.verdict and row.p_bayes_equivalent > 0.9
    # the same data with a margin of 0.05 points is not equivalent: inconclusive.
    row = _verdict_row(
        base,
        [b + e for b, e in zip(base, small, strict=True)],
        "test_acc_pct",
        margin=0.05,
    )
    assert row.verdict_class == "inconclusive" and "not shown equivalent either" in row.verdict
    # the example (correct answers of 360 test images per seed): n = 6, CI [-17.2, -2.1],
    # paired t p = 0.02, but one seed of six disagrees, so exact Wilcoxon p = 4/64.
    b6 = [100 * k / 360 for k in (290, 244, 314, 312, 267, 305)]
    n6 = [100 * k / 360 for k in (220, 252, 281, 285, 218, 268)]
    row = _verdict_row(b6, n6, "test_acc_pct")
    assert (row.ci_low, row.ci_high) == pytest.approx((-17.165, -2.094), abs=1e-3)
    assert row.verdict_class == "inconclusive" and row.p_t < 0.05 and row.p_wilcoxon == 0.0625
    need = int(row.seeds_for_power)
    assert need == math.ceil(
        TTestPower().solve_power(effect_size=abs(row.d_z), alpha=0.05, power=0.8)
    )
    assert row.verdict.startswith("inconclusive: new vs base in test_acc_pct, new - base = ")
    assert f"would need {need} seeds for 80% power (paired t at alpha = 0.05)" in row.verdict
    # a metric without a margin (energy) says so instead of testing equivalence.
    row = _verdict_row([1.0, 2, 3, 4, 5, 6], [1.5, 1.8, 3.4, 3.7, 5.6, 6.1], "energy_mj")
    assert math.isnan(row.margin) and "no equivalence margin is set for energy_mj" in row.verdict


def test_verdicts_never_say_no_difference(runs3: pd.DataFrame) -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK}, metric="test_acc_pct")
    out = stats.analyse_pairwise(runs, ["test_acc_pct"], {"test_acc_pct": True})
    verdicts = [
        *out["verdict"],
        *stats.analyse(runs, "ssa", ["test_acc_pct"], {"test_acc_pct": True})["verdict"],
    ]
    assert set(out["verdict_class"]) <= {"better", "worse", "equivalent", "inconclusive"}
    for text in verdicts:
        assert "no difference" not in text and "no significant" not in text
        assert "test_acc_pct" in text and "CI [" in text and "p_holm = " in text


# --------------------------------------------------------------------------- one Holm family


def test_baseline_and_pairwise_tables_are_one_family() -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK})
    hib = {"test_acc": True}
    base = stats.analyse(runs, "ssa", ["test_acc"], hib)
    pairs = stats.analyse_pairwise(runs, ["test_acc"], hib, baseline="ssa")
    assert len(pairs) == 6 and set(base["family_size"]) == set(pairs["family_size"]) == {6}
    # The baseline pairs come first in the pairwise table, oriented variant - baseline, and
    # carry exactly the baseline table's numbers and verdicts.
    first = pairs.iloc[:3]
    assert list(first["variant_b"]) == ["ssa"] * 3
    assert list(first["variant_a"]) == list(base["variant"])
    for col in ("diff", "p_wilcoxon_holm", "p_t_holm", "p_tost_holm", "p_bayes_a_better"):
        other = "p_bayes_variant_better" if col == "p_bayes_a_better" else col
        np.testing.assert_allclose(first[col], base[other], rtol=1e-12, err_msg=col)
    assert list(first["verdict_class"]) == list(base["verdict_class"])
    # Holm over all six pairs, against statsmodels.
    raw = [
        sps.wilcoxon(*(np.array(d) for d in (x, y)), method="exact").pvalue
        for x, y in [(VSA, BASE), (SDSA, BASE), (QK, BASE), (VSA, SDSA), (VSA, QK), (SDSA, QK)]
    ]
    np.testing.assert_allclose(pairs["p_wilcoxon_holm"], multipletests(raw, method="holm")[1])
    # The baseline-only family is a different (smaller) family, and is labelled so.
    only = stats.analyse(runs, "ssa", ["test_acc"], hib, family="baseline")
    np.testing.assert_allclose(only["p_wilcoxon_holm"], multipletests(raw[:3], method="holm")[1])
    assert set(only["family"]) == {"baseline"} and set(only["family_size"]) == {3}


def test_maximal_cliques_by_hand() -> None:
    edges = {frozenset(e) for e in [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d")]}
    assert stats.maximal_cliques(["a", "b", "c", "d"], edges) == [["a", "b", "c"], ["c", "d"]]
    assert stats.maximal_cliques(["a", "b"], set()) == [["a"], ["b"]]


def test_wilcoxon_holm_cliques_follow_the_pairwise_table() -> None:
    runs = make_runs({"ssa": BASE, "vsa": VSA, "sdsa": SDSA, "qk": QK})
    cl = stats.wilcoxon_holm_cliques(runs, "test_acc")
    pairs = stats.pairwise_wilcoxon_holm(runs, "test_acc", higher_is_better=True)
    sig = {
        frozenset((a, b)): s
        for a, b, s in pairs[["variant_a", "variant_b", "significant"]].itertuples(index=False)
    }
    fr = stats.friedman_test(runs, "test_acc")
    assert cl["order"] == sorted(fr["variants"], key=fr["mean_ranks"].__getitem__)
    assert cl["order"][-1] == "vsa"  # the lowest on every seed ranks last
    members = [set(c["members"]) for c in cl["cliques"]]
    for group in members:  # no significant pair inside a clique
        assert not any(sig[frozenset((a, b))] for a in group for b in group if a < b)
    for a, b in (k for k, s in sig.items() if not s):  # every non-significant pair is in one
        assert any({a, b} <= g for g in members)
    for c in cl["cliques"]:
        assert c["rank_low"] == min(cl["mean_ranks"][v] for v in c["members"])
    assert cl["p_holm"].loc["vsa", "ssa"] == pytest.approx(
        pairs.set_index(["variant_a", "variant_b"]).loc[("ssa", "vsa"), "p_wilcoxon_holm"]
    )


def test_cliques_keep_tied_ranks_distinct() -> None:
    # a and b swap first and second place on alternate seeds: mean rank 1.5 each; c is last.
    a = [3.0, 2.0, 3.0, 2.0, 3.0, 2.0]
    b = [2.0, 3.0, 2.0, 3.0, 2.0, 3.0]
    c = [1.0, 1.1, 0.9, 1.2, 0.8, 1.0]
    cl = stats.wilcoxon_holm_cliques(make_runs({"a": a, "b": b, "c": c}), "test_acc")
    assert cl["order"] == ["a", "b", "c"] and cl["mean_ranks"] == {"a": 1.5, "b": 1.5, "c": 3.0}
    assert cl["ties"] == [["a", "b"]]
    # 6 seeds, 3 pairs: Holm floor 3 * 2/64 > 0.05, so nothing differs: one clique of all three.
    assert [c["members"] for c in cl["cliques"]] == [["a", "b", "c"]]
    assert cl["cliques"][0]["contiguous"] and cl["cliques"][0]["covers"] == []


# --------------------------------------------------------------------------- factorial


def factorial_runs(levels: dict[str, list[str]], n_seeds: int, seed: int) -> pd.DataFrame:
    """Balanced within-seed design: a seed effect, main effects, an interaction of the first
    two factors, noise."""
    rng = np.random.default_rng(seed)
    names = list(levels)
    subject = rng.normal(0, 2, n_seeds)
    effects = {k: rng.normal(0, 1.5, len(v)) for k, v in levels.items()}
    inter = rng.normal(0, 1.0, [len(levels[k]) for k in names[:2]])
    rows = []
    for s in range(n_seeds):
        for idx in np.ndindex(*[len(levels[k]) for k in names]):
            y = 80 + subject[s] + sum(effects[k][i] for k, i in zip(names, idx, strict=True))
            y += inter[idx[:2]] if len(names) > 1 else 0.0
            y += rng.normal(0, 1.0 + 0.5 * idx[-1])  # unequal variances: not spherical
            cell = {k: levels[k][i] for k, i in zip(names, idx, strict=True)}
            variant = " ".join(f"{k}={v}" for k, v in cell.items())
            rows.append({"dataset": "digits", "variant": variant, "seed": s, **cell, "acc": y})
    return pd.DataFrame(rows)


@pytest.mark.parametrize(
    "levels",
    [
        {"attention": ["ssa", "vsa", "sdsa"], "neuron": ["lif", "if"]},
        {"attention": ["ssa", "vsa"], "neuron": ["lif", "if"], "stem": ["a", "b", "c"]},
    ],
)
def test_rm_anova_matches_statsmodels_anovarm(levels: dict[str, list[str]]) -> None:
    runs = factorial_runs(levels, n_seeds=6, seed=5)
    got = stats.rm_anova(runs, list(levels), "acc").set_index("effect")
    want = AnovaRM(runs, "acc", "seed", within=list(levels)).fit().anova_table
    assert list(got.index) == list(want.index)
    for effect, row in want.iterrows():
        assert got.loc[effect, "F"] == pytest.approx(row["F Value"], rel=1e-8)
        assert got.loc[effect, "df"] == row["Num DF"]
        assert got.loc[effect, "df_error"] == row["Den DF"]
        assert got.loc[effect, "p"] == pytest.approx(row["Pr > F"], rel=1e-8, abs=1e-12)
    assert (got["gg_epsilon"] <= 1 + 1e-12).all()
    assert (got["gg_epsilon"] >= 1 / got["df"] - 1e-12).all()
    assert (got.loc[got["df"] == 1, "gg_epsilon"] == 1.0).all()


def test_greenhouse_geisser_epsilon_by_the_classic_formula() -> None:
    runs = factorial_runs({"attention": ["ssa", "vsa", "sdsa", "qk"]}, n_seeds=8, seed=2)
    wide = runs.pivot(index="seed", columns="attention", values="acc").to_numpy()
    k = wide.shape[1]
    s = np.cov(wide, rowvar=False)
    # Greenhouse & Geisser (1959) from the raw k x k covariance matrix.
    num = k**2 * (np.mean(np.diag(s)) - s.mean()) ** 2
    den = (k - 1) * ((s**2).sum() - 2 * k * (s.mean(axis=1) ** 2).sum() + k**2 * s.mean() ** 2)
    row = stats.rm_anova(runs, ["attention"], "acc").iloc[0]
    assert row["gg_epsilon"] == pytest.approx(num / den, rel=1e-10)
    eps = row["gg_epsilon"]
    assert row["p_gg"] == pytest.approx(sps.f.sf(row["F"], eps * (k - 1), eps * (k - 1) * 7))


def test_art_against_hand_alignment_and_anovarm() -> None:
    levels = {"attention": ["ssa", "vsa", "sdsa"], "neuron": ["lif", "if"]}
    runs = factorial_runs(levels, n_seeds=6, seed=9)
    got = stats.art_anova(runs, list(levels), "acc").set_index("effect")
    cell = runs.groupby(["attention", "neuron"])["acc"].transform("mean")
    grand = runs["acc"].mean()
    m_a = runs.groupby("attention")["acc"].transform("mean")
    m_n = runs.groupby("neuron")["acc"].transform("mean")
    resid = runs["acc"] - cell
    # Wobbrock et al. 2011: residual + estimated effect from the marginal means.
    aligned = {
        "attention": resid + (m_a - grand),
        "neuron": resid + (m_n - grand),
        "attention:neuron": resid + (cell - m_a - m_n + grand),
    }
    for effect, y in aligned.items():
        ranked = runs.assign(r=sps.rankdata(y))
        want = AnovaRM(ranked, "r", "seed", within=list(levels)).fit().anova_table.loc[effect]
        assert got.loc[effect, "F"] == pytest.approx(want["F Value"], rel=1e-8)
        assert got.loc[effect, "p"] == pytest.approx(want["Pr > F"], rel=1e-8)
        # ART's own check: on the aligned (unranked) response every other effect vanishes.
        table = stats.rm_anova(runs.assign(al=y), list(levels), "al").set_index("effect")
        others = [e for e in aligned if e != effect]
        np.testing.assert_allclose(table.loc[others, "ss"], 0.0, atol=1e-9)


def test_simple_effects_and_factorial_analysis() -> None:
    levels = {"attention": ["ssa", "vsa"], "neuron": ["lif", "if"]}
    runs = factorial_runs(levels, n_seeds=7, seed=4)
    runs = runs[~((runs["seed"] == 6) & (runs["variant"] == "attention=vsa neuron=if"))]
    out = stats.factorial_analysis(runs, list(levels), "acc")
    assert out["subjects"] == [0, 1, 2, 3, 4, 5] and out["dropped_subjects"] == [6]
    assert out["levels"] == levels and "aligned rank transform" in out["method"]
    se = out["simple_effects"]
    assert len(se) == 4  # attention within lif, within if; neuron within ssa, within vsa
    kept = runs[runs["seed"] < 6]
    p_t = []
    for _, row in se[se["factor"] == "attention"].iterrows():
        sub = kept[kept["neuron"] == row["neuron"]].pivot(
            index="seed", columns="attention", values="acc"
        )
        d = sub["vsa"] - sub["ssa"]
        assert row["within"] == f"neuron={row['neuron']}" and row["level"] == "vsa"
        assert row["diff"] == pytest.approx(d.mean())
        t = sps.ttest_rel(sub["vsa"], sub["ssa"])
        assert row["p_t"] == pytest.approx(t.pvalue, rel=1e-10)
        assert row["slice_F"] == pytest.approx(t.statistic**2, rel=1e-10)  # one-way F = t^2
        assert row["slice_p"] == pytest.approx(t.pvalue, rel=1e-10)
        assert row["p_wilcoxon"] == pytest.approx(sps.wilcoxon(d, method="exact").pvalue)
        p_t.append(t.pvalue)
    att = se[se["factor"] == "attention"]
    np.testing.assert_allclose(att["p_t_holm"], multipletests(p_t, method="holm")[1])
    cells = out["cell_means"]
    assert len(cells) == 4 and set(cells["n"]) == {6}
    assert list(out["anova"]["effect"]) == ["attention", "neuron", "attention:neuron"]
    with pytest.raises(ValueError, match="single level"):
        stats.factorial_analysis(runs[runs["neuron"] == "lif"], list(levels), "acc")


def test_package_docs_and_runtime_imports() -> None:
    import subprocess
    import sys

    conv = stats.WILCOXON_CONVENTION
    assert "zero differences are dropped" in conv and "mid-ranks" in conv and "exact" in conv
    assert "TOST" in stats.VERDICT_RULE and "summing the discordant" in stats.MCNEMAR_POOLING
    # statsmodels and scikit-posthocs are not runtime dependencies of bench.stats.
    code = (
        "import sys, bench.stats; "
        "print(sorted(m for m in ('statsmodels', 'scikit_posthocs', 'matplotlib') "
        "if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "[]"

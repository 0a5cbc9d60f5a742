"""Study folder -> runs.csv, stats.csv, plots, report.md and LaTeX tables, on fake studies with
known numbers.

The records are built in the real format: configs from bench.config.resolve (so run ids are the
real ones) and metrics from bench.training.record.summarize over hand-made per-epoch curves.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest
from matplotlib.figure import Figure

from bench import stats
from bench.config import resolve
from bench.figures import pareto_front
from bench.figures.cliques import _offsets, plot_cliques
from bench.figures.common import set_variant_ticks
from bench.figures.search import _data_range, plot_intermediate
from bench.plots import main as plots_main
from bench.refresh import refresh
from bench.report.fmt import num, p_text
from bench.report.latex import latex_escape
from bench.report.pairing import pairing_mismatches
from bench.results import Study, StudyError, load_study
from bench.training.record import summarize

ROOT = Path(__file__).resolve().parents[1]
TEST_SIZE = 360
SEEDS = list(range(10))  # 9 pairs for vsa (one run fails): Holm over 6 pairs can reach 0.05
BASE = "attention=ssa"
VARIANTS = {
    "attention=ssa": "ssa",
    "attention=vsa": "vsa",
    "attention=sdsa": "sdsa",
    "attention=qk_token": "qk_token",
}
FIXED = {"data.name": "digits", "train.epochs": 3}
_SSA = [330, 332, 329, 335, 331, 333, 328, 334, 330, 336]
# Correct test samples (of 360) at the final epoch: vsa is below ssa on every seed (worse),
# sdsa within one sample of it (equivalent at +-1 point), qk_token moves both ways a lot.
CORRECT = {
    "ssa": _SSA,
    "vsa": [325, 325, 326, 326, 327, 327, 320, 324, 322, 329],
    "sdsa": [a + d for a, d in zip(_SSA, [0, 1, -1, 0, 1, -1, 0, 1, -1, 0], strict=True)],
    "qk_token": [a + d for a, d in zip(_SSA, [5, -6, 4, -3, 7, -5, 2, -4, 6, -3], strict=True)],
}
START = {"ssa": 0, "vsa": 3, "sdsa": 1, "qk_token": 2}  # first correct sample of the vector
ENERGY_J = {"ssa": 2.0e-6, "vsa": 1.5e-6, "sdsa": 1.8e-6, "qk_token": 2.2e-6}
SPEED = {"ssa": 100.0, "vsa": 130.0, "sdsa": 90.0, "qk_token": 95.0}
FAILED = ("vsa", 5)  # this run fails: listed, and left out of the statistics
FAILED_ERROR = "loss is NaN at epoch 2: lower lr or use amp=none."
VERSIONS = {
    "python": "3.11.7",
    "torch": "2.14.1",
    "torchvision": "0.29.1",
    "spikingjelly": "2.0.0.0.14",
    "timm": "1.0.31",
    "optuna": "5.0.0",
    "numpy": "2.4.6",
    "scipy": "1.17.1",
    "pandas": "3.1.1",
    "tonic": "1.6.0",
    "git_commit": "0f0a1e22d954760a0bad08f6418a17676fb569f1",
}
METRICS = ["test_acc_pct", "energy_paper_mj", "sops_paper_m"]
HIB = {"test_acc_pct": True, "energy_paper_mj": False, "sops_paper_m": False}


def correct_vector(attention: str, n_correct: int) -> list[int]:
    start = START.get(attention, 0)
    return [1 if start <= i < start + n_correct else 0 for i in range(TEST_SIZE)]


def make_record(
    overrides: dict[str, Any],
    seed: int,
    correct: int,
    *,
    energy_j: float,
    status: str = "complete",
    error: str | None = None,
    attention: str = "ssa",
) -> dict[str, Any]:
    """A run record as bench.training writes it, with the given final-epoch accuracy."""
    cfg = resolve({**FIXED, **overrides, "seed": seed})
    final = correct / TEST_SIZE
    # epoch 2 is better than the final epoch on even seeds (test) and on odd seeds (val)
    accs = [final - 0.2, final + (0.01 if seed % 2 == 0 else -0.01), final]
    vals = [final - 0.25, final + (0.01 if seed % 2 else -0.03), final - 0.01]
    curves = [
        {
            "epoch": e,
            "lr": 1e-3,
            "train_loss": 2.0 / e + 0.01 * seed,
            "train_acc": a - 0.02,
            "test_loss": 1.5 / e,
            "test_acc": a,
            "val_loss": 1.6 / e,
            "val_acc": v,
            "epoch_seconds": 10.0,
            "train_img_per_s": SPEED[attention] + seed + 10 * e,
            "eval_img_per_s": 400.0 + seed,
        }
        for e, (a, v) in enumerate(zip(accs, vals, strict=True), start=1)
    ]
    energy_j = energy_j * (1 + 0.01 * seed)
    sops = energy_j / 0.9e-12 * 0.8
    totals = {
        "sops_paper": sops,
        "energy_paper_j": energy_j,
        "energy_strict_j": 30 * energy_j,
        "mean_firing_rate": 0.01 + 0.001 * seed,
    }
    record: dict[str, Any] = {
        "run_id": cfg.run_id,
        "config": cfg.to_dict(),
        "seed": seed,
        "status": "running",
        "error": None,
        "device": "cpu (x86_64, 2 threads)",
        "world_size": 1,
        "versions": VERSIONS,
        "started": "2026-11-29T07:29:17+0000",
        "data": {
            "dataset": "digits",
            "train_size": 1257,
            "val_size": 180,
            "test_size": TEST_SIZE,
            "split": "stratified train/val/test (fixed)",
        },
        "params": 163906 + (1000 if attention == "vsa" else 0),
        "pairing": {
            "init": f"init-{seed}-{attention}",
            "batch_order": f"order-{seed}",
            "inputs": f"inputs-{seed}",
            "augment": False,
        },
    }
    if status == "complete":
        record["curves"] = curves
        record["correct"] = correct_vector(attention, correct)
        record["energy"] = {"totals": totals}
        record.update(summarize(curves, record))
    else:
        record["curves"] = curves[:1]
    record.update(status=status, error=error, finished="2026-11-29T07:32:41+0000")
    return record


def write_study(
    root: Path,
    name: str,
    variants: dict[str, dict[str, Any]],
    cells: dict,
    seeds: list[int],
    sweep_keys: list[str],
    **meta: Any,
) -> Path:
    """cells: (label, seed) -> record. Writes study.json and the records."""
    study = root / name
    runs = {rec["run_id"]: {"variant": label, "seed": seed} for (label, seed), rec in cells.items()}
    info = {
        "kind": "ablation",
        "name": name,
        "dataset": "digits",
        "baseline": next(iter(variants)),
        "command": f"python -m bench.ablate {' '.join(sweep_keys)}",
        "created": "2026-11-29T07:20:00+0000",
        "sweep_keys": sweep_keys,
        "variants": variants,
        "seeds": seeds,
        "fixed": FIXED,
        "storage": "journal",
        "runs": runs,
        **meta,
    }
    (study / "runs").mkdir(parents=True)
    (study / "study.json").write_text(json.dumps(info, indent=1))
    for rec in cells.values():
        (study / "runs" / rec["run_id"]).mkdir()
        (study / "runs" / rec["run_id"] / "record.json").write_text(json.dumps(rec))
    return study


def attention_study(root: Path) -> Path:
    cells = {}
    for label, att in VARIANTS.items():
        for seed in SEEDS:
            failed = (att, seed) == FAILED
            cells[label, seed] = make_record(
                {"model.attention": att},
                seed,
                CORRECT[att][seed],
                energy_j=ENERGY_J[att],
                status="failed" if failed else "complete",
                error=FAILED_ERROR if failed else None,
                attention=att,
            )
    variants = {label: {"model.attention": a} for label, a in VARIANTS.items()}
    metrics = {
        "test_acc": True,
        "energy_paper_j": False,
        "sops_paper": False,
        "train_img_per_s": True,
    }  # throughput listed: must still not be tested
    return write_study(root, "attn", variants, cells, SEEDS, ["attention"], metrics=metrics)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    study = attention_study(tmp_path_factory.mktemp("results"))
    return study, refresh(study)


def known_runs() -> pd.DataFrame:
    """The runs table expected from the chosen numbers, built without bench.results."""
    rows = []
    for label, att in VARIANTS.items():
        for seed in SEEDS:
            if (att, seed) == FAILED:
                continue
            e = ENERGY_J[att] * (1 + 0.01 * seed)
            rows.append(
                {
                    "variant": label,
                    "seed": seed,
                    "dataset": "digits",
                    "test_acc_pct": 100 * CORRECT[att][seed] / TEST_SIZE,
                    "energy_paper_mj": 1e3 * e,
                    "sops_paper_m": e / 0.9e-12 * 0.8 / 1e6,
                }
            )
    return pd.DataFrame(rows)


def table_row(text: str, first_cell: str) -> list[str]:
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def section(report: str, heading: str) -> str:
    return report.split(heading, 1)[1].split("\n## ", 1)[0]


# ------------------------------------------------------------------------------- runs and stats


def test_runs_csv_holds_validation_columns(built: tuple[Path, dict[str, Path]]) -> None:
    study, written = built
    runs = pd.read_csv(written["runs.csv"]).set_index("run_id")
    assert len(runs) == len(VARIANTS) * len(SEEDS)
    for path in (study / "runs").glob("*/record.json"):
        rec = json.loads(path.read_text())
        row = runs.loc[rec["run_id"]]
        if rec["status"] != "complete":
            assert math.isnan(row["val_acc_pct"]) and row["error"] == FAILED_ERROR
            continue
        vals = [c["val_acc"] for c in rec["curves"]]
        assert row["val_acc_pct"] == pytest.approx(100 * vals[-1], rel=1e-12)
        assert row["best_val_acc_over_epochs_pct"] == pytest.approx(100 * max(vals), rel=1e-12)
        assert row["best_val_epoch"] == (2 if rec["seed"] % 2 else 3)
        assert row["test_acc_at_best_val_epoch_pct"] == pytest.approx(
            100 * rec["curves"][int(row["best_val_epoch"]) - 1]["test_acc"], rel=1e-12
        )


def test_stats_csv_is_one_all_pairs_family_per_metric(built: tuple[Path, dict[str, Path]]) -> None:
    _, written = built
    got = pd.read_csv(written["stats.csv"])
    direct = stats.analyse(known_runs(), BASE, METRICS, HIB)  # default family: all pairs
    assert list(got["metric"].unique()) == METRICS  # throughput is listed but never tested
    assert len(got) == len(direct) == 3 * len(METRICS)
    for col in (
        "diff",
        "ci_low",
        "ci_high",
        "p_wilcoxon_holm",
        "p_t_holm",
        "p_tost_holm",
        "p_bayes_variant_better",
        "p_bayes_equivalent",
        "p_bayes_baseline_better",
        "friedman_p",
        "seeds_for_power",
    ):
        np.testing.assert_allclose(got[col], direct[col], rtol=1e-9, err_msg=col)
    assert (got["family_size"] == 6).all() and (got["family"] == "all-pairs").all()
    acc = got[got["metric"] == "test_acc_pct"].set_index("variant")
    assert acc.loc["attention=vsa", "verdict_class"] == "worse"
    assert acc.loc["attention=sdsa", "verdict_class"] == "equivalent"
    assert acc.loc["attention=qk_token", "verdict_class"] == "inconclusive"
    assert (acc["margin"] == 1.0).all()  # +-1 point of accuracy by default
    vsa = acc.loc["attention=vsa"]
    assert vsa["n"] == len(SEEDS) - 1 and vsa["n_dropped"] == 1 and vsa["dropped_seeds"] == 5
    assert not got["verdict"].str.contains("no difference|no significant").any()


def _mcnemar_by_hand(att: str, seed: int) -> tuple[int, int]:
    base = {i for i, c in enumerate(correct_vector("ssa", CORRECT["ssa"][seed])) if c}
    var = {i for i, c in enumerate(correct_vector(att, CORRECT[att][seed])) if c}
    return len(base - var), len(var - base)


def _binom_two_sided(b: int, c: int) -> float:
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


def test_mcnemar_pooled_on_correctness_vectors(built: tuple[Path, dict[str, Path]]) -> None:
    _, written = built
    got = pd.read_csv(written["stats.csv"])
    acc = got[got["metric"] == "test_acc_pct"].set_index("variant")
    for label, att in list(VARIANTS.items())[1:]:
        seeds = [s for s in SEEDS if (att, s) != FAILED]
        counts = [_mcnemar_by_hand(att, s) for s in seeds]
        b, c = sum(x for x, _ in counts), sum(y for _, y in counts)
        row = acc.loc[label]
        assert (row["mcnemar_only_baseline"], row["mcnemar_only_variant"]) == (b, c)
        assert row["p_mcnemar_pooled"] == pytest.approx(_binom_two_sided(b, c), rel=1e-9)
        below = sum(_binom_two_sided(x, y) < 0.05 for x, y in counts)
        assert row["mcnemar_seeds"] == len(seeds) and row["mcnemar_seeds_below_alpha"] == below
    assert got.loc[got["metric"] != "test_acc_pct", "p_mcnemar_pooled"].isna().all()


def test_report_statistics_state_their_rules(built: tuple[Path, dict[str, Path]]) -> None:
    _, written = built
    report = written["report.md"].read_text()
    got = pd.read_csv(written["stats.csv"])
    part = section(report, "## Statistics against the baseline")
    assert stats.WILCOXON_CONVENTION in part and "One Holm family per metric" in part
    assert "all 6 pairs of the 4 variants" in part and "`train_img_per_s`" in part
    acc = part.split("### test_acc_pct")[1].split("###")[0]
    assert "equivalence margin ±1 points" in acc
    for label, verdict in [("attention=vsa", "worse"), ("attention=sdsa", "equivalent")]:
        assert table_row(acc, label)[-1] == verdict
    qk = got[(got["metric"] == "test_acc_pct") & (got["variant"] == "attention=qk_token")].iloc[0]
    assert table_row(acc, "attention=qk_token")[-1] == (
        f"inconclusive (needs {int(qk['seeds_for_power'])} seeds)"
    )
    assert qk["verdict"] in acc
    cells = table_row(acc, "attention=vsa")
    probs = [float(x) for x in cells[6].split(" / ")]
    assert sum(probs) == pytest.approx(1.0, abs=2e-3)  # printed to 3 digits
    assert "no significant difference" not in report
    pairs = section(report, "## All pairs and Wilcoxon-Holm cliques")
    assert "(same p and verdict: checked)" in pairs
    assert "Friedman p" in pairs and "cliques" in pairs


def test_report_mcnemar_section(built: tuple[Path, dict[str, Path]]) -> None:
    _, written = built
    part = section(written["report.md"].read_text(), "## Per-sample test: exact McNemar")
    b, c = _mcnemar_by_hand("vsa", 0)
    row = table_row(part, "attention=vsa")
    assert row[1] == f"{TEST_SIZE * 9} (9 seeds)"
    assert row[-1].startswith(f"0: {p_text(_binom_two_sided(b, c))}, 1: ")
    assert stats.MCNEMAR_POOLING in part


# ------------------------------------------------------------------------------- honest labels


def test_a_searched_number_with_many_values_reads_as_its_range() -> None:
    from bench.report.sections import _values_text

    assert _values_text(["ssa", "vsa"]) == "ssa/vsa"
    assert _values_text([2.0, 1.5]) == "2.0/1.5"
    taus = [1.5 + 0.05 * i for i in range(49)]  # 1.5 ... 3.9
    assert _values_text(taus) == "49 values in [1.5, 3.9]"


def test_report_budget_protocol_and_labels(built: tuple[Path, dict[str, Path]]) -> None:
    _, written = built
    report = written["report.md"].read_text()
    assert "**CPU demonstration:**" in report and "scikit-learn's 8x8" in report
    protocol = section(report, "## Protocol")
    assert table_row(protocol, "preset")[1] == (
        "digits-2-32 (overridden: model.attention=ssa/vsa/sdsa/qk_token, train.epochs=3)"
    )
    assert table_row(protocol, "train / validation / test samples")[1] == "1257 / 180 / 360"
    budget = section(report, "## Budget and models")
    assert "Every model got the same budget" in budget
    vsa = table_row(budget, "attention=vsa")
    assert vsa[1:5] == [
        "3",
        "cosine 0.005 -> 1e-05, 0 warm-up epoch(s)",
        "32",
        "9: 0, 1, 2, 3, 4, 6, 7, 8, 9",
    ]
    assert vsa[5] == "164,906"
    header = table_row(budget, "variant")
    assert header[-1] == "energy_paper (uJ)"  # 1.5e-6 J = 0.0015 mJ: printed in uJ
    energy = [1e6 * ENERGY_J["vsa"] * (1 + 0.01 * s) for s in SEEDS if s != 5]
    assert float(vsa[-1].split("±")[0]) == pytest.approx(np.mean(energy), abs=0.01)
    results = section(report, "## Results")
    assert "Descriptive columns (not tested)" in results and "gets no verdict" in results
    assert "val_acc_pct" in results and "best_val_acc_over_epochs_pct" in results
    env = section(report, "## Environment")
    for package, version in VERSIONS.items():
        assert table_row(env, package)[1] == version


def test_pairing_check(built: tuple[Path, dict[str, Path]], tmp_path: Path) -> None:
    study, written = built
    part = section(written["report.md"].read_text(), "## Pairing check")
    assert "Every variant of a seed shares the batch-order and input digests" in part
    assert table_row(part, "3")[1:] == [
        "4",
        "equal",
        "equal",
        "not compared: each run has its own model config (4 digests)",
        "False",
    ]
    copy = tmp_path / "attn"
    shutil.copytree(study, copy, ignore=shutil.ignore_patterns("plots"))
    cells = json.loads((copy / "study.json").read_text())["runs"]
    run_id = next(r for r, c in cells.items() if c == {"variant": "attention=vsa", "seed": 2})
    rec_path = copy / "runs" / run_id / "record.json"
    rec = json.loads(rec_path.read_text())
    rec["pairing"]["batch_order"] = "another order"
    rec_path.write_text(json.dumps(rec))
    _, problems, missing = pairing_mismatches(load_study(copy))
    assert missing == 0
    assert problems == [
        "seed 2: the batch order digests differ between `attention=ssa`, "
        "`attention=sdsa`, `attention=qk_token`; `attention=vsa`"
    ]
    # two variants with one model config (a training setting swept) must share their init
    recs = [
        {
            "variant": v,
            "seed": 0,
            "status": "complete",
            "config": {"model": {"dim": 8}},
            "pairing": {"init": init, "batch_order": "b", "inputs": "x", "augment": True},
        }
        for v, init in (("lr=1", "i1"), ("lr=2", "i2"))
    ]
    rows, problems, _ = pairing_mismatches(Study(tmp_path, {"kind": "ablation"}, recs))
    assert problems == ["seed 0: `lr=1`, `lr=2` have the same model config but different init"]
    assert rows[0][4] == "differs within a model config" and rows[0][5] == "True"


# ------------------------------------------------------------------------------- figures


def test_figures_paired_differences_first(built: tuple[Path, dict[str, Path]]) -> None:
    study, written = built
    plots = [k.removeprefix("plot:") for k in written if k.startswith("plot:")]
    expected = [
        "paired_differences",
        *(f"seeds_{m}" for m in METRICS),
        *(f"cliques_{m}" for m in METRICS),
        "learning_curves",
        "accuracy_vs_energy",
    ]
    assert plots == expected  # no throughput figure, no interaction plot (one swept key)
    report = written["report.md"].read_text()
    links = [
        line.split("](")[1].rstrip(")") for line in report.splitlines() if line.startswith("![")
    ]
    assert links[0] == "plots/paired_differences.png"
    assert all((study / link).is_file() for link in links)
    assert "Wilcoxon-Holm cliques over mean ranks: test_acc_pct" in report
    for key in (k for k in written if k.startswith("plot:")):
        data = written[key].read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000, key


def test_many_variants_get_rotated_ticks() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    names = [f"attention=a{i} neuron=lif" for i in range(6)]
    set_variant_ticks(ax, names, baseline=names[0])
    labels = ax.get_xticklabels()
    assert [lab.get_rotation() for lab in labels] == [30.0] * 6
    assert labels[0].get_text().endswith("(baseline)")
    ax2 = fig.add_subplot()
    set_variant_ticks(ax2, names[:3])
    assert [lab.get_rotation() for lab in ax2.get_xticklabels()] == [0.0] * 3


def test_clique_diagram_keeps_ties_apart(tmp_path: Path) -> None:
    cl = {
        "dataset": "digits",
        "metric": "acc",
        "alpha": 0.05,
        "n_blocks": 6,
        "friedman_p": 0.01,
        "family_size": 6,
        "order": ["a", "b", "c", "d"],
        "mean_ranks": {"a": 1.5, "b": 1.5, "c": 3.0, "d": 4.0},
        "ties": [["a", "b"]],
        "cliques": [
            {
                "members": ["a", "b"],
                "rank_low": 1.5,
                "rank_high": 1.5,
                "contiguous": True,
                "covers": [],
            },
            {
                "members": ["b", "d"],
                "rank_low": 1.5,
                "rank_high": 4.0,
                "contiguous": False,
                "covers": ["c"],
            },
        ],
    }
    path = plot_cliques(cl, tmp_path / "cliques.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert _offsets(cl["order"], cl["mean_ranks"]) == pytest.approx(
        {"a": 1.475, "b": 1.525, "c": 3.0, "d": 4.0}
    )


# ------------------------------------------------------------------------------- factorial

F_SEEDS = list(range(6))
_LIF = [300, 305, 298, 310, 302, 307]
F_CORRECT = {  # vsa costs accuracy under LIF, not under IF: an attention x neuron interaction
    ("ssa", "lif"): _LIF,
    ("vsa", "lif"): [a - d for a, d in zip(_LIF, [8, 10, 6, 12, 7, 9], strict=True)],
    ("ssa", "if"): [a + d for a, d in zip(_LIF, [20, 18, 22, 19, 21, 17], strict=True)],
}
F_CORRECT["vsa", "if"] = [
    a + d for a, d in zip(F_CORRECT["ssa", "if"], [1, -1, 0, 2, -2, 1], strict=True)
]


def factorial_study(root: Path) -> Path:
    variants, cells = {}, {}
    for (att, neuron), counts in F_CORRECT.items():
        label = f"attention={att} neuron={neuron}"
        variants[label] = {"model.attention": att, "model.neuron": neuron}
        for seed in F_SEEDS:
            cells[label, seed] = make_record(
                variants[label], seed, counts[seed], energy_j=ENERGY_J[att], attention=att
            )
    return write_study(root, "factorial", variants, cells, F_SEEDS, ["attention", "neuron"])


@pytest.fixture(scope="module")
def factorial(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    study = factorial_study(tmp_path_factory.mktemp("results"))
    return study, refresh(study)


def test_factorial_section_and_interaction_plot(factorial: tuple[Path, dict[str, Path]]) -> None:
    _, written = factorial
    known = pd.DataFrame(
        [
            {
                "variant": f"attention={a} neuron={n}",
                "seed": s,
                "attention": a,
                "neuron": n,
                "test_acc_pct": 100 * c[s] / TEST_SIZE,
            }
            for (a, n), c in F_CORRECT.items()
            for s in F_SEEDS
        ]
    )
    anova = stats.rm_anova(known, ["attention", "neuron"], "test_acc_pct").set_index("effect")
    art = stats.art_anova(known, ["attention", "neuron"], "test_acc_pct").set_index("effect")
    part = section(written["report.md"].read_text(), "## Factorial analysis")
    assert stats.FACTORIAL_METHOD in part
    acc = part.split("### test_acc_pct")[1].split("###")[0]
    row = table_row(acc, "attention:neuron")
    assert row[1] == "1, 5" and row[2] == num(anova.loc["attention:neuron", "F"], 3)
    assert row[3] == p_text(anova.loc["attention:neuron", "p"])
    assert row[7] == p_text(art.loc["attention:neuron", "p"])
    assert anova.loc["attention:neuron", "p"] < 0.05  # the designed interaction is found
    assert "the effect of attention depends on neuron" in acc
    simple = table_row(acc.split("Simple effects")[1], "attention")  # attention within LIF
    assert simple[1] == "neuron=lif" and simple[2] == "vsa - ssa" and simple[3] == "6"
    diff = np.mean([-d for d in [8, 10, 6, 12, 7, 9]]) * 100 / TEST_SIZE
    assert float(simple[4].split(" [")[0]) == pytest.approx(diff, rel=1e-3)
    plots = [k for k in written if k.startswith("plot:interaction_")]
    assert plots == [f"plot:interaction_{m}" for m in METRICS]
    assert written["plot:interaction_test_acc_pct"].read_bytes()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------- search, CLI


def test_search_figures_on_the_datas_range(tmp_path: Path) -> None:
    study = tmp_path / "search"
    study.mkdir()
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(study / "study.journal"))
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(
        study_name="search",
        storage=storage,
        direction="maximize",
        sampler=optuna.samplers.RandomSampler(seed=0),
    )

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        depth = trial.suggest_int("depth", 1, 4)
        for step in range(3):
            trial.report(90 + depth + math.log10(lr) + step, step)
        return 90 + depth + math.log10(lr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ostudy.optimize(objective, n_trials=12)
    (study / "study.json").write_text(
        json.dumps(
            {
                "kind": "search",
                "name": "search",
                "command": "python -m bench.search --trials 12",
                "dataset": "digits",
                "storage": "journal",
                "metrics": {"val_acc_pct": True},
            }
        )
    )
    written = refresh(study)
    names = [k.removeprefix("plot:") for k in written if k.startswith("plot:")]
    assert names[:3] == ["search_history", "search_intermediate", "search_importance"]
    report = written["report.md"].read_text()
    assert f"| {ostudy.best_trial.number} | {ostudy.best_value:.4g} |" in report
    assert "## Pairing check" not in report and "## Budget" not in report
    fig = Figure()
    ax = fig.add_subplot()
    _data_range(ax, np.array([t.value for t in ostudy.trials]))
    lo, hi = ax.get_ylim()
    values = [t.value for t in ostudy.trials]
    assert lo < min(values) and hi > max(values) and hi - lo < 1.2 * (max(values) - min(values))
    plot_intermediate(ostudy, tmp_path / "inter.png", "search")  # one legend entry per state


def test_cli_latex_and_identical_outputs(
    built: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    study, written = built
    copy = tmp_path / "attn"
    shutil.copytree(study, copy)
    for name in ("runs.csv", "stats.csv", "report.md"):
        (copy / name).unlink()
    shutil.rmtree(copy / "plots")
    res = subprocess.run(
        [sys.executable, "-m", "bench.plots", "--latex", str(copy)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    for name in ("runs.csv", "stats.csv", "report.md"):
        assert (copy / name).read_bytes() == written[name].read_bytes(), name
    results, stats_tex = (copy / "results.tex").read_text(), (copy / "stats.tex").read_text()
    for tex in (results, stats_tex):
        assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
        assert "\\begin{tabular}" in tex and "\\end{table}" in tex
    assert r"test\_acc\_pct" in results and r"$\pm$" in results
    assert re.search(r"(?<!\\)_", results + stats_tex) is None  # every _ escaped
    assert r"attention=vsa & 9 & " in stats_tex and r"95\% CI" in stats_tex
    assert latex_escape("a_b & 5% {x} ~ #1 $") == r"a\_b \& 5\% \{x\} \textasciitilde{} \#1 \$"


def test_missing_study_json_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudyError, match="has no study.json"):
        load_study(tmp_path / "empty")
    assert plots_main(["--latex", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no study.json" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_pareto_front() -> None:
    pts = pd.DataFrame({"e": [1.0, 2.0, 3.0, 1.5], "acc": [90.0, 95.0, 94.0, 89.0]})
    assert list(pareto_front(pts, "e", "acc").index) == [0, 1]

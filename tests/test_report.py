"""Study folder -> runs.csv, stats.csv, plots and report.md, on a fake study with known numbers.

The records are built in the real format: configs from bench.config.resolve (so run ids are the
real ones) and metrics from bench.train.summarize over hand-made per-epoch curves.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from bench import stats
from bench.config import resolve
from bench.plots import main as plots_main
from bench.plots import pareto_front
from bench.report import refresh
from bench.results import StudyError, load_study, runs_frame
from bench.train import summarize

ROOT = Path(__file__).resolve().parents[1]
TEST_SIZE = 360
SEEDS = list(range(8))  # 8: with Holm over 2 comparisons the exact Wilcoxon can reach p < 0.05
VARIANTS = {"attention=ssa": "ssa", "attention=vsa": "vsa", "attention=sdsa": "sdsa"}
FIXED = {"data.name": "digits", "train.epochs": 3}
# Correct test samples (of 360) at the final epoch, per variant and seed: vsa is below ssa on
# every seed by distinct amounts; sdsa moves both ways.
CORRECT = {
    "ssa": [330, 332, 329, 335, 331, 333, 328, 334],
    "vsa": [325, 325, 326, 326, 327, 327, 320, 324],
    "sdsa": [331, 330, 332, 335, 330, 335, 325, 335],
}
ENERGY_J = {"ssa": 2.0e-6, "vsa": 1.5e-6, "sdsa": 1.8e-6}
SPEED = {"ssa": 100.0, "vsa": 130.0, "sdsa": 90.0}  # training images/s at epoch 0
FAILED = ("vsa", 5)  # this run fails: it must be listed, and left out of the statistics
FAILED_ERROR = "loss is NaN at epoch 2: lower lr or use amp=none."


def make_record(attention: str, seed: int, correct: int, *, energy_j: float,
                status: str = "complete", error: str | None = None,
                **overrides: Any) -> dict[str, Any]:
    """A run record as bench.train writes it, with the given final-epoch accuracy."""
    cfg = resolve({**FIXED, "model.attention": attention, "seed": seed, **overrides})
    final = correct / TEST_SIZE
    # epoch 2 is better than the final epoch on even seeds: best-over-epochs must differ
    accs = [final - 0.2, final + (0.01 if seed % 2 == 0 else -0.01), final]
    curves = [
        {"epoch": e, "lr": 1e-3, "train_loss": 2.0 / e + 0.01 * seed,
         "train_acc": a - 0.02, "test_loss": 1.5 / e, "test_acc": a, "epoch_seconds": 10.0,
         "train_img_per_s": SPEED[attention] + seed + 10 * e, "eval_img_per_s": 400.0 + seed,
         "firing_rates": {"blocks.0.attn.neuron": 0.1, "blocks.0.mlp.neuron": 0.2}}
        for e, a in enumerate(accs, start=1)
    ]
    energy_j = energy_j * (1 + 0.01 * seed)
    sops = energy_j / 0.9e-12 * 0.8
    totals = {"macs_dense": 6.0e7, "ann_energy_j": 2.8e-4, "sops_paper": sops,
              "macs_analog": 7.4e4, "energy_paper_j": energy_j, "sops_strict": sops / 2,
              "macs_strict": 1.4e7, "energy_strict_j": 30 * energy_j, "attention_sops": 4.5e3,
              "attention_macs": 0.0, "mean_firing_rate": 0.01 + 0.001 * seed}
    record: dict[str, Any] = {
        "run_id": cfg.run_id, "config": cfg.to_dict(), "seed": seed, "status": "running",
        "error": None, "device": "cpu (x86_64, 2 threads)", "world_size": 1,
        "versions": {"python": "3.11.7", "torch": "2.14.1", "spikingjelly": "2.0",
                     "optuna": "5.0.0", "timm": "1.0.31", "numpy": "2.4.6",
                     "git_commit": "0f0a1e22d954760a0bad08f6418a17676fb569f1"},
        "started": "2026-11-29T07:29:17+0000",
        "data": {"dataset": "digits", "num_classes": 10, "input_shape": [1, 16, 16],
                 "train_size": 1437, "test_size": TEST_SIZE, "split": "stratified 80/20"},
        "params": 163906 + (1000 if attention == "vsa" else 0),
        "study": "attn", "variant": f"attention={attention}",
    }
    if status == "complete":
        record["curves"] = curves
        record["correct"] = [1] * correct + [0] * (TEST_SIZE - correct)
        record["energy"] = {"samples": TEST_SIZE, "T": 4, "e_mac_j": 4.6e-12,
                            "e_ac_j": 9e-13, "totals": totals, "firing_rates": {}, "layers": []}
        record.update(summarize(curves, record))
    else:
        record["curves"] = curves[:1]
    record.update(status=status, error=error, finished="2026-11-29T07:32:41+0000")
    return record


def write_study(root: Path) -> Path:
    study = root / "attn"
    meta = {
        "kind": "ablation", "name": "attn",
        "command": "python -m bench.ablate attention=ssa,vsa,sdsa",
        "created": "2026-11-29T07:20:00+0000", "dataset": "digits", "baseline": "attention=ssa",
        "sweep_keys": ["attention"],
        "variants": {label: {"model.attention": a} for label, a in VARIANTS.items()},
        "seeds": SEEDS, "fixed": FIXED, "storage": "journal",
        "metrics": {"test_acc": True, "energy_paper_j": False, "sops_paper": False,
                    "train_img_per_s": True},
    }
    (study / "runs").mkdir(parents=True)
    (study / "study.json").write_text(json.dumps(meta, indent=1))
    for attention in VARIANTS.values():
        for seed in SEEDS:
            failed = (attention, seed) == FAILED
            rec = make_record(attention, seed, CORRECT[attention][seed],
                              energy_j=ENERGY_J[attention],
                              status="failed" if failed else "complete",
                              error=FAILED_ERROR if failed else None)
            (study / "runs" / rec["run_id"]).mkdir()
            (study / "runs" / rec["run_id"] / "record.json").write_text(json.dumps(rec))
    # A run of another config (10 epochs) in the same folder: not part of the study.
    stray = make_record("ssa", 0, 300, energy_j=1e-6, **{"train.epochs": 10})
    (study / "runs" / stray["run_id"]).mkdir()
    (study / "runs" / stray["run_id"] / "record.json").write_text(json.dumps(stray))
    return study


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Path]]:
    study = write_study(tmp_path_factory.mktemp("results"))
    return study, refresh(study)


def known_runs() -> pd.DataFrame:
    """The runs table expected from the chosen numbers, built without bench.results."""
    rows = []
    for label, attention in VARIANTS.items():
        for seed in SEEDS:
            ok = (attention, seed) != FAILED
            e = ENERGY_J[attention] * (1 + 0.01 * seed)
            rows.append({
                "variant": label, "seed": seed, "dataset": "digits",
                "test_acc_pct": 100 * CORRECT[attention][seed] / TEST_SIZE if ok else math.nan,
                "energy_paper_mj": 1e3 * e if ok else math.nan,
                "sops_paper_m": e / 0.9e-12 * 0.8 / 1e6 if ok else math.nan,
                "train_img_per_s": SPEED[attention] + 20 + seed if ok else math.nan,
                "ok": ok,
            })
    return pd.DataFrame(rows)


def test_runs_csv_holds_the_records_numbers(built: tuple[Path, dict[str, Path]]) -> None:
    study, written = built
    runs = pd.read_csv(written["runs.csv"])
    assert len(runs) == len(VARIANTS) * len(SEEDS)  # the stray record is not there
    runs = runs.set_index("run_id")
    for path in (study / "runs").glob("*/record.json"):
        rec = json.loads(path.read_text())
        if rec["run_id"] not in runs.index:
            assert rec["config"]["train"]["epochs"] == 10
            continue
        row = runs.loc[rec["run_id"]]
        assert row["variant"] == rec["variant"] and row["seed"] == rec["seed"]
        assert row["attention"] == rec["config"]["model"]["attention"]
        assert row["status"] == rec["status"]
        if rec["status"] != "complete":
            assert math.isnan(row["test_acc_pct"]) and row["error"] == FAILED_ERROR
            continue
        m = rec["metrics"]
        assert row["test_acc_pct"] == pytest.approx(100 * m["test_acc"], rel=1e-12)
        assert row["best_test_acc_over_epochs_optimistic_pct"] == pytest.approx(
            100 * m["best_test_acc_over_epochs_optimistic"], rel=1e-12)
        assert row["energy_paper_mj"] == pytest.approx(1e3 * m["energy_paper_j"], rel=1e-12)
        assert row["energy_strict_mj"] == pytest.approx(1e3 * m["energy_strict_j"], rel=1e-12)
        assert row["sops_paper_m"] == pytest.approx(m["sops_paper"] / 1e6, rel=1e-12)
        assert row["params"] == m["params"] and row["epochs"] == 3
        assert row["mean_firing_rate"] == pytest.approx(m["mean_firing_rate"])
    # final epoch is the result; best-over-epochs is higher on even seeds
    even = runs[(runs["seed"] % 2 == 0) & (runs["status"] == "complete")]
    assert (even["best_test_acc_over_epochs_optimistic_pct"] > even["test_acc_pct"]).all()
    expected = known_runs()
    got = runs.reset_index().set_index(["variant", "seed"]).loc[
        list(zip(expected["variant"], expected["seed"], strict=True))]
    np.testing.assert_allclose(got["test_acc_pct"], expected["test_acc_pct"], rtol=1e-12)


def test_stray_record_is_ignored_with_a_warning(
    built: tuple[Path, dict[str, Path]], caplog: pytest.LogCaptureFixture
) -> None:
    study, _ = built
    with caplog.at_level(logging.WARNING):
        loaded = load_study(study)
    assert len(loaded.ignored) == 1 and len(loaded.records) == len(VARIANTS) * len(SEEDS)
    assert any("not one of the" in r.getMessage() for r in caplog.records)
    assert loaded.missing == []


def test_stats_csv_equals_bench_stats(built: tuple[Path, dict[str, Path]]) -> None:
    _, written = built
    got = pd.read_csv(written["stats.csv"])
    known = known_runs()
    direct = stats.analyse(
        known[known["ok"]], "attention=ssa",
        ["test_acc_pct", "energy_paper_mj", "sops_paper_m", "train_img_per_s"],
        {"test_acc_pct": True, "energy_paper_mj": False, "sops_paper_m": False,
         "train_img_per_s": True},
    )
    assert len(got) == len(direct) == 2 * 4
    for col in ("diff", "ci_low", "ci_high", "p_wilcoxon_holm", "p_t_holm", "d_z",
                "rank_biserial", "friedman_p"):
        np.testing.assert_allclose(got[col], direct[col], rtol=1e-9, err_msg=col)
    assert list(got["verdict"]) == list(direct["verdict"])
    # the failed run: seed 5 of vsa drops out of the pairs, it is not counted as a result
    vsa = got[(got["metric"] == "test_acc_pct") & (got["variant"] == "attention=vsa")].iloc[0]
    assert vsa["n"] == len(SEEDS) - 1 and vsa["n_dropped"] == 1 and vsa["dropped_seeds"] == 5
    assert vsa["significant"] and vsa["diff"] < 0


def test_every_plot_is_a_real_png(built: tuple[Path, dict[str, Path]]) -> None:
    study, written = built
    metrics = ["test_acc_pct", "energy_paper_mj", "sops_paper_m", "train_img_per_s"]
    expected = {f"seeds_{m}" for m in metrics} | {f"cd_{m}" for m in metrics}
    expected |= {"learning_curves", "accuracy_vs_energy"}
    plots = {k.removeprefix("plot:"): p for k, p in written.items() if k.startswith("plot:")}
    assert set(plots) == expected
    assert {p.stem for p in (study / "plots").glob("*.png")} == expected
    for path in plots.values():
        data = path.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n", path
        assert len(data) > 15_000, path


def _table_row(report: str, first_cell: str) -> list[str]:
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_cell:
            return cells
    raise AssertionError(f"no table row starting with {first_cell!r}")


def test_report_tables_and_verdicts(built: tuple[Path, dict[str, Path]]) -> None:
    study, written = built
    report = written["report.md"].read_text()
    runs = pd.read_csv(written["runs.csv"])
    stats_csv = pd.read_csv(written["stats.csv"])
    header = _table_row(report, "variant")  # the first table starting so: per-variant results
    for label in VARIANTS:
        row = _table_row(report, label if label != "attention=ssa" else f"{label} (baseline)")
        done = runs[(runs["variant"] == label) & (runs["status"] == "complete")]
        assert int(row[1]) == len(done)
        for metric in ("test_acc_pct", "energy_paper_mj"):
            mean_text, half_text = row[header.index(metric)].split("±")
            # printed to the half-width's 2nd significant digit: equal up to rounding
            step = 10.0 ** -len(half_text.strip().partition(".")[2])
            assert float(mean_text) == pytest.approx(done[metric].mean(), abs=step / 2 + 1e-15)
            s = stats.summarize(done, [metric], by=["variant"]).iloc[0]
            half = (s["ci_high"] - s["ci_low"]) / 2
            assert float(half_text) == pytest.approx(half, abs=step / 2 + 1e-15)
            assert 10 <= float(half_text) / step < 100  # two significant digits
    # statistics table: the vsa row's difference and its verdict sentence in words
    vsa = stats_csv[(stats_csv["metric"] == "test_acc_pct")
                    & (stats_csv["variant"] == "attention=vsa")].iloc[0]
    section = report.split("### test_acc_pct")[1]
    cells = _table_row(section, "attention=vsa")
    assert int(cells[1]) == vsa["n"]
    assert float(cells[2].split("[")[0]) == pytest.approx(vsa["diff"], rel=1e-3)
    assert float(cells[3]) == pytest.approx(vsa["p_wilcoxon_holm"], rel=1e-2)
    assert cells[-1] == "worse"
    assert vsa["verdict"] in report and "is lower than attention=ssa" in vsa["verdict"]
    assert "Friedman" in report
    # the failed run is listed with its error
    failures = report.split("## Failed")[1].split("\n## ")[0]
    assert "`attention=vsa` seed 5" in failures and FAILED_ERROR in failures
    # figure links are relative and point at existing files
    links = [line.split("](")[1].rstrip(")") for line in report.splitlines()
             if line.startswith("![")]
    assert links and all(not Path(link).is_absolute() for link in links)
    assert all((study / link).is_file() for link in links)
    assert "final epoch" in report and "optimistic" in report and "45 nm" in report
    assert "python -m bench.ablate attention=ssa,vsa,sdsa" in report


def test_cli_regenerates_identical_outputs(
    built: tuple[Path, dict[str, Path]], tmp_path: Path
) -> None:
    study, written = built
    copy = tmp_path / "attn"
    shutil.copytree(study, copy)
    for name in ("runs.csv", "stats.csv", "report.md"):
        (copy / name).unlink()
    shutil.rmtree(copy / "plots")
    res = subprocess.run([sys.executable, "-m", "bench.plots", str(copy)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (copy / "runs.csv").read_bytes() == written["runs.csv"].read_bytes()
    assert (copy / "stats.csv").read_bytes() == written["stats.csv"].read_bytes()
    assert str(copy / "report.md") in res.stdout
    assert len(list((copy / "plots").glob("*.png"))) == len(list((study / "plots").glob("*.png")))


def test_missing_study_json_is_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(StudyError, match="has no study.json"):
        load_study(tmp_path / "empty")
    assert plots_main([str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err.strip()
    assert "has no study.json" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_without_argument_needs_a_results_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results" / "not_a_study").mkdir(parents=True)
    assert plots_main([]) == 2
    err = capsys.readouterr().err
    assert "no study folder" in err and len(err.strip().splitlines()) == 1


def test_labels_are_used_when_run_ids_cannot_be_recomputed(tmp_path: Path) -> None:
    study = write_study(tmp_path)
    meta = json.loads((study / "study.json").read_text())
    meta["fixed"] = {**FIXED, "model.no_such_setting": 1}  # resolve fails: fall back to labels
    (study / "study.json").write_text(json.dumps(meta))
    runs = runs_frame(study)
    # the stray record carries the label attention=ssa seed 0 but ran 10 epochs: one of the two
    # is kept, never both
    assert len(runs) == len(VARIANTS) * len(SEEDS)
    assert runs.groupby(["variant", "seed"]).size().max() == 1


def test_pareto_front() -> None:
    pts = pd.DataFrame({"e": [1.0, 2.0, 3.0, 1.5], "acc": [90.0, 95.0, 94.0, 89.0]})
    front = pareto_front(pts, "e", "acc")
    assert list(front.index) == [0, 1]


def test_search_study_figures(tmp_path: Path) -> None:
    import optuna

    study = tmp_path / "search"
    study.mkdir()
    journal = str(study / "study.journal")
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(journal))
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ostudy = optuna.create_study(study_name="search", storage=storage, direction="maximize",
                                 sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        lr = trial.suggest_float("lr", 1e-4, 1e-2, log=True)
        depth = trial.suggest_int("depth", 1, 4)
        for step in range(3):
            trial.report(depth * 10 + math.log10(lr) + step, step)
        return depth * 10 + math.log10(lr)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ostudy.optimize(objective, n_trials=12)
    (study / "study.json").write_text(json.dumps(
        {"kind": "search", "name": "search", "command": "python -m bench.search --trials 12",
         "dataset": "digits", "storage": "journal", "metrics": {"test_acc": True}}))
    written = refresh(study)
    names = {k.removeprefix("plot:") for k in written if k.startswith("plot:")}
    assert {"search_history", "search_importance", "search_intermediate"} <= names
    assert "search_pareto" not in names  # single objective: skipped, not an error
    for key in ("plot:search_history", "plot:search_importance"):
        assert written[key].read_bytes()[:4] == b"\x89PNG"
    report = written["report.md"].read_text()
    assert f"| {ostudy.best_trial.number} | {ostudy.best_value:.4g} |" in report

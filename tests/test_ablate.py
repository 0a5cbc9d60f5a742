"""bench.ablate end to end: grammar, dry runs, a real tiny grid on two workers, reruns."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pandas as pd
import pytest

from bench.ablate import main
from bench.config import ConfigError
from bench.plan import apply_ablation_preset, expand, undecidable_note


def test_sweeps_form_a_cartesian_product_with_the_first_values_as_baseline() -> None:
    plan = expand(["attention=ssa,vsa", "neuron=lif,if", "dim=64", "seeds=3"])
    assert list(plan.variants) == [
        "attention=ssa neuron=lif",
        "attention=ssa neuron=if",
        "attention=vsa neuron=lif",
        "attention=vsa neuron=if",
    ]
    assert plan.baseline == "attention=ssa neuron=lif"
    assert plan.fixed == {"model.dim": 64} and plan.seeds == [0, 1, 2]
    assert expand(["T=4,1", "seeds=5,7"]).seeds == [5, 7]
    assert expand(["attention=ssa,vsa"]).seeds == list(range(6))  # n >= 6 by default


def test_the_default_seeds_let_every_pair_of_variants_be_decided() -> None:
    # Holm over k(k-1)/2 pairs: the smallest exact Wilcoxon p is pairs * 2 / 2**n, which must
    # fall below 0.05: 3 pairs need n = 7 (6/128), 6 pairs 8 (12/256), 15 pairs 10 (30/1024).
    assert len(expand(["attention=ssa,vsa,sdsa"]).seeds) == 7
    assert len(expand(["attention=ssa,vsa", "neuron=lif,if"]).seeds) == 8
    assert len(expand(["attention=ssa,vsa,sdsa", "neuron=lif,if"]).seeds) == 10
    assert undecidable_note(2, 6) is None
    note = undecidable_note(6, 6)
    assert "Holm over 15 pair(s)" in note and "p = 0.469" in note and "seeds=10" in note


@pytest.mark.parametrize(
    "args,message",
    [
        (["dim=64"], "Nothing to compare: sweep at least one setting"),
        (["attention=ssa,ssa"], "lists a value twice"),
        (["attention=ssa,vsa", "seeds=-1"], "seeds must be a count"),
        (["attention=ssa,vsa", "seed=3"], "use seeds=N"),
        (["atention=ssa,vsa"], "Did you mean 'attention'"),
    ],
)
def test_plan_errors(args: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        expand(args)


def test_paper_ablation_presets_expand_and_yield_to_user_settings() -> None:
    args = apply_ablation_preset(["ablation=paper-timesteps", "dataset=cifar100"])
    plan = expand(args)
    assert list(plan.variants) == ["T=4", "T=1", "T=2", "T=6"]
    assert plan.fixed["data.name"] == "cifar100"
    with pytest.raises(ConfigError, match="Unknown ablation 'paper-atention'"):
        apply_ablation_preset(["ablation=paper-atention"])


def test_bad_input_exits_with_one_sentence_before_any_work(tmp_path: Path, capsys) -> None:
    assert main(["attention=ssa,vssa", "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "error: Unknown attention 'vssa'. Did you mean 'vsa'? Choose one of: "
        "identity_map, leakyrelu_map, qk_channel, qk_token, relu_map, sdsa, ssa, vsa, "
        "vsa_float_v. A part of your own? Import its module first: --import MODULE."
    )
    assert main(["attention=ssa,vsa", "--workers", "0", "--results", str(tmp_path)]) == 2
    assert not any(tmp_path.iterdir())


def test_missing_data_stops_before_any_run(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("urllib.request.urlopen", _no_network)
    code = main(
        [
            "attention=ssa,vsa",
            "dataset=cifar10",
            f"data_root={tmp_path / 'data'}",
            "--results",
            str(tmp_path / "results"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cifar10 is not in ") and "cifar-10-batches-py" in err
    # The results folder may be made (its write check runs first), but no study is written.
    results = tmp_path / "results"
    assert not results.exists() or not any(results.iterdir())


def _no_network(*args, **kwargs):
    raise OSError("no network in this test")


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path: Path, capsys) -> None:
    assert (
        main(["ablation=paper-attention", "seeds=10", "--dry-run", "--results", str(tmp_path)]) == 0
    )
    out = capsys.readouterr().out
    plan = "6 variants x 10 seeds = 60 runs on cifar10 (model cifar10-4-384, protocol paper"
    assert f"{plan}, 310 epochs" in out  # 300 + 10 cooldown
    assert out.count("seed ") == 60 and not any(tmp_path.iterdir())


def test_tiny_grid_on_two_workers_runs_every_cell_once_and_reruns_add_nothing(
    tmp_path: Path, capsys
) -> None:
    args = [
        "attention=ssa,vsa,sdsa",
        "preset=digits-1-32",
        "epochs=1",
        "seeds=2",
        "--study",
        "grid",
        "--results",
        str(tmp_path),
        "--workers",
        "2",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "3 variants x 2 seeds = 6 runs" in out and "Report:" in out
    folder = tmp_path / "grid"
    storage = optuna.storages.JournalStorage(
        optuna.storages.journal.JournalFileBackend(str(folder / "study.journal"))
    )
    ostudy = optuna.load_study(study_name="grid", storage=storage)
    trials = ostudy.get_trials()
    complete = [t.user_attrs["run_id"] for t in trials if t.state.name == "COMPLETE"]
    # What optuna-dashboard plots: the metric's name, the swept setting, one value per epoch.
    assert ostudy.metric_names == ["test_acc"]
    assert {t.params["attention"] for t in trials} == {"ssa", "vsa", "sdsa"}
    assert all(sorted(t.intermediate_values) == [1] for t in trials)  # epochs count from 1
    study = json.loads((folder / "study.json").read_text())
    assert sorted(complete) == sorted(study["runs"]) and len(trials) == 6

    runs = pd.read_csv(folder / "runs.csv")
    assert len(runs) == 6 and set(runs["status"]) == {"complete"}
    for run_id, row in runs.set_index("run_id").iterrows():
        record = json.loads((folder / "runs" / run_id / "record.json").read_text())
        assert row["test_acc_pct"] == pytest.approx(100 * record["metrics"]["test_acc"])
        assert record["variant"] == row["variant"]
    # The report's differences can be recomputed from runs.csv.
    stats = pd.read_csv(folder / "stats.csv")
    acc = runs.pivot(index="seed", columns="variant", values="test_acc_pct")
    row = stats[(stats.metric == "test_acc_pct") & (stats.variant == "attention=vsa")].iloc[0]
    assert row["diff"] == pytest.approx((acc["attention=vsa"] - acc["attention=ssa"]).mean())
    report = (folder / "report.md").read_text()
    assert "| attention=vsa |" in report and "Friedman" in report
    assert (folder / "plots" / "seeds_test_acc_pct.png").stat().st_size > 10_000

    assert main(args) == 0  # the same command again: nothing new to run
    out = capsys.readouterr().out
    assert "Study 'grid' is already complete (6 of 6 runs)" in out and "Queued" not in out
    assert len(optuna.load_study(study_name="grid", storage=storage).get_trials()) == 6


def test_a_preset_sweep_runs_through_dry_run_and_an_unknown_preset_is_one_sentence(capsys):
    families = "digits-2-32,spikingformer-digits-2-32,sdt-digits-2-32,qkformer-digits-3-32"
    assert main([f"preset={families}", "seeds=2", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "4 variants x 2 seeds = 8 runs" in out
    assert "note: with 2 seeds no pair can be called better or worse" in out  # and how many do
    assert "seeds=8 or more make it possible" in out
    for name in families.split(","):
        assert f"preset={name}" in out
    assert main(["preset=digits-2-32,qkformer-digits-3-33", "--dry-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Unknown model preset 'qkformer-digits-3-33'.")
    assert "Did you mean 'qkformer-digits-3-32'?" in err and len(err.splitlines()) == 1

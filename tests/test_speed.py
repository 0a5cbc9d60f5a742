"""The controlled speed and memory pass (bench.speed) and its report section: the only speed
figures that get verdicts. No timing thresholds: the verdict logic is checked on stored
rounds written by hand, the pass itself on what it writes."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from bench.config import resolve
from bench.report.speed_section import section_speed
from bench.speed import SPEED_CSV, SPEED_JSON, other_cpu_cores, run_speed_pass, speed_pass_needed
from components.model import Spikformer, count_params

TINY = {"preset": "digits-1-32", "train.batch_size": 8}


def test_the_pass_times_every_variant_on_one_batch_and_writes_its_files(tmp_path: Path) -> None:
    configs = {
        "attention=ssa": resolve({**TINY, "attention": "ssa"}),
        "attention=vsa": resolve({**TINY, "attention": "vsa"}),
    }
    assert speed_pass_needed(tmp_path, list(configs))
    run_speed_pass(tmp_path, configs, rounds=3)
    frame = pd.read_csv(tmp_path / SPEED_CSV)
    assert list(frame.columns) == ["variant", "round", "train_img_per_s", "eval_img_per_s"]
    assert list(frame["variant"]) == ["attention=ssa"] * 3 + ["attention=vsa"] * 3
    assert (frame[["train_img_per_s", "eval_img_per_s"]] > 0).all().all()
    info = json.loads((tmp_path / SPEED_JSON).read_text())
    assert info["variants"] == list(configs) and info["rounds"] == 3 and info["threads"] == 1
    for label, cfg in configs.items():
        mem = info["memory"][label]
        assert mem["params"] == count_params(Spikformer(cfg.model)) and mem["batch"] == 8
        assert mem["act_mb"] > 0
    assert not speed_pass_needed(tmp_path, list(configs))
    assert speed_pass_needed(tmp_path, ["attention=ssa"])  # other variants: a new pass


def _stored(folder: Path, quiet: bool, factor: float) -> SimpleNamespace:
    """Ten rounds in which the variant is `factor` times the baseline's speed in every round."""
    rows = []
    for r in range(10):
        base = 100.0 + 7 * r  # the machine drifts from round to round; the ratio does not
        rows += [("a", r, base, 2 * base), ("b", r, factor * base, 2 * factor * base)]
    columns = ["variant", "round", "train_img_per_s", "eval_img_per_s"]
    pd.DataFrame(rows, columns=columns).to_csv(folder / SPEED_CSV, index=False)
    info = {
        "variants": ["a", "b"],
        "rounds": 10,
        "warmup_steps": 3,
        "threads": 1,
        "device": "cpu",
        "input": "one batch",
        "weights": "seed 0",
        "other_cpu_cores_before": 0.01 if quiet else 1.5,
        "other_cpu_cores_during": 0.02,
        "quiet": quiet,
        "busy_threshold_cores": 0.25,
        "memory": {v: {"params": 10, "act_mb": 1.0, "peak_mb": 2.0, "batch": 8} for v in "ab"},
    }
    (folder / SPEED_JSON).write_text(json.dumps(info))
    return SimpleNamespace(kind="ablation", path=folder, baseline="a")


def _row(text: str, variant: str) -> list[str]:
    line = next(x for x in text.splitlines() if x.startswith(f"| {variant} "))
    return [c.strip() for c in line.strip("|").split("|")]


def test_a_variant_faster_in_every_round_of_a_quiet_pass_is_better(tmp_path: Path) -> None:
    text = section_speed(_stored(tmp_path, quiet=True, factor=1.5))
    row = _row(text, "b")
    # 10 rounds of one sign: exact Wilcoxon p = 2 / 2**10 = 0.002 (one pair in the family)
    assert row[2] == "1.500" and row[3] == "better" and row[5] == "1.500" and row[6] == "better"
    assert "Machine: quiet" in text


def test_equal_speed_within_the_margin_is_equivalent(tmp_path: Path) -> None:
    text = section_speed(_stored(tmp_path, quiet=True, factor=1.0))
    assert _row(text, "b")[3] == "equivalent"  # zero difference, +-5% margin, 10 rounds


def test_a_busy_machine_gets_no_speed_verdict(tmp_path: Path) -> None:
    text = section_speed(_stored(tmp_path, quiet=False, factor=1.5))
    assert _row(text, "b")[3] == "not given: other processes used 1.50 cores"
    assert "Machine: NOT quiet" in text


def test_a_study_without_a_pass_says_so(tmp_path: Path) -> None:
    study = SimpleNamespace(kind="ablation", path=tmp_path, baseline="a")
    assert "has no controlled speed pass" in section_speed(study)


def test_other_processes_load_is_measured_in_cores() -> None:
    cores = other_cpu_cores(0.2)
    assert cores is None or cores >= 0.0

"""The energy ladder reaches the report: a per-component stacked bar, a table per variant, and
statistics over a chosen ladder entry (--compare)."""

from __future__ import annotations

import pandas as pd

from bench.ablate import main


def test_a_real_ablation_reports_the_ladder_and_tests_a_chosen_entry(tmp_path, capsys):
    args = [
        "attention=ssa,vsa",
        "seeds=2",
        "preset=digits-1-32",
        "epochs=1",
        "--workers",
        "1",
        "--results",
        str(tmp_path),
        "--study",
        "s",
        "--compare",
        "energy_memory_mj",
    ]
    assert main(args) in (0, 1)  # two seeds: every verdict is inconclusive, nothing failed
    folder = tmp_path / "s"
    report = (folder / "report.md").read_text()
    assert "## Energy ladder" in report
    section = report.split("## Energy ladder")[1].split("\n## ")[0]
    for model in ("paper", "strict", "value_weighted", "memory", "fp16", "int8", "ann_twin"):
        assert model in section
    assert "x)" in section  # the ratio to the ANN twin
    assert (folder / "plots" / "energy_components.png").stat().st_size > 0
    stats = pd.read_csv(folder / "stats.csv")
    assert "energy_memory_mj" in set(stats["metric"])
    runs = pd.read_csv(folder / "runs.csv")
    assert (runs["energy_memory_mj"] > runs["energy_paper_mj"]).all()  # memory costs more

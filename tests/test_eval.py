"""Reopening a trained run: bench.eval reproduces the record's final test accuracy exactly."""

from __future__ import annotations

import json

import pytest

from bench.config import resolve
from bench.eval import evaluate_run, main
from bench.training import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    record = train_run(resolve({"preset": "digits-1-32", "train.epochs": 2}), out, quiet=True)
    assert record["status"] == "complete"
    return out


def test_eval_reproduces_the_final_test_accuracy(run_dir):
    record = json.loads((run_dir / "record.json").read_text())
    result = evaluate_run(str(run_dir), "test")
    assert result["accuracy"] == record["metrics"]["test_acc"]
    assert result["samples"] == record["data"]["test_size"]
    assert result["energy"]["source"].startswith("trained weights, test split")
    assert result["energy"]["energy_mj"]["paper"] > 0


def test_eval_on_validation_and_cli(run_dir, capsys):
    record = json.loads((run_dir / "record.json").read_text())
    assert main([str(run_dir), "split=val", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "val" and out["samples"] == record["data"]["val_size"]
    assert out["accuracy"] == pytest.approx(record["metrics"]["val_acc"], abs=0)


def test_eval_errors_are_one_sentence(run_dir, tmp_path, capsys):
    assert main([str(tmp_path)]) == 2
    assert "holds no readable record.json" in capsys.readouterr().err
    assert main([str(run_dir), "split=train"]) == 2
    assert "split=test or split=val" in capsys.readouterr().err

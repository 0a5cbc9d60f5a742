"""A user's own part from outside the package: examples/my_attention through --import, the
environment variable and the entry-point group, in an ablation with two workers, a search space
that names it, and the energy meter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bench.plugins import ENTRY_POINT_GROUP, ENV

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "my_attention"
TINY = ["preset=digits-1-32", "epochs=1"]


def _run(args: list[str], tmp: Path, extra_path: list[Path] = (), env: dict | None = None):
    path = os.pathsep.join(map(str, [*extra_path, REPO]))
    full_env = {**os.environ, "PYTHONPATH": path, **(env or {})}
    full_env.pop(ENV, None) if not env or ENV not in env else None
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=tmp,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_without_the_plugin_the_name_is_one_sentence_naming_the_fix(tmp_path):
    res = _run(["bench.ablate", "attention=ssa,mean_kv", "--dry-run"], tmp_path)
    assert res.returncode == 2
    assert "Unknown attention 'mean_kv'" in res.stderr and "--import MODULE" in res.stderr


def test_import_flag_runs_a_two_seed_ablation_with_two_workers(tmp_path):
    res = _run(
        [
            "bench.ablate",
            "attention=ssa,mean_kv",
            "seeds=2",
            *TINY,
            "--workers",
            "2",
            "--import",
            "my_attention",
            "--results",
            str(tmp_path / "r"),
        ],
        tmp_path,
        extra_path=[EXAMPLE],
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "4 of 4 runs complete" in res.stdout
    folder = next((tmp_path / "r").iterdir())
    info = json.loads((folder / "study.json").read_text())
    assert info["plugins"] == ["my_attention"]
    variants = {json.loads(p.read_text())["variant"] for p in folder.glob("runs/*/record.json")}
    assert variants == {"attention=ssa", "attention=mean_kv"}


def test_a_worker_that_lacks_the_plugin_names_it(tmp_path):
    results = tmp_path / "r"
    args = [
        "bench.ablate",
        "attention=ssa,mean_kv",
        "seeds=1",
        *TINY,
        "--workers",
        "1",
        "--results",
        str(results),
        "--study",
        "s",
    ]
    first = _run([*args, "--import", "my_attention", "--dry-run"], tmp_path, [EXAMPLE])
    assert first.returncode == 0
    # a study recorded with the plugin, resumed where the module is missing
    (results / "s").mkdir(parents=True)
    res = _run(
        [*args[:-4], "--results", str(results), "--study", "s", "--import", "my_attention"],
        tmp_path,
    )
    assert res.returncode == 2
    assert "Plugin module 'my_attention' cannot be imported" in res.stderr
    assert "pip install -e" in res.stderr


def test_environment_variable_and_search_space_that_names_the_part(tmp_path):
    res = _run(
        ["bench.search", "--space", "digits-mean-kv", "--dry-run", "--results", str(tmp_path)],
        tmp_path,
        [EXAMPLE],
        env={ENV: "my_attention"},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "'digits-mean-kv'" in res.stdout and "mean_kv" in res.stdout


def test_entry_point_group_is_imported(tmp_path):
    """A real installed distribution (a dist-info folder on the path) with the entry point."""
    dist = tmp_path / "site" / "my_attention_example-0.1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: my-attention-example\nVersion: 0.1.0\n"
    )
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nmy_attention = my_attention\n")
    res = _run(
        ["bench.ablate", "attention=ssa,mean_kv", "--dry-run", "--results", str(tmp_path / "r")],
        tmp_path,
        [EXAMPLE, tmp_path / "site"],
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "attention=mean_kv" in res.stdout


_ENERGY_PROBE = """
import json, torch
from bench.plugins import load_plugins
load_plugins(["my_attention"])
from components.energy import EnergyMeter, calibrate_bn
from components.model import ModelConfig, Spikformer
torch.manual_seed(0)
cfg = ModelConfig(depth=1, dim=32, heads=2, T=2, num_classes=10, in_channels=1, img_size=8,
                  attention="mean_kv", neuron="if", v_threshold=0.5)
net = Spikformer(cfg)
x = torch.randn(16, 1, 8, 8) * 3
calibrate_bn(net, [x, x])  # BN as initialised leaves the blocks nearly silent
with torch.no_grad(), EnergyMeter(net.eval()) as meter:
    net(x)
rows = [r for r in meter.report().to_dict()["layers"] if r["component"] == "attention"]
print(json.dumps(rows))
"""


def test_the_plugin_attention_has_nonzero_attention_energy(tmp_path):
    """In a fresh interpreter, so the plugin's registrations do not leak into other tests."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(map(str, [EXAMPLE, REPO]))}
    res = subprocess.run(
        [sys.executable, "-c", _ENERGY_PROBE],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    rows = json.loads(res.stdout.strip().splitlines()[-1])
    assert {r["name"].split("[")[-1] for r in rows} == {"mean_n k*v]", "q * mask]"}
    assert all(r["dense_macs"] > 0 for r in rows)
    assert sum(r["sops_paper"] for r in rows) > 0  # spikes reached the products

"""The report's speed and memory section, from the study's controlled pass (bench.speed): the
only speed figures that get verdicts, paired by timing round."""

from __future__ import annotations

import statistics
from typing import Any

import pandas as pd

from bench import stats
from bench.report.fmt import markdown_table, num, variant_name
from bench.report.stats_section import short_verdict
from bench.results import Study
from bench.speed import load_speed

__all__ = ["SPEED_MARGIN", "section_speed"]

SPEED_MARGIN = 0.05  # equivalence margin: +-5% of the baseline's median images/s
_TITLE = "## Speed and memory (controlled pass)"


def _ratio(frame: pd.DataFrame, variant: str, baseline: str, metric: str) -> float:
    """Median over rounds of variant / baseline images/s (each round times both back to back)."""
    a = frame[frame["variant"] == variant].set_index("seed")[metric]
    b = frame[frame["variant"] == baseline].set_index("seed")[metric]
    return statistics.median((a / b).dropna())


def _verdicts(frame: pd.DataFrame, baseline: str, metric: str, info: dict) -> dict[str, str]:
    if info.get("quiet") is False:
        cores = max(
            v or 0.0 for v in (info["other_cpu_cores_before"], info["other_cpu_cores_during"])
        )
        return {
            v: f"not given: other processes used {cores:.2f} cores"
            for v in frame["variant"].unique()
        }
    margin = SPEED_MARGIN * frame.loc[frame["variant"] == baseline, metric].median()
    table = stats.compare_to_baseline(frame, baseline, metric, higher_is_better=True, margin=margin)
    # the pairing unit of a speed pass is a timing round, not a seed
    return {
        r["variant"]: short_verdict(r).replace(" seeds)", " rounds)")
        for r in table.to_dict("records")
    }


def section_speed(study: Study) -> str | None:
    if study.kind == "search":
        return None
    got = load_speed(study.path)
    if got is None:
        return (
            f"{_TITLE}\n\nThis study has no controlled speed pass (speed.csv); rerunning its "
            "command adds one. Throughput recorded during training is descriptive only."
        )
    frame, info = got
    variants = list(dict.fromkeys(frame["variant"]))
    baseline = study.baseline if study.baseline in variants else variants[0]
    metrics = ("train_img_per_s", "eval_img_per_s")
    verdicts = {m: _verdicts(frame, baseline, m, info) for m in metrics}
    memory: dict[str, Any] = info.get("memory", {})
    rows = []
    for v in variants:
        row = [variant_name(v, baseline)]
        for m in metrics:
            median = frame.loc[frame["variant"] == v, m].median()
            same = v == baseline
            ratio = "1" if same else f"{_ratio(frame, v, baseline, m):.3f}"
            row += [num(median), ratio, "" if same else verdicts[m].get(v, "")]
        mem = memory.get(v, {})
        row += [f"{mem.get('params', 0):,}", num(mem.get("act_mb")), num(mem.get("peak_mb"))]
        rows.append(row)
    header = ["variant", "train img/s", "x baseline", "verdict", "eval img/s", "x baseline"]
    header += ["verdict", "parameters", "saved for backward (MB)", "peak step memory (MB)"]
    quiet = {True: "quiet", False: "NOT quiet", None: "not checked (no /proc/stat)"}
    before, during = info.get("other_cpu_cores_before"), info.get("other_cpu_cores_during")
    lines = [
        _TITLE,
        "",
        f"Every variant's model timed in one process on {info['device']} with "
        f"{info['threads']} thread(s), on {info['input']}, after {info['warmup_steps']} warm-up "
        f"steps, in {info['rounds']} rounds that each time every variant once, back to back; "
        f"{info['weights']}. Medians over rounds; 'x baseline' is the median of the per-round "
        "ratios. Verdicts: exact Wilcoxon over the paired rounds, Holm over all pairs, "
        f"equivalence margin +-{100 * SPEED_MARGIN:g}% of the baseline's median. Machine: "
        f"{quiet[info.get('quiet')]} (other processes used {num(before)} cores before and "
        f"{num(during)} during the pass; threshold {info['busy_threshold_cores']}). Memory of one "
        "training step is measured once (CPU: the exact bytes autograd saves, and the "
        "approximate growth of peak RSS; CUDA: the allocator's peak).",
        "",
        markdown_table(header, rows),
    ]
    return "\n".join(lines)

"""Pairing check: the runs of one seed must share their batch order and inputs (and their
initial weights where the model config is the same), or the paired tests compare more than the
variants. Reads the digests each record stores under "pairing"."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from bench.report.fmt import markdown_table
from bench.results import Study

__all__ = ["pairing_mismatches", "section_pairing"]

_SHARED = (("batch_order", "batch order"), ("inputs", "inputs"))


def _groups(recs: list[dict[str, Any]], key: str) -> dict[str, list[str]]:
    """digest -> variants holding it."""
    out: dict[str, list[str]] = defaultdict(list)
    for r in recs:
        out[str((r.get("pairing") or {}).get(key))].append(str(r["variant"]))
    return out


def _architecture(rec: dict[str, Any]) -> str:
    return json.dumps((rec.get("config") or {}).get("model"), sort_keys=True, default=str)


def _seed_check(seed: Any, recs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(table row, mismatch sentences) of one seed."""
    problems, cells = [], []
    for key, name in _SHARED:
        groups = _groups(recs, key)
        cells.append("equal" if len(groups) == 1 else f"{len(groups)} different")
        if len(groups) > 1:
            split = "; ".join(", ".join(f"`{v}`" for v in vs) for vs in groups.values())
            problems.append(f"seed {seed}: the {name} digests differ between {split}")
    by_arch: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in recs:
        by_arch[_architecture(r)].append(r)
    bad_init = [g for g in by_arch.values() if len(_groups(g, "init")) > 1]
    for g in bad_init:
        names = ", ".join(f"`{r['variant']}`" for r in g)
        problems.append(f"seed {seed}: {names} have the same model config but different init")
    n_init = len(_groups(recs, "init"))
    if bad_init:
        cells.append("differs within a model config")
    elif all(len(g) < 2 for g in by_arch.values()):
        cells.append(f"not compared: each run has its own model config ({n_init} digests)")
    else:
        cells.append(f"equal within each of {len(by_arch)} model configs ({n_init} digests)")
    augment = sorted({str((r.get("pairing") or {}).get("augment")) for r in recs})
    cells.append(", ".join(augment))
    return [str(seed), str(len(recs)), *cells], problems


def pairing_mismatches(study: Study) -> tuple[list[list[str]], list[str], int]:
    """(one row per seed, mismatch sentences, number of finished records without digests)."""
    done = [r for r in study.records if r.get("status") == "complete"]
    with_digests = [r for r in done if (r.get("pairing") or {}).get("batch_order")]
    by_seed: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for r in with_digests:
        by_seed[r.get("seed")].append(r)
    rows, problems = [], []
    for seed in sorted(by_seed, key=str):
        row, bad = _seed_check(seed, by_seed[seed])
        rows.append(row)
        problems += bad
    return rows, problems, len(done) - len(with_digests)


def section_pairing(study: Study) -> str:
    if study.kind != "ablation":
        return ""
    lines = ["## Pairing check", ""]
    rows, problems, missing = pairing_mismatches(study)
    if not rows:
        return "\n".join(
            lines
            + [
                "No finished record carries pairing digests (written before they were "
                "recorded), so the pairing cannot be checked."
            ]
        )
    if problems:
        lines += [
            "**The pairing is broken** for these runs; their paired tests compare more "
            "than the variants:",
            "",
            *[f"- {p}." for p in problems],
        ]
    else:
        lines.append(
            "Every variant of a seed shares the batch-order and input digests, and the initial "
            "weights wherever the model config is the same: the paired tests compare the "
            "variants, not their draws."
        )
    if missing:
        lines += ["", f"{missing} finished record(s) carry no pairing digests and are not checked."]
    header = ["seed", "runs", "batch order", "inputs", "initial weights", "augment applied"]
    lines += [
        "",
        markdown_table(header, rows),
        "",
        "augment: the flag each record says actually applied.",
    ]
    return "\n".join(lines)

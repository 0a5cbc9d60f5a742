"""study.json: the one schema of a study folder's description, written and read only here.

It says what was compared (variants, seeds, baseline, fixed settings) and holds the run map
(run id -> variant and seed), so readers never re-derive configs. It stores the storage kind
without credentials, the plugin modules every worker must import, the sampler and pruner
settings of a search, and a fingerprint of everything that fixes the study's runs, so that a
command whose settings differ from a study of the same name is refused instead of merged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from bench.files import read_json, write_json

__all__ = [
    "STUDY_FILE",
    "StudyFile",
    "StudyMismatch",
    "check_results_folder",
    "check_study_name",
    "read_study_file",
]

STUDY_FILE = "study.json"

# Settings that fix which runs a study holds: a rerun must agree on all of them.
_ABLATION_IDENTITY = ("kind", "dataset", "fixed", "variants", "budget")
_SEARCH_IDENTITY = (
    "kind",
    "dataset",
    "fixed",
    "space",
    "objectives",
    "sampler",
    "pruner",
    "constraints",
)


def check_study_name(name: str) -> str:
    """A study name is a folder name inside the results folder: letters, digits, '_', '.', '-',
    not starting with a dot; ValueError with one sentence otherwise (no '/', '..', absolute)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name) or ".." in name:
        raise ValueError(
            f"--study {name!r} is not a study name: use letters, digits, '_', '.' and '-' "
            "(no '/', no '..'); pass --results DIR to choose where studies go."
        )
    return name


def check_results_folder(folder: Path) -> Path:
    """The results folder is (or can be made) a folder this process can write into. Folders
    made to find out are removed again, so a dry run or a refused study leaves no trace."""
    given, folder = Path(folder), Path(folder).absolute()
    made = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        made.append(probe)
        probe = probe.parent
    if not probe.is_dir():
        raise ValueError(
            f"--results {folder}: {probe} is a file, not a folder; pass a folder you can write to."
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / ".write-check").write_text("")
        (folder / ".write-check").unlink()
    except OSError as err:
        raise ValueError(
            f"--results {folder}: cannot write there ({err.strerror or err}); "
            "pass a folder you can write to."
        ) from None
    finally:
        for path in made:  # deepest first
            with contextlib.suppress(OSError):
                path.rmdir()
    return given


class StudyMismatch(ValueError):
    """A command whose settings differ from the study of the same name (one sentence)."""


@dataclass
class StudyFile:
    kind: str  # "ablation" (fixed cells; also a search's confirmation) or "search"
    name: str
    dataset: str
    command: str = ""  # as typed, with any password masked
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    fixed: dict[str, Any] = field(default_factory=dict)
    storage: str = "journal"  # or the URL without its password
    plugins: list[str] = field(default_factory=list)
    metrics: dict[str, bool] = field(default_factory=dict)  # runs.csv column -> higher is better
    margins: dict[str, float] = field(default_factory=dict)  # equivalence margin per column
    # ablations
    baseline: str | None = None
    sweep_keys: list[str] = field(default_factory=list)
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)
    seeds: list[int] = field(default_factory=list)
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> {variant, seed}
    search_study: str | None = None  # a confirmation: the search whose winners it re-trains
    budget: dict[str, Any] = field(default_factory=dict)  # what every compared model got
    # searches
    space: dict[str, Any] | None = None
    objectives: list[str] | None = None
    directions: list[str] | None = None
    sampler: dict[str, Any] | None = None
    pruner: dict[str, Any] | None = None
    constraints: dict[str, Any] | None = None
    trials: int | None = None
    epochs: int | None = None
    confirm_seeds: int | None = None
    confirm_study: str | None = None
    baseline_config: dict[str, Any] | None = None
    optuna: str | None = None

    @property
    def fingerprint(self) -> str:
        keys = _SEARCH_IDENTITY if self.kind == "search" else _ABLATION_IDENTITY
        blob = json.dumps({k: getattr(self, k) for k in keys}, sort_keys=True, default=str)
        return hashlib.sha1(blob.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON; fields of the other kind that are unset are left out."""
        d = asdict(self)
        d["fingerprint"] = self.fingerprint
        search_only = {f.name for f in fields(self)} & set(_SEARCH_ONLY)
        return {k: v for k, v in d.items() if not (k in search_only and v is None)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StudyFile:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def merged_into(self, path: Path) -> StudyFile:
        """This study, merged with the one already stored at `path` (if any): a rerun may add
        seeds (ablations) or grow the trial budget (searches); anything else that fixes the runs
        must match, else StudyMismatch names what differs and the fix."""
        if not path.is_file():
            return self
        old = read_study_file(path)
        keys = _SEARCH_IDENTITY if self.kind == "search" else _ABLATION_IDENTITY
        differ = [k for k in keys if getattr(old, k) != getattr(self, k)]
        if differ:
            raise StudyMismatch(
                f"Study '{self.name}' in {path.parent} was made with other settings "
                f"({', '.join(differ)} differ); pass --study NAME to start a new study."
            )
        self.created = old.created
        self.seeds = sorted(set(old.seeds) | set(self.seeds))
        self.runs = {**old.runs, **self.runs}
        self.plugins = list(dict.fromkeys([*old.plugins, *self.plugins]))
        return self

    def write(self, study_dir: Path) -> Path:
        return write_json(Path(study_dir) / STUDY_FILE, self.to_dict(), if_changed=True)


_SEARCH_ONLY = (
    "space",
    "objectives",
    "directions",
    "sampler",
    "pruner",
    "constraints",
    "trials",
    "epochs",
    "confirm_seeds",
    "confirm_study",
    "baseline_config",
    "optuna",
    "search_study",
)


def read_study_file(path: Path) -> StudyFile:
    """Read a study.json; ValueError with one sentence when it is not valid JSON."""
    try:
        d = read_json(path)
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{path} is not valid JSON ({err.msg} at line {err.lineno}); restore it from git or "
            "delete the study folder and run the study again."
        ) from None
    if not isinstance(d, dict):
        raise ValueError(f"{path} does not hold a JSON object; restore the study's file.")
    return StudyFile.from_dict(d)

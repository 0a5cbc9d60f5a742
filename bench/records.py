"""Run records where every machine can read them; a study folder on one machine is a cache.

Each record is uploaded to an Optuna artifact store (a shared folder by default, S3 or GCS when
configured) and indexed in the study itself: one study system attribute per run id holds the
artifact id, the store, the record's status and a checksum. Before a report, `sync` uploads
the records this machine has and the study lacks, downloads those it lacks, and writes a failure
record for every run that failed without leaving one (a device error, a worker lost), so every
machine's report lists every run with its reason. `heal` finds finished cells whose record is
lost everywhere and declares them void, so the next enqueue trains them again.

Locations: a folder path, `s3://BUCKET` (boto3; credentials from the usual AWS variables or
files) or `gs://BUCKET` (google-cloud-storage; application default credentials).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.artifacts import (
    Boto3ArtifactStore,
    FileSystemArtifactStore,
    GCSArtifactStore,
    upload_artifact,
)
from optuna.artifacts.exceptions import ArtifactNotFound
from optuna.trial import FrozenTrial, TrialState

from bench.engine import finished_cells, void_cell
from bench.engine.recovery import DUPLICATE_OF, SKIPPED, WORKER, voided
from bench.files import atomic_write, write_json
from bench.training.state import RECORD, load_record

__all__ = [
    "ARTIFACTS_ATTR",
    "add_storage_flags",
    "RecordStore",
    "SyncResult",
    "artifacts_location",
    "heal",
    "publish_run",
    "records_location",
    "sync",
]

log = logging.getLogger(__name__)

ARTIFACTS_ATTR = "bench:artifacts"  # study system attribute: the store its first command used
INDEX = "bench:record:"  # + run id -> {"artifact_id", "store", "sha1", "status", "finished"}
_RANK = {"complete": 2, "pruned": 1}


def _rank(status: Any, finished: Any) -> tuple[int, str]:
    """Which of two records of one run wins: complete, then pruned, then the later one."""
    return _RANK.get(status, 0), str(finished or "")


def _study_attrs(study: optuna.Study) -> dict[str, Any]:
    """The study's system attributes (Optuna 5 keeps them off the public Study)."""
    return study._storage.get_study_system_attrs(study._study_id)


def _set_study_attr(study: optuna.Study, key: str, value: Any) -> None:
    study._storage.set_study_system_attr(study._study_id, key, value)


def add_storage_flags(parser: argparse.ArgumentParser) -> None:
    """--artifacts, --heartbeat and --grace, shared by the commands that train."""
    parser.add_argument(
        "--artifacts",
        help="where run records are shared: a folder every machine reads, s3://BUCKET or "
        "gs://BUCKET (default with --storage: <results>/<study>/artifacts)",
    )
    parser.add_argument(
        "--heartbeat",
        type=int,
        default=None,
        help="seconds between a worker's heartbeats in a PostgreSQL study (default 60)",
    )
    parser.add_argument(
        "--grace",
        type=int,
        default=None,
        help="seconds of silence after which a worker is taken for dead and its run queued "
        "again (default twice the heartbeat)",
    )


def artifacts_location(
    given: str | None, study_dir: Path, study: optuna.Study | None = None
) -> str:
    """The store this machine uses: `given`, else the one the study was started with when this
    machine can reach it, else `<study_dir>/artifacts`. Folders are made absolute."""
    if given:
        return given if "://" in given else str(Path(given).resolve())
    first = _study_attrs(study).get(ARTIFACTS_ATTR) if study is not None else None
    if first and ("://" in first or Path(first).is_dir()):
        return str(first)
    return str((Path(study_dir) / "artifacts").resolve())


def records_location(
    shared: bool, given: str | None, study_dir: Path, study: optuna.Study
) -> str | None:
    """Where this command keeps the study's records: `artifacts_location` for a `shared`
    (PostgreSQL) study or when --artifacts is given; None for a journal study (one machine:
    its folder is the only copy)."""
    if not shared and not given:
        return None
    return artifacts_location(given, study_dir, study)


def _open_store(location: str) -> Any:
    """An Optuna artifact store at `location`; ValueError with one sentence when it cannot be
    opened (missing client library, a bucket with a path)."""
    scheme, _, rest = location.partition("://")
    if not rest:
        Path(location).mkdir(parents=True, exist_ok=True)
        return FileSystemArtifactStore(location)
    if "/" in rest.strip("/") or scheme not in ("s3", "gs"):
        raise ValueError(
            f"--artifacts {location}: pass a folder, s3://BUCKET or gs://BUCKET (a bucket of its "
            "own, without a path)."
        )
    try:
        return Boto3ArtifactStore(rest) if scheme == "s3" else GCSArtifactStore(rest)
    except ImportError:
        package = "boto3" if scheme == "s3" else "google-cloud-storage"
        raise ValueError(
            f"--artifacts {location} needs the {package} package: pip install {package}."
        ) from None


@dataclass
class SyncResult:
    uploaded: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    failure_records: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one sentence each


class RecordStore:
    """The records of one study: the local cache `study_dir/runs/<run_id>/record.json`, the
    index in the Optuna study, and the artifact store at `location`."""

    def __init__(self, study: optuna.Study, study_dir: Path, location: str) -> None:
        self.study, self.study_dir, self.location = study, Path(study_dir), location
        self.store = _open_store(location)
        if ARTIFACTS_ATTR not in _study_attrs(study):
            _set_study_attr(study, ARTIFACTS_ATTR, location)

    def index(self) -> dict[str, dict[str, Any]]:
        attrs = _study_attrs(self.study)
        return {k[len(INDEX) :]: v for k, v in attrs.items() if k.startswith(INDEX)}

    def run_dir(self, run_id: str) -> Path:
        return self.study_dir / "runs" / run_id

    def publish(self, run_id: str, entry: dict[str, Any] | None = None) -> bool:
        """Upload the local record of `run_id` unless the study holds it or a better one."""
        path = self.run_dir(run_id) / RECORD
        record = load_record(path.parent)
        if record is None:
            return False
        body = path.read_bytes()
        sha1 = hashlib.sha1(body).hexdigest()
        entry = entry if entry is not None else self.index().get(run_id)
        mine = _rank(record.get("status"), record.get("finished"))
        if entry is not None and (
            entry.get("sha1") == sha1 or _rank(entry.get("status"), entry.get("finished")) > mine
        ):
            return False
        with tempfile.TemporaryDirectory() as tmp:
            named = Path(tmp) / f"{run_id}.record.json"  # the name optuna-dashboard shows
            named.write_bytes(body)
            artifact_id = upload_artifact(
                artifact_store=self.store, file_path=str(named), study_or_trial=self.study
            )
        _set_study_attr(
            self.study,
            f"{INDEX}{run_id}",
            {
                "artifact_id": artifact_id,
                "store": self.location,
                "sha1": sha1,
                "status": record.get("status"),
                "finished": record.get("finished"),
            },
        )
        return True

    def fetch(self, run_id: str, entry: dict[str, Any]) -> bool:
        """Download the indexed record of `run_id` into the local cache; False when this
        machine cannot read it (another store) or it is gone or corrupt there."""
        if entry.get("store") != self.location:
            return False
        try:
            with self.store.open_reader(entry["artifact_id"]) as f:
                body = f.read()
        except (ArtifactNotFound, OSError):
            return False
        if hashlib.sha1(body).hexdigest() != entry.get("sha1"):
            return False
        atomic_write(self.run_dir(run_id) / RECORD, lambda f: f.write(body), binary=True)
        return True

    def needs_fetch(self, run_id: str, entry: dict[str, Any]) -> bool:
        local = load_record(self.run_dir(run_id))
        if local is None:
            return True
        return _rank(entry.get("status"), entry.get("finished")) > _rank(
            local.get("status"), local.get("finished")
        )


def publish_run(study: optuna.Study, study_dir: Path, location: str | None, run_id: str) -> bool:
    """Upload a fresh record right after its run (call it from whatever trains runs); a store
    that fails costs the upload only (the report's sync retries it), never the run."""
    if location is None:
        return False
    try:
        return RecordStore(study, study_dir, location).publish(run_id)
    except (OSError, ValueError) as err:
        log.warning("run %s: its record could not be published to %s: %s", run_id, location, err)
        return False


def _failed_runs(study: optuna.Study) -> dict[str, FrozenTrial]:
    """Run ids whose every attempt failed, with their latest failed trial."""
    void = voided(study)
    best: dict[str, tuple[int, FrozenTrial]] = {}
    order = {TrialState.COMPLETE: 3, TrialState.PRUNED: 2, TrialState.RUNNING: 2}
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        run_id = t.user_attrs.get("run_id")
        if run_id is None or t.number in void or SKIPPED in t.system_attrs:
            continue
        if DUPLICATE_OF in t.system_attrs or t.state == TrialState.WAITING:
            continue
        rank = order.get(t.state, 0)
        if run_id not in best or rank >= best[run_id][0]:
            best[run_id] = (rank, t)
    return {r: t for r, (rank, t) in best.items() if rank == 0}


def _failure_record(run_id: str, trial: FrozenTrial) -> dict[str, Any]:
    config = trial.user_attrs.get("config") or {}
    record: dict[str, Any] = {
        "run_id": run_id,
        "status": "failed",
        "error": str(trial.user_attrs.get("error") or "worker lost (no error recorded)"),
        "config": config.get("run"),
        "trial": trial.number,
        "written_from": "the study's trial (the run left no record of its own)",
        "finished": trial.datetime_complete.isoformat() if trial.datetime_complete else None,
    }
    for key in ("variant", "seed", "study"):
        if key in config:
            record[key] = config[key]
    return record


def _disk_problem(what: Path, err: OSError) -> str:
    return (
        f"cannot write {what} ({err.strerror or err}); free space or fix the permissions there, "
        "then rerun python -m bench.plots on the study folder."
    )


def sync(study: optuna.Study, study_dir: Path, location: str | None) -> SyncResult:
    """Make the local folder hold every record of the study (see the module doc). With
    `location` None (a journal study: one machine) nothing is uploaded or downloaded, but
    failure records are still written. Disk errors are collected as sentences, never raised."""
    result = SyncResult()
    records = RecordStore(study, study_dir, location) if location is not None else None
    index = records.index() if records is not None else {}
    runs = Path(study_dir) / "runs"
    local = sorted(p.parent.name for p in runs.glob(f"*/{RECORD}")) if runs.is_dir() else []
    for run_id in local if records is not None else []:
        try:
            if records.publish(run_id, index.get(run_id)):
                result.uploaded.append(run_id)
        except OSError as err:
            result.problems.append(
                f"cannot upload the record of run {run_id} to {location} ({err.strerror or err})"
                "; check that the store is writable, then rerun."
            )
    for run_id, entry in index.items():
        try:
            if records.needs_fetch(run_id, entry) and records.fetch(run_id, entry):
                result.downloaded.append(run_id)
        except OSError as err:
            result.problems.append(_disk_problem(runs / run_id / RECORD, err))
    for run_id, trial in _failed_runs(study).items():
        out = runs / run_id
        if load_record(out) is not None:
            continue
        try:
            write_json(out / RECORD, _failure_record(run_id, trial))
            result.failure_records.append(run_id)
        except OSError as err:
            result.problems.append(_disk_problem(out / RECORD, err))
    return result


def _trained_here(trial: FrozenTrial) -> bool:
    tag = trial.system_attrs.get(WORKER) or {}
    return str(tag.get("machine", "")).split("|", 1)[0] == socket.gethostname()


def heal(study: optuna.Study, study_dir: Path, location: str | None) -> list[str]:
    """Void every finished cell whose record is readable neither here nor in the artifact store
    (a deleted or corrupt record.json), so it is queued again; return their run ids. A record
    that lives in a store this machine cannot read is left alone (with a warning)."""
    records = RecordStore(study, study_dir, location) if location is not None else None
    index = records.index() if records is not None else {}
    lost = []
    for run_id, trial in finished_cells(study).items():
        out = Path(study_dir) / "runs" / run_id
        local = load_record(out)
        if local is not None and local.get("status") == "complete":
            continue
        entry = index.get(run_id)
        if entry is not None and records is not None and records.fetch(run_id, entry):
            continue
        readable_here = entry is not None and entry.get("store") == location
        if not readable_here and not (entry is None and _trained_here(trial)):
            where = entry.get("store") if entry else "another machine"
            log.warning(
                "the record of finished run %s is in %s, which this machine cannot read; pass "
                "--artifacts with the store every machine shares.",
                run_id,
                where,
            )
            continue
        why = "unreadable" if (out / RECORD).exists() else "missing"
        void_cell(study, trial, f"record {why} here and in the artifact store")
        log.warning("run %s is finished but its record is %s; it is queued again.", run_id, why)
        lost.append(run_id)
    return lost

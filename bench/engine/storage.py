"""Where a study lives: a journal file in the study folder, or PostgreSQL for several machines.

The only module of the suite that opens an Optuna storage. URLs are shown and stored without
their password (`public_url`); psycopg2 reads a password from PGPASSWORD or ~/.pgpass when a
stored URL is reopened.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path

import optuna
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.study import StudyDirection
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bench.engine.recovery import DEFAULT_MAX_RETRY, RetryStaleTrial

__all__ = [
    "JOURNAL_NAME",
    "load_study",
    "masked_command",
    "open_existing_study",
    "open_storage",
    "public_url",
    "storage_kind",
]

JOURNAL_NAME = "study.journal"


def public_url(url: str) -> str:
    """The URL with its password masked (SQLAlchemy's own parser: passwords holding '@' or ':'
    are split correctly); text that is not a URL at all is masked after the scheme."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        head, sep, _ = url.partition("://")
        return f"{head}{sep}***" if sep else "***"


def masked_command(words: list[str]) -> str:
    """A command line as it may be shown and stored: every URL's password masked."""
    return " ".join(public_url(w) if "://" in w else w for w in words)


def storage_kind(url: str | None) -> str:
    """'journal' or the URL without its password: what study files and reports may show."""
    return "journal" if url is None else public_url(url)


def _postgres_url(url: str) -> str:
    """Check the scheme and name the installed driver; ValueError with one sentence otherwise."""
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme.startswith("sqlite"):
        raise ValueError(
            f"SQLite storage '{public_url(url)}' is unsafe for parallel workers (its file locking "
            "loses or blocks writes); omit --storage to use a journal file on one machine, or "
            "pass postgresql://user@host/db for several machines."
        )
    if scheme not in ("postgresql", "postgres") and not scheme.startswith("postgresql+"):
        raise ValueError(
            f"Storage URL '{public_url(url)}' is not supported: pass "
            "postgresql://user@host:port/db, or omit --storage to use a journal file in the "
            "study folder."
        )
    if scheme in ("postgres", "postgresql"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the project ships psycopg2.
        driver = "postgresql+psycopg2" if importlib.util.find_spec("psycopg2") else "postgresql"
        url = driver + url[len(scheme) :]
    return url


def open_storage(
    url: str | None,
    study_dir: Path,
    *,
    heartbeat_interval: int = 60,
    grace_period: int | None = None,
    max_retry: int | None = DEFAULT_MAX_RETRY,
) -> BaseStorage:
    """Open a study's storage: a journal file in `study_dir` when `url` is None, else PostgreSQL.

    The journal uses `JournalFileOpenLock` (an O_CREAT|O_EXCL lock file) rather than Optuna's
    default symlink lock: both are safe on a local disk and on NFSv3+, but symlinks need extra
    privileges on Windows. PostgreSQL gets Optuna's heartbeat: a trial whose worker stops beating
    for `grace_period` seconds (default 2 x interval) is failed and queued again, at most
    `max_retry` times.
    """
    if url is None:
        study_dir = Path(study_dir)
        study_dir.mkdir(parents=True, exist_ok=True)
        path = str(study_dir / JOURNAL_NAME)
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    url = _postgres_url(url)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return RDBStorage(
                url,
                engine_kwargs={"pool_pre_ping": True},  # survive server restarts on long studies
                heartbeat_interval=heartbeat_interval,
                grace_period=grace_period,
                heartbeat_stale_trial_callback=RetryStaleTrial(max_retry),
            )
    except ImportError as exc:
        raise ValueError(
            f"No database driver for storage '{public_url(url)}'; install psycopg2-binary "
            "(pip install psycopg2-binary) or name an installed driver as postgresql+DRIVER://."
        ) from exc
    except Exception as exc:  # sqlalchemy ArgumentError / OperationalError
        text = str(exc).strip()
        first_line = text.splitlines()[0] if text else type(exc).__name__
        raise ValueError(
            f"Cannot open storage '{public_url(url)}': {first_line}; check that the URL is "
            "postgresql://user@host:port/db, that the server is running and reachable, and "
            "that the password is in PGPASSWORD or ~/.pgpass."
        ) from exc


def load_study(
    name: str,
    storage: BaseStorage,
    *,
    directions: Sequence[str | StudyDirection],
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> optuna.Study:
    """Create the study `name` in `storage`, or load it if it exists (safe to race)."""
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        directions=list(directions),
        sampler=sampler,
        pruner=pruner,
        load_if_exists=True,
    )
    found = [d.name.lower() for d in study.directions]
    wanted = [
        d.name.lower() if isinstance(d, StudyDirection) else str(d).lower() for d in directions
    ]
    if found != wanted:
        raise ValueError(
            f"Study '{name}' already exists with directions {found}, not {wanted}; use another "
            "study name or the objectives it was created with."
        )
    return study


def open_existing_study(storage_spec: str | None, study_dir: Path, name: str) -> optuna.Study:
    """Reopen a study that a command created, for reading (reports, figures). `storage_spec` is
    what the study file stores: 'journal' (or None) or a URL without its password. Raises
    LookupError when the storage holds no such study."""
    url = None if storage_spec in (None, "journal") else storage_spec
    if url is None and not (Path(study_dir) / JOURNAL_NAME).is_file():
        raise LookupError(f"{Path(study_dir) / JOURNAL_NAME} does not exist")
    storage = open_storage(url, Path(study_dir))
    names = optuna.study.get_all_study_names(storage)
    if name not in names:
        raise LookupError(
            f"no study {name!r} in the storage (it holds {', '.join(names) or 'none'})"
        )
    return optuna.load_study(study_name=name, storage=storage)

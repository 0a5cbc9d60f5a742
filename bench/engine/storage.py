"""Where a study lives: a journal file in the study folder, or PostgreSQL for several machines.

The only module of the suite that opens an Optuna storage. URLs are shown and stored without
their password (`public_url`); psycopg2 reads a password from PGPASSWORD or ~/.pgpass when a
stored URL is reopened. Liveness settings travel inside the URL (`?heartbeat=S&grace=S`, see
`with_liveness`), so every worker on every machine that opens the same URL agrees on them.
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import unquote

import optuna
import sqlalchemy
from optuna.storages import BaseStorage, JournalStorage, RDBStorage
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock
from optuna.study import StudyDirection
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import NullPool

from bench.engine.recovery import DEFAULT_MAX_RETRY, RetryStaleTrial

__all__ = [
    "DEFAULT_HEARTBEAT",
    "FINGERPRINT_ATTR",
    "JOURNAL_NAME",
    "check_fingerprint",
    "describe_liveness",
    "liveness",
    "load_study",
    "masked_command",
    "open_existing_study",
    "open_storage",
    "public_url",
    "storage_kind",
    "with_liveness",
]

JOURNAL_NAME = "study.journal"
DEFAULT_HEARTBEAT = 60  # seconds between beats; a worker silent for 2x this is taken for dead
FINGERPRINT_ATTR = "fingerprint"  # study user attribute: the settings that fix the study's runs
_LIVENESS_KEYS = ("heartbeat", "grace")
# One advisory lock for Optuna's schema creation: processes that open an empty database at once
# create its tables one after the other instead of racing (UniqueViolation on pg_type).
_SCHEMA_LOCK = 0x62656E6368


def _split_userinfo(url: str) -> tuple[str, str, str] | None:
    """(scheme://user, password as typed, @rest) split at the first ':' of the user part and the
    LAST '@' (so an unencoded '@' in a password is never shown), or None without a password."""
    head, sep, rest = url.partition("://")
    at = rest.rfind("@")
    if not sep or at < 0 or ":" not in rest[:at]:
        return None
    user, _, password = rest[:at].partition(":")
    return f"{head}://{user}", password, rest[at:]


def public_url(url: str) -> str:
    """The URL with its password replaced by ***, whatever characters the password holds."""
    parts = _split_userinfo(url)
    if parts is None:
        return url if "://" in url else "***"
    return f"{parts[0]}:***{parts[2]}"


def masked_command(words: list[str]) -> str:
    """A command line as it may be shown and stored: every URL's password masked."""
    return " ".join(public_url(w) if "://" in w else w for w in words)


def storage_kind(url: str | None) -> str:
    """'journal' or the URL without its password and liveness settings: what study files,
    reports and optuna-dashboard may be given."""
    if url is None:
        return "journal"
    try:
        bare = _parse(url).difference_update_query(_LIVENESS_KEYS)
    except ValueError:
        return public_url(url)
    return public_url(bare.render_as_string(hide_password=False))


def with_liveness(url: str | None, heartbeat: int | None, grace: int | None) -> str | None:
    """`url` carrying the heartbeat interval and grace period (seconds) as ?heartbeat=&grace=;
    None (a journal: dead local workers are noticed at once, no heartbeat needed) stays None."""
    if url is None or (heartbeat is None and grace is None):
        return url
    for flag, value in (("--heartbeat", heartbeat), ("--grace", grace)):
        if value is not None and value < 1:
            raise ValueError(f"{flag} {value}: pass a whole number of seconds >= 1.")
    if heartbeat is not None and grace is not None and grace <= heartbeat:
        raise ValueError(
            f"--grace {grace} must be longer than --heartbeat {heartbeat}, else a live worker "
            "between two beats is taken for dead; pass --grace of at least twice the heartbeat."
        )
    query = {k: str(v) for k, v in (("heartbeat", heartbeat), ("grace", grace)) if v is not None}
    parsed = _parse(url)
    return parsed.update_query_dict(query).render_as_string(hide_password=False)


def describe_liveness(url: str | None) -> str:
    """The line every command prints about how dead workers are noticed."""
    beat = liveness(url)
    if beat is None:
        return (
            "Liveness: workers on this machine share a journal; the run of one that dies is "
            "queued again at once."
        )
    return (
        f"Liveness: heartbeat every {beat[0]} s; a worker silent for {beat[1]} s is taken for "
        "dead and its run queued again (--heartbeat S, --grace S)."
    )


def liveness(url: str | None) -> tuple[int, int] | None:
    """(heartbeat interval, grace period) in seconds of a PostgreSQL URL; None for a journal."""
    if url is None:
        return None
    query = _parse(url).query
    try:
        heartbeat = int(query.get("heartbeat", DEFAULT_HEARTBEAT))
        grace = int(query.get("grace", 2 * heartbeat))
    except ValueError:
        raise ValueError(
            f"Storage URL '{public_url(url)}': heartbeat and grace must be whole seconds."
        ) from None
    if heartbeat < 1 or grace <= heartbeat:
        raise ValueError(
            f"Storage URL '{public_url(url)}': pass heartbeat >= 1 and grace > heartbeat (seconds)."
        )
    return heartbeat, grace


def _parse(url: str) -> URL:
    """SQLAlchemy's URL of `url`; ValueError with one sentence when it is none, or when the
    password holds a character URLs reserve, so that SQLAlchemy would split it elsewhere."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(
            f"Storage URL '{public_url(url)}' is not a URL: pass postgresql://user@host:port/db."
        ) from None
    parts = _split_userinfo(url)
    if parts is not None and parsed.password != unquote(parts[1]):
        raise ValueError(
            f"The password in storage URL '{public_url(url)}' holds a character URLs reserve "
            "('@', '/', '?', '#'): percent-encode it (%40, %2F, %3F, %23; python -c \"import "
            "urllib.parse; print(urllib.parse.quote('PASSWORD', safe=''))\"), or leave it out "
            "of the URL and put it in PGPASSWORD or ~/.pgpass."
        )
    return parsed


def _postgres_url(url: str) -> str:
    """Check the scheme, drop the liveness settings and name the installed driver; ValueError
    with one sentence otherwise."""
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
    parsed = _parse(url).difference_update_query(_LIVENESS_KEYS)
    if scheme in ("postgres", "postgresql"):
        # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the project ships psycopg2.
        driver = "postgresql+psycopg2" if importlib.util.find_spec("psycopg2") else "postgresql"
        parsed = parsed.set(drivername=driver)
    return parsed.render_as_string(hide_password=False)


def _rdb_storage(url: str, **kwargs: object) -> RDBStorage:
    """RDBStorage, its tables created under an advisory lock (safe on an empty database)."""
    engine = sqlalchemy.create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": _SCHEMA_LOCK})
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(url, **kwargs)  # type: ignore[arg-type]
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": _SCHEMA_LOCK})
    finally:
        engine.dispose()


def open_storage(
    url: str | None,
    study_dir: Path,
    *,
    heartbeat_interval: int | None = None,
    grace_period: int | None = None,
    max_retry: int | None = DEFAULT_MAX_RETRY,
) -> BaseStorage:
    """Open a study's storage: a journal file in `study_dir` when `url` is None, else PostgreSQL.

    The journal uses `JournalFileOpenLock` (an O_CREAT|O_EXCL lock file) rather than Optuna's
    default symlink lock: both are safe on a local disk and on NFSv3+, but symlinks need extra
    privileges on Windows. PostgreSQL gets Optuna's heartbeat: a trial whose worker stops beating
    for the grace period is failed and queued again, at most `max_retry` times. The interval and
    grace period come from the arguments, else from the URL (`with_liveness`), else 60 s and
    twice the interval.
    """
    if url is None:
        study_dir = Path(study_dir)
        study_dir.mkdir(parents=True, exist_ok=True)
        path = str(study_dir / JOURNAL_NAME)
        return JournalStorage(JournalFileBackend(path, lock_obj=JournalFileOpenLock(path)))
    driver_url = _postgres_url(url)
    beat, grace = liveness(url)  # type: ignore[misc]
    if heartbeat_interval is not None:
        beat, grace = heartbeat_interval, grace_period or 2 * heartbeat_interval
    elif grace_period is not None:
        grace = grace_period
    url = driver_url
    try:
        return _rdb_storage(
            url,
            engine_kwargs={"pool_pre_ping": True},  # survive server restarts on long studies
            heartbeat_interval=beat,
            grace_period=grace,
            heartbeat_stale_trial_callback=RetryStaleTrial(max_retry, announce=True),
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
    metric_names: Sequence[str] | None = None,
) -> optuna.Study:
    """Create the study `name` in `storage`, or load it if it exists (safe to race). Its
    `metric_names` label the axes of optuna's plots and of optuna-dashboard."""
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
    if metric_names is not None and study.metric_names != list(metric_names):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.set_metric_names(list(metric_names))
    return study


def check_fingerprint(study: optuna.Study, fingerprint: str) -> None:
    """Bind `study` to the settings that fix its runs: the first command stores `fingerprint`
    in the study, a later one (any machine) whose settings differ is refused."""
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        study.set_user_attr(FINGERPRINT_ATTR, fingerprint)
    elif stored != fingerprint:
        raise ValueError(
            f"Study '{study.study_name}' in the storage was made with other settings "
            f"(fingerprint {stored}, this command's is {fingerprint}); run the command it was "
            "made with, or pass --study NAME to start a new study."
        )


def _reopen_url(spec: str) -> str:
    """A stored URL (password masked as ***) as one to connect with: without the password, so
    psycopg2 reads it from PGPASSWORD or ~/.pgpass."""
    parts = _split_userinfo(spec)
    return spec if parts is None or parts[1] != "***" else f"{parts[0]}{parts[2]}"


def open_existing_study(
    storage_spec: str | None, study_dir: Path, name: str, *, url: str | None = None
) -> optuna.Study:
    """Reopen a study that a command created, for reading (reports, figures). `storage_spec` is
    what the study file stores: 'journal' (or None) or a URL without its password; `url`, when
    given, is the one the command was started with (its password included) and wins. Raises
    LookupError when the storage holds no such study."""
    if url is None:
        url = None if storage_spec in (None, "journal") else _reopen_url(storage_spec)
    if url is None and not (Path(study_dir) / JOURNAL_NAME).is_file():
        raise LookupError(f"{Path(study_dir) / JOURNAL_NAME} does not exist")
    storage = open_storage(url, Path(study_dir))
    names = optuna.study.get_all_study_names(storage)
    if name not in names:
        raise LookupError(
            f"no study {name!r} in the storage (it holds {', '.join(names) or 'none'})"
        )
    return optuna.load_study(study_name=name, storage=storage)

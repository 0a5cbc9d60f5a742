"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, loopback only, trust auth.

PostgreSQL refuses to run as root, so when the tests run as root (containers, CI) the server runs
as the `postgres` user if it exists, else `nobody`, with the temporary folder owned by that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.skip(
        "running as root and neither a 'postgres' nor a 'nobody' user exists to run "
        "PostgreSQL (it refuses root); create one with `useradd postgres`"
    )


def server_binary(name: str) -> str | None:
    """PATH first, then Debian's versioned folder (the postgresql package does not put the
    server programs on PATH)."""
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    return str(candidates[-1]) if candidates else None


@contextmanager
def postgres_server(database: str = "bench") -> Iterator[str]:
    """Start a server, create `database`, yield its SQLAlchemy URL, stop and delete it after."""
    initdb, pg_ctl = server_binary("initdb"), server_binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) are neither on PATH nor in "
            "/usr/lib/postgresql/*/bin; install the postgresql server package to run the "
            "PostgreSQL storage tests"
        )
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="bench-pg-"))  # short path: unix sockets cap at ~107
    run_kw: dict[str, Any] = {"cwd": root, "capture_output": True, "text": True, "timeout": 60}
    if user is not None:
        os.chown(root, user.pw_uid, user.pw_gid)
        run_kw.update(user=user.pw_uid, group=user.pw_gid, extra_groups=[])
    data, logfile, port = root / "data", root / "server.log", _free_port()
    started = False

    def run(args: list[str]) -> None:
        done = subprocess.run(args, **run_kw)
        if done.returncode != 0:
            log = logfile.read_text() if logfile.exists() else ""
            raise RuntimeError(f"{' '.join(args[:2])} failed:\n{done.stdout}{done.stderr}{log}")

    try:
        run(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "--locale=C",
                "--encoding=UTF8",
            ]
        )
        options = (
            f"-k {root} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off"
        )
        run([pg_ctl, "-D", str(data), "-l", str(logfile), "-o", options, "-w", "-t", "60", "start"])
        started = True
        import psycopg2

        conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{database}"')
        conn.close()
        yield f"postgresql://postgres@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run(
                [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                **{**run_kw, "check": False},
            )
        shutil.rmtree(root, ignore_errors=True)

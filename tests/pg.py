"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, loopback only, trust auth
(or, with a password, SCRAM over TCP for a role of its own, as a real deployment would have).

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
from urllib.parse import quote

import psycopg2
import pytest
from sqlalchemy.engine import make_url


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
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return str(candidates[-1]) if candidates else None


def create_database(url: str, name: str) -> str:
    """Create the empty database `name` on the server of `url` (as its user, who owns it) and
    return the URL of the new database."""
    parsed = make_url(url)
    conn = psycopg2.connect(
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        password=parsed.password,
        dbname=parsed.database,
    )
    conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return parsed.set(database=name).render_as_string(hide_password=False)


@contextmanager
def postgres_server(database: str = "bench", password: str | None = None) -> Iterator[str]:
    """Start a server, create `database`, yield its SQLAlchemy URL, stop and delete it after.

    With `password`, TCP connections need it (SCRAM): the URL is that of role `bench` (allowed
    to create databases) with the password percent-encoded, so any character may be in it."""
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

    auth = ["--auth=trust"]
    if password is not None:
        pwfile = root / "pwfile"
        pwfile.write_text("postgres-admin\n")
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={pwfile}"]
    try:
        run(
            [
                initdb,
                "-D",
                str(data),
                "-U",
                "postgres",
                *auth,
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
        # Set-up over the unix socket: trusted even when TCP needs a password.
        conn = psycopg2.connect(host=str(root), port=port, user="postgres", dbname="postgres")
        conn.autocommit = True  # CREATE DATABASE cannot run inside a transaction
        role = "postgres"
        with conn.cursor() as cur:
            if password is not None:
                role = "bench"
                cur.execute("CREATE ROLE bench LOGIN CREATEDB PASSWORD %s", (password,))
            cur.execute(f'CREATE DATABASE "{database}" OWNER {role}')
        conn.close()
        secret = f":{quote(password, safe='')}" if password is not None else ""
        yield f"postgresql://{role}{secret}@127.0.0.1:{port}/{database}"
    finally:
        if started:
            subprocess.run(
                [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
                **{**run_kw, "check": False},
            )
        shutil.rmtree(root, ignore_errors=True)

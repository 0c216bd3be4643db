"""A throwaway PostgreSQL cluster for the tests: Debian's server, `initdb` and `pg_ctl` in a temporary folder.

The cluster listens on loopback on a free port, trusts local connections, and keeps nothing durable (fsync off):
it lives as long as the test session. Run as root, the server runs as the `postgres` user, as Debian's does.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

USER = "signoff"


def server_bin() -> Path | None:
    """Return the folder of the newest installed PostgreSQL server's programs, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name))
    return Path(found[-1]).parent if found else None


def free_port() -> int:
    """Return a TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_server_user(argv: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else argv


def _run(argv: list[str]) -> None:
    subprocess.run(_as_server_user(argv), check=True, capture_output=True, timeout=120)


@contextlib.contextmanager
def cluster() -> Iterator[str]:
    """Start a cluster; yield the URL of its `postgres` database (user `signoff`); stop and delete it after."""
    bin_dir = server_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql package")
    home = Path(tempfile.mkdtemp(prefix="signoff-pg-"))
    data = home / "data"
    if os.geteuid() == 0:
        server = pwd.getpwnam("postgres")
        os.chown(home, server.pw_uid, server.pw_gid)
    port = free_port()
    try:
        _run([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8", "--no-sync"])
        options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "server.log"), "-w", "start"])
        try:
            yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        finally:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def fresh_database(url: str, name: str, template: str | None = None) -> str:
    """Create a database in the cluster at `url` (empty, or a copy of `template`); return its URL."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
    return url.rsplit("/", 1)[0] + f"/{name}"

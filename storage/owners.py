"""Names of lease owners: which process (host, pid and its start time) and which open store holds a lease."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def _started(pid: int) -> str | None:
    """Return a process's start time in clock ticks ("" when unknown), or None when it is not running."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def new_owner() -> str:
    """Return a fresh lease owner name: host, pid, the pid's start time and a random part (`host:pid:start:rand`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_started(os.getpid()) or ''}:{uuid.uuid4().hex[:8]}"


def is_dead_owner(owner: str, me: str) -> bool:
    """Tell whether an owner other than `me` is gone: a process of this host that no longer runs, or a store or
    worker of this very process closed earlier (its leases can be taken at once)."""
    if owner == me:
        return False
    return _pid_of(owner) == os.getpid() or is_gone_process(owner)


def is_gone_process(owner: str) -> bool:
    """Tell whether an owner names a process of this host, other than this one, that no longer runs (its pid is
    free, or taken by a process started later)."""
    pid = _pid_of(owner)
    if pid is None or pid == os.getpid():
        return False
    started = owner.split(":")[2] if owner.count(":") >= 2 else ""
    now_started = _started(pid)
    return now_started is None or (bool(started) and bool(now_started) and now_started != started)


def _pid_of(owner: str) -> int | None:
    """Return the pid an owner name of this host holds, or None (another host, or not a process's name)."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    return int(pid_text) if host == socket.gethostname() and pid_text.isdigit() else None

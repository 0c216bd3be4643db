"""Names of lease owners: which process (host, pid and its start time) and which open store holds a lease."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path


def _started(pid: int) -> str:
    """Return a process's start time in clock ticks ("" when unknown)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19]
    except (OSError, IndexError):
        return ""


def new_owner() -> str:
    """Return a fresh lease owner name: host, pid, the pid's start time and a random part (`host:pid:start:rand`)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_started(os.getpid())}:{uuid.uuid4().hex[:8]}"

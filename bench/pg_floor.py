"""The raw floor of the replicas benchmark: one, two or three plain Python processes on the same PostgreSQL
cluster, each doing per unit what a vote costs a replica, without Signoff (no HTTP, no Slack, no inbox).

A unit is 2 × LOADS_PER_HALF `json.loads` of a 3 KB document (about 2.5 ms of Python here, the order of a
replica's CPU per vote) around one pipelined transaction (an UPDATE of one of 1,000 rows and an INSERT) on one
of the process's two connections. A burst gives every process its share of the units at once. How the floor's
units/s change from one process to two and three is what the machine itself allows a design of this shape on
these cores: the replicas are judged next to it.

Each process runs `python -m bench.pg_floor URL`, reads a unit count per line, and answers one line once
that many units are done.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import random
import sys
import time
from collections.abc import AsyncIterator, Sequence

import psycopg

LOADS_PER_HALF = 20
CONNECTIONS = 2
ROWS = 1000
STOP_WAIT_S = 10.0
DOCUMENT = json.dumps({f"k{i}": ["x" * 20, i, {"a": i}] for i in range(60)})


def prepare(url: str) -> None:
    """Create the floor's tables in the database at `url`."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE floor_counters (id int PRIMARY KEY, n int NOT NULL)")
        conn.execute("INSERT INTO floor_counters SELECT g, 0 FROM generate_series(0, %s) g", (ROWS - 1,))
        conn.execute("CREATE TABLE floor_log (id bigserial PRIMARY KEY, body text NOT NULL)")


def python_work() -> None:
    """Spend half a unit's Python time."""
    for _ in range(LOADS_PER_HALF):
        json.loads(DOCUMENT)


async def one_unit(free: asyncio.Queue[psycopg.AsyncConnection]) -> None:
    """Do one unit: Python, a pipelined transaction on a free connection, Python."""
    python_work()
    conn = await free.get()
    try:
        async with conn.pipeline():
            await conn.execute("UPDATE floor_counters SET n = n + 1 WHERE id = %s", (random.randrange(ROWS),))
            await conn.execute("INSERT INTO floor_log (body) VALUES (%s)", ("v" * 200,))
        await conn.commit()
    finally:
        free.put_nowait(conn)
    python_work()


async def serve(url: str) -> None:
    """Answer each unit count read from stdin once that many units are done."""
    free: asyncio.Queue[psycopg.AsyncConnection] = asyncio.Queue()
    for _ in range(CONNECTIONS):
        free.put_nowait(await psycopg.AsyncConnection.connect(url))
    print("ready", flush=True)
    for line in sys.stdin:
        await asyncio.gather(*(one_unit(free) for _ in range(int(line))))
        print("done", flush=True)


@dataclasses.dataclass
class Floor:
    """The floor's processes, up and connected."""

    processes: list[asyncio.subprocess.Process]

    async def burst(self, units: int) -> float:
        """Give every process its share of `units` at once; return the units/s of the whole."""
        shares = [units // len(self.processes) + (i < units % len(self.processes)) for i in range(len(self.processes))]
        started_s = time.perf_counter()
        for process, share in zip(self.processes, shares, strict=True):
            assert process.stdin is not None
            process.stdin.write(f"{share}\n".encode())
        await asyncio.gather(*(answer(p) for p in self.processes))
        return units / (time.perf_counter() - started_s)

    def pids(self) -> Sequence[int]:
        """Return the processes' ids."""
        return [p.pid for p in self.processes]


async def answer(process: asyncio.subprocess.Process) -> str:
    """Return the next line a process answers."""
    assert process.stdout is not None
    line = await process.stdout.readline()
    if not line:
        raise RuntimeError("a floor process ended")
    return line.decode().strip()


@contextlib.asynccontextmanager
async def floor(url: str, count: int) -> AsyncIterator[Floor]:
    """Start `count` floor processes on the database at `url` (prepared); stop them after."""
    processes = [await asyncio.create_subprocess_exec(sys.executable, "-m", "bench.pg_floor", url,
                                                      stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
                 for _ in range(count)]
    try:
        await asyncio.gather(*(answer(p) for p in processes))
        yield Floor(processes)
    finally:
        for process in processes:
            if process.stdin is not None:
                process.stdin.close()
        for process in processes:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), STOP_WAIT_S)
            if process.returncode is None:
                process.kill()
                await process.wait()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))

"""Benchmark: votes/s and acknowledgement p99 of a 200-click burst, on SQLite (one process) and on PostgreSQL
with one, two and three `signoff` replicas, in one run.

Each configuration gets a fresh database (a SQLite file, or a database of a throwaway PostgreSQL cluster
started for the run with Debian's `initdb` / `pg_ctl`), a fresh sandbox Slack workspace process, and its
Signoff server processes (`bench.ack_latency serve signoff DATABASE API_URL`). The workspace creates the
pending invoices through the first replica's REST API and signs the clicks. Twenty warm-up clicks go to the
replicas in turn, one at a time. Every configuration is then up at once, paused (SIGSTOP) but for the one
measured, so that idle ones take nothing from the cores: the machine's speed drifts by a third from minute
to minute, so the configurations take turns, one burst each, in one order then in the reverse one, six
bursts each. A burst is sent a second after its configuration is continued (the timers that fell due while
it was paused run first), once its replicas and workspace are idle (its last burst's messages sent): 200
clicks at once, to the replicas in turn, each on a connection of its own opened beforehand, by a lean HTTP
client (`bench.raw_http`: requests serialized before the clock starts) so that the client's own CPU takes
little from the cores the servers share; the next configuration's burst waits until this one's messages are
sent. A click's acknowledgement is its HTTP answer
(each replica commits a click to its inbox before answering); a burst's votes/s is 200 ÷ (first click sent →
its 200th vote decided: the latest `at` of the votes, read once all 200 are committed, which the benchmark
checks every 20 ms so that counting costs the cores little). Reported: the median of a configuration's six
bursts' votes/s, and the p99 of all its 1,200 acknowledgements. A ratio between two configurations is the
median of the ratios of their bursts taken in the same turn (measured seconds apart, on the same burst of
their equal workloads). For the median burst, where a vote's CPU went (the replicas, the PostgreSQL server,
the workspace with this client: CPU seconds from /proc ÷ 200), how many votes/s the machine's cores allow
at most at that cost (when a configuration runs at that bound, the cores are its limit), and how many round
trips to the PostgreSQL server the replicas made per vote.

In the same turns, after the configurations, the raw floor (`bench.pg_floor`: one, two and three plain Python
processes doing per unit about a replica's CPU per vote and one pipelined transaction, on the same cluster,
without Signoff) gets a burst of 200 units each: how its units/s change from one process to two and three is
what these cores allow any design of that shape, and is shown beside the replicas' ratios.

Targets (issue: several replicas): two PostgreSQL replicas at least 1.3× the votes/s of one, three no slower
than two, and acknowledgement p99 under 100 ms in every configuration. On this 2-core machine the workspace,
the client, PostgreSQL and every replica share the same two cores.

Run with `python -m bench replicas`; `SIGNOFF_BENCH_QUICK=1` measures three bursts per configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import statistics
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from bench import pg_floor, raw_http
from bench.ack_latency import Server, VoteCounter, server_process
from bench.common import Row, is_quick, percentile
from tests.support.postgres import cluster, fresh_database

NAME = "replicas"
WARMUP = 20
BURST = 200
BURSTS = 6
QUICK_BURSTS = 3
CORES = os.cpu_count() or 1
CONFIGS: tuple[tuple[str, int], ...] = (("sqlite", 1), ("postgresql", 1), ("postgresql", 2), ("postgresql", 3))
FLOOR_COUNTS = (1, 2, 3)
TARGET_SCALE_2 = 1.3
TARGET_ACK_P99_MS = 100.0
COUNT_POLL_S = 0.02
RESUMED_S = 1.0
WAIT_S = 120.0


@contextlib.asynccontextmanager
async def replicas(database: str, count: int, tmp: Path, api_url: str) -> AsyncIterator[list[Server]]:
    """Start `count` Signoff server processes on one database."""
    async with contextlib.AsyncExitStack() as stack:
        servers = []
        for index in range(count):
            log_dir = tmp / f"replica-{index}"
            log_dir.mkdir()
            servers.append(await stack.enter_async_context(server_process("signoff", log_dir, database, api_url)))
        yield servers


async def votes_reached(counter: VoteCounter, expected: int) -> float:
    """Poll until `expected` votes are committed; return when the last was decided (perf_counter), or raise after
    WAIT_S. Polling seldom keeps the counting's own CPU out of the burst; the time comes from the votes."""
    deadline = time.monotonic() + WAIT_S
    while (await asyncio.to_thread(counter.votes)) < expected:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {counter.votes()} of {expected} votes were committed")
        await asyncio.sleep(COUNT_POLL_S)
    return counter.last_vote_s() - (time.time() - time.perf_counter())


async def signed(sandbox: Server, n: int) -> list[tuple[bytes, dict[str, str]]]:
    """Have the workspace sign the next `n` clicks."""
    answer = await sandbox.ask({"cmd": "prepare", "n": n})
    return [(body.encode(), headers) for body, headers in answer["requests"]]


@dataclasses.dataclass
class Bursts:
    """What the bursts of one configuration measured, in turn order: each one's votes/s and per-vote costs, every
    ack (ms)."""

    rates: list[float] = dataclasses.field(default_factory=list)
    acks_ms: list[float] = dataclasses.field(default_factory=list)
    per_vote: list[dict[str, float]] = dataclasses.field(default_factory=list)

    def summary(self, one: Bursts, two: Bursts) -> dict[str, float]:
        """Return the median votes/s, the median ratios to one and to two replicas of the bursts of each turn, the
        acknowledgement p99, and the costs of the median burst."""
        median = self.per_vote[self.rates.index(statistics.median_low(self.rates))]
        return {"votes_per_s": statistics.median(self.rates), "vs_one": self.paired(one), "vs_two": self.paired(two),
                "ack_p99_ms": percentile(self.acks_ms, 99), **median}

    def floor_summary(self, one: Bursts, two: Bursts) -> dict[str, float]:
        """Return the raw floor's median units/s, its paired ratios to one and two processes, and the costs of its
        median burst."""
        median = self.per_vote[self.rates.index(statistics.median_low(self.rates))]
        return {"votes_per_s": statistics.median(self.rates), "vs_one": self.paired(one), "vs_two": self.paired(two),
                **median}

    def paired(self, other: Bursts) -> float:
        """Return the median ratio of this configuration's votes/s to `other`'s, burst by burst of a turn."""
        return statistics.median(mine / theirs for mine, theirs in zip(self.rates, other.rates, strict=True))


@dataclasses.dataclass
class Running:
    """A configuration up and warmed: its workspace, its replicas, its vote counter, the votes committed so far."""

    sandbox: Server
    servers: list[Server]
    counter: VoteCounter
    votes: int = WARMUP

    def pause(self, is_paused: bool = True) -> None:
        """Stop (or continue) every process of the configuration."""
        for server in (*self.servers, self.sandbox):
            if server.process.returncode is None:
                os.kill(server.process.pid, signal.SIGSTOP if is_paused else signal.SIGCONT)


@contextlib.asynccontextmanager
async def running(database: str, count: int, tmp: Path, bursts: int) -> AsyncIterator[Running]:
    """Start a configuration, populate its workspace for `bursts` bursts, and warm it up."""
    async with server_process("sandbox", tmp) as sandbox, replicas(database, count, tmp, sandbox.url) as servers:
        await sandbox.ask({"cmd": "populate", "signoff_url": servers[0].url, "clicks": WARMUP + bursts * BURST})
        counter = VoteCounter(database)
        up = Running(sandbox, servers, counter)
        try:
            await warm_up(sandbox, servers)
            await votes_reached(counter, WARMUP)
            await profiling(servers, sandbox, "profile_start")
            yield up
            up.pause(False)
            await profiling(servers, sandbox, "profile_stop")
        finally:
            up.pause(False)  # a stopped process could not be stopped for good
            counter.conn.close()


async def measure(config: Running, found: Bursts) -> None:
    """Continue a configuration, send it one burst once it is idle, add what it measured to `found`, let it settle
    and pause it."""
    config.pause(False)
    await asyncio.sleep(RESUMED_S)  # timers that fell due while it was paused run now, not in the burst
    await settled(config.sandbox, config.servers, config.votes)
    rate, burst_acks_ms, costs = await one_burst(config.sandbox, config.servers, config.counter,
                                                 config.votes + BURST)
    config.votes += BURST
    found.rates.append(rate)
    found.acks_ms += burst_acks_ms
    found.per_vote.append(costs)
    await settled(config.sandbox, config.servers, config.votes)
    config.pause()


async def warm_up(sandbox: Server, servers: Sequence[Server]) -> None:
    """Send the WARMUP clicks one at a time, to the replicas in turn."""
    urls = [f"{s.url}/slack/events" for s in servers]
    conns = await raw_http.connections(urls, len(urls))
    try:
        for index, (body, headers) in enumerate(await signed(sandbox, WARMUP)):
            url_index = index % len(urls)
            status, _ = await conns[url_index].send(raw_http.prepared(urls[url_index], body, headers))
            if status != 200:
                raise RuntimeError(f"{urls[url_index]} answered a warm-up click with HTTP {status}")
    finally:
        for conn in conns:
            conn.close()


async def one_burst(sandbox: Server, servers: Sequence[Server],
                    counter: VoteCounter, votes_after: int) -> tuple[float, list[float], dict[str, float]]:
    """Send BURST clicks at once, to the replicas in turn; return the votes/s, each acknowledgement (ms), and per
    vote the CPU (ms) of each part and the replicas' round trips to the database server."""
    urls = [f"{s.url}/slack/events" for s in servers]
    requests = [raw_http.prepared(urls[i % len(urls)], body, headers)
                for i, (body, headers) in enumerate(await signed(sandbox, BURST))]
    conns = await raw_http.connections(urls, BURST)
    try:
        cpu_before, trips_before = cpu_by_part(servers, sandbox), await round_trips(servers)
        timings = await raw_http.fire(conns, requests)
        done_s = await votes_reached(counter, votes_after)
    finally:
        for conn in conns:
            conn.close()
    costs = {f"cpu_ms_{part}": 1000 * (used_s - cpu_before[part]) / BURST
             for part, used_s in cpu_by_part(servers, sandbox).items()}
    costs["round_trips"] = (await round_trips(servers) - trips_before) / BURST
    rate = BURST / (done_s - min(sent for sent, _ in timings))
    return rate, [(answered - sent) * 1000 for sent, answered in timings], costs


async def round_trips(servers: Sequence[Server]) -> int:
    """Return how many exchanges with the database server the replicas have had (0 on SQLite)."""
    answers = [await server.ask({"cmd": "round_trips"}) for server in servers]
    return sum(int(answer["round_trips"]) for answer in answers)


def cpu_s(pid: int) -> float:
    """Return the CPU seconds (user + system) a process has used, or 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_pids() -> list[int]:
    """Return the processes of the PostgreSQL server (its backends included)."""
    pids = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and (entry / "comm").read_text().startswith("postgres"):
                pids.append(int(entry.name))
    return pids


def cpu_by_part(servers: Sequence[Server], sandbox: Server) -> dict[str, float]:
    """Return the CPU seconds used so far by the replicas, PostgreSQL, and the workspace with this client."""
    return {"replicas": sum(cpu_s(s.process.pid) for s in servers),
            "postgresql": sum(cpu_s(pid) for pid in postgres_pids()),
            "slack_and_client": cpu_s(sandbox.process.pid) + cpu_s(os.getpid())}


async def profiling(servers: Sequence[Server], sandbox: Server, cmd: str) -> None:
    """Start or stop profiling every replica and the workspace when $SIGNOFF_BENCH_PROFILE names a file (one
    per process)."""
    path = os.environ.get("SIGNOFF_BENCH_PROFILE")
    for index, server in enumerate(servers if path else ()):
        await server.ask({"cmd": cmd, "path": f"{path}.{len(servers)}-{index}"})
    if path:
        await sandbox.ask({"cmd": cmd, "path": f"{path}.{len(servers)}-slack"})


async def settled(sandbox: Server, servers: Sequence[Server], votes: int) -> None:
    """Wait until every replica counted `votes` and is idle (the last burst's messages sent), then the workspace."""
    for server in servers:
        await server.ask({"cmd": "settle", "votes": votes})
    await sandbox.ask({"cmd": "settle"})


async def measure_all() -> dict[tuple[str, int], dict[str, float]]:
    """Start every configuration (PostgreSQL ones on one throwaway cluster), then have them take turns, one burst
    each, in alternating order."""
    bursts = QUICK_BURSTS if is_quick() else BURSTS
    found = {config: Bursts() for config in CONFIGS}
    with tempfile.TemporaryDirectory(prefix="signoff-bench-replicas-") as tmp_dir, cluster() as cluster_url:
        async with contextlib.AsyncExitStack() as stack:
            configs = {}
            for kind, count in CONFIGS:
                tmp = Path(tmp_dir) / f"{kind}-{count}"
                tmp.mkdir()
                database = (str(tmp / "signoff.db") if kind == "sqlite"
                            else fresh_database(cluster_url, f"bench_{count}"))
                configs[(kind, count)] = await stack.enter_async_context(running(database, count, tmp, bursts))
                configs[(kind, count)].pause()
            floor_url = fresh_database(cluster_url, "bench_floor")
            pg_floor.prepare(floor_url)
            floors = {n: await stack.enter_async_context(pg_floor.floor(floor_url, n)) for n in FLOOR_COUNTS}
            floor_found = {n: Bursts() for n in FLOOR_COUNTS}
            os.sync()  # what the set-up left to write back must not stall the bursts' commits
            for turn in range(bursts):
                for config in CONFIGS if turn % 2 == 0 else CONFIGS[::-1]:
                    await measure(configs[config], found[config])
                for n in FLOOR_COUNTS if turn % 2 else FLOOR_COUNTS[::-1]:
                    await measure_floor(floors[n], floor_found[n])
    one, two = found[("postgresql", 1)], found[("postgresql", 2)]
    results = {config: bursts_found.summary(one, two) for config, bursts_found in found.items()}
    return results | {("floor", n): floor_found[n].floor_summary(floor_found[1], floor_found[2]) for n in FLOOR_COUNTS}


async def measure_floor(the_floor: pg_floor.Floor, found: Bursts) -> None:
    """Send the raw floor one burst of BURST units; add its units/s and CPU per unit to `found`."""
    before = [sum(cpu_s(pid) for pid in the_floor.pids()), sum(cpu_s(pid) for pid in postgres_pids())]
    found.rates.append(await the_floor.burst(BURST))
    after = [sum(cpu_s(pid) for pid in the_floor.pids()), sum(cpu_s(pid) for pid in postgres_pids())]
    found.per_vote.append({"cpu_ms_processes": 1000 * (after[0] - before[0]) / BURST,
                           "cpu_ms_postgresql": 1000 * (after[1] - before[1]) / BURST})


def rows_of(results: dict[tuple[str, int], dict[str, float]]) -> list[Row]:
    """Report each configuration, with the scaling targets on the PostgreSQL ones."""
    rows: list[Row] = []
    for (kind, count), found in results.items():
        if kind == "floor":
            rows.append(_floor_row(count, found))
            continue
        case = f"{BURST}-click burst, {kind}, {count} process{'es' if count > 1 else ''}"
        rows.append(_votes_row(case, found, kind, count, results.get(("floor", count))))
        rows.append(_cpu_row(case, found))
        p99_ms = found["ack_p99_ms"]
        rows.append({"benchmark": NAME, "case": f"{case}: acknowledgement p99", "value": round(p99_ms, 1),
                     "unit": "ms", "target": f"< {TARGET_ACK_P99_MS:g} ms", "ok": p99_ms < TARGET_ACK_P99_MS})
    return rows


def _cpu_row(case: str, found: dict[str, float]) -> Row:
    """Report where a vote's CPU went in the median burst, and what two cores would allow at most."""
    replicas_ms, pg_ms, slack_ms = (found[f"cpu_ms_{part}"] for part in ("replicas", "postgresql", "slack_and_client"))
    total_ms = replicas_ms + pg_ms + slack_ms
    return {"benchmark": NAME, "case": f"{case}: CPU per vote, replicas / PostgreSQL / Slack + client",
            "value": round(total_ms, 2), "unit": "ms",
            "ratio": f"{replicas_ms:.2f} / {pg_ms:.2f} / {slack_ms:.2f} ms; {CORES} cores allow ≤ "
                     f"{1000 * CORES / total_ms:.0f} votes/s" + _trips(found)}


def _trips(found: dict[str, float]) -> str:
    return f"; {found['round_trips']:.1f} round trips to PostgreSQL" if found["round_trips"] else ""


def _votes_row(case: str, found: dict[str, float], kind: str, count: int, floor: dict[str, float] | None) -> Row:
    value = found["votes_per_s"]
    row: dict[str, Any] = {"benchmark": NAME, "case": f"{case}: votes/s", "value": round(value, 1), "unit": "votes/s",
                           "ratio": f"{found['vs_one']:.{_digits(kind, count, 2)}f}× one PostgreSQL replica"}
    if kind == "postgresql" and count == 2:
        row.update(target=f"≥ {TARGET_SCALE_2}× one replica", ok=found["vs_one"] >= TARGET_SCALE_2)
    if kind == "postgresql" and count == 3:
        row.update(ratio=f"{row['ratio']}, {found['vs_two']:.3f}× two", target="no slower than two",
                   ok=found["vs_two"] >= 1.0)
    if kind == "postgresql" and count > 1 and floor is not None:
        vs = "vs_one" if count == 2 else "vs_two"
        row["ratio"] += f" (raw floor: {floor[vs]:.2f}× {'one' if count == 2 else 'two'})"
    return row


def _digits(kind: str, count: int, targeted: int) -> int:
    """Return the decimals a ratio is shown with: three where a target judges it (so that a miss never reads 1.00×)."""
    return 3 if kind == "postgresql" and count == targeted else 2


def _floor_row(count: int, found: dict[str, float]) -> Row:
    """Report the raw floor with `count` processes: units/s, scaling, and CPU per unit."""
    return {"benchmark": NAME, "case": f"raw floor, {count} process{'es' if count > 1 else ''}: units/s",
            "value": round(found["votes_per_s"], 1), "unit": "units/s",
            "ratio": f"{found['vs_one']:.2f}× one process, {found['vs_two']:.2f}× two; CPU per unit "
                     f"{found['cpu_ms_processes']:.2f} / {found['cpu_ms_postgresql']:.2f} ms (processes / PostgreSQL)"}


async def abench() -> list[Row]:
    """Run the replicas benchmark."""
    return rows_of(await measure_all())


if __name__ == "__main__":
    from bench.common import table_lines

    print("\n".join(table_lines(asyncio.run(abench()))))

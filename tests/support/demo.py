"""A seeded sandbox demo, seeded once and restarted from copies of its files for each test."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from bot.cli.demo import start_demo
from bot.sandbox.run import Sandbox


async def _seed_once(database: Path) -> None:
    sandbox = await start_demo(database, 0)
    await sandbox.close()


def seeded_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seed a demo database (and its saved workspace) into a fresh folder."""
    folder = tmp_path_factory.mktemp("seeded")
    asyncio.run(_seed_once(folder / "demo.db"))
    return folder


@asynccontextmanager
async def demo_from(seeded: Path, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """Run the demo on free loopback ports from a copy of a seeded folder."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    for saved in seeded.iterdir():
        shutil.copy(saved, tmp_path / saved.name)
    sandbox = await start_demo(tmp_path / "demo.db", 0)
    try:
        yield sandbox
    finally:
        await sandbox.close()

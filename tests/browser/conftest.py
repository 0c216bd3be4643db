"""Real headless Chromium (Debian's, never a downloaded build) against the running sandbox demo."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import BrowserContext, async_playwright

from bot.sandbox.run import Sandbox
from tests.support.demo import demo_from, seeded_folder

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
VIEWPORT = {"width": 1440, "height": 900}


@pytest.fixture(scope="session")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a seeded demo database and its saved workspace."""
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed: run `make browser-deps`")
    return seeded_folder(tmp_path_factory)


@pytest.fixture
async def demo(seeded: Path, tmp_path: Path) -> AsyncIterator[Sandbox]:
    """The real sandbox demo on free loopback ports, started from a copy of the seeded one."""
    async with demo_from(seeded, tmp_path) as sandbox:
        yield sandbox


@pytest.fixture
async def browser(demo: Sandbox, tmp_path: Path) -> AsyncIterator[BrowserContext]:
    """A Chromium with a fresh profile; closed before the demo stops."""
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=str(CHROMIUM), headless=True,
            args=CHROMIUM_ARGS, viewport=VIEWPORT,  # type: ignore[arg-type]
        )
        try:
            yield context
        finally:
            await context.close()


@pytest.fixture
def requests_seen(browser: BrowserContext) -> list[str]:
    """Every URL the browser asks for, to prove nothing leaves the machine."""
    seen: list[str] = []
    browser.on("request", lambda request: seen.append(request.url))
    return seen

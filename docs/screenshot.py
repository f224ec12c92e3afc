"""Regenerate the screenshots of `hostcheck tui` in docs/tui.md (SVG, saved by Textual itself).

python docs/screenshot.py
"""

import asyncio
from pathlib import Path

from hostcheck.checks.session import Source
from hostcheck.tui.app import HostcheckApp

HERE = Path(__file__).resolve().parent


async def main() -> None:
    app = HostcheckApp(Source(fixture="stock-128g"))
    async with app.run_test(size=(100, 32)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.press("down", "down", "space")  # memory.gtt, marked for the plan
        await pilot.pause()
        app.save_screenshot(str(HERE / "tui-findings.svg"))
        await pilot.press("p")
        await app.workers.wait_for_complete()
        await pilot.pause()
        app.save_screenshot(str(HERE / "tui-plan.svg"))


if __name__ == "__main__":
    asyncio.run(main())

"""Regenerates docs/playground.png: `costbot demo` in a temporary folder, `costbot playground` on it, and a headless
Chromium (Debian's `chromium`, driven by Playwright's Python API) fast-forwarding (digest, scan, alerts), asking
`/cost team-ml last-week` and asking to stop the idle GPU box, as the README's quick start describes.

    python bench/playground_screenshot.py [docs/playground.png]

Needs `pip install -e '.[dev]'` (Playwright) and `apt-get install chromium fonts-noto-color-emoji`.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from bot.app import Application, main  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.playground.server import Playground  # noqa: E402


def screenshot(target: Path) -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)
        os.environ.update({"COSTBOT_DATA_DIR": str(Path(folder) / ".costbot"), "COSTBOT_TODAY": "2026-11-28"})
        for name in ("COSTBOT_CONFIG", "DATABASE_URL"):
            os.environ.pop(name, None)
        with contextlib.redirect_stdout(io.StringIO()):
            assert main(["demo"]) == 0
        playground = Playground(lambda values: Application(Settings().with_values(values)), "127.0.0.1", 0).start()
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 1000}, device_scale_factor=1)
                page.set_default_timeout(30_000)
                page.goto(playground.url)
                page.locator("#fast-forward").click()
                expect(page.locator("#status")).to_contain_text("Ran:")  # digests, scan, alerts
                recommendation = page.locator("article.msg", has_text="Ways to save · team-ml").last
                page.locator("#box").fill("/cost team-ml last-week")
                page.locator("#box").press("Enter")
                expect(page.locator("article.msg", has_text="Why it changed").last).to_be_visible()
                recommendation.locator(".section:has-text('gpu-dev-02') + .actions").get_by_role(
                    "button", name="Stop", exact=True).click()
                page.locator("#confirm").get_by_role("button", name="Stop", exact=True).click()
                expect(page.locator("article.msg", has_text="waiting for an approver").last).to_be_visible()
                page.wait_for_function("() => getComputedStyle(document.getElementById('status')).opacity === '0'")
                page.locator("#messages").evaluate("box => { box.scrollTop = box.scrollHeight; }")
                target.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(target))
                browser.close()
        finally:
            playground.stop()
            os.chdir(ROOT)
    print(f"wrote {target}")


if __name__ == "__main__":
    screenshot(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "docs" / "playground.png").resolve())

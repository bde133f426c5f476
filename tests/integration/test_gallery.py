"""The documented command that regenerates the README's chart gallery works, and makes what the README shows."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def test_the_gallery_command_makes_every_chart_the_readme_shows(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("make_gallery", ROOT / "docs" / "make_gallery.py")
    assert spec is not None and spec.loader is not None
    gallery = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gallery)
    written = {p.name for p in gallery.main(tmp_path)}
    shown = set(re.findall(r"\(docs/(chart-[a-z-]+\.png)\)", (ROOT / "README.md").read_text(encoding="utf-8")))
    assert shown and shown <= written
    assert "python docs/make_gallery.py" in (ROOT / "README.md").read_text(encoding="utf-8")
    for name in written - {"chart-phone.png"}:
        with Image.open(tmp_path / name) as img:
            assert img.size == (1200, 600), name
    with Image.open(tmp_path / "chart-phone.png") as img:
        assert img.size == (360, 180)

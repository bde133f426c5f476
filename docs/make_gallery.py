"""Regenerate the chart gallery in docs/ from the demo organization (the README shows these PNGs).

    python docs/make_gallery.py [OUTPUT_DIR]

The demo data is generated for a fixed day (2026-11-28) in a temporary folder, so the gallery is the same on
every machine. Each chart is rendered exactly as `costbot ask … --chart` and the digests render it; the last one
is the by-service chart at the width Slack previews an image on a phone (360 px).
"""

from __future__ import annotations

import sys
import tempfile
from datetime import date
from pathlib import Path

from PIL import Image

from bot.app import Application
from bot.config import Settings
from bot.demo import write_demo_csv
from bot.domain.query import Query
from bot.render.charts import digest_png, stacked_daily_png

TODAY = "2026-11-28"
QUESTIONS = {
    "chart-by-team.png": "last-30d by team",
    "chart-by-service.png": "last-30d",
    "chart-by-resource.png": "team-vision last-30d by resource",
    "chart-weekly.png": "ytd by team",
    "chart-empty.png": "2024-01",
}
PHONE_WIDTH = 360


def main(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="costbot-gallery-") as tmp:
        data = Path(tmp) / "data"
        csv_path = data / "demo" / "focus-demo.csv"
        write_demo_csv(csv_path, date.fromisoformat(TODAY))
        application = Application(Settings({"COSTBOT_DATA_DIR": str(data), "COSTBOT_TODAY": TODAY,
                                            "DATABASE_URL": f"sqlite:///{Path(tmp) / 'state.db'}"}))
        try:
            uc = application.use_cases
            uc.ingest.ingest([csv_path], source="demo")
            for name, text in QUESTIONS.items():
                query = uc.answers.parse(text)
                assert isinstance(query, Query)
                (out / name).write_bytes(stacked_daily_png(uc.answers.chart_series(uc.answers.answer(query))))
                written.append(out / name)
            digest = uc.digests.build("team-ml")
            assert digest.chart is not None
            (out / "chart-digest.png").write_bytes(digest_png(digest.chart))
            written.append(out / "chart-digest.png")
        finally:
            application.close()
    with Image.open(out / "chart-by-service.png") as full:
        phone = full.resize((PHONE_WIDTH, PHONE_WIDTH * full.height // full.width), Image.Resampling.LANCZOS)
        phone.save(out / "chart-phone.png", optimize=True)
    written.append(out / "chart-phone.png")
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for path in main(target):
        print(path)

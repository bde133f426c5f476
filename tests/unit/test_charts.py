"""Charts say what they draw, keep everything inside the image, give each name its own stable colour and say
so when there is nothing to draw."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import BytesIO

import pytest
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from PIL import Image

from bot.domain.answers import ChartSeries
from bot.domain.digest import DigestChart
from bot.render.charts import (
    OTHER_COLOUR,
    PALETTE,
    UNTAGGED_COLOUR,
    chart_bytes,
    colours,
    compact_money,
    digest_figure,
    figure_bytes,
    fit_labels,
    middle_ellipsis,
    preferred_colour,
    stacked_figure,
)

DAYS = tuple(date(2026, 10, 29) + timedelta(days=i) for i in range(30))
ARN = "arn:aws:ec2:us-east-1:210987654321:instance/"


def series(keys: tuple[str, ...], title: str = "team-vision · last-30d · by resource", **extra: object) -> ChartSeries:
    values = {k: tuple(Decimal(100 * (i + 1)) for _ in DAYS) for i, k in enumerate(reversed(keys))}
    return ChartSeries(title, "USD", DAYS, keys, values, metric="EffectiveCost", first=DAYS[0], last=DAYS[-1],
                       data_through=date(2026, 11, 27), **extra)  # type: ignore[arg-type]


def texts(fig: Figure, gid: str) -> list[str]:
    return [t.get_text() for t in fig.findobj(lambda a: a.get_gid() == gid) if hasattr(t, "get_text")]


def inside(fig: Figure, artist: object) -> bool:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    box = artist.get_window_extent(renderer)  # type: ignore[attr-defined]
    return bool(box.x0 >= 0 and box.y0 >= 0 and box.x1 <= fig.bbox.width and box.y1 <= fig.bbox.height)


def legend_labels(fig: Figure) -> list[str]:
    (legend,) = fig.legends
    return [t.get_text() for t in legend.get_texts()]


def test_the_chart_says_what_it_draws() -> None:
    fig = stacked_figure(series(("Amazon Elastic Compute Cloud", "Amazon Simple Storage Service", "(other)"),
                                title="all teams · last-30d · by service"))
    assert texts(fig, "title") == ["all teams · last-30d · by service"]
    (subtitle,) = texts(fig, "subtitle")
    total = sum(100 * i for i in (1, 2, 3)) * 30
    assert subtitle == (f"${total:,}.00 total · Oct 29 – Nov 27, 2026 · daily amortized cost (EffectiveCost), USD · "
                        "data through Nov 27, 2026")
    # names, largest first, with their totals; a vendor's name goes before the name is cut
    assert legend_labels(fig) == ["Elastic Compute Cloud · $9,000", "Simple Storage Service · $6,000",
                                  "(other) · $3,000"]


def test_billed_weekly_and_partial_buckets_are_said() -> None:
    weeks = (date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 16), date(2026, 11, 23))
    s = ChartSeries("x · 2026-11 · by team", "EUR", weeks, ("team-ml",), {"team-ml": (Decimal(5),) * 4},
                    bucket="week", metric="BilledCost", first=date(2026, 11, 1), last=date(2026, 11, 30),
                    data_through=date(2026, 11, 27), partial=(True, False, False, True))
    fig = stacked_figure(s)
    assert texts(fig, "subtitle") == ["€20.00 total · Nov 1 – Nov 30, 2026 · weekly billed cost (BilledCost), EUR · "
                                      "data through Nov 27, 2026"]
    assert legend_labels(fig) == ["team-ml · €20", "lighter: part of a week"]
    (bars,) = fig.axes[0].collections
    assert [round(c[3], 2) for c in bars.get_facecolors()] == [0.45, 1.0, 1.0, 0.45]


def test_nothing_is_clipped_and_names_replace_ids() -> None:
    keys = (f"{ARN}train-vision-01", f"{ARN}train-vision-spike", "a-resource-with-a-really-long-name-for-no-reason-01",
            "a-resource-with-a-really-long-name-for-no-reason-02", "(untagged)", "(other)")
    fig = stacked_figure(series(keys, title="project:fraud model:bert-large env:prod service:sagemaker region:"
                                            "us-east-1 · 2026-06-01..2026-11-27 · by resource"))
    labels = legend_labels(fig)
    assert labels[:2] == ["train-vision-01 · $18,000", "train-vision-spike · $15,000"]
    assert labels[2] != labels[3] and all("…" in label for label in labels[2:4])  # shortened, still told apart
    assert labels[2].endswith(" · $12,000") and labels[3].endswith(" · $9,000")
    (legend,) = fig.legends
    assert inside(fig, legend)
    for gid in ("title", "subtitle"):
        (text,) = fig.findobj(lambda a, g=gid: a.get_gid() == g)
        assert inside(fig, text)
    for label in fig.axes[0].get_yticklabels() + fig.axes[0].get_xticklabels():
        assert inside(fig, label)
    with Image.open(BytesIO(figure_bytes(fig))) as img:
        assert img.size == (1200, 600)


def test_labels_are_cut_in_the_middle_and_never_alike() -> None:
    assert middle_ellipsis("abcdefghij", 7) == "abc…hij"
    assert middle_ellipsis("short", 10) == "short"
    fits = lambda text: len(text) <= 12  # noqa: E731
    assert fit_labels(["service-alpha-prod-east", "service-alpha-dev-east"], fits) == \
        ["…a-prod-east", "…ha-dev-east"]
    assert fit_labels(["Amazon Simple Storage Service"], lambda t: len(t) <= 24) == ["Simple Storage Service"]


def test_a_name_keeps_its_colour_across_charts_and_digests() -> None:
    assert preferred_colour("team-ml") == preferred_colour("Team-ML") and preferred_colour("team-ml") in PALETTE
    by_team = colours(["team-ml", "team-vision", "team-data", "team-search", "team-platform", "(untagged)"])
    assert by_team == colours(["(untagged)", "team-platform", "team-search", "team-data", "team-vision", "team-ml"])
    assert len(set(by_team.values())) == 6 and by_team["(untagged)"] == UNTAGGED_COLOUR
    many = [f"project-{i}" for i in range(9)] + ["(other)"]
    assert len({colours(many)[k] for k in many[:9]}) == 9 and colours(many)["(other)"] == OTHER_COLOUR
    # the same key in an answer's chart and in a digest's chart: the same colour
    answer = stacked_figure(series(("fraud", "recsys", "(other)")))
    digest = digest_figure(DigestChart("team-ml · daily spend, last 30 days", "USD", DAYS, ("fraud", "recsys"),
                                       {"fraud": (Decimal(500),) * 30, "recsys": (Decimal(100),) * 30},
                                       (Decimal(600),) * 30, Decimal(833)))

    def faces(fig: Figure) -> dict[str, str]:
        return {c.get_label(): to_hex(c.get_facecolors()[0]) for c in fig.axes[0].collections
                if isinstance(c, PolyCollection)}

    assert faces(answer)["fraud"] == faces(digest)["fraud"] == colours(["fraud", "recsys"])["fraud"].lower()
    assert faces(answer)["(other)"] == OTHER_COLOUR.lower()


def test_an_empty_period_says_so() -> None:
    empty = ChartSeries("all teams · 2027-01 · by service", "USD", (), (), {}, first=date(2027, 1, 1),
                        last=date(2027, 1, 31), data_through=date(2026, 11, 27))
    fig = stacked_figure(empty)
    assert fig.axes == [] and fig.legends == []  # no axis to read "$1 $1 $1 $0" from
    assert texts(fig, "empty") == ["No billing data for Jan 1 – Jan 31, 2027\n(data through Nov 27, 2026)"]
    assert texts(fig, "subtitle") == ["Jan 1 – Jan 31, 2027 · daily amortized cost (EffectiveCost), USD · data "
                                      "through Nov 27, 2026"]
    nothing_loaded = stacked_figure(ChartSeries("x", "USD", (), (), {}, first=date(2026, 11, 28),
                                                last=date(2026, 11, 28)))
    assert texts(nothing_loaded, "empty") == ["No billing data for Nov 28, 2026\n(no billing data loaded yet)"]


def test_formats() -> None:
    s = series(("a", "b"))
    assert chart_bytes(s, "png")[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart_bytes(s, "svg").lstrip().startswith(b"<?xml")
    assert chart_bytes(s, "pdf")[:5] == b"%PDF-"
    assert chart_bytes(s, "svg") == chart_bytes(s, "svg")  # no timestamps: the same chart, the same file
    with pytest.raises(ValueError, match="unknown chart format 'jpg'"):
        chart_bytes(s, "jpg")


def test_axis_amounts_stay_short() -> None:
    assert [compact_money(v, "USD") for v in (0, 800, 6000, 45_000, 1_200_000, 3_000_000)] == \
        ["$0", "$800", "$6,000", "$45k", "$1.2M", "$3M"]
    assert compact_money(45_000, "CHF") == "45k CHF" and compact_money(-45_000, "USD") == "-$45k"

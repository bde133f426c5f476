"""Charts with matplotlib's Figure API and the Agg canvas (never pyplot: thread-safe, no global state)."""

from __future__ import annotations

import io
from decimal import Decimal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.domain.answers import ChartSeries
from bot.domain.digest import DigestChart
from bot.domain.money import format_money

#: Okabe–Ito, a colour-blind-safe palette; grey for "(other)"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER_COLOUR = "#BBBBBB"


def _stacked_bars(ax: Axes, stacks: list[tuple[str, list[float], str]], width: float = 0.85) -> list[float]:
    """Stacked bars as one PolyCollection per stack: ~10x cheaper to draw than a Rectangle patch per bar.
    Returns the top of each bar."""
    n = len(stacks[0][1]) if stacks else 0
    bottom = [0.0] * n
    for label, values, colour in stacks:
        verts = []
        for i, v in enumerate(values):
            x0, x1, y0, y1 = i - width / 2, i + width / 2, bottom[i], bottom[i] + v
            verts.append([(x0, y0), (x0, y1), (x1, y1), (x1, y0)])
        ax.add_collection(PolyCollection(verts, facecolors=colour, edgecolors="none", label=label[:40]))
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlim(-0.6, max(n - 0.4, 0.6))
    ax.set_ylim(0, max([*bottom, 1.0]) * 1.08)
    return bottom


def _stack_list(keys: tuple[str, ...], values: dict[str, tuple[Decimal, ...]]) -> list[tuple[str, list[float], str]]:
    colour = iter(PALETTE)
    out = []
    for key in keys:
        col = OTHER_COLOUR if key == "(other)" else next(colour, OTHER_COLOUR)
        out.append((key, [float(v) for v in values.get(key, ())], col))
    return out


def stacked_daily_png(series: ChartSeries, width_px: int = 1200, height_px: int = 600, dpi: int = 100) -> bytes:
    """Daily bars stacked by the series keys; returns PNG bytes of exactly width_px × height_px."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(series.days)))
    _stacked_bars(ax, _stack_list(series.keys, series.values))
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    label = "%b %Y" if series.bucket == "month" else "%b %d"
    ax.set_xticklabels([d.strftime(label) for d in series.days[::step]], fontsize=10)
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: format_money(Decimal(str(round(v, 2))), series.currency, whole=True))
    )
    ax.set_title(series.title, fontsize=14, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    if series.keys:
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=10)
    fig.subplots_adjust(left=0.09, right=0.78, top=0.9, bottom=0.1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 3})
    return buf.getvalue()


def digest_png(chart: DigestChart, width_px: int = 1200, height_px: int = 600, dpi: int = 100) -> bytes:
    """30 days of stacked daily spend, the 7-day moving average, the budget's daily pace, anomaly markers."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(chart.days)))
    bottom = _stacked_bars(ax, _stack_list(chart.keys, chart.values))
    avg = [float(v) if v is not None else float("nan") for v in chart.moving_average]
    ax.plot(x, avg, color="#000000", linewidth=2.2, label="7-day average")
    if chart.budget_per_day is not None:
        top = max([*bottom, float(chart.budget_per_day)]) * 1.08
        ax.set_ylim(0, top)
        ax.axhline(float(chart.budget_per_day), color="#D55E00", linestyle="--", linewidth=1.8,
                   label=f"budget pace ({format_money(chart.budget_per_day, chart.currency, whole=True)}/day)")
    marked = [i for i, d in enumerate(chart.days) if d in set(chart.anomaly_days)]
    if marked:
        ax.scatter(marked, [bottom[i] * 1.04 for i in marked], marker="v", s=90, color="#CC0000", zorder=5,
                   label="anomaly")
    step = max(1, len(x) // 10)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([d.strftime("%b %d") for d in chart.days[::step]], fontsize=11)
    ax.tick_params(axis="y", labelsize=11)
    ax.yaxis.set_major_formatter(
        FuncFormatter(lambda v, _: format_money(Decimal(str(round(v, 2))), chart.currency, whole=True))
    )
    ax.set_title(chart.title, fontsize=15, loc="left")
    ax.grid(axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False, fontsize=11)
    fig.subplots_adjust(left=0.09, right=0.76, top=0.9, bottom=0.1)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, pil_kwargs={"compress_level": 3})
    return buf.getvalue()

"""Charts with matplotlib's Figure API and the Agg canvas (never pyplot: thread-safe, no global state)."""

from __future__ import annotations

import io
from decimal import Decimal

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from bot.domain.answers import ChartSeries
from bot.domain.digest import DigestChart
from bot.domain.money import format_money

#: Okabe–Ito, a colour-blind-safe palette; grey for "(other)"
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
OTHER_COLOUR = "#BBBBBB"


def stacked_daily_png(series: ChartSeries, width_px: int = 1200, height_px: int = 600, dpi: int = 100) -> bytes:
    """Daily bars stacked by the series keys; returns PNG bytes of exactly width_px × height_px."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(series.days)))
    bottom = [0.0] * len(x)
    colour = iter(PALETTE)
    for key in series.keys:
        values = [float(v) for v in series.values.get(key, ())]
        col = OTHER_COLOUR if key == "(other)" else next(colour, OTHER_COLOUR)
        ax.bar(x, values, bottom=bottom, label=key[:40], color=col, width=0.85, linewidth=0)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    step = max(1, len(x) // 12)
    ax.set_xticks(x[::step])
    ax.set_xticklabels([d.strftime("%b %d") for d in series.days[::step]], fontsize=10)
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
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def digest_png(chart: DigestChart, width_px: int = 1200, height_px: int = 600, dpi: int = 100) -> bytes:
    """30 days of stacked daily spend, the 7-day moving average, the budget's daily pace, anomaly markers."""
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    x = list(range(len(chart.days)))
    bottom = [0.0] * len(x)
    colour = iter(PALETTE)
    for key in chart.keys:
        values = [float(v) for v in chart.values.get(key, ())]
        col = OTHER_COLOUR if key == "(other)" else next(colour, OTHER_COLOUR)
        ax.bar(x, values, bottom=bottom, label=key[:40], color=col, width=0.85, linewidth=0)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    avg = [float(v) if v is not None else float("nan") for v in chart.moving_average]
    ax.plot(x, avg, color="#000000", linewidth=2.2, label="7-day average")
    if chart.budget_per_day is not None:
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
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()

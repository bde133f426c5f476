"""Charts with matplotlib's Figure API and the Agg canvas (never pyplot: thread-safe, no global state).

Every chart says what it draws — scope, period and dimension in the title; the total, the period's dates, the
metric, the currency and how fresh the data is underneath — and lays itself out so that nothing is clipped at
1200×600: the legend sits in its own column right of the plot, its labels shortened in the middle to fit (names,
not ids, and never two alike). A name keeps its colour from chart to chart (derived from the name, from a
colour-blind-safe palette); "(other)" and "(untagged)" are always the same neutral greys. A period without
billing data says so instead of drawing an empty axis.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from matplotlib import rc_context
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.ticker import FuncFormatter, MaxNLocator

from bot.domain.answers import ChartSeries
from bot.domain.digest import DigestChart
from bot.domain.money import format_money
from bot.domain.spec import NONE_KEY, OTHER, UNTAGGED

#: Paul Tol's "muted" scheme: nine colours told apart with every common colour-vision deficiency
PALETTE = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933", "#AA4499")
OTHER_COLOUR = "#BBBBBB"  # "(other)": the rest, summed
UNTAGGED_COLOUR = "#7A7A7A"  # "(untagged)", "(none)", "(unallocated)": spend nobody owns
NEUTRAL = {OTHER: OTHER_COLOUR, UNTAGGED: UNTAGGED_COLOUR, NONE_KEY: UNTAGGED_COLOUR, "(unallocated)": UNTAGGED_COLOUR}
AVERAGE_COLOUR = "#222222"
ALERT_COLOUR = "#CC3311"  # budget pace and anomaly markers

PARTIAL_ALPHA = 0.45  # a week or month only partly covered: lighter, so it does not read as a drop

FORMATS = ("png", "svg", "pdf")
WIDTH_PX, HEIGHT_PX, DPI = 1200, 600, 100

# the layout, in fractions of the figure: a title band, the plot, and the legend's column on the right
# (sizes in points at 100 dpi: a 1200-pixel chart shown 360 pixels wide on a phone keeps ~5 px per point of text)
PLOT_LEFT, PLOT_RIGHT, PLOT_BOTTOM, PLOT_TOP = 0.085, 0.6, 0.105, 0.775
LEGEND_LEFT, LEGEND_RIGHT = 0.61, 0.995
TITLE_SIZE, SUBTITLE_SIZE, TICK_SIZE, LEGEND_SIZE, NOTE_SIZE = 25, 14, 16, 16, 19


# -- colours -------------------------------------------------------------------------------------------------
def preferred_colour(name: str) -> str:
    """The palette colour a name is born with: from a hash of the name, the same in every chart and process."""
    if name in NEUTRAL:
        return NEUTRAL[name]
    digest = hashlib.sha256(name.strip().lower().encode()).digest()
    return PALETTE[int.from_bytes(digest[:4], "big") % len(PALETTE)]


def colours(keys: Sequence[str]) -> dict[str, str]:
    """Each key's colour: its own, unless a name before it (in name order, so the same set of names always
    gets the same colours) already has that one in this chart; then the next free one."""
    out = {k: NEUTRAL[k] for k in keys if k in NEUTRAL}
    taken: set[str] = set()
    for key in sorted((k for k in keys if k not in NEUTRAL), key=lambda k: (k.lower(), k)):
        start = PALETTE.index(preferred_colour(key))
        free = [PALETTE[(start + i) % len(PALETTE)] for i in range(len(PALETTE))]
        colour = next((c for c in free if c not in taken), free[0])
        taken.add(colour)
        out[key] = colour
    return out


# -- labels --------------------------------------------------------------------------------------------------
def display_name(key: str) -> str:
    """What a person calls a key: an ARN's resource id rather than the whole ARN."""
    if key.startswith("arn:"):
        resource = key.split(":", 5)[-1]
        return resource.rsplit("/", 1)[-1] or key
    return key


_VENDOR = re.compile(r"^(Amazon|AWS|Azure|Google Cloud|Google)\s+(?=\S)")


def middle_ellipsis(text: str, length: int) -> str:
    """`text` in at most `length` characters, its middle replaced by "…" (both ends are what tell names apart)."""
    if len(text) <= length:
        return text
    if length <= 1:
        return "…"
    head = length // 2
    tail = length - 1 - head
    return text[:head] + "…" + (text[-tail:] if tail else "")


def fit_labels(names: Sequence[str], fits: Callable[[str], bool], suffixes: Sequence[str] = ()) -> list[str]:
    """Each name (followed by its suffix, kept whole) as long as `fits` allows: the whole name, else without
    its vendor ("Amazon Simple Storage Service" -> "Simple Storage Service"), else shortened in the middle. Two
    names that would read the same keep the part where they differ instead."""
    ends = list(suffixes) or [""] * len(names)
    out = []
    for name, end in zip(names, ends, strict=True):
        short = _VENDOR.sub("", name)
        if fits(name + end):
            out.append(name)
            continue
        length = len(short)
        while length > 1 and not fits(middle_ellipsis(short, length) + end):
            length -= 1
        out.append(middle_ellipsis(short, length))
    shortened = list(out)
    for i, label in enumerate(shortened):
        twins = [names[j] for j, other in enumerate(shortened) if other == label and names[j] != names[i]]
        if twins:
            out[i] = _around_difference(names[i], twins, _with_end(fits, ends[i]))
    return [label + end for label, end in zip(out, ends, strict=True)]


def _with_end(fits: Callable[[str], bool], end: str) -> Callable[[str], bool]:
    return lambda text: fits(text + end)


def _around_difference(name: str, others: Sequence[str], fits: Callable[[str], bool]) -> str:
    """`name` from where it first differs from `others` (with as much before it as fits) to its end; failing
    that, a window around the difference, with "…" where it was cut."""
    differs = min(next((i for i, (a, b) in enumerate(zip(name, other, strict=False)) if a != b),
                       min(len(name), len(other))) for other in others)
    for start in range(0, differs + 1):
        tail = ("…" if start else "") + name[start:]
        if fits(tail):
            return tail
    for length in range(len(name), 0, -1):
        start = max(0, min(differs - length // 2, len(name) - length))
        window = ("…" if start else "") + name[start:start + length] + ("…" if start + length < len(name) else "")
        if fits(window):
            return window
    return "…"


# -- text ----------------------------------------------------------------------------------------------------
def metric_words(metric: str) -> str:
    return {"EffectiveCost": "amortized cost (EffectiveCost)", "BilledCost": "billed cost (BilledCost)"}.get(
        metric, metric)


def _day(d: date, year: bool = True) -> str:
    return f"{d:%b} {d.day}, {d.year}" if year else f"{d:%b} {d.day}"


def span_words(first: date | None, last: date | None) -> str:
    """"Oct 29 – Nov 27, 2026", "Dec 29, 2025 – Jan 4, 2026", "Nov 28, 2026"."""
    if first is None or last is None:
        return ""
    if first == last:
        return _day(first)
    return f"{_day(first, year=first.year != last.year)} – {_day(last)}"


def _through(data_through: date | None) -> str:
    return f"data through {_day(data_through)}" if data_through else "no billing data loaded yet"


def compact_money(value: float, currency: str) -> str:
    """An axis label: `$800`, `$6,000`, `$45k`, `$1.2M` (the symbol or code where format_money puts it)."""
    size = abs(value)
    if size < 10_000:
        return format_money(Decimal(str(round(value))), currency, whole=True)
    body = f"{size / 1e6:.1f}".removesuffix(".0") + "M" if size >= 1e6 else f"{size / 1e3:.0f}k"
    return ("-" if value < 0 else "") + format_money(Decimal(1), currency, whole=True).replace("1", body, 1)


def _money_axis(currency: str) -> FuncFormatter:
    return FuncFormatter(lambda v, _: compact_money(v, currency))


# -- layout --------------------------------------------------------------------------------------------------
def _figure(width_px: int, height_px: int, dpi: int) -> Figure:
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


HEADING_LEFT = 0.015


def _fitted(fig: Figure, text: Text, smallest: float) -> None:
    """Shrink a line of text (down to `smallest` points, then in the middle) until it fits the figure's width."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    room = (1 - 2 * HEADING_LEFT) * fig.bbox.width
    content = text.get_text()
    size = float(text.get_fontsize())
    while text.get_window_extent(renderer).width > room and size > smallest:
        size = max(smallest, size - 0.5)
        text.set_fontsize(size)
    length = len(content)
    while text.get_window_extent(renderer).width > room and length > 1:
        length -= 1
        text.set_text(middle_ellipsis(content, length))


def _heading(fig: Figure, title: str, subtitle: str) -> None:
    """The title (what: scope, period, dimension) and under it the facts (total, dates, metric, freshness)."""
    _fitted(fig, fig.text(HEADING_LEFT, 0.965, title, fontsize=TITLE_SIZE, fontweight="bold", va="top", ha="left",
                          gid="title"), smallest=14)
    _fitted(fig, fig.text(HEADING_LEFT, 0.885, subtitle, fontsize=SUBTITLE_SIZE, color="#444444", va="top",
                          ha="left", gid="subtitle"), smallest=10)


def _axes(fig: Figure, currency: str) -> Axes:
    ax = fig.add_axes((PLOT_LEFT, PLOT_BOTTOM, PLOT_RIGHT - PLOT_LEFT, PLOT_TOP - PLOT_BOTTOM))
    ax.yaxis.set_major_formatter(_money_axis(currency))
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, min_n_ticks=3))
    ax.tick_params(axis="both", labelsize=TICK_SIZE, length=0, pad=6)
    ax.tick_params(axis="x", pad=10)  # clear of the lowest amount ("$0") in the corner
    ax.grid(axis="y", color="#DDDDDD", linewidth=0.9)
    ax.set_axisbelow(True)
    ax.spines[["top", "right", "left"]].set_visible(False)
    ax.spines["bottom"].set_color("#888888")
    return ax


def _dates_axis(ax: Axes, days: Sequence[date], bucket: str) -> None:
    step = max(1, -(-len(days) // 7))  # at most 7 labels: readable at a phone's preview size
    ticks = list(range(0, len(days), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{days[i]:%b %Y}" if bucket == "month" else _day(days[i], year=False) for i in ticks])


def _stacked_bars(ax: Axes, keys: Sequence[str], values: dict[str, tuple[Decimal, ...]], palette: dict[str, str],
                  count: int, partial: Sequence[bool] = (), width: float = 0.82) -> list[float]:
    """Stacked bars as one PolyCollection per key (~10x cheaper to draw than a Rectangle per bar), labelled
    with the key; a bucket the data only partly covers is drawn lighter. Returns the top of each bar."""
    bottom = [0.0] * count
    light = [bool(partial[i]) if i < len(partial) else False for i in range(count)]
    for key in keys:
        series = [float(v) for v in values.get(key, ())] + [0.0] * count
        verts = []
        for i in range(count):
            x0, x1, y0, y1 = i - width / 2, i + width / 2, bottom[i], bottom[i] + series[i]
            verts.append([(x0, y0), (x0, y1), (x1, y1), (x1, y0)])
        faces = [to_rgba(palette[key], PARTIAL_ALPHA if light[i] else 1.0) for i in range(count)]
        ax.add_collection(PolyCollection(verts, facecolors=faces, edgecolors="none", label=key))
        bottom = [b + series[i] for i, b in enumerate(bottom)]
    ax.set_xlim(-0.6, max(count - 0.4, 0.6))
    ax.set_ylim(0, max([*bottom, 1.0]) * 1.06)
    return bottom


def _legend(fig: Figure, handles: Sequence[Artist], labels: Sequence[str], suffixes: Sequence[str]) -> None:
    """The legend in its column right of the plot; labels shortened in the middle to fit its width."""
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    font = FontProperties(size=LEGEND_SIZE)
    pixels_per_point = fig.dpi / 72
    # the column, less the legend's frame padding, the colour key and the gap after it (in font sizes)
    room = (LEGEND_RIGHT - LEGEND_LEFT) * fig.bbox.width - (0.4 * 2 + 1.4 + 0.6 + 0.5) * LEGEND_SIZE * pixels_per_point

    def fits(text: str) -> bool:
        width, _, _ = renderer.get_text_width_height_descent(text, font, ismath=False)
        return bool(width <= room)

    shown = fit_labels(labels, fits, suffixes)
    legend = fig.legend(handles, shown, loc="upper left", bbox_to_anchor=(LEGEND_LEFT, PLOT_TOP + 0.005),
                        frameon=False, fontsize=LEGEND_SIZE, handlelength=1.4, handleheight=1.0, handletextpad=0.6,
                        borderpad=0.4, labelspacing=0.55)
    legend.set_gid("legend")


def _empty(fig: Figure, first: date | None, last: date | None, data_through: date | None) -> None:
    period = span_words(first, last) or "this period"
    fig.text(0.5, 0.45, f"No billing data for {period}\n({_through(data_through)})", ha="center", va="center",
             fontsize=NOTE_SIZE, color="#444444", linespacing=1.6, gid="empty")


# -- charts --------------------------------------------------------------------------------------------------
def stacked_figure(series: ChartSeries, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX,
                   dpi: int = DPI) -> Figure:
    """An answer's spend per day (week, month) stacked by its dimension, with what it shows written on it."""
    fig = _figure(width_px, height_px, dpi)
    total = series.total
    spend = {"day": "daily", "week": "weekly", "month": "monthly"}.get(series.bucket, "daily")
    facts = [f"{format_money(total, series.currency)} total" if series.keys else "",
             span_words(series.first, series.last), f"{spend} {metric_words(series.metric)}, {series.currency}",
             _through(series.data_through)]
    _heading(fig, series.title, " · ".join(f for f in facts if f))
    if not series.keys or not series.days:
        _empty(fig, series.first, series.last, series.data_through)
        return fig
    ax = _axes(fig, series.currency)
    palette = colours(series.keys)
    _stacked_bars(ax, series.keys, series.values, palette, len(series.days), series.partial)
    _dates_axis(ax, series.days, series.bucket)
    handles: list[Artist] = [Patch(facecolor=palette[k], edgecolor="none") for k in series.keys]
    labels = [series.labels.get(k) or display_name(k) for k in series.keys]
    amounts = [f" · {format_money(series.key_total(k), series.currency, whole=True)}" for k in series.keys]
    if any(series.partial):
        handles.append(Patch(facecolor=to_rgba("#777777", PARTIAL_ALPHA), edgecolor="none"))
        labels.append(f"lighter: part of a {series.bucket}")
        amounts.append("")
    _legend(fig, handles, labels, amounts)
    return fig


def digest_figure(chart: DigestChart, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX,
                  dpi: int = DPI) -> Figure:
    """A digest's 30 days of stacked daily spend, the 7-day moving average, the budget's daily pace and the
    anomalies."""
    fig = _figure(width_px, height_px, dpi)
    first, last = (chart.days[0], chart.days[-1]) if chart.days else (None, None)
    facts = [f"{format_money(chart.total, chart.currency)} total" if chart.keys else "", span_words(first, last),
             f"{metric_words(chart.metric)}, {chart.currency}", _through(chart.data_through)]
    _heading(fig, chart.title, " · ".join(f for f in facts if f))
    if not chart.keys or chart.total == 0:
        _empty(fig, first, last, chart.data_through)
        return fig
    ax = _axes(fig, chart.currency)
    palette = colours(chart.keys)
    count = len(chart.days)
    bottom = _stacked_bars(ax, chart.keys, chart.values, palette, count)
    handles: list[Artist] = [Patch(facecolor=palette[k], edgecolor="none") for k in chart.keys]
    labels = [display_name(k) for k in chart.keys]
    amounts = [f" · {format_money(chart.key_total(k), chart.currency, whole=True)}" for k in chart.keys]
    average = [float(v) if v is not None else float("nan") for v in chart.moving_average]
    ax.plot(range(count), average, color=AVERAGE_COLOUR, linewidth=2.4, solid_capstyle="round")
    handles.append(Line2D([], [], color=AVERAGE_COLOUR, linewidth=2.4))
    labels.append("7-day average")
    amounts.append("")
    if chart.budget_per_day is not None:
        ax.set_ylim(0, max([*bottom, float(chart.budget_per_day)]) * 1.08)
        ax.axhline(float(chart.budget_per_day), color=ALERT_COLOUR, linestyle=(0, (5, 3)), linewidth=1.8)
        handles.append(Line2D([], [], color=ALERT_COLOUR, linestyle=(0, (5, 3)), linewidth=1.8))
        labels.append("budget pace")
        amounts.append(f" · {format_money(chart.budget_per_day, chart.currency, whole=True)}/day")
    marked = [i for i, d in enumerate(chart.days) if d in set(chart.anomaly_days)]
    if marked:
        top = ax.get_ylim()[1]
        ax.scatter(marked, [min(bottom[i] + top * 0.03, top * 0.98) for i in marked], marker="v", s=110,
                   color=ALERT_COLOUR, zorder=5)
        handles.append(Line2D([], [], color=ALERT_COLOUR, marker="v", linestyle="none", markersize=10))
        labels.append("anomaly")
        amounts.append("")
    _dates_axis(ax, chart.days, "day")
    _legend(fig, handles, labels, amounts)
    return fig


def chart_filename(scope_label: str, first: date, last: date, dimension: str | None = None,
                   suffix: str = "png") -> str:
    """A chart's file named after its question: `team-ml-2026-11-16--2026-11-22.png`,
    `all-teams-by-service-2026-10-29--2026-11-27.png`."""
    words = scope_label + (f" by {dimension}" if dimension else "")
    slug = re.sub(r"[^a-z0-9._]+", "-", words.lower()).strip("-.")[:80].strip("-.") or "costbot"
    return f"{slug}-{first.isoformat()}--{last.isoformat()}.{suffix}"


def figure_bytes(fig: Figure, fmt: str = "png") -> bytes:
    """The figure as PNG, SVG or PDF; the same figure gives the same bytes (no timestamps in the file)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown chart format {fmt!r}")
    metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}[fmt]
    buf = io.BytesIO()
    options: dict[str, Any] = {"pil_kwargs": {"compress_level": 3}} if fmt == "png" else {}
    with rc_context({"svg.hashsalt": "costbot"}):  # the SVG's element ids: the same every time
        fig.savefig(buf, format=fmt, dpi=fig.dpi, metadata=metadata, **options)
    return buf.getvalue()


def chart_bytes(series: ChartSeries, fmt: str = "png") -> bytes:
    return figure_bytes(stacked_figure(series), fmt)


def stacked_daily_png(series: ChartSeries, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX,
                      dpi: int = DPI) -> bytes:
    """An answer's chart as a PNG of exactly width_px × height_px."""
    return figure_bytes(stacked_figure(series, width_px, height_px, dpi))


def digest_png(chart: DigestChart, width_px: int = WIDTH_PX, height_px: int = HEIGHT_PX, dpi: int = DPI) -> bytes:
    return figure_bytes(digest_figure(chart, width_px, height_px, dpi))

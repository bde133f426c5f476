"""When one machine stops being the right home for the billing data: `costbot status` says so.

The embedded store holds a year of hourly resource-level billing (10^8 line items: 2.3 GB with its billing
files kept as they are, 3.7 GB once folded into its table), loads it at about a million rows a second and
answers it at a median of about 40 ms from its daily rollup, on 2 cores (bench/RESULTS.md). Past
about ten times that — a billion line items held, or more than five million new ones a day — ingest time,
disk and memory grow past what one modest machine serves well, and a query engine over the bucket (Athena)
keeps the data in place instead.
"""

from __future__ import annotations

from datetime import date

STORE_ROWS = 1_000_000_000  # line items held
DAILY_ROWS = 5_000_000  # line items the billing data carries per day, on average over the days it spans


def warehouse_advice(rows: int, first_day: date | None, last_day: date | None) -> tuple[str, ...]:
    """What to tell an operator whose embedded store has outgrown one machine (nothing when it has not)."""
    advice = []
    if rows >= STORE_ROWS:
        advice.append(f"the store holds {rows:,} line items (one machine serves up to {STORE_ROWS:,} well)")
    if first_day is not None and last_day is not None:
        per_day = rows // ((last_day - first_day).days + 1)
        if per_day >= DAILY_ROWS:
            advice.append(f"the billing data carries {per_day:,} line items a day (one machine ingests up to "
                          f"{DAILY_ROWS:,} a day well)")
    if not advice:
        return ()
    return (*advice, "move the billing data to a query engine: an `athena` source (README, \"Beyond one "
                     "machine\") answers the same questions where the data lies")

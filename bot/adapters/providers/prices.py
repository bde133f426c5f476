"""The bundled on-demand price table (aws_prices.csv: its header says where the figures come from)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from functools import cache
from importlib import resources


@cache
def aws_prices() -> dict[str, Decimal]:
    text = resources.files("bot.adapters.providers").joinpath("aws_prices.csv").read_text(encoding="utf-8")
    rows = csv.reader(io.StringIO("\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))))
    return {name.strip(): Decimal(price.strip()) for name, price in rows if name.strip()}

"""The bundled on-demand price tables (aws_prices.csv per instance-hour, aws_storage_prices.csv per GB-month:
their headers say where the figures come from)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from functools import cache
from importlib import resources

BUNDLED_REGION = "us-east-1"
BUNDLED_AS_OF = "2025"  # the price lists the tables were read from (their headers say so too)


def _table(name: str) -> dict[str, Decimal]:
    text = resources.files("bot.adapters.providers").joinpath(name).read_text(encoding="utf-8")
    rows = csv.reader(io.StringIO("\n".join(ln for ln in text.splitlines() if not ln.startswith("#"))))
    return {item.strip(): Decimal(price.strip()) for item, price in rows
            if item.strip() and price.strip()[:1].isdigit()}  # a header line (item,usd_…) is skipped


@cache
def aws_prices() -> dict[str, Decimal]:
    """USD per instance-hour: EC2 (Linux) and SageMaker `ml.` types."""
    return _table("aws_prices.csv")


@cache
def storage_prices() -> dict[str, Decimal]:
    """USD per GB-month of EBS volume storage, by volume type."""
    return _table("aws_storage_prices.csv")

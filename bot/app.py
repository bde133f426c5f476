"""Composition root: Settings -> adapters -> services. The only module that wires concrete adapters.

Nothing happens at import time; callers build what they need with `build_services`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bot.config import CostbotConfig, Settings
from bot.services.costs import CostService
from bot.services.ingest import IngestService


@dataclass
class Services:
    settings: Settings
    config: CostbotConfig
    costs: CostService
    ingest: IngestService


def store_path(settings: Settings) -> Path:
    return settings.data_dir / "costs.duckdb"


def build_services(settings: Settings | None = None, config: CostbotConfig | None = None) -> Services:
    from bot.adapters.duckdb_store import DuckDBCostStore

    settings = settings or Settings()
    config = config or settings.config
    store = DuckDBCostStore(store_path(settings))
    store.index_tags(config.indexed_tag_keys())

    def today() -> date:
        return settings.today(config.timezone)

    return Services(
        settings=settings,
        config=config,
        costs=CostService(store, config, today),
        ingest=IngestService(store),
    )

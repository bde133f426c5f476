"""Billing sources, registered by kind: each entry builds the adapter for one `sources:` block of the config.
A pull source (CostSource) writes what it reads into files the ingest understands; a query engine (Athena)
answers questions in place and replaces the embedded store's query side. A new source = one module + one line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.config import (
    AthenaSourceConfig,
    CostbotConfig,
    CostExplorerSourceConfig,
    CurSourceConfig,
    FocusFilesSourceConfig,
    S3ExportSourceConfig,
    SourceConfig,
)
from bot.ports import CostQueries, CostSource


def _focus_files(cfg: Any, config: CostbotConfig) -> CostSource:
    from bot.adapters.sources.local_files import LocalFilesSource

    return LocalFilesSource(cfg.label, cfg.path)


def _cur(cfg: Any, config: CostbotConfig) -> CostSource:
    if cfg.bucket:
        return _s3_export(cfg, config)
    return _focus_files(cfg, config)


def _cost_explorer(cfg: Any, config: CostbotConfig) -> CostSource:
    from bot.adapters.sources.cost_explorer import CostExplorerSource

    return CostExplorerSource(cfg.label, config.grammar.team_tag_key)


def _s3_export(cfg: Any, config: CostbotConfig) -> CostSource:
    from bot.adapters.sources.s3_export import S3ExportSource

    return S3ExportSource(cfg.label, cfg.bucket, cfg.prefix, cfg.region)


def _athena(cfg: Any, config: CostbotConfig) -> CostQueries:
    from bot.adapters.athena_store import AthenaCostStore

    return AthenaCostStore(cfg.database, cfg.table, cfg.workgroup, cfg.output_location, cfg.region,
                           cfg.table_format)


#: config model -> builder of the source that pulls billing data
PULL_SOURCES: dict[type, Callable[[Any, CostbotConfig], CostSource]] = {
    FocusFilesSourceConfig: _focus_files,
    CurSourceConfig: _cur,
    CostExplorerSourceConfig: _cost_explorer,
    S3ExportSourceConfig: _s3_export,
}
#: config model -> builder of a query engine that answers in place
QUERY_ENGINES: dict[type, Callable[[Any, CostbotConfig], CostQueries]] = {
    AthenaSourceConfig: _athena,
}


def pull_sources(config: CostbotConfig) -> list[CostSource]:
    return [PULL_SOURCES[type(cfg)](cfg, config) for cfg in config.sources if type(cfg) in PULL_SOURCES]


def query_engine(config: CostbotConfig) -> CostQueries | None:
    """The configured query engine, or None for the embedded store."""
    found: list[SourceConfig] = [cfg for cfg in config.sources if type(cfg) in QUERY_ENGINES]
    return QUERY_ENGINES[type(found[0])](found[0], config) if found else None

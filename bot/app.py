"""Composition root: Settings -> adapters -> services; registers Slack handlers. The only module that wires
concrete adapters and handlers/. Nothing happens at import time; callers build what they need.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.config import CostbotConfig, Settings
from bot.domain.errors import ConfigError
from bot.services.costs import CostService
from bot.services.ingest import IngestService

if TYPE_CHECKING:
    from slack_bolt import App
    from sqlalchemy import Engine

    from bot.jobs import CostbotScheduler
    from bot.ports import CostSource, CostStore, ResourceProvider
    from bot.services.actions import ActionService
    from bot.services.digests import DigestService
    from bot.services.enforcement import EnforcementService
    from bot.services.insights import InsightService
    from bot.services.optimize import ScanService
    from bot.services.sync import SyncService

LISTENER_THREADS = 2  # answers are CPU-bound on DuckDB; more threads only fight over the GIL


class Services:
    """The application services, built once. App state (and with it digests) is opened on first use, so
    `costbot ask` never touches the state database."""

    def __init__(self, settings: Settings, config: CostbotConfig, costs: CostService, ingest: IngestService) -> None:
        from bot.services.allocation import AllocationService

        self.settings = settings
        self.config = config
        self.costs = costs
        self.ingest = ingest
        self.answers = AllocationService(costs, config)  # answers with shared costs allocated
        from bot.services.compliance import ComplianceService

        self.compliance = ComplianceService(costs, config)
        self.scheduler: CostbotScheduler | None = None
        self._built: dict[str, Any] = {}
        self._lock = threading.RLock()

    def _lazy(self, name: str, build: Any) -> Any:
        with self._lock:
            if name not in self._built:
                self._built[name] = build(self)
            return self._built[name]

    @property
    def state_engine(self) -> Engine:
        return self._lazy("engine", _build_engine)

    @property
    def slack_client(self) -> Any | None:
        return self._lazy("slack", lambda s: build_web_client(s.settings) if s.settings.get("SLACK_BOT_TOKEN")
                          else None)

    @property
    def digests(self) -> DigestService:
        return self._lazy("digests", _build_digests)

    @property
    def providers(self) -> dict[str, ResourceProvider]:
        return self._lazy("providers", _build_providers)

    @property
    def actions(self) -> ActionService:
        return self._lazy("actions", _build_actions)

    @property
    def insights(self) -> InsightService:
        return self._lazy("insights", _build_insights)

    @property
    def enforcement(self) -> EnforcementService:
        return self._lazy("enforcement", _build_enforcement)

    @property
    def sync(self) -> SyncService:
        return self._lazy("sync", _build_sync)

    @property
    def scanner(self) -> ScanService:
        return self._lazy("scanner", _build_scanner)


def _build_engine(services: Services) -> Engine:
    from bot.adapters.state.database import make_engine, upgrade

    engine = make_engine(services.settings.database_url)
    upgrade(engine)
    return engine


def _publisher(services: Services) -> Any:
    from bot.adapters.slack_publisher import SlackDigestPublisher

    client = services.slack_client
    return services._lazy("publisher", lambda s: SlackDigestPublisher(client) if client is not None else None)


def _build_digests(services: Services) -> DigestService:
    from bot.adapters.state.repository import SqlStateStore
    from bot.services.digests import DigestBuilder, DigestService

    builder = DigestBuilder(services.costs, services.config, services.costs.today)
    return DigestService(builder, SqlStateStore(services.state_engine), _publisher(services), services.config)


def _build_providers(services: Services) -> dict[str, ResourceProvider]:
    from bot.adapters import providers

    # keyed by configured name (unique, validated): two providers of one kind stay two
    return {cfg.name: providers.create(cfg, services.config.rules) for cfg in services.config.providers}


def _notifier(services: Services) -> Any:
    from bot.adapters.slack_actions import SlackActionNotifier

    publisher = _publisher(services)
    if publisher is None:
        return None

    def approvers(team: str | None) -> list[str]:
        return services.actions.approvers(team)

    return services._lazy("notifier", lambda s: SlackActionNotifier(
        s.slack_client, publisher.channel_id, s.config.currency, approvers, s.config.rules.snooze_days))


def _build_actions(services: Services) -> ActionService:
    from bot.adapters.state.actions_repository import SqlActionStore
    from bot.services.actions import ActionService

    return ActionService(services.providers, SqlActionStore(services.state_engine), services.config,
                         _notifier(services), services.costs.today, grounds=services.insights)


def _build_enforcement(services: Services) -> EnforcementService:
    from bot.services.enforcement import EnforcementService

    return EnforcementService(services.config, services.insights, services.actions,
                              list(services.providers.values()), _notifier(services))


def _build_insights(services: Services) -> InsightService:
    from bot.adapters.slack_insights import SlackInsightNotifier
    from bot.adapters.state.insights_repository import SqlInsightStore
    from bot.services.insights import InsightService

    publisher = _publisher(services)
    notifier = (SlackInsightNotifier(services.slack_client, publisher.channel_id, services.config.currency)
                if publisher is not None else None)

    def resource_key(resource_id: str) -> str | None:
        """A billing ResourceId -> the key the actions feature uses, from the provider that manages it."""
        return next((key for p in services.providers.values() if (key := p.resource_key(resource_id))), None)

    return InsightService(services.costs, services.config, SqlInsightStore(services.state_engine), notifier,
                          services.costs.today, resource_key)


def _build_sync(services: Services) -> SyncService:
    from bot.adapters.sources.cost_explorer import CostExplorerSource
    from bot.adapters.sources.local_files import LocalFilesSource
    from bot.adapters.sources.s3_export import S3ExportSource
    from bot.services.sync import SyncService

    sources: list[CostSource] = []
    for cfg in services.config.sources:
        name = cfg.name or cfg.kind
        if cfg.kind == "athena":
            continue  # queried in place, nothing to pull
        if cfg.kind == "cost_explorer":
            sources.append(CostExplorerSource(name, services.config.grammar.team_tag_key))
        elif cfg.kind in ("s3_export", "cur") and cfg.bucket:
            sources.append(S3ExportSource(name, cfg.bucket, cfg.prefix or "", cfg.region))
        elif cfg.kind in ("focus_files", "cur") and cfg.path:
            sources.append(LocalFilesSource(name, cfg.path))
        else:
            raise ConfigError(f"sources: '{name}' ({cfg.kind}) needs "
                              + ("`bucket`" if cfg.kind == "s3_export" else "`path` or `bucket`"))
    return SyncService(sources, services.costs.store, services.costs.today)


def _build_scanner(services: Services) -> ScanService:
    from bot.adapters.state.actions_repository import SqlActionStore
    from bot.services.optimize import ScanService

    return ScanService(list(services.providers.values()), SqlActionStore(services.state_engine), services.config,
                       _notifier(services), services.costs.today, refresh=services.actions.refresh_messages)


def store_path(settings: Settings) -> Path:
    return settings.data_dir / "costs.duckdb"


def build_services(
    settings: Settings | None = None, config: CostbotConfig | None = None, duckdb_threads: int | None = None
) -> Services:
    """`duckdb_threads` caps each query's threads (COSTBOT_DUCKDB_THREADS overrides): a server answering many
    questions at once does better with one thread per query than with every query fighting for all cores."""
    from bot.adapters.duckdb_store import DuckDBCostStore

    settings = settings or Settings()
    config = config or settings.config
    configured = settings.get("COSTBOT_DUCKDB_THREADS")
    if configured is not None:
        if not configured.isdigit() or int(configured) < 1:
            raise ConfigError(f"COSTBOT_DUCKDB_THREADS must be a positive number, got '{configured}'")
        duckdb_threads = int(configured)
    athena = next((s for s in config.sources if s.kind == "athena"), None)
    store: CostStore
    if athena is not None:  # questions are pushed down to Athena; the data stays in S3
        from bot.adapters.athena_store import AthenaCostStore

        if not athena.database or not athena.table:
            raise ConfigError("sources: an athena source needs `database` and `table`")
        store = AthenaCostStore(athena.database, athena.table, athena.workgroup, athena.output_location,
                                athena.region, athena.table_format)
    else:
        duck = DuckDBCostStore(store_path(settings), threads=duckdb_threads)
        duck.index_tags(config.indexed_tag_keys())
        store = duck

    def today() -> date:
        return settings.today(config.timezone)

    return Services(
        settings=settings,
        config=config,
        costs=CostService(store, config, today),
        ingest=IngestService(store),
    )


def build_web_client(settings: Settings) -> Any:
    """slack_sdk WebClient on SLACK_API_URL with retries for 429 (Retry-After) and connection errors."""
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    token = settings.get("SLACK_BOT_TOKEN")
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…; see README: Install in your workspace)")
    base_url = settings.slack_api_url
    if not base_url.endswith("/"):
        base_url += "/"
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)],
    )


def build_slack_app(services: Services, socket_mode: bool = False) -> App:
    """The Bolt app with every listener registered. Request signatures are always verified in HTTP mode."""
    from slack_bolt import App

    from handlers import actions, commands, errors, home, resources

    settings = services.settings
    signing_secret = settings.get("SLACK_SIGNING_SECRET")
    if not signing_secret and not socket_mode:
        raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request's signature")
    app = App(
        client=build_web_client(settings),
        signing_secret=signing_secret or "unused-in-socket-mode",
        request_verification_enabled=not socket_mode,
        process_before_response=True,  # acks run inline in the request; work runs as lazy listeners
        listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS, thread_name_prefix="costbot-listener"),
    )
    errors.register(app)
    commands.register(app, services)
    actions.register(app, services)
    home.register(app, services)
    resources.register(app, services)
    return app


def build_socket_mode_handler(slack: App, app_token: str) -> Any:
    """Socket Mode over slack_sdk's built-in websocket client; `.start()` blocks, `.connect()` does not."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    return SocketModeHandler(slack, app_token, ping_interval=30)


def build_wsgi(services: Services, slack: App) -> Any:
    """The HTTP entry point: Slack's requests at /slack/events and the health check at /healthz."""
    from bot.web import CostbotWsgi

    return CostbotWsgi(slack, lambda: health(services))


def health(services: Services) -> dict[str, Any]:
    store = services.costs.store
    through = store.freshness()
    return {
        "status": "ok",
        "version": __version__,
        "store": {"data_through": through.isoformat() if through else None, "rows": store.row_count()},
    }

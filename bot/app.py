"""Composition root: settings -> adapters -> use cases -> entry points (the Slack app, the HTTP server, the
scheduler, the CLI). The only module that imports concrete adapters, handlers/ and bot/jobs.py. Nothing happens
at import time, and building the application does no I/O: stores, databases and clients open at first use.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import __version__
from bot.config import CostbotConfig, Settings, memory_limit_problem
from bot.domain.errors import ConfigError, CostbotError
from bot.services.container import UseCases

if TYPE_CHECKING:
    from slack_bolt import App

    from bot.adapters.shared_store import SharedCostStore
    from bot.adapters.slack_publisher import SlackDigestPublisher
    from bot.adapters.state.database import StateDatabase
    from bot.domain.status import OperatorStatus
    from bot.jobs import CostbotScheduler
    from bot.ports import (
        ActionNotifier,
        CostQueries,
        EstimateNotifier,
        ExperimentTracker,
        InsightNotifier,
        PriceSource,
        ResourceProvider,
        ScheduleNotifier,
    )
    from bot.services.ingest import IngestService

log = logging.getLogger("costbot")

LISTENER_THREADS = 2  # answers are CPU-bound on DuckDB; more threads only fight over the GIL
SERVE_DUCKDB_THREADS = 1  # many concurrent answers: one core each beats all cores each (bench/RESULTS.md)
SHUTDOWN_SECONDS = 8.0  # on SIGTERM/SIGINT, time to finish work in flight; `docker stop` kills after 10 s
HTTP_DRAIN_SECONDS = 3.0  # of which for requests in progress (acks are immediate; the work is in the pool)
ADMIN_TOKEN_MIN_LENGTH = 16


def store_path(settings: Settings) -> Path:
    return settings.data_dir / "costs.duckdb"


class Application:
    """One process's costbot: its adapters (built on first use), its use cases, and how to run it."""

    def __init__(self, settings: Settings | None = None, config: CostbotConfig | None = None,
                 duckdb_threads: int | None = None) -> None:
        """`duckdb_threads` caps each query's threads (COSTBOT_DUCKDB_THREADS overrides, else `store.threads`): a
        server answering many questions at once does better with one thread per query than with every query on
        all cores. The store's memory is `store.memory_limit` unless COSTBOT_DUCKDB_MEMORY says otherwise."""
        self.settings = settings or Settings()
        self.config = config or self.settings.config
        configured = self.settings.get("COSTBOT_DUCKDB_THREADS")
        if configured is not None:
            if not configured.isdigit() or int(configured) < 1:
                raise ConfigError(f"COSTBOT_DUCKDB_THREADS must be a positive number, got '{configured}'")
            duckdb_threads = int(configured)
        self.duckdb_threads = duckdb_threads or self.config.store.threads
        memory = self.settings.get("COSTBOT_DUCKDB_MEMORY")
        if memory is not None and (problem := memory_limit_problem(memory)) is not None:
            raise ConfigError(f"COSTBOT_DUCKDB_MEMORY: {problem}")
        self.duckdb_memory = memory.strip() if memory is not None else self.config.store.memory_limit

    def today(self) -> date:
        return self.settings.today(self.config.timezone)

    # -- adapters ----------------------------------------------------------------------------------------
    @cached_property
    def engine(self) -> CostQueries | None:
        """A configured query engine (Athena) answers questions in place of the embedded store."""
        from bot.adapters.sources import query_engine

        return query_engine(self.config)

    @cached_property
    def cost_store(self) -> SharedCostStore | None:
        """The embedded DuckDB store of the data folder (None when a query engine holds the data): held by this
        process, or by the costbot process that holds the file and serves it on the data folder's socket."""
        if self.engine is not None:
            return None
        from bot.adapters.duckdb_store import DuckDBCostStore
        from bot.adapters.shared_store import SharedCostStore
        from bot.adapters.store_service import socket_path

        def open_store() -> DuckDBCostStore:
            return DuckDBCostStore(store_path(self.settings), threads=self.duckdb_threads,
                                   memory_limit=self.duckdb_memory,
                                   index_keys=self.config.indexed_tag_keys())

        return SharedCostStore(open_store, socket_path(self.settings.data_dir))

    def hold_store(self) -> None:
        """For the long-lived processes (serve, scheduler): hold the store now and serve it to the costbot commands
        run beside them — or, when another process holds it already, go through that one."""
        store = self.cost_store
        if store is None:
            return
        store.publish = True
        store.rest_when_idle(self.config.store.idle_release_seconds)
        try:
            role = store.connect()
        except CostbotError as exc:  # e.g. a long `costbot ingest` holds the file: answers wait for it
            log.warning("the cost store is not available yet: %s", exc)
            return
        log.info("cost store: %s", {"owner": "held by this process and served to local costbot commands",
                                     "client": "held by another costbot process; going through it",
                                     "alone": "held by this process"}[role])

    @property
    def queries(self) -> CostQueries:
        return self.engine if self.engine is not None else self.cost_store  # type: ignore[return-value]

    @cached_property
    def state(self) -> StateDatabase:
        from bot.adapters.state.database import StateDatabase

        return StateDatabase(self.settings.database_url)

    @cached_property
    def slack_client(self) -> Any | None:
        return build_web_client(self.settings) if self.settings.get("SLACK_BOT_TOKEN") else None

    @cached_property
    def publisher(self) -> SlackDigestPublisher | None:
        from bot.adapters.slack_publisher import SlackDigestPublisher

        return SlackDigestPublisher(self.slack_client) if self.slack_client is not None else None

    @cached_property
    def action_notifier(self) -> ActionNotifier | None:
        from bot.adapters.slack_actions import SlackActionNotifier

        if self.publisher is None:
            return None
        return SlackActionNotifier(self.slack_client, self.publisher.channel_id, self.config.currency,
                                   self.config.approvers, self.config.rules.snooze_days)

    @cached_property
    def insight_notifier(self) -> InsightNotifier | None:
        from bot.adapters.slack_insights import SlackInsightNotifier

        if self.publisher is None:
            return None
        return SlackInsightNotifier(self.slack_client, self.publisher.channel_id, self.config.currency)

    @cached_property
    def schedule_notifier(self) -> ScheduleNotifier | None:
        from bot.adapters.slack_schedules import SlackScheduleNotifier

        if self.publisher is None:
            return None
        return SlackScheduleNotifier(self.slack_client, self.publisher.channel_id)

    @cached_property
    def estimate_notifier(self) -> EstimateNotifier | None:
        from bot.adapters.slack_estimates import SlackEstimateNotifier

        if self.publisher is None:
            return None
        return SlackEstimateNotifier(self.slack_client, self.publisher.channel_id)

    @cached_property
    def prices(self) -> PriceSource:
        """The Price List API (cached in the data folder) over the bundled tables, or the tables alone."""
        from bot.adapters.providers.aws.price_list import AwsPriceList, BundledPrices

        if self.config.estimate.prices == "bundled":
            return BundledPrices()
        return AwsPriceList(self.settings.data_dir / "price-cache.json", self.config.estimate.price_cache_days,
                            BundledPrices(), today=self.today())

    def experiment_tracker(self) -> ExperimentTracker:
        """MLflow at experiments.mlflow.tracking_uri, else MLFLOW_TRACKING_URI (built when a sync needs it)."""
        from bot.adapters.mlflow_tracker import MlflowTracker

        settings = self.config.experiments.mlflow
        uri = settings.tracking_uri or self.settings.get("MLFLOW_TRACKING_URI")
        if not uri:
            raise ConfigError("no MLflow tracking server: set experiments.mlflow.tracking_uri in costbot.yml or "
                              "MLFLOW_TRACKING_URI")
        return MlflowTracker(uri, settings.training_job_tag, settings.epochs_keys)

    @cached_property
    def providers(self) -> dict[str, ResourceProvider]:
        """Keyed by configured name (unique, validated): two providers of one kind stay two."""
        from bot.adapters import providers

        return {cfg.name: providers.create(cfg, self.config.rules, self.state) for cfg in self.config.providers}

    def resource_key(self, billing_resource_id: str) -> str | None:
        """A billing line's ResourceId -> the key the actions feature uses, from the provider that manages it."""
        return next((key for p in self.providers.values() if (key := p.resource_key(billing_resource_id))), None)

    def reset_demo(self) -> int:
        """Every demo provider's resources back to how the demo organization describes them (`costbot demo`);
        returns how many had been changed."""
        from bot.adapters.providers.demo import DemoProvider

        return sum(p.reset() for p in self.providers.values() if isinstance(p, DemoProvider))

    # -- use cases ---------------------------------------------------------------------------------------
    @cached_property
    def ingest_service(self) -> IngestService:
        """Ingest alone: `costbot ingest` needs no other service (nor charts, Slack or the state database), so
        a month's command starts in a fraction of a second."""
        from bot.services.ingest import IngestService

        config, store = self.config, self.cost_store
        return IngestService(store, store, config.source_complements(), [s.label for s in config.sources],
                             config.admins)

    @cached_property
    def use_cases(self) -> UseCases:
        from bot.adapters.sources import pull_sources
        from bot.adapters.state.actions_repository import SqlActionStore
        from bot.adapters.state.approvals_repository import SqlPlanApprovalStore
        from bot.adapters.state.insights_repository import SqlInsightStore
        from bot.adapters.state.repository import SqlSubscriptionStore
        from bot.adapters.state.schedules_repository import SqlScheduleStore
        from bot.adapters.terraform import TerraformPlanReader
        from bot.services.actions import ActionService
        from bot.services.allocation import AllocationService
        from bot.services.anomalies import AnomalyService
        from bot.services.answers import AnswerService
        from bot.services.budgets import BudgetService
        from bot.services.compliance import ComplianceService
        from bot.services.digests import DigestBuilder, DigestService
        from bot.services.enforcement import EnforcementService
        from bot.services.estimate import EstimateService
        from bot.services.experiments import ExperimentService
        from bot.services.exports import ExportService
        from bot.services.home import HomeService
        from bot.services.resource_costs import ResourceCostService
        from bot.services.scans import ScanService
        from bot.services.schedules import ScheduleService
        from bot.services.scopes import ScopeResolver
        from bot.services.sync import SyncService

        config, today, queries = self.config, self.today, self.queries
        store = self.cost_store
        scopes = ScopeResolver(queries, config)
        allocation = AllocationService(queries, scopes, config, usage=store)
        answers = AnswerService(queries, scopes, allocation, config, today)
        compliance = ComplianceService(queries, scopes, config, today)
        insight_store = SqlInsightStore(self.state)
        budgets = BudgetService(queries, scopes, config, insight_store, self.insight_notifier, today)
        anomalies = AnomalyService(queries, scopes, config, insight_store, self.insight_notifier, today,
                                   self.resource_key)
        action_store = SqlActionStore(self.state)
        actions = ActionService(self.providers, action_store, config, self.action_notifier, today,
                                budgets=budgets, anomalies=anomalies)
        resource_costs = ResourceCostService(queries, config)
        scans = ScanService(list(self.providers.values()), action_store, config, self.action_notifier, today,
                            refresh=actions.refresh_messages, costs=resource_costs)
        schedules = ScheduleService(list(self.providers.values()), SqlScheduleStore(self.state), actions, config,
                                    self.schedule_notifier, costs=resource_costs)
        builder = DigestBuilder(queries, scopes, budgets, compliance, anomalies, actions, config, today,
                                schedule_savings=schedules.saved_all)
        return UseCases(
            answers=answers, allocation=allocation, compliance=compliance,
            ingest=self.ingest_service,
            sync=SyncService(pull_sources(config), store, today, config.source_complements()),
            budgets=budgets, anomalies=anomalies,
            digests=DigestService(builder, SqlSubscriptionStore(self.state), self.publisher, config),
            scans=scans, actions=actions,
            enforcement=EnforcementService(config, budgets, actions, list(self.providers.values())),
            home=HomeService(answers, budgets, actions, config),
            estimates=EstimateService(TerraformPlanReader(), self.prices, budgets, config,
                                      SqlPlanApprovalStore(self.state), self.estimate_notifier, today),
            experiments=ExperimentService(queries, config, self.experiment_tracker, self.prices.gpus, today),
            exports=ExportService(answers, allocation, config),
            schedules=schedules,
        )

    # -- entry points ------------------------------------------------------------------------------------
    def slack_app(self, socket_mode: bool = False) -> App:
        """The Bolt app with every listener registered. Request signatures are always verified in HTTP mode."""
        from slack_bolt import App

        from handlers import actions, answers, commands, errors, estimates, home, schedules

        signing_secret = self.settings.get("SLACK_SIGNING_SECRET")
        if not signing_secret and not socket_mode:
            raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request's signature")
        app = App(
            client=build_web_client(self.settings),
            signing_secret=signing_secret or "unused-in-socket-mode",
            request_verification_enabled=not socket_mode,  # behind the intake gate (bot/web.py): defence in depth
            process_before_response=True,  # acks run inline in the request; work runs as lazy listeners
            listener_executor=ThreadPoolExecutor(max_workers=LISTENER_THREADS,
                                                 thread_name_prefix="costbot-listener"),
            # Bolt's loggers inherit levels from this one instead of copying the root level when they are made
            logger=logging.getLogger("slack_bolt.App"),
            raise_error_for_unhandled_request=True,  # to errors.on_error, instead of a warning quoting the body
        )
        from bot.adapters.slack_client import counted_copy

        @app.middleware
        def counted_client(context: Any, next: Callable[[], Any]) -> Any:
            """Bolt hands each request a fresh WebClient built from the app's: the listeners get a counted one."""
            context["client"] = counted_copy(context.client)
            return next()

        errors.register(app)
        for listeners in (commands, answers, actions, estimates, home, schedules):
            listeners.register(app, self.use_cases, self.config)
        return app

    def wsgi(self, slack: App | None) -> Any:
        """The HTTP entry point: Slack's requests at /slack/events (verified by the intake gate; none in Socket
        Mode, `slack` None), liveness at /healthz and, with COSTBOT_ADMIN_TOKEN set, version and store details at
        /admin/status and Prometheus metrics at /metrics."""
        from bot.web import CostbotWsgi

        signing_secret = self.settings.get("SLACK_SIGNING_SECRET")
        if not signing_secret and slack is not None:
            raise ConfigError("SLACK_SIGNING_SECRET is not set: HTTP mode verifies every request's signature")
        admin_token = self.settings.get("COSTBOT_ADMIN_TOKEN")
        if admin_token is not None and len(admin_token.strip()) < ADMIN_TOKEN_MIN_LENGTH:
            raise ConfigError(f"COSTBOT_ADMIN_TOKEN must be at least {ADMIN_TOKEN_MIN_LENGTH} characters "
                              "(e.g. `openssl rand -hex 32`)")
        return CostbotWsgi(slack, self.health, signing_secret=signing_secret,
                           admin_token=admin_token.strip() if admin_token else None, metrics=self.metrics)

    def metrics(self) -> tuple[bytes, str]:
        """The Prometheus exposition: the process's counters (bot/telemetry.py) and the store's figures."""
        from bot import telemetry

        queries = self.queries
        return telemetry.exposition(telemetry.StoreCollector(queries.row_count, queries.freshness))

    def socket_mode_handler(self, slack: App, app_token: str) -> Any:
        """Socket Mode over slack_sdk's built-in websocket client; `.start()` blocks, `.connect()` does not."""
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        return SocketModeHandler(slack, app_token, ping_interval=30)

    def scheduler(self, **options: Any) -> CostbotScheduler:
        from bot.adapters.state.repository import SqlLeaseStore
        from bot.jobs import CostbotScheduler

        return CostbotScheduler(self.use_cases, SqlLeaseStore(self.state), self.config, **options)

    def health(self) -> dict[str, Any]:
        """The details behind GET /admin/status (GET /healthz says only that the process is up)."""
        through = self.queries.freshness()
        return {
            "status": "ok",
            "version": __version__,
            "store": {"data_through": through.isoformat() if through else None, "rows": self.queries.row_count()},
        }

    def status(self) -> OperatorStatus:
        """`costbot status`: what an operator asks first, from the store, the state database and the config."""
        from datetime import UTC, datetime

        from bot.adapters.state.actions_repository import SqlActionStore
        from bot.adapters.state.repository import SqlLeaseStore, SqlSubscriptionStore
        from bot.domain.capacity import warehouse_advice
        from bot.domain.status import OperatorStatus, PlannedRun, RecentError, SourceStatus, WaitingApproval
        from bot.jobs import LEASE_NAME, planned_runs

        now = datetime.now(UTC)
        uc, store = self.use_cases, self.cost_store
        where = store.describe() if store is not None else "a query engine (Athena): the data stays in place"

        def utc(at: datetime | None) -> datetime | None:
            return at.replace(tzinfo=UTC) if at is not None and at.tzinfo is None else at

        sources = tuple(SourceStatus(h.name, h.rows, utc(h.last_loaded), utc(h.last_sync), h.configured)
                        for h in (uc.ingest.holdings() if store is not None else ()))
        lease = SqlLeaseStore(self.state).lease_holder(LEASE_NAME)
        leader = lease if lease is not None and lease[1] > now else None
        runs = planned_runs(self.config, uc.digests.subscriptions(), bool(uc.sync.sources), now)
        actions = SqlActionStore(self.state)
        errors = [RecentError(e.at, f"{e.action} {e.resource_key.split('|')[-1]}", e.error or "failed")
                  for e in actions.audit(200) if e.result == "failed"][:5]
        errors += [RecentError(at, f"digest {sub_id} due {key}", error or "failed")
                   for sub_id, key, error, at in SqlSubscriptionStore(self.state).failed_runs(5)]
        overdue = timedelta(hours=2 * self.config.sync_every_hours)
        errors += [RecentError(s.last_sync or now, f"source {s.name}",
                               f"no successful sync in {2 * self.config.sync_every_hours} h")
                   for s in sources if s.configured and (s.last_sync is None or now - s.last_sync > overdue)]
        rows, data_through = self.queries.row_count(), self.queries.freshness()
        advice = warehouse_advice(rows, self.queries.first_day(), data_through) if store is not None else ()
        return OperatorStatus(
            version=__version__, store=where, rows=rows, data_through=data_through, advice=advice,
            sources=sources, leader=leader[0] if leader else None, leader_until=leader[1] if leader else None,
            runs=tuple(PlannedRun(job, what, at) for job, what, at in runs),
            approvals=tuple(WaitingApproval(r.id, r.action, r.resource_key, r.team, r.requested_by, r.expires_at)
                            for r in actions.requests_in(["requested"])),
            errors=tuple(sorted(errors, key=lambda e: e.at, reverse=True)),
        )

    def close(self) -> None:
        if self.cost_store is not None:
            self.cost_store.close()

    # -- running ------------------------------------------------------------------------------------------
    def playground(self, host: str = "127.0.0.1", port: int = 3000, announce: Callable[[str], None] = print) -> None:
        """`costbot playground`: the app behind a local page that stands in for Slack (bot/playground/), until
        SIGTERM/SIGINT. The app is this one's settings and config with Slack pointed at the page."""
        from bot.playground.server import Playground

        def build(values: dict[str, str]) -> Application:
            return Application(self.settings.with_values(values), self.config, self.duckdb_threads)

        stop = _stop_on_signals()
        playground = Playground(build, host, port).start()
        announce(playground.url)
        stop.wait()
        playground.stop()

    def run_scheduler(self, host: str = "0.0.0.0") -> None:
        """`costbot scheduler`: the scheduler alone until SIGTERM/SIGINT; one instance is active. Health and
        metrics on $PORT, as `serve` has."""
        from bot.web import make_server

        self.duckdb_threads = self.duckdb_threads or SERVE_DUCKDB_THREADS
        self.hold_store()
        stop = _stop_on_signals()
        health = _serving_in_background(make_server(self.wsgi(None), host, self.settings.port), stop)
        runner = self.scheduler()
        runner.start()
        stop.wait()
        log.info("stopping: finishing running jobs (up to %.0f s)", SHUTDOWN_SECONDS)
        finished = runner.stop(timeout=stop.remaining())
        _exit_after_stop(health(stop.remaining()) and finished)

    def serve(self, http: bool = False, socket: bool = False, host: str = "0.0.0.0",
              with_scheduler: bool = True) -> None:
        """`costbot serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT, until SIGTERM/SIGINT:
        then no new requests, work in flight finished (up to 8 s), the scheduler lease released."""
        if http and socket:
            raise ConfigError("choose one of --http and --socket")
        self.duckdb_threads = self.duckdb_threads or SERVE_DUCKDB_THREADS
        use_socket = socket or (not http and bool(self.settings.get("SLACK_APP_TOKEN")))
        app_token = self.settings.get("SLACK_APP_TOKEN")
        if use_socket and not app_token:
            raise ConfigError("SLACK_APP_TOKEN is not set (the app-level token, xapp-…) for Socket Mode")
        self.hold_store()
        slack = self.slack_app(socket_mode=use_socket)
        if use_socket:
            receiver: Any = self.socket_mode_handler(slack, app_token or "")
        else:
            from bot.web import make_server

            receiver = make_server(self.wsgi(slack), host, self.settings.port)
        stop = _stop_on_signals()
        side_server = None
        if use_socket:  # no Slack route, but health and metrics on $PORT for probes and Prometheus
            from bot.web import make_server

            side_server = _serving_in_background(make_server(self.wsgi(None), host, self.settings.port), stop)
        scheduler_stopped: Callable[[], bool] = lambda: True  # noqa: E731
        if with_scheduler:
            runner = self.scheduler()
            runner.start()
            scheduler_stopped = _stop_scheduler_on(stop, runner)
        if use_socket:
            log.info("starting in Socket Mode")
            receiver.connect()
            stop.wait()
            log.info("stopping: closing the Socket Mode connection, finishing work in flight")
            receiver.close()  # no new envelopes; the ones being handled are finished first
            finished = side_server is None or side_server(stop.remaining())
        else:
            log.info("listening on http://%s:%s (Slack: POST /slack/events, health: GET /healthz)", host,
                     receiver.effective_port)
            finished = receiver.serve(stop, drain_seconds=HTTP_DRAIN_SECONDS)  # returns once stopped and drained
            log.info("stopping: no new requests; finishing work in flight")
        finished = shutdown_listeners(slack, stop.remaining()) and finished
        finished = scheduler_stopped() and finished
        _exit_after_stop(finished)


# -- Slack clients ---------------------------------------------------------------------------------------------
def _server_error_retry_handler() -> Any:
    """slack_sdk's ServerErrorRetryHandler (exponential backoff with jitter) on every 5xx, not only 500 and 503:
    502 and 504 from Slack's edge are just as transient."""
    from slack_sdk.http_retry.builtin_handlers import ServerErrorRetryHandler

    class AnyServerErrorRetryHandler(ServerErrorRetryHandler):
        def _can_retry(self, *, state: Any, request: Any, response: Any = None, error: Any = None) -> bool:
            return response is not None and 500 <= response.status_code < 600

    return AnyServerErrorRetryHandler(max_retry_count=2)


def build_web_client(settings: Settings) -> Any:
    """slack_sdk WebClient on SLACK_API_URL, retrying 429 (Retry-After), connection errors and 5xx (backoff)."""
    from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

    from bot.adapters.slack_client import CountedWebClient

    token = settings.get("SLACK_BOT_TOKEN")
    if not token:
        raise ConfigError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…; see README: Install in your workspace)")
    base_url = settings.slack_api_url
    if not base_url.endswith("/"):
        base_url += "/"
    return CountedWebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3),
                        _server_error_retry_handler()],
    )


def _serving_in_background(server: Any, stop: threading.Event) -> Callable[[float], bool]:
    """Runs `server` (bot/web.py HttpServer) on a thread until `stop` is set; the returned function waits for it
    to drain (up to its argument in seconds) and says whether it did."""
    drained: list[bool] = []
    thread = threading.Thread(target=lambda: drained.append(server.serve(stop, drain_seconds=HTTP_DRAIN_SECONDS)),
                              name="costbot-health-server", daemon=True)
    thread.start()
    log.info("health and metrics on http://%s:%s (GET /healthz, GET /metrics)", server.waitress.adj.host,
             server.effective_port)

    def wait(timeout: float) -> bool:
        thread.join(timeout)
        return bool(drained and drained[0])

    return wait


def shutdown_listeners(slack: App, timeout: float) -> bool:
    """Let the listener pool finish the work it holds (running and queued lazy listeners) for up to `timeout`
    seconds; no new work is accepted. Returns whether it finished."""
    executor = slack.listener_runner.listener_executor
    done = threading.Thread(target=executor.shutdown, kwargs={"wait": True}, name="costbot-listener-drain",
                            daemon=True)
    done.start()
    done.join(timeout)
    return not done.is_alive()


# -- signals ---------------------------------------------------------------------------------------------------
class _Stop(threading.Event):
    """Set by the first SIGTERM (`docker stop`) or SIGINT (Ctrl-C); a second one kills the process at once."""

    deadline = 0.0  # time.monotonic() by which work in flight must be done

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def _stop_on_signals() -> _Stop:
    stop = _Stop()

    def on_signal(signum: int, frame: object) -> None:
        stop.deadline = time.monotonic() + SHUTDOWN_SECONDS
        stop.set()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, signal.SIG_DFL)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    return stop


def _stop_scheduler_on(stop: _Stop, runner: Any) -> Callable[[], bool]:
    """Stops the scheduler as soon as `stop` is set (no new jobs while the rest winds down); the returned
    function waits for that and says whether its jobs finished."""
    finished: list[bool] = []

    def stopper() -> None:
        stop.wait()
        finished.append(runner.stop(timeout=stop.remaining()))

    thread = threading.Thread(target=stopper, name="costbot-scheduler-stop", daemon=True)
    thread.start()

    def wait() -> bool:
        thread.join(stop.remaining() + 1.0)  # its own bound, plus the lease release
        return bool(finished and finished[0])

    return wait


def _exit_after_stop(finished: bool) -> None:
    """Return normally (exit 0) when everything finished. Otherwise exit 1 now: work still running holds
    non-daemon pool threads, and the interpreter would wait for them past any deadline."""
    if finished:
        log.info("stopped")
        return
    log.warning("stopped with work unfinished")
    logging.shutdown()
    os._exit(1)


# -- the `costbot` command -----------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """The CLI with this composition root behind it."""
    from bot import cli

    return cli.main(argv, Application)


def run() -> None:
    sys.exit(main())

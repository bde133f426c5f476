"""The `costbot` command line (Typer). Commands parse, call one service, render; errors are shown in `main`."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot import __version__
from bot.app import build_services
from bot.config import Settings, load_config
from bot.domain.answers import CostAnswer
from bot.domain.errors import CostbotError
from bot.domain.query import HelpRequest, help_text

app = typer.Typer(
    name="costbot",
    help="Cloud spend answers for ML teams: what it costs, who spent it, what to switch off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        out.print(f"costbot {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """costbot: answers in Slack and in the terminal."""


def _write_chart(services_costs: object, answer: CostAnswer, path: Path) -> Path:
    from bot.render.charts import stacked_daily_png
    from bot.services.costs import CostService

    assert isinstance(services_costs, CostService)
    png = stacked_daily_png(services_costs.chart_series(answer))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


@app.command()
def ask(
    text: Annotated[list[str] | None, typer.Argument(help='The question, e.g. "team-ml last-week by service"')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (see README).")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", help="Also write a PNG chart to this file.")] = None,
) -> None:
    """Answer a cost question in the /cost language."""
    from bot.render.json_out import answer_to_json
    from bot.render.terminal import render_answer

    services = build_services()
    result = services.answers.ask(" ".join(text or []))
    if isinstance(result, HelpRequest):
        out.print(help_text(services.config.grammar, "costbot ask"), markup=False, highlight=False)
        return
    if as_json:
        sys.stdout.write(json.dumps(answer_to_json(result)) + "\n")
    else:
        out.print(render_answer(result))
    if chart is not None:
        written = _write_chart(services.costs, result, chart)
        (err if as_json else out).print(f"Chart written to {written}", markup=False, highlight=False)


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="FOCUS or AWS CUR files (.csv, .csv.gz, .parquet) or folders")],
    source: Annotated[str | None, typer.Option(help="Source label; a re-ingest replaces the same "
                                                     "source's billing periods. Default: focus or cur.")] = None,
) -> None:
    """Load billing files into the store, all or nothing."""
    from bot.render.terminal import render_ingest_summary

    services = build_services()
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        task = progress.add_task("Validating", total=None)

        def on_file(path: Path, index: int, count: int) -> None:
            progress.update(task, total=count, completed=index + 1, description=f"Read {path.name}")

        summary = services.ingest.ingest(paths, source=source, progress=on_file)
    out.print(render_ingest_summary(summary))


@app.command()
def demo(
    days: Annotated[int, typer.Option(min=14, max=1000, help="Days of history up to yesterday.")] = 180,
) -> None:
    """Generate a demo ML organization's billing data, ingest it and show sample answers."""
    from bot.demo import write_demo_csv
    from bot.render.terminal import render_answer

    settings = Settings()
    config = load_config(None)
    today = settings.today(config.timezone)
    folder = settings.data_dir / "demo"
    csv_path = folder / "focus-demo.csv"
    rows = write_demo_csv(csv_path, today, days)
    config_path = settings.data_dir / "demo-costbot.yml"
    config_path.write_text(resources.files("bot").joinpath("demo_config.yml").read_text(encoding="utf-8"),
                           encoding="utf-8")
    services = build_services(settings, config)
    summary = services.ingest.ingest([csv_path], source="demo")
    out.print(f"[bold green]Demo data:[/] {rows:,} FOCUS rows for {days} days up to {today.isoformat()} "
              f"(exclusive) in {csv_path}")
    out.print(f"Ingested {summary.rows:,} rows into {settings.data_dir / 'costs.duckdb'}; "
              f"demo config written to {config_path}\n")
    samples = ("team-ml last-week", "last-month by team", "mtd by service top 5")
    chart_path = folder / "chart-last-30d-by-team.png"
    for text in samples:
        out.rule(f"costbot ask \"{text}\"")
        result = services.costs.ask(text)
        assert not isinstance(result, HelpRequest)
        out.print(render_answer(result))
    answer = services.costs.ask("last-30d by team")
    assert not isinstance(answer, HelpRequest)
    _write_chart(services.costs, answer, chart_path)
    out.print(f"\nChart of the last 30 days by team: {chart_path}")
    out.print('Try: costbot ask "team-vision last-30d by resource top 5"')


@app.command()
def digest(
    scope: Annotated[str, typer.Argument(help='A /cost scope, e.g. "team-ml" or "project:fraud"; "" for all.')] = "",
    weekly: Annotated[bool, typer.Option("--weekly", help="The weekly digest instead of the daily one.")] = False,
    preview: Annotated[Path | None, typer.Option(help="Write the blocks (JSON) and the chart (PNG) here.")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post it to Slack now.")] = False,
    channel: Annotated[str | None, typer.Option(help="Channel for --post (default: the team's channel).")] = None,
) -> None:
    """Build a digest: preview it as files, or post it now."""
    from bot.domain.errors import ConfigError
    from bot.render.blocks import digest_blocks
    from bot.render.charts import digest_png

    services = build_services()
    cadence = "weekly" if weekly else "daily"
    if preview is None and not post:
        raise ConfigError("say what to do: --preview DIR and/or --post")
    built = services.digests.builder.build(scope, cadence)
    if preview is not None:
        preview.mkdir(parents=True, exist_ok=True)
        stem = f"digest-{(scope or 'all').replace(':', '-').replace(' ', '_')}-{cadence}"
        (preview / f"{stem}.json").write_text(json.dumps([b.to_dict() for b in digest_blocks(built)], indent=2))
        if built.chart is not None:
            (preview / f"{stem}.png").write_bytes(digest_png(built.chart))
        out.print(f"Wrote {preview / (stem + '.json')} and {preview / (stem + '.png')}")
    if post:
        target = channel or (services.config.teams[scope].channel if scope in services.config.teams else None)
        if not target:
            raise ConfigError(f"no channel for '{scope}': pass --channel")
        services.digests.post_now(target, scope, cadence)
        out.print(f"Posted the {cadence} digest for {scope or 'all teams'} to {target}")


@app.command()
def scheduler() -> None:
    """Run the scheduler alone (for deployments with several web replicas): one instance is active."""
    import logging

    from bot.jobs import CostbotScheduler
    from bot.logs import setup_logging

    settings = Settings()
    setup_logging(settings.get("COSTBOT_LOG_FORMAT", "json") or "json", settings.get("COSTBOT_LOG_LEVEL", "INFO")
                  or "INFO")
    services = build_services(settings, duckdb_threads=SERVE_DUCKDB_THREADS)
    stop = _stop_on_signals()
    runner = CostbotScheduler(services)
    runner.start()
    stop.wait()
    logging.getLogger("costbot").info("stopping: finishing running jobs (up to %.0f s)", SHUTDOWN_SECONDS)
    _exit_after_stop(runner.stop(timeout=stop.remaining()))


@app.command()
def scan(
    post: Annotated[bool, typer.Option("--post/--no-post", help="Post each team's resources to its channel.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recommendations as JSON.")] = False,
) -> None:
    """Find idle and oversized resources through the configured providers."""
    from rich.table import Table

    from bot.domain.errors import ConfigError
    from bot.domain.money import format_money

    services = build_services()
    if not services.config.providers:
        raise ConfigError("no providers configured: add `providers: [{kind: aws, regions: [us-east-1]}]`")
    result = services.scanner.scan(post=post and services.slack_client is not None)
    if as_json:
        sys.stdout.write(json.dumps({
            "resources": result.resources,
            "monthly_savings": float(result.monthly_savings),
            "requests": result.requests,
            "recommendations": [{
                "resource": r.resource_key, "name": r.name, "kind": r.kind, "team": r.team, "type": r.resource_type,
                "target_type": r.target_type, "reason": r.reason,
                "monthly_savings": float(r.monthly_savings) if r.monthly_savings is not None else None,
            } for r in result.recommendations],
        }) + "\n")
        return
    table = Table(title=f"{len(result.recommendations)} recommendations from {result.resources} resources")
    for col in ("resource", "team", "type", "finding", "saves/month"):
        table.add_column(col)
    for r in result.recommendations:
        target = f" → {r.target_type}" if r.target_type else ""
        saving = format_money(r.monthly_savings, services.config.currency, whole=True) if r.monthly_savings else "–"
        table.add_row(r.name, r.team or "–", r.resource_type + target, f"{r.kind}: {r.reason}", saving)
    out.print(table)
    calls = ", ".join(f"{k} {v}" for k, v in sorted(result.requests.items()))
    out.print(f"Total ~{format_money(result.monthly_savings, services.config.currency, whole=True)}/month · "
              f"posted to {len(result.posted)} channel(s) · API requests: {calls}")


@app.command()
def audit(
    limit: Annotated[int, typer.Argument(min=1, max=1000, help="How many entries.")] = 20,
    details: Annotated[bool, typer.Option("--details", help="Add the cloud's own error text (for operators; "
                                                            "never shown in Slack).")] = False,
) -> None:
    """The most recent actions: who, what, before, after, result."""
    from rich.table import Table

    services = build_services()
    table = Table(title="Recent actions")
    for col in ("when (UTC)", "who", "action", "resource", "result", "before → after / error"):
        table.add_column(col)
    for e in services.actions.audit(limit):
        detail = e.error or (f"{e.before} → {e.after}" if e.before or e.after else "")
        if details and e.detail:
            detail += f"\n{e.detail}"
        table.add_row(e.at.strftime("%Y-%m-%d %H:%M"), e.actor, e.action, e.resource_key.split("|")[-1],
                      e.result + (" (dry run)" if e.dry_run else ""), escape(detail))
    out.print(table)


@app.command()
def sync(
    source: Annotated[str | None, typer.Option(help="Only this source (its `name`, or its kind).")] = None,
    since: Annotated[str | None, typer.Option(help="Backfill from this month (YYYY-MM); default: the current "
                                                   "and the previous month.")] = None,
) -> None:
    """Pull the configured billing sources into the store (each one atomically)."""
    from datetime import date

    from bot.domain.errors import ConfigError

    start = None
    if since is not None:
        try:
            start = date.fromisoformat(f"{since}-01")
        except ValueError:
            raise ConfigError(f"--since must be YYYY-MM, got '{since}'") from None
    services = build_services()
    if not services.sync.sources:
        raise ConfigError("no sources configured (see `sources:` in costbot.example.yml)")
    failed = False
    for r in services.sync.sync(source, start):
        calls = ", ".join(f"{k} {v}" for k, v in sorted(r.requests.items())) or "no API requests"
        if r.ok:
            out.print(f"[green]✓[/] {r.name}: {r.note}; {r.rows:,} rows ingested ({calls})")
        else:
            failed = True
            err.print(f"[red]✗[/] {r.name}: {r.error} ({calls})", soft_wrap=True)
    through = services.costs.store.freshness()
    out.print(f"Billing data through {through.isoformat() if through else '–'}")
    if failed:
        raise typer.Exit(1)


sources_app = typer.Typer(help="Billing sources.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
def sources_check() -> None:
    """Verify credentials and permissions for each source; print what is missing."""
    services = build_services()
    bad = False
    for name, problems in services.sync.check().items():
        source = next(s for s in services.sync.sources if s.name == name)
        needs = ", ".join(getattr(source, "PERMISSIONS", ())) or "read access to the folder"
        if problems:
            bad = True
            err.print(f"[red]✗[/] {name} ({source.kind}): needs {needs}", soft_wrap=True)
            for p in problems:
                err.print(f"    {p}", soft_wrap=True, markup=False)
        else:
            out.print(f"[green]✓[/] {name} ({source.kind})")
    if bad:
        raise typer.Exit(1)


@app.command()
def budgets(
    scope: Annotated[str | None, typer.Argument(help="One scope (default: every budgeted one).")] = None,
    anomalies: Annotated[bool, typer.Option("--anomalies", help="Also list the last 30 days' anomalies.")] = False,
) -> None:
    """Budgets: month to date, % used, weekday-aware forecast, run-out day; optionally recent anomalies."""
    from bot.render.insight_blocks import anomaly_text, budget_lines

    services = build_services()
    for name in [scope] if scope else services.insights.budgeted_scopes():
        status = services.insights.status(name)
        out.rule(f"{name} · {status.month:%B %Y}")
        for line in budget_lines(status):
            out.print(line.replace("*", ""), markup=False)
    if anomalies:
        out.rule("Anomalies, last 30 days")
        for a in services.insights.recent():
            out.print(anomaly_text(a, services.config.currency).replace("*", ""), markup=False)


tags_app = typer.Typer(help="Tag compliance.", no_args_is_help=True)
app.add_typer(tags_app, name="tags")


@tags_app.command("report")
def tags_report(
    period: Annotated[str, typer.Option(help="A /cost period word.")] = "last-month",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Untagged spend, its trend, the top untagged resources and services, coverage per account and tag."""
    from bot.render.insight_blocks import compliance_lines

    report = build_services().compliance.report(period)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    out.rule(f"Tag compliance · {report.period.describe()}")
    for line in compliance_lines(report):
        out.print(line.replace("*", ""), markup=False)


@app.command()
def export(
    period: Annotated[str, typer.Option(help="A /cost period word, e.g. last-month or 2026-10.")] = "last-month",
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    output: Annotated[Path | None, typer.Option(help="File to write (default showback-START.FORMAT).")] = None,
) -> None:
    """Showback for finance: allocated cost per team, project and service, with the rule of each shared line."""
    import csv as csv_module

    from bot.domain.errors import ConfigError
    from bot.domain.periods import resolve_period

    if fmt not in ("csv", "parquet"):
        raise ConfigError("--format must be csv or parquet")
    services = build_services()
    span = resolve_period(period, services.costs.today())
    rows = services.answers.showback(span.start, span.end)
    path = output or Path(f"showback-{span.start.isoformat()}.{fmt}")
    header = ["period_start", "period_end", "team", "project", "service", "kind", "rule", "cost", "currency"]
    records = [[span.start.isoformat(), span.end.isoformat(), t, p, svc, kind, rule, str(cost),
                services.config.currency] for t, p, svc, kind, rule, cost in rows]
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv_module.writer(fh)
            writer.writerow(header)
            writer.writerows(records)
    else:
        import duckdb

        con = duckdb.connect()
        con.execute("CREATE TABLE showback (period_start DATE, period_end DATE, team VARCHAR, project VARCHAR, "
                    "service VARCHAR, kind VARCHAR, rule VARCHAR, cost DECIMAL(18,6), currency VARCHAR)")
        con.executemany("INSERT INTO showback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
        con.execute("COPY showback TO ? (FORMAT parquet)", [str(path)])
        con.close()
    out.print(f"Wrote {len(records):,} rows for {span.describe()} to {path}")


@app.command("ingest-usage")
def ingest_usage(path: Annotated[Path, typer.Argument(help="CSV with columns date, team, metric, quantity")]) -> None:
    """Load usage metrics (e.g. GPU-hours per team) for `method: usage` allocation rules."""
    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.app import store_path

    settings = Settings()
    rows = DuckDBCostStore(store_path(settings)).ingest_usage(path)
    out.print(f"Loaded {rows:,} usage rows from {path}")


SERVE_DUCKDB_THREADS = 1  # many concurrent answers: one core each beats all cores each (bench/RESULTS.md)
SHUTDOWN_SECONDS = 8.0  # on SIGTERM/SIGINT, time to finish work in flight; `docker stop` kills after 10 s
HTTP_DRAIN_SECONDS = 3.0  # of which for requests in progress (acks are immediate; the work is in the pool)


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
    import logging

    log = logging.getLogger("costbot")
    if finished:
        log.info("stopped")
        return
    log.warning("stopped with work unfinished")
    logging.shutdown()
    os._exit(1)


@app.command()
def serve(
    http: Annotated[bool, typer.Option("--http", help="Force HTTP mode (POST /slack/events on $PORT).")] = False,
    socket: Annotated[bool, typer.Option("--socket", help="Force Socket Mode (needs SLACK_APP_TOKEN).")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on in HTTP mode.")] = "0.0.0.0",
    with_scheduler: Annotated[bool, typer.Option("--scheduler/--no-scheduler",
                                                 help="Run the digest scheduler in this process.")] = True,
) -> None:
    """Run the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT.

    SIGTERM or SIGINT stops it gracefully: no new requests, work in flight finished (up to 8 s), lease released.
    """
    import logging

    from bot.app import build_slack_app, shutdown_listeners
    from bot.domain.errors import ConfigError
    from bot.logs import setup_logging

    settings = Settings()
    setup_logging(settings.get("COSTBOT_LOG_FORMAT", "json") or "json", settings.get("COSTBOT_LOG_LEVEL", "INFO")
                  or "INFO")
    log = logging.getLogger("costbot")
    if http and socket:
        raise ConfigError("choose one of --http and --socket")
    use_socket = socket or (not http and bool(settings.get("SLACK_APP_TOKEN")))
    app_token = settings.get("SLACK_APP_TOKEN")
    if use_socket and not app_token:
        raise ConfigError("SLACK_APP_TOKEN is not set (the app-level token, xapp-…) for Socket Mode")
    services = build_services(settings, duckdb_threads=SERVE_DUCKDB_THREADS)
    slack = build_slack_app(services, socket_mode=use_socket)
    if use_socket:
        from bot.app import build_socket_mode_handler

        receiver: Any = build_socket_mode_handler(slack, app_token or "")
    else:
        from bot.app import build_wsgi
        from bot.web import make_server

        receiver = make_server(build_wsgi(services, slack), host, settings.port)
    stop = _stop_on_signals()
    scheduler_stopped: Callable[[], bool] = lambda: True  # noqa: E731
    if with_scheduler:
        from bot.jobs import CostbotScheduler

        runner = CostbotScheduler(services)
        runner.start()
        scheduler_stopped = _stop_scheduler_on(stop, runner)
    if use_socket:
        log.info("starting in Socket Mode")
        receiver.connect()
        stop.wait()
        log.info("stopping: closing the Socket Mode connection, finishing work in flight")
        receiver.close()  # no new envelopes; the ones being handled are finished first
        finished = True
    else:
        log.info("listening on http://%s:%s (Slack: POST /slack/events, health: GET /healthz)", host,
                 receiver.effective_port)
        finished = receiver.serve(stop, drain_seconds=HTTP_DRAIN_SECONDS)  # returns once stopped and drained
        log.info("stopping: no new requests; finishing work in flight")
    finished = shutdown_listeners(slack, stop.remaining()) and finished
    finished = scheduler_stopped() and finished
    _exit_after_stop(finished)


def main(argv: list[str] | None = None) -> int:
    """Entry point: one place turns domain errors into messages and exit codes."""
    try:
        app(args=argv, prog_name="costbot")  # standalone: usage errors print their help and exit
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        err.print(str(exc.code))
        return 1
    except CostbotError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()

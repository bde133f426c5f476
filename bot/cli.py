"""The `costbot` command line (Typer): an entry point beside Slack and the scheduler. Commands parse, call the use
cases, render; errors are shown in `main`. The application behind it comes from the composition root, which
hands `main` a factory (bot/app.py `run`): this module never imports the root."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Protocol

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bot import __version__
from bot.config import CostbotConfig, Settings, load_config
from bot.domain.answers import CostAnswer
from bot.domain.errors import ConfigError, CostbotError, QueryError
from bot.domain.query import Query, TagsCommand
from bot.services.container import UseCases
from bot.words import answer_in_terminal


class Application(Protocol):
    """What the CLI needs of the composition root: the use cases, and how to run the long-lived processes."""

    settings: Settings
    config: CostbotConfig

    @property
    def use_cases(self) -> UseCases: ...

    def serve(self, http: bool, socket: bool, host: str, with_scheduler: bool) -> None: ...

    def run_scheduler(self) -> None: ...

    def close(self) -> None: ...


ApplicationFactory = Callable[..., Application]

app = typer.Typer(
    name="costbot",
    help="Cloud spend answers for ML teams: what it costs, who spent it, what to switch off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True)


def _application(ctx: typer.Context, **options: Any) -> Application:
    """The application for this command, closed (its store released) when the command ends."""
    factory: ApplicationFactory = ctx.find_root().obj
    application = factory(**options)
    ctx.call_on_close(application.close)
    return application


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


def _write_chart(uc: UseCases, answer: CostAnswer, path: Path) -> Path:
    from bot.render.charts import stacked_daily_png

    png = stacked_daily_png(uc.answers.chart_series(answer))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png)
    return path


@app.command()
def ask(
    ctx: typer.Context,
    text: Annotated[list[str] | None, typer.Argument(help='The question, e.g. "team-ml last-week by service"')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (see README).")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", help="Also write a PNG chart to this file.")] = None,
) -> None:
    """Answer anything /cost answers in Slack: a question, or budget, anomalies, idle, tags, audit, help."""
    from bot.render.json_out import answer_to_json

    application = _application(ctx)
    uc = application.use_cases
    word, result, parsed = answer_in_terminal(uc, application.config, " ".join(text or []))
    if (as_json or chart is not None) and not isinstance(parsed, Query | TagsCommand):
        raise QueryError("--json and --chart go with questions (and --json with `tags`)", word=word.word)
    if as_json:
        payload = answer_to_json(result) if isinstance(parsed, Query) else result.to_json()
        sys.stdout.write(json.dumps(payload) + "\n")
    else:
        out.print(word.terminal(result, application.config))
    if chart is not None:
        written = _write_chart(uc, result, chart)
        (err if as_json else out).print(f"Chart written to {written}", markup=False, highlight=False)


@app.command()
def ingest(
    ctx: typer.Context,
    paths: Annotated[list[Path], typer.Argument(help="FOCUS or AWS CUR files (.csv, .csv.gz, .parquet) or folders")],
    source: Annotated[str | None, typer.Option(help="Source label; a re-ingest replaces the same "
                                                     "source's billing periods. Default: focus or cur.")] = None,
    replace_source: Annotated[list[str] | None, typer.Option(
        "--replace-source", help="Also replace what this other source holds for the billing accounts and months "
                                 "the files carry (else such an overlap is refused).")] = None,
) -> None:
    """Load billing files into the store, all or nothing."""
    from bot.render.terminal import render_ingest_summary

    uc = _application(ctx).use_cases
    with Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err, transient=True) as progress:
        task = progress.add_task("Validating", total=None)

        def on_file(path: Path, index: int, count: int) -> None:
            progress.update(task, total=count, completed=index + 1, description=f"Read {path.name}")

        summary = uc.ingest.ingest(paths, source=source, progress=on_file, replace_sources=replace_source or [])
    out.print(render_ingest_summary(summary))


@app.command()
def demo(
    ctx: typer.Context,
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
    uc = _application(ctx, settings=settings, config=config).use_cases
    summary = uc.ingest.ingest([csv_path], source="demo")
    out.print(f"[bold green]Demo data:[/] {rows:,} FOCUS rows for {days} days up to {today.isoformat()} "
              f"(exclusive) in {csv_path}")
    out.print(f"Ingested {summary.rows:,} rows into {settings.data_dir / 'costs.duckdb'}; "
              f"demo config written to {config_path}\n")
    samples = ("team-ml last-week", "last-month by team", "mtd by service top 5")
    chart_path = folder / "chart-last-30d-by-team.png"
    for text in samples:
        out.rule(f"costbot ask \"{text}\"")
        out.print(render_answer(_question(uc, text)))
    _write_chart(uc, _question(uc, "last-30d by team"), chart_path)
    out.print(f"\nChart of the last 30 days by team: {chart_path}")
    out.print('Try: costbot ask "team-vision last-30d by resource top 5"')


def _question(uc: UseCases, text: str) -> CostAnswer:
    parsed = uc.answers.parse(text)
    assert isinstance(parsed, Query)
    return uc.answers.answer(parsed)


@app.command()
def digest(
    ctx: typer.Context,
    scope: Annotated[str, typer.Argument(help='A /cost scope, e.g. "team-ml" or "project:fraud"; "" for all.')] = "",
    weekly: Annotated[bool, typer.Option("--weekly", help="The weekly digest instead of the daily one.")] = False,
    preview: Annotated[Path | None, typer.Option(help="Write the blocks (JSON) and the chart (PNG) here.")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post it to Slack now.")] = False,
    channel: Annotated[str | None, typer.Option(help="Channel for --post (default: the team's channel).")] = None,
) -> None:
    """Build a digest: preview it as files, or post it now."""
    from bot.render.charts import digest_png
    from bot.render.digest_blocks import digest_blocks

    application = _application(ctx)
    uc = application.use_cases
    cadence = "weekly" if weekly else "daily"
    if preview is None and not post:
        raise ConfigError("say what to do: --preview DIR and/or --post")
    built = uc.digests.build(scope, cadence)
    if preview is not None:
        preview.mkdir(parents=True, exist_ok=True)
        stem = f"digest-{(scope or 'all').replace(':', '-').replace(' ', '_')}-{cadence}"
        (preview / f"{stem}.json").write_text(json.dumps([b.to_dict() for b in digest_blocks(built)], indent=2))
        if built.chart is not None:
            (preview / f"{stem}.png").write_bytes(digest_png(built.chart))
        out.print(f"Wrote {preview / (stem + '.json')} and {preview / (stem + '.png')}", markup=False)
    if post:
        target = channel or (application.config.channel_for(scope) if scope in application.config.teams else None)
        if not target:
            raise ConfigError(f"no channel for '{scope}': pass --channel")
        uc.digests.post_now(target, scope, cadence)
        out.print(f"Posted the {cadence} digest for {scope or 'all teams'} to {target}", markup=False)


def _setup_logging(settings: Settings) -> None:
    from bot.logs import setup_logging

    setup_logging(settings.get("COSTBOT_LOG_FORMAT", "json") or "json", settings.get("COSTBOT_LOG_LEVEL", "INFO")
                  or "INFO")


@app.command()
def scheduler(ctx: typer.Context) -> None:
    """Run the scheduler alone (for deployments with several web replicas): one instance is active.
    SIGTERM or SIGINT stops it gracefully: running jobs finished (up to 8 s), the lease released."""
    settings = Settings()
    _setup_logging(settings)
    _application(ctx, settings=settings).run_scheduler()


@app.command()
def scan(
    ctx: typer.Context,
    post: Annotated[bool, typer.Option("--post/--no-post", help="Post each team's resources to its channel.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the recommendations as JSON.")] = False,
) -> None:
    """Find idle and oversized resources through the configured providers."""
    from rich.table import Table
    from rich.text import Text

    from bot.domain.money import format_money, to_cents

    application = _application(ctx)
    if not application.config.providers:
        raise ConfigError("no providers configured: add `providers: [{kind: aws, regions: [us-east-1]}]`")
    currency = application.config.currency
    result = application.use_cases.scans.scan(post=post)
    if as_json:
        sys.stdout.write(json.dumps({
            "resources": result.resources,
            "monthly_savings": float(to_cents(result.monthly_savings)),
            "requests": result.requests,
            "recommendations": [{
                "resource": r.resource_key, "name": r.name, "kind": r.kind, "team": r.team, "type": r.resource_type,
                "target_type": r.target_type, "reason": r.reason,
                "monthly_savings": float(to_cents(r.monthly_savings)) if r.monthly_savings is not None else None,
            } for r in result.recommendations],
        }) + "\n")
        return
    table = Table(title=f"{len(result.recommendations)} recommendations from {result.resources} resources")
    for col in ("resource", "team", "type", "finding", "saves/month"):
        table.add_column(col)
    for r in result.recommendations:
        target = f" → {r.target_type}" if r.target_type else ""
        saving = format_money(r.monthly_savings, currency, whole=True) if r.monthly_savings else "–"
        table.add_row(Text(r.name), Text(r.team or "–"), Text(r.resource_type + target), Text(f"{r.kind}: {r.reason}"),
                      saving)
    out.print(table)
    calls = ", ".join(f"{k} {v}" for k, v in sorted(result.requests.items()))
    out.print(f"Total ~{format_money(result.monthly_savings, currency, whole=True)}/month · "
              f"posted to {len(result.posted)} channel(s) · API requests: {calls}", markup=False)


@app.command()
def audit(
    ctx: typer.Context,
    limit: Annotated[int, typer.Argument(min=1, max=1000, help="How many entries.")] = 20,
    details: Annotated[bool, typer.Option("--details", help="Add the cloud's own error text (for operators; "
                                                            "never shown in Slack).")] = False,
) -> None:
    """The most recent actions: who, what, before, after, result."""
    from bot.render.terminal import render_audit

    out.print(render_audit(_application(ctx).use_cases.actions.audit(limit), details=details))


@app.command()
def sync(
    ctx: typer.Context,
    source: Annotated[str | None, typer.Option(help="Only this source (its `name`, or its kind).")] = None,
    since: Annotated[str | None, typer.Option(help="Backfill from this month (YYYY-MM); default: the current "
                                                   "and the previous month.")] = None,
    replace_source: Annotated[list[str] | None, typer.Option(
        "--replace-source", help="Also replace what this other source holds for the billing accounts and months "
                                 "a source re-reads (else such an overlap fails that source).")] = None,
) -> None:
    """Pull the configured billing sources into the store (each one atomically)."""
    from datetime import date

    start = None
    if since is not None:
        try:
            start = date.fromisoformat(f"{since}-01")
        except ValueError:
            raise ConfigError(f"--since must be YYYY-MM, got '{since}'") from None
    uc = _application(ctx).use_cases
    if not uc.sync.sources:
        raise ConfigError("no sources configured (see `sources:` in costbot.example.yml)")
    failed = False
    for r in uc.sync.sync(source, start, replace_sources=replace_source or []):
        calls = ", ".join(f"{k} {v}" for k, v in sorted(r.requests.items())) or "no API requests"
        if r.ok:
            out.print(f"[green]✓[/] {escape(r.name)}: {escape(r.note)}; {r.rows:,} rows ingested ({calls})")
        else:
            failed = True
            err.print(f"[red]✗[/] {escape(r.name)}: {escape(r.error or '')} ({calls})", soft_wrap=True)
    through = uc.answers.data_through()
    out.print(f"Billing data through {through.isoformat() if through else '–'}")
    if failed:
        raise typer.Exit(1)


sources_app = typer.Typer(help="Billing sources.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("check")
def sources_check(ctx: typer.Context) -> None:
    """Verify credentials and permissions for each source; print what is missing."""
    bad = False
    for check in _application(ctx).use_cases.sync.check():
        needs = ", ".join(check.permissions) or "read access to the folder"
        if check.problems:
            bad = True
            err.print(f"[red]✗[/] {escape(check.name)} ({check.kind}): needs {needs}", soft_wrap=True)
            for p in check.problems:
                err.print(f"    {p}", soft_wrap=True, markup=False)
        else:
            out.print(f"[green]✓[/] {escape(check.name)} ({check.kind})")
    if bad:
        raise typer.Exit(1)


@sources_app.command("list")
def sources_list(ctx: typer.Context) -> None:
    """What each source holds: billing accounts, months, rows, totals, last change and last sync."""
    from bot.render.terminal import render_sources

    application = _application(ctx)
    out.print(render_sources(application.use_cases.ingest.holdings(), application.config.currency))


@app.command()
def budgets(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Argument(help="One scope (default: every budgeted one).")] = None,
    anomalies: Annotated[bool, typer.Option("--anomalies", help="Also list the last 30 days' anomalies (evaluated "
                                                                "now, as `costbot ask anomalies` does).")] = False,
) -> None:
    """Budgets: month to date, % used, weekday-aware forecast, run-out day; optionally recent anomalies."""
    from bot.render.terminal import render_anomalies, render_budgets

    application = _application(ctx)
    uc = application.use_cases
    names = [scope] if scope else uc.budgets.budgeted_scopes()
    out.print(render_budgets([uc.budgets.status(name) for name in names]))
    if anomalies:
        out.print(render_anomalies(uc.anomalies.findings(scope or "", "last-30d"), application.config.currency))


tags_app = typer.Typer(help="Tag compliance.", no_args_is_help=True)
app.add_typer(tags_app, name="tags")


@tags_app.command("report")
def tags_report(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(help="A /cost period word.")] = "last-month",
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Untagged spend, its trend, the top untagged resources and services, coverage per account and tag."""
    from bot.render.terminal import render_compliance

    report = _application(ctx).use_cases.compliance.report(period)
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    out.print(render_compliance(report))


@app.command()
def export(
    ctx: typer.Context,
    period: Annotated[str, typer.Option(help="A /cost period word, e.g. last-month or 2026-10.")] = "last-month",
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    output: Annotated[Path | None, typer.Option(help="File to write (default showback-START.FORMAT).")] = None,
) -> None:
    """Showback for finance: allocated cost per team, project and service, with the rule of each shared line."""
    import csv as csv_module

    from bot.domain.money import minor_unit, plain_amount

    if fmt not in ("csv", "parquet"):
        raise ConfigError("--format must be csv or parquet")
    application = _application(ctx)
    showback = application.use_cases.exports.showback(period)
    span, currency = showback.period, showback.currency
    path = output or Path(f"showback-{span.start.isoformat()}.{fmt}")
    header = ["period_start", "period_end", "team", "project", "service", "kind", "rule", "cost", "currency"]
    records = [[span.start.isoformat(), span.end.isoformat(), r.team, r.project, r.service, r.kind, r.rule,
                plain_amount(r.cost, currency), currency] for r in showback.rows]
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv_module.writer(fh)
            writer.writerow(header)
            writer.writerows(records)
    else:
        import duckdb

        scale = len(str(minor_unit(currency)).partition(".")[2])  # decimal places of the minor unit
        con = duckdb.connect()
        con.execute("CREATE TABLE showback (period_start DATE, period_end DATE, team VARCHAR, project VARCHAR, "
                    f"service VARCHAR, kind VARCHAR, rule VARCHAR, cost DECIMAL(18,{scale}), currency VARCHAR)")
        con.executemany("INSERT INTO showback VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", records)
        con.execute("COPY showback TO ? (FORMAT parquet)", [str(path)])
        con.close()
    out.print(f"Wrote {len(records):,} rows for {span.describe()} to {path}", markup=False)


@app.command("ingest-usage")
def ingest_usage(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with columns date, team, metric, quantity")],
) -> None:
    """Load usage metrics (e.g. GPU-hours per team) for `method: usage` allocation rules."""
    rows = _application(ctx).use_cases.ingest.ingest_usage(path)
    out.print(f"Loaded {rows:,} usage rows from {path}", markup=False)


@app.command()
def serve(
    ctx: typer.Context,
    http: Annotated[bool, typer.Option("--http", help="Force HTTP mode (POST /slack/events on $PORT).")] = False,
    socket: Annotated[bool, typer.Option("--socket", help="Force Socket Mode (needs SLACK_APP_TOKEN).")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on in HTTP mode.")] = "0.0.0.0",
    with_scheduler: Annotated[bool, typer.Option("--scheduler/--no-scheduler",
                                                 help="Run the digest scheduler in this process.")] = True,
) -> None:
    """Run the Slack app: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT.

    SIGTERM or SIGINT stops it gracefully: no new requests, work in flight finished (up to 8 s), lease released.
    """
    settings = Settings()
    _setup_logging(settings)
    _application(ctx, settings=settings).serve(http=http, socket=socket, host=host, with_scheduler=with_scheduler)


def main(argv: list[str] | None, factory: ApplicationFactory) -> int:
    """Run the CLI with the application `factory` behind it: one place turns domain errors into messages and
    exit codes."""
    try:
        app(args=argv, prog_name="costbot", obj=factory)  # standalone: usage errors print their help and exit
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

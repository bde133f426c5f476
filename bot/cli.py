"""The `costbot` command line (Typer): an entry point beside Slack and the scheduler. Commands parse, call the use
cases, render; errors are shown in `main`. The application behind it comes from the composition root, which
hands `main` a factory (bot/app.py `run`): this module never imports the root."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo

import typer
import typer.main
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text
from typer.core import TyperOption

from bot import __version__
from bot.config import CostbotConfig, Settings, load_config
from bot.domain.answers import CostAnswer
from bot.domain.errors import ConfigError, CostbotError, QueryError
from bot.domain.query import Query, SavingsCommand, TagsCommand
from bot.domain.status import OperatorStatus
from bot.services.container import UseCases
from bot.services.ingest import IngestService
from bot.words import answer_in_terminal


class Application(Protocol):
    """What the CLI needs of the composition root: the use cases, and how to run the long-lived processes."""

    settings: Settings
    config: CostbotConfig

    @property
    def use_cases(self) -> UseCases: ...

    @property
    def ingest_service(self) -> IngestService: ...

    def serve(self, http: bool, socket: bool, host: str, with_scheduler: bool) -> None: ...

    def run_scheduler(self, host: str) -> None: ...

    def reset_demo(self) -> int: ...

    def playground(self, host: str, port: int, announce: Callable[[str], None]) -> None: ...

    def status(self) -> OperatorStatus: ...

    def close(self) -> None: ...


ApplicationFactory = Callable[..., Application]

app = typer.Typer(
    name="costbot",
    help="Cloud spend answers for ML teams: what it costs, who spent it, what to switch off.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
NO_WRAP = 100_000  # a file or a pipe: every line as long as it is


def _console(stderr: bool = False) -> Console:
    """The terminal's own width; in a file or a pipe no wrapping at all (a path or a table row stays one line)."""
    console = Console(stderr=stderr)
    return console if console.is_terminal else Console(stderr=stderr, width=NO_WRAP)


out = _console()
err = _console(stderr=True)


def _application(ctx: typer.Context, **options: Any) -> Application:
    """The application for this command, closed (its store released) when the command ends."""
    factory: ApplicationFactory = ctx.find_root().obj
    application = factory(**options)
    ctx.call_on_close(application.close)
    return application


Step = Callable[[str, int, int], None]  # (what now, done, count)


class _Rate(ProgressColumn):
    """Items a second, in the command's own unit."""

    def __init__(self, unit: str) -> None:
        super().__init__()
        self.unit = unit

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f} {self.unit}/s" if task.speed else "", style="dim")


@contextmanager
def _progress(unit: str) -> Iterator[Step]:
    """On a terminal, a Rich progress bar with counts, a rate and the time so far (gone when done); in a file or a
    pipe nothing: the command prints one summary line when it is done."""
    if not err.is_terminal:
        yield lambda what, done, count: None
        return
    columns = (SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn(unit), _Rate(unit), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("starting", total=None)
        yield lambda what, done, count: progress.update(task, description=escape(what), completed=done,
                                                        total=count)


def _took(started: float, count: int, unit: str) -> str:
    """`3,717 rows in 0.5 s, 8,176 rows/s`; `1 digest in 0.7 s`."""
    seconds = max(time.perf_counter() - started, 1e-6)
    if count == 1:
        return f"1 {unit.removesuffix('s')} in {seconds:.1f} s"
    return f"{count:,} {unit} in {seconds:.1f} s, {count / seconds:,.0f} {unit}/s"


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


CHART_FORMATS = ("png", "svg", "pdf")  # what bot/render/charts.py writes


def _chart_path(value: Path | None) -> Path | None:
    """--chart FILE: the suffix says the format; anything else is refused before any work is done."""
    if value is not None and value.suffix.lower().lstrip(".") not in CHART_FORMATS:
        raise typer.BadParameter(f"name the file .png, .svg or .pdf (the suffix says the format), not "
                                 f"'{value.suffix or value.name}'")
    return value


def _write_chart(uc: UseCases, answer: CostAnswer, path: Path) -> Path:
    from bot.render.charts import chart_bytes

    data = chart_bytes(uc.answers.chart_series(answer), path.suffix.lower().lstrip("."))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@app.command()
def ask(
    ctx: typer.Context,
    text: Annotated[list[str] | None, typer.Argument(metavar="QUESTION...",
                                                     help='The question, e.g. "team-ml last-week by service"')] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object (see README).")] = False,
    chart: Annotated[Path | None, typer.Option("--chart", metavar="FILE", callback=_chart_path,
                                               help="Also write a chart to FILE: .png, .svg or .pdf.")] = None,
) -> None:
    """Answer anything /cost answers in Slack: a question, or budget, anomalies, idle, savings, tags, audit, help."""
    from bot.render.json_out import answer_to_json

    application = _application(ctx)
    uc = application.use_cases
    word, result, parsed = answer_in_terminal(uc, application.config, " ".join(text or []))
    if (as_json and not isinstance(parsed, Query | TagsCommand | SavingsCommand)) or (
            chart is not None and not isinstance(parsed, Query | TagsCommand)):
        raise QueryError("--json and --chart go with questions (and --json with `tags` and `savings`)",
                         word=word.word)
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

    ingest_service = _application(ctx).ingest_service
    started = time.perf_counter()
    with _progress("files") as step:
        summary = ingest_service.ingest(paths, source=source,
                                        progress=lambda path, index, count: step(f"Read {path.name}", index + 1,
                                                                                 count),
                                        replace_sources=replace_source or [])
    out.print(render_ingest_summary(summary))
    out.print(f"Ingested {_took(started, summary.rows, 'rows')}", markup=False)


@app.command()
def demo(
    ctx: typer.Context,
    days: Annotated[int, typer.Option(min=14, max=1000, help="Days of history up to yesterday.")] = 180,
) -> None:
    """Generate a demo ML organization's billing data, ingest it and show sample answers."""
    from bot.demo import write_demo_csv
    from bot.render.terminal import heading, render_answer

    settings = Settings()
    config = load_config(None)
    today = settings.today(config.timezone)
    folder = settings.data_dir / "demo"
    csv_path = folder / "focus-demo.csv"
    rows = write_demo_csv(csv_path, today, days)
    config_path = settings.data_dir / "demo-costbot.yml"
    config_path.write_text(resources.files("bot").joinpath("demo_config.yml").read_text(encoding="utf-8"),
                           encoding="utf-8")
    application = _application(ctx, settings=settings, config=config)
    uc = application.use_cases
    summary = uc.ingest.ingest([csv_path], source="demo")
    application.reset_demo()
    out.print(f"[bold green]Demo data:[/] {rows:,} FOCUS rows for {days} days up to {today.isoformat()} "
              f"(exclusive) in {csv_path}")
    out.print(f"Ingested {summary.rows:,} rows into {settings.data_dir / 'costs.duckdb'}; "
              f"demo config written to {config_path}\n")
    samples = ("team-ml last-week", "last-month by team", "mtd by service top 5")
    chart_path = folder / "chart-last-30d-by-team.png"
    for text in samples:
        out.print(heading(f"costbot ask \"{text}\""))
        out.print(render_answer(_question(uc, text)))
    _write_chart(uc, _question(uc, "last-30d by team"), chart_path)
    out.print(f"\nChart of the last 30 days by team: {chart_path}", markup=False)
    out.print("Next: costbot ask \"team-vision last-30d by resource top 5\" · costbot digest team-ml --preview out/ · "
              "costbot scan · costbot action stop gpu-dev-02 --as U0ML00001 · costbot audit", markup=False)


def _question(uc: UseCases, text: str) -> CostAnswer:
    parsed = uc.answers.parse(text)
    assert isinstance(parsed, Query)
    return uc.answers.answer(parsed)


@app.command()
def digest(
    ctx: typer.Context,
    scopes: Annotated[list[str] | None, typer.Argument(
        metavar="SCOPE...", help='/cost scopes, e.g. team-ml "project:fraud"; none: the whole organization; '
                                 '"teams": every team.')] = None,
    weekly: Annotated[bool, typer.Option("--weekly", help="The weekly digest instead of the daily one.")] = False,
    preview: Annotated[Path | None, typer.Option(metavar="DIR",
                                                 help="Write the blocks (JSON) and the chart (PNG) here.")] = None,
    post: Annotated[bool, typer.Option("--post", help="Post it to Slack now.")] = False,
    channel: Annotated[str | None, typer.Option(help="Channel for --post (default: the team's channel).")] = None,
) -> None:
    """Build digests: preview them as files, or post them now."""
    from bot.render.charts import digest_png
    from bot.render.digest_blocks import digest_blocks

    application = _application(ctx)
    uc = application.use_cases
    cadence = "weekly" if weekly else "daily"
    if preview is None and not post:
        raise ConfigError("say what to do: --preview DIR and/or --post")
    teams = list(application.config.teams)
    wanted = [one for scope in (scopes or [""]) for one in (teams if scope == "teams" else [scope])]
    started = time.perf_counter()
    written: list[Path] = []
    with _progress("digests") as step:
        for done, scope in enumerate(wanted):
            step(f"Digest {scope or 'all teams'}", done, len(wanted))
            built = uc.digests.build(scope, cadence)
            if preview is not None:
                preview.mkdir(parents=True, exist_ok=True)
                stem = f"digest-{(scope or 'all').replace(':', '-').replace(' ', '_')}-{cadence}"
                (preview / f"{stem}.json").write_text(json.dumps([b.to_dict() for b in digest_blocks(built)],
                                                                 indent=2))
                written.append(preview / f"{stem}.json")
                if built.chart is not None:
                    (preview / f"{stem}.png").write_bytes(digest_png(built.chart))
                    written.append(preview / f"{stem}.png")
            if post:
                config = application.config
                target = channel or (config.channel_for(scope) if scope in config.teams else None)
                if not target:
                    raise ConfigError(f"no channel for '{scope}': pass --channel")
                uc.digests.post_now(target, scope, cadence)
                out.print(f"Posted the {cadence} digest for {scope or 'all teams'} to {target}", markup=False)
    if written:
        names = " and ".join(str(p) for p in written) if len(written) <= 2 else f"{len(written)} files to {preview}"
        out.print(f"Wrote {names} ({_took(started, len(wanted), 'digests')})", markup=False)


def _setup_logging(settings: Settings) -> None:
    from bot.logs import setup_logging

    setup_logging(settings.get("COSTBOT_LOG_FORMAT", "json") or "json", settings.get("COSTBOT_LOG_LEVEL", "INFO")
                  or "INFO")


@app.command()
def status(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What an operator asks first: version, store rows and data through, sources and their last sync, the
    scheduler's leader and next runs, approvals waiting, recent errors."""
    from bot.render.terminal import render_status

    report = _application(ctx).status()
    if as_json:
        sys.stdout.write(json.dumps(report.to_json()) + "\n")
        return
    out.print(render_status(report))


@app.command()
def scheduler(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface for health and metrics ($PORT).")] = "0.0.0.0",
) -> None:
    """Run the scheduler alone (for deployments with several web replicas): one instance is active.
    SIGTERM or SIGINT stops it gracefully: running jobs finished (up to 8 s), the lease released."""
    settings = Settings()
    _setup_logging(settings)
    _application(ctx, settings=settings).run_scheduler(host=host)


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
    with _progress("providers") as step:
        result = application.use_cases.scans.scan(post=post, progress=lambda name, done, count: step(
            f"Scanning {name}" if done < count else "Posting", done, count))
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
    out.print(table if result.recommendations else
              f"No idle or oversized resources among {result.resources} resources.")
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


action_app = typer.Typer(help="Act on resources as a Slack user's click would: Stop, Resize, Snooze, approve, "
                                "reject, Undo.", no_args_is_help=True)
app.add_typer(action_app, name="action")

ActingUser = Annotated[str, typer.Option("--as", metavar="USER_ID",
                                         help="The Slack user id to act as: approvals follow the config's "
                                              "approvers and admins, and the audit names them.")]
ResourceName = Annotated[str, typer.Argument(metavar="RESOURCE",
                                             help="A resource's name (as `costbot ask idle` lists it) or its key.")]
RequestNumber = Annotated[int, typer.Argument(metavar="REQUEST", min=1, help="The request number an action printed.")]


def _acted(ctx: typer.Context, act: Callable[[UseCases], Any], named: str | None = None) -> None:
    from bot.render.terminal import render_outcome

    application = _application(ctx)
    out.print(render_outcome(act(application.use_cases), application.config.currency, named))


@action_app.command("stop")
def action_stop(ctx: typer.Context, resource: ResourceName, user: ActingUser) -> None:
    """Stop a resource an open recommendation offers (an approver's request runs at once)."""
    _acted(ctx, lambda uc: uc.actions.request(uc.actions.resource_named(resource), "stop", user), resource)


@action_app.command("resize")
def action_resize(ctx: typer.Context, resource: ResourceName, user: ActingUser) -> None:
    """Resize an oversized resource to the size its recommendation names."""
    _acted(ctx, lambda uc: uc.actions.request(uc.actions.resource_named(resource), "resize", user), resource)


@action_app.command("delete")
def action_delete(ctx: typer.Context, resource: ResourceName, user: ActingUser) -> None:
    """Snapshot & delete an unattached volume, or delete a snapshot whose volume is gone, as its recommendation
    offers."""
    _acted(ctx, lambda uc: uc.actions.request(uc.actions.resource_named(resource), "delete", user), resource)


@action_app.command("approve")
def action_approve(ctx: typer.Context, request: RequestNumber, user: ActingUser) -> None:
    """Approve a waiting request (the team's approvers and admins): it runs at once."""
    _acted(ctx, lambda uc: uc.actions.approve(request, user))


@action_app.command("reject")
def action_reject(ctx: typer.Context, request: RequestNumber, user: ActingUser) -> None:
    """Reject a waiting request."""
    _acted(ctx, lambda uc: uc.actions.reject(request, user))


@action_app.command("undo")
def action_undo(ctx: typer.Context, request: RequestNumber, user: ActingUser) -> None:
    """Undo a Stop (start it again), a Resize (the old size or tier) or a Snapshot & delete (a volume from the
    snapshot), within `rules.undo_hours`."""
    _acted(ctx, lambda uc: uc.actions.undo(request, user))


@action_app.command("snooze")
def action_snooze(ctx: typer.Context, resource: ResourceName, user: ActingUser) -> None:
    """Snooze a resource for `rules.snooze_days` (a costbot:snooze-until tag on the resource itself)."""
    uc = _application(ctx).use_cases
    done = uc.actions.snooze(uc.actions.resource_named(resource), user)
    what = "Dry run: would snooze" if done.dry_run else "Snoozed"
    out.print(f"{what} {done.resource} until {done.until.isoformat()} (tag costbot:snooze-until)", markup=False)


@app.command()
def enforce(ctx: typer.Context) -> None:
    """Run the budget enforcement rules now (the scheduler does it hourly): each step once per team and month."""
    done = _application(ctx).use_cases.enforcement.enforce()
    if not done:
        out.print("No enforcement rules (enforcement: in costbot.yml).")
    for team, steps in done.items():
        out.print(f"{team}: {', '.join(steps) or 'nothing to do this month'}", markup=False)


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
    with _progress("sources") as step:
        results = uc.sync.sync(source, start, progress=lambda name, done, count: step(
            f"Syncing {name}" if done < count else "Done", done, count), replace_sources=replace_source or [])
    for r in results:
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
    from bot.render.terminal import heading, render_anomalies, render_budgets

    application = _application(ctx)
    uc = application.use_cases
    names = [scope] if scope else uc.budgets.budgeted_scopes()
    out.print(render_budgets([uc.budgets.status(name) for name in names]))
    if anomalies:
        out.print(heading("Anomalies, last 30 days"))
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


@app.command()
def fold(ctx: typer.Context) -> None:
    """Fold the Parquet files the store keeps into its table now (serve and scheduler do it once idle):
    questions that read line items (by resource, resource:) then find tag columns materialized."""
    ingest_service = _application(ctx).ingest_service
    started = time.perf_counter()
    folded = ingest_service.fold()
    if not folded:
        out.print("The store keeps no billing files to fold.", markup=False)
        return
    out.print(f"Folded {folded} billing file{'' if folded == 1 else 's'} into the store's table in "
              f"{time.perf_counter() - started:.1f} s.", markup=False)


@app.command("ingest-usage")
def ingest_usage(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="CSV with columns date, team, metric, quantity")],
) -> None:
    """Load usage metrics (GPU-hours per team, …) for `method: usage` allocation rules."""
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


@app.command()
def playground(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(metavar="PORT", min=0, max=65535,
                                      help="Port of the page (0: any free one).")] = 3000,
    host: Annotated[str, typer.Option(metavar="ADDRESS",
                                      help="Interface to listen on; anyone who reaches it acts as anyone.")] =
    "127.0.0.1",
) -> None:
    """Try costbot in a browser, no Slack workspace needed: a local page that behaves like a Slack channel with
    costbot in it (the real app behind it). Ctrl-C stops it."""
    settings = Settings()
    _setup_logging(settings)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err.print(f"Warning: listening on {host}: anyone who can reach it can act as any user, approvers included.",
                  markup=False)

    def announce(url: str) -> None:
        out.print(f"costbot playground: {url}  (Ctrl-C stops it)", markup=False)

    _application(ctx, settings=settings).playground(host=host, port=port, announce=announce)


ESTIMATE_FORMATS = ("table", "json", "markdown")
USAGE_FILE = "costbot-estimate.yml"


def _who() -> str:
    """Who asks for an approval from CI: the pipeline's user, else the local one."""
    import os

    for name in ("GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILD_REQUESTEDFOR", "USER"):
        if os.environ.get(name):
            return os.environ[name]
    return "costbot estimate"


@app.command()
def estimate(
    ctx: typer.Context,
    plan: Annotated[Path, typer.Argument(help="A plan as JSON: terraform show -json plan.out > plan.json")],
    usage: Annotated[Path | None, typer.Option(help=f"What the plan does not show (default: ./{USAGE_FILE} if "
                                                    "present).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json or markdown (a PR comment).")] = "table",
    request_approval: Annotated[bool, typer.Option("--request-approval", help="Ask the team's approvers in Slack "
                                                   "when the change needs an approval.")] = False,
    title: Annotated[str | None, typer.Option(help="What the change is (a PR title or URL), for approvers.")] = None,
) -> None:
    """Price a change before it is applied: monthly delta and one-off cost per resource, each team's budget
    headroom after it, and the policy's verdict. Exit 0 pass, 1 over a policy, 2 bad input."""
    from bot.domain.estimate import PlanError
    from bot.render.estimate_out import estimate_markdown, estimate_to_json, render_estimate

    if fmt not in ESTIMATE_FORMATS:
        raise PlanError(f"--format must be one of {', '.join(ESTIMATE_FORMATS)}, got '{fmt}'")
    if usage is None and Path(USAGE_FILE).is_file():
        usage = Path(USAGE_FILE)
    uc = _application(ctx).use_cases
    result = uc.estimates.estimate(plan, usage)
    if fmt == "json":
        sys.stdout.write(json.dumps(estimate_to_json(result)) + "\n")
    elif fmt == "markdown":
        sys.stdout.write(estimate_markdown(result))
    else:
        out.print(render_estimate(result))
    if request_approval and not result.passed:
        if result.verdict != "needs approval":
            err.print(f"not asking for an approval: the change is {result.verdict}", markup=False, highlight=False)
        else:
            for approval in uc.estimates.request_approval(result, _who(), title or ""):
                where = f"<#{approval.channel}>" if approval.channel else "Slack"
                err.print(f"approval for {approval.team or 'admins'}: {approval.status} ({where}, request "
                          f"{approval.id}); run the check again once it is decided", markup=False, highlight=False)
    if not result.passed:
        raise typer.Exit(1)


@app.command(context_settings={"ignore_unknown_options": True})
def guard(
    ctx: typer.Context,
    team: Annotated[str, typer.Option(help="The team the run is charged to.")],
    max_usd: Annotated[str, typer.Option("--max-usd", help="The most the run may cost.")],
    command: Annotated[list[str] | None, typer.Argument(help="The command to run if it fits: -- python train.py")]
    = None,
) -> None:
    """Start a training run only if the team's budget headroom this month (budget − forecast) covers its
    estimate; a refusal exits 1 and is posted to the team's channel. Otherwise the command's exit code."""
    import subprocess

    from bot.domain.money import parse_amount
    from bot.render.estimate_out import guard_text

    amount = parse_amount(max_usd)
    words = list(command or [])
    check = _application(ctx).use_cases.estimates.guard(team, amount, " ".join(words))
    err.print(f"costbot guard: {guard_text(check)}", markup=False, highlight=False, soft_wrap=True)
    if not check.allowed:
        raise typer.Exit(1)
    if words:
        try:
            raise typer.Exit(subprocess.call(words))
        except FileNotFoundError:
            err.print(f"costbot guard: no such command: {words[0]}", markup=False, highlight=False)
            raise typer.Exit(127) from None


schedules_app = typer.Typer(help="Off-hours schedules: the plan, and a run at a given moment.")
app.add_typer(schedules_app, name="schedules")


def _moment(text: str | None, zone: str) -> datetime | None:
    """`--at`: ISO date and time; without an offset, in the config's time zone."""
    from zoneinfo import ZoneInfo

    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--at must be a date and time such as 2026-12-01T19:30, got '{text}'") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone))


APPLY_AHEAD = timedelta(minutes=5)  # `schedules run --apply --at`: how far ahead of now it may act (clock skew)


def _need_schedules(config: CostbotConfig) -> None:
    if not config.schedules:
        raise ConfigError("no schedules configured: add `schedules: {office-hours: {on: \"08:00\", off: \"20:00\"}}` "
                          "and `teams.<team>.schedule` or a `costbot:schedule` tag on resources")


@schedules_app.callback(invoke_without_command=True)
def schedules(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="Show the plan as of this moment (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The plan of each schedule: its resources, what the next stop and start would do, when (in the schedule's
    time zone), and what it saved over the last 7 days."""
    if ctx.invoked_subcommand is not None:
        return
    from bot.domain.money import to_cents
    from bot.render.terminal import render_schedule_plans

    application = _application(ctx)
    _need_schedules(application.config)
    schedules = application.use_cases.schedules
    listed = schedules.listed()  # one listing of the providers for the plan and the warnings
    plans = schedules.plan(_moment(at, application.config.timezone), listed)
    mistagged = schedules.mistagged(listed)
    currency = application.config.currency
    if as_json:
        sys.stdout.write(json.dumps({"currency": currency, "schedules": [{
            "name": p.name, "timezone": p.zone, "on": p.on, "off": p.off, "weekends": p.weekends,
            "holidays": [d.isoformat() for d in p.holidays],
            "next_stop": p.next_stop.astimezone(ZoneInfo(p.zone)).isoformat() if p.next_stop else None,
            "next_start": p.next_start.astimezone(ZoneInfo(p.zone)).isoformat() if p.next_start else None,
            "resources": [{"resource": r.resource_key, "name": r.name, "team": r.team, "state": r.state,
                           "follows": r.follows, "stops": r.note is None, "note": r.note} for r in p.rows],
            "would_start": [{"resource": r.resource_key, "name": r.name, "team": r.team,
                             "stopped_at": r.stopped_at.isoformat() if r.stopped_at else None} for r in p.stopped],
            "saved_last_7_days": {"hours": float(round(p.saved.hours, 2)), "amount": float(to_cents(p.saved.amount)),
                                  "resources": p.saved.resources},
        } for p in plans], "unknown_schedule_tags": [{"resource": key, "name": name, "schedule": value}
                                                   for name, key, value in mistagged]}) + "\n")
        return
    out.print(render_schedule_plans(plans, currency))
    for name, _, value in mistagged:
        err.print(f"warning: {name} is tagged costbot:schedule={value}, which is no configured schedule: it follows "
                  "none", markup=False)


@schedules_app.command("run")
def schedules_run(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="Evaluate at this moment, e.g. 2026-12-01T19:30 (the "
                                                        "config's time zone unless it has an offset).")] = None,
    apply: Annotated[bool, typer.Option("--apply", help="Post, stop and start for real (default: a dry run that "
                                                        "changes nothing).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Evaluate the schedules at a moment: the heads-ups, stops and starts due then (dry run unless --apply)."""
    from bot.render.terminal import render_schedule_steps

    application = _application(ctx)
    _need_schedules(application.config)
    now = datetime.now(UTC)
    moment = _moment(at, application.config.timezone) or now
    if apply and moment > now + APPLY_AHEAD:
        raise ConfigError(f"--apply acts now, and {at} is still to come: its busy check would read metrics that do "
                          "not exist yet (a busy box would be stopped) and the team would have no time to answer the "
                          "heads-up. Leave out --apply to see what would happen then; the scheduler acts at that "
                          "time.")
    steps = application.use_cases.schedules.run(moment, apply=apply)
    if as_json:
        sys.stdout.write(json.dumps({"at": moment.isoformat(), "applied": apply, "steps": [
            {"schedule": s.schedule, "event": s.event, "day": s.day.isoformat(), "team": s.team, "what": s.what,
             "outcome": s.outcome} for s in steps]}) + "\n")
        return
    out.print(render_schedule_steps(steps, moment, apply))


mlflow_app = typer.Typer(help="MLflow: the cost of each training run.", no_args_is_help=True)
app.add_typer(mlflow_app, name="mlflow")


@mlflow_app.command("sync")
def mlflow_sync(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the costs; write nothing to MLflow.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Write each recent run's cost (and GPU-hours, and cost per epoch) from the bill back to MLflow."""
    from rich.table import Table
    from rich.text import Text

    from bot.domain.money import format_money, to_cents

    report = _application(ctx).use_cases.experiments.sync(dry_run=dry_run)
    cur = report.currency
    if as_json:
        sys.stdout.write(json.dumps({
            "written": report.written, "dry_run": dry_run, "currency": cur, "data_through": report.data_through,
            "runs": [{"run_id": r.run.run_id, "experiment": r.run.experiment, "name": r.run.name,
                      "cost": float(to_cents(r.cost)), "gpu_hours": float(r.gpu_hours),
                      "cost_per_epoch": float(to_cents(r.cost_per_epoch)) if r.cost_per_epoch is not None else None,
                      "matched_by": list(r.matched_by)} for r in report.runs],
        }) + "\n")
        return
    table = Table(title=f"{len(report.runs)} runs · {report.written} {'to write' if dry_run else 'written'}")
    for col in ("experiment", "run", "cost", "GPU-hours", "per epoch", "found by"):
        table.add_column(col, justify="right" if col in ("cost", "GPU-hours", "per epoch") else "left")
    for r in report.runs:
        per_epoch = r.cost_per_epoch
        table.add_row(Text(r.run.experiment), Text(r.run.name or r.run.run_id),
                      format_money(r.cost, cur) if r.found else "–", f"{r.gpu_hours:.2f}" if r.found else "–",
                      format_money(per_epoch, cur) if per_epoch is not None and r.found else "–",
                      Text(", ".join(r.matched_by) or "no billing lines"))
    out.print(table)
    out.print(f"Billing data through {report.data_through or '–'}", markup=False)


def _type_word(param: Any) -> str:
    """INTEGER, TEXT, PATH: what a value of the parameter's type is called."""
    name = str(param.bare_type() if hasattr(param, "bare_type") else param.type.name).split()[0].lower()
    return {"int": "INTEGER", "str": "TEXT", "float": "NUMBER"}.get(name, name.upper())


def _readable_hints(command: Any) -> None:
    """Help says what to type, in words: nothing after a flag, FILE / USER_ID / TEXT / INTEGER after an option
    that takes a value, and an argument's name in capitals (Typer would show Python types: `<bool>`,
    `<list[str]>`)."""
    for param in command.params:
        if isinstance(param, TyperOption):
            word = None if param.is_flag else (param.metavar or _type_word(param))
        else:
            if param.metavar is None:
                param.metavar = (param.name or "value").upper() + ("..." if param.nargs != 1 else "")
            word = None
        param.display_type_rich = lambda ctx, shown=word: shown
    help_option = command.get_help_option

    def quiet_help(ctx: Any) -> Any:
        option = help_option(ctx)
        if option is not None:
            option.display_type_rich = lambda ctx: None
        return option

    command.get_help_option = quiet_help
    for sub in getattr(command, "commands", {}).values():
        _readable_hints(sub)


def _command(terminal: bool) -> Any:
    """The click command behind the Typer app: Rich help panels in a terminal, plain help in a file or a pipe."""
    for typer_app in (app, sources_app, tags_app, action_app, mlflow_app):
        typer_app.rich_markup_mode = "rich" if terminal else None
    command = typer.main.get_command(app)
    _readable_hints(command)
    return command


def main(argv: list[str] | None, factory: ApplicationFactory) -> int:
    """Run the CLI with the application `factory` behind it: one place turns domain errors into messages and
    exit codes."""
    global out, err
    out, err = _console(), _console(stderr=True)  # where the output goes now (a terminal, a file, a pipe)
    terminal = out.is_terminal
    widths = {} if terminal else {"terminal_width": NO_WRAP, "max_content_width": NO_WRAP}
    try:
        # standalone: usage errors print their help and exit
        _command(terminal)(args=argv, prog_name="costbot", obj=factory, **widths)
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

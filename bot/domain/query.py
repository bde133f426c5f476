"""The query model and its text language: `[SCOPE ...] [PERIOD] [by DIMENSION] [top N] [billed]`.

The grammar tables below are the single source of truth: the parser reads them, and `help_text` renders them.
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal

from bot.domain.errors import QueryError
from bot.domain.money import parse_amount
from bot.domain.periods import DEFAULT_PERIOD, PERIOD_WORDS, looks_like_period, resolve_period

ScopeKind = Literal["team", "tag", "service", "account", "region", "resource", "untagged", "cluster", "namespace",
                    "workload"]
DimensionKind = Literal["team", "tag", "column", "time"]

#: scope prefix -> FOCUS column it filters
SCOPE_COLUMNS: dict[str, str] = {
    "service": "ServiceName",
    "account": "SubAccountId",
    "region": "RegionId",
    "resource": "ResourceId",
    # shared clusters: the Kubernetes attribution of split cost allocation (README "Shared clusters")
    "cluster": "x_Cluster",
    "namespace": "x_Namespace",
    "workload": "x_Workload",
}
#: `by` words that group on a FOCUS column
COLUMN_DIMENSIONS: dict[str, str] = {
    "service": "ServiceName",
    "account": "SubAccountId",
    "region": "RegionId",
    "resource": "ResourceId",
    "category": "ServiceCategory",
    "cluster": "x_Cluster",
    "namespace": "x_Namespace",
    "workload": "x_Workload",
    "node": "x_Node",
}
TIME_DIMENSIONS = ("day", "week", "month")
KEYWORDS = ("by", "top", "billed", "direct", "untagged")
IDLE_CAPACITY = "idle-capacity"  # `idle-capacity cluster:NAME` = `cluster:NAME workload:(idle) by cluster`
MAX_TOP = 1000
MAX_SCOPE_TEXT = 500  # a scope that is kept (a budget's, a digest's): the state database holds this much
_ANY_DAY = date(2000, 1, 15)


def _small_number(text: str, limit: int) -> int | None:
    """`text` as a number from 1 to `limit`, or None. ASCII digits only: str.isdigit() also takes '²', which
    int() refuses, and int() of thousands of digits fails, so the length is checked first."""
    if not re.fullmatch(r"[0-9]+", text) or len(text) > len(str(limit)):
        return None
    number = int(text)
    return number if 1 <= number <= limit else None


QUESTION_HELP: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "Scope (several AND together; nothing = the whole organization)",
        (
            ("TEAM", "a team from the config, e.g. team-ml"),
            ("KEY:VALUE", "a tag, e.g. project:fraud, model:bert-large"),
            ("service:NAME", 'a unique part of the service name, e.g. service:sagemaker, service:"Amazon S3"'),
            ("account:ID", "a sub-account (AWS account, subscription)"),
            ("region:ID", "a region, e.g. region:us-east-1"),
            ("resource:ID", "one resource id"),
            ("cluster:NAME, namespace:NAME, workload:NAME", "a shared Kubernetes cluster's part; workload:(idle) is "
             "its nodes' unused capacity"),
            ("untagged", "line items without the team tag"),
        ),
    ),
    (
        f"Period (UTC dates; default {DEFAULT_PERIOD})",
        (
            ("today, yesterday", "one day"),
            ("this-week, last-week", "ISO weeks, Monday first"),
            ("this-month (mtd), last-month, ytd", "calendar months and the year to date"),
            ("last-Nd", "N days ending yesterday, e.g. last-30d"),
            ("YYYY-MM, YYYY-Qn, YYYY-MM-DD", "a month, a quarter, a day"),
            ("YYYY-MM-DD..YYYY-MM-DD", "a date range, both ends included"),
        ),
    ),
    (
        "Breakdown and options",
        (
            ("by DIMENSION", "team, project, model, env, any tag key, service, account, region, resource, "
             "category, cluster, namespace, workload, node, day, week, month"),
            ("top N", "show the N largest groups and sum the rest as (other)"),
            ("billed", "BilledCost (invoice view) instead of EffectiveCost (amortized)"),
            ("direct", "with allocation rules: a team's own cost, without its share of shared costs"),
            ("idle-capacity [SCOPE] [PERIOD]", "shared clusters' unused node capacity, by cluster (first word; "
             "= workload:(idle) by cluster)"),
        ),
    ),
)
#: what short help shows: the five questions most people want, and what each answers
QUICK_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("team-ml last-week", "a team's week: the total, what it is made of, why it changed"),
    ("last-month by team", "the whole organization, team by team"),
    ("team-ml mtd by service top 5", "the month so far, by service"),
    ("idle", "idle and oversized resources, and what stopping them saves"),
    ("budget team-ml", "the month against the budget, and the month-end forecast"),
)
EXAMPLES = (
    "team-ml last-week",
    "project:fraud last-month by service",
    "service:sagemaker mtd by resource top 5",
    "untagged last-30d by account",
    "2026-Q3 by team billed",
)


@dataclass(frozen=True)
class Scope:
    """One filter of a query. `key` is a team name or a tag key; `value` the value to match."""

    kind: ScopeKind
    key: str | None = None
    value: str | None = None

    def label(self) -> str:
        if self.kind == "team":
            return str(self.key)
        if self.kind == "untagged":
            return "untagged"
        return f"{self.key if self.kind == 'tag' else self.kind}:{self.value}"


@dataclass(frozen=True)
class Dimension:
    """What `by` groups on: configured teams, a tag key, a FOCUS column, or a time bucket."""

    name: str
    kind: DimensionKind
    target: str  # tag key, column name, or time unit


@dataclass(frozen=True)
class Query:
    scopes: tuple[Scope, ...] = ()
    period: str = DEFAULT_PERIOD
    by: Dimension | None = None
    top: int | None = None
    billed: bool = False
    direct: bool = False  # with allocation rules: the team's own cost, without shared costs

    def scope_label(self) -> str:
        return " ".join(s.label() for s in self.scopes) or "all teams"


@dataclass(frozen=True)
class HelpRequest:
    """`help`: the most useful examples; `help all`: the whole grammar and every command."""

    all: bool = False


DIGEST_ACTIONS = ("subscribe", "unsubscribe", "list", "now")
CADENCE_WORDS = ("daily", "weekly", "cron")


@dataclass(frozen=True)
class DigestCommand:
    """`digest subscribe SCOPE [daily|weekly [DAY]|cron …] [HH:MM]`, `digest unsubscribe SCOPE`,
    `digest list`, `digest now [SCOPE] [weekly]`."""

    action: str
    scope: str = ""
    when: tuple[str, ...] = ()


@dataclass(frozen=True)
class IdleCommand:
    """`idle [TEAM]`: open recommendations, with their buttons."""

    team: str | None = None


@dataclass(frozen=True)
class SavingsCommand:
    """`savings [TEAM]`: open recommendations with their monthly savings, largest first, and the total."""

    team: str | None = None


@dataclass(frozen=True)
class AuditCommand:
    """`audit [N]`: the N most recent actions."""

    limit: int = 10


@dataclass(frozen=True)
class BudgetCommand:
    """`budget [SCOPE]` shows a budget; `budget set SCOPE AMOUNT` (admins) sets one."""

    scope: str = ""
    amount: Decimal | None = None


@dataclass(frozen=True)
class AnomaliesCommand:
    """`anomalies [SCOPE] [PERIOD]`: anomalies of any past period, evaluated on demand (default the last 30 days)."""

    scope: str = ""
    period: str = "last-30d"


def _scope_words(words: list[str], grammar: Grammar, why: str = "") -> str:
    """The one check of "are these words a scope" (teams, KEY:VALUE, service:…, untagged)."""
    for word in words:
        if looks_like_period(word) or word.lower() in ("by", "top", "billed", "help"):
            raise QueryError(f"'{word}' is not a scope" + (f"; {why}" if why else ""), word=word)
        if _scope(word, grammar) is None:
            raise _unknown(word, grammar.vocabulary())
    return _kept_scope(words)


def _kept_scope(words: list[str]) -> str:
    text = " ".join(words)
    if len(text) > MAX_SCOPE_TEXT:
        raise QueryError(f"a scope is at most {MAX_SCOPE_TEXT} characters", word=text)
    return text


def _parse_budget(tokens: list[str], grammar: Grammar) -> BudgetCommand:
    if len(tokens) > 1 and tokens[1].lower() == "set":
        if len(tokens) < 4:
            raise QueryError("`budget set` needs a scope and an amount, e.g. `budget set team-ml 25000`",
                             word="set")
        amount = parse_amount(tokens[-1])
        return BudgetCommand(_scope_words(tokens[2:-1], grammar), amount)
    return BudgetCommand(_scope_words(tokens[1:], grammar))


def _optional_team(tokens: list[str], grammar: Grammar) -> str | None:
    """`WORD [TEAM]` subcommands: the team, or None."""
    if len(tokens) > 2:
        raise QueryError(f"`{tokens[0].lower()}` takes at most one team, e.g. `{tokens[0].lower()} team-ml`",
                         word=tokens[2])
    if len(tokens) == 1:
        return None
    scope = _scope(tokens[1], grammar)
    if scope is None or scope.kind != "team":
        raise _unknown(tokens[1], grammar.teams, "team")
    return scope.key


@dataclass(frozen=True)
class CommitmentsCommand:
    """`commitments`: contract commitments (FOCUS 1.3), their term, and how much is used."""


def _parse_commitments(tokens: list[str], grammar: Grammar) -> CommitmentsCommand:
    if len(tokens) > 1:
        raise QueryError("`commitments` takes no more words", word=tokens[1])
    return CommitmentsCommand()


@dataclass(frozen=True)
class SourcesCommand:
    """`sources` (admins): what each billing source holds."""


def _parse_sources(tokens: list[str], grammar: Grammar) -> SourcesCommand:
    if len(tokens) > 1:
        raise QueryError("`sources` takes no more words", word=tokens[1])
    return SourcesCommand()


@dataclass(frozen=True)
class TagsCommand:
    """`tags [PERIOD]`: tag compliance."""

    period: str = "last-month"


def _parse_tags(tokens: list[str]) -> TagsCommand:
    if len(tokens) > 2:
        raise QueryError("`tags` takes at most a period, e.g. `tags last-month`", word=tokens[2])
    if len(tokens) == 1:
        return TagsCommand()
    resolve_period(tokens[1].lower(), _ANY_DAY)
    return TagsCommand(tokens[1].lower())


def _parse_audit(tokens: list[str]) -> AuditCommand:
    if len(tokens) == 1:
        return AuditCommand()
    limit = _small_number(tokens[1], 100)
    if len(tokens) > 2 or limit is None:
        raise QueryError("`audit` takes a number from 1 to 100, e.g. `audit 20`", word=tokens[-1])
    return AuditCommand(limit)


def _parse_digest(tokens: list[str], grammar: Grammar) -> DigestCommand:
    if len(tokens) < 2:
        raise QueryError("`digest` needs one of: " + ", ".join(DIGEST_ACTIONS) + " (e.g. `digest list`)",
                         word="digest", suggestion="list")
    action = tokens[1].lower()
    if action not in DIGEST_ACTIONS:
        raise _unknown(tokens[1], DIGEST_ACTIONS, "digest action")
    rest = tokens[2:]
    cut = next((i for i, w in enumerate(rest) if w.lower() in CADENCE_WORDS), len(rest))
    scope_words, when = rest[:cut], rest[cut:]
    if action == "list" and (scope_words or when):
        raise QueryError("`digest list` takes no more words", word=rest[0])
    if action == "unsubscribe" and when:
        raise QueryError("`digest unsubscribe` takes only the scope", word=when[0])
    if action == "now" and len(when) > 1:
        raise QueryError("`digest now` takes a scope and optionally `weekly`", word=when[1])
    if action in ("subscribe", "unsubscribe") and not scope_words:
        raise QueryError(f"`digest {action}` needs a scope, e.g. `digest {action} team-ml`", word=action)
    return DigestCommand(action, _scope_words(scope_words, grammar, "a digest chooses its own periods"), tuple(when))


@dataclass(frozen=True)
class Grammar:
    """What the parser needs to know from the config: team names and dimension -> tag key mapping."""

    teams: tuple[str, ...] = ()
    tag_keys: Mapping[str, str] = field(default_factory=lambda: {"team": "team"})

    @property
    def team_tag_key(self) -> str:
        return self.tag_keys.get("team", "team")

    def tag_key_for(self, word: str) -> str:
        """A dimension name maps through `tag_keys`; anything else is taken as a tag key itself."""
        for dim, key in self.tag_keys.items():
            if dim.lower() == word.lower():
                return key
        return word

    def vocabulary(self) -> list[str]:
        words = [*PERIOD_WORDS, *KEYWORDS, *SUBCOMMANDS, *self.teams, "last-7d", "last-30d"]
        words += [f"{k}:" for k in SCOPE_COLUMNS] + [f"{k}:" for k in self.tag_keys]
        return words

    def dimensions(self) -> list[str]:
        return ["team", *[d for d in self.tag_keys if d != "team"], *COLUMN_DIMENSIONS, *TIME_DIMENSIONS]


def _tokens(text: str) -> list[str]:
    try:
        lexer = shlex.shlex(text, posix=True)
        lexer.whitespace_split = True
        lexer.commenters = ""
        return list(lexer)
    except ValueError as exc:
        raise QueryError(f"could not read the query: {exc} (check the quotes)") from None


def _suggest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    if not matches:
        return None
    for c in candidates:
        if c.lower() == matches[0]:
            return c
    return None


def _unknown(word: str, candidates: Iterable[str], what: str = "word") -> QueryError:
    suggestion = _suggest(word, list(candidates))
    hint = f" Did you mean '{suggestion}'?" if suggestion else " Try `help`."
    return QueryError(f"unknown {what} '{word}'.{hint}", word=word, suggestion=suggestion)


def unknown_dimension(word: str, grammar: Grammar, known_tags: Iterable[str] = ()) -> QueryError:
    """`by WORD` where WORD is no dimension: neither built in, nor configured, nor a tag key of the billing data.
    The closest one is suggested, tag keys of the data included; else the valid ones are listed."""
    candidates = list(dict.fromkeys([*grammar.dimensions(), *known_tags]))
    suggestion = _suggest(word, candidates)
    if suggestion:
        return QueryError(f"unknown dimension '{word}'. Did you mean '{suggestion}'?", word=word,
                          suggestion=suggestion)
    shown = ", ".join(candidates[:20]) + (" …" if len(candidates) > 20 else "")
    return QueryError(f"unknown dimension '{word}': `by` takes one of {shown}", word=word)


def _dimension(word: str, grammar: Grammar) -> Dimension:
    w = word.lower()
    if w == "team":
        return Dimension("team", "team", grammar.team_tag_key)
    if w in COLUMN_DIMENSIONS:
        return Dimension(w, "column", COLUMN_DIMENSIONS[w])
    if w in TIME_DIMENSIONS:
        return Dimension(w, "time", w)
    if not re.match(r"^[\w .:/@+=-]{1,128}$", word):
        raise _unknown(word, grammar.dimensions(), "dimension")
    return Dimension(word, "tag", grammar.tag_key_for(word))


def _scope(word: str, grammar: Grammar) -> Scope | None:
    if ":" not in word:
        for team in grammar.teams:
            if team.lower() == word.lower():
                return Scope("team", team)
        if word.lower() == "untagged":
            return Scope("untagged")
        return None
    key, _, value = word.partition(":")
    if not key or not value:
        raise QueryError(f"'{word}' needs a key and a value, e.g. project:fraud", word=word)
    lk = key.lower()
    if lk in SCOPE_COLUMNS:
        return Scope(lk, lk, value)  # type: ignore[arg-type]
    if lk == "team":
        for team in grammar.teams:
            if team.lower() == value.lower():
                return Scope("team", team)
    return Scope("tag", grammar.tag_key_for(key), value)


Command = (HelpRequest | DigestCommand | IdleCommand | AuditCommand | BudgetCommand | AnomaliesCommand | TagsCommand
           | SourcesCommand | CommitmentsCommand | SavingsCommand)


def parse_query(text: str, grammar: Grammar) -> Query | Command:
    """Parse `/cost` text; raises QueryError naming the first word it cannot place. A first word that names a
    subcommand (SUBCOMMANDS) hands the words to that subcommand's parser."""
    tokens = _tokens(text)
    if tokens and tokens[0].lower() == IDLE_CAPACITY:  # a question: the idle workload, by cluster unless asked
        rest = tokens[1:]
        tokens = [*rest, "workload:(idle)", *([] if "by" in (t.lower() for t in rest) else ["by", "cluster"])]
    if tokens and tokens[0].lower() in SUBCOMMANDS:
        sub = SUBCOMMANDS[tokens[0].lower()]
        try:
            return sub.parse(tokens, grammar)
        except QueryError as exc:
            exc.example = exc.example or sub.example_for(tokens)
            raise
    scopes: list[Scope] = []
    period: str | None = None
    by: Dimension | None = None
    top: int | None = None
    billed = False
    direct = False
    i = 0
    while i < len(tokens):
        word = tokens[i]
        lw = word.lower()
        if lw == "by":
            if i + 1 >= len(tokens):
                raise QueryError("'by' needs a dimension, e.g. `by service`", word="by")
            if by is not None:
                raise QueryError("only one `by` per query", word=word)
            by = _dimension(tokens[i + 1], grammar)
            i += 2
            continue
        if lw == "top":
            count = tokens[i + 1] if i + 1 < len(tokens) else ""
            if not re.fullmatch(r"[0-9]+", count):
                raise QueryError("'top' needs a number (digits 0-9), e.g. `top 5`", word=count or "top")
            top = _small_number(count, MAX_TOP)
            if top is None:
                raise QueryError(f"`top` takes 1 to {MAX_TOP}", word=count)
            i += 2
            continue
        if lw in SUBCOMMANDS:
            raise QueryError(f"'{word}' starts a command of its own; put it first, e.g. "
                             f"`{SUBCOMMANDS[lw].example}`", word=word)
        if lw == "billed":
            billed = True
        elif lw == "direct":
            direct = True
        elif looks_like_period(lw):
            if period is not None:
                raise QueryError(f"two periods given ('{period}' and '{word}'); use one", word=word)
            resolve_period(lw, _ANY_DAY)  # validates the shape now, resolved against "today" later
            period = lw
        else:
            scope = _scope(word, grammar)
            if scope is None:
                raise _unknown(word, grammar.vocabulary())
            if scope not in scopes:
                scopes.append(scope)
        i += 1
    return Query(tuple(scopes), period or DEFAULT_PERIOD, by, top, billed, direct)


def parse_scope(text: str, grammar: Grammar) -> tuple[Scope, ...]:
    """Scope words only — teams, KEY:VALUE, service:…, untagged — as budgets and digests keep them ("" is the
    whole organization). The one check of "is this a scope" for every command that takes one."""
    words = _tokens(text)
    _scope_words(words, grammar)
    return tuple(dict.fromkeys(s for s in (_scope(w, grammar) for w in words) if s is not None))


# -- the subcommands: each word's parser and help, in the order help shows them ------------------------------
@dataclass(frozen=True)
class Subcommand:
    """One `/cost` word that starts a command of its own. `bot/words.py` says which use case answers it and
    how the answer renders in Slack and in a terminal."""

    word: str
    command: type  # what its parser returns
    parse: Callable[[list[str], Grammar], Command]
    example: str
    section: str
    help: tuple[tuple[str, str], ...]
    examples: Mapping[str, str] = field(default_factory=dict)  # by its second word: `set` -> `budget set …`

    def example_for(self, tokens: Sequence[str]) -> str:
        """A correct use of this command, as close as there is to what was typed."""
        second = tokens[1].lower() if len(tokens) > 1 else ""
        return self.examples.get(second, self.example)


def _parse_help(tokens: list[str], grammar: Grammar) -> HelpRequest:
    if len(tokens) == 1:
        return HelpRequest()
    if len(tokens) == 2 and tokens[1].lower() == "all":
        return HelpRequest(all=True)
    raise QueryError("`help` takes `all` or nothing: `help all` lists every command", word=tokens[1])


def _parse_idle(tokens: list[str], grammar: Grammar) -> IdleCommand:
    return IdleCommand(_optional_team(tokens, grammar))


def _parse_savings(tokens: list[str], grammar: Grammar) -> SavingsCommand:
    return SavingsCommand(_optional_team(tokens, grammar))


def _parse_anomalies(tokens: list[str], grammar: Grammar) -> AnomaliesCommand:
    period: str | None = None
    scope: list[str] = []
    for word in tokens[1:]:
        if looks_like_period(word):
            if period is not None:
                raise QueryError(f"two periods given ('{period}' and '{word}'); use one", word=word)
            resolve_period(word.lower(), _ANY_DAY)  # validates the shape now
            period = word.lower()
        else:
            scope.append(word)
    return AnomaliesCommand(_scope_words(scope, grammar) if scope else "", period or "last-30d")


_IDLE = "Idle resources and actions"
_BUDGETS = "Budgets, anomalies and tags"
_SOURCES = "Billing data"
_DIGESTS = "Digests (posted to the channel you type them in)"

SUBCOMMANDS: dict[str, Subcommand] = {s.word: s for s in (
    Subcommand("help", HelpRequest, _parse_help, "help all", "Breakdown and options",
               (("help [all]", "the most useful questions; `all`: this text"),)),
    Subcommand("idle", IdleCommand, _parse_idle, "idle team-ml", _IDLE,
               (("idle [TEAM]", "open recommendations, with Stop / Resize / Snooze buttons"),)),
    Subcommand("savings", SavingsCommand, _parse_savings, "savings team-ml", _IDLE,
               (("savings [TEAM]", "what the open recommendations save a month, largest first, and the total "
                                   "(default: every team)"),)),
    Subcommand("audit", AuditCommand, lambda tokens, _: _parse_audit(tokens), "audit 20", _IDLE,
               (("audit [N]", "the N most recent actions (default 10)"),)),
    Subcommand("budget", BudgetCommand, _parse_budget, "budget team-ml", _BUDGETS,
               (("budget [SCOPE]", "month to date, % used, month-end forecast, the day it runs out"),
                ("budget set SCOPE AMOUNT", "set a monthly budget (admins)")),
               {"set": "budget set team-ml 30000"}),
    Subcommand("anomalies", AnomaliesCommand, _parse_anomalies, "anomalies", _BUDGETS,
               (("anomalies [SCOPE] [PERIOD]", "unusual days and their causes, in any past period (default "
                                               "last-30d)"),)),
    Subcommand("tags", TagsCommand, lambda tokens, _: _parse_tags(tokens), "tags last-month", _BUDGETS,
               (("tags [PERIOD]", "tag compliance: untagged spend, top untagged resources, coverage"),)),
    Subcommand("sources", SourcesCommand, _parse_sources, "sources", _SOURCES,
               (("sources", "what each billing source holds: accounts, months, rows, total, last sync (admins)"),)),
    Subcommand("commitments", CommitmentsCommand, _parse_commitments, "commitments", _SOURCES,
               (("commitments", "contract commitments: what is committed, until when, how much is used (FOCUS "
                                "1.3)"),)),
    Subcommand("digest", DigestCommand, _parse_digest, "digest list", _DIGESTS, (
        ("digest subscribe SCOPE daily [HH:MM]", "every morning, e.g. digest subscribe team-ml daily 09:00"),
        ("digest subscribe SCOPE weekly [DAY] [HH:MM]", "every week (default Monday 09:00)"),
        ("digest subscribe SCOPE cron M H DOM MON DOW", "any schedule, in the configured time zone"),
        ("digest unsubscribe SCOPE", "stop it"),
        ("digest list", "this channel's digests"),
        ("digest now [SCOPE] [weekly]", "post one now")),
        {"subscribe": "digest subscribe team-ml daily 09:00", "unsubscribe": "digest unsubscribe team-ml",
         "now": "digest now team-ml"}),
)}


def subcommand_of(command: Query | Command) -> Subcommand | None:
    """The subcommand a parsed command belongs to (None for a question)."""
    return next((s for s in SUBCOMMANDS.values() if isinstance(command, s.command)), None)


def help_sections() -> tuple[tuple[str, tuple[tuple[str, str], ...]], ...]:
    """The question language's sections, then the subcommands' grouped by section: what help shows."""
    sections: dict[str, list[tuple[str, str]]] = {title: list(items) for title, items in QUESTION_HELP}
    for sub in SUBCOMMANDS.values():
        sections.setdefault(sub.section, []).extend(sub.help)
    return tuple((title, tuple(items)) for title, items in sections.items())


def quick_help_text(grammar: Grammar, command: str = "/cost", everything: str = "/cost help all") -> str:
    """Short help: the usage line, the most useful questions, the teams, and where the rest is."""
    width = max(len(f"{command} {e}") for e, _ in QUICK_EXAMPLES)
    lines = [f"Usage: {command} [SCOPE ...] [PERIOD] [by DIMENSION] [top N] [billed]", "", "For example:"]
    lines += [f"  {f'{command} {e}'.ljust(width)}  {what}" for e, what in QUICK_EXAMPLES]
    if grammar.teams:
        lines += ["", "Teams: " + ", ".join(grammar.teams)]
    lines += ["", f"Everything you can ask: {everything}"]
    return "\n".join(lines)


def help_text(grammar: Grammar, command: str = "/cost") -> str:
    """Plain-text help rendered from the grammar tables (terminal and Slack use the same source)."""
    lines = [f"Usage: {command} [SCOPE ...] [PERIOD] [by DIMENSION] [top N] [billed]", ""]
    for title, items in help_sections():
        lines.append(title + ":")
        width = max(len(k) for k, _ in items)
        for key, desc in items:
            lines.append(f"  {key.ljust(width)}  {desc}")
        lines.append("")
    if grammar.teams:
        lines.append("Teams: " + ", ".join(grammar.teams))
        lines.append("")
    lines.append("Examples:")
    lines += [f"  {command} {e}" for e in EXAMPLES]
    return "\n".join(lines)

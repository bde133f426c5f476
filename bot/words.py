"""The `/cost` words: for each, the use case that answers it and how the answer renders in Slack and in a
terminal. The Slack `/cost` handler and `costbot ask` both dispatch through this table, so the terminal speaks
the whole Slack language; only what truly needs Slack (a channel to subscribe or post in) says so.

How a word is parsed and what help says of it is the domain's half: `SUBCOMMANDS` in bot/domain/query.py.
A new word is one Subcommand there (parser and help) and one Word here (use case and renderers);
tests/unit/test_words.py checks that both tables name the same words.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rich.console import RenderableType
from slack_sdk.models.blocks import Block

from bot.config import CostbotConfig
from bot.domain.errors import QueryError
from bot.domain.query import (
    BudgetCommand,
    Command,
    DigestCommand,
    IdleCommand,
    Query,
    help_text,
    quick_help_text,
    subcommand_of,
)
from bot.render import (
    action_blocks,
    anomaly_blocks,
    answer_blocks,
    budget_blocks,
    commitment_blocks,
    compliance_blocks,
    digest_blocks,
    savings_blocks,
    source_blocks,
    terminal,
)
from bot.render.common import notice_blocks
from bot.services.container import UseCases

Message = tuple[list[Block], str]  # blocks and their fallback text


@dataclass(frozen=True)
class Caller:
    """Who asks, from where: a Slack user in a channel, or a terminal (neither)."""

    user: str | None = None
    channel: str | None = None

    @property
    def in_slack(self) -> bool:
        return self.user is not None


@dataclass(frozen=True)
class Word:
    word: str  # "" for a question
    run: Callable[[UseCases, Any, Caller], Any]  # calls the use case; returns what the renderers show
    slack: Callable[[Any, str, CostbotConfig], list[Message]]  # (result, the text asked, config)
    terminal: Callable[[Any, CostbotConfig], RenderableType]
    needs_channel: str | None = None  # what to use in a terminal instead, when the word needs a Slack channel


# -- questions ---------------------------------------------------------------------------------------------
def _answer_slack(answer: Any, text: str, config: CostbotConfig) -> list[Message]:
    return [(answer_blocks.answer_blocks(answer, text), answer_blocks.answer_fallback_text(answer))]


QUESTION = Word("", lambda uc, q, _: uc.answers.answer(q), _answer_slack,
                lambda answer, _: terminal.render_answer(answer))


# -- subcommands ---------------------------------------------------------------------------------------------
def _help_slack(everything: bool, text: str, config: CostbotConfig) -> list[Message]:
    if everything:
        return [(answer_blocks.full_help_blocks(list(config.teams)), "Everything you can ask costbot")]
    return [(answer_blocks.help_blocks(list(config.teams)), "How to ask costbot")]


def _help_terminal(everything: bool, config: CostbotConfig) -> RenderableType:
    if everything:
        return terminal.render_help(help_text(config.grammar, "costbot ask"))
    return terminal.render_help(quick_help_text(config.grammar, "costbot ask", "costbot ask help all"))


def _idle(uc: UseCases, cmd: IdleCommand, caller: Caller) -> list[tuple[str | None, Any]]:
    """Open recommendations per team: the one asked for, else the caller's teams, else all."""
    teams: list[str | None] = [cmd.team] if cmd.team else list(uc.home.teams_of(caller.user or ""))
    return [(team, uc.actions.open_views(team)) for team in teams or [None]]


def _idle_slack(result: list[tuple[str | None, Any]], _: str, config: CostbotConfig) -> list[Message]:
    return [(action_blocks.recommendations_blocks(team or "all teams", rows, config.currency,
                                                  config.rules.snooze_days), f"{len(rows)} open recommendations")
            for team, rows in result]


def _budget(uc: UseCases, cmd: BudgetCommand, caller: Caller) -> tuple[Any, list[Any]]:
    """`budget set` (admins) then the status; without a scope, the caller's teams, else every budgeted scope."""
    changed = None
    if cmd.amount is not None:
        if not caller.in_slack:
            raise QueryError("`budget set` records who set the budget: use it in Slack, or `budgets` in costbot.yml",
                             word="set")
        changed = uc.budgets.set_budget(cmd.scope, cmd.amount, caller.user or "")
    scopes = [cmd.scope] if cmd.scope else list(uc.home.teams_of(caller.user or ""))
    if not scopes:
        scopes = uc.budgets.budgeted_scopes()
    statuses = [uc.budgets.status(s) for s in scopes] if cmd.scope else [
        uc.budgets.status(s) for s in scopes if uc.budgets.budget_for(s) is not None]
    return changed, statuses


def _budget_slack(result: tuple[Any, list[Any]], _: str, config: CostbotConfig) -> list[Message]:
    changed, statuses = result
    out: list[Message] = []
    if changed is not None and statuses:
        before, after, told = changed
        text = budget_blocks.budget_change_text(statuses[0].scope, before, after, config.currency)
        out.append((notice_blocks(f":white_check_mark: {text}" + (f"; told {told}." if told else ".")), "Budget set"))
    out.append((budget_blocks.budgets_blocks(statuses), "Budgets"))
    return out


def _digest_run(uc: UseCases, cmd: DigestCommand, caller: Caller) -> list[Block]:
    """Digest subcommands always act on the channel the command was typed in, never on one named in the text."""
    channel, user = caller.channel or "", caller.user or ""
    digests = uc.digests
    if cmd.action == "list":
        return digest_blocks.subscription_blocks(digests.subscriptions(channel), channel)
    if cmd.action == "subscribe":
        return digest_blocks.subscribed_blocks(digests.subscribe_as(user, channel, cmd.scope, list(cmd.when)))
    if cmd.action == "unsubscribe":
        removed = digests.unsubscribe_as(user, channel, cmd.scope)
        return notice_blocks(f"Unsubscribed <#{channel}> from the *{cmd.scope}* digest." if removed
                             else f"<#{channel}> has no *{cmd.scope}* digest. `/cost digest list` shows what it has.")
    cadence = "weekly" if cmd.when and cmd.when[0].lower() == "weekly" else "daily"
    digests.post_now_as(user, channel, cmd.scope, cadence)
    return notice_blocks(f"Posted the *{cmd.scope or 'all teams'}* {cadence} digest here.")


def _not_in_a_terminal(_: Any, __: CostbotConfig) -> RenderableType:
    raise AssertionError("words that need a channel are answered before they are rendered")


WORDS: dict[str, Word] = {w.word: w for w in (
    Word("help", lambda uc, cmd, caller: cmd.all, _help_slack, _help_terminal),
    Word("idle", _idle, _idle_slack,
         lambda result, config: terminal.render_recommendations(result, config.currency)),
    Word("savings", lambda uc, cmd, _: uc.actions.savings_waiting(cmd.team),
         lambda result, _, config: [(savings_blocks.savings_blocks(result, config.currency),
                                     savings_blocks.savings_title(result))],
         lambda result, config: terminal.render_savings(result, config.currency)),
    Word("audit", lambda uc, cmd, _: uc.actions.audit(cmd.limit),
         lambda entries, _, __: [(action_blocks.audit_blocks(entries), "Recent actions")],
         lambda entries, _: terminal.render_audit(entries)),
    Word("budget", _budget, _budget_slack, lambda result, _: terminal.render_budgets(result[1])),
    Word("anomalies", lambda uc, cmd, _: uc.anomalies.findings(cmd.scope, cmd.period),
         lambda found, _, config: [(anomaly_blocks.anomalies_list_blocks(found, config.currency),
                                    f"{len(found.anomalies)} anomalies")],
         lambda found, config: terminal.render_anomalies(found, config.currency)),
    Word("tags", lambda uc, cmd, _: uc.compliance.report(cmd.period),
         lambda report, _, __: [(compliance_blocks.compliance_blocks(report), "Tag compliance")],
         lambda report, _: terminal.render_compliance(report)),
    Word("sources", lambda uc, cmd, caller: uc.ingest.holdings_for(caller.user),
         lambda found, _, config: [(source_blocks.sources_blocks(found, config.currency), "Billing sources")],
         lambda found, config: terminal.render_sources(found, config.currency)),
    Word("commitments", lambda uc, cmd, _: uc.ingest.commitments(),
         lambda found, _, config: [(commitment_blocks.commitments_blocks(found, config.currency),
                                    "Contract commitments")],
         lambda found, config: terminal.render_commitments(found, config.currency)),
    Word("digest", _digest_run, lambda blocks, _, __: [(blocks, "costbot digests")], _not_in_a_terminal,
         needs_channel="costbot digest SCOPE --preview DIR (or --post --channel C…)"),
)}


def word_for(parsed: Query | Command) -> Word:
    """The table entry that answers a parsed `/cost` text."""
    sub = subcommand_of(parsed)
    return QUESTION if sub is None else WORDS[sub.word]


def answer_in_slack(uc: UseCases, config: CostbotConfig, text: str, caller: Caller) -> list[Message]:
    """What `/cost TEXT` answers in Slack: one or more ephemeral messages."""
    parsed = uc.answers.parse(text)
    word = word_for(parsed)
    return word.slack(_run(word, uc, parsed, caller, text), text, config)


def _run(word: Word, uc: UseCases, parsed: Query | Command, caller: Caller, text: str) -> Any:
    """The word's use case; a problem it finds with what was typed comes with an example of the same command."""
    try:
        return word.run(uc, parsed, caller)
    except QueryError as exc:
        sub = subcommand_of(parsed)
        if sub is not None and exc.example is None:
            exc.example = sub.example_for(text.split())
        raise


def answer_in_terminal(uc: UseCases, config: CostbotConfig, text: str) -> tuple[Word, Any, Query | Command]:
    """What `costbot ask TEXT` answers: the word, its result and the parsed text (the CLI renders it, as JSON
    or for the terminal). A word that needs a Slack channel says what to use instead."""
    parsed = uc.answers.parse(text)
    word = word_for(parsed)
    if word.needs_channel:
        raise QueryError(f"`{word.word} …` needs a Slack channel; in a terminal use `{word.needs_channel}`",
                         word=word.word)
    return word, _run(word, uc, parsed, Caller(), text), parsed

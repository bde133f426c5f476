"""The two halves of the `/cost` language stay in step: the domain's SUBCOMMANDS (parser and help) and the word
table in bot/words.py (use case and renderers) name the same words, and each word's example reaches its own
entry; a word that needs a Slack channel says in a terminal what to use instead."""

from __future__ import annotations

import pytest

from bot.domain.errors import QueryError
from bot.domain.query import SUBCOMMANDS, parse_query, subcommand_of
from bot.words import QUESTION, WORDS, answer_in_terminal, word_for
from tests.fakes import build_world

CONFIG = {"teams": {"team-ml": {"tags": {"team": "ml"}}}}


def test_the_domain_and_the_word_table_name_the_same_words() -> None:
    assert set(SUBCOMMANDS) == set(WORDS)
    assert all(word == entry.word for word, entry in WORDS.items())
    assert "" not in WORDS and QUESTION.word == ""


@pytest.mark.parametrize("word", sorted(SUBCOMMANDS))
def test_each_words_example_is_answered_by_its_own_entry(word: str) -> None:
    grammar = build_world(CONFIG).config.grammar
    parsed = parse_query(SUBCOMMANDS[word].example, grammar)
    sub = subcommand_of(parsed)
    assert sub is not None and sub.word == word
    assert word_for(parsed) is WORDS[word]


def test_a_question_is_answered_by_the_question_entry() -> None:
    grammar = build_world(CONFIG).config.grammar
    assert word_for(parse_query("team-ml last-week by service", grammar)) is QUESTION


@pytest.mark.parametrize("word", sorted(w for w, entry in WORDS.items() if entry.needs_channel))
def test_a_word_that_needs_a_channel_says_what_to_use_in_a_terminal(word: str) -> None:
    w = build_world(CONFIG)
    with pytest.raises(QueryError) as raised:
        answer_in_terminal(w.use_cases, w.config, SUBCOMMANDS[word].example)
    needs = WORDS[word].needs_channel
    assert needs is not None and needs in str(raised.value) and "needs a Slack channel" in str(raised.value)
    assert w.subscriptions.subscriptions() == [] and w.publisher.published == []  # nothing was done

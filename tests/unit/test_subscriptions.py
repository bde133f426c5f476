from datetime import date, timedelta
from decimal import Decimal

import pytest

from bot.domain.budgets import forecast_month_end
from bot.domain.errors import QueryError
from bot.domain.query import DigestCommand, Grammar, parse_query
from bot.domain.subscriptions import cadence_to_cron

G = Grammar(teams=("team-ml",), tag_keys={"team": "team", "project": "project"})


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        (["daily"], ("daily", "0 9 * * *")),
        (["daily", "07:30"], ("daily", "30 7 * * *")),
        (["weekly"], ("weekly", "0 9 * * mon")),
        (["weekly", "Friday", "16:05"], ("weekly", "5 16 * * fri")),
        (["cron", "0", "8", "*", "*", "MON-FRI"], ("cron", "0 8 * * MON-FRI")),
    ],
)
def test_cadence_to_cron(words: list[str], expected: tuple[str, str]) -> None:
    assert cadence_to_cron(words) == expected


@pytest.mark.parametrize("words", [["hourly"], ["daily", "25:00"], ["cron", "0", "8"], ["daily", "friday"], []])
def test_bad_cadences(words: list[str]) -> None:
    with pytest.raises(QueryError):
        cadence_to_cron(words)


def test_digest_commands_parse() -> None:
    assert parse_query("digest subscribe team-ml daily 09:00", G) == DigestCommand(
        "subscribe", "team-ml", ("daily", "09:00"))
    assert parse_query("digest subscribe project:fraud team-ml weekly", G) == DigestCommand(
        "subscribe", "project:fraud team-ml", ("weekly",))
    assert parse_query("digest unsubscribe team-ml", G) == DigestCommand("unsubscribe", "team-ml")
    assert parse_query("digest list", G) == DigestCommand("list")
    assert parse_query("digest now team-ml weekly", G) == DigestCommand("now", "team-ml", ("weekly",))


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("digest", "needs one of"),
        ("digest subscrib team-ml", "Did you mean 'subscribe'"),
        ("digest subscribe", "needs a scope"),
        ("digest subscribe team-ml last-week daily", "not a scope"),
        ("digest subscribe tem-ml daily", "Did you mean 'team-ml'"),
        ("digest list team-ml", "takes no more words"),
    ],
)
def test_bad_digest_commands(text: str, fragment: str) -> None:
    with pytest.raises(QueryError, match=fragment):
        parse_query(text, G)


def test_weekday_aware_forecast() -> None:
    # weekdays cost 100, weekends 10; yesterday is Wednesday 2026-11-18
    day = date(2026, 11, 18)
    totals = {}
    d = date(2026, 10, 1)
    while d <= day:
        totals[d] = Decimal(10) if d.weekday() >= 5 else Decimal(100)
        d += timedelta(days=1)
    mtd = sum(v for k, v in totals.items() if k >= date(2026, 11, 1))
    # Nov 19..30: Thu Fri (2 weekdays), Sat Sun, Mon-Fri (5), Sat Sun, Mon (1) -> 8 weekdays, 4 weekend days
    expected = mtd + 8 * Decimal(100) + 4 * Decimal(10)
    assert forecast_month_end(totals, day) == expected


def test_other_subcommands_parse() -> None:
    from decimal import Decimal

    from bot.domain.query import AnomaliesCommand, AuditCommand, BudgetCommand, IdleCommand, TagsCommand

    assert parse_query("idle", G) == IdleCommand()
    assert parse_query("idle team-ml", G) == IdleCommand("team-ml")
    assert parse_query("audit 25", G) == AuditCommand(25)
    assert parse_query("budget", G) == BudgetCommand()
    assert parse_query("budget set team-ml 25,000", G) == BudgetCommand("team-ml", Decimal(25000))
    assert parse_query("anomalies team-ml", G) == AnomaliesCommand("team-ml", "last-30d")
    assert parse_query("anomalies project:fraud 2026-Q3", G) == AnomaliesCommand("project:fraud", "2026-q3")
    assert parse_query("tags 2026-10", G) == TagsCommand("2026-10")
    for bad, fragment in (("idle tem-ml", "Did you mean 'team-ml'"), ("audit 0", "1 to 100"),
                          ("budget set team-ml lots", "not an amount"), ("budget set team-ml -5", "positive"),
                          ("anomalies team-ml extra", "unknown word 'extra'"),
                          ("anomalies last-week 2026-10", "two periods"),
                          ("tags yesterdy", "Did you mean 'yesterday'")):
        with pytest.raises(QueryError, match=fragment):
            parse_query(bad, G)


@pytest.mark.parametrize("minute", ["*", "*/5", "0,30", "0-59", "*/60", "5-5"])
def test_a_digest_runs_at_most_hourly(minute: str) -> None:
    with pytest.raises(QueryError) as exc:
        cadence_to_cron(["cron", minute, "9", "*", "*", "*"])
    assert str(exc.value) == (f"a digest runs at most hourly, so the cron's minute field must be one minute such as "
                              f"0, not '{minute}' (e.g. `cron 0 * * * *` for every hour)")


@pytest.mark.parametrize("cron", ["0 * * * *", "59 8 * * *", "05 */2 * * MON-FRI"])
def test_hourly_and_rarer_crons_are_allowed(cron: str) -> None:
    assert cadence_to_cron(["cron", *cron.split()]) == ("cron", cron)


@pytest.mark.parametrize(("schedule", "message"), [
    ("* * * * *", "a digest runs at most hourly, so the cron's minute field must be one minute such as 0, not '*'"),
    ("*/5 9 * * *", "a digest runs at most hourly, so the cron's minute field must be one minute such as 0, "
                    "not '*/5'"),
    ("0 25 * * *", "'0 25 * * *' is not a valid cron expression"),
])
def test_a_config_digest_more_often_than_hourly_is_a_config_error(schedule: str, message: str) -> None:
    from bot.config import parse_config
    from bot.domain.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        parse_config({"teams": {"team-ml": {"tags": {"team": "ml"}, "digest": {"schedule": schedule}}}},
                     "costbot.yml")
    assert f"teams.team-ml.digest.schedule: Value error, {message}" in str(exc.value)


def test_a_config_digest_hourly_is_fine() -> None:
    from bot.config import parse_config

    config = parse_config({"teams": {"team-ml": {"tags": {"team": "ml"}, "digest": {"schedule": "0 * * * *"}}}})
    assert config.teams["team-ml"].digest is not None

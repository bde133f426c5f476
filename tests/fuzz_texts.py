"""Hypothesis strategies for `/cost` texts: the grammar's own words mixed with edge dates, odd numbers, random
unicode and quotes. Shared by the parser property test and the command-chain property tests, so both explore
the same inputs."""

from __future__ import annotations

from datetime import date

from hypothesis import strategies as st

from bot.domain.periods import PERIOD_WORDS
from bot.domain.query import CADENCE_WORDS, COLUMN_DIMENSIONS, DIGEST_ACTIONS, KEYWORDS, TIME_DIMENSIONS

TEAMS = ("team-ml", "team-vision", "team-search", "team-data", "team-platform")

#: every case the security review found reaching the generic error, plus their neighbours
REGRESSION_TEXTS = (
    "0000-01", "10000-01", "0000-q1", "10000-q1", "0000-01-01", "10000-01-01",
    "9999-12-31", "0001-01-01", "9999-q4", "9999-12", "0001-01", "0001-q1",
    "0001-01-01..9999-12-31", "9999-12-31..9999-12-31", "tags 0000-01", "tags 9999-12-31",
    "team-ml 9999-12-31 by day", "top ²", "top ³ by service", "audit ²", "top 99999999999999999999",
    "budget set team-ml 1e999999", "budget set team-ml 1e-999999", "budget set team-ml 1000000000000.01",
    "budget set team-ml 25000.005", "budget set team-ml sNaN",
)

_WORDS = (*PERIOD_WORDS, *KEYWORDS, *TEAMS, *DIGEST_ACTIONS, *CADENCE_WORDS, *COLUMN_DIMENSIONS, *TIME_DIMENSIONS,
          "team", "project", "model", "env", "set", "last-7d", "last-30d", "last-0d", "last-3660d", "last-3661d",
          "project:fraud", "model:bert-large", "service:sagemaker", 'service:"Amazon S3"', "service:amazon",
          "account:111122223333", "region:us-east-1", "resource:gpu-dev-02", "team:ml", "env:prod", "untagged",
          "x:y:z", ":x", "x:", "aws|x", "09:00", "fri", "*", "*/5", "0,30", "MON-FRI")
_NUMBERS = ("0", "1", "3", "100", "101", "1000", "1001", "-1", "²", "³", "١٢", "１２", "5.5", "1e999999",
            "1e-999999", "NaN", "sNaN", "inf", "Infinity", "1e12", "1000000000000", "25,000", "$25000", "1_000",
            "0x10", "9" * 30, "9" * 5000)
_EDGE_DATES = (date(1, 1, 1), date(1, 1, 2), date(1969, 12, 31), date(1970, 1, 1), date(2026, 11, 28),
               date(2999, 12, 31), date(3000, 1, 1), date(9999, 12, 30), date(9999, 12, 31))


def _period_texts(d: date, other: date, quarter: int) -> st.SearchStrategy[str]:
    return st.sampled_from((d.isoformat(), d.isoformat()[:7], f"{d.year:04d}-q{quarter}",
                            f"{d.isoformat()}..{other.isoformat()}", f"{d.year:04d}-{d.month:02d}-{d.day + 1:02d}"))


_dates = st.one_of(st.sampled_from(_EDGE_DATES), st.dates())
_periods = st.builds(_period_texts, _dates, _dates, st.integers(0, 5)).flatmap(lambda s: s)
_odd_years = st.sampled_from(("0000", "10000", "99999", "0")).flatmap(
    lambda y: st.sampled_from((f"{y}-01", f"{y}-q4", f"{y}-12-31", f"{y}-01-01..2026-01-01")))
_scopes = st.builds(lambda k, v: f"{k}:{v}", st.sampled_from(("project", "service", "account", "region", "resource",
                                                              "team", "model", "cost center", "k")),
                    st.text(min_size=1, max_size=12).filter(lambda v: not v.isspace()))
_clean_text = st.text(st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="\"'\\"),
                     min_size=1, max_size=12)
_clean_scopes = st.builds(lambda k, v: f'"{k}:{v}"' if " " in k else f"{k}:{v}",
                          st.sampled_from(("project", "service", "account", "region", "resource", "team", "model",
                                           "cost center", "k")), _clean_text)
_token = st.one_of(
    st.sampled_from(_WORDS),
    st.sampled_from(_NUMBERS),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    _periods,
    _odd_years,
    _scopes,
    st.text(max_size=10),
    st.sampled_from(('"', "'", '""', '"unterminated', "\\", "\u200b", "<!channel>", "*bold*", "x" * 3000)),
)
_quoted = st.one_of(_token, _token.map(lambda t: f'"{t}"'), _token.map(lambda t: f"'{t}'"))
_prefix = st.sampled_from(("", "", "", "budget set team-ml", "budget", "top", "by", "digest subscribe team-ml",
                           "digest unsubscribe", "digest now", "digest list", "audit", "idle", "savings", "anomalies",
                           "tags", "team-ml", "help"))

_answerable_scopes = st.one_of(
    st.sampled_from((*TEAMS, "project:fraud", "model:bert-large", "service:sagemaker", 'service:"Amazon S3"',
                     "service:amazon", "service:nothing-like-it", "untagged", "account:111122223333",
                     "region:us-east-1", "resource:gpu-dev-02", "team:ml", "env:prod", "Team-ML",
                     "project:" + "x" * 490, "project:" + "x" * 3100)),
    _clean_scopes,
)
_answerable_periods = st.one_of(
    st.sampled_from((*PERIOD_WORDS, "last-1d", "last-7d", "last-30d", "last-3660d", "2026-11", "2026-q4",
                     "2026-11-27", "2026-11-01..2026-11-27", "1970-01-01..2999-12-31", "2999-12-31", "1970-01")),
    st.builds(_period_texts, st.dates(date(1970, 1, 1), date(2999, 12, 31)),
              st.dates(date(1970, 1, 1), date(2999, 12, 31)), st.integers(1, 4)).flatmap(lambda s: s),
    _periods,
)
_by = st.one_of(st.sampled_from(("team", "project", "model", "env", *COLUMN_DIMENSIONS, *TIME_DIMENSIONS,
                                 "cost_center", "x" * 128)),
                _clean_text).map(lambda d: f'by "{d}"' if " " in d else f"by {d}")
_parts = st.tuples(
    st.lists(_answerable_scopes, max_size=2), st.one_of(st.just(""), _answerable_periods),
    st.one_of(st.just(""), _by), st.sampled_from(("", "", "top 1", "top 3", "top 1000")),
    st.sampled_from(("", "", "billed", "direct", "billed direct")),
).map(lambda t: [*t[0], *(p for p in t[1:] if p)])
#: texts that mostly are answerable questions, in any order, sometimes with one odd word
query_texts = st.tuples(_parts.flatmap(st.permutations), st.one_of(st.just(""), _token)).map(
    lambda t: " ".join([*t[0], t[1]]).strip())
#: the subcommands with arguments of the right kind (and edge values)
command_texts = st.one_of(
    st.builds(lambda s: f"budget {s}", _answerable_scopes),
    st.builds(lambda s, a: f"budget set {s} {a}", _answerable_scopes, st.one_of(
        st.sampled_from(_NUMBERS), st.decimals(allow_nan=True, allow_infinity=True).map(str))),
    st.builds(lambda p: f"tags {p}", _answerable_periods),
    st.builds(lambda t, c: f"{c} {t}", st.sampled_from(TEAMS), st.sampled_from(("idle", "savings", "anomalies"))),
    st.builds(lambda n: f"audit {n}", st.one_of(st.integers(-5, 105).map(str), st.sampled_from(_NUMBERS))),
    st.builds(lambda s, w: f"digest subscribe {s} {w}", _answerable_scopes, st.sampled_from((
        "daily", "daily 07:30", "weekly fri 16:00", "cron 0 8 * * MON-FRI", "cron * * * * *", "cron */5 * * * *",
        "cron 0,30 9 * * *", "cron 0 * * * *", "cron 0 25 * * *", "cron a b c d e", "hourly", "daily 24:00"))),
    st.builds(lambda s: f"digest unsubscribe {s}", _answerable_scopes),
    st.sampled_from(("digest list", "digest now team-ml", "help", "")),
)

#: one `/cost` text
cost_texts = st.one_of(
    st.builds(lambda p, ws: " ".join(w for w in (p, *ws) if w), _prefix, st.lists(_quoted, max_size=6)),
    st.text(max_size=80),
    st.sampled_from(REGRESSION_TEXTS),
    query_texts,
    query_texts,
    command_texts,
)


def sample_texts(count: int, seed: int) -> list[str]:
    """A fixed sample in the same spirit, for tests that cannot afford Hypothesis' example count (real HTTP)."""
    import random

    rng = random.Random(seed)
    dates = [d.isoformat() for d in _EDGE_DATES] + ["9999-q4", "0000-01", "10000-01", "2026-q4", "2026-11"]
    pools = (_WORDS, _WORDS, _NUMBERS, dates, TEAMS)
    prefixes = ("", "", "", "budget set team-ml", "budget", "top", "by", "audit", "idle", "savings", "anomalies",
                "tags", "digest subscribe project:fraud", "digest unsubscribe", "team-ml", "last-week by")
    out = []
    for _ in range(count):
        words = [rng.choice(rng.choice(pools)) for _ in range(rng.randint(0, 4))]
        out.append(" ".join(w for w in (rng.choice(prefixes), *words) if w))
    return out

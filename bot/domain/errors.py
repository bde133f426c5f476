"""Domain errors: raised by services, turned into user messages in one place (CLI / Slack error handler)."""

from __future__ import annotations


class CostbotError(Exception):
    """Base of every error that carries a message meant for the user."""

    exit_code = 1


class QueryError(CostbotError):
    """The `/cost` text could not be understood. `word` is the offending word, `suggestion` a close valid one,
    `example` a correct use of the same command (`budget set team-ml 30000`), when it was one."""

    exit_code = 2

    def __init__(self, message: str, word: str | None = None, suggestion: str | None = None,
                 example: str | None = None) -> None:
        super().__init__(message)
        self.word = word
        self.suggestion = suggestion
        self.example = example


class UnknownScope(QueryError):
    """A scope names something that is not in the config or the data (a team, a service)."""


class ConfigError(CostbotError):
    """costbot.yml is invalid; the message names the key path and what was expected."""


class IngestError(CostbotError):
    """A billing file was rejected whole; the message names the file, row and column."""

    def __init__(self, message: str, path: str, row: int | None = None, column: str | None = None) -> None:
        where = path
        if row is not None:
            where += f", row {row}"
        if column is not None:
            where += f", column {column}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.row = row
        self.column = column
        self.reason = message


class SourceOverlap(CostbotError):
    """An ingest or a sync carries billing account-months another source already holds: taking both would count
    them twice. Nothing was changed; the message names the other source and how to replace it."""


class NoData(CostbotError):
    """The store holds no billing data yet."""


class ProviderError(CostbotError):
    """A cloud call failed. The message is short and safe to show (what failed, a reason, a reference); the
    cloud's own text — which can name roles, account ids and encoded authorization messages — is `detail`,
    for the log and the operators' audit view only."""

    def __init__(self, message: str, detail: str | None = None, reference: str | None = None) -> None:
        super().__init__(f"{message} (ref {reference})" if reference else message)
        self.detail = detail
        self.reference = reference


class NotifyError(CostbotError):
    """Slack could not be told (after retries); what was being recorded is kept, and told again later."""


class SourceError(CostbotError):
    """A billing source could not be read; the store was left as it was."""


class QueryEngineError(CostbotError):
    """A query engine (Athena) could not answer; the message says why."""


class StoreBusy(CostbotError):
    """Another process holds the cost store."""


class StoreUnreadable(CostbotError):
    """The cost store cannot read the billing files it keeps from where it is (its folder was moved, or its path
    cannot be named to DuckDB); the message says what to do."""

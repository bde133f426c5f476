"""CostStore on Amazon Athena, for organizations whose CUR is too large for one machine.

Questions are compiled by the same SqlBuilder as the DuckDB store (bot/adapters/sql_compile.py), whose SQL
holds only constants and `$pN` parameters. That SQL is parsed with sqlglot (DuckDB dialect), each parameter
node is replaced by a literal node (tag keys and values are data, never spliced into SQL text), map
subscripts become ELEMENT_AT (Trino's `m['k']` fails on a missing key), and the tree is written as Athena's
Trino. The FOCUS or CUR 2.0 table is mapped to FOCUS column names by a CTE named `costs`. Results are cached
by (SQL, data freshness), so a repeated question costs no scan.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import boto3
import sqlglot
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from sqlglot import exp

from bot.adapters import sql_compile
from bot.adapters.sources.columns import quote_ident
from bot.domain.errors import QueryEngineError
from bot.domain.figures import DailyRow, Totals
from bot.domain.spec import CostSpec, Grouping
from bot.telemetry import count_aws_calls

log = logging.getLogger("costbot.athena")

# shared clusters (split cost allocation) are normalized by the embedded store only: on Athena they are empty
_SHARED_CLUSTERS = ("CAST(NULL AS MAP(VARCHAR, VARCHAR)) AS AllocatedTags, CAST(NULL AS VARCHAR) AS x_Cluster, "
                    "CAST(NULL AS VARCHAR) AS x_Namespace, CAST(NULL AS VARCHAR) AS x_Workload, "
                    "CAST(NULL AS VARCHAR) AS x_Node")

# The source table is attached as a quoted table node (`source_view`), never formatted into this text.
FOCUS_VIEW = """SELECT chargeperiodstart AS ChargePeriodStart, billedcost AS BilledCost, effectivecost AS EffectiveCost,
    servicename AS ServiceName, servicecategory AS ServiceCategory, subaccountid AS SubAccountId,
    billingaccountid AS BillingAccountId, regionid AS RegionId, resourceid AS ResourceId, resourcename AS ResourceName,
    resourcetype AS ResourceType,
    chargecategory AS ChargeCategory, providername AS ProviderName, tags AS Tags, """ + _SHARED_CLUSTERS

CUR2_VIEW = """SELECT line_item_usage_start_date AS ChargePeriodStart, line_item_unblended_cost AS BilledCost,
    CASE line_item_line_item_type
        WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost
        WHEN 'DiscountedUsage' THEN reservation_effective_cost
        WHEN 'SavingsPlanNegation' THEN 0 WHEN 'SavingsPlanUpfrontFee' THEN 0
        ELSE line_item_unblended_cost END AS EffectiveCost,
    product_product_name AS ServiceName, 'Other' AS ServiceCategory, line_item_usage_account_id AS SubAccountId,
    bill_payer_account_id AS BillingAccountId, product_region_code AS RegionId, line_item_resource_id AS ResourceId,
    CAST(NULL AS VARCHAR) AS ResourceName,
    product_product_family AS ResourceType, line_item_line_item_type AS ChargeCategory, 'AWS' AS ProviderName,
    transform_keys(resource_tags, (k, v) -> regexp_replace(k, '^user_', '')) AS Tags, """ + _SHARED_CLUSTERS


AthenaError = QueryEngineError  # an Athena query failed, or a question cannot be written as Athena SQL


def source_view(database: str, table: str, table_format: str = "focus") -> exp.Select:
    """The FOCUS-named view over the export table, with the table as quoted identifiers."""
    view = sqlglot.parse_one(CUR2_VIEW if table_format == "cur2" else FOCUS_VIEW, read="trino")
    assert isinstance(view, exp.Select)
    return view.from_(exp.table_(table, db=database, quoted=True), copy=False)


def trino_string(text: str) -> exp.Expression:
    """A Trino string literal that reads back as exactly `text`.

    Printable text is a plain literal (sqlglot doubles the quotes). Text with control characters, NUL, line
    breaks or other unprintable characters is a Unicode literal, U&'...', where those characters are written
    as \\XXXX or \\+XXXXXX and a backslash as two. A lone surrogate is not text: Trino rejects it, so it is
    refused here with a clear error.
    """
    if text.isprintable():
        return exp.Literal.string(text)
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF:
            raise AthenaError(f"{text[:40]!r} is not valid Unicode text (it holds a lone surrogate)")
        if ch == "\\":
            out.append("\\\\")
        elif ch.isprintable():
            out.append(ch)
        else:
            out.append(f"\\{code:04X}" if code <= 0xFFFF else f"\\+{code:06X}")
    return exp.UnicodeString(this="".join(out))


def _literal(value: Any) -> exp.Expression:
    if isinstance(value, str):
        return trino_string(value)
    if isinstance(value, datetime):
        return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), exp.DataType.Type.TIMESTAMP)
    if isinstance(value, date):
        return exp.cast(exp.Literal.string(value.isoformat()), exp.DataType.Type.DATE)
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return exp.Literal.number(format(value, "d" if isinstance(value, int) else "f"))
    raise TypeError(f"no Athena literal for a {type(value).__name__} parameter")


def bind(tree: exp.Expression, params: dict[str, Any]) -> exp.Expression:
    """Each `$pN` parameter node becomes a literal node. A `$p8` inside a string literal is not a parameter
    node, so it is never touched; an unknown or unused parameter is a compiler bug and raises."""
    used: set[str] = set()

    def literal(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Placeholder | exp.Parameter):
            name = node.name
            if name not in params:
                raise ValueError(f"SQL parameter {node.sql(dialect='duckdb')!r} has no value")
            used.add(name)
            return _literal(params[name])
        return node

    bound = tree.transform(literal)
    if used != set(params):
        raise ValueError(f"SQL parameters never used: {sorted(set(params) - used)}")
    return bound


def _element_at(node: exp.Expression) -> exp.Expression:
    if isinstance(node, exp.Bracket) and len(node.expressions) == 1:
        return exp.Anonymous(this="ELEMENT_AT", expressions=[node.this, node.expressions[0]])
    return node


def to_athena(sql: str, params: dict[str, Any], source: exp.Select) -> str:
    """DuckDB SQL over `costs` -> Trino SQL over the mapped table. The one translation for every question."""
    statements = sqlglot.parse(sql, read="duckdb")
    statement = statements[0] if len(statements) == 1 else None
    if not isinstance(statement, exp.Select):
        raise ValueError("a question compiles to exactly one SELECT")
    tree = bind(statement, params).transform(_element_at)
    assert isinstance(tree, exp.Select)
    return tree.with_("costs", as_=source.copy(), copy=False).sql(dialect="trino")


class AthenaCostStore:
    """Read-only CostStore: the data stays in S3 and Athena does the scanning."""

    def __init__(self, database: str, table: str, workgroup: str | None = None, output_location: str | None = None,
                 region: str | None = None, table_format: str = "focus", freshness_ttl: float = 600,
                 session_factory: Callable[[], Any] = boto3.session.Session, poll_seconds: float = 0.5) -> None:
        self.database = database
        self.workgroup = workgroup
        self.output_location = output_location
        self.region = region
        self.source = source_view(database, table, table_format)
        self.freshness_ttl = freshness_ttl
        self.poll_seconds = poll_seconds
        self.session_factory = session_factory
        self.requests: Counter[str] = Counter()
        self.sent: list[str] = []  # SQL sent, newest last (for logs and tests)
        self._cache: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
        self._fresh: tuple[float, date | None] | None = None
        self._first: date | None = None
        self._lock = threading.Lock()
        self._client: Any = None

    def _athena(self) -> Any:
        with self._lock:
            if self._client is None:
                cfg = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)
                self._client = self.session_factory().client("athena", region_name=self.region, config=cfg)
                self._client.meta.events.register("before-call",
                                                  lambda model, **_: self.requests.update([model.name]))
                count_aws_calls(self._client)
            return self._client

    def run(self, athena_sql: str) -> list[tuple[Any, ...]]:
        client = self._athena()
        kwargs: dict[str, Any] = {"QueryString": athena_sql, "QueryExecutionContext": {"Database": self.database}}
        if self.workgroup:
            kwargs["WorkGroup"] = self.workgroup
        if self.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.output_location}
        try:
            qid = client.start_query_execution(**kwargs)["QueryExecutionId"]
            self.sent.append(athena_sql)
            while True:
                status = client.get_query_execution(QueryExecutionId=qid)["QueryExecution"]["Status"]
                if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                    break
                time.sleep(self.poll_seconds)
            if status["State"] != "SUCCEEDED":
                raise AthenaError(f"Athena query {status['State'].lower()}: {status.get('StateChangeReason', '')}")
            rows: list[tuple[Any, ...]] = []
            for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=qid):
                for row in page["ResultSet"]["Rows"]:
                    rows.append(tuple(d.get("VarCharValue") for d in row["Data"]))
            return rows[1:]  # the first row holds the column names
        except (ClientError, BotoCoreError) as exc:
            raise AthenaError(f"Athena query failed: {exc}") from exc

    def _query(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        athena_sql = to_athena(sql, params, self.source)
        fresh = self.freshness()
        key = (athena_sql, fresh.isoformat() if fresh else "")
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        rows = self.run(athena_sql)
        with self._lock:
            self._cache[key] = rows
        return rows

    # -- CostStore (reads) -----------------------------------------------------------------------------
    def freshness(self) -> date | None:
        with self._lock:
            if self._fresh is not None and time.monotonic() - self._fresh[0] < self.freshness_ttl:
                return self._fresh[1]
        rows = self.run(to_athena("SELECT max(ChargePeriodStart), min(ChargePeriodStart) FROM costs", {},
                                  self.source))
        row = rows[0] if rows else ()
        last = date.fromisoformat(row[0][:10]) if len(row) > 0 and row[0] else None
        first = date.fromisoformat(row[1][:10]) if len(row) > 1 and row[1] else None
        with self._lock:
            self._fresh = (time.monotonic(), last)
            self._first = first
        return last

    def first_day(self) -> date | None:
        """Read with the data's last day (one query, cached as long)."""
        self.freshness()
        return self._first

    @staticmethod
    def _money(value: Any) -> Decimal:
        return Decimal(value) if value not in (None, "") else Decimal(0)

    def totals(self, spec: CostSpec, previous: tuple[date, date]) -> Totals:
        sql, params = sql_compile.totals_sql(spec, previous, ())
        current, untagged, prev = self._query(sql, params)[0]
        return Totals(self._money(current), self._money(prev), self._money(untagged))

    def groups(self, spec: CostSpec, grouping: Grouping, top: int | None = None) -> list[tuple[str, Decimal]]:
        """Every group (`top` is not pushed down to Athena: the caller's `top_groups` applies it)."""
        sql, params = sql_compile.groups_sql(spec, grouping, ())
        return [(str(k), self._money(c)) for k, c in self._query(sql, params)]

    def daily(self, spec: CostSpec, grouping: Grouping) -> list[DailyRow]:
        sql, params = sql_compile.daily_sql(spec, grouping, ())
        rows = self._query(sql, params)
        return [DailyRow(date.fromisoformat(str(d)[:10]), str(k), self._money(c)) for d, k, c in rows]

    def quantities(self, spec: CostSpec, grouping: Grouping) -> list[tuple[str, Decimal]]:
        """None known: the export views read no usage quantities or usage types (GPU-hours stay unknown)."""
        return []

    def distinct_values(self, column: str) -> list[str]:
        if column not in sql_compile.ALLOWED_COLUMNS:
            raise ValueError(column)
        name = quote_ident(column)
        rows = self._query(f"SELECT DISTINCT {name} FROM costs WHERE {name} IS NOT NULL ORDER BY 1", {})
        return [str(r[0]) for r in rows]

    def tag_keys(self) -> list[str]:
        return [str(r[0]) for r in self._query(sql_compile.TAG_KEYS_SQL, {}) if r and r[0]]

    def tag_values(self, key: str) -> list[str]:
        sql, params = sql_compile.tag_values_sql(key, ())
        return [str(r[0]) for r in self._query(sql, params) if r and r[0] is not None]

    def resource_names(self) -> dict[str, str]:
        return {str(r[0]): str(r[1] or "") for r in self._query(sql_compile.RESOURCE_NAMES_SQL, {}) if r and r[0]}

    def row_count(self) -> int:
        rows = self._query("SELECT count(*) FROM costs", {})
        return int(rows[0][0]) if rows else 0

    def sources(self) -> Sequence[tuple[str, int]]:
        return [("athena", self.row_count())]

"""The FOCUS columns costbot keeps, their DuckDB types, and SQL expressions to parse raw text into them."""

from __future__ import annotations

COST_TYPE = "DECIMAL(18,9)"

#: FOCUS column -> DuckDB type, in table order. `x_` columns are costbot's own.
FOCUS_COLUMNS: dict[str, str] = {
    "BillingAccountId": "VARCHAR",
    "BillingAccountName": "VARCHAR",
    "SubAccountId": "VARCHAR",
    "SubAccountName": "VARCHAR",
    "ProviderName": "VARCHAR",
    "BillingPeriodStart": "TIMESTAMP",
    "ChargePeriodStart": "TIMESTAMP",
    "ChargePeriodEnd": "TIMESTAMP",
    "ChargeCategory": "VARCHAR",
    "ChargeDescription": "VARCHAR",
    "BilledCost": COST_TYPE,
    "EffectiveCost": COST_TYPE,
    "ListCost": COST_TYPE,
    "BillingCurrency": "VARCHAR",
    "ServiceName": "VARCHAR",
    "ServiceCategory": "VARCHAR",
    "ResourceId": "VARCHAR",
    "ResourceName": "VARCHAR",
    "ResourceType": "VARCHAR",
    "RegionId": "VARCHAR",
    "SkuId": "VARCHAR",
    "ConsumedQuantity": "DOUBLE",
    "ConsumedUnit": "VARCHAR",
    "Tags": "MAP(VARCHAR, VARCHAR)",
    # FOCUS 1.3 split cost allocation: kept as the file carries them (Tags above are the attributed tags)
    "AllocatedMethodId": "VARCHAR",
    "AllocatedMethodDetails": "VARCHAR",
    "AllocatedResourceId": "VARCHAR",
    "AllocatedResourceName": "VARCHAR",
    "AllocatedTags": "MAP(VARCHAR, VARCHAR)",
    "ContractApplied": "VARCHAR",  # FOCUS 1.3: JSON, the commitments applied to the charge (`/cost commitments`)
    "x_UsageType": "VARCHAR",
    # shared clusters (sources/clusters.py): the origin resource's own tags, and the Kubernetes attribution keys
    "x_OriginTags": "MAP(VARCHAR, VARCHAR)",
    "x_Cluster": "VARCHAR",
    "x_Namespace": "VARCHAR",
    "x_Workload": "VARCHAR",
    "x_Node": "VARCHAR",
    "x_Source": "VARCHAR",
    "x_BillingPeriod": "DATE",
    "x_IngestedAt": "TIMESTAMP",
}

COST_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost")

_SLASH_DATE = r"'^\s*\d{1,2}/\d{1,2}/\d{2,4}'"
_FORMATTED_NUMBER = r"'^-?\$?(\d{1,3}(,\d{3})+|\$\d+)(\.\d+)?$'"


def is_text(source_type: str) -> bool:
    t = source_type.upper()
    return t in ("VARCHAR", "TEXT", "STRING") or t.startswith("VARCHAR")


def quote_ident(name: str) -> str:
    """A DuckDB quoted identifier (column names from file headers, costbot's own columns)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A DuckDB string literal, for constants and names read from file headers while ingesting. DuckDB reads
    backslashes and NUL in '...' as themselves. Questions never use it for keys or values: those are bound (the
    store's view over kept files names the indexed tag keys with it: they come from the config and the data)."""
    return "'" + text.replace("'", "''") + "'"


def text_expr(expr: str) -> str:
    """Trimmed text; empty strings and the literal NULL (any case) as SQL NULL."""
    text = f"trim(CAST({expr} AS VARCHAR))"
    return f"CASE WHEN upper({text}) IN ('', 'NULL') THEN NULL ELSE {text} END"


def clean_text_expr(expr: str) -> str:
    """Text from a typed (Parquet) column: only empty strings and the literal NULL become SQL NULL."""
    return f"NULLIF(NULLIF(CAST({expr} AS VARCHAR), ''), 'NULL')"


def timestamp_expr(expr: str, source_type: str) -> str:
    """A UTC timestamp from text with or without `T`, `Z` or an offset, M/D/Y dates, or a typed column."""
    t = source_type.upper()
    if t.startswith("TIMESTAMP WITH TIME ZONE") or t == "TIMESTAMPTZ":
        return f"timezone('UTC', {expr})"
    if t.startswith("TIMESTAMP") or t == "DATE":
        return f"CAST({expr} AS TIMESTAMP)"
    raw = text_expr(expr)
    return (
        f"CASE WHEN regexp_matches({raw}, {_SLASH_DATE}) "
        f"THEN try_strptime({raw}, ['%m/%d/%y', '%m/%d/%Y', '%m/%d/%y %H:%M', '%m/%d/%Y %H:%M', "
        f"'%m/%d/%Y %H:%M:%S']) "
        f"ELSE timezone('UTC', TRY_CAST({raw} AS TIMESTAMPTZ)) END"
    )


def number_expr(expr: str, source_type: str, target: str) -> str:
    """A number of the target type from text or a numeric column; NULL when it cannot be read."""
    if is_text(source_type):
        raw = text_expr(expr)
        # "$10,000.00" (a currency sign, commas grouping thousands) reads as 10000.00; "12,50" does not
        return (f"CASE WHEN regexp_matches({raw}, {_FORMATTED_NUMBER}) "
                f"THEN TRY_CAST(regexp_replace({raw}, '[$,]', '', 'g') AS {target}) "
                f"ELSE TRY_CAST({raw} AS {target}) END")
    return f"TRY_CAST({expr} AS {target})"


def tags_expr(expr: str, source_type: str) -> str:
    """Tags from a MAP column or JSON text; empty text is an empty map."""
    t = source_type.upper()
    if t.startswith("MAP"):
        return f"CAST({expr} AS MAP(VARCHAR, VARCHAR))"
    raw = text_expr(expr)
    return (
        f"CASE WHEN {raw} IS NULL OR {raw} IN ('{{}}', '[]') THEN MAP {{}}::MAP(VARCHAR, VARCHAR) "
        f"ELSE json_transform({raw}, '\"MAP(VARCHAR, VARCHAR)\"') END"
    )


def tags_valid_expr(expr: str, source_type: str) -> str:
    """True when the tags value can be read (a JSON object, or nothing)."""
    if source_type.upper().startswith("MAP"):
        return "TRUE"
    raw = text_expr(expr)
    return (f"({raw} IS NULL OR {raw} IN ('{{}}', '[]') OR "
            f"CASE WHEN json_valid({raw}) THEN json_type({raw}) = 'OBJECT' ELSE FALSE END)")

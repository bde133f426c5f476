"""FOCUS 1.0–1.3 files (CSV, CSV.gz, Parquet) mapped onto costbot's FOCUS columns.

FOCUS 1.3 split cost allocation: an allocated charge (`AllocatedMethodId` set) replaces its origin charge in the
export, so every row counts once as it is. Its `Allocated*` columns are kept; `Tags` becomes the tags the charge
is attributed by — the allocated tags over the origin resource's tags, key by key — and the origin tags stay in
`x_OriginTags`. `ProviderName` falls back to FOCUS 1.3's `ServiceProviderName`.
"""

from __future__ import annotations

from bot.adapters.sources.clusters import cluster_exprs
from bot.adapters.sources.columns import (
    COST_TYPE,
    FOCUS_COLUMNS,
    clean_text_expr,
    is_text,
    number_expr,
    tags_expr,
    tags_valid_expr,
    text_expr,
    timestamp_expr,
)
from bot.adapters.sources.mapping import Check, ColumnIndex, Mapping
from bot.adapters.sources.raw_files import RawFile

_TIMESTAMPS = ("BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd")
_TAG_COLUMNS = ("Tags", "AllocatedTags")
_ORIGIN_NOTE = "origin charges left out: their allocated charges in the same file carry that cost"
_EMPTY_TAGS = "MAP {}::MAP(VARCHAR, VARCHAR)"
_NUMBERS = {"BilledCost": COST_TYPE, "EffectiveCost": COST_TYPE, "ListCost": COST_TYPE, "ConsumedQuantity": "DOUBLE"}


def is_focus(raw: RawFile) -> bool:
    index = ColumnIndex(raw)
    return index.get("ChargePeriodStart") is not None or index.get("BilledCost") is not None


def focus_mapping(raw: RawFile, tag_keys: frozenset[str] | None = None) -> Mapping:
    """`tag_keys`: the keys the file's tags hold (over `Mapping.tags_over_raw`), when the store has read them."""
    index = ColumnIndex(raw)
    exprs: dict[str, str] = {}
    checks: list[Check] = []
    for target in FOCUS_COLUMNS:
        if target.startswith("x_"):
            usage_type = index.get(target) if target == "x_UsageType" else None  # AWS's FOCUS exports carry it
            if usage_type is not None:
                exprs[target] = clean_text_expr(usage_type.ref) if raw.typed else text_expr(usage_type.ref)
            continue
        col = index.get(target)
        if col is None:
            exprs[target] = "NULL"
            continue
        if target in _TIMESTAMPS:
            expr = timestamp_expr(col.ref, col.type)
            exprs[target] = expr
            if is_text(col.type):
                checks.append(Check(col.name, f"{text_expr(col.ref)} IS NOT NULL AND ({expr}) IS NULL",
                                    "is not a timestamp", col.ref))
            checks.append(Check(col.name, f"year({expr}) NOT BETWEEN 1990 AND 2200",
                                "is outside the years 1990–2200", col.ref))
        elif target in _NUMBERS:
            expr = number_expr(col.ref, col.type, _NUMBERS[target])
            exprs[target] = expr
            if is_text(col.type):  # typed Parquet numbers need no parsing check
                checks.append(Check(col.name, f"{text_expr(col.ref)} IS NOT NULL AND ({expr}) IS NULL",
                                    "is not a number", col.ref))
        elif target in _TAG_COLUMNS:
            exprs[target] = tags_expr(col.ref, col.type)
            checks.append(Check(col.name, f"NOT {tags_valid_expr(col.ref, col.type)}",
                                "is not a JSON object of tags", col.ref))
        else:
            exprs[target] = clean_text_expr(col.ref) if raw.typed else text_expr(col.ref)
    start = index.get("ChargePeriodStart")
    if start is None:
        exprs["ChargePeriodStart"] = "NULL"
    missing = "TRUE"
    if start is not None:
        missing = f"{text_expr(start.ref)} IS NULL" if is_text(start.type) else f"{start.ref} IS NULL"
    checks.insert(0, Check("ChargePeriodStart", missing, "is missing (a charge needs its start)"))
    if index.get("BilledCost") is None and index.get("EffectiveCost") is None:
        checks.insert(0, Check("BilledCost", "TRUE", "column is missing (need BilledCost or EffectiveCost)"))
    billed, effective = exprs["BilledCost"], exprs["EffectiveCost"]
    if billed == "NULL":
        exprs["BilledCost"] = effective
    if effective == "NULL":
        exprs["EffectiveCost"] = billed
    if exprs["Tags"] == "NULL":
        exprs["Tags"] = _EMPTY_TAGS
    service_provider = index.get("ServiceProviderName")
    if service_provider is not None:
        text = clean_text_expr(service_provider.ref) if raw.typed else text_expr(service_provider.ref)
        named = exprs["ProviderName"]
        exprs["ProviderName"] = text if named == "NULL" else f"coalesce({named}, {text})"
    node = f"CASE WHEN {exprs['AllocatedMethodId']} IS NOT NULL THEN coalesce({exprs['ResourceName']}, " \
           f"{exprs['ResourceId']}) END"
    method = exprs["AllocatedMethodId"]
    if method != "NULL":  # never both an origin charge and its allocated charges
        key = "(" + ", ".join(f"coalesce(CAST({exprs[c]} AS VARCHAR), '')" for c in (
            "ResourceId", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory")) + ")"
        split_origin = (f"(({method}) IS NULL AND ({exprs['ResourceId']}) IS NOT NULL AND {key} IN "
                        f"(SELECT {key} FROM {raw.relation} WHERE ({method}) IS NOT NULL))")
    if exprs["AllocatedTags"] == "NULL":  # no allocated tags in this file: Tags as they are
        exprs["x_OriginTags"] = exprs["Tags"]
        exprs.update(cluster_exprs(exprs["Tags"], exprs["AllocatedResourceId"], node, tag_keys))
        if method == "NULL":
            return Mapping("focus", exprs, checks)
        return Mapping("focus", exprs, checks, left_out=split_origin, left_out_note=_ORIGIN_NOTE)
    # each tags column parsed once per row; the attributed tags are the allocated ones over the origin's
    raw_tags = f"map_concat({exprs['Tags']}, coalesce({exprs['AllocatedTags']}, {_EMPTY_TAGS}))"
    derived = [{"__origin_tags": exprs["Tags"], "__allocated_tags": exprs["AllocatedTags"]},
               {"__tags": f"map_concat(__origin_tags, coalesce(__allocated_tags, {_EMPTY_TAGS}))"}]
    exprs.update(Tags="__tags", x_OriginTags="__origin_tags", AllocatedTags="__allocated_tags")
    exprs.update(cluster_exprs("__tags", exprs["AllocatedResourceId"], node, tag_keys))
    if method == "NULL":
        return Mapping("focus", exprs, checks, derived, raw_tags)
    return Mapping("focus", exprs, checks, derived, raw_tags, left_out=split_origin, left_out_note=_ORIGIN_NOTE)

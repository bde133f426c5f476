"""AWS Cost and Usage Reports mapped to FOCUS: CUR 2.0 (snake_case, `resource_tags` map), legacy CUR in
Athena/Parquet naming (`resource_tags_user_<key>`) and legacy CSV naming (`lineItem/UnblendedCost`,
`resourceTags/user:<key>`).

Mapping (after the FinOps Foundation converter's rules):
  BilledCost    <- line_item_unblended_cost
  EffectiveCost <- savings_plan_savings_plan_effective_cost (SavingsPlanCoveredUsage),
                   reservation_effective_cost (DiscountedUsage), unused commitment for RIFee and
                   SavingsPlanRecurringFee, 0 for SavingsPlanNegation / upfront fees, else unblended
  ListCost      <- pricing_public_on_demand_cost
  Tags          <- user tags with the `user_` / `user:` prefix removed

Split cost allocation data (EKS/ECS, `split_line_item_*` columns): a pod row (its
`split_line_item_parent_resource_id` names the node) costs its `split_line_item_split_cost`; the node's own row
in the same hour keeps what its pods did not take — its unused (idle) capacity — as the workload `(idle)`. The
node's cost is counted once: pods' split costs plus the idle remainder add up to the node row's cost.
The `aws:eks:*` tags give cluster, namespace, workload and node (sources/clusters.py).
"""

from __future__ import annotations

import re

from bot.adapters.sources.clusters import cluster_exprs
from bot.adapters.sources.columns import (
    COST_TYPE,
    is_text,
    number_expr,
    quote_literal,
    text_expr,
    timestamp_expr,
)
from bot.adapters.sources.mapping import Check, ColumnIndex, Mapping
from bot.adapters.sources.raw_files import RawColumn, RawFile
from bot.domain.spec import IDLE

_CSV_TAG = re.compile(r"^resourceTags/user:(.+)$", re.IGNORECASE)
_ATHENA_TAG = re.compile(r"^resource_tags_user_(.+)$", re.IGNORECASE)
# AWS-generated split cost allocation tags: `resourceTags/aws:eks:cluster-name`, `resource_tags_aws_eks_cluster_name`
_CSV_EKS_TAG = re.compile(r"^resourceTags/(aws:e[kc]s:.+)$", re.IGNORECASE)
_ATHENA_EKS_TAG = re.compile(r"^resource_tags_(aws_e[kc]s_.+)$", re.IGNORECASE)
#: a node's instance-hour (not its data transfer or volumes): the line split cost allocation splits
_NODE_USAGE = r"'(BoxUsage|SpotUsage|DedicatedUsage|HostUsage)'"

_CATEGORY = {
    "AmazonEC2": "Compute", "AWSLambda": "Compute", "AmazonECS": "Compute", "AmazonEKS": "Compute",
    "AmazonS3": "Storage", "AmazonEFS": "Storage", "AmazonGlacier": "Storage", "AmazonFSx": "Storage",
    "AmazonRDS": "Databases", "AmazonDynamoDB": "Databases", "AmazonRedshift": "Databases",
    "AmazonElastiCache": "Databases", "AmazonSageMaker": "AI and Machine Learning",
    "AmazonBedrock": "AI and Machine Learning", "AmazonVPC": "Networking", "AWSDataTransfer": "Networking",
    "AmazonCloudFront": "Networking", "AmazonRoute53": "Networking", "AmazonCloudWatch": "Management and Governance",
    "AWSCloudTrail": "Management and Governance", "AWSConfig": "Management and Governance",
    "AmazonAthena": "Analytics", "AWSGlue": "Analytics", "AmazonKinesis": "Analytics",
    "AmazonSNS": "Integration", "AWSQueueService": "Integration", "AmazonSQS": "Integration",
    "AWSSupportBusiness": "Other", "AWSSupportEnterprise": "Other",
}

_CATEGORY_CHARGE = """CASE {t}
    WHEN 'Tax' THEN 'Tax'
    WHEN 'Fee' THEN 'Purchase' WHEN 'SavingsPlanUpfrontFee' THEN 'Purchase' WHEN 'RIFee' THEN 'Purchase'
    WHEN 'SavingsPlanRecurringFee' THEN 'Purchase'
    WHEN 'Credit' THEN 'Credit' WHEN 'Refund' THEN 'Adjustment'
    ELSE 'Usage' END"""


def is_cur(raw: RawFile) -> bool:
    index = ColumnIndex(raw, normalize=True)
    return index.get("line_item_unblended_cost") is not None


def _resource_tag_entries(index: ColumnIndex) -> str | None:
    """CUR 2.0's `resource_tags` as a list of map entries, whether the file holds a map or JSON text (None without
    the column)."""
    tags_col = index.get("resource_tags")
    if tags_col is None:
        return None
    if tags_col.type.upper().startswith("MAP"):
        return f"map_entries(CAST({tags_col.ref} AS MAP(VARCHAR, VARCHAR)))"
    return (f"map_entries(CASE WHEN json_valid({text_expr(tags_col.ref)}) THEN "
            f"json_transform({text_expr(tags_col.ref)}, '\"MAP(VARCHAR, VARCHAR)\"') END)")


def _tags_expr(raw: RawFile, index: ColumnIndex) -> str:
    entries: list[str] = []
    for col in raw.columns:
        m = _CSV_TAG.match(col.name) or _ATHENA_TAG.match(col.name)
        if m:
            entries.append(f"{{'key': {quote_literal(m.group(1))}, 'value': {text_expr(col.ref)}}}")
    parts = []
    if entries:
        parts.append(f"map_from_entries(list_filter([{', '.join(entries)}], lambda e: e.value IS NOT NULL))")
    source = _resource_tag_entries(index)
    if source is not None:
        parts.append(
            f"map_from_entries(list_transform(list_filter(coalesce({source}, []), "
            f"lambda e: starts_with(e.key, 'user_') AND coalesce(e.value, '') <> ''), "
            f"lambda e: {{'key': substr(e.key, 6), 'value': e.value}}))"
        )
    if not parts:
        return "MAP {}::MAP(VARCHAR, VARCHAR)"
    if len(parts) == 1:
        return f"CAST({parts[0]} AS MAP(VARCHAR, VARCHAR))"
    return f"CAST(map_concat({parts[0]}, {parts[1]}) AS MAP(VARCHAR, VARCHAR))"


def _eks_tags_expr(raw: RawFile, index: ColumnIndex) -> str:
    """The AWS-generated `aws:eks:*` and `aws:ecs:*` tags as a map (keys as CUR 2.0's map spells them, or as the
    column says)."""
    entries: list[str] = []
    for col in raw.columns:
        m = _CSV_EKS_TAG.match(col.name) or _ATHENA_EKS_TAG.match(col.name)
        if m:
            entries.append(f"{{'key': {quote_literal(m.group(1).lower())}, 'value': {text_expr(col.ref)}}}")
    parts = []
    if entries:
        parts.append(f"map_from_entries(list_filter([{', '.join(entries)}], lambda e: e.value IS NOT NULL))")
    source = _resource_tag_entries(index)
    if source is not None:
        parts.append(f"map_from_entries(list_filter(coalesce({source}, []), "
                     f"lambda e: (starts_with(e.key, 'aws_eks_') OR starts_with(e.key, 'aws_ecs_')) "
                     f"AND coalesce(e.value, '') <> ''))")
    if not parts:
        return "MAP {}::MAP(VARCHAR, VARCHAR)"
    if len(parts) == 1:
        return f"CAST({parts[0]} AS MAP(VARCHAR, VARCHAR))"
    return f"CAST(map_concat({parts[0]}, {parts[1]}) AS MAP(VARCHAR, VARCHAR))"


def _split_costs(exprs: dict[str, str], index: ColumnIndex) -> list[dict[str, str]]:
    """Split cost allocation: pod rows cost their split cost; a node's instance-hour keeps the rest as `(idle)`.
    Returns the derived layers: the pod test and split cost once per row, then one window over node and hour."""
    parent_col = index.get("split_line_item_parent_resource_id")
    if parent_col is None:
        return []
    split_col = index.get("split_line_item_split_cost")
    per_row = {
        "__parent": text_expr(parent_col.ref),
        "__split": f"coalesce({number_expr(split_col.ref, split_col.type, COST_TYPE)}, 0)" if split_col else "0",
        "__start": exprs["ChargePeriodStart"],
        "__node": f"coalesce({text_expr(parent_col.ref)}, {exprs['ResourceId']})",
        "__pod_cluster": exprs["x_Cluster"],
    }
    window = "OVER (PARTITION BY __node, __start)"
    per_node_hour = {
        "__taken": f"sum(CASE WHEN __parent IS NOT NULL THEN __split ELSE 0 END) {window}",
        "__pods": f"count(__parent) {window}",
        "__cluster": f"max(CASE WHEN __parent IS NOT NULL THEN __pod_cluster END) {window}",
    }
    is_pod = "(__parent IS NOT NULL)"
    is_node_hour = (f"(__parent IS NULL AND __pods > 0 AND "
                    f"regexp_matches(coalesce({exprs['x_UsageType']}, ''), {_NODE_USAGE}))")
    for cost in ("BilledCost", "EffectiveCost"):
        exprs[cost] = (f"CASE WHEN {is_pod} THEN __split WHEN {is_node_hour} THEN coalesce({exprs[cost]}, 0) - "
                       f"__taken ELSE {exprs[cost]} END")
    exprs["ListCost"] = f"CASE WHEN {is_pod} THEN 0 ELSE {exprs['ListCost']} END"  # the node's list price once
    exprs["AllocatedMethodId"] = f"CASE WHEN {is_pod} THEN 'aws-split-cost-allocation' END"
    exprs["AllocatedResourceId"] = f"CASE WHEN {is_pod} THEN {exprs['ResourceId']} END"
    exprs["AllocatedTags"] = f"CASE WHEN {is_pod} THEN {exprs['Tags']} END"  # a pod's own tags: its team's claim
    exprs["x_Workload"] = f"CASE WHEN {is_node_hour} THEN {quote_literal(IDLE)} ELSE {exprs['x_Workload']} END"
    exprs["x_Node"] = f"CASE WHEN {is_pod} THEN coalesce({exprs['x_Node']}, __parent) ELSE {exprs['x_Node']} END"
    exprs["x_Cluster"] = f"CASE WHEN {is_node_hour} THEN __cluster ELSE __pod_cluster END"
    return [per_row, per_node_hour]


def cur_mapping(raw: RawFile) -> Mapping:
    index = ColumnIndex(raw, normalize=True)

    def col(*names: str) -> RawColumn | None:
        return index.get(*names)

    def text(*names: str) -> str:
        c = col(*names)
        return text_expr(c.ref) if c else "NULL"

    def cost(*names: str) -> str:
        c = col(*names)
        return number_expr(c.ref, c.type, COST_TYPE) if c else "NULL"

    def ts(*names: str) -> str:
        c = col(*names)
        return timestamp_expr(c.ref, c.type) if c else "NULL"

    line_type = text("line_item_line_item_type")
    unblended = cost("line_item_unblended_cost")
    effective = f"""CASE {line_type}
        WHEN 'SavingsPlanCoveredUsage' THEN coalesce({cost('savings_plan_savings_plan_effective_cost')}, 0)
        WHEN 'SavingsPlanRecurringFee' THEN coalesce({cost('savings_plan_total_commitment_to_date')}, 0)
             - coalesce({cost('savings_plan_used_commitment')}, 0)
        WHEN 'SavingsPlanNegation' THEN 0
        WHEN 'SavingsPlanUpfrontFee' THEN 0
        WHEN 'DiscountedUsage' THEN coalesce({cost('reservation_effective_cost')}, 0)
        WHEN 'RIFee' THEN coalesce({cost('reservation_unused_amortized_upfront_fee_for_billing_period')}, 0)
             + coalesce({cost('reservation_unused_recurring_fee')}, 0)
        WHEN 'Fee' THEN CASE WHEN coalesce({text('reservation_reservation_a_r_n', 'reservation_reservation_arn')},
             '') <> '' THEN 0 ELSE {unblended} END
        ELSE {unblended} END"""
    product_code = text("line_item_product_code")
    category_cases = " ".join(f"WHEN {quote_literal(k)} THEN {quote_literal(v)}" for k, v in _CATEGORY.items())
    exprs = {
        "BillingAccountId": text("bill_payer_account_id"),
        "BillingAccountName": text("bill_payer_account_name"),
        "SubAccountId": text("line_item_usage_account_id"),
        "SubAccountName": text("line_item_usage_account_name"),
        "ProviderName": "'AWS'",
        "BillingPeriodStart": ts("bill_billing_period_start_date"),
        "ChargePeriodStart": ts("line_item_usage_start_date"),
        "ChargePeriodEnd": ts("line_item_usage_end_date"),
        "ChargeCategory": _CATEGORY_CHARGE.format(t=line_type),
        "ChargeDescription": text("line_item_line_item_description"),
        "BilledCost": unblended,
        "EffectiveCost": effective,
        "ListCost": cost("pricing_public_on_demand_cost"),
        "BillingCurrency": text("line_item_currency_code"),
        "ServiceName": f"coalesce({text('product_product_name')}, {text('product_servicename')}, {product_code})",
        "ServiceCategory": f"CASE {product_code} {category_cases} ELSE 'Other' END",
        "ResourceId": text("line_item_resource_id"),
        "ResourceName": "NULL",
        "ResourceType": text("product_product_family"),
        "RegionId": f"coalesce({text('product_region_code')}, {text('product_region')})",
        "SkuId": text("product_sku"),
        "ConsumedQuantity": (number_expr(c.ref, c.type, "DOUBLE") if (c := col("line_item_usage_amount"))
                             else "NULL"),
        "ConsumedUnit": text("pricing_unit"),
        "Tags": _tags_expr(raw, index),
        "x_UsageType": text("line_item_usage_type"),
    }
    derived = [{"__tags": f"map_concat({exprs['Tags']}, {_eks_tags_expr(raw, index)})"}]
    exprs.update(cluster_exprs("__tags", exprs["ResourceId"]))
    derived += _split_costs(exprs, index)
    checks: list[Check] = []
    start = col("line_item_usage_start_date")
    if start is None:
        checks.append(Check("line_item_usage_start_date", "TRUE", "column is missing"))
    else:
        present = f"{text_expr(start.ref)} IS NOT NULL" if is_text(start.type) else f"{start.ref} IS NOT NULL"
        checks.append(Check(start.name, f"NOT ({present})", "is missing (a charge needs its start)"))
        checks.append(Check(start.name, f"({exprs['ChargePeriodStart']}) IS NULL", "is not a timestamp", start.ref))
    for name in ("line_item_unblended_cost", "line_item_usage_amount", "pricing_public_on_demand_cost",
                 "reservation_effective_cost", "savings_plan_savings_plan_effective_cost",
                 "split_line_item_split_cost"):
        c = col(name)
        if c is not None and is_text(c.type):
            target = "DOUBLE" if name == "line_item_usage_amount" else COST_TYPE
            checks.append(Check(c.name, f"{text_expr(c.ref)} IS NOT NULL AND "
                                f"({number_expr(c.ref, c.type, target)}) IS NULL", "is not a number", c.ref))
    return Mapping("cur", exprs, checks, derived)

"""Shared-cluster bills written as the providers emit them, with every figure kept for plain-Python checks:
a FOCUS 1.3 export folder (Cost and Usage with allocated charges, plus Contract Commitment), a CUR 2.0 slice
with EKS split cost allocation rows, and a GCP FOCUS slice with GKE cost allocation labels."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path


def _columns(header: str) -> list[str]:
    """A header as the provider writes it (one comma-separated line)."""
    return header.split(",")


DAYS = ("2026-10-05", "2026-10-06", "2026-10-07")
HOURS = (0, 1, 2)

FOCUS13_HEADER = _columns(
    "ProviderName,PublisherName,ServiceProviderName,HostProviderName,InvoiceIssuerName,InvoiceId,BillingAccountId,"
    "BillingAccountName,BillingAccountType,SubAccountId,SubAccountName,SubAccountType,BillingPeriodStart,"
    "BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeClass,ChargeDescription,"
    "ChargeFrequency,BilledCost,EffectiveCost,ListCost,ContractedCost,ListUnitPrice,ContractedUnitPrice,"
    "PricingCategory,PricingQuantity,PricingUnit,PricingCurrency,PricingCurrencyContractedUnitPrice,"
    "PricingCurrencyEffectiveCost,PricingCurrencyListUnitPrice,BillingCurrency,ConsumedQuantity,ConsumedUnit,"
    "ServiceName,ServiceCategory,ServiceSubcategory,SkuId,SkuMeter,SkuPriceId,SkuPriceDetails,ResourceId,"
    "ResourceName,ResourceType,RegionId,RegionName,AvailabilityZone,CommitmentDiscountId,CommitmentDiscountName,"
    "CommitmentDiscountCategory,CommitmentDiscountType,CommitmentDiscountStatus,CommitmentDiscountQuantity,"
    "CommitmentDiscountUnit,ContractApplied,CapacityReservationId,CapacityReservationStatus,AllocatedMethodId,"
    "AllocatedMethodDetails,AllocatedResourceId,AllocatedResourceName,AllocatedTags,Tags"
)
COMMITMENT_HEADER = _columns(
    "ContractCommitmentId,ContractCommitmentType,ContractCommitmentCategory,ContractCommitmentCost,"
    "ContractCommitmentQuantity,ContractCommitmentUnit,ContractCommitmentDescription,ContractCommitmentPeriodStart,"
    "ContractCommitmentPeriodEnd,ContractId,ContractPeriodStart,ContractPeriodEnd,BillingCurrency"
)

_SUB = "/subscriptions/22222222-2222-4222-8222-222222222222/resourceGroups/rg-ml"
AKS = f"{_SUB}/providers/Microsoft.ContainerService/managedClusters/aks-gpu"
NODE_VM = f"{_SUB}/providers/Microsoft.Compute/virtualMachines/gpu-node-1"
#: the shared node's hourly cost and how FOCUS 1.3 splits it: (workload, namespace, ratio, allocated tags)
NODE_HOURLY = Decimal("27.1968")
SPLITS = (
    ("trainer", "ml-train", Decimal("0.5"), {"team": "ml", "k8s-namespace": "ml-train"}),
    ("serving", "vision-serve", Decimal("0.3"), {"k8s-namespace": "vision-serve", "CostCenter": "cc-7"}),
    ("notebooks", "ml-dev", Decimal("0.2"), {"k8s-namespace": "ml-dev"}),
)
NODE_TAGS = {"team": "platform", "CostCenter": "cc-3110"}
SAVINGS_PLAN = f"{_SUB}/providers/Microsoft.BillingBenefits/savingsPlans/sp-1"
SAVINGS_PLAN_COST = "120000.00"


def write_rows(path: Path, header: Iterable[str], rows: Iterable[dict[str, str]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = list(header)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in columns})
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    """The file as written: what the tests compute their figures from."""
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _azure(day: str, hour: int, cost: Decimal, **extra: str) -> dict[str, str]:
    start = f"{day}T{hour:02d}:00:00Z"
    return {
        "ProviderName": "Microsoft Azure", "PublisherName": "Microsoft", "ServiceProviderName": "Microsoft Azure",
        "HostProviderName": "Microsoft Azure", "InvoiceIssuerName": "Microsoft Azure", "InvoiceId": "INV-2026-10-1",
        "BillingAccountId": "8a1b2c3d-0000-4a00-9000-0000000000aa", "BillingAccountName": "ExampleCorp MCA",
        "BillingAccountType": "Microsoft Customer Agreement",
        "SubAccountId": "22222222-2222-4222-8222-222222222222", "SubAccountName": "ml-platform",
        "SubAccountType": "Subscription", "BillingPeriodStart": f"{day[:7]}-01T00:00:00Z",
        "ChargePeriodStart": start,
        "ChargePeriodEnd": f"{day}T{hour + 1:02d}:00:00Z", "ChargeCategory": "Usage", "ChargeFrequency": "Usage-Based",
        "BilledCost": str(cost), "EffectiveCost": str(cost), "ListCost": str(cost), "ContractedCost": str(cost),
        "PricingCategory": "Standard", "PricingUnit": "Hours", "PricingCurrency": "USD", "BillingCurrency": "USD",
        "ServiceName": "Virtual Machines", "ServiceCategory": "Compute", "ServiceSubcategory": "Virtual Machines",
        "RegionId": "westeurope", "RegionName": "West Europe", **extra,
    }


def focus13_rows(days: tuple[str, ...] = DAYS) -> list[dict[str, str]]:
    """Each hour of the shared node as three allocated charges (the origin charge is not in the export), and a
    storage account of team data."""
    rows = []
    for day in days:
        for hour in HOURS:
            for workload, namespace, ratio, tags in SPLITS:
                rows.append(_azure(
                    day, hour, NODE_HOURLY * ratio, ConsumedQuantity=str(ratio), ConsumedUnit="Hours",
                    ResourceId=NODE_VM, ResourceName="gpu-node-1", ResourceType="Virtual Machine",
                    AllocatedMethodId="split-proportional",
                    AllocatedMethodDetails=json.dumps({"Elements": [{"AllocatedRatio": float(ratio),
                                                                     "x_Basis": "GPUSeconds"}]}),
                    AllocatedResourceId=f"{AKS}/namespaces/{namespace}/workloads/{workload}",
                    AllocatedResourceName=f"workload-{workload}", AllocatedTags=json.dumps(tags),
                    ContractApplied=json.dumps({"Elements": [{
                        "ContractId": "CONTRACT-1", "ContractCommitmentId": SAVINGS_PLAN,
                        "ContractCommitmentAppliedCost": float(NODE_HOURLY * ratio)}]}),
                    Tags=json.dumps(NODE_TAGS)))
            rows.append(_azure(day, hour, Decimal("0.0417"), ServiceName="Storage", ServiceCategory="Storage",
                               ResourceId=f"{_SUB}/providers/Microsoft.Storage/storageAccounts/features",
                               ResourceName="features", ResourceType="Storage Account",
                               Tags=json.dumps({"team": "data"})))
    return rows


def write_focus13_folder(folder: Path, days: tuple[str, ...] = DAYS) -> list[dict[str, str]]:
    """Both datasets of a FOCUS 1.3 export; returns the Cost and Usage rows."""
    path = write_rows(folder / "focus_1_3_cost_and_usage.csv", FOCUS13_HEADER, focus13_rows(days))
    write_rows(folder / "focus_1_3_contract_commitment.csv", COMMITMENT_HEADER, [{
        "ContractCommitmentId": SAVINGS_PLAN,
        "ContractCommitmentType": "Savings Plan", "ContractCommitmentCategory": "Spend",
        "ContractCommitmentCost": SAVINGS_PLAN_COST, "ContractCommitmentDescription": "AzureSavingsPlan-1yr",
        "ContractCommitmentPeriodStart": "2026-05-01T00:00:00Z", "ContractCommitmentPeriodEnd": "2027-05-01T00:00:00Z",
        "ContractId": "CONTRACT-1", "ContractPeriodStart": "2026-05-01T00:00:00Z",
        "ContractPeriodEnd": "2027-05-01T00:00:00Z", "BillingCurrency": "USD"}])
    return read_rows(path)


# -- CUR 2.0 with split cost allocation data --------------------------------------------------------------------
CUR2_HEADER = _columns(
    "bill_bill_type,bill_billing_entity,bill_billing_period_end_date,bill_billing_period_start_date,"
    "bill_invoice_id,bill_payer_account_id,bill_payer_account_name,line_item_availability_zone,"
    "line_item_blended_cost,line_item_currency_code,line_item_line_item_description,line_item_line_item_type,"
    "line_item_net_unblended_cost,line_item_operation,line_item_product_code,line_item_resource_id,"
    "line_item_unblended_cost,line_item_unblended_rate,line_item_usage_account_id,line_item_usage_account_name,"
    "line_item_usage_amount,line_item_usage_end_date,line_item_usage_start_date,line_item_usage_type,"
    "pricing_public_on_demand_cost,pricing_unit,product_instance_type,product_product_family,product_region_code,"
    "product_servicecode,product_sku,resource_tags,split_line_item_actual_usage,split_line_item_net_split_cost,"
    "split_line_item_net_unused_cost,split_line_item_parent_resource_id,split_line_item_public_on_demand_split_cost,"
    "split_line_item_public_on_demand_unused_cost,split_line_item_reserved_usage,split_line_item_split_cost,"
    "split_line_item_split_usage,split_line_item_split_usage_ratio,split_line_item_unused_cost"
)
COLUMNS_CUR2 = CUR2_HEADER
EKS_CLUSTER = "ml-eks"
NODE_ID = "i-0a1b2c3d4e5f60001"
NODE_COST = Decimal("32.7726")  # p4d.24xlarge, one hour
#: pods on the node each hour: (namespace, workload, vCPU split cost, memory split cost, team tag)
PODS = (
    ("ml-train", "trainer", Decimal("12.1000"), Decimal("6.0500"), "ml"),
    ("vision-serve", "detector", Decimal("4.4000"), Decimal("2.2000"), "vision"),
    ("ml-dev", "jupyter", Decimal("1.1000"), Decimal("0.5500"), ""),
)


def _cur(day: str, hour: int, **values: str) -> dict[str, str]:
    return {
        "bill_bill_type": "Anniversary", "bill_billing_entity": "AWS",
        "bill_billing_period_start_date": f"{day[:7]}-01T00:00:00.000Z", "bill_payer_account_id": "999988887777",
        "bill_payer_account_name": "ExampleCorp", "line_item_currency_code": "USD",
        "line_item_usage_account_id": "444455556666", "line_item_usage_account_name": "ml-prod",
        "line_item_usage_start_date": f"{day}T{hour:02d}:00:00.000Z",
        "line_item_usage_end_date": f"{day}T{hour + 1:02d}:00:00.000Z", "line_item_line_item_type": "Usage",
        "product_region_code": "us-east-1", "line_item_availability_zone": "us-east-1a", **values,
    }


def cur2_rows(days: tuple[str, ...] = DAYS) -> list[dict[str, str]]:
    """Each hour: the node's instance-hour (its full cost, as billed), its data transfer, each pod's vCPU and
    memory rows (unblended 0; split and unused cost set, the unused cost spread by split ratio), and S3."""
    rows = []
    taken = sum((cpu + mem for _, _, cpu, mem, _ in PODS), Decimal(0))
    idle = NODE_COST - taken
    for day in days:
        for hour in HOURS:
            rows.append(_cur(day, hour, line_item_product_code="AmazonEC2", line_item_resource_id=NODE_ID,
                             line_item_usage_type="BoxUsage:p4d.24xlarge", line_item_operation="RunInstances",
                             line_item_unblended_cost=str(NODE_COST), line_item_net_unblended_cost=str(NODE_COST),
                             line_item_blended_cost=str(NODE_COST), line_item_usage_amount="1",
                             pricing_public_on_demand_cost=str(NODE_COST), pricing_unit="Hrs",
                             product_instance_type="p4d.24xlarge", product_product_family="Compute Instance",
                             product_servicecode="AmazonEC2",
                             resource_tags=json.dumps({"user_team": "platform",
                                                       "aws_eks_cluster_name": EKS_CLUSTER})))
            rows.append(_cur(day, hour, line_item_product_code="AmazonEC2", line_item_resource_id=NODE_ID,
                             line_item_usage_type="USE1-DataTransfer-Out-Bytes", line_item_operation="RunInstances",
                             line_item_unblended_cost="0.0900", line_item_usage_amount="1",
                             pricing_public_on_demand_cost="0.0900", pricing_unit="GB",
                             product_product_family="Data Transfer", product_servicecode="AWSDataTransfer",
                             resource_tags=json.dumps({"user_team": "platform"})))
            spread = Decimal(0)
            for i, (namespace, workload, cpu, mem, team) in enumerate(PODS):
                pod = f"arn:aws:eks:us-east-1:444455556666:pod/{EKS_CLUSTER}/{namespace}/{workload}-0/uid-{i}"
                tags = {"aws_eks_cluster_name": EKS_CLUSTER, "aws_eks_namespace": namespace,
                        "aws_eks_workload_name": workload, "aws_eks_node": "ip-10-0-1-5.ec2.internal"}
                if team:
                    tags["user_team"] = team
                for kind, split in (("vCPU", cpu), ("GB", mem)):
                    last = i == len(PODS) - 1 and kind == "GB"
                    unused = idle - spread if last else (idle * split / taken).quantize(Decimal("0.0001"))
                    spread += unused
                    rows.append(_cur(
                        day, hour, line_item_product_code="AmazonEKS", line_item_resource_id=pod,
                        line_item_usage_type=f"USE1-EKS-EC2-{kind}-Hours", line_item_operation="EKSPod-EC2",
                        line_item_unblended_cost="0", line_item_usage_amount="1", pricing_unit="Hrs",
                        resource_tags=json.dumps(tags), split_line_item_parent_resource_id=NODE_ID,
                        split_line_item_split_cost=str(split), split_line_item_unused_cost=str(unused),
                        split_line_item_net_split_cost=str(split), split_line_item_net_unused_cost=str(unused),
                        split_line_item_split_usage="1", split_line_item_split_usage_ratio=str(split / taken),
                        split_line_item_public_on_demand_split_cost=str(split),
                        split_line_item_public_on_demand_unused_cost=str(unused)))
            rows.append(_cur(day, hour, line_item_product_code="AmazonS3", line_item_resource_id="ml-datasets",
                             line_item_usage_type="TimedStorage-ByteHrs", line_item_unblended_cost="0.0311",
                             line_item_usage_amount="1", product_product_family="Storage",
                             resource_tags=json.dumps({"user_team": "data"})))
    return rows


def write_cur2(path: Path, days: tuple[str, ...] = DAYS) -> list[dict[str, str]]:
    return read_rows(write_rows(path, CUR2_HEADER, cur2_rows(days)))


# -- GKE cost allocation in a GCP FOCUS export ---------------------------------------------------------------
GCP_HEADER = _columns(
    "ProviderName,PublisherName,InvoiceIssuerName,BillingAccountId,BillingAccountName,SubAccountId,SubAccountName,"
    "BillingPeriodStart,BillingPeriodEnd,ChargePeriodStart,ChargePeriodEnd,ChargeCategory,ChargeDescription,"
    "BilledCost,EffectiveCost,ListCost,BillingCurrency,ConsumedQuantity,ConsumedUnit,ServiceName,ServiceCategory,"
    "SkuId,ResourceId,ResourceName,ResourceType,RegionId,Tags"
)
GKE_CLUSTER = "gke-ml"
#: a GKE node pool's hourly cost by namespace; goog-k8s-unallocated is its unrequested (idle) capacity
GKE_SPLIT = (
    ("ml-train", "trainer", Decimal("3.2010")),
    ("search-api", "ranker", Decimal("1.1005")),
    ("kube-system", "", Decimal("0.2100")),
    ("goog-k8s-unallocated", "", Decimal("0.9885")),
)


def gke_rows(days: tuple[str, ...] = DAYS) -> list[dict[str, str]]:
    rows = []
    for day in days:
        for hour in HOURS:
            for namespace, app, cost in GKE_SPLIT:
                tags = {"goog-k8s-cluster-name": GKE_CLUSTER, "goog-k8s-cluster-location": "europe-west4",
                        "k8s-namespace": namespace}
                if app:
                    tags["k8s-label/app"] = app
                rows.append(_gcp(day, hour, cost, "Compute Engine", "Compute",
                                 "//compute.googleapis.com/projects/ml-prod/zones/europe-west4-a/instances/gke-node-1",
                                 tags))
            rows.append(_gcp(day, hour, Decimal("0.0520"), "Cloud Storage", "Storage",
                             "//storage.googleapis.com/projects/_/buckets/ml-data", {"team": "data"}))
    return rows


def _gcp(day: str, hour: int, cost: Decimal, service: str, category: str, resource: str,
         tags: dict[str, str]) -> dict[str, str]:
    return {
        "ProviderName": "Google Cloud", "PublisherName": "Google", "InvoiceIssuerName": "Google Cloud",
        "BillingAccountId": "01A2B3-C4D5E6-F70819", "BillingAccountName": "ExampleCorp", "SubAccountId": "ml-prod",
        "SubAccountName": "ml-prod", "BillingPeriodStart": f"{day[:7]}-01T00:00:00Z",
        "ChargePeriodStart": f"{day}T{hour:02d}:00:00Z",
        "ChargePeriodEnd": f"{day}T{hour + 1:02d}:00:00Z", "ChargeCategory": "Usage", "BilledCost": str(cost),
        "EffectiveCost": str(cost), "ListCost": str(cost), "BillingCurrency": "USD", "ServiceName": service,
        "ServiceCategory": category, "ResourceId": resource, "ResourceName": resource.rsplit("/", 1)[-1],
        "RegionId": "europe-west4", "Tags": json.dumps(tags),
    }


def write_gke(path: Path, days: tuple[str, ...] = DAYS) -> list[dict[str, str]]:
    return read_rows(write_rows(path, GCP_HEADER, gke_rows(days)))

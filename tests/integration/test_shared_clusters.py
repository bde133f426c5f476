"""Shared clusters in the bill (FOCUS 1.3 allocated charges, EKS split cost allocation, GKE labels): ingested through
the CLI, asked through `costbot ask --json`, every figure checked against plain Python over the fixture file."""

from __future__ import annotations

import csv
import fnmatch
import gzip
import json
from collections import defaultdict
from collections.abc import Callable
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import yaml

from tests.cluster_billing import (
    EKS_CLUSTER,
    GKE_CLUSTER,
    write_cur2,
    write_focus13_folder,
    write_gke,
)
from tests.conftest import CliResult, shared_file

Cli = Callable[..., CliResult]
#: teams in config order: tags first, or a namespace pattern on a shared cluster
TEAMS = {
    "team-ml": ({"team": "ml"}, ["ml-*"]),
    "team-vision": ({"team": "vision"}, ["vision-*"]),
    "team-search": ({"team": "search"}, ["search-*"]),
    "team-data": ({"team": "data"}, []),
    "team-platform": ({"team": "platform"}, []),
}


def cents(x: Decimal) -> float:
    return float(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def configure(folder: Path, allocation: list[dict[str, Any]] | None = None) -> None:
    config: dict[str, Any] = {"tag_keys": {"team": "team"}, "teams": {
        name: {"tags": tags, **({"namespaces": ns} if ns else {})} for name, (tags, ns) in TEAMS.items()}}
    if allocation:
        config["allocation"] = allocation
    (folder / "costbot.yml").write_text(yaml.safe_dump(config))


def ask(cli: Cli, text: str) -> dict[str, Any]:
    result = cli("ask", text, "--json")
    assert result.code == 0, result.err
    return result.json()


def groups(cli: Cli, text: str) -> dict[str, float]:
    return {g["key"]: g["cost"] for g in ask(cli, text)["groups"]}


def team_of(tags: dict[str, str], namespace: str | None = None, allocated: dict[str, str] | None = None) -> str:
    """A line item's team, as the README says: first the team (in config order) whose tags are among the allocated
    tags or whose namespace pattern matches; else the first whose tags all match the allocated tags over the
    origin's."""

    def matches(wanted: dict[str, str], have: dict[str, str]) -> bool:
        lowered = {k.lower(): str(v).lower() for k, v in have.items()}
        return all(lowered.get(k) == v for k, v in wanted.items())

    for name, (wanted, patterns) in TEAMS.items():
        if allocated and matches(wanted, allocated):
            return name
        if namespace and any(fnmatch.fnmatchcase(namespace.lower(), p) for p in patterns):
            return name
    for name, (wanted, _) in TEAMS.items():
        if matches(wanted, {**tags, **(allocated or {})}):
            return name
    return "(untagged)"


def summed(pairs: list[tuple[str, Decimal]]) -> dict[str, float]:
    """Groups as answers show them: whole cents adding up to the rounded total (each group floored, the missing
    cents to the largest remainders)."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for key, cost in pairs:
        out[key] += cost
    cent = Decimal("0.01")
    floors = {k: (v / cent).to_integral_value(rounding=ROUND_FLOOR) * cent for k, v in out.items()}
    missing = int((Decimal(str(cents(sum(out.values(), Decimal(0))))) - sum(floors.values(), Decimal(0))) / cent)
    for k in sorted(out, key=lambda k: -(out[k] - floors[k]))[:missing]:
        floors[k] += cent
    return {k: float(v) for k, v in floors.items()}


# -- FOCUS 1.3 ----------------------------------------------------------------------------------------------------
def test_focus13_export_folder_ingests_and_allocated_charges_attribute(cli: Cli, tmp_path: Path) -> None:
    rows = write_focus13_folder(tmp_path / "export")
    configure(tmp_path)
    result = cli("ingest", str(tmp_path / "export"))
    assert result.code == 0, result.err
    assert "focus_1_3_contract_commitment.csv: 1 contract commitment (FOCUS 1.3 Contract Commitment" in result.out
    total = sum(Decimal(r["EffectiveCost"]) for r in rows)
    assert ask(cli, "2026-10")["total"] == cents(total)  # each allocated charge once: the node's cost, no more

    def attributed(r: dict[str, str]) -> dict[str, str]:
        return {**json.loads(r["Tags"] or "{}"), **json.loads(r["AllocatedTags"] or "{}")}

    namespaces = summed([(attributed(r).get("k8s-namespace", "(none)"), Decimal(r["EffectiveCost"])) for r in rows])
    assert groups(cli, "2026-10 by namespace") == namespaces
    workloads = summed([(r["AllocatedResourceId"].rsplit("/", 1)[-1] if r["AllocatedMethodId"] else "(none)",
                         Decimal(r["EffectiveCost"])) for r in rows])
    assert groups(cli, "2026-10 by workload") == workloads
    teams = summed([(team_of(json.loads(r["Tags"]), attributed(r).get("k8s-namespace"),
                             json.loads(r["AllocatedTags"] or "{}")), Decimal(r["EffectiveCost"])) for r in rows])
    # allocated tags (trainer: team ml) and namespaces (serving: vision-*, notebooks: ml-*) before the origin's
    # tags (the node's team platform)
    assert groups(cli, "2026-10 by team") == teams
    assert "team-platform" not in teams  # the node's own tag lost to the allocated tags and namespaces
    aks = sum((Decimal(r["EffectiveCost"]) for r in rows if "/managedClusters/aks-gpu/" in r["AllocatedResourceId"]),
              Decimal(0))
    assert ask(cli, "cluster:aks-gpu 2026-10")["total"] == cents(aks)
    assert ask(cli, "team-ml namespace:ml-dev 2026-10")["total"] == namespaces["ml-dev"]


def test_focus13_keeps_allocated_columns_and_origin_tags(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    import duckdb

    rows = write_focus13_folder(tmp_path / "export")
    assert cli("ingest", str(tmp_path / "export")).code == 0
    con = duckdb.connect(str(data_dir / "costs.duckdb"), read_only=True)
    try:
        stored = con.execute(
            "SELECT AllocatedMethodId, AllocatedResourceId, AllocatedResourceName, AllocatedTags, x_OriginTags, "
            "Tags, ProviderName, x_Node FROM costs WHERE AllocatedMethodId IS NOT NULL ORDER BY ChargePeriodStart, "
            "AllocatedResourceId").fetchall()
    finally:
        con.close()
    allocated = sorted((r for r in rows if r["AllocatedMethodId"]),
                       key=lambda r: (r["ChargePeriodStart"], r["AllocatedResourceId"]))
    assert len(stored) == len(allocated) == 27
    for got, r in zip(stored, allocated, strict=True):
        origin, alloc = json.loads(r["Tags"]), json.loads(r["AllocatedTags"])
        assert got == (r["AllocatedMethodId"], r["AllocatedResourceId"], r["AllocatedResourceName"], alloc, origin,
                       {**origin, **alloc}, "Microsoft Azure", "gpu-node-1")


def stored(text: str) -> Decimal:
    """A cost as the store keeps it: nine decimals (the samples carry up to fourteen)."""
    return Decimal(text or 0).quantize(Decimal("1e-9"), rounding=ROUND_HALF_UP)


def test_shared_focus13_samples_ingest_whole_folders(cli: Cli, tmp_path: Path) -> None:
    """The FOCUS 1.3 sample exports (both datasets per folder) ingest; totals and cost centers (allocated tags
    first, then the origin's) are exact against the files."""
    for cloud in ("aws", "azure"):
        folder = shared_file("focus-multicloud", f"focus13-{cloud}")
        for old in tmp_path.glob("data/costs.duckdb*"):  # one cloud at a time: both samples are May 2026
            old.unlink()
        with gzip.open(next(folder.glob("*cost_and_usage*")), "rt", newline="") as fh:
            rows = list(csv.DictReader(fh))
        result = cli("ingest", str(folder), "--source", f"focus13-{cloud}")
        assert result.code == 0, result.err
        assert "contract commitments (FOCUS 1.3 Contract Commitment dataset" in result.out  # 73 and 69 of them
        allocated = [r for r in rows if r["AllocatedMethodId"]]
        assert 0 < len(allocated) < len(rows)
        month = rows[0]["BillingPeriodStart"][:7]
        by_cc = summed([({**json.loads(r["Tags"] or "{}"), **json.loads(r["AllocatedTags"] or "{}")}
                         .get("CostCenter", "(untagged)"), stored(r["EffectiveCost"])) for r in rows])
        assert groups(cli, f"{month} by CostCenter") == by_cc
        assert ask(cli, month)["total"] == cents(sum((stored(r["EffectiveCost"]) for r in rows), Decimal(0)))


# -- CUR 2.0 split cost allocation ----------------------------------------------------------------------------------
def cur_expected(rows: list[dict[str, str]]) -> list[tuple[dict[str, str], Decimal, str, str | None, str | None]]:
    """Each row's cost as attributed, its workload, namespace and cluster: a pod row costs its split cost, the
    node's instance-hour keeps what its pods did not take (idle), everything else its unblended cost."""
    taken: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for r in rows:
        if r["split_line_item_parent_resource_id"]:
            key = (r["split_line_item_parent_resource_id"], r["line_item_usage_start_date"])
            taken[key] += Decimal(r["split_line_item_split_cost"])
    out = []
    for r in rows:
        tags = json.loads(r["resource_tags"])
        if r["split_line_item_parent_resource_id"]:
            out.append((r, Decimal(r["split_line_item_split_cost"]), tags["aws_eks_workload_name"],
                        tags["aws_eks_namespace"], tags["aws_eks_cluster_name"]))
        elif "BoxUsage" in r["line_item_usage_type"] and taken.get((r["line_item_resource_id"],
                                                                      r["line_item_usage_start_date"])):
            cost = Decimal(r["line_item_unblended_cost"]) - taken[(r["line_item_resource_id"],
                                                                    r["line_item_usage_start_date"])]
            out.append((r, cost, "(idle)", None, tags.get("aws_eks_cluster_name")))
        else:
            out.append((r, Decimal(r["line_item_unblended_cost"]), "(none)", None, tags.get("aws_eks_cluster_name")))
    return out


def user_tags(r: dict[str, str]) -> dict[str, str]:
    """CUR 2.0's user tags (`user_team` -> `team`)."""
    return {k[5:]: v for k, v in json.loads(r["resource_tags"]).items() if k.startswith("user_")}


def test_cur2_split_cost_allocation_counts_the_node_once(cli: Cli, tmp_path: Path) -> None:
    rows = write_cur2(tmp_path / "cur2.csv")
    configure(tmp_path)
    assert cli("ingest", str(tmp_path / "cur2.csv")).code == 0
    billed = sum((Decimal(r["line_item_unblended_cost"]) for r in rows), Decimal(0))
    assert ask(cli, "2026-10")["total"] == cents(billed)  # totals unchanged by the split
    expected = cur_expected(rows)
    assert groups(cli, "2026-10 by namespace") == summed([(ns or "(none)", c) for _, c, _, ns, _ in expected])
    assert groups(cli, "2026-10 by workload") == summed([(w, c) for _, c, w, _, _ in expected])
    unused = sum((Decimal(r["split_line_item_unused_cost"]) for r in rows if r["split_line_item_unused_cost"]),
                 Decimal(0))
    idle = ask(cli, f"cluster:{EKS_CLUSTER} workload:(idle) 2026-10")["total"]
    assert idle == cents(unused) == cents(sum((c for _, c, w, _, _ in expected if w == "(idle)"), Decimal(0)))
    assert ask(cli, f"cluster:{EKS_CLUSTER} 2026-10")["total"] == cents(
        sum((c for _, c, _, _, cl in expected if cl == EKS_CLUSTER), Decimal(0)))
    teams = summed([(team_of(user_tags(r), ns, user_tags(r) if ns else None), c) for r, c, _, ns, _ in expected])
    assert groups(cli, "2026-10 by team") == teams


def test_idle_capacity_is_shared_by_an_allocation_rule(cli: Cli, tmp_path: Path) -> None:
    from bot.domain.allocation import largest_remainder

    rows = write_cur2(tmp_path / "cur2.csv")
    weights = {"team-ml": Decimal(3), "team-vision": Decimal(1)}
    configure(tmp_path, [{"name": "eks-idle", "select": {"workload": "(idle)"}, "method": "weights",
                          "weights": {k: int(v) for k, v in weights.items()}}])
    assert cli("ingest", str(tmp_path / "cur2.csv")).code == 0
    expected = cur_expected(rows)
    direct: dict[str, Decimal] = defaultdict(Decimal)
    pool: dict[str, Decimal] = defaultdict(Decimal)  # by service, as rules spread
    for r, cost, workload, ns, _ in expected:
        if workload == "(idle)":
            pool["AmazonEC2"] += cost
            continue
        direct[team_of(user_tags(r), ns, user_tags(r) if ns else None)] += cost
    shared: dict[str, Decimal] = defaultdict(Decimal)
    for service in sorted(pool):
        for team, part in largest_remainder(pool[service], weights).items():
            shared[team] += part
    answer = {g["key"]: g for g in ask(cli, "2026-10 by team")["groups"]}
    for team in ("team-ml", "team-vision"):
        assert answer[team]["direct_cost"] == cents(direct[team])
        assert answer[team]["shared_cost"] == cents(shared[team])
    assert answer["team-platform"]["cost"] == cents(direct["team-platform"])  # the node's idle left platform


# -- GKE cost allocation ----------------------------------------------------------------------------------------------
def test_gke_labels_give_namespace_workload_cluster_and_idle(cli: Cli, tmp_path: Path) -> None:
    rows = write_gke(tmp_path / "gke.csv")
    configure(tmp_path)
    assert cli("ingest", str(tmp_path / "gke.csv")).code == 0
    tags = [(json.loads(r["Tags"]), Decimal(r["EffectiveCost"])) for r in rows]
    assert ask(cli, "2026-10")["total"] == cents(sum((c for _, c in tags), Decimal(0)))
    assert groups(cli, "2026-10 by namespace") == summed([(t.get("k8s-namespace", "(none)"), c) for t, c in tags])
    workloads = summed([("(idle)" if t.get("k8s-namespace") == "goog-k8s-unallocated"
                         else t.get("k8s-label/app", "(none)"), c) for t, c in tags])
    assert groups(cli, "2026-10 by workload") == workloads
    assert ask(cli, f"cluster:{GKE_CLUSTER} workload:(idle) 2026-10")["total"] == workloads["(idle)"]
    assert ask(cli, f"cluster:{GKE_CLUSTER} 2026-10")["total"] == cents(
        sum((c for t, c in tags if t.get("goog-k8s-cluster-name") == GKE_CLUSTER), Decimal(0)))
    teams = summed([(team_of(t, t.get("k8s-namespace")), c) for t, c in tags])
    assert groups(cli, "2026-10 by team") == teams
    assert teams["team-search"] > 0 and teams["team-ml"] > 0


def test_unknown_cluster_is_named_with_the_closest(cli: Cli, tmp_path: Path) -> None:
    write_gke(tmp_path / "gke.csv")
    configure(tmp_path)
    assert cli("ingest", str(tmp_path / "gke.csv")).code == 0
    result = cli("ask", "cluster:gke-mll", "2026-10", "--json")
    assert result.code != 0 and "no cluster 'gke-mll'" in result.err and "cluster:gke-ml" in result.err


# -- digests and App Home: a team's share of shared clusters, labelled --------------------------------------------
NOVEMBER = ("2026-11-20", "2026-11-21", "2026-11-22")  # month to date for TODAY 2026-11-28


def test_digest_and_app_home_show_a_teams_share_of_shared_clusters(cli: Cli, tmp_path: Path,
                                                                   data_dir: Path) -> None:
    from bot.app import Application
    from bot.config import Settings, load_config
    from bot.render.home_blocks import home_view

    focus = write_focus13_folder(tmp_path / "export", NOVEMBER)
    cur = write_cur2(tmp_path / "cur" / "cur2.csv", NOVEMBER)
    configure(tmp_path)
    assert cli("ingest", str(tmp_path / "export"), str(tmp_path / "cur")).code == 0
    share: dict[str, Decimal] = defaultdict(Decimal)  # team-ml's month to date by cluster
    for r in focus:
        allocated = json.loads(r["AllocatedTags"] or "{}")
        if team_of(json.loads(r["Tags"]), allocated.get("k8s-namespace"), allocated) == "team-ml" \
                and "/managedClusters/" in r["AllocatedResourceId"]:
            share[r["AllocatedResourceId"].split("/managedClusters/")[1].split("/")[0]] += Decimal(r["EffectiveCost"])
    for r, cost, _, ns, cluster in cur_expected(cur):
        if cluster and team_of(user_tags(r), ns, user_tags(r) if ns else None) == "team-ml":
            share[cluster] += cost
    assert set(share) == {"aks-gpu", EKS_CLUSTER}

    assert cli("digest", "team-ml", "--preview", str(tmp_path / "preview")).code == 0
    blocks = json.loads((tmp_path / "preview" / "digest-team-ml-daily.json").read_text())
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section" and "Shared clusters" in b["text"]["text"]]
    ordered = sorted(share.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = " · ".join(f"{name} ${cents(cost):,.2f}" for name, cost in ordered)
    assert texts == [f":ship: *Shared clusters this month* (its share, split by the bill): {shown}"]

    settings = Settings({"COSTBOT_DATA_DIR": str(data_dir), "COSTBOT_TODAY": "2026-11-28",
                         "DATABASE_URL": f"sqlite:///{tmp_path / 'state.db'}"})
    application = Application(settings, load_config(tmp_path / "costbot.yml"))
    try:
        overview = application.use_cases.home.overview("team-ml")
    finally:
        application.close()
    assert [(g.key, g.cost) for g in overview.shared_clusters] == [
        (name, Decimal(str(cents(cost)))) for name, cost in ordered]
    view = json.dumps(home_view([overview]).to_dict())
    assert ":ship: Its share of shared clusters (split by the bill): " + ", ".join(
        f"{name} ${Decimal(str(cents(cost))).quantize(Decimal(1), ROUND_HALF_UP):,}" for name, cost in ordered) in view


def test_shared_cluster_conditions_travel_to_the_store_owner() -> None:
    from bot.adapters.store_wire import decode, encode
    from bot.domain.spec import AnyOf, ColumnGlob, TagsMatch, TeamIs, TeamRule

    rule = TeamRule("team-ml", TagsMatch((("team", "ml"),)),
                    AnyOf((TagsMatch((("team", "ml"),), "AllocatedTags"), ColumnGlob("x_Namespace", ("ml-*",)))))
    condition = TeamIs("team-ml", (rule, TeamRule("team-data", TagsMatch((("team", "data"),)))))
    assert decode(encode(condition)) == condition


def test_idle_capacity_by_cluster(cli: Cli, tmp_path: Path) -> None:
    cur = write_cur2(tmp_path / "billing" / "cur2.csv")
    gke = write_gke(tmp_path / "billing" / "gke.csv")
    configure(tmp_path)
    assert cli("ingest", str(tmp_path / "billing")).code == 0
    eks_idle = sum((c for _, c, w, _, _ in cur_expected(cur) if w == "(idle)"), Decimal(0))
    gke_idle = sum((Decimal(r["EffectiveCost"]) for r in gke
                    if json.loads(r["Tags"]).get("k8s-namespace") == "goog-k8s-unallocated"), Decimal(0))
    answer = ask(cli, "idle-capacity 2026-10")
    assert {g["key"]: g["cost"] for g in answer["groups"]} == summed([(EKS_CLUSTER, eks_idle), (GKE_CLUSTER, gke_idle)])
    assert answer["total"] == cents(eks_idle + gke_idle)
    assert ask(cli, f"idle-capacity cluster:{GKE_CLUSTER} 2026-10")["total"] == cents(gke_idle)


def test_bad_allocated_tags_or_split_cost_reject_the_file_by_row(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    from tests.cluster_billing import COLUMNS_CUR2, FOCUS13_HEADER, focus13_rows, write_rows

    rows = focus13_rows()
    rows[4]["AllocatedTags"] = '["not", "an object"]'
    write_rows(tmp_path / "focus" / "bad.csv", FOCUS13_HEADER, rows)
    result = cli("ingest", str(tmp_path / "focus"))
    assert result.code == 1
    assert "bad.csv, row 5, column AllocatedTags: '[\"not\", \"an object\"]' is not a JSON object of tags" in result.err
    from tests.cluster_billing import cur2_rows

    pods = cur2_rows()
    pods[3]["split_line_item_split_cost"] = "1,5"
    write_rows(tmp_path / "cur" / "bad.csv", COLUMNS_CUR2, pods)
    result = cli("ingest", str(tmp_path / "cur"))
    assert result.code == 1
    assert "bad.csv, row 4, column split_line_item_split_cost: '1,5' is not a number" in result.err
    if (data_dir / "costs.duckdb").exists():  # nothing of either file was kept
        import duckdb

        con = duckdb.connect(str(data_dir / "costs.duckdb"), read_only=True)
        try:
            assert con.execute("SELECT count(*) FROM costs").fetchone() == (0,)
        finally:
            con.close()


# -- FOCUS 1.3 Contract Commitment: /cost commitments ----------------------------------------------------------------
def test_commitments_show_term_and_use_against_what_is_due(cli: Cli, tmp_path: Path, data_dir: Path) -> None:
    from datetime import date, timedelta

    from bot.adapters.duckdb_store import DuckDBCostStore
    from bot.render.commitment_blocks import commitments_blocks
    from tests.cluster_billing import SAVINGS_PLAN, SAVINGS_PLAN_COST

    rows = write_focus13_folder(tmp_path / "export")
    configure(tmp_path)
    assert cli("ingest", str(tmp_path / "export")).code == 0
    used = sum((Decimal(str(e["ContractCommitmentAppliedCost"])) for r in rows if r["ContractApplied"]
                for e in json.loads(r["ContractApplied"])["Elements"] if e["ContractCommitmentId"] == SAVINGS_PLAN),
               Decimal(0))
    through = max(date.fromisoformat(r["ChargePeriodStart"][:10]) for r in rows)
    elapsed = (through + timedelta(days=1) - date(2026, 5, 1)).days
    due = Decimal(SAVINGS_PLAN_COST) * elapsed / (date(2027, 5, 1) - date(2026, 5, 1)).days
    text = cli("ask", "commitments").out
    assert "AzureSavingsPlan-1yr" in text and "$120,000.00" in text and "2026-05-01 – 2027-05-01" in text
    assert f"${cents(used):,.2f} used of ${cents(due):,.2f} due so far ({used / due * 100:.0f}%)" in text
    assert f"billing data through {through.isoformat()}" in text
    store = DuckDBCostStore(data_dir / "costs.duckdb", read_only=True)
    try:
        report = store.commitments()
    finally:
        store.close()
    (commitment,) = report.commitments
    assert (commitment.used.quantize(Decimal("1e-6")), report.through) == (used.quantize(Decimal("1e-6")), through)
    blocks = [b.to_dict() for b in commitments_blocks(report, "USD")]
    assert blocks[0]["text"]["text"] == "Contract commitments"
    assert "*AzureSavingsPlan-1yr* · Savings Plan (Spend)\n$120,000.00 committed until 2027-05-01 · " in \
        blocks[1]["text"]["text"]


def test_shared_commitment_samples_read_with_their_use(cli: Cli) -> None:
    folder = shared_file("focus-multicloud", "focus13-aws")
    with gzip.open(next(folder.glob("*contract_commitment*")), "rt", newline="") as fh:
        commitments = list(csv.DictReader(fh))
    with gzip.open(next(folder.glob("*cost_and_usage*")), "rt", newline="") as fh:
        applied: dict[str, Decimal] = defaultdict(Decimal)
        hours: dict[str, Decimal] = defaultdict(Decimal)
        for r in csv.DictReader(fh):
            if r["ContractApplied"]:
                for e in json.loads(r["ContractApplied"])["Elements"]:
                    if "ContractCommitmentAppliedCost" in e:
                        applied[e["ContractCommitmentId"]] += Decimal(str(e["ContractCommitmentAppliedCost"]))
                    else:
                        hours[e["ContractCommitmentId"]] += Decimal(str(e["ContractCommitmentAppliedQuantity"]))
    result = cli("ingest", str(folder))
    assert result.code == 0, result.err
    assert f"{len({c['ContractCommitmentId'] for c in commitments}):,} contract commitments" in result.out
    text = cli("ask", "commitments").out
    busiest = max(applied, key=lambda k: applied[k])
    description = next(c["ContractCommitmentDescription"] for c in commitments if c["ContractCommitmentId"] == busiest)
    assert description in text and f"${cents(applied[busiest]):,.2f} used" in text
    reservation = max(hours, key=lambda k: hours[k])
    assert f"{hours[reservation]:,.0f} Hours used of" in text


def test_an_origin_charge_beside_its_allocated_charges_counts_once(cli: Cli, tmp_path: Path) -> None:
    """An export that carries the shared node's origin charge as well as its allocated charges: the origin charge
    is left out (said in the summary), the allocated ones carry the cost."""
    from tests.cluster_billing import FOCUS13_HEADER, NODE_HOURLY, NODE_TAGS, NODE_VM, _azure, focus13_rows, read_rows
    from tests.cluster_billing import write_rows as write

    extra = [_azure(day, hour, NODE_HOURLY, ResourceId=NODE_VM, ResourceName="gpu-node-1",
                    ResourceType="Virtual Machine", Tags=json.dumps(NODE_TAGS))
             for day in ("2026-10-05", "2026-10-06", "2026-10-07") for hour in (0, 1, 2)]
    rows = read_rows(write(tmp_path / "export" / "cost_and_usage.csv", FOCUS13_HEADER, focus13_rows() + extra))
    configure(tmp_path)
    result = cli("ingest", str(tmp_path / "export"))
    assert result.code == 0, result.err
    assert "cost_and_usage.csv: 9 origin charges left out" in result.out
    counted = [r for r in rows if r["AllocatedMethodId"] or r["ResourceId"] != NODE_VM]
    assert len(counted) == len(rows) - 9
    assert ask(cli, "2026-10")["total"] == cents(sum((Decimal(r["EffectiveCost"]) for r in counted), Decimal(0)))
    assert ask(cli, "resource:gpu-node-1 2026-10")["total"] == cents(NODE_HOURLY * 9)  # once, not twice


def test_legacy_cur_csv_with_ecs_split_rows(cli: Cli, tmp_path: Path) -> None:
    """Legacy CUR CSV naming (`splitLineItem/SplitCost`, `resourceTags/aws:ecs:cluster-name`): an ECS task on a
    container instance; the instance keeps its idle remainder."""
    header = ["bill/PayerAccountId", "bill/BillingPeriodStartDate", "lineItem/UsageAccountId",
              "lineItem/LineItemType", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/ProductCode",
              "lineItem/UsageType", "lineItem/ResourceId", "lineItem/UnblendedCost", "lineItem/CurrencyCode",
              "resourceTags/user:team", "resourceTags/aws:ecs:cluster-name", "resourceTags/aws:ecs:service-name",
              "splitLineItem/ParentResourceId", "splitLineItem/SplitCost", "splitLineItem/UnusedCost"]
    start, end = "2026-10-05T00:00:00Z", "2026-10-05T01:00:00Z"
    rows = [["999", "2026-10-01T00:00:00Z", "444", "Usage", start, end, "AmazonEC2", "BoxUsage:g5.xlarge",
             "i-0ecs", "1.0060", "USD", "platform", "", "", "", "", ""],
            ["999", "2026-10-01T00:00:00Z", "444", "Usage", start, end, "AmazonECS", "USE1-ECS-EC2-vCPU-Hours",
             "arn:aws:ecs:us-east-1:444:task/batch/abc", "0", "USD", "ml", "batch", "trainer", "i-0ecs", "0.7000",
             "0.3060"]]
    path = tmp_path / "legacy.csv"
    path.write_text(",".join(header) + "\n" + "\n".join(",".join(r) for r in rows) + "\n")
    configure(tmp_path)
    assert cli("ingest", str(path)).code == 0
    assert ask(cli, "2026-10")["total"] == 1.01  # the instance's cost, once
    assert groups(cli, "cluster:batch 2026-10 by workload") == {"trainer": 0.70, "(idle)": 0.31}
    assert groups(cli, "2026-10 by team") == {"team-ml": 0.70, "team-platform": 0.31}

"""EBS gp2 -> gp3 end to end: moto in server mode behind the counting proxy, the real bot over signed HTTP, the
Slack stub, and billing lines in the store naming the volume. The saving is the volume's own cost in the bill ×
(1 − the gp3/gp2 price ratio); the volume's type is read back from moto after each click."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bot.app import Application
from bot.config import Settings
from bot.domain.recommendations import TIER
from bot.render.digest_blocks import digest_blocks
from bot.web import make_server, run_until_closed
from tests.billing import daily, write_focus
from tests.conftest import TODAY
from tests.integration.aws_world import REGION, launch, put_series
from tests.integration.conftest import SECRET, RunningBot
from tests.integration.test_actions import (
    APPROVER,
    CONFIG,
    MEMBER,
    billed_bot,
    blocks_text,
    bot_env,
    buttons,
    click,
)
from tests.signing import actions_body, post
from tests.slack_stub import SlackStub

ACCOUNT = "123456789012"
DAILY = Decimal("1.50")  # the 500 GiB volume's cost a day in the bill


def volume(name: str, size: int, vtype: str, tags: dict[str, str], attach_to: str | None = None) -> str:
    ec2 = boto3.client("ec2", region_name=REGION)
    tag_list = [{"Key": "Name", "Value": name}] + [{"Key": k, "Value": v} for k, v in tags.items()]
    vol = ec2.create_volume(AvailabilityZone=f"{REGION}a", Size=size, VolumeType=vtype,
                            TagSpecifications=[{"ResourceType": "volume", "Tags": tag_list}])
    if attach_to:
        ec2.attach_volume(VolumeId=vol["VolumeId"], InstanceId=attach_to, Device="/dev/sdf")
    return str(vol["VolumeId"])


def volume_state(volume_id: str) -> dict[str, Any]:
    (vol,) = boto3.client("ec2", region_name=REGION).describe_volumes(VolumeIds=[volume_id])["Volumes"]
    return dict(vol)


def key(volume_id: str) -> str:
    return f"aws|{ACCOUNT}|{REGION}|volume|{volume_id}"


@pytest.fixture
def storage(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, str], Any]]:
    """team-ml's box with a 500 GiB gp2 data volume (billed $1.50 a day for the 30 days through yesterday), a
    20 GiB gp2 volume (too small to be worth a change), a gp3 one and a protected gp2 one."""
    box = launch("ml-box", "m5.large", {"team": "ml"})
    ids = {"ml-data": volume("ml-data", 500, "gp2", {"team": "ml"}, attach_to=box),
           "ml-small": volume("ml-small", 20, "gp2", {"team": "ml"}),
           "ml-fast": volume("ml-fast", 500, "gp3", {"team": "ml"}),
           "ml-keep": volume("ml-keep", 800, "gp2", {"team": "ml", "costbot": "protected"})}
    end = date.fromisoformat(TODAY)
    arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{ids['ml-data']}"
    billing = write_focus(tmp_path / "billing" / "ebs.csv", [
        *daily(end - timedelta(days=30), end, str(DAILY), tags={"team": "ml"}, resource=arn),
        *daily(end - timedelta(days=30), end, "9.00", tags={"team": "ml"}, resource="i-0other")])
    with billed_bot(tmp_path, billing, aws) as bot:
        yield bot, ids, aws



def click_all_at_once(url: str, bodies: list[bytes]) -> None:
    """Each signed click on its own thread, all released together; each gets its 200."""
    barrier = threading.Barrier(len(bodies))

    def go(body: bytes) -> None:
        barrier.wait()
        assert post(url, body, SECRET)[0] == 200

    threads = [threading.Thread(target=go, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

def test_a_gp2_volume_is_offered_gp3_with_the_saving_from_its_own_billing_lines(storage) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = storage
    result = bot.services.scans.scan()
    tiers = [r for r in result.recommendations if r.kind == TIER]
    assert [r.name for r in tiers] == ["ml-data"]  # not the 20 GiB one, the gp3 one, the protected one or roots
    (rec,) = tiers
    # 30 days × $1.50 in the bill; gp2 500 GiB is $50.00 a month, gp3 with gp2's 250 MiB/s $40.00 + 125 × $0.04
    monthly = DAILY * 30
    ratio = (Decimal("0.08") * 500 + Decimal("0.040") * (250 - 125)) / (Decimal("0.10") * 500)
    assert rec.monthly_savings == monthly * (1 - ratio) == Decimal("4.50")
    assert rec.target_type == "gp3" and rec.team == "team-ml" and rec.resource_type == "gp2"
    assert "$45.00 a month in the bill × 10%" in rec.reason
    # volumes need no metrics: the one CloudWatch request is ml-box's CPU
    assert proxy.counts["GetMetricData"] == 1 and proxy.counts["DescribeVolumes"] == 1
    (post_,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    text = blocks_text(post_.args["blocks"])
    assert "*ml-data* `gp2` → `gp3`" in text and "saves ~$5/month" in text
    assert buttons(post_.args["blocks"]) == [("costbot_resize", key(ids["ml-data"])),
                                             ("costbot_snooze", key(ids["ml-data"])),
                                             ("costbot_not_mine", key(ids["ml-data"]))]  # no Stop for a volume
    # `/cost savings` lists it with the same figure
    waiting = bot.services.actions.savings_waiting("team-ml")
    assert [(r.recommendation.name, r.monthly_savings) for r in waiting.rows] == [("ml-data", Decimal("4.50"))]
    # and the team's digest counts it among the savings waiting
    digest = bot.services.digests.build("team-ml")
    assert digest.savings_waiting == Decimal("4.50")
    shown = blocks_text([b.to_dict() for b in digest_blocks(digest)])
    assert ":bulb: $5/month of savings waiting in open recommendations — `/cost savings` lists them" in shown


def test_approver_click_changes_the_volume_online_audits_and_undo_restores_gp2(storage) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = storage
    bot.services.scans.scan()
    proxy.reset()
    vid = ids["ml-data"]
    reply = click(bot, "costbot_resize", key(vid), APPROVER, "r1")
    vol = volume_state(vid)
    assert (vol["VolumeType"], vol["Size"], vol["Iops"], vol["Throughput"]) == ("gp3", 500, 3000, 250)
    assert vol["Attachments"][0]["State"] == "attached"  # online: nothing detached, nothing stopped
    assert proxy.counts["ModifyVolume"] == 1 and proxy.counts["StopInstances"] == 0
    assert f"changed {vid} from gp2 to gp3 (3,000 IOPS, 250 MiB/s), online" in blocks_text(reply["blocks"])
    (entry, approved) = [e for e in bot.services.actions.audit(10) if e.resource_key == key(vid)][:2]
    assert (entry.actor, entry.action, entry.before, entry.after, entry.result) == (
        APPROVER, "resize", "in-use gp2 x1", "in-use gp3 x1", "succeeded")
    assert approved.result == "approved"
    assert bot.services.actions.store.recommendation_for(key(vid)).status == "closed"  # type: ignore[union-attr]
    req = bot.services.actions.store.latest_request(key(vid))
    assert req is not None and bot.services.actions.undo_until(req) is not None
    undone = click(bot, "costbot_undo", str(req.id), APPROVER, "u1")
    assert volume_state(vid)["VolumeType"] == "gp2" and proxy.counts["ModifyVolume"] == 2
    assert f"changed {vid} from gp3 to gp2, online" in blocks_text(undone["blocks"])


def test_a_members_click_waits_for_an_approver(storage) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = storage
    bot.services.scans.scan()
    proxy.reset()
    vid = ids["ml-data"]
    click(bot, "costbot_resize", key(vid), MEMBER, "m1")
    assert volume_state(vid)["VolumeType"] == "gp2" and proxy.counts["ModifyVolume"] == 0
    req = bot.services.actions.store.latest_request(key(vid))
    assert req is not None and req.status == "requested" and req.params["to"] == "gp3"
    click(bot, "costbot_approve", str(req.id), APPROVER, "a1")
    assert volume_state(vid)["VolumeType"] == "gp3" and proxy.counts["ModifyVolume"] == 1


def test_twenty_concurrent_clicks_change_the_volume_once(storage) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = storage
    bot.services.scans.scan()
    proxy.reset()
    vid = ids["ml-data"]
    bodies = [actions_body("costbot_resize", key(vid), bot.stub.response_url(f"c{i}"), user_id=APPROVER)
              for i in range(20)]
    click_all_at_once(bot.events_url, bodies)
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 20, timeout=120)
    assert proxy.counts["ModifyVolume"] == 1 and volume_state(vid)["VolumeType"] == "gp3"
    done = [e for e in bot.services.actions.audit(100) if e.resource_key == key(vid) and e.result == "succeeded"]
    assert len(done) == 1


def test_the_volume_is_re_checked_live_before_the_change(storage) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = storage
    bot.services.scans.scan()
    vid = ids["ml-data"]
    boto3.client("ec2", region_name=REGION).modify_volume(VolumeId=vid, VolumeType="gp3")  # someone was first
    proxy.reset()
    reply = click(bot, "costbot_resize", key(vid), APPROVER, "x1")
    assert proxy.counts["ModifyVolume"] == 0
    assert "ml-data is gp3 now" in blocks_text(reply["blocks"]) or "already gp3" in blocks_text(reply["blocks"])
    # a protected volume is never acted on, even from a forged button
    forged = click(bot, "costbot_resize", key(ids["ml-keep"]), APPROVER, "x2")
    assert "protected" in blocks_text(forged["blocks"]) and proxy.counts["ModifyVolume"] == 0


# -- S3: an Intelligent-Tiering lifecycle rule --------------------------------------------------------------------
GIB = 1024**3
STORAGE_DAILY = Decimal("1.57")  # ml-archive's Standard storage a day in the bill (its requests are not moved)
ABORT = {"ID": "abort-uploads", "Filter": {"Prefix": ""}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7}}
GLACIER = {"ID": "to-glacier", "Filter": {"Prefix": "old/"}, "Status": "Enabled",
           "Transitions": [{"Days": 90, "StorageClass": "GLACIER"}]}


def bucket(name: str, gib: int, tags: dict[str, str], rules: list[dict[str, Any]] | None = None,
           reads_an_hour: float | None = None) -> str:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=name)
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in tags.items()]})
    if rules:
        s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": rules})
    put_series("AWS/S3", "BucketSizeBytes", [{"Name": "BucketName", "Value": name},
                                             {"Name": "StorageType", "Value": "StandardStorage"}],
               float(gib * GIB), 48, unit="Bytes")
    if reads_an_hour is not None:
        put_series("AWS/S3", "GetRequests", [{"Name": "BucketName", "Value": name},
                                             {"Name": "FilterId", "Value": "EntireBucket"}],
                   reads_an_hour, 48, unit="Count")
    return name


def lifecycle(name: str) -> dict[str, Any] | None:
    try:
        got = boto3.client("s3", region_name=REGION).get_bucket_lifecycle_configuration(Bucket=name)
    except boto3.client("s3", region_name=REGION).exceptions.ClientError:
        return None
    got.pop("ResponseMetadata", None)
    return dict(got)


@pytest.fixture
def buckets(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, Any]]:
    """team-ml's buckets: a 2 TiB archive read by no one and billed $1.57 a day for Standard storage, 1 TiB of
    logs with a rule aborting incomplete uploads, a 1 TiB one read all day, a 10 GiB one, one whose rule already
    moves data to Glacier and a protected one."""
    bucket("ml-archive", 2048, {"team": "ml"})
    bucket("ml-logs", 1024, {"team": "ml"}, rules=[ABORT])
    bucket("ml-hot", 1024, {"team": "ml"}, reads_an_hour=5000)
    bucket("ml-tiny", 10, {"team": "ml"})
    bucket("ml-cold", 4096, {"team": "ml"}, rules=[GLACIER])
    bucket("ml-keep", 4096, {"team": "ml", "costbot": "protected"})
    end = date.fromisoformat(TODAY)
    billing = write_focus(tmp_path / "billing" / "s3.csv", [
        *daily(end - timedelta(days=30), end, str(STORAGE_DAILY), tags={"team": "ml"}, resource="ml-archive",
               service="Amazon Simple Storage Service", usage_type="USE1-TimedStorage-ByteHrs"),
        *daily(end - timedelta(days=30), end, "0.80", tags={"team": "ml"}, resource="ml-archive",
               service="Amazon Simple Storage Service", usage_type="USE1-Requests-Tier1")])
    with billed_bot(tmp_path, billing, aws) as bot:
        yield bot, aws


def bucket_key(name: str) -> str:
    return f"aws|{ACCOUNT}|{REGION}|bucket|{name}"


def test_large_rarely_read_buckets_without_a_tiering_rule_are_offered_one(buckets) -> None:  # type: ignore[no-untyped-def]
    bot, proxy = buckets
    result = bot.services.scans.scan()
    offered = {r.name: r for r in result.recommendations if r.kind == TIER}
    assert set(offered) == {"ml-archive", "ml-logs"}  # not read all day, not tiny, no rule of its own, not protected
    archive, logs = offered["ml-archive"], offered["ml-logs"]
    # ml-archive: its Standard storage lines only (30 × $1.57), × (1 − 0.0125 / 0.023)
    ratio = Decimal("0.0125") / Decimal("0.023")
    assert archive.monthly_savings == STORAGE_DAILY * 30 * (1 - ratio)
    assert f"{archive.monthly_savings:.2f}" == "21.50" and "$47.10 a month in the bill" in archive.reason
    # ml-logs is not in the bill: the list-price difference on 1,024 GiB
    assert logs.monthly_savings == (Decimal("0.023") - Decimal("0.0125")) * 1024
    assert (archive.resource_type, archive.target_type) == ("STANDARD", "INTELLIGENT_TIERING")
    # six buckets' size and reads in one CloudWatch request
    assert proxy.counts["GetMetricData"] == 1
    (post_,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    labels = [e["text"]["text"] for b in post_.args["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert labels.count("Add Intelligent-Tiering rule") == 2 and "Stop" not in labels
    (confirm,) = [e["confirm"]["text"]["text"] for b in post_.args["blocks"] if b["type"] == "actions"
                  for e in b["elements"] if e["text"]["text"] == "Add Intelligent-Tiering rule" and e["value"] ==
                  archive.resource_key]
    assert confirm == ("Add a lifecycle rule to ml-archive moving its current objects to Intelligent-Tiering? Its "
                       "existing rules are kept, it is re-checked first, and Undo removes just this rule.")


def test_the_rule_is_added_beside_the_existing_ones_and_undo_restores_the_configuration(buckets) -> None:  # type: ignore[no-untyped-def]
    bot, proxy = buckets
    bot.services.scans.scan()
    before = lifecycle("ml-logs")
    assert before is not None and before["Rules"] == [ABORT]
    proxy.reset()
    reply = click(bot, "costbot_resize", bucket_key("ml-logs"), APPROVER, "s1")
    after = lifecycle("ml-logs")
    assert after is not None and after["Rules"] == [ABORT, {
        "ID": "costbot-intelligent-tiering", "Filter": {"Prefix": ""}, "Status": "Enabled",
        "Transitions": [{"Days": 0, "StorageClass": "INTELLIGENT_TIERING"}]}]
    assert proxy.counts["PutBucketLifecycleConfiguration"] == 1
    assert "keeping its 1 other rule" in blocks_text(reply["blocks"])
    entry = next(e for e in bot.services.actions.audit(10) if e.result == "succeeded")
    assert (entry.before, entry.after) == ("available STANDARD x1", "available INTELLIGENT_TIERING x1")
    req = bot.services.actions.store.latest_request(bucket_key("ml-logs"))
    assert req is not None
    click(bot, "costbot_undo", str(req.id), APPROVER, "s2")
    assert lifecycle("ml-logs") == before  # exactly as it was
    # a bucket that had no configuration has none again after Undo
    click(bot, "costbot_resize", bucket_key("ml-archive"), APPROVER, "s3")
    assert lifecycle("ml-archive") is not None
    req = bot.services.actions.store.latest_request(bucket_key("ml-archive"))
    assert req is not None
    click(bot, "costbot_undo", str(req.id), APPROVER, "s4")
    assert lifecycle("ml-archive") is None and proxy.counts["DeleteBucketLifecycle"] == 1


def test_ten_concurrent_clicks_add_the_rule_once_and_a_rule_set_meanwhile_is_kept(buckets) -> None:  # type: ignore[no-untyped-def]
    bot, proxy = buckets
    bot.services.scans.scan()
    # someone adds a rule between the scan and the clicks: it is merged, never replaced
    boto3.client("s3", region_name=REGION).put_bucket_lifecycle_configuration(
        Bucket="ml-archive", LifecycleConfiguration={"Rules": [ABORT]})
    proxy.reset()
    bodies = [actions_body("costbot_resize", bucket_key("ml-archive"), bot.stub.response_url(f"b{i}"),
                           user_id=APPROVER) for i in range(10)]
    click_all_at_once(bot.events_url, bodies)
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 10, timeout=120)
    assert proxy.counts["PutBucketLifecycleConfiguration"] == 1
    rules = (lifecycle("ml-archive") or {})["Rules"]
    assert [r["ID"] for r in rules] == ["abort-uploads", "costbot-intelligent-tiering"]


def test_a_bucket_that_got_a_tiering_rule_meanwhile_is_refused_live(buckets) -> None:  # type: ignore[no-untyped-def]
    bot, proxy = buckets
    bot.services.scans.scan()
    mine = {"ID": "team-tiering", "Filter": {"Prefix": ""}, "Status": "Enabled",
            "Transitions": [{"Days": 30, "StorageClass": "INTELLIGENT_TIERING"}]}
    boto3.client("s3", region_name=REGION).put_bucket_lifecycle_configuration(
        Bucket="ml-archive", LifecycleConfiguration={"Rules": [mine]})
    proxy.reset()
    reply = click(bot, "costbot_resize", bucket_key("ml-archive"), APPROVER, "t1")
    assert proxy.counts["PutBucketLifecycleConfiguration"] == 0
    assert "already INTELLIGENT_TIERING" in blocks_text(reply["blocks"])
    assert (lifecycle("ml-archive") or {})["Rules"] == [mine]


# -- unattached volumes: Snapshot & delete, Undo from the snapshot ---------------------------------------------
def start_bot_on(tmp: Path, today: date, config: dict[str, Any] = CONFIG) -> tuple[RunningBot, Any]:
    """The bot with its "today" some weeks after the volumes were made (moto dates them now)."""
    stub = SlackStub().start()
    stub.channels = {"team-ml": "C0TEAMML1", "team-data": "C0TEAMDAT", "team-vision": "C0TEAMVIS",
                     "cloud-owners": "C0OWNERS1"}
    data = tmp / "data"
    data.mkdir(exist_ok=True)
    env = {**bot_env(tmp, data, config, stub), "COSTBOT_TODAY": today.isoformat()}
    application = Application(Settings(env))
    slack = application.slack_app()
    server = make_server(application.wsgi(slack), "127.0.0.1", 0)
    threading.Thread(target=run_until_closed, args=(server,), daemon=True).start()
    return RunningBot(f"http://127.0.0.1:{server.effective_port}", stub, application, slack), server


@pytest.fixture
def unattached(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, str], Any]]:
    """ml-old: 200 GiB gp2 attached to nothing; ml-data: attached to ml-box. The bot's day is 20 days on."""
    box = launch("ml-box", "m5.large", {"team": "ml"})
    ids = {"ml-old": volume("ml-old", 200, "gp2", {"team": "ml", "project": "fraud"}),
           "ml-data": volume("ml-data", 500, "gp3", {"team": "ml"}, attach_to=box), "ml-box": box}
    bot, server = start_bot_on(tmp_path, date.today() + timedelta(days=20))
    aws.reset()
    try:
        yield bot, ids, aws
    finally:
        server.close()
        bot.stub.stop()


def snapshots_of(volume_id: str) -> list[dict[str, Any]]:
    return list(boto3.client("ec2", region_name=REGION).describe_snapshots(
        Filters=[{"Name": "tag:costbot:volume-id", "Values": [volume_id]}])["Snapshots"])


def exists(volume_id: str) -> bool:
    try:
        volume_state(volume_id)
    except ClientError:
        return False
    return True


def test_an_unattached_volume_is_snapshotted_then_deleted_and_undo_restores_it(unattached) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = unattached
    result = bot.services.scans.scan()
    found = {r.name: r for r in result.recommendations}
    assert set(found) == {"ml-old"}  # the attached one is in use (and gp3)
    old = found["ml-old"]
    assert old.kind == "unattached" and old.reason == "attached to nothing, created 20 days ago; a snapshot is kept"
    assert old.monthly_savings == Decimal("0.10") * 200 - Decimal("0.05") * 200  # gp2, less the snapshot kept
    (post_,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    delete = next(e for b in post_.args["blocks"] if b["type"] == "actions" for e in b["elements"]
                  if e["action_id"] == "costbot_delete")
    assert delete["value"] == key(ids["ml-old"]) and delete["style"] == "danger" and delete["text"]["text"] == \
        "Snapshot & delete"
    proxy.reset()
    reply = click(bot, "costbot_delete", key(ids["ml-old"]), APPROVER, "d1")
    (snap,) = snapshots_of(ids["ml-old"])
    tags = {t["Key"]: t["Value"] for t in snap["Tags"]}
    assert snap["State"] == "completed" and snap["VolumeSize"] == 200
    assert {k: tags[k] for k in ("team", "project", "costbot:volume-type", "costbot:volume-size")} == {
        "team": "ml", "project": "fraud", "costbot:volume-type": "gp2", "costbot:volume-size": "200"}
    assert f"approved by {APPROVER}" in tags["costbot:why"]
    assert not exists(ids["ml-old"])
    assert proxy.counts["CreateSnapshot"] == 1 and proxy.counts["DeleteVolume"] == 1
    assert f"snapshot {snap['SnapshotId']} of {ids['ml-old']} taken, then {ids['ml-old']} deleted" in \
        blocks_text(reply["blocks"])
    entry = next(e for e in bot.services.actions.audit(10) if e.result == "succeeded")
    assert (entry.action, entry.before, entry.after, entry.actor) == ("delete", "available gp2 x1", "gone", APPROVER)
    # Undo: a volume from the snapshot, in the same zone, type and tags
    req = bot.services.actions.store.latest_request(key(ids["ml-old"]))
    assert req is not None and bot.services.actions.undo_until(req) is not None
    undone = click(bot, "costbot_undo", str(req.id), APPROVER, "d2")
    (restored,) = [v for v in boto3.client("ec2", region_name=REGION).describe_volumes()["Volumes"]
                   if v.get("SnapshotId") == snap["SnapshotId"]]
    rtags = {t["Key"]: t["Value"] for t in restored["Tags"]}
    assert (restored["Size"], restored["VolumeType"], restored["AvailabilityZone"]) == (200, "gp2", f"{REGION}a")
    assert rtags["team"] == "ml" and rtags["project"] == "fraud"
    assert rtags["costbot:restored-from"] == f"{ids['ml-old']} ({snap['SnapshotId']})"
    assert f"restored {ids['ml-old']} as {restored['VolumeId']}" in blocks_text(undone["blocks"])
    assert proxy.counts["CreateVolume"] == 1
    # the Undo is itself done: a second click restores nothing more
    again = click(bot, "costbot_undo", str(req.id), APPROVER, "d3")
    assert proxy.counts["CreateVolume"] == 1 and "was already restored" in blocks_text(again["blocks"])


def test_twenty_concurrent_delete_clicks_snapshot_and_delete_once(unattached) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = unattached
    bot.services.scans.scan()
    proxy.reset()
    bodies = [actions_body("costbot_delete", key(ids["ml-old"]), bot.stub.response_url(f"k{i}"), user_id=APPROVER)
              for i in range(20)]
    click_all_at_once(bot.events_url, bodies)
    bot.stub.wait_for(lambda cs: len([c for c in cs if c.kind == "response"]) == 20, timeout=120)
    assert proxy.counts["CreateSnapshot"] == 1 and proxy.counts["DeleteVolume"] == 1
    assert len(snapshots_of(ids["ml-old"])) == 1 and not exists(ids["ml-old"])


def test_a_volume_attached_since_the_scan_is_kept(unattached) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = unattached
    bot.services.scans.scan()
    boto3.client("ec2", region_name=REGION).attach_volume(VolumeId=ids["ml-old"], InstanceId=ids["ml-box"],
                                                          Device="/dev/sdg")
    proxy.reset()
    reply = click(bot, "costbot_delete", key(ids["ml-old"]), APPROVER, "a1")
    assert proxy.counts["CreateSnapshot"] == 0 and proxy.counts["DeleteVolume"] == 0 and exists(ids["ml-old"])
    assert "costbot deletes only what nothing uses" in blocks_text(reply["blocks"])
    # the attached volume is never offered, and a forged button on it is refused the same way
    forged = click(bot, "costbot_delete", key(ids["ml-data"]), APPROVER, "a2")
    assert "no open recommendation" in blocks_text(forged["blocks"]) and proxy.counts["CreateSnapshot"] == 0


# -- snapshots whose volume is gone: Delete, with approval, final ----------------------------------------------
@pytest.fixture
def snapshots(aws: Any, tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, str], Any]]:
    """An orphaned snapshot (its volume deleted) and one of a volume still there; retention 10 days, the bot's
    day 20 days on."""
    ec2 = boto3.client("ec2", region_name=REGION)
    gone = volume("ml-scratch", 300, "gp2", {"team": "ml"})
    kept = volume("ml-data", 100, "gp3", {"team": "ml"})
    tag = [{"ResourceType": "snapshot", "Tags": [{"Key": "team", "Value": "ml"}]}]
    ids = {"orphan": ec2.create_snapshot(VolumeId=gone, TagSpecifications=tag)["SnapshotId"],
           "backup": ec2.create_snapshot(VolumeId=kept, TagSpecifications=tag)["SnapshotId"]}
    ec2.delete_volume(VolumeId=gone)
    config = {**CONFIG, "rules": {"snapshot_retention_days": 10}}
    bot, server = start_bot_on(tmp_path, date.today() + timedelta(days=20), config)
    aws.reset()
    try:
        yield bot, ids, aws
    finally:
        server.close()
        bot.stub.stop()


def test_an_orphaned_snapshot_past_its_retention_is_deleted_with_approval_and_no_undo(snapshots) -> None:  # type: ignore[no-untyped-def]
    bot, ids, proxy = snapshots
    result = bot.services.scans.scan()
    (rec,) = [r for r in result.recommendations if r.kind == "orphaned"]
    assert rec.resource_key == f"aws|{ACCOUNT}|{REGION}|snapshot|{ids['orphan']}"  # not the backup of ml-data
    assert rec.monthly_savings == Decimal("0.05") * 300
    assert rec.reason == "its volume is gone; taken 20 days ago (kept 10); deleting it cannot be undone"
    proxy.reset()
    click(bot, "costbot_delete", rec.resource_key, MEMBER, "o1")  # a member asks: it waits
    assert proxy.counts["DeleteSnapshot"] == 0
    req = bot.services.actions.store.latest_request(rec.resource_key)
    assert req is not None and req.status == "requested" and req.params["undo"] == "none"
    reply = click(bot, "costbot_approve", str(req.id), APPROVER, "o2")
    assert proxy.counts["DeleteSnapshot"] == 1
    assert f"deleted snapshot {ids['orphan']} (300 GiB)" in blocks_text(reply["blocks"])
    left = {s["SnapshotId"] for s in boto3.client("ec2", region_name=REGION).describe_snapshots(
        OwnerIds=["self"])["Snapshots"]}
    assert ids["orphan"] not in left and ids["backup"] in left
    done = bot.services.actions.store.latest_request(rec.resource_key)
    assert done is not None and done.status == "succeeded" and bot.services.actions.undo_until(done) is None

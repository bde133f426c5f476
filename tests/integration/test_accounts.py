"""Several AWS accounts and regions, end to end: moto in server mode keeps accounts apart (credentials from
AssumeRole on a role of account B are account B's), the real bot over HTTP, the Slack stub. Resources are read
back with a client of the account and region they live in."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.adapters.providers.aws import Account, AwsProvider
from bot.domain.errors import ProviderError
from bot.domain.resources import ResourceRef
from tests.integration.aws_world import assumed, instance_metrics, launch, state_of
from tests.integration.conftest import RunningBot
from tests.integration.test_actions import APPROVER, CONFIG, blocks_text, buttons, click, start_bot

A = "123456789012"  # the default credentials' account
B = "111111111111"
ROLE_B = f"arn:aws:iam::{B}:role/costbot"
EAST, WEST = "us-east-1", "eu-west-1"


@dataclass
class Box:
    name: str
    account: str
    region: str
    id: str
    session: Any  # a boto3 session of its account (None: the default credentials)

    def key(self, provider: str = "aws") -> str:
        return f"{provider}|{self.account}|{self.region}|ec2|{self.id}"

    def state(self) -> str:
        return state_of(self.id, self.region, self.session)[0]


def _estate() -> dict[str, Box]:
    """An idle GPU box in each account and region."""
    b = assumed(ROLE_B)
    boxes = {}
    for account, session in ((A, None), (B, b)):
        for region in (EAST, WEST):
            name = f"idle-{'a' if account == A else 'b'}-{region}"
            iid = launch(name, "g5.xlarge", {"team": "ml"}, region=region, session=session)
            instance_metrics(iid, cpu=1.0, gpu=0.0, net=1_000, region=region, session=session)
            boxes[name] = Box(name, account, region, iid, session)
    return boxes


def _config(providers: list[dict[str, Any]]) -> dict[str, Any]:
    return {**CONFIG, "providers": providers}


@pytest.fixture
def estate(aws: Any) -> dict[str, Box]:
    boxes = _estate()
    aws.reset()
    return boxes


@pytest.fixture
def one_provider(estate: dict[str, Box], demo_store: tuple[Path, Path],
                 tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, Box]]]:
    config = _config([{"kind": "aws", "regions": [EAST, WEST], "accounts": [{"id": A}, {"id": B, "role_arn": ROLE_B}]}])
    bot, server = start_bot(tmp_path, demo_store[0], config)
    try:
        yield bot, estate
    finally:
        server.close()
        bot.stub.stop()


def test_two_accounts_and_two_regions_are_scanned_posted_and_stopped_with_the_right_credentials(
        one_provider, aws) -> None:  # type: ignore[no-untyped-def]
    bot, boxes = one_provider
    result = bot.services.scans.scan()
    assert {r.resource_key for r in result.recommendations} == {b.key() for b in boxes.values()}
    (posted,) = [c for c in bot.stub.api_calls("chat.postMessage") if c.args["channel"] == "C0TEAMML1"]
    offered = {v for a, v in buttons(posted.args["blocks"]) if a == "costbot_stop"}
    assert offered == {b.key() for b in boxes.values()}
    text = blocks_text(posted.args["blocks"])
    assert f"{B}/{WEST}" in text and f"{A}/{EAST}" in text
    # one CloudWatch request per account and region for the first pass, one for the idle ones' detail
    assert aws.counts["GetMetricData"] == 8 and aws.counts["AssumeRole"] == 1
    target = boxes[f"idle-b-{WEST}"]
    reply = click(bot, "costbot_stop", target.key(), APPROVER, "b-west")
    assert f"stopped {target.id}" in blocks_text(reply["blocks"])
    assert target.state() == "stopped"
    assert {b.name: b.state() for b in boxes.values() if b is not target} == {
        f"idle-a-{EAST}": "running", f"idle-a-{WEST}": "running", f"idle-b-{EAST}": "running"}
    assert aws.counts["StopInstances"] == 1


def test_a_key_naming_the_other_account_finds_nothing_there_and_changes_nothing(one_provider, aws) -> None:  # type: ignore[no-untyped-def]
    bot, boxes = one_provider
    bot.services.scans.scan()
    b_box = boxes[f"idle-b-{WEST}"]
    forged = f"aws|{A}|{WEST}|ec2|{b_box.id}"  # B's instance id, under account A (configured, same region)
    reply = click(bot, "costbot_stop", forged, APPROVER, "cross")
    assert f"{b_box.id} no longer exists" in blocks_text(reply["blocks"])
    assert all(b.state() == "running" for b in boxes.values())
    assert aws.counts["StopInstances"] == 0


@pytest.fixture
def two_providers(estate: dict[str, Box], demo_store: tuple[Path, Path],
                  tmp_path: Path) -> Iterator[tuple[RunningBot, dict[str, Box]]]:
    config = _config([
        {"kind": "aws", "regions": [EAST, WEST]},  # named "aws": the default credentials' account
        {"kind": "aws", "name": "aws-b", "accounts": [{"id": B, "role_arn": ROLE_B, "regions": [WEST]}]},
    ])
    bot, server = start_bot(tmp_path, demo_store[0], config)
    try:
        yield bot, estate
    finally:
        server.close()
        bot.stub.stop()


def test_two_named_aws_providers_work_side_by_side(two_providers, aws) -> None:  # type: ignore[no-untyped-def]
    bot, boxes = two_providers
    assert sorted(bot.app.providers) == ["aws", "aws-b"]
    result = bot.services.scans.scan()
    assert {r.resource_key for r in result.recommendations} == {
        boxes[f"idle-a-{EAST}"].key(), boxes[f"idle-a-{WEST}"].key(), boxes[f"idle-b-{WEST}"].key("aws-b")}
    target = boxes[f"idle-b-{WEST}"]
    click(bot, "costbot_stop", target.key("aws-b"), APPROVER, "aws-b")
    assert target.state() == "stopped"
    assert [b.state() for b in boxes.values() if b is not target] == ["running"] * 3


@pytest.mark.parametrize("key, why", [
    ("aws-b|{B}|{EAST}|ec2|{id}", "region us-east-1 is not configured for costbot's actions in account 111111111111"),
    ("aws|{B}|{EAST}|ec2|{id}", "account 111111111111 is not configured for costbot's actions"),
    ("aws-c|{B}|{EAST}|ec2|{id}", "no 'aws-c' provider is configured"),
])
def test_a_click_outside_a_providers_accounts_and_regions_is_refused(two_providers, aws, key: str,
                                                                       why: str) -> None:  # type: ignore[no-untyped-def]
    bot, boxes = two_providers
    b_east = boxes[f"idle-b-{EAST}"]  # exists in account B, in a region only account A is configured for
    reply = click(bot, "costbot_stop", key.format(B=B, EAST=EAST, id=b_east.id), APPROVER, "outside")
    assert why in blocks_text(reply["blocks"])
    assert b_east.state() == "running"
    assert aws.counts["StopInstances"] == 0 and aws.counts["AssumeRole"] == 0


def test_assumed_role_credentials_are_renewed_before_they_expire(estate, aws) -> None:  # type: ignore[no-untyped-def]
    now = [datetime.now(UTC)]
    provider = AwsProvider([WEST], [Account(B, ROLE_B)], clock=lambda: now[0])
    box = estate[f"idle-b-{WEST}"]
    ref = ResourceRef("aws", B, WEST, "ec2", box.id)
    assert provider.describe(ref) is not None and provider.describe(ref) is not None
    assert aws.counts["AssumeRole"] == 1  # an hour's credentials, used again
    now[0] += timedelta(minutes=55)  # within botocore's refresh window before they expire
    found = provider.describe(ref)
    assert found is not None and found.ref.account == B and found.running
    assert aws.counts["AssumeRole"] == 2


def test_an_account_without_a_role_must_be_the_default_credentials_own(estate, aws) -> None:  # type: ignore[no-untyped-def]
    provider = AwsProvider([EAST], [Account(B)])  # B listed without its role: the default credentials are A's
    with pytest.raises(ProviderError, match="account 111111111111 has no role_arn"):
        provider.list_resources()
    assert aws.counts["DescribeInstances"] == 0

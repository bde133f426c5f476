"""Who may subscribe a channel to which digest, and how often, through the real bot over HTTP (signed slash
commands, the Slack stub). The demo config: U0ML00001 approves team-ml, U0VIS0001 team-vision, U0ADMIN01 is an
admin, UNOBODY is in no team."""

from __future__ import annotations

import itertools

import pytest

from tests.integration.conftest import SECRET, RunningBot
from tests.signing import command_body, post
from tests.slack_stub import SlackStub

ML, VISION, ADMIN, NOBODY = "U0ML00001", "U0VIS0001", "U0ADMIN01", "UNOBODY"
_replies = itertools.count()


def command(bot: RunningBot, stub: SlackStub, text: str, user: str, channel: str) -> str:
    """Send `/cost TEXT` as `user` in `channel`; the text of the one ephemeral reply."""
    rid = f"d{next(_replies)}"
    status, _ = post(bot.events_url, command_body(text, stub.response_url(rid), user_id=user, channel_id=channel),
                     SECRET)
    assert status == 200
    stub.wait_for(lambda calls: any(c.kind == "response" and c.name == rid for c in calls))
    (reply,) = stub.responses(rid)
    assert reply.args["response_type"] == "ephemeral"
    return str(reply.args["blocks"][0]["text"]["text"])


def scopes_in(bot: RunningBot, channel: str) -> list[tuple[str, str]]:
    return [(s.scope, s.cron) for s in bot.services.digests.subscriptions(channel)]


@pytest.mark.parametrize("cron", ["* * * * *", "*/5 * * * *", "0,30 9 * * *"])
def test_a_schedule_more_often_than_hourly_is_refused(bot: RunningBot, stub: SlackStub, cron: str) -> None:
    reply = command(bot, stub, f"digest subscribe team-ml cron {cron}", ML, "C0FAST001")
    minute = cron.split()[0]
    assert (f"a digest runs at most hourly, so the cron's minute field must be one minute such as 0, not '{minute}'"
            in reply)
    assert scopes_in(bot, "C0FAST001") == []


def test_an_unreadable_cron_is_refused_before_it_reaches_the_scheduler(bot: RunningBot, stub: SlackStub) -> None:
    reply = command(bot, stub, "digest subscribe team-ml cron 0 25 * * *", ML, "C0BADCRON")
    assert "'0 25 * * *' is not a valid cron expression" in reply
    assert scopes_in(bot, "C0BADCRON") == []


@pytest.mark.parametrize("scope", ["team-vision", "team:vision", "project:fraud team-vision"])
def test_another_teams_scope_is_refused(bot: RunningBot, stub: SlackStub, scope: str) -> None:
    reply = command(bot, stub, f"digest subscribe {scope} daily", ML, "C0OTHERS1")
    assert ":warning: only members and approvers of team-vision (or an admin) can subscribe a channel to its " \
           "digest" in reply
    assert scopes_in(bot, "C0OTHERS1") == []


def test_someone_in_no_team_may_not_subscribe_anything(bot: RunningBot, stub: SlackStub) -> None:
    reply = command(bot, stub, "digest subscribe project:fraud daily", NOBODY, "C0NOBODY1")
    assert ":warning: only members of a team (or an admin) can subscribe a channel to a digest" in reply
    assert scopes_in(bot, "C0NOBODY1") == []


def test_allowed_subscriptions_go_to_the_channel_typed_in(bot: RunningBot, stub: SlackStub) -> None:
    reply = command(bot, stub, "digest subscribe team-ml daily 07:30", ML, "C0HERE001")
    assert "<#C0HERE001> gets the *team-ml* digest daily at 07:30 (UTC)" in reply
    command(bot, stub, "digest subscribe project:fraud cron 0 * * * *", ML, "C0HERE001")  # hourly: allowed
    command(bot, stub, "digest subscribe team-vision weekly fri 16:00", ADMIN, "C0HERE001")  # admins: anything
    assert scopes_in(bot, "C0HERE001") == [("team-ml", "30 7 * * *"), ("project:fraud", "0 * * * *"),
                                           ("team-vision", "0 16 * * fri")]
    # a channel named in the text is never taken as the destination
    refused = command(bot, stub, "digest subscribe team-ml daily <#C0ELSEWHR>", ML, "C0HERE001")
    assert "is not a time" in refused
    assert scopes_in(bot, "C0ELSEWHR") == []
    assert stub.api_calls() == []  # subscriptions answer ephemerally; nothing posted anywhere


def test_unsubscribe_follows_the_same_rule(bot: RunningBot, stub: SlackStub) -> None:
    command(bot, stub, "digest subscribe team-ml daily", ML, "C0UNSUB01")
    refused = command(bot, stub, "digest unsubscribe team-ml", VISION, "C0UNSUB01")
    assert ":warning: only members and approvers of team-ml (or an admin) can unsubscribe a channel from its " \
           "digest" in refused
    refused = command(bot, stub, "digest unsubscribe team-ml", NOBODY, "C0UNSUB01")
    assert "only members and approvers of team-ml" in refused
    assert scopes_in(bot, "C0UNSUB01") == [("team-ml", "0 9 * * *")]
    done = command(bot, stub, "digest unsubscribe team-ml", ML, "C0UNSUB01")
    assert "Unsubscribed <#C0UNSUB01> from the *team-ml* digest." in done
    assert scopes_in(bot, "C0UNSUB01") == []


def test_digest_now_follows_the_same_rule(bot: RunningBot, stub: SlackStub) -> None:
    reply = command(bot, stub, "digest now team-vision", ML, "C0NOWNOW1")
    assert ":warning: only members and approvers of team-vision (or an admin) can post its digest" in reply
    assert [c for c in stub.api_calls() if c.name in ("chat.postMessage", "files.completeUploadExternal")] == []

"""The Slack listeners (handlers/) on a real Bolt App, dispatched in-process: the use cases are real services on
fakes, the Web API client and `respond` record what they are given, and lazy listeners run inline, so each test
sees exactly what the listener called and what it answered — no network, no threads, no waiting."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from slack_bolt import App, BoltContext, BoltRequest, BoltResponse
from slack_sdk import WebClient
from slack_sdk.web import SlackResponse

from bot.domain.actions import ActionNotAllowed
from bot.domain.anomalies import Anomaly
from bot.domain.query import Query
from bot.render import answer_blocks, budget_blocks, digest_blocks
from bot.render.action_blocks import outcome_text
from bot.render.common import error_blocks, notice_blocks
from bot.render.home_blocks import home_view
from bot.web import VERIFIED
from handlers import actions, answers, commands, errors, home
from tests.fakes import IDLE_USAGE, FakeWorld, LineItem, ProviderCall, build_world
from tests.signing import actions_body, command_body, event_body

APPROVER, MEMBER, ADMIN = "U0APPROVE", "U0MEMBER1", "U0ADMIN01"
TODAY = date(2026, 11, 28)
CONFIG: dict[str, Any] = {
    "teams": {"team-ml": {"tags": {"team": "ml"}, "channel": "#team-ml", "members": [MEMBER], "approvers": [APPROVER],
                          "budget": {"monthly": 2000}},
              "team-data": {"tags": {"team": "data"}, "channel": "#team-data", "budget": {"monthly": 500}}},
    "admins": [ADMIN],
}


class InlineExecutor(Executor):
    """Runs what Bolt hands its listener pool at once, on the dispatching thread."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # handed back in the future, as a pool would
            future.set_exception(exc)
        return future


class RecordingClient(WebClient):
    """A WebClient whose every Web API call is recorded and answered as Slack would, without a network."""

    def __init__(self) -> None:
        super().__init__(token="xoxb-test")
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def api_call(self, api_method: str, *, http_verb: str = "POST", files: dict[str, Any] | None = None,
                 data: dict[str, Any] | None = None, params: dict[str, Any] | None = None,
                 json: dict[str, Any] | None = None, headers: dict[str, Any] | None = None,
                 auth: dict[str, Any] | None = None) -> SlackResponse:
        args = dict(json or data or params or {})
        self.calls.append((api_method, args))
        body: dict[str, Any] = {"ok": True}
        if api_method == "auth.test":
            body.update(user_id="UBOT", bot_id="BBOT", team_id="T111", user="costbot", team="Stub")
        elif api_method.startswith("chat."):
            body.update(channel=args.get("channel"), ts="1700000000.000100")
        return SlackResponse(client=self, http_verb=http_verb, api_url=api_method, req_args={}, data=body,
                             headers={}, status_code=200)

    def __deepcopy__(self, memo: dict[int, Any]) -> RecordingClient:
        return self  # Bolt deep-copies a request for its lazy listeners: they must still reach this recorder

    def called(self, method: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == method]


def _plain(value: Any) -> Any:
    """Blocks and views as the JSON Slack receives."""
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value.to_dict() if hasattr(value, "to_dict") else value


class Responses:
    """Bolt's `respond`, recording each message sent to the request's response_url."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def __deepcopy__(self, memo: dict[int, Any]) -> Responses:
        return self  # one response_url: every copy of the request posts to it

    def __call__(self, text: str = "", blocks: Any = None, response_type: str | None = None,
                 replace_original: bool | None = None, **_: Any) -> None:
        message = {"text": text, "blocks": _plain(blocks), "response_type": response_type}
        if replace_original is not None:
            message["replace_original"] = replace_original
        self.sent.append(message)


class Slack:
    """The real listeners on a Bolt App over a world of fakes."""

    def __init__(self, w: FakeWorld) -> None:
        self.world = w
        self.client = RecordingClient()
        self.responses = Responses()

        def fakes(context: BoltContext, next: Callable[[], BoltResponse]) -> BoltResponse:
            context["client"], context["respond"] = self.client, self.responses
            return next()

        self.app = App(token="xoxb-test", signing_secret="x", token_verification_enabled=False,
                       request_verification_enabled=False, process_before_response=True,
                       listener_executor=InlineExecutor(), before_authorize=fakes,
                       raise_error_for_unhandled_request=True)
        errors.register(self.app)
        for listeners in (commands, answers, actions, home):
            listeners.register(self.app, w.use_cases, w.config)

    def dispatch(self, body: bytes, json_body: bool = False) -> BoltResponse:
        """One request as the intake gate hands it on (verified), answered with every lazy listener done."""
        content_type = "application/json" if json_body else "application/x-www-form-urlencoded"
        request = BoltRequest(body=body.decode(), headers={"content-type": [content_type]}, context={VERIFIED: True})
        response = self.app.dispatch(request)
        assert (response.status, response.body) == (200, "")  # acked at once, empty
        return response

    def command(self, text: str, user: str = MEMBER, channel: str = "C111") -> list[dict[str, Any]]:
        before = len(self.responses.sent)
        self.dispatch(command_body(text, "https://hooks.example/r", user_id=user, channel_id=channel))
        return self.responses.sent[before:]

    def click(self, action_id: str, value: str, user: str = MEMBER, block_id: str = "b1",
              action_ts: str | None = None) -> list[dict[str, Any]]:
        before = len(self.responses.sent)
        self.dispatch(actions_body(action_id, value, "https://hooks.example/r", user_id=user, block_id=block_id,
                                   action_ts=action_ts))
        return self.responses.sent[before:]


def _items() -> list[LineItem]:
    out = []
    for back in range(1, 40):
        day = TODAY - timedelta(days=back)
        out += [LineItem(day, Decimal("60.25"), tags={"team": "ml", "project": "fraud"}, resource_id="i-1"),
                LineItem(day, Decimal("12.5"), "Amazon SageMaker", {"team": "data"}, "ep-1"),
                LineItem(day, Decimal("3"), "Amazon Simple Storage Service", {}, "logs")]
    return out


@pytest.fixture
def slack() -> Iterator[Slack]:
    yield Slack(build_world(CONFIG, _items(), today=TODAY, channel_ids={"#team-ml": "C0TEAMML1"}))


def _ask(w: FakeWorld, text: str) -> Any:
    parsed = w.use_cases.answers.parse(text)
    assert isinstance(parsed, Query)
    return w.use_cases.answers.answer(parsed)


# -- /cost -------------------------------------------------------------------------------------------------------
def test_a_question_is_answered_with_the_rendered_answer(slack: Slack) -> None:
    (reply,) = slack.command("team-ml last-week by service")
    answer = _ask(slack.world, "team-ml last-week by service")
    assert answer.total == Decimal("60.25") * 7
    assert reply == {"text": answer_blocks.answer_fallback_text(answer), "response_type": "ephemeral",
                     "blocks": _plain(answer_blocks.answer_blocks(answer, "team-ml last-week by service"))}
    assert [name for name, _ in slack.client.calls] == ["auth.test"]  # Bolt's own; an answer is only a response


def test_cost_alone_answers_the_callers_teams(slack: Slack) -> None:
    (mine,) = slack.command("", user=MEMBER)
    assert mine["blocks"] == _plain(answer_blocks.answer_blocks(_ask(slack.world, "team-ml last-7d"),
                                                                "team-ml last-7d"))
    (org,) = slack.command("", user="UNOBODY")
    assert org["blocks"][0]["text"]["text"] == "all teams · last-7d"


def test_a_bad_question_gets_the_error_rendered(slack: Slack) -> None:
    (reply,) = slack.command("team-ml lastweek")
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert "unknown word 'lastweek'" in reply["text"] and "Did you mean 'last-week'?" in reply["text"]
    assert reply["blocks"][0]["text"]["text"].startswith(":warning: unknown word 'lastweek'")
    assert "For example: `/cost" in reply["blocks"][0]["text"]["text"]


def test_budget_words_go_to_the_budget_service(slack: Slack) -> None:
    (shown,) = slack.command("budget team-ml")
    status = slack.world.use_cases.budgets.status("team-ml")
    assert shown["blocks"] == _plain(budget_blocks.budgets_blocks([status]))
    (refused,) = slack.command("budget set team-ml 3000", user=MEMBER)
    assert refused["blocks"] == _plain(error_blocks(ActionNotAllowed("only admins can change budgets")))
    assert slack.world.insights.budgets() == {}
    confirmed, after = slack.command("budget set team-ml 3000", user=ADMIN)
    (told,) = slack.world.insight_notifier.budget_changes  # the team's channel hears who changed it
    assert told[1:] == ("team-ml", Decimal(2000), Decimal(3000), ADMIN)
    channel = slack.world.config.channel_for("team-ml")
    assert confirmed["blocks"] == _plain(notice_blocks(
        f":white_check_mark: *team-ml*'s monthly budget is now *$3,000* (was $2,000); told {channel}."))
    assert slack.world.insights.budgets() == {"team-ml": Decimal(3000)}
    assert after["blocks"] == _plain(budget_blocks.budgets_blocks([slack.world.use_cases.budgets.status("team-ml")]))
    assert "of $3,000 (" in after["blocks"][1]["text"]["text"]


def test_digest_words_act_on_the_channel_typed_in(slack: Slack) -> None:
    (done,) = slack.command("digest subscribe team-ml daily 08:30", channel="C0TEAMML1")
    (sub,) = slack.world.subscriptions.subscriptions()
    assert (sub.channel, sub.scope, sub.cron, sub.created_by) == ("C0TEAMML1", "team-ml", "30 8 * * *", MEMBER)
    assert done["blocks"] == _plain(digest_blocks.subscribed_blocks(sub))
    (listed,) = slack.command("digest list", channel="C0TEAMML1")
    assert listed["blocks"] == _plain(digest_blocks.subscription_blocks([sub], "C0TEAMML1"))
    (posted,) = slack.command("digest now team-ml", channel="C0TEAMML1")
    assert posted["blocks"] == _plain(notice_blocks("Posted the *team-ml* daily digest here."))
    ((channel, digest),) = slack.world.publisher.published
    assert channel == "C0TEAMML1" and digest == slack.world.use_cases.digests.build("team-ml")
    (refused,) = slack.command("digest subscribe team-data daily", channel="C0TEAMML1")
    assert "only members and approvers of team-data (or an admin)" in refused["text"]


# -- buttons -----------------------------------------------------------------------------------------------------
def _offered(slack: Slack) -> tuple[str, str]:
    key = slack.world.provider.add("i-7", name="gpu-dev", tags={"team": "ml"}, usage=IDLE_USAGE)
    (rec,) = slack.world.use_cases.scans.scan().recommendations
    return key, f"rec:{rec.id}"


def test_stop_by_an_approver_acts_once_however_often_the_click_arrives(slack: Slack) -> None:
    key, block = _offered(slack)
    (first,) = slack.click("costbot_stop", key, user=APPROVER, block_id=block, action_ts="1700000001.000001")
    (replay,) = slack.click("costbot_stop", key, user=APPROVER, block_id=block, action_ts="1700000001.000001")
    req = slack.world.action_store.latest_request(key)
    assert req is not None and req.status == "succeeded"
    assert first == replay == {"text": outcome_text(req), "blocks": _plain(notice_blocks(outcome_text(req))),
                               "response_type": "ephemeral", "replace_original": False}
    assert first["text"].startswith(f":white_check_mark: stopped i-7 — by <@{APPROVER}>")
    assert slack.world.provider.acted() == [ProviderCall("stop", key)]


def test_a_members_stop_waits_for_the_approvers_button(slack: Slack) -> None:
    key, block = _offered(slack)
    (asked,) = slack.click("costbot_stop", key, user=MEMBER, block_id=block)
    assert asked["text"] == f":hourglass: <@{MEMBER}> asked to stop; waiting for an approver"
    (approval,) = slack.world.action_notifier.approvals
    assert approval.request is not None and slack.world.provider.acted() == []
    (refused,) = slack.click("costbot_approve", str(approval.request.id), user=MEMBER)
    assert refused["text"] == f"only <@{APPROVER}>, <@{ADMIN}> can approve this"
    (done,) = slack.click("costbot_approve", str(approval.request.id), user=APPROVER)
    assert done["text"].startswith(":white_check_mark: stopped i-7")
    assert slack.world.provider.acted() == [ProviderCall("stop", key)]
    (bad,) = slack.click("costbot_approve", "12abc", user=APPROVER)
    assert bad["text"] == "this button does not carry a request number"


def test_snooze_tags_the_resource_for_its_team_only(slack: Slack) -> None:
    key, _ = _offered(slack)
    (refused,) = slack.click("costbot_snooze", key, user="UNOBODY")
    assert refused["text"] == "only team-ml's members and approvers can snooze gpu-dev"
    (done,) = slack.click("costbot_snooze", key, user=MEMBER)
    assert done["text"] == ":zzz: Snoozed gpu-dev until 2026-12-05 (tag costbot:snooze-until on the resource)."
    assert slack.world.provider.acted() == [ProviderCall("tag", key, detail="costbot:snooze-until=2026-12-05")]


def test_share_reposts_the_answer_in_the_channel(slack: Slack) -> None:
    assert slack.click("costbot_share", "team-ml last-week") == []
    (posted,) = slack.client.called("chat.postMessage")
    answer = _ask(slack.world, "team-ml last-week")
    assert posted == {"channel": "C111", "text": answer_blocks.answer_fallback_text(answer),
                      "blocks": _plain(answer_blocks.answer_blocks(answer, "team-ml last-week", shared_by=MEMBER))}


def test_acknowledge_updates_the_anomaly(slack: Slack) -> None:
    saved = slack.world.insights.save_anomaly(Anomaly("team-ml", "Amazon EC2", TODAY - timedelta(days=1),
                                                      Decimal(500), Decimal(60)))
    assert saved is not None and saved.id is not None
    slack.world.insights.set_anomaly_message(saved.id, "C0TEAMML1", "1700000000.000009")
    (reply,) = slack.click("costbot_acknowledge", str(saved.id), user=MEMBER)
    assert reply["text"] == "Acknowledged the Amazon EC2 anomaly of Nov 27 as expected."
    (update,) = slack.world.insight_notifier.anomaly_updates
    assert (update.channel, update.ts, update.acknowledged_by) == ("C0TEAMML1", "1700000000.000009", MEMBER)


# -- App Home ----------------------------------------------------------------------------------------------------
def test_app_home_publishes_the_users_teams(slack: Slack) -> None:
    event = {"type": "app_home_opened", "user": MEMBER, "channel": "D1", "tab": "home"}
    slack.dispatch(event_body(event), json_body=True)
    (published,) = slack.client.called("views.publish")
    assert published == {"user_id": MEMBER, "view": home_view(slack.world.use_cases.home.overviews(MEMBER)).to_dict()}
    text = json.dumps(published["view"])
    assert "month to date *$1,626.75*" in text  # 27 days of November at $60.25
    slack.dispatch(event_body({**event, "tab": "messages"}), json_body=True)
    assert len(slack.client.called("views.publish")) == 1  # only the Home tab is ours

"""The buttons of an off-hours heads-up: Keep running tonight (one resource, or all) and Skip this week. Each acks
at once; the work runs in the background, the heads-up is updated in place, and the clicker hears back
ephemerally. Who may click, and whether it is still before the stop, is the service's to decide."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, Respond

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed
from bot.render import action_ids
from bot.render.common import notice_blocks
from bot.services.container import UseCases
from handlers.errors import ack_now, reported


def _action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    return actions[0] if isinstance(actions[0], dict) else {}


def _user(body: dict[str, Any]) -> str:
    return str(body["user"]["id"])


def _heads_up_id(text: str) -> int:
    """A heads-up's id: a button's value, or the number in its block's id (`headsup:ID` / `headsup:ID:ROW`)."""
    if not text.isascii() or not text.isdigit() or len(text) > 18:
        raise ActionNotAllowed("this button does not name a heads-up costbot sent")
    return int(text)


def _block_heads_up(body: dict[str, Any]) -> int:
    kind, _, rest = str(_action(body).get("block_id") or "").partition(":")
    if kind != "headsup":
        raise ActionNotAllowed("this button does not name a heads-up costbot sent")
    return _heads_up_id(rest.partition(":")[0])


def _kept(changed: tuple[str, ...]) -> str:
    if not changed:
        return "Nothing changed: someone was first, and the heads-up shows who kept what."
    return f":crescent_moon: Keeping {', '.join(changed)} running tonight (audited)."


def register(app: App, uc: UseCases, config: CostbotConfig) -> None:

    def tell(respond: Respond, text: str) -> None:
        respond(blocks=notice_blocks(text), text=text, response_type="ephemeral", replace_original=False)

    @reported
    def keep(body: dict[str, Any], respond: Respond) -> None:
        key = str(_action(body).get("value") or "")
        tell(respond, _kept(uc.schedules.keep(_block_heads_up(body), _user(body), resource_key=key).changed))

    @reported
    def keep_all(body: dict[str, Any], respond: Respond) -> None:
        heads_up = _heads_up_id(str(_action(body).get("value") or ""))
        tell(respond, _kept(uc.schedules.keep(heads_up, _user(body)).changed))

    @reported
    def skip(body: dict[str, Any], respond: Respond) -> None:
        chosen = uc.schedules.skip_week(_heads_up_id(str(_action(body).get("value") or "")), _user(body))
        view = chosen.view
        tell(respond, f":fast_forward: <@{view.skipped_by}> skipped this week's {view.schedule} stops"
                      + (f" ({', '.join(chosen.changed)} keep running)" if chosen.changed else "") + ".")

    for action_id, worker in ((action_ids.ACTION_SCHEDULE_KEEP, keep), (action_ids.ACTION_SCHEDULE_KEEP_ALL, keep_all),
                              (action_ids.ACTION_SCHEDULE_SKIP, skip)):
        app.action(action_id)(ack=ack_now, lazy=[worker])

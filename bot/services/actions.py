"""Actions on resources: request, approve or reject, execute exactly once after re-checking live state,
undo, snooze, re-route, audit, and reconcile what a crash left half done.

Nothing is stopped or resized without an authorized approval: a click by an approver (teams.*.approvers or
admins) approves at once; anyone else's click becomes an approval request that only approvers can decide.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta

from bot.config import CostbotConfig
from bot.domain.actions import ActionNotAllowed, ActionRequest, AuditEntry
from bot.domain.errors import CostbotError
from bot.domain.recommendations import IDLE, Recommendation, evaluate, is_protected
from bot.domain.resources import Resource, ResourceRef
from bot.ports import ActionNotifier, ActionStore, RecommendationView, ResourceProvider
from bot.services.optimize import WINDOW_SLACK_HOURS, domain_rules

log = logging.getLogger("costbot.actions")

SNOOZE_TAG = "costbot:snooze-until"
UNDO = {"stop": "start", "resize": "resize"}


def _now() -> datetime:
    return datetime.now(UTC)


class ActionService:
    def __init__(self, providers: Mapping[str, ResourceProvider], store: ActionStore, config: CostbotConfig,
                 notifier: ActionNotifier | None, today: Callable[[], date],
                 clock: Callable[[], datetime] = _now) -> None:
        self.providers = dict(providers)
        self.store = store
        self.config = config
        self.notifier = notifier
        self.today = today
        self.clock = clock

    # -- helpers ---------------------------------------------------------------------------------------
    def provider(self, ref: ResourceRef) -> ResourceProvider:
        try:
            return self.providers[ref.provider]
        except KeyError:
            raise ActionNotAllowed(f"no '{ref.provider}' provider is configured") from None

    def _live(self, ref: ResourceRef) -> Resource:
        resource = self.provider(ref).describe(ref)
        if resource is None:
            raise ActionNotAllowed(f"{ref.id} no longer exists")
        return resource

    def _audit(self, actor: str, action: str, key: str, before: str | None, after: str | None, result: str,
               error: str | None = None, request_id: int | None = None, dry_run: bool = False) -> None:
        self.store.add_audit(AuditEntry(at=self.clock(), actor=actor, action=action, resource_key=key,
                                        before=before, after=after, result=result, error=error,
                                        request_id=request_id, dry_run=dry_run))

    def undo_until(self, request: ActionRequest | None) -> datetime | None:
        if request is None or request.status != "succeeded" or request.action not in UNDO or request.undo_of:
            return None
        if (request.result or "").startswith("dry run"):
            return None
        hours = self.config.rules_for(request.team).undo_hours
        until = request.created_at + timedelta(hours=hours)
        return until if self.clock() < until else None

    def refresh_message(self, rec: Recommendation | None) -> None:
        """Re-render the recommendations message a resource was offered in, with every row's outcome."""
        if self.notifier is None or rec is None or not rec.channel or not rec.message_ts:
            return
        rows = []
        for item in self.store.recommendations_in_message(rec.channel, rec.message_ts):
            latest = self.store.latest_request(item.resource_key)
            rows.append(RecommendationView(item, latest, self.undo_until(latest)))
        try:
            self.notifier.update_recommendations(rec.channel, rec.message_ts, rec.team, rows)
        except CostbotError:
            log.warning("could not update the recommendations message %s/%s", rec.channel, rec.message_ts)

    # -- request, approve, reject ----------------------------------------------------------------------
    def request(self, resource_key: str, action: str, user: str, channel: str | None = None,
                message_ts: str | None = None, undo_of: int | None = None,
                params: dict[str, str] | None = None, policy: str | None = None) -> ActionRequest:
        """A click on Stop / Resize (or Undo): approved at once for an approver, else sent for approval.
        `policy` names an explicit enforcement policy that approves it instead (never for env=prod)."""
        ref = ResourceRef.parse(resource_key)
        rec = self.store.recommendation_for(resource_key)
        resource = self._live(ref)
        rules = domain_rules(self.config.rules_for(rec.team if rec else None))
        if is_protected(resource, rules):
            tag = ", ".join(f"{k}={v}" for k, v in rules.protect_tag)
            raise ActionNotAllowed(f"{resource.name} is protected ({tag}): costbot never acts on it")
        team = (rec.team if rec else None) or self.config.owner_team(resource.tags)
        params = dict(params or {})
        if action == "resize":
            target = params.get("to") or (rec.target_type if rec else None)
            if not target:
                raise ActionNotAllowed(f"no smaller size is known for {resource.type}")
            params = {"from": resource.type, "to": target}
        elif action == "stop":
            # the finding behind the click decides the re-check: an idle finding must still be idle
            basis = rec.kind if rec is not None and rec.status == "open" else "direct"
            params = {"from_state": resource.state, "count": str(resource.count), "basis": basis, **params}
        hours = self.config.rules_for(team).approval_hours
        expires = self.clock() + timedelta(hours=hours)
        if policy is not None:
            if {k.lower(): v.lower() for k, v in resource.tags.items()}.get("env") == "prod":
                raise ActionNotAllowed(f"{resource.name} is env=prod: a policy never acts on it without an approver")
            params["policy"] = policy
        if policy is not None or self.config.can_approve(user, team):
            req = self.store.create_request(resource_key=resource_key, action=action, team=team,
                                            requested_by=user, status="approved", approved_by=policy or user,
                                            expires_at=expires, params=params, channel=channel,
                                            message_ts=message_ts, undo_of=undo_of)
            self._audit(user, action, resource_key, None, None, "approved", request_id=req.id)
            return self.execute(req.id)
        req = self.store.create_request(resource_key=resource_key, action=action, team=team, requested_by=user,
                                        status="requested", expires_at=expires, params=params, channel=channel,
                                        message_ts=message_ts, undo_of=undo_of)
        self._audit(user, action, resource_key, None, None, "requested", request_id=req.id)
        approvers = self.approvers(team)
        if self.notifier is not None:
            where = (self.config.teams[team].channel if team in self.config.teams else None) \
                or self.config.owners_channel or channel
            if where:
                ch, ts = self.notifier.post_approval_request(where, req, rec, approvers)
                self.store.set_request_message(req.id, ch, ts)
        self.refresh_message(rec)
        return self.store.request(req.id) or req

    def approvers(self, team: str | None) -> list[str]:
        team_approvers = list(self.config.teams[team].approvers) if team in self.config.teams else []
        return team_approvers + [a for a in self.config.admins if a not in team_approvers]

    def _expire_if_due(self, req: ActionRequest) -> bool:
        if req.expired(self.clock()):
            if self.store.transition(req.id, ["requested", "approved"], "expired"):
                self._audit("costbot", req.action, req.resource_key, None, None, "expired", request_id=req.id)
            return True
        return False

    def approve(self, request_id: int, user: str) -> ActionRequest:
        req = self._get(request_id)
        if not self.config.can_approve(user, req.team):
            names = ", ".join(f"<@{a}>" for a in self.approvers(req.team)) or "an admin"
            raise ActionNotAllowed(f"only {names} can approve this")
        if self._expire_if_due(req):
            self._after_decision(request_id)
            raise ActionNotAllowed("this request has expired; click the button again to ask anew")
        if not self.store.transition(request_id, ["requested"], "approved", approved_by=user):
            return self._get(request_id)  # already decided: a double click or another approver was first
        self._audit(user, req.action, req.resource_key, None, None, "approved", request_id=request_id)
        return self.execute(request_id)

    def reject(self, request_id: int, user: str) -> ActionRequest:
        req = self._get(request_id)
        if not self.config.can_approve(user, req.team):
            raise ActionNotAllowed("only the team's approvers or an admin can reject this")
        if self.store.transition(request_id, ["requested"], "rejected", approved_by=user):
            self._audit(user, req.action, req.resource_key, None, None, "rejected", request_id=request_id)
        self._after_decision(request_id)
        return self._get(request_id)

    def _get(self, request_id: int) -> ActionRequest:
        req = self.store.request(request_id)
        if req is None:
            raise ActionNotAllowed(f"there is no action request {request_id}")
        return req

    def _after_decision(self, request_id: int) -> None:
        req = self._get(request_id)
        rec = self.store.recommendation_for(req.resource_key)
        if self.notifier is not None:
            try:
                self.notifier.update_approval_request(req, rec)
            except CostbotError:
                log.warning("could not update the approval message of request %s", req.id)
        self.refresh_message(rec)

    # -- execute ----------------------------------------------------------------------------------------
    def _recheck(self, req: ActionRequest, resource: Resource) -> str | None:
        """Why the action must not run now, or None. Live state first, then the rule that proposed it."""
        rules = domain_rules(self.config.rules_for(req.team))
        if is_protected(resource, rules):
            return f"{resource.name} is protected now"
        if req.action == "stop":
            if not resource.running:
                return f"{resource.name} is already {resource.state}"
            if req.undo_of is None and req.params.get("basis") == IDLE and "policy" not in req.params:
                provider = self.provider(resource.ref)
                window = rules.idle_hours + WINDOW_SLACK_HOURS
                usage = provider.utilization([resource], hours=window, recent_hours=window)
                finding = evaluate(resource, usage[resource.ref.key], rules, self.today())
                if finding is None or finding.kind != IDLE:
                    return f"{resource.name} is busy again"
        elif req.action == "start":
            if resource.running and resource.ref.kind != "endpoint":
                return f"{resource.name} is already {resource.state}"
        elif req.action == "resize" and resource.type != req.params.get("from"):
            return f"{resource.name} is {resource.type} now, not {req.params.get('from')}"
        return None

    def execute(self, request_id: int) -> ActionRequest:
        """Run an approved request once: whoever moves it approved -> executing does the work."""
        req = self._get(request_id)
        if self._expire_if_due(req):
            self._after_decision(request_id)
            return self._get(request_id)
        if not self.store.transition(request_id, ["approved"], "executing"):
            return self._get(request_id)
        ref = ResourceRef.parse(req.resource_key)
        actor = req.approved_by or req.requested_by
        dry_run = self.config.dry_run
        before = after = None
        try:
            resource = self._live(ref)
            before = f"{resource.state} {resource.type} x{resource.count}"
            reason = self._recheck(req, resource)
            if reason is not None:
                self.store.transition(request_id, ["executing"], "refused", result=reason)
                self._audit(actor, req.action, req.resource_key, before, before, "refused", error=reason,
                            request_id=request_id, dry_run=dry_run)
                self._after_decision(request_id)
                return self._get(request_id)
            provider = self.provider(ref)
            if req.action == "stop":
                outcome = provider.stop(ref, dry_run=dry_run)
            elif req.action == "start":
                count = req.params.get("count")
                outcome = provider.start(ref, dry_run=dry_run, count=int(count) if count else None)
            elif req.action == "resize":
                outcome = provider.resize(ref, req.params["to"], dry_run=dry_run)
            else:
                raise ActionNotAllowed(f"unknown action {req.action}")
            if dry_run:
                outcome = f"dry run: {outcome}; nothing was changed"
            else:
                live = provider.describe(ref)
                after = f"{live.state} {live.type} x{live.count}" if live else "gone"
        except Exception as exc:
            message = str(exc) if isinstance(exc, CostbotError) else f"{type(exc).__name__}: {exc}"
            self.store.transition(request_id, ["executing"], "failed", error=message)
            self._audit(actor, req.action, req.resource_key, before, after, "failed", error=message,
                        request_id=request_id, dry_run=dry_run)
            log.warning("action %s on %s failed: %s", req.action, req.resource_key, message)
            self._after_decision(request_id)
            return self._get(request_id)
        self.store.transition(request_id, ["executing"], "succeeded", result=outcome)
        self._audit(actor, req.action, req.resource_key, before, after, "succeeded", request_id=request_id,
                    dry_run=dry_run)
        if not dry_run and req.undo_of is None:
            self.store.close_recommendations_for(req.resource_key)
        self._after_decision(request_id)
        return self._get(request_id)

    # -- undo, snooze, not mine --------------------------------------------------------------------------
    def undo(self, request_id: int, user: str) -> ActionRequest:
        original = self._get(request_id)
        if self.undo_until(original) is None:
            raise ActionNotAllowed("this action can no longer be undone here")
        if original.action == "stop":
            params = {"count": original.params.get("count", "1")}
            return self.request(original.resource_key, "start", user, original.channel, original.message_ts,
                                undo_of=original.id, params=params)
        params = {"to": original.params["from"]}
        return self.request(original.resource_key, "resize", user, original.channel, original.message_ts,
                            undo_of=original.id, params=params)

    def snooze(self, resource_key: str, user: str, days: int | None = None) -> date:
        """Write `costbot:snooze-until=YYYY-MM-DD` on the resource itself: it survives restarts and other
        tools see it. Harmless, so any member may do it; audited like every action."""
        ref = ResourceRef.parse(resource_key)
        rec = self.store.recommendation_for(resource_key)
        days = days or self.config.rules_for(rec.team if rec else None).snooze_days
        until = self.today() + timedelta(days=days)
        if self.config.dry_run:
            self._audit(user, "snooze", resource_key, None, None, "succeeded", dry_run=True)
            return until
        try:
            self.provider(ref).tag(ref, SNOOZE_TAG, until.isoformat())
        except CostbotError as exc:
            self._audit(user, "snooze", resource_key, None, None, "failed", error=str(exc))
            raise
        self._audit(user, "snooze", resource_key, None, f"{SNOOZE_TAG}={until.isoformat()}", "succeeded")
        self.store.close_recommendations_for(resource_key)
        self.refresh_message(rec)
        return until

    def not_mine(self, resource_key: str, user: str) -> str:
        """Take the resource off the team and offer it in the owners channel."""
        owners = self.config.owners_channel
        if not owners:
            raise ActionNotAllowed("no owners channel is configured (owners_channel in costbot.yml)")
        rec = self.store.recommendation_for(resource_key)
        if rec is None or rec.status != "open":
            raise ActionNotAllowed("this recommendation is no longer open")
        self.store.set_recommendation_team(resource_key, None)
        self._audit(user, "not_mine", resource_key, rec.team, None, "succeeded")
        moved = self.store.recommendation_for(resource_key)
        if self.notifier is not None and moved is not None:
            ch, ts = self.notifier.post_recommendations(owners, None, [RecommendationView(moved)])
            self.refresh_message(rec)
            self.store.set_recommendation_message([moved.id] if moved.id else [], ch, ts)
        return owners

    # -- upkeep -----------------------------------------------------------------------------------------
    def reconcile(self) -> int:
        """At start: requests left `executing` by a crash are settled against live state, once."""
        settled = 0
        for req in self.store.requests_in(["executing"]):
            ref = ResourceRef.parse(req.resource_key)
            try:
                live = self.provider(ref).describe(ref)
            except CostbotError as exc:
                log.warning("cannot reconcile request %s yet: %s", req.id, exc)
                continue
            if req.action == "stop":
                done = live is not None and live.state.lower() in ("stopping", "stopped")
            elif req.action == "start":
                done = live is not None and live.running
            else:
                done = live is not None and live.type == req.params.get("to")
            state = f"{live.state} {live.type}" if live else "gone"
            if done:
                ok = self.store.transition(req.id, ["executing"], "succeeded",
                                           result=f"completed before a restart ({state})")
            else:
                ok = self.store.transition(req.id, ["executing"], "failed",
                                           error=f"interrupted by a restart before it took effect ({state})")
            if ok:
                settled += 1
                self._audit("costbot", req.action, req.resource_key, None, state,
                            "succeeded" if done else "failed", request_id=req.id,
                            error=None if done else "interrupted by a restart")
        for req in self.store.requests_in(["requested", "approved"]):
            self._expire_if_due(req)
        return settled

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        return self.store.audit(limit)

    def open_views(self, team: str | None = None) -> list[RecommendationView]:
        rows = []
        for rec in self.store.open_recommendations(team):
            latest = self.store.latest_request(rec.resource_key)
            rows.append(RecommendationView(rec, latest, self.undo_until(latest)))
        return rows

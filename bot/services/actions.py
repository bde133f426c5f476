"""Actions on resources: request, approve or reject, execute exactly once after re-checking live state and the
grounds that justified it, undo, snooze, re-route, audit, and reconcile what a vanished process left half done.

Nothing is stopped or resized without an authorized approval: a click by an approver (teams.*.approvers or
admins) approves at once; anyone else's click becomes an approval request that only approvers can decide.

Exactly once, per resource: the action store lets a resource have one open request at a time (a unique key in
the database), a click and its replays or retries are one click, and whoever moves a request approved ->
executing does the work while holding a heartbeat, so a reconciler only settles requests whose executor is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.config import CostbotConfig
from bot.domain.actions import ActionKind, ActionNotAllowed, ActionRequest, AuditEntry, Status, action_kind, sources_of
from bot.domain.errors import CostbotError, ProviderError
from bot.domain.money import ZERO
from bot.domain.recommendations import (
    IDLE,
    ORPHANED,
    OVERSIZED,
    SPOT,
    SPOT_DISMISSED,
    SPOT_REMIND,
    SPOT_TAG,
    TIER,
    UNATTACHED,
    Cleared,
    Finding,
    Recommendation,
    RecommendationView,
    assess,
    is_protected,
)
from bot.domain.resources import Resource, ResourceRef
from bot.domain.savings import SavingsWaiting, savings_waiting
from bot.ports import ActionNotifier, ActionStore, AnomalyGrounds, BudgetGrounds, ResourceProvider
from bot.services.scans import WINDOW_SLACK_HOURS, domain_rules

log = logging.getLogger("costbot.actions")

SNOOZE_TAG = "costbot:snooze-until"
UNDO = {"stop": "start", "resize": "resize", "delete": "restore"}
# what each action asks of the provider: (provider, resource, request, dry run) -> what happened
ACTS: dict[str, Callable[[ResourceProvider, ResourceRef, ActionRequest, bool], str]] = {
    "stop": lambda p, ref, req, dry: p.stop(ref, dry_run=dry),
    "start": lambda p, ref, req, dry: p.start(ref, dry_run=dry, count=int(req.params["count"])
                                              if req.params.get("count") else None),
    "resize": lambda p, ref, req, dry: p.resize(ref, req.params["to"], dry_run=dry),
    "delete": lambda p, ref, req, dry: p.delete(ref, dry_run=dry, note=(
        f"costbot request {req.id} ({req.params.get('basis', '')}): requested by {req.requested_by}, approved by "
        f"{req.approved_by or req.requested_by}")),
    "restore": lambda p, ref, req, dry: p.restore(ref, dry_run=dry),
}
GONE_BY_DESIGN = ("restore",)  # actions on a resource that is gone: its delete is what they undo
BUDGET = "budget"
ANOMALY = "anomaly"
UNDO_BASIS = "undo"
LEGACY_BASIS = "direct"  # requests recorded before grounds were kept: live state only


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Snoozed:
    until: date
    dry_run: bool
    resource: str


class ActionService:
    def __init__(self, providers: Mapping[str, ResourceProvider], store: ActionStore, config: CostbotConfig,
                 notifier: ActionNotifier | None, today: Callable[[], date],
                 clock: Callable[[], datetime] = _now, budgets: BudgetGrounds | None = None,
                 anomalies: AnomalyGrounds | None = None, lease: timedelta = timedelta(seconds=60)) -> None:
        self.providers = dict(providers)
        self.store = store
        self.config = config
        self.notifier = notifier
        self.today = today
        self.clock = clock
        self.budgets = budgets  # checks a budget action's grounds
        self.anomalies = anomalies  # checks an anomaly action's grounds
        self.lease = lease  # an executor silent for this long is gone; it renews every quarter of it
        self.holder = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"

    # -- helpers ---------------------------------------------------------------------------------------
    def provider(self, ref: ResourceRef) -> ResourceProvider:
        try:
            return self.providers[ref.provider]
        except KeyError:
            raise ActionNotAllowed(f"no '{ref.provider}' provider is configured") from None

    def resolve(self, resource_key: str) -> ResourceRef:
        """A button's resource key, checked against the config: a known provider, kind, account and region."""
        try:
            ref = ResourceRef.parse(resource_key)
        except ValueError:
            raise ActionNotAllowed("this button does not name a resource costbot knows") from None
        self.provider(ref).check_ref(ref)
        return ref

    def resource_named(self, name: str) -> str:
        """The resource key for what a terminal user types: a key itself, or the name of a resource with an open
        recommendation (else of any configured provider's resources)."""
        try:
            return ResourceRef.parse(name).key
        except ValueError:
            pass
        wanted = name.strip().lower()
        found = {r.resource_key for r in self.store.open_recommendations() if r.name.lower() == wanted}
        if not found:
            for provider in self.providers.values():
                found |= {r.ref.key for r in provider.list_resources() if r.name.lower() == wanted}
        if len(found) > 1:
            keys = ", ".join(sorted(found))
            raise ActionNotAllowed(f"several resources are called '{name}': give one's key ({keys})")
        if not found:
            raise ActionNotAllowed(f"no resource is called '{name}': `costbot ask idle` lists the open recommendations")
        return found.pop()

    def _move(self, request_id: int, to: Status, **kwargs: Any) -> bool:
        """Move a request to `to` from whichever state the state machine allows (a conditional update)."""
        return self.store.transition(request_id, sources_of(to), to, **kwargs)

    def _live(self, ref: ResourceRef) -> Resource:
        resource = self.provider(ref).describe(ref)
        if resource is None:
            raise ActionNotAllowed(f"{ref.id} no longer exists")
        return resource

    def _audit(self, actor: str, action: str, key: str, before: str | None, after: str | None, result: str,
               error: str | None = None, request_id: int | None = None, dry_run: bool = False,
               detail: str | None = None) -> None:
        self.store.add_audit(AuditEntry(at=self.clock(), actor=actor, action=action, resource_key=key,
                                        before=before, after=after, result=result, error=error,
                                        request_id=request_id, dry_run=dry_run, detail=detail))

    def undo_until(self, request: ActionRequest | None) -> datetime | None:
        if request is None or request.status != "succeeded" or request.action not in UNDO or request.undo_of:
            return None
        if request.params.get("undo") == "none":
            return None
        if (request.result or "").startswith("dry run"):
            return None
        hours = self.config.rules_for(request.team).undo_hours
        until = request.created_at + timedelta(hours=hours)
        return until if self.clock() < until else None

    def refresh_message(self, rec: Recommendation | None) -> None:
        """Re-render the recommendations message a resource was offered in, with every row's outcome (closed
        rows lose their buttons)."""
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

    def refresh_messages(self, recs: list[Recommendation]) -> None:
        """Each message once, however many of its rows changed."""
        seen: set[tuple[str, str]] = set()
        for rec in recs:
            if rec.channel and rec.message_ts and (rec.channel, rec.message_ts) not in seen:
                seen.add((rec.channel, rec.message_ts))
                self.refresh_message(rec)

    # -- grounds: why an action is offered, checked again when it runs -------------------------------------
    def _grounds(self, resource_key: str, action: str, source: str | None) -> tuple[str, str, str | None,
                                                                                     Recommendation | None]:
        """(basis, reference, team, recommendation) for a click on Stop / Resize. `source` names what offered
        the button (`rec:ID` or `anomaly:ID`, the actions block's id); without one, the resource's open
        recommendation. A closed recommendation justifies nothing: its message is updated and the click
        refused with the reason it closed."""
        kind, _, ident = (source or "").partition(":")
        if kind == ANOMALY:
            if self.anomalies is None or not ident.isdigit():
                raise ActionNotAllowed("this anomaly can no longer be acted on from here")
            team = self.anomalies.check_anomaly(int(ident), resource_key)
            return ANOMALY, ident, team, self.store.recommendation_for(resource_key)
        rec = (self.store.recommendation(int(ident)) if kind == "rec" and ident.isdigit()
               else self.store.recommendation_for(resource_key))
        if rec is None or rec.resource_key != resource_key:
            raise ActionNotAllowed("no open recommendation justifies this; `/cost idle` lists what is open now")
        if rec.status != "open":
            self.refresh_message(rec)
            raise ActionNotAllowed(f"this recommendation is closed: {rec.close_reason or 'a later scan cleared it'}")
        if action == "resize" and not rec.target_type:
            raise ActionNotAllowed(f"no smaller size is known for {rec.name}")
        if rec.kind == BUDGET:
            rule = next((r for r in self.config.enforcement if r.scope == rec.team), None)
            if rule is None:
                raise ActionNotAllowed(f"{rec.team} has no budget enforcement rule any more")
            return BUDGET, f"forecast:{rule.propose_percent}", rec.team, rec
        return rec.kind, str(rec.id), rec.team, rec

    def _assess(self, resource: Resource, team: str | None) -> Finding | Cleared:
        """The idle / oversized rule on live metrics, as a scan would judge the resource now."""
        cfg = self.config.rules_for(team)
        rules = domain_rules(cfg)
        provider = self.provider(resource.ref)
        usage = provider.utilization(
            [resource], hours=cfg.oversized_days * 24 + WINDOW_SLACK_HOURS,
            recent_hours=rules.idle_hours + WINDOW_SLACK_HOURS)
        resize = provider.resize_option(resource) if resource.supports("resize") else None
        return assess(resource, usage[resource.ref.key], rules, self.today(), resize=resize)

    def _recheck(self, req: ActionRequest, resource: Resource) -> str | None:
        """Why the action must not run now, or None. Live state first, then the grounds that proposed it."""
        rules = domain_rules(self.config.rules_for(req.team))
        if is_protected(resource, rules):
            return f"{resource.name} is protected now"
        basis = req.params.get("basis", LEGACY_BASIS)
        if basis in (BUDGET, ANOMALY) and self.config.owner_team(resource.tags) != req.team:
            return f"{resource.name} no longer belongs to {req.team}"
        why = self._cannot(resource, req.action)
        if why is not None:
            return why
        if req.action == "resize":
            if resource.type == req.params.get("to"):
                return f"{resource.name} is already {resource.type}"
            if resource.type != req.params.get("from"):
                return f"{resource.name} is {resource.type} now, not {req.params.get('from')}"
        if basis in (IDLE, OVERSIZED, TIER, UNATTACHED, ORPHANED):
            verdict = self._assess(resource, req.team)
            if isinstance(verdict, Cleared):
                return verdict.reason
            if req.action == "stop" and basis == IDLE and verdict.kind != IDLE:
                return f"{resource.name} is no longer idle ({verdict.reason})"
            if req.action == "delete" and verdict.kind not in (UNATTACHED, ORPHANED):
                return f"{resource.name} is in use again ({resource.state})"
        elif basis == BUDGET and self.budgets is not None:
            measure, _, percent = req.params.get("basis_ref", "forecast:100").partition(":")
            try:
                self.budgets.check_budget(str(req.team), measure, int(percent or 100))
            except ActionNotAllowed as exc:
                return str(exc)
        elif basis == ANOMALY and self.anomalies is not None:
            try:
                self.anomalies.check_anomaly(int(req.params.get("basis_ref", "0")), req.resource_key)
            except ActionNotAllowed as exc:
                return str(exc)
        return None

    # -- request, approve, reject ----------------------------------------------------------------------
    @staticmethod
    def _cannot(resource: Resource, action: str) -> str | None:
        """Why this action cannot apply to the resource as it is now (what it supports and its state)."""
        if action == "delete" and not resource.supports("delete"):
            return f"{resource.name} is {resource.state}: costbot deletes only what nothing uses"
        if action in ACTS and not resource.supports(action):
            return f"costbot cannot {action} {resource.name}"
        if action == "stop" and not resource.running:
            return f"{resource.name} is already {resource.state}"
        if action == "stop" and resource.stopped:
            return f"{resource.name} is already down to {resource.count} instance(s)"
        if action == "start" and not resource.startable:
            return f"{resource.name} is already {resource.state}"
        return None

    def request(self, resource_key: str, action: str, user: str, *, source: str | None = None,
                click: str | None = None, undo_of: int | None = None, params: dict[str, str] | None = None,
                policy: str | None = None, basis: tuple[str, str] | None = None) -> ActionRequest:
        """A click on Stop / Resize (or Undo): approved at once for an approver, else sent for approval.

        `source` names what offered the button; `click` identifies the click (a replay or a Slack retry of
        it returns what the first one did). `policy` names an explicit enforcement policy that approves it
        instead of a person (never for env=prod), with `basis` the grounds it rests on."""
        kind = action_kind(action)
        if kind not in ACTS:
            raise ActionNotAllowed(f"'{action}' is not an action costbot runs on request")
        ref = self.resolve(resource_key)
        if click is not None:
            first, known = self.store.claim_click(click)
            if not first:
                if known is not None:
                    return self._get(known)
                raise ActionNotAllowed("this click is being handled right now; its answer follows")
        try:
            req = self._request(ref, kind, user, source, undo_of, params or {}, policy, basis)
        except Exception:
            if click is not None:  # nothing came of it: a replay is judged again, and gets the same answer
                self.store.release_click(click)
            raise
        if click is not None and req.id:
            self.store.set_click_request(click, req.id)
        return req

    def _request(self, ref: ResourceRef, action: ActionKind, user: str, source: str | None, undo_of: int | None,
                 params: dict[str, str], policy: str | None, basis: tuple[str, str] | None) -> ActionRequest:
        key = ref.key
        if action in GONE_BY_DESIGN:
            return self._request_restore(ref, action, user, undo_of)
        resource = self._live(ref)
        rules = domain_rules(self.config.rules_for(self.config.owner_team(resource.tags)))
        if is_protected(resource, rules):
            tag = ", ".join(f"{k}={v}" for k, v in rules.protect_tag)
            raise ActionNotAllowed(f"{resource.name} is protected ({tag}): costbot never acts on it")
        rec: Recommendation | None = None
        team: str | None = None
        if undo_of is not None:
            why, why_ref = UNDO_BASIS, str(undo_of)
        elif basis is not None:
            why, why_ref = basis
        else:
            why, why_ref, team, rec = self._grounds(key, action, source)
        team = team or (rec.team if rec else None) or self.config.owner_team(resource.tags)
        why_not = self._cannot(resource, action)
        if why_not is not None:
            raise ActionNotAllowed(why_not)
        if action == "resize":
            target = params.get("to") or (rec.target_type if rec else None)
            if not target:
                raise ActionNotAllowed(f"no smaller size is known for {resource.type}")
            if target == resource.type:
                raise ActionNotAllowed(f"{resource.name} is already {resource.type}")
            params = {"from": resource.type, "to": target}
        elif action == "stop":
            params = {"from_state": resource.state, "count": str(resource.count), **params}
        elif action == "delete" and not resource.supports("restore"):
            params = {**params, "undo": "none"}  # nothing kept to come back from: the delete is final
        params.update(basis=why, basis_ref=why_ref)
        if policy is not None:
            if self.config.is_prod(resource.tags):
                raise ActionNotAllowed(f"{resource.name} is env=prod: a policy never acts on it without an approver")
            params["policy"] = policy
        approved = policy is not None or self.config.can_approve(user, team)
        expires = self.clock() + timedelta(hours=self.config.rules_for(team).approval_hours)
        req, created = self.store.create_request(
            resource_key=key, action=action, team=team, requested_by=user,
            status="approved" if approved else "requested", approved_by=(policy or user) if approved else None,
            expires_at=expires, params=params, undo_of=undo_of)
        if not created:
            return self._join(req, action, user)
        self._audit(user, action, key, None, None, "approved" if approved else "requested", request_id=req.id)
        if approved:
            return self.execute(req.id)
        self._ask_approvers(req, rec)
        self.refresh_message(rec)
        return self._get(req.id)

    def _request_restore(self, ref: ResourceRef, action: ActionKind, user: str,
                         undo_of: int | None) -> ActionRequest:
        """The Undo of a delete: the resource is gone by design; what `delete` kept brings it back. Only as an
        Undo, only while nothing answers to the old id, approved like any other action."""
        if undo_of is None:
            raise ActionNotAllowed("restoring is offered only as the Undo of a delete")
        original = self._get(undo_of)
        if original.resource_key != ref.key or original.action != "delete":
            raise ActionNotAllowed("this Undo does not belong to that resource")
        why = self._not_restorable(ref)
        if why is not None:
            raise ActionNotAllowed(why)
        team = original.team
        approved = self.config.can_approve(user, team)
        req, created = self.store.create_request(
            resource_key=ref.key, action=action, team=team, requested_by=user,
            status="approved" if approved else "requested", approved_by=user if approved else None,
            expires_at=self.clock() + timedelta(hours=self.config.rules_for(team).approval_hours),
            params={"basis": UNDO_BASIS, "basis_ref": str(undo_of)}, undo_of=undo_of)
        if not created:
            return self._join(req, action, user)
        self._audit(user, action, ref.key, None, None, "approved" if approved else "requested", request_id=req.id)
        if approved:
            return self.execute(req.id)
        self._ask_approvers(req, self.store.recommendation_for(ref.key))
        return self._get(req.id)

    def _not_restorable(self, ref: ResourceRef) -> str | None:
        """Why a restore must not run: the old id answers again, or a restore of it already succeeded (its
        copy has a new id, so only the record tells)."""
        done = [r for r in self.store.requests_in(["succeeded"])
                if r.resource_key == ref.key and r.action == "restore"]
        if done:
            return f"{ref.id} was already restored: {done[-1].result}"
        if self.provider(ref).describe(ref) is not None:
            return f"{ref.id} exists; there is nothing to restore"
        return None

    def _join(self, existing: ActionRequest, action: str, user: str) -> ActionRequest:
        """A click on a resource that already has an open request: an approver's click on the same action
        approves the waiting request; anything else is told what is already under way."""
        if existing.status == "requested" and existing.action == action and \
                self.config.can_approve(user, existing.team):
            return self.approve(existing.id, user)
        return existing

    def _ask_approvers(self, req: ActionRequest, rec: Recommendation | None) -> bool:
        """Post the approval request to the team's channel; False when Slack could not be told (the upkeep job
        posts it again)."""
        if self.notifier is None:
            return False
        where = self.config.channel_for(req.team) or req.channel
        if not where:
            return False
        try:
            ch, ts = self.notifier.post_approval_request(where, req, rec, self.approvers(req.team))
        except CostbotError as exc:
            log.warning("could not post approval request %s (kept; posted again later): %s", req.id, exc)
            return False
        self.store.set_request_message(req.id, ch, ts)
        return True

    def approvers(self, team: str | None) -> list[str]:
        return self.config.approvers(team)

    def _expire_if_due(self, req: ActionRequest) -> bool:
        if req.expired(self.clock()):
            if self._move(req.id, "expired"):
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
        if not self._move(request_id, "approved", approved_by=user):
            return self._get(request_id)  # already decided: a double click or another approver was first
        self._audit(user, req.action, req.resource_key, None, None, "approved", request_id=request_id)
        return self.execute(request_id)

    def reject(self, request_id: int, user: str) -> ActionRequest:
        req = self._get(request_id)
        if not self.config.can_approve(user, req.team):
            raise ActionNotAllowed("only the team's approvers or an admin can reject this")
        if self._move(request_id, "rejected", approved_by=user):
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
    @contextmanager
    def _holding(self, request_id: int) -> Iterator[None]:
        """Renew this executor's heartbeat on the request while the block runs (a resize can take minutes)."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.lease.total_seconds() / 4):
                try:
                    if not self.store.heartbeat(request_id, self.holder):
                        return
                except Exception:  # a database hiccup: the next beat tries again
                    log.warning("heartbeat for request %s failed", request_id, exc_info=True)

        thread = threading.Thread(target=beat, name=f"costbot-heartbeat-{request_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=5)

    def execute(self, request_id: int) -> ActionRequest:
        """Run an approved request once: whoever moves it approved -> executing does the work."""
        req = self._get(request_id)
        if self._expire_if_due(req):
            self._after_decision(request_id)
            return self._get(request_id)
        if not self._move(request_id, "executing", owner=self.holder):
            return self._get(request_id)
        with self._holding(request_id):
            self._run(req)
        self._after_decision(request_id)
        return self._get(request_id)

    def _finish(self, req: ActionRequest, to: Status, result: str | None = None, error: str | None = None) -> None:
        if not self._move(req.id, to, owner=self.holder, result=result, error=error):
            log.error("request %s was settled by someone else while this process ran it", req.id)

    def _run(self, req: ActionRequest) -> None:
        ref = ResourceRef.parse(req.resource_key)
        actor = req.approved_by or req.requested_by
        dry_run = self.config.dry_run
        before = after = None
        try:
            if req.action in GONE_BY_DESIGN:  # a restore: the old id must still answer to nothing
                before = "gone"
                reason = self._not_restorable(ref)
            else:
                resource = self._live(ref)
                before = f"{resource.state} {resource.type} x{resource.count}"
                reason = self._recheck(req, resource)
            if reason is not None:
                self._finish(req, "refused", result=reason)
                self._audit(actor, req.action, req.resource_key, before, before, "refused", error=reason,
                            request_id=req.id, dry_run=dry_run)
                return
            provider = self.provider(ref)
            act = ACTS.get(req.action)
            if act is None:
                raise ActionNotAllowed(f"{req.action} is not something costbot runs as an action")
            outcome = act(provider, ref, req, dry_run)
            if dry_run:
                outcome = f"dry run: {outcome}; nothing was changed"
            else:
                live = provider.describe(ref)
                after = (f"{live.state} {live.type} x{live.count}" if live else
                         "restored" if req.action in GONE_BY_DESIGN else "gone")
        except Exception as exc:
            message, detail = self._failure_text(exc)
            self._finish(req, "failed", error=message)
            self._audit(actor, req.action, req.resource_key, before, after, "failed", error=message,
                        request_id=req.id, dry_run=dry_run, detail=detail)
            log.warning("action %s on %s failed: %s", req.action, req.resource_key, message)
            return
        self._finish(req, "succeeded", result=outcome)
        self._audit(actor, req.action, req.resource_key, before, after, "succeeded", request_id=req.id,
                    dry_run=dry_run)
        if not dry_run and req.undo_of is None:
            self.store.close_recommendations_for(req.resource_key, reason=f"{req.action} done")

    @staticmethod
    def _failure_text(exc: Exception) -> tuple[str, str | None]:
        """What users may read about a failure, and the detail for operators only."""
        if isinstance(exc, ProviderError):
            return str(exc), exc.detail
        if isinstance(exc, CostbotError):
            return str(exc), None
        reference = uuid.uuid4().hex[:8]
        log.error("unexpected error while acting (ref %s)", reference, exc_info=exc)
        return f"unexpected error on costbot's side (ref {reference})", f"{type(exc).__name__}: {exc}"

    # -- undo, snooze, not mine --------------------------------------------------------------------------
    def undo(self, request_id: int, user: str, click: str | None = None) -> ActionRequest:
        original = self._get(request_id)
        if self.undo_until(original) is None:
            raise ActionNotAllowed("this action can no longer be undone here")
        if original.action == "stop":
            params = {"count": original.params.get("count", "1")}
            return self.request(original.resource_key, "start", user, undo_of=original.id, params=params,
                                click=click)
        if original.action == "delete":
            return self.request(original.resource_key, "restore", user, undo_of=original.id, click=click)
        params = {"to": original.params["from"]}
        return self.request(original.resource_key, "resize", user, undo_of=original.id, params=params, click=click)

    def may_act_for(self, user: str, team: str | None) -> bool:
        """Members and approvers of the owning team, and admins (unowned resources: admins only)."""
        if user in self.config.admins:
            return True
        return team is not None and team in self.config.teams_of(user)

    def snooze(self, resource_key: str, user: str, days: int | None = None) -> Snoozed:
        """Write `costbot:snooze-until=YYYY-MM-DD` on the resource itself: it survives restarts and other tools
        see it. Only the owning team's people (or an admin) may snooze; never a protected resource."""
        ref = self.resolve(resource_key)
        rec = self.store.recommendation_for(resource_key)
        resource = self._live(ref)
        team = (rec.team if rec else None) or self.config.owner_team(resource.tags)
        rules = domain_rules(self.config.rules_for(team))
        if is_protected(resource, rules):
            raise ActionNotAllowed(f"{resource.name} is protected: costbot never offers it, so it needs no snooze")
        if not self.may_act_for(user, team):
            whose = f"{team}'s members and approvers" if team else "admins"
            raise ActionNotAllowed(f"only {whose} can snooze {resource.name}")
        days = days or self.config.rules_for(team).snooze_days
        until = self.today() + timedelta(days=days)
        if self.config.dry_run:
            self._audit(user, "snooze", resource_key, None, None, "succeeded", dry_run=True)
            return Snoozed(until, True, resource.name)
        try:
            self.provider(ref).tag(ref, SNOOZE_TAG, until.isoformat())
        except CostbotError as exc:
            message, detail = self._failure_text(exc)
            self._audit(user, "snooze", resource_key, None, None, "failed", error=message, detail=detail)
            raise
        self._audit(user, "snooze", resource_key, None, f"{SNOOZE_TAG}={until.isoformat()}", "succeeded")
        self.store.close_recommendations_for(resource_key, reason=f"snoozed by <@{user}> until {until.isoformat()}")
        self.refresh_message(rec)
        return Snoozed(until, False, resource.name)

    def set_aside(self, resource_key: str, user: str, how: str) -> Snoozed | None:
        """*Remind me on the next run* / *Dismiss* on a spot recommendation (a past run cannot be changed): tag
        the job `costbot:spot=remind-next-run` (later scans leave it; its next run is offered anew) or
        `=dismissed` (and its later runs too), and close the recommendation. The owning team's people or an
        admin. Returns None when done, the dry-run notice otherwise."""
        if how not in (SPOT_REMIND, SPOT_DISMISSED):
            raise ActionNotAllowed(f"'{how}' is not something costbot does with a spot recommendation")
        ref = self.resolve(resource_key)
        rec = self.store.recommendation_for(resource_key)
        if rec is None or rec.status != "open" or rec.kind != SPOT:
            raise ActionNotAllowed("this spot recommendation is no longer open")
        if not self.may_act_for(user, rec.team):
            whose = f"{rec.team}'s members and approvers" if rec.team else "admins"
            raise ActionNotAllowed(f"only {whose} can set {rec.name} aside")
        verb = "remind" if how == SPOT_REMIND else "dismiss"
        if self.config.dry_run:
            self._audit(user, verb, resource_key, None, None, "succeeded", dry_run=True)
            return Snoozed(self.today(), True, rec.name)
        try:
            self.provider(ref).tag(ref, SPOT_TAG, how)
        except CostbotError as exc:
            message, detail = self._failure_text(exc)
            self._audit(user, verb, resource_key, None, None, "failed", error=message, detail=detail)
            raise
        self._audit(user, verb, resource_key, None, f"{SPOT_TAG}={how}", "succeeded")
        reason = (f"<@{user}> asked to be reminded on the next run" if how == SPOT_REMIND
                  else f"dismissed by <@{user}> (and its later runs)")
        self.store.close_recommendations_for(resource_key, reason=reason)
        self.refresh_message(rec)
        return None

    def not_mine(self, resource_key: str, user: str) -> str:
        """Take the resource off the team and offer it in the owners channel."""
        owners = self.config.owners_channel
        if not owners:
            raise ActionNotAllowed("no owners channel is configured (owners_channel in costbot.yml)")
        rec = self.store.recommendation_for(resource_key)
        if rec is None or rec.status != "open":
            raise ActionNotAllowed("this recommendation is no longer open")
        if not self.may_act_for(user, rec.team):
            whose = f"{rec.team}'s members and approvers" if rec.team else "admins"
            raise ActionNotAllowed(f"only {whose} can pass {rec.name} on as not theirs")
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
        """Settle requests whose executor is gone (no heartbeat for a lease) against live state, expire
        unanswered ones, and post approval requests Slack could not be told about. Requests a live process is
        still executing are never touched."""
        settled = 0
        cutoff = self.clock() - self.lease
        for req in self.store.abandoned(cutoff):
            ref = ResourceRef.parse(req.resource_key)
            try:
                live = self.provider(ref).describe(ref)
            except CostbotError as exc:
                log.warning("cannot reconcile request %s yet: %s", req.id, exc)
                continue
            if req.action == "stop":
                done = live is not None and live.stopped
            elif req.action == "delete":
                done = live is None
            elif req.action == "restore":  # a new volume may exist: say so rather than guess
                done = False
            elif req.action == "start":
                done = live is not None and live.running
            else:
                done = live is not None and live.type == req.params.get("to")
            state = f"{live.state} {live.type}" if live else "gone"
            if done:
                ok = self._move(req.id, "succeeded", silent_since=cutoff,
                                result=f"completed before its process stopped ({state})")
            else:
                ok = self._move(req.id, "failed", silent_since=cutoff,
                                error=f"its process stopped before it took effect ({state})")
            if ok:
                settled += 1
                self._audit("costbot", req.action, req.resource_key, None, state,
                            "succeeded" if done else "failed", request_id=req.id,
                            error=None if done else "its process stopped before it took effect")
        for req in self.store.requests_in(["requested", "approved"]):
            if self._expire_if_due(req):
                self._after_decision(req.id)
            elif req.status == "requested" and not req.message_ts:
                self._ask_approvers(req, self.store.recommendation_for(req.resource_key))
            elif req.status == "approved" and (req.updated_at or req.created_at) < cutoff:
                # approved, but its process stopped before it began: run it now (re-checked like any other)
                log.info("running approved request %s that no process started", req.id)
                self.execute(req.id)
        return settled

    def audit(self, limit: int = 20) -> list[AuditEntry]:
        return self.store.audit(limit)

    def record(self, actor: str, action: str, resource_key: str, before: str | None, after: str | None,
               result: str = "succeeded", dry_run: bool = False) -> None:
        """Audit what another use case decided about a resource (a schedule's *Keep running tonight* click)."""
        self._audit(actor, action, resource_key, before, after, result, dry_run=dry_run)

    def latest_request(self, resource_key: str) -> ActionRequest | None:
        """The resource's most recent action request (whoever made it)."""
        return self.store.latest_request(resource_key)

    def offer(self, team: str | None, recs: list[Recommendation]) -> list[Recommendation]:
        """Keep these findings open and post them to the team (one message, with their buttons)."""
        stored = [self.store.upsert_recommendation(r) for r in recs]
        channel = self.config.channel_for(team)
        if stored and channel and self.notifier is not None:
            ch, ts = self.notifier.post_recommendations(channel, team, [RecommendationView(r) for r in stored])
            self.store.set_recommendation_message([r.id for r in stored if r.id is not None], ch, ts)
        return stored

    def open_savings(self, team: str | None = None) -> tuple[int, Decimal]:
        """How many findings are open (for a team, or all) and the monthly savings they wait to bring."""
        recs = self.store.open_recommendations(team)
        return len(recs), sum((r.monthly_savings or ZERO for r in recs), ZERO)

    def savings_waiting(self, team: str | None = None) -> SavingsWaiting:
        """`/cost savings [TEAM]`: the open recommendations (of every kind) with their monthly savings, largest
        first, and the total — the same figures as the digests' "savings waiting"."""
        return savings_waiting(team, self.store.open_recommendations(team))

    def open_views(self, team: str | None = None) -> list[RecommendationView]:
        rows = []
        for rec in self.store.open_recommendations(team):
            latest = self.store.latest_request(rec.resource_key)
            rows.append(RecommendationView(rec, latest, self.undo_until(latest)))
        return rows


"""Scans: find idle and oversized resources through the providers, keep one open recommendation per
resource and kind, and post each owner team one message listing its resources."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal

from bot.config import CostbotConfig, RulesConfig
from bot.domain.money import format_money
from bot.domain.recommendations import (
    SPOT,
    Cleared,
    Recommendation,
    RecommendationView,
    Rules,
    assess,
)
from bot.domain.resources import INVENTORY, Resource, Utilization
from bot.ports import ActionNotifier, ActionStore, ResourceProvider
from bot.services.resource_costs import ResourceCostService

log = logging.getLogger("costbot.scan")

# CloudWatch's hourly points lag and the current hour is never complete: look a little further back so that a
# full window is covered (and idleness is judged over slightly more than the rule's hours, never less)
WINDOW_SLACK_HOURS = 2


def domain_rules(cfg: RulesConfig) -> Rules:
    return Rules(gpu_idle_percent=cfg.idle_gpu_percent, cpu_idle_percent=cfg.idle_cpu_percent,
                 network_idle_bytes_per_hour=cfg.idle_network_bytes_per_hour, idle_hours=cfg.idle_hours,
                 oversized_p95_percent=cfg.oversized_p95_percent, oversized_days=cfg.oversized_days,
                 protect_tag=tuple(cfg.protect_tag.items()), unattached_days=cfg.unattached_days,
                 snapshot_retention_days=cfg.snapshot_retention_days)


@dataclass
class ScanResult:
    resources: int = 0
    recommendations: list[Recommendation] = field(default_factory=list)
    closed: int = 0
    posted: dict[str, int] = field(default_factory=dict)  # channel -> resources listed
    requests: dict[str, int] = field(default_factory=dict)  # provider API requests, by operation

    @property
    def monthly_savings(self) -> Decimal:
        return sum((r.monthly_savings or Decimal(0) for r in self.recommendations), Decimal(0))


class ScanService:
    def __init__(self, providers: Sequence[ResourceProvider], store: ActionStore, config: CostbotConfig,
                 notifier: ActionNotifier | None, today: Callable[[], date],
                 refresh: Callable[[list[Recommendation]], None] | None = None,
                 costs: ResourceCostService | None = None) -> None:
        self.providers = list(providers)
        self.costs = costs  # each resource's own billing lines: what storage savings are scaled from
        self.store = store
        self.config = config
        self.notifier = notifier
        self.today = today
        self.refresh = refresh  # re-renders the messages of closed recommendations (their buttons go)

    def rules_for(self, team: str | None) -> Rules:
        return domain_rules(self.config.rules_for(team))

    def find(self, provider: ResourceProvider) -> tuple[list[Resource], list[Recommendation], dict[str, Cleared]]:
        """The provider's resources, the findings among them, and why each other resource is not flagged."""
        resources = provider.list_resources()
        owners = {r.ref.key: self.config.owner_team(r.tags) for r in resources}
        rules = {r.ref.key: self.rules_for(owners[r.ref.key]) for r in resources}
        longest = max([self.config.rules.oversized_days] + [t.rules.oversized_days for t in self.config.teams.values()
                                                             if t.rules is not None])
        recent = max([self.config.rules.idle_hours] + [t.rules.idle_hours for t in self.config.teams.values()
                                                       if t.rules is not None])

        def worth_detail(res: Resource, usage: Utilization) -> bool:
            r = rules[res.ref.key]
            low_now = usage.cpu_max is not None and usage.cpu_max < r.cpu_idle_percent
            low_p95 = usage.cpu_p95 is not None and usage.cpu_p95 < r.oversized_p95_percent
            return res.running and (low_now or low_p95)

        running = [r for r in resources if r.running]
        usage = provider.utilization(running, hours=longest * 24 + WINDOW_SLACK_HOURS,
                                     recent_hours=recent + WINDOW_SLACK_HOURS, detail=worth_detail)
        found: list[Recommendation] = []
        ratios: dict[int, tuple[str, Decimal]] = {}  # finding index -> (resource id, price ratio)
        cleared: dict[str, Cleared] = {}
        for res in resources:
            team = owners[res.ref.key]
            judged = res.running or res.idle_signal == INVENTORY  # storage is judged whatever its state
            resize = provider.resize_option(res) if judged and res.supports("resize") else None
            finding = assess(res, usage.get(res.ref.key, Utilization(hours=0)), rules[res.ref.key], self.today(),
                             resize=resize)
            if isinstance(finding, Cleared):
                cleared[res.ref.key] = finding
                continue
            if finding.price_ratio is not None:
                ratios[len(found)] = (res.ref.id, finding.price_ratio)
            found.append(Recommendation(
                resource_key=res.ref.key, kind=finding.kind, team=team, name=res.name, resource_type=res.type,
                reason=finding.reason, target_type=finding.target_type,
                hourly_price=res.hourly_price, monthly_savings=finding.monthly_savings,
            ))
        return resources, self._billed_savings(found, ratios), cleared

    def _billed_savings(self, found: list[Recommendation],
                        ratios: dict[int, tuple[str, Decimal]]) -> list[Recommendation]:
        """Savings from the resource's own billing lines where the bill names it: a month of its cost × (1 − the
        price ratio between what it is and what it is offered to become). Else the provider's list-price
        estimate stays. One query for all of them."""
        if not ratios or self.costs is None:
            return found
        spot = {i for i in ratios if found[i].kind == SPOT}  # a run's compute: every line of it
        storage = self.costs.monthly({ident for i, (ident, _) in ratios.items() if i not in spot})
        compute = self.costs.spent({ident for i, (ident, _) in ratios.items() if i in spot})
        out = list(found)
        for i, (ident, ratio) in ratios.items():
            cost = (compute if i in spot else storage).get(ident.lower())
            if cost is None or cost <= 0:
                continue
            saving = cost * (1 - ratio)
            where = "in the bill over the last 30 days" if i in spot else "a month in the bill"
            out[i] = replace(found[i], monthly_savings=saving, reason=f"{found[i].reason}; "
                             f"{format_money(cost, self.config.currency)} {where} × {1 - ratio:.0%}")
        return out

    def scan(self, post: bool = True, progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
        """Scan every provider; `progress` hears (provider, done, count) as each one starts and once all are
        done."""
        result = ScanResult()
        for done, provider in enumerate(self.providers):
            if progress is not None:
                progress(provider.name, done, len(self.providers))
            before = provider.requests()
            resources, found, cleared = self.find(provider)
            result.resources += len(resources)
            stored = [self.store.upsert_recommendation(rec) for rec in found]
            result.recommendations += stored
            keep = {r.id for r in stored if r.id is not None}
            # close what is gone, busy again, protected or snoozed among this provider's resources; a finding
            # whose resource lacks the metrics to judge it now (CloudWatch lags) stays open
            scanned = {r.ref.key for r in resources}
            open_keys = {r.resource_key for r in self.store.open_recommendations()
                         if r.resource_key.startswith(f"{provider.name}|")}
            reasons = {key: c.reason for key, c in cleared.items()}
            reasons.update({k: "the resource no longer exists" for k in open_keys - scanned})
            undecided = {key for key, c in cleared.items() if c.unknown}
            closed = self.store.close_recommendations(keep, scope_keys=(scanned | open_keys) - undecided,
                                                      reasons=reasons)
            result.closed += len(closed)
            if closed and self.refresh is not None:
                self.refresh(closed)
            for op, n in (provider.requests() - before).items():  # this scan's requests only
                result.requests[op] = result.requests.get(op, 0) + n
        if progress is not None:
            progress("done", len(self.providers), len(self.providers))
        if post and self.notifier is not None:
            result.posted = self.post(result.recommendations)
        log.info("scan: %d resources, %d recommendations (%s/month), %d closed", result.resources,
                 len(result.recommendations), result.monthly_savings, result.closed)
        return result

    def post(self, recs: Sequence[Recommendation]) -> dict[str, int]:
        """One message per owner team, in its channel; unowned ones go to `owners_channel`."""
        assert self.notifier is not None
        by_team: dict[str | None, list[Recommendation]] = defaultdict(list)
        for rec in recs:
            by_team[rec.team].append(rec)
        posted: dict[str, int] = {}
        for team, items in by_team.items():
            channel = self.config.channel_for(team)
            if not channel:
                log.warning("no channel for %s recommendations (%d); set teams.*.channel or owners_channel",
                            team or "unowned", len(items))
                continue
            channel_id, ts = self.notifier.post_recommendations(channel, team, [RecommendationView(r) for r in items])
            self.store.set_recommendation_message([r.id for r in items if r.id is not None], channel_id, ts)
            posted[channel_id] = len(items)
        return posted

    def open(self, team: str | None = None) -> list[Recommendation]:
        return self.store.open_recommendations(team)

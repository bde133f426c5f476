"""The application's use cases, built once per process by the composition root (bot/app.py). The entry points
— Slack handlers, the scheduler, the CLI — depend on this container and on nothing else of the application:
no settings, engines or clients, and no way back to the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from bot.services.actions import ActionService
from bot.services.allocation import AllocationService
from bot.services.anomalies import AnomalyService
from bot.services.answers import AnswerService
from bot.services.budgets import BudgetService
from bot.services.compliance import ComplianceService
from bot.services.digests import DigestService
from bot.services.enforcement import EnforcementService
from bot.services.estimate import EstimateService
from bot.services.experiments import ExperimentService
from bot.services.exports import ExportService
from bot.services.home import HomeService
from bot.services.ingest import IngestService
from bot.services.scans import ScanService
from bot.services.schedules import ScheduleService
from bot.services.sync import SyncService


@dataclass(frozen=True)
class UseCases:
    answers: AnswerService  # /cost questions and their charts
    allocation: AllocationService  # shared costs: explanations and showback
    compliance: ComplianceService  # tag compliance
    ingest: IngestService  # billing files and usage metrics
    sync: SyncService  # billing sources
    budgets: BudgetService  # budgets, forecasts, budget alerts
    anomalies: AnomalyService  # anomalies and their alerts
    digests: DigestService  # digests and subscriptions
    scans: ScanService  # idle and oversized resources
    actions: ActionService  # Stop / Resize / Snooze / approvals / audit
    enforcement: EnforcementService  # graduated budget enforcement
    home: HomeService  # App Home
    estimates: EstimateService  # cost checks of a change (costbot estimate) and of a training run (guard)
    experiments: ExperimentService  # cost per training run, written back to MLflow
    exports: ExportService  # the showback export for finance
    schedules: ScheduleService  # off-hours schedules: heads-up, stop, morning start, savings

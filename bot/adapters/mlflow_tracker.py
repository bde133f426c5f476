"""MLflow as the experiment tracker, through its own client (`pip install 'costbot[mlflow]'`, the light
mlflow-skinny): recent runs of the chosen experiments, paged, and each run's cost written back in one
log_batch call."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.domain.errors import ConfigError, SourceError
from bot.domain.experiments import TrackedRun

PAGE = 500


def _client(uri: str) -> Any:
    try:
        from mlflow.tracking import MlflowClient
    except ImportError:
        raise ConfigError("`costbot mlflow sync` needs the MLflow client: pip install 'costbot[mlflow]'") from None
    return MlflowClient(tracking_uri=uri)


def shown(uri: str) -> str:
    """The tracking URI without any user or password in it, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(uri)
    if parts.hostname and (parts.username or parts.password):
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urlunsplit((parts.scheme, host, parts.path, "", ""))
    return uri


def _number(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


class MlflowTracker:
    def __init__(self, tracking_uri: str, training_job_tag: str = "sagemaker_training_job",
                 epochs_keys: Sequence[str] = ("epochs", "epoch"), client: Any = None) -> None:
        self.uri = tracking_uri
        self.shown = shown(tracking_uri)
        self.training_job_tag = training_job_tag
        self.epochs_keys = tuple(epochs_keys)
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = _client(self.uri)
        return self._client

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return fn(*args, **kwargs)
        except MlflowException as exc:
            raise SourceError(f"MLflow at {self.shown} could not {what}: {exc.message[:300]}") from None
        except OSError as exc:
            raise SourceError(f"MLflow at {self.shown} could not be reached ({type(exc).__name__})") from None

    def _experiments(self, names: Sequence[str]) -> dict[str, str]:
        """id -> name of the named experiments (all of them when none are named)."""
        if names:
            out = {}
            for name in names:
                found = self._call(f"read experiment {name}", self.client.get_experiment_by_name, name)
                if found is None:
                    raise SourceError(f"MLflow at {self.shown} has no experiment named '{name}'")
                out[str(found.experiment_id)] = str(found.name)
            return out
        out, token = {}, None
        while True:
            page = self._call("list experiments", self.client.search_experiments, max_results=PAGE, page_token=token)
            out.update({str(e.experiment_id): str(e.name) for e in page})
            token = getattr(page, "token", None)
            if not token:
                return out

    def _epochs(self, run: Any) -> Decimal | None:
        for key in self.epochs_keys:
            for source in (run.data.params, run.data.metrics):
                if key in source and (number := _number(source[key])) is not None:
                    return number
        return None

    def runs(self, experiments: Sequence[str], since: datetime) -> list[TrackedRun]:
        ids = self._experiments(experiments)
        if not ids:
            return []
        millis = int(since.timestamp() * 1000)
        out: list[TrackedRun] = []
        token = None
        while True:
            page = self._call("search runs", self.client.search_runs, experiment_ids=list(ids),
                              filter_string=f"attributes.start_time >= {millis}", max_results=PAGE, page_token=token)
            for run in page:
                tags = dict(run.data.tags)
                started = run.info.start_time
                out.append(TrackedRun(
                    run_id=str(run.info.run_id), experiment=ids.get(str(run.info.experiment_id), ""),
                    name=str(run.info.run_name or tags.get("mlflow.runName", "")),
                    training_job=tags.get(self.training_job_tag) or run.data.params.get(self.training_job_tag),
                    epochs=self._epochs(run), tags=tags,
                    started=datetime.fromtimestamp(started / 1000, UTC) if started else None))
            token = getattr(page, "token", None)
            if not token:
                return out

    def record(self, run_id: str, metrics: dict[str, float], tags: dict[str, str]) -> None:
        from mlflow.entities import Metric, RunTag

        now = int(time.time() * 1000)
        self._call(f"write run {run_id}", self.client.log_batch, run_id,
                   metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                   tags=[RunTag(k, v) for k, v in tags.items()])

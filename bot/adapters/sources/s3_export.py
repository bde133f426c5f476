"""AWS Data Exports (CUR 2.0 or FOCUS 1.x) and legacy CUR delivered to S3.

The manifests say which files make up each billing period (`dataFiles` in Data Exports, `reportKeys` in legacy
CUR). A sync fetches the periods whose files are new or changed (by ETag) and ingests each period's files
together, so the store replaces the whole period at once and never holds half of it.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.domain.errors import SourceError
from bot.domain.ingest import SourceBatch
from bot.telemetry import count_aws_calls

log = logging.getLogger("costbot.sources")

_PERIOD = re.compile(r"BILLING_PERIOD=(\d{4})-(\d{2})|/(\d{4})(\d{2})01-\d{8}/")


def _period(manifest: dict[str, Any], key: str) -> date | None:
    start = (manifest.get("billingPeriod") or {}).get("start")
    if start:
        return date(int(start[:4]), int(start[4:6] if start[4] != "-" else start[5:7]), 1)
    m = _PERIOD.search("/" + key)
    if m:
        year, month = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        return date(int(year), int(month), 1)
    return None


class S3ExportSource:
    kind = "s3_export"
    PERMISSIONS: ClassVar[tuple[str, ...]] = ("s3:ListBucket", "s3:GetObject", "sts:GetCallerIdentity")

    def __init__(self, name: str, bucket: str, prefix: str = "", region: str | None = None,
                 session_factory: Callable[[], Any] = boto3.session.Session) -> None:
        self.name = name
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.region = region
        self.session_factory = session_factory
        self.requests: Counter[str] = Counter()
        self.seen: dict[str, str] = {}  # key -> ETag of what the last pull fetched
        self._config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=120)

    def _s3(self) -> Any:
        client = self.session_factory().client("s3", region_name=self.region, config=self._config)
        client.meta.events.register("before-call", lambda model, **_: self.requests.update([model.name]))
        return count_aws_calls(client)

    def _objects(self, s3: Any) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = obj["ETag"].strip('"')
        return found

    def pull(self, since: date, until: date, workdir: Path, known: dict[str, str]) -> SourceBatch:
        """`known`: the ETags of the files a previous sync ingested."""
        self.seen = {}
        try:
            s3 = self._s3()
            objects = self._objects(s3)
            periods: dict[date, list[str]] = {}
            for key in sorted(k for k in objects if k.endswith("Manifest.json")):
                manifest = json.loads(s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())
                period = _period(manifest, key)
                if period is None or not since.replace(day=1) <= period < until:
                    continue
                files = [f.removeprefix(f"s3://{self.bucket}/") for f in
                         manifest.get("dataFiles") or manifest.get("reportKeys") or []]
                periods[period] = files  # a later manifest of the same period supersedes an earlier one
            paths: list[Path] = []
            changed = []
            for period, files in sorted(periods.items()):
                missing = [f for f in files if f not in objects]
                if missing:
                    raise SourceError(f"s3://{self.bucket}/{missing[0]} is listed in the {period:%Y-%m} manifest "
                                      "but not in the bucket (a delivery in progress?); nothing was changed")
                if all(known.get(f) == objects[f] for f in files):
                    continue
                changed.append(period)
                for f in files:
                    target = workdir / period.strftime("%Y-%m") / Path(f).name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    s3.download_file(self.bucket, f, str(target))
                    self.seen[f] = objects[f]
                    paths.append(target)
        except (ClientError, BotoCoreError) as exc:
            raise SourceError(f"S3 export {self.name} (s3://{self.bucket}/{self.prefix}) failed: {exc}") from exc
        note = ", ".join(p.strftime("%Y-%m") for p in changed) or "no changes"
        return SourceBatch(paths, [], note)

    def check(self) -> list[str]:
        try:
            self._s3().list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except (ClientError, BotoCoreError) as exc:
            return [f"s3:ListBucket on {self.bucket}: {exc}"]
        return []

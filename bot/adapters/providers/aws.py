"""AWS resources for scans and actions: EC2 instances (GPU families included), SageMaker notebook instances
and real-time endpoints, across accounts (AssumeRole) and regions.

Every client comes from one injected session factory, with botocore's standard retry mode and timeouts;
AWS_ENDPOINT_URL is honoured by boto3 itself. Utilization comes from CloudWatch GetMetricData in batches of
500 queries: first CPU (or endpoint invocations) for everything, then network and GPU only for the resources
the caller wants detail on (the likely idle or oversized ones), so a scan of thousands of instances makes a
handful of requests. Every action honours `dry_run`.

What "stop" means for a SageMaker endpoint: real-time endpoints cannot stop, so it scales the endpoint's
variant down to `endpoint_min_instances` (1 by default) with UpdateEndpointWeightsAndCapacities; "start" (the
Undo) scales it back to the count it had.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bot.adapters.providers.prices import aws_prices
from bot.domain.actions import ActionNotAllowed
from bot.domain.errors import ProviderError
from bot.domain.resources import Resource, ResourceRef, Utilization, is_gpu_type

log = logging.getLogger("costbot.aws")

BATCH = 500  # GetMetricData's limit of queries per request
EC2_STATES = ["pending", "running", "stopping", "stopped"]


KINDS = ("ec2", "notebook", "endpoint")

# AWS error codes -> a short reason users may read. The rest of an AWS error (its message can name the role,
# the account and carry an encoded authorization message) goes to the log only, under a reference.
_REASONS = {
    "AccessDenied": "costbot's role is not allowed to do this",
    "AccessDeniedException": "costbot's role is not allowed to do this",
    "UnauthorizedOperation": "costbot's role is not allowed to do this",
    "IncorrectInstanceState": "the instance is not in a state that allows it",
    "IncorrectState": "the resource is not in a state that allows it",
    "InsufficientInstanceCapacity": "AWS has no capacity for that instance type right now",
    "InvalidInstanceID.NotFound": "the instance no longer exists",
    "ValidationException": "AWS rejected the request as invalid",
    "ResourceNotFound": "the resource no longer exists",
    "ThrottlingException": "AWS is throttling requests; try again shortly",
    "Throttling": "AWS is throttling requests; try again shortly",
    "RequestLimitExceeded": "AWS is throttling requests; try again shortly",
    "ExpiredToken": "costbot's AWS credentials have expired",
    "ExpiredTokenException": "costbot's AWS credentials have expired",
}


def aws_failure(what: str, exc: Exception) -> ProviderError:
    """A ProviderError users may see (operation, short reason, reference) with the full text logged."""
    reference = uuid.uuid4().hex[:8]
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code") or "Unknown")
        reason = _REASONS.get(code, "AWS returned an error")
        short = f"AWS {what} failed: {reason} ({code})"
    else:
        short = f"AWS {what} failed: AWS could not be reached"
    detail = f"{type(exc).__name__}: {exc}"
    log.warning("AWS %s failed (ref %s): %s", what, reference, detail)
    return ProviderError(short, detail=detail, reference=reference)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


class AwsProvider:
    name = "aws"
    #: IAM actions each operation needs (the README's policies are built from these)
    PERMISSIONS: ClassVar[dict[str, tuple[str, ...]]] = {
        "list": ("sts:GetCallerIdentity", "ec2:DescribeInstances", "sagemaker:ListNotebookInstances",
                 "sagemaker:DescribeNotebookInstance", "sagemaker:ListEndpoints", "sagemaker:DescribeEndpoint",
                 "sagemaker:DescribeEndpointConfig", "sagemaker:ListTags"),
        "utilization": ("cloudwatch:GetMetricData",),
        "stop": ("ec2:StopInstances", "sagemaker:StopNotebookInstance",
                 "sagemaker:UpdateEndpointWeightsAndCapacities"),
        "start": ("ec2:StartInstances", "sagemaker:StartNotebookInstance",
                  "sagemaker:UpdateEndpointWeightsAndCapacities"),
        "resize": ("ec2:StopInstances", "ec2:ModifyInstanceAttribute", "ec2:StartInstances",
                   "sagemaker:CreateEndpointConfig", "sagemaker:UpdateEndpoint"),
        "tag": ("ec2:CreateTags", "sagemaker:AddTags"),
        "accounts": ("sts:AssumeRole",),
    }

    def __init__(self, regions: Sequence[str], accounts: Sequence[dict[str, str]] = (), role_arn: str | None = None,
                 session_factory: Callable[[], Any] = boto3.session.Session,
                 gpu_metric: tuple[str, str] = ("CWAgent", "nvidia_smi_utilization_gpu"),
                 endpoint_min_instances: int = 1, wait_seconds: float = 600) -> None:
        self.regions = list(regions)
        self.accounts = [dict(a) for a in accounts]
        self.role_arn = role_arn
        self.session_factory = session_factory
        self.gpu_metric = gpu_metric
        self.endpoint_min_instances = endpoint_min_instances
        self.wait_seconds = wait_seconds
        self.prices = aws_prices()
        self.calls: Counter[str] = Counter()  # API requests made, by "service:Operation"
        self._clients: dict[tuple[str, str, str], Any] = {}
        self._sessions: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._config = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=60)

    # -- sessions and clients ----------------------------------------------------------------------------
    def _count(self, operation: str, **_: Any) -> None:
        self.calls[operation] += 1

    def _session(self, account: str) -> Any:
        with self._lock:
            if account in self._sessions:
                return self._sessions[account]
        role = next((a.get("role_arn") for a in self.accounts if a.get("id") == account), None) or (
            self.role_arn if account != "default" else None)
        base = self.session_factory()
        if role:
            sts = base.client("sts", config=self._config)
            creds = self._call("sts AssumeRole", sts.assume_role, RoleArn=role,
                               RoleSessionName="costbot")["Credentials"]
            session = boto3.session.Session(aws_access_key_id=creds["AccessKeyId"],
                                            aws_secret_access_key=creds["SecretAccessKey"],
                                            aws_session_token=creds["SessionToken"])
        else:
            session = base
        with self._lock:
            self._sessions[account] = session
        return session

    def client(self, account: str, region: str, service: str) -> Any:
        key = (account, region, service)
        with self._lock:
            found = self._clients.get(key)
        if found is not None:
            return found
        client = self._session(account).client(service, region_name=region, config=self._config)
        client.meta.events.register("before-call", lambda model, **kw: self._count(
            f"{service}:{model.name}"))
        with self._lock:
            return self._clients.setdefault(key, client)

    def targets(self) -> list[tuple[str, str]]:
        """(account id, region) pairs to scan; the default credentials' account when none are listed."""
        accounts = [a["id"] for a in self.accounts if a.get("id")]
        if not accounts:
            accounts = [self.default_account()]
        return [(a, r) for a in accounts for r in self.regions]

    def default_account(self) -> str:
        session = self._session("default")
        with self._lock:
            if "default-id" in self._sessions:
                return str(self._sessions["default-id"])
        sts = session.client("sts", config=self._config)
        account = self._call("sts GetCallerIdentity", sts.get_caller_identity)["Account"]
        with self._lock:
            self._sessions["default-id"] = account
            self._sessions.setdefault(account, session)
        return str(account)

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise aws_failure(what, exc) from exc

    def check_ref(self, ref: ResourceRef) -> None:
        """Act only where the config says: a resource kind this provider knows, in a configured account (the
        default credentials' own account when none are listed) and a configured region. A button's value is
        never trusted for where to act."""
        if ref.provider != self.name or ref.kind not in KINDS:
            raise ActionNotAllowed(f"'{ref.kind}' resources of '{ref.provider}' are not something costbot acts on")
        accounts = [a["id"] for a in self.accounts if a.get("id")] or [self.default_account()]
        if ref.account not in accounts:
            raise ActionNotAllowed(f"account {ref.account} is not configured for costbot's actions")
        if ref.region not in self.regions:
            raise ActionNotAllowed(f"region {ref.region} is not configured for costbot's actions")

    def price(self, instance_type: str) -> Decimal | None:
        return self.prices.get(instance_type)

    def known_types(self) -> set[str]:
        return set(self.prices)

    # -- inventory -----------------------------------------------------------------------------------
    def list_resources(self) -> list[Resource]:
        out: list[Resource] = []
        for account, region in self.targets():
            out += self._ec2(account, region)
            out += self._notebooks(account, region)
            out += self._endpoints(account, region)
        return out

    def _ec2_resource(self, account: str, region: str, inst: dict[str, Any]) -> Resource:
        tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
        itype = inst["InstanceType"]
        return Resource(ResourceRef("aws", account, region, "ec2", inst["InstanceId"]),
                        name=tags.get("Name", inst["InstanceId"]), type=itype, state=inst["State"]["Name"],
                        tags=tags, hourly_price=self.price(itype), launched_at=inst.get("LaunchTime"))

    def _ec2(self, account: str, region: str, ids: list[str] | None = None) -> list[Resource]:
        ec2 = self.client(account, region, "ec2")
        kwargs: dict[str, Any] = {"Filters": [{"Name": "instance-state-name", "Values": EC2_STATES}]}
        if ids:
            kwargs["InstanceIds"] = ids
        out = []
        try:
            for page in ec2.get_paginator("describe_instances").paginate(**kwargs):
                for reservation in page["Reservations"]:
                    out += [self._ec2_resource(account, region, i) for i in reservation["Instances"]]
        except ClientError as exc:
            if ids and exc.response.get("Error", {}).get("Code", "").startswith("InvalidInstanceID"):
                return []
            raise aws_failure("ec2 DescribeInstances", exc) from exc
        except BotoCoreError as exc:
            raise aws_failure("ec2 DescribeInstances", exc) from exc
        return out

    def _tags(self, account: str, region: str, arn: str) -> dict[str, str]:
        sm = self.client(account, region, "sagemaker")
        tags = self._call("sagemaker ListTags", sm.list_tags, ResourceArn=arn)
        return {t["Key"]: t["Value"] for t in tags.get("Tags", [])}

    def _notebook(self, account: str, region: str, name: str) -> Resource | None:
        sm = self.client(account, region, "sagemaker")
        try:
            nb = sm.describe_notebook_instance(NotebookInstanceName=name)
        except ClientError:
            return None
        tags = self._tags(account, region, nb["NotebookInstanceArn"])
        return Resource(ResourceRef("aws", account, region, "notebook", name), name=name,
                        type=nb["InstanceType"], state=nb["NotebookInstanceStatus"], tags=tags,
                        hourly_price=self.price(nb["InstanceType"]))

    def _notebooks(self, account: str, region: str) -> list[Resource]:
        sm = self.client(account, region, "sagemaker")
        out = []
        for page in sm.get_paginator("list_notebook_instances").paginate():
            for nb in page["NotebookInstances"]:
                found = self._notebook(account, region, nb["NotebookInstanceName"])
                if found is not None:
                    out.append(found)
        return out

    def _endpoint(self, account: str, region: str, name: str) -> Resource | None:
        sm = self.client(account, region, "sagemaker")
        try:
            ep = sm.describe_endpoint(EndpointName=name)
        except ClientError:
            return None
        cfg = sm.describe_endpoint_config(EndpointConfigName=ep["EndpointConfigName"])
        variant = cfg["ProductionVariants"][0]
        live: dict[str, Any] = next(
            (v for v in ep.get("ProductionVariants", []) if v["VariantName"] == variant["VariantName"]), {})
        count = int(live.get("CurrentInstanceCount") or variant.get("InitialInstanceCount") or 1)
        tags = self._tags(account, region, ep["EndpointArn"])
        tags.setdefault("costbot:variant", variant["VariantName"])
        return Resource(ResourceRef("aws", account, region, "endpoint", name), name=name,
                        type=variant["InstanceType"], state=ep["EndpointStatus"], tags=tags,
                        hourly_price=self.price(variant["InstanceType"]), count=count)

    def _endpoints(self, account: str, region: str) -> list[Resource]:
        sm = self.client(account, region, "sagemaker")
        out = []
        for page in sm.get_paginator("list_endpoints").paginate():
            for ep in page["Endpoints"]:
                found = self._endpoint(account, region, ep["EndpointName"])
                if found is not None:
                    out.append(found)
        return out

    def describe(self, ref: ResourceRef) -> Resource | None:
        """Live state of one resource (None when it is gone): what actions re-check before acting."""
        if ref.kind == "ec2":
            found = self._ec2(ref.account, ref.region, [ref.id])
            return found[0] if found else None
        if ref.kind == "notebook":
            return self._notebook(ref.account, ref.region, ref.id)
        if ref.kind == "endpoint":
            return self._endpoint(ref.account, ref.region, ref.id)
        raise ProviderError(f"unknown resource kind {ref.kind}")

    # -- utilization -----------------------------------------------------------------------------------
    def _metric_queries(self, res: Resource, detail: bool) -> list[tuple[str, dict[str, Any], str]]:
        """(field, MetricStat, stat) triples for one resource."""
        ref = res.ref
        if ref.kind == "endpoint":
            variant = res.tags.get("costbot:variant", "AllTraffic")
            dims = [{"Name": "EndpointName", "Value": ref.id}, {"Name": "VariantName", "Value": variant}]
            return [("invocations", {"Namespace": "AWS/SageMaker", "MetricName": "Invocations", "Dimensions": dims},
                     "Sum")]
        if ref.kind == "notebook":
            dims = [{"Name": "NotebookInstanceName", "Value": ref.id}]
            return [("cpu", {"Namespace": "/aws/sagemaker/NotebookInstances", "MetricName": "CPUUtilization",
                             "Dimensions": dims}, "Maximum")]
        dims = [{"Name": "InstanceId", "Value": ref.id}]
        if not detail:
            return [("cpu", {"Namespace": "AWS/EC2", "MetricName": "CPUUtilization", "Dimensions": dims}, "Maximum")]
        out = [("net_in", {"Namespace": "AWS/EC2", "MetricName": "NetworkIn", "Dimensions": dims}, "Sum"),
               ("net_out", {"Namespace": "AWS/EC2", "MetricName": "NetworkOut", "Dimensions": dims}, "Sum")]
        if is_gpu_type(res.type):
            ns, name = self.gpu_metric
            out.append(("gpu", {"Namespace": ns, "MetricName": name, "Dimensions": dims}, "Maximum"))
        return out

    def _fetch(self, resources: Iterable[Resource], start: datetime, end: datetime,
               detail: bool) -> dict[str, dict[str, list[tuple[datetime, float]]]]:
        """Hourly series per resource key and field, batched 500 queries per request, per account/region."""
        by_target: dict[tuple[str, str], list[tuple[str, str, dict[str, Any], str]]] = {}
        for res in resources:
            for field_name, stat, kind in self._metric_queries(res, detail):
                by_target.setdefault((res.ref.account, res.ref.region), []).append(
                    (res.ref.key, field_name, stat, kind))
        series: dict[str, dict[str, list[tuple[datetime, float]]]] = {}
        for (account, region), queries in by_target.items():
            cw = self.client(account, region, "cloudwatch")
            for offset in range(0, len(queries), BATCH):
                chunk = queries[offset:offset + BATCH]
                ids = {f"q{i}": (key, fld) for i, (key, fld, _, _) in enumerate(chunk)}
                request = [{"Id": f"q{i}", "MetricStat": {"Metric": stat, "Period": 3600, "Stat": kind},
                            "ReturnData": True} for i, (_, _, stat, kind) in enumerate(chunk)]
                token = None
                while True:
                    kwargs: dict[str, Any] = {"MetricDataQueries": request, "StartTime": start, "EndTime": end,
                                              "ScanBy": "TimestampAscending"}
                    if token:
                        kwargs["NextToken"] = token
                    page = self._call("cloudwatch GetMetricData", cw.get_metric_data, **kwargs)
                    for result in page.get("MetricDataResults", []):
                        key, fld = ids[result["Id"]]
                        points = zip(result.get("Timestamps", []), result.get("Values", []), strict=False)
                        series.setdefault(key, {}).setdefault(fld, []).extend((t, float(v)) for t, v in points)
                    token = page.get("NextToken")
                    if not token:
                        break
        return series

    def utilization(self, resources: Sequence[Resource], hours: int, recent_hours: int,
                    end: datetime | None = None,
                    detail: Callable[[Resource, Utilization], bool] | None = None) -> dict[str, Utilization]:
        """Hourly metrics over the last `hours` (p95) and `recent_hours` (maxima); network and GPU are fetched
        only for the instances `detail` picks from their CPU figures."""
        end = end or datetime.now(UTC)
        start = end - timedelta(hours=hours)
        recent_start = end - timedelta(hours=recent_hours)

        def recent(points: list[tuple[datetime, float]]) -> list[float]:
            return [v for t, v in points if t >= recent_start]

        def whole(points: list[tuple[datetime, float]]) -> list[float]:
            return [v for _, v in points]

        first = self._fetch(resources, start, end, detail=False)
        usage: dict[str, Utilization] = {}
        for res in resources:
            s = first.get(res.ref.key, {})
            cpu_all, cpu = whole(s.get("cpu", [])), recent(s.get("cpu", []))
            calls = recent(s.get("invocations", []))
            usage[res.ref.key] = Utilization(
                hours=len(cpu or calls), cpu_max=max(cpu) if cpu else None,
                invocations=sum(calls) if "invocations" in s else None, days=len(cpu_all) / 24,
                cpu_p95=_percentile(cpu_all, 0.95) if cpu_all else None,
            )
        wanted = [r for r in resources if r.ref.kind == "ec2" and (detail is None or detail(r, usage[r.ref.key]))]
        if wanted:
            second = self._fetch(wanted, start, end, detail=True)
            for res in wanted:
                s = second.get(res.ref.key, {})
                net_in = dict(s.get("net_in", []))
                net = [v + net_in.get(t, 0.0) for t, v in s.get("net_out", []) if t >= recent_start]
                gpu_all, gpu = whole(s.get("gpu", [])), recent(s.get("gpu", []))
                base = usage[res.ref.key]
                usage[res.ref.key] = Utilization(
                    hours=base.hours, cpu_max=base.cpu_max, invocations=base.invocations, days=base.days,
                    cpu_p95=base.cpu_p95, gpu_max=max(gpu) if gpu else None,
                    gpu_p95=_percentile(gpu_all, 0.95) if gpu_all else None, network_max=max(net) if net else None,
                )
        return usage

    # -- actions -------------------------------------------------------------------------------------
    def _dry(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> str | None:
        """EC2's own DryRun: permission and request checked, nothing changed."""
        try:
            fn(DryRun=True, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
                return None
            raise aws_failure(f"{what} (dry run)", exc) from exc
        return None

    def _wait_ec2(self, ref: ResourceRef, state: str) -> None:
        deadline = time.monotonic() + self.wait_seconds
        while time.monotonic() < deadline:
            found = self._ec2(ref.account, ref.region, [ref.id])
            if found and found[0].state == state:
                return
            time.sleep(min(5.0, max(0.2, self.wait_seconds / 100)))
        raise ProviderError(f"{ref.id} did not reach '{state}' in {self.wait_seconds:.0f} s")

    def _power(self, ref: ResourceRef, on: bool, dry_run: bool, count: int | None) -> str:
        """Stop (`on=False`) or start a resource; for an endpoint, scale it down to the minimum or back up."""
        verb = "start" if on else "stop"
        done = "started" if on else "stopped"
        if ref.kind == "ec2":
            ec2 = self.client(ref.account, ref.region, "ec2")
            call = ec2.start_instances if on else ec2.stop_instances
            what = f"ec2 {'Start' if on else 'Stop'}Instances"
            if dry_run:
                self._dry(what, call, InstanceIds=[ref.id])
                return f"would {verb} {ref.id}"
            self._call(what, call, InstanceIds=[ref.id])
            return f"{done} {ref.id}"
        if ref.kind == "notebook":
            if dry_run:
                return f"would {verb} notebook {ref.id}"
            sm = self.client(ref.account, ref.region, "sagemaker")
            call = sm.start_notebook_instance if on else sm.stop_notebook_instance
            self._call(f"sagemaker {'Start' if on else 'Stop'}NotebookInstance", call, NotebookInstanceName=ref.id)
            return f"{done} notebook {ref.id}"
        endpoint = self._endpoint(ref.account, ref.region, ref.id)
        if endpoint is None:
            raise ProviderError(f"endpoint {ref.id} is gone")
        target = (count or endpoint.count) if on else self.endpoint_min_instances
        change = f"endpoint {ref.id} from {endpoint.count} to {target} instance(s)"
        if dry_run:
            return f"would scale {change}"
        sm = self.client(ref.account, ref.region, "sagemaker")
        variant = endpoint.tags.get("costbot:variant", "AllTraffic")
        self._call("sagemaker UpdateEndpointWeightsAndCapacities", sm.update_endpoint_weights_and_capacities,
                   EndpointName=ref.id,
                   DesiredWeightsAndCapacities=[{"VariantName": variant, "DesiredInstanceCount": target}])
        return f"scaled {change}"

    def stop(self, ref: ResourceRef, dry_run: bool = False) -> str:
        return self._power(ref, on=False, dry_run=dry_run, count=None)

    def start(self, ref: ResourceRef, dry_run: bool = False, count: int | None = None) -> str:
        return self._power(ref, on=True, dry_run=dry_run, count=count)

    def resize(self, ref: ResourceRef, new_type: str, dry_run: bool = False) -> str:
        """EC2: stop -> modify type -> start again if it was running (never modifies a running instance).
        Endpoints: a new endpoint config with the smaller type, then UpdateEndpoint."""
        if ref.kind == "ec2":
            current = self.describe(ref)
            if current is None:
                raise ProviderError(f"{ref.id} is gone")
            ec2 = self.client(ref.account, ref.region, "ec2")
            was_running = current.state in ("running", "pending")
            if dry_run:
                if was_running:
                    self._dry("ec2 StopInstances", ec2.stop_instances, InstanceIds=[ref.id])
                return (f"would {'stop, ' if was_running else ''}change {ref.id} from {current.type} to {new_type}"
                        f"{' and start it again' if was_running else ''}")
            if was_running:
                self._call("ec2 StopInstances", ec2.stop_instances, InstanceIds=[ref.id])
                self._wait_ec2(ref, "stopped")
            try:
                self._call("ec2 ModifyInstanceAttribute", ec2.modify_instance_attribute, InstanceId=ref.id,
                           InstanceType={"Value": new_type})
            finally:
                if was_running:  # restore the run state even when the change was refused
                    self._call("ec2 StartInstances", ec2.start_instances, InstanceIds=[ref.id])
            return f"changed {ref.id} from {current.type} to {new_type}" + (" and started it again"
                                                                              if was_running else "")
        if ref.kind == "endpoint":
            sm = self.client(ref.account, ref.region, "sagemaker")
            ep = self._call("sagemaker DescribeEndpoint", sm.describe_endpoint, EndpointName=ref.id)
            cfg = self._call("sagemaker DescribeEndpointConfig", sm.describe_endpoint_config,
                             EndpointConfigName=ep["EndpointConfigName"])
            variants = [dict(v) for v in cfg["ProductionVariants"]]
            old_type = variants[0]["InstanceType"]
            if dry_run:
                return f"would move endpoint {ref.id} from {old_type} to {new_type}"
            variants[0]["InstanceType"] = new_type
            new_name = f"{ref.id}-{new_type.replace('.', '-')}-{int(time.time())}"[:63]
            keep = ("VariantName", "ModelName", "InitialInstanceCount", "InstanceType", "InitialVariantWeight")
            self._call("sagemaker CreateEndpointConfig", sm.create_endpoint_config, EndpointConfigName=new_name,
                       ProductionVariants=[{k: v[k] for k in keep if k in v} for v in variants])
            self._call("sagemaker UpdateEndpoint", sm.update_endpoint, EndpointName=ref.id,
                       EndpointConfigName=new_name)
            return f"moved endpoint {ref.id} from {old_type} to {new_type}"
        raise ProviderError(f"resizing a {ref.kind} is not supported")

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        if ref.kind == "ec2":
            ec2 = self.client(ref.account, ref.region, "ec2")
            self._call("ec2 CreateTags", ec2.create_tags, Resources=[ref.id], Tags=[{"Key": key, "Value": value}])
            return
        sm = self.client(ref.account, ref.region, "sagemaker")
        arn_kind = "notebook-instance" if ref.kind == "notebook" else "endpoint"
        arn = f"arn:aws:sagemaker:{ref.region}:{ref.account}:{arn_kind}/{ref.id}"
        self._call("sagemaker AddTags", sm.add_tags, ResourceArn=arn, Tags=[{"Key": key, "Value": value}])

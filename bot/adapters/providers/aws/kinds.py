"""The registry of AWS resource kinds: one line per kind. Everything else — IAM policies, metrics, actions,
billing ARNs — follows from what each kind declares."""

from __future__ import annotations

from bot.adapters.providers.aws.ebs_snapshot import EbsSnapshots
from bot.adapters.providers.aws.ebs_volume import EbsVolumes
from bot.adapters.providers.aws.ec2 import Ec2Instances
from bot.adapters.providers.aws.kind import OPERATIONS, AwsKind
from bot.adapters.providers.aws.s3_bucket import S3Buckets
from bot.adapters.providers.aws.sagemaker_endpoint import SageMakerEndpoints
from bot.adapters.providers.aws.sagemaker_notebook import SageMakerNotebooks
from bot.adapters.providers.aws.sagemaker_training import SageMakerTrainingJobs

KINDS: tuple[type[AwsKind], ...] = (
    Ec2Instances,
    SageMakerNotebooks,
    SageMakerEndpoints,
    EbsVolumes,
    EbsSnapshots,
    S3Buckets,
    SageMakerTrainingJobs,
)

# what the provider itself needs besides its kinds: its own account's id, and the roles of other accounts
SESSION_PERMISSIONS: dict[str, tuple[str, ...]] = {"list": ("sts:GetCallerIdentity",),
                                                   "accounts": ("sts:AssumeRole",)}
SCAN_OPERATIONS = ("list", "utilization")
ACTION_OPERATIONS = ("stop", "start", "resize", "tag", "delete", "restore")


def permissions(kinds: tuple[type[AwsKind], ...] = KINDS) -> dict[str, tuple[str, ...]]:
    """IAM actions per operation: the union of what the kinds declare, sorted."""
    out: dict[str, set[str]] = {op: set() for op in (*OPERATIONS, "accounts")}
    for op, actions in SESSION_PERMISSIONS.items():
        out[op] |= set(actions)
    for kind in kinds:
        for op, actions in kind.permissions.items():
            out[op] |= set(actions)
    return {op: tuple(sorted(actions)) for op, actions in out.items()}


def iam_policies(kinds: tuple[type[AwsKind], ...] = KINDS) -> dict[str, list[str]]:
    """The README's least-privilege policies: what scans need, and what actions need on top."""
    perms = permissions(kinds)
    scan = sorted({a for op in SCAN_OPERATIONS for a in perms[op]})
    act = sorted({a for op in ACTION_OPERATIONS for a in perms[op]} - set(scan))
    return {"scan": scan, "act": act, "accounts": list(perms["accounts"])}

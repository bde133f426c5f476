"""AWS resources for scans and actions, one module per resource kind (kinds.py is the registry): EC2 instances,
SageMaker notebook instances and real-time endpoints, across accounts (AssumeRole) and regions."""

from bot.adapters.providers.aws.kinds import KINDS, iam_policies, permissions
from bot.adapters.providers.aws.provider import Account, AwsProvider

__all__ = ["KINDS", "Account", "AwsProvider", "iam_policies", "permissions"]

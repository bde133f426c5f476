"""What SageMaker kinds share: tags are read and written by ARN."""

from __future__ import annotations

from bot.adapters.providers.aws.kind import AwsKind
from bot.domain.resources import ResourceRef


class SageMakerKind(AwsKind):
    def tags_of(self, account: str, region: str, arn: str) -> dict[str, str]:
        sm = self.client(account, region, "sagemaker")
        tags = self.call("sagemaker ListTags", sm.list_tags, ResourceArn=arn)
        return {t["Key"]: t["Value"] for t in tags.get("Tags", [])}

    def tag(self, ref: ResourceRef, key: str, value: str) -> None:
        sm = self.client(ref.account, ref.region, "sagemaker")
        self.call("sagemaker AddTags", sm.add_tags, ResourceArn=self.arn_of(ref), Tags=[{"Key": key, "Value": value}])

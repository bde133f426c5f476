"""Endpoint resize: moto has no UpdateEndpoint, so this adapter call is checked with botocore's Stubber."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from bot.adapters.providers.aws import AwsProvider
from bot.domain.resources import ResourceRef


def test_endpoint_resize_creates_a_config_and_updates_the_endpoint() -> None:
    client = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y",
                          endpoint_url="http://127.0.0.1:9")  # never reached: the stubber answers
    provider = AwsProvider(["us-east-1"])
    provider.sessions._clients[("111122223333", "us-east-1", "sagemaker")] = client
    ref = ResourceRef("aws", "111122223333", "us-east-1", "endpoint", "ranker-ep")
    variant: dict[str, Any] = {"VariantName": "AllTraffic", "ModelName": "ranker", "InitialInstanceCount": 2,
                               "InstanceType": "ml.g5.2xlarge", "InitialVariantWeight": 1.0}
    with Stubber(client) as stub:
        stub.add_response("describe_endpoint", {
            "EndpointName": "ranker-ep", "EndpointArn": "arn:aws:sagemaker:us-east-1:111122223333:endpoint/ranker-ep",
            "EndpointConfigName": "ranker-cfg", "EndpointStatus": "InService",
            "CreationTime": "2026-01-01T00:00:00Z", "LastModifiedTime": "2026-01-01T00:00:00Z"},
            {"EndpointName": "ranker-ep"})
        stub.add_response("describe_endpoint_config", {
            "EndpointConfigName": "ranker-cfg", "EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:endpoint-config/x",
            "ProductionVariants": [variant], "CreationTime": "2026-01-01T00:00:00Z"},
            {"EndpointConfigName": "ranker-cfg"})
        smaller = [{**variant, "InstanceType": "ml.g5.xlarge"}]
        stub.add_response("create_endpoint_config", {"EndpointConfigArn": "arn:aws:sagemaker:us-east-1:1:ec/new"},
                          {"EndpointConfigName": ANY, "ProductionVariants": smaller})
        stub.add_response("update_endpoint", {"EndpointArn": "arn:aws:sagemaker:us-east-1:1:endpoint/ranker-ep"},
                          {"EndpointName": "ranker-ep", "EndpointConfigName": ANY})
        outcome = provider.resize(ref, "ml.g5.xlarge")
        stub.assert_no_pending_responses()
    assert outcome == "moved endpoint ranker-ep from ml.g5.2xlarge to ml.g5.xlarge"

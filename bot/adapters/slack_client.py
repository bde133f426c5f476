"""The Slack Web API client costbot uses everywhere: slack_sdk's WebClient with every call counted by method, and
its failures (after retries), for costbot_slack_api_* (bot/telemetry.py)."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from bot import telemetry


class CountedWebClient(WebClient):
    def api_call(self, api_method: str, **kwargs: Any) -> Any:
        return telemetry.slack_call(api_method, lambda: super(CountedWebClient, self).api_call(api_method, **kwargs))


def counted_copy(client: WebClient) -> CountedWebClient:
    """A counted client with the same token, URL, timeout, retries and logger (Bolt builds a plain WebClient for
    each request from the app's; listeners get this one instead)."""
    return CountedWebClient(token=client.token, base_url=client.base_url, timeout=client.timeout, ssl=client.ssl,
                            proxy=client.proxy, headers=client.headers, logger=client.logger,
                            retry_handlers=list(client.retry_handlers) if client.retry_handlers else None)

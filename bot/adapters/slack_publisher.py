"""Digests into Slack: the chart uploaded with files_upload_v2, the digest blocks as its message."""

from __future__ import annotations

import json
import re
import threading
from typing import Any

from bot.domain.digest import Digest
from bot.domain.errors import CostbotError
from bot.render import digest_blocks
from bot.render.charts import digest_png

_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")


class SlackDigestPublisher:
    def __init__(self, client: Any) -> None:
        self.client = client
        self._ids: dict[str, str] = {}
        self._lock = threading.Lock()

    def channel_id(self, channel: str) -> str:
        """Channel ids pass through; `#name` is looked up once (conversations.list, channels:read)."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        with self._lock:
            if name not in self._ids:
                cursor = None
                while True:
                    page = self.client.conversations_list(types="public_channel", exclude_archived=True,
                                                          limit=1000, cursor=cursor)
                    for c in page.get("channels", []):
                        self._ids[c["name"]] = c["id"]
                    cursor = (page.get("response_metadata") or {}).get("next_cursor")
                    if name in self._ids or not cursor:
                        break
        if name not in self._ids:
            raise CostbotError(f"channel {channel} not found: invite costbot or give the channel id (C…)")
        return self._ids[name]

    def publish(self, channel: str, digest: Digest) -> None:
        payload = json.dumps([b.to_dict() for b in digest_blocks.digest_blocks(digest)])
        channel_id = self.channel_id(channel)
        if digest.chart is None:
            self.client.chat_postMessage(channel=channel_id, blocks=payload,
                                         text=digest_blocks.digest_fallback_text(digest))
            return
        self.client.files_upload_v2(
            channel=channel_id,
            file=digest_png(digest.chart),
            filename=f"costbot-digest-{digest.day.isoformat()}.png",
            title=digest.chart.title,
            blocks=payload,  # the digest is the file's message (Slack takes blocks or initial_comment)
        )

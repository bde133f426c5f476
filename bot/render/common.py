"""What every Block Kit renderer shares: Slack's limits (kept by summarizing, never by failing), clipping,
a plain notice, and the one rendering of an error.

Renderers are pure: domain objects in, slack_sdk models out (so Slack's own limits are checked before sending).
"""

from __future__ import annotations

from slack_sdk.models.blocks import Block, MarkdownTextObject, SectionBlock

from bot.domain.errors import CostbotError, QueryError
from bot.domain.query import EXAMPLES

MAX_BLOCKS = 50
MAX_FIELDS = 10
MAX_FIELD_CHARS = 2000
MAX_TEXT_CHARS = 3000
MAX_HEADER_CHARS = 150
MAX_BUTTON_VALUE = 2000
MAX_BREAKDOWN_LINES = 15
MAX_SCOPE_CHARS = 200  # a scope as the user typed it, quoted back in a confirmation


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def notice_blocks(text: str) -> list[Block]:
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS)))]


def error_blocks(error: CostbotError, command: str = "/cost") -> list[Block]:
    """A problem, a suggestion when there is one, and an example of the same command."""
    text = f":warning: {error}"
    if isinstance(error, QueryError):
        example = f"`{command} {error.example or EXAMPLES[0]}`"
        text += f"\nFor example: {example} — or `{command} help` for the most useful questions."
    return [SectionBlock(text=MarkdownTextObject(text=clip(text, MAX_TEXT_CHARS)))]

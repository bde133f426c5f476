"""Provider adapters, registered by name and imported only when a config uses them (optional SDKs stay
optional): `create("aws", config, ...)`."""

from __future__ import annotations

import importlib
from typing import Any

REGISTRY: dict[str, str] = {
    "aws": "bot.adapters.providers.aws:AwsProvider",
}


def create(kind: str, *args: Any, **kwargs: Any) -> Any:
    try:
        target = REGISTRY[kind]
    except KeyError:
        raise ValueError(f"unknown provider kind '{kind}' (known: {', '.join(sorted(REGISTRY))})") from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args, **kwargs)

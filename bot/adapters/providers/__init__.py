"""Provider adapters, registered by kind and imported only when a config uses them (optional SDKs stay
optional). Each provider class is built from its `providers:` entry, the global rules and the app-state database
(for providers that keep state of their own): `create(cfg, rules, state)`; a new provider is one module and one
line here (and its config model)."""

from __future__ import annotations

import importlib
from typing import Any

REGISTRY: dict[str, str] = {
    "aws": "bot.adapters.providers.aws:AwsProvider",
    "demo": "bot.adapters.providers.demo:DemoProvider",
}


def create(cfg: Any, rules: Any, state: Any = None) -> Any:
    """The provider for one `providers:` entry, named `cfg.name`."""
    try:
        target = REGISTRY[cfg.kind]
    except KeyError:
        raise ValueError(f"unknown provider kind '{cfg.kind}' (known: {', '.join(sorted(REGISTRY))})") from None
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name).from_config(cfg, rules, state)

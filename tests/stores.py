"""Copying a cost store in tests: the DuckDB file and the folder of billing files it keeps beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.adapters.duckdb_items import ItemFiles


def copy_store(store: Path, to: Path) -> Path:
    """Copy the store file `store` (and its `.items` folder, when it keeps files) to the file `to`."""
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(store, to)
    items = ItemFiles(str(store)).folder
    if items.is_dir():
        shutil.copytree(items, ItemFiles(str(to)).folder, dirs_exist_ok=True)
    return to

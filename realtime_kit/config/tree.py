"""Plain JSON trees for the config modules: deep copy, merge, get and set by path, parse param names.

A path is a tuple of keys and list indexes (``spec.dotted`` spells it the way the service names a ``param``)::

    >>> parse_param("session.tools[0].name")
    ('tools', 0, 'name')
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

Path = tuple[str | int, ...]

# What get_at returns for a path that is not there (None is a real value: an explicit null).
ABSENT: Any = object()


def plain(value: Any) -> Any:
    """Deep copy as plain dicts and lists (pydantic models dumped with only the keys that were set).

        >>> plain({"tools": ({"type": "function"},)})
        {'tools': [{'type': 'function'}]}
    """
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True, exclude_unset=True)
    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    return copy.copy(value)


def merge(base: Any, overlay: Any) -> Any:
    """Deep merge; an object whose ``type`` changes is replaced, not merged.

        >>> merge({"type": "server_vad", "threshold": 0.5}, {"type": "semantic_vad"})
        {'type': 'semantic_vad'}
    """
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    if "type" in overlay and base.get("type", overlay["type"]) != overlay["type"]:
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = merge(base[key], value) if key in base else value
    return merged


def get_at(tree: Any, path: Path) -> Any:
    """The value at ``path``, or ABSENT.

        >>> get_at({"audio": {"output": {"voice": "coral"}}}, ("audio", "output", "voice"))
        'coral'
    """
    for part in path:
        in_list = isinstance(part, int) and isinstance(tree, list) and 0 <= part < len(tree)
        if not (in_list or (isinstance(part, str) and isinstance(tree, Mapping) and part in tree)):
            return ABSENT
        tree = tree[part]
    return tree


def set_at(tree: dict[str, Any], path: Path, value: Any) -> None:
    """Set the value at ``path``, making the objects on the way (a non-object there is replaced).

        >>> tree: dict[str, Any] = {}
        >>> set_at(tree, ("audio", "output", "voice"), "coral"); tree
        {'audio': {'output': {'voice': 'coral'}}}
    """
    for part in path[:-1]:
        child = tree.get(str(part))
        if not isinstance(child, dict):
            child = tree[str(part)] = {}
        tree = child
    tree[str(path[-1])] = value


def parse_param(param: str | None) -> Path:
    """'session.tools[0].name' -> ('tools', 0, 'name'), stopping at anything that is not a key or index."""
    parts: list[str | int] = []
    for index, name in re.findall(r"\[(\d+)\]|([^.\[\]]+)", param or ""):
        if not index and not name.isidentifier():
            break
        parts.append(int(index) if index else name)
    return tuple(parts[1:]) if parts[:1] == ["session"] else tuple(parts)



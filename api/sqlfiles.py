"""api.sqlfiles: SQL in .sql files under api/, loaded once, identifiers filled from the registry.

Templates mark the places a table or column name goes with a double-braced name; `render`
fills them with text built only from `api.layers` (checked by `ident`) or fixed
SQL fragments. Request values never pass through here: they are bound ($n).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

API_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@functools.cache
def load(relpath: str) -> str:
    """The text of api/<relpath>, read once."""
    return (API_DIR / relpath).read_text(encoding="utf-8")


def render(relpath: str, **parts: str) -> str:
    """The template with every double-braced name replaced (cached per distinct parts)."""
    return _render(relpath, tuple(sorted(parts.items())))


@functools.lru_cache(maxsize=1024)
def _render(relpath: str, items: tuple[tuple[str, str], ...]) -> str:
    return _substitute(relpath, dict(items))


def _substitute(relpath: str, parts: dict[str, str]) -> str:
    """The template with every double-braced name replaced by parts[name] (all must be given).

    Placeholders in `--` comments are not allowed (they would be replaced too).
    """
    text = load(relpath)
    missing = set(_PLACEHOLDER.findall(text)) - parts.keys()
    if missing:
        raise KeyError(f"{relpath}: no value for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], text)


def ident(name: str) -> str:
    """A registry identifier, double-quoted (refuses anything that is not a plain name)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a registry identifier: {name!r}")
    return f'"{name}"'


def literal(name: str) -> str:
    """A registry name as a SQL string literal."""
    if not _IDENT.match(name):
        raise ValueError(f"not a registry identifier: {name!r}")
    return f"'{name}'"

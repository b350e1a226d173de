"""api.sqlfiles: the one SQL template dialect and the one identifier quoter.

SQL lives in .sql files under api/ (analysis/sql, grading/sql, queries/sql,
tiles/*.sql), loaded once. A template marks each place a name or a fixed
fragment goes with a double-braced name (`{{table}}`); `render` fills them
(every one must be given; placeholders in `--` comments are filled too, so a
comment may name the layer). What fills them is built only from `api.layers`
(the allow-list) and fixed SQL fragments: identifiers pass `ident`, names as
string literals pass `literal`, both under the one rule `_IDENT` below.
Request values never pass through here: they are bound ($n).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

API_DIR = Path(__file__).resolve().parent
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
#: the allow-list rule: a registry name (table, column, layer, constraint) is a plain
#: lower-case SQL name; anything else is refused before it reaches SQL text
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


@functools.cache
def load(relpath: str) -> str:
    """The text of api/<relpath>, read once."""
    return (API_DIR / relpath).read_text(encoding="utf-8")


def render(relpath: str, **parts: str | int | float) -> str:
    """The template with every double-braced name replaced (cached per distinct parts)."""
    return _render(relpath, tuple(sorted((k, str(v)) for k, v in parts.items())))


@functools.lru_cache(maxsize=1024)
def _render(relpath: str, items: tuple[tuple[str, str], ...]) -> str:
    return _substitute(relpath, dict(items))


def _substitute(relpath: str, parts: dict[str, str]) -> str:
    """The template with every double-braced name replaced by parts[name] (all must be given)."""
    return substitute(load(relpath), parts, relpath)


def substitute(text: str, parts: dict[str, str], where: str = "SQL text") -> str:
    """Any text in the dialect (e.g. a template already rendered into another) filled in."""
    missing = set(_PLACEHOLDER.findall(text)) - parts.keys()
    if missing:
        raise KeyError(f"{where}: no value for {sorted(missing)}")
    return _PLACEHOLDER.sub(lambda m: parts[m.group(1)], text)


def checked(name: str) -> str:
    """The name itself when it follows the allow-list rule (ValueError otherwise)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a registry identifier: {name!r}")
    return name


def ident(name: str) -> str:
    """A registry identifier, double-quoted (refuses anything that is not a plain name)."""
    return f'"{checked(name)}"'


def literal(name: str) -> str:
    """A registry name as a SQL string literal."""
    return f"'{checked(name)}'"

"""Reading a spec file safely: one-line errors for bad bytes and bad YAML, limits on size, aliases and duplicates.

A spec is small, hand-written text, so anything far outside that is refused before it costs time or memory:

- more than :data:`MAX_SPEC_BYTES` bytes, or text that is not UTF-8 (the line of the first bad byte is named);
- YAML whose aliases expand to more than :data:`MAX_NODES` values (a 400-byte "billion laughs" file otherwise
  builds a structure that every later walk — validation, the manifest — would expand), counted on the composed
  node graph with memoization, so the count itself is cheap;
- nesting deeper than :data:`MAX_DEPTH`, and recursive aliases;
- a key given twice in one mapping (YAML keeps the last one silently; both line numbers are named).

Only ``yaml.SafeLoader`` constructors are used: no Python objects are ever built from a spec.

Example:
    >>> loads_yaml("a: 1\\nb: [x, y]\\n", "s.yaml")
    {'a': 1, 'b': ['x', 'y']}
    >>> loads_yaml("a: 1\\na: 2\\n", "s.yaml")
    Traceback (most recent call last):
    ...
    blaze_lab.errors.ConfigError: s.yaml:2: duplicate key 'a' (first at line 1; give each key once)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from blaze_lab.errors import ConfigError, short_repr

MAX_SPEC_BYTES = 1_000_000
MAX_NODES = 100_000
MAX_DEPTH = 64


class _SpecLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys (YAML's last-one-wins hides typos and merge mistakes)."""

    where = "<spec>"

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader refuses it with its own message below
                continue
            if first is not None:
                raise ConfigError(
                    f"{self.where}:{line}: duplicate key {short_repr(key)} (first at line {first}; give each key once)"
                )
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str | Path) -> Any:
    """Parse the YAML file at ``path`` under the limits above; every problem is one ConfigError line."""
    path = Path(path)
    where = str(path)
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise ConfigError(where, reason=f"cannot read spec ({exc.strerror or exc})") from None
    if len(data) > MAX_SPEC_BYTES:
        raise ConfigError(where, reason=f"spec file larger than {MAX_SPEC_BYTES} bytes (a spec is a short text file)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise ConfigError(
            f"{where}:{line}: not UTF-8 text (byte 0x{byte:02x} at offset {exc.start}); save the spec as UTF-8"
        ) from None
    return loads_yaml(text, where)


def loads_yaml(text: str, where: str = "<spec>") -> Any:
    """Parse YAML text (see the module docstring for what is refused); ``where`` prefixes error messages."""
    try:
        loader = _SpecLoader(text)  # the reader refuses control characters here already
    except yaml.reader.ReaderError as exc:
        line_no = text[: exc.position].count("\n") + 1
        raise ConfigError(f"{where}:{line_no}: invalid YAML (character #x{exc.character:04x} is not allowed)") from None
    loader.where = where
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_size(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        if isinstance(exc, yaml.reader.ReaderError):
            line = f":{text[: exc.position].count(chr(10)) + 1}"
        problem = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{where}{line}: invalid YAML ({' '.join(str(problem).split())[:200]})") from None
    finally:
        loader.dispose()


def _check_size(root: yaml.Node, where: str) -> None:
    """Refuse a node graph that expands (aliases followed) to more than MAX_NODES values or MAX_DEPTH levels."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        line = node.start_mark.line + 1
        if key in active:
            raise ConfigError(f"{where}:{line}: recursive YAML alias (a value that contains itself)")
        if depth > MAX_DEPTH:
            raise ConfigError(f"{where}:{line}: YAML nested deeper than {MAX_DEPTH} levels")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            children: list[yaml.Node] = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [item for pair in node.value for item in pair]
        else:
            children = []
        for child in children:
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise ConfigError(
                    f"{where}:{line}: YAML expands to more than {MAX_NODES} values (aliases repeat what they "
                    "point to); a spec never needs that many"
                )
        active.discard(key)
        sizes[key] = total
        return total

    size(root, 0)


__all__ = ["MAX_DEPTH", "MAX_NODES", "MAX_SPEC_BYTES", "loads_yaml", "read_yaml"]

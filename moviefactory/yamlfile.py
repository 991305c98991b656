"""Reading YAML that people write: one clear error for a missing or broken file, and the line of any
key, so a wrong value is reported where the person can find it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from .errors import ConfigError


def read_yaml(path: Path, what: str = "file", *, error: type[ConfigError] = ConfigError) -> Any:
    """The parsed file (an empty file is {}); a missing or invalid one is one `error` line."""
    return parse_yaml(read_text(path, what, error=error), path, error=error)


def read_text(path: Path, what: str = "file", *, error: type[ConfigError] = ConfigError) -> str:
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} {path} does not exist")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}") from None


def parse_yaml(text: str, path: Path | str, *, error: type[ConfigError] = ConfigError) -> Any:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise error(f"{path}{at} is not valid YAML: {getattr(exc, 'problem', None) or str(exc).splitlines()[0]}") \
            from None
    return {} if data is None else data


def _node_at(text: str, loc: Sequence[Any]):
    """The YAML node at `loc` (or its nearest parent that exists), and whether all of `loc` was found."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None, False
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(key)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            child = node.value[key]
        else:
            child = None
        if child is None:
            return node, False
        node = child
    return node, True


def line_of(text: str, loc: Sequence[Any]) -> int | None:
    """The 1-based line of the YAML node at `loc` (or of its nearest parent that exists)."""
    node, _ = _node_at(text, loc)
    return node.start_mark.line + 1 if node is not None else None


def key_lines(text: str, prefix: Sequence[Any] = ()) -> dict[str, int]:
    """{key: line} for the keys of the mapping at `prefix` (the top level by default)."""
    node, found = _node_at(text, prefix)
    if not found or not isinstance(node, yaml.MappingNode):
        return {}
    return {str(k.value): k.start_mark.line + 1 for k, _ in node.value}

"""Turn untrusted data (an LLM reply, an edited plan file) into a Screenplay, or a clear error."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ScreenplayError
from ..yamlfile import line_of
from .models import Screenplay


def describe_errors(exc: ValidationError, limit: int = 3) -> str:
    """'scenes.0.shots.1.duration: Input should be greater than 0.5; …' — field paths first."""
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(p) for p in err["loc"]) or "screenplay"
        parts.append(f"{loc}: {err['msg']}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_screenplay(data: Any, source: str = "screenplay", text: str | None = None) -> Screenplay:
    try:
        return Screenplay.model_validate(data)
    except ValidationError as exc:
        where = line_of(text, exc.errors()[0]["loc"]) if text else None
        at = f"{source} line {where}" if where else source
        raise ScreenplayError(f"{at} is not a valid screenplay: {describe_errors(exc)}", stage="plan") from None


HEADER = """# moviefactory screenplay. Edit anything (shots, durations, narration, voices), then:
#   moviefactory render {name}
# The file is validated before anything is rendered; errors name the line and the field.
"""


def dump_screenplay(screenplay: Screenplay, path: Path) -> Path:
    """Write a screenplay a person can edit: YAML (with a header saying what to do next) or JSON."""
    from ..media.files import write_text

    data = screenplay.model_dump(mode="json")
    if path.suffix in (".yaml", ".yml"):
        text = HEADER.format(name=path.name) + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    else:
        text = json.dumps(data, ensure_ascii=False, indent=1)
    try:
        return write_text(path, text)
    except OSError as exc:
        raise ScreenplayError(f"cannot write {path}: {exc.strerror}") from None


def load_screenplay(path: Path) -> Screenplay:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScreenplayError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = yaml.safe_load(text) if path.suffix in (".yaml", ".yml") else json.loads(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ScreenplayError(f"{path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}".splitlines()[0]) from None
    return parse_screenplay(data, source=str(path), text=text if path.suffix in (".yaml", ".yml") else None)


def screenplay_schema() -> dict:
    """JSON schema of the Screenplay, for LLM structured output."""
    return Screenplay.model_json_schema()

"""Prompt templates: versioned Jinja2 files in prompts/llm/, none inline in code."""
from __future__ import annotations

from functools import cache

import jinja2

from ..resources import prompts_dir


@cache
def _env() -> jinja2.Environment:
    # StrictUndefined: a template that names a missing variable fails loudly instead of sending "".
    return jinja2.Environment(loader=jinja2.FileSystemLoader(str(prompts_dir() / "llm")),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render_prompt(name: str, **variables) -> str:
    return _env().get_template(name).render(**variables).strip()

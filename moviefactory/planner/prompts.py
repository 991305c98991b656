"""Prompt templates: versioned Jinja2 files in prompts/llm/, none inline in code."""
from __future__ import annotations

from functools import cache

import jinja2

from ..resources import prompt_dirs


@cache
def _env(folders: tuple[str, ...]) -> jinja2.Environment:
    # StrictUndefined: a template that names a missing variable fails loudly instead of sending "".
    return jinja2.Environment(loader=jinja2.FileSystemLoader(list(folders)),
                              undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                              trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render_prompt(name: str, **variables) -> str:
    # the user's prompts/llm/ first (a template there overrides the built-in one of the same name)
    return _env(tuple(str(p) for p in prompt_dirs("llm"))).get_template(name).render(**variables).strip()

"""A chat client for any OpenAI-compatible server that returns validated pydantic models.

Structured output degrades gracefully: the JSON schema is sent as a `json_schema` response format;
a server that rejects that gets JSON mode, and one that rejects JSON mode gets the schema in the
prompt and is asked for fenced JSON. A reply that fails validation is shown its errors and asked
again, a bounded number of times. Timeouts, 429 and 5xx are retried with exponential backoff by
the openai client itself. The API key never reaches a log, an error message or a run file.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import ConfigError, MissingDependencyError, PlanningError
from ..screenplay.validation import describe_errors
from ..secrets import public_url, redact_text, redact_url
from .prompts import render_prompt

M = TypeVar("M", bound=BaseModel)
DEFAULT_MODEL = "gpt-4o-mini"
MODES = ("json_schema", "json_object", "prompt")
_FENCED = re.compile(r"```(?:json)?\s*(\{.*\})\s*```", re.S)


@dataclass(frozen=True)
class LLMSettings:
    model: str = DEFAULT_MODEL
    base_url: str | None = None  # None: api.openai.com
    api_key: str | None = field(default=None, repr=False)  # read from the environment, never stored
    timeout: float = 120.0  # seconds per request
    max_retries: int = 3  # transport retries (timeouts, 429, 5xx), with the openai client's backoff
    max_repairs: int = 2  # re-asks after a reply fails validation
    temperature: float = 0.7
    max_tokens: int | None = None  # longest reply; None: the server's default

    @classmethod
    def resolve(cls, model: str | None, base_url: str | None, options: Mapping[str, Any] | None = None,
                env: Mapping[str, str] = os.environ) -> "LLMSettings | None":
        """Flags, then config (`llm:` mapping), then environment. None when no LLM is configured."""
        options = dict(options or {})
        base_url = base_url or options.get("base_url") or env.get("OPENAI_BASE_URL") or None
        key_var = options.get("api_key_env", "OPENAI_API_KEY")
        api_key = env.get(key_var) or None
        model = model or options.get("model") or env.get("MOVIEFACTORY_LLM") or None
        if not (api_key or base_url or model):
            return None
        if not (api_key or base_url):
            raise ConfigError(f"--llm {model} needs an API key in ${key_var} or a server in --llm-base-url")
        known = {k: options[k] for k in ("timeout", "max_retries", "max_repairs", "temperature", "max_tokens")
                 if options.get(k) is not None}
        return cls(model=model or DEFAULT_MODEL, base_url=base_url, api_key=api_key, **known)

    def public(self) -> dict[str, Any]:
        """What may be written to run files and logs: everything but the key (and URL credentials)."""
        return {"model": self.model, "base_url": redact_url(self.base_url) if self.base_url else None,
                "temperature": self.temperature, "max_tokens": self.max_tokens}


class ChatClient:
    """Chat completions that come back as validated pydantic models."""

    def __init__(self, settings: LLMSettings) -> None:
        try:
            import openai
        except ImportError:  # pragma: no cover - a broken install
            raise MissingDependencyError("the LLM writer needs openai: pip install openai") from None
        self.settings = settings
        self.mode = MODES[0]  # downgraded, once, when the server rejects a response format
        self.calls = 0
        self._openai = openai
        self._client = openai.OpenAI(api_key=settings.api_key or "unused", base_url=settings.base_url,
                                     timeout=settings.timeout, max_retries=settings.max_retries)

    def structured(self, messages: list[dict[str, str]], model: type[M], *, stage: str) -> M:
        history = list(messages)
        problem = ""
        for _ in range(self.settings.max_repairs + 1):
            content = self._complete(history, model, stage)
            try:
                return model.model_validate(extract_json(content))
            except (ValueError, ValidationError) as exc:
                problem = describe_errors(exc) if isinstance(exc, ValidationError) else str(exc)
                history += [{"role": "assistant", "content": content[:8000]},
                            {"role": "user", "content": render_prompt("repair.j2", problem=problem)}]
        raise PlanningError(f"the model's {stage} reply was still invalid after "
                            f"{self.settings.max_repairs + 1} tries: {problem}", stage="plan")

    def _complete(self, messages: list[dict[str, str]], model: type[BaseModel], stage: str) -> str:
        oa = self._openai
        while True:
            schema = model.model_json_schema()
            extra: dict[str, Any] = {}
            sent = list(messages)
            if self.mode == "json_schema":
                extra["response_format"] = {"type": "json_schema", "json_schema": {
                    "name": model.__name__, "schema": schema, "strict": False}}
            else:
                if self.mode == "json_object":
                    extra["response_format"] = {"type": "json_object"}
                sent = [*sent, {"role": "system", "content": render_prompt(
                    "json_reply.j2", schema=json.dumps(schema, ensure_ascii=False), fenced=self.mode == "prompt")}]
            try:
                self.calls += 1
                if self.settings.max_tokens:
                    extra["max_tokens"] = self.settings.max_tokens
                reply = self._client.chat.completions.create(
                    model=self.settings.model, messages=sent, temperature=self.settings.temperature, **extra)
                return reply.choices[0].message.content or ""
            except oa.BadRequestError as exc:
                if self.mode != MODES[-1] and _about_response_format(exc):
                    self.mode = MODES[MODES.index(self.mode) + 1]
                    continue
                raise self._error(stage, exc) from None
            except (oa.APITimeoutError, oa.APIConnectionError, oa.APIStatusError) as exc:
                raise self._error(stage, exc) from None

    def _error(self, stage: str, exc: Exception) -> PlanningError:
        kind = {"APITimeoutError": "timed out", "APIConnectionError": "could not be reached",
                "RateLimitError": "kept rate-limiting (429)"}.get(type(exc).__name__)
        status = getattr(exc, "status_code", None)
        what = kind or (f"answered {status}" if status else type(exc).__name__)
        tries = self.settings.max_retries + 1
        text = f"the LLM at {public_url(self.settings.base_url)} {what} during {stage} " \
               f"(model {self.settings.model}, {tries} tries): {_message(exc)}"
        return PlanningError(self._scrub(text), stage="plan")

    def _scrub(self, text: str) -> str:
        key = self.settings.api_key
        text = redact_text(text)
        return text.replace(key, "***") if key else text


def extract_json(content: str) -> Any:
    """The JSON object in a reply: plain, fenced in ``` blocks, or the outermost {...}."""
    text = content.strip()
    fenced = _FENCED.search(text)
    if fenced:
        text = fenced.group(1)
    elif not text.startswith("{"):
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            raise ValueError("the reply contains no JSON object")
        text = text[start:end + 1]
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None


def _about_response_format(exc: Exception) -> bool:
    return bool(re.search(r"response_format|json_schema|json mode|json_object|structured", _message(exc), re.I))


def _message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body) if isinstance(body.get("error", body), dict) else body
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])[:300]
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__

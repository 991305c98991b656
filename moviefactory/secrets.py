"""Keeping credentials out of everything we print or store.

Keys live in the environment only. What can still carry one is a URL (`https://user:pass@host/v1`,
`...?api-key=...`) or a mapping key named like a credential: `redact` removes both, so run.json,
report.json, the run id, progress notes and error messages never hold a secret.
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# A name that ends in one of these words: api_key, access_token, X-Amz-Signature (not max_tokens, author).
_SECRET_NAME = re.compile(r"(^|[_-])(api[_-]?key|apikey|key|token|secret|password|passwd|pass|auth|authorization|"
                          r"signature|sig|credentials?)$", re.I)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+", re.I)


def redact_url(url: str) -> str:
    """The URL without userinfo and without query values whose names look like credentials."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _SECRET_NAME.search(k)]
    return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query), parts.fragment))


def redact_text(text: str) -> str:
    """Every URL inside free text (an error message, a note) redacted."""
    return _URL.sub(lambda m: redact_url(m.group(0)), text)


def redact(value: Any) -> Any:
    """A JSON-like value with URLs redacted and credential-named mapping keys dropped."""
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items() if not _SECRET_NAME.search(str(k))}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return redact_text(value)
    return value


def public_url(url: str | None) -> str:
    """An LLM server as a person may see it: redacted, or the default's name."""
    return redact_url(url) if url else "api.openai.com"

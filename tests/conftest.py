import os

# Nothing in the tests may reach a model hub; transformers returns empty tokenizers otherwise.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# A developer's own LLM settings must not turn offline tests into network calls.
for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MOVIEFACTORY_LLM"):
    os.environ.pop(var, None)

import pytest  # noqa: E402

from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return ffmpeg_binary()

import os

# Nothing in the tests may reach a model hub; transformers returns empty tokenizers otherwise.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402

from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return ffmpeg_binary()

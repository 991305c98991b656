import os

# Nothing in the tests may reach a model hub; transformers returns empty tokenizers otherwise.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Two xdist workers on two cores: one torch thread each, or toy pipelines crawl under contention.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# A developer's own LLM settings must not turn offline tests into network calls.
for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "MOVIEFACTORY_LLM"):
    os.environ.pop(var, None)

from pathlib import Path  # noqa: E402

# Built libraries (music, sound effects) go to a cache inside the checkout, shared by the xdist
# workers and by the CLI subprocesses the tests start; never to the user's ~/.cache.
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "test"
os.environ["MOVIEFACTORY_CACHE"] = str(CACHE)

import fcntl  # noqa: E402

import pytest  # noqa: E402

from moviefactory.media.ffmpeg import ffmpeg_binary  # noqa: E402


@pytest.fixture(scope="session")
def ffmpeg() -> str:
    return ffmpeg_binary()


@pytest.fixture(scope="session", autouse=True)
def default_libraries():
    """Build the default music and sfx libraries once (one worker builds, the others wait)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            from moviefactory.audio.foley import default_sfx_dir
            from moviefactory.audio.music.library import default_music_dir
        except ImportError:  # the libraries are not part of this checkout yet
            return
        default_music_dir()
        default_sfx_dir()

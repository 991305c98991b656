"""Where the package's data lives: configs/, prompts/ and the bundled fonts."""
from __future__ import annotations

from functools import cache
from pathlib import Path

from .errors import MissingDependencyError

PACKAGE_DIR = Path(__file__).resolve().parent
# configs/ and prompts/ are data, not code; they sit beside the package in the source tree.
DATA_ROOT = PACKAGE_DIR.parent


def configs_dir() -> Path:
    return DATA_ROOT / "configs"


def prompts_dir() -> Path:
    return DATA_ROOT / "prompts"


@cache
def cjk_font() -> Path:
    """A font with Latin and CJK glyphs (Noto Sans CJK, shipped by a pip package)."""
    try:
        import noto_cjk_sans_otc
    except ImportError as exc:  # pragma: no cover - a broken install
        raise MissingDependencyError(
            "the caption font is missing; install it with: pip install noto-cjk-sans-otc"
        ) from exc
    return Path(str(noto_cjk_sans_otc.FONT_PATH))


# Face index of "Noto Sans CJK SC" inside the collection (JP, KR, SC, TC, HK, then mono faces).
CJK_FONT_INDEX_SC = 2
CJK_FONT_FAMILY = "Noto Sans CJK SC"

"""Where the package's data lives: configs/, prompts/, the user's own folder, and the bundled fonts.

configs/ and prompts/ sit at the top of the repository (data, not code). A wheel carries them inside
the package (pyproject's wheel `sources` put them at moviefactory/configs and moviefactory/prompts);
a source checkout or an editable install reads them from the top of the tree.

The user's folder (`--config-dir`, else $MOVIEFACTORY_CONFIG_DIR, else $XDG_CONFIG_HOME/moviefactory,
else ~/.config/moviefactory) adds or overrides any of them file by file, with the same layout:
`config.yaml` (default settings), `formats/*.yaml`, `models.yaml`, `prompts/llm/*.j2`,
`prompts/offline/*.yaml`, ...
"""
from __future__ import annotations

import os
from functools import cache
from importlib import resources as importlib_resources
from pathlib import Path

from .errors import ConfigError, MissingDependencyError

PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def _builtin(kind: str) -> Path:
    packaged = Path(str(importlib_resources.files("moviefactory"))) / kind
    if packaged.is_dir():
        return packaged
    source = PACKAGE_DIR.parent / kind
    if source.is_dir():
        return source
    raise MissingDependencyError(f"moviefactory's {kind}/ folder is missing from this install ({packaged}); "
                                 "reinstall the package")


def configs_dir() -> Path:
    """The built-in configs/ folder (presets, catalogues)."""
    return _builtin("configs")


def prompts_dir() -> Path:
    """The built-in prompts/ folder (LLM templates, the offline writer's material)."""
    return _builtin("prompts")


_chosen: Path | None = None


def use_config_dir(path: str | Path | None) -> None:
    """Make `path` the user's folder for this process (the CLI's --config-dir, a run's recorded one)."""
    global _chosen
    if path is not None and not Path(path).expanduser().is_dir():
        raise ConfigError(f"config dir {path} is not a folder")
    _chosen = Path(path).expanduser().resolve() if path is not None else None


def user_dir() -> Path:
    """The user's folder of presets, prompts and config.yaml (it need not exist)."""
    if _chosen is not None:
        return _chosen
    if os.environ.get("MOVIEFACTORY_CONFIG_DIR"):
        return Path(os.environ["MOVIEFACTORY_CONFIG_DIR"]).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base).expanduser() / "moviefactory"


def config_path(relative: str) -> Path:
    """configs/<relative>, the user's copy first."""
    mine = user_dir() / relative
    return mine if mine.is_file() else configs_dir() / relative


def prompt_path(relative: str) -> Path:
    """prompts/<relative>, the user's copy first."""
    mine = user_dir() / "prompts" / relative
    return mine if mine.is_file() else prompts_dir() / relative


def prompt_dirs(relative: str) -> list[Path]:
    """The folders to search for prompts/<relative>/..., the user's first (for template loaders)."""
    return [p for p in (user_dir() / "prompts" / relative, prompts_dir() / relative) if p.is_dir()]


def config_names(folder: str, suffix: str = ".yaml") -> list[str]:
    """Names (stems) of the files in configs/<folder>/, built-in and the user's."""
    found = {p.stem for base in (configs_dir(), user_dir()) for p in (base / folder).glob(f"*{suffix}")}
    return sorted(found)


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

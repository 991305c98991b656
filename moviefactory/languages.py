"""The film languages (configs/languages.yaml) and their scripts (configs/scripts.yaml): the codes --lang
takes, their names and speaking rates, and how their captions are drawn and broken into lines."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path


@dataclass(frozen=True)
class Script:
    name: str
    font: str  # the family libass and the caption measure draw it in
    package: str  # the pip package that ships the font
    index: int  # the face inside a font collection
    letters: str  # regular-expression ranges of its characters
    breaks: str  # spaces | phrases
    model: str = ""  # what finds its phrases, for breaks: phrases (jieba, or a BudouX model)
    rtl: bool = False

    @property
    def spaced(self) -> bool:
        return self.breaks == "spaces"

    def share(self, text: str) -> float:
        """The share of `text`'s letters that are in this script (0 for text with no letters)."""
        letters = [ch for ch in text if ch.isalpha()]
        return sum(1 for ch in letters if _letters(self.letters).match(ch)) / len(letters) if letters else 0.0

    def written_in(self, text: str) -> bool:
        """Most of `text`'s letters are in this script (text with no letters, "2026!", is in any)."""
        return self.share(text) >= 0.5 or not any(ch.isalpha() for ch in text)

    def phrases(self, text: str) -> list[str]:
        """`text` cut where a line may break: at spaces, or between BudouX phrases for unspaced scripts
        (the spaces kept out of the pieces)."""
        if self.spaced:
            return text.split()
        out: list[str] = []
        for piece in (p for part in text.split() for p in _segmenter(self.model)(part)):
            if out and not any(ch.isalnum() for ch in piece):
                out[-1] += piece  # punctuation stays with the phrase before it: no line starts with "，"
            else:
                out.append(piece)
        return out

    def font_file(self) -> Path:
        from .errors import MissingDependencyError

        try:
            module = __import__(self.package)
        except ImportError as exc:
            raise MissingDependencyError(f"the {self.font} caption font is missing; install it with: "
                                         f"pip install {self.package.replace('_', '-')}") from exc
        if hasattr(module, "FONT_PATH"):
            return Path(str(module.FONT_PATH))
        return min((Path(module.ROOT) / "files").glob("*.[ot]t[fc]"))


    @property
    def line_height(self) -> float:
        """The font's line height in ems, as libass sizes it: libass makes a font's size its Windows
        ascent plus descent (GDI's rule), so a font with tall marks above and below (Arabic, Devanagari)
        is drawn smaller at the same size."""
        return _line_height(str(self.font_file()), self.index)


@cache
def _line_height(path: str, index: int) -> float:
    from fontTools.ttLib import TTFont

    font = TTFont(path, fontNumber=index, lazy=True)
    os2 = font["OS/2"]
    return (os2.usWinAscent + os2.usWinDescent) / font["head"].unitsPerEm


@dataclass(frozen=True)
class FilmLanguage:
    code: str
    name: str
    script_name: str  # a key of configs/scripts.yaml
    per_second: float  # words (characters, for scripts with no spaces) per second at speech_rate 1.0

    @property
    def script(self) -> Script:
        return scripts().get(self.script_name) or scripts()["latin"]

    @property
    def spaced(self) -> bool:
        """Words are separated by spaces (captions break at them); else captions break between phrases."""
        return self.script.spaced


@cache
def _letters(ranges: str) -> re.Pattern:
    return re.compile(f"[{ranges}]")


@cache
def _segmenter(model: str):
    """text -> phrases: jieba's words for Chinese (already loaded for the offline writer's reading),
    a BudouX model for the others; characters when no model is named."""
    if not model:
        return list
    if model == "jieba":
        from .planner.subject import jieba_words

        return jieba_words
    import budoux

    loaders = {"ja": budoux.load_default_japanese_parser, "zh-hans": budoux.load_default_simplified_chinese_parser,
               "zh-hant": budoux.load_default_traditional_chinese_parser, "th": budoux.load_default_thai_parser}
    return loaders[model]().parse


def _path(name: str) -> str:
    from .resources import config_path

    return str(config_path(name))  # the user's copy first


@cache
def _read(path: str, what: str) -> dict:
    from .yamlfile import read_yaml

    return read_yaml(Path(path), what) or {}


def scripts() -> dict[str, Script]:
    return _scripts(_path("scripts.yaml"))


@cache
def _scripts(path: str) -> dict[str, Script]:
    return {str(k): Script(str(k), str(e["font"]), str(e["package"]), int(e.get("index", 0)), str(e["letters"]),
                           str(e.get("breaks", "spaces")), str(e.get("model", "")), bool(e.get("rtl", False)))
            for k, e in _read(path, "script list").items()}


def languages() -> dict[str, FilmLanguage]:
    return _languages(_path("languages.yaml"))


@cache
def _languages(path: str) -> dict[str, FilmLanguage]:
    return {str(code): FilmLanguage(str(code), str(e["name"]), str(e.get("script", "latin")),
                                    float(e.get("per_second", 2.6)))
            for code, e in _read(path, "language list").items()}


def language(code: str) -> FilmLanguage:
    """The language of `code`; an unknown code is English's rates under its own code (never raises)."""
    return languages().get(code) or FilmLanguage(code, code, "latin", 2.6)


def script_of(text: str) -> Script:
    """The script most of `text`'s letters are written in (latin when none is)."""
    best = max(scripts().values(), key=lambda s: s.share(text))
    return best if best.share(text) > 0 else scripts()["latin"]


def caption_fonts() -> list[tuple[Path, str]]:
    """Every installed caption font file, once, with a family it holds."""
    seen: dict[Path, str] = {}
    for s in scripts().values():
        try:
            seen.setdefault(s.font_file(), s.font)
        except Exception:  # a script whose font package is absent: its captions fall back to the others
            continue
    return list(seen.items())


def caption_fonts_dir() -> Path:
    """One folder with every installed caption font (configs/scripts.yaml), for libass's fontsdir: it
    takes one folder, and a line mixing scripts needs the fonts of all of them."""
    import hashlib
    import shutil
    import tempfile

    from .audio.library import cache_dir
    from .resources import cjk_font

    files = sorted({f for f, _ in caption_fonts()} | {cjk_font()})
    key = hashlib.sha256("\n".join(map(str, files)).encode()).hexdigest()[:12]
    folder = cache_dir() / "fonts" / key
    if folder.is_dir():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".fonts-", dir=folder.parent))
    for f in files:
        try:
            (staging / f.name).symlink_to(f)
        except OSError:  # no symlinks here (Windows without the right): copy
            shutil.copy2(f, staging / f.name)
    try:
        staging.rename(folder)
    except OSError:  # another process made it first
        shutil.rmtree(staging, ignore_errors=True)
    return folder


# the languages the offline writer has material for
OFFLINE = ("en", "zh")

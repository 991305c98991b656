"""The default music catalogue (configs/music/catalogue.yaml) as typed specs, and the little music
theory the composer needs: keys, modes and roman-numeral chords."""
from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path

import yaml

from ...errors import ConfigError
from ...resources import config_path

COMPOSER_VERSION = "1"  # a readable marker; the library also rebuilds when the composer's source changes
MODES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10), "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
         "dorian": (0, 2, 3, 5, 7, 9, 10), "phrygian": (0, 1, 3, 5, 7, 8, 10), "lydian": (0, 2, 4, 6, 7, 9, 11),
         "mixolydian": (0, 2, 4, 5, 7, 9, 10)}
KEYS = {n: i for i, names in enumerate(("C B#", "C# Db", "D", "D# Eb", "E Fb", "F E#", "F# Gb", "G", "G# Ab", "A",
                                        "A# Bb", "B Cb")) for n in names.split()}
FORMS = {"build": "AABB", "ostinato": "AABA"}  # letters behind the two through-composed forms
_ROMAN = re.compile(r"([b#]?)(VII|VI|V|IV|III|II|I|vii|vi|v|iv|iii|ii|i)(dim|aug)?(maj7|7|sus2|sus4)?")
_TRIADS = {"maj": (0, 4, 7), "min": (0, 3, 7), "dim": (0, 3, 6), "aug": (0, 4, 8)}


@dataclass(frozen=True)
class Chord:
    root: int  # pitch class
    pcs: tuple[int, ...]  # pitch classes: root, third, fifth[, seventh]
    degrees: tuple[int, ...]  # the scale degree (0-6) each tone stands for

    def scale(self, mode: str, tonic: int) -> set[int]:
        """The mode with this chord's altered tones in place of the ones they replace (V in minor: ^7)."""
        pcs = [(tonic + x) % 12 for x in MODES[mode]]
        for d, pc in zip(self.degrees, self.pcs):
            pcs[d] = pc
        return set(pcs)


def parse_chord(text: str, tonic: int = 0) -> Chord:
    """A roman numeral against the major scale of `tonic`: 'bVI', 'ii7', 'Imaj7', 'Vsus4', '#ivdim'."""
    m = _ROMAN.fullmatch(text)
    if not m:
        raise ValueError(f"not a roman-numeral chord: {text!r}")
    acc, num, quality, ext = m.groups()
    deg = ("i", "ii", "iii", "iv", "v", "vi", "vii").index(num.lower())
    root = (tonic + MODES["major"][deg] + {"b": -1, "#": 1, "": 0}[acc]) % 12
    ivs, degs = list(_TRIADS[quality or ("maj" if num.isupper() else "min")]), [0, 2, 4]
    if ext in ("sus2", "sus4"):
        ivs[1], degs[1] = (2, 1) if ext == "sus2" else (5, 3)
    elif ext:
        ivs.append(11 if ext == "maj7" else 9 if quality == "dim" else 10)
        degs.append(6)
    return Chord(root, tuple((root + i) % 12 for i in ivs), tuple((deg + d) % 7 for d in degs))


@dataclass(frozen=True)
class TrackSpec:
    """One catalogue entry, with its mood's progressions and its drum pattern resolved."""

    id: str
    title: str
    mood: str
    description: str
    tags: tuple[str, ...]
    tempo: float  # beats per minute (eighths in 6/8)
    key: str
    mode: str
    meter: int  # beats per bar
    form: str
    length: float  # target seconds
    parts: dict = field(default_factory=dict)  # role -> {program, name, style, density, octave, ...}
    progressions: tuple[str, ...] = ()
    cadence: str = "V"
    drums: dict | None = None  # {"hits": ((key, (onsets...)), ...), "fill": (...), "crash": key}
    phrase: int = 4  # bars per section
    reverb: float = 0.2

    @property
    def tonic_pc(self) -> int:
        return KEYS[self.key]

    @property
    def bar_seconds(self) -> float:
        return self.meter * 60.0 / self.tempo

    def layout(self) -> tuple[int, str]:
        """Intro bars and section letters: whole passes through the form, nearest the target length."""
        intro, letters = (4 if self.form == "ostinato" else 2), FORMS.get(self.form, self.form)
        seconds = lambda k: (intro + 2 + k * self.phrase) * self.bar_seconds  # noqa: E731
        n = len(letters) * max(1, round((self.length / self.bar_seconds - intro - 2) / self.phrase / len(letters)))
        while seconds(n) < 60:
            n += 1
        while seconds(n) > 180 and n > 1:
            n -= 1
        return intro, "".join(letters[i % len(letters)] for i in range(n))

    @property
    def bars(self) -> int:
        intro, letters = self.layout()
        return intro + len(letters) * self.phrase + 2

    @property
    def seconds(self) -> float:
        return self.bars * self.bar_seconds

    def fingerprint(self) -> str:
        """Changes whenever this track's notes could: its entry, its mood and drum tables, the composer."""
        blob = json.dumps([COMPOSER_VERSION, asdict(self)], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()


STYLES = {"harmony": {"pad", "arpeggio", "comp", "strum", "ostinato", "waltz"},
          "bass": {"root", "pulse", "octave", "walking", "drone", "waltz"}}
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


def catalogue_path() -> Path:
    return config_path("music/catalogue.yaml")


def load_catalogue(path: Path | None = None) -> list[TrackSpec]:
    """Every track of the catalogue, validated; ConfigError names the track and the field."""
    path = Path(path) if path else catalogue_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the music catalogue {path}: {exc}") from None
    specs: list[TrackSpec] = []
    for i, entry in enumerate(data.get("tracks") or []):
        try:
            spec = _spec(entry, data.get("moods") or {}, data.get("drum_patterns") or {})
            _check(spec.id not in {s.id for s in specs}, "duplicate id")
        except (KeyError, TypeError, ValueError) as exc:
            name = entry.get("id", i) if isinstance(entry, dict) else i
            raise ConfigError(f"music catalogue {path}: track {name!r}: {exc}") from None
        specs.append(spec)
    if not specs:
        raise ConfigError(f"music catalogue {path} has no tracks")
    return specs


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _spec(e: dict, moods: dict, kits: dict) -> TrackSpec:
    for key in ("id", "title", "mood", "description", "tempo", "key", "mode", "meter", "form", "length", "parts"):
        _check(key in e, f"missing field {key!r}")
    _check(bool(_ID.fullmatch(str(e["id"]))), "id must be lowercase letters, digits and dashes")
    _check(e["mood"] in moods, f"mood {e['mood']!r} has no entry under moods:")
    _check(e["key"] in KEYS, f"key {e['key']!r} is not a note name like C, F# or Bb")
    _check(e["mode"] in MODES, f"mode must be one of {sorted(MODES)}")
    _check(e["meter"] in (3, 4, 6), "meter must be 3, 4 or 6")
    _check(e["form"] in FORMS or bool(re.fullmatch(r"[ABC]{2,8}", str(e["form"]))),
           "form must be section letters (A, B, C) or one of " + ", ".join(FORMS))
    _check(e.get("phrase", 4) in (4, 8), "phrase must be 4 or 8 bars")
    _check(60 <= e["length"] <= 180, "length must be 60-180 seconds")
    _check(40 <= e["tempo"] <= 220, "tempo must be 40-220 bpm")
    parts = {role: dict(p) for role, p in e["parts"].items()}
    _check({"lead", "harmony", "bass"} <= set(parts) <= {"lead", "harmony", "texture", "bass", "drums"},
           "parts must have lead, harmony and bass, and may have texture and drums")
    for role, p in parts.items():
        _check(role == "drums" or p.get("program") in range(128), f"parts.{role}.program must be 0-127")
        styles = STYLES.get("harmony" if role == "texture" else role)
        _check(not styles or p.get("style", "pad" if role != "bass" else "root") in (styles or ()),
               f"parts.{role}.style must be one of {sorted(styles or ())}")
        _check(p.get("density", "medium") in ("sparse", "medium", "busy"), f"parts.{role}.density is unknown")
    mood = {**moods[e["mood"]], **{k: e[k] for k in ("progressions", "cadence") if k in e}}
    progressions = tuple(mood["progressions"])
    for text in (*progressions, mood.get("cadence", "V")):
        for chord in text.split():
            parse_chord(chord)
    _check(all(len(p.split()) == 4 for p in progressions), f"mood {e['mood']}: progressions need 4 chords")
    drums = None
    if "drums" in parts:
        kit = kits.get(parts["drums"].get("style"))
        _check(bool(kit) and e["meter"] in kit, f"drum style {parts['drums'].get('style')!r} "
                                                 f"has no pattern for meter {e['meter']}")
        hits = tuple(sorted((int(k), tuple(float(Fraction(str(x))) for x in v)) for k, v in kit[e["meter"]].items()))
        drums = {"hits": hits, "fill": tuple(kit.get("fill", ())), "crash": kit.get("crash")}
    return TrackSpec(id=e["id"], title=e["title"], mood=e["mood"], description=e["description"],
                     tags=tuple(e.get("tags", ())), tempo=float(e["tempo"]), key=e["key"], mode=e["mode"],
                     meter=e["meter"], form=e["form"], length=float(e["length"]), parts=parts,
                     progressions=progressions, cadence=mood.get("cadence", "V"), drums=drums,
                     phrase=e.get("phrase", 4), reverb=float(e.get("reverb", 0.2)))

"""What each stage of the llm screenwriter asks the model for: small, forgiving reply models.

They are simpler than the final Screenplay (no ids, no voices, no exact timing): the code assigns
those afterwards. Each model's JSON-schema title names its stage, and its class name is what the
chat client sends as the schema's name. Common near-misses (a camera called 'dolly in', 'Night'
in capitals) are mapped onto the allowed values here, so the model is only re-asked for what
cannot be guessed.
"""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from ..screenplay.models import CameraMove, TimeOfDay, TransitionKind

_CAMERA_WORDS = {
    "push_in": ("push", "dolly in", "dolly_in", "zoom in", "zoom_in", "track in", "move in", "closer"),
    "pull_out": ("pull", "dolly out", "dolly_out", "zoom out", "zoom_out", "track out", "move out", "crane up"),
    "pan_left": ("pan left", "pan_left", "truck left"),
    "pan_right": ("pan", "pan right", "pan_right", "truck right", "track", "follow", "tracking"),
    "tilt_up": ("tilt up", "tilt_up", "tilt", "rise", "pedestal up"),
    "tilt_down": ("tilt down", "tilt_down", "crane down", "pedestal down"),
}
_TIME_WORDS = {"dawn": ("dawn", "sunrise", "morning", "daybreak"), "dusk": ("dusk", "sunset", "evening", "twilight"),
               "night": ("night", "midnight", "dark"), "day": ("day", "noon", "afternoon", "daytime")}
_TRANSITION_WORDS = {"crossfade": ("dissolve", "crossfade", "cross fade", "cross-fade", "fade"),
                     "fade_black": ("fade to black", "fade_black", "fade black", "fade out", "black")}


def _word(value: Any) -> Any:
    return " ".join(value.strip().lower().replace("-", " ").split()) if isinstance(value, str) else value


def _camera(value: Any) -> Any:
    v = _word(value)
    if not isinstance(v, str) or v.replace(" ", "_") in _CAMERA_WORDS or v == "static":
        return v.replace(" ", "_") if isinstance(v, str) else v
    # longest phrase first, so 'dolly out' is not read as 'pull' or 'push'
    hits = sorted(((w, k) for k, ws in _CAMERA_WORDS.items() for w in ws if w in v), key=lambda h: -len(h[0]))
    return hits[0][1] if hits else "static"  # 'handheld', 'locked off', ...: a still camera is always drawable


def _time(value: Any) -> Any:
    v = _word(value)
    if not isinstance(v, str):
        return v
    return next((k for k, ws in _TIME_WORDS.items() if any(w in v for w in ws)), v)


def _transition(value: Any) -> Any:
    v = _word(value)
    if not isinstance(v, str) or v in ("cut", "crossfade", "fade_black"):
        return v
    hits = sorted(((w, k) for k, ws in _TRANSITION_WORDS.items() for w in ws if w in v), key=lambda h: -len(h[0]))
    return hits[0][1] if hits else "cut"


def _gender(value: Any) -> Any:
    v = _word(value)
    return ("f" if v[:1] in ("f", "w", "g") or v.startswith("she") else "m") if isinstance(v, str) else v


Camera = Annotated[CameraMove, BeforeValidator(_camera)]
Time = Annotated[TimeOfDay, BeforeValidator(_time)]
Kind = Annotated[TransitionKind, BeforeValidator(_transition)]
Gender = Annotated[Literal["f", "m"], BeforeValidator(_gender)]


class _Reply(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


# 1. outline -----------------------------------------------------------------------------------
class OutlineCharacter(_Reply):
    name: str = Field(..., min_length=1, max_length=60, description="Name, used identically everywhere.")
    role: str = Field("", description="Who they are, in a few English words, e.g. 'old lighthouse keeper'.")


class OutlineScene(_Reply):
    beat: str = Field(..., min_length=1, description="The story beat, e.g. 'setup', 'inciting incident', 'climax'.")
    setting: str = Field(..., min_length=1, description="Where it happens, a few English words that can be drawn.")
    time_of_day: Time = Field("day", description="dawn, day, dusk or night.")
    summary: str = Field(..., min_length=1, description="One English sentence: what happens, visually.")
    characters: list[str] = Field([], description="Names of the characters who appear in the scene.")


class OutlineReply(_Reply):
    model_config = ConfigDict(title="outline")
    title: str = Field(..., min_length=1, description="Film title, in the film's language.")
    logline: str = Field(..., min_length=1, description="One-sentence summary, in the film's language.")
    tone: str = Field("", description="Tone in a few English words.")
    characters: list[OutlineCharacter] = Field([], description="The main characters (not the narrator).")
    scenes: list[OutlineScene] = Field(..., min_length=1, description="The scenes in order, one beat each.")


# 2. screenplay --------------------------------------------------------------------------------
class DraftShot(_Reply):
    description: str = Field(..., min_length=1, description="What the camera sees, in English: one visual idea.")
    camera: Camera = Field("static", description="static, push_in, pull_out, pan_left, pan_right, tilt_up, tilt_down.")
    motion: float = Field(0.5, description="Motion strength from 0 (still) to 1 (lively).")
    duration: float = Field(..., gt=0, description="Seconds, 2 to 8.")
    characters: list[str] = Field([], description="Names of the characters visible in the shot.")


class DraftLine(_Reply):
    speaker: str = Field("Narrator", description="'Narrator' or a character's name.")
    text: str = Field(..., min_length=1, description="What is said, in the film's language.")


class DraftCue(_Reply):
    description: str = Field(..., min_length=1, description="A sound effect, in English, e.g. 'waves on rocks'.")
    at: float = Field(0.0, ge=0, description="Seconds from the start of the scene.")
    duration: float = Field(2.0, gt=0, description="Seconds.")


class DraftScene(_Reply):
    interior: bool = Field(False, description="True when the scene is indoors.")
    shots: list[DraftShot] = Field([], description="The shots, in order.")
    narration: list[DraftLine] = Field([], description="Narration and dialogue over the scene, in order.")
    sound_cues: list[DraftCue] = Field([], description="Sound effects over the scene.")
    transition: Kind = Field("cut", description="Into the next scene: cut, crossfade or fade_black.")


class ScreenplayDraft(_Reply):
    model_config = ConfigDict(title="screenplay")
    scenes: list[DraftScene] = Field(..., min_length=1, description="One entry per outline scene, in order.")


# 3. character bible ---------------------------------------------------------------------------
class BibleEntry(_Reply):
    name: str = Field(..., min_length=1, description="The character's name, exactly as given.")
    description: str = Field(..., min_length=1, description="Fixed English visual description: a noun phrase with "
                             "age, build, hair, clothing and colours, one distinctive feature.")
    gender: Gender = Field("m", description="'f' or 'm', to choose a voice.")


class CharacterBible(_Reply):
    model_config = ConfigDict(title="characters")
    characters: list[BibleEntry] = Field(..., description="One entry per character asked for.")


# 4. shot prompts ------------------------------------------------------------------------------
class ShotPrompt(_Reply):
    id: str = Field(..., description="The shot id, exactly as given.")
    prompt: str = Field(..., min_length=1, description="English visual prompt for an image/video model.")
    negative_prompt: str = Field("", description="Comma-separated things this shot must avoid.")


class ShotPrompts(_Reply):
    model_config = ConfigDict(title="shot_prompts")
    shots: list[ShotPrompt] = Field(..., description="One entry per shot id.")


# 5. music brief -------------------------------------------------------------------------------
class MusicReply(_Reply):
    model_config = ConfigDict(title="music")
    mood: str = Field(..., min_length=1, description="One English word, e.g. 'tense', 'wistful'.")
    tempo_bpm: int = Field(90, description="Tempo in beats per minute, 40 to 200.")
    instruments: list[str] = Field([], description="Two to five instruments, in English.")

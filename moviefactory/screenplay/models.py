"""The Screenplay: the contract between the screenwriter (LLM or offline) and everything after it.

Frozen pydantic models with a description on every field, so the JSON schema sent to an LLM
explains itself, and validation errors name the bad field.
"""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

Language = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}$")]  # configs/languages.yaml
CameraMove = Literal["static", "push_in", "pull_out", "pan_left", "pan_right", "tilt_up", "tilt_down"]
TimeOfDay = Literal["dawn", "day", "dusk", "night"]
TransitionKind = Literal["cut", "crossfade", "fade_black"]

NARRATOR = "Narrator"
_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Voice(_Frozen):
    engine: str = Field("espeak", description="TTS engine name from the voice registry, e.g. 'espeak'.")
    id: str = Field(..., min_length=1, description="Engine-specific voice id, e.g. 'en-us+m3' or 'cmn+f2'.")
    rate: float = Field(1.0, gt=0.4, le=2.0, description="Speaking-rate multiplier (1.0 is the engine's normal).")
    pitch: int = Field(50, ge=0, le=99, description="Base pitch 0-99 (espeak scale).")


class Character(_Frozen):
    name: str = Field(..., min_length=1, max_length=60, description="Name as used in narration lines and shots.")
    description: str = Field(
        ..., min_length=1, description="Fixed visual description, repeated verbatim in prompts of shots showing them."
    )
    voice: Voice = Field(..., description="The voice this character speaks with.")


class Shot(_Frozen):
    id: str = Field(..., description="Shot id, unique in the film, lowercase, e.g. 's01-sh02'.")
    description: str = Field(..., min_length=1, description="What the camera sees: one visual idea, no on-screen text.")
    camera: CameraMove = Field("static", description="Camera move over the shot.")
    motion: float = Field(0.5, ge=0.0, le=1.0, description="Motion strength, 0 (still) to 1 (lively).")
    duration: float = Field(..., gt=0.5, le=60.0, description="Length in seconds.")
    characters: tuple[str, ...] = Field((), description="Names of characters visible in the shot.")
    prompt: str = Field("", description="Model-friendly visual prompt for image/video models (English); "
                        "empty: renderers use the description.")
    negative_prompt: str = Field("", description="What the image/video model must avoid in this shot.")
    edit: str = Field("", description="An instruction applied to the shot's keyframe before it is animated "
                      "('make it night, keep the car red'); renderers that paint keyframes use an "
                      "instruction-edit model for it, others ignore it.")

    @field_validator("id")
    @classmethod
    def _id_format(cls, v: str) -> str:
        if not _ID.match(v):
            raise ValueError(f"{v!r} is not a valid id (lowercase letters, digits, '-' or '_', ≤40 chars)")
        return v


class Line(_Frozen):
    speaker: str = Field(NARRATOR, description="'Narrator' or the name of a character.")
    text: str = Field(..., min_length=1, max_length=600, description="What is said, in the screenplay's language.")


class SoundCue(_Frozen):
    description: str = Field(..., min_length=1, description="The sound, e.g. 'distant thunder rolling'.")
    at: float = Field(0.0, ge=0.0, description="Offset in seconds from the start of the scene.")
    duration: float = Field(2.0, gt=0.0, le=60.0, description="Length in seconds.")


class Transition(_Frozen):
    kind: TransitionKind = Field("cut", description="How this scene hands over to the next one.")
    duration: float = Field(0.0, ge=0.0, le=3.0, description="Seconds of overlap (0 for a cut).")

    @model_validator(mode="after")
    def _cut_has_no_length(self) -> "Transition":
        if self.kind == "cut" and self.duration:
            raise ValueError("a cut has duration 0")
        if self.kind != "cut" and self.duration <= 0:
            raise ValueError(f"a {self.kind} needs a duration > 0")
        return self


class Scene(_Frozen):
    id: str = Field(..., description="Scene id, unique, lowercase, e.g. 's01'.")
    heading: str = Field(..., min_length=1, description="Slug line, e.g. 'EXT. LAUNCH PAD - DAWN'.")
    setting: str = Field(..., min_length=1, description="Where it happens, in a few English words (drives the look).")
    time_of_day: TimeOfDay = Field("day", description="Light of the scene.")
    beat: str = Field("", description="The story beat this scene plays (e.g. 'setup', 'turn', 'climax').")
    shots: tuple[Shot, ...] = Field(..., min_length=1, description="The shots, in order.")
    narration: tuple[Line, ...] = Field((), description="Narration or dialogue over the scene, in order.")
    sound_cues: tuple[SoundCue, ...] = Field((), description="Sound effects over the scene.")
    transition: Transition = Field(default_factory=Transition, description="Transition into the next scene.")

    @field_validator("id")
    @classmethod
    def _id_format(cls, v: str) -> str:
        return Shot._id_format(v)

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.shots)


class MusicBrief(_Frozen):
    mood: str = Field("calm", description="One-word mood for music retrieval, e.g. 'tense'.")
    tempo_bpm: int = Field(90, ge=40, le=200, description="Tempo in beats per minute.")
    instruments: tuple[str, ...] = Field((), description="Instrumentation, e.g. ('strings', 'piano').")


class Screenplay(_Frozen):
    title: str = Field(..., min_length=1, max_length=120, description="Film title.")
    logline: str = Field(..., min_length=1, description="One-sentence summary.")
    tone: str = Field("", description="Tone in a few words, e.g. 'wistful, hopeful'.")
    language: Language = Field("en", description="Language of narration and captions.")
    narrator: Voice = Field(..., description="The narrator's voice.")
    characters: tuple[Character, ...] = Field((), description="The character bible.")
    scenes: tuple[Scene, ...] = Field(..., min_length=1, description="Scenes in order.")
    music: MusicBrief = Field(default_factory=MusicBrief, description="Brief for the music bed.")

    @model_validator(mode="after")
    def _consistent(self) -> "Screenplay":
        names = {c.name for c in self.characters}
        if len(names) != len(self.characters):
            raise ValueError("characters: names must be unique")
        seen: set[str] = set()
        for i, scene in enumerate(self.scenes):
            if scene.id in seen:
                raise ValueError(f"scenes[{i}].id: {scene.id!r} is used twice")
            seen.add(scene.id)
            for j, shot in enumerate(scene.shots):
                if shot.id in seen:
                    raise ValueError(f"scenes[{i}].shots[{j}].id: {shot.id!r} is used twice")
                seen.add(shot.id)
                for who in shot.characters:
                    if who not in names:
                        raise ValueError(f"scenes[{i}].shots[{j}].characters: {who!r} is not in the character bible")
            for k, line in enumerate(scene.narration):
                if line.speaker != NARRATOR and line.speaker not in names:
                    raise ValueError(
                        f"scenes[{i}].narration[{k}].speaker: {line.speaker!r} is neither {NARRATOR!r} nor a character"
                    )
            for k, cue in enumerate(scene.sound_cues):
                if cue.at >= scene.duration:
                    raise ValueError(f"scenes[{i}].sound_cues[{k}].at: {cue.at}s is past the scene's end ({scene.duration}s)")
        return self

    @property
    def duration(self) -> float:
        return sum(s.duration for s in self.scenes)

    def voice_of(self, speaker: str) -> Voice:
        for c in self.characters:
            if c.name == speaker:
                return c.voice
        return self.narrator

    def shots(self) -> list[tuple[Scene, Shot]]:
        return [(scene, shot) for scene in self.scenes for shot in scene.shots]


def line_id(scene: Scene, index: int) -> str:
    """Stable id of a narration line: the scene id and its position."""
    return f"{scene.id}-l{index + 1:02d}"


def cue_id(scene: Scene, index: int) -> str:
    """Stable id of a sound cue: the scene id and its position."""
    return f"{scene.id}-c{index + 1:02d}"

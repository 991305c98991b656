"""Screenplay + rendered assets -> Timeline. A pure function: no files are read or written."""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Mapping, Sequence

from ..config import Format
from ..screenplay import Screenplay, cue_id, line_id
from .captions import Measure, caption_cues, ms
from .model import AudioClip, Cue, Timeline, VideoClip
from .pacing import GAP, narration_start
from .score import SfxRef, TrackRef, music_clips, sfx_clip


@dataclass(frozen=True)
class ClipRef:
    path: str  # relative to the run directory
    frames: int


@dataclass(frozen=True)
class SpeechRef:
    path: str  # relative to the run directory
    duration: float
    words: Sequence[tuple[str, float, float]]  # (text, start, end) seconds from the line's start


def shot_frames(duration: float, fps: Fraction) -> int:
    return max(1, round(Fraction(duration) * fps))


def scene_overlap(kind: str, duration: float, prev_frames: int, next_frames: int, fps: Fraction) -> int:
    """Frames two scenes share in a transition (0 for a cut). Never more than half of either clip:
    a transition must not swallow a shot."""
    if kind == "cut":
        return 0
    return min(shot_frames(duration, fps), min(prev_frames, next_frames) // 2)


def build_timeline(
    screenplay: Screenplay,
    fmt: Format,
    clips: Mapping[str, ClipRef],
    speech: Mapping[str, SpeechRef],
    measure: Measure,
    music: TrackRef | None = None,
    sfx: Mapping[str, SfxRef] | None = None,
    bridges: Mapping[str, ClipRef] | None = None,
    credits: Sequence[Mapping] = (),
    end_card: ClipRef | None = None,
) -> Timeline:
    """`bridges`: scene id -> a generated transition into that scene, exactly as long as its overlap.
    `credits`: who made the pictures (stock items), kept in the timeline's meta (film.otio carries it);
    `end_card`: a still that ends the film, crossfaded in after the last scene."""
    fps = fmt.frame_rate
    video: list[VideoClip] = []
    audio: list[AudioClip] = []
    cues: list[Cue] = []
    end = 0  # timeline end so far, in frames
    cues_at: list[tuple[SfxRef, Fraction, float]] = []
    for i, scene in enumerate(screenplay.scenes):
        scene_start = end
        for j, shot in enumerate(scene.shots):
            clip = clips[shot.id]
            kind, overlap, bridge = "cut", 0, ""
            if j == 0 and i > 0:
                prev = screenplay.scenes[i - 1].transition
                kind = prev.kind
                overlap = scene_overlap(prev.kind, prev.duration, video[-1].frames, clip.frames, fps)
                made = (bridges or {}).get(scene.id)
                bridge = made.path if made is not None and overlap and made.frames == overlap else ""
            start = end - overlap
            if j == 0:
                scene_start = start
            video.append(VideoClip(clip.path, scene.id, shot.id, Fraction(start) / fps, clip.frames, kind, overlap,
                                   bridge))
            end = start + clip.frames

        scene_end = Fraction(end) / fps
        for k, cue in enumerate(scene.sound_cues):
            if sfx and cue_id(scene, k) in sfx:
                cues_at.append((sfx[cue_id(scene, k)], Fraction(scene_start) / fps + ms(cue.at), cue.duration))
        t = Fraction(scene_start) / fps + ms(narration_start(screenplay, i))
        for k, line in enumerate(scene.narration):
            ref = speech[line_id(scene, k)]
            duration = ms(ref.duration)
            clip_end = min(t + duration, scene_end)
            audio.append(AudioClip(ref.path, "narration", line_id(scene, k), t, clip_end - t))
            cues += caption_cues(
                ref.words, offset=t, line_end=clip_end, language=screenplay.language, style=fmt.caption,
                max_width=fmt.width * (1 - fmt.caption.safe_area.left - fmt.caption.safe_area.right),
                measure=measure, text=line.text, speaker=line.speaker, ref=line_id(scene, k),
            )
            t += duration + ms(GAP)

    if end_card is not None and video:
        overlap = scene_overlap("crossfade", 0.5, video[-1].frames, end_card.frames, fps)
        start = end - overlap
        video.append(VideoClip(end_card.path, "credits", "credits", Fraction(start) / fps, end_card.frames,
                               "crossfade", overlap))
        end = start + end_card.frames
    film = Fraction(end) / fps
    if music is not None:
        audio += music_clips(music, film)
    audio += [c for ref, at, wanted in cues_at if (c := sfx_clip(ref, at, wanted, film)) is not None]
    return Timeline(
        title=screenplay.title, language=screenplay.language, width=fmt.width, height=fmt.height, fps=fps,
        duration=film, video=tuple(video), audio=tuple(audio), cues=tuple(cues),
        loudness_lufs=fmt.loudness_lufs, true_peak_db=fmt.true_peak_db,
        meta={"format": fmt.name, **({"credits": [dict(c) for c in credits]} if credits else {})},
    )

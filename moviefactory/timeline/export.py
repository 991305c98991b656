"""Timeline -> OpenTimelineIO (`film.otio`): the cut, as an editor (Resolve, Kdenlive, Premiere via
an adapter) opens it, pointing at the same shot, voice, music and effect files the film was made of.

The mapping (see `to_otio`):

- One video track, every item at the timeline's frame rate in whole frames. OTIO transitions take
  no room on a track: they sit on the cut between two items and borrow media beyond each
  neighbour's source range (handles). A crossfade that the Timeline writes as the incoming clip
  starting `overlap` frames before the outgoing one ends therefore becomes: the outgoing clip
  trimmed by `overlap - overlap // 2` frames at its tail, the incoming one by `overlap // 2` at its
  head, and a `SMPTE_Dissolve` between them with `in_offset = overlap // 2` and
  `out_offset = overlap - overlap // 2` (in + out == overlap exactly, odd overlaps too). The
  dissolve then covers exactly the frames the film crossfades. `fade_black` is the same dissolve
  (OTIO's only standard type; an editor can swap in its dip to black) named and tagged `fade_black` in its metadata.
- A generated bridge is played over the whole overlap instead of a fade (as the assembler's
  head / bridge / tail concat does): the outgoing clip loses the overlap at its tail, the
  incoming one at its head, and the bridge file is a clip of its own between them.
  Either way the track is exactly `timeline.frames` long.
- Audio tracks per role (narration, music, sfx), clips placed at their start with gaps between and
  their source range starting at the clip's in-point, each track padded to the film's length.
  Clips that overlap within a role (a looped bed's crossfading tails, overlapping effects) go to
  further tracks of that role. Gain and fades are in each clip's metadata under "moviefactory".
  Audio times keep the timeline's rate; a time between two frames is a fractional value, so
  voices stay where the film has them (to a double's precision).
- Captions are markers on the timeline's stack (where Resolve keeps timeline markers).

opentimelineio is imported inside the functions: importing moviefactory stays light.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

from ..media.camera import is_still, preview_path
from .model import AudioClip, Timeline

if TYPE_CHECKING:  # pragma: no cover
    import opentimelineio as otio

KEY = "moviefactory"  # the metadata namespace
ROLES = ("narration", "music", "sfx")


def _frames(value: Fraction) -> int:
    if value.denominator != 1:
        raise ValueError(f"not a whole number of frames: {value}")
    return int(value)


def _url(run_dir: Path, path: str) -> str:
    from opentimelineio import url_utils

    return url_utils.url_from_filepath(str((run_dir / path).resolve()))


def audio_lanes(clips: list[AudioClip]) -> list[list[AudioClip]]:
    """Clips in lanes none of which has two clips overlapping: each clip goes to the first lane
    whose last clip has ended by its start (the fewest lanes for intervals sorted by start)."""
    lanes: list[list[AudioClip]] = []
    for clip in sorted(clips, key=lambda c: (c.start, c.end)):
        lane = next((lane for lane in lanes if lane[-1].end <= clip.start), None)
        if lane is None:
            lanes.append([clip])
        else:
            lane.append(clip)
    return lanes


def _video_track(timeline: Timeline, run_dir: Path):
    import opentimelineio as otio

    rate = float(timeline.fps)
    rt = lambda frames: otio.opentime.RationalTime(frames, rate)  # noqa: E731
    track = otio.schema.Track(name="video", kind=otio.schema.TrackKind.Video)
    clips = timeline.video
    # How many frames each clip loses at its head and tail to the joins on either side.
    head = [0] * len(clips)
    tail = [0] * len(clips)
    for i, clip in enumerate(clips):
        if i == 0 or clip.transition == "cut" or not clip.overlap_frames:
            continue
        ov = clip.overlap_frames
        if clip.bridge:
            tail[i - 1], head[i] = ov, ov
        else:
            tail[i - 1], head[i] = ov - ov // 2, ov // 2

    for i, clip in enumerate(clips):
        if i > 0 and clip.overlap_frames and clip.transition != "cut":
            ov = clip.overlap_frames
            if clip.bridge:
                track.append(otio.schema.Clip(
                    name=f"bridge {clips[i - 1].scene} > {clip.scene}",
                    media_reference=otio.schema.ExternalReference(
                        target_url=_url(run_dir, clip.bridge),
                        available_range=otio.opentime.TimeRange(rt(0), rt(ov))),
                    source_range=otio.opentime.TimeRange(rt(0), rt(ov)),
                    metadata={KEY: {"path": clip.bridge, "bridge": True, "scene": clip.scene,
                                    "overlap_frames": ov}}))
            else:
                kind = clip.transition
                track.append(otio.schema.Transition(
                    name=kind, transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                    in_offset=rt(ov // 2), out_offset=rt(ov - ov // 2),
                    metadata={KEY: {"transition": kind, "overlap_frames": ov}}))
        length = clip.frames - head[i] - tail[i]
        if length < 0:
            raise ValueError(f"shot {clip.shot}: its joins take more than its {clip.frames} frames")
        if length == 0:  # a shot wholly covered by the bridges on both sides
            continue
        # A still shot (a picture and a camera move the film's encode plays) is a still image to an
        # editor: its middle frame, which the assembler writes beside it.
        media = preview_path(clip.path) if is_still(clip.path) else clip.path
        track.append(otio.schema.Clip(
            name=clip.shot,
            media_reference=otio.schema.ExternalReference(
                target_url=_url(run_dir, media),
                available_range=otio.opentime.TimeRange(rt(0), rt(clip.frames))),
            source_range=otio.opentime.TimeRange(rt(head[i]), rt(length)),
            metadata={KEY: {"path": clip.path, "media": media, "scene": clip.scene, "shot": clip.shot,
                            "start_frame": _frames(clip.start * timeline.fps), "frames": clip.frames,
                            "transition": clip.transition, "overlap_frames": clip.overlap_frames}}))
    return track


def _audio_tracks(timeline: Timeline, run_dir: Path, lengths: Mapping[str, Fraction]):
    import opentimelineio as otio

    fps = timeline.fps
    rate = float(fps)
    # A time as frames at the timeline's rate: whole when on a frame, fractional between frames.
    rt = lambda t: otio.opentime.RationalTime(float(t * fps), rate)  # noqa: E731
    roles = [*ROLES, *sorted({c.role for c in timeline.audio} - set(ROLES))]
    tracks = []
    for role in roles:
        lanes = audio_lanes([c for c in timeline.audio if c.role == role])
        for n, lane in enumerate(lanes):
            track = otio.schema.Track(name=role if n == 0 else f"{role} {n + 1}", kind=otio.schema.TrackKind.Audio,
                                      metadata={KEY: {"role": role, "lane": n}})
            at = Fraction(0)
            for clip in lane:
                if clip.start > at:
                    track.append(otio.schema.Gap(duration=rt(clip.start - at)))
                length = lengths.get(clip.path)
                track.append(otio.schema.Clip(
                    name=clip.ref,
                    media_reference=otio.schema.ExternalReference(
                        target_url=_url(run_dir, clip.path),
                        available_range=None if length is None else otio.opentime.TimeRange(rt(0), rt(length))),
                    source_range=otio.opentime.TimeRange(rt(clip.offset), rt(clip.duration)),
                    metadata={KEY: {"path": clip.path, "role": clip.role, "ref": clip.ref,
                                    "start": str(clip.start), "offset": str(clip.offset),
                                    "duration": str(clip.duration), "gain_db": clip.gain_db,
                                    "fade_in": clip.fade_in, "fade_out": clip.fade_out}}))
                at = clip.end
            if at < timeline.duration:  # every track as long as the film (OTIO tools check that)
                track.append(otio.schema.Gap(duration=rt(timeline.duration - at)))
            tracks.append(track)
    return tracks


def _markers(timeline: Timeline) -> list[Any]:
    import opentimelineio as otio

    fps = timeline.fps
    rt = lambda t: otio.opentime.RationalTime(float(t * fps), float(fps))  # noqa: E731
    return [otio.schema.Marker(
        name=" ".join(cue.lines), marked_range=otio.opentime.TimeRange(rt(cue.start), rt(cue.end - cue.start)),
        color=otio.schema.MarkerColor.YELLOW, comment=cue.text,
        metadata={KEY: {"caption": True, "lines": list(cue.lines), "speaker": cue.speaker, "ref": cue.ref,
                        "start": str(cue.start), "end": str(cue.end)}})
        for cue in timeline.cues]


def to_otio(timeline: Timeline, run_dir: Path, media_lengths: Mapping[str, Fraction] | None = None
            ) -> "otio.schema.Timeline":
    """The Timeline as an OTIO timeline (pure: reads no file). `media_lengths`: seconds of audio
    files by their run-relative path, for the audio references' available ranges (left unset
    without it; video references always carry their shot's whole length)."""
    import opentimelineio as otio

    run_dir = Path(run_dir)
    rate = float(timeline.fps)
    result = otio.schema.Timeline(
        name=timeline.title, global_start_time=otio.opentime.RationalTime(0, rate),
        metadata={KEY: {
            "format": timeline.meta.get("format", ""), "size": [timeline.width, timeline.height],
            "fps": str(timeline.fps), "language": timeline.language, "duration": str(timeline.duration),
            "frames": timeline.frames, "loudness_lufs": timeline.loudness_lufs,
            "true_peak_db": timeline.true_peak_db, "meta": dict(timeline.meta)}})
    video = _video_track(timeline, run_dir)
    length = video.duration().to_frames() if len(video) else 0
    if length != timeline.frames:
        raise ValueError(f"the OTIO video track is {length} frames, the timeline {timeline.frames}")
    result.tracks.append(video)
    for track in _audio_tracks(timeline, run_dir, media_lengths or {}):
        result.tracks.append(track)
    result.tracks.markers.extend(_markers(timeline))
    return result


def _audio_lengths(timeline: Timeline, run_dir: Path) -> dict[str, Fraction]:
    from ..media.ffmpeg import probe

    lengths = {}
    for path in sorted({c.path for c in timeline.audio}):
        info = probe(run_dir / path)
        stream = info.first("audio")
        seconds = stream.duration if stream is not None and stream.duration else info.duration
        lengths[path] = Fraction(seconds).limit_denominator(1_000_000)
    return lengths


def write_otio(timeline: Timeline, run_dir: Path, out: Path) -> Path:
    """Write the timeline as OTIO JSON to `out` (temp name, then rename). Audio files are probed for
    their lengths; video lengths come from the timeline."""
    import opentimelineio as otio

    from ..media.files import atomic_path

    result = to_otio(timeline, run_dir, _audio_lengths(timeline, Path(run_dir)))
    with atomic_path(Path(out)) as tmp:
        otio.adapters.write_to_file(result, str(tmp), adapter_name="otio_json")
    return Path(out)

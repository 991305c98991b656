"""Where narration sits inside a scene, and stretching shots so every scene can hold its lines.

The same rules place narration in the timeline and size the shots before they are rendered,
so picture and voice agree by construction.
"""
from __future__ import annotations

import math
from typing import Mapping

from ..screenplay import Scene, Screenplay, line_id

LEAD_IN = 0.5  # seconds of picture before the first line of a scene
GAP = 0.3  # seconds between two lines
TAIL = 0.6  # seconds of picture after the last line, before the outgoing transition starts


def incoming_overlap(screenplay: Screenplay, index: int) -> float:
    """Seconds the scene at `index` overlaps the one before it (its start is hidden in a transition)."""
    return screenplay.scenes[index - 1].transition.duration if index > 0 else 0.0


def narration_start(screenplay: Screenplay, index: int) -> float:
    """Seconds from the scene's first frame to its first line."""
    return LEAD_IN + incoming_overlap(screenplay, index)


def needed_length(screenplay: Screenplay, index: int, durations: Mapping[str, float]) -> float:
    scene = screenplay.scenes[index]
    spoken = [durations[line_id(scene, k)] for k in range(len(scene.narration))]
    if not spoken:
        return 0.0
    return narration_start(screenplay, index) + sum(spoken) + GAP * (len(spoken) - 1) + TAIL + scene.transition.duration


def fit_to_speech(screenplay: Screenplay, durations: Mapping[str, float]) -> Screenplay:
    """Lengthen the shots of any scene too short for its spoken lines (never shorten)."""
    scenes: list[Scene] = []
    for i, scene in enumerate(screenplay.scenes):
        need = needed_length(screenplay, i, durations)
        if need <= scene.duration:
            scenes.append(scene)
            continue
        factor = need / scene.duration
        # Round up to 1/100 s so frame rounding later never takes the scene below `need`.
        shots = tuple(s.model_copy(update={"duration": _ceil2(s.duration * factor) + 0.05}) for s in scene.shots)
        scenes.append(scene.model_copy(update={"shots": shots}))
    return screenplay.model_copy(update={"scenes": tuple(scenes)})


def _ceil2(x: float) -> float:
    return math.ceil(x * 100) / 100

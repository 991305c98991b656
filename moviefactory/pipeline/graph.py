"""The film as a LangGraph graph: plan -> narrate -> render each shot (fan-out) || score -> bridge
-> timeline -> assemble.

Built by a function (never at import), checkpointed to SQLite in the run directory, so a killed
run continues from its last finished node, also from a new process.
"""
from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Callable, Iterator, TypedDict

from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send

from ..config import Format
from ..options import FilmOptions
from ..planner import Screenwriter
from ..renderers import SceneRenderer
from ..audio import TTSBackend
from ..audio.retrieval import AudioRetriever
from ..runs import RunDir
from .nodes import Nodes
from .progress import Progress, StageClock, no_progress


def _merge(left: dict | None, right: dict | None) -> dict:
    return {**(left or {}), **(right or {})}


class FilmState(TypedDict, total=False):
    request: dict[str, Any]  # theme and the settings that shape the film (no secrets)
    plan: dict[str, Any]  # the screenplay as the writer wrote it, JSON form
    screenplay: dict[str, Any]  # the shooting script (the plan fitted to the narration), JSON form
    speech: dict[str, Any]  # line id -> {path, duration, words}
    clips: Annotated[dict[str, Any], _merge]  # shot id -> {path, frames}; written by parallel tasks
    music: dict[str, Any] | None  # the chosen bed: path in the run, duration, tempo, why it was chosen
    sfx: dict[str, Any]  # cue id -> {path, duration, title, score}
    bridges: dict[str, Any]  # scene id -> {path, frames}: a generated transition into that scene
    timeline: str
    timeline_key: str  # the key the timeline was cut with: the film is keyed on it
    subtitles: dict[str, str]
    extras: Annotated[dict[str, str], _merge]  # other files: film.otio (timeline), contact sheet (assemble)
    film: str
    loudness: dict[str, Any]


@dataclass
class Components:
    writer: Screenwriter
    renderer: SceneRenderer
    tts: TTSBackend
    format: Format
    options: FilmOptions
    run: RunDir
    ffmpeg: str
    music: Callable[[], AudioRetriever | None] | None = None  # opened when the sound stage runs
    sfx: Callable[[], AudioRetriever | None] | None = None
    transitions: Callable[[], Any] | None = None  # opens a first-and-last-frame generator for scene bridges
    transitions_token: Any = None  # what the bridges are keyed on: the model (and path), or the object's token
    tokens: dict[str, str] = field(default_factory=dict)  # role -> token of each component given as an object
    progress: Progress = no_progress
    clock: StageClock = field(default_factory=StageClock)


def route_shots(state: FilmState) -> list[Send]:
    shots = [shot["id"] for scene in state["screenplay"]["scenes"] for shot in scene["shots"]]
    sends = [Send("render_shot", {"screenplay": state["screenplay"], "shot_id": sid}) for sid in shots]
    return [Send("score", {"screenplay": state["screenplay"]}), *sends]


def build_graph(components: Components, checkpointer, *, stop_after_plan: bool = False):
    """The film graph. With `stop_after_plan`, it pauses after the screenplay (a LangGraph interrupt)
    so a person can review it; invoking it again with no input continues from there."""
    nodes = Nodes(components)
    g = StateGraph(FilmState)
    g.add_node("plan", nodes.plan)
    g.add_node("narrate", nodes.narrate)
    g.add_node("render_shot", nodes.render_shot)
    g.add_node("score", nodes.score)
    g.add_node("bridge", nodes.bridge)
    g.add_node("build_timeline", nodes.timeline)
    g.add_node("assemble", nodes.assemble)
    g.add_edge(START, "plan")
    g.add_edge("plan", "narrate")
    g.add_conditional_edges("narrate", route_shots, ["render_shot", "score"])
    g.add_edge(["render_shot", "score"], "bridge")
    g.add_edge("bridge", "build_timeline")
    g.add_edge("build_timeline", "assemble")
    g.add_edge("assemble", END)
    return g.compile(checkpointer=checkpointer, interrupt_after=["plan"] if stop_after_plan else None)


@contextmanager
def open_checkpointer(path: Path) -> Iterator[SqliteSaver]:
    # One connection shared by the graph's worker threads; SqliteSaver serialises access itself.
    conn = sqlite3.connect(str(path), check_same_thread=False)
    try:
        yield SqliteSaver(conn)
    finally:
        conn.close()

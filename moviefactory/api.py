"""The Python API: make_film, plan, render, resume_film, run_id. The CLI is a thin wrapper over these.

Options are the fields of `moviefactory.options.FilmOptions` (format, lang, scenes, seconds, seed,
draft, renderer, tts, voice, music, sfx, llm, llm_base_url, upscale, transitions, output, ...; see
`moviefactory options`), given as keyword arguments; `config` names a YAML file of them. A component
may be passed as an object instead of a name (renderer=, tts=, writer=, transitions=): its name and
cache token become part of the run id, and resume asks for the same object again.
"""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from .audio import TTSBackend
from .job import Job, job_from_run, open_job, resolve_job, split_components
from .planner import Screenwriter
from .renderers import SceneRenderer
from .results import FilmResult, PlanResult
from .runs import RunDir, find_run_dir
from .screenplay import Screenplay, load_screenplay, parse_screenplay


def make_film(theme: str, *, config: str | Path | None = None, progress=None, writer: Screenwriter | None = None,
              renderer: SceneRenderer | str | None = None, tts: TTSBackend | str | None = None,
              transitions: Any = None, **options: Any) -> FilmResult:
    """Make a film from one line. Same theme and options -> the same run directory, continued, not redone."""
    given, objects = split_components(options, writer=writer, renderer=renderer, tts=tts, transitions=transitions)
    job = resolve_job(theme, given, config=config, components=objects, progress=progress)
    return _execute(job, open_job(job), progress)


def plan(theme: str, *, config: str | Path | None = None, progress=None, writer: Screenwriter | None = None,
         **options: Any) -> PlanResult:
    """Write the screenplay only and stop (a LangGraph interrupt): edit it, then `render`, or `resume_film`."""
    given, objects = split_components(options, writer=writer)
    job = resolve_job(theme, given, config=config, components=objects, progress=progress)
    run = open_job(job)
    from .pipeline.run import run_graph

    values = run_graph(job, run, progress, stop_after_plan=True).values
    return PlanResult(run.id, run.root, Screenplay.model_validate(values["screenplay"]))


def render(screenplay: Screenplay | str | Path, *, config: str | Path | None = None, progress=None,
           renderer: SceneRenderer | str | None = None, tts: TTSBackend | str | None = None,
           transitions: Any = None, **options: Any) -> FilmResult:
    """Film exactly what a screenplay (a model, or a .yaml/.json file a person edited) says."""
    if not isinstance(screenplay, Screenplay):
        screenplay = load_screenplay(Path(screenplay))
    given, objects = split_components(options, renderer=renderer, tts=tts, transitions=transitions)
    job = render_job(screenplay, given, config=config, components=objects, progress=progress)
    return _execute(job, open_job(job), progress)


def render_job(screenplay: Screenplay, given: dict[str, Any], *, config: str | Path | None = None,
               components: dict[str, Any] | None = None, progress=None) -> Job:
    """The checked job that films `screenplay` (nothing is written): its run id comes from its content."""
    data = screenplay.model_dump(mode="json")
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:12]
    return resolve_job(f"{screenplay.title} {digest}", {**given, "lang": screenplay.language}, config=config,
                       components=components, screenplay=data, progress=progress)


def resume_film(run_id: str, *, output: str | Path | None = None, progress=None,
                writer: Screenwriter | None = None, renderer: SceneRenderer | None = None,
                tts: TTSBackend | None = None, transitions: Any = None) -> FilmResult:
    """Continue a stopped (or planned-only) run with exactly its own recorded options: finished stages and
    shots are kept. A run made with component objects needs the same objects again."""
    from .options import FilmOptions

    run = find_run_dir(Path(output) if output else FilmOptions.model_fields["output"].default, run_id)
    _, objects = split_components({}, writer=writer, renderer=renderer, tts=tts, transitions=transitions)
    return _execute(job_from_run(run, objects), run, progress)


def run_id(theme: str, *, config: str | Path | None = None, writer: Screenwriter | None = None,
           renderer: SceneRenderer | str | None = None, tts: TTSBackend | str | None = None, transitions: Any = None,
           **options: Any) -> str:
    """The run id make_film would use for this request (nothing is written)."""
    given, objects = split_components(options, writer=writer, renderer=renderer, tts=tts, transitions=transitions)
    return resolve_job(theme, given, config=config, components=objects).run_id


def _execute(job: Job, run: RunDir, progress) -> FilmResult:
    from .pipeline.run import finish, run_graph

    started = time.perf_counter()
    done = run_graph(job, run, progress)
    return finish(run, done, time.perf_counter() - started)


__all__ = ["FilmResult", "PlanResult", "make_film", "parse_screenplay", "plan", "render", "resume_film", "run_id"]

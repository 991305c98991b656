"""The graph's nodes: each takes the state, does one stage, returns a partial update.

Nodes get their components (writer, renderer, TTS, ffmpeg) from `Components`, never from globals.
Every stage's artifacts are keyed by their inputs (runs.cache_key) and marked done with that key, so
a node that runs again -- after a crash, or when a finished film is made again -- redoes only what is
missing or no longer matches: delete any artifact and the next run makes that, and what depends on
it, and nothing else.
"""
from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ..media.assemble import assemble
from ..media.camera import is_still, preview_path, rgb_from_yuv420
from ..media.contact_sheet import write_contact_sheet
from ..media.files import atomic_path, write_text
from ..media.picture import middle_frames
from ..planner.material import material_token
from ..media.subtitles import caption_measure, write_subtitles
from ..planner import PlanRequest
from ..renderers import RenderContext
from ..renderers.base import release_renderer, shot_source
from ..runs import cache_key
from ..screenplay import NARRATOR, Screenplay, cue_id, line_id
from ..secrets import public_url
from ..timeline.build import ClipRef, SpeechRef, build_timeline, scene_overlap, shot_frames
from ..timeline.export import write_otio
from ..timeline.model import Timeline
from ..timeline.pacing import fit_to_speech
from ..timeline.score import SfxRef, TrackRef
from .progress import Event


def shot_seed(run_seed: int, shot_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{shot_id}".encode()).digest()[:4], "big")


class Nodes:
    def __init__(self, components) -> None:
        self.c = components

    def _event(self, stage: str, kind: str, done: int = 0, total: int = 0, detail: str = "",
               artifact: str = "") -> None:
        if kind == "start":
            self.c.clock.start(stage)
        elif kind == "done":
            self.c.clock.stop(stage)
        self.c.progress(Event(stage, kind, done, total, detail, artifact))

    def _screenplay(self, state: dict[str, Any]) -> Screenplay:
        return Screenplay.model_validate(state["screenplay"])

    # 1. Plan --------------------------------------------------------------------------------
    def plan(self, state: dict[str, Any]) -> dict[str, Any]:
        self._event("plan", "start")
        req, run, o = state["request"], self.c.run, self.c.options
        key = cache_key("plan", request=req, writer=self.c.tokens.get("writer") or [
            o.writer, o.llm, public_url(o.llm_base_url), o.llm_temperature, o.llm_max_tokens, o.llm_max_repairs,
            *([material_token(req["language"])] if o.writer == "offline" else [])])
        if run.cached(run.plan, key) is not None:  # the writer is not asked twice for the same film
            screenplay = Screenplay.model_validate_json(run.plan.read_text(encoding="utf-8"))
        elif state.get("plan") is not None:  # plan.json was deleted: the checkpoint still has it
            screenplay = Screenplay.model_validate(state["plan"])
            write_text(run.plan, screenplay.model_dump_json(indent=1))
            run.mark_done(run.plan, key)
        else:
            if o.writer == "llm":
                self._event("plan", "note", detail=f"writing with {o.llm} at {public_url(o.llm_base_url)}")
            if req.get("screenplay"):
                screenplay = Screenplay.model_validate(req["screenplay"])
            else:
                screenplay = self.c.writer.write(PlanRequest(
                    theme=req["theme"], language=req["language"], seconds=req["seconds"], scenes=req["scenes"],
                    seed=req["seed"], format=self.c.format.name, speech_rate=self.c.format.speech_rate))
            write_text(run.plan, screenplay.model_dump_json(indent=1))
            run.mark_done(run.plan, key)
        _write_if_changed(run.screenplay, screenplay.model_dump_json(indent=1))
        self._event("plan", "done", detail=f"{len(screenplay.scenes)} scenes, {len(screenplay.shots())} shots")
        written = screenplay.model_dump(mode="json")
        return {"plan": written, "screenplay": written}

    # 2. Narrate: speak every line, then fit the shots to the voice ------------------------------
    def narrate(self, state: dict[str, Any]) -> dict[str, Any]:
        screenplay = Screenplay.model_validate(state["plan"])  # as written: fitting starts from it every time
        lines = [(scene, k, line) for scene in screenplay.scenes for k, line in enumerate(scene.narration)]
        self._event("narrate", "start", 0, len(lines))
        tts, rate = self.c.tts, self.c.format.speech_rate
        speech: dict[str, Any] = {}
        for n, (scene, k, line) in enumerate(lines, 1):
            lid = line_id(scene, k)
            voice = screenplay.voice_of(line.speaker)
            if line.speaker == NARRATOR and self.c.options.voice:
                voice = voice.model_copy(update={"engine": tts.name, "id": self.c.options.voice})
            path = self.c.run.narration(lid)
            key = cache_key("narration", text=line.text, voice=voice.model_dump(), language=screenplay.language,
                            rate=rate, tts=tts.cache_token())
            meta = self.c.run.cached(path, key)
            if meta is None:
                with atomic_path(path) as tmp:
                    said = tts.speak(line.text, voice, screenplay.language, tmp, rate=rate)
                meta = {"duration": said.duration, "words": [(w.text, w.start, w.end) for w in said.words]}
                self.c.run.mark_done(path, key, **meta)
            speech[lid] = {"path": self.c.run.rel(path), "duration": meta["duration"], "words": meta["words"],
                           "key": key}
            self._event("narrate", "step", n, len(lines), lid)
        fitted = fit_to_speech(screenplay, {k: v["duration"] for k, v in speech.items()})
        _write_if_changed(self.c.run.screenplay, fitted.model_dump_json(indent=1))
        self._event("narrate", "done", len(lines), len(lines))
        return {"speech": speech, "screenplay": fitted.model_dump(mode="json")}

    # 3. Render: one task per shot, fanned out by the graph ---------------------------------------
    def render_shot(self, task: dict[str, Any]) -> dict[str, Any]:
        screenplay = Screenplay.model_validate(task["screenplay"])
        total = len(screenplay.shots())
        self._event("render", "start", 0, total)
        for i, scene in enumerate(screenplay.scenes):
            for j, shot in enumerate(scene.shots):
                if shot.id == task["shot_id"]:
                    return self._render(screenplay, i, j, total)
        raise KeyError(task["shot_id"])  # the router only sends ids it read from this screenplay

    def _render(self, screenplay: Screenplay, i: int, j: int, total: int) -> dict[str, Any]:
        scene, fmt, renderer = screenplay.scenes[i], self.c.format, self.c.renderer
        shot = scene.shots[j]
        frames = shot_frames(shot.duration, fmt.frame_rate)
        seed = shot_seed(self.c.options.seed, shot.id)
        post = post_options(self.c.options)
        bible = {c.name: c.description for c in screenplay.characters if c.name in shot.characters}
        suffix, source = shot_source(renderer, shot, screenplay)
        key = cache_key(
            "shot", shot=shot.model_dump(mode="json"), scene=[scene.id, scene.heading, scene.setting, scene.time_of_day, i, j],
            characters=bible, renderer=[renderer.name, renderer.cache_token(), post, *([source] if source else [])],
            frames=frames, seed=seed,
            format=[fmt.width, fmt.height, fmt.fps, fmt.style_prompt, fmt.negative_prompt, fmt.intermediate.model_dump()])
        path = self.c.run.shot(scene.id, shot.id, suffix)
        kind = "cached"
        if self.c.run.cached(path, key) is None:
            ctx = RenderContext(screenplay=screenplay, scene=scene, format=fmt, seed=seed, ffmpeg=self.c.ffmpeg,
                                frames=frames, scene_index=i, shot_index=j, **post,
                                report=lambda what: self._event("render", "working", total=total,
                                                                detail=f"{shot.id}: {what}"))
            with atomic_path(path) as tmp:
                renderer.render(shot, ctx, tmp)
            self.c.run.mark_done(path, key, frames=frames)
            kind = "step"
        self._event("render", kind, total=total, detail=f"scene {i + 1}/{len(screenplay.scenes)} · {shot.id}",
                    artifact=self.c.run.rel(path))
        return {"clips": {shot.id: {"path": self.c.run.rel(path), "frames": frames, "key": key}}}

    # 3b. Sound: a music bed and effects, retrieved from libraries, run beside the shot renders -------
    def score(self, task: dict[str, Any]) -> dict[str, Any]:
        from ..audio.sources import library_token

        screenplay = Screenplay.model_validate(task["screenplay"])
        self._event("sound", "start")
        run, o = self.c.run, self.c.options
        brief = screenplay.music
        query = " ".join([brief.mood, *brief.instruments, screenplay.tone, _tempo_word(brief.tempo_bpm)])
        cues = {cue_id(scene, k): f"{cue.description} {scene.setting}"
                for scene in screenplay.scenes for k, cue in enumerate(scene.sound_cues)}
        record = run.root / "audio" / "sound.json"
        key = cache_key("sound", music=[query, library_token("music", o.music)],
                        sfx=[cues, library_token("sfx", o.sfx)])
        meta = run.cached(record, key)
        if meta is not None:  # the choice, and the copies it made, are all still there
            chosen = json.loads(record.read_text(encoding="utf-8"))
            music, sfx = chosen["music"], chosen["sfx"]
        else:
            music, sfx = self._choose_sound(screenplay, query, cues)
            write_text(record, json.dumps({"music": music, "sfx": sfx}, ensure_ascii=False, indent=1))
            files = [music["path"]] if music else []
            run.mark_done(record, key, files=files + [v["path"] for v in sfx.values()])
        detail = f"music: {music['title']}" if music else "no music"
        self._event("sound", "done", detail=f"{detail}, {len(sfx)} effects")
        return {"music": music, "sfx": sfx}

    def _choose_sound(self, screenplay: Screenplay, query: str, cues: dict[str, str]):
        music, sfx = None, {}
        retriever = self.c.music() if self.c.music else None
        if retriever is not None and (hits := retriever.search(query, k=5)):
            top = hits[0]
            path = self._keep(top.path, self.c.run.root / "audio" / f"music{top.path.suffix}")
            music = {"path": path, "duration": top.item.duration, "tempo_bpm": top.item.tempo_bpm,
                     "beats_per_bar": top.item.beats_per_bar, "title": top.item.title,
                     "score": round(top.score, 4), "query": query, "retriever": retriever.name}
        effects = self.c.sfx() if self.c.sfx and cues else None
        if effects is not None:
            descriptions = {cue_id(scene, k): cue.description
                            for scene in screenplay.scenes for k, cue in enumerate(scene.sound_cues)}
            for cid, text in cues.items():
                if hits := effects.search(text, k=3):
                    top = hits[0]
                    path = self._keep(top.path, self.c.run.root / "audio" / "sfx" / f"{cid}{top.path.suffix}")
                    sfx[cid] = {"path": path, "duration": top.item.duration, "title": top.item.title,
                                "score": round(top.score, 4), "query": descriptions[cid]}
        return music, sfx

    def _keep(self, source: Path, target: Path) -> str:
        """Copy a library file into the run, so the run keeps playing whatever the library does later."""
        if not (target.is_file() and target.stat().st_size == source.stat().st_size):
            with atomic_path(target) as tmp:
                shutil.copyfile(source, tmp)
        return self.c.run.rel(target)

    # 3c. Bridges: generated transitions between scenes, when a first-and-last-frame model is given ----
    def bridge(self, state: dict[str, Any]) -> dict[str, Any]:
        if self.c.transitions is None:
            return {"bridges": {}}
        from ..renderers.diffusion.connect import bridge

        screenplay, fmt, run = self._screenplay(state), self.c.format, self.c.run
        pairs = [(prev, scene) for prev, scene in zip(screenplay.scenes, screenplay.scenes[1:])
                 if prev.transition.kind != "cut"]
        self._event("connect", "start", 0, len(pairs))
        generator, made = None, {}
        for n, (prev, scene) in enumerate(pairs, 1):
            a_shot, b_shot = prev.shots[-1], scene.shots[0]
            a, b = state["clips"][a_shot.id], state["clips"][b_shot.id]
            overlap = scene_overlap(prev.transition.kind, prev.transition.duration, a["frames"], b["frames"],
                                    fmt.frame_rate)
            if overlap < 2:
                continue
            a_path, b_path, path = run.root / a["path"], run.root / b["path"], run.root / "bridges" / f"{scene.id}.mp4"
            prompt = ", ".join(p for p in (a_shot.prompt or a_shot.description, "then",
                                           b_shot.prompt or b_shot.description, fmt.style_prompt) if p)
            seed = shot_seed(self.c.options.seed, f"bridge:{scene.id}")
            # keyed on the recorded transitions setting, so a finished bridge never loads the model again
            key = cache_key("bridge", a=a["key"], b=b["key"], frames=overlap, seed=seed,
                            prompt=prompt, model=self.c.transitions_token, size=[fmt.width, fmt.height])
            if run.cached(path, key) is None:
                if generator is None:  # the model loads when the first bridge is due, on a GPU the shots left free
                    release_renderer(self.c.renderer)
                    generator = self.c.transitions()
                path.parent.mkdir(parents=True, exist_ok=True)
                bridge(a_path, a["frames"] - overlap, b_path, overlap - 1, overlap, fmt.frame_rate, path, generator,
                       prompt=prompt, seed=seed, ffmpeg=self.c.ffmpeg)
                run.mark_done(path, key, frames=overlap)
            made[scene.id] = {"path": run.rel(path), "frames": overlap, "key": key}
            self._event("connect", "step", n, len(pairs), f"{prev.id} -> {scene.id}")
        self._event("connect", "done", len(pairs), len(pairs))
        return {"bridges": made}

    # 4. Timeline + caption files ------------------------------------------------------------------
    def timeline(self, state: dict[str, Any]) -> dict[str, Any]:
        self._event("render", "done")
        self._event("timeline", "start")
        run, fmt = self.c.run, self.c.format
        music, sfx, bridges = state.get("music"), state.get("sfx") or {}, state.get("bridges") or {}
        credits = self._credits(state)
        card = self._end_card(credits, state) if self.c.options.credits == "end" and credits else None
        key = cache_key("timeline", screenplay=state["screenplay"], format=fmt.model_dump(mode="json"),
                        credits=credits, card=[card.path, card.frames] if card else None,
                        clips={k: [v["path"], v["frames"], v["key"]] for k, v in state["clips"].items()},
                        speech={k: [v["path"], v["key"]] for k, v in state["speech"].items()},
                        music=music, sfx=sfx, bridges={k: [v["path"], v["key"]] for k, v in bridges.items()})
        stem = run.film.with_suffix("")
        subtitles = {ext: run.rel(stem.with_suffix(f".{ext}")) for ext in ("srt", "vtt", "ass")}
        extras = {"otio": run.rel(run.root / "film.otio")}
        if run.cached(run.timeline, key) is None:
            timeline = self._cut(state, music, sfx, bridges, credits, card)
            write_text(run.timeline, timeline.to_json())
            write_subtitles(timeline, fmt, stem)
            write_otio(timeline, run.root, run.root / extras["otio"])
            run.mark_done(run.timeline, key, files=[*subtitles.values(), *extras.values()])
            detail = f"{float(timeline.duration):.1f}s, {len(timeline.cues)} captions"
        else:
            detail = "kept"
        self._event("timeline", "done", detail=detail)
        return {"timeline": run.rel(run.timeline), "timeline_key": key, "subtitles": subtitles, "extras": extras}

    def _credits(self, state) -> list[dict]:
        """The stock items the film shows, with author, page and licence (other pictures need none)."""
        credits = getattr(self.c.renderer, "credits", None)
        if not callable(credits):
            return []
        return [c for c in credits(self._screenplay(state)) if c.get("licence")]

    def _end_card(self, credits: list[dict], state) -> ClipRef:
        from ..media.credits_card import write_end_card

        fmt, run = self.c.format, self.c.run
        frames = shot_frames(4.0, fmt.frame_rate)
        path = run.root / "scenes" / "credits.still.npz"
        key = cache_key("end card", credits=credits, title=self._screenplay(state).title, size=[fmt.width, fmt.height],
                        fps=fmt.fps, frames=frames)
        if run.cached(path, key) is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                write_end_card(tmp, self._screenplay(state).title, credits, fmt, frames)
            run.mark_done(path, key, frames=frames)
        return ClipRef(run.rel(path), frames)

    def _cut(self, state, music, sfx, bridges, credits=(), card=None) -> Timeline:
        screenplay, fmt = self._screenplay(state), self.c.format
        clips = {k: ClipRef(v["path"], v["frames"]) for k, v in state["clips"].items()}
        speech = {k: SpeechRef(v["path"], v["duration"], [tuple(w) for w in v["words"]])
                  for k, v in state["speech"].items()}
        track = TrackRef(music["path"], music["duration"], music.get("tempo_bpm"), music.get("beats_per_bar")) \
            if music else None
        effects = {k: SfxRef(v["path"], v["duration"], k) for k, v in sfx.items()}
        return build_timeline(screenplay, fmt, clips, speech, caption_measure(fmt, screenplay.language), music=track, sfx=effects,
                              bridges={k: ClipRef(v["path"], v["frames"]) for k, v in bridges.items()},
                              credits=credits, end_card=card)

    # 5. Assemble ----------------------------------------------------------------------------------
    def assemble(self, state: dict[str, Any]) -> dict[str, Any]:
        self._event("assemble", "start")
        run = self.c.run
        timeline = Timeline.from_json((run.root / state["timeline"]).read_text(encoding="utf-8"))
        sheet = run.root / "contact_sheet.png"
        previews = [preview_path(c.path) for c in timeline.video if is_still(c.path)]
        key = cache_key("film", timeline=state["timeline_key"])
        meta = run.cached(run.film, key)
        middles = None
        if meta is None:
            total = timeline.frames
            stats, middles = assemble(timeline, self.c.format, run.root, self.c.ffmpeg,
                                      run.root / state["subtitles"]["ass"], run.film,
                                      on_frame=lambda n: self._event("assemble", "step", min(n, total), total))
            meta = {"loudness": stats}
            run.mark_done(run.film, key, **meta)
        if run.cached(sheet, key) is None:  # from the frames the encode played, or played again for it alone
            if middles is None:
                with tempfile.TemporaryDirectory(prefix=".sheet-", dir=run.root) as scratch:
                    middles = middle_frames(timeline, run.root, self.c.ffmpeg, Path(scratch))
            write_contact_sheet(timeline, middles, sheet)
            _write_previews(timeline, middles, run.root)
            run.mark_done(sheet, key, files=previews)
        self._event("assemble", "done")
        return {"film": run.rel(run.film), "extras": {"contact_sheet": run.rel(sheet)},
                "loudness": meta.get("loudness", {})}


def _write_previews(timeline: Timeline, middles: dict[int, bytes], root: Path) -> None:
    """Each still shot's middle frame as a JPEG beside it (film.otio shows it to an editor)."""
    from PIL import Image

    for k, clip in enumerate(timeline.video):
        if is_still(clip.path) and k in middles:
            with atomic_path(root / preview_path(clip.path)) as tmp:
                Image.fromarray(rgb_from_yuv420(middles[k], timeline.width, timeline.height)).save(
                    tmp, format="JPEG", quality=90)


def _write_if_changed(path: Path, text: str) -> None:
    """Rewrite a file only when its content changes (a finished file is not touched on a replay)."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return
    except OSError:
        pass
    write_text(path, text)


def post_options(o) -> dict[str, Any]:
    """What super-resolution and frame interpolation do to generated frames (RenderContext fields)."""
    return {"upscale": o.upscale, "upscaler": o.upscaler, "interpolate": o.interpolate, "interpolator": o.interpolator,
            "upscale_weights": str(o.upscale_weights) if o.upscale_weights else None,
            "interpolate_weights": str(o.interpolate_weights) if o.interpolate_weights else None}


def _tempo_word(bpm: int) -> str:
    return "slow" if bpm < 80 else "moderate" if bpm < 115 else "fast"

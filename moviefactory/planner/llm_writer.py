"""The llm screenwriter: any OpenAI-compatible model turns a theme into a shootable Screenplay.

A small LangGraph runs five model stages and one code stage, each node taking the state and
returning a partial update:

    outline -> screenplay -> characters -> shot_prompts -> music -> validate

The model writes story; the code owns everything a renderer depends on: ids, voices, timing,
transitions, and the character bible inserted verbatim into every prompt of a shot that shows
the character. The theme and every earlier reply travel inside delimited blocks, as material,
never as instructions; nothing a reply contains is executed or used as a path.
"""
from __future__ import annotations

import json
import logging
import operator
from typing import Annotated, Any, Callable, TypedDict, TypeVar

from pydantic import BaseModel, ValidationError

from ..config import load_format
from ..errors import PlanningError
from ..languages import language as film_language
from ..screenplay import Character, Line, MusicBrief, Scene, Screenplay, Shot, Voice
from ..screenplay.validation import describe_errors
from . import repair as fix
from .base import PlanRequest, register_writer
from .llm import ChatClient, LLMSettings
from .material import story_material
from .prompts import render_prompt
from .stages import BibleEntry, CharacterBible, MusicReply, OutlineReply, ScreenplayDraft, ShotPrompts
from .subject import Lead, mentions, read_lead

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
REASKS = 1  # extra asks for what code cannot repair (wrong scene count, a scene without shots)


class PlanState(TypedDict, total=False):
    request: PlanRequest
    plan: OutlineReply  # the outline, trimmed to the scenes the film will have
    draft: ScreenplayDraft  # aligned with the outline, names made canonical
    cast: dict[str, Character]  # name -> bible entry with its voice
    narrator: Voice
    prompts: dict[str, tuple[str, str]]  # shot id -> (prompt, negative prompt)
    score: MusicBrief
    result: Screenplay
    stages: Annotated[list[str], operator.add]  # nodes run, in order


def quote(text: str, limit: int = 500) -> str:
    """Untrusted text made safe to place inside a <block>: one line, no angle brackets."""
    return " ".join(str(text).split())[:limit].replace("<", "‹").replace(">", "›")


def material(data: Any) -> str:
    """Earlier stages' output as one line of JSON for a <block> (it may quote the theme, so no brackets)."""
    return json.dumps(data, ensure_ascii=False).replace("<", "‹").replace(">", "›")


def shot_id(i: int, j: int) -> str:
    return f"s{i + 1:02d}-sh{j + 1:02d}"


class LLMWriter:
    """Screenwriter backed by a ChatClient; `write` runs the planning graph once per request."""

    name = "llm"

    def __init__(self, client: ChatClient) -> None:
        self.client = client
        self._graph = None

    def write(self, request: PlanRequest) -> Screenplay:
        if self._graph is None:
            self._graph = build_graph(self)
        return self._graph.invoke({"request": request, "stages": []})["result"]

    # -- helpers --------------------------------------------------------------------------------
    def _messages(self, req: PlanRequest, template: str, **variables: Any) -> list[dict[str, str]]:
        fmt = load_format(req.format)
        language = req.language
        common = dict(language=language, language_name=film_language(language).name, vertical=fmt.height > fmt.width)
        system = render_prompt("writer_system.j2", length=round(req.seconds), **common)
        user = render_prompt(template, theme=quote(req.theme), **common, **variables)
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    def _ask(self, messages: list[dict[str, str]], model: type[M], stage: str,
             check: Callable[[M], str] = lambda _: "") -> M:
        reply = self.client.structured(messages, model, stage=stage)
        for _ in range(REASKS):
            problem = check(reply)
            if not problem:
                break
            log.info("re-asking the %s stage: %s", stage, problem)
            messages = [*messages, {"role": "assistant", "content": reply.model_dump_json()},
                        {"role": "user", "content": render_prompt("repair.j2", problem=problem)}]
            reply = self.client.structured(messages, model, stage=stage)
        return reply

    @staticmethod
    def _subject(req: PlanRequest) -> Lead | None:
        """The theme's own subject (who or what it is about), read as the offline writer reads it (it
        reads English and Chinese themes)."""
        if req.language not in ("en", "zh"):
            return None  # a theme in another language: its words are not in our lists
        language = "zh" if fix.has_cjk(req.theme) else "en"
        return read_lead(req.theme, language, story_material("en"), story_material(language))

    # -- nodes ----------------------------------------------------------------------------------
    def outline(self, state: PlanState) -> dict:
        req = state["request"]
        pace = story_material("en")["pacing"]
        n = fix.scene_count(req.seconds, req.scenes, pace.get(req.format, pace["widescreen"])["scene_seconds"])
        arc = fix.beat_arc(n)
        msgs = self._messages(req, "outline.j2", scenes=n, per_scene=round(req.seconds / n), beats=arc,
                              max_cast=fix.MAX_CAST)
        lead = self._subject(req)

        def check(r: OutlineReply) -> str:
            wrong = [] if len(r.scenes) == n else [f"the outline has {len(r.scenes)} scenes; write exactly {n}, "
                                                   f"one per beat: {', '.join(arc)}"]
            told = " ".join([r.title, r.logline, *(f"{c.name} {c.role}" for c in r.characters),
                             *(s.summary for s in r.scenes)])
            if lead is not None and not mentions(told, lead, english=not fix.has_cjk(req.theme)):
                wrong.append(f"the theme is about {lead.noun}, and the outline never mentions {lead.noun}: "
                             f"make {lead.noun} the centre of the story")
            return "; ".join(wrong) + ("." if wrong else "")

        reply = self._ask(msgs, OutlineReply, "outline", check)
        plan = fix.normalise_outline(reply, n)
        return {"plan": plan, "stages": ["outline"]}

    def screenplay(self, state: PlanState) -> dict:
        req, plan = state["request"], state["plan"]
        lead = self._subject(req)
        n, per = len(plan.scenes), req.seconds / len(plan.scenes)
        language, spoken = req.language, film_language(req.language)
        budget = int(max(1.0, per - 2.0) * spoken.per_second * req.speech_rate)
        msgs = self._messages(req, "screenplay.j2", outline=material(plan.model_dump()), scenes=n,
                              per_scene=round(per), seconds=round(req.seconds), budget=budget,
                              shots_hint="1 to 3" if per <= 12 else "2 to 4",
                              units="characters" if not spoken.spaced else "words")

        def check(r: ScreenplayDraft) -> str:
            wrong = [] if len(r.scenes) == n else [f"write exactly {n} scenes, one per outline scene, "
                                                   f"not {len(r.scenes)}"]
            wrong += [f"scene {i + 1} has no shots" for i, s in enumerate(r.scenes) if not s.shots]
            lines = [x.text for s in r.scenes for x in s.narration]
            if any(not spoken.script.written_in(t) for t in lines):
                wrong.append(f"every narration line must be written in {spoken.name}")
            shots = [shot for s in r.scenes for shot in s.shots]
            if lead is not None and lead.head and shots:  # shot descriptions are English: the English noun
                roles = {c.name: f"{c.name} {c.role}" for c in plan.characters}
                shown = sum(mentions(" ".join([x.description, *(roles.get(c, c) for c in x.characters)]), lead,
                                     english=True) for x in shots)
                if shown * 2 < len(shots):
                    wrong.append(f"only {shown} of {len(shots)} shots show {lead.head}, the theme's subject: "
                                 f"show {lead.head} in most shots, by name in the description")
            return "; ".join(wrong)

        reply = self._ask(msgs, ScreenplayDraft, "screenplay", check)
        m = min(n, len(reply.scenes))
        scenes, outline = [reply.scenes[k] for k in fix.keep(len(reply.scenes), m)], plan.scenes
        plan = plan.model_copy(update={"scenes": [outline[k] for k in fix.keep(n, m)]})
        return {"plan": plan, "draft": fix.normalise_draft(scenes, plan, req.seconds), "stages": ["screenplay"]}

    def characters(self, state: PlanState) -> dict:
        req, plan, draft = state["request"], state["plan"], state["draft"]
        roles = {c.name: c.role for c in plan.characters}
        names = fix.referenced(plan, draft)[:fix.MAX_CAST]
        if not names:  # a film with only a narrator has no bible to write
            return {"cast": {}, "narrator": fix.assign_voices(req.language, [], req.seed)[0], "stages": ["characters"]}
        cast = [{"name": x, "role": roles.get(x, ""),
                 "appears_in": [s.summary for s in plan.scenes if x in s.characters][:3]} for x in names]
        msgs = self._messages(req, "characters.j2", cast=material(cast))

        def missing(r: CharacterBible) -> list[str]:  # names the reply does not describe
            given = {fix.canonical(e.name, names) for e in r.characters if fix.english(e.description)}
            return [x for x in names if x not in given]

        reply = self._ask(msgs, CharacterBible, "characters", lambda r: "" if not missing(r) else
                          "the bible is missing " + ", ".join(missing(r)) + ": describe every character in the cast")
        entries: dict[str, BibleEntry] = {}
        for e in reply.characters:
            name = fix.canonical(e.name, names)
            if name in names and name not in entries and fix.english(e.description):
                entries[name] = e.model_copy(update={"name": name, "description": fix.english(e.description)})
        for x in names:
            if x not in entries:  # still missing after a re-ask: an archetype look from the offline material
                look, gender = fix.fallback_look(x, roles.get(x, ""), (e.description for e in entries.values()))
                log.info("the model never described %s; using %r", x, look)
                entries[x] = BibleEntry(name=x, description=look, gender=gender)
        narrator, voices = fix.assign_voices(req.language, [(x, entries[x].gender) for x in names], req.seed)
        cast_out = {x: Character(name=x, description=entries[x].description, voice=voices[x]) for x in names}
        return {"cast": cast_out, "narrator": narrator, "stages": ["characters"]}

    def shot_prompts(self, state: PlanState) -> dict:
        req, plan, draft, cast = state["request"], state["plan"], state["draft"], state["cast"]
        fmt = load_format(req.format)
        shots = {shot_id(i, j): (o, s) for i, (o, d) in enumerate(zip(plan.scenes, draft.scenes))
                 for j, s in enumerate(d.shots)}
        listing = [{"id": sid, "setting": o.setting, "time_of_day": o.time_of_day, "description": s.description,
                    "shows": [cast[c].description for c in s.characters if c in cast]} for sid, (o, s) in shots.items()]
        msgs = self._messages(req, "shot_prompts.j2", shots=material(listing), tone=plan.tone or "unspecified",
                              style_prompt=fmt.style_prompt, negative_prompt=fmt.negative_prompt)
        reply = self._ask(msgs, ShotPrompts, "shot_prompts")
        given = {p.id.strip().lower(): p for p in reply.shots}
        prompts = {}
        for sid, (o, s) in shots.items():
            p = given.get(sid)
            body = fix.english(p.prompt) if p else ""
            body = body or f"{s.description}, {o.setting}, {o.time_of_day} light"
            looks = [cast[c].description for c in s.characters if c in cast]
            prompts[sid] = (fix.compose_prompt(looks, body, fmt.style_prompt),
                            fix.merge_terms(p.negative_prompt if p else "", fmt.negative_prompt))
        return {"prompts": prompts, "stages": ["shot_prompts"]}

    def music(self, state: PlanState) -> dict:
        req, plan = state["request"], state["plan"]
        outline = {"title": plan.title, "logline": plan.logline, "tone": plan.tone,
                   "scenes": [{"beat": s.beat, "summary": s.summary} for s in plan.scenes]}
        reply = self._ask(self._messages(req, "music.j2", outline=material(outline)), MusicReply, "music")
        mood = (fix.english(reply.mood).lower().split() or ["calm"])[0].strip(".,;")[:24] or "calm"
        instruments = tuple(dict.fromkeys(x for x in map(fix.english, reply.instruments) if x))[:5]
        return {"score": MusicBrief(mood=mood, tempo_bpm=min(200, max(40, int(reply.tempo_bpm))),
                                    instruments=instruments), "stages": ["music"]}

    def validate(self, state: PlanState) -> dict:
        req, plan, draft, cast = state["request"], state["plan"], state["draft"], state["cast"]
        language = req.language
        fmt = load_format(req.format)
        trans = fix.transitions([d.transition for d in draft.scenes], fmt.scene_transition.duration)
        lines = [[Line(speaker=x.speaker, text=x.text[:600]) for x in d.narration] for d in draft.scenes]

        def need(i: int, texts: list[str]) -> float:
            return fix.narration_need(texts, language, req.speech_rate, trans[i - 1].duration if i else 0.0,
                                      trans[i].duration)

        counts = fix.trim_lines([[x.text for x in ls] for ls in lines], need, req.seconds * (1 + fix.TOLERANCE))
        lines = [ls[:c] for ls, c in zip(lines, counts)]
        needs = [need(i, [x.text for x in ls]) for i, ls in enumerate(lines)]
        durations = fix.fit_durations([[s.duration for s in d.shots] for d in draft.scenes], needs, req.seconds)
        scenes = []
        for i, (o, d) in enumerate(zip(plan.scenes, draft.scenes)):
            shots = tuple(Shot(id=shot_id(i, j), description=s.description, camera=s.camera,
                               motion=round(min(1.0, max(0.0, s.motion)), 2), duration=durations[i][j],
                               characters=tuple(c for c in s.characters if c in cast),
                               prompt=state["prompts"][shot_id(i, j)][0],
                               negative_prompt=state["prompts"][shot_id(i, j)][1]) for j, s in enumerate(d.shots))
            length = sum(durations[i])
            scenes.append(Scene(id=f"s{i + 1:02d}", heading=f"{'INT' if d.interior else 'EXT'}. {o.setting.upper()} - "
                                f"{o.time_of_day.upper()}", setting=o.setting, time_of_day=o.time_of_day, beat=o.beat,
                                shots=shots, narration=tuple(lines[i]),
                                sound_cues=fix.clean_cues(d.sound_cues, length) or fix.bed_cue(
                                    o.setting, [x.description for x in shots], o.time_of_day, length),
                                transition=trans[i]))
        try:
            film = Screenplay.model_validate(Screenplay(
                title=plan.title, logline=plan.logline, tone=plan.tone, language=language, narrator=state["narrator"],
                characters=tuple(cast.values()), scenes=tuple(scenes), music=state["score"]).model_dump())
        except ValidationError as exc:
            raise PlanningError(f"the llm screenwriter could not repair its screenplay: {describe_errors(exc)}",
                                stage="plan") from None
        log.info("llm screenplay: %d scenes, %.1f s (asked %.1f s)", len(scenes), film.duration, req.seconds)
        return {"result": film, "stages": ["validate"]}


def build_graph(writer: LLMWriter):
    """The planning graph for one writer (built on first use, never at import)."""
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(PlanState)
    order = ("outline", "screenplay", "characters", "shot_prompts", "music", "validate")
    for node in order:
        graph.add_node(node, getattr(writer, node))
    for a, b in zip((START, *order), (*order, END)):
        graph.add_edge(a, b)
    return graph.compile()


@register_writer("llm")
def _make(llm: LLMSettings | None = None, **_options: Any) -> LLMWriter:
    if llm is None:
        raise PlanningError("the llm screenwriter needs a model: pass --llm MODEL (and --llm-base-url or an API key)",
                            stage="plan")
    return LLMWriter(ChatClient(llm))

"""Deterministic repair of what a language model wrote: names, languages, timing, transitions, voices.

Pure functions over plain values and the stage reply models. The llm screenwriter prefers these
over asking the model again: they always terminate and give the same answer for the same input.
"""
from __future__ import annotations

import math
import random
import re
import zlib
from typing import Iterable, Sequence

from ..screenplay import NARRATOR, SoundCue, Transition, Voice
from ..timeline.pacing import GAP, LEAD_IN, TAIL
from .material import find_keyword, story_material
from .stages import DraftCue, DraftScene, DraftShot, OutlineReply, ScreenplayDraft

SHOT_MIN, SHOT_MAX = 2.0, 8.0  # what the model is asked for
SHOT_FLOOR = 1.0  # the shortest a shot is squeezed to when the film must fit its length
TOLERANCE = 0.15  # the film may be this much longer or shorter than asked
MAX_CAST = 6
_NARRATORS = {"narrator", "narration", "voice over", "voiceover", "voice-over", "vo", "v.o.", "旁白", "叙述者", "解说",
              # the word in the film languages (configs/languages.yaml), as a model writing in them names it
              "erzähler", "erzählerin", "sprecher", "narrateur", "narratrice", "narrador", "narradora", "narratore",
              "narratrice", "verteller", "berättare", "fortæller", "forteller", "kertoja", "narrator", "lektor",
              "vypravěč", "povestitor", "narátor", "anlatıcı", "người kể chuyện", "рассказчик", "диктор",
              "оповідач", "αφηγητής"}
_CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef]")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_PEOPLE = ("explorer", "detective", "keeper", "sailor", "old_woman", "guide", "fisherman", "girl", "boy")


# names and text -----------------------------------------------------------------------------------
def clean_name(name: str) -> str:
    return " ".join(str(name).strip(" \t\"'“”‘’`*").split())[:60]


def is_narrator(name: str) -> bool:
    return not clean_name(name) or clean_name(name).casefold() in _NARRATORS


def canonical(name: str, known: Iterable[str]) -> str:
    """`name` spelled as in `known` when it matches one (case, titles, a first name), else cleaned."""
    name = clean_name(name)
    low = name.casefold()
    for k in known:
        if k.casefold() == low:
            return k
    for k in known:  # 'Captain Mara' vs 'Mara': one is the other's last or first word
        parts, other = k.casefold().split(), low.split()
        if len(parts) != len(other) and (parts[-1:] == other[-1:] or parts[:1] == other[:1]) and parts and other:
            return k
    return name


def english(text: str) -> str:
    """The text with CJK characters and full-width punctuation removed (image models read English)."""
    kept = _CJK.sub(" ", str(text))
    return " ".join(kept.split()).strip(" ,;:-")


def has_cjk(text: str) -> bool:
    return bool(_CJK.search(text))


def merge_terms(*parts: str) -> str:
    """Comma-separated terms from every part, once each, in order."""
    seen, out = set(), []
    for part in parts:
        for term in english(part).split(","):
            term = term.strip()
            if term and term.casefold() not in seen:
                seen.add(term.casefold())
                out.append(term)
    return ", ".join(out)


def compose_prompt(looks: Sequence[str], prompt: str, style: str) -> str:
    """Character looks (verbatim), then the shot's own prompt, then the format's style."""
    body = english(prompt).rstrip(".")
    missing = [look for look in dict.fromkeys(looks) if look and look not in body]
    return ", ".join(p for p in (*missing, body, style.strip()) if p)


# story shape ------------------------------------------------------------------------------------
def scene_count(seconds: float, scenes: int | None, scene_seconds: float) -> int:
    if scenes:
        return min(60, max(1, int(scenes)))
    return min(12, max(3, round(max(seconds, 1.0) / scene_seconds)))


def beat_arc(n: int) -> list[str]:
    """setup → inciting incident → rising action … → climax → resolution, over n scenes."""
    return (["setup"] + ["inciting incident"] * (n >= 4) + ["rising action"] * max(0, n - 4)
            + ["climax"] * (n >= 3) + ["resolution"] * (n >= 2))


def keep(n_have: int, n_want: int) -> list[int]:
    """Indexes to keep when there are too many scenes: the first ones and always the last."""
    if n_have <= n_want:
        return list(range(n_have))
    return list(range(n_want - 1)) + [n_have - 1]


def cap_shots(counts: Sequence[int], target: float) -> list[int]:
    """Shots per scene, trimmed (busiest scene first) so the film never needs shots under ~2 s."""
    counts = [max(1, c) for c in counts]
    limit = max(len(counts), int(target * (1 + TOLERANCE) / SHOT_MIN))
    while sum(counts) > limit:
        i = max(range(len(counts)), key=lambda k: (counts[k], k))
        counts[i] -= 1
    return counts


def transitions(kinds: Sequence[str], length: float) -> list[Transition]:
    """Valid transitions: every non-cut gets the format's length, the last scene always cuts."""
    length = min(3.0, max(0.3, length or 0.5))
    return [Transition(kind="cut") if kind == "cut" or i == len(kinds) - 1 else Transition(kind=kind, duration=length)
            for i, kind in enumerate(kinds)]


# replies made consistent --------------------------------------------------------------------------
def normalise_outline(reply: OutlineReply, n: int) -> OutlineReply:
    """At most n scenes, a cast of unique names (no narrator), English settings, canonical names."""
    scenes = [reply.scenes[k] for k in keep(len(reply.scenes), n)]
    arc, cast = beat_arc(len(scenes)), {}
    for c in reply.characters:
        name = clean_name(c.name)
        if not is_narrator(name) and name.casefold() not in {k.casefold() for k in cast} and len(cast) < MAX_CAST:
            cast[name] = c.model_copy(update={"name": name, "role": english(c.role)})
    scenes = [s.model_copy(update={
        "beat": english(s.beat).lower()[:40] or arc[i], "setting": english(s.setting) or "open landscape",
        "summary": english(s.summary) or english(s.setting),
        "characters": [canonical(x, cast) for x in s.characters if not is_narrator(x)]}) for i, s in enumerate(scenes)]
    return reply.model_copy(update={"title": " ".join(reply.title.split())[:120], "tone": english(reply.tone),
                                    "characters": list(cast.values()), "scenes": scenes})


def normalise_draft(scenes: Sequence[DraftScene], plan: OutlineReply, seconds: float) -> ScreenplayDraft:
    """Canonical names (narrator aliases become 'Narrator'), capped shots and cast, a shot for an empty scene."""
    known = [c.name for c in plan.characters]

    def name(x: str) -> str:  # new names join `known`, so 'Harbour Master' and 'harbour master' are one person
        found = canonical(x, known)
        if found not in known:
            known.append(found)
        return found

    out = []
    for d, o, count in zip(scenes, plan.scenes, cap_shots([len(s.shots) for s in scenes], seconds)):
        shots = [s.model_copy(update={
            "description": english(s.description) or f"{o.setting}, {o.summary}",
            "characters": list(dict.fromkeys(name(c) for c in s.characters if not is_narrator(c)))})
            for s in d.shots[:count]] or [DraftShot(description=f"establishing shot of {o.setting}, {o.summary}",
                                                    duration=seconds / len(scenes), characters=o.characters[:2])]
        narration = [x.model_copy(update={"speaker": NARRATOR if is_narrator(x.speaker)
                                          else name(x.speaker)}) for x in d.narration if x.text.strip()]
        out.append(d.model_copy(update={"shots": shots, "narration": narration}))
    draft = ScreenplayDraft(scenes=out)
    cast = set(referenced(plan, draft)[:MAX_CAST])  # extras leave the shots; the narrator reads their lines
    return ScreenplayDraft(scenes=[d.model_copy(update={
        "shots": [s.model_copy(update={"characters": [c for c in s.characters if c in cast]}) for s in d.shots],
        "narration": [x if x.speaker in cast or x.speaker == NARRATOR else x.model_copy(update={"speaker": NARRATOR})
                      for x in d.narration]}) for d in draft.scenes])


def referenced(plan: OutlineReply, draft: ScreenplayDraft) -> list[str]:
    """Every character the film names: the outline's cast, then shots and speakers, in order of appearance."""
    names = [c.name for c in plan.characters]
    for d in draft.scenes:
        names += [c for s in d.shots for c in s.characters] + [x.speaker for x in d.narration if x.speaker != NARRATOR]
    return list(dict.fromkeys(names))


# timing -----------------------------------------------------------------------------------------
def speech_seconds(texts: Sequence[str], language: str, rate: float) -> float:
    from ..languages import language as film_language

    rate = min(2.0, max(0.5, rate or 1.0))
    spoken = film_language(language)
    if spoken.spaced:
        units = sum(len(t.split()) for t in texts)
    else:  # characters of the script, and any Latin words among them
        units = sum(sum(1 for ch in t if spoken.script.share(ch)) + len(_WORD.findall(t)) for t in texts)
    return units / (spoken.per_second * rate)


def narration_need(texts: Sequence[str], language: str, rate: float, overlap_in: float, overlap_out: float) -> float:
    """Seconds of picture a scene needs for its lines, placed as timeline.pacing places them."""
    if not texts:
        return 0.0
    return LEAD_IN + overlap_in + speech_seconds(texts, language, rate) + GAP * (len(texts) - 1) + TAIL + overlap_out


def trim_lines(lines: Sequence[Sequence[str]], need, budget: float) -> list[int]:
    """How many lines each scene keeps so the narration's needs fit `budget` (drop from the end of
    the wordiest scenes, never a scene's first line). `need(i, texts)` gives scene i's need."""
    counts = [len(x) for x in lines]
    while sum(need(i, list(lines[i][:c])) for i, c in enumerate(counts)) > budget:
        options = [i for i, c in enumerate(counts) if c > 1]
        if not options:
            break
        i = max(options, key=lambda k: need(k, list(lines[k][:counts[k]])))
        counts[i] -= 1
    return counts


def fit_durations(scenes: Sequence[Sequence[float]], needs: Sequence[float], target: float) -> list[list[float]]:
    """Shot lengths that add up to `target` while every scene is long enough for its narration.

    1. each shot into the 2-8 s the model was asked for; 2. all scaled to the target;
    3. scenes too short for their lines grow; 4. the growth is taken back from scenes with slack.
    """
    d = [[min(SHOT_MAX, max(SHOT_MIN, float(x))) for x in s] for s in scenes]
    k = target / sum(map(sum, d))
    d = [[x * k for x in s] for s in d]
    for i, s in enumerate(d):
        if sum(s) < needs[i]:
            d[i] = [x * needs[i] / sum(s) for x in s]
    excess = sum(map(sum, d)) - target
    floors = [max(needs[i], SHOT_FLOOR * len(s)) for i, s in enumerate(d)]
    slack = [max(0.0, sum(s) - floors[i]) for i, s in enumerate(d)]
    if excess > 0 and sum(slack) > 0:
        take = min(1.0, excess / sum(slack))
        d = [[x * (sum(s) - slack[i] * take) / sum(s) for x in s] for i, s in enumerate(d)]
    return [[min(60.0, max(SHOT_FLOOR, math.ceil(x * 100) / 100)) for x in s] for s in d]


def clean_cues(cues: Sequence[DraftCue], duration: float) -> tuple[SoundCue, ...]:
    """Cues inside the scene, in English, at most four, in time order."""
    out = []
    for cue in sorted(cues, key=lambda c: c.at)[:4]:
        text, at = english(cue.description), round(min(cue.at, duration * 0.8), 2)
        length = round(min(cue.duration, 60.0, duration - at), 2)
        if text and length > 0:
            out.append(SoundCue(description=text, at=at, duration=length))
    return tuple(out)


def bed_cue(setting: str, shots: Sequence[str], time_of_day: str, duration: float) -> tuple[SoundCue, ...]:
    """A scene the model gave no sound: its place's bed, as the offline writer would give it (waves for
    a coast, wind for snow), or nothing when its setting names no place the tables know."""
    from .sound import scene_ambience

    bed = scene_ambience(setting, shots, time_of_day, story_material("en")["ambience"])
    return (SoundCue(description=bed, at=0.0, duration=round(min(duration, 8.0), 2)),) if bed else ()


# characters and voices --------------------------------------------------------------------------
def fallback_look(name: str, role: str, taken: Iterable[str]) -> tuple[str, str]:
    """A fixed look (and 'f'/'m') for a character the model never described: an offline archetype
    whose keywords match the name or role, else a stable pick among the human ones."""
    archetypes, taken = story_material("en")["archetypes"], set(taken)
    text = f"{name} {role}".lower()
    spots = sorted((find_keyword(text, a.get("keywords", [])), k) for k, a in archetypes.items())
    keys = [k for p, k in spots if p >= 0] or [_PEOPLE[(zlib.crc32(name.encode()) + i) % len(_PEOPLE)]
                                             for i in range(len(_PEOPLE))]
    key = next((k for k in keys if archetypes[k]["look"] not in taken), keys[0])
    return archetypes[key]["look"], archetypes[key]["gender"]


def _spare_voices(language: str) -> list[str]:
    base = "cmn" if language == "zh" else language
    return [f"{base}+{v}{i}" for v in "mf" for i in range(1, 8 if v == "m" else 6)]


def _in_language(voice_id: str, language: str) -> str:
    """An English pool's espeak voice for another language: en-us+m3 -> de+m3 (same variant)."""
    if language in ("en", "zh"):
        return voice_id
    return f"{language}+{voice_id.partition('+')[2]}" if "+" in voice_id else language


def assign_voices(language: str, cast: Sequence[tuple[str, str]], seed: int) -> tuple[Voice, dict[str, Voice]]:
    """The narrator's voice and one per character, all different, from the offline writer's pools."""
    pools = story_material("zh" if language == "zh" else "en")["voices"]
    rng = random.Random(zlib.crc32(f"{seed}|{language}|{'|'.join(n for n, _ in cast)}".encode()))
    narrator = Voice(id=_in_language(rng.choice(pools["narrator"]), language), pitch=50)
    used, voices = {narrator.id}, {}
    for name, gender in cast:
        options = [v for v in pools[gender] if v not in used] or [v for v in _spare_voices(language) if v not in used]
        vid = rng.choice(options) if options else rng.choice(pools[gender])
        voices[name] = Voice(id=_in_language(vid, language),
                             pitch=rng.randint(56, 66) if gender == "f" else rng.randint(36, 46))
        used.add(vid)
    return narrator, voices


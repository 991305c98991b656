"""The offline screenwriter: a deterministic Screenplay built from the theme's own words, no network.

Story material lives in prompts/offline/{en,zh}.yaml (en.yaml is the base: visual prompts are always
English; zh.yaml adds Chinese keywords, names, places and narration under the same keys). This module
reads the theme, picks from the material with an RNG seeded by the request, and fits the timing.
"""
from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from ..errors import PlanningError
from ..screenplay import NARRATOR, Character, Line, MusicBrief, Scene, Screenplay, Shot, SoundCue, Transition, Voice
from .base import PlanRequest, register_writer
from .material import find_keyword, story_material
from .sound import scene_ambience, scene_events, theme_music
from .subject import Lead, read_lead

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_WORD = re.compile(r"[A-Za-z][A-Za-z'’]*")
_PUNCT = " '-,.!?:;，。！？：；、·"
_BREATH, _GAP = 1.2, 0.3  # seconds of picture around the narration, and between its lines
_SHOT_MIN, _SHOT_MAX, _MAX_SHOTS = 2.0, 8.0, 3


def _clean(text: str) -> str:
    """Letters, digits and plain punctuation only: quotes, emoji, symbols and control characters go."""
    kept = "".join(c if unicodedata.category(c)[0] in "LN" or c in _PUNCT else " " for c in text)
    return " ".join(kept.split()).strip(_PUNCT)


def _ceil10(x: float) -> float:
    return math.ceil(round(x * 10, 6)) / 10


@dataclass(frozen=True)
class _Theme:
    short: str  # the theme as narration can quote it
    title: str
    heroes: tuple[str, ...]  # archetype keys named in the theme, in order of appearance
    world: str  # settings key
    time: str | None  # time of day the theme forces ('moon' -> night), if any
    weather: str | None
    subject: str  # a theme word for narration ('adventure', '少林寺')
    topic: str  # what an explainer explains
    motif: str  # an ASCII theme word for image prompts, or ""
    explainer: bool
    lead: Lead | None = None  # the theme's own subject: the film is about it


class _Draft:
    """One screenplay being written: the request, its material and its seeded RNG."""

    def __init__(self, req: PlanRequest, root: str | None) -> None:
        self.req, self.lang = req, ("zh" if req.language == "zh" else "en")
        self.en, self.tx = story_material("en", root), story_material(self.lang, root)
        key = "|".join(map(str, (req.theme, self.lang, req.seconds, req.scenes, req.seed, req.format, req.speech_rate)))
        self.rng = random.Random(int.from_bytes(hashlib.sha256(key.encode("utf-8", "replace")).digest()[:8], "big"))
        self.pace = self.en["pacing"].get(req.format, self.en["pacing"]["widescreen"])
        self.rate = min(2.0, max(0.5, float(req.speech_rate or 1.0)))

    def t(self, *path):
        """A value from this language's material, falling back to the English base."""
        for node in (self.tx, self.en):
            for p in path:
                node = node.get(p) if isinstance(node, dict) else None
            if node not in (None, "", [], {}):
                return node
        return None

    def hits(self, table: str, low: str) -> list[str]:
        """Keys of `table` whose keywords (in either language) occur in the theme, in order of appearance."""
        extra = self.tx.get(table, {}) if self.tx is not self.en else {}
        spots = [(find_keyword(low, e.get("keywords", []) + extra.get(k, {}).get("keywords", [])), k)
                 for k, e in self.en[table].items()]
        return [k for p, k in sorted(spots) if p >= 0]

    def analyse(self) -> _Theme:
        en, rng, zh = self.en, self.rng, self.lang == "zh"
        raw = " ".join(str(self.req.theme).split())[:400]
        clean, low = _clean(raw), raw.lower()  # keywords may be emoji; words and titles come from clean text
        patterns = en["explainer_patterns"] + (self.tx["explainer_patterns"] if zh else [])
        explainer = any(re.search(p, low) for p in patterns)
        heroes = ["guide"] if explainer else self.hits("archetypes", low)[:2]
        places, wx = self.hits("settings", low), next(iter(self.hits("weather", low)), None)
        world = next((k for k in en["settings"] if k in places), None) or en["weather"].get(wx, {}).get("world") \
            or (en["archetypes"][heroes[0]]["home"] if heroes and not explainer else None) \
            or rng.choice(en["fallback_settings"]["explainer" if explainer else "story"])
        time = next(iter(self.hits("times", low)), None) or en["weather"].get(wx, {}).get("time") \
            or en["settings"][world].get("time")
        known = {str(k).lower() for table in ("archetypes", "settings", "times", "weather")
                 for e in en[table].values() for k in e.get("keywords", [])}
        stop = set(en["stopwords"]) | set(en["explainer_words"])
        words = [w.lower().replace("’", "'").removesuffix("'s").strip("'")[:20] for w in _WORD.findall(clean)]
        salient = [w for w in words if w and w not in stop]
        free = [w for w in salient if w not in known and w.removesuffix("s") not in known]
        subject, topic = (free or [""])[-1], " ".join(salient[:4])
        motif = topic if explainer else (subject if subject in free and subject not in en["abstract_words"] else "")
        lead = clean.split()[:10]
        short = " ".join([lead[0].lower() if lead[0].lower() in stop else lead[0]] + lead[1:]) if lead else ""
        small = set(en["title_small_words"])
        title = " ".join(w[:24] if i and w.lower() in small else w[:1].upper() + w[1:24]
                         for i, w in enumerate(clean.split()))
        title = title[:100].rsplit(" ", 1)[0] if len(title) > 100 else title
        if zh and _CJK.search(clean):  # Chinese: the head noun ends the phrase ('月光下的少林寺' -> 少林寺)
            body = clean
            for p in self.tx["explainer_patterns"] if explainer else ():
                body = re.sub(p, "", body)
            segs = [s for s in re.split(r"[的之\s" + re.escape(_PUNCT) + "]+", body) if s]
            subject = re.sub(self.tx["measure_prefix"], "", segs[-1])[-6:] if segs else ""
            topic = re.sub(r"[\s" + re.escape(_PUNCT) + "]", "", body).removesuffix("的")[:12]
            title = re.sub(r"\s", "", clean)[:40]
            short = title[:16]
        fallback = self.t("fallback_subject")
        lead = None if explainer else read_lead(raw, self.lang, en, self.tx)
        motif = "" if lead is not None else motif  # the subject itself is in the shots now
        return _Theme(short or self.t("fallback_theme"), title or self.t("fallback_title"), tuple(heroes), world, time, wx,
                      subject or fallback, topic or subject or fallback, motif, explainer, lead)

    def told(self, th: _Theme) -> str:
        """The theme as narration quotes it: for an English theme with a subject, a noun phrase built
        from its parts ("several giant wooly mammoths, treading through a snowy meadow"), since the
        line the user typed may be a sentence or a prompt."""
        lead = th.lead
        if lead is None or self.lang == "zh" or not lead.phrase:
            return th.short
        told = lead.phrase + (f" as {'an' if lead.role[:1] in 'aeiou' else 'a'} {lead.role}" if lead.role else "")
        told += f", {lead.action}" if lead.action else ""
        return told + (f" in the {lead.place}" if lead.place and lead.place not in lead.action else "")

    def stock_hero(self, th: _Theme) -> bool:
        """The theme's subject is a stock character's very word ('a cat', 'the astronaut'): that
        character plays it, in its own look. Otherwise the subject is a character of its own."""
        lead = th.lead
        if lead is None or not th.heroes:
            return lead is None
        stock = self.en["archetypes"][th.heroes[0]]
        keywords = {str(k).lower() for k in stock["keywords"]}  # English, as lead.head is
        word = lead.head.removesuffix("s") if lead.head.removesuffix("s") in keywords else lead.head
        # the stock look must say the subject's word: a samurai is not dressed as the stock swordsman
        return lead.bare and not lead.role and word in keywords and re.search(rf"\b{re.escape(word)}", stock["look"]) is not None

    def cast(self, th: _Theme, narrator: str) -> list[tuple[str, Character]]:
        rng, st = self.rng, self.en["settings"][th.world]
        lead = th.lead
        if lead is not None and lead.phrase and not self.stock_hero(th):
            # the subject itself is the hero, looking as the theme says (a stock look would replace it)
            gender = rng.choice("fm")
            look = lead.phrase + (f" as {'an' if lead.role[:1] in 'aeiou' else 'a'} {lead.role}" if lead.role else "")
            voice = Voice(id=rng.choice([v for v in self.t("voices", gender) if v != narrator]),
                          pitch=rng.randint(56, 66) if gender == "f" else rng.randint(36, 46))
            name = lead.ref if self.lang == "zh" else " ".join(w[:1].upper() + w[1:] for w in lead.ref.split()[1:])
            return [("", Character(name=name[:40], description=look, voice=voice))]
        keys = list(th.heroes) or [rng.choice(st["heroes"])]
        mates = [k for k in st["companions"] if k not in keys]
        if len(keys) == 1 and not th.explainer and mates and rng.random() < 0.7:
            keys.append(rng.choice(mates))
        out, used = [], {narrator}
        for key in keys:
            gender = self.en["archetypes"][key]["gender"]
            names = [n for n in self.t("archetypes", key, "names") if n not in used] or [f"{key} {len(out) + 1}"]
            voice = Voice(id=rng.choice([v for v in self.t("voices", gender) if v not in used]),
                          pitch=rng.randint(56, 66) if gender == "f" else rng.randint(36, 46))
            look = self.en["archetypes"][key]["look"]
            out.append((key, Character(name=rng.choice(names), description=look, voice=voice)))
            used |= {out[-1][1].name, voice.id}
        return out

    def need(self, texts: list[str]) -> float:
        """Seconds of picture the lines need: speech at the preset's rate, a breath, and gaps between lines."""
        if self.lang == "zh":
            units = sum(len(_CJK.findall(x)) + len(_WORD.findall(x)) for x in texts) / (4.5 * self.rate)
        else:
            units = sum(len(x.split()) for x in texts) / (2.6 * self.rate)
        return units + _BREATH + _GAP * max(0, len(texts) - 1)

    def fill(self, template: str, v: dict) -> str:
        text = " ".join(template.format_map(v).split())[:600]
        return text[:1].upper() + text[1:]

    def narrate(self, th: _Theme, beat: str, budget: float, v: dict, used: set, cast) -> list[Line]:
        if th.lead is not None and not th.explainer:
            return self.narrate_lead(th.lead, beat, budget, v, used)
        rng = self.rng
        usable = [t for t in self.t("narration", self.genre, beat) if v["friend"] or "{friend" not in t]
        pool = [t for t in usable if t not in used] or usable
        rng.shuffle(pool)
        texts, most = [], 1 + (budget >= 7) + (budget >= 13)
        if beat == "setup" and rng.random() < 0.7:  # most films open by naming their theme
            pool.sort(key=lambda t: "{theme}" not in t)
        for tpl in pool:
            if len(texts) < most and self.need(texts + [self.fill(tpl, v)]) <= budget:
                texts.append(self.fill(tpl, v))
                used.add(tpl)
        if not texts:  # nothing fits the budget: the shortest line, and the scene grows to fit it
            tpl = min(pool, key=lambda t: self.need([self.fill(t, v)]))
            texts = [self.fill(tpl, v)]
            used.add(tpl)
        lines = [Line(speaker=NARRATOR, text=x) for x in texts]
        if len(texts) < 3 and rng.random() < (0.15 if beat == "setup" else 0.4):  # now and then, a character speaks
            who = cast[-1][1] if rng.random() < 0.3 else cast[0][1]
            said = self.fill(rng.choice(self.t("dialogue", self.genre, beat)), v)
            if self.need(texts + [said]) <= budget:
                lines.insert(1, Line(speaker=who.name, text=said))
        return lines

    def narrate_lead(self, lead: Lead, beat: str, budget: float, v: dict, used: set) -> list[Line]:
        """A scene's narration for a theme with a subject: a line that names the subject (what it does,
        in the setup and the climax, when the theme says), then lines of the beat that name nobody."""
        rng = self.rng
        v = dict(v, subject=lead.ref, action=lead.action_said)
        kinds = ["action", beat] if lead.action_said and beat in ("setup", "climax") else [beat]
        firsts = [t for kind in kinds for t in self.t("subject_narration", kind)]
        if beat == "setup" and rng.random() < 0.5:  # open on the theme's own words now and then
            firsts.sort(key=lambda t: "{theme}" not in t)
        fresh = [t for t in firsts if t not in used] or firsts
        first = fresh[0] if beat == "setup" and "{theme}" in fresh[0] else rng.choice(fresh)
        used.add(first)
        texts = [self.fill(first, v)]
        named = ("{hero", "{friend", "{their", "{role", "{a_role", "{subject")
        fillers = [t for t in self.t("narration", "story", beat) if not any(p in t for p in named) and t not in used]
        rng.shuffle(fillers)
        for tpl in fillers:
            if len(texts) < 1 + (budget >= 7) + (budget >= 13) and self.need(texts + [self.fill(tpl, v)]) <= budget:
                texts.append(self.fill(tpl, v))
                used.add(tpl)
        return [Line(speaker=NARRATOR, text=x) for x in texts]

    def shot(self, sid: str, beat: str, j: int, k: int, loc: str, time: str, th: _Theme, cast, prev: str | None,
             duration: float) -> Shot:
        rng, en, sh = self.rng, self.en, self.en["shots"]
        st, chars, roll = en["settings"][th.world], [c for _, c in cast], rng.random()
        lead = th.lead if th.lead is not None and th.lead.phrase else None
        action = lead.action if lead is not None and lead.action and (j == 0 or rng.random() < 0.4) else None
        if (j == 0 and k > 1 and beat in ("setup", "turn")) or roll < 0.2:
            who, seen = [], f"{rng.choice(sh['env_framings'])} {rng.choice(st['details'])}"
            if lead is not None:  # the place, with the theme's subject in it
                who, seen = [chars[0]], f"{seen}, {chars[0].description} {rng.choice(sh['in_view'])}"
        elif len(chars) > 1 and roll > 0.7:
            who = chars[:2]
            seen = f"{rng.choice(sh['framings'])} {who[0].description} and {who[1].description}, " \
                   f"{rng.choice(sh['pair_actions'])}"
        else:
            who = [chars[0] if len(chars) == 1 or rng.random() < (0.85 if lead is not None else 0.7) else chars[1]]
            doing = action if action and who[0] is chars[0] else rng.choice(sh['actions'][beat])
            seen = f"{rng.choice(sh['framings'])} {who[0].description}, {doing}"
        light = rng.choice(st.get("light", {}).get(time) or en["times"][time]["light"])
        weather = rng.choice(en["weather"][th.weather]["visual"]) if th.weather else ""
        motif = sh["motif"].format(motif=th.motif) if th.motif and j == 0 else ""
        lo, hi = en["motion"][beat]
        style = lead.style if lead is not None else ""
        parts = (seen, loc, light, weather, rng.choice(st["palette"]), motif, style)
        return Shot(id=sid, description=", ".join(p for p in parts if p),
                    camera=rng.choice([c for c in sh["cameras"] if c != prev]),
                    motion=round(min(0.8, max(0.2, rng.uniform(lo, hi) + self.pace["motion_boost"])), 2),
                    duration=duration, characters=tuple(c.name for c in who))

    def split(self, total: float) -> list[float]:
        """1-3 shot lengths, each 2-8 s, summing to `total` (a multiple of 0.1 s)."""
        guess = round(total / self.pace["shot_seconds"] + self.rng.uniform(-0.4, 0.4))
        k = max(math.ceil(total / _SHOT_MAX - 1e-9), min(_MAX_SHOTS, int(total // _SHOT_MIN), guess), 1)
        out, left = [], total
        for rest in range(k - 1, 0, -1):
            lo = _ceil10(max(_SHOT_MIN, left - _SHOT_MAX * rest))
            hi = math.floor(min(_SHOT_MAX, left - _SHOT_MIN * rest) * 10 + 1e-6) / 10
            out.append(min(hi, max(lo, round(left / (rest + 1) * self.rng.uniform(0.8, 1.2), 1))))
            left = round(left - out[-1], 1)
        return out + [round(left, 1)]

    def extras(self, i: int, beats: list[str], dur: float, th: _Theme, loc: str, time: str,
               shots: list[Shot]) -> tuple[tuple[SoundCue, ...], Transition]:
        """The scene's sound (its bed, from its setting, and what is heard in it, from the subject, its
        action and the shots) and the transition into the next scene."""
        rng, en, n = self.rng, self.en, len(beats)
        seen = [s.description for s in shots]
        bed = scene_ambience(loc, seen, time, en["ambience"])
        heard = scene_events(seen, en["events"], th.lead, str(self.req.theme))
        heard += [w for w in en["weather"].get(th.weather, {}).get("sounds", []) if w not in heard]
        if bed is None and not heard:  # nothing named: the world's own sounds
            heard = list(en["settings"][th.world]["sounds"])
        cues = [SoundCue(description=bed, at=0.0, duration=round(min(dur, 8.0), 1))] if bed else []
        if heard and rng.random() < 0.85:
            what = heard[0] if rng.random() < 0.7 else rng.choice(heard)
            at = round(rng.uniform(min(0.5, dur * 0.3), dur * 0.6), 1)
            cues.append(SoundCue(description=what, at=at, duration=round(min(rng.uniform(2, 4), dur - at), 1)))
        if i == n - 1 or rng.random() < 0.2 and not (n >= 4 and beats[i + 1] == "climax"):
            return tuple(cues), Transition(kind="cut")
        if n >= 4 and beats[i + 1] == "climax":  # a breath of black before the final act
            return tuple(cues), Transition(kind="fade_black", duration=self.pace["fade_black"])
        return tuple(cues), Transition(kind="crossfade", duration=round(rng.uniform(*self.pace["crossfade"]), 1))

    def build(self) -> Screenplay:
        req, rng, en, pace = self.req, self.rng, self.en, self.pace
        th = self.analyse()
        self.genre = "explainer" if th.explainer else "story"
        seconds = max(float(req.seconds or 0), 1.0)
        n = min(60, max(1, int(req.scenes))) if req.scenes else min(12, max(3, round(seconds / pace["scene_seconds"])))
        n = n if req.scenes else max(n, math.ceil(seconds / (0.9 * _MAX_SHOTS * _SHOT_MAX)))  # very long films only
        # three acts over n scenes: setup -> turn -> rising ... -> climax -> resolution
        beats = ["setup"] + ["turn"] * (n >= 4) + ["rising"] * (n - 4) + ["climax"] * (n >= 3) + ["resolution"] * (n >= 2)
        narrator = Voice(id=rng.choice(self.t("voices", "narrator")), pitch=50)
        cast = self.cast(th, narrator.id)
        (hk, hero), friend = cast[0], (cast[1] if len(cast) > 1 else None)
        st = en["settings"][th.world]
        locs = [(x, False) for x in st["ext"]] + [(x, True) for x in st.get("int", [])]
        rng.shuffle(locs)
        locs = [locs[i % len(locs)] for i in range(n)]
        if n > 2 and rng.random() < 0.4:  # come home: the last scene returns to the first place
            locs[-1] = locs[0]
        if th.lead is not None and th.lead.place:  # the theme's own place opens, closes and recurs
            locs = [(th.lead.place, False) if i % 2 == 0 or i == n - 1 else loc for i, loc in enumerate(locs)]
        arc = rng.choice(en["time_arcs"])
        times = [th.time or arc[b] for b in beats]
        weights = [en["beat_weights"][b] for b in beats]
        budgets = [min(_MAX_SHOTS * _SHOT_MAX, max(_SHOT_MIN, seconds * w / sum(weights))) for w in weights]
        role = self.t("archetypes", hk, "role") if hk else th.lead.head
        their = en["pronouns"][en["archetypes"][hk]["gender"]] if hk else ("their" if th.lead.plural else "its")
        base = dict(hero=hero.name, role=role, a_role=("an " if role[:1] in "aeiou" else "a ") + role, n=n,
                    their=their, friend=friend[1].name if friend else "",
                    friend_role=self.t("archetypes", friend[0], "role") if friend else "", subject=th.subject,
                    topic=th.topic, theme=self.told(th), world=self.t("settings", th.world, "world"))
        used, scripts, vs = set(), [], []
        for beat, budget, (loc, _), time in zip(beats, budgets, locs, times):
            said = th.lead.place_said if th.lead is not None and th.lead.place_said and loc == th.lead.place else None
            vs.append(dict(base, place=said or ((self.t("places", loc) or loc) if self.lang == "zh" else loc),
                           when=rng.choice(self.t("times", time, "when"))))
            scripts.append(self.narrate(th, beat, budget, vs[-1], used, cast))
        needs = [self.need([x.text for x in lines]) for lines in scripts]
        durs = [_ceil10(min(_MAX_SHOTS * _SHOT_MAX, max(b, nd))) for b, nd in zip(budgets, needs)]
        slack = [d - max(nd, _SHOT_MIN) for d, nd in zip(durs, needs)]
        if sum(durs) > seconds * 1.03 and sum(slack) > 0:  # narration overran somewhere: take it back from slack
            cut = min(1.0, (sum(durs) - seconds) / sum(slack))
            durs = [_ceil10(d - s * cut) for d, s in zip(durs, slack)]
        scenes, cam = [], None
        for i, (beat, dur, (loc, inside), time) in enumerate(zip(beats, durs, locs, times)):
            sid, shots, parts = f"s{i + 1:02d}", [], self.split(dur)
            for j, length in enumerate(parts):
                shots.append(self.shot(f"{sid}-sh{j + 1:02d}", beat, j, len(parts), loc, time, th, cast, cam, length))
                cam = shots[-1].camera
            cues, tr = self.extras(i, beats, dur, th, loc, time, shots)
            scenes.append(Scene(id=sid, heading=f"{'INT' if inside else 'EXT'}. {loc.upper()} - {time.upper()}",
                                setting=loc, time_of_day=time, beat=beat, shots=tuple(shots),
                                narration=tuple(scripts[i]), sound_cues=cues, transition=tr))
        mood = en["settings"]["lab" if th.explainer else th.world]
        brief = dict(mood["music"], tone=mood["tone"])
        if not th.explainer:  # the theme's own mood over its world's: giant mammoths are epic, a cute cat playful
            brief = theme_music(str(req.theme), en["moods"], th.lead) or brief
        music = MusicBrief(mood=brief["mood"], instruments=tuple(brief["instruments"]),
                           tempo_bpm=min(200, brief["tempo"] + pace["tempo_boost"]))
        if th.lead is not None:
            logline = self.fill(rng.choice(self.t("subject_loglines")), dict(vs[0], subject=th.lead.ref))
        else:
            logline = self.fill(rng.choice(self.t("loglines", self.genre)), vs[0])
        return Screenplay(title=th.title[:120], logline=logline,
                          tone=brief["tone"], language=self.lang, narrator=narrator, scenes=tuple(scenes),
                          characters=tuple(c for _, c in cast), music=music)


class OfflineWriter:
    """The default screenwriter: no LLM, no network; the same request always gives the same screenplay."""

    name = "offline"

    def __init__(self, material_dir: str | Path | None = None) -> None:
        self.material_dir = str(material_dir) if material_dir else None  # None: prompts/ (yours first)

    def write(self, request: PlanRequest) -> Screenplay:
        if request.language not in ("en", "zh"):
            raise PlanningError(f"the offline writer writes English and Chinese only, not {request.language!r}: "
                                "give it a model (--llm MODEL --llm-base-url URL)", stage="plan")
        try:
            return _Draft(request, self.material_dir).build()
        except ValidationError as exc:  # a flaw in the material, never the user's theme
            raise PlanningError(f"the offline screenwriter wrote an invalid screenplay: {exc}", stage="plan") from exc


@register_writer("offline")
def _make(**options) -> OfflineWriter:
    return OfflineWriter(material_dir=options.get("material_dir"))

"""A scripted OpenAI-compatible model for tests: realistic replies for every stage of the llm writer.

Replies are routed by the stage's schema name (`response_format.json_schema.name`); serve a `Story`
with `FakeOpenAI(default=Reply(respond=Story()))`.
"""
from __future__ import annotations

import json
import re

from moviefactory.config import load_format
from moviefactory.planner import PlanRequest

STAGES = ["OutlineReply", "ScreenplayDraft", "CharacterBible", "ShotPrompts", "MusicReply"]
ELIAS = "a weathered man in his sixties with grey stubble, a navy wool coat, a red knitted cap and a brass lantern"
MIRA = "a ten-year-old girl with two dark braids, a yellow raincoat, red rubber boots and a gap-toothed smile"

OUTLINE = {
    "title": "The Last Light", "logline": "An old keeper and a stranded girl keep the lamp burning through a storm.",
    "tone": "wistful, hopeful",
    "characters": [{"name": "Elias", "role": "old lighthouse keeper"}, {"name": "Mira", "role": "stranded girl"}],
    "scenes": [
        {"beat": "setup", "setting": "lighthouse on a rocky coast", "time_of_day": "dusk",
         "summary": "Elias trims the wick as storm clouds gather.", "characters": ["Elias"]},
        {"beat": "inciting incident", "setting": "storm-lashed beach", "time_of_day": "Night",
         "summary": "A small boat washes ashore with Mira inside.", "characters": ["Elias", "Mira"]},
        {"beat": "climax", "setting": "lamp room at the top of the tower", "time_of_day": "night",
         "summary": "The lamp fails and Mira helps Elias relight it.", "characters": ["Elias", "Mira"]},
        {"beat": "resolution", "setting": "lighthouse on a rocky coast", "time_of_day": "dawn",
         "summary": "At dawn a ship passes safely as they watch.", "characters": ["Elias", "Mira"]},
    ],
}
SCENES_EN = [
    {"interior": False, "transition": "crossfade",
     "shots": [{"description": "a lone lighthouse on a cliff under bruised storm clouds", "camera": "dolly in",
                "motion": 0.3, "duration": 4, "characters": []},
               {"description": "Elias trims the lamp wick by lantern light", "camera": "static", "motion": 0.2,
                "duration": 5, "characters": ["Elias"]}],
     "narration": [{"speaker": "Narrator", "text": "For forty years, Elias had never let the light go dark."}],
     "sound_cues": [{"description": "wind rising over the sea", "at": 0.5, "duration": 3}]},
    {"interior": False, "transition": "cut",
     "shots": [{"description": "a small wooden boat tossed onto the sand by huge waves", "camera": "pan_right",
                "motion": 0.8, "duration": 4, "characters": []},
               {"description": "Elias lifts a soaked girl out of the boat", "camera": "push_in", "motion": 0.6,
                "duration": 5, "characters": ["Elias", "mira"]}],
     "narration": [{"speaker": "Narrator", "text": "The sea had brought him someone to save."},
                   {"speaker": "Mira", "text": "Is the light still on?"}]},
    {"interior": True, "transition": "fade to black",
     "shots": [{"description": "the great lamp sputters and dies in the dark lamp room", "camera": "tilt_up",
                "motion": 0.5, "duration": 4, "characters": []},
               {"description": "Mira holds the lantern steady while Elias strikes a match", "camera": "push_in",
                "motion": 0.7, "duration": 6, "characters": ["Mira", "Elias"]}],
     "narration": [{"speaker": "Narrator", "text": "Out there, a ship was counting on them."}]},
    {"interior": False, "transition": "crossfade",
     "shots": [{"description": "a cargo ship glides past calm water at sunrise", "camera": "pan_left",
                "motion": 0.3, "duration": 5, "characters": []},
               {"description": "Elias and Mira sit on the rocks watching the ship", "camera": "pull_out",
                "motion": 0.2, "duration": 5, "characters": ["Elias", "Mira"]}],
     "narration": [{"speaker": "Narrator", "text": "Some nights, keeping a promise is enough."}]},
]
BIBLE = {"characters": [{"name": "Elias", "description": ELIAS, "gender": "male"},
                        {"name": "Mira", "description": MIRA, "gender": "f"}]}
MUSIC = {"mood": "Wistful", "tempo_bpm": 72, "instruments": ["strings", "piano", "celesta"]}


def shot_prompts(body: dict) -> dict:
    """Answers for exactly the shot ids the writer sent, as a model would."""
    listing = json.loads(re.search(r"<shots>\s*(.*?)\s*</shots>", last_user(body), re.S).group(1))
    return {"shots": [{"id": s["id"], "prompt": f"{s['description']}, {s['setting']}, {s['time_of_day']} light, "
                       "medium shot, 35mm lens, volumetric haze", "negative_prompt": "extra limbs, duplicate faces"}
                      for s in listing]}


def last_user(body: dict) -> str:
    return [m["content"] for m in body["messages"] if m["role"] == "user"][-1]


class Story:
    """The scripted model: one reply (or a list, taken in turn; or a function of the body) per stage."""

    def __init__(self, **overrides):
        self.replies = {"OutlineReply": OUTLINE, "ScreenplayDraft": {"scenes": SCENES_EN}, "CharacterBible": BIBLE,
                        "ShotPrompts": shot_prompts, "MusicReply": MUSIC, **overrides}
        self.seen: list[str] = []
        self.bodies: list[dict] = []

    def __call__(self, body: dict) -> str:
        stage = body["response_format"]["json_schema"]["name"]
        self.seen.append(stage)
        self.bodies.append(body)
        reply = self.replies[stage]
        if isinstance(reply, list):
            reply = reply.pop(0) if len(reply) > 1 else reply[0]
        reply = reply(body) if callable(reply) else reply
        return reply if isinstance(reply, str) else json.dumps(reply, ensure_ascii=False)

    def bodies_of(self, stage: str) -> list[dict]:
        return [b for b in self.bodies if b["response_format"]["json_schema"]["name"] == stage]


def request(theme="A lighthouse keeper and a storm", language="en", seconds=40.0, scenes=None, fmt="widescreen"):
    return PlanRequest(theme=theme, language=language, seconds=seconds, scenes=scenes, seed=3, format=fmt,
                       speech_rate=load_format(fmt).speech_rate)


ZH_OUTLINE = {
    "title": "月光下的少林寺", "logline": "一个小和尚在月光下守护古寺的钟声。", "tone": "serene, mysterious",
    "characters": [{"name": "慧明", "role": "young monk"}, {"name": "Master Yuan", "role": "old abbot"}],
    "scenes": [{**s, "characters": ["慧明"] + (["Master Yuan"] if i == 2 else [])}
               for i, s in enumerate([
                   {"beat": "setup", "setting": "mountain temple courtyard", "time_of_day": "night",
                    "summary": "A young monk sweeps the moonlit courtyard."},
                   {"beat": "turn", "setting": "bell tower", "time_of_day": "night",
                    "summary": "The great bell falls silent."},
                   {"beat": "climax", "setting": "bell tower stairs", "time_of_day": "night",
                    "summary": "The monk climbs the tower to ring the bell."}])],
}
ZH_SCENES = {"scenes": [
    {"shots": [{"description": "a young monk sweeping a moonlit temple courtyard", "camera": "push_in",
                "duration": 5, "characters": ["慧明"]}],
     "narration": [{"speaker": "旁白", "text": "月光洒满了古老的寺院。"}]},
    {"shots": [{"description": "a huge bronze bell hanging silent in the dark tower", "camera": "tilt_up",
                "duration": 5, "characters": []}],
     "narration": [{"speaker": "慧明", "text": "钟声为什么停了？"}]},
    {"shots": [{"description": "the monk climbing steep stone stairs, the abbot watching", "camera": "tilt_up",
                "duration": 6, "characters": ["慧明", "Master Yuan"]}],
     "narration": [{"speaker": "Narrator", "text": "他终于明白，钟声来自心中。"}]},
]}
ZH_BIBLE = {"characters": [
    {"name": "慧明", "description": "a young shaolin monk with a shaved head, an ochre robe and wooden prayer beads",
     "gender": "m"},
    {"name": "Master Yuan", "description": "an elderly abbot with a long white beard in a plain grey robe (老方丈)",
     "gender": "m"}]}


def zh_story() -> "Story":
    return Story(OutlineReply=ZH_OUTLINE, ScreenplayDraft=ZH_SCENES, CharacterBible=ZH_BIBLE)


DE_OUTLINE = {
    "title": "Der Tanz im Regen", "logline": "Ein kleiner Roboter lernt im Regen zu tanzen.", "tone": "warm, playful",
    "characters": [{"name": "Bolt", "role": "small robot"}],
    "scenes": [
        {"beat": "setup", "setting": "rainy city street", "time_of_day": "dusk",
         "summary": "Bolt watches people dance in the rain.", "characters": ["Bolt"]},
        {"beat": "climax", "setting": "rainy city square", "time_of_day": "night",
         "summary": "Bolt tries his first steps in the puddles.", "characters": ["Bolt"]},
        {"beat": "resolution", "setting": "rainy city square", "time_of_day": "dawn",
         "summary": "Bolt dances until the sun comes up.", "characters": ["Bolt"]},
    ],
}
DE_SCENES = {"scenes": [
    {"shots": [{"description": "a small round robot watching dancers under umbrellas in the rain",
                "camera": "push_in", "duration": 5, "characters": ["Bolt"]}],
     "narration": [{"speaker": "Erzähler", "text": "Jeden Abend schaute Bolt den Menschen im Regen zu."}]},
    {"shots": [{"description": "the small robot splashing through puddles on a night square", "camera": "pan_left",
                "duration": 5, "characters": ["Bolt"]}],
     "narration": [{"speaker": "Narrator", "text": "Dann wagte er seinen ersten Schritt."},
                   {"speaker": "Bolt", "text": "Schön, so schön!"}]},
    {"shots": [{"description": "the robot spinning in the rain as the sky turns pink", "camera": "pull_out",
                "duration": 6, "characters": ["Bolt"]}],
     "narration": [{"speaker": "Narrator", "text": "Er tanzte, bis die Sonne über der Stadt aufging."}]},
]}
DE_BIBLE = {"characters": [{"name": "Bolt", "description": "a small round robot with a dented copper shell and "
                                                            "glowing blue eyes", "gender": "m"}]}


def de_story() -> "Story":
    return Story(OutlineReply=DE_OUTLINE, ScreenplayDraft=DE_SCENES, CharacterBible=DE_BIBLE)


def _translated(outline: dict, lines: list[list[tuple[str, str]]], title: str, logline: str) -> "Story":
    """DE_STORY's film with its title, logline and narration in another language."""
    scenes = [{**scene, "narration": [{"speaker": who, "text": text} for who, text in said]}
              for scene, said in zip(DE_SCENES["scenes"], lines)]
    return Story(OutlineReply={**outline, "title": title, "logline": logline}, ScreenplayDraft={"scenes": scenes},
                 CharacterBible=DE_BIBLE)


def ar_story() -> "Story":
    return _translated(DE_OUTLINE, [[("Narrator", "كل مساء كان بولت يراقب الناس تحت المطر.")],
                                    [("Narrator", "ثم تجرأ على خطوته الأولى."), ("Bolt", "جميل، جميل جدا!")],
                                    [("Narrator", "رقص حتى أشرقت الشمس فوق المدينة.")]],
                       "الرقص تحت المطر", "روبوت صغير يتعلم الرقص تحت المطر.")

"""The offline writer's film is about what the theme says: its own subject in most shots and in the
narration of most scenes, for themes nobody tuned the material for. The expected words are written
here by hand, not taken from the writer's reading of the theme."""
from __future__ import annotations

import re

import pytest

from moviefactory.planner.base import PlanRequest
from moviefactory.planner.offline import OfflineWriter

# theme, language, words of the subject as the shots (English) say it, as the narration says it
THEMES = [
    ("Several giant wooly mammoths approach treading through a snowy meadow", "en", ["mammoth"], ["mammoth"]),
    ("Marvel movie style, super cute Siamese cat as a sushi chef", "en", ["siamese cat"], ["cat"]),
    ("An astronaut's space adventure", "en", ["astronaut"], ["astronaut"]),
    ("A lighthouse keeper and a storm", "en", ["lighthouse keeper"], ["keeper"]),
    ("A cat on a windowsill", "en", ["cat"], ["cat"]),
    ("A fox in the first snow", "en", ["fox"], ["fox"]),
    ("A robot learns to dance in the rain", "en", ["robot"], ["robot"]),
    ("The old monk walked slowly through the misty courtyard", "en", ["monk"], ["monk"]),
    ("A paper boat on a rainy street", "en", ["paper boat"], ["boat"]),
    ("Two otters holding hands in a river", "en", ["otter"], ["otter"]),
    ("A dragon guarding its treasure in a cave", "en", ["dragon"], ["dragon"]),
    ("A herd of elephants crossing the savanna at sunset", "en", ["elephant"], ["elephant"]),
    ("An old fisherman and the sea", "en", ["fisherman"], ["fisherman"]),
    ("A little girl flies a red kite over the hills", "en", ["girl"], ["girl"]),
    ("A jellyfish drifting through a neon coral reef", "en", ["jellyfish"], ["jellyfish"]),
    ("A grumpy baker opens his shop at dawn", "en", ["baker"], ["baker"]),
    ("Tiny snails racing across a garden path after rain", "en", ["snail"], ["snail"]),
    ("A samurai walks through a field of cherry blossoms", "en", ["samurai"], ["samurai"]),
    ("A whale sings beneath the arctic ice", "en", ["whale"], ["whale"]),
    ("A firefighter rescues a kitten from a tall tree", "en", ["firefighter"], ["firefighter"]),
    ("三只熊猫在竹林里打雪仗", "zh", ["panda"], ["熊猫"]),
    ("长城上的日出与一位老邮差", "zh", ["postman"], ["邮差"]),
    ("敦煌壁画里的飞天在夜里醒来", "zh", ["apsara"], ["飞天"]),
    ("一只小狐狸在雪地里寻找妈妈", "zh", ["fox"], ["狐狸"]),
    ("机器人在雨中学跳舞", "zh", ["robot"], ["机器人"]),
    ("老渔夫和大海", "zh", ["fisherman"], ["渔夫"]),
    ("两只企鹅在南极过河", "zh", ["penguin"], ["企鹅"]),
]


def _has(text: str, words: list[str]) -> bool:
    low = text.lower()
    return any(w in low for w in words)


@pytest.mark.parametrize("fmt,seconds,seed", [("vertical", 60, 7), ("widescreen", 90, 3)])
@pytest.mark.parametrize("theme,lang,seen,said", THEMES, ids=[t[0][:28] for t in THEMES])
def test_the_theme_s_subject_is_in_most_shots_and_most_scenes_narration(theme, lang, seen, said, fmt, seconds, seed):
    sp = OfflineWriter().write(PlanRequest(theme=theme, language=lang, seconds=seconds, scenes=None, seed=seed,
                                           format=fmt, speech_rate=1.0))
    shots = [shot.description for scene in sp.scenes for shot in scene.shots]
    shown = sum(_has(d, seen) for d in shots) / len(shots)
    told = sum(_has(" ".join(line.text for line in scene.narration), said) for scene in sp.scenes) / len(sp.scenes)
    assert shown >= 0.6, (shown, shots)
    assert told >= 0.5, (told, [[line.text for line in scene.narration] for scene in sp.scenes])
    assert _has(sp.title + " " + sp.logline, said), (sp.title, sp.logline)
    # the story's shape stays: setup first, resolution last, a climax before it
    beats = [scene.beat for scene in sp.scenes]
    assert beats[0] == "setup" and beats[-1] == "resolution" and "climax" in beats
    if lang == "en":  # narration the subject's words were put into still reads as English
        for scene in sp.scenes:
            for line in scene.narration:
                assert not re.search(r"\b(the the|a a|an an|the a|a the)\b", line.text.lower()), line.text
                assert "{" not in line.text and line.text[:1].isupper(), line.text


def test_a_stock_character_never_replaces_the_subject_s_own_look():
    """A Siamese cat stays Siamese: the stock cat (an orange tabby) is not put in its place."""
    sp = OfflineWriter().write(PlanRequest(theme="Marvel movie style, super cute Siamese cat as a sushi chef",
                                           language="en", seconds=40, scenes=None, seed=1, format="vertical"))
    shots = " ".join(shot.description for scene in sp.scenes for shot in scene.shots).lower()
    assert "tabby" not in shots and "sushi chef" in shots and "marvel movie style" in shots

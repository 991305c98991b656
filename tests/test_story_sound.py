"""Sound follows the story: the music brief's mood and each scene's sound cues come from the theme and
the scenes (wind for snow, waves for a coast, heavy footsteps for mammoths), and the default library's
text retriever then finds the clips those words describe."""
import pytest

from moviefactory.audio.foley import default_sfx_dir
from moviefactory.audio.retrieval import open_retriever
from moviefactory.planner import create_writer
from scripted_llm import request

# theme, language, a word every scene's bed has, a word some cue names, the music's mood
CASES = [
    ("Several giant wooly mammoths approach treading through a snowy meadow", "en", "snow", "footsteps", "epic"),
    ("A fox in the first snow", "en", "snow", "paws", None),
    ("A surfer rides the biggest wave of her life on a stormy coast", "en", "wave", "crashing", "tense"),
    ("A dragon guards its treasure in a volcano", "en", None, "roar", "epic"),
    ("Super cute kittens play in a sunny garden", "en", "birds", "meowing", "playful"),
    ("三只熊猫在竹林里打雪仗", "zh", None, "laughing", "playful"),
    ("几头猛犸象穿过雪地", "zh", "snow", "footsteps", "epic"),
    ("A haunted house on a stormy night", "en", None, None, "eerie"),
]


def _plan(theme, lang):
    return create_writer("offline").write(request(theme=theme, language=lang, seconds=40.0))


@pytest.mark.parametrize("theme, lang, bed, heard, mood", CASES)
def test_the_screenplay_sounds_like_its_theme(theme, lang, bed, heard, mood):
    film = _plan(theme, lang)
    cues = [[c.description for c in s.sound_cues] for s in film.scenes]
    assert all(cues), cues  # every scene has a sound
    if bed:
        assert sum(bed in " ".join(c) for c in cues) * 2 >= len(cues), cues
    if heard:
        assert any(heard in " ".join(c) for c in cues), cues
    if mood:
        assert film.music.mood == mood
    # nothing heard that the scene cannot have: no fireplace in a meadow, no cat in a panda film
    everything = " ".join(" ".join(c) for c in cues)
    assert "fire" not in everything or any(w in " ".join(s.setting for s in film.scenes)
                                           for w in ("cabin", "hut", "cottage", "tavern", "inn", "volcano"))
    assert ("cat meowing" in everything) == ("cat" in theme or "kitten" in theme)


def test_chinese_keywords_match_whole_words_not_characters():
    from moviefactory.planner.sound import _find

    assert _find("三只熊猫在竹林里打雪仗", ["猫"]) == -1  # 熊猫 is a panda, not a cat
    assert _find("三只熊猫在竹林里打雪仗", ["打雪仗"]) == 8
    assert _find("two snowy meadows", ["meadow"]) == 10 and _find("snowman", ["snow"]) == -1  # whole words, plurals too


def test_the_default_library_finds_what_the_cues_describe():
    """The mammoth film's cues, through the text retriever over the default sound library, are wind and
    footsteps in snow, not what the old template world gave it (a crackling fireplace)."""
    film = _plan(CASES[0][0], "en")
    effects = open_retriever(default_sfx_dir(), prefer="text")
    found = {effects.search(f"{c.description} {s.setting}", k=1)[0].item.id
             for s in film.scenes for c in s.sound_cues}
    assert {"footsteps-snow", "wind-howling"} & found and "footsteps-snow" in found, found
    assert not found & {"fire-crackling", "campfire-night"}


def test_a_scene_the_model_left_silent_gets_its_place_sound():
    """The LLM writer keeps a model's cues; a scene it gave none gets its place's bed, as offline."""
    from fake_openai import FakeOpenAI, Reply
    from moviefactory.planner.llm import ChatClient, LLMSettings
    from moviefactory.planner.llm_writer import LLMWriter
    from scripted_llm import de_story

    story = de_story()  # its scenes have no sound cues; their settings are rainy city streets and squares
    with FakeOpenAI(default=Reply(respond=story)) as server:
        settings = LLMSettings(model="test-model", base_url=server.base_url, api_key="sk-test", timeout=5,
                               max_retries=0)
        film = LLMWriter(ChatClient(settings)).write(request(theme="Ein Roboter tanzt", language="de"))
    beds = [(s.setting, [c.description for c in s.sound_cues]) for s in film.scenes]
    assert beds == [("rainy city street", ["city traffic and distant voices"]),
                    ("rainy city square", ["the murmur of a crowd"]), ("rainy city square", ["the murmur of a crowd"])]

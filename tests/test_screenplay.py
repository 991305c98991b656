import json

import pytest

from moviefactory.errors import ScreenplayError
from moviefactory.screenplay import load_screenplay, parse_screenplay, screenplay_schema

from factories import tiny_screenplay


def test_round_trip_through_json():
    sp = tiny_screenplay()
    again = parse_screenplay(json.loads(sp.model_dump_json()))
    assert again == sp
    assert sp.duration == pytest.approx(7.5)


def test_schema_describes_every_field_for_an_llm():
    schema = screenplay_schema()
    shot = schema["$defs"]["Shot"]["properties"]
    assert all("description" in v for v in shot.values())
    assert "push_in" in json.dumps(schema)


@pytest.mark.parametrize("path, value, expected", [
    (("scenes", 0, "shots", 0, "duration"), -1, "scenes.0.shots.0.duration"),
    (("scenes", 0, "shots", 0, "camera"), "zoom_wildly", "scenes.0.shots.0.camera"),
    (("scenes", 1, "narration", 0, "speaker"), "Bob", "scenes[1].narration[0].speaker"),
    (("scenes", 1, "shots", 1, "characters"), ["Zed"], "scenes[1].shots[1].characters"),
    (("scenes", 0, "id"), "Bad Id!", "scenes.0.id"),
    (("scenes", 0, "transition", "duration"), 0, "transition"),
])
def test_validation_names_the_bad_field(path, value, expected):
    data = json.loads(tiny_screenplay().model_dump_json())
    node = data
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ScreenplayError) as err:
        parse_screenplay(data)
    assert expected in str(err.value)


def test_duplicate_ids_are_rejected():
    data = json.loads(tiny_screenplay().model_dump_json())
    data["scenes"][1]["id"] = "s01"
    with pytest.raises(ScreenplayError, match="used twice"):
        parse_screenplay(data)


def test_load_from_yaml_and_broken_files(tmp_path):
    import yaml

    good = tmp_path / "plan.yaml"
    good.write_text(yaml.safe_dump(json.loads(tiny_screenplay().model_dump_json()), allow_unicode=True))
    assert load_screenplay(good).title == "The Keeper"
    bad = tmp_path / "bad.yaml"
    bad.write_text("title: [unclosed\n")
    with pytest.raises(ScreenplayError, match="not valid yaml"):
        load_screenplay(bad)
    with pytest.raises(ScreenplayError, match="cannot read"):
        load_screenplay(tmp_path / "missing.json")

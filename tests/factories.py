"""Small screenplays built directly from the models, for tests that need exact control."""
from moviefactory.screenplay import Character, Line, Scene, Screenplay, Shot, Transition, Voice


def tiny_screenplay(language: str = "en", transitions=("crossfade", "cut")) -> Screenplay:
    voice = Voice(id="en-us+m3" if language == "en" else "cmn")
    lines = {
        "en": ["The keeper climbs the stairs.", "A storm is coming, fast and loud.", "Morning, at last."],
        "zh": ["守塔人爬上楼梯。", "风暴来了，又快又猛。", "终于，天亮了。"],
    }[language]
    scenes = []
    for i in range(3):
        kind = transitions[i] if i < len(transitions) else "cut"
        scenes.append(Scene(
            id=f"s0{i + 1}", heading=f"EXT. LIGHTHOUSE - {i}", setting="lighthouse on a rocky coast",
            time_of_day=("dusk", "night", "dawn")[i], beat=("setup", "turn", "resolution")[i],
            shots=(Shot(id=f"s0{i + 1}-sh01", description="a lighthouse on a cliff", camera="push_in", duration=1.5),
                   Shot(id=f"s0{i + 1}-sh02", description="waves on rocks", camera="pan_left", duration=1.0,
                        characters=("Ada",) if i == 1 else ())),
            narration=(Line(text=lines[i]),),
            transition=Transition(kind=kind, duration=0.5 if kind != "cut" else 0.0),
        ))
    return Screenplay(
        title="The Keeper", logline="A keeper and a storm.", language=language, narrator=voice,
        characters=(Character(name="Ada", description="a lighthouse keeper in a yellow raincoat",
                              voice=Voice(id="en+f3" if language == "en" else "cmn+f3")),),
        scenes=tuple(scenes),
    )

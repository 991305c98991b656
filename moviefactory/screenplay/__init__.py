from .models import (
    NARRATOR,
    Character,
    Line,
    MusicBrief,
    Scene,
    Screenplay,
    Shot,
    SoundCue,
    Transition,
    Voice,
    cue_id,
    line_id,
)
from .validation import dump_screenplay, load_screenplay, parse_screenplay, screenplay_schema

__all__ = [
    "NARRATOR", "Character", "Line", "MusicBrief", "Scene", "Screenplay", "Shot", "SoundCue",
    "Transition", "Voice", "cue_id", "dump_screenplay", "line_id", "load_screenplay", "parse_screenplay", "screenplay_schema",
]

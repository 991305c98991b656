"""Which picture plays which shot: every shot's query (its description and the characters in it) against
the candidates' words (a file's caption and tags, a stock item's), for the whole film at once, so no
picture is used twice while unused ones remain, whatever order the shots are rendered in.

1. In film order, each shot takes the best-scoring unused candidate that shares words with it (or,
   where CLIP weights are given, whose picture looks like the shot's words).
2. Shots left over take the unused candidates in their own order (the user's folder order): a trip's
   photos named IMG_0412.jpg have no words, and they are still the film.
3. Only when every candidate is used does a shot get one again: its best match.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from ...screenplay import Screenplay, Shot
from ...textmatch import TfIdf, tokenize

ORIENTATION_BONUS = 0.02  # between equal matches, a picture of the film's own shape wins
LOOK_WEIGHT = 1.0  # a CLIP similarity counts as much as the words' score


@dataclass(frozen=True)
class Candidate:
    key: str  # unique: a file's path in its folder, a stock item's id
    text: str  # its caption
    tags: tuple[str, ...] = ()
    width: int = 0
    height: int = 0
    kind: str = "photo"  # photo | video


@dataclass(frozen=True)
class Pick:
    key: str
    score: float  # text relevance in [0, 1]
    how: str  # words | order | again


def shot_query(shot: Shot, screenplay: Screenplay) -> str:
    looks = {c.name: c.description for c in screenplay.characters}
    return " ".join([shot.description, *(f"{name} {looks.get(name, '')}" for name in shot.characters)])


def cast_pictures(screenplay: Screenplay, candidates: Sequence[Candidate], *, aspect: float,
                  looks: dict[str, Sequence[float]] | None = None) -> dict[str, Pick]:
    """shot id -> the candidate that plays it (see the module's docstring). `looks`: per shot, each
    candidate's image-text similarity (CLIP), added to its words' score, so pictures without words
    are matched by what they show."""
    if not candidates:
        return {}
    # tags count twice: they are the words a person chose for the picture
    index = TfIdf([tokenize(c.text) + 2 * tokenize(" ".join(c.tags)) for c in candidates])
    shots = [shot for _, shot in screenplay.shots()]
    scores: dict[str, dict[int, float]] = {}
    worded: dict[str, set[int]] = {}  # the candidates whose words matched the shot (the rest: only its looks)
    for shot in shots:
        found = dict((n, s) for s, n in index.search(shot_query(shot, screenplay)))
        worded[shot.id] = set(found)
        for n, s in enumerate((looks or {}).get(shot.id, ())):
            if s > 0:
                found[n] = found.get(n, 0.0) + LOOK_WEIGHT * float(s)
        scores[shot.id] = {n: s + ORIENTATION_BONUS * _same_shape(candidates[n], aspect) for n, s in found.items()}
    used: set[int] = set()
    picks: dict[str, Pick] = {}
    for shot in shots:  # 1. by words (and looks, with CLIP)
        best = max(((s, -n) for n, s in scores[shot.id].items() if n not in used), default=None)
        if best is not None:
            n = -best[1]
            used.add(n)
            picks[shot.id] = Pick(candidates[n].key, round(_words_only(scores[shot.id][n], candidates[n], aspect), 4),
                                  "words" if n in worded[shot.id] else "looks")
    spare = (n for n in range(len(candidates)) if n not in used)
    for shot in shots:  # 2. in the candidates' order
        if shot.id not in picks and (n := next(spare, None)) is not None:
            used.add(n)
            picks[shot.id] = Pick(candidates[n].key, 0.0, "order")
    keys = {c.key: n for n, c in enumerate(candidates)}
    for k, shot in enumerate(shots):  # 3. again: its best match, else round the folder; never the last shot's
        if shot.id not in picks:
            before = keys[picks[shots[k - 1].id].key] if k and shots[k - 1].id in picks else None
            ranked = [n for n, _ in sorted(scores[shot.id].items(), key=lambda p: (-p[1], p[0])) if n != before]
            around = [n for n in (*range(k % len(candidates), len(candidates)), *range(k % len(candidates)))
                      if n != before]
            n = (ranked or around or [0])[0]
            picks[shot.id] = Pick(candidates[n].key, round(_words_only(scores[shot.id].get(n, 0.0), candidates[n],
                                                                      aspect), 4), "again")
    return picks


def _same_shape(c: Candidate, aspect: float) -> int:
    return int(bool(c.width and c.height) and (c.width >= c.height) == (aspect >= 1))


def _words_only(score: float, c: Candidate, aspect: float) -> float:
    return max(0.0, score - ORIENTATION_BONUS * _same_shape(c, aspect)) if score else 0.0

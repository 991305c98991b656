"""What the theme is about: its subject (who or what), its place, its action and its look.

"Several giant wooly mammoths approach treading through a snowy meadow" is a film of mammoths in a
snowy meadow, not of a template explorer. The offline writer builds its hero, shots and narration on
what this module finds; it never replaces the theme's subject with a stock character.

English is read with rules over word lists in prompts/offline/en.yaml (`reading:`): there is no
tagger on PyPI that works offline without a model download, and themes are one short line. The
subject is the first noun phrase (determiners and quantities dropped, a possessive ends it); the
action is the verb phrase after it; the place is the first place preposition's object; "X style" and
"in the style of X" are the look; "as a Y" is the subject's role.

Chinese is segmented and tagged by jieba (its dictionary is in the wheel); zh.yaml's `lexicon` gives
the English of common subjects, places and actions (shot descriptions are English image prompts) and
is added to jieba's dictionary so its words stay whole. A Chinese subject the lexicon does not know
is still the narration's subject; its shots then describe it with the nearest stock character.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*|\d+")


@dataclass(frozen=True)
class Lead:
    """The theme's subject, as the shots (English) and the narration (the film's language) name it."""

    phrase: str  # for shots: "several giant wooly mammoths", "a super cute Siamese cat"
    head: str  # the noun itself, English: "mammoths", "cat"
    noun: str  # the noun as the theme writes it: "mammoths", "邮差"
    ref: str  # for narration, in the film's language: "the giant wooly mammoths", "老邮差"
    plural: bool
    bare: bool  # the phrase is only the noun (a stock look may dress it)
    being: bool  # a person or creature (it can be a character), not a thing
    action: str = ""  # for shots: "approaching, treading through a snowy meadow"
    action_said: str = ""  # for narration (Chinese keeps its own verb: 打雪仗)
    place: str = ""  # for shots: "snowy meadow"
    place_said: str = ""  # for narration: "snowy meadow", "竹林"
    role: str = ""  # "sushi chef"
    style: str = ""  # "Marvel movie style"


def read_lead(theme: str, language: str, en: dict, tx: dict) -> Lead | None:
    """The theme's subject, or None when it names none (an explainer's topic, an abstract idea)."""
    if language == "zh" and re.search(r"[\u3400-\u9fff]", theme):
        return _read_zh(theme, en, tx)
    return _read_en(theme, en)


# --- English ------------------------------------------------------------------------------------

def _verb_base(word: str, verbs: frozenset[str]) -> str | None:
    """The base form if `word` is a form of a listed verb (learns, danced, treading, flies)."""
    w = word.lower()
    candidates = [w]
    if w.endswith("ies"):
        candidates.append(w[:-3] + "y")
    if w.endswith("es"):
        candidates.append(w[:-2])
    if w.endswith("s"):
        candidates.append(w[:-1])
    if w.endswith("ied"):
        candidates.append(w[:-3] + "y")
    if w.endswith("ed"):
        candidates += [w[:-2], w[:-1], w[:-3] if len(w) > 4 and w[-3] == w[-4] else w[:-2]]
    if w.endswith("ing"):
        stem = w[:-3]
        candidates += [stem, stem + "e", stem[:-1] if len(stem) > 2 and stem[-1] == stem[-2] else stem]
    return next((c for c in candidates if c in verbs), None)


def gerund(verb: str) -> str:
    """approach -> approaching, dance -> dancing, run -> running, tie -> tying."""
    v = verb.lower()
    if v.endswith("ie"):
        return v[:-2] + "ying"
    if v.endswith("e") and not v.endswith(("ee", "ye", "oe")):
        return v[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][bdgklmnprt]", v):  # one syllable, short vowel: run, swim, sit
        return v + v[-1] + "ing"
    return v + "ing"


def _plural(head: str, quantity: bool, r: dict) -> bool:
    h = head.lower()
    if h in r["plural_nouns"]:
        return True
    if h in r["singular_nouns"] or h.endswith(("ss", "us", "is")):
        return quantity
    return h.endswith("s") or quantity


def _read_en(theme: str, en: dict) -> Lead | None:
    r = en["reading"]
    verbs = frozenset(r["verbs"])
    stop, preps = set(en["stopwords"]) | set(en["explainer_words"]), set(r["place_prepositions"])
    text = " ".join(theme.replace("’", "'").split())
    style = ""
    m = re.search(r"\bin the style of ([^,.;!?]+)", text, re.I)
    if m:
        style, text = f"in the style of {m.group(1).strip()}", text[:m.start()] + text[m.end():]
    clauses = [c.strip() for c in re.split(r"[,;:!?.]+", text) if c.strip()]
    for c in list(clauses):  # "Marvel movie style, ..." or "..., anime style"
        if re.search(r"\bstyle$", c, re.I) and len(clauses) > 1:
            style = style or c
            clauses.remove(c)
    words = [w for c in clauses for w in (_WORD.findall(c) + [","])]
    if words and not words[0].isupper():  # a sentence's capital, not a name's ("Mammoths cross ...")
        words[0] = words[0].lower()
    i, quantity, collective = 0, False, ""
    lowered = [w.lower() for w in words]
    # determiners, quantities and collective nouns before the subject ("a herd of", "three", "several")
    while i < len(words):
        w = lowered[i]
        if w in r["determiners"] or w.isdigit() or w in r["quantities"]:
            quantity |= w in r["quantities"] or (w.isdigit() and w != "1")
            i += 1
        elif w in r["collectives"] and i + 1 < len(words) and lowered[i + 1] == "of":
            quantity, collective, i = True, " ".join(words[max(0, i - 1):i + 2]), i + 2
        else:
            break
    noun_phrase: list[str] = []
    while i < len(words) and len(noun_phrase) < 5:
        w, low = words[i], lowered[i]
        if w == "," or low in stop - set(r["adjective_stopwords"]) or low.endswith(("'s", "'")):
            if low.endswith(("'s", "'")) and low not in stop:
                noun_phrase.append(w[:-2] if low.endswith("'s") else w[:-1])
                i += 1
            break
        if noun_phrase and (_verb_base(w, verbs) and low not in r["nouns"]
                            or _plural(noun_phrase[-1], False, r) and noun_phrase[-1].lower() not in r["singular_nouns"]):
            break  # a verb, or the word after a plural head noun: the subject is over
        noun_phrase.append(w)
        i += 1
    adjectives = set(r["adjective_stopwords"])
    content = [w for w in noun_phrase if w.lower() not in stop or w.lower() in adjectives]
    if not content or content[-1].lower() in adjectives | set(en["abstract_words"]) | set(r["not_subjects"]):
        return None
    head = content[-1]
    plural = _plural(head, quantity, r)
    rest = words[i:]
    # "as a sushi chef": the subject's role
    role = ""
    low_rest = [w.lower() for w in rest]
    if "as" in low_rest:
        k = low_rest.index("as")
        tail = []
        for w in rest[k + 1:]:
            if w == "," or w.lower() in preps:
                break
            if w.lower() not in r["determiners"]:
                tail.append(w)
        role = " ".join(tail)
        rest = rest[:k]
    # the action: a verb right after the subject, and what follows it up to the clause's end
    action_words, j = [], 0
    while j < len(rest) and rest[j] != ",":
        action_words.append(rest[j])
        j += 1
    action = ""
    if action_words and _verb_base(action_words[0], verbs):
        lead_verbs = []
        while action_words and _verb_base(action_words[0], verbs) and action_words[0].lower() not in preps:
            lead_verbs.append(gerund(_verb_base(action_words.pop(0), verbs) or ""))
        action = ", ".join(lead_verbs) + (" " + " ".join(action_words) if action_words else "")
    # the place: the object of the first place preposition
    place = ""
    for k, w in enumerate(rest):
        if w.lower() in preps:
            obj = []
            for v in rest[k + 1:]:
                lv = v.lower()
                if v == "," or lv in preps or (lv in stop and lv not in r["determiners"]) or (obj and _verb_base(v, verbs)):
                    break
                if lv not in r["determiners"]:
                    obj.append(v)
            if obj and obj[-1].lower() not in r["not_places"]:
                place = " ".join(obj)
                break
    count = next((w.lower() for w in words[:i] if w.lower() in r["quantities"] or w.isdigit()), None)
    body = " ".join(content)
    phrase = (f"{collective} {body}" if collective else f"{count} {body}" if count else body if plural
              else ("an " if body[:1].lower() in "aeiou" else "a ") + body)
    ref = "the " + " ".join(content[-3:])
    return Lead(phrase=phrase, head=head.lower(), noun=head.lower(), ref=ref, plural=plural, bare=len(content) == 1,
                being=head.lower() not in r["things"], action=action, action_said=action, place=place,
                place_said=place, role=role, style=style)


# --- Chinese ------------------------------------------------------------------------------------

@cache
def _jieba(words: tuple[tuple[str, str], ...]):
    import jieba
    import jieba.posseg

    from ..audio.library import cache_dir

    jieba.setLogLevel(logging.WARNING)
    folder = cache_dir() / "jieba"  # its dictionary cache: ours, never the system temp dir
    folder.mkdir(parents=True, exist_ok=True)
    jieba.dt.tmp_dir = str(folder)
    for word, tag in words:
        jieba.add_word(word, freq=200000, tag=tag)
    return jieba.posseg


def jieba_words(text: str) -> list[str]:
    """Chinese `text` as jieba's words, the lexicon's kept whole (where captions may break a line)."""
    from .material import story_material

    lexicon: dict[str, dict] = story_material("zh").get("lexicon", {})
    posseg = _jieba(tuple(sorted((w, _TAGS[e["kind"]]) for w, e in lexicon.items())))
    return [t.word for t in posseg.cut(text) if t.word.strip()]


_TAGS = {"being": "n", "thing": "n", "place": "s", "time": "t", "action": "v", "look": "a"}


def _read_zh(theme: str, en: dict, tx: dict) -> Lead | None:
    lexicon: dict[str, dict] = tx.get("lexicon", {})
    posseg = _jieba(tuple(sorted((w, _TAGS[e["kind"]]) for w, e in lexicon.items())))
    tokens = [(t.word, t.flag) for t in posseg.cut(re.sub(r"\s+", "", theme)) if t.word.strip()]
    looks, beings, places, actions, things = [], [], [], [], []
    for k, (word, flag) in enumerate(tokens):
        entry = lexicon.get(word)
        kind = entry["kind"] if entry else None
        nxt = tokens[k + 1][0] if k + 1 < len(tokens) else ""
        if kind == "look" or (not entry and flag == "a"):
            looks.append((k, word))
        elif kind == "place" or (not entry and flag in ("ns", "s")) or (kind != "being" and nxt in ("上", "里", "中", "下", "边", "旁")):
            places.append((k, word))
        elif kind == "being" or (not entry and flag in ("n", "nr", "nz") and word not in tx.get("not_subjects", [])):
            beings.append((k, word))
        elif kind == "action" or (not entry and flag.startswith("v")):
            actions.append((k, word))
        elif kind == "thing":
            things.append((k, word))
    if not beings and things:
        beings = things[:1]
    if not beings:
        return None
    k, word = beings[0]
    entry = lexicon.get(word, {})
    mods = [w for j, w in looks if j == k - 1]  # 老邮差, 小狐狸
    said = "".join(mods) + word
    en_mods = " ".join(lexicon[w]["en"] for w in mods if w in lexicon)
    head = entry.get("en", "")
    quantity = re.match(r"^[两三四五六七八九十几]", "".join(w for w, f in tokens[:k] if f in ("m", "mq")))
    plural = bool(quantity or re.search(r"们$", word))
    head_en = (entry.get("plural") or head + "s") if plural and head else head
    phrase = ""
    if head_en:
        count = {"两": "two", "三": "three", "四": "four", "五": "five", "几": "several"}.get(quantity.group(0)) if quantity else None
        body = f"{en_mods} {head_en}".strip()
        phrase = f"{count} {body}" if count else (("an " if body[:1] in "aeiou" else "a ") + body if not plural else body)
    place_said = next((w for j, w in places if j != k), "")
    act = next((w for j, w in actions if j > k), "")
    return Lead(phrase=phrase, head=(head_en.split() or [""])[-1].lower(), noun=word, ref=said, plural=plural, bare=not mods,
                being=entry.get("kind", "being") == "being", action=lexicon.get(act, {}).get("en", ""),
                action_said=act, place=lexicon.get(place_said, {}).get("en", ""), place_said=place_said)


def stem(word: str) -> str:
    """The English noun without its plural ending, for matching any form of it (mammoths -> mammoth)."""
    w = word.lower()
    for end, keep in (("ies", "y"), ("ches", "ch"), ("shes", "sh"), ("xes", "x"), ("sses", "ss"), ("s", "")):
        if w.endswith(end) and len(w) > len(end) + 2 and not w.endswith(("ss", "us", "is")) or \
                (end == "sses" and w.endswith(end)):
            return w[: -len(end)] + keep
    return w


def mentions(text: str, lead: Lead, *, english: bool) -> bool:
    """Whether `text` names the subject: its English noun in any form, or the theme's own noun."""
    if english or not lead.noun or lead.noun.isascii():
        return bool(lead.head) and re.search(rf"\b{re.escape(stem(lead.head))}", text.lower()) is not None
    return lead.noun in text

from fractions import Fraction

import pytest

from moviefactory.config import load_format
from moviefactory.media.subtitles import _karaoke, caption_measure
from moviefactory.reading import CJK_CPS, LATIN_CPS, cps_limit, reading_chars
from moviefactory.timeline.captions import ROUNDING, caption_cues, wrap


def _words(text, step=0.3, zh=False):
    units = list(text) if zh else text.split()
    return [(u, i * step, (i + 1) * step) for i, u in enumerate(units)]


def test_wrap_measures_real_glyph_widths_for_cjk():
    fmt = load_format("vertical")
    measure = caption_measure(fmt)
    text = "月光下的少林寺钟声响起僧人们在庭院里练功直到天亮"
    width = fmt.width * 0.84
    lines = wrap(list(text), "", width, measure)
    assert "".join(lines) == text
    assert len(lines) > 1
    assert all(measure(line) <= width for line in lines)


def test_english_cues_break_at_sentences_and_respect_max_words():
    fmt = load_format("vertical")  # karaoke: at most 4 words a cue
    words = _words("The storm broke at midnight. Nobody slept, and the sea kept rising higher.")
    cues = caption_cues(words, offset=Fraction(10), line_end=Fraction(40), language="en", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt))
    texts = [" ".join(c.lines) for c in cues]
    assert any(t.endswith("midnight.") for t in texts) and not any("midnight. " in t for t in texts)
    assert all(len(c.words) <= 4 for c in cues)
    assert all(Fraction(10) <= c.start < c.end for c in cues)
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))  # never two cues at once


def test_chinese_cues_drop_punctuation_and_split_at_it():
    fmt = load_format("widescreen")
    words = _words("风暴来了，又快又猛。天亮了。", zh=True)
    cues = caption_cues(words, offset=Fraction(0), line_end=Fraction(20), language="zh", style=fmt.caption,
                        max_width=fmt.width * 0.8, measure=caption_measure(fmt))
    shown = ["".join(c.lines) for c in cues]
    assert "".join(shown) == "风暴来了又快又猛天亮了"
    assert not any(ch in "".join(shown) for ch in "，。")
    assert shown[-1] == "天亮了"


def test_karaoke_tags_sum_to_the_spoken_time():
    fmt = load_format("vertical")
    words = _words("Nobody slept that night", step=0.5)
    cue = caption_cues(words, offset=Fraction(2), line_end=Fraction(10), language="en", style=fmt.caption,
                       max_width=fmt.width * 0.84, measure=caption_measure(fmt))[0]
    text = _karaoke(cue, " ")
    import re

    total_cs = sum(int(x) for x in re.findall(r"\\kf?(\d+)", text))
    assert total_cs == 200  # four words of 0.5 s
    assert text.count("\\kf") == 4


def test_breaks_come_from_the_written_line_when_tts_drops_punctuation():
    fmt = load_format("vertical")
    text = "月光下的少林寺，故事就从这里开始。"
    spoken = [ch for ch in text if ch not in "，。"]  # what espeak's word events give: no punctuation
    words = [(ch, i * 0.2, (i + 1) * 0.2) for i, ch in enumerate(spoken)]
    cues = caption_cues(words, offset=Fraction(0), line_end=Fraction(10), language="zh", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt), text=text)
    assert ["".join(c.lines) for c in cues] == ["月光下的少林寺", "故事就从这里开始"]

    text = "The tide turned. Nobody noticed, not even Ada."
    words = [(w.strip(".,"), i * 0.3, (i + 1) * 0.3) for i, w in enumerate(text.split())]
    cues = caption_cues(words, offset=Fraction(0), line_end=Fraction(10), language="en",
                        style=load_format("widescreen").caption, max_width=1500, measure=caption_measure(fmt),
                        text=text)
    assert [" ".join(c.lines) for c in cues] == ["The tide turned.", "Nobody noticed, not even Ada."]


def _cps(cue):
    """Reading speed as eval counts it: non-whitespace characters over the seconds on screen."""
    return reading_chars("\n".join(cue.lines)) / (cue.end - cue.start)


def _readable_and_in_order(cues, words, offset, line_end, limit):
    assert all(_cps(c) <= limit for c in cues), [(c.lines, float(_cps(c))) for c in cues]
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))  # never two cues at once
    assert all(offset <= c.start < c.end <= line_end for c in cues)  # inside the spoken line
    assert [w.text for c in cues for w in c.words] == [t for t, _, _ in words]  # every word, once, in order
    for c in cues:  # each cue appears with its first word
        assert c.start == c.words[0].start


# A line as espeak said it in a vertical draft: short words quickly, no pause between them. Cut
# into cues of four words, "Everything Lily has learned" read at 21.9 chars/s on screen.
QUICK = [("Everything", 0.0, 0.467), ("Lily", 0.467, 0.644), ("has", 0.644, 0.835), ("learned", 0.835, 1.097),
         ("comes", 1.097, 1.444), ("down", 1.444, 1.666), ("to", 1.666, 1.802), ("this.", 1.802, 2.101)]


@pytest.mark.parametrize("draft", [True, False])
def test_quick_short_words_make_cues_that_can_be_read(draft):
    fmt = load_format("vertical", draft=draft)  # karaoke, at most 4 words a cue
    first_four = "Everything Lily has learned"
    assert reading_chars(first_four) / (QUICK[3][2] - QUICK[0][1]) > LATIN_CPS  # said faster than it can be read
    offset, line_end = Fraction(32, 5), Fraction(32, 5) + Fraction("2.107")
    cues = caption_cues(QUICK, offset=offset, line_end=line_end, language="en", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt))
    _readable_and_in_order(cues, QUICK, offset, line_end, LATIN_CPS)
    assert all(len(c.words) <= fmt.caption.max_words for c in cues)  # here the speech allows both


def test_a_quick_cue_stays_on_into_the_pause_after_it_only_as_long_as_needed():
    fmt = load_format("vertical")
    words = [("Extraordinarily,", 0.0, 0.5), ("really.", 1.5, 1.9), ("And", 2.0, 2.3), ("then", 2.3, 2.6)]
    cues = caption_cues(words, offset=Fraction(0), line_end=Fraction(3), language="en", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt))
    _readable_and_in_order(cues, words, 0, 3, LATIN_CPS)
    first = cues[0]
    assert " ".join(first.lines) == "Extraordinarily,"  # karaoke cues break at the comma, as before
    # 16 characters need 0.762 s; spoken in 0.5 s and held 0.25 s, the cue stays that long (and the
    # centisecond a subtitle file may round away), not on into the pause.
    assert first.end == Fraction(762, 1000) + ROUNDING < cues[1].start


def test_chinese_cues_keep_to_the_cjk_reading_speed():
    fmt = load_format("vertical")
    text = "月光下的少林寺钟声响起僧人们在庭院里练功直到天亮"
    # Eight characters rushed between slower ones: over the line, under 10 characters a second.
    steps = [0.12] * 8 + [0.05] * 8 + [0.12] * (len(text) - 16)
    starts = [sum(steps[:i]) for i in range(len(text))]
    words = [(ch, s, s + d) for ch, s, d in zip(text, starts, steps)]
    line_end = Fraction(round((starts[-1] + steps[-1] + 0.3) * 1000), 1000)
    cues = caption_cues(words, offset=Fraction(0), line_end=line_end, language="zh", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt), text=text)
    assert cps_limit("".join(text)) == CJK_CPS
    _readable_and_in_order(cues, words, 0, line_end, CJK_CPS)


def test_speech_faster_than_anyone_reads_still_gets_every_word_in_order():
    """No layout makes 40 chars/s readable: the builder does its best; the narration is what to fix."""
    fmt = load_format("vertical")
    words = [(w, i * 0.1, (i + 1) * 0.1) for i, w in enumerate("Quickly quickly quickly quickly now".split())]
    cues = caption_cues(words, offset=Fraction(0), line_end=Fraction("0.5"), language="en", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt))
    assert [w.text for c in cues for w in c.words] == [t for t, _, _ in words]
    assert all(a.end <= b.start for a, b in zip(cues, cues[1:]))
    assert all(0 <= c.start < c.end <= Fraction("0.5") for c in cues)

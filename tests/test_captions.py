from fractions import Fraction

from moviefactory.config import load_format
from moviefactory.media.subtitles import _karaoke, caption_measure
from moviefactory.timeline.captions import caption_cues, wrap


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
    assert texts[0].endswith("midnight.") or len(texts[0].split()) == 4
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

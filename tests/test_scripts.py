"""Captions in every script: the right font, right-to-left text shaped and ordered, and lines of the
scripts written without spaces (zh, ja, th) broken between words, never inside one."""
from fractions import Fraction

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from moviefactory.audio.espeak import caption_units
from moviefactory.config import load_format
from moviefactory.languages import caption_fonts, caption_fonts_dir, language, languages, script_of, scripts
from moviefactory.media.ffmpeg import ffmpeg_binary, run_ffmpeg
from moviefactory.media.subtitles import caption_measure, font_pixels, write_subtitles
from moviefactory.planner import detect_language
from moviefactory.timeline.captions import caption_cues, wrap
from moviefactory.timeline.model import Cue, Timeline

ARABIC = "رقص الروبوت تحت المطر!"  # "the robot danced in the rain!": the mark ends the line, at its left


def _burn(tmp_path, text: str, lang: str, fmt) -> np.ndarray:
    """The caption as libass draws it into a film: our .ass, our fonts folder, over a black frame."""
    timeline = Timeline(title="t", language=lang, width=fmt.width, height=fmt.height, fps=Fraction(24),
                        duration=Fraction(2), video=(), cues=(Cue(Fraction(0), Fraction(2), (text,)),))
    ass = write_subtitles(timeline, fmt, tmp_path / "film")["ass"]
    out = tmp_path / "frame.png"
    run_ffmpeg(ffmpeg_binary(), ["-v", "error", "-y", "-f", "lavfi", "-i", f"color=black:s={fmt.width}x{fmt.height}:d=1",
                                 "-vf", f"ass={ass}:fontsdir={caption_fonts_dir()}", "-frames:v", "1", str(out)],
               stage="test")
    return np.asarray(Image.open(out).convert("L"))


def _reference(text: str, lang: str, size: int, *, shaped: bool) -> np.ndarray:
    """Pillow's drawing of `text` in the language's font: shaped right to left by HarfBuzz/FriBiDi
    (raqm), or, for the wrong answer, letter by letter left to right as an unshaping renderer would."""
    script = language(lang).script
    engine = ImageFont.Layout.RAQM if shaped else ImageFont.Layout.BASIC
    font = ImageFont.truetype(str(script.font_file()), size, index=script.index, layout_engine=engine)
    img = Image.new("L", (round(size * (len(text) + 2) * 1.2), size * 3))
    ImageDraw.Draw(img).text((size, size), text, font=font, fill=255,
                             direction="rtl" if shaped and script.rtl else None)
    return np.asarray(img)


def _ink(img: np.ndarray, size=(400, 60)) -> np.ndarray:
    ys, xs = np.nonzero(img > 100)
    crop = img[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return np.asarray(Image.fromarray(crop).resize(size), dtype=float)


def _likeness(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a - a.mean(), b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_an_arabic_caption_burns_in_shaped_right_to_left(tmp_path):
    fmt = load_format("widescreen")
    burned = _burn(tmp_path, ARABIC, "ar", fmt)
    caption = burned[burned.shape[0] // 2:]  # captions sit in the lower half
    assert (caption > 100).sum() > 500, "no caption was drawn"
    size = font_pixels(fmt)
    right = _likeness(_ink(caption), _ink(_reference(ARABIC, "ar", size, shaped=True)))
    wrong = _likeness(_ink(caption), _ink(_reference(ARABIC, "ar", size, shaped=False)))
    assert right > 0.75 and wrong < 0.5, (right, wrong)
    # the measure that wraps captions sees the width libass draws
    ys, xs = np.nonzero(caption > 100)
    assert abs((xs.max() - xs.min()) - caption_measure(fmt, "ar")(ARABIC)) < 0.06 * caption_measure(fmt, "ar")(ARABIC)


@pytest.mark.parametrize("lang, text", [("he", "הרובוט רקד בגשם."), ("th", "หุ่นยนต์เต้นรำกลางสายฝน"),
                                        ("hi", "रोबोट बारिश में नाचा"), ("ja", "ロボットは雨の中で踊った")])
def test_every_script_is_drawn_in_its_own_font_not_as_empty_boxes(tmp_path, lang, text):
    fmt = load_format("widescreen")
    caption = _burn(tmp_path, text, lang, fmt)[fmt.height // 2:]
    right = _likeness(_ink(caption), _ink(_reference(text, lang, font_pixels(fmt), shaped=True)))
    assert right > 0.7, right


def test_every_film_language_has_a_script_whose_font_is_installed():
    installed = {str(path) for path, _ in caption_fonts()}
    for code, lang in languages().items():
        assert lang.script_name in scripts(), code
        assert str(lang.script.font_file()) in installed, code
    assert {s.name for s in scripts().values() if s.rtl} == {"arabic", "hebrew"}


@pytest.mark.parametrize("lang, text, word", [
    ("zh", "三只熊猫在竹林里快乐地打雪仗，一直玩到太阳下山才回家休息。", "打雪仗"),
    ("ja", "小さなロボットは雨の中で初めてのダンスを踊り、太陽が昇るまで止まりませんでした。", "ロボット"),
    ("th", "หุ่นยนต์ตัวเล็กเต้นรำกลางสายฝนจนพระอาทิตย์ขึ้นเหนือเมือง", "หุ่นยนต์"),
])
def test_lines_without_spaces_break_between_words(lang, text, word):
    fmt = load_format("vertical")
    measure = caption_measure(fmt, lang)
    phrases = language(lang).script.phrases(text)
    ends = {sum(len(p) for p in phrases[:k]) for k in range(len(phrases) + 1)}
    at = text.index(word)
    assert "".join(phrases) == text and not any(at < e < at + len(word) for e in ends), phrases  # a word is whole
    width = measure(text) / 2.6  # three or four lines
    lines = wrap(phrases, "", width, measure)
    assert "".join(lines) == text and len(lines) >= 3
    assert all(measure(line) <= width for line in lines)
    assert all(sum(len(line) for line in lines[:k]) in ends for k in range(len(lines))), lines


def test_thai_karaoke_words_are_phrases_and_cues_keep_them_whole():
    text = "หุ่นยนต์ตัวเล็กเต้นรำกลางสายฝน จนพระอาทิตย์ขึ้นเหนือเมือง"
    units = [u.text for u in caption_units(text)]
    assert units == language("th").script.phrases(text) and "หุ่นยนต์" in units
    fmt = load_format("vertical")
    words = [(u, i * 0.4, (i + 1) * 0.4) for i, u in enumerate(units)]
    cues = caption_cues(words, offset=Fraction(0), line_end=Fraction(20), language="th", style=fmt.caption,
                        max_width=fmt.width * 0.84, measure=caption_measure(fmt, "th"), text=text)
    assert "".join("".join(c.lines) for c in cues) == text.replace(" ", "")
    assert all(" " not in line for c in cues for line in c.lines)  # no spaces put between Thai words


def test_the_theme_script_picks_the_film_language():
    assert [detect_language(t) for t in ("An astronaut's space adventure", "三分钟讲清楚光合作用", "宇宙飛行士の冒険",
                                         "رائد فضاء يكتشف كوكبا", "Космонавт и звёзды", "นักบินอวกาศผจญภัย",
                                         "אסטרונאוט בחלל", "अंतरिक्ष यात्री")] == \
        ["en", "zh", "ja", "ar", "ru", "th", "he", "hi"]
    assert script_of("مرحبا OK").name == "arabic" and script_of("2026").name == "latin"

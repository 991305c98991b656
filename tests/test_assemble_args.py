"""The final encode's ffmpeg arguments, checked without running ffmpeg."""
from fractions import Fraction
from pathlib import Path

from moviefactory.config import load_format
from moviefactory.media.assemble import film_args
from moviefactory.timeline.model import AudioClip, Timeline, VideoClip

FPS = Fraction(24)


def _timeline():
    video = (
        VideoClip("a.mp4", "s01", "s01-sh01", Fraction(0), 48),
        VideoClip("b.mp4", "s01", "s01-sh02", Fraction(2), 24),
        VideoClip("c.mp4", "s02", "s02-sh01", Fraction(60, 24), 48, "crossfade", 12),
        VideoClip("d.mp4", "s03", "s03-sh01", Fraction(84, 24), 24, "fade_black", 12),
    )
    audio = (AudioClip("l1.wav", "narration", "s01-l01", Fraction(1, 2), Fraction(3, 2)),
             AudioClip("l2.wav", "narration", "s02-l01", Fraction(13, 4), Fraction(1)))
    return Timeline("T", "en", 480, 200, FPS, Fraction(96, 24), video, audio)


def _graph(args):
    return args[args.index("-filter_complex") + 1]


def test_transitions_become_xfades_at_exact_offsets():
    fmt = load_format("widescreen", draft=True)
    args = film_args(_timeline(), fmt, Path("/run"), None, Path("/run/film.mp4"), None)
    graph = _graph(args)
    assert graph.count("concat=a=0:n=2:v=1") == 1  # the two cut-joined shots of scene 1
    assert "xfade=duration=0.500000:offset=2.500000:transition=fade" in graph
    assert "xfade=duration=0.500000:offset=3.500000:transition=fadeblack" in graph
    assert args[args.index("-frames:v") + 1] == "96"
    assert args[args.index("-movflags") + 1] == "+faststart"
    assert args[args.index("-f") + 1] == "mp4" or "mp4" in args


def test_audio_is_placed_mixed_without_normalising_and_cut_to_picture():
    fmt = load_format("widescreen", draft=True)
    stats = {"input_i": "-30.1", "input_tp": "-9.0", "input_lra": "3.0", "input_thresh": "-40.2",
             "target_offset": "0.4"}
    graph = _graph(film_args(_timeline(), fmt, Path("/run"), None, Path("/run/film.mp4"), stats))
    assert "adelay=all=1:delays=500" in graph and "adelay=all=1:delays=3250" in graph
    assert "amix=dropout_transition=0:duration=first:inputs=3:normalize=0" in graph
    assert "linear=true" in graph and "measured_I=-30.1" in graph and "I=-23.0" in graph
    assert "atrim=end=4.000000" in graph
    assert "anullsrc=r=48000:cl=stereo" in " ".join(film_args(_timeline(), fmt, Path("/run"), None,
                                                              Path("/run/film.mp4"), None))


def test_captions_are_burned_with_the_bundled_font_dir(tmp_path):
    from moviefactory.timeline.model import Cue

    fmt = load_format("vertical", draft=True)
    tl = _timeline()
    tl = Timeline(tl.title, tl.language, 270, 480, Fraction(30), tl.duration, tl.video, tl.audio,
                  (Cue(Fraction(1), Fraction(2), ("hi",)),))
    ass = tmp_path / "we:ird dir" / "film.ass"
    graph = _graph(film_args(tl, fmt, tmp_path, ass, tmp_path / "film.mp4", None))
    assert "ass=" in graph and "fontsdir=" in graph and "noto_cjk_sans_otc" in graph
    assert "we\\\\:ird dir" in graph  # ':' escaped for the option parser, '\\' again for the graph


def test_cut_runs_are_read_through_one_concat_list_each(tmp_path):
    from moviefactory.media.assemble import concat_list, segments

    fmt = load_format("widescreen", draft=True)
    tl = _timeline()
    segs = segments(tl)
    assert [len(s.clips) for s in segs] == [2, 1, 1]
    listing = concat_list(segs[0], Path("/run dir/it's"))
    assert listing.splitlines() == ["ffconcat version 1.0", "file '/run dir/it'\\''s/a.mp4'",
                                    "file '/run dir/it'\\''s/b.mp4'"]
    lists = [tmp_path / f"seg{k}.ffconcat" for k in range(3)]
    args = film_args(tl, fmt, Path("/run"), None, Path("/run/film.mp4"), None, lists)
    assert args.count("concat") == 1 and str(lists[0]) in args  # one demuxer input for the two shots
    assert "/run/c.mp4" in args and "/run/a.mp4" not in args

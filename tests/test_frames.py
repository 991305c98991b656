"""media/frames: raw frames in and out of real files through real ffmpeg and PyAV, measured on the result."""
from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from moviefactory.errors import InputError, ToolError
from moviefactory.media.frames import (FrameWriter, clip_rate, filter_frames, iter_frames, read_frames, write_blocks,
                                       write_frames)
from media import video_frames


def ramp(frames: int, height: int, width: int) -> np.ndarray:
    """Each frame one flat grey, brighter frame by frame: survives H.264 nearly exactly."""
    return np.repeat(np.linspace(20, 230, frames).astype(np.uint8), height * width * 3).reshape(frames, height, width, 3)


def test_frames_go_out_and_come_back(tmp_path):
    frames = ramp(7, 33, 47)  # odd sides: yuv420p drops the last row and column
    clip = write_frames(frames, Fraction(30000, 1001), tmp_path / "a.mp4")
    back, rate = read_frames(clip.path)
    assert (clip.frames, clip.width, clip.height, clip.fps) == (7, 46, 32, Fraction(30000, 1001))
    assert back.shape == (7, 32, 46, 3) and rate == clip_rate(clip.path) == Fraction(30000, 1001)
    assert np.abs(back.astype(int) - frames[:, :32, :46]).max() <= 3
    assert [len(b) for b in iter_frames(clip.path, 3)] == [3, 3, 1]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]  # the temp name is gone


def test_an_exact_frame_count_stops_pulling_blocks(tmp_path):
    pulled = []

    def blocks():
        for i in range(200):  # far more than the encoder wants
            pulled.append(i)
            yield ramp(4, 64, 64)

    clip = write_blocks(blocks(), Fraction(24), tmp_path / "b.mp4", input_fps=Fraction(12), frames=10,
                        vf="fps=24,tpad=stop_mode=clone:stop=-1", size=(64, 64))
    assert clip.frames == 10 and video_frames(clip.path) == (10, 24.0)
    assert len(pulled) < 200  # once ffmpeg has its frames, no more are made


def test_a_short_input_is_held_to_the_exact_count(tmp_path):
    clip = write_blocks([ramp(2, 32, 32)], Fraction(24), tmp_path / "c.mp4", frames=9,
                        vf="scale=48:32,tpad=stop_mode=clone:stop=-1", size=(48, 32))
    back, _ = read_frames(clip.path)
    assert back.shape == (9, 32, 48, 3) and (clip.width, clip.height) == (48, 32)
    assert np.abs(back[-1].astype(int) - back[1]).max() <= 3  # the last frame held


def test_an_encoder_failure_is_a_tool_error_with_its_stage_scene_and_stderr(tmp_path):
    with pytest.raises(ToolError) as err:
        write_blocks([ramp(3, 32, 32)], Fraction(24), tmp_path / "d.mp4", vf="no_such_filter", stage="render",
                     scene="s02")
    assert (err.value.stage, err.value.scene) == ("render", "s02") and "no_such_filter" in err.value.stderr
    assert not list(tmp_path.iterdir())  # nothing half-written left behind


def test_a_failure_upstream_leaves_no_file_and_no_waiting_encoder(tmp_path):
    def blocks():
        yield ramp(3, 32, 32)
        raise RuntimeError("the upscaler broke")

    with pytest.raises(RuntimeError, match="upscaler broke"):
        write_blocks(blocks(), Fraction(24), tmp_path / "e.mp4")
    assert not list(tmp_path.iterdir())


def test_frame_size_must_not_change_mid_clip(tmp_path):
    writer = FrameWriter(tmp_path / "f.mp4", Fraction(24))
    writer.write(ramp(2, 32, 32))
    with pytest.raises(InputError, match="frame size changed mid-clip: 48x32"):
        writer.write(ramp(2, 32, 48))
    writer.abort()
    with pytest.raises(InputError, match="no frames to encode"):
        FrameWriter(tmp_path / "g.mp4", Fraction(24)).close()


def test_filter_frames_gives_the_graphs_frames_at_its_size():
    out = filter_frames(ramp(3, 16, 24), "scale=48:32", size=(48, 32), stage="upscale")
    assert out.shape == (3, 32, 48, 3) and out.dtype == np.uint8
    doubled = filter_frames(ramp(3, 16, 24), "fps=48", rate=24, stage="interpolate")
    assert doubled.shape[1:] == (16, 24, 3) and len(doubled) >= 5
    with pytest.raises(ToolError, match="ffmpeg filter nope failed") as err:
        filter_frames(ramp(1, 16, 16), "nope=1", stage="upscale")
    assert err.value.stage == "upscale" and err.value.stderr


def test_reading_something_that_is_not_a_video_says_so(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video")
    for read in (read_frames, clip_rate, lambda p: next(iter_frames(p, 4))):
        with pytest.raises(InputError, match="cannot read video"):
            read(junk)

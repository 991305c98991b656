"""Upscalers and interpolators: exact sizes and counts from ffmpeg, and the learned upscaler's tiling."""
from __future__ import annotations

import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from moviefactory.errors import InputError, MissingDependencyError
from moviefactory.media.frames import write_frames
from moviefactory.renderers.upscale import (TiledModelUpscaler, create_interpolator, create_upscaler, interpolate_clip,
                                            interpolator_names, override_interpolator, upscale_clip, upscaler_names)
from media import video_frames


def pattern(frames: int, height: int, width: int, shift: int = 2) -> np.ndarray:
    """Smooth colour gradients panning right: structure an interpolator can track."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    out = []
    for t in range(frames):
        xs = x - shift * t
        out.append(np.stack([128 + 90 * np.sin(xs / 9), 128 + 90 * np.cos(y / 7), 128 + 60 * np.sin((xs + y) / 13)],
                            -1))
    return np.clip(out, 0, 255).astype(np.uint8)


class PixelShuffleNet(torch.nn.Module):
    """A ×4 super-resolution net in miniature (conv, ReLU, conv to 48 channels, PixelShuffle), random weights."""

    def __init__(self) -> None:
        super().__init__()
        self.head = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.tail = torch.nn.Conv2d(16, 3 * 16, 3, padding=1)
        self.shuffle = torch.nn.PixelShuffle(4)

    def forward(self, x):
        return torch.sigmoid(self.shuffle(self.tail(torch.relu(self.head(x)))))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return PixelShuffleNet().eval()


def test_registries_list_the_builtins():
    assert {"ffmpeg-lanczos", "spandrel"} <= set(upscaler_names())
    assert "ffmpeg-minterpolate" in interpolator_names()
    # what the registry builds does the job (isinstance on a Protocol would only check attribute names)
    tiny = pattern(3, 32, 48)
    assert create_upscaler("ffmpeg-lanczos").upscale(tiny, 2).shape == (3, 64, 96, 3)
    assert create_interpolator("ffmpeg-minterpolate").interpolate(tiny, 2).shape == (6, 32, 48, 3)
    with pytest.raises(InputError, match="unknown upscaler"):
        create_upscaler("nope")


def test_an_entry_can_be_overridden_for_a_block_and_comes_back():
    made = []
    with override_interpolator("ffmpeg-minterpolate", lambda **kw: made.append(kw) or "spy"):
        assert create_interpolator("ffmpeg-minterpolate", mode="blend") == "spy" and made == [{"mode": "blend"}]
    assert create_interpolator("ffmpeg-minterpolate", mode="blend").mode == "blend"  # the real one again
    with override_interpolator("made-up", lambda: "spy"):
        assert "made-up" in interpolator_names()
    assert "made-up" not in interpolator_names()


@pytest.mark.parametrize("factor", [2, 4])
def test_lanczos_gives_exact_sizes(factor):
    frames = pattern(2, 320, 768)  # the widescreen generation size
    out = create_upscaler("ffmpeg-lanczos").upscale(frames, factor)
    assert out.shape == (2, 320 * factor, 768 * factor, 3) and out.dtype == np.uint8
    if factor == 4:
        assert out.shape[1:3] == (1280, 3072)
    # Still the same picture: shrinking it back lands near the original.
    small = out[:, factor // 2::factor, factor // 2::factor].astype(int)
    assert np.abs(small - frames).mean() < 6


def test_minterpolate_doubles_the_frames_and_keeps_the_originals():
    frames = pattern(10, 48, 64)
    out = create_interpolator("ffmpeg-minterpolate").interpolate(frames, 2)
    assert abs(len(out) - 20) <= 1 and len(out) == 20  # exactly factor x, so the duration is kept
    # Every original lands at i * factor, the last one too (minterpolate alone stops a frame early).
    per_frame = np.abs(out[0:20:2].astype(int) - frames).mean(axis=(1, 2, 3))
    assert per_frame.max() < 3, per_frame
    # An in-between frame sits between its neighbours, not on either of them.
    mid = out[9].astype(int)
    assert np.abs(mid - frames[4]).mean() > 2 and np.abs(mid - frames[5]).mean() > 2


def test_clip_helpers_stream_files(tmp_path):
    src = write_frames(pattern(10, 48, 64), Fraction(12), tmp_path / "in.mp4").path
    up = upscale_clip(src, 2, tmp_path / "up.mp4", create_upscaler("ffmpeg-lanczos"), chunk=3)
    assert (up.width, up.height, up.frames) == (128, 96, 10)
    assert video_frames(up.path) == (10, 12.0)
    inter = interpolate_clip(src, 2, tmp_path / "x2.mp4", create_interpolator("ffmpeg-minterpolate"), chunk=4)
    count, rate = video_frames(inter.path)
    assert count == inter.frames == 20 and rate == 24.0


@pytest.mark.parametrize("tile,overlap,size", [(32, 8, (70, 100)), (48, 12, (64, 64)), (24, 8, (40, 90))])
def test_tiles_reassemble_to_the_whole_frame(net, tile, overlap, size):
    h, w = size
    frames = pattern(3, h, w)
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        whole = net(x)
    upscaler = TiledModelUpscaler(net, 4, tile=tile, overlap=overlap, frame_batch=2)
    tiled = upscaler.run_tiled(x)
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max().item() < 1e-3
    # The uint8 path (frame chunks of 2 over 3 frames) gives the same frames.
    out = upscaler.upscale(frames, 4)
    expected = (whole.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert out.shape == (3, h * 4, w * 4, 3)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_tiles_without_overlap_show_seams(net):
    """The same comparison fails for butted tiles: proof the test above can fail."""
    x = torch.from_numpy(pattern(1, 70, 100)).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        whole = net(x)
    butted = TiledModelUpscaler(net, 4, tile=32, overlap=0).run_tiled(x)
    assert (butted - whole).abs().max().item() > 1e-2


def test_model_scale_larger_than_the_factor_resamples_to_exact_size(net):
    out = TiledModelUpscaler(net, 4, tile=32, overlap=8).upscale(pattern(1, 20, 30), 2)
    assert out.shape == (1, 40, 60, 3)


def test_spandrel_says_what_is_missing(tmp_path, monkeypatch):
    with pytest.raises(MissingDependencyError, match="needs a model file"):
        create_upscaler("spandrel")
    with pytest.raises(MissingDependencyError, match="does not exist"):
        create_upscaler("spandrel", weights=tmp_path / "RealESRGAN_x4plus.pth")
    weights = tmp_path / "model.pth"
    weights.write_bytes(b"not really a model")
    monkeypatch.setitem(sys.modules, "spandrel", None)  # as if it were not installed
    with pytest.raises(MissingDependencyError, match="pip install spandrel") as err:
        create_upscaler("spandrel", weights=weights)
    assert err.value.exit_code == 3


def test_bad_factor_is_refused():
    with pytest.raises(InputError, match="factor"):
        create_upscaler("ffmpeg-lanczos").upscale(pattern(1, 8, 8), 0)

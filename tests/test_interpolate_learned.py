"""The `rife` interpolator: a RIFE v4 flownet.pkl from a local file, checked against the released network code.

Weights are random (seeded) and written the way Practical-RIFE releases them; nothing is downloaded.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import tiny_rife
from moviefactory.errors import InputError, MissingDependencyError
from moviefactory.renderers import interpolate_learned as il  # registers "rife"
from moviefactory.renderers.upscale import create_interpolator, interpolator_names


def moving_square(frames: int, height: int, width: int, step: int = 3) -> np.ndarray:
    """A bright square sliding right over a soft gradient: motion with edges on both sides of it."""
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([40 + 2 * x, 60 + 2 * y, 90 + x + y], -1)
    out = []
    for t in range(frames):
        f = base.copy()
        x0 = 4 + step * t
        f[8:8 + 12, x0:x0 + 12] = (230, 200, 40)
        out.append(f)
    return np.clip(out, 0, 255).astype(np.uint8)


def as_uint8(y: torch.Tensor) -> np.ndarray:
    return (y.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()


def padded(frame: np.ndarray, multiple: int) -> torch.Tensor:
    h, w, _ = frame.shape
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 255.0
    return F.pad(x, (0, -w % multiple, 0, -h % multiple))


class Recorder:
    """Stands in front of the loaded network and keeps every call (inputs, timesteps, output)."""

    def __init__(self, model) -> None:
        self.model, self.calls = model, []

    def __call__(self, img0, img1, t):
        y = self.model(img0, img1, t)
        self.calls.append((img0.clone(), img1.clone(), t.clone(), y.clone()))
        return y


@pytest.fixture(scope="module")
def reference():
    torch.manual_seed(0)
    return tiny_rife.random_weights(tiny_rife.IFNet(), seed=0)


@pytest.fixture(scope="module")
def weights(tmp_path_factory, reference):
    path = tmp_path_factory.mktemp("train_log") / "flownet.pkl"
    tiny_rife.save_flownet(reference, path)
    return path


@pytest.fixture()
def rife(weights):
    return create_interpolator("rife", weights=weights, batch=3)


def test_registered_and_loads_a_released_layout(weights, rife):
    assert "rife" in interpolator_names()
    assert rife.name == "rife"  # its interpolate() is measured in the tests below
    assert rife.device == ("cuda" if torch.cuda.is_available() else "cpu")
    spec = rife.model.spec
    assert (spec.head, spec.enc, spec.widths, spec.feat) == (16, 4, (192, 128, 96, 64, 32), True)
    assert spec.scales == (16, 8, 4, 2, 1) and rife.pad_multiple == 64
    # The folder that holds flownet.pkl (Practical-RIFE's train_log/) works as well.
    assert create_interpolator("rife", weights=weights.parent).model.spec == spec


def test_the_port_computes_what_the_released_network_does(rife, reference):
    g = torch.Generator().manual_seed(3)
    x0 = torch.rand(3, 3, 64, 128, generator=g)
    x1 = torch.roll(x0, shifts=(2, 5), dims=(2, 3))
    t = torch.tensor([0.25, 0.5, 0.75])
    with torch.no_grad():
        want = reference(torch.cat([x0, x1], 1), t.view(3, 1, 1, 1))
        got = rife.model(x0.to(rife.device), x1.to(rife.device), t.to(rife.device)).cpu()
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
    # And the timestep matters: the frame at 0.25 is not the frame at 0.75.
    assert (got[0] - got[2]).abs().mean() > 1e-3


def test_warp_is_a_backward_warp_in_pixels():
    img = torch.rand(1, 3, 8, 10, generator=torch.Generator().manual_seed(0))
    flow = torch.zeros(1, 2, 8, 10)
    flow[:, 0], flow[:, 1] = 1.0, 2.0  # sample one pixel to the right, two down
    y = il.warp(img, flow)
    torch.testing.assert_close(y[..., :-2, :-1], img[..., 2:, 1:], atol=1e-4, rtol=0)
    torch.testing.assert_close(y[..., -1, -1], img[..., -1, -1], atol=1e-4, rtol=0)  # clamped at the border
    torch.testing.assert_close(il.warp(img, flow * 0), img, atol=1e-5, rtol=0)


@pytest.mark.parametrize("factor", [2, 4])
def test_interpolate_keeps_originals_and_fills_in_with_the_network(rife, reference, factor):
    frames = moving_square(5, 40, 48)
    rife.model = recorder = Recorder(rife.model)
    out = rife.interpolate(frames, factor)

    assert out.shape == (5 * factor, 40, 48, 3) and out.dtype == np.uint8
    assert np.array_equal(out[::factor], frames)  # output[i*factor] is input[i], bit for bit
    assert all(np.array_equal(f, frames[-1]) for f in out[4 * factor + 1:])  # holds after the last frame

    jobs = [(i, k) for i in range(4) for k in range(1, factor)]
    inputs0 = torch.cat([c[0] for c in recorder.calls]).cpu()
    inputs1 = torch.cat([c[1] for c in recorder.calls]).cpu()
    steps = torch.cat([c[2] for c in recorder.calls]).cpu()
    outputs = torch.cat([c[3] for c in recorder.calls]).float().cpu()
    assert [round(float(s), 6) for s in steps] == [round(k / factor, 6) for _, k in jobs]
    assert len(recorder.calls) == -(-len(jobs) // 3)  # three pairs a call (batch=3)
    assert inputs0.shape[-2:] == (64, 64)  # padded to the network's multiple...
    assert inputs0[..., 40:, :].abs().sum() == 0 and inputs0[..., 48:].abs().sum() == 0  # ...with zeros
    for n, (i, k) in enumerate(jobs):
        # The pair handed to the network is the right pair of neighbours.
        assert np.array_equal(as_uint8(inputs0[n:n + 1, :, :40, :48])[0], frames[i])
        assert np.array_equal(as_uint8(inputs1[n:n + 1, :, :40, :48])[0], frames[i + 1])
        mid = out[i * factor + k]
        # The in-between is the network's output, cropped back...
        assert np.array_equal(mid, as_uint8(outputs[n:n + 1, :, :40, :48])[0])
        # ...which is the released network's frame at t = k/factor...
        with torch.no_grad():
            want = reference(torch.cat([padded(frames[i], 64), padded(frames[i + 1], 64)], 1),
                             torch.tensor([[[[k / factor]]]]))
        assert np.abs(mid.astype(int) - as_uint8(want[:, :, :40, :48])[0].astype(int)).max() <= 1
        # ...and a new picture, not a copy of either neighbour.
        assert np.abs(mid.astype(int) - frames[i]).mean() > 1
        assert np.abs(mid.astype(int) - frames[i + 1]).mean() > 1


def test_any_frame_size_is_padded_and_cropped_back(rife):
    frames = moving_square(3, 37, 71)
    rife.model = recorder = Recorder(rife.model)
    out = rife.interpolate(frames, 3)
    assert out.shape == (9, 37, 71, 3)
    assert np.array_equal(out[::3], frames)
    assert np.array_equal(out[7], frames[-1]) and np.array_equal(out[8], frames[-1])
    assert all(c[0].shape[-2:] == (64, 128) for c in recorder.calls)
    assert not np.array_equal(out[1], frames[0]) and not np.array_equal(out[1], out[2])


def test_trivial_runs_do_not_call_the_network(rife):
    rife.model = recorder = Recorder(rife.model)
    frames = moving_square(3, 40, 48)
    assert np.array_equal(rife.interpolate(frames, 1), frames)
    one = rife.interpolate(frames[:1], 3)
    assert one.shape == (3, 40, 48, 3) and all(np.array_equal(f, frames[0]) for f in one)
    assert recorder.calls == []
    with pytest.raises(InputError, match="factor"):
        rife.interpolate(frames, 0)
    with pytest.raises(InputError, match=r"\(T, H, W, 3\)"):
        rife.interpolate(frames[..., 0], 2)


def test_older_v4_layout_without_the_feature_map_loads_too(tmp_path):
    """v4.14-v4.20: four blocks, lastconv to 6 channels, no feature map; saved without the module. prefix,
    with a training-only part the loader must drop."""
    spec = il.IFNetSpec(head=32, enc=8, widths=(192, 128, 96, 64), feat=False, scales=(8.0, 4.0, 2.0, 1.0))
    torch.manual_seed(1)
    net = tiny_rife.random_weights(il.build_ifnet(spec), seed=1)
    state = dict(net.state_dict())
    assert state["block0.conv0.0.0.weight"].shape == (96, 23, 3, 3)  # IFBlock(7+16, c=192), as released
    assert state["block1.conv0.0.0.weight"].shape == (64, 28, 3, 3)  # IFBlock(8+4+16, c=128)
    assert state["block3.lastconv.0.weight"].shape == (64, 24, 4, 4)  # ConvTranspose2d(c, 4*6)
    state["teacher.conv0.0.0.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "flownet.pkl")

    rife = create_interpolator("rife", weights=tmp_path / "flownet.pkl")
    assert rife.model.spec == spec and rife.pad_multiple == 32
    frames = moving_square(3, 40, 48)
    out = rife.interpolate(frames, 2)
    assert out.shape == (6, 40, 48, 3) and np.array_equal(out[::2], frames)
    with torch.no_grad():
        want = net(padded(frames[0], 32), padded(frames[1], 32), 0.5)
    assert np.abs(out[1].astype(int) - as_uint8(want[:, :, :40, :48])[0].astype(int)).max() <= 1


def _one_line(exc: pytest.ExceptionInfo) -> str:
    text = str(exc.value)
    assert "\n" not in text and "\n" not in exc.value.one_line()
    return text


def test_missing_weights_say_how_to_get_them(tmp_path):
    with pytest.raises(MissingDependencyError) as exc:
        create_interpolator("rife", weights=tmp_path / "nope.pkl")
    assert "nope.pkl does not exist" in _one_line(exc) and "flownet.pkl" in _one_line(exc)
    with pytest.raises(MissingDependencyError, match="needs a RIFE v4 model file"):
        create_interpolator("rife")
    with pytest.raises(MissingDependencyError, match="does not exist"):
        create_interpolator("rife", weights=tmp_path)  # a folder without flownet.pkl


def test_files_that_are_not_rife_weights_are_refused(tmp_path, reference):
    text = tmp_path / "notes.pkl"
    text.write_text("hello\nthis is not a model\n")
    with pytest.raises(InputError, match="cannot read .* as RIFE weights") as exc:
        create_interpolator("rife", weights=text)
    _one_line(exc)

    other = tmp_path / "other.pth"  # a real state dict, of some other network
    torch.save(torch.nn.Conv2d(3, 8, 3).state_dict(), other)
    with pytest.raises(InputError, match="is not a RIFE v4.14-v4.26 IFNet: no 'encode.cnn0.weight'") as exc:
        create_interpolator("rife", weights=other)
    _one_line(exc)

    state = {k: v for k, v in reference.state_dict().items()}
    broken = dict(state)
    del broken["block2.convblock.3.beta"]
    torch.save(broken, tmp_path / "missing.pkl")
    with pytest.raises(InputError, match="1 weights missing, e.g. 'block2.convblock.3.beta'") as exc:
        create_interpolator("rife", weights=tmp_path / "missing.pkl")
    _one_line(exc)

    broken = dict(state)
    broken["block1.convblock.0.conv.weight"] = torch.zeros(128, 128, 1, 1)
    torch.save(broken, tmp_path / "shape.pkl")
    with pytest.raises(InputError, match=r"'block1.convblock.0.conv.weight' is \(128, 128, 1, 1\)") as exc:
        create_interpolator("rife", weights=tmp_path / "shape.pkl")
    _one_line(exc)

    torch.save([torch.zeros(2)], tmp_path / "list.pkl")
    with pytest.raises(InputError, match="not a state dict of tensors"):
        create_interpolator("rife", weights=tmp_path / "list.pkl")

    with pytest.raises(InputError, match="flow_scale"):
        create_interpolator("rife", weights=tmp_path / "missing.pkl", flow_scale=0.3)

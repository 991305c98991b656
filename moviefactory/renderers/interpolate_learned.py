"""`rife`: learned frame interpolation with RIFE v4 (IFNet), from a local `flownet.pkl`.

The network is a compact port of IFNet from Practical-RIFE (hzwer, MIT licence: https://github.com/hzwer/Practical-RIFE,
`train_log/IFNet_HDv3.py` and `model/warplayer.py`; the per-version definitions cross-checked against
HolyWu/vs-rife's `IFNet_HDv3_v4_*.py`). Since v4.14 the released models share one layout that differs only in
widths: an image encoder `encode` (cnn0..cnn3), four or five `IFBlock`s (two strided convs, eight `ResConv`s, a
transposed conv + PixelShuffle), and from v4.21 on a feature map handed from block to block. The widths, the
block count and that feature map are read off the state dict's shapes, so one class loads v4.14 to v4.26 (lite
and heavy variants too) under the official key names (`module.block0.conv0.0.0.weight`, ...). RIFE v4 takes
the timestep as an input, so a factor-N run asks for t = 1/N, 2/N, ... between each pair directly.

Nothing is downloaded: the weights are a file the user already has (`create_interpolator("rife",
weights="train_log/flownet.pkl")`, or the `train_log` folder holding it). torch is imported inside the functions
that need it; the network runs on CUDA when there is one, else the CPU, a few frame pairs at a time; any frame
size works (padded to the network's multiple, cropped back).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import InputError, MissingDependencyError
from .upscale import check_factor, register_interpolator

FLOW_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)  # the values Practical-RIFE accepts (0.5 for 4K)


@dataclass(frozen=True)
class IFNetSpec:
    """The shape of one RIFE v4 IFNet, as read from its state dict."""

    head: int  # encoder width (cnn0..cnn2 channels)
    enc: int  # encoder output channels per image (cnn3)
    widths: tuple[int, ...]  # IFBlock widths, block0 first
    feat: bool  # v4.21+: each block passes an 8-channel feature map on (lastconv gives 13 channels, not 6)
    scales: tuple[float, ...]  # downscale of each block at flow scale 1.0

    @property
    def out_channels(self) -> int:
        return 13 if self.feat else 6  # 4 flow + 1 mask (+ 8 feature | + 1 unused)

    def in_planes(self, i: int) -> int:
        if i == 0:
            return 3 + 3 + 2 * self.enc + 1  # img0, img1, f0, f1, timestep
        return 3 + 3 + 2 * self.enc + 1 + 1 + (8 if self.feat else 0) + 4  # ... mask, feat; then flow

    def pad_multiple(self, flow_scale: float = 1.0) -> int:
        """Frames are padded to this: the coarsest block sees them downscaled by max(scales)/flow_scale,
        then halves them twice more."""
        base = int(4 * max(self.scales))
        return max(base, int(base / flow_scale))


def default_scales(widths: Sequence[int]) -> tuple[float, ...]:
    """Each block's downscale, as the official releases set it (not stored in the weights)."""
    if len(widths) == 5 and widths[4] == 24:  # v4.25.lite
        return (32.0, 16.0, 8.0, 4.0, 1.0)
    return tuple(float(2 ** k) for k in reversed(range(len(widths))))  # 8,4,2,1 or 16,8,4,2,1


def spec_from_state_dict(state: dict[str, Any]) -> IFNetSpec:
    """The IFNet layout a (prefix-free) state dict describes; InputError naming the first thing that does not fit."""
    def shape(key: str) -> tuple[int, ...]:
        if key not in state:
            raise InputError(f"no {key!r} in it")
        if state[key].dim() != 4:
            raise InputError(f"{key!r} is {tuple(state[key].shape)}, not a convolution kernel")
        return tuple(state[key].shape)

    head = shape("encode.cnn0.weight")[0]
    enc = shape("encode.cnn3.weight")[1]  # ConvTranspose2d weights are (in, out, k, k)
    n = 0
    while f"block{n}.conv0.1.0.weight" in state:
        n += 1
    if n not in (4, 5):
        raise InputError(f"{n} IFBlocks where RIFE v4 has 4 or 5")
    widths = tuple(shape(f"block{i}.conv0.1.0.weight")[0] for i in range(n))
    lastconv = shape("block0.lastconv.0.weight")[1] // 4  # PixelShuffle(2) quarters the channels
    if lastconv not in (6, 13):
        raise InputError(f"block0.lastconv gives {lastconv} channels where RIFE v4 gives 6 or 13")
    spec = IFNetSpec(head, enc, widths, lastconv == 13, default_scales(widths))
    for i, c in enumerate(widths):
        got = shape(f"block{i}.conv0.0.0.weight")
        if got[:2] != (c // 2, spec.in_planes(i)):
            raise InputError(f"block{i}.conv0.0.0.weight is {got}; this layout expects "
                             f"({c // 2}, {spec.in_planes(i)}, 3, 3)")
    return spec


@functools.lru_cache(maxsize=None)
def _network() -> Any:
    """The IFNet classes (torch is imported here, not when the module is)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    def conv(cin: int, cout: int, stride: int) -> nn.Module:
        return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=True), nn.LeakyReLU(0.2, True))

    class Head(nn.Module):
        def __init__(self, width: int, out: int) -> None:
            super().__init__()
            self.cnn0 = nn.Conv2d(3, width, 3, 2, 1)
            self.cnn1 = nn.Conv2d(width, width, 3, 1, 1)
            self.cnn2 = nn.Conv2d(width, width, 3, 1, 1)
            self.cnn3 = nn.ConvTranspose2d(width, out, 4, 2, 1)
            self.relu = nn.LeakyReLU(0.2, True)

        def forward(self, x):
            x = self.relu(self.cnn0(x))
            x = self.relu(self.cnn1(x))
            x = self.relu(self.cnn2(x))
            return self.cnn3(x)

    class ResConv(nn.Module):
        def __init__(self, c: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c, c, 3, 1, 1)
            self.beta = nn.Parameter(torch.ones((1, c, 1, 1)))
            self.relu = nn.LeakyReLU(0.2, True)

        def forward(self, x):
            return self.relu(self.conv(x) * self.beta + x)

    class IFBlock(nn.Module):
        def __init__(self, in_planes: int, c: int, out_channels: int) -> None:
            super().__init__()
            self.conv0 = nn.Sequential(conv(in_planes, c // 2, 2), conv(c // 2, c, 2))
            self.convblock = nn.Sequential(*(ResConv(c) for _ in range(8)))
            self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * out_channels, 4, 2, 1), nn.PixelShuffle(2))

        def forward(self, x, flow, scale: float):
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
            if flow is not None:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear", align_corners=False) / scale
                x = torch.cat((x, flow), 1)
            tmp = self.lastconv(self.convblock(self.conv0(x)))
            tmp = F.interpolate(tmp, scale_factor=scale, mode="bilinear", align_corners=False)
            return tmp[:, :4] * scale, tmp[:, 4:5], tmp[:, 5:]  # flow, mask, feature (v4.21+)

    def warp(image, flow):
        """Backward warp: out(x, y) = image(x + flow_x, y + flow_y), bilinear, edges clamped."""
        n, _, h, w = flow.shape
        gx = torch.linspace(-1.0, 1.0, w, device=flow.device).view(1, 1, 1, w).expand(n, 1, h, w)
        gy = torch.linspace(-1.0, 1.0, h, device=flow.device).view(1, 1, h, 1).expand(n, 1, h, w)
        flow = flow.float()  # the grid in float32 even when the network runs in float16
        flow = torch.cat([flow[:, 0:1] / ((image.shape[3] - 1.0) / 2.0),
                          flow[:, 1:2] / ((image.shape[2] - 1.0) / 2.0)], 1)
        grid = (torch.cat([gx, gy], 1) + flow).permute(0, 2, 3, 1).to(image.dtype)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)

    class IFNet(nn.Module):
        """forward(img0, img1, timestep) -> the frame at `timestep` between them; NCHW in [0, 1], H and W
        multiples of `spec.pad_multiple(flow_scale)`; timestep a float or one value per batch item."""

        def __init__(self, spec: IFNetSpec, flow_scale: float = 1.0) -> None:
            super().__init__()
            self.spec = spec
            self.scale_list = [s / flow_scale for s in spec.scales]
            self.encode = Head(spec.head, spec.enc)
            for i, c in enumerate(spec.widths):
                setattr(self, f"block{i}", IFBlock(spec.in_planes(i), c, spec.out_channels))

        def forward(self, img0, img1, timestep):
            n, _, h, w = img0.shape
            t = torch.as_tensor(timestep, dtype=img0.dtype, device=img0.device).reshape(-1, 1, 1, 1)
            t = t.expand(n, 1, h, w)
            f0, f1 = self.encode(img0), self.encode(img1)
            warped0, warped1 = img0, img1
            flow = mask = feat = None
            for i, scale in enumerate(self.scale_list):
                block = getattr(self, f"block{i}")
                if flow is None:
                    flow, mask, feat = block(torch.cat((img0, img1, f0, f1, t), 1), None, scale)
                else:
                    wf0, wf1 = warp(f0, flow[:, :2]), warp(f1, flow[:, 2:4])
                    parts = [warped0, warped1, wf0, wf1, t, mask] + ([feat] if self.spec.feat else [])
                    fd, mask, feat = block(torch.cat(parts, 1), flow, scale)
                    flow = flow + fd
                warped0, warped1 = warp(img0, flow[:, :2]), warp(img1, flow[:, 2:4])
            mask = torch.sigmoid(mask)
            return warped0 * mask + warped1 * (1 - mask)

    return IFNet, warp


def build_ifnet(spec: IFNetSpec, flow_scale: float = 1.0) -> Any:
    """An IFNet of this layout with fresh (untrained) weights."""
    ifnet, _ = _network()
    return ifnet(spec, flow_scale)


def warp(image: Any, flow: Any) -> Any:
    """RIFE's backward warp (NCHW image, N2HW flow in pixels)."""
    return _network()[1](image, flow)


class RifeInterpolator:
    """Interpolator over a RIFE-style model called as model(img0, img1, timesteps) -> NCHW frames.

    In-betweens for every pair of neighbours go through the model `batch` at a time, each padded (zeros on the
    right and bottom, as Practical-RIFE does) to `pad_multiple` and cropped back.
    """

    name = "rife"

    def __init__(self, model: Callable[..., Any], *, pad_multiple: int = 64, batch: int = 4, device: str = "cpu",
                 dtype: str = "float32") -> None:
        self.model, self.pad_multiple, self.batch = model, int(pad_multiple), max(1, int(batch))
        self.device, self.dtype = device, dtype

    def interpolate(self, frames: np.ndarray, factor: int) -> np.ndarray:
        import torch
        from torch.nn import functional as F

        check_factor(factor)
        frames = np.asarray(frames, dtype=np.uint8)
        if frames.ndim != 4 or frames.shape[-1] != 3:
            raise InputError(f"frames must be (T, H, W, 3), not {frames.shape}", stage="interpolate")
        t, h, w, _ = frames.shape
        out = np.repeat(frames, factor, axis=0)  # originals at i*factor; what follows the last one stays a hold
        jobs = [(i, k) for i in range(t - 1) for k in range(1, factor)]
        m = self.pad_multiple
        pad = (0, -w % m, 0, -h % m)
        dtype = getattr(torch, self.dtype)

        def tensor(index: list[int]):
            x = torch.from_numpy(np.ascontiguousarray(frames[index])).to(self.device).permute(0, 3, 1, 2)
            return F.pad(x.to(dtype) / 255.0, pad)

        with torch.inference_mode():
            for start in range(0, len(jobs), self.batch):
                chunk = jobs[start:start + self.batch]
                img0 = tensor([i for i, _ in chunk])
                img1 = tensor([i + 1 for i, _ in chunk])
                steps = torch.tensor([k / factor for _, k in chunk], device=self.device, dtype=dtype)
                y = self.model(img0, img1, steps)[:, :, :h, :w]
                y = (y.float().clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()
                for (i, k), frame in zip(chunk, y):
                    out[i * factor + k] = frame
        return out


def load_rife(weights: str | Path | None = None, *, device: str | None = None, half: bool = False,
              flow_scale: float = 1.0, batch: int = 4) -> RifeInterpolator:
    """RIFE v4.14-v4.26 from a local `flownet.pkl` (or the folder holding one). `flow_scale` 0.5 estimates motion
    at half resolution (Practical-RIFE's advice for 4K); `half` runs in float16 on CUDA."""
    path = Path(weights) if weights else None
    if path is not None and path.is_dir():
        path = path / "flownet.pkl"
    if path is None or not path.is_file():
        where = f" ({path} does not exist)" if path else ""
        raise MissingDependencyError(
            f"the rife interpolator needs a RIFE v4 model file{where}: download one once, e.g. v4.26 from "
            "Practical-RIFE's model list, and pass its train_log/flownet.pkl (--weights PATH)", stage="interpolate")
    if flow_scale not in FLOW_SCALES:
        raise InputError(f"flow_scale must be one of {', '.join(map(str, FLOW_SCALES))}, not {flow_scale!r}",
                         stage="interpolate")
    try:
        import torch
    except ImportError:
        raise MissingDependencyError("the rife interpolator needs torch: pip install torch",
                                     stage="interpolate") from None
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and weights-only errors all mean "not a state dict"
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise InputError(f"cannot read {path} as RIFE weights: {reason}", stage="interpolate") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path} is not a state dict of tensors (RIFE's flownet.pkl is one)", stage="interpolate")
    # Released files come from DistributedDataParallel ("module." prefix); training-only parts are dropped.
    state = {re.sub(r"^module\.", "", k): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if re.match(r"(encode|block\d+)\.", k)}
    try:
        spec = spec_from_state_dict(state)
        net = build_ifnet(spec, flow_scale)
        _check_keys(net.state_dict(), state)
    except InputError as exc:
        raise InputError(f"{path} is not a RIFE v4.14-v4.26 IFNet: {exc.message}", stage="interpolate") from None
    net.load_state_dict(state, strict=True)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    dtype = "float16" if half and device.startswith("cuda") else "float32"
    net.to(device=device, dtype=getattr(torch, dtype)).eval()
    return RifeInterpolator(net, pad_multiple=spec.pad_multiple(flow_scale), batch=batch, device=device, dtype=dtype)


def _check_keys(expected: dict[str, Any], state: dict[str, Any]) -> None:
    """The first key that is missing, extra or of the wrong shape, as an InputError (load_state_dict's own
    message spans many lines)."""
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing:
        raise InputError(f"{len(missing)} weights missing, e.g. {missing[0]!r}")
    if extra:
        raise InputError(f"{len(extra)} unexpected weights, e.g. {extra[0]!r}")
    if wrong:
        k = wrong[0]
        raise InputError(f"{k!r} is {tuple(state[k].shape)}, expected {tuple(expected[k].shape)}")


register_interpolator("rife")(load_rife)

"""Procedural foley recipes for the default sound-effect library (numpy only, vectorised).

A recipe is `fn(rng, n, sr, **params) -> float array (2, n)`: stereo, any scale (the caller
normalises). Catalogue entries name a recipe and its params (configs/sfx/catalogue.yaml);
`render(spec, rng, n, sr)` runs one, then the spec's optional `env` (piecewise-linear gain over
[[seconds, gain], ...]), `reverb` ({decay, wet, damp, predelay}) and `gain`. `mix` layers specs.

Filtering is done in the frequency domain (rfft masks; noise is drawn straight in the spectrum),
repeated events are one impulse train convolved with a template, and time-varying pitch is a
cumulative phase, so nothing loops per sample in Python.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

RECIPES: dict[str, Callable[..., np.ndarray]] = {}


def recipe(fn: Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    RECIPES[fn.__name__] = fn
    return fn


# ---------------------------------------------------------------- building blocks

def band_mask(f: np.ndarray, lo: float = 0.0, hi: float | None = None, order: int = 2, tilt: float = 0.0,
              peaks=()) -> np.ndarray:
    """Butterworth-like band magnitude, a 1/f**tilt power slope and log-Gaussian peaks [[fc, octaves, dB]]."""
    f = np.maximum(f, 1.0)
    m = np.ones_like(f)
    if lo:
        m /= np.sqrt(1 + (lo / f) ** (2 * order))
    if hi:
        m /= np.sqrt(1 + (f / hi) ** (2 * order))
    if tilt:
        m *= (f / 1000.0) ** (-tilt / 2)
    for fc, octaves, db in peaks:
        m *= 1 + (10 ** (db / 20) - 1) * np.exp(-0.5 * (np.log2(f / fc) / octaves) ** 2)
    return m


def shape(x: np.ndarray, sr: int, **band) -> np.ndarray:
    """Filter along the last axis with `band_mask` (zero phase)."""
    n = x.shape[-1]
    return np.fft.irfft(np.fft.rfft(x, axis=-1) * band_mask(np.fft.rfftfreq(n, 1 / sr), **band), n, axis=-1)


def noise(rng, n: int, sr: int, channels: int = 2, **band) -> np.ndarray:
    """Coloured Gaussian noise (channels, n), unit RMS per channel, drawn in the spectrum (so it loops)."""
    f = np.fft.rfftfreq(n, 1 / sr)
    spec = rng.standard_normal((channels, f.size)) + 1j * rng.standard_normal((channels, f.size))
    spec *= band_mask(f, **band)
    spec[:, 0] = 0
    x = np.fft.irfft(spec, n, axis=-1)
    return x / (x.std(axis=-1, keepdims=True) + 1e-12)


def wander(rng, n: int, sr: int, rate: float) -> np.ndarray:
    """A smooth random curve in [0, 1]: random knots `rate` times a second, smoothstep between them."""
    pos = np.arange(n) / sr * rate
    knots = rng.random(int(pos[-1]) + 2)
    i = pos.astype(int)
    s = pos - i
    s = s * s * (3 - 2 * s)
    return knots[i] * (1 - s) + knots[i + 1] * s


def curve(points, n: int, sr: int) -> np.ndarray:
    """Piecewise-linear curve through [[seconds, value], ...], held flat outside."""
    pts = np.asarray(points, float)
    return np.interp(np.arange(n) / sr, pts[:, 0], pts[:, 1])


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def narrowband(rng, freq: np.ndarray, sr: int, bw: float) -> np.ndarray:
    """Noise `bw` Hz wide centred on the per-sample frequency `freq` (a moving band: wind, whooshes)."""
    iq = noise(rng, freq.size, sr, channels=2, hi=bw / 2)
    phase = 2 * np.pi * np.cumsum(freq) / sr
    return iq[0] * np.cos(phase) - iq[1] * np.sin(phase)


def harmonic(freq: np.ndarray, sr: int, amps=(1.0,), phases=None) -> np.ndarray:
    """Additive tone following the per-sample frequency; partials above 0.45*sr are dropped."""
    ph = 2 * np.pi * np.cumsum(freq) / sr
    out = np.zeros_like(ph)
    for k, a in enumerate(amps, 1):
        if a:
            out += a * np.sin(k * ph + (phases[k - 1] if phases is not None else 0.0)) * (k * freq < 0.45 * sr)
    return out


def pan_gains(p) -> np.ndarray:
    """Equal-power (2, k) gains for pan positions in [-1, 1] (0 = centre, gain 1 each side)."""
    a = (np.asarray(p, float) + 1) * np.pi / 4
    return np.stack([np.cos(a), np.sin(a)]) * np.sqrt(2)


def pan(x: np.ndarray, p) -> np.ndarray:
    """Place mono `x` at pan `p` (a number or a per-sample curve)."""
    return pan_gains(p) * x if np.ndim(p) else pan_gains([p])[:, :1] * x


def widen(x: np.ndarray, width: float) -> np.ndarray:
    mid = x.mean(axis=0)
    return mid + width * (x - mid)


def fast_len(n: int) -> int:
    """The smallest 2^a 3^b 5^c >= n (FFT sizes that pocketfft does fastest)."""
    best, p5 = 1 << (n - 1).bit_length(), 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            q = p35
            while q < n:
                q *= 2
            best, p35 = min(best, q), p35 * 3
        p5 *= 5
    return best


def fftconv(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """Linear convolution along the last axis, cut to n samples."""
    size = fast_len(a.shape[-1] + b.shape[-1] - 1)
    return np.fft.irfft(np.fft.rfft(a, size) * np.fft.rfft(b, size), size)[..., :n]


def place(events, n: int, sr: int) -> np.ndarray:
    """Sum copies of mono templates: `events` = [(template, times_s, stereo gains (2, k)), ...].

    Sparse events are added directly; dense ones (rain) become impulse trains whose spectra are
    multiplied by the templates' and summed, so there is one inverse FFT for all of them.
    """
    out = np.zeros((2, n))
    dense = []
    for tpl, times, gains in events:
        idx = np.round(np.asarray(times, float) * sr).astype(int)
        ok = (idx >= 0) & (idx < n)
        idx, gains, m = idx[ok], np.asarray(gains)[:, ok], tpl.size
        if idx.size * m <= 3_000_000:
            pos = (idx[:, None] + np.arange(m)).ravel()
            for ch in range(2):
                out[ch] += np.bincount(pos, (gains[ch][:, None] * tpl).ravel(), minlength=n + m)[:n]
        else:
            dense.append((tpl, idx, gains))
    if dense:
        size = fast_len(n + max(t.size for t, _, _ in dense) - 1)
        acc = 0
        for tpl, idx, gains in dense:
            train = np.zeros((2, n))
            for ch in range(2):
                np.add.at(train[ch], idx, gains[ch])
            acc = acc + np.fft.rfft(train, size) * np.fft.rfft(tpl, size)
        out += np.fft.irfft(acc, size)[..., :n]
    return out


def decay_env(m: int, sr: int, decay: float, attack: float = 0.0005) -> np.ndarray:
    t = np.arange(m) / sr
    return np.minimum(t / max(attack, 1e-6), 1.0) * np.exp(-np.maximum(t - attack, 0) / decay)


def modes(sr: int, freqs, decays, amps=None, length: float | None = None, beat: float = 0.0, rng=None) -> np.ndarray:
    """Modal resonator ring: damped sines (optionally each with a weaker twin `beat` Hz above: a bell's warble)."""
    freqs = np.asarray(freqs, float)
    decays = np.broadcast_to(np.asarray(decays, float), freqs.shape)
    amps = np.ones_like(freqs) if amps is None else np.broadcast_to(np.asarray(amps, float), freqs.shape)
    m = int((length or 6 * decays.max()) * sr)
    t = np.arange(m) / sr
    phases = rng.uniform(0, 2 * np.pi, freqs.size) if rng is not None else np.zeros(freqs.size)
    out = np.zeros(m)
    for f, d, a, p in zip(freqs, decays, amps, phases):
        if f < 0.45 * sr:
            ring = np.sin(2 * np.pi * f * t + p) + (0.45 * np.sin(2 * np.pi * (f + beat) * t) if beat else 0)
            out += a * ring * np.exp(-t / d)
    return out


def make_grain(rng, sr: int, decay=(0.002, 0.006), band=None, tone=None, sweep: float = 0.0, tone_level: float = 1.0,
          peaks=()) -> np.ndarray:
    """One short event: a noise click in `band` and/or a pitched ping (log-uniform in `tone`, rising by `sweep`)."""
    d = rng.uniform(*decay)
    m = int(7 * d * sr) + 16
    t = np.arange(m) / sr
    env = decay_env(m, sr, d, attack=0.0003)
    out = np.zeros(m)
    if band:
        j = rng.uniform(0.8, 1.25)
        out += noise(rng, m, sr, channels=1, lo=band[0] * j, hi=band[1] * j, peaks=peaks)[0]
    if tone:
        f = np.exp(rng.uniform(np.log(tone[0]), np.log(tone[1])))
        out += tone_level * 2 * np.sin(2 * np.pi * np.cumsum(f * (1 + sweep * (1 - np.exp(-t / d)))) / sr)
    return out * env


def burst_env(n: int, sr: int, start: float, attack: float, decay: float) -> np.ndarray:
    u = np.arange(n) / sr - start
    return smoothstep(u / max(attack, 1e-4)) * np.exp(-np.maximum(u - attack, 0) / decay)


def reverb(rng, x: np.ndarray, sr: int, decay: float = 1.0, wet: float = 0.3, damp: float = 6000.0,
           predelay: float = 0.012) -> np.ndarray:
    """A synthetic room: convolution with exponentially decaying stereo noise (RT60 = `decay`), damped above `damp`."""
    n, m = x.shape[-1], int(1.4 * decay * sr)  # to -84 dB
    ir = rng.standard_normal((2, m)) * np.exp(-6.9 * np.arange(m) / sr / decay)
    ir[:, : int(predelay * sr)] = 0
    size = fast_len(n + m - 1)
    spec = np.fft.rfft(x, size) * np.fft.rfft(ir, size) * band_mask(np.fft.rfftfreq(size, 1 / sr), lo=80, hi=damp)
    tail = np.fft.irfft(spec, size)[..., :n]
    tail *= np.sqrt((x ** 2).mean() / max((tail ** 2).mean(), 1e-20))
    return (1 - wet) * x + wet * tail


def render(spec: dict, rng, n: int, sr: int) -> np.ndarray:
    """Run one recipe spec ({recipe, params, env?, reverb?, gain?}) into a (2, n) array."""
    try:
        fn = RECIPES[spec["recipe"]]
    except KeyError:
        raise ValueError(f"unknown foley recipe {spec.get('recipe')!r}; known: {', '.join(sorted(RECIPES))}") from None
    x = fn(rng, n, sr, **spec.get("params", {}))
    if spec.get("env"):
        x = x * curve(spec["env"], n, sr)
    if spec.get("reverb"):
        x = reverb(rng, x, sr, **spec["reverb"])
    return x * spec.get("gain", 1.0)


# ---------------------------------------------------------------- recipes

@recipe
def mix(rng, n, sr, layers=()):
    """Layers (each a spec), each peak-normalised before its `gain`, summed."""
    out = np.zeros((2, n))
    for layer in layers:
        x = render({**layer, "gain": 1.0}, rng, n, sr)
        out += layer.get("gain", 1.0) * x / (np.abs(x).max() + 1e-12)
    return out


@recipe
def noise_bed(rng, n, sr, lo=20.0, hi=8000.0, tilt=0.0, order=2, peaks=(), gust=0.0, gust_rate=0.15, bright=0.0,
              width=0.7, whistles=()):
    """Coloured noise with slow gusts (louder and brighter together) and optional moving whistles."""
    x = widen(noise(rng, n, sr, lo=lo, hi=hi, tilt=tilt, order=order, peaks=peaks), width)
    env = (1 - gust) + 2 * gust * wander(rng, n, sr, gust_rate) if gust else np.ones(n)
    if bright:
        x = x + bright * widen(noise(rng, n, sr, lo=hi * 0.5, hi=hi * 2.5, tilt=tilt), width) * env
    out = x * env
    for w in whistles:
        f = w["freq"] * (1 + w.get("wander", 0.2) * (2 * wander(rng, n, sr, w.get("rate", 0.3)) - 1))
        out += w.get("level", 0.5) * pan(narrowband(rng, f, sr, w.get("bw", 40)) * env ** 2, w.get("pan", 0.0))
    return out


@recipe
def waves(rng, n, sr, period=7.0, jitter=0.2, attack=0.4, decay=0.3, floor=0.12, lo=50.0, hi=1500.0, hiss=0.5):
    """Ocean surf: swells that build over `attack`*period, crash (a bright fizz) and drain away."""
    t = np.arange(n) / sr
    body, fizz = np.full(n, floor), np.zeros(n)
    start = -rng.uniform(0.3, 0.8) * period
    while start < t[-1]:
        a = period * attack * rng.uniform(1 - jitter, 1 + jitter)
        amp = rng.uniform(1 - jitter, 1 + jitter)
        u = t - start
        body = np.maximum(body, amp * smoothstep(u / a) * np.exp(-np.maximum(u - a, 0) / (period * decay)))
        crash = smoothstep((u - 0.8 * a) / (0.2 * a)) * np.exp(-np.maximum(u - a, 0) / (period * decay * 0.5))
        fizz = np.maximum(fizz, amp * crash)
        start += period * rng.uniform(1 - jitter, 1 + jitter)
    roar = noise(rng, n, sr, lo=lo, hi=hi, tilt=1.0) * body
    return widen(roar + hiss * noise(rng, n, sr, lo=1200, hi=9000) * fizz, 0.8)


@recipe
def granular(rng, n, sr, density=50.0, grain=None, variants=6, spread=0.8, gain_sigma=0.5, heavy=0.0,
             envelope=None):
    """Random grains (rain drops, crackles, claps, shards) at `density`/s, shaped by an `envelope` curve.

    Grains share `variants` templates (drawn from `grain`), each copy with its own gain and pan.
    """
    t = np.arange(n) / sr
    prof = curve(envelope, n, sr) if envelope else np.ones(n)
    cdf = np.cumsum(prof)
    k = rng.poisson(density * cdf[-1] / sr)
    times = np.interp(rng.random(k) * cdf[-1], cdf, t)
    gains = np.exp(gain_sigma * rng.standard_normal(k))
    if heavy:  # a Pareto tail: mostly small ticks, the odd loud pop
        gains *= np.minimum(rng.pareto(heavy, k) + 1, 25)
    g2 = pan_gains(rng.uniform(-spread, spread, k)) * gains
    variants = variants or k  # 0: every grain its own (sparse clouds of shards, where repeats would show)
    which = rng.integers(0, variants, k)
    events = [(make_grain(rng, sr, **(grain or {})), times[which == v], g2[:, which == v]) for v in range(variants)]
    return place(events, n, sr)


@recipe
def thunder(rng, n, sr, start=0.3, attack=0.5, decay=2.5, cutoff=150.0, mid=0.15, rolls=4, roll_depth=0.8, crack=0.0):
    """A low rumble (brown noise under `cutoff`) that swells, rolls in bumps and dies; `crack` adds a close strike."""
    t = np.arange(n) / sr
    env = burst_env(n, sr, start, attack, decay)
    for _ in range(rolls):
        c, w = start + attack + rng.uniform(0, 1.5 * decay), rng.uniform(0.15, 0.5)
        env *= 1 + roll_depth * rng.uniform(0.3, 1.0) * np.exp(-0.5 * ((t - c) / w) ** 2)
    body = noise(rng, n, sr, lo=22, hi=cutoff, tilt=1.0, order=3)
    body += mid * noise(rng, n, sr, lo=cutoff, hi=4 * cutoff, tilt=1.5)
    out = widen(body * env, 0.5)
    if crack:
        snap = noise(rng, n, sr, lo=250, hi=9000, tilt=0.5) * burst_env(n, sr, start, 0.002, 0.07)
        tear = granular(rng, n, sr, density=120, grain={"band": [400, 7000], "decay": [0.002, 0.01]},
                        envelope=[[0, 0], [start, 1], [start + 0.35, 0.3], [start + 0.6, 0]])
        out += crack * (snap + tear / (np.abs(tear).max() + 1e-12) * 2.0)
    return out


def event(rng, sr: int, pitch: float = 1.0, click=None, ring=None, thump=None, grains=None, tail=None) -> np.ndarray:
    """One hit template (mono): a noise click, a modal ring, a pitched thump, a cluster of grains, a rumble tail."""
    parts = []
    if click:
        d = click.get("decay", 0.01)
        m = int(7 * d * sr)
        lo, hi = click.get("band", [100, 6000])
        burst = noise(rng, m, sr, 1, lo=lo * pitch, hi=hi * pitch)[0] * decay_env(m, sr, d)
        parts.append((click.get("level", 1.0), burst))
    if ring:
        f = np.asarray(ring["freqs"], float) * pitch * rng.uniform(0.98, 1.02)
        parts.append((ring.get("level", 1.0), modes(sr, f, ring["decays"], ring.get("amps"), rng=rng)))
    if thump:
        d, m = thump.get("decay", 0.08), int(7 * thump.get("decay", 0.08) * sr)
        tt = np.arange(m) / sr
        drop = thump.get("drop", 0.6)
        f = thump["freq"] * pitch * (drop + (1 - drop) * np.exp(-tt / (0.4 * d)))
        parts.append((thump.get("level", 1.0), np.sin(2 * np.pi * np.cumsum(f) / sr) * decay_env(m, sr, d, 0.002)))
    if grains:
        m = int((grains.get("spread", 0.1) + 0.05) * sr)
        k = grains.get("count", 30)
        times = rng.beta(1.3, 3.0, k) * grains.get("spread", 0.1)
        g = np.exp(0.6 * rng.standard_normal(k))
        tpl = make_grain(rng, sr, band=grains.get("band", [800, 6000]), decay=grains.get("decay", [0.001, 0.004]))
        parts.append((grains.get("level", 1.0), place([(tpl, times, np.stack([g, g]))], m, sr)[0]))
    if tail:
        d = tail.get("decay", 2.0)
        m = int(5 * d * sr)
        body = noise(rng, m, sr, 1, lo=22, hi=tail.get("cutoff", 150), tilt=1.0, order=3)[0]
        parts.append((tail.get("level", 1.0), body * burst_env(m, sr, 0.0, tail.get("attack", 0.05), d)))
    out = np.zeros(max(p.size for _, p in parts))
    for level, p in parts:
        out[: p.size] += level * p / (np.abs(p).max() + 1e-12)
    return out


@recipe
def pattern(rng, n, sr, period=1.0, hits=((0.0, 1.0, 1.0),), start=0.1, count=None, jitter=0.0, gain_jitter=0.1,
            variants=3, pan_pos=0.0, hit=None):
    """A rhythm: each `period` plays `hits` [[offset, gain, pitch]], for `count` cycles at most."""
    cycles = int(np.ceil((n / sr - start) / period)) + 1
    cycles = min(cycles, count) if count else cycles
    events = []
    hits = np.asarray(hits, float)
    for pitch in np.unique(hits[:, 2]):
        sel = hits[hits[:, 2] == pitch]
        times = (start + period * np.arange(cycles)[:, None] + sel[None, :, 0]).ravel()
        times = times + jitter * rng.standard_normal(times.size)
        gains = np.tile(sel[:, 1], cycles) * np.exp(gain_jitter * rng.standard_normal(times.size))
        which = rng.integers(0, variants, times.size)
        for v in range(variants):
            tpl = event(rng, sr, pitch, **(hit or {}))
            pick = which == v
            events.append((tpl, times[pick], pan_gains(np.full(pick.sum(), pan_pos)) * gains[pick]))
    return place(events, n, sr)


@recipe
def impact(rng, n, sr, start=0.1, hit=None):
    """A single hit (see `event`)."""
    return pattern(rng, n, sr, period=n / sr, start=start, count=1, gain_jitter=0.0, variants=1, hit=hit)


@recipe
def bell(rng, n, sr, freq=220.0, ratios=(0.5, 1.0, 1.2, 1.5, 2.0, 2.5, 2.67, 3.0, 4.0), decay=4.0, decay_exp=0.8,
         amps=None, beat=0.7, strikes=((0.05, 1.0, 1.0),), strike_band=(400, 6000), strike=0.3, spread=0.3):
    """Struck metal: inharmonic partials (slightly beating pairs), higher ones dying faster.

    `strikes` [[t, gain, pitch]]; each distinct pitch rings one template.
    """
    ratios = np.asarray(ratios, float)
    amps = np.asarray(amps, float) if amps is not None else ratios ** -0.4
    decays = decay * (ratios / ratios.min()) ** -decay_exp
    events = []
    strikes = np.asarray(strikes, float)
    for pitch in np.unique(strikes[:, 2]):
        sel = strikes[strikes[:, 2] == pitch]
        ring = modes(sr, freq * pitch * ratios, decays, amps, length=min(n / sr, 6 * decays.max()), beat=beat, rng=rng)
        m = int(0.006 * sr)
        hit = noise(rng, m, sr, 1, lo=strike_band[0], hi=strike_band[1])[0] * decay_env(m, sr, 0.0015)
        ring[:m] += strike * hit * np.abs(ring).max()
        p = rng.uniform(-spread, spread, len(sel))
        events.append((ring, sel[:, 0], pan_gains(p) * sel[:, 1]))
    return place(events, n, sr)


@recipe
def creak(rng, n, sr, start=0.2, rate=((0.0, 30.0), (1.0, 120.0)), jitter=0.25, freqs=(420, 980, 1650, 2600),
          decays=(0.012, 0.008, 0.006, 0.004), amp=((0, 1), (10, 1))):
    """Stick-slip friction (a hinge): a train of tiny impulses at a wandering `rate` [[t, Hz]] exciting wood modes."""
    t = np.arange(n) / sr
    r = curve([[start + a, b] for a, b in rate], n, sr) * (1 + jitter * (2 * wander(rng, n, sr, 25) - 1))
    r *= t >= start
    idx = np.nonzero(np.diff(np.floor(np.cumsum(r) / sr)) > 0)[0]
    a = curve([[start + x, y] for x, y in amp], n, sr)[idx] * np.exp(0.3 * rng.standard_normal(idx.size))
    tpl = modes(sr, freqs, decays, rng=rng)
    return place([(tpl, idx / sr, np.stack([a, a]))], n, sr)


@recipe
def whoosh(rng, n, sr, events=((0.3, 1.2, 250.0, 1800.0, 1.0),), bw=0.5, travel=1.4, skew=0.6):
    """Air rushing past: a band of noise whose centre and loudness rise and fall, panning across.

    `events` [[t, dur, f0, f1, gain]]: the band centre goes f0 -> f1 at the loudest point -> f0.
    """
    out = np.zeros((2, n))
    for start, dur, f0, f1, g in events:
        a, b = int(start * sr), min(n, int((start + dur) * sr))
        u = (np.arange(b - a) / sr) / dur
        shape_ = (u ** (2 * skew) * (1 - u) ** (2 * (1 - skew)))
        shape_ /= shape_.max()
        f = f0 + (f1 - f0) * shape_
        sig = narrowband(rng, f, sr, bw * f1) * shape_ ** 1.5
        out[:, a:b] += g * pan(sig, travel * (u - 0.5))
    return out


@recipe
def zap(rng, n, sr, shots=((0.1, 1.0),), dur=0.35, f0=2800.0, f1=160.0, sweep=4.0, fm_rate=55.0, fm_depth=0.2,
        drive=3.0):
    """Laser: a driven tone diving exponentially from f0 to f1 with a fast warble. `shots` [[t, gain]]."""
    out = np.zeros((2, n))
    for start, g in shots:
        a, b = int(start * sr), min(n, int((start + dur) * sr))
        tt = np.arange(b - a) / sr
        f = (f1 + (f0 - f1) * np.exp(-sweep * tt / dur)) * (1 + fm_depth * np.sin(2 * np.pi * fm_rate * tt))
        s = np.tanh(drive * np.sin(2 * np.pi * np.cumsum(f) / sr)) / np.tanh(drive)
        out[:, a:b] += g * pan(s * decay_env(b - a, sr, dur * 0.35, 0.002), rng.uniform(-0.3, 0.3))
    return out


@recipe
def beeps(rng, n, sr, rate=7.0, base=880.0, scale=(0, 2, 4, 7, 9, 12, 14, 19), length=(0.04, 0.14), rest=0.25,
          glide=0.2, drive=1.5):
    """Computer chatter: short tones from a scale, the odd glide, in bursts with rests."""
    out = np.zeros((2, n))
    t = 0.08
    while t < n / sr - 0.2:
        L = rng.uniform(*length)
        a, b = int(t * sr), int((t + L) * sr)
        f = base * 2 ** (rng.choice(scale) / 12) * np.ones(b - a)
        if rng.random() < glide:
            f *= 2 ** (rng.choice([-7, -5, 5, 7, 12]) / 12 * np.linspace(0, 1, b - a))
        s = np.tanh(drive * np.sin(2 * np.pi * np.cumsum(f) / sr)) / np.tanh(drive)
        env = smoothstep(np.minimum(np.arange(b - a), np.arange(b - a)[::-1]) / (0.004 * sr))
        out[:, a:b] += pan(s * env * rng.uniform(0.6, 1.0), rng.uniform(-0.4, 0.4))
        pause = rng.uniform(0.2, 0.6) if rng.random() < rest else 0.0
        t += L + rng.uniform(0.01, 0.05) + pause + rng.random() / rate
    return out


@recipe
def engine(rng, n, sr, rpm=((0.0, 28.0),), wobble=0.02, harmonics=24, rolloff=1.0, odd=0.6, cutoff=2500.0,
           firing=0.5, rumble=0.4, load=0.6):
    """Combustion engine: firing frequency contour [[t, Hz]], a rough harmonic stack plus gated exhaust noise."""
    f = curve(rpm, n, sr) * (1 + wobble * (2 * wander(rng, n, sr, 9) - 1))
    k = np.arange(1, harmonics + 1)
    amps = k ** -rolloff * (1 + odd * (k % 2)) * rng.uniform(0.4, 1.0, harmonics)
    tone = harmonic(f, sr, amps, rng.uniform(0, 2 * np.pi, harmonics))
    tone = shape(tone, sr, hi=cutoff)
    ph = 2 * np.pi * np.cumsum(f) / sr
    chug = noise(rng, n, sr, 1, lo=80, hi=3000)[0] * (0.5 + 0.5 * np.cos(ph)) ** 6
    x = tone / (np.abs(tone).max() + 1e-12) + firing * chug / (np.abs(chug).max() + 1e-12)
    x *= (f / f.min()) ** load
    return widen(np.stack([x, x]) + rumble * noise(rng, n, sr, lo=25, hi=160, tilt=1.0), 0.4)


@recipe
def drone(rng, n, sr, freqs=(55.0,), partials=(1.0, 0.5, 0.3, 0.2), detune=0.4, lfo=0.12, lfo_depth=0.3,
          noise_band=(30.0, 400.0), noise_level=0.3, whine=None):
    """A machine hum: beating harmonic stacks, a slow swell, filtered air, an optional wobbling whine {freq, level}."""
    t = np.arange(n) / sr
    x = np.zeros((2, n))
    for i, f in enumerate(freqs):
        for k, a in enumerate(partials, 1):
            x[0] += a * np.sin(2 * np.pi * k * f * t + rng.uniform(0, 6.28))
            x[1] += a * np.sin(2 * np.pi * (k * f + detune) * t + rng.uniform(0, 6.28))
    x /= np.abs(x).max() + 1e-12
    x *= 1 - lfo_depth + lfo_depth * (1 + np.sin(2 * np.pi * lfo * t)) / 2
    x += noise_level * noise(rng, n, sr, lo=noise_band[0], hi=noise_band[1], tilt=1.0) / 3
    if whine:
        f = whine["freq"] * (1 + whine.get("wobble", 0.01) * np.sin(2 * np.pi * whine.get("rate", 0.3) * t))
        x += whine.get("level", 0.2) * harmonic(f, sr, (1.0, 0.3))
    return x


@recipe
def birds(rng, n, sr, count=3, pitch=(2600.0, 5200.0), gap=(0.8, 2.5), syllables=(3, 8), syll=(0.04, 0.13)):
    """Songbirds: phrases of repeated syllables (down-sweeps, up-sweeps, trills, whistles), each bird panned apart."""
    out = np.zeros((2, n))
    styles = ("down", "up", "trill", "whistle")
    for _ in range(count):
        base, p, level = np.exp(rng.uniform(*np.log(pitch))), rng.uniform(-0.8, 0.8), rng.uniform(0.4, 1.0)
        t = rng.uniform(0.05, gap[1])
        while t < n / sr - 0.4:
            motif = rng.choice(styles, size=2)
            L = rng.uniform(*syll)
            for j in range(rng.integers(*syllables)):
                a, b = int(t * sr), min(n, int((t + L) * sr))
                u = np.linspace(0, 1, b - a)
                style, f = motif[j % 2], base * rng.uniform(0.97, 1.03)
                contour = {"down": f * (1.35 - 0.6 * u), "up": f * (0.75 + 0.5 * u),
                           "trill": f * (1 + 0.12 * np.sin(2 * np.pi * 38 * u * L)),
                           "whistle": f * (1 + 0.02 * u)}[style]
                out[:, a:b] += pan(harmonic(contour, sr, (1.0, 0.12)) * np.sin(np.pi * u) ** 2 * level, p)
                t += L + rng.uniform(0.015, 0.07)
                if t > n / sr - 0.3:
                    break
            t += rng.uniform(*gap)
    return out


@recipe
def crickets(rng, n, sr, count=4, carrier=(4200.0, 5200.0), chirp_rate=(1.5, 3.0), pulses=(2, 5),
             pulse_rate=(25.0, 40.0), duty=0.6):
    """Field crickets: each a carrier tone gated into chirps of a few pulses, at its own rate and distance."""
    t = np.arange(n) / sr
    out = np.zeros((2, n))
    for _ in range(count):
        f, cr, k, pr = rng.uniform(*carrier), rng.uniform(*chirp_rate), rng.integers(*pulses), rng.uniform(*pulse_rate)
        local = ((t * cr + rng.random()) % 1) / cr * pr
        idx, frac = np.floor(local), local % 1
        gate = (idx < k) * (frac < duty) * np.sin(np.pi * np.minimum(frac / duty, 1)) ** 2
        out += pan(np.sin(2 * np.pi * f * t) * gate * rng.uniform(0.3, 1.0), rng.uniform(-0.8, 0.8))
    return out


@recipe
def call(rng, n, sr, calls=(), harmonics=(1.0, 0.2), vibrato=(5.0, 0.01), breath=0.1, breath_band=(300.0, 3000.0),
         attack=0.05, release=0.1, pan_pos=0.0):
    """Animal voices (owl hoots, howls, horns): tones along a contour. `calls` [[t, dur, [Hz, ...], gain]]."""
    out = np.zeros(n)
    for start, dur, contour, g in calls:
        a, b = int(start * sr), min(n, int((start + dur) * sr))
        u = np.linspace(0, 1, b - a)
        tt = np.arange(b - a) / sr
        f = np.interp(u, np.linspace(0, 1, len(contour)), contour)
        f = f * (1 + vibrato[1] * np.sin(2 * np.pi * vibrato[0] * tt))
        env = smoothstep(tt / attack) * smoothstep((dur - tt) / release)
        voice = harmonic(f, sr, harmonics) + breath * noise(rng, b - a, sr, 1, lo=breath_band[0], hi=breath_band[1])[0]
        out[a:b] += g * voice * env
    return pan(out, pan_pos)


@recipe
def crowd(rng, n, sr, voices=20, pitch=(90.0, 260.0), syllable_rate=(3.0, 6.0), talk=0.6, breath=0.3, width=0.9):
    """Murmur of many people: buzzy voices with drifting pitch, chopped into syllables, through speech formants.

    Speech-band only, so it is made at a third of the rate and brought up in the filtering FFT.
    """
    lr = sr // 3
    m = -(-n // 3)
    out = np.zeros((2, m))
    for _ in range(voices):
        f0 = np.exp(rng.uniform(*np.log(pitch))) * (1 + 0.15 * (2 * wander(rng, m, lr, 2.0) - 1))
        saw = 2 * ((np.cumsum(f0) / lr) % 1) - 1
        rate = rng.uniform(*syllable_rate) * (0.6 + 0.8 * wander(rng, m, lr, 4.0))
        syl = np.clip(np.sin(2 * np.pi * np.cumsum(rate) / lr), 0, 1)
        talking = smoothstep((wander(rng, m, lr, 0.4) - (1 - talk)) * 6)
        out += pan(saw * syl * talking * rng.uniform(0.3, 1.0), rng.uniform(-width, width))
    out = out + breath * noise(rng, m, lr) * np.abs(out).mean()
    spec = np.fft.rfft(out, axis=-1) * band_mask(np.fft.rfftfreq(m, 1 / lr), lo=200, hi=3500,
                                                  peaks=((550, 0.5, 6), (1500, 0.6, 4), (2600, 0.4, 3)))
    spec[:, -1] = 0
    return np.fft.irfft(spec, n, axis=-1)  # zero-padding the spectrum to n bins resamples to sr


@recipe
def passby(rng, n, sr, cars=3, times=None, span=(1.2, 2.5), f0=(30.0, 55.0), doppler=0.06, harmonics=10,
           tyre=0.8, tyre_band=(250.0, 5000.0), level=(0.4, 1.0)):
    """Vehicles passing: loudness 1/(1+x^2), pitch falling through the Doppler shift, panning left to right."""
    times = times or sorted(rng.uniform(0.5, n / sr - 0.5, cars))
    out = np.zeros((2, n))
    for tc in times:
        w = rng.uniform(*span) / 2
        a, b = max(0, int((tc - 12 * w) * sr)), min(n, int((tc + 12 * w) * sr))  # beyond: under -40 dB
        x = (np.arange(a, b) / sr - tc) / w
        loud = 1 / (1 + x ** 2) * rng.uniform(*level)
        f = rng.uniform(*f0) * (1 - doppler * 2 / np.pi * np.arctan(x))
        body = harmonic(f, sr, rng.uniform(0.3, 1.0, harmonics) / np.arange(1, harmonics + 1))
        road = tyre * noise(rng, b - a, sr, 1, lo=tyre_band[0], hi=tyre_band[1], tilt=0.5)[0]
        direction = rng.choice([-1, 1])
        out[:, a:b] += pan((body / (np.abs(body).max() + 1e-12) + road / 3) * loud, direction * 0.9 * np.tanh(x))
    return out

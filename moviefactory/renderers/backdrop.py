"""Procedural storyboard backdrops, painted with vectorised numpy (no per-pixel Python loops).

`paint_backdrop` turns a scene's setting, heading and time of day and a shot's description into
an RGB float32 image in [0, 1]: a sky gradient by time of day with a sun or moon (stars at night),
layered silhouettes picked by keywords (mountains or hills, a city skyline, sea, forest, a pagoda
temple, a lighthouse, dunes, space with planets, an interior with a window), simple figures for the
shot's characters, then paper texture, grain and a soft vignette. All randomness (palette jitter,
layout) comes from one generator seeded with the shot's seed.
"""
from __future__ import annotations

import re

import numpy as np
from PIL import Image

from ..screenplay import Scene, Shot

# feature -> keywords. ASCII keys match whole words (plural -s/-es too); CJK keys match substrings.
KEYWORDS: dict[str, tuple[str, ...]] = {
    "space": ("space", "planet", "orbit", "galaxy", "nebula", "asteroid", "spaceship", "starship", "cosmos",
              "astronaut", "satellite", "spacecraft", "太空", "宇宙", "星球", "飞船", "星际"),
    "city": ("city", "street", "town", "skyline", "building", "downtown", "market", "alley", "rooftop", "urban",
             "neon", "metropolis", "skyscraper", "avenue", "plaza", "城", "街", "楼", "都市"),
    "sea": ("sea", "ocean", "coast", "beach", "harbor", "harbour", "shore", "wave", "lake", "bay", "island",
            "pier", "boat", "ship", "seaside", "coastline", "海", "湖", "港", "岸", "浪"),
    "forest": ("forest", "wood", "jungle", "tree", "grove", "park", "garden", "bamboo", "orchard", "woodland",
               "pine", "林", "树", "竹", "森"),
    "mountain": ("mountain", "peak", "alp", "himalaya", "cliff", "valley", "summit", "ridge", "volcano",
                 "glacier", "canyon", "山", "峰", "谷"),
    "temple": ("temple", "shrine", "pagoda", "monastery", "palace", "寺", "庙", "塔", "宫", "殿"),
    "lighthouse": ("lighthouse", "beacon", "灯塔"),
    "desert": ("desert", "dune", "sand", "sahara", "oasis", "沙漠", "沙丘"),
    "interior": ("room", "kitchen", "office", "lab", "laboratory", "bedroom", "hall", "library", "classroom",
                 "cafe", "studio", "apartment", "indoor", "indoors", "workshop", "corridor", "室", "房间", "屋里"),
    "snow": ("snow", "snowy", "winter", "ice", "icy", "frozen", "blizzard", "雪", "冰"),
    "fog": ("fog", "foggy", "mist", "misty", "haze", "雾"),
    # the shot's figures are four-legged: they stand as beasts, not people
    "beast": ("mammoth", "elephant", "panda", "bear", "fox", "dog", "puppy", "cat", "kitten", "horse", "pony",
              "deer", "wolf", "tiger", "lion", "leopard", "cow", "ox", "oxen", "sheep", "goat", "camel", "giraffe",
              "rhino", "hippo", "pig", "rabbit", "hare", "squirrel", "otter", "badger", "hedgehog", "raccoon",
              "terrier", "hound", "bison", "buffalo", "moose", "elk", "reindeer", "dinosaur", "dragon", "unicorn",
              "qilin", "mouse", "mice", "rat", "donkey", "zebra", "cheetah", "lynx", "boar", "llama", "alpaca"),
    "trunk": ("mammoth", "elephant", "mastodon"),  # ... and these have a trunk
    "herd": ("several", "herd", "two", "three", "four", "five", "flock", "pack", "pair", "family", "group", "many",
             "两", "三", "几", "群"),  # ... and come more than one to a character
}

_SKIES = {  # (zenith, middle, horizon) per time of day, two variants each
    "dawn": (((.16, .18, .42), (.80, .52, .62), (1., .78, .58)), ((.22, .26, .50), (.92, .62, .66), (1., .86, .66))),
    "day": (((.16, .40, .78), (.40, .64, .92), (.76, .87, .97)), ((.22, .48, .82), (.52, .74, .94), (.86, .92, .96))),
    "dusk": (((.12, .10, .32), (.70, .28, .42), (1., .56, .26)), ((.20, .12, .38), (.85, .38, .36), (1., .70, .36))),
    "night": (((.01, .02, .06), (.03, .06, .16), (.09, .14, .30)), ((.02, .02, .08), (.06, .07, .20), (.14, .16, .32))),
}
_LIGHT = {"dawn": (.80, .66, .74), "day": (1., 1., 1.), "dusk": (.62, .42, .52), "night": (.15, .18, .30)}
_BASE = {  # daylight colours of the things we paint
    "mountain": (.42, .47, .58), "hill": (.36, .55, .30), "forest": (.13, .33, .17), "city": (.40, .42, .50),
    "temple": (.55, .17, .12), "roof": (.20, .18, .22), "sand": (.86, .68, .42), "ground": (.26, .40, .20),
    "street": (.30, .30, .33), "rock": (.34, .31, .30), "snow": (.92, .94, .98), "water": (.10, .30, .45),
    "wall": (.78, .70, .58), "floor": (.40, .28, .18), "tower": (.93, .92, .88), "figure": (.10, .09, .12),
}
_WARM = (1., .78, .42)  # lamplight


def features(scene: Scene, shot: Shot) -> set[str]:
    """The features a shot asks for, from its scene's setting and heading and its own description."""
    text = f"{scene.setting} {shot.description}".lower()
    words = set(re.findall(r"[a-z]+", text))
    words |= {w[:-1] for w in words if w.endswith("s")} | {w[:-2] for w in words if w.endswith("es")}
    found = {f for f, keys in KEYWORDS.items() if any((k in words) if k.isascii() else (k in text) for k in keys)}
    if "space" in found:
        found.discard("sea")  # "the ship drifts": a spaceship
    heading = scene.heading.strip().upper()
    if heading.startswith("INT"):
        found.add("interior")
    elif heading.startswith("EXT"):
        found.discard("interior")
    return found


def paint_backdrop(scene: Scene, shot: Shot, seed: int, width: int, height: int) -> np.ndarray:
    """An RGB float32 image (height, width, 3) in [0, 1]; identical for identical inputs."""
    rng = np.random.default_rng([seed & 0xFFFFFFFF, 0xA11A])
    return _Painter(rng, width, height, scene.time_of_day, features(scene, shot)).paint(len(shot.characters))


def _rect(adx, y, half, y0, y1):
    """Anti-aliased coverage of a box |dx| <= half, y0 <= y <= y1 (half may vary with y)."""
    return np.clip(np.minimum(half - adx, np.minimum(y - y0, y1 - y)) + 0.5, 0, 1)


def _upsample(small: np.ndarray, w: int, h: int, method=Image.BICUBIC) -> np.ndarray:
    return np.asarray(Image.fromarray(small.astype(np.float32)).resize((w, h), method))


class _Painter:
    def __init__(self, rng: np.random.Generator, w: int, h: int, tod: str, feats: set[str]) -> None:
        self.rng, self.w, self.h, self.tod, self.f = rng, w, h, tod, feats
        self.u = float(min(w, h))  # unit for sizes that should look alike in any aspect ratio
        self.ys, self.xs = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
        self.horizon = h * rng.uniform(0.55, 0.64)
        tint = 1 + rng.uniform(-0.07, 0.07, 3)
        self.sky = [np.clip(np.array(c, np.float32) * tint, 0, 1) for c in _SKIES[tod][rng.integers(2)]]
        self.light = np.array(_LIGHT[tod], np.float32)
        self.dark = tod in ("night", "dusk")
        self.landmark_x: float | None = None
        self.img = np.empty((h, w, 3), np.float32)

    # --- primitives ---------------------------------------------------------------------------
    def colour(self, kind: str, depth: float = 0.0) -> np.ndarray:
        """A thing's colour in this light, hazed toward the horizon by depth (0 near, 1 far)."""
        lit = np.clip(np.array(_BASE[kind], np.float32) * self.rng.uniform(0.88, 1.12, 3), 0, 1) * self.light
        return (lit + (self.sky[2] * (0.4 if self.tod == "night" else 0.85) - lit) * depth).astype(np.float32)

    def blend(self, alpha: np.ndarray, colour, rows=slice(None), cols=slice(None)) -> None:
        region = self.img[rows, cols]
        diff = np.asarray(colour, np.float32) - region
        diff *= alpha[..., None]
        region += diff

    def fill_below(self, top: np.ndarray, colour, shade: float = 0.0) -> None:
        """Fill everything below the profile `top` (one y per column), anti-aliased, darker lower down."""
        r0 = min(self.h, max(0, int(top.min())))
        r1 = min(self.h, max(r0, int(np.ceil(top.max() + 0.5))))  # rows from r1 down are fully covered
        ramp = 1 - shade * np.clip((self.ys[r0:] - r0) / max(1.0, self.h - r0), 0, 1)
        col = np.asarray(colour, np.float32) * ramp[:, None, None]
        self.img[r1:] = col[r1 - r0:]
        self.blend(np.clip(self.ys[r0:r1, None] - top[None, :] + 0.5, 0, 1), col[:r1 - r0], slice(r0, r1))

    def box(self, x0: float, y0: float, x1: float, y1: float):
        """Row/column slices and coordinate grids (column, row vectors) of a box clipped to the canvas."""
        c0, c1 = max(0, int(x0)), max(0, min(self.w, int(np.ceil(x1)) + 1))
        r0, r1 = max(0, int(y0)), max(0, min(self.h, int(np.ceil(y1)) + 1))
        return slice(r0, r1), slice(c0, c1), self.ys[r0:r1, None], self.xs[None, c0:c1]

    def disc(self, cx: float, cy: float, r: float, colour, glow: float = 0.0) -> None:
        reach = r * (5 if glow else 1) + 2
        rows, cols, y, x = self.box(cx - reach, cy - reach, cx + reach, cy + reach)
        d = np.sqrt((x - cx) ** 2 + (y - cy) ** 2)
        if glow:
            self.img[rows, cols] += (glow * np.exp(-((d / (2.2 * r)) ** 2)))[..., None] * np.float32(colour)
        self.blend(np.clip(r - d + 0.5, 0, 1), colour, rows, cols)

    def noise1d(self, scale: float, octaves: int = 4, rough: float = 0.5) -> np.ndarray:
        """Fractal value noise along x in about [-1, 1]; `scale` is the size of the biggest bump in px."""
        out, amp, total = np.zeros(self.w, np.float32), 1.0, 0.0
        for o in range(octaves):
            t = self.xs * (2 ** o) / scale
            knots = self.rng.uniform(-1, 1, int(t[-1]) + 3)
            out += amp * np.interp(t, np.arange(knots.size), knots).astype(np.float32)
            total += amp
            amp *= rough
        return out / total

    def noise2d(self, cells: int, h: int, w: int) -> np.ndarray:
        """Smooth value noise in [0, 1] at (h, w): a small random grid upsampled bicubically."""
        k = cells / max(h, w)
        return _upsample(self.rng.random((max(2, round(k * h)), max(2, round(k * w)))), w, h)

    # --- the painting -------------------------------------------------------------------------
    def paint(self, n_figures: int) -> np.ndarray:
        f, h = self.f, self.h
        self.paint_sky()
        ground = h * self.rng.uniform(0.79, 0.84) + self.u * 0.02 * self.noise1d(self.u * 0.5, 3)
        if "space" in f:
            self.paint_space()
            if n_figures or "interior" in f:  # somewhere to stand: a grey moon
                self.fill_below(ground, self.colour("rock") * 0.8 + 0.05, shade=0.5)
        else:
            self.paint_far()
            self.paint_mid(n_figures)
            if "sea" not in f or n_figures or "lighthouse" in f or self.rng.random() < 0.4:
                kind = ("snow" if "snow" in f else "sand" if f & {"sea", "desert"} else "street" if "city" in f
                        else "rock" if "mountain" in f else "ground")
                self.fill_below(ground, self.colour(kind) * (0.9 if kind == "snow" else 0.75), shade=0.45)
            if "fog" in f:
                r0, r1 = int(self.horizon - 0.2 * h), int(self.horizon + 0.2 * h)
                t = np.clip(1 - np.abs(self.ys[r0:r1] - self.horizon) / (0.2 * h), 0, 1) * 0.5
                self.blend(np.broadcast_to(t[:, None], (r1 - r0, self.w)), self.sky[2] * 0.9, slice(r0, r1))
        if "interior" in f:
            ground = self.paint_interior()
        if "beast" in f:
            self.paint_beasts(n_figures, ground)
        else:
            self.paint_figures(n_figures, ground)
        return self.finish()

    def paint_sky(self) -> None:
        zen, mid, hor = self.sky
        rng, u, space = self.rng, self.u, "space" in self.f
        t = np.clip(self.ys / self.horizon, 0, 1)
        self.img[:] = np.stack([np.interp(t, (0, .55, 1), (zen[i], mid[i], hor[i])) for i in range(3)], -1)[:, None]
        if self.tod == "night" or space:
            self.stars(self.h if space else self.horizon)
        if self.tod != "night" and not space and rng.random() < 0.75:  # soft clouds
            band = int(self.horizon * 0.85)
            n = self.noise2d(6, band // 4, self.w // 4) * 0.65 + self.noise2d(14, band // 4, self.w // 4) * 0.35
            a = np.clip((_upsample(n, self.w, band, Image.BILINEAR) - 0.55) * 4, 0, 1)
            a *= np.linspace(0.9, 0.3, band, dtype=np.float32)[:, None]
            self.blend(a, np.clip(mid * 0.4 + 0.65 * self.light, 0, 1), slice(0, band))
        if space:
            return
        cx = self.w * rng.uniform(0.22, 0.78)
        if self.tod == "night":
            r, cy = u * 0.045, self.horizon * rng.uniform(0.25, 0.5)
            self.disc(cx, cy, r, (.95, .93, .84), glow=0.35)
            for _ in range(3):  # craters
                a, d = rng.uniform(0, 2 * np.pi), rng.uniform(0, 0.6) * r
                self.disc(cx + d * np.cos(a), cy + d * np.sin(a), r * rng.uniform(.12, .25), (.80, .79, .74))
        elif self.tod == "day":
            self.disc(cx, self.horizon * rng.uniform(0.2, 0.45), u * 0.04, (1., .97, .86), glow=0.45)
        else:
            sun = (1., .78, .48) if self.tod == "dawn" else (1., .58, .30)
            self.disc(cx, self.horizon - u * rng.uniform(0.02, 0.12), u * 0.06, sun, glow=0.5)

    def stars(self, below: float) -> None:
        rng = self.rng
        n = int(self.w * below / 2500)
        x, y = rng.integers(0, self.w - 1, n), (rng.random(n) ** 1.3 * below * 0.98).astype(int)
        b = (0.25 + 0.75 * rng.random(n) ** 3).astype(np.float32)[:, None] * np.float32((1, .97, .9))
        self.img[y, x] = np.maximum(self.img[y, x], b)
        big = b[:, 0] > 0.7  # the brightest get a little cross
        for yy, xx in ((y[big], x[big] + 1), (y[big] + 1, x[big])):
            self.img[yy, xx] = np.maximum(self.img[yy, xx], b[big] * 0.6)

    def paint_space(self) -> None:
        rng, q = self.rng, (self.h // 4, self.w // 4)
        neb = _upsample(self.noise2d(5, *q) * self.noise2d(11, *q), self.w, self.h, Image.BILINEAR)
        hue = np.float32(rng.choice([(.55, .20, .75), (.15, .45, .80), (.80, .25, .45)]))
        self.img += (np.clip(neb - 0.2, 0, 1) * 0.8)[..., None] * hue
        for i in range(rng.integers(1, 4)):  # planets lit from the upper left, some with a ring
            r = self.u * rng.uniform(0.05, 0.2) / (1 + i)
            cx, cy = self.w * rng.uniform(0.2, 0.8), self.h * rng.uniform(0.15, 0.6)
            rows, cols, y, x = self.box(cx - 2 * r, cy - r, cx + 2 * r, cy + r)
            dx, dy = (x - cx) / r, (y - cy) / r
            d = np.sqrt(dx ** 2 + dy ** 2)
            base = np.float32(rng.uniform(0.3, 0.9, 3))
            bands = 1 + 0.12 * np.sin(dy * rng.uniform(6, 14))
            shade = np.clip(0.15 + 0.85 * (0.6 - 0.5 * dx - 0.4 * dy), 0.05, 1) * bands
            self.blend(np.clip((1 - d) * r + 0.5, 0, 1), shade[..., None] * base, rows, cols)
            if rng.random() < 0.5:
                e = np.abs(np.sqrt(dx ** 2 + (dy / 0.28) ** 2) - 1.55)
                ring = np.clip((0.18 - e) * r * 0.3, 0, 1) * ((dy > 0) | (d > 1)) * 0.8  # hidden behind the planet
                self.blend(ring, base * 0.9 + 0.1, rows, cols)

    def paint_far(self) -> None:
        f, h, u, hz = self.f, self.h, self.u, self.horizon
        snow = "snow" in f
        if "mountain" in f or ("sea" not in f and "city" not in f and self.rng.random() < 0.5):
            ridge = 1 - np.abs(self.noise1d(u * 0.9, 6, 0.55))
            top = hz - h * (0.06 + 0.16 * ridge * self.rng.uniform(0.6, 1.0))
            self.fill_below(top, self.colour("snow" if snow else "mountain", 0.7), shade=0.3)
        if "sea" in f:
            self.paint_sea()
        elif "desert" in f:
            for i, depth in enumerate((0.6, 0.35, 0.12)):  # dunes
                top = hz + h * 0.05 * i - u * 0.05 * (1 + self.noise1d(u * (0.9 - 0.2 * i), 2))
                self.fill_below(top, self.colour("sand", depth), shade=0.25)
        else:
            top = hz - u * 0.03 * (1 + self.noise1d(u * 0.7, 3, 0.4))
            self.fill_below(top, self.colour("snow" if snow else "hill", 0.45), shade=0.3)

    def paint_sea(self) -> None:
        """Water from the horizon down: the mirrored sky, darker toward us, with wave glints."""
        hz, n = int(self.horizon), self.h - int(self.horizon)
        sky = self.img[max(0, 2 * hz - self.h):hz][::-1]
        if sky.shape[0] < n:
            sky = np.concatenate([sky, np.repeat(sky[-1:], n - sky.shape[0], 0)])
        t = np.linspace(0, 1, n, dtype=np.float32)[:, None]
        body = sky * 0.55 + self.colour("water") * (1 - 0.5 * t[..., None]) * 0.45
        phase = self.rng.uniform(0, 6.3, (n, 1)).astype(np.float32)
        wave = np.sin(self.xs[None, :] / (self.u * (0.004 + 0.03 * t)) + phase)
        glint = np.exp(-((self.xs[None, :] - self.w * 0.5) / (self.w * (0.05 + 0.25 * t))) ** 2)
        body += (np.clip(wave - 0.75, 0, 1) * (0.25 + 1.2 * glint))[..., None] * (self.sky[2] * 0.8 + 0.2)
        self.img[hz:] = np.clip(body, 0, 1)

    def paint_mid(self, n_figures: int) -> None:
        f, rng, hz, h = self.f, self.rng, self.horizon, self.h
        # a landmark stands off-centre when there are figures (they stand on the other side)
        side = rng.choice([-1, 1])
        self.landmark_x = self.w * ((0.5 + side * 0.15) if n_figures else rng.uniform(0.42, 0.58))
        if "city" in f:
            self.skyline(depth=0.55, ground=hz + h * 0.01, scale=0.8)
            self.skyline(depth=0.15, ground=hz + h * 0.06, scale=1.0, windows=True)
        if "forest" in f:
            self.treeline(0.5, hz, 0.7)
            self.treeline(0.15, hz + h * 0.07, 1.0)
        if "temple" in f:
            self.temple(self.landmark_x, hz + h * 0.08)
        if "lighthouse" in f:
            self.lighthouse(self.landmark_x, hz + h * 0.1)

    def skyline(self, depth: float, ground: float, scale: float, windows: bool = False) -> None:
        rng, u = self.rng, self.u
        top = np.full(self.w, ground, np.float32)
        x = -rng.uniform(0, u * 0.1)
        while x < self.w:  # one block per building, left to right
            bw, bh = u * rng.uniform(0.06, 0.15) * scale, self.h * rng.uniform(0.06, 0.26) * scale
            top[max(0, int(x)):max(0, int(x + bw))] = ground - bh
            if rng.random() < 0.2:  # a spire
                c = int(x + bw / 2)
                top[max(0, c - 2):max(0, c + 2)] = ground - bh - self.h * 0.05 * scale
            x += bw + u * rng.uniform(0, 0.02)
        self.fill_below(top, self.colour("city", depth), shade=0.2)
        if windows:
            r0, r1 = int(top.min()), int(ground)
            y, x = self.ys[r0:r1, None], self.xs[None, :]
            cw = max(3.0, u * 0.018)
            grid = ((x % cw) < cw * 0.5) & ((y % (cw * 1.4)) < cw * 0.7) & (y > top[None, :] + cw)
            lit = rng.random((64, 64)) < (0.35 if self.dark else 0.15)
            on = lit[(y // (cw * 1.4)).astype(int) % 64, (x // cw).astype(int) % 64]
            self.blend((grid & on) * np.float32(0.85), _WARM if self.dark else (.75, .85, .95), slice(r0, r1))

    def treeline(self, depth: float, ground: float, size: float) -> None:
        rng, u = self.rng, self.u
        top = np.full(self.w, ground + 1, np.float32)
        for cx in rng.uniform(-u * 0.05, self.w + u * 0.05, int(self.w / (u * 0.05 * size))):
            hgt, half = self.h * rng.uniform(0.08, 0.18) * size, u * rng.uniform(0.025, 0.05) * size
            a, b = max(0, int(cx - half)), min(self.w, int(cx + half) + 1)
            dx = self.xs[a:b] - cx
            if "bamboo" in self.f or rng.random() < 0.6:  # conifer
                prof = ground - hgt * (1 - np.abs(dx) / half)
            else:  # round canopy
                prof = ground - hgt * 0.6 - np.sqrt(np.clip(half ** 2 - dx ** 2, 0, None))
            top[a:b] = np.minimum(top[a:b], prof)
        self.fill_below(top, self.colour("forest", depth), shade=0.3)

    def temple(self, cx: float, base: float) -> None:
        """A pagoda: a plinth, 3-5 shrinking tiers with upturned eaves, a spire; lit windows after dark."""
        u = self.u
        tiers, tier_h, half = int(self.rng.integers(3, 6)), self.h * 0.055, u * 0.16
        wall, roof = self.colour("temple", 0.1), self.colour("roof", 0.05)
        rows, cols, y, x = self.box(cx - half * 1.5, base - tier_h * (tiers + 1.5), cx + half * 1.5, base + 3)
        dx = np.abs(x - cx)
        roofs = _rect(dx, y, half * 1.2, base - tier_h * 0.4, base)  # the plinth
        walls, lamps = np.zeros_like(roofs), np.zeros_like(roofs)
        y_bot = base - tier_h * 0.4
        for i in range(tiers):
            w, y_top = half * (1 - 0.14 * i), y_bot - tier_h
            np.maximum(walls, _rect(dx, y, w * 0.62, y_top, y_bot), out=walls)
            if self.dark:
                np.maximum(lamps, _rect(np.abs(dx - w * 0.3), y, w * 0.06, y_bot - tier_h * 0.6, y_bot - tier_h * 0.3),
                           out=lamps)
            k = np.clip(dx / (w * 1.05), 0, 1)
            eave_top = y_top - tier_h * (0.35 - 0.53 * np.clip((dx - w * 0.3) / (w * 0.75), 0, 1) + 0.25 * k ** 6)
            eave_bot = y_top + tier_h * (0.18 - 0.5 * k ** 4)
            np.maximum(roofs, _rect(dx, y, w * 1.05, eave_top, eave_bot), out=roofs)
            y_bot = y_top - tier_h * 0.1
        np.maximum(roofs, _rect(dx, y, u * 0.008, y_bot - tier_h * 1.2, y_bot), out=roofs)  # the spire
        self.blend(walls, wall, rows, cols)
        if self.dark:
            self.blend(lamps, _WARM, rows, cols)
        self.blend(roofs, roof, rows, cols)
        if self.dark:  # two lanterns
            for sx in (-1, 1):
                self.disc(cx + sx * half * 1.1, base - tier_h * 0.9, u * 0.008, (1., .6, .3), glow=0.6)

    def lighthouse(self, cx: float, base: float) -> None:
        """A striped tower on a rock; after dark its lamp is lit and throws a beam to one side."""
        u = self.u
        rock = base + u * 0.03 * self.noise1d(u * 0.2, 3) - np.clip(u * 0.12 - np.abs(self.xs - cx), 0, None) * 0.5
        self.fill_below(np.minimum(rock, self.h), self.colour("rock", 0.1), shade=0.3)
        th, wb, wt, foot = self.h * 0.3, u * 0.05, u * 0.032, base - u * 0.05
        rows, cols, y, x = self.box(cx - wb, foot - th - u * 0.08, cx + wb, foot + 2)
        t = np.clip((foot - y) / th, 0, 1)
        stripes = ((t * 5).astype(int) % 2 == 1)[..., None]
        col = np.where(stripes, self.colour("temple", 0.05), self.colour("tower", 0.05))
        self.blend(_rect(np.abs(x - cx), y, wb + (wt - wb) * t, foot - th, foot), col, rows, cols)
        lamp_y, on = foot - th - u * 0.03, self.tod != "day"
        lamp = _rect(np.abs(x - cx), y, wt * 0.8, lamp_y - u * 0.03, foot - th)
        self.blend(lamp, (1., .9, .6) if on else self.colour("roof"), rows, cols)
        if on:
            side = 1 if cx < self.w / 2 else -1
            rows, cols, y, x = self.box(0, lamp_y - u * 0.4, self.w, lamp_y + u * 0.4)
            along = (x - cx) * side
            spread = np.abs(y - lamp_y + along * 0.05) / (np.abs(along) * 0.12 + u * 0.01)
            beam = np.clip(1 - spread, 0, 1) * (along > 0) * np.exp(-along / (self.w * 0.6)) * 0.45
            self.blend(beam, (1., .95, .75), rows, cols)
            self.disc(cx, lamp_y - u * 0.015, u * 0.012, (1., .95, .7), glow=0.8)

    def paint_interior(self) -> np.ndarray:
        """A wall with a window onto the painted outside, a floor and a cabinet; returns where feet go."""
        u, h, w, rng = self.u, self.h, self.w, self.rng
        outside = self.img.copy()
        wall = np.float32(_BASE["wall"]) * ((.45, .36, .28) if self.dark else self.light)
        self.img[:] = wall * (1 - 0.25 * (self.ys / h))[:, None, None]
        x0, x1 = int(w * rng.uniform(0.22, 0.32)), int(w * rng.uniform(0.68, 0.78))
        y0, y1 = int(h * 0.2), int(h * rng.uniform(0.5, 0.56))
        self.img[y0:y1, x0:x1] = outside[y0:y1, x0:x1]
        bar, mx, my = max(2, int(u * 0.012)), (x0 + x1) // 2, (y0 + y1) // 2
        rows, cols = slice(y0, y1), slice(x0, x1)
        for r, c in ((slice(y0 - bar, y0), slice(x0 - bar, x1 + bar)), (slice(y1, y1 + bar), slice(x0 - bar, x1 + bar)),
                     (rows, slice(x0 - bar, x0)), (rows, slice(x1, x1 + bar)),
                     (rows, slice(mx - bar // 2, mx + bar // 2 + 1)), (slice(my - bar // 2, my + bar // 2 + 1), cols)):
            self.img[r, c] = wall * 0.45  # the window frame and its cross
        floor_y = h * rng.uniform(0.76, 0.8)
        self.fill_below(np.full(w, floor_y, np.float32), self.colour("floor") * (0.5 if self.dark else 1.0), shade=0.4)
        sx = w * rng.choice([0.12, 0.82])
        self.img[int(h * 0.45):int(floor_y), max(0, int(sx - u * 0.08)):int(sx + u * 0.08)] = wall * 0.5
        if self.dark:
            self.disc(w * 0.5, h * 0.12, u * 0.02, (1., .85, .55), glow=1.2)
        return np.full(w, floor_y + h * 0.05, np.float32)

    def paint_figures(self, n: int, ground: np.ndarray) -> None:
        """Up to four standing silhouettes (head, torso or robe, arms, legs) with a rim of light."""
        rng, u = self.rng, self.u
        n = min(n, 4)
        fig_h = min(0.34 * self.h, 0.6 * self.w)
        spacing = min(fig_h * 0.55, self.w * 0.5 / max(n, 1))
        centre = self.w / 2
        if self.landmark_x is not None and self.f & {"temple", "lighthouse"}:
            centre += np.sign(self.w / 2 - self.landmark_x) * self.w * 0.1
        ink = self.colour("figure") * 0.6 + self.sky[0] * 0.15
        rim = np.clip(self.sky[2] * 1.2 + 0.1, 0, 1)
        for i in range(n):
            cx = centre + (i - (n - 1) / 2 + rng.uniform(-0.15, 0.15)) * spacing
            hf = fig_h * rng.uniform(0.86, 1.0)
            foot = float(ground[int(np.clip(cx, 0, self.w - 1))]) + u * 0.01
            rows, cols, y, x = self.box(cx - hf * 0.3, foot - hf - 2, cx + hf * 0.3, foot + hf * 0.03)
            dx, top, robe = x - cx, foot - hf, rng.random() < 0.5
            adx = np.abs(dx)
            head = (np.sqrt((dx / 0.062) ** 2 + ((y - top - hf * 0.075) / 0.075) ** 2) / hf - 1) * hf * 0.065
            t = np.clip((y - top - hf * 0.15) / (hf * (0.78 if robe else 0.42)), 0, 1)
            half = hf * (0.075 + 0.025 * np.clip(t * 6, 0, 1) - 0.02 * t + (0.07 * t if robe else 0))
            body = np.maximum(adx - half, np.maximum(top + hf * 0.15 - y, y - top - hf * (0.93 if robe else 0.57)))
            legs = np.maximum(np.abs(adx - hf * 0.045) - hf * 0.028, np.maximum(top + hf * 0.5 - y, y - foot))
            ta = np.clip((y - top - hf * 0.17) / (hf * 0.36), 0, 1)
            arms = np.maximum(np.abs(adx - hf * (0.095 + (0.06 if robe else 0.03) * ta)) - hf * 0.022,
                              np.maximum(top + hf * 0.17 - y, y - top - hf * 0.53))
            alpha = np.clip(0.5 - np.minimum(np.minimum(head, body), np.minimum(legs, arms)), 0, 1)
            shadow = np.clip(1 - ((dx / (hf * 0.22)) ** 2 + ((y - foot) / (hf * 0.02)) ** 2), 0, 1) * 0.4
            self.blend(shadow, ink, rows, cols)
            self.blend(alpha, ink * np.float32(rng.uniform(0.8, 1.3, 3)), rows, cols)
            self.blend(np.clip(alpha - np.roll(alpha, 2, axis=1), 0, 1) * 0.7, rim, rows, cols)  # rim light

    def paint_beasts(self, n: int, ground: np.ndarray) -> None:
        """Up to four four-legged silhouettes (body, head, legs, tail; a trunk for the big ones) with a
        rim of light, facing the same way, walking in a loose line."""
        rng, u = self.rng, self.u
        n = min(max(n, 3 if n and "herd" in self.f else n), 4)  # "several mammoths" is one character, three beasts
        size = min(0.26 * self.h, 0.34 * self.w) * (1.3 if "trunk" in self.f else 1.0)
        spacing = min(size * 1.5, self.w * 0.7 / max(n, 1))
        facing = 1 if rng.random() < 0.5 else -1
        ink = self.colour("figure") * 0.6 + self.sky[0] * 0.15
        rim = np.clip(self.sky[2] * 1.2 + 0.1, 0, 1)
        for i in range(n):
            hf = size * rng.uniform(0.8, 1.0) * (1 - 0.12 * i)
            cx = self.w / 2 + (i - (n - 1) / 2) * spacing * facing + rng.uniform(-0.1, 0.1) * hf
            foot = float(ground[int(np.clip(cx, 0, self.w - 1))]) + u * 0.01
            rows, cols, y, x = self.box(cx - hf * 0.95, foot - hf * 1.05, cx + hf * 0.95, foot + hf * 0.03)
            dx = (x - cx) * facing
            body = (np.sqrt((dx / (hf * 0.55)) ** 2 + ((y - (foot - hf * 0.58)) / (hf * 0.27)) ** 2) - 1) * hf * 0.27
            head = (np.sqrt(((dx - hf * 0.62) / (hf * 0.17)) ** 2 + ((y - (foot - hf * 0.78)) / (hf * 0.15)) ** 2)
                    - 1) * hf * 0.15
            neck = np.maximum(np.abs(dx - hf * 0.48) - hf * 0.1, np.abs(y - (foot - hf * 0.68)) - hf * 0.12)
            legs = np.full_like(body, np.inf)
            for lx in (-0.38, -0.22, 0.22, 0.36):
                legs = np.minimum(legs, np.maximum(np.abs(dx - hf * lx) - hf * 0.055,
                                                   np.maximum(foot - hf * 0.45 - y, y - foot)))
            tail = np.maximum(np.abs(dx + hf * 0.6) - hf * 0.025, np.abs(y - (foot - hf * 0.5)) - hf * 0.14)
            shape = np.minimum(np.minimum(body, head), np.minimum(np.minimum(neck, legs), tail))
            if "trunk" in self.f:  # hanging from the head to near the ground
                trunk = np.maximum(np.abs(dx - hf * 0.74) - hf * 0.045, np.maximum(foot - hf * 0.78 - y,
                                                                                   y - (foot - hf * 0.2)))
                shape = np.minimum(shape, trunk)
            alpha = np.clip(0.5 - shape, 0, 1)
            shadow = np.clip(1 - ((dx / (hf * 0.7)) ** 2 + ((y - foot) / (hf * 0.03)) ** 2), 0, 1) * 0.4
            self.blend(shadow, ink, rows, cols)
            self.blend(alpha, ink * np.float32(rng.uniform(0.8, 1.3, 3)), rows, cols)
            self.blend(np.clip(alpha - np.roll(alpha, 2, axis=1), 0, 1) * 0.7, rim, rows, cols)  # rim light

    def finish(self) -> np.ndarray:
        """Paper texture, fine grain and a soft vignette."""
        paper = _upsample(self.noise2d(24, self.h // 4, self.w // 4), self.w, self.h, Image.BILINEAR)
        vy = 1 - 0.35 * ((self.ys / self.h - 0.5) * 2) ** 2
        vx = 1 - 0.35 * ((self.xs / self.w - 0.5) * 2) ** 2
        gain = (paper * 0.08 + 0.96) * vy[:, None] * vx[None, :]
        grain = self.rng.random((self.h, self.w), dtype=np.float32)
        grain -= 0.5
        grain *= 0.04
        gain += grain
        self.img *= gain[..., None]
        return np.clip(self.img, 0, 1, out=self.img)

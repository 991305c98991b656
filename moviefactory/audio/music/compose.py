"""Algorithmic composer for the default music library: a catalogue entry -> `pretty_midi.PrettyMIDI`.

A track is an intro, sections (the form's letters; each a phrase of 4 or 8 bars, one chord a bar,
from the mood's progressions) and a two-bar tonic ending after the mood's cadence chord. Each letter
has a motif: the lead states it, answers it, restates it and closes the phrase on a long chord tone;
strong beats always land on chord tones. Every choice comes from a Random seeded by the track id, so
the same catalogue gives byte-identical MIDI, and every track is a whole number of bars long.
"""
from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass

import pretty_midi

from .catalogue import FORMS, MODES, TrackSpec, parse_chord

RHYTHMS = {  # one bar of melody; negative = a rest. Beats are quarters (eighths in 6/8).
    4: {"sparse": ("2 2", "3 1", "1 1 2", "-1 1 2", "2 1 1"),
        "medium": ("1 1 1 1", "1.5 .5 1 1", "1 .5 .5 2", "-.5 .5 1 1 1", "2 1 1", ".5 .5 1 2"),
        "busy": (".5 .5 .5 .5 1 1", "1 .5 .5 .5 .5 1", ".5 .5 1 .5 .5 1", ".75 .25 .5 .5 1 1")},
    3: {"sparse": ("2 1", "3", "1 2"), "medium": ("1 1 1", "1.5 .5 1", "2 .5 .5", "-1 1 1"),
        "busy": (".5 .5 1 1", "1 .5 .5 .5 .5", ".5 .5 .5 .5 1")},
    6: {"sparse": ("3 3", "2 1 3", "5 1"), "medium": ("2 1 2 1", "1 1 1 3", "3 2 1", "2 1 3"),
        "busy": ("1 1 1 1 1 1", "2 1 1 1 1", "1 1 1 2 1")},
}
CADENCES = {4: ("2 2", "1 1 2", "1 3", ".5 .5 1 2"), 3: ("1 2", "3", ".5 .5 2"), 6: ("3 3", "2 1 3", "1 1 1 3")}
STRONG = {4: (0, 2), 3: (0,), 6: (0, 3)}
COMP = {4: ((0, 1.5), (1.5, 1), (2.5, 1), (3.5, .5)), 3: ((0, 1), (1, 1), (2, 1)), 6: ((0, 2), (3, 2), (5, 1))}
WALTZ = {4: ((1, 1), (3, 1)), 3: ((1, 1), (2, 1)), 6: ((1, 1), (2, 1), (4, 1), (5, 1))}
STRUM = {4: ((0, 1), (1, .5), (1.5, 1), (2.5, .5), (3, 1)), 3: ((0, 1), (1, 1), (2, 1)), 6: ((0, 2), (2, 1), (3, 2), (5, 1))}
FIGURES = ((0, 2, 3, 2), (0, 1, 2, 1), (0, 2, 1, 2), (0, 0, 2, 3), (0, 1, 2, 3))  # ostinato: chord-tone indices
MIX = {"lead": (100, 64), "harmony": (78, 40), "texture": (72, 88), "bass": (96, 64), "drums": (84, 64)}
DRUM_VEL = {35: 100, 36: 100, 37: 72, 38: 92, 39: 88, 41: 88, 42: 58, 45: 82, 46: 62, 47: 82, 48: 80, 49: 92,
            50: 80, 51: 62, 53: 64, 54: 56, 57: 92, 62: 70, 63: 76, 64: 82, 70: 44, 81: 50}
ROLES = ("lead", "harmony", "texture", "bass", "drums")


@dataclass(frozen=True)
class Section:
    kind: str  # 'intro' | 'body' | 'outro'
    index: int  # body sections: 0..n-1
    letter: str
    bar: int  # first bar
    chords: tuple  # one chord per bar
    intensity: float  # 0..1


def compose(spec: TrackSpec) -> pretty_midi.PrettyMIDI:
    """The track as MIDI; its end time (a final all-notes-off) is exactly `spec.bars` bars."""
    return _Composer(spec).run()


def midi_bytes(midi: pretty_midi.PrettyMIDI) -> bytes:
    buf = io.BytesIO()
    midi.write(buf)
    return buf.getvalue()


def _beats(pattern: str) -> list[float]:
    return [float(x) for x in pattern.split()]


class _Composer:
    def __init__(self, spec: TrackSpec) -> None:
        self.s, self.m, self.tonic = spec, spec.meter, spec.tonic_pc
        self.rng = random.Random(int(hashlib.sha256(spec.id.encode()).hexdigest()[:16], 16))
        self.n_sections, self.cycle = len(spec.layout()[1]), len(FORMS.get(spec.form, spec.form))
        self.notes: dict[str, list] = {r: [] for r in spec.parts}
        self.motifs: dict[str, dict] = {}
        self.voicing: dict[str, list[int]] = {}
        home = 72 + self.tonic if self.tonic <= 4 else 60 + self.tonic  # F4..E5, above the pads
        self.lead_home = self.lead_last = home + 12 * spec.parts["lead"].get("octave", 0)
        self.lead_range = (self.lead_home - 5, self.lead_home + 12)
        self.figure = self.rng.choice(FIGURES)

    def run(self) -> pretty_midi.PrettyMIDI:
        for sec in self.sections():
            for role in ROLES:
                if role in self.s.parts and self.active(role, sec):
                    getattr(self, f"_{role}")(sec, self.s.parts[role])
        return self.to_midi()

    # --- plan -------------------------------------------------------------------------------
    def sections(self) -> list[Section]:
        s, n = self.s, self.n_sections
        intro, letters = s.layout()
        order = self.rng.sample(range(len(s.progressions)), len(s.progressions))
        progs = {ch: [parse_chord(c, self.tonic) for c in s.progressions[order[i % len(order)]].split()]
                 for i, ch in enumerate(sorted(set(letters)))}
        tonic = parse_chord("I" if MODES[s.mode][2] == 4 else "i", self.tonic)
        first = progs[letters[0]]
        out = [Section("intro", -1, "", 0, tuple(first if intro == 4 else [first[0], first[-1]]), 0.45)]
        bar = intro
        for i, letter in enumerate(letters):
            chords = progs[letter] * (s.phrase // 4)
            if i == n - 1:
                chords = chords[:-1] + [parse_chord(s.cadence, self.tonic)]
            if s.form == "build":
                level = 0.35 + 0.65 * i / max(1, n - 1)
            elif s.form == "ostinato":
                level = 0.5 + 0.4 * i / max(1, n - 1)
            else:
                level = {"A": 0.65, "B": 0.8, "C": 0.75}.get(letter, 0.7) + 0.12 * (i >= n - 2) - 0.1 * (i == 0)
            out.append(Section("body", i, letter, bar, tuple(chords), min(1.0, level)))
            bar += len(chords)
        return out + [Section("outro", n, "", bar, (tonic, tonic), out[-1].intensity)]

    def active(self, role: str, sec: Section) -> bool:
        """Which parts play: build and ostinato forms bring them in one by one."""
        if sec.kind == "intro":
            return role in ("harmony", "texture") or (role == "bass" and self.s.form != "build")
        if sec.kind == "outro" or self.s.form not in FORMS:
            return True
        enter = {"build": {"bass": 1, "lead": 1, "drums": 2}, "ostinato": {"lead": 1, "drums": 1}}[self.s.form]
        return sec.index >= min(enter.get(role, 0), self.n_sections - 1)

    def vel(self, base: float, span: float, sec: Section, accent: float = 0) -> int:
        return max(20, min(124, round(base + span * sec.intensity + accent + self.rng.randint(-4, 4))))

    # --- parts ------------------------------------------------------------------------------
    def _lead(self, sec: Section, part: dict) -> None:
        m = self.m
        if sec.kind == "outro":
            self.add("lead", sec.bar * m, 2 * m - 1, self.snap(self.lead_last, {self.tonic}), self.vel(58, 30, sec))
            return
        motif = self.motif(sec.letter, part.get("density", "medium"))
        plan = ("a", "b", "a2", "half") if self.s.phrase == 4 else ("a", "b", "a2", "half", "a", "b", "c", "full")
        odd = sec.index // self.cycle % 2 == 1  # every other pass through the form: a third higher, varied
        if odd:
            plan = tuple("c" if k == "a2" else k for k in plan)
        if sec.index == self.n_sections - 1:
            plan = plan[:-2] + ("c", "full")  # the last statement varies, then the final cadence
        start = motif["start"] + 2 * odd
        p = self.snap(self.lead_home + MODES[self.s.mode][start % 7] + 12 * (start // 7), set(sec.chords[0].pcs))
        for j, (kind, chord) in enumerate(zip(plan, sec.chords)):
            t, shape = (sec.bar + j) * m, 6 * math.sin(math.pi * (j + 0.5) / len(plan))  # phrase arch
            if kind in ("half", "full"):
                rhythm, steps = motif["cadence"], [-1] * len(motif["cadence"])
                goal = {self.tonic} if kind == "full" and self.tonic in chord.pcs else set(chord.pcs)
            else:
                (rhythm, steps), goal = motif[kind], None
            scale, onset, k, count = chord.scale(self.s.mode, self.tonic), 0.0, 0, sum(d > 0 for d in rhythm)
            for dur in rhythm:
                if dur < 0:
                    onset -= dur
                    continue
                p, k = self.step(p, steps[k], scale), k + 1
                if goal and k == count:
                    p = self.snap(p, goal)
                elif onset in STRONG[m]:
                    p = self.snap(p, chord.pcs)
                accent = 6 if onset == 0 else (2 if onset == int(onset) else -4)
                self.add("lead", t + onset, dur * 0.95, p, self.vel(60, 40, sec, accent + shape))
                onset += dur
        self.lead_last = p

    def motif(self, letter: str, density: str) -> dict:
        """Per letter: a start degree, three one-bar rhythms with contours, and a cadence rhythm."""
        if letter not in self.motifs:
            rng = self.rng
            a, b, c = (_beats(rng.choice(RHYTHMS[self.m][density])) for _ in range(3))
            up = rng.random() < 0.6
            ca = self.contour(a, up)
            self.motifs[letter] = {"start": rng.choice((0, 2, 4)), "cadence": _beats(rng.choice(CADENCES[self.m])),
                                   "a": (a, ca), "a2": (a, [ca[0] + rng.choice((-2, 2))] + ca[1:]),
                                   "b": (b, self.contour(b, not up)), "c": (c, self.contour(c, up))}
        return self.motifs[letter]

    def contour(self, rhythm: list[float], up: bool) -> list[int]:
        """Scale steps: mostly stepwise, rising then falling (or the reverse); a leap turns back."""
        out, prev, k = [], 0, sum(d > 0 for d in rhythm)
        for i in range(k):
            if abs(prev) >= 2:
                s = -1 if prev > 0 else 1
            else:
                s = self.rng.choice((1, 1, 2, -1, 0, 3)) * (1 if (i < k / 2) == up else -1)
            out.append(s)
            prev = s
        return out

    def _harmony(self, sec: Section, part: dict, role: str = "harmony") -> None:
        m, style = self.m, part.get("style", "pad")
        low = 12 * part.get("octave", 0) + (55 if style == "arpeggio" else 50 if role == "harmony" else 57)
        for j, chord in enumerate(sec.chords):
            t = (sec.bar + j) * m
            if sec.kind == "outro":
                if j == 0:
                    for p in self.voice(role, chord, low):
                        self.add(role, t, 2 * m - 1, p, self.vel(46, 30, sec))
                continue
            if style == "ostinato":
                root = self.snap(low - 2, {chord.root})
                tones = [root + (x - chord.root) % 12 for x in chord.pcs[:3]] + [root + 12]
                step = 1 if m == 6 else 0.5
                for k in range(int(m / step)):
                    p = tones[self.figure[k % 4]]
                    self.add(role, t + k * step, step * 0.9, p, self.vel(46, 40, sec, 8 if k * step % 1 == 0 else 0))
                continue
            if style == "arpeggio":
                v = self.voice(role, chord, low)
                seq, step = v + [v[0] + 12] + v[-1:0:-1], (1 if m == 6 else 0.5)
                for k in range(int(m / step)):
                    self.add(role, t + k * step, step * 1.5, seq[k % len(seq)], self.vel(44, 36, sec, 6 if k == 0 else 0))
                continue
            v = self.voice(role, chord, low)
            if style == "pad":  # legato: a tone the last chord shares is held over, not struck again
                held = {n[2]: i for i, n in enumerate(self.notes[role]) if n[0] + n[1] == t}
                for p in v:
                    if p in held:
                        n = self.notes[role][held[p]]
                        self.notes[role][held[p]] = (n[0], n[1] + m, p, n[3])
                    else:
                        self.add(role, t, m, p, self.vel(44, 34, sec, 6))
                continue
            hits = {"comp": COMP[m], "waltz": WALTZ[m], "strum": STRUM[m]}[style]
            for on, dur in hits:
                for k, p in enumerate(v):
                    lag = 0.02 * k if style == "strum" else 0
                    self.add(role, t + on + lag, dur - lag, p, self.vel(50, 34, sec, 6 if on == 0 else 0))

    def _texture(self, sec: Section, part: dict) -> None:
        self._harmony(sec, part, "texture")

    def _bass(self, sec: Section, part: dict) -> None:
        m, style = self.m, part.get("style", "root")
        for j, chord in enumerate(sec.chords):
            t, r = (sec.bar + j) * m, self.snap(40, {chord.root})
            v = lambda acc=0: self.vel(58, 38, sec, acc)  # noqa: E731
            if sec.kind == "outro":
                if j == 0:
                    self.add("bass", t, 2 * m - 1, r, v(4))
                continue
            fifth, third = r + (chord.pcs[2] - chord.root) % 12, r + (chord.pcs[1] - chord.root) % 12
            step = 1 if m == 6 else 0.5
            if style == "drone":
                self.add("bass", t, m, self.snap(40, {self.tonic}), v())
            elif style in ("pulse", "octave"):
                for k in range(int(m / step)):
                    up = 12 if style == "octave" and k % 2 else 0
                    self.add("bass", t + k * step, step * 0.85, r + up, v(8 if k * step in STRONG[m] else 0))
            elif style == "walking" and m == 4:
                nxt = sec.chords[j + 1].root if j + 1 < len(sec.chords) else chord.root
                approach = self.snap(r + 4, {(nxt - 1) % 12, (nxt + 1) % 12})
                for k, p in enumerate((r, third, fifth, approach)):
                    self.add("bass", t + k, 0.9, p, v(6 if k == 0 else 0))
            elif style == "waltz":
                self.add("bass", t, 1, r, v(6))
                if m == 4:
                    self.add("bass", t + 2, 1, fifth - 12 if fifth > 47 else fifth, v())
            else:  # root: roots on the strong beats, the fifth on the last one
                strong = STRONG[m]
                for k, on in enumerate(strong):
                    end = strong[k + 1] if k + 1 < len(strong) else m
                    p = r if k == 0 or k < len(strong) - 1 else (fifth - 12 if fifth > 47 else fifth)
                    self.add("bass", t + on, end - on - 0.05, p, v(6 if k == 0 else 0))

    def _drums(self, sec: Section, part: dict) -> None:
        m, kit = self.m, self.s.drums
        for j in range(len(sec.chords)):
            t, hits = (sec.bar + j) * m, [(n, on) for n, ons in kit["hits"] for on in ons]
            if sec.kind == "outro":
                hits = ([(36, 0.0)] + ([(kit["crash"], 0.0)] if kit.get("crash") else [])) if j == 0 else []
            elif j == len(sec.chords) - 1 and sec.kind == "body" and kit.get("fill"):  # 16ths on the last beat
                beat = 2 if m == 6 else 1
                hits = [h for h in hits if h[1] < m - beat] + [(n, m - beat + beat / 4 * k) for k, n in enumerate(kit["fill"])]
            if j == 0 and sec.kind == "body" and kit.get("crash") and sec.intensity >= 0.5:
                hits.append((kit["crash"], 0.0))
            for n, on in hits:
                accent = 8 if on == 0 else (0 if on == int(on) else -8)
                self.add("drums", t + on, 0.2, n, self.vel(DRUM_VEL.get(n, 75) * 0.6, 45, sec, accent))

    # --- pitch helpers ----------------------------------------------------------------------
    def step(self, p: int, n: int, scale: set[int]) -> int:
        lo, hi = self.lead_range
        for direction in ((1 if n > 0 else -1), (-1 if n > 0 else 1)):
            q = p
            for _ in range(abs(n)):
                q += direction
                while q % 12 not in scale:
                    q += direction
            if lo <= q <= hi:
                return q
        return p

    @staticmethod
    def snap(p: int, pcs) -> int:
        for d in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6):
            if (p + d) % 12 in pcs:
                return p + d
        return p

    def voice(self, role: str, chord, low: int, n: int = 4) -> list[int]:
        """Four chord tones in [low, low+20], the inversion nearest the previous voicing."""
        pool = [p for p in range(low, low + 21) if p % 12 in chord.pcs]
        options = [pool[i:i + n] for i in range(len(pool) - n + 1) if pool[i + n - 1] - pool[i] <= 14]
        prev = self.voicing.get(role) or [low + 6 + 4 * k for k in range(n)]
        best = min(options, key=lambda v: (sum(abs(a - b) for a, b in zip(v, prev)), v))
        self.voicing[role] = best
        return best

    def add(self, role: str, t: float, dur: float, pitch: int, vel: int) -> None:
        self.notes[role].append((t, dur, pitch, vel))

    def to_midi(self) -> pretty_midi.PrettyMIDI:
        s, spb = self.s, 60.0 / self.s.tempo
        midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=s.tempo / 2 if s.meter == 6 else s.tempo)
        midi.time_signature_changes.append(pretty_midi.TimeSignature(s.meter, 8 if s.meter == 6 else 4, 0.0))
        for role in ROLES:
            if role not in s.parts or not self.notes[role]:
                continue
            part, drum = s.parts[role], role == "drums"
            inst = pretty_midi.Instrument(program=part.get("program", 0), is_drum=drum,
                                          name=f"{role}: {part.get('name', 'Drums' if drum else '')}")
            vol, pan = MIX[role]
            inst.control_changes += [pretty_midi.ControlChange(7, part.get("volume", vol), 0.0),
                                     pretty_midi.ControlChange(10, part.get("pan", pan), 0.0)]
            last: dict[int, pretty_midi.Note] = {}
            for t, dur, pitch, vel in sorted(self.notes[role]):
                if pitch in last and last[pitch].end > t * spb:  # a note never overlaps itself: its off would cut both
                    last[pitch].end = t * spb
                last[pitch] = pretty_midi.Note(vel, pitch, t * spb, (t + dur) * spb)
                inst.notes.append(last[pitch])
            midi.instruments.append(inst)
        midi.instruments[0].control_changes.append(pretty_midi.ControlChange(123, 0, s.bars * s.meter * spb))
        return midi

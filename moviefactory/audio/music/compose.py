"""Algorithmic composer for the default music library: a catalogue entry -> `pretty_midi.PrettyMIDI`.

A track is an intro, sections (the form's letters; each a phrase of 4 or 8 bars, one chord a bar,
from the mood's progressions) and a two-bar tonic ending after the mood's cadence chord. Each letter
has a motif: the lead states it, answers it, restates it and closes the phrase on a long chord tone
(the tonic when the chord has it); strong beats and held notes are chord tones, only short notes
between beats pass through the mode's scale. Every choice comes from a Random seeded by the track id, so the same catalogue gives
byte-identical MIDI, and every track is a whole number of bars long.
"""
from __future__ import annotations

import hashlib
import io
import math
import random
from dataclasses import dataclass

import pretty_midi

from .catalogue import FORMS, MODES, Chord, TrackSpec, parse_chord

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
HITS = {  # (onset, length) of the chord strokes in a bar, per style and meter
    "comp": {4: ((0, 1.5), (1.5, 1), (2.5, 1), (3.5, .5)), 3: ((0, 1), (1, 1), (2, 1)), 6: ((0, 2), (3, 2), (5, 1))},
    "waltz": {4: ((1, 1), (3, 1)), 3: ((1, 1), (2, 1)), 6: ((1, 1), (2, 1), (4, 1), (5, 1))},
    "strum": {4: ((0, 1), (1, .5), (1.5, 1), (2.5, .5), (3, 1)), 3: ((0, 1), (1, 1), (2, 1)),
              6: ((0, 2), (2, 1), (3, 2), (5, 1))}}
FIGURES = ((0, 2, 3, 2), (0, 1, 2, 1), (0, 2, 1, 2), (0, 0, 2, 3), (0, 1, 2, 3))  # ostinato: chord-tone indices
MIX = {"lead": (100, 64), "harmony": (78, 40), "texture": (72, 88), "bass": (96, 64), "drums": (84, 64)}  # CC7, CC10
DRUM_VEL = {35: 100, 36: 100, 37: 72, 38: 92, 39: 88, 41: 88, 42: 58, 45: 82, 46: 62, 47: 82, 48: 80, 49: 92,
            50: 80, 51: 62, 53: 64, 54: 56, 57: 92, 62: 70, 63: 76, 64: 82, 70: 44, 81: 50}
ROLES = ("lead", "harmony", "texture", "bass", "drums")


@dataclass(frozen=True)
class Section:
    kind: str  # 'intro' | 'body' | 'outro'
    index: int  # body sections: 0..n-1
    letter: str
    bar: int  # first bar
    chords: tuple[Chord, ...]  # one a bar
    intensity: float  # 0..1: velocities


def compose(spec: TrackSpec) -> pretty_midi.PrettyMIDI:
    """The track as MIDI; it ends (a final all-notes-off) after exactly `spec.bars` bars."""
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
        self.n, self.cycle = len(spec.layout()[1]), len(FORMS.get(spec.form, spec.form))
        self.notes: dict[str, list] = {r: [] for r in spec.parts}
        self.motifs: dict[str, dict] = {}
        self.voicing: dict[str, list[int]] = {}
        home = 72 + self.tonic if self.tonic <= 4 else 60 + self.tonic  # F4..E5, above the pads
        self.home = self.last = home + 12 * spec.parts["lead"].get("octave", 0)
        self.figure = self.rng.choice(FIGURES)

    def run(self) -> pretty_midi.PrettyMIDI:
        for sec in self.sections():
            for role in ROLES:
                if role in self.s.parts and self.active(role, sec):
                    getattr(self, f"_{role}")(sec, self.s.parts[role])
        return self.to_midi()

    def sections(self) -> list[Section]:
        s, n, chord = self.s, self.n, lambda text: parse_chord(text, self.tonic)
        intro, letters = s.layout()
        order = self.rng.sample(range(len(s.progressions)), len(s.progressions))
        progs = {ch: [chord(c) for c in s.progressions[order[i % len(order)]].split()]
                 for i, ch in enumerate(sorted(set(letters)))}
        first = progs[letters[0]]
        out = [Section("intro", -1, "", 0, tuple(first if intro == 4 else [first[0], first[-1]]), 0.45)]
        for i, letter in enumerate(letters):
            chords = progs[letter] * (s.phrase // 4)
            if i == n - 1:
                chords = chords[:-1] + [chord(s.cadence)]
            level = {"build": 0.35 + 0.65 * i / max(1, n - 1), "ostinato": 0.5 + 0.4 * i / max(1, n - 1)}.get(
                s.form, {"A": 0.65, "B": 0.8, "C": 0.75}.get(letter, 0.7) + 0.12 * (i >= n - 2) - 0.1 * (i == 0))
            out.append(Section("body", i, letter, intro + i * s.phrase, tuple(chords), min(1.0, level)))
        tonic = chord("I" if MODES[s.mode][2] == 4 else "i")
        return out + [Section("outro", n, "", intro + n * s.phrase, (tonic, tonic), out[-1].intensity)]

    def active(self, role: str, sec: Section) -> bool:
        """Which parts play: build and ostinato forms bring them in one by one."""
        if sec.kind == "intro":
            return role in ("harmony", "texture") or (role == "bass" and self.s.form != "build")
        if sec.kind == "outro" or self.s.form not in FORMS:
            return True
        enter = {"build": {"bass": 1, "lead": 1, "drums": 2}, "ostinato": {"lead": 1, "drums": 1}}[self.s.form]
        return sec.index >= min(enter.get(role, 0), self.n - 1)

    def vel(self, base: float, span: float, sec: Section, accent: float = 0) -> int:
        return max(20, min(124, round(base + span * sec.intensity + accent + self.rng.randint(-4, 4))))

    def _lead(self, sec: Section, part: dict) -> None:
        m = self.m
        if sec.kind == "outro":
            self.add("lead", sec.bar * m, 2 * m - 1, self.snap(self.last, {self.tonic}), self.vel(58, 30, sec))
            return
        motif = self.motif(sec.letter, part.get("density", "medium"))
        plan = ("a", "b", "a2", "end") if self.s.phrase == 4 else ("a", "b", "a2", "half", "a", "b", "c", "end")
        odd = sec.index // self.cycle % 2 == 1  # every other pass through the form: a third higher, varied
        if odd or sec.index == self.n - 1:
            plan = tuple("c" if k == "a2" else k for k in plan)
        start = motif["start"] + 2 * odd
        p = self.snap(self.home + MODES[self.s.mode][start % 7] + 12 * (start // 7), sec.chords[0].pcs)
        for j, (kind, chord) in enumerate(zip(plan, sec.chords)):
            t, shape = (sec.bar + j) * m, 6 * math.sin(math.pi * (j + 0.5) / len(plan))  # a phrase arch
            if kind in ("half", "end"):
                rhythm, steps = motif["cadence"], [-1] * len(motif["cadence"])
                goal = {self.tonic} if kind == "end" and self.tonic in chord.pcs else chord.pcs
            else:
                (rhythm, steps), goal = motif[kind], None
            scale, onset, k, count = chord.scale(self.s.mode, self.tonic), 0.0, 0, sum(d > 0 for d in rhythm)
            for dur in rhythm:
                if dur > 0:
                    p, k = self.step(p, steps[k], scale), k + 1
                    if goal and k == count:
                        p = self.snap(p, goal)
                    elif onset in STRONG[m] or dur >= (2 if m == 6 else 1):  # held notes are chord tones
                        p = self.snap(p, chord.pcs)
                    accent = 6 if onset == 0 else (2 if onset == int(onset) else -4)
                    self.add("lead", t + onset, dur * 0.95, p, self.vel(60, 40, sec, accent + shape))
                onset += abs(dur)
        self.last = p

    def motif(self, letter: str, density: str) -> dict:
        """Per letter: a start degree, three one-bar rhythms with contours, a cadence rhythm."""
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
        out, k = [0], sum(d > 0 for d in rhythm)
        for i in range(k):
            prev = out[-1]
            out.append(-1 if prev >= 2 else 1 if prev <= -2 else
                       self.rng.choice((1, 1, 2, -1, 0, 3)) * (1 if (i < k / 2) == up else -1))
        return out[1:]

    def _harmony(self, sec: Section, part: dict, role: str = "harmony") -> None:
        m, style = self.m, part.get("style", "pad")
        low = 12 * part.get("octave", 0) + (55 if style == "arpeggio" else 50 if role == "harmony" else 57)
        step = 1 if m == 6 else 0.5
        for j, chord in enumerate(sec.chords):
            t = (sec.bar + j) * m
            if sec.kind == "outro":
                for p in self.voice(role, chord, low) if j == 0 else ():
                    self.add(role, t, 2 * m - 1, p, self.vel(46, 30, sec))
            elif style == "ostinato":  # one figure over the chord tones, whatever the chord
                root = self.snap(low - 2, {chord.root})
                tones = [root + (x - chord.root) % 12 for x in chord.pcs[:3]] + [root + 12]
                for k in range(int(m / step)):
                    self.add(role, t + k * step, step * 0.9, tones[self.figure[k % 4]],
                             self.vel(46, 40, sec, 8 if k * step % 1 == 0 else 0))
            elif style == "arpeggio":
                v = self.voice(role, chord, low)
                seq = v + [v[0] + 12] + v[-1:0:-1]
                for k in range(int(m / step)):
                    self.add(role, t + k * step, min(step * 1.5, m - k * step), seq[k % len(seq)],
                             self.vel(44, 36, sec, 6 * (k == 0)))
            elif style == "pad":  # legato: a tone the last chord shares is held over, not struck again
                held = {n[2]: i for i, n in enumerate(self.notes[role]) if n[0] + n[1] == t}
                for p in self.voice(role, chord, low):
                    if p in held:
                        n = self.notes[role][held[p]]
                        self.notes[role][held[p]] = (n[0], n[1] + m, p, n[3])
                    else:
                        self.add(role, t, m, p, self.vel(44, 34, sec, 6))
            else:
                v = self.voice(role, chord, low)
                for on, dur in HITS[style][m]:
                    for k, p in enumerate(v):
                        lag = 0.02 * k if style == "strum" else 0  # a downstroke
                        self.add(role, t + on + lag, dur - lag, p, self.vel(50, 34, sec, 6 if on == 0 else 0))

    def _texture(self, sec: Section, part: dict) -> None:
        self._harmony(sec, part, "texture")

    def _bass(self, sec: Section, part: dict) -> None:
        m, style, step = self.m, part.get("style", "root"), (1 if self.m == 6 else 0.5)
        for j, chord in enumerate(sec.chords):
            t, r = (sec.bar + j) * m, self.snap(40, {chord.root})
            third, fifth = (r + (pc - chord.root) % 12 for pc in chord.pcs[1:3])
            low5 = fifth - 12 if fifth > 47 else fifth
            if sec.kind == "outro":
                notes = [(0, 2 * m - 1, r)] if j == 0 else []
            elif style == "drone":
                notes = [(0, m, self.snap(40, {self.tonic}))]
            elif style in ("pulse", "octave"):
                notes = [(k * step, step * 0.85, r + 12 * (style == "octave" and k % 2)) for k in range(int(m / step))]
            elif style == "walking" and m == 4:  # root, third, fifth, a step into the next root
                nxt = sec.chords[j + 1].root if j + 1 < len(sec.chords) else chord.root
                into = self.snap(r + 4, {(nxt - 1) % 12, (nxt + 1) % 12})
                notes = [(k, 0.9, p) for k, p in enumerate((r, third, fifth, into))]
            elif style == "waltz":
                notes = [(0, 1, r)] + ([(2, 1, low5)] if m == 4 else [])
            else:  # root: the root on the strong beats, the fifth on the last one
                on = STRONG[m]
                notes = [(b, (*on, m)[i + 1] - b - 0.05, r if i == 0 or i < len(on) - 1 else low5)
                         for i, b in enumerate(on)]
            for on, dur, p in notes:
                self.add("bass", t + on, dur, p, self.vel(58, 38, sec, 8 if on in STRONG[m] else 0))

    def _drums(self, sec: Section, part: dict) -> None:
        m, kit = self.m, self.s.drums
        for j in range(len(sec.chords)):
            t, hits = (sec.bar + j) * m, [(n, on) for n, ons in kit["hits"] for on in ons]
            if sec.kind == "outro":
                hits = ([(36, 0.0)] + ([(kit["crash"], 0.0)] if kit.get("crash") else [])) if j == 0 else []
            elif j == len(sec.chords) - 1 and sec.kind == "body" and kit.get("fill"):  # 16ths on the last beat
                beat = 2 if m == 6 else 1
                hits = [h for h in hits if h[1] < m - beat] + [(n, m - beat + beat / 4 * k)
                                                                for k, n in enumerate(kit["fill"])]
            if j == 0 and sec.kind == "body" and kit.get("crash") and sec.intensity >= 0.5:
                hits.append((kit["crash"], 0.0))
            for n, on in hits:
                accent = 8 if on == 0 else (0 if on == int(on) else -8)
                self.add("drums", t + on, 0.2, n, self.vel(DRUM_VEL.get(n, 75) * 0.6, 45, sec, accent))

    def step(self, p: int, n: int, scale: set[int]) -> int:
        """`n` steps along `scale` from `p`; turned back if that leaves the lead's range."""
        for direction in ((1, -1) if n > 0 else (-1, 1)):
            q = p
            for _ in range(abs(n)):
                q += direction
                while q % 12 not in scale:
                    q += direction
            if self.home - 5 <= q <= self.home + 12:
                return q
        return p

    @staticmethod
    def snap(p: int, pcs) -> int:
        """The nearest pitch to `p` whose pitch class is in `pcs` (ties go down)."""
        return next(p + d for d in (0, -1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6) if (p + d) % 12 in pcs)

    def voice(self, role: str, chord: Chord, low: int, n: int = 4) -> list[int]:
        """Four chord tones in [low, low+20] within 14 semitones, nearest the part's previous voicing."""
        pool = [p for p in range(low, low + 21) if p % 12 in chord.pcs]
        options = [pool[i:i + n] for i in range(len(pool) - n + 1) if pool[i + n - 1] - pool[i] <= 14]
        prev = self.voicing.get(role) or [low + 6 + 4 * k for k in range(n)]
        self.voicing[role] = min(options, key=lambda v: (sum(abs(a - b) for a, b in zip(v, prev)), v))
        return self.voicing[role]

    def add(self, role: str, t: float, dur: float, pitch: int, vel: int) -> None:
        self.notes[role].append((t, dur, pitch, vel))

    def to_midi(self) -> pretty_midi.PrettyMIDI:
        s, spb = self.s, 60.0 / self.s.tempo
        midi = pretty_midi.PrettyMIDI(resolution=480, initial_tempo=s.tempo / 2 if s.meter == 6 else s.tempo)
        midi.time_signature_changes.append(pretty_midi.TimeSignature(s.meter, 8 if s.meter == 6 else 4, 0.0))
        for role in (r for r in ROLES if self.notes.get(r)):
            part, drum = s.parts[role], role == "drums"
            inst = pretty_midi.Instrument(program=part.get("program", 0), is_drum=drum,
                                          name=f"{role}: {part.get('name', part.get('style', ''))}")
            inst.control_changes += [pretty_midi.ControlChange(7, part.get("volume", MIX[role][0]), 0.0),
                                     pretty_midi.ControlChange(10, part.get("pan", MIX[role][1]), 0.0)]
            last: dict[int, pretty_midi.Note] = {}
            for t, dur, pitch, vel in sorted(self.notes[role]):
                if pitch in last and last[pitch].end > t * spb:  # a note never overlaps itself: its off would cut both
                    last[pitch].end = t * spb
                last[pitch] = pretty_midi.Note(vel, pitch, t * spb, (t + dur) * spb)
                inst.notes.append(last[pitch])
            midi.instruments.append(inst)
        midi.instruments[0].control_changes.append(pretty_midi.ControlChange(123, 0, s.bars * s.meter * spb))
        return midi

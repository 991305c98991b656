"""The process that owns libespeak-ng: started by `espeak.py`, it speaks each line in a fork of itself.

espeak keeps state from one utterance to the next in static variables that re-initialising does not
reset (a line spoken second sounds a little different, and is ~10 ms longer or shorter, than the same
line spoken first). So the host initialises the engine once and never speaks itself: every line is
spoken by a forked child, from the same freshly initialised state, and a line's samples depend on the
line alone ("same seed, same film", and a resumed run's re-spoken line is a fresh run's).

Forking is only safe in a process with one thread, and the films' processes have many (LangGraph's
executor, torch, the progress display): a child forked while another thread held a lock can wait
forever. This host is a script of its own (run by path, so it imports nothing of the package), with
no threads. It talks over its stdin/stdout: length-prefixed pickles, one request, one reply. It ends
at EOF on its stdin, so it never outlives the process that started it.

Requests: ("speak", text, voice_name, wpm, pitch). Replies: ("ready", rate, version, data_path) once,
then ("ok", pcm_bytes, [(character index, seconds), ...]) or ("error", message) per request.
"""
from __future__ import annotations

import sys

if __name__ == "__main__":  # run by path: its folder would shadow the standard library's modules
    sys.path.pop(0)

import ctypes  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import struct  # noqa: E402
import zlib  # noqa: E402
from typing import BinaryIO  # noqa: E402

# speak_lib.h constants
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_EVENT_LIST_TERMINATED, _EVENT_WORD = 0, 1
_RATE, _PITCH = 1, 3
_HEADER = struct.Struct("<I")


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the message
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class Engine:
    """The initialised library plus the buffers of the call in progress."""

    def __init__(self) -> None:
        import espeakng_loader

        self.data_path = espeakng_loader.get_data_path()
        lib = self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_CALLBACK]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.c_void_p]
        self.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, str(self.data_path).encode(),
                                          _INITIALIZE_DONT_EXIT)
        if self.rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data at {self.data_path}")
        self.version = lib.espeak_Info(None).decode()
        self.blocks: list[bytes] = []
        self.words: list[tuple[int, float]] = []  # (0-based character index, seconds)
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: espeak holds the pointer
        lib.espeak_SetSynthCallback(self._callback)

    def _on_synth(self, wav, n: int, events) -> int:
        if n > 0 and wav:
            self.blocks.append(ctypes.string_at(wav, n * 2))
        i = 0
        while events and events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_WORD:
                self.words.append((events[i].text_position - 1, events[i].audio_position / 1000.0))
            i += 1
        return 0

    def synth(self, text: str, voice_name: str, wpm: int, pitch: int) -> tuple[bytes, list[tuple[int, float]]]:
        """16-bit mono PCM at `self.rate` and the word events of one line."""
        if self.lib.espeak_SetVoiceByName(voice_name.encode()) != 0:
            raise RuntimeError(f"espeak has no voice {voice_name!r}")
        self.lib.espeak_SetParameter(_RATE, wpm, 0)
        self.lib.espeak_SetParameter(_PITCH, pitch, 0)
        self.blocks, self.words = [], []
        data = text.encode("utf-8")
        # espeak seeds the noise of breathy voices (f3, ...) from the clock when it starts: seed it from the
        # line instead, so the same line is the same samples in every run.
        self.lib.espeak_ng_SetRandSeed(zlib.crc32(data + voice_name.encode()))
        buf = ctypes.create_string_buffer(data)  # NUL-terminated
        err = self.lib.espeak_Synth(buf, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        if err != 0:
            raise RuntimeError(f"espeak_Synth failed with error {err} for voice {voice_name!r}")
        return b"".join(self.blocks), self.words


def send(stream: BinaryIO, message: object) -> None:
    data = pickle.dumps(message)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: BinaryIO) -> object | None:
    """The next message, or None at EOF (the other side has gone)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size = _HEADER.unpack(header)[0]
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def _reply(engine: Engine, request: tuple) -> bytes:
    try:
        return pickle.dumps(("ok", *engine.synth(*request[1:])))
    except Exception as exc:  # noqa: BLE001 - the parent raises it
        return pickle.dumps(("error", str(exc)))


def _speak_in_child(engine: Engine, request: tuple) -> bytes:
    """The pickled reply, made by a fork of this (single-threaded) process."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: speak, send the reply back, leave without running any cleanup
        try:
            os.close(read_end)
            view = memoryview(_reply(engine, request))
            while view:
                view = view[os.write(write_end, view):]
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        data = _read_all(read_end)
    finally:
        os.close(read_end)
    _, status = os.waitpid(pid, 0)
    return data or pickle.dumps(("error", f"espeak stopped while speaking {request[1][:60]!r} (status {status})"))


def main() -> int:
    # The protocol owns stdout; anything the C library prints goes to stderr instead.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer
    try:
        engine = Engine()
    except Exception as exc:  # noqa: BLE001 - reported to the parent, which raises it
        send(out, ("error", str(exc)))
        return 1
    send(out, ("ready", engine.rate, engine.version, str(engine.data_path)))
    while (request := receive(requests)) is not None:
        # no fork (Windows): spoken here, and so a little dependent on the lines spoken before
        data = _speak_in_child(engine, request) if hasattr(os, "fork") else _reply(engine, request)
        out.write(_HEADER.pack(len(data)) + data)
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())

from .base import Speech, TTSBackend, WordTiming, create_tts, register_tts, tts_names

__all__ = ["Speech", "TTSBackend", "WordTiming", "create_tts", "register_tts", "tts_names"]

"""The default music library: mood-tagged cues from configs/music/catalogue.yaml, composed as MIDI
(compose.py) and rendered offline with a General-MIDI SoundFont (library.py: build_default_music)."""

"""A tiny random-weight CLAP (transformers' real ClapModel/ClapProcessor classes) built offline.

The tokenizer is a byte-level BPE RobertaTokenizer written from a small vocab.json + merges.txt
(every byte has a token, so no text maps to <unk>); the feature extractor keeps CLAP's 48 kHz,
64-mel, 10 s settings. `save_tiny_clap(folder)` writes it with save_pretrained so tests load it
back with `from_pretrained(folder)` exactly as a downloaded checkpoint would be;
`save_tiny_clap(folder, pairs=...)` first fits it to a few captioned sounds (`fit_tiny_clap`).
"""
from __future__ import annotations

import json
from pathlib import Path

from tiny_image_video import _bytes_to_unicode  # GPT-2/RoBERTa's byte map, shared with the CLIP tokenizer

_WORDS = ("thunder", "storm", "rain", "night", "bird", "song", "calm", "tense", "orchestral", "music", "sound")


def write_tokenizer_files(folder: Path) -> Path:
    """vocab.json + merges.txt of a byte-level BPE with a few whole-word merges."""
    folder.mkdir(parents=True, exist_ok=True)
    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3}
    for ch in _bytes_to_unicode().values():
        vocab.setdefault(ch, len(vocab))
    merges = []
    for word in _WORDS:
        word = "\u0120" + word  # 'Ġ' marks a leading space
        current = word[0]
        for ch in word[1:]:
            merges.append(f"{current} {ch}")
            current += ch
            vocab.setdefault(current, len(vocab))
    vocab["<mask>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    return folder


def tiny_clap(tmp: Path, seed: int = 0):
    """(ClapModel, ClapProcessor) with random weights: hidden sizes 16-32, one layer per stage."""
    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, RobertaTokenizer

    tokenizer = RobertaTokenizer.from_pretrained(str(write_tokenizer_files(tmp / "tokenizer-src")))
    assert len(tokenizer) > 200, f"tokenizer came back empty ({len(tokenizer)} tokens)"
    # rand_trunc + unfused audio, as laion/clap-htsat-unfused; 48 kHz, 64 mels, 10 s windows (the defaults).
    processor = ClapProcessor(feature_extractor=ClapFeatureExtractor(truncation="rand_trunc"), tokenizer=tokenizer)
    config = ClapConfig(
        text_config=dict(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=37, max_position_embeddings=64, projection_dim=16),
        # spec_size 256 with 64 mels fits the 1001 frames of a 10 s window; big patches keep it small.
        audio_config=dict(spec_size=256, num_mel_bins=64, patch_size=16, patch_stride=16, window_size=4,
                          depths=[1, 1], num_attention_heads=[1, 2], patch_embeds_hidden_size=16, hidden_size=32,
                          projection_dim=16, num_hidden_layers=2),
        projection_dim=16,
    )
    torch.manual_seed(seed)
    return ClapModel(config).eval(), processor


def save_tiny_clap(folder: Path, seed: int = 0, *, pairs=(), unmatched=()) -> Path:
    """Write a tiny CLAP checkpoint (model + processor) to `folder` for from_pretrained(folder);
    with `pairs`, fitted to them first (see fit_tiny_clap)."""
    model, processor = tiny_clap(folder.parent / f".{folder.name}-build", seed)
    if pairs:
        fit_tiny_clap(model, processor, pairs, unmatched, seed=seed)
    model.save_pretrained(str(folder))
    processor.save_pretrained(str(folder))
    return folder


def fit_tiny_clap(model, processor, pairs, unmatched=(), *, steps: int = 150, lr: float = 3e-3, seed: int = 0):
    """Fit a tiny CLAP to a toy world, so that its captions and sounds agree as a trained model's do.

    Random weights put every text near every other (cosines ~0.98), which says nothing about a
    retriever. `pairs` are (caption, mono float32 samples at 48 kHz); `unmatched` are captions of
    sounds the world does not have. Trains the text tower and both projection heads (the audio
    encoder keeps its random weights; its outputs are computed once) with CLAP's symmetric
    contrastive loss, plus hinges that lift a caption's own sound above cosine 0.9 and push every
    other pair below 0, where a trained model puts unrelated pairs. ~1 s on the CPU; returned in eval mode.
    """
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    captions = [c for c, _ in pairs] + list(unmatched)
    max_tokens = model.config.text_config.max_position_embeddings - 2  # as ClapEmbedder truncates
    text = processor.tokenizer(captions, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
    feats = processor.feature_extractor([s for _, s in pairs], sampling_rate=48000, return_tensors="pt")
    model.eval()  # no dropout: the fitted model embeds exactly as it will at search time
    with torch.no_grad():
        audio_out = model.audio_model(input_features=feats["input_features"], is_longer=feats["is_longer"])
        audio_pooled = audio_out.pooler_output
    params = [*model.text_model.parameters(), *model.text_projection.parameters(),
              *model.audio_projection.parameters()]
    optimiser = torch.optim.Adam(params, lr=lr)
    n = len(pairs)
    target = torch.arange(n)
    matched = torch.zeros(len(captions), n, dtype=torch.bool)
    matched[target, target] = True
    for _ in range(steps):
        t = F.normalize(model.text_projection(model.text_model(**text).pooler_output), dim=-1)
        a = F.normalize(model.audio_projection(audio_pooled), dim=-1)
        cos = t @ a.T  # (captions, sounds)
        logits = cos / 0.07
        loss = F.cross_entropy(logits[:n], target) + F.cross_entropy(logits.T, target)
        loss = loss + F.relu(cos[~matched] + 0.05).pow(2).mean() * 10 + F.relu(0.9 - cos[matched]).pow(2).mean() * 10
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()

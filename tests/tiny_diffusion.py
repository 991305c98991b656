"""Tiny REAL diffusers video pipelines with random weights, built on the CPU with nothing downloaded.

The shapes follow diffusers' own fast tests (a 1-layer transformer, a 4-block VAE), but where those
load `hf-internal-testing/tiny-random-t5` from the hub, the T5 tokenizer here is trained locally
with SentencePiece on a few sentences and the text encoder is a T5 built from a tiny config.
Everything is seeded, so two builds give the same weights.
"""
from __future__ import annotations

import io
from dataclasses import replace
from functools import cache

import numpy as np

from moviefactory.renderers.diffusion.base import ModelEntry, entry

# What the tokenizer is trained on: the words the tests' prompts use, so they tokenize to real pieces.
_CORPUS = [
    "a lighthouse on a cliff", "waves on rocks", "a lighthouse keeper in a yellow raincoat",
    "lighthouse on a rocky coast at dusk", "storm clouds over the sea at night", "morning light on the water",
    "cinematic film still, anamorphic widescreen, 35mm, shallow depth of field, dramatic lighting",
    "vertical social video, bold composition, subject centred, vivid colour",
    "letterbox, black bars, text, watermark, logo, blurry, deformed, oversaturated, vertical framing",
    "people, crowds, cars, captions",
]
TEXT_DIM = 32  # T5 d_model, which the transformers' caption/text projections read


@cache
def _spm_vocab() -> tuple[tuple[str, float], ...]:
    import sentencepiece as spm

    model = io.BytesIO()
    # T5's special ids: <pad>=0, </s>=1, <unk>=2, no <s>.
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 4), model_writer=model, vocab_size=120, model_type="unigram",
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, minloglevel=2, num_threads=1)
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    return tuple((sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size()))


def tiny_t5_tokenizer():
    """A T5 tokenizer from a SentencePiece unigram model trained here (never an empty hub fallback)."""
    from transformers import T5Tokenizer

    tokenizer = T5Tokenizer(vocab=list(_spm_vocab()), extra_ids=0)
    assert len(tokenizer) > 10, "tiny T5 tokenizer came out empty"
    assert tokenizer.unk_token_id not in tokenizer("a lighthouse on a cliff").input_ids
    return tokenizer


def tiny_t5_encoder(vocab_size: int):
    import torch
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(0)
    config = T5Config(vocab_size=vocab_size, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
                      relative_attention_num_buckets=8, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    return T5EncoderModel(config).eval()


def _text_components() -> dict:
    tokenizer = tiny_t5_tokenizer()
    return {"tokenizer": tokenizer, "text_encoder": tiny_t5_encoder(len(tokenizer))}


def tiny_ltx():
    """LTXPipeline: 1-layer LTX transformer, a VAE compressing 4x in space and time, flow-match Euler."""
    import torch
    from diffusers import (AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline,
                           LTXVideoTransformer3DModel)

    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=TEXT_DIM)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        latent_channels=8, block_out_channels=(8, 8, 8, 8), spatio_temporal_scaling=(True, True, False, False),
        layers_per_block=(1, 1, 1, 1, 1), decoder_block_out_channels=(8, 8, 8, 8),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_layers_per_block=(1, 1, 1, 1, 1),
        patch_size=1, patch_size_t=1, encoder_causal=True, decoder_causal=False)
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    pipe = LTXPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
                       **_text_components())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_wan():
    """WanPipeline: 2-layer Wan transformer, a Wan VAE (8x space, 4x time), T5 in place of UMT5."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32)
    pipe = WanPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
                       **_text_components())
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_model(name: str, *, area: tuple[int, int] = (64, 48), steps: int = 2) -> ModelEntry:
    """The catalogue entry with a toy native size and step count; everything else (multiple, frame
    rule, fps, motion controls, memory tiers) stays the real model's."""
    return replace(entry(name), size=area, steps=steps)


class Recording:
    """The real pipeline; each call's keyword arguments and the shape of its frames are kept, and
    queued errors are raised first (to stand for running out of GPU memory)."""

    def __init__(self, pipe, *errors: Exception):
        self.pipe, self.calls, self.outputs, self.errors = pipe, [], [], list(errors)

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        if self.errors:
            raise self.errors.pop(0)
        out = self.pipe(**kwargs)
        self.outputs.append(np.asarray(out.frames).shape)
        return out

    def __getattr__(self, name):
        return getattr(self.pipe, name)


def shot_context(ffmpeg, fmt_name="vertical", seed=1, frames=8, scene=0):
    """A draft-size RenderContext for a scene of the tiny screenplay."""
    from moviefactory.config import load_format
    from moviefactory.renderers import RenderContext

    from factories import tiny_screenplay

    sp = tiny_screenplay()
    return RenderContext(screenplay=sp, scene=sp.scenes[scene], format=load_format(fmt_name, draft=True), seed=seed,
                         ffmpeg=ffmpeg, frames=frames)

"""Tiny REAL diffusers CogVideoX and HunyuanVideo pipelines with random weights, built on the CPU offline.

The shapes follow diffusers' own fast tests (tests/pipelines/cogvideo/test_cogvideox.py,
tests/pipelines/hunyuan_video/test_hunyuan_video.py), but where those load tokenizers from the hub
(`hf-internal-testing/tiny-random-t5`, `finetrainers/dummy-hunyaunvideo`, `hf-internal-testing/tiny-random-clip`),
every tokenizer here is made in code:

* CogVideoX: the locally trained SentencePiece T5 tokenizer and tiny T5 of `tiny_diffusion`.
* HunyuanVideo: a Llama-3-style byte-level BPE (`<|begin_of_text|>`, header and `<|eot_id|>` special
  tokens) whose merges spell the words of diffusers' default HunyuanVideo prompt template, so that the
  template's system part is exactly `crop_start` (95) tokens, as with the real Llama-3 tokenizer: the
  pipeline's own default template crops the system prompt off and keeps the user's text. The CLIP
  tokenizer is a byte-level BPE like `tiny_image_video`'s, with merges for the words prompts use here.

Everything is seeded, so two builds give the same weights. Settings that change what the pipeline is
asked for stay the real checkpoints' (CogVideoX-2b's 226 text tokens and v-prediction DDIM scheduler;
HunyuanVideo's guidance embedding, flow-match shift 7, patch 2).
"""
from __future__ import annotations

from functools import cache

from moviefactory.renderers.diffusion.t2v import CAMERA_WORDS, NO_TEXT
from tiny_diffusion import _CORPUS, TEXT_DIM, tiny_t5_encoder, tiny_t5_tokenizer
from tiny_image_video import _bytes_to_unicode, _text_config

# What the renderer writes into prompts here: the tests' shots, looks and formats, its camera words and
# its no-text negative. The Llama tokenizer spells each as one token, as Llama-3's would; the CLIP one
# merges them (mostly whole), so a full prompt fits CLIP's 77 tokens as it does with the real vocab.
WORDS_TEXT = (*_CORPUS, *CAMERA_WORDS.values(), NO_TEXT)

# Llama-3's special tokens (the ones HunyuanVideo's prompt template uses) and a pad token.
LLAMA_SPECIAL = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                 "<|eot_id|>", "<pad>")
LLAMA_DIM = 16
# Llama-3's pre-tokenizer split (its tokenizer.json): "\n\n" is one piece, digits apart from the space before.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def tiny_cogvideox():
    """CogVideoXPipeline (the 2b layout: sin-cos positions, no rotary): a 1-layer transformer over
    2x2 patches, a 4-block VAE (8x space, 4x time), T5 text, CogVideoX's v-prediction DDIM."""
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8,  # inner dim 32: the 3D sin-cos embedding needs a multiple of 16
        in_channels=4, out_channels=4, time_embed_dim=2, text_embed_dim=TEXT_DIM, num_layers=1,
        sample_width=8, sample_height=6, sample_frames=9,  # the toy native 64x48 in latents, like 720x480 -> 90x60
        patch_size=2, temporal_compression_ratio=4,
        max_text_seq_length=226)  # the pipeline's default max_sequence_length, which the renderer leaves alone
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3, down_block_types=("CogVideoXDownBlock3D",) * 4,
        up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), latent_channels=4,
        layers_per_block=1, norm_num_groups=2, temporal_compression_ratio=4)
    # THUDM/CogVideoX-2b's scheduler config.
    scheduler = CogVideoXDDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
        num_train_timesteps=1000, prediction_type="v_prediction", rescale_betas_zero_snr=True, set_alpha_to_one=True,
        snr_shift_scale=3.0, steps_offset=0, timestep_spacing="trailing")
    tokenizer = tiny_t5_tokenizer()
    pipe = CogVideoXPipeline(transformer=transformer, vae=vae, scheduler=scheduler, tokenizer=tokenizer,
                             text_encoder=tiny_t5_encoder(len(tokenizer)))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def hunyuan_template() -> dict:
    from diffusers.pipelines.hunyuan_video.pipeline_hunyuan_video import DEFAULT_PROMPT_TEMPLATE

    return DEFAULT_PROMPT_TEMPLATE


def _split_special(text: str) -> list[str]:
    import re

    pattern = "(" + "|".join(re.escape(s) for s in LLAMA_SPECIAL) + ")"
    return [part for part in re.split(pattern, text) if part]


def _llama_pre_tokenizer():
    from tokenizers import Regex, pre_tokenizers

    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(LLAMA3_SPLIT), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


@cache
def _llama_vocab_and_merges() -> tuple[dict[str, int], tuple[tuple[str, str], ...]]:
    """Every byte, plus merges spelling each word of the template and of the tests' prompts whole.

    Each word is built left to right ('Ġ l', 'Ġl i', ...). Words after a space ('Ġ...') rank first:
    none of their merges can fire inside a word without one, and a space-less word's merges ('u s'
    from 'user') could otherwise split a spaced one ('Ġlighthouse' -> 'Ġlightho', 'use'). Within each
    group the template's words rank before the prompts', so its system part keeps its token count.
    """
    from tokenizers import pre_tokenizers

    pre = _llama_pre_tokenizer()
    words: list[str] = []
    for text in (hunyuan_template()["template"], *WORDS_TEXT):
        for part in _split_special(text):
            if part not in LLAMA_SPECIAL:
                words += [word for word, _ in pre.pre_tokenize_str(part)]
    words.sort(key=lambda word: not word.startswith("\u0120"))  # stable: text order within each group
    vocab = {ch: i for i, ch in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}  # a set: fix the order
    merges: list[tuple[str, str]] = []
    for word in words:
        current = word[0]
        for ch in word[1:]:
            if current + ch not in vocab:
                merges.append((current, ch))
                vocab[current + ch] = len(vocab)
            current += ch
    for token in LLAMA_SPECIAL:
        vocab[token] = len(vocab)
    return vocab, tuple(merges)


def tiny_llama_tokenizer():
    """A Llama-3-style tokenizer made in code: byte-level BPE (no text is ever <unk>), BOS prepended,
    the chat-header special tokens kept whole, right padding with <pad>."""
    from tokenizers import AddedToken, Tokenizer, decoders, models, processors
    from transformers import PreTrainedTokenizerFast

    vocab, merges = _llama_vocab_and_merges()
    tok = Tokenizer(models.BPE(vocab=dict(vocab), merges=list(merges), ignore_merges=False))
    tok.pre_tokenizer = _llama_pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in LLAMA_SPECIAL])
    bos = "<|begin_of_text|>"
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, vocab[bos])])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token="<|end_of_text|>",
                                        pad_token="<pad>", padding_side="right", model_max_length=1024)
    # What the pipeline relies on: the default template's system part is `crop_start` tokens, so
    # cropping it leaves the user's text (the tests' words as whole tokens).
    template, prompt = hunyuan_template(), "a lighthouse on a cliff"
    ids = tokenizer(template["template"].format(prompt)).input_ids
    crop = template["crop_start"]
    assert ids[crop:-1] == tokenizer(prompt, add_special_tokens=False).input_ids, tokenizer.convert_ids_to_tokens(ids)
    assert len(ids) == crop + 6, tokenizer.convert_ids_to_tokens(ids[crop:])  # five words, <|eot_id|>
    return tokenizer


def tiny_clip_tokenizer():
    """CLIP's byte-level BPE (every byte a token, alone and word-final, so nothing is <unk>) with merges
    for the words of WORDS_TEXT: a full shot prompt stays inside CLIP's 77 tokens, as with the real vocab."""
    import json
    import re
    import tempfile
    from pathlib import Path

    from transformers import CLIPTokenizer

    chars = list(_bytes_to_unicode().values())
    vocab = {ch: i for i, ch in enumerate(chars)}
    for ch in chars:
        vocab.setdefault(ch + "</w>", len(vocab))
    merges: list[str] = []
    words = dict.fromkeys(re.findall(r"[a-z]+", " ".join(WORDS_TEXT).lower()))
    for word in sorted(words, key=lambda w: (-len(w), w)):  # longer words' merges rank first
        current = word[0]
        for i, ch in enumerate(word[1:], start=2):
            ch = ch + "</w>" if i == len(word) else ch
            if f"{current} {ch}" not in merges:
                merges.append(f"{current} {ch}")
            current += ch
            vocab.setdefault(current, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    with tempfile.TemporaryDirectory(prefix="tiny-clip-") as folder:  # read into memory; the files can go
        (Path(folder) / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        (Path(folder) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        tokenizer = CLIPTokenizer.from_pretrained(folder, model_max_length=77, local_files_only=True)
    assert len(tokenizer) > 500, f"tokenizer came back empty ({len(tokenizer)} tokens)"
    return tokenizer


def tiny_hunyuan():
    """HunyuanVideoPipeline: 1 dual + 1 single-stream block over 2x2 patches, a 4-block Hunyuan VAE
    (8x space, 4x time), a 3-layer Llama text encoder and a 1-layer CLIP for the pooled vector."""
    import torch
    from diffusers import (AutoencoderKLHunyuanVideo, FlowMatchEulerDiscreteScheduler, HunyuanVideoPipeline,
                           HunyuanVideoTransformer3DModel)
    from transformers import CLIPTextModel, LlamaConfig, LlamaModel

    tokenizer = tiny_llama_tokenizer()
    tokenizer_2 = tiny_clip_tokenizer()
    clip_config = _text_config(tokenizer_2)
    torch.manual_seed(0)
    transformer = HunyuanVideoTransformer3DModel(
        in_channels=4, out_channels=4, num_attention_heads=2, attention_head_dim=10, num_layers=1,
        num_single_layers=1, num_refiner_layers=1, patch_size=2, patch_size_t=1,
        guidance_embeds=True,  # HunyuanVideo is guidance-distilled: guidance_scale is an input, not CFG
        text_embed_dim=LLAMA_DIM, pooled_projection_dim=clip_config.hidden_size, rope_axes_dim=(2, 4, 4))
    torch.manual_seed(0)
    vae = AutoencoderKLHunyuanVideo(
        in_channels=3, out_channels=3, latent_channels=4, down_block_types=("HunyuanVideoDownBlock3D",) * 4,
        up_block_types=("HunyuanVideoUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8), layers_per_block=1,
        act_fn="silu", norm_num_groups=4, scaling_factor=0.476986, spatial_compression_ratio=8,
        temporal_compression_ratio=4, mid_block_add_attention=True)
    torch.manual_seed(0)
    # The pipeline reads hidden_states[-3] (two layers skipped), so three layers leave one real one.
    text_encoder = LlamaModel(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=LLAMA_DIM, intermediate_size=37, num_attention_heads=4,
        num_key_value_heads=4, num_hidden_layers=3, max_position_embeddings=512, hidden_act="silu",
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)).eval()
    torch.manual_seed(0)
    text_encoder_2 = CLIPTextModel(clip_config).eval()
    pipe = HunyuanVideoPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=text_encoder, tokenizer=tokenizer, text_encoder_2=text_encoder_2, tokenizer_2=tokenizer_2)
    pipe.set_progress_bar_config(disable=True)
    return pipe

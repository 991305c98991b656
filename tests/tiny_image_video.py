"""Tiny random-weight image and video pipelines (diffusers' real classes) built offline, on the CPU.

The shapes follow diffusers' own fast tests (`get_dummy_components`), shrunk further; tokenizers are
CLIP byte-level BPEs written here from a small vocab.json + merges.txt (every byte has a token, so
no text maps to <unk>), never fetched from a hub.

* `tiny_sdxl()` — StableDiffusionXLPipeline (two CLIP text encoders), the catalogue's keyframe class.
* `tiny_svd()` — StableVideoDiffusionPipeline (spatio-temporal UNet, temporal-decoder VAE, CLIP vision).
* `tiny_pix2pix()` — StableDiffusionInstructPix2PixPipeline (8-channel UNet: latents + image latents).
* `tiny_models()` — catalogue entries with toy sizes and 2 steps, so `generation_size` stays small.
"""
from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

_WORDS = ("a", "lighthouse", "keeper", "in", "yellow", "raincoat", "waves", "on", "rocks", "cinematic", "film",
          "still", "vertical", "storm", "clouds", "make", "it", "night")


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP/GPT-2's byte -> printable character map."""
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def write_clip_tokenizer_files(folder: Path) -> Path:
    """vocab.json + merges.txt of a CLIP BPE: every byte (alone and word-final) plus a few whole words."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab = {ch: i for i, ch in enumerate(chars)}
    for ch in chars:
        vocab.setdefault(ch + "</w>", len(vocab))
    merges = []
    for word in _WORDS:
        current = word[0]
        for i, ch in enumerate(word[1:], start=2):
            ch = ch + "</w>" if i == len(word) else ch
            merges.append(f"{current} {ch}")
            current += ch
            vocab.setdefault(current, len(vocab))
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n", encoding="utf-8")
    return folder


def tiny_clip_tokenizer(tmp: Path | None = None):
    from transformers import CLIPTokenizer

    if tmp is None:  # the tokenizer is read into memory; its files need not outlive the build
        with tempfile.TemporaryDirectory(prefix="tiny-clip-") as scratch:
            return tiny_clip_tokenizer(Path(scratch))
    folder = write_clip_tokenizer_files(Path(tmp) / "clip-tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(str(folder), model_max_length=77, local_files_only=True)
    assert len(tokenizer) > 500, f"tokenizer came back empty ({len(tokenizer)} tokens)"
    return tokenizer


def _text_config(tokenizer, projection_dim: int = 16):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                          pad_token_id=tokenizer.pad_token_id, vocab_size=len(tokenizer), hidden_size=16,
                          intermediate_size=32, num_attention_heads=2, num_hidden_layers=1, hidden_act="gelu",
                          projection_dim=projection_dim, max_position_embeddings=77)


def _vae(cls_name: str = "AutoencoderKL"):
    import diffusers

    kwargs = dict(block_out_channels=[8, 16], in_channels=3, out_channels=3, latent_channels=4,
                  down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"], norm_num_groups=4)
    if cls_name == "AutoencoderKL":
        kwargs["up_block_types"] = ["UpDecoderBlock2D", "UpDecoderBlock2D"]
    else:  # the temporal decoder's group norms are fixed at 32 groups, so its widths are too
        kwargs.update(block_out_channels=[32, 64])
        kwargs.pop("norm_num_groups")
    return getattr(diffusers, cls_name)(**kwargs)


def tiny_sdxl(tmp: Path | None = None, seed: int = 0):
    """StableDiffusionXLPipeline at toy size: two 1-layer CLIP text encoders, a 2-block UNet, 2x VAE."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tokenizer = tiny_clip_tokenizer(tmp)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, norm_num_groups=4,
        addition_embed_type="text_time", addition_time_embed_dim=8,
        projection_class_embeddings_input_dim=6 * 8 + 16,  # six size/crop ids + text_encoder_2's projection
        cross_attention_dim=32,  # both encoders' hidden states side by side (16 + 16)
    )
    torch.manual_seed(seed)
    vae = _vae()
    torch.manual_seed(seed)
    config = _text_config(tokenizer)
    text_encoder, text_encoder_2 = CLIPTextModel(config), CLIPTextModelWithProjection(config)
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, steps_offset=1,
                                       beta_schedule="scaled_linear", timestep_spacing="leading")
    pipe = StableDiffusionXLPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                     text_encoder_2=text_encoder_2, tokenizer_2=tokenizer, scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_pix2pix(tmp: Path | None = None, seed: int = 0):
    """StableDiffusionInstructPix2PixPipeline at toy size (its UNet reads latents + image latents)."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionInstructPix2PixPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = tiny_clip_tokenizer(tmp)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), norm_num_groups=4, cross_attention_dim=16,
    )
    torch.manual_seed(seed)
    vae = _vae()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_text_config(tokenizer))
    pipe = StableDiffusionInstructPix2PixPipeline(
        unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
        scheduler=EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear"),
        safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_svd(seed: int = 0):
    """StableVideoDiffusionPipeline at toy size.

    The pipeline resizes a PIL keyframe to 224x224 for its CLIP image encoder, so the tiny encoder
    keeps image_size 224 with 56-px patches (16 patches): the production path, at toy cost.
    """
    import torch
    from diffusers import EulerDiscreteScheduler, StableVideoDiffusionPipeline, UNetSpatioTemporalConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=16, num_attention_heads=(2, 4),  # group norms: 32 groups, so 32/64 wide
        addition_time_embed_dim=8, projection_class_embeddings_input_dim=3 * 8,  # fps, motion bucket, noise aug
    )
    torch.manual_seed(seed)
    vae = _vae("AutoencoderKLTemporalDecoder")
    torch.manual_seed(seed)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=16, projection_dim=16, num_hidden_layers=1, num_attention_heads=2, image_size=224,
        intermediate_size=32, patch_size=56))
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002, steps_offset=1,
        timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True)
    pipe = StableVideoDiffusionPipeline(unet=unet, vae=vae, image_encoder=image_encoder, scheduler=scheduler,
                                        feature_extractor=CLIPImageProcessor(crop_size=224, size=224))
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_models():
    """(image, video, edit) catalogue entries at toy sizes: same classes, fps, motion ranges; 2 steps."""
    from moviefactory.renderers.diffusion.base import entry

    image = replace(entry("sdxl"), size=(64, 64), multiple=8, steps=2)
    video = replace(entry("svd"), size=(64, 36), multiple=8, steps=2, max_frames=8)
    edit = replace(entry("instruct-pix2pix"), size=(64, 64), steps=2)
    return image, video, edit


def tiny_sd(tmp: Path | None = None, seed: int = 0):
    """StableDiffusionPipeline (sd-turbo's class) at toy size: a 1-layer CLIP text encoder, a 2-block UNet,
    a 2x VAE, the Euler-ancestral scheduler sd-turbo ships with; no safety checker."""
    import torch
    from diffusers import EulerAncestralDiscreteScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tokenizer = tiny_clip_tokenizer(tmp)
    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(8, 16), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), norm_num_groups=4, cross_attention_dim=16)
    torch.manual_seed(seed)
    vae = _vae()
    torch.manual_seed(seed)
    text_encoder = CLIPTextModel(_text_config(tokenizer))
    scheduler = EulerAncestralDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                                timestep_spacing="trailing")
    pipe = StableDiffusionPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe

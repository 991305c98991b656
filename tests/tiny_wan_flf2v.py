"""A tiny REAL Wan 2.1 first-and-last-frame (FLF2V) pipeline with random weights, on the CPU, offline.

`WanImageToVideoPipeline` is the class the catalogue's `wan2.1-flf2v` loads; given `last_image` as
well as `image` it conditions on both ends. The shapes follow diffusers' own fast test
(`WanFLFToVideoPipelineFastTests` in tests/pipelines/wan/test_wan_image_to_video.py):

* the transformer reads 36 channels (16 noise latents + 4 mask + 16 image-condition latents) and
  CLIP image tokens of width `image_dim`; `pos_embed_seq_len` = 2 * (CLIP patches + 1) marks it as
  the FLF2V variant, whose image embedder takes the first AND the last frame's tokens;
* the image encoder is a CLIPVisionModelWithProjection built from a tiny config (4x4 images,
  1-px patches: 16 patches + CLS) with a CLIPImageProcessor resizing to 4x4;
* `rope_max_seq_len` is the real model's 1024 (the fast test's 32 would refuse generations wider
  than 512 px, so the catalogue's own 1280x720-class size could not even be tried);
* where diffusers' test loads `hf-internal-testing/tiny-random-t5`, the text side is the locally
  trained T5 tokenizer and tiny T5 encoder of `tiny_diffusion` — nothing comes from a hub.

Everything is seeded, so two builds give the same weights.
"""
from __future__ import annotations

from tiny_diffusion import TEXT_DIM, _text_components

CLIP_SIZE = 4  # the image encoder's input side, in pixels (1-px patches)
CLIP_DIM = 4  # its hidden width: the transformer's image_dim


def tiny_wan_flf2v(seed: int = 0):
    """WanImageToVideoPipeline wired as FLF2V: 1-layer Wan transformer, Wan VAE (8x space, 4x time),
    tiny CLIP vision encoder, T5 in place of UMT5; progress bar off."""
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanTransformer3DModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(seed)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
        text_dim=TEXT_DIM, freq_dim=256, ffn_dim=32, num_layers=1, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=1024, image_dim=CLIP_DIM,
        pos_embed_seq_len=2 * (CLIP_SIZE * CLIP_SIZE + 1))
    torch.manual_seed(seed)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=CLIP_DIM, projection_dim=CLIP_DIM, num_hidden_layers=2, num_attention_heads=2,
        image_size=CLIP_SIZE, intermediate_size=16, patch_size=1)).eval()
    image_processor = CLIPImageProcessor(crop_size=CLIP_SIZE, size=CLIP_SIZE)
    torch.manual_seed(seed)
    pipe = WanImageToVideoPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        image_encoder=image_encoder, image_processor=image_processor, transformer_2=None, **_text_components())
    pipe.set_progress_bar_config(disable=True)
    return pipe

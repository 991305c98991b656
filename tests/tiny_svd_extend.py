"""Real diffusers pipelines at toy size with random weights, for the extend / restyle tests.

The SVD shapes follow diffusers' own `StableVideoDiffusionPipelineFastTests.get_dummy_components`;
the Stable Diffusion img2img one follows its SD fast tests. Nothing is downloaded: the CLIP
tokenizer is written from a small local vocabulary.
"""
from __future__ import annotations

import json
from pathlib import Path


def tiny_svd():
    """A StableVideoDiffusionPipeline (image -> video) that runs 32x32 frames on the CPU in well under a second.

    The CLIP image encoder takes 224x224 (in 7x7 patches) because the pipeline resizes a PIL
    conditioning image to that size, as the real model expects.
    """
    import torch
    from diffusers import (AutoencoderKLTemporalDecoder, EulerDiscreteScheduler, StableVideoDiffusionPipeline,
                           UNetSpatioTemporalConditionModel)
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(0)
    unet = UNetSpatioTemporalConditionModel(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=32, in_channels=8, out_channels=4,
        down_block_types=("CrossAttnDownBlockSpatioTemporal", "DownBlockSpatioTemporal"),
        up_block_types=("UpBlockSpatioTemporal", "CrossAttnUpBlockSpatioTemporal"),
        cross_attention_dim=32, num_attention_heads=8, projection_class_embeddings_input_dim=96,
        addition_time_embed_dim=32,
    )
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", interpolation_type="linear",
        num_train_timesteps=1000, prediction_type="v_prediction", sigma_max=700.0, sigma_min=0.002,
        steps_offset=1, timestep_spacing="leading", timestep_type="continuous", use_karras_sigmas=True,
    )
    torch.manual_seed(0)
    vae = AutoencoderKLTemporalDecoder(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                                       down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
                                       latent_channels=4)
    torch.manual_seed(0)
    image_encoder = CLIPVisionModelWithProjection(CLIPVisionConfig(
        hidden_size=32, projection_dim=32, num_hidden_layers=5, num_attention_heads=4, image_size=224,
        intermediate_size=37, patch_size=32))
    feature_extractor = CLIPImageProcessor(crop_size=32, size=32)
    pipe = StableVideoDiffusionPipeline(unet=unet, image_encoder=image_encoder, scheduler=scheduler, vae=vae,
                                        feature_extractor=feature_extractor)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def tiny_clip_tokenizer(directory: Path):
    """A real CLIPTokenizer over a tiny vocabulary (letters and a few words), made on disk."""
    from transformers import CLIPTokenizer

    words = ["the", "car", "red", "look", "like", "make", "it", "keep", "rider", "dusk"]
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    tokens = ["<|startoftext|>", "<|endoftext|>", "!"] + letters + [f"{c}</w>" for c in letters]
    tokens += [f"{w}</w>" for w in words]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "merges.txt").write_text("#version: 0.2\n", encoding="utf-8")
    tok = CLIPTokenizer(str(directory / "vocab.json"), str(directory / "merges.txt"), model_max_length=77)
    assert len(tok) == len(vocab), "the local tokenizer did not load its vocabulary"
    return tok


def tiny_img2img(tmp: Path):
    """A StableDiffusionImg2ImgPipeline at 64x64 (latents 32x32) with random weights, whose VAE can
    reconstruct at least the layout of an image.

    A random VAE scrambles its input beyond recognition, so "restyle keeps structure" could not be
    seen through it at any strength. Three properties of a trained VAE are set by hand instead
    (the UNet and text encoder stay random): the residual branches of its ResNet blocks and the
    output of its attention are zeroed, so encode -> decode is a short chain of local convolutions
    that keeps layout; the posterior's log-variance is pinned very low, so a sample is its mean; and
    `scaling_factor` brings the latents to about unit variance, the job 0.18215 does for SD's VAE.
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionImg2ImgPipeline, UNet2DConditionModel
    from diffusers.models.attention_processor import Attention
    from diffusers.models.resnet import ResnetBlock2D
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = tiny_clip_tokenizer(tmp / "tokenizer")
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=32, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, norm_num_groups=8,
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(block_out_channels=[32, 64], in_channels=3, out_channels=3,
                        down_block_types=["DownEncoderBlock2D"] * 2, up_block_types=["UpDecoderBlock2D"] * 2,
                        latent_channels=4, norm_num_groups=8, scaling_factor=5.0)
    with torch.no_grad():
        for module in vae.modules():
            if isinstance(module, ResnetBlock2D):
                module.conv2.weight.zero_()
                module.conv2.bias.zero_()
            elif isinstance(module, Attention):
                module.to_out[0].weight.zero_()
                module.to_out[0].bias.zero_()
        half = vae.quant_conv.out_channels // 2  # [mean | logvar]
        vae.quant_conv.weight[half:].zero_()
        vae.quant_conv.bias[half:].fill_(-30.0)
    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        bos_token_id=0, eos_token_id=1, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-5,
        num_attention_heads=4, num_hidden_layers=2, pad_token_id=1, vocab_size=len(tokenizer)))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionImg2ImgPipeline(unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
                                          scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe

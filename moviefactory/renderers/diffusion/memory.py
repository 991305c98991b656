"""GPU memory for every diffusion backend: how much there is, how a pipeline is told to use it
(from its tier in configs/models.yaml), how it is given back, and how running out is recognised.

torch is imported inside the functions: the CPU default path never loads it.
"""
from __future__ import annotations

import gc
from typing import Any


def detect_vram_gb() -> float | None:
    """The first GPU's memory in GiB; None without torch or a CUDA device (the CPU tier)."""
    try:
        import torch
    except ImportError:
        return None
    if not torch.cuda.is_available():
        return None
    return torch.cuda.get_device_properties(0).total_memory / 2**30


def apply_memory(pipe, settings: dict[str, Any], device: str) -> None:
    """Declare how the pipeline uses memory, from its tier: offload, VAE tiling and slicing."""
    offload = settings.get("offload", "none")
    if device.startswith("cuda") and offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif device.startswith("cuda") and offload == "sequential":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        pipe.to(device)
    vae = getattr(pipe, "vae", None)
    if settings.get("vae_tiling") and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if settings.get("vae_slicing") and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()


def free_gpu_memory() -> None:
    """Drop what Python and torch's allocator still hold (after a failed call, or before another model loads)."""
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def is_out_of_memory(exc: BaseException) -> bool:
    try:
        import torch

        if isinstance(exc, torch.cuda.OutOfMemoryError):
            return True
    except ImportError:  # pragma: no cover - torch is a dependency
        pass
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()

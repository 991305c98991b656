"""Diffusion scene renderers (GPU): text->video, keyframe->video, long shots, transitions, restyling."""

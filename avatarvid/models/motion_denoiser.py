"""The audio-to-motion denoiser: a transformer over one motion window (VLOGGER's first stage).

Tokens are the `context` frames of the previous window (known motion: temporal outpainting)
followed by the `window` frames being denoised. Every token also carries the audio of its frame
(through a small temporal conv, so it hears its neighbours) and the diffusion timestep. The
network predicts the clean motion (x0), which makes the temporal smoothness loss direct.
Audio and context can each be replaced by a learned "absent" embedding, which is what
classifier-free guidance needs (trained with condition dropout). With `audio_dim=0` the same
network is a prior without audio over a subset of the layout's `channels`: head, brows and gaze
learned from real video, which has motion but no speech (sampling/motion.py composes the two).
"""

from __future__ import annotations

import torch
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding, Timesteps
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from avatarvid.motion.audio_features import FEATURE_DIM
from avatarvid.motion.schema import MOTION_LAYOUT


class MotionDenoiser(ModelMixin, ConfigMixin):
    """x0-predicting denoiser for (batch, window, motion_dim) normalised motion."""

    @register_to_config
    def __init__(
        self,
        motion_dim: int = MOTION_LAYOUT.dim,
        audio_dim: int = FEATURE_DIM,
        width: int = 128,
        layers: int = 4,
        heads: int = 4,
        window: int = 40,
        context: int = 10,
        dropout: float = 0.1,
        fps: float = 25.0,
        num_train_timesteps: int = 1000,
        beta_schedule: str = "squaredcos_cap_v2",
        motion_mean: list[float] | None = None,
        motion_std: list[float] | None = None,
        layout: str = MOTION_LAYOUT.name,
        layout_version: int = MOTION_LAYOUT.version,
        channels: list[str] | None = None,
    ):
        super().__init__()
        mean = motion_mean or [0.0] * motion_dim
        std = motion_std or [1.0] * motion_dim
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32), persistent=False)
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32), persistent=False)
        self.motion_in = nn.Linear(motion_dim, width)
        self.context_in = nn.Linear(motion_dim, width)
        if audio_dim:
            self.audio_in = nn.Sequential(
                nn.Conv1d(audio_dim, width, 5, padding=2),
                nn.GELU(),
                nn.Conv1d(width, width, 5, padding=2),
            )
            self.null_audio = nn.Parameter(torch.zeros(width))
        self.null_context = nn.Parameter(torch.zeros(context, width))
        self.position = nn.Parameter(torch.randn(context + window, width) * 0.02)
        self.kind = nn.Parameter(torch.randn(2, width) * 0.02)  # context token / target token
        self.time_proj = Timesteps(width, flip_sin_to_cos=True, downscale_freq_shift=0)
        self.time_embed = TimestepEmbedding(width, width)
        block = nn.TransformerEncoderLayer(
            width, heads, 4 * width, dropout, activation="gelu", batch_first=True, norm_first=True
        )
        self.blocks = nn.TransformerEncoder(block, layers, enable_nested_tensor=False)
        self.out = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, motion_dim))

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The layout channels this model makes, in its output order."""
        return tuple(self.config.channels or MOTION_LAYOUT.names)

    def embed_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, context + window, width) audio tokens: depend on the audio only, so a sampler
        computes them once per window, not once per denoising step."""
        return self.audio_in(audio.transpose(1, 2)).transpose(1, 2)

    def normalize(self, motion: torch.Tensor) -> torch.Tensor:
        return (motion - self.mean) / self.std

    def denormalize(self, motion: torch.Tensor) -> torch.Tensor:
        return motion * self.std + self.mean

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor,
        audio: torch.Tensor,
        context: torch.Tensor,
        use_audio: torch.Tensor,
        use_context: torch.Tensor,
        audio_tokens: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Predicted clean window (B, window, D), all motion in normalised units.

        sample (B, window, D) noisy; timestep (B,); audio (B, context + window, audio_dim)
        (ignored by a prior, or replaced by its precomputed `embed_audio`, `audio_tokens`);
        context (B, context, D) previous frames; use_audio / use_context (B,) bools.
        """
        k = self.config.context
        if self.config.audio_dim:
            a = self.embed_audio(audio) if audio_tokens is None else audio_tokens
            a = torch.where(use_audio[:, None, None], a, self.null_audio)
        else:
            a = 0.0
        ctx = torch.where(use_context[:, None, None], self.context_in(context), self.null_context)
        tokens = torch.cat([ctx + self.kind[0], self.motion_in(sample) + self.kind[1]], dim=1)
        t = self.time_embed(self.time_proj(timestep.reshape(-1)).to(sample.dtype))
        h = self.blocks(tokens + a + self.position + t[:, None, :])
        return self.out(h[:, k:])

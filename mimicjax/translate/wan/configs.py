"""Configurations of the Wan 2.x video diffusion transformer.

`WanConfig` holds the architecture (the same fields, names and meaning as the `config.json` of a
diffusers `WanTransformer3DModel`) plus runtime options (compute dtype, rematerialisation, attention
kernel, in-context conditioning). Named presets cover the released checkpoints and tiny test sizes.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

# Architecture fields read from / written to a diffusers `config.json`.
_DIFFUSERS_FIELDS = (
    "patch_size",
    "num_attention_heads",
    "attention_head_dim",
    "in_channels",
    "out_channels",
    "text_dim",
    "freq_dim",
    "ffn_dim",
    "num_layers",
    "cross_attn_norm",
    "qk_norm",
    "eps",
    "image_dim",
    "added_kv_proj_dim",
    "rope_max_seq_len",
    "pos_embed_seq_len",
)

ATTENTION_CHOICES = ("auto", "xla", "cudnn", "chunked")


@dataclasses.dataclass(frozen=True)
class WanConfig:
    # --- architecture (diffusers names) ---
    patch_size: tuple[int, int, int] = (1, 2, 2)
    num_attention_heads: int = 40
    attention_head_dim: int = 128
    in_channels: int = 16
    out_channels: int = 16
    text_dim: int = 4096
    freq_dim: int = 256
    ffn_dim: int = 13824
    num_layers: int = 40
    cross_attn_norm: bool = True
    qk_norm: str | None = "rms_norm_across_heads"
    eps: float = 1e-6
    image_dim: int | None = None
    added_kv_proj_dim: int | None = None
    rope_max_seq_len: int = 1024
    pos_embed_seq_len: int | None = None
    rope_theta: float = 10000.0
    # --- runtime ---
    # Matmul/activation dtype. Norms, modulation and the time embedding always run in float32.
    dtype: str = "float32"
    # Storage dtype of the large matrices; norms, modulation tables and the time MLP stay float32.
    param_dtype: str = "float32"
    # Rematerialise each transformer block in the backward pass (activation memory ~ one block).
    remat: bool = False
    # "auto" picks per backend and size; see `mimicjax.translate.wan.attention`.
    attention: str = "auto"
    # Query block of the chunked attention fallback.
    attention_block_q: int = 512
    # In-context conditioning: embed the condition video with its own patch embedding
    # ("condition_embedding") instead of sharing `patch_embedding`.
    separate_condition_embedding: bool = False
    # In-context conditioning: condition tokens attend only to condition tokens in self-attention, so the
    # noisy target never changes what the model makes of the condition (target tokens still see both).
    mask_condition_to_target: bool = False

    def __post_init__(self):
        object.__setattr__(self, "patch_size", tuple(int(p) for p in self.patch_size))
        if len(self.patch_size) != 3:
            raise ValueError(f"patch_size must have 3 entries (t, h, w), got {self.patch_size}")
        if self.attention not in ATTENTION_CHOICES:
            raise ValueError(f"attention must be one of {ATTENTION_CHOICES}, got {self.attention!r}")
        if self.attention_head_dim % 2:
            raise ValueError("attention_head_dim must be even (rotary embedding pairs)")
        if self.image_dim is not None or self.added_kv_proj_dim is not None:
            raise NotImplementedError(
                "image-conditioned Wan variants (image_dim / added_kv_proj_dim, the Wan 2.1 I2V "
                "checkpoints) are not supported; Wan 2.2 TI2V and the T2V models are"
            )
        if self.pos_embed_seq_len is not None:
            raise NotImplementedError("pos_embed_seq_len (image embedding positions) is not supported")

    @property
    def inner_dim(self) -> int:
        return self.num_attention_heads * self.attention_head_dim

    @property
    def patch_volume(self) -> int:
        return math.prod(self.patch_size)

    def replace(self, **changes) -> "WanConfig":
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_diffusers(cls, config: Mapping[str, Any], **runtime) -> "WanConfig":
        """Build from a diffusers `config.json` dict; unknown keys (`_class_name`, ...) are ignored."""
        fields = {key: config[key] for key in _DIFFUSERS_FIELDS if key in config}
        if fields.get("out_channels") is None and "in_channels" in fields:
            fields["out_channels"] = fields["in_channels"]
        if "patch_size" in fields:
            fields["patch_size"] = tuple(fields["patch_size"])
        return cls(**fields, **runtime)

    def to_diffusers(self) -> dict[str, Any]:
        out = {key: getattr(self, key) for key in _DIFFUSERS_FIELDS}
        out["patch_size"] = list(self.patch_size)
        out["_class_name"] = "WanTransformer3DModel"
        return out

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["patch_size"] = list(self.patch_size)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "WanConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown WanConfig fields {unknown}")
        return cls(**dict(data))


# Released checkpoints (text-to-video and TI2V; all use a 4096-wide umT5 text encoder).
WAN21_T2V_1_3B = WanConfig(
    num_attention_heads=12, attention_head_dim=128, ffn_dim=8960, num_layers=30,
    in_channels=16, out_channels=16,
)
WAN21_T2V_14B = WanConfig(
    num_attention_heads=40, attention_head_dim=128, ffn_dim=13824, num_layers=40,
    in_channels=16, out_channels=16,
)
WAN22_TI2V_5B = WanConfig(
    num_attention_heads=24, attention_head_dim=128, ffn_dim=14336, num_layers=30,
    in_channels=48, out_channels=48,
)
# Tiny sizes for tests and CPU benchmarks.
TINY = WanConfig(
    num_attention_heads=2, attention_head_dim=16, ffn_dim=64, num_layers=2,
    in_channels=4, out_channels=4, text_dim=24, freq_dim=16, rope_max_seq_len=64,
)
SMALL = WanConfig(
    num_attention_heads=4, attention_head_dim=32, ffn_dim=256, num_layers=4,
    in_channels=16, out_channels=16, text_dim=64, freq_dim=64, rope_max_seq_len=256,
)
# The released block shapes (128-wide heads, 4096-wide text) at a depth and width a CPU runs in seconds.
MEDIUM = WanConfig(
    num_attention_heads=4, attention_head_dim=128, ffn_dim=2048, num_layers=4,
    in_channels=16, out_channels=16,
)

PRESETS: dict[str, WanConfig] = {
    "wan2.1-t2v-1.3b": WAN21_T2V_1_3B,
    "wan2.1-t2v-14b": WAN21_T2V_14B,
    "wan2.2-ti2v-5b": WAN22_TI2V_5B,
    "tiny": TINY,
    "small": SMALL,
    "medium": MEDIUM,
}


def preset(name: str, **changes) -> WanConfig:
    try:
        config = PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown Wan preset {name!r}; choose one of {sorted(PRESETS)}") from None
    return config.replace(**changes) if changes else config

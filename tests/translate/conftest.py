"""Fixtures for the translator tests: a tiny random diffusers Wan transformer and its Flax twin.

Everything is built in the test (fixed torch seed); nothing is downloaded. Compiled functions are shared
through session-scoped fixtures to keep the suite fast on two cores.
"""

from __future__ import annotations

import numpy as np
import pytest

# XLA's cheapest CPU code generation: compiles the tiny test models in about half the time and changes
# no arithmetic the tolerances care about. Tests only; the library default is XLA's usual pipeline.
FAST_COMPILE = {"xla_backend_optimization_level": 0}


def randomize_(module, seed: int = 0) -> None:
    """Give every parameter (norm scales, biases, modulation tables included) non-trivial values."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in module.named_parameters():
            noise = torch.randn(param.shape, generator=generator) * 0.2
            param.copy_(noise + (1.0 if "norm" in name else 0.0))


def make_reference(config, seed: int = 0):
    torch = pytest.importorskip("torch")
    WanTransformer3DModel = pytest.importorskip("diffusers").WanTransformer3DModel

    torch.manual_seed(seed)
    kwargs = {k: v for k, v in config.to_diffusers().items() if not k.startswith("_")}
    model = WanTransformer3DModel(**kwargs).eval()
    randomize_(model, seed)
    return model


def reference_forward(reference, hidden_states, timestep, encoder_hidden_states) -> np.ndarray:
    import torch

    with torch.no_grad():
        out = reference(
            torch.from_numpy(np.asarray(hidden_states)),
            torch.from_numpy(np.asarray(timestep)),
            torch.from_numpy(np.asarray(encoder_hidden_states)),
        ).sample
    return out.float().numpy()


@pytest.fixture(scope="session")
def tiny_config():
    from mimicjax.translate.wan.configs import TINY

    return TINY


@pytest.fixture(scope="session")
def reference(tiny_config):
    return make_reference(tiny_config)


@pytest.fixture(scope="session")
def tiny_params(reference, tiny_config):
    from mimicjax.translate.wan.convert import params_from_state_dict

    return params_from_state_dict({k: v.numpy() for k, v in reference.state_dict().items()}, tiny_config)


@pytest.fixture(scope="session")
def tiny_model(tiny_config, tiny_params):
    from mimicjax.translate.wan.transformer import WanModel

    return WanModel(tiny_config, tiny_params, compiler_options=FAST_COMPILE)


def tiny_tokenizer(folder):
    """A word-level tokenizer for the H2R prompt saved in the transformers format (real umT5 tokenizer
    files are not needed)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    from mimicjax.translate.wan.text_encoder import H2R_PROMPT

    words = ["<pad>", "</s>", "<unk>"] + H2R_PROMPT.split()
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    backend.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="<pad>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


def random_inputs(config, batch, frames, height, width, text_len, per_token=False, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, config.in_channels, frames, height, width)).astype(np.float32)
    context = rng.standard_normal((batch, text_len, config.text_dim)).astype(np.float32)
    pt, ph, pw = config.patch_size
    tokens = (frames // pt) * (height // ph) * (width // pw)
    t = rng.uniform(0, 1000, (batch, tokens) if per_token else (batch,)).astype(np.float32)
    return x, t, context

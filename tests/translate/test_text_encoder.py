"""Parity of the Flax umT5 encoder with transformers' UMT5EncoderModel (tiny random config, float32),
token padding, checkpoint loading and the prompt-embedding cache."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from mimicjax.translate.wan.text_encoder import (  # noqa: E402
    H2R_PROMPT,
    PromptCache,
    UMT5TextEncoder,
    load_umt5_encoder,
    relative_position_buckets,
)
from tests.translate.conftest import tiny_tokenizer  # noqa: E402

MAX_LENGTH = 24
TOL = 1e-5


@pytest.fixture(scope="module")
def reference():
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    config = UMT5Config(vocab_size=100, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_heads=2)
    model = UMT5EncoderModel(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "layer_norm" in name:
                param.copy_(1.0 + 0.2 * torch.randn_like(param))
    return model


@pytest.fixture(scope="module")
def encoder(reference):
    return UMT5TextEncoder.from_torch_state_dict(
        reference.config.to_dict(), reference.state_dict(), max_length=MAX_LENGTH
    )


def _batch():
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(2, 100, (3, MAX_LENGTH), generator=gen)
    mask = torch.zeros(3, MAX_LENGTH, dtype=torch.long)
    for row, length in enumerate((MAX_LENGTH, 9, 3)):
        mask[row, :length] = 1
    ids[mask == 0] = 0
    return ids, mask


def _reference_embeddings(model, ids, mask):
    """What the Wan pipeline feeds the transformer: last hidden state, padding rows zeroed."""
    with torch.no_grad():
        hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    return (hidden * mask[..., None]).numpy()


def test_matches_transformers_with_padding(reference, encoder):
    ids, mask = _batch()
    expected = _reference_embeddings(reference, ids, mask)
    got = np.asarray(encoder.encode_ids(ids.numpy(), mask.numpy()))
    assert got.shape == (3, MAX_LENGTH, 32)
    err = float(np.abs(got - expected).max())
    assert err < TOL, f"max abs error {err}"
    assert np.all(got[1, 9:] == 0) and np.all(got[2, 3:] == 0)
    # Padding tokens are invisible to the real ones.
    other = ids.clone()
    other[mask == 0] = 7
    np.testing.assert_allclose(np.asarray(encoder.encode_ids(other.numpy(), mask.numpy())), got, atol=1e-6)


def test_pad_ids_pads_and_truncates(encoder, reference):
    ids, mask = _batch()
    padded, padded_mask = encoder.pad_ids([ids[1, :9].tolist(), ids[2, :3].tolist()])
    np.testing.assert_array_equal(padded, ids[1:].numpy())
    np.testing.assert_array_equal(padded_mask, mask[1:].numpy())
    long_ids, long_mask = encoder.pad_ids(list(range(2, 2 + MAX_LENGTH + 10)))
    assert long_ids.shape == (1, MAX_LENGTH) and long_mask.all()
    # Unpadded ids go straight to the encoder.
    np.testing.assert_allclose(
        np.asarray(encoder.encode_ids(ids[2, :3].tolist())),
        _reference_embeddings(reference, ids[2:], mask[2:]),
        atol=TOL,
    )
    with pytest.raises(ValueError, match="outside the vocabulary"):
        encoder.pad_ids([5, 100])


def test_relative_position_buckets_match_transformers(reference):
    attention = reference.encoder.block[0].layer[0].SelfAttention
    length = 600  # beyond the 512-token prompts and the 128 max distance
    relative = torch.arange(length)[None, :] - torch.arange(length)[:, None]
    expected = attention._relative_position_bucket(relative).numpy()
    np.testing.assert_array_equal(relative_position_buckets(length, length, 32, 128), expected)


def test_load_transformers_folder(reference, tmp_path):
    reference.save_pretrained(tmp_path / "text_encoder", safe_serialization=True)
    ids, mask = _batch()
    expected = _reference_embeddings(reference, ids, mask)
    loaded = load_umt5_encoder(tmp_path, dtype="float32", max_length=MAX_LENGTH)  # pipeline root
    assert loaded.tokenizer is None
    np.testing.assert_allclose(np.asarray(loaded.encode_ids(ids.numpy(), mask.numpy())), expected, atol=TOL)
    low = load_umt5_encoder(tmp_path / "text_encoder", dtype="bfloat16", max_length=MAX_LENGTH)
    assert low.identity != loaded.identity
    got = np.asarray(low.encode_ids(ids.numpy(), mask.numpy()))
    assert got.dtype == np.float32
    assert np.abs(got - expected).max() < 0.1 * np.abs(expected).max()
    with pytest.raises(ValueError, match="no tokenizer"):
        loaded.encode("a prompt")


def test_prompt_cache_memory_and_disk(encoder, tmp_path):
    token_ids = [5, 17, 42, 1]
    expected = np.asarray(encoder.encode_ids(token_ids))[0]

    cache = PromptCache(tmp_path / "prompts")
    first = encoder.embed_prompt(H2R_PROMPT, cache=cache, token_ids=token_ids)
    np.testing.assert_array_equal(np.asarray(first), expected)
    assert len(cache) == 1
    files = list((tmp_path / "prompts").iterdir())
    assert len(files) == 1 and files[0].suffix == ".npz"  # no temporary file left behind

    def fail():
        raise AssertionError("the cached embedding should have been used")

    # Same process: memory. New process (new cache object): the npz file.
    assert cache.get_or_compute(encoder.identity, H2R_PROMPT, fail) is first
    fresh = PromptCache(tmp_path / "prompts")
    np.testing.assert_array_equal(np.asarray(fresh.get_or_compute(encoder.identity, H2R_PROMPT, fail)), expected)
    # Another encoder identity or prompt is another entry.
    assert fresh.get("another-encoder", H2R_PROMPT) is None
    assert fresh.get(encoder.identity, H2R_PROMPT + " ") is None
    # A damaged file is recomputed, not served.
    files[0].write_bytes(b"not an npz")
    damaged = PromptCache(tmp_path / "prompts")
    again = damaged.get_or_compute(encoder.identity, H2R_PROMPT, lambda: encoder.encode_ids(token_ids)[0])
    np.testing.assert_array_equal(np.asarray(again), expected)
    # Memory only.
    memory = PromptCache()
    memory.put("id", "p", np.ones((2, 3)))
    assert memory.get("id", "p").shape == (2, 3)


def test_prompts_through_a_tokenizer_folder(reference, tmp_path):
    reference.save_pretrained(tmp_path / "text_encoder", safe_serialization=True)
    tokenizer = tiny_tokenizer(tmp_path / "tokenizer")
    loaded = load_umt5_encoder(tmp_path, dtype="float32", max_length=MAX_LENGTH)  # finds tokenizer/ beside it
    assert loaded.tokenizer is not None
    tokens = tokenizer([H2R_PROMPT], padding="max_length", max_length=MAX_LENGTH, truncation=True, return_tensors="pt")
    ids, mask = tokens["input_ids"], tokens["attention_mask"]
    assert int(mask.sum()) == len(H2R_PROMPT.split()) + 1  # words + </s>
    expected = _reference_embeddings(reference, ids, mask)
    # Extra whitespace is cleaned the way the Wan pipelines clean prompts.
    got = np.asarray(loaded.encode("  A robotic arm   is interacting with objects. "))
    np.testing.assert_allclose(got, expected, atol=TOL)
    np.testing.assert_allclose(np.asarray(loaded.embed_prompt(H2R_PROMPT, cache=PromptCache())), expected[0], atol=TOL)

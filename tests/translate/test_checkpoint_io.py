"""The shared Wan checkpoint reader: finding files, streaming tensors, dtype names, placement."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import ml_dtypes
import numpy as np
import pytest

from mimicjax.translate.wan import checkpoint_io as cio

safetensors_numpy = pytest.importorskip("safetensors.numpy")


def _write_sharded(folder, stem="diffusion_pytorch_model"):
    """Two bf16/f32 shards and the index that lists them, as `save_pretrained(max_shard_size=...)` writes."""
    shards = {
        f"{stem}-00001-of-00002.safetensors": {"a.weight": np.arange(6, dtype=np.float32).reshape(2, 3)},
        f"{stem}-00002-of-00002.safetensors": {
            "b.weight": np.array([1.5, -2.25], np.float32).astype(ml_dtypes.bfloat16),
        },
    }
    weight_map = {}
    for name, tensors in shards.items():
        safetensors_numpy.save_file(tensors, str(folder / name))
        weight_map.update({key: name for key in tensors})
    (folder / f"{stem}.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return sorted(shards)


def test_sharded_index_is_read_in_order(tmp_path):
    names = _write_sharded(tmp_path)
    files = cio.checkpoint_files(tmp_path)
    assert [f.name for f in files] == names
    assert cio.tensor_shapes(files) == {"a.weight": (2, 3), "b.weight": (2,)}
    tensors = dict(cio.iter_tensors(files))
    np.testing.assert_array_equal(tensors["a.weight"], np.arange(6).reshape(2, 3))
    assert tensors["b.weight"].dtype == ml_dtypes.bfloat16  # read in its stored dtype


def test_file_choice_follows_the_stems(tmp_path):
    safetensors_numpy.save_file({"x": np.zeros(1, np.float32)}, str(tmp_path / "model.safetensors"))
    safetensors_numpy.save_file({"y": np.zeros(1, np.float32)}, str(tmp_path / "extra.safetensors"))
    assert [f.name for f in cio.checkpoint_files(tmp_path, ("diffusion_pytorch_model", "model"))] == [
        "model.safetensors"
    ]
    # no stem matches: every safetensors file of the folder, sorted
    assert [f.name for f in cio.checkpoint_files(tmp_path)] == ["extra.safetensors", "model.safetensors"]
    # a file is its own checkpoint
    assert cio.checkpoint_files(tmp_path / "extra.safetensors") == [tmp_path / "extra.safetensors"]


def test_missing_shard_names_the_index_and_the_shard(tmp_path):
    names = _write_sharded(tmp_path)
    (tmp_path / names[1]).unlink()
    with pytest.raises(FileNotFoundError, match=r"index\.json lists shards that are missing.*00002-of-00002"):
        cio.checkpoint_files(tmp_path)


def test_unreadable_checkpoints_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        cio.checkpoint_files(tmp_path / "absent")
    (tmp_path / "pytorch_model.bin").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match=r"no safetensors weights in .*safe_serialization=True"):
        cio.checkpoint_files(tmp_path)
    # a PyTorch pickle is refused before torch is imported, unless the caller allows it
    with pytest.raises(ValueError, match=r"pytorch_model\.bin is a PyTorch pickle.*save_file"):
        list(cio.iter_tensors([tmp_path / "pytorch_model.bin"]))
    (tmp_path / "broken.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"not json")
    with pytest.raises(ValueError, match=r"broken\.safetensors: not a readable safetensors file"):
        cio.tensor_shapes([tmp_path / "broken.safetensors"])
    (tmp_path / "model.safetensors.index.json").write_text("{}")
    with pytest.raises(ValueError, match="no weight_map"):
        cio.checkpoint_files(tmp_path, ("model",))


def test_one_dtype_table():
    assert cio.resolve_dtype("bfloat16") is jnp.bfloat16
    assert cio.resolve_dtype(None) is jnp.float32
    assert cio.resolve_dtype(np.float16) is np.float16
    with pytest.raises(ValueError, match=r"unknown dtype 'float8'; choose one of \['bfloat16', 'float16', 'float32'\]"):
        cio.resolve_dtype("float8")


def test_place_casts_and_shards():
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    bf16 = np.array([1.5, -2.25, 3.0], np.float32).astype(ml_dtypes.bfloat16)
    up = cio.place(bf16, cio.resolve_dtype("float32"))
    assert up.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(up), [1.5, -2.25, 3.0])
    mesh = Mesh(np.array(jax.devices()[:1]), ("x",))
    sharding = NamedSharding(mesh, PartitionSpec("x"))
    lookup = cio.sharding_lookup({"layer": {"kernel": sharding}})
    down = cio.place(np.ones(4, np.float32), "bfloat16", lookup(("layer", "kernel")))
    assert down.dtype == jnp.bfloat16 and down.sharding == sharding
    assert cio.sharding_lookup(None) is None


def test_build_params_casts_and_reports_mismatches():
    expected = {"dense": {"kernel": jax.ShapeDtypeStruct((3, 2), np.float32)}}
    tensors = [("dense.weight", np.arange(6, dtype=np.float32).reshape(2, 3)), ("ignored", np.zeros(1))]

    def key_to_path(key):
        return None if key == "ignored" else tuple(key.replace("weight", "kernel").split("."))

    def transpose(key, array, target):
        return array.T

    params = cio.build_params(tensors, expected, key_to_path, transpose, "bfloat16", "test.safetensors")
    assert params["dense"]["kernel"].dtype == jnp.bfloat16
    np.testing.assert_array_equal(np.asarray(params["dense"]["kernel"], np.float32), np.arange(6).reshape(2, 3).T)
    with pytest.raises(ValueError, match=r"(?s)test\.safetensors.*missing parameters \(1\): \['dense/kernel'\]"):
        cio.build_params([("other.weight", np.zeros((2, 3)))], expected, key_to_path, transpose, "float32",
                         "test.safetensors")


def test_state_dict_tensors_come_as_numpy():
    class FakeTensor:
        """Stands in for a torch tensor: `.detach().cpu().float().numpy()`."""

        def detach(self):
            return self

        def cpu(self):
            return self

        def float(self):
            return self

        def numpy(self):
            return np.ones(2, np.float32)

    out = dict(cio.iter_state_dict({"t": FakeTensor(), "n": [1.0, 2.0]}))
    np.testing.assert_array_equal(out["t"], [1.0, 1.0])
    assert isinstance(out["n"], np.ndarray)


def test_component_folder_finds_the_pipeline_subfolder(tmp_path):
    (tmp_path / "vae").mkdir()
    (tmp_path / "vae" / "config.json").write_text("{}")
    assert cio.component_folder(tmp_path, "vae", "a VAE folder") == tmp_path / "vae"
    assert cio.component_folder(tmp_path / "vae", "vae", "a VAE folder") == tmp_path / "vae"
    with pytest.raises(FileNotFoundError, match=r"no config\.json in .*point to a text encoder folder or to a "
                                                r"pipeline folder with a text_encoder/ subfolder"):
        cio.component_folder(tmp_path, "text_encoder", "a text encoder folder")

"""`mimicjax translate sample` answers the wrong kind of input with one line that says what to do."""

from __future__ import annotations

import pytest

from mimicjax import cli


@pytest.mark.parametrize("case", ["diffusers folder as --ckpt", "empty folder as --ckpt"])
def test_a_checkpoint_folder_that_is_not_one_is_named(tmp_path, capsys, case):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    if case.startswith("diffusers"):
        (folder / "config.json").write_text("{}")
    text = tmp_path / "x.txt"
    text.write_text("hello")
    status = cli.main(["translate", "sample", "--ckpt", str(folder), "--vae", str(folder), "--condition", str(text),
                       "--out", str(tmp_path / "o.mp4")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert ("mimicjax translate convert --diffusers" in err) == case.startswith("diffusers")
    assert "not a checkpoint written by" in err or "diffusers folder" in err


def test_a_text_file_is_not_a_video_or_embeddings(tmp_path):
    from mimicjax.translate.pipeline import load_text_embeddings
    from mimicjax.video import read_video

    text = tmp_path / "x.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="x.txt: not a readable video"):
        read_video(text)
    with pytest.raises(ValueError, match="x.txt: not a .npy/.npz array of prompt embeddings"):
        load_text_embeddings(text)

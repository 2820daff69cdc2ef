"""The commands the README shows parse with today's CLI, name files the project has, and the one that
broke on a clean clone (`mimicjax bench retarget`) runs at tiny size."""

from __future__ import annotations

import itertools
import json
import re
import shlex

import pytest

from mimicjax import cli
from tests.conftest import PROJECT_ROOT


def brace_expand(word: str) -> list[str]:
    """Bash's `a{b,c}d` -> [abd, acd] (one level, what the README uses)."""
    match = re.search(r"\{([^{}]*,[^{}]*)\}", word)
    if not match:
        return [word]
    head, tail = word[: match.start()], word[match.end():]
    return list(itertools.chain.from_iterable(brace_expand(head + part + tail) for part in match.group(1).split(",")))


def readme_commands() -> list[list[str]]:
    """Every `mimicjax ...` line inside the README's ```bash blocks, as argv lists (comments dropped)."""
    text = (PROJECT_ROOT / "README.md").read_text()
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("mimicjax "):
                words = shlex.split(line)[1:]
                commands.append(list(itertools.chain.from_iterable(brace_expand(w) for w in words)))
    return commands


COMMANDS = readme_commands()


def test_the_readme_shows_commands():
    assert len(COMMANDS) >= 15 and {argv[0] for argv in COMMANDS} >= {"retarget", "train", "distill", "eval", "export", "bench"}


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(argv)[:60] for argv in COMMANDS])
def test_every_readme_command_parses_and_its_project_files_exist(argv):
    parser = cli.build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as exit:  # argparse's way of refusing: a renamed or removed flag
        pytest.fail(f"`mimicjax {' '.join(argv)}` no longer parses (exit {exit.code})")
    for word in argv:
        if word.startswith(("data/", "experiments/")):
            assert (PROJECT_ROOT / word).exists(), f"the README names {word}, which the project does not have"


def test_bench_retarget_runs_on_a_clean_clone_at_tiny_size(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert cli.main(["bench", "retarget", "--frames", "40", "--steps", "3", "--repeats", "1", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["clips"] >= 1 and report == json.loads(capsys.readouterr().out)
    assert cli.main(["bench", "retarget", "--frames", "0"]) == 2
    assert "--frames must be at least 1" in capsys.readouterr().err

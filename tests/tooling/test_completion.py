"""`syncd completion`: the printed scripts load in real shells and complete real commands."""

from __future__ import annotations

import shutil

import pytest
from toolingkit import SYNCD, run


def test_bash_script_sources_and_registers_syncd(clean_env):
    script = run([str(SYNCD), "completion", "bash"], env=clean_env, check=True).stdout
    assert "syncd" in script
    assert "_SYNCD_COMPLETE=bash_complete" in script

    registered = run(
        ["bash", "-c", f"source <({SYNCD} completion bash) && complete -p syncd"],
        env=clean_env,
        check=True,
    ).stdout
    assert "-F _syncd_completion syncd" in registered


def test_bash_completion_round_trip_lists_subcommand_and_choices(clean_env):
    """What the sourced script asks syncd on <TAB> gets the right words back."""
    env = dict(clean_env, _SYNCD_COMPLETE="bash_complete", COMP_WORDS="syncd compl", COMP_CWORD="1")
    assert run([str(SYNCD)], env=env).stdout.split() == ["plain,completion"]

    env.update(COMP_WORDS="syncd completion ", COMP_CWORD="2")
    assert run([str(SYNCD)], env=env).stdout.split() == ["plain,bash", "plain,zsh"]


@pytest.mark.skipif(
    shutil.which("zsh") is None, reason="zsh is not installed (apt-get install zsh)"
)
def test_zsh_script_defines_and_registers_completion_function(clean_env):
    script = run([str(SYNCD), "completion", "zsh"], env=clean_env, check=True).stdout
    assert script.startswith("#compdef syncd")

    loaded = run(
        [
            "zsh",
            "-f",
            "-c",
            "autoload -U compinit && compinit -u -D; "
            f"source <({SYNCD} completion zsh); "
            "whence -w _syncd_completion; print -r -- ${_comps[syncd]}",
        ],
        env=clean_env,
        check=True,
    ).stdout.split("\n")
    assert loaded[0] == "_syncd_completion: function"
    assert loaded[1] == "_syncd_completion"


def test_unknown_shell_is_a_usage_error(clean_env):
    result = run([str(SYNCD), "completion", "fish"], env=clean_env)
    assert result.returncode == 2
    assert "'fish' is not one of 'bash', 'zsh'" in result.stderr


def test_help_explains_installation(clean_env):
    text = run([str(SYNCD), "completion", "--help"], env=clean_env, check=True).stdout
    assert "source <(syncd completion bash)" in text
    assert "Example" in text

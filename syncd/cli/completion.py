"""``syncd completion bash|zsh``: print the shell completion script.

The script is click's own (the one ``_SYNCD_COMPLETE=bash_source syncd`` prints): it calls back
into ``syncd`` on every <TAB>, so completions always match the installed version, including
commands that other modules add later.
"""

from __future__ import annotations

import click
from click.shell_completion import get_completion_class

SHELLS = ("bash", "zsh")
PROG_NAME = "syncd"
# The variable click reads to switch into completion mode; derived from the program name.
COMPLETE_VAR = "_SYNCD_COMPLETE"


def completion_script(shell: str) -> str:
    """Return the completion script for ``shell`` (one of ``SHELLS``)."""
    from syncd.cli.main import cli  # the root group; imported late, main.py loads us lazily

    completion_class = get_completion_class(shell)
    if completion_class is None:  # pragma: no cover - click.Choice guards the CLI path
        raise click.BadParameter(f"unsupported shell {shell!r}; choose one of {', '.join(SHELLS)}")
    return completion_class(cli, {}, PROG_NAME, COMPLETE_VAR).source()


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def command(shell: str) -> None:
    """Print the shell completion script for bash or zsh.

    Load it in the current shell, or install it so every new shell has it.

    \b
    bash (needs bash >= 4.4):
      source <(syncd completion bash)                      # this shell only
      syncd completion bash > ~/.local/share/bash-completion/completions/syncd
    \b
    zsh (compinit must be loaded, as most setups do):
      source <(syncd completion zsh)                       # this shell only
      syncd completion zsh > "${fpath[1]}/_syncd"          # every new shell

    Re-run the install line after upgrading syncd only if completion stops working: the script
    asks the installed syncd for completions each time, so new commands appear by themselves.

    \b
    Example:
      syncd completion bash > ~/.local/share/bash-completion/completions/syncd
    """
    click.echo(completion_script(shell), nl=False)

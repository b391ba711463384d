"""``syncd``: the entry point and the one error boundary.

Each command lives in its own module of this package and exposes ``command`` (a click command or
group). Commands load lazily, so ``syncd validate`` never imports docker or git.

Exit codes (docs/cli.md keeps the table): 0 success; 1 failure (invalid repo, failed apply,
unreachable node...); 2 usage error, or with ``plan --detailed-exitcode``: changes present;
3 another daemon holds the lock; 130 interrupted.
"""

from __future__ import annotations

import importlib
import sys

import click

from syncd.errors import SpecError, SyncdError

# command name -> (module, aliases). Listed here so `--help` can show them without importing.
COMMANDS: dict[str, tuple[str, tuple[str, ...]]] = {
    "validate": ("syncd.cli.validate", ()),
    "plan": ("syncd.cli.plan", ()),
    "apply": ("syncd.cli.apply", ()),
    "daemon": ("syncd.cli.daemon", ()),
    "status": ("syncd.cli.status", ()),
    "deployment": ("syncd.cli.deployment", ("depl", "deployments")),
    "definition": ("syncd.cli.definition", ("definitions", "def")),
    "node": ("syncd.cli.node", ("nodes",)),
    "instance": ("syncd.cli.instance", ("instances",)),
    "completion": ("syncd.cli.completion", ()),
}
ALIASES = {alias: name for name, (_, aliases) in COMMANDS.items() for alias in aliases}


class LazyGroup(click.Group):
    """Loads a command's module only when that command runs; hides commands not yet built."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if self._load(name) is not None]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._load(ALIASES.get(cmd_name, cmd_name))

    @staticmethod
    def _load(name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name = COMMANDS[name][0]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # that command is not part of this build
                return None
            raise
        return getattr(module, "command", None)


def _print_version(context: click.Context, _option: click.Parameter, wanted: bool) -> None:
    """``--version``, looked up only when asked (importlib.metadata costs every call ~40 ms)."""
    if not wanted or context.resilient_parsing:
        return
    from syncd import __version__

    click.echo(f"syncd, version {__version__}")
    context.exit()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
def cli() -> None:
    """syncd keeps Docker hosts running exactly what a Git repository declares.

    \b
    Examples:
      syncd validate example-repo
      syncd plan --repo example-repo --base main~1 --head main --format markdown
      syncd apply --repo example-repo --yes
    """


def report_error(error: SyncdError) -> None:
    """One line of cause (every problem, for an invalid repo) and a hint; never a traceback."""
    if isinstance(error, SpecError):
        for problem in error.problems:
            click.echo(str(problem), err=True)
        click.echo(f"error: {len(error.problems)} problem(s) found", err=True)
    else:
        click.echo(f"error: {error.message}", err=True)
    if error.hint:
        click.echo(f"hint: {error.hint}", err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        # Without standalone mode click *returns* the code of ctx.exit(code) instead of raising.
        exit_code = cli.main(args=argv, prog_name="syncd", standalone_mode=False)
        if isinstance(exit_code, int) and exit_code != 0:
            sys.exit(exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except SyncdError as exc:
        report_error(exc)
        sys.exit(exc.exit_code)
    sys.exit(0)


if __name__ == "__main__":
    main()

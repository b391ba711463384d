"""``python -m testkit.harness up|down|env --dir DIR``: the harness by hand."""

from __future__ import annotations

import argparse
import json
import sys
import time

from testkit.harness.harness import Harness, HarnessError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m testkit.harness",
        description="Start, describe or stop three Docker engines (unix, tcp+TLS, ssh) for tests.",
        epilog="example: python -m testkit.harness up --dir /tmp/syncd-h && "
        'eval "$(python -m testkit.harness env --dir /tmp/syncd-h)"',
    )
    parser.add_argument("action", choices=["up", "down", "env", "status"])
    parser.add_argument("--dir", required=True, help="directory the harness lives in (short path)")
    args = parser.parse_args(argv)
    harness = Harness(args.dir)
    try:
        if args.action == "up":
            was_live = harness.is_live()
            started = time.monotonic()
            state = harness.up()
            took = time.monotonic() - started
            verb = "already up" if was_live else f"up in {took:.1f}s"
            print(f"harness {verb}: {harness.state_file}", file=sys.stderr)
            print(json.dumps(state, indent=2))
        elif args.action == "down":
            harness.down()
            print(f"harness in {harness.root} is down", file=sys.stderr)
        elif args.action == "status":
            live = harness.is_live()
            print("live" if live else "not running")
            return 0 if live else 1
        else:
            print("\n".join(harness.env_lines()))
    except HarnessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

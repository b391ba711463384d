"""A wedged pass: /healthz says so after ``passTimeout``, and SIGTERM still ends the daemon
within ``shutdownTimeout``.

The daemon runs as a process whose second pass never returns (a CPU loop, as a pass planning
100,000 replicas was): the first pass finishes, so /healthz is healthy first and must turn
unhealthy on its own; the stop must not depend on the pass thread ever looking at it.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import yaml

from testkit.service_yaml import SERVICE_DEFINITION
from tests.daemon.helpers import wait_for

# Runs ``syncd daemon`` with Reconciler.run_pass replaced: the first pass is the real one, every
# later one spins forever without looking at the stop Event.
WEDGED_DAEMON = """
import sys
from syncd.daemon import reconciler

real_run_pass = reconciler.Reconciler.run_pass


def wedged_run_pass(self, trigger, *, dispatch=True):
    if self.passes >= 1:
        while True:
            sum(range(1000))
    return real_run_pass(self, trigger, dispatch=dispatch)


reconciler.Reconciler.run_pass = wedged_run_pass
from syncd.cli.main import main

main(["daemon", "--config", sys.argv[1]])
"""


def healthz(listen: str) -> tuple[int, dict] | None:
    try:
        with urllib.request.urlopen(f"http://{listen}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())
    except OSError:
        return None  # not listening yet


def test_a_wedged_pass_turns_healthz_unhealthy_and_sigterm_still_stops_it(
    repo, make_config, tmp_path
):
    repo.commit({"definitions/def_svc.yaml": SERVICE_DEFINITION}, "only a definition")
    config = make_config(passTimeout="2s", shutdownTimeout="3s")
    listen = yaml.safe_load(config.read_text())["listen"]
    script = tmp_path / "wedged_daemon.py"
    script.write_text(WEDGED_DAEMON)
    log = tmp_path / "daemon.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, str(script), str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: (h := healthz(listen)) and h[0] == 200, 60, "healthy after pass 1")
        code, body = wait_for(
            lambda: (h := healthz(listen)) and h[0] == 503 and h, 30, "unhealthy when wedged"
        )
        assert "a pass has been running for" in body["reason"], body
        assert "passTimeout" in body["reason"], body
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        returncode = process.wait(timeout=30)
        took = time.monotonic() - signalled
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert took < 3 + 2, (took, output[-2000:])  # shutdownTimeout, and a margin for a busy CPU
    assert returncode == 0, output[-2000:]
    assert "exiting now (the next start converges)" in output

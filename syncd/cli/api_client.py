"""The Deploy Svc API from the command line: ``syncd deployment ... --server URL --token-file FILE``."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from syncd.errors import SyncdError, UsageError

_HINTS = {
    401: "check --token-file",
    503: "the daemon cannot serve this now; its log says why. Try again once that is fixed",
}


class ApiClient:
    """The three Deploy Svc calls, for ``syncd deployment ... --server URL --token-file FILE``."""

    def __init__(self, server: str, token: str, timeout_s: float = 60) -> None:
        self.server = server.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    @classmethod
    def from_token_file(cls, server: str, token_file: Path) -> ApiClient:
        """The token is the file's first non-comment line (a bare token, or ``NAME TOKEN``)."""
        try:
            text = Path(token_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read the token file {token_file}: {exc}") from exc
        for raw in text.splitlines():
            line = raw.split("#", 1)[0].split()
            if line:
                return cls(server, line[-1])
        raise UsageError(f"the token file {token_file} holds no token")

    def call(self, method: str, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            self.server + path,
            data=json.dumps(payload).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            try:
                message = json.loads(exc.read()).get("error") or exc.reason
            except (ValueError, AttributeError):
                message = exc.reason
            hint = _HINTS.get(exc.code)
            raise SyncdError(f"{self.server} answered {exc.code}: {message}", hint=hint) from exc
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SyncdError(
                f"cannot reach {self.server}: {reason}",
                hint="check --server and that the daemon's listen address is reachable",
            ) from exc
        if not isinstance(answer, dict):
            raise SyncdError(f"{self.server} answered something that is not a JSON object")
        return answer

    def save_deployment(self, deployment: Mapping[str, Any]) -> None:
        self.call("PUT", "/deploy-svc/deployment", {"deployment": dict(deployment)})

    def remove_deployment(self, deployment_id: str) -> None:
        self.call("DELETE", "/deploy-svc/deployment", {"deploymentId": deployment_id})

    def list_deployments(self) -> list[dict[str, Any]]:
        deployments = self.call("POST", "/deploy-svc/deployments", {}).get("deployments", [])
        return [d for d in deployments if isinstance(d, dict)]

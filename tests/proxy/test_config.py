"""The proxy config as data: what routes render to, and what a config read back says."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import cast

import pytest

from syncd.errors import ProxyError, ProxyRouteConflict
from syncd.nodes.connection import EngineConnection
from syncd.nodes.proxy.config import (
    CONTROL_PORT,
    bind_conflicts,
    read_config,
    render_config,
    route_problems,
)
from syncd.nodes.proxy.haproxy import HaproxyNode
from syncd.nodes.proxy.model import Backend, Route
from syncd.nodes.proxy.stats import parse_show_stat
from syncd.spec.models import ProxySettings

WEB = Route(
    "depl_web-8080",
    "127.0.0.2:18090",
    backends=(Backend("web-0", "127.0.0.2:20001"), Backend("web-1", "127.0.0.2:20002", 0)),
)
DB = Route(
    "depl_db-5432", "127.0.0.2:15432", mode="tcp", backends=(Backend("db-0", "127.0.0.2:20003", 7),)
)


def test_routes_render_to_frontends_backends_and_weighted_servers() -> None:
    text = render_config([WEB, DB], "127.0.0.2")
    assert f"stats socket ipv4@127.0.0.2:{CONTROL_PORT} level admin" in text
    assert "frontend depl_web-8080\n    mode http\n    bind 127.0.0.2:18090\n" in text
    assert "    server web-0 127.0.0.2:20001 weight 100\n" in text
    assert "    server web-1 127.0.0.2:20002 weight 0\n" in text
    assert "backend depl_db-5432\n    mode tcp\n" in text
    assert "hard-stop-after" in text and "master-worker" in text


def test_the_same_routes_render_the_same_text() -> None:
    assert render_config([WEB], "127.0.0.2") == render_config([WEB], "127.0.0.2")
    assert render_config([WEB], "127.0.0.2") != render_config([WEB], "127.0.0.3")


@pytest.mark.parametrize("routes", [[], [WEB], [WEB, DB]])
def test_a_rendered_config_reads_back_as_its_routes(routes: list[Route]) -> None:
    reading = read_config(render_config(routes, "127.0.0.1"))
    assert reading.error is None
    assert reading.routes == tuple(routes)


@pytest.mark.parametrize(
    ("edit", "words"),
    [
        (lambda t: t.replace("weight 100", "weight 50"), "edited outside syncd"),
        (lambda t: t + "\nlisten extra\n", "edited outside syncd"),
        (lambda t: t.split("\n", 2)[2], "not written by syncd"),
        (lambda t: "", "not written by syncd"),
    ],
)
def test_a_hand_edited_or_foreign_config_is_not_trusted(edit, words: str) -> None:  # type: ignore[no-untyped-def]
    reading = read_config(edit(render_config([WEB], "127.0.0.2")))
    assert reading.routes == ()
    assert reading.error is not None and words in reading.error


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="haproxy is not installed")
def test_haproxy_accepts_the_rendered_config(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    config.write_text(render_config([WEB, DB], "127.0.0.2"))
    checked = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr


SHOW_STAT = """# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,wredis,status,weight,act,bck,chkfail,chkdown,lastchg,downtime,qlimit,pid,iid,sid,throttle,lbtot,tracked,type,rate,rate_lim,rate_max,check_status,check_code,check_duration,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,
depl_web-8080,FRONTEND,,,1,2,4000,9,0,0,0,0,0,,,,,OPEN,,,,,,,,,1,2,0,,,,0,0,0,1,,,,0,9,0,0,0,0,
depl_web-8080,web-0,0,0,1,1,,5,0,0,,0,,0,0,0,0,no check,100,1,0,,,1,,,1,3,1,,5,,2,0,,1,,,,0,4,0,0,1,0,
depl_web-8080,web-1,0,0,0,1,,4,0,0,,0,,0,0,0,0,no check,0,1,0,,,1,,,1,3,2,,4,,2,0,,1,,,,0,4,0,0,0,0,
depl_web-8080,BACKEND,0,0,1,2,400,9,0,0,0,0,,0,0,0,0,UP,100,2,0,,0,1,0,,1,3,0,,9,,1,0,,1,,,,0,8,0,0,1,0,
"""


def test_show_stat_gives_counters_and_weights_per_server() -> None:
    reading = parse_show_stat(SHOW_STAT)
    assert set(reading.stats) == {("depl_web-8080", "web-0"), ("depl_web-8080", "web-1")}
    web0 = reading.stats[("depl_web-8080", "web-0")]
    assert (web0.sessions_current, web0.requests_total, web0.responses_5xx) == (1, 5, 1)
    assert reading.weights == {("depl_web-8080", "web-0"): 100, ("depl_web-8080", "web-1"): 0}
    assert parse_show_stat("").stats == {}


def test_routes_that_would_make_a_bad_config_are_named() -> None:
    assert route_problems([WEB, DB], "127.0.0.2") == []
    bad = [
        Route("web 1", "127.0.0.2:18090"),
        Route("dup", "127.0.0.2:18091", backends=(Backend("a", "x:1", 300), Backend("a", "x:2"))),
        Route("dup", f"127.0.0.2:{CONTROL_PORT}"),
        Route("noport", "127.0.0.2"),
        Route("again", "127.0.0.2:18090", backends=(Backend("b/c", "x:3"),)),
    ]
    problems = route_problems(bad, "127.0.0.2")
    assert problems == [
        "route name 'web 1' may hold only letters, digits, _ . : -",
        "route dup: server a has weight 300, not 0..256",
        "route dup: server a is listed twice",
        f"route dup: 127.0.0.2:{CONTROL_PORT} is the proxy's control port",
        "route dup is listed twice",
        "route noport: bind '127.0.0.2' is not HOST:PORT",
        "route again: server name 'b/c' may hold only letters, digits, _ . : -",
    ]


def test_two_routes_on_one_bind_are_a_retryable_conflict_naming_both() -> None:
    other = Route("depl_b-18090", "127.0.0.2:18090")
    assert bind_conflicts([WEB, DB]) == {}
    assert bind_conflicts([WEB, other]) == {"127.0.0.2:18090": (WEB.name, "depl_b-18090")}
    no_engine = cast(EngineConnection, object())  # any call on it would raise AttributeError
    with pytest.raises(ProxyRouteConflict) as raised:
        HaproxyNode("node-a", no_engine, ProxySettings()).apply([WEB, other])
    assert raised.value.retryable and raised.value.bind == "127.0.0.2:18090"
    assert raised.value.routes == (WEB.name, "depl_b-18090")
    assert "node node-a" in str(raised.value)


def test_apply_refuses_bad_routes_before_any_engine_call() -> None:
    no_engine = cast(EngineConnection, object())  # any call on it would raise AttributeError
    proxy = HaproxyNode("node-a", no_engine, ProxySettings())
    with pytest.raises(ProxyError) as raised:
        proxy.apply([Route("web 1", "127.0.0.1:18090")])
    assert raised.value.node_id == "node-a"
    assert "route name 'web 1'" in raised.value.reason

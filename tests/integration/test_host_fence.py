"""The host fence (`box.fence`) for real, on a two-host lab: h1 runs the fence, h2 a TCP server; h2's link is cut
(`lab partition`: its packets vanish, no reset). Within seconds h1's open connection to h2 is closed and a new one
fails at once instead of waiting for TCP's timeouts; healed, h2 is let back and reached again; stopped, the fence
leaves no rule or route behind. (What it buys the clusters: `test_hosts_ha`'s figures and `bench_ha.py`.)"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from govcloud_platform.box.fence import ICMP_RULE_PRIORITY, MARK, RULE_PRIORITY, SILENT_S, TABLE
from tests.integration.test_lab import LabHandle, start_lab, stop_lab

pytestmark = pytest.mark.integration
PORT = 7611

SERVER = f"""
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", {PORT})); s.listen()
held = []
while True:
    held.append(s.accept()[0])
"""
# connects, says so, then reports (as JSON lines with CLOCK_MONOTONIC times) how its connection ended and how long
# each later connection attempt took
CLIENT = f"""
import json, socket, sys, time
addr = sys.argv[1]
c = socket.create_connection((addr, {PORT}), timeout=5); c.settimeout(None)
print(json.dumps({{"connected": time.monotonic()}}), flush=True)
try:
    c.recv(1)
    print(json.dumps({{"ended": time.monotonic(), "error": "eof"}}), flush=True)
except OSError as exc:
    print(json.dumps({{"ended": time.monotonic(), "error": exc.strerror}}), flush=True)
for _ in range(3):
    t = time.monotonic()
    try:
        socket.create_connection((addr, {PORT}), timeout=10).close(); error = None
    except OSError as exc:
        error = exc.strerror or type(exc).__name__
    print(json.dumps({{"attempt": time.monotonic() - t, "error": error}}), flush=True)
"""


def in_host(lab: LabHandle, host: str, *argv: str, **kw: object) -> subprocess.Popen[str]:
    return subprocess.Popen(["ip", "netns", "exec", lab.host(host)["netns"], *argv], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, **kw)  # type: ignore[call-overload]


def ip(lab: LabHandle, host: str, *args: str) -> str:
    return subprocess.run(["ip", "netns", "exec", lab.host(host)["netns"], "ip", *args], capture_output=True,
                          text=True, check=True).stdout


def wait_line(proc: subprocess.Popen[str], want: str, limit: float) -> str:
    deadline = time.monotonic() + limit
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if want in line:
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {want!r} within {limit:.0f} s")


def fenced_now_in(state: Path) -> list[str]:
    return list(json.loads(state.read_text())["fenced"])


def wait_log(path: Path, want: str, limit: float) -> str:
    deadline = time.monotonic() + limit
    while want not in (text := path.read_text()):
        assert time.monotonic() < deadline, f"no {want!r} within {limit:.0f} s: {text}"
        time.sleep(0.1)
    return text


@pytest.fixture(scope="module")
def lab2() -> Iterator[LabHandle]:
    handle = start_lab("f", 2)
    try:
        yield handle
    finally:
        stop_lab(handle)


def test_a_silent_peer_is_fenced_then_let_back(lab2: LabHandle, tmp_path: Path) -> None:
    h2 = lab2.host("h2")["address"]
    server = in_host(lab2, "h2", sys.executable, "-c", SERVER)
    fences = {}  # each host fences the other, as on a cluster: a partition makes both sides fence
    for host, peer in (("h1", "h2"), ("h2", "h1")):
        with (tmp_path / f"{host}.log").open("w") as log:
            fences[host] = subprocess.Popen(
                ["ip", "netns", "exec", lab2.host(host)["netns"], sys.executable, "-m", "govcloud_platform.box.fence",
                 "--peer", f"{peer}={lab2.host(peer)['address']}", "--state", str(tmp_path / f"{host}.json")],
                text=True, stdout=log, stderr=subprocess.STDOUT)
    client = None
    try:
        for host in fences:
            wait_log(tmp_path / f"{host}.log", "watching", 20)
        assert f"{RULE_PRIORITY}:\tnot from all fwmark {hex(MARK)} lookup {TABLE}" in ip(lab2, "h1", "rule")
        time.sleep(0.5)
        client = in_host(lab2, "h1", sys.executable, "-c", CLIENT, h2)
        wait_line(client, "connected", 10)
        assert lab2.cli("partition", "h2").rc == 0
        cut = time.monotonic()
        ended = json.loads(wait_line(client, "ended", 30))
        # closed by the fence, not by TCP (an idle connection to a silent host would stay open for hours)
        assert ended["ended"] - cut < SILENT_S + 3, ended
        attempt = json.loads(wait_line(client, "attempt", 15))
        assert attempt["error"] == "No route to host" and attempt["attempt"] < 0.5, attempt
        assert f"unreachable {h2}" in ip(lab2, "h1", "route", "show", "table", str(TABLE))
        text = wait_log(tmp_path / "h1.log", "fenced h2", 5)  # it says so once it acted
        assert "1 connections closed" in text, text
        assert fenced_now_in(tmp_path / "h1.json") == ["h2"]  # what `up` on h1 would wait for
        print(f"\nfigure: connection to the silent host closed {ended['ended'] - cut:.1f} s after the cut; "
              f"a new connection refused in {attempt['attempt'] * 1000:.0f} ms")

        healed = lab2.cli("heal", "h2", timeout=120)
        assert healed.rc == 0, healed.stderr
        wait_log(tmp_path / "h1.log", "let h2", 20)
        wait_log(tmp_path / "h2.log", "let h1", 20)  # the cut-off side fenced the other and lets it back too
        assert fenced_now_in(tmp_path / "h1.json") == fenced_now_in(tmp_path / "h2.json") == []
        assert ip(lab2, "h1", "route", "show", "table", str(TABLE)).strip() == ""
        back = in_host(lab2, "h1", sys.executable, "-c", CLIENT, h2)
        try:
            wait_line(back, "connected", 10)
        finally:
            back.kill()
            back.wait(5)
    finally:
        for proc in (client, server):
            if proc is not None:
                proc.kill()
                proc.wait(5)
        for fence in fences.values():
            fence.send_signal(signal.SIGTERM)
            fence.wait(10)
    for host in fences:
        rules = ip(lab2, host, "rule")
        assert f"{RULE_PRIORITY}:" not in rules and f"{ICMP_RULE_PRIORITY}:" not in rules, rules
        assert ip(lab2, host, "route", "show", "table", str(TABLE)).strip() == ""
        assert "every fence lifted" in (tmp_path / f"{host}.log").read_text()
        assert not (tmp_path / f"{host}.json").exists()

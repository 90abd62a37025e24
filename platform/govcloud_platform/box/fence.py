"""The host fence: a peer host that falls silent is made loud on this host, within seconds (issue 13).

A host that dies without a word (power, kernel, a cut link) answers nothing: no TCP reset, no ICMP. The clients
on the surviving hosts then wait on their open connections until a timeout of their own, and some are long and
cannot be set: SeaweedFS's master drops a silent volume server only when its hard-coded gRPC keepalive gives up
(60 s + 20 s), and until then it keeps assigning writes to volumes with a copy there; a connection pool in an IdP
portal or a gateway keeps sending into the void. Measured on the lab before the fence: ~70-80 s without an S3
write, ~90 s without an OIDC token, when one host of three died.

So every host of a highly available topology runs this program under its supervisord (`ensure`, from `up`). It
pings each peer host every PROBE_S (ICMP echo: the peer's kernel answers it whatever its services do, so a
stopped or crashed program is never taken for a dead host: its own clients get a reset already). A peer that has
not answered for SILENT_S is fenced, on this host only:
- a route `unreachable <peer>` in a table of the fence's own, consulted for every packet but the fence's own
  probes (their firewall mark): a new connection to the peer fails at once ("No route to host"), so a client
  goes to the next server of its list instead of waiting for a timeout;
- `ss -K dst <peer>`: every established socket to the peer is destroyed, so a server's end of a stream (the
  SeaweedFS master's heartbeat stream from the volume server over there) ends now and its server gives up the
  peer at once (the master stops assigning its volumes), and a client's pool reconnects elsewhere.
At the peer's first reply its route goes and its servers reconnect by themselves (the volume server's heartbeat,
the replica's streaming), as after any restart. The fence keeps what it fenced in a state file, so that `up` on a
host that returns waits (at most RETURN_WAIT_S) until its own fence let its peers back before it talks to them.

The decisions are `Watch.observe` (pure, unit-tested); the I/O is `Pinger` and `Routes`. A false alarm (a peer
silent for SILENT_S on a congested link) costs that peer's connections from this host, which its clients
re-open at the peer's next reply: every service here is a cluster that survives losing a member. A host that is only
stopped (SIGSTOP) answers pings and is not fenced. The fence leaves its table and rule behind only if it is
SIGKILLed (a dead host: nothing of it runs); it clears them at its next start.

Run: python -m govcloud_platform.box.fence --peer h2=10.0.0.2 --peer h3=10.0.0.3"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from govcloud_platform.box.context import Box
    from govcloud_platform.box.placement import Placement
    from govcloud_platform.box.services.base import Program
    from govcloud_platform.box.supervisor import Supervisor
    from govcloud_platform.spec.topology import Topology

NAME = "host-fence"
PRIORITY = 1  # starts before every service and stops after them: a service starting beside a dead peer is helped
PROBE_S = 0.5  # one echo request to every peer this often
SILENT_S = 2.5  # a peer without an echo reply for this long is fenced (five probes missed)
# A fenced peer is let back at its first reply, not later: while it is fenced, neither side's new connections get
# through (this host's answers to it are routed away too), so a host returning from a partition would find its
# peers unreachable for as long as a delay lasted (measured with 1 s: its own `up` failed with "No route to host").
MARK = 0x6763  # the fence's probes carry this firewall mark: the fence's routes never apply to them
TABLE = 6763  # the routing table of the fence's routes
RULE_PRIORITY = 6763  # its rule, before `main` (32766)
RETURN_WAIT_S = 3.0  # how long `up` waits for the fence to let answering peers back
STATE_FILE = "fence.json"  # in the home: the peers fenced now
# ICMP never goes through the fence's table: the kernel's echo replies carry no mark, and two hosts that fenced
# each other (a partition) would otherwise never hear each other again
ICMP_RULE_PRIORITY = RULE_PRIORITY - 1


@dataclass
class Watch:
    """What this host knows of one peer: when it last answered, and whether it is fenced."""

    name: str
    address: str
    last_reply: float
    fenced: bool = False

    def observe(self, now: float, replied: bool) -> str | None:
        """Pure: one probe round's outcome -> "fence", "lift" or None (nothing to do)."""
        if replied:
            self.last_reply = now
            if not self.fenced:
                return None
            self.fenced = False
            return "lift"
        if not self.fenced and now - self.last_reply >= SILENT_S:
            self.fenced = True
            return "fence"
        return None


def parse_peer(text: str) -> tuple[str, str]:
    """`name=address` -> (name, canonical address); a bad one is the caller's error (argparse says so)."""
    name, sep, address = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected NAME=ADDRESS, got {text!r}")
    try:
        return name, str(ipaddress.ip_address(address))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{name}: not an IP address: {address!r}") from None


# --- I/O: ICMP echo --------------------------------------------------------------------------------------------
def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


class Pinger:
    """ICMP echo to the peers, marked with MARK (root: raw sockets). One socket per address family."""

    def __init__(self, addresses: Sequence[str]) -> None:
        self.ident = os.getpid() & 0xFFFF
        self.seq = 0
        self.socks: dict[int, socket.socket] = {}
        for address in addresses:
            version = ipaddress.ip_address(address).version
            if version not in self.socks:
                family, proto = (socket.AF_INET, socket.IPPROTO_ICMP) if version == 4 else (
                    socket.AF_INET6, socket.IPPROTO_ICMPV6)
                sock = socket.socket(family, socket.SOCK_RAW, proto)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, MARK)
                sock.setblocking(False)
                self.socks[version] = sock

    def send(self, address: str) -> None:
        version = ipaddress.ip_address(address).version
        kind = 8 if version == 4 else 128  # echo request (ICMPv6: the kernel fills in the checksum)
        header = struct.pack("!BBHHH", kind, 0, 0, self.ident, self.seq)
        payload = b"govcloud-fence"
        if version == 4:
            header = struct.pack("!BBHHH", kind, 0, _checksum(header + payload), self.ident, self.seq)
        try:
            self.socks[version].sendto(header + payload, (address, 0))
        except OSError:
            pass  # no route, a full buffer: as good as no reply

    def replies(self, until: float) -> set[str]:
        """The addresses whose echo reply to this process arrived before `until` (monotonic)."""
        seen: set[str] = set()
        while True:  # at least one look, even past `until`: a fence that was not scheduled for a while (a loaded
            # host) reads the replies that queued meanwhile instead of taking its peers for silent
            left = max(0.0, until - time.monotonic())
            ready, _, _ = select.select(list(self.socks.values()), [], [], left)
            if not ready and left == 0:
                break
            for sock in ready:
                try:
                    data, (source, *_) = sock.recvfrom(2048)
                except OSError:
                    continue
                if sock.family == socket.AF_INET:
                    data = data[(data[0] & 0x0F) * 4:]  # a raw IPv4 socket returns the IP header too
                    reply = 0
                else:
                    reply = 129
                if len(data) >= 8 and data[0] == reply and struct.unpack("!H", data[4:6])[0] == self.ident:
                    seen.add(str(ipaddress.ip_address(source.split("%")[0])))
        self.seq = (self.seq + 1) & 0xFFFF
        return seen


# --- I/O: routes and sockets -----------------------------------------------------------------------------------
def _ip(version: int, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", f"-{version}", *args], capture_output=True, text=True, check=False)


class Routes:
    """The fence's routing table and the rule that sends every unmarked packet through it."""

    def __init__(self, versions: set[int]) -> None:
        self.versions = versions

    def setup(self) -> None:
        """A clean table and exactly its two rules (a fence SIGKILLed before left its own)."""
        self.teardown()
        for v in self.versions:
            icmp = "icmp" if v == 4 else "ipv6-icmp"
            for rule in (["ipproto", icmp, "lookup", "main", "priority", str(ICMP_RULE_PRIORITY)],
                         ["not", "fwmark", hex(MARK), "lookup", str(TABLE), "priority", str(RULE_PRIORITY)]):
                done = _ip(v, "rule", "add", *rule)
                if done.returncode != 0:
                    raise SystemExit(f"host-fence: ip -{v} rule add {' '.join(rule)} failed: {done.stderr.strip()}")

    def teardown(self) -> None:
        for v in self.versions:
            _ip(v, "route", "flush", "table", str(TABLE))
            for priority in (ICMP_RULE_PRIORITY, RULE_PRIORITY):
                while _ip(v, "rule", "del", "priority", str(priority)).returncode == 0:
                    pass

    @staticmethod
    def fence(address: str) -> str:
        v = ipaddress.ip_address(address).version
        done = _ip(v, "route", "replace", "unreachable", address, "table", str(TABLE))
        killed = subprocess.run(["ss", "-K", "-n", "dst", address], capture_output=True, text=True, check=False)
        sockets = max(0, len([line for line in killed.stdout.splitlines() if line.strip()]) - 1)
        return (f"route failed: {done.stderr.strip()}" if done.returncode else "routed away") + (
            f", {sockets} connections closed")

    @staticmethod
    def lift(address: str) -> None:
        _ip(ipaddress.ip_address(address).version, "route", "del", "unreachable", address, "table", str(TABLE))


def _say(line: str) -> None:
    print(time.strftime("%Y-%m-%dT%H:%M:%S"), line, flush=True)


def _record(state: Path | None, watches: Sequence[Watch]) -> None:
    if state is not None:
        tmp = state.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fenced": sorted(w.name for w in watches if w.fenced)}))
        tmp.replace(state)


def fenced_now(home: Path) -> list[str]:
    """The peers the host's fence holds fenced now (none without a running fence's state)."""
    try:
        return list(json.loads((home / STATE_FILE).read_text()).get("fenced", []))
    except (OSError, ValueError, AttributeError):
        return []


def run(peers: Sequence[tuple[str, str]], state: Path | None = None) -> None:
    watches = [Watch(name, address, time.monotonic()) for name, address in peers]
    _record(state, watches)
    pinger = Pinger([w.address for w in watches])
    routes = Routes({ipaddress.ip_address(w.address).version for w in watches})
    routes.setup()
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    _say("watching " + ", ".join(f"{w.name} ({w.address})" for w in watches) +
         f": fenced after {SILENT_S} s without an echo reply")
    try:
        while not stopping:
            started = time.monotonic()
            for w in watches:
                pinger.send(w.address)
            replied = pinger.replies(started + PROBE_S)
            now = time.monotonic()
            for w in watches:
                action = w.observe(now, w.address in replied)
                if action == "fence":
                    _say(f"fenced {w.name} ({w.address}): silent for {now - w.last_reply:.1f} s; "
                         + routes.fence(w.address))
                elif action == "lift":
                    routes.lift(w.address)
                    _say(f"let {w.name} ({w.address}) back: answering again")
                if action:
                    _record(state, watches)
    finally:
        routes.teardown()
        if state is not None:
            state.unlink(missing_ok=True)
        _say("stopped; every fence lifted")


# --- the program of a host's box ------------------------------------------------------------------------------
def peers(placement: Placement | None, topology: Topology | None, address: str) -> list[tuple[str, str]]:
    """Pure: the hosts that the host at `address` watches: every other host of a highly available topology (a
    database under Patroni, a storage cluster or portals on several hosts); none on one machine, on the operator's
    home, or where a host's loss stops the service anyway."""
    if placement is None or topology is None or not placement.here:
        return []
    if not (placement.ha_database or placement.storage_cluster or placement.idp_edge):
        return []
    mine = ipaddress.ip_address(address)
    return [(h.name, str(ipaddress.ip_address(h.address))) for h in topology.hosts
            if ipaddress.ip_address(h.address) != mine]


def peers_of(box: Box) -> list[tuple[str, str]]:
    return peers(box.placement, box.spec.platform.topology, box.address)


def program(box: Box, peers: Sequence[tuple[str, str]]) -> Program:
    from govcloud_platform.box.services.base import Program

    command = [sys.executable, "-m", "govcloud_platform.box.fence", "--state", str(box.home / STATE_FILE)]
    for name, address in peers:
        command += ["--peer", f"{name}={address}"]
    return Program(NAME, command, priority=PRIORITY, stopsignal="TERM", stopwaitsecs=5, startsecs=1)


def ensure(box: Box, sup: Supervisor) -> None:
    """The fence running with this topology's peers on a host of a highly available topology; none elsewhere."""
    peers = peers_of(box)
    if not peers:
        sup.remove(NAME)
        return
    prog = program(box, peers)
    if not sup.is_current(prog):
        sup.sync_programs([prog])
    sup.ensure_running(prog.name)


def describe(peers: Sequence[str], running: bool, fenced: Sequence[str]) -> dict[str, Any]:
    """Pure: a host's fence as `status --json` shows it: whether it runs, the peers it watches, those it holds
    fenced now (a fence that does not run fences nothing)."""
    return {"running": running, "peers": list(peers), "fenced": sorted(fenced) if running else []}


def problems(fences: Sequence[dict[str, Any]], fenced_too: bool = False) -> list[str]:
    """Pure: what is wrong with the hosts' fences (`describe`'s, each with its `host`): a fence that does not run;
    with `fenced_too` (`doctor`), a peer held fenced (silent now, or its fence not yet let it back)."""
    out = [f"{f['host']}: the host fence is not running (`govcloud up` starts it)" for f in fences
           if not f["running"]]
    if fenced_too:
        out += [f"{f['host']}: holds {peer} fenced (it has not answered for {SILENT_S} s)" for f in fences
                for peer in f["fenced"]]
    return out


def report(box: Box, sup: Supervisor) -> dict[str, Any] | None:
    """This host's fence for `status` (`describe`), from its supervisord; None where no fence belongs."""
    watched = peers_of(box)
    if not watched:
        return None
    return describe([name for name, _ in watched], sup.info().get(NAME, {}).get("statename") == "RUNNING",
                    fenced_now(box.home))


def settle(box: Box) -> None:
    """A host back from a partition: its peers answer again, and each fence lets the other back at its next reply;
    wait for that (RETURN_WAIT_S at most: a peer still fenced then is silent). Nothing to wait for without a fence."""
    if not fenced_now(box.home):
        return
    deadline = time.monotonic() + RETURN_WAIT_S
    while fenced_now(box.home) and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(PROBE_S)  # the peers' fences probe as often as this one


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="host-fence", description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer", action="append", type=parse_peer, required=True, metavar="NAME=ADDRESS")
    parser.add_argument("--state", type=Path, help="a file that lists the peers fenced now (JSON)")
    args = parser.parse_args(argv)
    run(args.peer, args.state)


if __name__ == "__main__":
    main()

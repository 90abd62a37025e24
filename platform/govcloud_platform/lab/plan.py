"""The lab's plan: every name, address and path a lab of N hosts on this machine uses, computed from the
lab's name and N alone, so that `up` makes exactly it and `down` removes exactly it. No I/O here.

Names (Linux limits interface names to 15 characters):
- subnet `10.231.<X>.0/24` where X comes from a hash of the lab name (two labs coexist unless their names
  hash alike, which `up` detects as a taken subnet); the bridge holds `.1`, host i holds `.<10+i>`;
- bridge `gclab<X>`, the root side of host i's veth `gcl<X>h<i>` (its peer is `eth0` in the namespace);
- network namespace `gcl-<lab>-<host>`;
- files under `<spec dir>/.govcloud-lab/<lab>/`, and `/etc/netns/<netns>/hosts` (bound over /etc/hosts)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

LAB_SUPERNET = ipaddress.ip_network("10.231.0.0/16")
MAX_HOSTS = 32
FIRST_OCTET = 10  # host i is .<10 + i>
LAB_NAME_PATTERN = r"^[a-z]([a-z0-9-]{0,22}[a-z0-9])?$"
_LAB_NAME_RE = re.compile(LAB_NAME_PATTERN)
LAB_DIR = ".govcloud-lab"
SSHD = "/usr/sbin/sshd"
NETNS_ETC = Path("/etc/netns")


def check_lab_name(name: str) -> str:
    if not name.isascii() or not _LAB_NAME_RE.fullmatch(name) or "--" in name:
        raise ValueError(f"invalid lab name {name!r}: 1-24 lowercase letters, digits and '-', starting with a "
                         "letter (pass --name)")
    return name


def lab_name_for(spec_path: Path) -> str:
    """The default lab name: the spec file's stem (`lab.yaml` -> `lab`), lowercased."""
    return re.sub(r"[^a-z0-9-]+", "-", spec_path.stem.lower()).strip("-")


def subnet_index(name: str) -> int:
    """X of `10.231.X.0/24`: stable for a name, spread over 0-255."""
    return hashlib.sha256(name.encode()).digest()[0]


@dataclass(frozen=True)
class LabHost:
    name: str
    index: int
    netns: str
    veth: str
    address: str
    dir: Path
    groups: tuple[str, ...]

    @property
    def host_key(self) -> Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def pid_file(self) -> Path:
        return self.dir / "sshd.pid"

    @property
    def log_file(self) -> Path:
        return self.dir / "sshd.log"

    @property
    def root(self) -> Path:
        """The host's data root (`root:` in the topology): its data, sockets and pid files go here."""
        return self.dir / "root"

    @property
    def tmp(self) -> Path:
        """Bound over /tmp in the host's mount namespace, so what programs leave in /tmp stays per host."""
        return self.dir / "tmp"

    @property
    def etc_dir(self) -> Path:
        return NETNS_ETC / self.netns


@dataclass(frozen=True)
class LabPlan:
    name: str
    index: int
    subnet: ipaddress.IPv4Network
    bridge: str
    spec_path: Path
    dir: Path
    hosts: tuple[LabHost, ...]

    @property
    def gateway(self) -> str:
        """The bridge's address: the root namespace (where govcloud and Ansible run) reaches the hosts from it."""
        return str(self.subnet.network_address + 1)

    @property
    def key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def authorized_keys(self) -> Path:
        return self.dir / "authorized_keys"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def ssh_config(self) -> Path:
        return self.dir / "ssh_config"

    @property
    def sshd_config(self) -> Path:
        return self.dir / "sshd_config"

    @property
    def state_file(self) -> Path:
        return self.dir / "state.json"

    def host(self, name: str) -> LabHost | None:
        return next((h for h in self.hosts if h.name == name), None)


def lab_dir(spec_path: Path, name: str) -> Path:
    return spec_path.resolve().parent / LAB_DIR / name


def spread_groups(n: int) -> list[tuple[str, ...]]:
    """Which groups each of n hosts serves.
    Each layout has one `mail` host (the shared mail service, Postfix), on the host with the fewest services.
    - 1 host: everything.
    - 2 hosts: a data host (database, storage, backups) and an edge host (identity, proxy, apps).
    - 3-4 hosts: the smallest layout that survives losing a host: three SeaweedFS masters and etcd members
      (h1-h3), PostgreSQL on two of them, identity and proxy on two; h3 takes backups and apps; h4 apps.
    - 5+ hosts: a data tier (h1-h3: storage, etcd; database on h1-h2; backups on h3) apart from an edge tier
      (h4-h5: identity, proxy, apps); more hosts serve apps."""
    if n == 1:
        return [("database", "storage", "identity", "proxy", "backups", "apps", "mail")]
    if n == 2:
        return [("database", "storage", "backups"), ("identity", "proxy", "apps", "mail")]
    if n < 5:
        pair = ("database", "dcs", "storage", "identity", "proxy")
        core = [pair, pair, ("dcs", "storage", "backups", "apps", "mail")]
        return core + [("apps",)] * (n - 3)
    tiers = [("database", "dcs", "storage"), ("database", "dcs", "storage"), ("dcs", "storage", "backups", "mail"),
             ("identity", "proxy", "apps"), ("identity", "proxy", "apps")]
    return tiers + [("apps",)] * (n - 5)


def plan_lab(name: str, n: int, spec_path: Path) -> LabPlan:
    """The plan of lab `name` with n hosts whose spec is `spec_path`. Raises ValueError on bad input."""
    check_lab_name(name)
    if not 1 <= n <= MAX_HOSTS:
        raise ValueError(f"--hosts must be between 1 and {MAX_HOSTS}, not {n}")
    x = subnet_index(name)
    subnet = ipaddress.ip_network((int(LAB_SUPERNET.network_address) + 256 * x, 24))
    assert isinstance(subnet, ipaddress.IPv4Network)
    base = lab_dir(spec_path, name)
    hosts = tuple(
        LabHost(
            name=f"h{i}", index=i, netns=f"gcl-{name}-h{i}", veth=f"gcl{x}h{i}",
            address=str(subnet.network_address + FIRST_OCTET + i), dir=base / "hosts" / f"h{i}", groups=groups,
        )
        for i, groups in enumerate(spread_groups(n), start=1)
    )
    return LabPlan(name=name, index=x, subnet=subnet, bridge=f"gclab{x}", spec_path=spec_path.resolve(), dir=base,
                   hosts=hosts)


def sshd_config_text(plan: LabPlan) -> str:
    """Shared by the lab's sshds; each gets its address, host key and pid file with `-o`."""
    return "\n".join([
        f"# Written by `govcloud lab up` for lab {plan.name}; removed by `govcloud lab down`.",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        f"AuthorizedKeysFile {plan.authorized_keys}",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",  # the lab directory may sit under /tmp (mode 1777), which strict modes refuse
        "X11Forwarding no",
        "PrintMotd no",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp /usr/lib/openssh/sftp-server",
        "",
    ])


def kept_under_tmp(paths: Sequence[Path]) -> list[str]:
    """The entries of /tmp that hold these paths (govcloud's own installation): a lab host's /tmp is its own,
    and a checkout or virtualenv under /tmp must still be there, at the same path, for commands run in it."""
    kept = set()
    for path in paths:
        parts = Path(path).parts
        if len(parts) > 2 and parts[:2] == ("/", "tmp") and parts[2] not in (".", "..") \
                and not any(c.isspace() for c in parts[2]):
            kept.add(parts[2])
    return sorted(kept)


def sshd_argv(plan: LabPlan, host: LabHost, keep: Sequence[str] = ()) -> list[str]:
    """Start host's sshd in its namespace with its own hostname (UTS namespace) and its own /tmp, in which the
    entries `keep` of the machine's /tmp (kept_under_tmp) are bound at their own paths."""
    script = ('set -f && hostname "$1" && tmp="$2" && keep="$3" && shift 3 && '
              'for k in $keep; do mkdir -p "$tmp/$k" && mount --bind "/tmp/$k" "$tmp/$k"; done && '
              'mount --rbind "$tmp" /tmp && exec "$@"')
    return [
        "ip", "netns", "exec", host.netns, "unshare", "--uts", "--mount", "--propagation", "private",
        "sh", "-c", script, "lab-host", host.name, str(host.tmp), " ".join(keep),
        SSHD, "-f", str(plan.sshd_config), "-E", str(host.log_file),
        "-o", f"ListenAddress={host.address}:22", "-o", f"PidFile={host.pid_file}",
        "-o", f"HostKey={host.host_key}",
    ]


def bridge_argvs(plan: LabPlan) -> list[list[str]]:
    return [
        ["ip", "link", "add", plan.bridge, "type", "bridge"],
        ["ip", "addr", "replace", f"{plan.gateway}/{plan.subnet.prefixlen}", "dev", plan.bridge],
        ["ip", "link", "set", plan.bridge, "up"],
    ]


def host_link_argvs(plan: LabPlan, host: LabHost, *, have_veth: bool) -> list[list[str]]:
    """Put host's veth into the bridge and its address on eth0; `ip addr replace` makes re-runs harmless."""
    argvs = [] if have_veth else [["ip", "link", "add", host.veth, "type", "veth", "peer", "name", "eth0",
                                   "netns", host.netns]]
    return argvs + [
        ["ip", "link", "set", host.veth, "master", plan.bridge, "up"],
        ["ip", "-n", host.netns, "addr", "replace", f"{host.address}/{plan.subnet.prefixlen}", "dev", "eth0"],
        ["ip", "-n", host.netns, "link", "set", "eth0", "up"],
        ["ip", "-n", host.netns, "link", "set", "lo", "up"],
    ]


def hosts_file_text(plan: LabPlan) -> str:
    """/etc/hosts as the lab's hosts see it: every lab host by name."""
    lines = ["127.0.0.1 localhost", "::1 localhost ip6-localhost ip6-loopback"]
    lines += [f"{h.address} {h.name}" for h in plan.hosts]
    return "\n".join(lines) + "\n"


def known_hosts_text(plan: LabPlan, public_keys: dict[str, str]) -> str:
    """One line per host, by name and address, from each host's public key (`type base64 comment`)."""
    lines = []
    for h in plan.hosts:
        kind, blob = public_keys[h.name].split()[:2]
        lines.append(f"{h.name},{h.address} {kind} {blob}")
    return "\n".join(lines) + "\n"

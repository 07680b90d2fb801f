"""Test hosts in network namespaces that the tests create themselves (ip netns + veth).

Traffic from a namespace reaches only the host end of its own veth pair, an
address the test made; nothing is sent to this machine's other addresses.
Needs root and iproute2. When a machine refuses namespaces, tests that need
them fail with the command's own error (they never skip silently).
"""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import dataclass, field


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(args, capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


@dataclass
class Namespace:
    """A namespace ``name`` joined to the host by veth: host ``host_ip``, inside ``ns_ip``."""

    name: str
    host_ip: str
    ns_ip: str
    host_if: str = field(init=False)
    ns_if: str = field(init=False)

    def __post_init__(self) -> None:
        self.host_if = f"vh{self.name[-10:]}"[:15]
        self.ns_if = f"vn{self.name[-10:]}"[:15]

    @classmethod
    def create(cls, label: str = "t") -> Namespace:
        if os.geteuid() != 0:
            raise RuntimeError("network namespaces need root (ip netns add)")
        n = random.randrange(1, 250)
        m = random.randrange(0, 63) * 4
        ns = cls(name=f"crtc{label}{os.getpid() % 10000}{n}", host_ip=f"10.213.{n}.{m + 1}",
                 ns_ip=f"10.213.{n}.{m + 2}")
        ns.setup()
        return ns

    def setup(self) -> None:
        run("ip", "netns", "add", self.name)
        try:
            # IPv4 only inside: a veth's IPv6 link-local address arrives a second or two after
            # it is up (duplicate address detection), and Chromium, started in the namespace
            # by then, took the change as a network switch and failed the page's module
            # loads in flight with ERR_NETWORK_CHANGED (a blank page, about 1 run in 8).
            self.exec("sysctl", "-q", "-w", "net.ipv6.conf.all.disable_ipv6=1",
                      "net.ipv6.conf.default.disable_ipv6=1")
            run("ip", "link", "add", self.host_if, "type", "veth", "peer", "name", self.ns_if)
            run("ip", "link", "set", self.ns_if, "netns", self.name)
            run("ip", "addr", "add", f"{self.host_ip}/30", "dev", self.host_if)
            run("ip", "link", "set", self.host_if, "up")
            self.exec("ip", "addr", "add", f"{self.ns_ip}/30", "dev", self.ns_if)
            self.exec("ip", "link", "set", self.ns_if, "up")
            self.exec("ip", "link", "set", "lo", "up")
        except Exception:
            self.delete()
            raise

    def exec(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run("ip", "netns", "exec", self.name, *args, check=check)

    def prefix(self) -> list[str]:
        """Command prefix that runs a program inside the namespace."""
        return ["ip", "netns", "exec", self.name]

    def delete(self) -> None:
        run("ip", "link", "del", self.host_if, check=False)
        run("ip", "netns", "del", self.name, check=False)

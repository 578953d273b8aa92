#!/usr/bin/python3
"""ytnetns -- network namespaces as separate hosts, for the integration
tests that need more than one machine (tests/integration/multihost.py).

    net = ytnetns.Net("h")           # skips the test (TAP) when unavailable
    h1 = net.host("web1", "10.77.0.11")
    net.enter("client")             # this process's sockets from now on

Every host is a namespace of its own (named ytc<pid>-<name>, so tests run
in parallel do not meet), with loopback and one veth interface on a bridge
that lives in a namespace of its own too: the addresses (10.77.0.0/24)
exist only inside these namespaces, and nothing is routed anywhere else.
Everything is removed at exit, also when the test fails or is killed
(yth's cleanup stops the processes first).  Needs root and iproute2's ip.
"""

import atexit
import ctypes
import os
import shutil
import subprocess

import yth

CLONE_NEWNET = 0x40000000
PREFIX = 24


def _ip(*args, check=True):
    r = subprocess.run(["ip"] + list(args), capture_output=True, text=True, timeout=30,
                       stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        yth.bail("ip %s: %s" % (" ".join(args), r.stderr.strip()))
    return r


def unavailable():
    """Why namespaces cannot be used here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if not shutil.which("ip"):
        return "no ip (iproute2) on PATH"
    probe = "ytc%d-probe" % os.getpid()
    r = _ip("netns", "add", probe, check=False)
    if r.returncode != 0:
        return "ip netns add failed: %s" % r.stderr.strip()
    _ip("netns", "del", probe, check=False)
    return None


class Net:
    def __init__(self):
        why = unavailable()
        if why:
            yth.skip_all(why)
        self.tag = "ytc%d" % os.getpid()
        self.names = []
        self.addrs = {}
        atexit.register(self.teardown)     # runs before yth's cleanup: it calls it first
        self.switch = self._ns("switch")
        _ip("-n", self.switch, "link", "add", "br0", "type", "bridge")
        _ip("-n", self.switch, "link", "set", "br0", "up")

    def _ns(self, name):
        full = "%s-%s" % (self.tag, name)
        _ip("netns", "add", full)
        self.names.append(full)
        _ip("-n", full, "link", "set", "lo", "up")
        return full

    def host(self, name, *addrs):
        """A namespace with these addresses (on its eth0, on the bridge);
        returns its name for ip netns exec."""
        ns = self._ns(name)
        port = "p%d" % len(self.names)
        _ip("-n", self.switch, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns)
        _ip("-n", self.switch, "link", "set", port, "master", "br0")
        _ip("-n", self.switch, "link", "set", port, "up")
        for a in addrs:
            _ip("-n", ns, "addr", "add", "%s/%d" % (a, PREFIX), "dev", "eth0")
        _ip("-n", ns, "link", "set", "eth0", "up")
        self.addrs[name] = list(addrs)
        return ns

    def enter(self, ns):
        """Move this thread (and the threads and programs it starts from now
        on) into namespace ns: the test's own connections are then made
        from there."""
        libc = ctypes.CDLL(None, use_errno=True)
        fd = os.open("/run/netns/" + ns, os.O_RDONLY)
        try:
            if libc.setns(fd, CLONE_NEWNET) != 0:
                yth.bail("setns %s: %s" % (ns, os.strerror(ctypes.get_errno())))
        finally:
            os.close(fd)

    def teardown(self):
        yth.cleanup()                       # the processes first, while they can still exit normally
        for ns in reversed(self.names):
            _ip("netns", "del", ns, check=False)
        self.names = []

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/overhead: what the plugin costs per incoming chat message.

A slixmpp peer sends N plain chat messages to an account signed on in the
headless libpurple host, once with the plugin loaded and once without, in
the same run against the same private Prosody.  What the host spends
between the first and the last message shown is divided by N.  Rounds
alternate (without, with, without, with, ...); the minimum and the median
of each side are compared.  Target: ratio at most 1.10.

By default the host runs under valgrind's callgrind and the figure is
instructions per message (repeatable to 0.01 %, independent of machine
load); --cpu measures CPU time instead.

Usage: overhead.py [--messages N] [--rounds R] [--cpu]
Environment: PXM_SOURCE_ROOT, PXM_BUILD_ROOT (set by meson).
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PXM_SOURCE_ROOT") or os.path.dirname(HERE)
BUILD_ROOT = os.environ.get("PXM_BUILD_ROOT") or os.path.join(SOURCE_ROOT,
                                                              "build")
for sub in ("tests/server", "tests/peers", "tests/host"):
    sys.path.insert(0, os.path.join(SOURCE_ROOT, sub))

import pxm_server  # noqa: E402
from pxm_host import TestHost  # noqa: E402
from pxm_peer import Peer  # noqa: E402

TARGET = 1.10
CHUNK = 250


def cpu_seconds(pid):
    """CPU time of every thread of @pid, in seconds, at nanosecond
    resolution (schedstat's first field), not clock ticks."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass  # a thread that just ended
    return total / 1e9


def wait_shown(host, account, text, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Look only at the newest events: the last message shows last.
        for e in reversed(host.history[-50:]):
            if (e.get("event") == "conv_write" and e.get("account") == account
                    and e.get("text") == text):
                return
        time.sleep(0.02)
    raise TimeoutError("'%s' not shown within %ss" % (text, timeout))


def send_burst(peer, to, prefix, n):
    for start in range(0, n, CHUNK):
        stanzas = "".join(
            "<message type='chat' to='%s' id='%s-%d'><body>%s %d</body>"
            "</message>" % (to, prefix, i, prefix, i)
            for i in range(start, min(n, start + CHUNK)))
        peer.send_raw(stanzas)


class CpuMeter:
    """CPU seconds of the host process."""
    unit, scale = "us CPU", 1e6
    wrapper = None

    def __init__(self, host, tmp):
        self.pid = host.proc.pid

    def start(self):
        self.before = cpu_seconds(self.pid)

    def stop(self):
        return cpu_seconds(self.pid) - self.before


class CallgrindMeter:
    """Instructions executed by the host, counted by callgrind between a
    zeroing and a dump of its counters."""
    unit, scale = "instructions", 1

    @staticmethod
    def wrapper(tmp):
        return ["valgrind", "--tool=callgrind",
                "--callgrind-out-file=%s/callgrind.%%p" % tmp]

    def __init__(self, host, tmp):
        self.pid = host.proc.pid
        self.tmp = tmp

    def _control(self, flag):
        subprocess.run(["callgrind_control", flag, str(self.pid)],
                       check=True, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def start(self):
        self._control("--zero")

    def stop(self):
        self._control("--dump")
        total = 0
        for name in os.listdir(self.tmp):
            if name.startswith("callgrind.%d." % self.pid):
                with open(os.path.join(self.tmp, name)) as f:
                    for line in f:
                        if line.startswith("summary:"):
                            total = max(total, int(line.split()[1]))
                os.unlink(os.path.join(self.tmp, name))
        return total


def one_round(server, info, plugin, n, label, meter_class, tmp):
    # A fresh receiving account each round: its archive is empty, so the
    # plugin's history catch-up at sign-in has nothing to fetch and only
    # the live messages are measured, on both sides alike.
    alice = server.register("bench-" + label)
    bob = "bob@" + info["domain"]
    wrapper = meter_class.wrapper(tmp) if meter_class.wrapper else None
    with TestHost(BUILD_ROOT, plugin=plugin, wrapper=wrapper,
                  start_timeout=120) as host:
        account = host.add_account(info, alice,
                                   password=server.password("bench-" + label))
        host.connect_and_wait(account, timeout=120)
        meter = meter_class(host, tmp)
        peer = Peer(bob, info["users"][bob], info).connect()
        try:
            # Warm up: the conversation exists, caches are filled.
            send_burst(peer, alice, "warm" + label, 200)
            wait_shown(host, account, "warm%s 199" % label, 120)
            meter.start()
            t0 = time.monotonic()
            send_burst(peer, alice, "m" + label, n)
            wait_shown(host, account, "m%s %d" % (label, n - 1), 1200)
            wall = time.monotonic() - t0
            cost = meter.stop()
            shown = sum(1 for e in host.history
                        if e.get("event") == "conv_write"
                        and e.get("text", "").startswith("m%s " % label))
        finally:
            peer.disconnect()
    if shown != n:
        raise AssertionError("%s: %d of %d messages shown" % (label, shown, n))
    return cost / n, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", action="store_true",
                    help="measure CPU time instead of callgrind's "
                    "instruction counts (noisier: it depends on how the "
                    "messages happen to be batched on the socket)")
    args = ap.parse_args()
    meter = CpuMeter if args.cpu or not shutil.which("callgrind_control") \
        else CallgrindMeter

    plugin = os.path.join(BUILD_ROOT, "plugin", "xmpp-modern.so")
    with tempfile.TemporaryDirectory(prefix="pxm-bench-") as tmp:
        server = pxm_server.make_server(os.path.join(tmp, "srv"))
        info = server.start()
        try:
            results = {"without": [], "with": []}
            for r in range(args.rounds):
                for side, p in (("without", None), ("with", plugin)):
                    per, wall = one_round(server, info, p, args.messages,
                                          "%s%d" % (side, r), meter, tmp)
                    results[side].append(per)
                    print("round %d %-7s plugin: %9.1f %s/message "
                          "(%d messages in %.1f s)"
                          % (r + 1, side, per * meter.scale, meter.unit,
                             args.messages, wall), flush=True)
        finally:
            server.stop()

    for stat in (min, statistics.median):
        base = stat(results["without"])
        cost = stat(results["with"])
        print()
        print("%s of %d rounds:" % (stat.__name__, args.rounds))
        print("  without plugin: %.1f %s per message"
              % (base * meter.scale, meter.unit))
        print("  with plugin:    %.1f %s per message"
              % (cost * meter.scale, meter.unit))
        print("  ratio:          %.3f (target <= %.2f): %s"
              % (cost / base, TARGET,
                 "met" if cost / base <= TARGET else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

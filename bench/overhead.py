#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/overhead: what the plugin costs per incoming chat message.

A slixmpp peer sends N plain chat messages to an account signed on in the
headless libpurple host, once with the plugin loaded and once without, in
the same run against the same private Prosody.  The host's CPU time (user +
system, from /proc) between the first and the last message shown is divided
by N.  Rounds alternate (without, with, without, with, ...) and the median
of each side is compared.  Target: ratio at most 1.10.

Usage: overhead.py [--messages N] [--rounds R]
Environment: PXM_SOURCE_ROOT, PXM_BUILD_ROOT (set by meson).
"""

import argparse
import os
import statistics
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


def one_round(info, plugin, n, label):
    alice = "alice@" + info["domain"]
    bob = "bob@" + info["domain"]
    with TestHost(BUILD_ROOT, plugin=plugin) as host:
        account = host.add_account(info, alice)
        host.connect_and_wait(account)
        peer = Peer(bob, info["users"][bob], info).connect()
        try:
            # Warm up: the conversation exists, caches are filled.
            send_burst(peer, alice, "warm" + label, 200)
            wait_shown(host, account, "warm%s 199" % label, 60)
            before = cpu_seconds(host.proc.pid)
            t0 = time.monotonic()
            send_burst(peer, alice, "m" + label, n)
            wait_shown(host, account, "m%s %d" % (label, n - 1), 600)
            wall = time.monotonic() - t0
            cpu = cpu_seconds(host.proc.pid) - before
            shown = sum(1 for e in host.history
                        if e.get("event") == "conv_write"
                        and e.get("text", "").startswith("m%s " % label))
        finally:
            peer.disconnect()
    if shown != n:
        raise AssertionError("%s: %d of %d messages shown" % (label, shown, n))
    return cpu / n, wall


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    plugin = os.path.join(BUILD_ROOT, "plugin", "xmpp-modern.so")
    with tempfile.TemporaryDirectory(prefix="pxm-bench-") as tmp:
        server = pxm_server.make_server(os.path.join(tmp, "srv"))
        info = server.start()
        try:
            results = {"without": [], "with": []}
            for r in range(args.rounds):
                for side, p in (("without", None), ("with", plugin)):
                    per, wall = one_round(info, p, args.messages,
                                          "%s%d" % (side[0], r))
                    results[side].append(per)
                    print("round %d %-7s plugin: %7.1f us CPU/message "
                          "(%d messages in %.1f s)"
                          % (r + 1, side, per * 1e6, args.messages, wall),
                          flush=True)
        finally:
            server.stop()

    base = statistics.median(results["without"])
    cost = statistics.median(results["with"])
    ratio = cost / base
    print()
    print("without plugin: %.1f us CPU per message (median of %d)"
          % (base * 1e6, args.rounds))
    print("with plugin:    %.1f us CPU per message (median of %d)"
          % (cost * 1e6, args.rounds))
    print("ratio:          %.3f (target <= %.2f): %s"
          % (ratio, TARGET, "met" if ratio <= TARGET else "NOT met"))
    return 0


if __name__ == "__main__":
    sys.exit(main())

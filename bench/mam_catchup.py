#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/mam-catchup: the plugin's history catch-up against a bare client.

Twenty contacts send N messages in all (default 10,000) to an account that
is offline, so that they wait in the account's server archive.  Then, in
the same run against the same private Prosody:
- the headless libpurple host with the plugin signs the account in; the
  time from the connect command to the last archived message shown is
  measured, and meanwhile the host is pinged every 10 ms to measure the
  longest stall of its main loop; its peak RSS is read from /proc;
- a bare slixmpp client pages through the same archive (RSM, pages of the
  server's maximum), which is the baseline.
Target: ratio at most 1.5, no stall over 100 ms.

Prosody's offline storage is turned off for this server: the messages are
in the archive only, so both sides fetch exactly the same thing.

Usage: mam_catchup.py [--messages N] [--contacts C] [--rounds R]
"""

import argparse
import os
import statistics
import sys
import tempfile
import threading
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

RATIO_TARGET = 1.5
STALL_TARGET = 0.100
PAGE = 250


def fill(server, info, owner, n, contacts):
    """@contacts peers send @n messages in all to @owner (offline)."""
    peers = []
    for c in range(contacts):
        user = "contact%02d" % c
        server.register(user)
        peers.append(Peer(server.jid(user), server.password(user),
                          info).connect(timeout=60))
    per = n // contacts
    for c, peer in enumerate(peers):
        count = per + (1 if c < n % contacts else 0)
        for start in range(0, count, 250):
            peer.send_raw("".join(
                "<message type='chat' to='%s' id='c%d-%d'><body>contact %d "
                "message %d</body></message>" % (owner, c, i, c, i)
                for i in range(start, min(count, start + 250))))
    # Wait until the archive holds everything: the last contact's last
    # message is the last one sent.
    probe = Peer(owner, server.password(owner.split("@")[0]), info)
    probe.connect(timeout=300, presence=False)
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            total = archive_size(probe)
            if total >= n:
                break
            time.sleep(1)
    finally:
        probe.disconnect()
    for p in peers:
        p.disconnect()


def archive_size(peer):
    # Prosody answers late while it is still storing thousands of messages
    # on a loaded machine.
    peer.mam_query(max=0, timeout=120)
    return int(peer.last_mam_fin.get("count") or 0)


def slixmpp_pages(info, server, owner):
    peer = Peer(owner, server.password(owner.split("@")[0]), info)
    peer.connect(timeout=300, presence=False)
    try:
        t0 = time.monotonic()
        got, after = 0, None
        while True:
            items = peer.mam_query(after=after, max=PAGE, timeout=60)
            got += len(items)
            fin = peer.last_mam_fin
            if fin.get("complete") or not fin.get("last"):
                break
            after = fin["last"]
        return time.monotonic() - t0, got
    finally:
        peer.disconnect()


class Pinger(threading.Thread):
    """Pings the host every 10 ms; the longest answer is the longest stall
    of its main loop (plus the pipe round trip, a few tens of µs)."""

    def __init__(self, host):
        super().__init__(daemon=True)
        self.host = host
        self.worst = 0.0
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t0 = time.monotonic()
            try:
                self.host.cmd("ping", timeout=30)
            except Exception:
                return
            self.worst = max(self.worst, time.monotonic() - t0)
            time.sleep(0.01)


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def plugin_catchup(info, server, owner, n):
    with TestHost(BUILD_ROOT, start_timeout=60) as host:
        account = host.add_account(info, owner,
                                   password=server.password(
                                       owner.split("@")[0]))
        pinger = Pinger(host)
        t0 = time.monotonic()
        pinger.start()
        host.cmd("connect", account=account, timeout=300)
        deadline = time.monotonic() + 900
        shown = 0
        while time.monotonic() < deadline:
            shown = sum(1 for e in list(host.history)
                        if e.get("event") == "conv_write"
                        and "delayed" in e.get("flags", [])
                        and e.get("text", "").startswith("contact "))
            if shown >= n:
                break
            time.sleep(0.05)
        elapsed = time.monotonic() - t0
        pinger.stop.set()
        pinger.join(5)
        rss = peak_rss_kib(host.proc.pid)
    return elapsed, shown, pinger.worst, rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--contacts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="pxm-bench-mam-") as tmp:
        server = pxm_server.make_server(
            os.path.join(tmp, "srv"), max_archive_results=PAGE,
            extra_config='modules_disabled = { "offline" }')
        info = server.start()
        try:
            owner = server.register("reader")
            t = time.monotonic()
            fill(server, info, owner, args.messages, args.contacts)
            print("archive filled with %d messages from %d contacts in "
                  "%.1f s" % (args.messages, args.contacts,
                              time.monotonic() - t), flush=True)
            bases, runs = [], []
            # Alternating rounds, medians compared: both sides depend on
            # how fast Prosody serves pages on a shared 2-core machine.
            for r in range(args.rounds):
                base, got = slixmpp_pages(info, server, owner)
                bases.append(base)
                print("round %d: bare slixmpp paging (pages of %d): %d "
                      "messages in %.2f s" % (r + 1, PAGE, got, base),
                      flush=True)
                run = plugin_catchup(info, server, owner, args.messages)
                runs.append(run)
                print("round %d: libpurple + plugin, sign-in to last "
                      "message shown: %d messages in %.2f s (longest stall "
                      "%.0f ms)" % (r + 1, run[1], run[0], run[2] * 1000),
                      flush=True)
        finally:
            server.stop()

    base = statistics.median(bases)
    plugin = statistics.median(r[0] for r in runs)
    shown = min(r[1] for r in runs)
    stall = max(r[2] for r in runs)
    rss = max(r[3] for r in runs)
    print()
    print("median bare slixmpp: %.2f s; median plugin: %.2f s" % (base,
                                                                 plugin))
    print("ratio:          %.2f (target <= %.1f): %s"
          % (plugin / base, RATIO_TARGET,
             "met" if plugin / base <= RATIO_TARGET else "NOT met"))
    print("longest stall:  %.0f ms (target <= %.0f ms): %s"
          % (stall * 1000, STALL_TARGET * 1000,
             "met" if stall <= STALL_TARGET else "NOT met"))
    print("peak RSS of the host: %.1f MiB" % (rss / 1024))
    if shown < args.messages:
        print("WARNING: only %d of %d messages were shown"
              % (shown, args.messages))
    return 0


if __name__ == "__main__":
    sys.exit(main())

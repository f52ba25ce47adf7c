#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/omemo: what OMEMO costs the host, against purple-lurch.

In the same run against the same private Prosody, for each side (our plugin, and a
headless libpurple with Debian's purple-lurch 0.7 and without our plugin):
- the measured host signs in an account (alice-…) that has 2 other OMEMO devices
  (python-omemo peers on the same JID) and a contact (bob-…) with 3 OMEMO devices
  (python-omemo peers on bob's JID, different resources); all legacy OMEMO by default,
  since lurch speaks nothing else (--version twomemo for the plugin's OMEMO 2 figure);
- warm-up: messages both ways until every session is established (the peers answer
  the key exchanges), so what is measured is the steady state;
- encrypt: the host sends N messages to bob, each encrypted for 3 + 2 devices;
  measured from the first send command to the last message arriving at one of bob's
  devices;
- decrypt: one of bob's devices sends N messages (encrypted before the measurement)
  to alice; measured from the first one sent to the last one shown by the host.

The figure is the host's CPU time per message (utime + stime of all its threads,
from /proc/PID/task/*/schedstat, nanosecond resolution) between those two points:
the peers, the server and the JSON protocol's Python side run in other processes and
do not count, and machine load changes it far less than wall time, which is printed
too.  During the measurement the peers only record what arrives (decrypting in
Python would make them the bottleneck of the wall time); afterwards the receiving
peer decrypts everything and the benchmark checks that all N were readable and that
each message carried a key for each of the 5 devices.  Peak RSS is the host's VmHWM.

Target (issue 5): our figure at most lurch's (lurch opens its databases on every
call: we should be clearly faster).

Usage: omemo.py [--messages N] [--side plugin|lurch|both] [--version oldmemo|twomemo]
Environment: PXM_SOURCE_ROOT, PXM_BUILD_ROOT (set by meson).
"""

import argparse
import os
import re
import sys
import tempfile
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PXM_SOURCE_ROOT") or os.path.dirname(HERE)
BUILD_ROOT = os.environ.get("PXM_BUILD_ROOT") or os.path.join(SOURCE_ROOT,
                                                              "build")
# This file's name would shadow python-omemo's package "omemo".
sys.path = [p for p in sys.path if os.path.abspath(p or os.curdir) != HERE]
for sub in ("tests/server", "tests/peers", "tests/host"):
    sys.path.insert(0, os.path.join(SOURCE_ROOT, sub))

import pxm_server  # noqa: E402
from pxm_host import TestHost  # noqa: E402
from pxm_lurch import LurchHost, lurch_path  # noqa: E402
from pxm_omemo_peer import OmemoPeer, VERSIONS  # noqa: E402

CONTACT_DEVICES = 3
OWN_DEVICES = 2
CHUNK = 100


def cpu_seconds(pid):
    """CPU time of every thread of @pid (schedstat's first field, in ns)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except FileNotFoundError:
            pass
    return total / 1e9


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def register(server, prefix):
    name = "%s-%s" % (prefix, uuid.uuid4().hex[:6])
    for attempt in range(5):
        try:
            return server.register(name), server.password(name)
        except pxm_server.ServerError:
            if attempt == 4:
                raise
            time.sleep(0.3)


# -- the two sides -------------------------------------------------------------------

class LurchSide:
    """A headless libpurple with purple-lurch (legacy OMEMO only)."""
    name = "purple-lurch"

    def __init__(self, info, jid, password, version):
        # No XML trace, no debug events: they would cost the host CPU time.
        self.lurch = LurchHost(BUILD_ROOT, info, jid, password=password, xml=False,
                               debug_events=False, start_timeout=60)
        self.host = self.lurch.host
        self.account = self.lurch.account

    def prepare(self, contact_peers, own_peers):
        self.lurch.make_contact(contact_peers[0])
        self.lurch.wait_devices(contact_peers[0].bare,
                                [p.device_id() for p in contact_peers], timeout=30)
        self.lurch.wait_devices(self.lurch.bare,
                                [p.device_id() for p in own_peers], timeout=30)

    def device_id(self):
        return self.lurch.device_id()

    def close(self):
        self.lurch.close()


class PluginSide:
    """The headless host with our plugin: `/omemo on` in the conversation with bob;
    our device id is the one on our published list that none of the own peers has.
    A plugin without /omemo gives "not available yet" for this side."""
    name = "our plugin"

    def __init__(self, info, jid, password, version):
        self.host = TestHost(BUILD_ROOT, plugin=True, start_timeout=60)
        self.bare = jid
        self.version = version
        self.account = self.host.add_account(info, jid, password=password)
        self.host.connect_and_wait(self.account, timeout=60)

    def prepare(self, contact_peers, own_peers):
        bob = contact_peers[0]
        reply = self.host.command(self.account, bob.bare, "omemo on")
        if reply.get("status") != "ok":
            raise NotImplementedError("/omemo on: %s" % reply.get("status"))
        # Our device: the one on our list that is none of the own peers.
        others = {p.device_id() for p in own_peers}
        end = time.monotonic() + 30
        while True:
            mine = [d for d in own_peers[0].device_list(self.bare, self.version)
                    if d not in others]
            if mine:
                self._device_id = mine[0]
                return
            if time.monotonic() > end:
                raise RuntimeError("the plugin published no device")
            time.sleep(0.2)

    def device_id(self):
        return self._device_id

    def close(self):
        self.host.close()


# -- one side's run ------------------------------------------------------------------

def run_side(side_class, server, info, n, version, tmp):
    alice, alice_pw = register(server, "bench-alice")
    bob, bob_pw = register(server, "bench-bob")
    versions = (version,)
    side = side_class(info, alice, alice_pw, version)
    peers = []
    try:
        # One device after the other: each adds itself to the list the previous one
        # published.
        contacts = []
        for i in range(CONTACT_DEVICES):
            contacts.append(OmemoPeer(bob, bob_pw, info, versions=versions,
                                      resource="bob%d" % i, timeout=60))
            peers.append(contacts[-1])
        own = []
        for i in range(OWN_DEVICES):
            own.append(OmemoPeer(alice, alice_pw, info, versions=versions,
                                 resource="own%d" % i, carbons=True, timeout=60))
            peers.append(own[-1])
        side.prepare(contacts, own)
        host_device = side.device_id()
        expected = {p.device_id() for p in contacts + own}

        # Warm-up: both ways until every device has answered the key exchange.
        # libpurple sends to the resource that wrote last, so which of bob's
        # devices receives the host's messages varies; our own devices get carbons.
        for round_ in range(3):
            text = "warm-up %d" % round_
            side.host.send_im(side.account, bob, text)
            wait_any(contacts, text)
            for p in own:
                p.wait_decrypted(lambda m, t=text: m["body"] == t, timeout=60)
            for p in contacts:
                reply = "warm-up reply %d from %s" % (round_, p.resource)
                p.send_encrypted(alice, reply)
                side.host.wait_for_conv_write(side.account, None, "recv", reply,
                                              timeout=60)
        for p in peers:
            p.wait_idle(timeout=60)
            p.decrypt_live = False

        pid = side.host.proc.pid
        # Encrypt: the host sends n messages to bob.
        receivers = contacts

        def arrived(p):
            return sum(1 for m in p.received
                       if m["encrypted"] and m["from"] and m["from"].startswith(alice)
                       and m["carbon"] is None)
        base = [arrived(p) for p in receivers]
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        for i in range(n):
            side.host.send_im(side.account, bob, "enc %d" % i)
        deadline = time.monotonic() + 600
        while True:
            got = [arrived(p) - b for p, b in zip(receivers, base)]
            if max(got) >= n:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("encrypt: only %s of %d arrived" % (got, n))
            time.sleep(0.01)
        enc_wall, enc_cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
        reader = receivers[got.index(max(got))]
        check_encrypted(reader, alice, n, expected, host_device)

        # Decrypt: a device of bob's sends n messages prepared beforehand.
        sender = contacts[0]
        stanzas = [sender.encrypt_stanza(alice, "dec %d" % i) for i in range(n)]
        last = "dec %d" % (n - 1)
        cpu0, t0 = cpu_seconds(pid), time.monotonic()
        for start in range(0, n, CHUNK):
            sender.send_raw("".join(stanzas[start:start + CHUNK]))
        side.host.wait_for_conv_write(side.account, None, "recv", last, timeout=600)
        dec_wall, dec_cpu = time.monotonic() - t0, cpu_seconds(pid) - cpu0
        shown = {e["text"] for e in side.host.conv_writes(side.account, flag="recv")
                 if re.fullmatch(r"dec \d+", e.get("text", ""))}
        if len(shown) != n:
            raise RuntimeError("decrypt: %d of %d messages shown" % (len(shown), n))
        rss = peak_rss_kib(pid)
    finally:
        for p in peers:
            try:
                p.close()
            except Exception:       # noqa: BLE001 - best effort
                pass
        side.close()
    return {"enc_cpu": enc_cpu / n, "enc_wall": enc_wall / n,
            "dec_cpu": dec_cpu / n, "dec_wall": dec_wall / n, "rss_kib": rss}


def wait_any(peers, text, timeout=60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for p in peers:
            if any(m["body"] == text for m in p.received):
                return p
        time.sleep(0.02)
    raise RuntimeError("%r reached none of %s" % (text, peers))


def check_encrypted(peer, alice, n, expected, host_device):
    """Every message reached @peer encrypted for all 5 devices and decrypts."""
    peer.decrypt_pending(timeout=600)
    msgs = [m for m in peer.received if m["from"] and m["from"].startswith(alice)
            and m["carbon"] is None and m["body"] and m["body"].startswith("enc ")]
    if len(msgs) != n:
        errors = [e for e in peer.errors][-3:]
        raise RuntimeError("encrypt: %d of %d decrypted by %s (%s)"
                           % (len(msgs), n, peer.jid, errors))
    for m in msgs[:1] + msgs[-1:]:
        rids = set(int(r) for r in re.findall(r'rid="(\d+)"', m["xml"]))
        if not expected <= rids or m["sender_device"] != host_device:
            raise RuntimeError("encrypt: keys for %s, wanted %s" % (rids, expected))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=1000)
    ap.add_argument("--side", choices=("plugin", "lurch", "both"), default="both")
    ap.add_argument("--version", choices=sorted(VERSIONS), default="oldmemo",
                    help="OMEMO version of the peers for the plugin side (lurch: "
                    "always oldmemo)")
    args = ap.parse_args()
    n = args.messages
    sides = []
    if args.side in ("plugin", "both"):
        sides.append(PluginSide)
    if args.side in ("lurch", "both"):
        if lurch_path() is None:
            print("purple-lurch is not installed (tools/deps.sh test)")
            return 77
        sides.append(LurchSide)

    results = {}
    with tempfile.TemporaryDirectory(prefix="pxm-bench-omemo-") as tmp:
        server = pxm_server.make_server(os.path.join(tmp, "srv"))
        info = server.start()
        try:
            for side_class in sides:
                version = args.version if side_class is PluginSide else "oldmemo"
                try:
                    r = run_side(side_class, server, info, n, version, tmp)
                except NotImplementedError as e:
                    print("%-12s: not available yet (%s)" % (side_class.name, e),
                          flush=True)
                    continue
                results[side_class.name] = r
                print("%-12s (%s): encrypt %8.0f us CPU/message (%6.0f us wall), "
                      "decrypt %8.0f us CPU/message (%6.0f us wall), peak RSS %.1f MiB"
                      % (side_class.name, version, r["enc_cpu"] * 1e6,
                         r["enc_wall"] * 1e6, r["dec_cpu"] * 1e6, r["dec_wall"] * 1e6,
                         r["rss_kib"] / 1024), flush=True)
        finally:
            server.stop()

    ours, lurch = results.get(PluginSide.name), results.get(LurchSide.name)
    if ours and lurch:
        print()
        for what in ("enc", "dec"):
            ratio = ours[what + "_cpu"] / lurch[what + "_cpu"]
            print("%s: ratio plugin/lurch %.3f (target <= 1): %s"
                  % ("encrypt" if what == "enc" else "decrypt", ratio,
                     "met" if ratio <= 1 else "NOT met"))
        print("peak RSS: plugin %.1f MiB, lurch %.1f MiB"
              % (ours["rss_kib"] / 1024, lurch["rss_kib"] / 1024))
    return 0


if __name__ == "__main__":
    sys.exit(main())

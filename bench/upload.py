#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""bench/upload: a 200 MB file uploaded by HTTP File Upload through the
headless host with the plugin (Send File), and in the same run with
`curl -T` to a fresh slot on the same Prosody; prints both throughputs,
their ratio (target >= 0.8) and the host's peak RSS growth during the
upload (target < 32 MB)."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PXM_SOURCE_ROOT") or os.path.dirname(HERE)
BUILD_ROOT = os.environ.get("PXM_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build")
for sub in ("tests/server", "tests/peers", "tests/host"):
    sys.path.insert(0, os.path.join(SOURCE_ROOT, sub))

import pxm_server  # noqa: E402
from pxm_host import TestHost  # noqa: E402
from pxm_peer import Peer, q, NS_UPLOAD  # noqa: E402

CA_PREF = "/plugins/core/core-xmpp-modern/upload/ca-file"


def rss_kib(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def make_file(path, size):
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for _ in range(size >> 20):
            f.write(block)


def curl_upload(peer, info, path, size):
    reply = peer.iq("<iq type='get' to='%s'><request xmlns='%s' filename='curl.bin' "
                    "size='%d' content-type='application/octet-stream'/></iq>"
                    % (info["upload"], NS_UPLOAD, size), 30)
    slot = reply.find(q(NS_UPLOAD, "slot"))
    put = slot.find(q(NS_UPLOAD, "put"))
    cmd = ["curl", "-sS", "-f", "-o", "/dev/null", "--cacert", info["ca"], "-T", path,
           "-H", "Content-Type: application/octet-stream", "-H", "Expect:"]
    for h in put.findall(q(NS_UPLOAD, "header")):
        cmd += ["-H", "%s: %s" % (h.get("name"), h.text or "")]
    start = time.monotonic()
    subprocess.run(cmd + [put.get("url")], check=True)
    return time.monotonic() - start


def host_upload(host, account, to, path):
    start = None
    host.send_file(account, to, path)
    new = host.wait_for("xfer", lambda e: e["stage"] == "new" and e["type"] == "send",
                        timeout=60)
    start = time.monotonic()
    end = host.wait_for("xfer", lambda e: e["id"] == new["id"] and e["status"] in (
        "done", "cancel_local", "cancel_remote"), timeout=600)
    if end["status"] != "done":
        raise SystemExit("upload failed: %s" % [
            (e.get("primary"), e.get("secondary")) for e in host.events("notify")])
    return time.monotonic() - start


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    size = args.mb << 20
    with tempfile.TemporaryDirectory(prefix="pxm-bench-upload-") as tmp:
        server = pxm_server.make_server(os.path.join(tmp, "srv"),
                                        upload_size_limit=size + (1 << 20))
        info = server.start()
        try:
            path = os.path.join(tmp, "payload.bin")
            make_file(path, size)
            bob = Peer("bob@localhost", info["users"]["bob@localhost"], info).connect()
            with TestHost(BUILD_ROOT) as host:
                host.set_pref(CA_PREF, info["ca"])
                alice = host.add_account(info, "alice@localhost", options={
                    "xmpp-modern-upload-mode": "always",
                    "xmpp-modern-xep0313-mam": False})
                host.xml(alice, True)
                host.connect_and_wait(alice)
                host.wait_for("xml", lambda e: e["dir"] == "in"
                              and "urn:xmpp:http:upload:0" in e["xml"]
                              and "from='%s'" % info["upload"] in e["xml"])
                host.xml(alice, False)
                time.sleep(2)  # the rest of the disco answers
                pid = host.proc.pid
                rss_before = rss_kib(pid, "VmRSS")
                t_host = host_upload(host, alice, "bob@localhost", path)
                rss_peak = rss_kib(pid, "VmHWM")
            t_curl = curl_upload(bob, info, path, size)
            bob.disconnect()
        finally:
            server.stop()
    mb = size / 1e6
    print("upload of %d MB" % args.mb)
    print("  host (plugin): %.1f s, %.1f MB/s" % (t_host, mb / t_host))
    print("  curl -T:       %.1f s, %.1f MB/s" % (t_curl, mb / t_curl))
    print("  ratio host/curl throughput: %.2f (target >= 0.8)" % (t_curl / t_host))
    print("  host peak RSS growth: %.1f MB (target < 32 MB)"
          % ((rss_peak - rss_before) / 1024))


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo behind tools/demo: prints what a user would see."""

import json
import os
import re
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("tests/server", "tests/peers", "tests/host"):
    sys.path.insert(0, os.path.join(ROOT, sub))

import pxm_server  # noqa: E402
from pxm_host import TestHost  # noqa: E402
from pxm_peer import Peer  # noqa: E402


def plugin_features():
    root = os.path.join(ROOT, "plugin", "extensions")
    out = set()
    for name in os.listdir(root):
        path = os.path.join(root, name, "manifest.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                out.update(json.load(f).get("features", []))
    return out


def say(who, text):
    print("%-22s %s" % (who, text), flush=True)


def plain(html):
    return re.sub(r"<br>", "\n" + " " * 23, re.sub(r"</?b>", "", html))


def main():
    build = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    with tempfile.TemporaryDirectory(prefix="pxm-demo-") as tmp:
        server = pxm_server.make_server(os.path.join(tmp, "server"))
        info = server.start()
        try:
            run(build, info)
        finally:
            server.stop()


def run(build, info):
    alice, bob = "alice@localhost", "bob@localhost"
    room = "demo@" + info["muc"]
    print("purple-xmpp-modern demo: private Prosody on 127.0.0.1:%d "
          "(TLS required), accounts %s and %s\n"
          % (info["c2s_port"], alice, bob))
    with TestHost(build) as host:
        account = host.add_account(info, alice, resource="pidgin")
        host.connect_and_wait(account)
        say("[libpurple+plugin]", "%s signed on" % account)
        r = host.command(account, bob, "xmpp-modern")
        say("[/xmpp-modern]", plain(host.conv_writes(account)[-1]["text"]))
        assert r["status"] == "ok", r

        peer = Peer(bob, info["users"][bob], info, resource="slixmpp")
        peer.connect()
        try:
            ours = plugin_features()
            feats = [f for f in peer.disco_info(account)["features"]
                     if f in ours]
            say("[bob, slixmpp]", "disco#info of %s lists, from the plugin: "
                "%s" % (account, ", ".join(feats)))

            peer.send_message(alice, "Salut Alice, tu me reçois ?")
            w = host.wait_for_conv_write(account=account, flag="recv",
                                         text="Salut Alice")
            say("[Pidgin, with bob]", "%s: %s" % (w["who"], w["text"]))

            host.send_im(account, bob, "Oui, très bien !")
            m = peer.wait_message(lambda m: m["body"] == "Oui, très bien !")
            oid = [e.get("id") for e in m["element"]
                   if e.tag == "{urn:xmpp:sid:0}origin-id"]
            say("[bob, slixmpp]", "received \"%s\" with origin-id %s"
                % (m["body"], oid[0] if oid else "(none)"))

            bob_bare = bob
            peer.send_message(alice, "C'est *vraiment* `simple` !")
            w = host.wait_for_conv_write(account=account, flag="recv",
                                         text="vraiment")
            say("[Pidgin, with bob]", "styled as HTML: " + w["text"])

            phone = Peer(alice, info["users"][alice], info, resource="phone")
            phone.connect()
            try:
                phone.send_message(bob_bare, "Écrit depuis mon téléphone")
                w = host.wait_for_conv_write(account=account, flag="send",
                                             text="téléphone")
                say("[Pidgin, with bob]", "sent from the phone, shown as "
                    "sent by me: " + w["text"])
            finally:
                phone.disconnect()

            peer.join_room(room, "bob")
            host.join_room(account, room, "alice")
            peer.send_room(room, "Bienvenue dans le salon")
            host.wait_for_conv_write(account=account, conversation=room,
                                     text="Bienvenue")
            say("[Pidgin, room]", "bob: Bienvenue dans le salon")
            host.command(account, room, "part", type="chat")
            time.sleep(0.5)
            host.join_room(account, room, "alice")
            time.sleep(1)
            shown = [e for e in host.conv_writes(account, room)
                     if "Bienvenue" in e["text"]]
            say("[Pidgin, room]", "left and joined again: the room replayed "
                "its history; the message is shown %d time(s)" % len(shown))
        finally:
            peer.disconnect()
    print("\nDone. Everything ran on loopback; nothing was installed "
          "outside this clone but Debian packages.")


if __name__ == "__main__":
    main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The demo behind tools/demo: prints what a user would see."""

import hashlib
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

try:
    from pxm_omemo_peer import OmemoPeer  # noqa: E402
except ImportError:  # python3-omemo missing: the OMEMO part is skipped
    OmemoPeer = None

CA_PREF = "/plugins/core/core-xmpp-modern/upload/ca-file"


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
        host.set_pref(CA_PREF, info["ca"])
        # The slixmpp peers announce no entity capabilities: prpl-jabber then
        # believes they take its own file transfers, so files go by HTTP
        # upload only if the account says "always".
        account = host.add_account(info, alice, resource="pidgin", options={
            "xmpp-modern-upload-mode": "always"})
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
            host.xml(account, True)
            host.join_room(account, room, "alice")
            time.sleep(1)
            host.xml(account, False)
            joins = [e["xml"] for e in host.events("xml")
                     if e["dir"] == "out" and e["xml"].startswith("<presence")
                     and "/muc'" in e["xml"]]
            how = ("asked the room for no replay (it keeps an archive)"
                   if any("maxstanzas='0'" in x for x in joins)
                   else "the room replayed its history")
            shown = [e for e in host.conv_writes(account, room)
                     if "Bienvenue" in e["text"]]
            say("[Pidgin, room]", "left and joined again: %s; the message "
                "is shown %d time(s)" % (how, len(shown)))
            history(host, account, peer, bob)
            upload(host, account, peer, bob)
        finally:
            peer.disconnect()
        omemo(host, account, info)
    print("\nDone. Everything ran on loopback; nothing was installed "
          "outside this clone but Debian packages.")


def history(host, account, peer, bob):
    host.disconnect(account)
    say("[libpurple+plugin]", "%s signed off" % account)
    peer.send_message("alice@localhost", "Tu as vu mon message d'hier ?")
    host.connect_and_wait(account)
    w = host.wait_for_conv_write(account=account, flag="recv",
                                 text="message d'hier")
    time.sleep(1)
    n = len([e for e in host.conv_writes(account, bob)
             if "message d'hier" in e["text"]])
    say("[Pidgin, with bob]", "signed on again; sent while offline, now "
        "shown %d time(s)%s: %s" % (n, ", as history" if "delayed"
                                    in w["flags"] else "", w["text"]))


def upload(host, account, peer, bob):
    with tempfile.TemporaryDirectory(prefix="pxm-demo-file-") as tmp:
        path = os.path.join(tmp, "photo-vacances.jpg")
        data = os.urandom(200 * 1024)
        with open(path, "wb") as f:
            f.write(data)
        host.send_file(account, bob, path)
        m = peer.wait_message(lambda m: (m["body"] or "").startswith(
            "https://"), timeout=30)
        same = hashlib.sha256(peer.http_get(m["body"])).digest() == \
            hashlib.sha256(data).digest()
        say("[bob, slixmpp]", "Send File in Pidgin: received the link %s; "
            "downloaded, %s" % (m["body"], "same bytes" if same
                                else "DIFFERENT BYTES"))


def omemo(host, account, info):
    if OmemoPeer is None:
        say("[OMEMO]", "skipped: python3-omemo is not installed")
        return
    carol = "carol@localhost"
    peer = OmemoPeer(carol, info["users"][carol], info)
    try:
        host.xml(account, True)
        text = "Ceci est un secret"
        host.send_im(account, carol, text)
        m = peer.wait_decrypted(lambda m: m["body"] == text, timeout=30)
        leaked = host.events("xml", lambda e: text in e.get("xml", ""))
        say("[carol, python-omemo]", "decrypted \"%s\" (%s); plaintext on "
            "the wire: %s" % (m["body"], "OMEMO 2" if m["version"] ==
                              "twomemo" else "legacy OMEMO",
                              "YES" if leaked else "no"))
        peer.send_encrypted(alice_of(account), "Bien reçu, chiffré aussi",
                            refresh=True)
        w = host.wait_for_conv_write(account=account, flag="recv",
                                     text="chiffré aussi", timeout=30)
        say("[Pidgin, with carol]", "decrypted: " + w["text"])
        host.command(account, carol, "omemo status")
        w = host.conv_writes(account, carol, flag="system")[-1]
        say("[/omemo status]", plain(w["text"]))
    finally:
        peer.close()


def alice_of(account):
    return account.split("/", 1)[0]


if __name__ == "__main__":
    main()

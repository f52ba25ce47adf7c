#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP File Upload (XEP-0363), OOB (XEP-0066) and aesgcm (XEP-0454) end to
end with Prosody's http_file_share: the headless host with the plugin is
alice, bob a contact on slixmpp, carol a stranger."""

import hashlib
import os
import socket
import struct
import sys
import tempfile
import threading
import time

import pxm_it
from pxm_it import ServerTestCase
from pxm_peer import Peer, make_contacts

NS_OOB = "jabber:x:oob"
CA_PREF = "/plugins/core/core-xmpp-modern/upload/ca-file"


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def oob_url(message):
    x = message["element"].find("{%s}x" % NS_OOB)
    if x is None:
        return None
    url = x.find("{%s}url" % NS_OOB)
    return url.text if url is not None else None


class Socks5(threading.Thread):
    """A tiny SOCKS5 proxy on loopback (no auth, CONNECT only) that records
    where it was asked to connect and only connects to loopback."""

    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.targets = []
        self.start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.serve, args=(c,), daemon=True).start()

    def close(self):
        self.sock.close()

    @staticmethod
    def recv(c, n):
        data = b""
        while len(data) < n:
            more = c.recv(n - len(data))
            if not more:
                raise OSError("closed")
            data += more
        return data

    def serve(self, c):
        try:
            _, n = self.recv(c, 2)
            self.recv(c, n)
            c.sendall(b"\x05\x00")
            _, cmd, _, atyp = self.recv(c, 4)
            if atyp == 3:
                host = self.recv(c, self.recv(c, 1)[0]).decode()
            elif atyp == 1:
                host = socket.inet_ntoa(self.recv(c, 4))
            else:
                host = socket.inet_ntop(socket.AF_INET6, self.recv(c, 16))
            port = struct.unpack("!H", self.recv(c, 2))[0]
            self.targets.append((host, port))
            if host not in ("localhost", "127.0.0.1"):
                c.sendall(b"\x05\x02\x00\x01" + bytes(6))
                return
            up = socket.create_connection(("127.0.0.1", port))
            c.sendall(b"\x05\x00\x00\x01" + bytes(6))
        except OSError:
            c.close()
            return

        def pipe(a, b):
            try:
                while True:
                    d = a.recv(65536)
                    if not d:
                        break
                    b.sendall(d)
            except OSError:
                pass
            for s_ in (a, b):
                try:
                    s_.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        threading.Thread(target=pipe, args=(c, up), daemon=True).start()
        pipe(up, c)


class Upload(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        a = Peer(cls.jid_of("alice"), cls.info["users"][cls.jid_of("alice")],
                 cls.info).connect()
        b = Peer(cls.jid_of("bob"), cls.info["users"][cls.jid_of("bob")],
                 cls.info).connect()
        try:
            make_contacts(a, b)
        finally:
            a.disconnect()
            b.disconnect()

    @classmethod
    def jid_of(cls, user):
        return "%s@%s" % (user, cls.info["domain"])

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="pxm-upload-")
        self._closers.append(self.tmp.cleanup)

    def start_host(self, ca=True):
        self.h = self.host()
        if ca:
            self.h.set_pref(CA_PREF, self.info["ca"])
        # slixmpp peers announce no caps: prpl-jabber then assumes they
        # take SI transfers, so "auto" would leave them to it.
        self.alice = self.online(self.h, "alice", xml=True, options={
            "xmpp-modern-xep0313-mam": False,
            "xmpp-modern-upload-mode": "always"})
        # Discovery done: the upload service answered its disco#info.
        self.h.wait_for("xml", lambda e: e["dir"] == "in"
                        and "from='%s'" % self.info["upload"] in e["xml"]
                        and "urn:xmpp:http:upload:0" in e["xml"])
        return self.h

    def file(self, name, size, seed=b"pxm"):
        path = os.path.join(self.tmp.name, name)
        block = hashlib.sha256(seed).digest() * 32
        with open(path, "wb") as f:
            left = size
            while left > 0:
                f.write(block[:min(left, len(block))])
                left -= len(block)
        with open(path, "rb") as f:
            return path, f.read()

    def xfer_end(self, xfer_id, timeout=30):
        return self.h.wait_for("xfer", lambda e: e["id"] == xfer_id and (
            e["status"] in ("done", "cancel_local", "cancel_remote")),
            timeout=timeout)

    # -- sending -----------------------------------------------------------
    def test_upload_to_contact(self):
        self.start_host()
        bob = self.peer("bob")
        path, data = self.file("report été.bin", 300 * 1024 + 7)
        reply = self.h.send_file(self.alice, bob.bare, path)
        self.assertTrue(reply["can_receive_file"])
        new = self.h.wait_for("xfer", lambda e: e["stage"] == "new"
                              and e["type"] == "send")
        end = self.xfer_end(new["id"])
        self.assertEqual(end["status"], "done", self.h.events("notify"))
        msg = bob.wait_message(lambda m: m["body"] and "https://" in m["body"])
        url = msg["body"]
        # Body and OOB element carry the same link (Conversations shows
        # it inline).
        self.assertEqual(oob_url(msg), url)
        self.assertTrue(url.startswith("https://"))
        self.assertEqual(sha256(bob.http_get(url)), sha256(data))
        # Progress was reported along the way.
        self.assertTrue(self.h.events("xfer", lambda e: e["id"] == new["id"]
                                      and e["stage"] == "progress"))

    def test_upload_command_in_room(self):
        self.start_host()
        bob = self.peer("bob")
        room = "files@%s" % self.info["muc"]
        bob.join_room(room, "bob")
        self.h.join_room(self.alice, room, "alice")
        path, data = self.file("room.txt", 1000)
        r = self.h.command(self.alice, room, "upload " + path, type="chat")
        self.assertEqual(r["status"], "ok", r)
        msg = bob.wait_message(lambda m: m["type"] == "groupchat"
                               and m["body"] and "https://" in m["body"])
        self.assertEqual(oob_url(msg), msg["body"])
        self.assertEqual(bob.http_get(msg["body"]), data)

    def storage_dir(self):
        if pxm_it.SERVER == "ejabberd":
            # mod_http_upload's docroot: <user hash>/<slot>/<file name>
            return self.server.upload_dir
        # Prosody's datamanager: data/<host, %-encoded>/http_file_share
        return os.path.join(self.server.data_dir,
                            self.info["upload"].replace(".", "%2e"),
                            "http_file_share")

    def storage(self):
        d = self.storage_dir()
        if pxm_it.SERVER == "ejabberd":
            return {os.path.relpath(os.path.join(root, name), d)
                    for root, _, files in os.walk(d) for name in files}
        return set(os.listdir(d)) if os.path.isdir(d) else set()

    def test_early_send_waits_for_discovery(self):
        """A file sent right after sign-on, before discovery answered,
        waits for it instead of failing."""
        self.h = self.host()
        self.h.set_pref(CA_PREF, self.info["ca"])
        bob = self.peer("bob")
        path, data = self.file("early.bin", 1000)
        self.alice = self.online(self.h, "alice", xml=True, options={
            "xmpp-modern-xep0313-mam": False,
            "xmpp-modern-upload-mode": "always"})
        self.h.send_file(self.alice, bob.bare, path)
        evs = self.h.events()
        sent_at = len(evs)
        answered = [i for i, e in enumerate(evs) if e.get("event") == "xml"
                    and e["dir"] == "in" and "urn:xmpp:http:upload:0"
                    in e["xml"] and "from='%s'" % self.info["upload"]
                    in e["xml"]]
        msg = bob.wait_message(lambda m: m["body"] and "https://" in m["body"])
        self.assertEqual(bob.http_get(msg["body"]), data)
        self.assertFalse(self.h.events("notify"))
        if answered and answered[0] < sent_at:
            print("note: discovery had already answered", file=sys.stderr)

    def test_room_menu_action(self):
        self.start_host()
        bob = self.peer("bob")
        room = "menu@%s" % self.info["muc"]
        bob.join_room(room, "bob")
        self.h.add_chat(self.alice, room, alias="Menu room")
        self.assertNotIn("Upload a File…", self.h.chat_menu(self.alice, room))
        self.h.join_room(self.alice, room, "alice")
        self.assertIn("Upload a File…", self.h.chat_menu(self.alice, room))
        path, data = self.file("menu.txt", 4000)
        self.h.chat_menu(self.alice, room, action="Upload a File…")
        req = self.h.wait_for_request(lambda e: e["type"] == "file")
        self.h.answer(req, value=path)
        msg = bob.wait_message(lambda m: m["type"] == "groupchat"
                               and m["body"] and "https://" in m["body"])
        self.assertEqual(oob_url(msg), msg["body"])
        self.assertEqual(bob.http_get(msg["body"]), data)

    def test_proxy_honoured(self):
        proxy = Socks5()
        self._closers.append(proxy.close)
        self.h = self.host()
        self.h.set_pref(CA_PREF, self.info["ca"])
        name = self.h.add_account(self.info, self.jid_of("alice"), options={
            "xmpp-modern-xep0313-mam": False,
            "xmpp-modern-upload-mode": "always"})
        self.h.set_proxy(name, "socks5", host="127.0.0.1", port=proxy.port)
        self.h.xml(name, True)
        self.h.connect_and_wait(name)
        self.h.wait_for("xml", lambda e: e["dir"] == "in"
                        and "from='%s'" % self.info["upload"] in e["xml"]
                        and "urn:xmpp:http:upload:0" in e["xml"])
        bob = self.peer("bob")
        path, data = self.file("proxied.bin", 5000)
        self.h.send_file(name, bob.bare, path)
        msg = bob.wait_message(lambda m: m["body"] and "https://" in m["body"])
        self.assertEqual(bob.http_get(msg["body"]), data)
        # The PUT went through the proxy, the name resolved by it.
        self.assertIn(("localhost", self.info["https_port"]), proxy.targets)

    def test_dead_proxy_fails(self):
        self.start_host()
        dead = socket.socket()
        dead.bind(("127.0.0.1", 0))
        port = dead.getsockname()[1]
        dead.close()
        self.h.set_proxy(self.alice, "socks5", host="127.0.0.1", port=port)
        bob = self.peer("bob")
        before = self.storage()
        path, _ = self.file("noproxy.bin", 3000)
        self.h.send_file(self.alice, bob.bare, path)
        note = self.h.wait_for("notify", lambda e: "file server" in (
            e.get("secondary") or ""), timeout=30)
        self.assertIn("Could not reach", note["secondary"])
        # No direct connection instead: the server got no file.
        self.assertEqual(self.storage(), before)
        with self.assertRaises(AssertionError):
            bob.wait_message(lambda m: m["body"] and "https://" in m["body"],
                             timeout=1)

    def test_http_500(self):
        self.start_host()
        bob = self.peer("bob")
        d = self.storage_dir()
        self.assertTrue(os.path.isdir(d))  # earlier uploads made it
        # ejabberd writes below a directory per user: every one read-only.
        dirs = [d] + ([os.path.join(root, sub) for root, subs, _ in os.walk(d)
                       for sub in subs] if pxm_it.SERVER == "ejabberd" else [])
        for one in dirs:
            mode = os.stat(one).st_mode
            os.chmod(one, 0o555)
            self._closers.append(lambda one=one, mode=mode: os.chmod(one, mode))
        path, _ = self.file("e500.bin", 2000)
        self.h.send_file(self.alice, bob.bare, path)
        note = self.h.wait_for("notify", lambda e: "HTTP" in (
            e.get("secondary") or ""), timeout=30)
        self.assertIn("HTTP 500", note["secondary"])
        with self.assertRaises(AssertionError):
            bob.wait_message(lambda m: m["body"] and "https://" in m["body"],
                             timeout=1)

    def test_too_large_refused_before_slot(self):
        self.start_host()
        bob = self.peer("bob")
        path, _ = self.file("big.bin", 16 * 1024 * 1024 + 1)
        self.h.send_file(self.alice, bob.bare, path)
        note = self.h.wait_for("notify", lambda e: "too large" in (
            (e.get("secondary") or "") + (e.get("primary") or "")))
        self.assertIn("16.0", note["secondary"])
        # No slot was asked for.
        self.assertFalse([e for e in self.h.events("xml") if e["dir"] == "out"
                          and "urn:xmpp:http:upload:0" in e["xml"]
                          and "<request" in e["xml"]])

    def test_cancel_mid_upload(self):
        self.start_host()
        bob = self.peer("bob")
        path, _ = self.file("cancel.bin", 15 * 1024 * 1024)
        before = self.storage()
        self.h.send_file(self.alice, bob.bare, path)
        prog = self.h.wait_for("xfer", lambda e: e["type"] == "send"
                               and e["stage"] == "progress"
                               and e["bytes_sent"] > 0, timeout=30)
        self.h.cancel_xfer(prog["id"])
        end = self.xfer_end(prog["id"])
        self.assertEqual(end["status"], "cancel_local")
        # The server kept nothing, not even a partial file.
        time.sleep(0.5)
        self.assertEqual(self.storage(), before)
        # No link was sent.
        with self.assertRaises(AssertionError):
            bob.wait_message(lambda m: m["body"] and "https://" in m["body"],
                             timeout=2)

    def test_tls_untrusted(self):
        # Without the test CA the upload server's certificate is refused.
        self.start_host(ca=False)
        bob = self.peer("bob")
        path, _ = self.file("tls.txt", 100)
        self.h.send_file(self.alice, bob.bare, path)
        note = self.h.wait_for("notify", lambda e: "secure connection" in (
            e.get("secondary") or ""))
        self.assertTrue(note)
        with self.assertRaises(AssertionError):
            bob.wait_message(lambda m: m["body"] and "https://" in m["body"],
                             timeout=1)

    # -- receiving ---------------------------------------------------------
    def accept(self, save_as):
        req = self.h.wait_for_request(lambda e: e["type"] == "action")
        self.h.answer(req, action=0)
        req = self.h.wait_for_request(lambda e: e["type"] == "file")
        self.h.answer(req, value=save_as)

    def test_download_link_from_contact(self):
        self.start_host()
        bob = self.peer("bob")
        path, data = self.file("from-bob.bin", 200 * 1024 + 3, seed=b"bob")
        url = bob.upload(path)
        bob.send_message(self.alice, url, extra_xml=(
            "<x xmlns='%s'><url>%s</url></x>" % (NS_OOB, url)))
        save = os.path.join(self.tmp.name, "saved.bin")
        self.accept(save)
        new = self.h.wait_for("xfer", lambda e: e["type"] == "receive"
                              and e["stage"] == "new")
        end = self.xfer_end(new["id"])
        self.assertEqual(end["status"], "done")
        # The size was known before accepting (HEAD).
        self.assertEqual(end["size"], len(data))
        with open(save, "rb") as f:
            self.assertEqual(sha256(f.read()), sha256(data))
        # The message itself is shown too.
        self.h.wait_for_conv_write(self.alice, bob.bare, "recv", url)

    def test_stranger_link_not_offered(self):
        self.start_host()
        carol = self.peer("carol")
        path, _ = self.file("carol.bin", 100)
        url = carol.upload(path)
        carol.send_message(self.alice, url, extra_xml=(
            "<x xmlns='%s'><url>%s</url></x>" % (NS_OOB, url)))
        self.h.wait_for_conv_write(self.alice, carol.bare, "recv", url)
        self.assertFalse(self.h.events("request", lambda e: e["type"] == "action"))
        self.assertFalse(self.h.events("xfer"))

    def aesgcm_link(self, bob, data, tamper=False):
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
        key = os.urandom(32)
        iv = os.urandom(12)
        blob = AESGCM(key).encrypt(iv, data, None)
        if tamper:
            blob = blob[:-1] + bytes([blob[-1] ^ 1])
        path = os.path.join(self.tmp.name, "enc.bin")
        with open(path, "wb") as f:
            f.write(blob)
        url = bob.upload(path, content_type="application/octet-stream")
        return "aesgcm://" + url[len("https://"):] + "#" + (iv + key).hex()

    def test_aesgcm_download(self):
        self.start_host()
        bob = self.peer("bob")
        _, data = self.file("secret.bin", 70000, seed=b"secret")
        link = self.aesgcm_link(bob, data)
        bob.send_message(self.alice, link)
        save = os.path.join(self.tmp.name, "secret-out.bin")
        self.accept(save)
        new = self.h.wait_for("xfer", lambda e: e["type"] == "receive"
                              and e["stage"] == "new")
        end = self.xfer_end(new["id"])
        self.assertEqual(end["status"], "done")
        with open(save, "rb") as f:
            self.assertEqual(f.read(), data)

    def test_aesgcm_bad_tag(self):
        self.start_host()
        bob = self.peer("bob")
        _, data = self.file("bad.bin", 5000, seed=b"bad")
        bob.send_message(self.alice, self.aesgcm_link(bob, data, tamper=True))
        save = os.path.join(self.tmp.name, "bad-out.bin")
        self.accept(save)
        new = self.h.wait_for("xfer", lambda e: e["type"] == "receive"
                              and e["stage"] == "new")
        end = self.xfer_end(new["id"])
        self.assertEqual(end["status"], "cancel_local")
        # Nothing kept: neither the file nor a partial one.
        self.assertFalse(os.path.exists(save))
        self.assertEqual([n for n in os.listdir(self.tmp.name)
                          if n.endswith(".part")], [])


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP File Upload (XEP-0363), OOB (XEP-0066) and aesgcm (XEP-0454) end to
end with Prosody's http_file_share: the headless host with the plugin is
alice, bob a contact on slixmpp, carol a stranger."""

import hashlib
import os
import tempfile

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
        self.h.send_file(self.alice, bob.bare, path)
        prog = self.h.wait_for("xfer", lambda e: e["type"] == "send"
                               and e["stage"] == "progress"
                               and e["bytes_sent"] > 0, timeout=30)
        self.h.cancel_xfer(prog["id"])
        end = self.xfer_end(prog["id"])
        self.assertEqual(end["status"], "cancel_local")
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

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Encrypted media (XEP-0454) end to end: in an OMEMO conversation between the
headless host with the plugin and an independent python-omemo peer, Send File
and /upload upload the file encrypted with AES-256-GCM to Prosody's
http_file_share and send only the aesgcm:// link, inside the encrypted
message; the peer decrypts the message, downloads the ciphertext and
decrypts it with python3-cryptography to the same bytes.  The https URL and
an OOB element never travel in clear."""

import hashlib
import os
import sys
import tempfile
import uuid

import pxm_it
from pxm_it import ServerTestCase

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from pxm_omemo_peer import OmemoPeer
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20
CA_PREF = "/plugins/core/core-xmpp-modern/upload/ca-file"
NS_OOB = "jabber:x:oob"


def open_aesgcm(peer, link):
    """Downloads and decrypts an aesgcm:// link (XEP-0454) as other clients
    do: https URL, fragment = hex IV (12 bytes) + key (32 bytes)."""
    assert link.startswith("aesgcm://"), link
    rest, frag = link[len("aesgcm://"):].split("#", 1)
    raw = bytes.fromhex(frag)
    iv, key = raw[:-32], raw[-32:]
    blob = peer.http_get("https://" + rest)
    return AESGCM(key).decrypt(iv, blob, None), "https://" + rest


class UploadOmemo(ServerTestCase):

    def user(self):
        name = "up-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        return jid, self.server.password(name)

    def setUp(self):
        super().setUp()
        self.tmp = tempfile.TemporaryDirectory(prefix="pxm-upomemo-")
        self._closers.append(self.tmp.cleanup)

    def file(self, name, size):
        path = os.path.join(self.tmp.name, name)
        data = (hashlib.sha256(name.encode()).digest() * (size // 32 + 1))[:size]
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def start(self):
        me, them = self.user(), self.user()
        peer = OmemoPeer(them[0], them[1], self.info)
        self._closers.append(peer.close)
        h = self.host()
        h.set_pref(CA_PREF, self.info["ca"])
        acc = h.add_account(self.info, me[0], password=me[1], options={
            "xmpp-modern-upload-mode": "always",
            "xmpp-modern-xep0313-mam": False})
        h.xml(acc, True)
        h.connect_and_wait(acc)
        h.wait_for("xml", lambda e: e["dir"] == "in"
                   and "from='%s'" % self.info["upload"] in e["xml"]
                   and "urn:xmpp:http:upload:0" in e["xml"])
        return h, acc, peer, them[0]

    def assert_nothing_in_clear(self, h, https_url):
        """Neither the file's https URL nor an OOB element on the wire
        (the PUT URL is the same path: it appears in the slot the server
        gives, which comes in, never out)."""
        out = [e["xml"] for e in h.events("xml") if e["dir"] == "out"]
        self.assertFalse([x for x in out if https_url in x],
                         "https URL sent in clear")
        self.assertFalse([x for x in out if NS_OOB in x],
                         "OOB element sent in clear")
        path = https_url.split("/", 3)[3]
        self.assertFalse([x for x in out if path in x])

    def check_encrypted_file(self, h, acc, peer, them, send, first=False):
        if not first:
            # An established conversation: one message first.
            h.send_im(acc, them, "hello")
            peer.wait_decrypted(lambda m: m["body"] == "hello",
                                timeout=TIMEOUT)
        path, data = self.file("secret-%s.bin" % uuid.uuid4().hex[:6],
                               150 * 1024 + 5)
        send(path)
        m = peer.wait_decrypted(lambda m: (m["body"] or "").startswith(
            "aesgcm://"), timeout=TIMEOUT)
        self.assertTrue(m["encrypted"])
        plain, https_url = open_aesgcm(peer, m["body"].strip())
        self.assertEqual(plain, data)
        # What the server stores is not the file.
        self.assertNotEqual(peer.http_get(https_url)[:64], data[:64])
        self.assert_nothing_in_clear(h, https_url)
        peer.assert_no_plaintext(m["body"].strip())

    def test_send_file_encrypted(self):
        h, acc, peer, them = self.start()

        def send(path):
            r = h.send_file(acc, them, path)
            self.assertTrue(r["can_receive_file"])
            new = h.wait_for("xfer", lambda e: e["stage"] == "new"
                             and e["type"] == "send")
            end = h.wait_for("xfer", lambda e: e["id"] == new["id"] and e[
                "status"] in ("done", "cancel_local", "cancel_remote"),
                timeout=TIMEOUT)
            self.assertEqual(end["status"], "done", h.events("notify"))

        self.check_encrypted_file(h, acc, peer, them, send)

    def test_file_first_in_conversation(self):
        """The file is the first thing sent to a contact with OMEMO: it is
        encrypted too (the account's default), never a plain link."""
        h, acc, peer, them = self.start()

        def send(path):
            r = h.command(acc, them, "upload " + path)
            self.assertEqual(r["status"], "ok", r)

        self.check_encrypted_file(h, acc, peer, them, send, first=True)

    def test_upload_command_encrypted(self):
        h, acc, peer, them = self.start()

        def send(path):
            r = h.command(acc, them, "upload " + path)
            self.assertEqual(r["status"], "ok", r)

        self.check_encrypted_file(h, acc, peer, them, send)


if __name__ == "__main__":
    pxm_it.main()

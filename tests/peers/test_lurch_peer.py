#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-test of the purple-lurch host (pxm_lurch.py): a headless libpurple with Debian's
purple-lurch and an OMEMO test peer (legacy) exchange encrypted messages both ways on
the private Prosody.  This proves the second OMEMO client the plugin is tested against."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))

import pxm_it  # noqa: E402 - exits 77 when the rig is missing
import pxm_server  # noqa: E402
from pxm_it import BUILD_ROOT, ServerTestCase  # noqa: E402

try:
    from pxm_omemo_peer import OmemoPeer
    from pxm_lurch import LurchError, LurchHost, lurch_path
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)
if lurch_path() is None:
    print("SKIP: purple-lurch is not installed")
    sys.exit(pxm_it.SKIP)


class LurchPeerTest(ServerTestCase):

    def user(self):
        name = "l-" + uuid.uuid4().hex[:8]
        for attempt in range(5):
            try:
                return self.server.register(name), self.server.password(name)
            except pxm_server.ServerError:
                # prosodyctl's SQLite commit can lose against the running server's
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def lurch(self):
        jid, password = self.user()
        h = LurchHost(BUILD_ROOT, self.info, jid, password=password)
        self._closers.append(h.close)
        return h

    def omemo(self, **kw):
        jid, password = self.user()
        p = OmemoPeer(jid, password, self.info, **kw)
        self._closers.append(p.close)
        return p

    def pair(self, **kw):
        lurch, peer = self.lurch(), self.omemo(**kw)
        lurch.make_contact(peer)
        # lurch learns a contact's devices from PEP notifications only.
        # Prosody sends the last items when the new contact's presence comes
        # in; ejabberd 23.01 does not (for a contact on the same server, only
        # on a presence probe): a new publication reaches lurch once the
        # peer's session holds lurch's caps (its presence reached the peer)
        # and the server has read what the caps hash stands for (its own
        # disco#info query, answered at lurch's sign-in: the first time on a
        # server it may still be under way, hence the few attempts).
        peer.wait_presence(lambda p: p["type"] == "available"
                           and p["from"].split("/")[0] == lurch.bare)
        for attempt in range(5):
            peer.republish_device_lists()
            try:
                lurch.wait_devices(peer.bare, [peer.device_id()], timeout=4)
                break
            except LurchError:
                if attempt == 4:
                    raise
        self.assertEqual(peer.device_list(lurch.bare, "oldmemo"), [lurch.device_id()])
        return lurch, peer

    def test_both_ways_legacy(self):
        lurch, peer = self.pair(versions=("oldmemo",))
        for i in range(3):      # key exchange first, then the established session
            text = "from peer %d <&> é" % i
            peer.send_encrypted(lurch.bare, text)
            m = lurch.wait_message(lambda m: m["body"] == text)
            self.assertEqual(m["from"].split("/")[0], peer.bare)
            text = "from lurch %d <&> é" % i
            lurch.send(peer.bare, text)
            m = peer.wait_decrypted(lambda m: m["body"] == text)
            self.assertEqual(m["version"], "oldmemo")
            self.assertEqual(m["sender_device"], lurch.device_id())
            lurch.assert_no_plaintext(text)
            peer.assert_no_plaintext(text)
        self.assertEqual(peer.errors, [])

    def test_lurch_starts(self):
        lurch, peer = self.pair(versions=("oldmemo",))
        lurch.send(peer.bare, "lurch speaks first")
        m = peer.wait_decrypted(lambda m: m["body"] == "lurch speaks first")
        # lurch 0.7 marks no key exchange with prekey="true" (the peer copes).
        self.assertNotIn('prekey="true"', m["xml"])
        self.assertTrue(m.get("quirks"))
        peer.send_encrypted(lurch.bare, "answer")
        lurch.wait_message(lambda m: m["body"] == "answer")
        lurch.assert_no_plaintext("lurch speaks first")

    def test_peer_with_both_versions_uses_legacy(self):
        lurch, peer = self.pair()
        peer.send_encrypted(lurch.bare, "picked for lurch")
        lurch.wait_message(lambda m: m["body"] == "picked for lurch")
        got = [e["xml"] for e in lurch.host.events("xml") if e["dir"] == "in"
               and "<encrypted" in e["xml"]]
        self.assertTrue(got)
        self.assertFalse([x for x in got if "urn:xmpp:omemo:2" in x])
        lurch.send(peer.bare, "back")
        self.assertEqual(peer.wait_decrypted(lambda m: m["body"] == "back")["version"],
                         "oldmemo")

    def test_fingerprint_and_commands(self):
        lurch, peer = self.pair(versions=("oldmemo",))
        fp = lurch.fingerprint(peer.bare)
        self.assertEqual(peer.devices(lurch.bare)[0]["fingerprint"]["oldmemo"], fp[-64:])
        lines = lurch.status(peer.bare)
        self.assertTrue(any("supports OMEMO" in line or "OMEMO is enabled" in line
                            for line in lines), lines)
        lurch.disable(peer.bare)
        lurch.send(peer.bare, "in clear on purpose")
        m = peer.wait_received(lambda m: m["body"] == "in clear on purpose")
        self.assertFalse(m["encrypted"])
        lurch.enable(peer.bare)
        lurch.send(peer.bare, "encrypted again")
        peer.wait_decrypted(lambda m: m["body"] == "encrypted again")
        lurch.assert_no_plaintext("encrypted again")


if __name__ == "__main__":
    pxm_it.main()

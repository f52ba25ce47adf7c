#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-test of the OMEMO test peer (pxm_omemo_peer.py) on the private Prosody:
two python-omemo peers exchange messages both ways in each version, version-restricted
peers pick the version they share, own devices read what a sibling sent (carbons),
device-list pushes arrive, sessions survive a restart, manual trust blocks encryption.
This proves the peer before the plugin's OMEMO is tested against it."""

import os
import sys
import tempfile
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "integration"))

import pxm_it  # noqa: E402 - exits 77 when the rig is missing
from pxm_it import ServerTestCase  # noqa: E402

try:
    from pxm_omemo_peer import OmemoPeer, OmemoPeerError, make_private_room
except ImportError as e:       # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)


class OmemoPeerTest(ServerTestCase):

    def user(self):
        """A fresh account: no device lists left over from other tests."""
        name = "o-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        return jid, self.server.password(name)

    def omemo(self, account, **kw):
        jid, password = account
        p = OmemoPeer(jid, password, self.info, **kw)
        self._closers.append(p.close)
        return p

    def exchange(self, a, b, version, expect_version=None):
        text = "secret %s %s" % (version, uuid.uuid4().hex[:6])
        a.send_encrypted(b.bare, text, version=version)
        m = b.wait_decrypted(lambda m: m["body"] == text, timeout=15)
        self.assertEqual(m["version"], expect_version or version)
        self.assertEqual(m["sender_device"], a.device_id())
        self.assertEqual(m["device"], b.device_id())
        self.assertTrue(m["encrypted"])
        self.assertNotIn(text, m["xml"])
        b.assert_no_plaintext(text)
        reply = "reply " + text
        b.send_encrypted(a.bare, reply, version=version)
        m = a.wait_decrypted(lambda m: m["body"] == reply, timeout=15)
        self.assertEqual(m["version"], expect_version or version)
        a.assert_no_plaintext(reply)
        return m

    def test_twomemo_both_ways(self):
        a, b = self.omemo(self.user()), self.omemo(self.user())
        for _ in range(3):     # key exchange, then established sessions
            self.exchange(a, b, "twomemo")
        first = [s for s in b.raw_stanzas if "urn:xmpp:omemo:2" in s and "<payload" in s]
        self.assertIn("kex=\"true\"", first[0])
        self.assertNotIn("kex=\"true\"", first[-1])
        self.assertEqual(a.errors + b.errors, [])

    def test_oldmemo_both_ways(self):
        a, b = self.omemo(self.user()), self.omemo(self.user())
        for _ in range(3):
            self.exchange(a, b, "oldmemo")
        first = [s for s in b.raw_stanzas if "eu.siacs.conversations.axolotl" in s
                 and "<payload" in s]
        self.assertIn("prekey=\"true\"", first[0])
        self.assertNotIn("prekey=\"true\"", first[-1])
        self.assertEqual(a.errors + b.errors, [])

    def test_version_restricted_peers(self):
        both = self.omemo(self.user())
        legacy = self.omemo(self.user(), versions=("oldmemo",))
        two = self.omemo(self.user(), versions="twomemo")
        # Without a version the sender uses what each device publishes.
        self.exchange(both, legacy, None, expect_version="oldmemo")
        self.exchange(both, two, None, expect_version="twomemo")
        # Nothing in common: nothing can be encrypted.
        with self.assertRaises(OmemoPeerError):
            legacy.send_encrypted(two.bare, "no common version")
        self.assertEqual(legacy.device_list(legacy.bare, "oldmemo"), [legacy.device_id()])
        self.assertEqual(legacy.device_list(legacy.bare, "twomemo"), [])
        self.assertEqual(two.device_list(two.bare, "oldmemo"), [])

    def test_own_devices_carbons_and_pushes(self):
        alice = self.user()
        a1 = self.omemo(alice, carbons=True)
        a2 = self.omemo(alice, carbons=True)
        b = self.omemo(self.user())
        # a2 added itself to the list a1 had published: a1 is told by PEP (+notify).
        for version in ("twomemo", "oldmemo"):
            a1.wait_device_list_push(lambda v, f, ids, version=version: v == version
                                     and f == a1.bare and a2.device_id() in ids)
            self.assertEqual(a1.device_list(a1.bare, version),
                             sorted([a1.device_id(), a2.device_id()]))
        for version in ("twomemo", "oldmemo"):
            text = "to bob and my phone " + version
            a1.send_encrypted(b.bare, text, version=version)
            m = b.wait_decrypted(lambda m: m["body"] == text, timeout=15)
            self.assertEqual(m["version"], version)
            m = a2.wait_decrypted(lambda m: m["body"] == text, timeout=15)
            self.assertEqual(m["carbon"], "sent")
            self.assertEqual(m["sender_device"], a1.device_id())
            reply = "reply " + text
            b.send_encrypted(a1.bare, reply, version=version)
            for dev in (a1, a2):
                dev.wait_decrypted(lambda m: m["body"] == reply, timeout=15)

    def test_plaintext_is_recorded(self):
        a = self.omemo(self.user())
        plain = self.peer("bob")
        plain.send_message(a.jid, "hello in clear")
        m = a.wait_received(lambda m: m["body"] == "hello in clear")
        self.assertFalse(m["encrypted"])
        self.assertIsNone(m["version"])

    def test_sessions_survive_restart(self):
        acc = self.user()
        with tempfile.TemporaryDirectory(prefix="pxm-omemo-store-") as store:
            a = self.omemo(acc, storage_dir=store, resource="fixed")
            b = self.omemo(self.user())
            self.exchange(a, b, "oldmemo")
            self.exchange(a, b, "twomemo")
            device, fp = a.device_id(), a.fingerprint("oldmemo")
            a.close()
            a = self.omemo(acc, storage_dir=store, resource="fixed")
            self.assertEqual(a.device_id(), device)
            self.assertEqual(a.fingerprint("oldmemo"), fp)
            for version in ("oldmemo", "twomemo"):
                text = "after restart " + version
                b.send_encrypted(a.bare, text, version=version)
                a.wait_decrypted(lambda m: m["body"] == text, timeout=15)
            self.assertEqual(a.errors, [])

    def test_manual_trust_blocks_encryption(self):
        a = self.omemo(self.user(), trust="manual")
        b = self.omemo(self.user())
        with self.assertRaises(OmemoPeerError):
            a.send_encrypted(b.bare, "not yet")
        self.assertEqual(a.undecided()[0]["device_id"], b.device_id())
        b.assert_no_plaintext("not yet")
        # Decrypting from an undecided device is allowed (python-omemo's rule).
        b.send_encrypted(a.bare, "from undecided")
        a.wait_decrypted(lambda m: m["body"] == "from undecided")
        a.set_trust(b.bare, b.fingerprint("twomemo", grouped=True), "verified")
        a.send_encrypted(b.bare, "now trusted")
        b.wait_decrypted(lambda m: m["body"] == "now trusted")

    def test_private_room(self):
        a, b = self.omemo(self.user()), self.omemo(self.user())
        room = "omemo-%s@%s" % (uuid.uuid4().hex[:6], self.info["muc"])
        make_private_room(a, room, [b.bare])
        b.join_room(room, "b")
        for version in ("twomemo", "oldmemo"):
            text = "room secret " + version
            a.send_room_encrypted(room, [a.bare, b.bare], text, version=version)
            m = b.wait_decrypted(lambda m: m["body"] == text, timeout=15)
            self.assertEqual((m["type"], m["real_jid"], m["version"]),
                             ("groupchat", a.bare, version))
            if version == "twomemo":
                self.assertEqual(m["sce"]["to"], room)
            # The room reflects a's own message back: recognised, not an error.
            a.wait_received(lambda m: m.get("own_echo") and m["type"] == "groupchat")
            reply = "room reply " + version
            b.send_room_encrypted(room, [a.bare, b.bare], reply, version=version)
            a.wait_decrypted(lambda m: m["body"] == reply, timeout=15)
            b.assert_no_plaintext(text)
        self.assertEqual(a.errors + b.errors, [])

    def test_fingerprints(self):
        a = self.omemo(self.user())
        b = self.omemo(self.user())
        devs = b.devices(a.bare)
        self.assertEqual([d["device_id"] for d in devs], [a.device_id()])
        self.assertEqual(devs[0]["fingerprint"]["twomemo"], a.fingerprint("twomemo"))
        self.assertEqual(devs[0]["fingerprint"]["oldmemo"], a.fingerprint("oldmemo"))
        self.assertEqual(len(a.fingerprint("oldmemo")), 64)
        self.assertEqual(devs[0]["versions"], ["oldmemo", "twomemo"])


if __name__ == "__main__":
    pxm_it.main()

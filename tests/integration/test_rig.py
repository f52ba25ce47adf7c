#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-test of the integration rig: private Prosody + slixmpp peers, no plugin.

Exit status: 0 pass, 1 fail, 77 skip (prosody or slixmpp missing)."""

import os
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PXM_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
for sub in ("tests/server", "tests/peers"):
    sys.path.insert(0, os.path.join(SOURCE_ROOT, sub))

SKIP = 77
try:
    import pxm_server
    if pxm_server.server_kind() != "prosody":
        raise ImportError("PXM_SERVER=%s not supported" % pxm_server.server_kind())
    if not pxm_server.prosody_available():
        raise ImportError("prosody not installed")
    import slixmpp  # noqa: F401
    import pxm_peer  # noqa: F401
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(SKIP)

from pxm_peer import Peer, PeerError, make_contacts, bare   # noqa: E402
from pxm_server import make_server, pids_for_dir             # noqa: E402


class RigTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.t0 = time.monotonic()
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-rig-")
        cls.server = make_server(os.path.join(cls.tmp.name, "server"))
        cls.info = cls.server.start()
        cls.users = cls.info["users"]
        cls.peers = []

    @classmethod
    def tearDownClass(cls):
        for p in cls.peers:
            p.disconnect()
        cls.server.stop()
        try:
            left = pids_for_dir(cls.server.workdir)
            assert not left, "prosody processes left behind: %s" % left
        finally:
            cls.tmp.cleanup()
        print("\nrig test took %.1f s" % (time.monotonic() - cls.t0), file=sys.stderr)

    @classmethod
    def peer(cls, user, resource=None, **connect_args):
        jid = "%s@%s" % (user, cls.info["domain"])
        p = Peer(jid, cls.users[jid], cls.info, resource=resource).connect(**connect_args)
        cls.peers.append(p)
        return p

    def test_1_info(self):
        info = self.info
        for key in ("domain", "c2s_port", "c2s_tls_port", "http_port", "https_port", "muc",
                    "upload", "ca", "server_cert", "users", "dir", "pid"):
            self.assertIn(key, info)
        self.assertTrue(os.path.exists(info["ca"]))
        self.assertTrue(os.path.exists(info["server_cert"]))
        self.assertTrue(self.server.is_running())

    def test_2_messages_carbons_mam(self):
        alice = self.peer("alice")
        alice2 = self.peer("alice", resource="second")
        bob = self.peer("bob", direct_tls=False)
        alice2.enable_carbons()
        make_contacts(alice, bob)
        self.assertEqual(alice.roster()[bob.bare]["subscription"], "both")

        body = "hello bob %f" % time.time()
        mid = alice.send_message(bob.bare, body, extra_xml="<active "
                                 "xmlns='http://jabber.org/protocol/chatstates'/>")
        got = bob.wait_message(lambda m: m["body"] == body)
        self.assertEqual(got["id"], mid)
        self.assertEqual(bare(got["from"]), alice.bare)
        self.assertIn("chatstates", got["xml"])

        # Carbon of the sent message at alice's second resource
        sent = alice2.wait_message(lambda m: m["carbon"] == "sent")
        self.assertEqual(sent["inner"]["body"], body)
        self.assertEqual(sent["inner"]["id"], mid)

        reply = "hi alice %f" % time.time()
        bob.send_message(alice.jid, reply)
        self.assertEqual(alice.wait_message(lambda m: m["body"] == reply)["type"], "chat")
        recv = alice2.wait_message(lambda m: m["carbon"] == "received")
        self.assertEqual(recv["inner"]["body"], reply)

        # MAM: both messages are in alice's archive, in order
        results = alice.mam_query(with_=bob.bare)
        bodies = [r["body"] for r in results]
        self.assertEqual(bodies[-2:], [body, reply])
        self.assertTrue(all(r["archive_id"] and r["stamp"] for r in results))
        self.assertEqual(alice.last_mam_fin["count"], len(results))
        # RSM: the last page with an empty <before/>, one item
        last = alice.mam_query(before=True, max=1)
        self.assertEqual([r["body"] for r in last], [reply])
        self.assertEqual(alice.mam_query(after=last[0]["archive_id"]), [])

        # disco and raw iq
        disco = alice.disco_info(self.info["domain"])
        self.assertIn("urn:xmpp:carbons:2", disco["features"])
        self.assertIn("urn:xmpp:mam:2", alice.disco_info(alice.bare)["features"])
        err = alice.send_iq("<iq type='get' to='%s'><query xmlns='urn:x-pxm:nothing'/></iq>"
                            % self.info["domain"])
        self.assertIn("type=\"error\"", err.replace("'", '"'))

    def test_3_upload(self):
        carol = self.peer("carol", direct_tls=True)
        payload = os.urandom(3000) + "é ü\n".encode()
        path = os.path.join(self.tmp.name, "hello file.bin")
        with open(path, "wb") as f:
            f.write(payload)
        url = carol.upload(path)
        self.assertTrue(url.startswith("https://localhost:%d/" % self.info["https_port"]), url)
        self.assertEqual(carol.http_get(url), payload)

    def test_4_muc(self):
        carol = self.peer("carol")
        dave = self.peer("dave")
        room = "rig-%d@%s" % (os.getpid(), self.info["muc"])
        carol.join_room(room, "carol")
        dave.join_room(room, "dave")
        mid = dave.send_room(room, "hello room")
        got = carol.wait_message(lambda m: m["type"] == "groupchat"
                                 and m["body"] == "hello room")
        self.assertEqual(got["from"], room + "/dave")
        # the sender gets its own message reflected, with the same id
        echo = dave.wait_message(lambda m: m["type"] == "groupchat" and m["id"] == mid)
        self.assertEqual(echo["body"], "hello room")
        archived = carol.mam_query(archive=room)
        self.assertIn("hello room", [r["body"] for r in archived])

    def test_5_bad_password(self):
        with self.assertRaises(PeerError):
            Peer("bob@localhost", "wrong", self.info).connect(timeout=10)


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)

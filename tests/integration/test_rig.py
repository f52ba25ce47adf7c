#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Self-test of the integration rig: private Prosody + slixmpp peers, no plugin.

Exit status: 0 pass, 1 fail, 77 skip (prosody or slixmpp missing)."""

import os
import socket
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PXM_SOURCE_ROOT") or os.path.dirname(os.path.dirname(HERE))
BUILD_ROOT = os.environ.get("PXM_BUILD_ROOT") or os.path.join(SOURCE_ROOT, "build")
for sub in ("tests/server", "tests/peers", "tests/host"):
    sys.path.insert(0, os.path.join(SOURCE_ROOT, sub))

SKIP = 77
try:
    import pxm_server
    if pxm_server.server_kind() not in ("prosody", "ejabberd"):
        raise ImportError("PXM_SERVER=%s not supported" % pxm_server.server_kind())
    if not pxm_server.server_available():
        raise ImportError("%s not installed" % pxm_server.server_kind())
    import slixmpp  # noqa: F401
    import pxm_peer  # noqa: F401
    import pxm_host  # noqa: F401
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(SKIP)

from pxm_peer import Peer, PeerError, make_contacts, bare   # noqa: E402
from pxm_server import make_server, pids_for_dir             # noqa: E402
from pxm_host import TestHost, HostError                     # noqa: E402


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
            left = cls.server.processes()
            assert not left, "server processes left behind: %s" % left
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

    def test_6_host_commands_and_events(self):
        """The headless host (plain libpurple, no plugin) against the server:
        each command and event issue 2 lists, as tests/host/README.md
        documents them."""
        t0 = time.time()
        user = self.server.register("erin")
        password = self.server.password("erin")
        host = TestHost(BUILD_ROOT, plugin=None)
        self.addCleanup(host.close)
        self.assertEqual(host.ready["plugins"], [])

        # Prefs: a new one is created, read back.
        self.assertTrue(host.set_pref("/pxm/rig/number", 42)["created"])
        self.assertEqual(host.get_pref("/pxm/rig/number"), 42)

        # An account setting that matters: a closed port, then the real one.
        erin = host.add_account(self.info, user, password=password)
        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            closed_port = sock.getsockname()[1]
        host.set_account(erin, "port", closed_port)
        host.cmd("connect", account=erin)
        err = host.wait_for("connection_error", lambda e: e["account"] == erin,
                            timeout=30)
        self.assertTrue(err["description"])
        self.assertIn("reason_name", err)
        host.disconnect(erin, wait=False)
        host.set_account(erin, "port", int(self.info["c2s_port"]))
        host.xml(erin, True)
        host.connect_and_wait(erin)
        self.assertTrue(host.events("connect_progress", lambda e: e["account"] == erin))
        # XML both ways: STARTTLS out, the server's <proceed/> in.
        self.assertTrue(host.events("xml", lambda e: e["dir"] == "out"
                                    and "<starttls" in e["xml"]))
        self.assertTrue(host.events("xml", lambda e: e["dir"] == "in"
                                    and "<proceed" in e["xml"]))

        # A subscription request (a request event), answered "Authorize".
        alice = self.peer("alice", resource="hostrig")
        alice.subscribe(bare(erin))
        req = host.wait_for_request(lambda e: e["type"] == "authorize"
                                    and bare(e["who"]) == alice.bare)
        host.answer(req, action=0)
        alice.wait_presence(lambda p: p["type"] == "subscribed"
                            and bare(p["from"]) == bare(erin))

        # Lines both ways with who, text, flags and time.
        host.send_im(erin, alice.jid, "Bonjour <b>Alice</b>")
        got = alice.wait_message(lambda m: m["body"] == "Bonjour Alice")
        self.assertEqual(bare(got["from"]), bare(erin))
        sent = host.wait_for_conv_write(erin, flag="send", text="Bonjour")
        self.assertIn("send", sent["flags"])
        alice.send_message(erin, "Salut Erin")
        w = host.wait_for_conv_write(erin, flag="recv", text="Salut Erin")
        self.assertEqual(bare(w["who"]), alice.bare)
        self.assertEqual(w["conv_type"], "im")
        self.assertLessEqual(abs(w["time"] - time.time()), 60)
        self.assertGreaterEqual(w["time"], int(t0) - 1)

        # A notification: prpl-jabber shows a headline with notify_formatted.
        alice.send_message(erin, "Annonce du jour", mtype="headline")
        n = host.wait_for("notify", lambda e: "Annonce du jour" in (e.get("text") or ""))
        self.assertEqual(n["type"], "formatted")

        # Rooms: join, send, a conversation command.
        room = "hostrig-%d@%s" % (os.getpid(), self.info["muc"])
        host.join_room(erin, room, "erin")  # first: owner, may set the topic
        alice.join_room(room, "alice")
        host.send_room(erin, room, "dans le salon")
        alice.wait_message(lambda m: m["type"] == "groupchat"
                           and m["body"] == "dans le salon")
        alice.send_room(room, "réponse du salon")
        w = host.wait_for_conv_write(erin, room, flag="recv", text="réponse du salon")
        self.assertEqual(w["who"], "alice")
        self.assertEqual(w["conv_type"], "chat")
        r = host.command(erin, room, "topic Sujet du test", type="chat")
        self.assertEqual(r["status"], "ok", r)
        alice.wait_message(lambda m: m["type"] == "groupchat"
                           and "Sujet du test" in m["xml"])
        r = host.command(erin, room, "nosuchcommand", type="chat")
        self.assertEqual(r["status"], "not_found", r)

        # Send a file: plain prpl-jabber only offers SI to resources that
        # advertise it, and the slixmpp peer does not, so the reply says it
        # cannot and no transfer starts. (Transfers with xfer progress
        # events: test_upload, through the plugin's HTTP upload.)
        path = os.path.join(self.tmp.name, "rig.txt")
        with open(path, "w") as f:
            f.write("contenu\n")
        reply = host.send_file(erin, alice.jid, path)
        self.assertIs(reply["can_receive_file"], False)
        self.assertFalse(host.events("xfer"))

        host.disconnect(erin)  # waits for signed_off
        self.assertEqual(host.close(), 0)
        self.assertEqual(host.history[-1]["event"], "exit")

    def test_7_modules(self):
        """Every module issue 2 asks for is loaded, on the right host, and
        the system Prosody's data is not ours."""
        if pxm_server.server_kind() == "ejabberd":
            return self.ejabberd_modules()
        want = {
            "localhost": {"roster", "tls", "saslauth", "disco", "carbons", "mam",
                          "pep", "bookmarks", "smacks", "csi_simple", "vcard4",
                          "vcard_legacy"},
            self.info["muc"]: {"muc", "muc_mam"},
            self.info["upload"]: {"http_file_share"},
        }
        for host, modules in want.items():
            out = self.server.prosodyctl("shell", 'module:list("%s")' % host)
            loaded = {line.strip() for line in out.splitlines()[1:]}
            self.assertEqual(modules - loaded, set(), "%s: %s" % (host, out))
        self.assertTrue(self.info["config"].startswith(self.info["dir"] + os.sep))
        self.assertIn(self.info["pid"], pids_for_dir(self.server.workdir))
        for user in ("alice", "bob"):
            self.assertFalse(os.path.exists(
                "/var/lib/prosody/localhost/accounts/%s.dat" % user))

    def ejabberd_modules(self):
        """ejabberd has no module list command: each module shows in disco
        (or as a stream feature), and nothing lives in the system's spool."""
        alice = self.peer("alice", resource="modules")
        want = {
            self.info["domain"]: {"urn:xmpp:carbons:2", "urn:xmpp:ping",
                                  "urn:xmpp:blocking", "vcard-temp",
                                  "jabber:iq:version", "urn:xmpp:time"},
            alice.bare: {"urn:xmpp:mam:2", "http://jabber.org/protocol/pubsub#publish"},
            self.info["muc"]: {"http://jabber.org/protocol/muc"},
            self.info["upload"]: {"urn:xmpp:http:upload:0"},
        }
        for jid, features in want.items():
            got = set(alice.disco_info(jid)["features"])
            self.assertEqual(features - got, set(), jid)
        self.assertTrue(self.info["config"].startswith(self.info["dir"] + os.sep))
        self.assertIn(self.info["pid"], self.server.processes())
        self.assertIn("alice", self.server.ejabberdctl("registered_users", "localhost"))
        # Mnesia (accounts, archive) in our spool, not /var/lib/ejabberd.
        self.assertTrue(os.path.exists(os.path.join(self.server.spool_dir, "schema.DAT")))

    def test_5_bad_password(self):
        with self.assertRaises(PeerError):
            Peer("bob@localhost", "wrong", self.info).connect(timeout=10)


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=2)
    sys.exit(0 if prog.result.wasSuccessful() else 1)

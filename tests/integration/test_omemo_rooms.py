#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OMEMO in private rooms (XEP-0384 section 5.3): the plugin in a headless host and
two python-omemo peers in a members-only, non-anonymous room on the private
Prosody.  After /omemo on, messages both ways are encrypted for every member and
read by all; the host's XML trace never holds the plaintext; our own message is
shown once (the room's reflection is recognised); an open room refuses /omemo on
with the reason; a member without OMEMO is named and nothing is sent."""

import sys
import unittest
import uuid

import pxm_it
from pxm_it import BUILD_ROOT, Peer, ServerTestCase

try:
    from pxm_omemo_peer import OmemoPeer, make_private_room
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)
try:
    from pxm_lurch import LurchHost, lurch_path
except ImportError:
    lurch_path = None

TIMEOUT = 20


class OmemoRooms(ServerTestCase):

    def user(self):
        name = "or-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        return jid, self.server.password(name)

    def omemo_peer(self, account, **kw):
        p = OmemoPeer(account[0], account[1], self.info, **kw)
        self._closers.append(p.close)
        return p

    def host_online(self, account):
        host = self.host()
        acc = host.add_account(self.info, account[0], password=account[1])
        host.xml(acc, True)
        host.connect_and_wait(acc)
        return host, acc

    def room_name(self):
        return "omemo-%s@%s" % (uuid.uuid4().hex[:8], self.info["muc"])

    def assert_not_on_wire(self, host, text):
        leaks = host.events("xml", lambda e: text in e.get("xml", ""))
        self.assertEqual(leaks, [], "plaintext on the wire")

    def omemo_on(self, host, acc, room):
        r = host.command(acc, room, "omemo on", type="chat")
        self.assertEqual(r["status"], "ok", r)

    def test_three_members(self):
        me, a_acc, b_acc = self.user(), self.user(), self.user()
        a = self.omemo_peer(a_acc)
        b = self.omemo_peer(b_acc)
        host, acc = self.host_online(me)
        room = self.room_name()
        make_private_room(a, room, [me[0], b.bare])
        b.join_room(room, "b")
        host.join_room(acc, room, "me")
        self.omemo_on(host, acc, room)
        host.wait_for_conv_write(account=acc, flag="system",
                                 text="OMEMO encryption is on for this room",
                                 timeout=TIMEOUT)
        members = [me[0], a.bare, b.bare]
        for i in range(2):
            text = "to the room %d %s" % (i, uuid.uuid4().hex[:6])
            host.send_room(acc, room, text)
            for p in (a, b):
                m = p.wait_decrypted(lambda m: m["body"] == text,
                                     timeout=TIMEOUT)
                self.assertEqual((m["type"], m["real_jid"]),
                                 ("groupchat", me[0]))
            self.assert_not_on_wire(host, text)
            reply = "from a %d %s" % (i, uuid.uuid4().hex[:6])
            a.send_room_encrypted(room, members, reply, refresh=(i == 0))
            host.wait_for_conv_write(account=acc, flag="recv", text=reply,
                                     timeout=TIMEOUT)
            b.wait_decrypted(lambda m: m["body"] == reply, timeout=TIMEOUT)
            other = "from b %d %s" % (i, uuid.uuid4().hex[:6])
            b.send_room_encrypted(room, members, other, refresh=(i == 0))
            host.wait_for_conv_write(account=acc, flag="recv", text=other,
                                     timeout=TIMEOUT)
            self.assert_not_on_wire(host, reply)
            self.assert_not_on_wire(host, other)
            # Our own message: shown once, as sent, the reflection included.
            a.wait_decrypted(lambda m: m["body"] == other, timeout=TIMEOUT)
            shown = [e for e in host.conv_writes(account=acc)
                     if text in (e.get("text") or "")]
            self.assertEqual(len(shown), 1, shown)
            self.assertIn("send", shown[0].get("flags", ()))
        bad = [e["text"] for e in host.conv_writes(account=acc)
               if "decrypt" in (e.get("text") or "")
               or "Not sent" in (e.get("text") or "")]
        self.assertEqual(bad, [])
        self.assertEqual(a.errors + b.errors, [])

    @unittest.skipIf(lurch_path is None or lurch_path() is None,
                     "purple-lurch is not installed")
    @pxm_it.prosody_only(
        "lurch reads a contact's device list from PEP notifications only, and "
        "ejabberd 23.01 sends a contact on the same server the last items only "
        "on a presence probe (mod_pubsub caps_add is for remote servers, "
        "out_subscription needs caps it cannot hold yet): lurch never learns "
        "the plugin's device of a new contact (test_lurch_peer makes the "
        "python peer publish again; the plugin has no reason to)")
    def test_with_lurch(self):
        """Three members: the host, a python-omemo peer and purple-lurch in a
        second host (legacy only, and it reads the first <encrypted/> of a
        message whatever its namespace)."""
        me, a_acc, l_acc = self.user(), self.user(), self.user()
        a = self.omemo_peer(a_acc)
        host, acc = self.host_online(me)
        lurch = LurchHost(BUILD_ROOT, self.info, l_acc[0], password=l_acc[1])
        self._closers.append(lurch.close)
        # lurch's device list and bundle are readable by its contacts only.
        lurch.make_contact(a)
        host.add_buddy(acc, lurch.bare)
        req = lurch.host.wait_for_request(
            lambda e: e.get("type") == "authorize" and e.get("who") == me[0],
            timeout=TIMEOUT)
        lurch.host.answer(req, 0)
        lurch.host.add_buddy(lurch.account, me[0])
        req = host.wait_for_request(
            lambda e: e.get("type") == "authorize"
            and e.get("who") == lurch.bare, timeout=TIMEOUT)
        host.answer(req, 0)
        lurch.wait_devices(me[0], timeout=TIMEOUT)
        room = self.room_name()
        make_private_room(a, room, [me[0], lurch.bare])
        host.join_room(acc, room, "me")
        lurch.host.join_room(lurch.account, room, "lurch")
        r = lurch.host.command(lurch.account, room, "lurch enable",
                               type="chat")
        self.assertEqual(r["status"], "ok", r)
        self.omemo_on(host, acc, room)
        host.wait_for_conv_write(account=acc, flag="system",
                                 text="OMEMO encryption is on for this room",
                                 timeout=TIMEOUT)
        for i in range(2):
            text = "host to room %d %s" % (i, uuid.uuid4().hex[:6])
            host.send_room(acc, room, text)
            lurch.wait_message(lambda m: m["body"] == text, timeout=TIMEOUT)
            a.wait_decrypted(lambda m: m["body"] == text, timeout=TIMEOUT)
            self.assert_not_on_wire(host, text)
            said = "lurch to room %d %s" % (i, uuid.uuid4().hex[:6])
            lurch.host.send_room(lurch.account, room, said)
            host.wait_for_conv_write(account=acc, flag="recv", text=said,
                                     timeout=TIMEOUT)
            a.wait_decrypted(lambda m: m["body"] == said, timeout=TIMEOUT)
            lurch.assert_no_plaintext(said)
            self.assert_not_on_wire(host, said)
        bad = [e["text"] for e in host.conv_writes(account=acc)
               if "decrypt" in (e.get("text") or "")
               or "Not sent" in (e.get("text") or "")]
        self.assertEqual(bad, [])

    def test_open_room_refused(self):
        me, a_acc = self.user(), self.user()
        a = self.omemo_peer(a_acc)
        host, acc = self.host_online(me)
        room = self.room_name()
        a.join_room(room, "a")     # Prosody's default: open, real JIDs hidden
        host.join_room(acc, room, "me")
        self.omemo_on(host, acc, room)
        w = host.wait_for_conv_write(account=acc, flag="system",
                                     text="OMEMO cannot be turned on in this "
                                     "room", timeout=TIMEOUT)
        self.assertIn("open to anyone", w["text"])
        text = "open room " + uuid.uuid4().hex[:6]
        host.send_room(acc, room, text)
        a.wait_received(lambda m: m["body"] == text and not m["encrypted"],
                        timeout=TIMEOUT)

    def test_member_without_omemo(self):
        me, a_acc, c_acc = self.user(), self.user(), self.user()
        a = self.omemo_peer(a_acc)
        plain = Peer(c_acc[0], c_acc[1], self.info).connect()
        self._closers.append(plain.disconnect)
        host, acc = self.host_online(me)
        room = self.room_name()
        make_private_room(a, room, [me[0], plain.bare])
        plain.join_room(room, "plain")
        host.join_room(acc, room, "me")
        self.omemo_on(host, acc, room)
        host.wait_for_conv_write(account=acc, flag="system",
                                 text="OMEMO encryption is on for this room",
                                 timeout=TIMEOUT)
        text = "must not leak " + uuid.uuid4().hex[:6]
        host.send_room(acc, room, text)
        w = host.wait_for_conv_write(account=acc, flag="system",
                                     text="Not sent", timeout=TIMEOUT)
        self.assertIn(plain.bare, w["text"])
        self.assertIn(text, w["text"])
        self.assert_not_on_wire(host, text)
        self.assertFalse([m for m in plain.pending_messages()
                          if text in str(m)])


if __name__ == "__main__":
    pxm_it.main()

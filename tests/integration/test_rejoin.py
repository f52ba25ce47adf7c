#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Rooms the UI rejoins at sign-on (Pidgin joins the rooms still open in
its window again from its own signed-on handler): the plugin has set the
account up before, so the join presence of a room with an archive asks
for no replay, and what was said meanwhile comes from the archive, once,
in order, as history.  A room whose archive the plugin knows nothing of
is asked first, as on a first join."""

import os
import tempfile
import time
import uuid

import pxm_it
from pxm_it import ServerTestCase

import pxm_server

MAM_SWITCH = "xmpp-modern-xep0313-mam"


class Rejoin(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-it-")
        cls.server = pxm_server.make_server(
            os.path.join(cls.tmp.name, "srv"), extra_users=["erin", "frank"])
        cls.info = cls.server.start()

    def room(self):
        return "rj-%s@%s" % (uuid.uuid4().hex[:8], self.info["muc"])

    def writes(self, host, account, text):
        return [e for e in host.conv_writes(account=account)
                if text in e["text"]]

    def wait_writes(self, host, account, count, text, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.writes(host, account, text)) >= count:
                return
            time.sleep(0.05)
        self.fail("%d writes with %r expected, got %d" % (
            count, text, len(self.writes(host, account, text))))

    def xml(self, host, account, start, direction):
        return [e["xml"] for e in host.events("xml")[start:]
                if e["dir"] == direction and e.get("account") == account]

    def joins(self, host, account, start, room):
        return [x for x in self.xml(host, account, start, "out")
                if x.startswith("<presence") and "protocol/muc'" in x
                and room in x]

    def replayed(self, host, account, start, room):
        """The room's history replay: delayed groupchat messages that did
        not come as archive results."""
        return [x for x in self.xml(host, account, start, "in")
                if x.startswith("<message") and "groupchat" in x
                and room in x and "urn:xmpp:delay" in x
                and "urn:xmpp:mam:2" not in x]

    def say_while_away(self, bob, room, prefix, count):
        texts = ["%s-%d" % (prefix, i) for i in range(count)]
        for text in texts:
            bob.send_room(room, text)
        # Archived: a room echoes a message after storing it.
        bob.wait_message(lambda m: m.get("body") == texts[-1])
        return texts

    def reconnect(self, host, account, room):
        """Sign on again and wait for the host's own rejoin."""
        start = len(host.events("xml"))
        host.connect_and_wait(account)
        host.wait_for("chat_joined",
                      lambda e: e.get("account") == account
                      and e.get("conversation") == room)
        return start

    def check_shown_once(self, host, account, room, bob, start, texts):
        # After the rejoin's replay (if any) and catch-up: a live line.
        bob.send_room(room, "live-after")
        live = host.wait_for_conv_write(account=account, text="live-after")
        self.assertNotIn("delayed", live["flags"])
        self.assertEqual(self.replayed(host, account, start, room), [])
        shown = [w for w in host.conv_writes(account=account)
                 if w["text"] in texts]
        self.assertEqual([w["text"] for w in shown], texts)
        for w in shown:
            self.assertIn("delayed", w["flags"])
            self.assertEqual(w["conversation"], room)

    def test_rejoin_room_with_archive(self):
        """A room joined before (its archive known): the rejoin's presence
        asks for no replay; the catch-up shows what was missed once, in
        order, as history; what was seen before is not shown again."""
        room = self.room()
        bob = self.peer("bob")
        bob.join_room(room, "bob")
        self.say_while_away(bob, room, "first-window", 1)

        host = self.host()
        host.rejoin()
        erin = self.online(host, "erin", xml=True)
        host.join_room(erin, room, "erin")
        # The first join's catch-up ended: live lines move the position.
        host.wait_for_conv_write(account=erin, flag="system",
                                 text="1 message from the room archive")
        bob.send_room(room, "seen-before")
        host.wait_for_conv_write(account=erin, text="seen-before")

        host.disconnect(erin)
        texts = self.say_while_away(bob, room, "missed", 3)
        start = self.reconnect(host, erin, room)
        self.wait_writes(host, erin, 3, "missed-")
        joins = self.joins(host, erin, start, room)
        self.assertEqual(len(joins), 1, joins)
        self.assertIn("<history maxstanzas='0'/>", joins[0])
        self.check_shown_once(host, erin, room, bob, start, texts)
        for text in ("first-window-0", "seen-before"):
            self.assertEqual(len(self.writes(host, erin, text)), 1, text)

    def test_rejoin_room_archive_unknown(self):
        """A room first joined with the archive extension off for the
        account, switched on while offline: the rejoin is its first join
        with it, asked whether the room keeps an archive first."""
        room = self.room()
        bob = self.peer("bob")
        bob.join_room(room, "bob")

        host = self.host()
        host.rejoin()
        frank = host.add_account(self.info, self.jid("frank"),
                                 options={MAM_SWITCH: False})
        host.xml(frank, True)
        host.connect_and_wait(frank)
        host.join_room(frank, room, "frank")

        host.disconnect(frank)
        host.set_account(frank, MAM_SWITCH, True)
        texts = self.say_while_away(bob, room, "unseen", 2)
        start = self.reconnect(host, frank, room)
        host.wait_for_conv_write(account=frank, flag="system",
                                 text="2 messages from the room archive")
        out = self.xml(host, frank, start, "out")
        disco = [i for i, x in enumerate(out)
                 if x.startswith("<iq") and "disco#info" in x and room in x]
        joins = [i for i, x in enumerate(out)
                 if x.startswith("<presence") and "protocol/muc'" in x
                 and room in x]
        self.assertTrue(disco, out)
        self.assertEqual(len(joins), 1, out)
        self.assertLess(disco[0], joins[0])
        self.assertIn("<history maxstanzas='0'/>", out[joins[0]])
        self.check_shown_once(host, frank, room, bob, start, texts)


if __name__ == "__main__":
    pxm_it.main()

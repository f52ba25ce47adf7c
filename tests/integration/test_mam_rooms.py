#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The first join of a room (XEP-0313 section 7, XEP-0045 section 7.2.14):
before the join presence leaves, the room is asked whether it keeps an
archive; a room with one is joined without history replay and its last
days come from its archive instead, once, in order, as history; a room
without one keeps its replay.  Passwords and nick conflicts still work."""

import os
import tempfile
import time
import uuid

import pxm_it
from pxm_it import ServerTestCase

import pxm_peer
import pxm_server

NS_MUC = "http://jabber.org/protocol/muc"


class MamRooms(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-it-")
        cls.server = pxm_server.make_server(
            os.path.join(cls.tmp.name, "srv"),
            extra_users=["erin", "frank", "grace"])
        cls.info = cls.server.start()

    def room(self):
        return "mr-%s@%s" % (uuid.uuid4().hex[:8], self.info["muc"])

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

    def configure(self, owner, room, fields):
        """XEP-0045 section 10.2: the owner submits the room's form."""
        values = "".join(
            "<field var='%s'><value>%s</value></field>" % kv
            for kv in fields.items())
        owner.iq("<iq type='set' to='%s'><query xmlns='%s#owner'><x "
                 "xmlns='jabber:x:data' type='submit'><field "
                 "var='FORM_TYPE'><value>%s#roomconfig</value></field>%s"
                 "</x></query></iq>" % (room, NS_MUC, NS_MUC, values))

    def room_with_history(self, bob, room, count, archived):
        bob.join_room(room, "bob")
        if not archived:
            # Not a registered field: Prosody's, and ejabberd's own.
            field = ("mam" if pxm_it.SERVER == "ejabberd"
                     else "muc#roomconfig_enablearchiving")
            self.configure(bob, room, {field: "0"})
        info = bob.disco_info(room)
        self.assertEqual("urn:xmpp:mam:2" in str(info), archived, info)
        texts = ["pre-%s-%d" % (room[:11], i) for i in range(count)]
        for text in texts:
            bob.send_room(room, text)
        # Everything stored (a room echoes a message after archiving it).
        bob.wait_message(lambda m: m.get("body") == texts[-1])
        return texts

    def xml(self, host, account, start, direction):
        return [e["xml"] for e in host.events("xml")[start:]
                if e["dir"] == direction and e.get("account") == account]

    def join_and_disco(self, host, account, start, room):
        """The room's disco#info went out before the join presence, which
        it returns."""
        out = self.xml(host, account, start, "out")
        disco = [i for i, x in enumerate(out)
                 if x.startswith("<iq") and "disco#info" in x
                 and room in x]
        joins = [i for i, x in enumerate(out)
                 if x.startswith("<presence") and "protocol/muc'" in x
                 and room in x]
        self.assertTrue(disco, out)
        self.assertEqual(len(joins), 1, out)
        self.assertLess(disco[0], joins[0])
        return out[joins[0]]

    def replayed(self, host, account, start, room):
        """Groupchat messages of @room that arrived with a delay, not as
        archive results: the room's history replay."""
        return [x for x in self.xml(host, account, start, "in")
                if x.startswith("<message") and "groupchat" in x
                and room in x and "urn:xmpp:delay" in x
                and "urn:xmpp:mam:2" not in x]

    def test_first_join_with_archive(self):
        """No replay; the first window from the room's archive, once, in
        order, as history; live messages after it as usual."""
        room = self.room()
        bob = self.peer("bob")
        texts = self.room_with_history(bob, room, 3, archived=True)

        host = self.host()
        erin = self.online(host, "erin", xml=True)
        start = len(host.events("xml"))
        host.join_room(erin, room, "erin")
        notice = host.wait_for_conv_write(
            account=erin, flag="system",
            text="3 messages from the room archive")
        self.assertEqual(notice["conversation"], room)
        join = self.join_and_disco(host, erin, start, room)
        self.assertIn("<history maxstanzas='0'/>", join)
        self.assertEqual(self.replayed(host, erin, start, room), [])
        shown = [w for w in host.conv_writes(account=erin)
                 if w["text"].startswith("pre-")]
        self.assertEqual([w["text"] for w in shown], texts)
        for w in shown:
            self.assertIn("delayed", w["flags"])
            self.assertIn("recv", w["flags"])
            self.assertEqual(w["conversation"], room)
        bob.send_room(room, "live-after")
        live = host.wait_for_conv_write(account=erin, text="live-after")
        self.assertNotIn("delayed", live["flags"])
        for text in texts:
            self.assertEqual(len(self.writes(host, erin, text)), 1, text)

    def test_first_join_without_archive(self):
        """A room that keeps no archive (archiving off in its
        configuration): joined as before, its replay shown once."""
        room = self.room()
        bob = self.peer("bob")
        texts = self.room_with_history(bob, room, 3, archived=False)

        host = self.host()
        frank = self.online(host, "frank", xml=True)
        start = len(host.events("xml"))
        host.join_room(frank, room, "frank")
        self.wait_writes(host, frank, 3, "pre-")
        join = self.join_and_disco(host, frank, start, room)
        self.assertNotIn("maxstanzas", join)
        self.assertEqual(len(self.replayed(host, frank, start, room)), 3)
        # After the replay: a live message, then no more.
        bob.send_room(room, "live-after")
        host.wait_for_conv_write(account=frank, text="live-after")
        shown = [w for w in host.conv_writes(account=frank)
                 if w["text"].startswith("pre-")]
        self.assertEqual([w["text"] for w in shown], texts)
        for w in shown:
            self.assertIn("delayed", w["flags"])
        self.assertEqual(
            self.writes(host, frank, "from the room archive"), [])

    def test_first_join_password_and_nick_conflict(self):
        """A password-protected room: the held join keeps its password.
        A nick already taken: the room's error reaches the prpl as
        before, and a join with another nick works."""
        room = self.room()
        bob = self.peer("bob")
        bob.join_room(room, "bob")
        self.configure(bob, room, {
            "muc#roomconfig_passwordprotectedroom": "1",
            "muc#roomconfig_roomsecret": "s3cret"})
        bob.send_room(room, "pw-history")
        bob.wait_message(lambda m: m.get("body") == "pw-history")

        host = self.host()
        grace = self.online(host, "grace", xml=True)
        start = len(host.events("xml"))
        host.join_room(grace, room, "bob", password="s3cret", wait=False)
        err = host.wait_for(
            "xml", lambda e: e["dir"] == "in" and e.get("account") == grace
            and e["xml"].startswith("<presence") and "conflict" in e["xml"])
        self.assertIn("type='error'", err["xml"])
        join = self.join_and_disco(host, grace, start, room)
        self.assertIn("<password>s3cret</password>", join)
        self.assertIn("<history maxstanzas='0'/>", join)

        host.join_room(grace, room, "grace", password="s3cret")
        host.wait_for_conv_write(account=grace, flag="system",
                                 text="1 message from the room archive")
        self.assertEqual(len(self.writes(host, grace, "pw-history")), 1)
        self.assertEqual(self.replayed(host, grace, start, room), [])


if __name__ == "__main__":
    pxm_it.main()

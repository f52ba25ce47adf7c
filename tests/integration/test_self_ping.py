#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""XEP-0410 end to end: the room service restarts under the host (Prosody's
MUC component reloaded: persistent rooms come back empty, without a word to
their occupants); the host notices within the (shortened) quiet period,
rejoins with its nick, says so in the room, and gets what was said while it
was out exactly once."""

import os
import time

import pxm_it
import pxm_server
from pxm_it import ServerTestCase

QUIET_SETTING = "xmpp-modern-self-ping-quiet"
QUIET_S = 2
NOTICE = "connection to this room was lost"


@pxm_it.prosody_only("the room service is restarted without its occupants "
                     "through Prosody's admin shell")
class SelfPing(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        # Persistent rooms survive a restart of the room service, empty:
        # the case XEP-0410 is for.
        import tempfile
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-it-")
        cls.server = pxm_server.make_server(
            os.path.join(cls.tmp.name, "srv"),
            extra_config="muc_room_default_persistent = true\n")
        cls.info = cls.server.start()

    def restart_room_service(self, room):
        """The room service loses its occupants without a word to them
        (a crash, a restart that kept no state): the room is saved
        without its occupants and dropped from memory; the next stanza
        to it loads it back, empty.  (Prosody's own reload keeps the
        occupants, so it would not do.)"""
        self.server.prosodyctl(
            "shell",
            '> local m = prosody.hosts["%s"].modules.muc; '
            'local r = m.get_room_from_jid("%s"); '
            'r:save(nil, false); m.forget_room(r); return "dropped"'
            % (self.info["muc"], room))

    def room(self, name):
        return "%s@%s" % (name, self.info["muc"])

    def pings(self, host, account, room):
        return [e for e in host.events("xml") if e.get("account") == account
                and e["dir"] == "out" and "urn:xmpp:ping" in e["xml"]
                and room in e["xml"]]

    def test_quiet_room_still_joined(self):
        """Pings to a room we are in change nothing: no rejoin, no line."""
        host = self.host()
        alice = self.online(host, "alice", xml=True,
                            options={QUIET_SETTING: QUIET_S})
        room = self.room("calme")
        host.join_room(alice, room, "alice")
        deadline = time.monotonic() + 4 * QUIET_S + 5
        while len(self.pings(host, alice, room)) < 2:
            self.assertLess(time.monotonic(), deadline, "no self-ping sent")
            time.sleep(0.2)
        self.assertEqual(
            [w for w in host.conv_writes(alice, room)
             if NOTICE in (w.get("text") or "").lower()], [])
        self.assertEqual(len(host.events(
            "chat_joined", lambda e: e.get("account") == alice)), 1)

    def test_room_restart_rejoins(self):
        host = self.host()
        alice = self.online(host, "alice", xml=True,
                            options={QUIET_SETTING: QUIET_S})
        bob = self.peer("bob")
        room = self.room("redemarrage")
        bob.join_room(room, "bob")
        host.join_room(alice, room, "alice")
        bob.send_room(room, "avant le redémarrage")
        host.wait_for_conv_write(alice, room, text="avant le redémarrage")

        self.restart_room_service(room)
        t0 = time.monotonic()
        # Bob's client would notice too; here it simply joins again.
        bob.join_room(room, "bob")
        bob.send_room(room, "pendant l'absence")

        line = host.wait_for_conv_write(alice, room, flag="system",
                                        text="lost", timeout=4 * QUIET_S + 15)
        self.assertIn(NOTICE, line["text"].lower())
        # Within the quiet period, plus the ping's round trip.
        self.assertLess(time.monotonic() - t0, 2 * QUIET_S + 10)
        # The room has us again (bob sees our presence) ...
        bob.wait_presence(lambda p: p["from"] == room + "/alice"
                          and p["type"] in (None, "", "available"))
        # ... with the same nick, and what was said meanwhile shows once.
        host.wait_for_conv_write(alice, room, text="pendant l'absence")
        bob.send_room(room, "après le retour")
        host.wait_for_conv_write(alice, room, text="après le retour")
        for text in ("avant le redémarrage", "pendant l'absence"):
            self.assertEqual(len([
                w for w in host.conv_writes(alice, room)
                if text in (w.get("text") or "")]), 1, text)
        # Still the conversation the user had: no second join.
        self.assertEqual(len(host.events(
            "chat_joined", lambda e: e.get("account") == alice)), 1)
        # Messages from the host reach the room again.
        host.send_room(alice, room, "je suis revenue")
        bob.wait_message(lambda m: m["body"] == "je suis revenue")


if __name__ == "__main__":
    pxm_it.main()

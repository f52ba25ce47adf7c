#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""XEP-0249 end to end: /invite in a room sends a direct invitation to the
invitee's bare JID next to the mediated one; a password-protected room's
invitation received both ways is offered once, and accepting it joins with
the password."""

import time

import pxm_it
from pxm_it import ServerTestCase

NS_CONFERENCE = "jabber:x:conference"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_MUC_OWNER = "http://jabber.org/protocol/muc#owner"


def conference(message):
    return message["element"].find("{%s}x" % NS_CONFERENCE)


def mediated(message):
    x = message["element"].find("{%s}x" % NS_MUC_USER)
    return x is not None and x.find("{%s}invite" % NS_MUC_USER) is not None


class Invitations(ServerTestCase):

    def room(self, name):
        return "%s@%s" % (name, self.info["muc"])

    def test_invite_sends_direct_and_mediated(self):
        host = self.host()
        alice = self.online(host, "alice")
        bob = self.peer("bob")
        room = self.room("invitations")
        host.join_room(alice, room, "alice")

        r = host.command(alice, room, "invite %s Viens voir" % self.jid("bob"),
                         type="chat")
        self.assertEqual(r["status"], "ok", r)
        direct = bob.wait_message(lambda m: conference(m) is not None)
        x = conference(direct)
        self.assertEqual(direct["to"].split("/")[0], self.jid("bob"))
        self.assertEqual(direct["from"].split("/")[0], self.jid("alice"))
        self.assertEqual(x.get("jid"), room)
        self.assertEqual(x.get("reason"), "Viens voir")
        self.assertIsNone(x.get("password"))
        relayed = bob.wait_message(mediated)
        self.assertEqual(relayed["from"], room)
        # Exactly one of each.
        time.sleep(1)
        self.assertFalse([m for m in bob.pending_messages()
                          if conference(m) is not None or mediated(m)])

    def test_received_both_ways_offered_once(self):
        host = self.host()
        alice = self.online(host, "alice", xml=True)
        bob = self.peer("bob")
        room = self.room("secrete")
        bob.join_room(room, "bob")
        bob.iq("<iq type='set' to='%s'><query xmlns='%s'><x "
               "xmlns='jabber:x:data' type='submit'>"
               "<field var='FORM_TYPE'><value>"
               "http://jabber.org/protocol/muc#roomconfig</value></field>"
               "<field var='muc#roomconfig_passwordprotectedroom'>"
               "<value>1</value></field>"
               "<field var='muc#roomconfig_roomsecret'><value>sésame</value>"
               "</field></x></query></iq>" % (room, NS_MUC_OWNER))

        bob.send_raw("<message to='%s'><x xmlns='%s' jid='%s' "
                     "password='sésame' reason='Entre donc'/></message>"
                     % (self.jid("alice"), NS_CONFERENCE, room))
        req = host.wait_for_request(
            lambda e: room in ((e.get("primary") or "")
                               + (e.get("secondary") or "")))
        self.assertIn("Entre donc", (req.get("primary") or "")
                      + (req.get("secondary") or ""))
        # The room relays bob's invitation too: not offered again.
        bob.send_raw("<message to='%s'><x xmlns='%s'><invite to='%s'>"
                     "<reason>Entre donc</reason></invite></x></message>"
                     % (room, NS_MUC_USER, self.jid("alice")))
        host.wait_for("xml", lambda e: e["dir"] == "in"
                      and "<invite" in e["xml"] and room in e["xml"])
        time.sleep(1)
        self.assertEqual(len(host.events(
            "request", lambda e: room in ((e.get("primary") or "")
                                          + (e.get("secondary") or "")))), 1)

        # Accepting joins with the password that came with it.
        host.answer(req, action=0)
        host.wait_for("chat_joined", lambda e: e.get("account") == alice
                      and e.get("conversation", "").lower() == room)
        bob.wait_presence(lambda p: p["from"] == room + "/alice")


if __name__ == "__main__":
    pxm_it.main()

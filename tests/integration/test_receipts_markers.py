#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Delivery receipts (XEP-0184) and displayed markers (XEP-0333) end to end:
the headless host with the plugin is alice, bob is a contact (mutual
subscription) on slixmpp, carol a stranger, alice's phone another resource.
Both directions: what the host asks for and how it shows the answers (the
conversation title, the plugin's signals), and what it answers when it
should and only then."""

import re
import time

import pxm_it
from pxm_it import ServerTestCase
from pxm_peer import Peer, make_contacts

NS_RECEIPTS = "urn:xmpp:receipts"
NS_MARKERS = "urn:xmpp:chat-markers:0"
DELIVERED = "xmpp-modern-message-delivered"
DISPLAYED = "xmpp-modern-message-displayed"
ASK = "<request xmlns='%s'/><markable xmlns='%s'/>" % (NS_RECEIPTS, NS_MARKERS)


def children(message, ns, tag):
    return message["element"].findall("{%s}%s" % (ns, tag))


def child(message, ns, tag):
    found = children(message, ns, tag)
    return found[0] if found else None


def is_receipt(message, id_=None):
    r = child(message, NS_RECEIPTS, "received")
    return r is not None and (id_ is None or r.get("id") == id_)


def is_displayed(message, id_=None):
    d = child(message, NS_MARKERS, "displayed")
    return d is not None and (id_ is None or d.get("id") == id_)


def advertise(peer, features):
    """Make `peer` announce `features` with XEP-0115 caps, through
    slixmpp's own xep_0115 (the peer facade does not load it)."""
    def load():
        xmpp = peer._xmpp
        xmpp.register_plugin("xep_0115")
        for feature in features:
            xmpp["xep_0030"].add_feature(feature)
    peer._call(load)
    peer._run(peer._xmpp["xep_0115"].update_caps(), 10, "update caps")


class ReceiptsMarkers(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # alice and bob share presence; carol is in nobody's roster.
        a = Peer(cls.jid_of("alice"), cls.info["users"][cls.jid_of("alice")],
                 cls.info).connect()
        b = Peer(cls.jid_of("bob"), cls.info["users"][cls.jid_of("bob")],
                 cls.info).connect()
        try:
            make_contacts(a, b)
        finally:
            a.disconnect()
            b.disconnect()

    @classmethod
    def jid_of(cls, user):
        return "%s@%s" % (user, cls.info["domain"])

    def start_host(self):
        self.h = self.host()
        # The archive catch-up would replay earlier tests' messages and
        # write its notice line into the conversations these tests read.
        self.alice = self.online(self.h, "alice", xml=True,
                                 options={"xmpp-modern-xep0313-mam": False})
        self.h.watch_signal(DELIVERED)
        self.h.watch_signal(DISPLAYED)
        return self.h

    def wait_presence_of(self, peer):
        """Until the host has received `peer`'s presence."""
        self.h.wait_for("xml", lambda e: e["dir"] == "in"
                        and "<presence" in e["xml"]
                        and "from='%s'" % peer.jid in e["xml"])

    def wait_caps_of(self, peer):
        """Until prpl-jabber has `peer`'s features (its disco#info answer
        to the caps query)."""
        self.h.wait_for("xml", lambda e: e["dir"] == "in"
                        and "type='result'" in e["xml"]
                        and "from='%s'" % peer.jid in e["xml"]
                        and "http://slixmpp.com/ver/" in e["xml"])

    def signals(self, name):
        return [e["args"] for e in self.h.events("signal")
                if e["signal"] == name]

    def sync(self, bob):
        """A round trip through the host: bob asks for a receipt and gets
        it, so whatever the host sent before has arrived."""
        mid = bob.send_message(self.alice, "sync", extra_xml=(
            "<request xmlns='%s'/>" % NS_RECEIPTS))
        bob.wait_message(lambda m: is_receipt(m, mid))

    # -- our messages ------------------------------------------------------

    def test_delivered_then_read_in_the_title(self):
        bob = self.peer("bob")
        advertise(bob, [NS_RECEIPTS, NS_MARKERS])
        host = self.start_host()
        self.wait_caps_of(bob)

        host.send_im(self.alice, bob.bare, "Bonjour")
        m = bob.wait_message(lambda m: m["body"] == "Bonjour")
        self.assertEqual(len(children(m, NS_RECEIPTS, "request")), 1, m["xml"])
        self.assertEqual(len(children(m, NS_MARKERS, "markable")), 1, m["xml"])
        mid = m["id"]
        self.assertTrue(mid)

        # Forged: a stranger confirming our id changes nothing.
        carol = self.peer("carol")
        carol.send_raw("<message to='%s' type='chat' id='f1'><received "
                       "xmlns='%s' id='%s'/></message>"
                       % (self.alice, NS_RECEIPTS, mid))
        bob.send_raw("<message to='%s' type='chat' id='r1'><received "
                     "xmlns='%s' id='%s'/></message>"
                     % (m["from"], NS_RECEIPTS, mid))
        host.wait_for("signal", lambda e: e["signal"] == DELIVERED)
        self.assertEqual(self.signals(DELIVERED),
                         [[self.alice, bob.bare, mid]])
        t = host.wait_for("conv_title", lambda e: "✓" in e["title"])
        self.assertEqual(t["title"], "%s — ✓ delivered" % bob.bare)

        bob.send_raw("<message to='%s' type='chat' id='d1'><displayed "
                     "xmlns='%s' id='%s'/></message>"
                     % (self.jid("alice"), NS_MARKERS, mid))
        host.wait_for("signal", lambda e: e["signal"] == DISPLAYED)
        self.assertEqual(self.signals(DISPLAYED),
                         [[self.alice, bob.bare, mid]])
        t = host.wait_for("conv_title", lambda e: "✓✓" in e["title"])
        self.assertRegex(t["title"], r"^%s — ✓✓ read at \d\d:\d\d$"
                         % re.escape(bob.bare))
        # A late receipt does not take "read" back.
        bob.send_raw("<message to='%s' type='chat' id='r2'><received "
                     "xmlns='%s' id='%s'/></message>"
                     % (m["from"], NS_RECEIPTS, mid))
        host.wait_for("signal", lambda e: e["signal"] == DELIVERED)
        host.cmd("ping")  # every event before its reply has been read
        self.assertIn("✓✓", host.events("conv_title")[-1]["title"])
        # Not one line per receipt or marker in the conversation.
        self.assertEqual(host.conv_writes(self.alice, bob.bare,
                                          flag="system"), [])

        # The next message has no state yet: the plain title is back.
        host.send_im(self.alice, bob.bare, "Encore")
        host.wait_for("conv_title", lambda e: e["title"] == bob.bare)
        self.assertNotIn("✓", host.view_conversation(
            self.alice, bob.bare)["title"])
        self.assertEqual(len(self.signals(DELIVERED)), 2)
        self.assertEqual(len(self.signals(DISPLAYED)), 1)

    def test_not_asked_of_clients_without_support(self):
        bob = self.peer("bob")
        advertise(bob, [])
        host = self.start_host()
        self.wait_caps_of(bob)
        host.send_im(self.alice, bob.bare, "Sans accusé")
        m = bob.wait_message(lambda m: m["body"] == "Sans accusé")
        self.assertEqual(children(m, NS_RECEIPTS, "request"), [], m["xml"])
        self.assertEqual(children(m, NS_MARKERS, "markable"), [], m["xml"])

    # -- their messages ----------------------------------------------------

    def test_receipt_on_arrival_displayed_when_seen(self):
        bob = self.peer("bob")
        host = self.start_host()
        self.wait_presence_of(bob)

        mid = bob.send_message(self.jid("alice"), "Coucou", extra_xml=ASK)
        r = bob.wait_message(lambda m: is_receipt(m))
        self.assertTrue(is_receipt(r, mid), r["xml"])
        self.assertEqual(r["from"], self.alice)
        self.assertEqual(r["to"], bob.jid)
        self.assertEqual(r["type"], "chat")
        host.wait_for_conv_write(self.alice, bob.bare, flag="recv",
                                 text="Coucou")
        # Not seen yet: no marker.
        self.sync(bob)
        self.assertFalse([m for m in bob.pending_messages()
                          if is_displayed(m)])

        # The user looks at the conversation: one marker, to the bare JID.
        host.view_conversation(self.alice, bob.bare)
        d = bob.wait_message(lambda m: is_displayed(m))
        self.assertTrue(is_displayed(d, mid), d["xml"])
        self.assertEqual(d["to"], bob.bare)
        self.assertEqual(children(d, NS_MARKERS, "markable"), [])
        # Looking again sends nothing more.
        host.view_conversation(self.alice, bob.bare)
        self.sync(bob)
        self.assertFalse([m for m in bob.pending_messages()
                          if is_displayed(m)])

        # While the user looks at it, a message is seen on arrival.
        mid2 = bob.send_message(self.jid("alice"), "Tu lis ?", extra_xml=ASK)
        d = bob.wait_message(lambda m: is_displayed(m))
        self.assertTrue(is_displayed(d, mid2), d["xml"])

        # Looking away: the next one waits until the user comes back.
        host.view_conversation(self.alice, bob.bare, focus=False)
        mid3 = bob.send_message(self.jid("alice"), "Plus tard", extra_xml=ASK)
        bob.wait_message(lambda m: is_receipt(m, mid3))
        self.sync(bob)
        self.assertFalse([m for m in bob.pending_messages()
                          if is_displayed(m)])
        host.view_conversation(self.alice, bob.bare)
        d = bob.wait_message(lambda m: is_displayed(m))
        self.assertTrue(is_displayed(d, mid3), d["xml"])

    def test_nothing_for_strangers_or_own_devices(self):
        bob = self.peer("bob")
        carol = self.peer("carol")
        phone = self.peer("alice")
        host = self.start_host()
        self.wait_presence_of(bob)

        carol.send_message(self.alice, "Qui suis-je ?", extra_xml=ASK)
        host.wait_for_conv_write(self.alice, carol.bare, flag="recv",
                                 text="Qui suis-je")
        host.view_conversation(self.alice, carol.bare)
        phone.send_message(self.alice, "Note à moi-même", extra_xml=ASK)
        w = host.wait_for_conv_write(self.alice, flag="recv",
                                     text="Note à moi-même")
        host.view_conversation(self.alice, w["conversation"])
        # Whatever the host would send them has arrived after this.
        self.sync(bob)
        time.sleep(0.3)
        for peer in (carol, phone):
            self.assertEqual(
                [m["xml"] for m in peer.pending_messages()
                 if is_receipt(m) or is_displayed(m)], [])

    def wait_carbons_enabled(self):
        """Until the server has accepted the carbons extension's
        <enable/>."""
        out = self.h.wait_for("xml", lambda e: e["dir"] == "out"
                              and "<enable xmlns='urn:xmpp:carbons:2'"
                              in e["xml"])
        iq_id = re.search(r"id='([^']+)'", out["xml"]).group(1)
        self.h.wait_for("xml", lambda e: e["dir"] == "in"
                        and "id='%s'" % iq_id in e["xml"]
                        and "type='result'" in e["xml"])

    def test_carbons_of_receipts(self):
        """A receipt alice's phone sends is not bob's; bob's receipt to
        the phone is."""
        bob = self.peer("bob")
        phone = self.peer("alice")
        host = self.start_host()
        self.wait_presence_of(bob)
        self.wait_carbons_enabled()
        host.send_im(self.alice, bob.bare, "Pour ton téléphone")
        m = bob.wait_message(lambda m: m["body"] == "Pour ton téléphone")
        self.assertIsNotNone(child(m, NS_RECEIPTS, "request"), m["xml"])
        mid = m["id"]

        phone.send_raw("<message to='%s' type='chat' id='p1'><received "
                       "xmlns='%s' id='%s'/></message>"
                       % (bob.jid, NS_RECEIPTS, mid))
        host.wait_for("xml", lambda e: e["dir"] == "in"
                      and "<sent xmlns='urn:xmpp:carbons:2'" in e["xml"]
                      and "id='p1'" in e["xml"])
        host.cmd("ping")
        self.assertEqual(self.signals(DELIVERED), [])

        bob.send_raw("<message to='%s' type='chat' id='b1'><received "
                     "xmlns='%s' id='%s'/></message>"
                     % (phone.jid, NS_RECEIPTS, mid))
        host.wait_for("signal", lambda e: e["signal"] == DELIVERED)
        self.assertEqual(self.signals(DELIVERED),
                         [[self.alice, bob.bare, mid]])

    def test_switched_off(self):
        bob = self.peer("bob")
        host = self.start_host()
        self.wait_presence_of(bob)
        for ext in ("xep0184-receipts", "xep0333-chat-markers"):
            r = host.command(self.alice, bob.bare,
                             "xmpp-modern disable " + ext)
            self.assertEqual(r["status"], "ok", r)

        host.send_im(self.alice, bob.bare, "Éteint")
        m = bob.wait_message(lambda m: m["body"] == "Éteint")
        self.assertEqual(children(m, NS_RECEIPTS, "request"), [], m["xml"])
        self.assertEqual(children(m, NS_MARKERS, "markable"), [], m["xml"])
        bob.send_message(self.jid("alice"), "Allô ?", extra_xml=ASK)
        host.wait_for_conv_write(self.alice, bob.bare, flag="recv",
                                 text="Allô")
        host.view_conversation(self.alice, bob.bare)
        # A message through the host and back is the synchronisation
        # point here (no receipts any more).
        host.send_im(self.alice, bob.bare, "Fin")
        bob.wait_message(lambda m: m["body"] == "Fin")
        self.assertEqual([m["xml"] for m in bob.pending_messages()
                          if is_receipt(m) or is_displayed(m)], [])


if __name__ == "__main__":
    pxm_it.main()

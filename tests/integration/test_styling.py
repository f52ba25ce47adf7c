#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""XEP-0393 end to end: styled messages from a slixmpp peer are shown once,
as HTML, in a one-to-one conversation and in a room; what is not styled
(or not to be styled) is left to prpl-jabber."""

import pxm_it
from pxm_it import ServerTestCase

EXT = "xep0393-styling"
NS_STYLING = "urn:xmpp:styling:0"
QUOTE = "<font color='#52799e'>"
MONO = "<font face='monospace'>"


class Styling(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.h = self.host()
        self.alice = self.online(self.h, "alice")
        self.bob = self.peer("bob")
        self.marks = 0

    def settle(self, conversation, send):
        """Everything sent before is shown once a later message is: send a
        marker through the same path and wait for it."""
        self.marks += 1
        mark = "marker %d" % self.marks
        send(mark)
        self.h.wait_for_conv_write(account=self.alice,
                                   conversation=conversation, text=mark)

    def writes(self, conversation, needle):
        return [e for e in self.h.conv_writes(account=self.alice,
                                              conversation=conversation)
                if needle in e["text"]]

    def receive_im(self, body, extra_xml=None, needle=None):
        """bob sends @body; returns the one conv_write that shows it."""
        bob = self.jid("bob")
        self.bob.send_message(self.jid("alice"), body, extra_xml=extra_xml)
        needle = needle or body.split()[0]
        w = self.h.wait_for_conv_write(account=self.alice, conversation=bob,
                                       flag="recv", text=needle)
        self.settle(bob, lambda t: self.bob.send_message(self.jid("alice"),
                                                         t))
        shown = self.writes(bob, needle)
        self.assertEqual(len(shown), 1, shown)
        return w

    def test_styled_im_shown_once(self):
        w = self.receive_im("Hello *world*, _you_ ~old~ and `a*b` <3")
        self.assertEqual(
            w["text"], "Hello <b>*world*</b>, <i>_you_</i> <s>~old~</s> and "
            + MONO + "`a*b`</font> &lt;3")
        self.assertIn("recv", w["flags"])

    def test_blocks(self):
        body = ("> Quoted *line*\n>> deeper\n"
                "```python\nif a < b: print(\"*x*\")\n```\nAfter.")
        w = self.receive_im(body, needle="Quoted")
        self.assertEqual(
            w["text"],
            QUOTE + "&gt; Quoted <b>*line*</b></font><br>"
            + QUOTE + "&gt;&gt; deeper</font><br>"
            + MONO + "```python</font><br>"
            + MONO + "if a &lt; b: print(&quot;*x*&quot;)</font><br>"
            + MONO + "```</font><br>After.")

    def test_unstyled_left_to_prpl(self):
        # No styling: the prpl shows it (it names the sender by full JID).
        plain = self.receive_im("Plain 2*3 = 6, snake_case <3")
        self.assertEqual(plain["text"], "Plain 2*3 = 6, snake_case &lt;3")
        styled = self.receive_im("Styled *text*")
        self.assertNotEqual(plain["who"], styled["who"])
        self.assertTrue(plain["who"].startswith(self.jid("bob") + "/"),
                        plain)

        # The sender's hint (section 7).
        w = self.receive_im("Hinted *text*",
                            extra_xml="<unstyled xmlns='%s'/>" % NS_STYLING)
        self.assertEqual(w["text"], "Hinted *text*")
        self.assertEqual(w["who"], plain["who"])

        # XHTML-IM has its own formatting: the prpl shows that.
        w = self.receive_im(
            "Rich *text*", needle="Rich",
            extra_xml="<html xmlns='http://jabber.org/protocol/xhtml-im'>"
            "<body xmlns='http://www.w3.org/1999/xhtml'><p>Rich <em>text</em>"
            "</p></body></html>")
        self.assertIn("<em>text</em>", w["text"])
        self.assertNotIn("<b>*", w["text"])

    def test_room(self):
        room = "styling@" + self.info["muc"]
        self.bob.join_room(room, "bob")
        self.h.join_room(self.alice, room, "alice")
        self.bob.send_room(room, "Room *news*:\n> _quoted_")
        w = self.h.wait_for_conv_write(account=self.alice, conversation=room,
                                       text="Room")
        self.assertEqual(w["text"], "Room <b>*news*</b>:<br>" + QUOTE
                         + "&gt; <i>_quoted_</i></font>")
        self.assertEqual(w["who"], "bob")
        self.assertIn("recv", w["flags"])
        self.bob.send_room(room, "plain in the room")
        self.h.wait_for_conv_write(account=self.alice, conversation=room,
                                   text="plain in the room")
        self.settle(room, lambda t: self.bob.send_room(room, t))
        self.assertEqual(len(self.writes(room, "Room")), 1)
        self.assertEqual(len(self.writes(room, "plain in the room")), 1)

        # A private message from an occupant stays with the prpl, which
        # shows it in a conversation with room/nick (the presenter knows
        # only bare JIDs).
        self.bob.send_message(room + "/alice", "Private *hi*")
        w = self.h.wait_for_conv_write(account=self.alice, text="Private")
        self.assertEqual(w["conversation"], room + "/bob")
        self.assertEqual(w["text"], "Private *hi*")

    def test_disabled(self):
        r = self.h.command(self.alice, self.jid("bob"),
                           "xmpp-modern disable " + EXT)
        self.assertEqual(r["status"], "ok", r)
        self.assertNotIn(NS_STYLING,
                         self.bob.disco_info(self.alice)["features"])
        w = self.receive_im("Off *now*")
        self.assertEqual(w["text"], "Off *now*")
        r = self.h.command(self.alice, self.jid("bob"),
                           "xmpp-modern enable " + EXT)
        self.assertEqual(r["status"], "ok", r)
        # Section 5: a client that renders styling says so.
        self.assertIn(NS_STYLING,
                      self.bob.disco_info(self.alice)["features"])
        w = self.receive_im("On *again*")
        self.assertEqual(w["text"], "On <b>*again*</b>")


if __name__ == "__main__":
    pxm_it.main()

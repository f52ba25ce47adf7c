#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Corrections (XEP-0308), retractions (XEP-0424), reactions (XEP-0444) and
replies (XEP-0461) end to end: what a slixmpp peer sends is shown as
specified (forged ones are not), and /correct, /retract, /react and /reply
send what the XEPs say, checked at the peer; in one-to-one conversations
and in a room."""

import time
import uuid

import pxm_it
from pxm_it import ServerTestCase

NS_CORRECT = "urn:xmpp:message-correct:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_REACTIONS = "urn:xmpp:reactions:0"
NS_REPLY = "urn:xmpp:reply:0"
NS_FALLBACK = "urn:xmpp:fallback:0"
NS_HINTS = "urn:xmpp:hints"
NS_SID = "urn:xmpp:sid:0"
NS_CLIENT = "jabber:client"
QUOTE = '<font color="#808080">┃ '
RETRACT_FALLBACK = ("/me retracted a previous message, but it's unsupported "
                    "by your client.")


def child(message, ns, tag):
    return message["element"].find("{%s}%s" % (ns, tag))


def children(element, ns, tag):
    return element.findall("{%s}%s" % (ns, tag))


def origin_id(message):
    el = child(message, NS_SID, "origin-id")
    return el.get("id") if el is not None else None


class MessageActions(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.h = self.host()
        # Each test stands alone: no catch-up of the earlier tests' messages
        # from the archive (XEP-0313), which would be shown (and handled)
        # while the test runs.
        self.alice = self.online(self.h, "alice",
                                 options={"xmpp-modern-xep0313-mam": False})
        self.bob = self.peer("bob")
        self.bob_jid = self.jid("bob")
        self.alice_jid = self.jid("alice")
        self.marks = 0

    # -- helpers -------------------------------------------------------------
    def settle(self, conversation=None, send=None):
        """Everything bob sent before is handled once a later message of
        his is shown: send one and wait for it."""
        conversation = conversation or self.bob_jid
        send = send or (lambda t: self.bob.send_message(self.alice_jid, t))
        self.marks += 1
        mark = "marker %d" % self.marks
        send(mark)
        self.h.wait_for_conv_write(account=self.alice,
                                   conversation=conversation, text=mark)

    def writes(self, needle, conversation=None, flag=None):
        return [e for e in self.h.conv_writes(
            account=self.alice, conversation=conversation or self.bob_jid,
            flag=flag) if needle in e["text"]]

    def bob_says(self, body, extra_xml=None):
        mid = self.bob.send_message(self.alice_jid, body, extra_xml=extra_xml)
        self.h.wait_for_conv_write(account=self.alice,
                                   conversation=self.bob_jid, flag="recv",
                                   text=body.split("\n")[-1].split()[0])
        return mid

    def bob_sends_raw(self, children_xml, mtype="chat", to=None):
        """A message of bob's without a body."""
        self.bob.send_raw("<message to='%s' type='%s' id='%s'>%s</message>"
                          % (to or self.alice_jid, mtype,
                             "pxm-" + uuid.uuid4().hex[:12], children_xml))

    def alice_says(self, text):
        """alice sends @text to bob; returns the message as bob got it."""
        self.h.send_im(self.alice, self.bob_jid, text, escape=True)
        return self.bob.wait_message(lambda m: m["body"] == text)

    def command(self, text, conversation=None, type="im"):
        r = self.h.command(self.alice, conversation or self.bob_jid, text,
                           type=type)
        self.assertEqual(r["status"], "ok", r)
        return r

    # -- XEP-0308 ------------------------------------------------------------
    def test_correction_received(self):
        mid = self.bob_says("Helo wrld")
        self.bob.send_message(
            self.alice_jid, "Hello world",
            extra_xml="<replace xmlns='%s' id='%s'/>" % (NS_CORRECT, mid))
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       text="Hello world")
        self.assertEqual(w["text"],
                         "✎ <i>correction of “Helo wrld”:</i> Hello world")
        self.assertIn("recv", w["flags"])
        self.assertEqual(len(self.writes("Helo wrld")), 2)  # kept, quoted

        # Forged: bob "corrects" alice's message.  Not applied: shown as
        # the ordinary message it then is.
        mine = self.alice_says("I said this")
        self.bob.send_message(
            self.alice_jid, "Forged words",
            extra_xml="<replace xmlns='%s' id='%s'/>"
                      % (NS_CORRECT, mine["id"]))
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       text="Forged words")
        self.assertEqual(w["text"], "Forged words")
        self.assertFalse(self.writes("✎ <i>correction of “I said this”"))

    def test_correct_command(self):
        first = self.alice_says("Helo Bob")
        self.command("correct Hello Bob")
        fixed = self.bob.wait_message(lambda m: m["body"] == "Hello Bob")
        replace = child(fixed, NS_CORRECT, "replace")
        self.assertIsNotNone(replace, fixed["xml"])
        self.assertEqual(replace.get("id"), first["id"])
        self.assertNotEqual(fixed["id"], first["id"])
        self.assertEqual(fixed["type"], "chat")
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="send", text="✎")
        self.assertEqual(w["text"],
                         "✎ <i>correction of “Helo Bob”:</i> Hello Bob")
        # Section 5: corrected again, still named by its first id.
        self.command("correct Hello, Bob")
        again = self.bob.wait_message(lambda m: m["body"] == "Hello, Bob")
        self.assertEqual(child(again, NS_CORRECT, "replace").get("id"),
                         first["id"])
        # Nothing to correct elsewhere.
        r = self.h.command(self.alice, self.jid("carol"), "correct x")
        self.assertEqual(r["status"], "failed", r)

    # -- XEP-0424 ------------------------------------------------------------
    def test_retraction_received(self):
        mid = self.bob_says("Secret plan")
        self.bob.send_message(
            self.alice_jid, RETRACT_FALLBACK,
            extra_xml="<retract xmlns='%s' id='%s'/><fallback xmlns='%s' "
                      "for='%s'/><store xmlns='%s'/>"
                      % (NS_RETRACT, mid, NS_FALLBACK, NS_RETRACT, NS_HINTS))
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="system", text="retracted")
        self.assertEqual(w["text"], "%s retracted a message (“Secret plan”)."
                         % self.bob_jid)
        # Forged: bob retracts alice's message.
        mine = self.alice_says("Keep this")
        self.bob.send_message(
            self.alice_jid, RETRACT_FALLBACK,
            extra_xml="<retract xmlns='%s' id='%s'/><fallback xmlns='%s' "
                      "for='%s'/>" % (NS_RETRACT, mine["id"], NS_FALLBACK,
                                      NS_RETRACT))
        self.settle()
        self.assertFalse(self.writes("unsupported by your client"))
        self.assertEqual(len(self.writes("retracted")), 1)

    def test_retract_command(self):
        mine = self.alice_says("Wrong window")
        self.command("retract")
        r = self.bob.wait_message(
            lambda m: child(m, NS_RETRACT, "retract") is not None)
        self.assertEqual(child(r, NS_RETRACT, "retract").get("id"),
                         mine["id"])
        self.assertEqual(r["body"], RETRACT_FALLBACK)
        self.assertEqual(child(r, NS_FALLBACK, "fallback").get("for"),
                         NS_RETRACT)
        self.assertIsNotNone(child(r, NS_HINTS, "store"))
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="system", text="retracted")
        self.assertEqual(w["text"],
                         "You retracted a message (“Wrong window”).")
        again = self.h.command(self.alice, self.bob_jid, "retract")
        self.assertEqual(again["status"], "failed", again)
        self.assertIn("already", again.get("cmd_error") or "")

    # -- XEP-0444 ------------------------------------------------------------
    def test_reactions_received(self):
        mine = self.alice_says("Lunch at noon?")
        # Business rules: the origin-id of a one-to-one message.
        target = origin_id(mine)
        self.assertIsNotNone(target, mine["xml"])
        react = ("<reactions xmlns='%s' id='%s'>%%s</reactions>"
                 "<store xmlns='%s'/>" % (NS_REACTIONS, target, NS_HINTS))
        self.bob_sends_raw(react % "<reaction>👍</reaction>")
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="system", text="reacted")
        self.assertEqual(w["text"], "%s reacted 👍 to “Lunch at noon?”."
                         % self.bob_jid)
        # The same again changes nothing: no second notice.
        self.bob_sends_raw(react % "<reaction>👍</reaction>")
        self.bob_sends_raw(react % "")
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="system", text="removed")
        self.assertEqual(w["text"], "%s removed their reactions to “Lunch at "
                         "noon?”." % self.bob_jid)
        self.assertEqual(len(self.writes("reacted 👍")), 1)
        # An unknown message; what is not an emoji is not shown.
        self.bob_sends_raw("<reactions xmlns='%s' id='nope'><reaction>🎉"
                           "</reaction><reaction>&lt;b&gt;lol</reaction>"
                           "</reactions>" % NS_REACTIONS)
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="system", text="🎉")
        self.assertEqual(w["text"], "%s reacted 🎉 to an earlier message."
                         % self.bob_jid)

    def test_react_command(self):
        pid = self.bob_says("Pizza tonight")
        self.command("react 🍕 👍 🍕")
        r = self.bob.wait_message(
            lambda m: child(m, NS_REACTIONS, "reactions") is not None)
        reactions = child(r, NS_REACTIONS, "reactions")
        # No origin-id on bob's message: its id.
        self.assertEqual(reactions.get("id"), pid)
        self.assertEqual([e.text for e in children(reactions, NS_REACTIONS,
                                                   "reaction")],
                         ["🍕", "👍"])
        self.assertIsNotNone(child(r, NS_HINTS, "store"))
        self.assertIsNone(r["body"])
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="system", text="reacted")
        self.assertEqual(w["text"], "You reacted 🍕 👍 to “Pizza tonight”.")
        bad = self.h.command(self.alice, self.bob_jid, "react lol")
        self.assertEqual(bad["status"], "failed", bad)

    # -- XEP-0461 ------------------------------------------------------------
    def test_reply_received(self):
        mine = self.alice_says("We should bake a cake")
        body = "> We should bake a cake\nGreat idea"
        self.bob.send_message(
            self.alice_jid, body,
            extra_xml="<reply xmlns='%s' to='%s' id='%s'/><fallback "
                      "xmlns='%s' for='%s'><body start='0' end='24'/>"
                      "</fallback>" % (NS_REPLY, self.alice_jid,
                                       origin_id(mine), NS_FALLBACK,
                                       NS_REPLY))
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="recv", text="Great idea")
        self.assertEqual(w["text"], QUOTE + "<b>You</b>: We should bake a "
                         "cake</font><br>Great idea")
        # To an unknown message: its fallback quote is the context.
        self.bob.send_message(
            self.alice_jid, "> A pie\nOr a pie",
            extra_xml="<reply xmlns='%s' id='unknown'/><fallback xmlns='%s' "
                      "for='%s'><body start='0' end='8'/></fallback>"
                      % (NS_REPLY, NS_FALLBACK, NS_REPLY))
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="recv", text="Or a pie")
        self.assertIn("A pie", w["text"])
        self.assertEqual(len(self.writes("A pie")), 1)

    def test_reply_command(self):
        q = self.bob_says("Shall we go")
        self.command("reply Yes, let us go")
        r = self.bob.wait_message(lambda m: child(m, NS_REPLY, "reply")
                                  is not None)
        reply = child(r, NS_REPLY, "reply")
        self.assertEqual(reply.get("id"), q)
        self.assertEqual(reply.get("to"), self.bob_jid)
        self.assertEqual(r["body"], "> Shall we go\nYes, let us go")
        fb = child(r, NS_FALLBACK, "fallback")
        self.assertEqual(fb.get("for"), NS_REPLY)
        self.assertEqual([(b.get("start"), b.get("end"))
                          for b in children(fb, NS_FALLBACK, "body")],
                         [("0", "14")])
        w = self.h.wait_for_conv_write(account=self.alice,
                                       conversation=self.bob_jid,
                                       flag="send", text="let us go")
        self.assertEqual(w["text"], QUOTE + "<b>%s</b>: Shall we go</font>"
                         "<br>Yes, let us go" % self.bob_jid)

    def test_reply_by_quoting(self):
        t = self.bob_says("Tea or coffee")
        # Quoted as a notice or quote line shows it, cut with "…".
        self.h.send_im(self.alice, self.bob_jid,
                       "&gt; Tea or…<br>Tea, merci")
        r = self.bob.wait_message(lambda m: (m["body"] or "").endswith(
            "merci"))
        self.assertEqual(r["body"], "> Tea or…\nTea, merci")
        self.assertEqual(child(r, NS_REPLY, "reply").get("id"), t)
        fb = child(r, NS_FALLBACK, "fallback")
        # XEP-0428: code points, not bytes.
        self.assertEqual(children(fb, NS_FALLBACK, "body")[0].get("end"),
                         "10")

    # -- /help -------------------------------------------------------------
    def test_help(self):
        """/help lists every command, in conversations and in rooms, with
        what it does (Pidgin and Finch show libpurple's help texts)."""
        room = "help-%s@%s" % (uuid.uuid4().hex[:6], self.info["muc"])
        self.h.join_room(self.alice, room, "alice")
        expected = {
            "correct": "Replace your last message",
            "retract": "Take back your last message",
            "react": "React to the last message you received",
            "reply": "Reply to the last message you received",
        }
        for conversation, type in ((self.bob_jid, "im"), (room, "chat")):
            for name, words in expected.items():
                texts = self.h.help(self.alice, conversation, name,
                                    type=type)
                self.assertEqual(len(texts), 1, (type, texts))
                self.assertTrue(texts[0].startswith(name), texts)
                self.assertIn(words, texts[0])
            listed = [t.split(" ", 1)[0].rstrip(":")
                      for t in self.h.help(self.alice, conversation,
                                           type=type)]
            for name in expected:
                self.assertIn(name, listed, type)

    # -- Rooms ---------------------------------------------------------------
    def test_room(self):
        room = "actions-%s@%s" % (uuid.uuid4().hex[:6], self.info["muc"])
        self.bob.join_room(room, "bob")
        self.h.join_room(self.alice, room, "alice")
        carol = self.peer("carol")
        carol.join_room(room, "carol")

        def in_room(text, flag=None):
            return self.h.wait_for_conv_write(account=self.alice,
                                              conversation=room, flag=flag,
                                              text=text)

        def bob_room(body, extra_xml=None):
            mid = self.bob.send_room(room, body, extra_xml=extra_xml)
            copy = self.bob.wait_message(
                lambda m: m["type"] == "groupchat" and m["body"] == body)
            return mid, copy["stanza_ids"].get(room)

        mid, sid = bob_room("Room hello")
        self.assertIsNotNone(sid)
        in_room("Room hello")

        # /react and /reply name the room's stanza-id (section 4.2 / 4.1).
        self.command("react 🎉", room, "chat")
        r = self.bob.wait_message(
            lambda m: child(m, NS_REACTIONS, "reactions") is not None)
        self.assertEqual(child(r, NS_REACTIONS, "reactions").get("id"), sid)
        w = in_room("reacted", "system")
        self.assertEqual(w["text"], "You reacted 🎉 to “Room hello”.")
        self.command("reply Hi bob", room, "chat")
        r = self.bob.wait_message(lambda m: child(m, NS_REPLY, "reply")
                                  is not None)
        self.assertEqual(child(r, NS_REPLY, "reply").get("id"), sid)
        self.assertEqual(child(r, NS_REPLY, "reply").get("to"),
                         room + "/bob")
        w = in_room("Hi bob")
        self.assertEqual(w["text"], QUOTE + "<b>bob</b>: Room hello</font>"
                         "<br>Hi bob")

        # A correction by bob; a forged one by carol is not applied.
        bob_room("Room hello!",
                 "<replace xmlns='%s' id='%s'/>" % (NS_CORRECT, mid))
        w = in_room("Room hello!")
        self.assertEqual(w["text"],
                         "✎ <i>correction of “Room hello”:</i> Room hello!")
        carol.send_room(room, "Carol forged",
                        "<replace xmlns='%s' id='%s'/>" % (NS_CORRECT, mid))
        w = in_room("Carol forged")
        self.assertEqual(w["text"], "Carol forged")

        # carol cannot retract bob's message; bob can.
        carol.send_room(room, RETRACT_FALLBACK,
                        "<retract xmlns='%s' id='%s'/>" % (NS_RETRACT, sid))
        bob_room(RETRACT_FALLBACK,
                 "<retract xmlns='%s' id='%s'/>" % (NS_RETRACT, sid))
        w = in_room("retracted", "system")
        self.assertEqual(w["text"],
                         "bob retracted a message (“Room hello”).")
        self.settle(room, lambda t: self.bob.send_room(room, t))
        self.assertFalse(self.writes("unsupported", room))
        self.assertEqual(len(self.writes("retracted", room)), 1)

        # alice's own message: /correct and /retract, shown from the
        # room's copies.
        self.h.send_room(self.alice, room, "Alice wass here", escape=True)
        original = self.bob.wait_message(
            lambda m: m["body"] == "Alice wass here")
        in_room("Alice wass here")
        self.command("correct Alice was here", room, "chat")
        fixed = self.bob.wait_message(
            lambda m: m["body"] == "Alice was here")
        self.assertEqual(child(fixed, NS_CORRECT, "replace").get("id"),
                         original["id"])
        w = in_room("Alice was here", "send")
        self.assertEqual(w["text"], "✎ <i>correction of “Alice wass "
                         "here”:</i> Alice was here")
        self.command("retract", room, "chat")
        r = self.bob.wait_message(
            lambda m: child(m, NS_RETRACT, "retract") is not None
            and m["from"].endswith("/alice"))
        # Section 5.1: the room's id of the first version.
        self.assertEqual(child(r, NS_RETRACT, "retract").get("id"),
                         original["stanza_ids"].get(room))
        w = in_room("You retracted", "system")
        self.assertEqual(w["text"],
                         "You retracted a message (“Alice wass here”).")


if __name__ == "__main__":
    t0 = time.monotonic()
    try:
        pxm_it.main()
    finally:
        print("took %.1f s" % (time.monotonic() - t0))

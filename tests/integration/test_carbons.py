#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Message Carbons (XEP-0280) and Client State Indication (XEP-0352) end to
end: the headless host with the plugin is one resource of alice, a slixmpp
client is her phone, bob is a contact."""

import re
import shutil
import tempfile
import time
import xml.etree.ElementTree as ET

import pxm_it
from pxm_it import ServerTestCase

NS_CARBONS = "urn:xmpp:carbons:2"
NS_CSI = "urn:xmpp:csi:0"
NS_SM = "urn:xmpp:sm:3"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
STANZAS = ("message", "presence", "iq")


def element(xml):
    """The top-level element of a trace line (stream prefixes tolerated), or
    None for what is not one (<?xml?>, the stream's opening tag)."""
    xml = re.sub(r"<(/?)stream:", r"<\1", xml)
    try:
        return ET.fromstring(xml)
    except ET.ParseError:
        return None


def local(tag):
    return tag.split("}", 1)[-1]


class CarbonsBase(ServerTestCase):

    def setUp(self):
        super().setUp()
        self.host_ = self.host()
        self.alice = self.online(self.host_, "alice", xml=True)
        self.wait_enabled()
        self.phone = self.peer("alice")
        self.bob = self.peer("bob")

    def trace(self, direction=None):
        return [(e["dir"], e["xml"]) for e in self.host_.events("xml")
                if e["account"] == self.alice
                and (direction is None or e["dir"] == direction)]

    def wait_for_trace(self, direction, predicate, timeout=10):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(predicate(x) for _, x in self.trace(direction)):
                return
            time.sleep(0.05)
        self.fail("no matching %s element in the trace" % direction)

    def enable_ids(self):
        """Ids of the carbons <enable/> IQs sent so far."""
        ids = []
        for _, xml in self.trace("out"):
            if "<iq" in xml and "<enable xmlns='%s'" % NS_CARBONS in xml:
                ids.append(element(xml).get("id"))
        return ids

    def wait_enabled(self, count=1, timeout=10):
        """Wait until the server has answered `count` enable requests with
        a result."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            ids = self.enable_ids()
            results = {element(xml).get("id") for _, xml in self.trace("in")
                       if xml.startswith("<iq") and "type='result'" in xml}
            if len(ids) >= count and all(i in results for i in ids[:count]):
                return
            time.sleep(0.05)
        self.fail("carbons were not enabled %d time(s): %s"
                  % (count, self.enable_ids()))

    def writes(self, text=None, conversation=None):
        return [e for e in self.host_.conv_writes(account=self.alice)
                if (text is None or text in e["text"])
                and (conversation is None or e["conversation"] == conversation)]

    def sentinel(self, text):
        """A message from bob to the host resource, shown by the prpl: once
        it is there, everything sent before it has been processed."""
        self.bob.send_message(self.alice, text)
        self.host_.wait_for_conv_write(account=self.alice, flag="recv",
                                       text=text)

    def conversations(self):
        """Bare JIDs of the conversations opened (prpl-jabber names them
        after the full JID that wrote)."""
        return [e["conversation"].split("/")[0]
                for e in self.host_.events("conv_created")]

    def assert_acks_exact(self):
        """XEP-0198: every <a h/> the prpl sent counts exactly the stanzas
        it received before it on that stream (carbons consumed by the plugin
        included).  Returns (last h sent, stanzas received so far)."""
        enabled = False
        count = 0
        last_checked = None
        events = self.trace()
        for direction, xml in events:
            el = element(xml)
            if el is None:
                continue
            name = local(el.tag)
            if direction == "in" and name == "enabled":
                enabled = True
                count = 0
            elif direction == "in" and enabled and name in STANZAS:
                count += 1
            elif direction == "out" and enabled and name == "a" \
                    and NS_SM in el.tag:
                self.assertEqual(int(el.get("h")), count, xml)
                last_checked = count
        self.assertTrue(enabled, "stream management was not enabled")
        return last_checked, count

    def wait_all_acked(self, timeout=10):
        """assert_acks_exact(), until an ack covers every stanza received:
        a consumed copy the prpl did not count would hold h back for
        good."""
        end = time.monotonic() + timeout
        while True:
            acked, received = self.assert_acks_exact()
            if acked == received:
                return received
            if time.monotonic() > end:
                self.fail("last ack h=%s, %d stanzas received"
                          % (acked, received))
            time.sleep(0.1)

    def archive_queries(self):
        """Ids of the archive queries (XEP-0313) sent so far."""
        return [element(x).get("id") for _, x in self.trace("out")
                if "<iq" in x and "<query xmlns='urn:xmpp:mam:2'" in x]

    def wait_catchup(self, before, timeout=10):
        """Until an archive query sent after the first `before` ones has
        its result (<fin/>) and no other is sent after it."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            queries = self.archive_queries()
            fins = {element(x).get("id") for _, x in self.trace("in")
                    if x.startswith("<iq") and "<fin" in x}
            if len(queries) > before and queries[-1] in fins:
                time.sleep(0.2)
                if self.archive_queries() == queries:
                    return
            time.sleep(0.05)
        self.fail("the archive catch-up did not end")


class Carbons(CarbonsBase):

    def test_enabled_with_feature(self):
        """The server is asked, carbons are enabled, and we advertise the
        feature to others."""
        out = [xml for _, xml in self.trace("out")]
        self.assertTrue(any("to='localhost'" in x and "disco#info" in x
                            for x in out))
        self.assertEqual(len(self.enable_ids()), 1)
        self.assertIn(NS_CARBONS,
                      self.bob.disco_info(self.alice)["features"])

    def test_sent_and_received(self):
        bob = self.jid("bob")
        # A message the user sends from the phone: ours, escaped, now.
        before = time.time()
        self.phone.send_message(bob, "Du téléphone <b>gras</b> & co")
        w = self.host_.wait_for_conv_write(account=self.alice,
                                           text="Du téléphone")
        self.assertEqual(w["conversation"], bob)
        self.assertIn("send", w["flags"])
        self.assertNotIn("recv", w["flags"])
        self.assertNotIn("delayed", w["flags"])
        self.assertEqual(w["text"],
                         "Du téléphone &lt;b&gt;gras&lt;/b&gt; &amp; co")
        self.assertLessEqual(abs(w["time"] - before), 5)

        # A message bob sends to the phone: from bob, received, now.
        self.bob.send_message(self.phone.jid, "Pour ton téléphone")
        w = self.host_.wait_for_conv_write(account=self.alice,
                                           text="Pour ton téléphone")
        self.assertEqual(w["conversation"], bob)
        self.assertIn("recv", w["flags"])
        self.assertNotIn("send", w["flags"])
        self.assertNotIn("delayed", w["flags"])
        self.assertEqual(w["who"].split("/")[0], bob)
        self.assertLessEqual(abs(w["time"] - before), 5)

        # Written while the phone was offline: shown at its own time.
        self.phone.send_message(
            bob, "Écrit dans le train",
            extra_xml="<delay xmlns='urn:xmpp:delay' "
                      "stamp='2024-01-02T03:04:05Z'/>")
        w = self.host_.wait_for_conv_write(account=self.alice,
                                           text="Écrit dans le train")
        self.assertIn("send", w["flags"])
        self.assertEqual(w["time"], 1704164645)

        self.sentinel("fin")
        for text in ("Du téléphone", "Pour ton téléphone",
                     "Écrit dans le train"):
            self.assertEqual(len(self.writes(text)), 1, text)
        # Nothing opened a conversation with ourselves.
        self.assertEqual(self.conversations(), [bob])
        self.wait_all_acked()

    def test_bodyless_copies(self):
        """Chat states of the phone and to the phone come as body-less
        copies: no conversation, nothing written."""
        bob = self.jid("bob")
        chatstate = "<composing xmlns='http://jabber.org/protocol/chatstates'/>"
        self.phone.send_message(bob, None, extra_xml=chatstate)
        self.bob.send_message(self.phone.jid, None, extra_xml=chatstate)
        # Both reached the host as copies.
        self.wait_for_trace("in", lambda x: "<sent xmlns='%s'" % NS_CARBONS
                            in x and "composing" in x)
        self.wait_for_trace("in", lambda x: "<received xmlns='%s'"
                            % NS_CARBONS in x and "composing" in x)
        self.sentinel("après les états")
        self.assertEqual(self.conversations(), [bob])
        self.assertEqual(len(self.writes()), 1)

    def test_forged_copy_from_contact(self):
        """Copies that bob makes up are not shown as ours (nor as his)."""
        me = self.jid("alice")
        forged_sent = (
            "<sent xmlns='%s'><forwarded xmlns='urn:xmpp:forward:0'>"
            "<message xmlns='jabber:client' type='chat' from='%s/phone' "
            "to='%s'><body>Faux envoyé</body></message></forwarded></sent>"
            % (NS_CARBONS, me, self.jid("carol")))
        forged_received = (
            "<received xmlns='%s'><forwarded xmlns='urn:xmpp:forward:0'>"
            "<message xmlns='jabber:client' type='chat' from='%s/home' "
            "to='%s/phone'><body>Faux reçu</body></message></forwarded>"
            "</received>" % (NS_CARBONS, self.jid("carol"), me))
        for payload in (forged_sent, forged_received):
            self.bob.send_message(self.alice, None, extra_xml=payload)
            self.bob.send_message(me, None, extra_xml=payload)
        self.sentinel("message honnête")
        time.sleep(0.3)
        self.assertEqual(self.writes("Faux"), [])
        self.assertEqual(self.conversations(), [self.jid("bob")])
        self.wait_all_acked()

    def test_no_duplicates_across_reconnect(self):
        bob = self.jid("bob")
        self.phone.send_message(bob, "avant 1")
        self.bob.send_message(self.phone.jid, "avant 2")
        self.host_.wait_for_conv_write(account=self.alice, text="avant 2")
        self.host_.wait_for_conv_write(account=self.alice, text="avant 1")
        self.wait_all_acked()

        queries = len(self.archive_queries())
        self.host_.disconnect(self.alice)
        # Meanwhile, on the phone: the archive (XEP-0313) brings these
        # after the reconnect, with what was shown before the link went
        # down if its position lags behind.
        self.phone.send_message(bob, "hors ligne 1")
        self.bob.send_message(self.phone.jid, "hors ligne 2")
        self.phone.wait_message(lambda m: m["body"] == "hors ligne 2")
        offline = time.time()
        self.host_.connect_and_wait(self.alice)
        # Re-enabled on every sign-in.
        self.wait_enabled(count=2)
        self.wait_catchup(queries)
        for text, flag in (("hors ligne 1", "send"), ("hors ligne 2", "recv")):
            w = self.host_.wait_for_conv_write(account=self.alice, text=text)
            self.assertEqual(w["conversation"], bob)
            self.assertIn(flag, w["flags"])
            self.assertIn("delayed", w["flags"])
            self.assertLessEqual(abs(w["time"] - offline), 5)
        self.phone.send_message(bob, "après 1")
        self.bob.send_message(self.phone.jid, "après 2")
        self.host_.wait_for_conv_write(account=self.alice, text="après 1")
        self.host_.wait_for_conv_write(account=self.alice, text="après 2")
        self.sentinel("fin")
        time.sleep(0.3)
        for text, flag in (("avant 1", "send"), ("avant 2", "recv"),
                           ("hors ligne 1", "send"),
                           ("hors ligne 2", "recv"),
                           ("après 1", "send"), ("après 2", "recv")):
            shown = self.writes(text)
            self.assertEqual(len(shown), 1, (text, shown))
            self.assertIn(flag, shown[0]["flags"])
        self.wait_all_acked()
        with open(self.info["log"], encoding="utf-8", errors="replace") as f:
            self.assertNotIn("new stanzas, but we sent", f.read())

    def test_disable_and_enable(self):
        """Turned off while online: the server is told, copies stop; on
        again: enabled again."""
        r = self.host_.command(self.alice, self.jid("bob"),
                               "xmpp-modern disable xep0280-carbons")
        self.assertEqual(r["status"], "ok", r)
        self.wait_for_trace("out", lambda x: "<disable xmlns='%s'"
                            % NS_CARBONS in x)
        self.phone.send_message(self.jid("bob"), "pendant la pause")
        self.sentinel("pause")
        self.assertEqual(self.writes("pendant la pause"), [])
        r = self.host_.command(self.alice, self.jid("bob"),
                               "xmpp-modern enable xep0280-carbons")
        self.assertEqual(r["status"], "ok", r)
        self.wait_enabled(count=2)
        self.phone.send_message(self.jid("bob"), "après la pause")
        self.host_.wait_for_conv_write(account=self.alice,
                                       text="après la pause", flag="send")


class AfterACrash(CarbonsBase):

    def setUp(self):
        self.userdir = tempfile.mkdtemp(prefix="pxm-carbons-")
        super().setUp()
        self._closers.insert(0, lambda: shutil.rmtree(self.userdir,
                                                      ignore_errors=True))

    def host(self, plugin=True, **kw):
        return super().host(plugin, userdir=self.userdir, keep_userdir=True,
                            **kw)

    def test_archive_brings_copies_back(self):
        """Killed just after showing copies, before the archive position
        moved past them (saved a few seconds after live messages), then
        started again: the catch-up brings the same messages from the
        archive (XEP-0313), and they are not shown again."""
        bob = self.jid("bob")
        self.wait_catchup(0)
        self.phone.send_message(bob, "avant la panne 1")
        self.bob.send_message(self.phone.jid, "avant la panne 2")
        self.host_.wait_for_conv_write(account=self.alice,
                                       text="avant la panne 1", flag="send")
        self.host_.wait_for_conv_write(account=self.alice,
                                       text="avant la panne 2", flag="recv")
        # What was shown is in the store half a second later.
        time.sleep(1.2)
        self.host_.proc.kill()
        self.host_.proc.wait()
        self.host_.wait_eof()

        self.host_ = self.host()
        self.alice = self.online(self.host_, "alice", xml=True)
        self.wait_catchup(0)
        fetched = [x for _, x in self.trace("in")
                   if "<result xmlns='urn:xmpp:mam:2'" in x
                   and "avant la panne" in x]
        self.assertEqual(len(fetched), 2, "the archive position was saved "
                         "before the kill: nothing was tested")
        self.sentinel("après la panne")
        self.assertEqual(self.writes("avant la panne"), [])
        self.assertEqual(self.conversations(), [bob])

class RoomPrivateMessages(CarbonsBase):

    def test_copy_goes_to_the_occupant_conversation(self):
        """A private message the phone sends to a room occupant is shown in
        the conversation with room/nick, the one prpl-jabber uses for that
        occupant's private messages."""
        room = "prive@" + self.info["muc"]
        occupant = room + "/bob"
        self.host_.join_room(self.alice, room, "alice")
        self.bob.join_room(room, "bob")
        self.phone.join_room(room, "alice-phone")

        # Prosody 0.12 copies private messages without the <x/> mark of
        # XEP-0045 section 7.5 only (its "muc-pm" rule is applied to
        # outgoing ones too); the joined room tells the plugin.
        self.phone.send_message(occupant, "en privé")
        w = self.host_.wait_for_conv_write(account=self.alice,
                                           text="en privé")
        self.assertEqual(w["conversation"], occupant)
        self.assertEqual(w["conv_type"], "im")
        self.assertIn("send", w["flags"])
        self.assertNotIn("recv", w["flags"])

        self.bob.send_message(room + "/alice", "réponse privée",
                              extra_xml="<x xmlns='%s'/>" % NS_MUC_USER)
        w = self.host_.wait_for_conv_write(account=self.alice,
                                           text="réponse privée")
        self.assertEqual(w["conversation"], occupant)
        self.assertEqual([w for w in self.writes(conversation=room)
                          if "system" not in w["flags"]], [])
        self.assertEqual(
            [e["conversation"] for e in self.host_.events("conv_created")
             if e["conv_type"] == "im"], [occupant])


class ClientState(CarbonsBase):

    def nonzas(self):
        out = []
        for _, xml in self.trace("out"):
            if NS_CSI in xml:
                out.append(local(element(xml).tag))
        return out

    def wait_nonzas(self, expected, timeout=10):
        end = time.monotonic() + timeout
        while self.nonzas() != expected and time.monotonic() < end:
            time.sleep(0.05)
        self.assertEqual(self.nonzas(), expected)

    def test_offered(self):
        self.assertTrue(any(
            d == "in" and "<csi xmlns='%s'" % NS_CSI in x
            for d, x in self.trace()))
        # Signed in available: the stream starts active, nothing said.
        self.assertEqual(self.nonzas(), [])

    def test_away_idle_and_back(self):
        self.host_.set_status(self.alice, "away")
        self.wait_nonzas(["inactive"])
        self.host_.set_idle(self.alice, True, seconds=600)
        self.host_.set_status(self.alice, "extended_away")
        self.host_.set_status(self.alice, "available")
        time.sleep(0.3)
        self.assertEqual(self.nonzas(), ["inactive"])
        self.host_.set_idle(self.alice, False)
        self.wait_nonzas(["inactive", "active"])
        self.host_.set_status(self.alice, "unavailable")  # busy: still here
        self.host_.set_status(self.alice, "available")
        time.sleep(0.3)
        self.assertEqual(self.nonzas(), ["inactive", "active"])
        # The server held nothing back for good: messages still arrive.
        self.sentinel("toujours là")

    def test_idle_alone(self):
        self.host_.set_idle(self.alice, True, seconds=900)
        self.wait_nonzas(["inactive"])
        self.host_.set_idle(self.alice, False)
        self.wait_nonzas(["inactive", "active"])

    def test_sign_in_while_away(self):
        self.host_.set_status(self.alice, "away")
        self.wait_nonzas(["inactive"])
        self.host_.disconnect(self.alice)
        self.host_.set_status(self.alice, "away")
        self.host_.connect_and_wait(self.alice)
        self.wait_nonzas(["inactive", "inactive"])

    def test_turned_off_while_inactive(self):
        self.host_.set_status(self.alice, "away")
        self.wait_nonzas(["inactive"])
        r = self.host_.command(self.alice, self.jid("bob"),
                               "xmpp-modern disable xep0352-csi")
        self.assertEqual(r["status"], "ok", r)
        self.wait_nonzas(["inactive", "active"])
        self.host_.set_status(self.alice, "available")
        self.host_.set_status(self.alice, "away")
        time.sleep(0.3)
        self.assertEqual(self.nonzas(), ["inactive", "active"])


if __name__ == "__main__":
    pxm_it.main()

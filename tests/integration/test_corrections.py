#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Corrections (XEP-0308) and retractions (XEP-0424) of one message: the
presenter records which shown message replaces which, so that a retraction
names (and quotes) the first version however often it was corrected, from
wherever, and whether or not the correction extension is on."""

import re
import time

import pxm_it
from pxm_it import ServerTestCase

NS_CORRECT = "urn:xmpp:message-correct:0"
NS_RETRACT = "urn:xmpp:message-retract:1"
NS_FALLBACK = "urn:xmpp:fallback:0"
RETRACT_FALLBACK = ("/me retracted a previous message, but it's unsupported "
                    "by your client.")


def replace(mid):
    return "<replace xmlns='%s' id='%s'/>" % (NS_CORRECT, mid)


class Corrections(ServerTestCase):

    def start(self, **options):
        self.h = self.host()
        # No catch-up of the other tests' messages from the archive.
        options["xmpp-modern-xep0313-mam"] = False
        self.alice = self.online(self.h, "alice", xml=True, options=options)
        self.bob = self.peer("bob")
        self.bob_jid = self.jid("bob")
        self.alice_jid = self.jid("alice")

    def shown(self, text, flag=None):
        return self.h.wait_for_conv_write(account=self.alice,
                                          conversation=self.bob_jid,
                                          flag=flag, text=text)

    def writes(self, needle):
        return [e for e in self.h.conv_writes(account=self.alice,
                                              conversation=self.bob_jid)
                if needle in e["text"]]

    def test_corrected_twice_then_retracted(self):
        """bob corrects a message twice (the second time naming his first
        correction, as some clients do), says something else, then
        retracts the message by its first id: the notice quotes the first
        version, once."""
        self.start()
        first = self.bob.send_message(self.alice_jid, "Helo wrld")
        self.shown("Helo wrld", "recv")
        second = self.bob.send_message(self.alice_jid, "Hello wrld",
                                       extra_xml=replace(first))
        w = self.shown("Hello wrld", "recv")
        self.assertEqual(w["text"],
                         "✎ <i>correction of “Helo wrld”:</i> Hello wrld")
        self.bob.send_message(self.alice_jid, "Hello world",
                              extra_xml=replace(second))
        w = self.shown("Hello world", "recv")
        self.assertEqual(w["text"],
                         "✎ <i>correction of “Hello wrld”:</i> Hello world")
        self.bob.send_message(self.alice_jid, "Something else")
        self.shown("Something else", "recv")
        self.bob.send_message(
            self.alice_jid, RETRACT_FALLBACK,
            extra_xml="<retract xmlns='%s' id='%s'/><fallback xmlns='%s' "
                      "for='%s'/>" % (NS_RETRACT, first, NS_FALLBACK,
                                      NS_RETRACT))
        w = self.shown("retracted", "system")
        self.assertEqual(w["text"], "%s retracted a message (“Helo wrld”)."
                         % self.bob_jid)
        # Everything bob sent before is handled once this is shown.
        self.bob.send_message(self.alice_jid, "The end")
        self.shown("The end", "recv")
        self.assertEqual(len(self.writes("retracted")), 1)
        self.assertFalse(self.writes("unsupported by your client"))

    def wait_carbons_enabled(self):
        out = self.h.wait_for("xml", lambda e: e["dir"] == "out" and
                              "<enable xmlns='urn:xmpp:carbons:2'"
                              in e["xml"])
        iq = re.search(r"id='([^']+)'", out["xml"]).group(1)
        self.h.wait_for("xml", lambda e: e["dir"] == "in" and
                        "type='result'" in e["xml"] and
                        "id='%s'" % iq in e["xml"])

    def test_retract_after_correction_elsewhere_correction_off(self):
        """With the correction extension off for the account, alice's
        phone corrects the message she sent from Pidgin: Pidgin shows the
        correction as a plain message and has no /correct, but /retract
        still takes back the message by its first id, as other clients
        know it (and as it did before the presenter kept the record)."""
        self.start(**{"xmpp-modern-xep0308-correction": False})
        phone = self.peer("alice")
        self.wait_carbons_enabled()
        self.h.send_im(self.alice, self.bob_jid, "Helo Bob")
        first = self.bob.wait_message(lambda m: m["body"] == "Helo Bob")
        phone.send_message(self.bob_jid, "Hello Bob",
                           extra_xml=replace(first["id"]))
        self.bob.wait_message(lambda m: m["body"] == "Hello Bob")
        w = self.shown("Hello Bob", "send")
        self.assertEqual(w["text"], "Hello Bob")
        r = self.h.command(self.alice, self.bob_jid, "correct Hello, Bob")
        self.assertNotEqual(r["status"], "ok", r)

        r = self.h.command(self.alice, self.bob_jid, "retract")
        self.assertEqual(r["status"], "ok", r)
        m = self.bob.wait_message(
            lambda m: m["element"].find("{%s}retract" % NS_RETRACT)
            is not None)
        self.assertEqual(
            m["element"].find("{%s}retract" % NS_RETRACT).get("id"),
            first["id"])
        w = self.shown("retracted", "system")
        self.assertEqual(w["text"], "You retracted a message (“Helo Bob”).")


if __name__ == "__main__":
    t0 = time.monotonic()
    try:
        pxm_it.main()
    finally:
        print("took %.1f s" % (time.monotonic() - t0))

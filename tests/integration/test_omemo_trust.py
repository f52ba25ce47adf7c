#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OMEMO trust flow (XEP-0384, issue 5 item 3): the host user verifies a
contact's device; the contact then adds a new device (a second python-omemo
peer on the same JID); the host asks about it (a request with its
fingerprint), a message sent before the answer is not encrypted for it, and
after "Trust" it is."""

import sys
import uuid

import pxm_it
from pxm_it import Peer, ServerTestCase
from pxm_peer import make_contacts

try:
    from pxm_omemo_peer import OmemoPeer
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20


class OmemoTrust(ServerTestCase):

    def user(self):
        name = "ot-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        return jid, self.server.password(name)

    def omemo_peer(self, account, **kw):
        jid, password = account
        p = OmemoPeer(jid, password, self.info, **kw)
        self._closers.append(p.close)
        return p

    def test_new_device_after_verification(self):
        me, them = self.user(), self.user()
        tag = uuid.uuid4().hex[:6]
        before, after, again = ("%s %s" % (w, tag)
                                for w in ("before", "after", "again"))
        one = self.omemo_peer(them, versions="twomemo", resource="one")
        # Contacts, so the host gets their device list pushes (PEP).
        mine = Peer(me[0], me[1], self.info, resource="setup")
        mine.connect()
        make_contacts(mine, one)
        mine.disconnect()
        host = self.host()
        acc = host.add_account(self.info, me[0], password=me[1])
        host.xml(acc, True)
        host.connect_and_wait(acc)

        host.send_im(acc, them[0], "hello")
        one.wait_decrypted(lambda m: m["body"] == "hello", timeout=TIMEOUT)
        r = host.command(acc, them[0], "omemo trust " + one.fingerprint())
        self.assertEqual(r["status"], "ok", r)

        two = self.omemo_peer(them, versions="twomemo", resource="two")
        new = str(two.device_id())
        # The device list push that names the new device reaches the host.
        host.wait_for("xml", lambda e: "urn:xmpp:omemo:2:devices" in
                      e.get("xml", "") and "'%s'" % new in e.get("xml", "")
                      or "\"%s\"" % new in e.get("xml", ""), timeout=TIMEOUT)

        host.send_im(acc, them[0], before)
        req = host.wait_for_request(
            lambda q: q.get("type") == "action" and
            new in (q.get("secondary") or ""), timeout=TIMEOUT)
        self.assertIn(two.fingerprint(grouped=True).lower(),
                      req["secondary"].lower())
        self.assertEqual(req["actions"][0].replace("_", ""), "Trust")
        host.wait_for_conv_write(account=acc, flag="system",
                                 text="has a new device")
        one.wait_decrypted(lambda m: m["body"] == before, timeout=TIMEOUT)
        self.assertFalse([m for m in two.received
                          if m.get("body") == before])

        host.answer(req, action=0)
        host.send_im(acc, them[0], after)
        two.wait_decrypted(lambda m: m["body"] == after, timeout=TIMEOUT)
        one.wait_decrypted(lambda m: m["body"] == after, timeout=TIMEOUT)
        # Asked once only.
        host.send_im(acc, them[0], again)
        two.wait_decrypted(lambda m: m["body"] == again, timeout=TIMEOUT)
        self.assertEqual(len(host.events("request", lambda q: new in
                                         (q.get("secondary") or ""))), 1)
        for text in (before, after, again):
            self.assertEqual(host.events("xml", lambda e: text in
                                         e.get("xml", "")), [])


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OMEMO interop with a second libpurple client: the plugin in one headless host,
Debian's purple-lurch 0.7 (legacy OMEMO) in another (tests/peers/pxm_lurch.py), on
the private Prosody.  One-to-one messages both ways, each side starting the session,
never a plaintext on the wire of either client.  lurch sends its key exchanges
without prekey="true": the plugin recognises them by their serialized form."""

import sys
import time
import uuid

import pxm_it
import pxm_server
from pxm_it import BUILD_ROOT, ServerTestCase

try:
    from pxm_lurch import LurchHost, lurch_path
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)
if lurch_path() is None:
    print("SKIP: purple-lurch is not installed")
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20


@pxm_it.prosody_only(
    "lurch reads a contact's device list from PEP notifications only, and "
    "ejabberd 23.01 sends a contact on the same server the last items only "
    "on a presence probe (mod_pubsub caps_add is for remote servers, "
    "out_subscription needs caps it cannot hold yet): lurch never learns "
    "the plugin's device of a new contact (test_lurch_peer makes the "
    "python peer publish again; the plugin has no reason to)")
class OmemoLurch(ServerTestCase):

    def user(self):
        name = "ol-" + uuid.uuid4().hex[:8]
        for attempt in range(5):
            try:
                return self.server.register(name), self.server.password(name)
            except pxm_server.ServerError:
                if attempt == 4:
                    raise
                time.sleep(0.2)

    def pair(self):
        """The plugin's host and a LurchHost, mutual contacts (lurch's PEP
        nodes are readable by contacts only), each knowing the other's
        device."""
        me, them = self.user(), self.user()
        host = self.host()
        acc = host.add_account(self.info, me[0], password=me[1])
        host.xml(acc, True)
        host.connect_and_wait(acc)
        lurch = LurchHost(BUILD_ROOT, self.info, them[0], password=them[1])
        self._closers.append(lurch.close)
        # Both ask, both authorise.
        host.add_buddy(acc, lurch.bare)
        req = lurch.host.wait_for_request(
            lambda e: e.get("type") == "authorize" and e.get("who") == me[0],
            timeout=TIMEOUT)
        lurch.host.answer(req, 0)
        lurch.host.add_buddy(lurch.account, me[0])
        req = host.wait_for_request(
            lambda e: e.get("type") == "authorize"
            and e.get("who") == lurch.bare, timeout=TIMEOUT)
        host.answer(req, 0)
        lurch.wait_devices(me[0], timeout=TIMEOUT)
        self.me = me[0]
        return host, acc, lurch

    def assert_not_on_wire(self, host, text):
        leaks = host.events("xml", lambda e: text in e.get("xml", ""))
        self.assertEqual(leaks, [], "plaintext on the wire")

    def assert_no_failure_line(self, host, acc):
        bad = [e["text"] for e in host.conv_writes(account=acc)
               if "decrypt" in (e.get("text") or "")
               or "Not sent" in (e.get("text") or "")]
        self.assertEqual(bad, [])

    def from_lurch(self, host, acc, lurch, i):
        text = "from lurch %d %s" % (i, uuid.uuid4().hex[:6])
        lurch.send(self.me, text)
        host.wait_for_conv_write(account=acc, flag="recv", text=text,
                                 timeout=TIMEOUT)
        lurch.assert_no_plaintext(text)
        self.assert_not_on_wire(host, text)

    def from_plugin(self, host, acc, lurch, i):
        text = "from pidgin %d %s é" % (i, uuid.uuid4().hex[:6])
        host.send_im(acc, lurch.bare, text)
        lurch.wait_message(lambda m: m["body"] == text, timeout=TIMEOUT)
        host.wait_for_conv_write(account=acc, flag="send", text=text)
        self.assert_not_on_wire(host, text)
        lurch.assert_no_plaintext(text)

    def test_lurch_starts(self):
        """lurch's first message is a key exchange without prekey="true"."""
        host, acc, lurch = self.pair()
        for i in range(2):
            self.from_lurch(host, acc, lurch, i)
            self.from_plugin(host, acc, lurch, i)
        got = [e["xml"] for e in host.events("xml") if e.get("dir") == "in"
               and "eu.siacs.conversations.axolotl'" in e["xml"]
               and "<payload>" in e["xml"]]
        self.assertTrue(got)
        self.assertFalse([x for x in got if "prekey=" in x])
        self.assert_no_failure_line(host, acc)

    def test_plugin_starts(self):
        host, acc, lurch = self.pair()
        for i in range(2):
            self.from_plugin(host, acc, lurch, i)
            self.from_lurch(host, acc, lurch, i)
        self.assert_no_failure_line(host, acc)
        # Legacy only: lurch does not read OMEMO 2.
        sent = [e["xml"] for e in host.events("xml") if e.get("dir") == "out"
                and "<encrypted" in e["xml"]]
        self.assertTrue(sent)
        self.assertFalse([x for x in sent if "urn:xmpp:omemo:2'" in x
                          and "<payload>" in x])


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OMEMO identity never regenerated silently (issue 5, key hygiene): the
account remembers its device; when its store is lost, OMEMO stays off and the
user is asked, and only after the user chose a new device is one published."""

import os
import shutil
import sys
import tempfile
import time
import uuid

import pxm_it
from pxm_it import ServerTestCase, TestHost, BUILD_ROOT

try:
    from pxm_omemo_peer import OmemoPeer
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20


class OmemoIdentity(ServerTestCase):

    def run_host(self, userdir, jid, password):
        host = TestHost(BUILD_ROOT, userdir=userdir, keep_userdir=True)
        self._closers.append(host.close)
        name = host.add_account(self.info, jid, password=password)
        host.connect_and_wait(name)
        return host, name

    def device_ids(self, peer, jid):
        return peer.device_list(jid, "twomemo")

    def wait_ids(self, peer, jid, predicate):
        end = time.monotonic() + TIMEOUT
        while True:
            ids = self.device_ids(peer, jid)
            if predicate(ids):
                return ids
            if time.monotonic() > end:
                self.fail("device list of %s: %r" % (jid, ids))
            time.sleep(0.2)

    def test_lost_store_asks_before_a_new_device(self):
        name = "oid-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        password = self.server.password(name)
        contact = "oidc-" + uuid.uuid4().hex[:8]
        peer = OmemoPeer(self.server.register(contact),
                         self.server.password(contact), self.info)
        self._closers.append(peer.close)
        userdir = tempfile.mkdtemp(prefix="pxm-omemo-id-")
        self.addCleanup(shutil.rmtree, userdir, True)

        # First run: a device is created, published and remembered.
        host, acc = self.run_host(userdir, jid, password)
        first = self.wait_ids(peer, jid, lambda ids: len(ids) == 1)
        host.close()

        # The store is lost (deleted; the account settings remain).
        store = os.path.join(userdir, "xmpp-modern", jid)
        self.assertTrue(os.path.isdir(store), store)
        shutil.rmtree(store)

        host, acc = self.run_host(userdir, jid, password)
        req = host.wait_for_request(
            lambda e: "OMEMO keys" in (e.get("primary") or ""),
            timeout=TIMEOUT)
        self.assertIn(str(first[0]), req["secondary"])
        # OMEMO is off and fails closed: nothing sent, the user told why;
        # no new device published.
        text = "after the loss " + uuid.uuid4().hex[:6]
        host.send_im(acc, peer.bare, text)
        host.wait_for_conv_write(account=acc, text="Not sent",
                                 timeout=TIMEOUT)
        time.sleep(1)
        self.assertEqual([m for m in peer.received
                          if text in (m.get("body") or "")], [])
        self.assertEqual(self.device_ids(peer, jid), first)

        # The user starts as a new device: published at once, and messages
        # go out encrypted again.
        host.answer(req, action=0)
        second = self.wait_ids(
            peer, jid, lambda ids: any(i not in first for i in ids))
        # The old device (its keys are gone) can then be removed.
        host.command(acc, peer.bare, "omemo remove-device %d" % first[0])
        self.wait_ids(peer, jid, lambda ids: ids == [i for i in second
                                                      if i != first[0]])
        text = "new device " + uuid.uuid4().hex[:6]
        host.send_im(acc, peer.bare, text)
        m = peer.wait_received(lambda m: text in (m.get("body") or ""),
                               timeout=TIMEOUT)
        self.assertTrue(m["encrypted"])
        host.close()


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""An OMEMO message that reaches the headless host only through the server
archive (XEP-0313 catch-up) is handed to the decrypt stage and shown in
clear, as history: the user's phone was online when it was sent, so the
server delivered it there and kept no offline copy."""

import shutil
import sys
import tempfile
import time
import uuid

import pxm_it
from pxm_it import BUILD_ROOT, Peer, ServerTestCase, TestHost

try:
    from pxm_omemo_peer import OmemoPeer
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20


class MamOmemo(ServerTestCase):

    def user(self):
        name = "mo-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        return jid, self.server.password(name)

    def host_online(self, account, host):
        jid, password = account
        name = host.add_account(self.info, jid, password=password)
        host.xml(name, True)
        host.connect_and_wait(name)
        return name

    def test_archived_omemo_decrypted(self):
        me, them = self.user(), self.user()
        userdir = tempfile.mkdtemp(prefix="pxm-mam-omemo-")
        self._closers.append(lambda: shutil.rmtree(userdir, True))
        host1 = TestHost(BUILD_ROOT, userdir=userdir, keep_userdir=True)
        self._closers.append(host1.close)
        acc1 = self.host_online(me, host1)
        peer = OmemoPeer(them[0], them[1], self.info)
        self._closers.append(peer.close)
        hello = "hello " + uuid.uuid4().hex[:6]
        peer.send_encrypted(me[0], hello, refresh=True)
        host1.wait_for_conv_write(account=acc1, flag="recv", text=hello,
                                  timeout=TIMEOUT)
        self.assertEqual(host1.close(), 0)

        phone = Peer(me[0], me[1], self.info).connect()
        self._closers.append(phone.disconnect)
        later = "archived " + uuid.uuid4().hex[:6]
        peer.send_encrypted(me[0], later)
        # Delivered to the phone (it cannot read it): not in offline
        # storage, in the archive.
        phone.wait_message(lambda m: m["from"].startswith(them[0]),
                           timeout=TIMEOUT)
        end = time.monotonic() + 10
        while time.monotonic() < end and len(
                phone.mam_query(with_=them[0], max=10)) < 2:
            time.sleep(0.2)

        host2 = self.host(userdir=userdir)
        acc2 = self.host_online(me, host2)
        w = host2.wait_for_conv_write(account=acc2, flag="recv", text=later,
                                      timeout=TIMEOUT)
        self.assertIn("delayed", w["flags"])
        self.assertEqual(w["conversation"].split("/")[0], them[0])
        xml_in = [e["xml"] for e in host2.events("xml") if e["dir"] == "in"]
        self.assertTrue(any("urn:xmpp:mam:2" in x and "<result" in x
                            for x in xml_in), "no archive result came")
        self.assertEqual(
            host2.events("xml", lambda e: later in e.get("xml", "")), [],
            "plaintext on the wire")
        time.sleep(1)
        self.assertEqual(len(host2.conv_writes(account=acc2, flag="recv")),
                         1, "hello shown again or the message twice")


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OMEMO and a dead link: a message typed to a contact with OMEMO while the
link between the host and the server is black-holed (the relay of
test_stream_management.py) waits for the reconnect and then arrives once,
encrypted, never in the clear."""

import sys
import time
import uuid

import pxm_it
from pxm_it import ServerTestCase
from test_stream_management import Relay

try:
    from pxm_omemo_peer import OmemoPeer
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20


class OmemoLinkDrop(ServerTestCase):

    def test_encrypted_message_typed_while_link_dead(self):
        name = "om-" + uuid.uuid4().hex[:8]
        them = self.server.register(name)
        peer = OmemoPeer(them, self.server.password(name), self.info)
        self._closers.append(peer.close)
        mine = "om-" + uuid.uuid4().hex[:8]
        me = self.server.register(mine)
        host = self.host()
        relay = Relay(self.info["c2s_port"])
        self._closers.append(relay.close)
        acc = host.add_account(dict(self.info, c2s_port=relay.port), me,
                               password=self.server.password(mine))
        host.xml(acc, True)
        host.connect_and_wait(acc)

        text = "chiffré pendant la coupure " + uuid.uuid4().hex[:6]
        relay.mode = "hole"
        host.send_im(acc, them, text)
        relay.cut()
        host.wait_for("connection_error",
                      lambda e: e.get("account") == acc, timeout=30)
        host.wait_for_conv_write(account=acc, flag="system",
                                 text="Not sent yet")
        host.connect_and_wait(acc)
        m = peer.wait_decrypted(lambda m: m["body"] == text, timeout=TIMEOUT)
        self.assertTrue(m["encrypted"])
        time.sleep(2)
        peer.wait_idle()
        got = [x for x in peer.received if x.get("body") == text]
        self.assertEqual(len(got), 1, got)
        host.wait_for_conv_write(account=acc, flag="send", text=text)
        sent = [w for w in host.conv_writes(acc, them, flag="send")
                if text in w["text"]]
        self.assertEqual(len(sent), 1, sent)
        leaks = host.events("xml", lambda e: text in e.get("xml", ""))
        self.assertEqual(leaks, [], "plaintext on the wire")
        peer.assert_no_plaintext(text)


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""XEP-0198 as prpl-jabber does it (acks, no resumption: unacknowledged
stanzas are sent again after the reconnect), with our origin-id, stanza-id
and archive catch-up on top: the link between the host and the server is a
loopback TCP relay the test can black-hole and cut."""

import re
import socket
import threading
import time

import pxm_it
from pxm_it import ServerTestCase


class Relay:
    """A TCP relay on 127.0.0.1 to the server's c2s port.  modes: 'pass'
    (both ways), 'hole' (bytes dropped both ways: a dead link), 'no-acks'
    (client to server passes, server to client dropped)."""

    def __init__(self, port):
        self.target = ("127.0.0.1", port)
        self.mode = "pass"
        self.pairs = []
        self.lock = threading.Lock()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            with self.lock:
                self.pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False),
                             daemon=True).start()

    def _pump(self, src, dst, upstream):
        while True:
            try:
                data = src.recv(65536)
            except OSError:
                return
            if not data:
                return
            if self.mode == "hole" or (self.mode == "no-acks" and not upstream):
                continue
            try:
                dst.sendall(data)
            except OSError:
                return

    def cut(self):
        """Every connection closed at once, both sides."""
        with self.lock:
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for s in pair:
                # shutdown() acts at once; close() alone waits for the
                # pump thread blocked in recv() on the socket.
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()
        self.mode = "pass"

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()


class StreamManagement(ServerTestCase):

    def relayed(self, host, user):
        relay = Relay(self.info["c2s_port"])
        self._closers.append(relay.close)
        info = dict(self.info, c2s_port=relay.port)
        account = host.add_account(info, self.jid(user))
        host.xml(account, True)
        host.connect_and_wait(account)
        return account, relay

    def drop_and_reconnect(self, host, account, relay):
        relay.cut()
        host.wait_for("connection_error",
                      lambda e: e.get("account") == account, timeout=30)
        host.connect_and_wait(account)

    def sent_copies(self, host, account, text):
        return [e for e in host.events("xml") if e.get("account") == account
                and e["dir"] == "out" and text in e["xml"]]

    def test_sent_while_link_dead_arrives_once(self):
        """Lost on the way to the server: sent again after the reconnect,
        received once."""
        host = self.host()
        alice, relay = self.relayed(host, "alice")
        # dave: a contact without OMEMO ("bob" is a host account with
        # OMEMO devices in another test of this class, same server).
        dave = self.peer("dave")
        # A conversation under way: dave's device lists (none) are known,
        # so the message goes to the prpl at once (OMEMO holds a message
        # to a contact it knows nothing of: see the next test).
        dave.send_message(self.jid("alice"), "bonjour")
        host.wait_for_conv_write(alice, self.jid("dave"), text="bonjour")
        time.sleep(1)
        text = "envoyé pendant la coupure"
        relay.mode = "hole"
        host.send_im(alice, self.jid("dave"), text)
        self.drop_and_reconnect(host, alice, relay)
        m = dave.wait_message(lambda m: m["body"] == text, timeout=20)
        time.sleep(2)
        self.assertFalse([x for x in dave.pending_messages()
                          if x["body"] == text])
        # prpl-jabber did send it again (XEP-0198 queue), with the same
        # origin-id (our compose stage is idempotent).
        copies = self.sent_copies(host, alice, text)
        self.assertGreaterEqual(len(copies), 2, copies)
        self.assertIn("urn:xmpp:sid:0", m["xml"])
        # Our annotate stages are idempotent too: one receipt request
        # (XEP-0184) and one <markable/> (XEP-0333) in every copy.
        for xml in [c["xml"] for c in copies] + [m["xml"]]:
            for element in ("request xmlns=.urn:xmpp:receipts.",
                            "markable xmlns=.urn:xmpp:chat-markers:0."):
                self.assertEqual(len(re.findall("<" + element, xml)), 1,
                                 xml)

    def test_typed_to_new_contact_while_link_dead_arrives_once(self):
        """To a contact whose OMEMO devices are not known yet, OMEMO holds
        the message while it asks; the link dies meanwhile: the message
        waits (the user is told) and is sent once after the reconnect."""
        host = self.host()
        alice, relay = self.relayed(host, "alice")
        carol = self.peer("carol")
        text = "écrit à une nouvelle personne pendant la coupure"
        relay.mode = "hole"
        host.send_im(alice, self.jid("carol"), text)
        self.drop_and_reconnect(host, alice, relay)
        host.wait_for_conv_write(alice, self.jid("carol"), text="Not sent yet")
        carol.wait_message(lambda m: m["body"] == text, timeout=20)
        time.sleep(2)
        self.assertFalse([x for x in carol.pending_messages()
                          if x["body"] == text])
        shown = [w for w in host.conv_writes(alice, self.jid("carol"))
                 if "send" in w.get("flags", []) and text in w["text"]]
        self.assertEqual(len(shown), 1, shown)

    def test_ack_lost_shown_once(self):
        """The server got it but its ack was lost: prpl-jabber sends it
        again and the contact receives two copies, with one origin-id; a
        receiver with this plugin shows it once."""
        host = self.host()
        alice, relay = self.relayed(host, "alice")
        bob = self.online(host, "bob", xml=True)
        # A plaintext conversation (bob has OMEMO: the default would
        # encrypt it, and the test reads the text on the wire).
        host.set_account(alice, "xmpp-modern-omemo-default", False)
        text = "accusé de réception perdu"
        relay.mode = "no-acks"
        host.send_im(alice, self.jid("bob"), text)
        host.wait_for("xml", lambda e: e.get("account") == bob
                      and e["dir"] == "in" and text in e["xml"])
        self.drop_and_reconnect(host, alice, relay)
        deadline = time.monotonic() + 20
        while len([e for e in host.events("xml") if e.get("account") == bob
                   and e["dir"] == "in" and text in e["xml"]
                   and "<message" in e["xml"]]) < 2:
            self.assertLess(time.monotonic(), deadline,
                            "the message was not sent again")
            time.sleep(0.2)
        time.sleep(1)
        shown = [w for w in host.conv_writes(bob, self.jid("alice"))
                 if text in (w.get("text") or "")]
        self.assertEqual(len(shown), 1, shown)

    def test_received_while_link_dead_shown_once(self):
        """Sent to the host while its link is dead: the server keeps it
        (offline storage, archive); after the reconnect it is shown
        once."""
        host = self.host()
        alice, relay = self.relayed(host, "alice")
        bob = self.peer("bob")
        bob.send_message(self.jid("alice"), "avant la coupure")
        host.wait_for_conv_write(alice, self.jid("bob"), text="avant la")
        relay.mode = "hole"
        text = "reçu pendant la coupure"
        bob.send_message(self.jid("alice"), text)
        time.sleep(1)
        self.drop_and_reconnect(host, alice, relay)
        host.wait_for_conv_write(alice, self.jid("bob"), text=text,
                                 timeout=20)
        time.sleep(3)  # the archive catch-up and offline delivery
        shown = [w for w in host.conv_writes(alice, self.jid("bob"))
                 if text in (w.get("text") or "")]
        self.assertEqual(len(shown), 1, shown)


if __name__ == "__main__":
    pxm_it.main()

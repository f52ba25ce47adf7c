#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""XEP-0163 on a server that announces PEP on the account (Prosody 0.12):
with the plugin, prpl-jabber publishes the account's avatar (XEP-0084) by
PEP; without it, it does not."""

import hashlib
import os
import re
import struct
import time
import zlib

import pxm_it
from pxm_it import ServerTestCase

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_METADATA = "urn:xmpp:avatar:metadata"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_MOOD = "http://jabber.org/protocol/mood"
NS_TUNE = "http://jabber.org/protocol/tune"
NS_NICK = "http://jabber.org/protocol/nick"
PUBLISH_METADATA = "<publish node='%s'>" % NS_METADATA


def png(width, height):
    """A real PNG (prpl-jabber publishes only PNG avatars)."""
    def chunk(kind, data):
        body = kind + data
        return (struct.pack(">I", len(data)) + body
                + struct.pack(">I", zlib.crc32(body)))
    rows = b"".join(b"\0" + b"\x80\x40\x20" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0,
                                         0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Pep(ServerTestCase):

    def icon(self, width=3, height=2):
        data = png(width, height)
        path = os.path.join(self.tmp.name, "icon-%dx%d.png" % (width, height))
        with open(path, "wb") as f:
            f.write(data)
        return path, data

    def metadata(self, peer, owner):
        """The <info/> elements of @owner's avatar metadata node, or None
        when the node does not exist."""
        reply = peer.send_iq(
            "<iq type='get' to='%s'><pubsub xmlns='%s'><items node='%s'/>"
            "</pubsub></iq>" % (owner, NS_PUBSUB, NS_METADATA))
        if "type='error'" in reply or 'type="error"' in reply:
            self.assertIn("item-not-found", reply)
            return None
        return reply

    def out_xml(self, host, needle):
        return [x for x in (e["xml"].replace('"', "'") for e in host.events(
            "xml", lambda e: e["dir"] == "out")) if needle in x]

    def wait_vcard_photo(self, host, account):
        """prpl-jabber's set_buddy_icon publishes the XEP-0084 avatar first
        (when it has PEP), then the vCard with the photo."""
        host.wait_for("xml", lambda e: e["dir"] == "out"
                      and "vcard-temp" in e["xml"] and "BINVAL" in e["xml"],
                      timeout=15)

    def test_avatar_published_by_pep(self):
        host = self.host()
        carol = self.online(host, "carol", xml=True)
        bare = self.jid("carol")
        # The account's disco#info went out before the server domain's.
        probe = self.out_xml(host, "<query xmlns='%s'/>" % NS_DISCO_INFO)
        self.assertGreaterEqual(len(probe), 2, probe)
        self.assertIn("to='%s'" % bare, probe[0])
        self.assertIn("to='%s'" % self.info["domain"], probe[1])

        path, data = self.icon()
        host.set_account_icon(carol, path)
        self.wait_vcard_photo(host, carol)
        # prpl-jabber itself published the metadata (with the size it read
        # from the PNG; Prosody's vCard conversion, XEP-0398, has none) and
        # the server accepted it.
        sha1 = hashlib.sha1(data).hexdigest()
        published = self.out_xml(host, PUBLISH_METADATA)
        self.assertEqual(len(published), 1, published)
        self.assertIn("id='%s'" % sha1, published[0])
        self.assertIn("width='3'", published[0])
        self.assertIn("height='2'", published[0])
        iq_id = re.search(r"<iq [^>]*id='([^']+)'", published[0]).group(1)
        host.wait_for("xml", lambda e: e["dir"] == "in"
                      and re.search(r"id=['\"]%s['\"]" % re.escape(iq_id),
                                    e["xml"])
                      and re.search(r"type=['\"]result['\"]", e["xml"]))

        # Another device of the account reads the node from the server.
        other = pxm_it.Peer(bare, self.info["users"][bare], self.info,
                            resource="reader").connect()
        self._closers.append(other.disconnect)
        deadline = time.monotonic() + 10
        reply = None
        while time.monotonic() < deadline:
            reply = self.metadata(other, bare)
            if reply is not None and sha1 in reply:
                break
            time.sleep(0.2)
        self.assertIsNotNone(reply)
        self.assertIn("id='%s'" % sha1, reply.replace('"', "'"))
        self.assertIn("bytes='%d'" % len(data), reply.replace('"', "'"))
        self.assertIn("image/png", reply)
        # prpl-jabber's PEP features are in its caps now (XEP-0107 moods,
        # XEP-0118 tunes, XEP-0172 nicknames).
        features = other.disco_info(carol)["features"]
        for ns in (NS_METADATA, NS_MOOD, NS_TUNE, NS_NICK):
            self.assertIn(ns, features)

    @pxm_it.prosody_only("stock prpl-jabber publishes by PEP where the "
                         "server's own disco#info shows a PEP service "
                         "(ejabberd does; Prosody only on the account)")
    def test_without_plugin_no_pep(self):
        """The baseline: stock prpl-jabber on this server never publishes
        its avatar by PEP (what the plugin fixes)."""
        host = self.host(plugin=False)
        dave = self.online(host, "dave", xml=True)
        bare = self.jid("dave")
        path, _ = self.icon(2, 2)
        host.set_account_icon(dave, path)
        self.wait_vcard_photo(host, dave)
        self.assertFalse(self.out_xml(host, PUBLISH_METADATA))
        # (Prosody's XEP-0398 conversion of the vCard photo may still fill
        # the node: the point is that the client never used PEP.)
        other = pxm_it.Peer(bare, self.info["users"][bare], self.info,
                            resource="reader").connect()
        self._closers.append(other.disconnect)
        features = other.disco_info(dave)["features"]
        for ns in (NS_METADATA, NS_MOOD, NS_TUNE, NS_NICK):
            self.assertNotIn(ns, features)


if __name__ == "__main__":
    pxm_it.main()

#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""The foundation end to end: the plugin in a real libpurple host, a real
Prosody over TLS, a slixmpp peer on the other side."""

import os
import re
import shutil
import tempfile
import time

import pxm_it
from pxm_it import (ServerTestCase, all_features, default_on, effective,
                    manifests)

NS_SID = "urn:xmpp:sid:0"
SID_EXT = "xep0359-stanza-id"
MAM_EXT = "xep0313-mam"  # depends on SID_EXT
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                  r"[0-9a-f]{12}$")


def origin_ids(message):
    return [e.get("id") for e in message["element"]
            if e.tag == "{%s}origin-id" % NS_SID]


class Foundation(ServerTestCase):

    def disco_features(self, peer, account):
        return set(peer.disco_info(account)["features"])

    def assert_features(self, peer, account, enabled_ids):
        """Our part of the client's disco#info is exactly the features of
        the enabled extensions."""
        features = self.disco_features(peer, account)
        on = effective(enabled_ids)
        expected = {f for i, m in manifests().items() if i in on
                    for f in m.get("features", [])}
        self.assertEqual(features & all_features(), expected)
        # prpl-jabber's own features are still there.
        self.assertIn("http://jabber.org/protocol/disco#info", features)
        self.assertIn("http://jabber.org/protocol/muc", features)

    def test_tls_login_and_round_trip(self):
        host = self.host()
        alice = self.online(host, "alice", xml=True)
        # Prosody requires TLS on c2s; the stream really went through it.
        self.assertTrue(host.events(
            "xml", lambda e: e["dir"] == "in" and "<proceed" in e["xml"]
            and "urn:ietf:params:xml:ns:xmpp-tls" in e["xml"]))
        bob = self.peer("bob")

        bob.send_message(self.jid("alice"), "Bonjour Alice <3")
        w = host.wait_for_conv_write(account=alice, flag="recv",
                                     text="Bonjour Alice")
        self.assertIn("&lt;3", w["text"])  # escaped as HTML

        host.send_im(alice, self.jid("bob"), "Salut Bob")
        m = bob.wait_message(lambda m: m["body"] == "Salut Bob")
        ids = origin_ids(m)
        self.assertEqual(len(ids), 1, m["xml"])
        self.assertRegex(ids[0], UUID)
        # The message is recorded once in the store, in one row.
        host.send_im(alice, self.jid("bob"), "Deuxième")
        m2 = bob.wait_message(lambda m: m["body"] == "Deuxième")
        self.assertNotEqual(origin_ids(m2), ids)

    def test_disco_features_follow_extensions(self):
        host = self.host()
        alice = self.online(host, "alice")
        bob = self.peer("bob")
        every = set(manifests())
        on = default_on()
        self.assert_features(bob, alice, on)

        r = host.command(alice, self.jid("bob"),
                         "xmpp-modern disable " + SID_EXT)
        self.assertEqual(r["status"], "ok", r)
        self.assert_features(bob, alice, on - {SID_EXT})
        # What depends on it is off too, though its own setting is on.
        listing = host.wait_for_conv_write(account=alice, flag="system",
                                           text="<b>%s</b>" % MAM_EXT)
        self.assertIn("<b>%s</b> (off)" % SID_EXT, listing["text"])
        self.assertIn("<b>%s</b> (off)" % MAM_EXT, listing["text"])
        r = host.command(alice, self.jid("bob"), "history")
        self.assertEqual(r["status"], "failed", r)
        self.assertIn(MAM_EXT, r.get("cmd_error") or "")
        # Off means it sees nothing and adds nothing.
        host.send_im(alice, self.jid("bob"), "sans identifiant")
        m = bob.wait_message(lambda m: m["body"] == "sans identifiant")
        self.assertEqual(origin_ids(m), [])

        r = host.command(alice, self.jid("bob"),
                         "xmpp-modern enable " + SID_EXT)
        self.assertEqual(r["status"], "ok", r)
        self.assert_features(bob, alice, on | (every & {SID_EXT}))
        listing = host.wait_for_conv_write(account=alice, flag="system",
                                           text="<b>%s</b>" % MAM_EXT)
        self.assertIn("<b>%s</b> (on)" % SID_EXT, listing["text"])
        self.assertIn("<b>%s</b> (on)" % MAM_EXT, listing["text"])
        host.send_im(alice, self.jid("bob"), "avec identifiant")
        m = bob.wait_message(lambda m: m["body"] == "avec identifiant")
        self.assertEqual(len(origin_ids(m)), 1)

        # An unknown extension is a clear error, not a silent no-op.
        r = host.command(alice, self.jid("bob"), "xmpp-modern enable nope")
        self.assertNotEqual(r["status"], "ok")
        self.assertIn("nope", r.get("cmd_error") or "")

    def test_load_unload_load_online(self):
        host = self.host(plugin=None)
        alice = self.online(host, "alice")
        bob = self.peer("bob")
        self.assertFalse(self.disco_features(bob, alice) & all_features())

        for round_ in range(2):
            host.load_plugin(pxm_it.PLUGIN)
            # Online already: extensions start without a reconnect.
            self.assert_features(bob, alice, default_on())
            text = "chargé %d" % round_
            host.send_im(alice, self.jid("bob"), text)
            m = bob.wait_message(lambda m, t=text: m["body"] == t)
            self.assertEqual(len(origin_ids(m)), 1)

            host.unload_plugin()
            self.assertFalse(self.disco_features(bob, alice) & all_features())
            text = "déchargé %d" % round_
            host.send_im(alice, self.jid("bob"), text)
            m = bob.wait_message(lambda m, t=text: m["body"] == t)
            self.assertEqual(origin_ids(m), [])
            # Incoming messages still reach the conversation.
            bob.send_message(self.jid("alice"), "toujours là %d" % round_)
            host.wait_for_conv_write(account=alice, flag="recv",
                                     text="toujours là %d" % round_)

    def test_french(self):
        """The plugin's name, summary and messages follow the locale (its
        text domain bound at probe time; PXM_LOCALEDIR points at the
        build's translations), and English is the default."""
        env = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE="fr",
                   PXM_LOCALEDIR=os.path.join(pxm_it.BUILD_ROOT, "po"))
        for lang_env, name, listing in (
                (env, "XMPP moderne", "Extensions de ce compte"),
                (None, "Modern XMPP", "Extensions of this account")):
            host = self.host(env=lang_env)
            ours = [p for p in host.cmd("plugins")["plugins"]
                    if p["id"] == "core-xmpp-modern"]
            self.assertEqual(len(ours), 1, ours)
            self.assertEqual(ours[0]["name"], name)
            alice = self.online(host, "alice")
            r = host.command(alice, self.jid("bob"), "xmpp-modern")
            self.assertEqual(r["status"], "ok", r)
            host.wait_for_conv_write(account=alice, text=listing)
            host.close()

    def test_unusable_store_reported_and_untouched(self):
        """A store the plugin cannot use (here: not SQLite) is reported to
        the user and left byte for byte as it was; the account still
        works."""
        userdir = tempfile.mkdtemp(prefix="pxm-it-user-")
        self.addCleanup(shutil.rmtree, userdir, True)
        store_dir = os.path.join(userdir, "xmpp-modern", self.jid("alice"))
        os.makedirs(store_dir)
        path = os.path.join(store_dir, "store.sqlite3")
        garbage = b"not a database, maybe someone's only copy of their keys\n"
        with open(path, "wb") as f:
            f.write(garbage)

        host = self.host(userdir=userdir)
        alice = self.online(host, "alice")
        n = host.wait_for("notify", lambda e: "store" in (
            (e.get("primary") or "") + (e.get("secondary") or "")).lower())
        self.assertIn(path, n.get("secondary") or "")
        with open(path, "rb") as f:
            self.assertEqual(f.read(), garbage)
        bob = self.peer("bob")
        bob.send_message(self.jid("alice"), "malgré tout")
        host.wait_for_conv_write(account=alice, flag="recv",
                                 text="malgré tout")

    def test_room_replay_not_shown_twice(self):
        """A room replays its recent history on join; what we saw before is
        recognised by the room's stanza-id and not shown again."""
        room = "foundation@" + self.info["muc"]
        host = self.host()
        alice = self.online(host, "alice")
        bob = self.peer("bob")
        bob.join_room(room, "bob")
        host.join_room(alice, room, "alice")
        bob.send_room(room, "message du salon")
        host.wait_for_conv_write(account=alice, conversation=room,
                                 text="message du salon")
        host.command(alice, room, "part", type="chat")
        time.sleep(0.5)
        host.join_room(alice, room, "alice")
        bob.send_room(room, "après le retour")
        host.wait_for_conv_write(account=alice, conversation=room,
                                 text="après le retour")
        shown = [e for e in host.conv_writes(account=alice, conversation=room)
                 if "message du salon" in e["text"]]
        self.assertEqual(len(shown), 1, shown)


if __name__ == "__main__":
    pxm_it.main()

# SPDX-License-Identifier: GPL-3.0-or-later
"""XEP-0402 bookmarks against Prosody: a slixmpp peer is the user's other
client.  With mod_bookmarks (#compat: XEP-0402) and without it (XEP-0048 in
XEP-0049 private storage).  Bookmarks made elsewhere appear as chats in the
buddy list and autojoin; chats added, renamed, set to auto-join or removed
in the host change the bookmarks; pushes apply live; a chat the user
already had is not duplicated."""

import os
import time
import xml.etree.ElementTree as ET

import pxm_it  # noqa: F401  (exits 77 when the rig is missing)
from pxm_it import ServerTestCase, main
import pxm_server

NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_BM = "urn:xmpp:bookmarks:1"
NS_PRIVATE = "jabber:iq:private"
NS_LEGACY = "storage:bookmarks"

PUBLISH_OPTIONS = (
    "<publish-options><x xmlns='jabber:x:data' type='submit'>"
    "<field var='FORM_TYPE' type='hidden'><value>"
    "http://jabber.org/protocol/pubsub#publish-options</value></field>"
    "<field var='pubsub#persist_items'><value>true</value></field>"
    "<field var='pubsub#max_items'><value>max</value></field>"
    "<field var='pubsub#send_last_published_item'><value>never</value></field>"
    "<field var='pubsub#access_model'><value>whitelist</value></field>"
    "</x></publish-options>")


def wait_until(check, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.2)


class Base(ServerTestCase):
    def room(self, name):
        return "%s-%s@%s" % (name, self._testMethodName.replace("_", "-"),
                             self.info["muc"])

    def chats_of(self, host, account, room):
        return [c for c in host.chats(account) if c["room"] == room]

    def wait_chat(self, host, account, room, check=lambda c: True,
                  what="the chat"):
        def found():
            chats = self.chats_of(host, account, room)
            return chats[0] if len(chats) == 1 and check(chats[0]) else None
        return wait_until(found, what=what)

    def wait_no_chat(self, host, account, room):
        wait_until(lambda: not self.chats_of(host, account, room),
                   what="the chat to go")


class PepBookmarks(Base):
    """Prosody with mod_bookmarks: #compat, XEP-0402."""

    node_made = False

    def setUp(self):
        super().setUp()
        if PepBookmarks.node_made or pxm_it.SERVER == "prosody":
            return
        # The user's other client already keeps XEP-0402 bookmarks: the
        # node exists.  Without #compat (ejabberd 23.01; Prosody announces
        # it) that is what makes the plugin choose XEP-0402, and no test may
        # count on an earlier one having published.  Made once.
        phone = self.peer("alice", resource="setup")
        phone.iq(
            "<iq type='set'><pubsub xmlns='%s'><create node='%s'/>"
            "<configure><x xmlns='jabber:x:data' type='submit'>"
            "<field var='FORM_TYPE' type='hidden'><value>%s#node_config"
            "</value></field><field var='pubsub#access_model'>"
            "<value>whitelist</value></field></x></configure></pubsub></iq>"
            % (NS_PUBSUB, NS_BM, NS_PUBSUB))
        phone.disconnect()
        PepBookmarks.node_made = True

    def publish(self, peer, room, name=None, autojoin=False, nick=None,
                password=None):
        attrs = " autojoin='%s'" % ("true" if autojoin else "false")
        if name is not None:
            attrs += " name='%s'" % name
        inner = ""
        if nick is not None:
            inner += "<nick>%s</nick>" % nick
        if password is not None:
            inner += "<password>%s</password>" % password
        options = PUBLISH_OPTIONS
        if pxm_it.SERVER == "ejabberd":
            # ejabberd 23.01 knows neither pubsub#max_items nor
            # send_last_published_item in publish-options (and its PEP
            # nodes keep 1 item): in the node's config instead.
            for field in ("<field var='pubsub#max_items'><value>max</value>"
                          "</field>",
                          "<field var='pubsub#send_last_published_item'>"
                          "<value>never</value></field>"):
                options = options.replace(field, "")
        peer.iq("<iq type='set'><pubsub xmlns='%s'><publish node='%s'>"
                "<item id='%s'><conference xmlns='%s'%s>%s</conference>"
                "</item></publish>%s</pubsub></iq>"
                % (NS_PUBSUB, NS_BM, room, NS_BM, attrs, inner, options))
        if pxm_it.SERVER == "ejabberd":
            peer.iq("<iq type='set'><pubsub xmlns='%s#owner'><configure "
                    "node='%s'><x xmlns='jabber:x:data' type='submit'>"
                    "<field var='FORM_TYPE' type='hidden'><value>%s"
                    "#node_config</value></field><field var='pubsub#max_items'>"
                    "<value>1000</value></field><field var='pubsub#send_last_"
                    "published_item'><value>never</value></field></x>"
                    "</configure></pubsub></iq>"
                    % (NS_PUBSUB, NS_BM, NS_PUBSUB))

    def retract(self, peer, room):
        peer.iq("<iq type='set'><pubsub xmlns='%s'><retract node='%s' "
                "notify='true'><item id='%s'/></retract></pubsub></iq>"
                % (NS_PUBSUB, NS_BM, room))

    def bookmarks(self, peer):
        """What the other client reads: room -> conference element."""
        reply = peer.send_iq("<iq type='get'><pubsub xmlns='%s'><items "
                             "node='%s'/></pubsub></iq>" % (NS_PUBSUB, NS_BM))
        root = ET.fromstring(reply)
        out = {}
        for item in root.iter("{%s}item" % NS_PUBSUB):
            out[item.get("id")] = item.find("{%s}conference" % NS_BM)
        return out

    def wait_bookmark(self, peer, room, check, what):
        def found():
            conf = self.bookmarks(peer).get(room)
            # A list: an element without children is false.
            return [conf] if conf is not None and check(conf) else None
        return wait_until(found, what=what)[0]

    def test_bookmark_elsewhere_appears_and_autojoins(self):
        room = self.room("tea")
        bob = self.peer("bob")
        bob.join_room(room, "bob")
        phone = self.peer("alice", resource="phone")
        self.publish(phone, room, name="Tea room", autojoin=True,
                     nick="AliceB", password="")
        host = self.host()
        account = self.online(host, "alice")
        chat = self.wait_chat(host, account, room)
        self.assertEqual(chat["alias"], "Tea room")
        self.assertEqual(chat["group"], "Bookmarks")
        self.assertEqual(chat["components"].get("handle"), "AliceB")
        self.assertTrue(chat["gtk_autojoin"])
        host.wait_for("chat_joined",
                      lambda e: e["conversation"].lower() == room)
        # Joined with the bookmarked nick: the room tells bob.
        bob.wait_presence(lambda p: p["from"] == room + "/AliceB")

    def test_push_applies_live(self):
        room = self.room("live")
        host = self.host()
        account = self.online(host, "alice")
        phone = self.peer("alice", resource="phone")
        self.publish(phone, room, name="Live", nick="al")
        chat = self.wait_chat(host, account, room)
        self.assertEqual(chat["alias"], "Live")
        self.assertFalse(chat["gtk_autojoin"])
        self.publish(phone, room, name="Renamed", nick="al")
        self.wait_chat(host, account, room, lambda c: c["alias"] == "Renamed",
                       "the new name")
        # An applied push is not published back: the item is the phone's.
        time.sleep(6)
        self.assertEqual(self.bookmarks(phone)[room].get("name"), "Renamed")

    @pxm_it.prosody_only(
        "ejabberd (23.01 and up to 24.10, its issue #4326) sends a PEP "
        "item's retraction only to explicit subscribers of the node, not "
        "to the owner's resources with +notify, even with notify='true' "
        "or pubsub#notify_retract: the plugin never hears of it")
    def test_push_retract_applies_live(self):
        room = self.room("gone")
        host = self.host()
        account = self.online(host, "alice")
        phone = self.peer("alice", resource="phone")
        self.publish(phone, room, name="Gone soon", nick="al")
        self.wait_chat(host, account, room)
        self.retract(phone, room)
        self.wait_no_chat(host, account, room)

    def test_chat_added_here_is_bookmarked(self):
        room = self.room("here")
        host = self.host()
        account = self.online(host, "alice")
        phone = self.peer("alice", resource="phone")
        host.add_chat(account, room, alias="Made here", nick="ali",
                      autojoin=True)
        conf = self.wait_bookmark(phone, room, lambda c: True, "the bookmark")
        self.assertEqual(conf.get("name"), "Made here")
        self.assertIn(conf.get("autojoin"), ("true", "1"))
        self.assertEqual(conf.findtext("{%s}nick" % NS_BM), "ali")
        # XEP-0223: the node is private.
        reply = phone.send_iq(
            "<iq type='get'><pubsub xmlns='%s#owner'><configure node='%s'/>"
            "</pubsub></iq>" % (NS_PUBSUB, NS_BM))
        self.assertIn("whitelist", reply)

        host.alias_chat(account, room, "Renamed here")
        self.wait_bookmark(phone, room,
                           lambda c: c.get("name") == "Renamed here",
                           "the new name")
        # No signal for the auto-join checkbox: the periodic check.
        host.set_chat_setting(account, room, "gtk-autojoin", False)
        self.wait_bookmark(phone, room,
                           lambda c: c.get("autojoin") in ("false", "0", None),
                           "autojoin off")
        host.remove_chat(account, room)
        wait_until(lambda: room not in self.bookmarks(phone),
                   what="the bookmark to go")

    def test_existing_chat_not_duplicated(self):
        room = self.room("mine")
        phone = self.peer("alice", resource="phone")
        self.publish(phone, room, name="Their name", nick="x")
        host = self.host()
        account = host.add_account(self.info, self.jid("alice"))
        host.add_chat(account, room.upper(), alias="My name", group="Rooms")
        host.connect_and_wait(account)
        # The user's alias wins and goes to the server.
        self.wait_bookmark(phone, room, lambda c: c.get("name") == "My name",
                           "the merged bookmark")
        chats = self.chats_of(host, account, room)
        self.assertEqual(len(chats), 1, chats)
        self.assertEqual(chats[0]["alias"], "My name")
        self.assertEqual(chats[0]["group"], "Rooms")
        # New bookmarks go where the user keeps them.
        other = self.room("other")
        self.publish(phone, other, name="Other")
        chat = self.wait_chat(host, account, other)
        self.assertEqual(chat["group"], "Rooms")


@pxm_it.prosody_only("a server without XEP-0402 (Prosody without "
                     "mod_bookmarks); ejabberd's PEP always has it")
class PrivateBookmarks(Base):
    """Prosody without mod_bookmarks: XEP-0048 in private storage."""

    @classmethod
    def setUpClass(cls):
        import tempfile
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-it-")
        cls.server = pxm_server.make_server(
            os.path.join(cls.tmp.name, "srv"),
            extra_config='modules_disabled = { "s2s", "s2s_auth_certs", '
            '"dialback", "proxy65", "register", "limits", "bookmarks" }')
        cls.info = cls.server.start()

    def storage(self, peer):
        reply = peer.send_iq("<iq type='get'><query xmlns='%s'><storage "
                             "xmlns='%s'/></query></iq>"
                             % (NS_PRIVATE, NS_LEGACY))
        root = ET.fromstring(reply)
        return root.find(".//{%s}storage" % NS_LEGACY)

    def test_private_storage_both_ways(self):
        room = self.room("old")
        phone = self.peer("alice", resource="phone")
        info = phone.disco_info(self.jid("alice"))
        self.assertNotIn("urn:xmpp:bookmarks:1#compat", str(info))
        phone.iq("<iq type='set'><query xmlns='%s'><storage xmlns='%s'>"
                 "<url name='Site' url='https://example.org/'/>"
                 "<conference jid='%s' name='Old style' autojoin='false'>"
                 "<nick>ol</nick></conference></storage></query></iq>"
                 % (NS_PRIVATE, NS_LEGACY, room))
        host = self.host()
        account = self.online(host, "alice")
        chat = self.wait_chat(host, account, room)
        self.assertEqual(chat["alias"], "Old style")
        self.assertEqual(chat["components"].get("handle"), "ol")

        new = self.room("new")
        host.add_chat(account, new, alias="New one")

        def written():
            s = self.storage(phone)
            jids = [c.get("jid") for c in s.findall("{%s}conference"
                                                    % NS_LEGACY)]
            return s if new in jids and room in jids else None
        storage = wait_until(written, what="the storage written")
        # What we do not understand survives.
        self.assertIsNotNone(storage.find("{%s}url" % NS_LEGACY))

        host.remove_chat(account, room)
        wait_until(lambda: room not in [
            c.get("jid") for c in self.storage(phone).findall(
                "{%s}conference" % NS_LEGACY)], what="the removal")


if __name__ == "__main__":
    main()

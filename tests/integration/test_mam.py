#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Message Archive Management (XEP-0313) end to end: the headless host is a
resource of the user, a slixmpp client is the user's phone, bob is a
contact.  Prosody pages by 10 here so that catch-ups take many pages;
ejabberd's page is 250 whatever we ask (PXM_SERVER=ejabberd): the tests
read the page size the server has and send enough for the paging they
check."""

import os
import sqlite3
import tempfile
import time
import uuid

import pxm_it
from pxm_it import ServerTestCase, TestHost, BUILD_ROOT

import pxm_server

PAGE = 10  # asked of Prosody


class Mam(ServerTestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-it-")
        cls.server = pxm_server.make_server(
            os.path.join(cls.tmp.name, "srv"), max_archive_results=PAGE,
            extra_users=["erin", "frank", "grace", "henry", "ivan"])
        cls.info = cls.server.start()
        cls.page = cls.info["max_archive_results"]

    def userdir(self):
        d = tempfile.mkdtemp(prefix="pxm-mam-", dir=self.tmp.name)
        return d

    def writes(self, host, account, text=None):
        return [e for e in host.conv_writes(account=account)
                if text is None or text in e["text"]]

    def wait_writes(self, host, account, count, text, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if len(self.writes(host, account, text)) >= count:
                return
            time.sleep(0.05)
        self.fail("%d writes with %r expected, got %d" % (
            count, text, len(self.writes(host, account, text))))

    def archived(self, peer, count, with_=None):
        """Wait until the server's archive of peer's user holds `count`
        messages (so a catch-up is sure to find them)."""
        end = time.monotonic() + 10
        while time.monotonic() < end:
            got = peer.mam_query(with_=with_, max=self.page)
            if got and len(got) >= min(count, self.page):
                return
            time.sleep(0.1)

    def test_catchup_no_duplicates(self):
        """Messages from a contact and from the user's other device while
        offline appear once, in order, as history, with their times; a
        reconnect brings no duplicates."""
        bob_jid = self.jid("bob")
        host = self.host(userdir=self.userdir())
        alice = self.online(host, "alice")
        # The first sign-in sets the position.
        self.wait_notice_or_settle(host, alice)
        host.disconnect(alice)

        phone = self.peer("alice")
        bob = self.peer("bob")
        # Two pages (13 and 3 with Prosody's 10).
        n = self.page + 3
        for i in range(n):
            bob.send_message(self.jid("alice"), "offline-from-bob-%03d" % i)
        for i in range(3):
            phone.send_message(bob_jid, "offline-from-phone-%02d" % i)
        phone.wait_message(lambda m: m["body"] == "offline-from-bob-%03d"
                           % (n - 1), timeout=30)
        time.sleep(1)
        before = time.time()

        host.connect_and_wait(alice)
        self.wait_writes(host, alice, n, "offline-from-bob-")
        self.wait_writes(host, alice, 3, "offline-from-phone-")
        recv = self.writes(host, alice, "offline-from-bob-")
        self.assertEqual([w["text"] for w in recv],
                         ["offline-from-bob-%03d" % i for i in range(n)])
        for w in recv:
            self.assertIn("recv", w["flags"])
            self.assertIn("delayed", w["flags"])
            self.assertEqual(w["conversation"].split("/")[0], bob_jid)
            self.assertLessEqual(w["time"], before + 1)
        for w in self.writes(host, alice, "offline-from-phone-"):
            self.assertIn("send", w["flags"])
            self.assertIn("delayed", w["flags"])
            self.assertEqual(w["conversation"].split("/")[0], bob_jid)
        notice = host.wait_for_conv_write(
            account=alice, flag="system",
            text="%d messages from the server" % (n + 3))
        self.assertEqual(notice["conversation"].split("/")[0], bob_jid)
        # Two pages: one progress line, between the first page and the
        # count line.
        lines = [w["text"] for w in host.conv_writes(account=alice)
                 if "offline-from" in w["text"] or "system" in w["flags"]]
        more = [i for i, t in enumerate(lines) if "Fetching more" in t]
        self.assertEqual(len(more), 1, lines)
        self.assertGreater(more[0], 0, lines)
        self.assertIn("%d messages from the server" % (n + 3), lines[-1])
        for w in recv:
            self.assertNotIn("nolog", w["flags"])

        # Live after the catch-up, then a reconnect: nothing twice.
        bob.send_message(host_jid(alice), "live-after-catchup")
        host.wait_for_conv_write(account=alice, text="live-after-catchup")
        host.disconnect(alice)
        host.connect_and_wait(alice)
        bob.send_message(host_jid(alice), "sentinel-1")
        host.wait_for_conv_write(account=alice, text="sentinel-1")
        time.sleep(1)
        for text in ["offline-from-bob-%03d" % i for i in range(n)] + \
                ["offline-from-phone-%02d" % i for i in range(3)] + \
                ["live-after-catchup"]:
            self.assertEqual(len(self.writes(host, alice, text)), 1, text)

    def test_offline_storage_and_archive(self):
        """With no resource online, the server keeps messages in offline
        storage and in the archive: at sign-in they come both ways (offline
        delivery and catch-up) and are shown once each, in order, as
        history."""
        host = self.host(userdir=self.userdir())
        henry = self.online(host, "henry")
        self.wait_notice_or_settle(host, henry, 2)
        host.disconnect(henry)
        bob = self.peer("bob")
        texts = ["stored-%d" % i for i in range(5)]
        for text in texts:
            bob.send_message(self.jid("henry"), text)
        # Without presence: offline storage keeps its messages.
        probe = pxm_it.Peer(self.jid("henry"),
                            self.info["users"][self.jid("henry")],
                            self.info).connect(presence=False)
        self.archived(probe, len(texts), with_=self.jid("bob"))
        probe.disconnect()

        host.xml(henry, True)
        host.connect_and_wait(henry)
        self.wait_writes(host, henry, len(texts), "stored-")
        bob.send_message(self.jid("henry"), "sentinel-stored")
        host.wait_for_conv_write(account=henry, text="sentinel-stored")
        time.sleep(1.5)
        # Both ways really happened: offline delivery outside any archive
        # result, and the archive's copy in one.
        xml_in = [e["xml"] for e in host.events("xml") if e["dir"] == "in"]
        self.assertTrue(any("stored-0" in x and "urn:xmpp:mam:2" not in x
                            for x in xml_in), "no offline delivery")
        self.assertTrue(any("stored-0" in x and "urn:xmpp:mam:2" in x
                            for x in xml_in), "not in the catch-up")
        writes = self.writes(host, henry, "stored-")
        self.assertEqual([w["text"] for w in writes], texts)
        for w in writes:
            self.assertIn("delayed", w["flags"])
            self.assertNotIn("nolog", w["flags"])

    def test_carbons_not_again(self):
        """What this resource saw as carbons while online (sent from the
        user's phone, received by the phone) is not shown again by the
        next catch-up."""
        bob_jid = self.jid("bob")
        host = self.host(userdir=self.userdir())
        ivan = self.online(host, "ivan")
        self.wait_notice_or_settle(host, ivan, 2)
        phone = self.peer("ivan")
        phone.enable_carbons()
        bob = self.peer("bob")
        bob.send_message(phone.jid, "carbon-received-1")
        w = host.wait_for_conv_write(account=ivan, text="carbon-received-1")
        self.assertIn("recv", w["flags"])
        # The last one: the archive position cannot have moved past it.
        phone.send_message(bob_jid, "carbon-sent-1")
        w = host.wait_for_conv_write(account=ivan, text="carbon-sent-1")
        self.assertIn("send", w["flags"])
        time.sleep(0.5)

        host.disconnect(ivan)
        host.connect_and_wait(ivan)
        bob.send_message(self.jid("ivan"), "sentinel-carbons")
        host.wait_for_conv_write(account=ivan, text="sentinel-carbons")
        time.sleep(1.5)
        for text in ["carbon-sent-1", "carbon-received-1"]:
            self.assertEqual(len(self.writes(host, ivan, text)), 1, text)

    def wait_notice_or_settle(self, host, account, timeout=3):
        """The first catch-up of an empty window shows nothing: give it a
        moment to finish."""
        time.sleep(timeout)

    def test_kill_during_catchup(self):
        """kill -9 in the middle of a catch-up, then a restart: nothing is
        lost, nothing is shown twice except, at most, the one page the first
        run had shown but not yet committed when it was killed (its writes
        and its commit cannot be one atomic step: committing first would
        lose the page instead), and the order holds."""
        # Many pages, the kill after some have been committed (a page's
        # writes come before its commit): 20 pages and the kill in the
        # 4th with Prosody's 10, 4 and in the 2nd with ejabberd's 250.
        total = max(200, 4 * self.page)
        kill_at = min(3 * self.page, total - 3 * self.page) + 1
        userdir = self.userdir()
        host1 = TestHost(BUILD_ROOT, userdir=userdir, keep_userdir=True,
                         debug_events=True)
        self._closers.append(host1.close)
        erin = self.online(host1, "erin")
        self.wait_notice_or_settle(host1, erin, 2)
        host1.disconnect(erin)

        frank = self.peer("frank")
        phone = self.peer("erin")
        for i in range(total):
            frank.send_message(self.jid("erin"), "k-%03d" % i)
        phone.wait_message(lambda m: m["body"] == "k-%03d" % (total - 1),
                           timeout=40)
        time.sleep(0.5)

        host1.cmd("connect", account=erin)
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if len(self.writes(host1, erin, "k-")) >= kill_at:
                break
            time.sleep(0.002)
        host1.proc.kill()
        host1.proc.wait()
        host1.wait_eof()
        # What the first run wrote, and which of it was committed: the
        # host prints events in the order they happen, so the writes
        # before the last "page stored" line are those committed.
        committed, pending = [], []
        for e in host1.events():
            if e.get("event") == "conv_write" and "k-" in e.get("text", ""):
                pending.append(e["text"])
            elif (e.get("event") == "debug"
                  and "archive page stored" in e.get("message", "")):
                committed += pending
                pending = []
        first = committed + pending
        self.assertEqual(first, [w["text"] for w in
                                 self.writes(host1, erin, "k-")])
        self.assertGreater(len(committed), 0)
        self.assertLess(len(first), total, "the catch-up ended before the "
                        "kill: nothing was tested")
        self.assertLessEqual(len(pending), self.page)

        host2 = self.host(userdir=userdir)
        erin2 = self.online(host2, "erin")
        end = time.monotonic() + 30
        while time.monotonic() < end:
            if len(committed) + len(self.writes(host2, erin2, "k-")) >= total:
                break
            time.sleep(0.05)
        time.sleep(1)
        second = [w["text"] for w in self.writes(host2, erin2, "k-")]
        self.assertEqual(sorted(set(first + second)),
                         ["k-%03d" % i for i in range(total)],
                         "lost (first run %d, second %d)"
                         % (len(first), len(second)))
        # Nothing committed is shown again; the rest comes in order.  The
        # page shown but not seen committed is shown again, unless the kill
        # fell between its commit and the debug line.
        expected = ["k-%03d" % i for i in range(total)]
        self.assertIn(second, [expected[len(committed):],
                               expected[len(first):]],
                      "doubled or out of order (first run %d committed, "
                      "%d not; second %d)"
                      % (len(committed), len(pending), len(second)))

    def test_history(self):
        """/history N fetches older messages before those shown, marked,
        without duplicates; /history Nd by time."""
        bob_jid = self.jid("bob")
        phone = self.peer("carol")
        bob = self.peer("bob")
        for i in range(6):
            bob.send_message(self.jid("carol"), "old-%d" % i)
        phone.wait_message(lambda m: m["body"] == "old-5")
        time.sleep(1.5)
        host = self.host(userdir=self.userdir())
        # A window of 0 days: the first catch-up finds nothing.
        carol = self.online(host, "carol",
                            options={"xmpp-modern-mam-days": 0})
        time.sleep(2)
        self.assertEqual(self.writes(host, carol, "old-"), [])

        # The window is an account option (7 days unless changed).
        options = {o["setting"]: o
                   for o in host.cmd("account_options")["options"]}
        self.assertEqual(options["xmpp-modern-mam-days"]["type"], "int")
        self.assertEqual(options["xmpp-modern-mam-days"]["default"], 7)

        reply = host.command(carol, bob_jid, "history 4")
        self.assertEqual(reply["status"], "ok", reply)
        host.wait_for_conv_write(account=carol, flag="system",
                                 text="End of the 4 messages")
        writes = self.writes(host, carol, "old-")
        self.assertEqual([w["text"] for w in writes],
                         ["old-2", "old-3", "old-4", "old-5"])
        for w in writes:
            self.assertIn("delayed", w["flags"])
            self.assertIn("recv", w["flags"])
            # Never shown before: logged.
            self.assertNotIn("nolog", w["flags"])
        system = [w["text"] for w in host.conv_writes(account=carol,
                                                      flag="system")]
        self.assertTrue(any("Fetching older messages" in t for t in system))

        # Before the oldest shown, not the latest again.
        reply = host.command(carol, bob_jid, "history 1")
        self.assertEqual(reply["status"], "ok", reply)
        host.wait_for_conv_write(account=carol, flag="system",
                                 text="End of the 1 message")
        reply = host.command(carol, bob_jid, "history 10")
        self.assertEqual(reply["status"], "ok", reply)
        host.wait_for_conv_write(account=carol, flag="system",
                                 text="End of the 1 message")
        self.assertEqual([w["text"] for w in self.writes(host, carol, "old-")],
                         ["old-2", "old-3", "old-4", "old-5", "old-1",
                          "old-0"])
        reply = host.command(carol, bob_jid, "history 1d")
        self.assertEqual(reply["status"], "ok", reply)
        host.wait_for_conv_write(account=carol, flag="system",
                                 text="No older messages")
        self.assertEqual(len(self.writes(host, carol, "old-")), 6)

        reply = host.command(carol, bob_jid, "history lots")
        self.assertEqual(reply["status"], "failed", reply)
        self.assertIn("/history", reply["cmd_error"])

    def test_history_after_restart(self):
        """After a restart, /history shows the messages an earlier session
        showed (once, not logged again); the catch-up does not."""
        bob_jid = self.jid("bob")
        bob = self.peer("bob")
        userdir = self.userdir()
        host1 = TestHost(BUILD_ROOT, userdir=userdir, keep_userdir=True)
        self._closers.append(host1.close)
        dave = self.online(host1, "dave")
        self.wait_notice_or_settle(host1, dave, 1)
        for i in range(3):
            bob.send_message(host_jid(dave), "seen-%d" % i)
        self.wait_writes(host1, dave, 3, "seen-")
        self.assertEqual(host1.close(), 0)

        host2 = self.host(userdir=userdir)
        dave2 = self.online(host2, "dave")
        self.wait_notice_or_settle(host2, dave2, 1)
        self.assertEqual(self.writes(host2, dave2, "seen-"), [])
        reply = host2.command(dave2, bob_jid, "history 10")
        self.assertEqual(reply["status"], "ok", reply)
        host2.wait_for_conv_write(account=dave2, flag="system",
                                  text="End of the 3 messages")
        writes = self.writes(host2, dave2, "seen-")
        self.assertEqual([w["text"] for w in writes],
                         ["seen-0", "seen-1", "seen-2"])
        for w in writes:
            self.assertIn("delayed", w["flags"])
            self.assertIn("nolog", w["flags"])
        # Already in the window: a second /history does not repeat them.
        reply = host2.command(dave2, bob_jid, "history 10")
        self.assertEqual(reply["status"], "ok", reply)
        host2.wait_for_conv_write(account=dave2, flag="system",
                                  text="No older messages")
        self.assertEqual(len(self.writes(host2, dave2, "seen-")), 3)

    def test_stale_position(self):
        """The archive no longer has our position (reset, expired): the
        catch-up goes back by time from the last message instead, shows
        what is new once, nothing twice, and says why in the count line."""
        bob = self.peer("bob")
        userdir = self.userdir()
        host1 = TestHost(BUILD_ROOT, userdir=userdir, keep_userdir=True)
        self._closers.append(host1.close)
        grace = self.online(host1, "grace")
        self.wait_notice_or_settle(host1, grace, 1)
        bob.send_message(host_jid(grace), "before-reset")
        self.wait_writes(host1, grace, 1, "before-reset")
        self.assertEqual(host1.close(), 0)

        store = os.path.join(userdir, "xmpp-modern", self.jid("grace"),
                             "store.sqlite3")
        db = sqlite3.connect(store)
        try:
            with db:
                n = db.execute(
                    "UPDATE kv SET value = CAST(? AS BLOB) WHERE "
                    "component = 'xep0313-mam' AND key = 'position'",
                    ("no-such-archive-id",)).rowcount
        finally:
            db.close()
        self.assertEqual(n, 1)
        # The phone online: the server keeps no offline copy, the messages
        # are only in the archive.
        phone = self.peer("grace")
        for i in range(3):
            bob.send_message(self.jid("grace"), "after-reset-%d" % i)
        phone.wait_message(lambda m: m["body"] == "after-reset-2")
        self.archived(bob, 4)

        host2 = self.host(userdir=userdir)
        grace2 = self.online(host2, "grace")
        notice = host2.wait_for_conv_write(
            account=grace2, flag="system", text="no longer knew where")
        self.assertIn("3 messages from the server", notice["text"])
        self.assertEqual([w["text"] for w in
                          self.writes(host2, grace2, "after-reset-")],
                         ["after-reset-%d" % i for i in range(3)])
        self.assertEqual(self.writes(host2, grace2, "before-reset"), [])

    def test_room_catchup_and_history(self):
        """A room with an archive: the first join asks for no replay (the
        room's disco#info before it) and shows its last days from the
        archive; the next join too, fetching what was said meanwhile from
        the room's archive, once, in order; room /history goes on before
        it, our own messages as sent."""
        room = "mam-%s@%s" % (uuid.uuid4().hex[:8], self.info["muc"])
        bob = self.peer("bob")
        bob.join_room(room, "bob")
        for i in range(3):
            bob.send_room(room, "r-pre-%d" % i)
        time.sleep(0.5)

        host = self.host(userdir=self.userdir())
        grace = self.online(host, "grace")
        host.xml(grace, True)
        host.join_room(grace, room, "grace")
        self.wait_writes(host, grace, 3, "r-pre-")
        host.send_room(grace, room, "r-own", escape=True)
        host.wait_for_conv_write(account=grace, text="r-own")
        bob.send_room(room, "r-live-1")
        host.wait_for_conv_write(account=grace, text="r-live-1")
        time.sleep(1.5)
        for i in range(3):
            self.assertEqual(len(self.writes(host, grace, "r-pre-%d" % i)),
                             1)
        joins = [e["xml"] for e in host.events("xml")
                 if e["dir"] == "out" and e["xml"].startswith("<presence")
                 and "protocol/muc'" in e["xml"]]
        self.assertTrue(joins)
        self.assertIn("<history maxstanzas='0'/>", joins[0])

        host.disconnect(grace)
        # Three pages (two with ejabberd's 250): one progress line.
        gap = ["r-gap-%03d" % i for i in
               range((2 if self.page <= 50 else 1) * self.page + 2)]
        for text in gap:
            bob.send_room(room, text)
        # The user's phone says something in the room meanwhile.
        phone = self.peer("grace")
        phone.join_room(room, "grace")
        phone.send_room(room, "r-phone-gap")
        time.sleep(0.3)
        phone.leave_room(room, "grace")
        time.sleep(1)
        host.drain()
        count = len(host.events("xml"))
        host.connect_and_wait(grace)
        host.join_room(grace, room, "grace")
        self.wait_writes(host, grace, len(gap), "r-gap-")
        notice = host.wait_for_conv_write(
            account=grace, flag="system",
            text="%d messages from the room archive" % (len(gap) + 1))
        self.assertEqual(notice["conversation"], room)
        self.assertEqual(len(self.writes(
            host, grace, "Fetching more messages from the room archive")), 1)
        joins = [e["xml"] for e in host.events("xml")[count:]
                 if e["dir"] == "out" and e["xml"].startswith("<presence")
                 and "protocol/muc'" in e["xml"]]
        self.assertIn("<history maxstanzas='0'/>", joins[0])
        time.sleep(1)
        writes = self.writes(host, grace, "r-gap-")
        self.assertEqual([w["text"] for w in writes], gap)
        for w in writes:
            self.assertIn("delayed", w["flags"])
            self.assertEqual(w["conversation"], room)
        mine = self.writes(host, grace, "r-phone-gap")
        self.assertEqual(len(mine), 1)
        self.assertIn("send", mine[0]["flags"])
        self.assertNotIn("recv", mine[0]["flags"])
        self.assertIn("delayed", mine[0]["flags"])
        # No replay: what the first session showed is not shown again.
        for text in ["r-pre-0", "r-own", "r-live-1"]:
            self.assertEqual(len(self.writes(host, grace, text)), 1, text)

        reply = host.command(grace, room, "history 2", type="chat")
        self.assertEqual(reply["status"], "ok", reply)
        host.wait_for_conv_write(account=grace, flag="system",
                                 text="End of the 2 messages")
        own = self.writes(host, grace, "r-own")
        self.assertEqual(len(own), 2)
        self.assertIn("send", own[1]["flags"])
        self.assertNotIn("recv", own[1]["flags"])
        self.assertIn("delayed", own[1]["flags"])
        live = self.writes(host, grace, "r-live-1")
        self.assertEqual(len(live), 2)
        self.assertIn("recv", live[1]["flags"])
        # An earlier session showed them: not logged again.
        self.assertIn("nolog", live[1]["flags"])
        # By time, before those: the first session's first window.
        reply = host.command(grace, room, "history 1d", type="chat")
        self.assertEqual(reply["status"], "ok", reply)
        host.wait_for_conv_write(account=grace, flag="system",
                                 text="End of the 3 messages")
        for i in range(3):
            pre = self.writes(host, grace, "r-pre-%d" % i)
            self.assertEqual(len(pre), 2)
            self.assertIn("delayed", pre[1]["flags"])
            self.assertIn("nolog", pre[1]["flags"])
        self.assertEqual(len(self.writes(host, grace, "r-gap-000")), 1)


def host_jid(account):
    return account


if __name__ == "__main__":
    pxm_it.main()

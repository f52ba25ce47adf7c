#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""OMEMO (XEP-0384) end to end: the plugin in a headless libpurple host against
an independent python-omemo peer (oldmemo for legacy, twomemo for OMEMO 2) on
the private Prosody.  Messages both ways in each version, never a plaintext on
the wire, fail-closed sending, a message from another device of ours (sent
carbon), and a message archived while we were offline."""

import shutil
import sys
import tempfile
import uuid

import pxm_it
from pxm_it import BUILD_ROOT, Peer, ServerTestCase, TestHost

try:
    from pxm_omemo_peer import OmemoPeer
except ImportError as e:  # python3-omemo & co. missing
    print("SKIP: %s" % e)
    sys.exit(pxm_it.SKIP)

TIMEOUT = 20


class Omemo(ServerTestCase):

    def user(self):
        """A fresh account: no device lists left over from other tests."""
        name = "om-" + uuid.uuid4().hex[:8]
        jid = self.server.register(name)
        return jid, self.server.password(name)

    def omemo_peer(self, account, **kw):
        jid, password = account
        p = OmemoPeer(jid, password, self.info, **kw)
        self._closers.append(p.close)
        return p

    def host_online(self, account, host=None):
        host = host or self.host()
        jid, password = account
        name = host.add_account(self.info, jid, password=password)
        host.xml(name, True)
        host.connect_and_wait(name)
        return host, name

    def assert_not_on_wire(self, host, text):
        leaks = host.events("xml", lambda e: text in e.get("xml", ""))
        self.assertEqual(leaks, [], "plaintext on the wire")

    def both_ways(self, versions, expect):
        me, them = self.user(), self.user()
        peer = self.omemo_peer(them, versions=versions)
        host, acc = self.host_online(me)
        for i in range(2):  # the key exchange, then the established session
            text = "from pidgin %d %s" % (i, uuid.uuid4().hex[:6])
            host.send_im(acc, them[0], text)
            m = peer.wait_decrypted(lambda m: m["body"] == text,
                                    timeout=TIMEOUT)
            self.assertEqual(m["version"], expect)
            # Shown once, as sent; the first time with a line saying the
            # conversation is encrypted.
            if i == 0:
                host.wait_for_conv_write(account=acc, flag="system",
                                         text="encrypted end to end")
            host.wait_for_conv_write(account=acc, flag="send", text=text)
            self.assert_not_on_wire(host, text)
            peer.assert_no_plaintext(text)

            reply = "from python %d %s" % (i, uuid.uuid4().hex[:6])
            peer.send_encrypted(me[0], reply, refresh=(i == 0))
            host.wait_for_conv_write(account=acc, flag="recv", text=reply,
                                     timeout=TIMEOUT)
            self.assert_not_on_wire(host, reply)
        r = host.command(acc, them[0], "omemo status")
        self.assertEqual(r["status"], "ok", r)
        host.wait_for_conv_write(account=acc, flag="system",
                                 text="OMEMO encryption is on")
        return host, acc, peer

    def test_omemo2_both_ways(self):
        self.both_ways(("twomemo",), "twomemo")

    def test_legacy_both_ways(self):
        self.both_ways(("oldmemo",), "oldmemo")

    def test_both_versions_prefers_omemo2(self):
        self.both_ways(("twomemo", "oldmemo"), "twomemo")

    def test_correction_encrypted(self):
        """/correct in an encrypted conversation: the new text is
        encrypted (the ENCRYPT stage, sessions being there), <replace/>
        stays outside; the peer decrypts it."""
        host, acc, peer = self.both_ways(("twomemo", "oldmemo"), "twomemo")
        them = peer.jid.split("/")[0]
        fixed = "corrigé " + uuid.uuid4().hex[:6]
        r = host.command(acc, them, "correct " + fixed)
        self.assertEqual(r["status"], "ok", r)
        m = peer.wait_decrypted(lambda m: m["body"] == fixed,
                                timeout=TIMEOUT)
        self.assertIn("urn:xmpp:message-correct:0", m["xml"])
        self.assert_not_on_wire(host, fixed)
        peer.assert_no_plaintext(fixed)
        self.assertFalse(host.events(
            "conv_write", lambda e: "not sent in the clear" in
            (e.get("text") or "")))

    def test_default_off(self):
        """With the account option off, a contact with OMEMO gets plaintext
        until /omemo on."""
        me, them = self.user(), self.user()
        peer = self.omemo_peer(them)
        host, acc = self.host_online(me)
        host.set_account(acc, "xmpp-modern-omemo-default", False)
        host.send_im(acc, them[0], "in the clear")
        peer.wait_received(lambda m: m["body"] == "in the clear"
                           and not m["encrypted"], timeout=TIMEOUT)
        r = host.command(acc, them[0], "omemo on")
        self.assertEqual(r["status"], "ok", r)
        host.send_im(acc, them[0], "now secret")
        m = peer.wait_decrypted(lambda m: m["body"] == "now secret",
                                timeout=TIMEOUT)
        self.assertTrue(m["encrypted"])
        self.assert_not_on_wire(host, "now secret")

    def test_refused_without_omemo(self):
        """/omemo on with a contact without OMEMO: nothing is sent, the user
        is told why and gets the text back."""
        me, them = self.user(), self.user()
        plain = Peer(them[0], them[1], self.info).connect()
        self._closers.append(plain.disconnect)
        host, acc = self.host_online(me)
        r = host.command(acc, them[0], "omemo on")
        self.assertEqual(r["status"], "ok", r)
        text = "must not leak " + uuid.uuid4().hex[:6]
        host.send_im(acc, them[0], text)
        w = host.wait_for_conv_write(account=acc, flag="system",
                                     text="Not sent", timeout=TIMEOUT)
        self.assertIn(text, w["text"])
        self.assert_not_on_wire(host, text)
        self.assertFalse([m for m in plain.pending_messages()
                          if text in str(m)])

    def test_sent_carbon_from_other_device(self):
        """Our phone (a python-omemo device of the same account) writes to a
        contact: the host decrypts the sent carbon and shows it as sent."""
        me, them = self.user(), self.user()
        host, acc = self.host_online(me)
        peer = self.omemo_peer(them)
        phone = self.omemo_peer(me, carbons=True)
        text = "from my phone " + uuid.uuid4().hex[:6]
        phone.send_encrypted(them[0], text, refresh=True)
        peer.wait_decrypted(lambda m: m["body"] == text, timeout=TIMEOUT)
        w = host.wait_for_conv_write(account=acc, flag="send", text=text,
                                     timeout=TIMEOUT)
        self.assertIn(them[0], w.get("conversation", them[0]))
        self.assert_not_on_wire(host, text)

    def test_offline_message_after_restart(self):
        """A message sent while we were offline (offline storage / archive)
        decrypts after a restart, with the store kept."""
        me, them = self.user(), self.user()
        userdir = tempfile.mkdtemp(prefix="pxm-omemo-")
        self._closers.append(lambda: shutil.rmtree(userdir, True))
        host1 = TestHost(BUILD_ROOT, userdir=userdir, keep_userdir=True)
        self._closers.append(host1.close)
        host1, acc1 = self.host_online(me, host1)
        peer = self.omemo_peer(them)
        hello = "hello " + uuid.uuid4().hex[:6]
        peer.send_encrypted(me[0], hello, refresh=True)
        host1.wait_for_conv_write(account=acc1, flag="recv", text=hello,
                                  timeout=TIMEOUT)
        self.assertEqual(host1.close(), 0)

        later = "while you slept " + uuid.uuid4().hex[:6]
        peer.send_encrypted(me[0], later)
        host2 = self.host(userdir=userdir)
        host2, acc2 = self.host_online(me, host2)
        host2.wait_for_conv_write(account=acc2, flag="recv", text=later,
                                  timeout=TIMEOUT)
        self.assert_not_on_wire(host2, later)


if __name__ == "__main__":
    pxm_it.main()

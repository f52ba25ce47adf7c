# SPDX-License-Identifier: GPL-3.0-or-later
"""A second libpurple client speaking legacy OMEMO through Debian's purple-lurch 0.7.

The headless test host (tests/host) runs plain libpurple (without our plugin) and loads
lurch.so from libpurple's plugin directory.  Two facts make lurch work there:

- lurch publishes with prpl-jabber's jabber_pep_publish(), which does nothing unless the
  server domain's disco#info has a pubsub/pep identity; Prosody 0.12 does not advertise
  one.  The account gets the host setting "pxm-server-pep-identity", with which the host
  adds that identity to the server's answer for this account only (what ejabberd and
  others advertise); the server and every other client stay as deployed.
- lurch publishes without publish-options, so its device list and bundle keep PEP's
  default "presence" access model: only contacts can read them.  make_contact() does
  the mutual subscription.

lurch turns OMEMO on by default for one-to-one conversations (`/lurch enable|disable`
per conversation, `/lurch help`), trusts every device (no verification step, nothing to
answer), and keeps its state in the user dir: USER_omemo_db.sqlite (device lists,
table devicelists) and USER_axc_db.sqlite (identity, sessions, pre-keys), USER being the
bare JID.

    from pxm_lurch import LurchHost
    with LurchHost(build_root, info, "carol@localhost") as lurch:
        peer = OmemoPeer("bob@localhost", "pass-bob", info, versions="oldmemo")
        lurch.make_contact(peer)
        lurch.wait_devices(peer.bare, [peer.device_id()])
        lurch.send(peer.bare, "hello")
        peer.wait_decrypted(lambda m: m["body"] == "hello")
        peer.send_encrypted(lurch.bare, "hi lurch")
        lurch.wait_message(lambda m: m["body"] == "hi lurch")
"""

import html
import os
import re
import sqlite3
import subprocess
import time

from pxm_host import TestHost

NS_OLD = "eu.siacs.conversations.axolotl"
PEP_IDENTITY_SETTING = "pxm-server-pep-identity"


def lurch_path():
    """lurch.so in libpurple's plugin directory, or None when not installed."""
    try:
        plugindir = subprocess.run(["pkg-config", "--variable=plugindir", "purple"],
                                   capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        plugindir = ""
    for d in (plugindir, "/usr/lib/x86_64-linux-gnu/purple-2", "/usr/lib/purple-2"):
        if d and os.path.exists(os.path.join(d, "lurch.so")):
            return os.path.join(d, "lurch.so")
    return None


class LurchError(AssertionError):
    """lurch did not do what was expected in time."""


class LurchHost:
    """A headless libpurple with purple-lurch and one XMPP account.

    build_root    the meson build dir (for tests/host/pxm-test-host)
    server_info   the test server's info dict
    jid           "carol@localhost" (a random resource is added)
    xml           trace the account's XML (xml_out() / assert_no_plaintext())
    debug_events  libpurple's debug lines as events (lurch's own log; off for benchmarks)
    connect       sign on now and wait until lurch has published its device (default)

    Attributes: host (the TestHost), account (its account name), bare, userdir.
    """

    def __init__(self, build_root, server_info, jid, password=None, xml=True,
                 debug_events=True, connect=True, timeout=30, **host_kw):
        if hasattr(server_info, "info"):
            server_info = server_info.info
        path = lurch_path()
        if path is None:
            raise LurchError("purple-lurch is not installed")
        self.info = server_info
        self.bare = jid.split("/", 1)[0]
        self.host = TestHost(build_root, plugin=False, debug_events=debug_events, **host_kw)
        try:
            self.plugin_id = self.host.load_plugin(path)
            self.account = self.host.add_account(server_info, jid, password=password,
                                                 options={PEP_IDENTITY_SETTING: True})
            self.xml = xml
            if xml:
                self.host.xml(self.account, True)
            self.userdir = self.host.ready["userdir"]
            if connect:
                self.connect(timeout)
        except BaseException:
            self.host.close()
            raise

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        return self.host.close()

    # -- state ------------------------------------------------------------------------------
    def connect(self, timeout=30):
        """Sign on and wait until lurch has its device id in its own published list."""
        self.host.connect_and_wait(self.account, timeout=timeout)
        self.wait_devices(self.bare, timeout=timeout)

    def _db(self, which):
        path = os.path.join(self.userdir, "%s_%s_db.sqlite" % (self.bare, which))
        if not os.path.exists(path):
            return None
        return sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)

    def devices(self, bare_jid):
        """Device ids lurch has stored for bare_jid (its own: our published list)."""
        db = self._db("omemo")
        if db is None:
            return []
        try:
            return sorted(r[0] for r in db.execute(
                "SELECT id FROM devicelists WHERE name = ?", (bare_jid,)))
        except sqlite3.OperationalError:     # not created yet / being written
            return []
        finally:
            db.close()

    def device_id(self):
        """Our device id (from lurch's axc database)."""
        db = self._db("axc")
        if db is None:
            raise LurchError("no axc database yet")
        try:
            # axc uses the registration id as the OMEMO device id.
            for (value,) in db.execute("SELECT property FROM settings WHERE name = "
                                       "'axolotl_registration_id'"):
                return int(value)
        finally:
            db.close()
        raise LurchError("no device id in the axc database")

    def wait_devices(self, bare_jid, device_ids=None, timeout=20):
        """Wait until lurch knows bare_jid's devices (all of device_ids, or any)."""
        end = time.monotonic() + timeout
        while True:
            have = self.devices(bare_jid)
            if (device_ids is None and have) or \
                    (device_ids is not None and set(device_ids) <= set(have)):
                return have
            if time.monotonic() > end:
                raise LurchError("lurch knows devices %s of %s, wanted %s"
                                 % (have, bare_jid, device_ids or "any"))
            time.sleep(0.1)

    # -- contacts and conversations ------------------------------------------------------
    def make_contact(self, peer, timeout=15):
        """Mutual presence subscription with a pxm_peer.Peer (lurch's PEP nodes are
        readable by contacts only)."""
        self.host.add_buddy(self.account, peer.bare)
        peer.wait_presence(lambda p: p["type"] == "subscribe"
                           and p["from"].split("/")[0] == self.bare, timeout)
        peer.approve(self.bare)
        peer.subscribe(self.bare)
        req = self.host.wait_for_request(
            lambda e: e.get("type") == "authorize" and e.get("who") == peer.bare,
            timeout=timeout)
        self.host.answer(req, 0)
        end = time.monotonic() + timeout
        while peer.roster().get(self.bare, {}).get("subscription") != "both":
            if time.monotonic() > end:
                raise LurchError("no mutual subscription with %s" % peer.bare)
            time.sleep(0.05)

    def command(self, conversation, text):
        """Run `/lurch ...` (text without the slash) in an IM conversation; returns the
        system lines lurch wrote in reply."""
        before = len(self.host.history)
        reply = self.host.command(self.account, conversation, text)
        if reply.get("status") != "ok":
            raise LurchError("/%s: %s" % (text, reply))
        return [e["text"] for e in self.host.history[before:]
                if e.get("event") == "conv_write" and "system" in e.get("flags", ())]

    def enable(self, conversation):
        """`/lurch enable` in the IM conversation with @conversation."""
        return self.command(conversation, "lurch enable")

    def disable(self, conversation):
        return self.command(conversation, "lurch disable")

    def status(self, conversation):
        return self.command(conversation, "lurch status")

    def fingerprint(self, conversation=None):
        """Our fingerprint as lurch prints it (`/lurch fp show`), lower-case hex
        without spaces."""
        for line in self.command(conversation or self.bare, "lurch fp show"):
            m = re.search(r"fingerprint is ([0-9a-fA-F ]+)", html.unescape(line))
            if m:
                return m.group(1).replace(" ", "").lower()
        raise LurchError("no fingerprint in lurch's answer")

    # -- messages ---------------------------------------------------------------------------
    def send(self, to, text):
        """Send an IM as the user would (lurch encrypts it when it can)."""
        return self.host.send_im(self.account, to, text, escape=True)

    def wait_message(self, predicate=None, timeout=15):
        """The first received message (conv_write with flag recv, not yet taken) that
        predicate accepts, as {from, body, flags, time, event}. The body is the text as
        shown, HTML-unescaped."""
        def match(e):
            if e.get("account") != self.account or "recv" not in e.get("flags", ()):
                return False
            return predicate is None or predicate(self._message(e))
        e = self.host.wait_for("conv_write", match, timeout=timeout)
        return self._message(e)

    @staticmethod
    def _message(e):
        return {"from": e.get("who"), "body": html.unescape(e.get("text") or ""),
                "flags": e.get("flags", []), "time": e.get("time"), "event": e}

    def system_lines(self):
        """Every system/error line written to a conversation so far."""
        return [e["text"] for e in self.host.history
                if e.get("event") == "conv_write" and e.get("account") == self.account
                and ({"system", "error"} & set(e.get("flags", ())))]

    def xml_out(self):
        """The XML this account sent (needs xml=True)."""
        return [e["xml"] for e in self.host.history
                if e.get("event") == "xml" and e.get("dir") == "out"
                and e.get("account") == self.account]

    def assert_no_plaintext(self, text):
        if not self.xml:
            raise LurchError("no XML trace (xml=False)")
        for x in self.xml_out():
            if text in x or html.escape(text) in x:
                raise AssertionError("plaintext %r sent: %s" % (text, x[:300]))

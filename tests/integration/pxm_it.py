# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared set-up of the integration tests: paths, skip rules, one private
Prosody per test module, headless hosts with the plugin, slixmpp peers.

Import it first: it exits with 77 (skip) when prosody or slixmpp is missing.
"""

import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.environ.get("PXM_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(HERE))
BUILD_ROOT = os.environ.get("PXM_BUILD_ROOT") or os.path.join(
    SOURCE_ROOT, "build")
for sub in ("tests/server", "tests/peers", "tests/host"):
    sys.path.insert(0, os.path.join(SOURCE_ROOT, sub))

SKIP = 77
try:
    import pxm_server
    SERVER = pxm_server.server_kind()
    if SERVER not in ("prosody", "ejabberd"):
        raise ImportError("PXM_SERVER=%s not supported" % SERVER)
    if not pxm_server.server_available(SERVER):
        raise ImportError("%s not installed" % SERVER)
    import slixmpp  # noqa: F401
    import pxm_peer  # noqa: F401
    import pxm_host  # noqa: F401
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(SKIP)

from pxm_host import TestHost  # noqa: E402
from pxm_peer import Peer  # noqa: E402

PLUGIN = os.path.join(BUILD_ROOT, "plugin", "xmpp-modern.so")


def prosody_only(reason):
    """Skip a test (or class) under PXM_SERVER=ejabberd: it depends on a detail
    only Prosody has; @reason says which."""
    return unittest.skipIf(SERVER != "prosody", "Prosody only: " + reason)


def manifests():
    """The extensions' manifests from the source tree, by id."""
    root = os.path.join(SOURCE_ROOT, "plugin", "extensions")
    out = {}
    for name in sorted(os.listdir(root)):
        path = os.path.join(root, name, "manifest.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                out[name] = json.load(f)
    return out


def effective(wanted):
    """The extensions that run when @wanted are switched on: an extension
    whose dependency is off is off too."""
    ms = manifests()
    on = set(wanted)
    changed = True
    while changed:
        changed = False
        for i in list(on):
            if any(d not in on for d in ms[i].get("depends", [])):
                on.discard(i)
                changed = True
    return on


def default_on():
    return effective(i for i, m in manifests().items()
                     if m["enabled_by_default"])


def all_features():
    return {f for m in manifests().values() for f in m.get("features", [])}


class ServerTestCase(unittest.TestCase):
    """One private Prosody for the whole test class; helpers for hosts and
    peers that are closed after each test."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="pxm-it-")
        cls.server = pxm_server.make_server(os.path.join(cls.tmp.name, "srv"))
        cls.info = cls.server.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.tmp.cleanup()

    def setUp(self):
        self._closers = []

    def tearDown(self):
        for close in reversed(self._closers):
            try:
                close()
            except Exception as e:  # keep closing the rest
                print("cleanup: %r" % e, file=sys.stderr)

    def jid(self, user):
        return "%s@%s" % (user, self.info["domain"])

    def host(self, plugin=True, **kw):
        h = TestHost(BUILD_ROOT, plugin=plugin, **kw)
        self._closers.append(h.close)
        return h

    def online(self, host, user, xml=False, **kw):
        """An account of @user in @host, signed on; returns its name."""
        account = host.add_account(self.info, self.jid(user), **kw)
        if xml:
            host.xml(account, True)
        host.connect_and_wait(account)
        return account

    def peer(self, user, **kw):
        p = Peer(self.jid(user), self.info["users"][self.jid(user)],
                 self.info, **kw).connect()
        self._closers.append(p.disconnect)
        return p


def main():
    unittest.main(verbosity=2)

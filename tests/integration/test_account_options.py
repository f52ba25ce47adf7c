# SPDX-License-Identifier: GPL-3.0-or-later
"""Account options declared by the extensions' manifests ("account_options"):
prpl-jabber's account dialog (its protocol_options) lists them after the
per-extension switches while the plugin is loaded, with the manifest's type,
label and default, and none of them after it is unloaded.  They are
prpl-jabber's options, shared by every XMPP account: an extension switched
off for one account keeps its options in the dialog.  No server needed."""

import os
import unittest

import pxm_it
from pxm_host import TestHost

PREFIX = "xmpp-modern-"


def declared():
    """[(extension id, option)] in manifest order."""
    return [(ext, o) for ext, m in pxm_it.manifests().items()
            for o in m.get("account_options", [])]


class AccountOptions(unittest.TestCase):

    def host(self, **kw):
        h = TestHost(pxm_it.BUILD_ROOT, **kw)
        self.addCleanup(h.close)
        return h

    def options(self, host):
        return host.cmd("account_options")["options"]

    def ours(self, host):
        return [o for o in self.options(host)
                if o["setting"].startswith(PREFIX)]

    def assert_listed(self, host):
        ours = self.ours(host)
        settings = [o["setting"] for o in ours]
        self.assertEqual(len(settings), len(set(settings)), settings)
        by_key = {o["setting"]: o for o in ours}
        switches = {PREFIX + ext for ext in pxm_it.manifests()}
        wanted = declared()
        self.assertEqual(set(settings),
                         switches | {o["key"] for _, o in wanted})
        # The switches first, then each extension's options in order.
        first_option = min(settings.index(o["key"]) for _, o in wanted)
        self.assertTrue(all(settings.index(s) < first_option
                            for s in switches), settings)
        self.assertEqual([s for s in settings if s not in switches],
                         [o["key"] for _, o in wanted])
        for _, o in wanted:
            shown = by_key[o["key"]]
            self.assertEqual(shown["text"], "Modern XMPP: " + o["label"])
            if o["type"] == "choice":
                self.assertEqual(shown["type"], "list")
                # libpurple's default is the first choice.
                self.assertEqual(shown["default"], o["default"])
                self.assertEqual(
                    sorted((c["value"], c["text"]) for c in shown["choices"]),
                    sorted((c["value"], c["label"]) for c in o["choices"]))
            else:
                self.assertEqual(shown["type"], o["type"])
                self.assertEqual(shown["default"], o["default"])
        return by_key

    def test_listed_while_loaded(self):
        host = self.host(plugin=None)
        before = self.options(host)
        self.assertEqual([o for o in before
                          if o["setting"].startswith(PREFIX)], [])
        for _ in range(2):
            host.load_plugin(pxm_it.PLUGIN)
            by_key = self.assert_listed(host)
            # The settings users already have keep their keys and defaults.
            self.assertEqual(by_key[PREFIX + "mam-days"]["default"], 7)
            self.assertEqual(by_key[PREFIX + "self-ping-quiet"]["default"],
                             900)
            self.assertIs(by_key[PREFIX + "omemo-default"]["default"], True)
            self.assertEqual(by_key[PREFIX + "upload-mode"]["default"], "auto")
            self.assertEqual(
                [c["value"] for c in by_key[PREFIX + "upload-mode"]["choices"]],
                ["auto", "always", "never"])
            host.unload_plugin()
            # Only prpl-jabber's own options are left, as they were.
            self.assertEqual(self.options(host), before)

    def test_extension_off_for_an_account(self):
        """Options are per protocol: switching MAM off for one account
        leaves its option in the dialog (it just has no effect there)."""
        host = self.host()
        host.cmd("account", jid="alice@localhost/pidgin", password="x",
                 options={PREFIX + "xep0313-mam": False})
        self.assertIn(PREFIX + "mam-days", self.assert_listed(host))

    def test_french(self):
        env = dict(os.environ, LC_ALL="C.UTF-8", LANGUAGE="fr",
                   PXM_LOCALEDIR=os.path.join(pxm_it.BUILD_ROOT, "po"))
        host = self.host(env=env)
        by_key = {o["setting"]: o for o in self.ours(host)}
        nbsp = "\u00a0"
        self.assertEqual(
            by_key[PREFIX + "mam-days"]["text"],
            "XMPP moderne" + nbsp + ": jours d’historique récupérés à la "
            "première connexion")
        self.assertEqual(
            by_key[PREFIX + "self-ping-quiet"]["text"],
            "XMPP moderne" + nbsp + ": secondes de silence d’un salon avant "
            "de le vérifier")
        self.assertEqual(
            {c["value"]: c["text"]
             for c in by_key[PREFIX + "upload-mode"]["choices"]},
            {"auto": "Quand le contact ne peut pas recevoir de transfert "
                     "direct",
             "always": "Toujours", "never": "Jamais"})


if __name__ == "__main__":
    pxm_it.main()

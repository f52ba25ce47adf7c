#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Load -> unload -> load of the plugin with an account online, in the real
host under valgrind: no invalid access and no leak may involve the plugin's
code, and when the host quits (unloading the plugin) no block the plugin
allocated for itself is still reachable."""

import os
import shutil
import sys
import xml.etree.ElementTree as ET

import pxm_it
from pxm_it import ServerTestCase

PLUGIN_OBJ = "xmpp-modern.so"

# Blocks still reachable at exit that the plugin caused but does not own:
# process-wide caches and one-time initialisation of the libraries it
# calls (GLib's time-zone cache and per-thread data, the locks GResource
# and GVariant's type cache create on first use, libcurl's and libgcrypt's
# global state). Keyed by the library function the plugin called, or by
# the library that function lives in.
LIBRARY_CACHES = {"g_date_time_new_from_unix_utc", "g_date_time_format",
                  "g_log", "g_resources_enumerate_children",
                  "g_resources_lookup_data"}
LIBRARY_GLOBAL_INIT = ("libcurl", "libgcrypt")


def plugin_owned(frames):
    """Whether a still-reachable block is the plugin's own state: the
    function the plugin called to get it is no library cache."""
    for i, frame in enumerate(frames):
        if PLUGIN_OBJ in (frame.findtext("obj") or ""):
            if i == 0:
                return True
            callee = frames[i - 1]
            lib = os.path.basename(callee.findtext("obj") or "")
            return (callee.findtext("fn") not in LIBRARY_CACHES
                    and not lib.startswith(LIBRARY_GLOBAL_INIT))
    return False


def plugin_errors(path):
    """valgrind's errors (XML report) with a frame in the plugin, and the
    blocks the plugin still holds when the host exits (it unloads the
    plugin first: unload must free all state)."""
    found = []
    for error in ET.parse(path).getroot().iter("error"):
        frames = error.findall("./stack/frame")
        if error.findtext("kind") == "Leak_StillReachable":
            keep = plugin_owned(frames)
        else:
            keep = any(PLUGIN_OBJ in (f.findtext("obj") or "") for f in frames)
        if keep:
            what = error.findtext("what") or error.findtext("./xwhat/text")
            where = ["%s (%s:%s)" % (f.findtext("fn"), f.findtext("file"),
                                     f.findtext("line"))
                     for f in frames[:12]]
            found.append("%s: %s\n    %s" % (error.findtext("kind"), what,
                                           "\n    ".join(where)))
    return found


class Valgrind(ServerTestCase):

    def test_load_unload_load_clean(self):
        if shutil.which("valgrind") is None:
            self.skipTest("valgrind is not installed")
        report = os.path.join(self.tmp.name, "valgrind.xml")
        host = self.host(plugin=None, start_timeout=120, wrapper=[
            "valgrind", "--xml=yes", "--xml-file=" + report,
            "--leak-check=full", "--show-leak-kinds=all",
            "--num-callers=30", "--child-silent-after-fork=yes"])
        alice = self.online(host, "alice")
        bob = self.peer("bob")

        for round_ in range(2):
            host.load_plugin(pxm_it.PLUGIN)
            text = "round %d" % round_
            host.send_im(alice, self.jid("bob"), text)
            bob.wait_message(lambda m, t=text: m["body"] == t, timeout=60)
            bob.send_message(self.jid("alice"), "reply %d" % round_)
            host.wait_for_conv_write(account=alice, flag="recv",
                                     text="reply %d" % round_, timeout=60)
            r = host.command(alice, self.jid("bob"), "xmpp-modern")
            self.assertEqual(r["status"], "ok", r)
            host.unload_plugin()
        host.load_plugin(pxm_it.PLUGIN)
        host.close(timeout=120)

        errors = plugin_errors(report)
        self.assertEqual(errors, [], "\n".join(errors))
        # The report is real: valgrind ran and finished.
        with open(report, encoding="utf-8") as f:
            self.assertIn("</valgrindoutput>", f.read())


if __name__ == "__main__":
    pxm_it.main()

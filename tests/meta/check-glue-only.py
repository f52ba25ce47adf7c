#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""glue-only: plugin/host/glue.c is the only code that talks to prpl-jabber
through its signals, its IPC or symbols looked up at run time.

Every other C file under plugin/ must not name a prpl-jabber signal (a
"jabber-..." string), call purple_plugin_ipc_* or look symbols up
(g_module_symbol, dlsym).  Comments do not count.

Usage: check-glue-only.py SRCDIR
"""

import os
import re
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

GLUE = os.path.join("plugin", "host", "glue.c")
FORBIDDEN = [
    (re.compile(r'"jabber-[a-z-]+"'), "names a prpl-jabber signal"),
    (re.compile(r"\bpurple_plugin_ipc_(call|register|unregister)\b"),
     "uses plugin IPC"),
    (re.compile(r"\b(g_module_symbol|dlsym)\s*\("), "looks up symbols"),
]
COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    srcdir = os.path.abspath(sys.argv[1])
    check = metacheck.Check("glue-only")
    n = 0
    for top, _dirs, files in os.walk(os.path.join(srcdir, "plugin")):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(top, name)
            shown = metacheck.rel(srcdir, path)
            if shown == GLUE:
                continue
            n += 1
            with open(path, encoding="utf-8") as f:
                text = COMMENT.sub(lambda m: "\n" * m.group().count("\n"),
                                   f.read())
            for lineno, line in enumerate(text.splitlines(), 1):
                for pattern, what in FORBIDDEN:
                    if pattern.search(line):
                        check.fail(f"{shown}:{lineno}: {what}; only {GLUE} "
                                   "may (add what you need to the glue)")
    check.ok(f"{n} files besides the glue checked")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""potfiles: po/POTFILES.in lists exactly what needs translating.

Fails when a C file under plugin/ calls _(), N_(), C_() or NC_() but is not
listed (its strings would never reach the translators), when an AppStream
metainfo under data/ is not listed, or when a listed file does not exist or
is listed twice.

Usage: check-potfiles.py SRCDIR
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402


def uses_gettext(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return metacheck.GETTEXT_CALL.search(f.read()) is not None


def main():
    srcdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    check = metacheck.Check("potfiles")
    potfiles = os.path.join(srcdir, "po", "POTFILES.in")
    if not os.path.isfile(potfiles):
        check.fail("po/POTFILES.in is missing")
        return check.finish()

    listed = metacheck.read_lines_list(potfiles)
    seen = set()
    for entry in listed:
        if entry in seen:
            check.fail(f"po/POTFILES.in lists {entry} twice")
        seen.add(entry)
        if os.path.isabs(entry) or entry.startswith(".."):
            check.fail(f"po/POTFILES.in: {entry}: use a path relative to the source root")
        elif not os.path.isfile(os.path.join(srcdir, entry)):
            check.fail(f"po/POTFILES.in lists {entry}, which does not exist "
                       "(removed or renamed? update po/POTFILES.in)")

    needed = []
    for root, dirs, files in os.walk(os.path.join(srcdir, "plugin")):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith((".c", ".h")):
                path = os.path.join(root, name)
                if uses_gettext(path):
                    needed.append(metacheck.rel(srcdir, path))
    data = os.path.join(srcdir, "data")
    if os.path.isdir(data):
        for name in sorted(os.listdir(data)):
            if name.endswith((".metainfo.xml.in", ".appdata.xml.in", ".desktop.in")):
                needed.append(metacheck.rel(srcdir, os.path.join(data, name)))

    for path in needed:
        if path not in seen:
            check.fail(f"{path} has translatable strings but is not in "
                       "po/POTFILES.in: add it")
    for entry in sorted(seen):
        if entry.startswith("plugin/") and entry not in needed \
                and os.path.isfile(os.path.join(srcdir, entry)):
            check.note(f"{entry} is listed but has no _() or N_() any more")

    if not check.problems:
        check.ok(f"{len(needed)} files with translatable strings, all listed")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())

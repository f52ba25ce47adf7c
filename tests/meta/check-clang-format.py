#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""clang-format: every .c and .h under plugin/ and tests/ follows .clang-format.

Runs `clang-format --dry-run --Werror` (style from the .clang-format at the
source root) on each file and lists the ones that would change.
Skipped (77) when clang-format is not installed.

Usage: check-clang-format.py SRCDIR
"""

import os
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

DIRS = ("plugin", "tests")
CANDIDATES = ("clang-format", "clang-format-14", "clang-format-15", "clang-format-16",
              "clang-format-17", "clang-format-18", "clang-format-19")


def sources(srcdir):
    for top in DIRS:
        for root, dirs, files in os.walk(os.path.join(srcdir, top)):
            dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")))
            for name in sorted(files):
                if name.endswith((".c", ".h")):
                    yield os.path.join(root, name)


def main():
    srcdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    check = metacheck.Check("clang-format")
    tool = os.environ.get("CLANG_FORMAT") or next(
        (shutil.which(c) for c in CANDIDATES if shutil.which(c)), None)
    if tool is None:
        check.skip("clang-format is not installed")
    if not os.path.isfile(os.path.join(srcdir, ".clang-format")):
        check.fail(".clang-format is missing at the source root")
        return check.finish()
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"using {version}")

    files = list(sources(srcdir))
    for path in files:
        run = subprocess.run([tool, "--style=file", "--dry-run", "--Werror", path],
                             capture_output=True, text=True)
        if run.returncode != 0:
            spots = [line for line in run.stderr.splitlines() if ": error: " in line]
            if spots:
                first = spots[0].split(": error:")[0].replace(srcdir + os.sep, "")
                check.fail(f"{metacheck.rel(srcdir, path)}: {len(spots)} place(s) to "
                           f"reformat, first at {first}")
            else:
                check.fail(f"{metacheck.rel(srcdir, path)}: clang-format failed:\n"
                           f"{run.stderr.strip()}")
    if not check.problems:
        check.ok(f"{len(files)} files formatted as .clang-format says")
    return check.finish("To fix: clang-format -i FILE... (then review the diff).")


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Adds up meson's JSON test logs and prints 'N passed, N failed[, N skipped]'
as the last line.  A log that is missing counts as one failure: a run that
never happened is not a pass."""
import json
import os
import sys

passed = failed = skipped = 0
for path in sys.argv[1:]:
    label = os.path.relpath(path)
    if not os.path.exists(path):
        print(f"{label}: missing (counted as a failure)")
        failed += 1
        continue
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            entry = json.loads(line)
            result = entry.get("result")
            name = entry.get("name")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
                print(f"{label}: {name}: {result}")
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)

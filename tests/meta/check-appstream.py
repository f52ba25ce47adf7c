#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""appstream: the merged metainfo is valid and carries the translations.

Runs `appstreamcli validate --no-net --strict --pedantic` on the metainfo that
the build merged with po/ (errors, warnings and infos fail; pedantic hints are
shown only), then checks that its name and summary exist in every language of
po/LINGUAS, i.e. that i18n.merge_file really merged the translations.
Skipped (77) when appstreamcli is not installed (package appstream).

Usage: check-appstream.py SRCDIR BUILT-METAINFO
"""

import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    srcdir, metainfo = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    check = metacheck.Check("appstream")
    shown = os.path.basename(metainfo)
    if not os.path.isfile(metainfo):
        check.fail(f"{metainfo} was not built")
        return check.finish()

    appstreamcli = shutil.which("appstreamcli")
    if appstreamcli is None:
        check.skip("appstreamcli is not installed (package appstream)")
    cmd = [appstreamcli, "validate", "--no-net", "--strict", "--pedantic", "--explain", metainfo]
    run = subprocess.run(cmd, capture_output=True, text=True)
    output = (run.stdout + run.stderr).strip()
    if run.returncode != 0:
        check.fail(f"appstreamcli validate rejects {shown}:\n{output}")
    else:
        check.ok(f"appstreamcli validate --strict: {output.splitlines()[-1] if output else 'ok'}")

    try:
        root = ET.parse(metainfo).getroot()
    except ET.ParseError as e:
        check.fail(f"{shown}: not well-formed XML: {e}")
        return check.finish()
    cid = (root.findtext("id") or "").strip()
    if shown != f"{cid}.metainfo.xml":
        check.fail(f"{shown}: the installed name should be {cid}.metainfo.xml (its id)")
    linguas_path = os.path.join(srcdir, "po", "LINGUAS")
    linguas = metacheck.read_lines_list(linguas_path) if os.path.isfile(linguas_path) else []
    for tag in ("name", "summary"):
        have = {el.get(XML_LANG) for el in root.findall(tag) if el.get(XML_LANG)}
        missing = [lang for lang in linguas if lang not in have]
        if missing:
            check.fail(f"{shown}: <{tag}> has no translation for {', '.join(missing)} "
                       "(is po/<lang>.po complete, and data/ merged with po/?)")
        elif linguas:
            check.ok(f"<{tag}> translated into {', '.join(linguas)}")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())

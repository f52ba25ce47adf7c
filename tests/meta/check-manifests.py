#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""manifests: each extension folder is complete and wired in.

For every folder plugin/extensions/<id>/ (STYLE.md: "the extension id equals
its folder name, its manifest id, its test file"):
  * the folder is named xepNNNN-slug and NNNN is one of its manifest's XEPs;
  * manifest.json is valid JSON whose "id" is <id>, with a non-empty "name"
    and "description" (they are translated) and well-formed "xeps";
  * plugin/extensions/extensions.gresource.xml embeds <id>/manifest.json;
  * <id>/<id>.c exists and plugin/meson.build compiles it;
  * tests/unit/test-<id>.c exists and tests/unit/meson.build registers it.
Also: every file the resource list names exists.  (The C loader validates
manifests in depth; tests/unit/test-manifest.c covers that.)

Usage: check-manifests.py SRCDIR
"""

import os
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

GRESOURCE = "plugin/extensions/extensions.gresource.xml"


def gresource_files(srcdir, check):
    path = os.path.join(srcdir, GRESOURCE)
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        check.fail(f"{GRESOURCE}: cannot read it: {e}")
        return set()
    files = set()
    for f in root.iter("file"):
        name = (f.text or "").strip()
        files.add(name)
        if not os.path.isfile(os.path.join(os.path.dirname(path), name)):
            check.fail(f"{GRESOURCE} embeds {name}, which does not exist")
    return files


def read(srcdir, relpath):
    try:
        with open(os.path.join(srcdir, relpath), encoding="utf-8") as f:
            return f.read()
    except OSError:
        return ""


def main():
    srcdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    check = metacheck.Check("manifests")
    embedded = gresource_files(srcdir, check)
    plugin_meson = read(srcdir, "plugin/meson.build")
    unit_meson = read(srcdir, "tests/unit/meson.build")

    folders = metacheck.extension_dirs(srcdir)
    if not folders:
        check.fail("plugin/extensions/ has no extension folder")
    for ext in folders:
        before = len(check.problems)
        where = f"plugin/extensions/{ext}"
        m = metacheck.EXTENSION_DIR_RE.match(ext)
        if not m:
            check.fail(f"{where}: folder names are xepNNNN-slug "
                       "(lower case, digits and hyphens)")
        data = metacheck.load_manifest(srcdir, ext, check)
        if data is not None:
            shown = f"{where}/manifest.json"
            if data.get("id") != ext:
                check.fail(f"{shown}: \"id\" is {data.get('id')!r}, "
                           f"but the folder is {ext!r}: they must be equal")
            for key in ("name", "description"):
                value = data.get(key)
                if not isinstance(value, str) or not value.strip():
                    check.fail(f"{shown}: \"{key}\" must be a non-empty string "
                               "(users see it, translated)")
            xeps = metacheck.manifest_xeps(data, shown, check)
            if m and xeps and int(m.group(1)) not in {n for n, _ in xeps}:
                check.fail(f"{shown}: the folder says XEP-{m.group(1)}, "
                           "but \"xeps\" does not list it")
        if f"{ext}/manifest.json" not in embedded:
            check.fail(f"{GRESOURCE} does not embed {ext}/manifest.json: "
                       f"add <file>{ext}/manifest.json</file>")
        c_file = f"{where}/{ext}.c"
        if not os.path.isfile(os.path.join(srcdir, c_file)):
            check.fail(f"{c_file} is missing (the C half has the extension's id as name)")
        elif f"extensions/{ext}/{ext}.c" not in plugin_meson:
            check.fail(f"plugin/meson.build does not compile {c_file}")
        test_file = f"tests/unit/test-{ext}.c"
        if not os.path.isfile(os.path.join(srcdir, test_file)):
            check.fail(f"{test_file} is missing (each extension has its unit test)")
        elif f"'test-{ext}'" not in unit_meson:
            check.fail(f"tests/unit/meson.build does not register 'test-{ext}'")
        if len(check.problems) == before:
            check.ok(f"{ext}: manifest, resource, {ext}.c and test-{ext}.c agree")

    for name in sorted(embedded):
        folder = name.split("/", 1)[0]
        if name.endswith("/manifest.json") and folder not in folders:
            check.fail(f"{GRESOURCE} embeds {name} but there is no folder {folder}/")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())

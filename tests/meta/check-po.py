#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""fr-po-complete: the translations cover every string the plugin shows.

For each language given (e.g. fr):
  * msgfmt --check --statistics accepts po/<lang>.po and finds no fuzzy or
    untranslated message;
  * every message that xgettext extracts today from the files in
    po/POTFILES.in, plus the manifest names and descriptions printed by
    po/manifest-strings.py, is in po/<lang>.po and translated, with the same
    printf conversions.  So a new _() string without a translation fails here
    even before anyone regenerates the .pot.
Messages in the .po that nothing uses any more are only reported.

Usage: check-po.py SRCDIR LANG...
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

FIX_HINT = ("To fix: ninja -C BUILDDIR purple-xmpp-modern-update-po, then "
            "translate the new or fuzzy messages in po/{lang}.po (see po/README.md).")

CONVERSION = re.compile(
    r"%(?:(\d+)\$)?[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?"
    r"(?:hh|h|ll|l|L|q|j|z|Z|t)?([diouxXeEfFgGaAcspn%])")


def conversions(text):
    """The printf conversions of text, in argument order, '%%' left out."""
    found = []
    for m in CONVERSION.finditer(text):
        if m.group(2) == "%":
            continue
        found.append((int(m.group(1)) if m.group(1) else None, m.group(2)))
    if any(pos is not None for pos, _ in found):
        found.sort(key=lambda c: c[0] or 0)
    conv = {"i": "d"}
    return [conv.get(c, c) for _, c in found]


def extract_template(srcdir, tmp, check):
    """Run xgettext like the -pot target does; return the template entries."""
    xgettext = shutil.which("xgettext")
    if xgettext is None:
        check.skip("xgettext is not installed (package gettext)")
    fragment = os.path.join(tmp, "manifest-strings.pot")
    script = os.path.join(srcdir, "po", "manifest-strings.py")
    run = subprocess.run([sys.executable, script, "--srcdir", srcdir, "-o", fragment],
                         capture_output=True, text=True)
    if run.returncode != 0:
        check.fail("po/manifest-strings.py failed:\n" + run.stdout + run.stderr)
        return None
    pot = os.path.join(tmp, "template.pot")
    cmd = [xgettext, "--from-code=UTF-8", "--add-comments",
           *metacheck.XGETTEXT_KEYWORDS,
           "-D", srcdir, "-f", os.path.join(srcdir, "po", "POTFILES.in"),
           "-o", pot, fragment]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        check.fail("xgettext failed on the files of po/POTFILES.in:\n" + run.stderr)
        return None
    if run.stderr.strip():
        print(run.stderr.strip())
    if not os.path.exists(pot):
        return []  # nothing to translate at all
    return [e for e in metacheck.read_po(pot) if e.msgid != ""]


def msgfmt_statistics(po, lang, check):
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        check.skip("msgfmt is not installed (package gettext)")
    run = subprocess.run([msgfmt, "--check", "--statistics", "-o", os.devnull, po],
                         capture_output=True, text=True)
    out = run.stderr.strip()
    before = len(check.problems)
    if run.returncode != 0:
        check.fail(f"msgfmt --check rejects po/{lang}.po:\n{out}")
        return
    numbers = {kind: int(n) for n, kind in
               re.findall(r"(\d+) (translated|fuzzy|untranslated)", out)}
    if numbers.get("fuzzy", 0):
        check.fail(f"po/{lang}.po has {numbers['fuzzy']} fuzzy translation(s): "
                   "check them and remove the fuzzy flag")
    if numbers.get("untranslated", 0):
        check.fail(f"po/{lang}.po has {numbers['untranslated']} untranslated message(s)")
    if len(check.problems) == before:
        check.ok(f"msgfmt --check po/{lang}.po: {out}")


def check_language(srcdir, lang, template, check):
    po = os.path.join(srcdir, "po", f"{lang}.po")
    if not os.path.isfile(po):
        check.fail(f"po/{lang}.po is missing")
        return
    before = len(check.problems)
    msgfmt_statistics(po, lang, check)
    try:
        entries = [e for e in metacheck.read_po(po) if not e.obsolete and e.msgid != ""]
    except ValueError as e:
        check.fail(f"cannot read po/{lang}.po: {e}")
        return
    by_key = {e.key: e for e in entries}

    if template is not None:
        for t in template:
            where = " ".join(t.references[:3]) or "?"
            e = by_key.get(t.key)
            if e is None:
                check.fail(f'po/{lang}.po lacks "{metacheck.short(t.msgid)}" ({where})')
            elif not e.translated:
                state = "fuzzy" if "fuzzy" in e.flags else "untranslated"
                check.fail(f'po/{lang}.po:{e.line}: "{metacheck.short(t.msgid)}" is {state}')
            elif "c-format" in t.flags:
                want = conversions(t.msgid)
                for idx, text in sorted(e.msgstr.items()):
                    if conversions(text) != want:
                        check.fail(f'po/{lang}.po:{e.line}: the translation of '
                                   f'"{metacheck.short(t.msgid)}" has the printf '
                                   f"conversions {conversions(text)}, the original {want}")
        used = {t.key for t in template}
        for e in entries:
            if e.key not in used:
                check.note(f'po/{lang}.po:{e.line}: "{metacheck.short(e.msgid)}" is no '
                           "longer used (the next update-po makes it obsolete)")
        if len(check.problems) == before:
            check.ok(f"po/{lang}.po translates all {len(template)} messages "
                     "of the sources and manifests")


def main():
    if len(sys.argv) < 3:
        print(__doc__)
        return 2
    srcdir = os.path.abspath(sys.argv[1])
    langs = sys.argv[2:]
    check = metacheck.Check("fr-po-complete" if langs == ["fr"] else "po-complete")

    linguas = os.path.join(srcdir, "po", "LINGUAS")
    listed = metacheck.read_lines_list(linguas) if os.path.isfile(linguas) else []
    for lang in langs:
        if lang not in listed:
            check.fail(f"po/LINGUAS does not list {lang}: its .mo would not be built")

    with tempfile.TemporaryDirectory(prefix="pxm-po-") as tmp:
        template = extract_template(srcdir, tmp, check)
    for lang in langs:
        check_language(srcdir, lang, template, check)
    return check.finish(FIX_HINT.format(lang=langs[0]))


if __name__ == "__main__":
    sys.exit(main())

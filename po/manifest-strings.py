#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the translatable strings of the extension manifests as a .pot fragment.

xgettext cannot read JSON, yet each plugin/extensions/<id>/manifest.json holds a
"name" and a "description", and the "label" of each of its "account_options"
and of their "choices", that the plugin shows translated, through
g_dgettext(GETTEXT_PACKAGE, ...).  This script gives them to the gettext tools:

    po/manifest-strings.py                  # the fragment on stdout
    po/manifest-strings.py -o FILE          # ... into FILE
    po/manifest-strings.py --depfile D ...  # also a Makefile depfile for meson

The fragment is a valid PO template, so xgettext takes it as one more input
file (that is how po/meson.build feeds it to the -pot and -update-po targets)
and msgcat/msgmerge read it too.  Python standard library only.
"""

import argparse
import json
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIELDS = ("name", "description")
COMMENTS = {
    "name": 'Name of the extension "{}", shown in its account option and in '
            "the Extensions dialog.",
    "description": 'Description of the extension "{}".',
    "option": 'An account option of the extension "{}" (setting {}), shown '
              'after "Modern XMPP: " in the account dialog.',
    "choice": 'A value of the account option {} of the extension "{}" '
              '(setting value "{}").',
}


def option_labels(data, rel):
    """Yield (label, comment) for the account options of one manifest."""
    ext_id = data.get("id", "?")
    options = data.get("account_options", [])
    if not isinstance(options, list):
        raise SystemExit(f"{rel}: key 'account_options' must be an array")
    for i, option in enumerate(options):
        if not isinstance(option, dict) or not isinstance(option.get("label"), str):
            raise SystemExit(f"{rel}: key 'account_options[{i}].label' must be a string")
        key = option.get("key", "?")
        yield option["label"], COMMENTS["option"].format(ext_id, key)
        for j, choice in enumerate(option.get("choices", [])):
            if not isinstance(choice, dict) or not isinstance(choice.get("label"), str):
                raise SystemExit(f"{rel}: key 'account_options[{i}].choices[{j}]"
                                 ".label' must be a string")
            yield choice["label"], COMMENTS["choice"].format(
                key, ext_id, choice.get("value", "?"))


def find_manifests(root):
    """Return the manifest paths, relative to root, in a stable order."""
    base = os.path.join(root, "plugin", "extensions")
    found = []
    if os.path.isdir(base):
        for entry in sorted(os.listdir(base)):
            path = os.path.join(base, entry, "manifest.json")
            if os.path.isfile(path):
                found.append(os.path.relpath(path, root))
    return found


def po_quote(text):
    """Return text as a PO string literal."""
    text = (text.replace("\\", "\\\\").replace('"', '\\"')
            .replace("\n", "\\n").replace("\t", "\\t"))
    return '"' + text + '"'


def collect(root, manifests):
    """Return [(msgid, [(reference, comment)])] in first-seen order."""
    entries = {}
    for rel in manifests:
        with open(os.path.join(root, rel), encoding="utf-8") as f:
            try:
                data = json.load(f)
            except ValueError as e:
                raise SystemExit(f"{rel}: not valid JSON: {e}")
        if not isinstance(data, dict):
            raise SystemExit(f"{rel}: expected a JSON object")
        ext_id = data.get("id", os.path.basename(os.path.dirname(rel)))
        for field in FIELDS:
            value = data.get(field)
            if not isinstance(value, str) or not value.strip():
                raise SystemExit(f"{rel}: key '{field}' must be a non-empty string")
            comment = COMMENTS[field].format(ext_id)
            entries.setdefault(value, []).append((rel, comment))
        for label, comment in option_labels(data, rel):
            entries.setdefault(label, []).append((rel, comment))
    return list(entries.items())


def render(entries):
    out = [
        "# Strings of plugin/extensions/*/manifest.json, made by po/manifest-strings.py.",
        'msgid ""',
        'msgstr ""',
        '"Content-Type: text/plain; charset=UTF-8\\n"',
        '"Content-Transfer-Encoding: 8bit\\n"',
        "",
    ]
    for msgid, uses in entries:
        for _, comment in uses:
            out.append(f"#. {comment}")
        for rel in sorted({rel for rel, _ in uses}):
            out.append(f"#: {rel}")
        out.append(f"msgid {po_quote(msgid)}")
        out.append('msgstr ""')
        out.append("")
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--srcdir", default=ROOT,
                        help="the project's source root (default: %(default)s)")
    parser.add_argument("-o", "--output", help="write here instead of stdout")
    parser.add_argument("--depfile",
                        help="also write a Makefile depfile naming every manifest read")
    args = parser.parse_args()

    root = os.path.abspath(args.srcdir)
    manifests = find_manifests(root)
    text = render(collect(root, manifests))
    if args.output:
        # Only rewrite when it changed, so nothing downstream reruns for nothing.
        try:
            with open(args.output, encoding="utf-8") as f:
                same = f.read() == text
        except OSError:
            same = False
        if not same:
            with open(args.output, "w", encoding="utf-8") as f:
                f.write(text)
    else:
        sys.stdout.write(text)
    if args.depfile:
        # meson's configure_file() looks the output up by its base name.
        target = os.path.basename(args.output or "manifest-strings.pot")
        deps = [os.path.join(root, rel) for rel in manifests]
        with open(args.depfile, "w", encoding="utf-8") as f:
            f.write(target.replace(" ", "\\ ") + ": " +
                    " ".join(d.replace(" ", "\\ ") for d in deps) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

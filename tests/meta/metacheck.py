# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared helpers of the tests/meta checks (Python standard library only).

Every check prints one line per problem, then a one-line verdict, and exits
with 0 (pass), 1 (fail) or 77 (skipped: a tool is missing), which is what
`meson test` understands.
"""

import json
import os
import re
import sys

SKIP = 77

# The keywords of meson's i18n 'glib' preset (po/meson.build uses it).
XGETTEXT_KEYWORDS = [
    "--keyword=_",
    "--keyword=N_",
    "--keyword=C_:1c,2",
    "--keyword=NC_:1c,2",
    "--keyword=g_dcgettext:2",
    "--keyword=g_dngettext:2,3",
    "--keyword=g_dpgettext2:2c,3",
]

# A call of one of glib's gettext macros: _( N_( C_( NC_( Q_( not preceded
# by a letter, digit or underscore (so foo_( does not count).
GETTEXT_CALL = re.compile(r"(?<![A-Za-z0-9_])(?:N|C|NC|Q)?_\(")

EXTENSION_DIR_RE = re.compile(r"^xep(\d{4})-[a-z0-9]+(?:-[a-z0-9]+)*$")


class Check:
    """Collects problems and turns them into a verdict and an exit code."""

    def __init__(self, name):
        self.name = name
        self.problems = []

    def fail(self, message):
        self.problems.append(message)
        print(f"FAIL: {message}")

    def note(self, message):
        print(f"note: {message}")

    def ok(self, message):
        print(f"ok: {message}")

    def skip(self, reason):
        print(f"SKIP: {self.name}: {reason}")
        sys.exit(SKIP)

    def finish(self, hint=None):
        if self.problems:
            n = len(self.problems)
            print(f"\n{self.name}: {n} problem{'s' if n != 1 else ''}.")
            if hint:
                print(hint)
            return 1
        print(f"\n{self.name}: all good.")
        return 0


def rel(srcdir, path):
    return os.path.relpath(path, srcdir)


def read_lines_list(path):
    """Non-empty, non-comment lines of a LINGUAS or POTFILES.in file."""
    items = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                items.extend(line.split() if path.endswith("LINGUAS") else [line])
    return items


def extension_dirs(srcdir):
    """The folders under plugin/extensions/, sorted."""
    base = os.path.join(srcdir, "plugin", "extensions")
    return sorted(d for d in os.listdir(base)
                  if os.path.isdir(os.path.join(base, d)) and not d.startswith("."))


def load_manifest(srcdir, folder, check):
    """Parse plugin/extensions/<folder>/manifest.json; None (and a failure) if bad."""
    path = os.path.join(srcdir, "plugin", "extensions", folder, "manifest.json")
    shown = rel(srcdir, path)
    if not os.path.isfile(path):
        check.fail(f"{shown}: missing (every extension folder has a manifest.json)")
        return None
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as e:
        check.fail(f"{shown}: not valid JSON: {e}")
        return None
    if not isinstance(data, dict):
        check.fail(f"{shown}: the top level is not a JSON object")
        return None
    return data


def manifest_xeps(data, shown, check):
    """The manifest's "xeps" as [(number, version)], reporting bad entries."""
    xeps = data.get("xeps")
    if not isinstance(xeps, list) or not xeps:
        check.fail(f"{shown}: key 'xeps' must be a non-empty array")
        return []
    out = []
    for i, x in enumerate(xeps):
        if (not isinstance(x, dict) or not isinstance(x.get("number"), int)
                or isinstance(x.get("number"), bool)
                or not isinstance(x.get("version"), str) or not x["version"]):
            check.fail(f"{shown}: xeps[{i}] must be "
                       '{"number": <integer>, "version": "<x.y.z>"}')
            continue
        out.append((x["number"], x["version"]))
    return out


# --- A small PO reader: enough for msgfmt-valid files ----------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(literal, where):
    literal = literal.strip()
    if len(literal) < 2 or literal[0] != '"' or literal[-1] != '"':
        raise ValueError(f"{where}: expected a quoted string, got {literal!r}")
    body, out, i = literal[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            n = body[i + 1]
            if n in _ESCAPES:
                out.append(_ESCAPES[n])
                i += 2
                continue
            m = re.match(r"[0-7]{1,3}", body[i + 1:])
            if m:
                out.append(chr(int(m.group(0), 8)))
                i += 1 + len(m.group(0))
                continue
        out.append(c)
        i += 1
    return "".join(out)


class PoEntry:
    def __init__(self):
        self.msgctxt = None
        self.msgid = None
        self.msgid_plural = None
        self.msgstr = {}
        self.flags = set()
        self.references = []
        self.obsolete = False
        self.line = 0

    @property
    def key(self):
        return (self.msgctxt, self.msgid)

    @property
    def translated(self):
        return (bool(self.msgstr) and all(self.msgstr.values())
                and "fuzzy" not in self.flags)


def read_po(path):
    """Return the entries of a PO/POT file (the header entry included)."""
    entries, cur, field = [], None, None
    shown = os.path.basename(path)

    def flush():
        nonlocal cur
        if cur is not None and cur.msgid is not None:
            entries.append(cur)
        cur = None

    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.rstrip("\n")
            obsolete = line.startswith("#~")
            if obsolete:
                line = line[2:].lstrip()
            if not line.strip():
                flush()
                field = None
                continue
            if line.startswith("#"):
                if cur is not None and cur.msgid is not None:
                    flush()
                if cur is None:
                    cur = PoEntry()
                if line.startswith("#,"):
                    cur.flags.update(x.strip() for x in line[2:].split(","))
                elif line.startswith("#:"):
                    cur.references.extend(line[2:].split())
                continue
            m = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(.*)$", line)
            if m:
                keyword, index, rest = m.group(1), m.group(2), m.group(3)
                if keyword in ("msgctxt", "msgid") and cur is not None and cur.msgid is not None:
                    flush()
                if cur is None:
                    cur = PoEntry()
                if cur.line == 0:
                    cur.line = n
                cur.obsolete = cur.obsolete or obsolete
                value = _unquote(rest, f"{shown}:{n}")
                if keyword == "msgctxt":
                    cur.msgctxt, field = value, ("msgctxt", None)
                elif keyword == "msgid":
                    cur.msgid, field = value, ("msgid", None)
                elif keyword == "msgid_plural":
                    cur.msgid_plural, field = value, ("msgid_plural", None)
                else:
                    idx = int(index) if index is not None else 0
                    cur.msgstr[idx] = value
                    field = ("msgstr", idx)
                continue
            if line.lstrip().startswith('"') and field is not None and cur is not None:
                value = _unquote(line, f"{shown}:{n}")
                name, idx = field
                if name == "msgstr":
                    cur.msgstr[idx] += value
                else:
                    setattr(cur, name, getattr(cur, name) + value)
                continue
            raise ValueError(f"{shown}:{n}: cannot read this line: {line!r}")
    flush()
    return entries


def short(text, width=70):
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"

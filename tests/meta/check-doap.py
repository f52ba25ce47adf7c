#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""doap: data/purple-xmpp-modern.doap lists exactly the XEPs we implement.

The XEPs (number and version) in the "xeps" arrays of all
plugin/extensions/*/manifest.json must be the xmpp:SupportedXep entries of
the DOAP file, one each: none missing, none extra, same versions.  Each entry
also needs an xmpp:status of "complete" or "partial" (a "partial" one wants
an xmpp:note saying what is missing).

Usage: check-doap.py SRCDIR
"""

import os
import re
import sys
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

DOAP = "data/purple-xmpp-modern.doap"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DOAP_NS = "http://usefulinc.com/ns/doap#"
XMPP = "https://linkmauve.fr/ns/xmpp-doap#"
XEP_URL = re.compile(r"^https://xmpp\.org/extensions/xep-(\d{4})\.html$")
STATUSES = ("complete", "partial")


def manifest_xeps(srcdir, check):
    """{number: {version: [extension ids]}} from the manifests."""
    found = {}
    for ext in metacheck.extension_dirs(srcdir):
        data = metacheck.load_manifest(srcdir, ext, check)
        if data is None:
            continue
        shown = f"plugin/extensions/{ext}/manifest.json"
        for number, version in metacheck.manifest_xeps(data, shown, check):
            found.setdefault(number, {}).setdefault(version, []).append(ext)
    return found


def doap_xeps(path, check):
    """{number: (version, status, line-ish label)} from the DOAP file."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        check.fail(f"{DOAP}: cannot read it: {e}")
        return {}
    if root.tag != f"{{{RDF}}}RDF" or root.find(f"{{{DOAP_NS}}}Project") is None:
        check.fail(f"{DOAP}: expected <rdf:RDF> holding a DOAP <Project>")
    for el in root.iter():
        if el.tag.endswith("}SupportedXep") and el.tag != f"{{{XMPP}}}SupportedXep":
            check.fail(f"{DOAP}: {el.tag} is in the wrong namespace; the XMPP "
                       f"DOAP extension is {XMPP}")

    found = {}
    for i, sx in enumerate(root.iter(f"{{{XMPP}}}SupportedXep"), 1):
        label = f"{DOAP}: SupportedXep #{i}"
        xep = sx.find(f"{{{XMPP}}}xep")
        url = xep.get(f"{{{RDF}}}resource", "") if xep is not None else ""
        m = XEP_URL.match(url)
        if not m:
            check.fail(f"{label}: <xmpp:xep rdf:resource=...> must be "
                       f"https://xmpp.org/extensions/xep-NNNN.html, not {url!r}")
            continue
        number = int(m.group(1))
        label = f"{DOAP}: XEP-{number:04d}"
        version = (sx.findtext(f"{{{XMPP}}}version") or "").strip()
        status = (sx.findtext(f"{{{XMPP}}}status") or "").strip()
        if not version:
            check.fail(f"{label}: <xmpp:version> is missing or empty")
        if status not in STATUSES:
            check.fail(f"{label}: <xmpp:status> is {status!r}; we only list what we "
                       f"implement, so it is one of {', '.join(STATUSES)}")
        elif status == "partial" and not (sx.findtext(f"{{{XMPP}}}note") or "").strip():
            check.fail(f"{label}: a partial implementation needs an <xmpp:note> "
                       "saying what is missing")
        if number in found:
            check.fail(f"{label}: listed twice")
        found[number] = (version, status)
    return found


def main():
    srcdir = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")
    check = metacheck.Check("doap")
    wanted = manifest_xeps(srcdir, check)
    listed = doap_xeps(os.path.join(srcdir, DOAP), check)

    for number in sorted(set(wanted) | set(listed)):
        name = f"XEP-{number:04d}"
        versions = wanted.get(number, {})
        if len(versions) > 1:
            detail = "; ".join(f"{v} in {', '.join(exts)}" for v, exts in sorted(versions.items()))
            check.fail(f"{name}: the manifests disagree on its version ({detail})")
            continue
        if number not in listed:
            (version, exts), = versions.items()
            check.fail(f"{name} {version} (extension {', '.join(exts)}) is missing from "
                       f"{DOAP}: add an <implements><xmpp:SupportedXep> for it")
        elif not versions:
            check.fail(f"{DOAP} lists {name}, but no extension's manifest.json does: "
                       "remove it, or add it to the manifest that implements it")
        else:
            (version, exts), = versions.items()
            if listed[number][0] and listed[number][0] != version:
                check.fail(f"{name}: {DOAP} says version {listed[number][0]}, "
                           f"{', '.join(exts)}/manifest.json says {version}")
            else:
                check.ok(f"{name} {version} ({listed[number][1]})")
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())

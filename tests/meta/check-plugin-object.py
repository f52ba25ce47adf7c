#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""plugin-object: the built xmpp-modern.so exports purple_init_plugin only,
and installs into libpurple's plugindir under the configured prefix.

1. `nm -D --defined-only` on the module: exactly one defined dynamic symbol,
   purple_init_plugin (everything else has hidden visibility).
2. `meson introspect --installed`: the module goes to purple's pkg-config
   `plugindir` with `libdir` redefined to PREFIX/LIBDIR of this build (so
   `--prefix` is honoured, not the system path of libpurple).
3. `meson install --destdir TMP --no-rebuild`: the module really lands in
   TMP + that directory, byte for byte the built one, and nothing is
   installed outside the prefix.
Skipped (77) when nm, pkg-config or meson is missing.

Usage: check-plugin-object.py BUILDDIR PLUGIN
"""

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import metacheck  # noqa: E402

ENTRY = "purple_init_plugin"


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True,
                          **kw).stdout


def exported(check, plugin):
    out = run(["nm", "-D", "--defined-only", plugin])
    symbols = sorted(line.split()[-1] for line in out.splitlines()
                     if line.strip())
    if symbols != [ENTRY]:
        extra = [s for s in symbols if s != ENTRY]
        shown = ", ".join(extra[:10]) + (" ..." if len(extra) > 10 else "")
        check.fail(f"{plugin} exports {len(extra)} symbols besides "
                   f"{ENTRY} ({shown})" if ENTRY in symbols else
                   f"{plugin} does not export {ENTRY}")
    else:
        check.ok(f"only {ENTRY} is exported")


def build_option(options, name):
    for o in options:
        if o["name"] == name:
            return o["value"]
    raise KeyError(name)


def expected_dir(meson, builddir):
    options = json.loads(run([meson, "introspect", "--buildoptions",
                              builddir]))
    prefix = build_option(options, "prefix")
    libdir = os.path.join(prefix, build_option(options, "libdir"))
    plugindir = run(["pkg-config", "--variable=plugindir",
                     "--define-variable=libdir=" + libdir, "purple"]).strip()
    return prefix, plugindir


def install(check, meson, builddir, plugin):
    prefix, plugindir = expected_dir(meson, builddir)
    installed = json.loads(run([meson, "introspect", "--installed",
                                builddir]))
    target = installed.get(os.path.abspath(plugin))
    want = os.path.join(plugindir, os.path.basename(plugin))
    if target != want:
        check.fail(f"the module installs to {target}, want {want}")
    else:
        check.ok(f"the module installs to {want} (prefix {prefix})")

    with tempfile.TemporaryDirectory(prefix="pxm-install-") as dest:
        env = dict(os.environ, DESTDIR="")
        run([meson, "install", "-C", builddir, "--no-rebuild", "--quiet",
             "--destdir", dest], env=env)
        placed = dest + want
        if not os.path.isfile(placed):
            check.fail(f"meson install --destdir put no module at {placed}")
        elif not filecmp.cmp(placed, plugin, shallow=False):
            check.fail(f"{placed} differs from the built {plugin}")
        else:
            check.ok(f"meson install --destdir: {placed}")
        root = os.path.join(dest, prefix.lstrip("/"))
        for top, _dirs, files in os.walk(dest):
            for name in files:
                path = os.path.join(top, name)
                if not path.startswith(root + os.sep):
                    check.fail("installed outside the prefix: "
                               + path[len(dest):])


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    builddir, plugin = (os.path.abspath(a) for a in sys.argv[1:])
    check = metacheck.Check("plugin-object")
    meson = shutil.which("meson")
    for tool in ("nm", "pkg-config"):
        if shutil.which(tool) is None:
            check.skip(f"{tool} is not installed")
    if meson is None:
        check.skip("meson is not in PATH")
    exported(check, plugin)
    install(check, meson, builddir, plugin)
    return check.finish()


if __name__ == "__main__":
    sys.exit(main())

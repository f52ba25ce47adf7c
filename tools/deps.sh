#!/bin/sh
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the Debian packages a task needs: `deps.sh build` or
# `deps.sh test`.  Run as root (or with sudo available).  Nothing else is
# downloaded.
set -eu

build_pkgs="meson ninja-build pkg-config gcc libc6-dev libpurple-dev
libglib2.0-dev libglib2.0-dev-bin libxml2-dev libjson-glib-dev
libsqlite3-dev libgcrypt20-dev libomemo-c-dev libcurl4-gnutls-dev gettext appstream"
run_pkgs="prosody lua-dbi-sqlite3 openssl python3 python3-slixmpp
python3-omemo python3-oldmemo python3-twomemo python3-xmlschema
libpurple0 procps"
test_pkgs="valgrind clang-format purple-lurch"
# Opt-in: the integration tests against ejabberd (tools/test-ejabberd).
ejabberd_pkgs="ejabberd erlang-base"

case "${1:-test}" in
build) pkgs="$build_pkgs" ;;
demo) pkgs="$build_pkgs $run_pkgs" ;;
test) pkgs="$build_pkgs $run_pkgs $test_pkgs" ;;
ejabberd) pkgs="$build_pkgs $run_pkgs $test_pkgs $ejabberd_pkgs" ;;
*) echo "usage: $0 build|demo|test|ejabberd" >&2; exit 2 ;;
esac

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	sudo="sudo"
fi
# Always refresh the package lists first: an old list can name versions the
# mirror no longer has.
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends $pkgs >/dev/null
# Debian starts the system Prosody on install where it can; the tests run
# their own on free loopback ports and never touch it.

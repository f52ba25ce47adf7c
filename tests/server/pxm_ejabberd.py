#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A private ejabberd 23.01 on loopback for the integration tests, with the same
interface and the same `info` dict as pxm_server.ProsodyServer.

    from pxm_ejabberd import EjabberdServer
    with EjabberdServer(tmpdir) as srv:
        info = srv.info

Selected for the integration tests with PXM_SERVER=ejabberd (pxm_server.make_server()).

The Erlang VM is started directly (not through ejabberdctl, whose shell would sit
between us and beam.smp and defeat the parent-death signal) with the same arguments
ejabberdctl would pass.  No epmd is used: the node listens for its distribution on a
free loopback port of ours (-erl_epmd_port, -start_epmd false), so a system ejabberd
(node ejabberd@localhost, epmd on 4369, /etc/ejabberd, /var/lib/ejabberd) is neither
touched nor in the way.  Everything else (config, certificates, Mnesia spool, cookie,
logs, uploads) lives under the work directory.  See README.md next to this file.
"""

import argparse
import glob
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import subprocess
import sys
import time

import pxm_server
from pxm_server import (DEFAULT_MAX_ARCHIVE_RESULTS, DEFAULT_USERS, DOMAIN, MUC_DOMAIN,
                        UPLOAD_DOMAIN, UPLOAD_SIZE_LIMIT, ServerError, _env_nonempty,
                        _pid_alive)

ERL = "/usr/bin/erl"
EJABBERDCTL = "/usr/sbin/ejabberdctl"
SERVICE_USER = "ejabberd"        # Debian's package creates it
CONFIG_FILE = "ejabberd.yml"
STATE_FILE = pxm_server.STATE_FILE
# ejabberd's own page size limit (mod_mam's ?MAX_PAGE_SIZE); not configurable.
EJABBERD_MAX_ARCHIVE_RESULTS = 250


def _erl_libs():
    """The directory holding ejabberd-<version>/ (what ejabberdctl sets as ERL_LIBS)."""
    try:
        with open(EJABBERDCTL) as f:
            m = re.search(r"^ERL_LIBS='?([^'\n]+)'?$", f.read(), re.M)
        if m and os.path.isdir(m.group(1)):
            return m.group(1)
    except OSError:
        pass
    found = glob.glob("/usr/lib/*/ejabberd-*/ebin/ejabberd.app") \
        + glob.glob("/usr/lib/ejabberd-*/ebin/ejabberd.app")
    return os.path.dirname(os.path.dirname(os.path.dirname(found[0]))) if found else None


def ejabberd_available():
    """True when ejabberd (Debian: ejabberd), erl, openssl and setpriv are installed."""
    return (os.access(ERL, os.X_OK) and _erl_libs() is not None
            and shutil.which("openssl") is not None and shutil.which("setpriv") is not None)


def _yaml_str(value):
    """A YAML double-quoted scalar (JSON's escaping is valid YAML)."""
    return json.dumps(str(value))


def pids_for_dir(workdir):
    """PIDs of live beam processes of the node of this work directory."""
    needle = _node_name(os.path.abspath(workdir)).encode()
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if needle in args:
            pids.append(int(name))
    return pids


def _node_name(workdir):
    # Fixed per work directory: Mnesia's data belongs to the node name, so a restart
    # from the same directory must reuse it.
    digest = hashlib.sha1(workdir.encode()).hexdigest()[:12]
    return "pxm-%s@localhost" % digest


class EjabberdServer(pxm_server.ProsodyServer):
    """A private ejabberd on loopback; same constructor and members as ProsodyServer.

    Differences: storage is always Mnesia ('storage' is accepted and recorded only);
    max_archive_results cannot be set (ejabberd caps a MAM page at 250 itself: info
    reports 250); extra_config is YAML appended to the top level of the config (not
    Lua); log_level defaults to $PXM_EJABBERD_LOG_LEVEL or 'info'.
    """

    kind = "ejabberd"
    n_ports = 5  # c2s, direct TLS, http, https, Erlang distribution
    register_while_running = True  # an RPC to the running node

    def __init__(self, workdir, storage="sql", extra_users=None, users=DEFAULT_USERS,
                 max_archive_results=DEFAULT_MAX_ARCHIVE_RESULTS, log_level=None,
                 extra_config="", detach=False, upload_size_limit=UPLOAD_SIZE_LIMIT):
        super().__init__(workdir, storage=storage, extra_users=extra_users, users=users,
                         max_archive_results=max_archive_results, log_level="info",
                         extra_config=extra_config, detach=detach,
                         upload_size_limit=upload_size_limit)
        self.requested_max_archive_results = self.max_archive_results
        self.max_archive_results = EJABBERD_MAX_ARCHIVE_RESULTS
        self.log_level = log_level or _env_nonempty("PXM_EJABBERD_LOG_LEVEL") or "info"
        self.node = _node_name(self.workdir)
        self.config_path = os.path.join(self.workdir, CONFIG_FILE)
        self.log_dir = os.path.join(self.workdir, "log")
        self.log_path = os.path.join(self.log_dir, "ejabberd.log")
        self.var_dir = os.path.join(self.workdir, "var")       # HOME: the cookie
        self.spool_dir = os.path.join(self.var_dir, "spool")    # Mnesia
        self.data_dir = self.spool_dir
        self.upload_dir = os.path.join(self.var_dir, "upload")
        self.inetrc_path = os.path.join(self.workdir, "inetrc")
        self.cookie_path = os.path.join(self.var_dir, ".erlang.cookie")

    # -- public API ----------------------------------------------------------------------
    @property
    def info(self):
        if self.ports is None:
            raise ServerError("server not started")
        saved = self.ports
        self.ports = saved[:4]
        try:
            info = super().info
        finally:
            self.ports = saved
        info["server"] = self.kind
        info["storage"] = "mnesia"
        info["node"] = self.node
        info["dist_port"] = saved[4]
        return info

    def processes(self):
        return [p for p in pids_for_dir(self.workdir) if _pid_alive(p)]

    def start(self, timeout=60):
        """Prepare the work directory, start ejabberd, wait until it serves c2s,
        register the users.  Returns self.info; raises ServerError on failure."""
        return super().start(timeout)

    def stop(self, timeout=10):
        """Stop the node (SIGTERM: the VM shuts ejabberd down cleanly, SIGKILL after
        `timeout`). Idempotent."""
        super().stop(timeout)

    def register(self, user, password=None):
        """Register one more account (an RPC to the running node). Returns the JID."""
        password = password or pxm_server.default_password(user)
        self.users[user] = password
        self._ctl("register", user, DOMAIN, password)
        self._mark_registered(user)
        return self.jid(user)

    def ejabberdctl(self, *args):
        """Run an ejabberdctl command against this node; returns its output."""
        return self._ctl(*args)

    def prosodyctl(self, *args):
        raise NotImplementedError("prosodyctl against ejabberd")

    # -- preparation ---------------------------------------------------------------------
    def _service_ids(self):
        if os.geteuid() != 0:
            return None
        try:
            pw = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            return pxm_server._ensure_service_user()
        return pw.pw_uid, pw.pw_gid

    def _prepare_dirs(self):
        os.makedirs(self.workdir, exist_ok=True)
        if self._ids:
            self._open_temp_ancestors()
        os.chmod(self.workdir, 0o755)
        os.makedirs(self.cert_dir, exist_ok=True)
        os.chmod(self.cert_dir, 0o755)
        for d in (self.var_dir, self.spool_dir, self.upload_dir, self.log_dir):
            os.makedirs(d, exist_ok=True)
            self._chown(d, 0o750 if d != self.log_dir else 0o755)
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
        self._chown(self.log_path, 0o644)
        if not os.path.exists(self.cookie_path):
            with open(self.cookie_path, "w") as f:
                f.write(secrets.token_hex(16).upper())
        self._chown(self.cookie_path, 0o400)
        with open(self.inetrc_path, "w") as f:
            # Names from this file only: no DNS.
            f.write('{lookup, ["file"]}.\n{host, {127,0,0,1}, ["localhost"]}.\n')
        os.chmod(self.inetrc_path, 0o644)

    def _write_config(self):
        c2s, c2s_tls, http, https, _dist = self.ports
        q = _yaml_str
        ips = ["127.0.0.1"] + (["::1"] if self.ipv6 else [])
        listen = []
        for ip in ips:
            listen.append(f"""  - port: {c2s}
    ip: {q(ip)}
    module: ejabberd_c2s
    backlog: 128
    starttls_required: true
    max_stanza_size: 1048576
    access: c2s
  - port: {c2s_tls}
    ip: {q(ip)}
    module: ejabberd_c2s
    backlog: 128
    tls: true
    max_stanza_size: 1048576
    access: c2s
  - port: {http}
    ip: {q(ip)}
    module: ejabberd_http
    backlog: 128
    request_handlers:
      /upload: mod_http_upload
  - port: {https}
    ip: {q(ip)}
    module: ejabberd_http
    backlog: 128
    tls: true
    request_handlers:
      /upload: mod_http_upload
""")
        listen = "".join(listen)
        text = f"""# Generated by tests/server/pxm_ejabberd.py; do not edit, it is rewritten on start.
hosts:
  - {q(DOMAIN)}
loglevel: {self.log_level}
log_rotate_count: 0
hide_sensitive_log_data: true
certfiles:
  - {q(self.cert_path)}
  - {q(self.key_path)}
  - {q(self.ca_path)}
c2s_protocol_options:
  - no_sslv3
  - no_tlsv1
  - no_tlsv1_1
listen:
{listen}
s2s_access: nobody
disable_sasl_mechanisms:
  - "digest-md5"
  - "X-OAUTH2"
auth_method: internal
auth_password_format: scram
acl:
  local:
    user_regexp: ""
access_rules:
  nobody:
    deny: all
  local:
    allow: local
  c2s:
    allow: all
shaper_rules:
  max_user_sessions: 20
  max_user_offline_messages: 5000
api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"
modules:
  mod_roster:
    versioning: true
  mod_disco: {{}}
  mod_carboncopy: {{}}
  mod_mam:
    default: always
    assume_mam_usage: true
  mod_caps: {{}}
  mod_pubsub:
    access_createnode: local
    plugins:
      - flat
      - pep
    force_node_config:
      "eu.siacs.conversations.axolotl.*":
        access_model: open
      storage:bookmarks:
        access_model: whitelist
  mod_private: {{}}
  mod_stream_mgmt:
    resend_on_timeout: if_offline
  mod_client_state: {{}}
  mod_vcard:
    search: false
  mod_vcard_xupdate: {{}}
  mod_avatar: {{}}
  mod_ping: {{}}
  mod_time: {{}}
  mod_version:
    show_os: false
  mod_last: {{}}
  mod_blocking: {{}}
  mod_privacy: {{}}
  mod_offline:
    access_max_user_messages: max_user_offline_messages
  mod_muc:
    host: {q(MUC_DOMAIN)}
    access: all
    access_create: all
    access_persistent: all
    access_mam: all
    history_size: 50
    default_room_options:
      mam: true
  mod_muc_admin: {{}}
  mod_http_upload:
    host: {q(UPLOAD_DOMAIN)}
    put_url: {q("https://%s:%d/upload" % (DOMAIN, https))}
    docroot: {q(self.upload_dir)}
    max_size: {self.upload_size_limit}
    custom_headers:
      "Access-Control-Allow-Origin": "*"
{self.extra_config}
"""
        with open(self.config_path, "w") as f:
            f.write(text)
        os.chmod(self.config_path, 0o644)

    def _check_access(self):
        if not self._ids:
            return
        proc = subprocess.run(self._priv_prefix() + [
            "sh", "-c", 'test -r "$1" && test -r "$2" && test -w "$3" && test -w "$4"', "-",
            self.config_path, self.key_path, self.spool_dir, self.log_path],
            env=self._env())
        if proc.returncode != 0:
            raise ServerError("user %s cannot read %s or write %s: make every parent "
                              "directory of the work dir traversable (o+x)"
                              % (SERVICE_USER, self.config_path, self.spool_dir))

    def _env(self):
        return {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
            "HOME": self.var_dir,
            "EJABBERD_CONFIG_PATH": self.config_path,
            "EJABBERD_LOG_PATH": self.log_path,
            "ERL_CRASH_DUMP": os.path.join(self.log_dir, "erl_crash.dump"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_INETRC": self.inetrc_path,
            "ERL_MAX_PORTS": "32000",
            "ERL_MAX_ETS_TABLES": "1400",
            "ERL_LIBS": _erl_libs() or "",
            "SCRIPT_DIR": os.path.dirname(EJABBERDCTL),
        }

    def _dist_args(self):
        return ["-erl_epmd_port", str(self.ports[4]), "-start_epmd", "false",
                "-kernel", "inet_dist_use_interface", "{127,0,0,1}"]

    def _ctl(self, *args, timeout=60):
        """ejabberdctl's client, run directly: a hidden node without a listener of its
        own that connects to ours on the distribution port."""
        name = "ctl-%s@localhost" % secrets.token_hex(4)
        cmd = self._priv_prefix() + [
            ERL, "-sname", name, *self._dist_args(), "-dist_listen", "false",
            "-hidden", "-noinput", "-s", "ejabberd_ctl", "-extra", self.node, *args]
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=self._env(),
                              cwd=self.spool_dir, timeout=timeout)
        if proc.returncode != 0:
            raise ServerError("ejabberdctl %s failed (%d):\n%s"
                              % (args[0], proc.returncode, proc.stdout))
        return proc.stdout

    def _register_pending_users(self):
        done = self._registered()
        for user, password in self.users.items():
            if done.get(user) == password:
                continue
            if user in done:
                self._ctl("unregister", user, DOMAIN)
            self._ctl("register", user, DOMAIN, password)
            self._mark_registered(user)

    # -- process management -----------------------------------------------------------
    def _available(self):
        return ejabberd_available()

    def _requirements(self):
        return "ejabberd, erlang, openssl, setpriv (util-linux)"

    def _command(self, pdeathsig):
        return self._priv_prefix(pdeathsig=pdeathsig) + [
            ERL, "-sname", self.node, "+K", "true", "+P", "250000", *self._dist_args(),
            "-mnesia", "dir", '"%s"' % self.spool_dir, "-s", "ejabberd", "-noinput"]

    def _spawn_cwd(self):
        return self.spool_dir

    def _port_in_use(self, new_log):
        return "eaddrinuse" in new_log

    def _serving(self):
        # The distribution port is left out: a bare connection there only makes the
        # VM log a failed handshake.
        saved = self.ports
        self.ports = saved[:4]
        try:
            return super()._serving()
        finally:
            self.ports = saved


def stop_dir(workdir, timeout=10):
    """Stop the node started (by the CLI or anyone) in workdir. Returns the PIDs stopped."""
    workdir = os.path.abspath(workdir)
    pids = {p for p in pids_for_dir(workdir) if _pid_alive(p)}
    stopped = sorted(pids)
    for pid in pids:
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    while pids and time.monotonic() < end:
        pids = {p for p in pids if _pid_alive(p)}
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, 9)
        except ProcessLookupError:
            pass
    try:
        os.unlink(os.path.join(workdir, STATE_FILE))
    except OSError:
        pass
    return stopped


def main(argv=None):
    ap = argparse.ArgumentParser(description="Private ejabberd on loopback for tests.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start a server and print its description as JSON")
    st.add_argument("--dir", required=True)
    st.add_argument("--users", help="comma-separated user names (default: %s)"
                    % ",".join(DEFAULT_USERS))
    st.add_argument("--log-level", default=None)
    sp = sub.add_parser("stop", help="stop the server of a work dir")
    sp.add_argument("--dir", required=True)
    args = ap.parse_args(argv)
    if args.cmd == "start":
        users = [u for u in (args.users or "").split(",") if u] or DEFAULT_USERS
        srv = EjabberdServer(args.dir, users=users, log_level=args.log_level, detach=True)
        try:
            info = srv.start()
        except ServerError as e:
            print("pxm_ejabberd: %s" % e, file=sys.stderr)
            return 1
        print(json.dumps(info), flush=True)
        return 0
    stopped = stop_dir(args.dir)
    if not stopped:
        print("pxm_ejabberd: no server was running in %s" % args.dir, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

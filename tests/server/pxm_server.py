#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Start and stop a private Prosody 0.12 on loopback for the integration tests.

Library use::

    from pxm_server import ProsodyServer
    with ProsodyServer(tmpdir) as srv:
        info = srv.info          # the same dict the CLI prints
        ...

Command line use::

    pxm_server.py start --dir D [--users alice,bob] [--storage sql|internal]
    pxm_server.py stop --dir D
    pxm_server.py status --dir D

Everything the server writes lives under the work directory: its config, certificates,
data, pid file, admin socket and log.  Nothing under /etc/prosody or /var/lib/prosody is
used, and a system Prosody (if one runs) is neither touched nor needed.  When we are root
the server runs as the unprivileged system user ``pxm-prosody`` (created on demand).

See README.md next to this file.
"""

import argparse
import atexit
import glob
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

DOMAIN = "localhost"
MUC_DOMAIN = "conference." + DOMAIN
UPLOAD_DOMAIN = "upload." + DOMAIN
SERVICE_USER = "pxm-prosody"
DEFAULT_USERS = ("alice", "bob", "carol", "dave")
DEFAULT_MAX_ARCHIVE_RESULTS = 250
UPLOAD_SIZE_LIMIT = 16 * 1024 * 1024

PROSODY = "/usr/bin/prosody"
PROSODYCTL = "/usr/bin/prosodyctl"
OPENSSL = "openssl"

STATE_FILE = "server.json"      # written by start(), read by the CLI's stop/status
CONFIG_FILE = "prosody.cfg.lua"
LOG_FILE = "prosody.log"


class ServerError(RuntimeError):
    """The server could not be prepared, started or stopped."""


def default_password(user):
    """Password given to a user when none is specified."""
    return "pass-" + user


def _env_nonempty(name):
    """os.environ.get() that treats a set-but-empty variable as unset."""
    value = os.environ.get(name)
    return value if value else None


def sqlite_driver_available():
    """True when LuaDBI's SQLite3 driver (Debian: lua-dbi-sqlite3) is installed."""
    return bool(glob.glob("/usr/lib/*/lua/5.*/dbd/sqlite3.so")
                or glob.glob("/usr/lib/lua/5.*/dbd/sqlite3.so")
                or glob.glob("/usr/local/lib/lua/5.*/dbd/sqlite3.so"))


def prosody_available(storage="sql"):
    """True when prosody, prosodyctl, openssl and setpriv are installed (and, for
    storage='sql', the SQLite driver)."""
    return (os.access(PROSODY, os.X_OK) and os.access(PROSODYCTL, os.X_OK)
            and shutil.which(OPENSSL) is not None and shutil.which("setpriv") is not None
            and (storage != "sql" or sqlite_driver_available()))


def _lua_str(value):
    """A Lua string literal for a Python str (paths, names)."""
    out = ['"']
    for ch in str(value):
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 32:
            out.append("\\%03d" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _ipv6_loopback_usable():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def _pick_ports(count, ipv6, avoid=()):
    """Pick `count` distinct free TCP ports on 127.0.0.1 (and ::1 when used).

    The sockets are held until all ports are chosen so the ports differ, then released;
    Prosody binds them a moment later (a bind failure is detected from the log and the
    start is retried with fresh ports)."""
    held, ports = [], []
    try:
        while len(ports) < count:
            s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s4)
            s4.bind(("127.0.0.1", 0))
            port = s4.getsockname()[1]
            if port in avoid:
                continue
            if ipv6:
                s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
                held.append(s6)
                try:
                    s6.bind(("::1", port))
                except OSError:
                    continue
            ports.append(port)
    finally:
        for s in held:
            s.close()
    return ports


def _port_free(port, ipv6):
    addrs = [(socket.AF_INET, "127.0.0.1")] + ([(socket.AF_INET6, "::1")] if ipv6 else [])
    for family, addr in addrs:
        with socket.socket(family, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True


def _ensure_service_user():
    """Return (uid, gid) of SERVICE_USER, creating it when we are root; None if not root."""
    if os.geteuid() != 0:
        return None
    try:
        pw = pwd.getpwnam(SERVICE_USER)
    except KeyError:
        proc = subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home",
             "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", SERVICE_USER],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:   # a concurrent run may have created it meanwhile: look again either way
            pw = pwd.getpwnam(SERVICE_USER)
        except KeyError:
            raise ServerError("cannot create user %s: %s" % (SERVICE_USER, proc.stdout.strip()))
    return pw.pw_uid, pw.pw_gid


def pids_for_dir(workdir):
    """PIDs of live processes whose command line names this work directory's config.

    Used to check that nothing is left behind after stop()."""
    needle = os.path.join(os.path.abspath(workdir), CONFIG_FILE).encode()
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


def _pid_alive(pid):
    """True if pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


class ProsodyServer:
    """A private Prosody on loopback, configured, started and stopped by us.

    workdir      directory for everything (created if needed); reusing it after stop()
                 keeps certificates, data and registered users.
    storage      'sql' (SQLite through lua-dbi-sqlite3, default) or 'internal'.
    users        base users to register (default alice, bob, carol, dave), names or a
                 {name: password} dict; passwords default to "pass-<name>".
    extra_users  more users, same forms as `users`.
    max_archive_results  Prosody's max_archive_query_results (default 250).
    log_level    'debug', 'info', ... (default: $PXM_PROSODY_LOG_LEVEL or 'info').
    extra_config Lua text appended to the global section of the config.
    upload_size_limit  http_file_share's size limit in bytes (default 16 MiB).
    detach       True: the server outlives this Python process (CLI use); False:
                 it is tied to us (parent-death signal, atexit) and dies with us.

    info (a dict) describes the running server; see start().

    A subclass for another server (pxm_ejabberd.EjabberdServer) overrides the class
    attributes below and the hooks _available(), _requirements(), _service_ids(),
    _command(), _spawn_cwd() and _port_in_use(); start() and the process management
    are shared.
    """

    kind = "prosody"
    # Loopback ports picked at start: c2s, direct TLS, http, https (and what a
    # subclass adds after them).
    n_ports = 4
    # False: users are registered before the server starts (prosodyctl on the data
    # files); True: through the running server.
    register_while_running = False

    def __init__(self, workdir, storage="sql", extra_users=None, users=DEFAULT_USERS,
                 max_archive_results=DEFAULT_MAX_ARCHIVE_RESULTS, log_level=None,
                 extra_config="", detach=False, upload_size_limit=UPLOAD_SIZE_LIMIT):
        if storage not in ("sql", "internal"):
            raise ValueError("storage must be 'sql' or 'internal'")
        self.workdir = os.path.abspath(workdir)
        self.storage = storage
        self.users = {}
        for group in (users or (), extra_users or ()):
            if isinstance(group, dict):
                self.users.update(group)
            else:
                for name in group:
                    self.users[name] = default_password(name)
        self.max_archive_results = int(max_archive_results)
        self.log_level = log_level or _env_nonempty("PXM_PROSODY_LOG_LEVEL") or "info"
        self.extra_config = extra_config
        self.upload_size_limit = int(upload_size_limit)
        self.detach = detach
        self.ipv6 = _ipv6_loopback_usable()
        self.ports = None
        self.proc = None
        self.pid = None
        self._ids = None
        self._atexit = False

        self.config_path = os.path.join(self.workdir, CONFIG_FILE)
        self.log_path = os.path.join(self.workdir, LOG_FILE)
        self.var_dir = os.path.join(self.workdir, "var")
        self.data_dir = os.path.join(self.var_dir, "data")
        self.cert_dir = os.path.join(self.workdir, "certs")
        self.ca_path = os.path.join(self.cert_dir, "ca.pem")
        self.cert_path = os.path.join(self.cert_dir, "server.pem")
        self.key_path = os.path.join(self.cert_dir, "server.key")
        self.pidfile = os.path.join(self.var_dir, "prosody.pid")
        self.admin_socket = os.path.join(self.var_dir, "admin.sock")
        self.registered_path = os.path.join(self.workdir, "users.json")

    # -- context manager ---------------------------------------------------------------
    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- public API ----------------------------------------------------------------------
    @property
    def info(self):
        """The description of the running server (what the CLI prints as JSON)."""
        if self.ports is None:
            raise ServerError("server not started")
        c2s, c2s_tls, http, https = self.ports
        return {
            "domain": DOMAIN,
            "host": "127.0.0.1",
            "host6": "::1" if self.ipv6 else None,
            "c2s_port": c2s,
            "c2s_tls_port": c2s_tls,
            "http_port": http,
            "https_port": https,
            "muc": MUC_DOMAIN,
            "upload": UPLOAD_DOMAIN,
            "ca": self.ca_path,
            "server_cert": self.cert_path,
            "users": {"%s@%s" % (u, DOMAIN): p for u, p in self.users.items()},
            "dir": self.workdir,
            "config": self.config_path,
            "log": self.log_path,
            "storage": self.storage,
            "max_archive_results": self.max_archive_results,
            "pid": self.pid,
        }

    def jid(self, user):
        return "%s@%s" % (user, DOMAIN)

    def password(self, user):
        return self.users[user.split("@")[0]]

    def is_running(self):
        return self.pid is not None and _pid_alive(self.pid)

    def processes(self):
        """PIDs of processes still running with this work directory's config."""
        return [p for p in pids_for_dir(self.workdir) if _pid_alive(p)]

    def log_tail(self, lines=40):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-lines:])
        except OSError as e:
            return "(no log: %s)" % e

    def start(self, timeout=30):
        """Prepare the work directory, start Prosody, wait until it serves c2s.

        Returns self.info.  Raises ServerError (with the log tail) on failure."""
        if self.is_running():
            raise ServerError("already running (pid %d)" % self.pid)
        if not self._available():
            raise ServerError("needs " + self._requirements())
        stale = self.processes()
        if stale:
            raise ServerError("a %s for %s is already running: pids %s"
                              % (self.kind, self.workdir, stale))
        self._ids = self._service_ids()
        self._prepare_dirs()
        self._make_certs()
        # Keep the ports of an earlier run of this object when they are still free,
        # so a restarted server is reachable at the same address.
        if self.ports and all(_port_free(p, self.ipv6) for p in self.ports):
            ports = list(self.ports)
        else:
            ports = _pick_ports(self.n_ports, self.ipv6)
        deadline = time.monotonic() + timeout
        for attempt in range(3):
            self.ports = ports
            self._write_config()
            self._check_access()
            if not self.register_while_running:
                self._register_pending_users()
            try:
                self._spawn_and_wait(deadline)
                break
            except _PortInUse:
                self._kill()
                if attempt == 2:
                    raise ServerError("could not bind ports:\n" + self.log_tail())
                ports = _pick_ports(self.n_ports, self.ipv6, avoid=ports)
        if self.register_while_running:
            try:
                self._register_pending_users()
            except ServerError:
                self._kill()
                raise
        self._write_state()
        return self.info

    def stop(self, timeout=10):
        """Stop the server (SIGTERM, then SIGKILL after `timeout`). Idempotent."""
        self._kill(timeout)
        try:
            os.unlink(os.path.join(self.workdir, STATE_FILE))
        except OSError:
            pass

    def register(self, user, password=None):
        """Register one more account (works while running). Returns the JID."""
        password = password or default_password(user)
        self.users[user] = password
        self._prosodyctl("register", user, DOMAIN, password)
        self._mark_registered(user)
        return self.jid(user)

    def prosodyctl(self, *args):
        """Run `prosodyctl --config OUR_CONFIG ARGS...` as the server user; returns output."""
        return self._prosodyctl(*args)

    # -- preparation ---------------------------------------------------------------------
    def _chown(self, path, mode):
        os.chmod(path, mode)
        if self._ids:
            os.chown(path, *self._ids)

    def _open_temp_ancestors(self):
        """Let the server user traverse our private temporary directories.

        tempfile.mkdtemp() makes 0700 directories; for ancestors that lie inside a sticky
        world-writable directory (/tmp, /var/tmp, /dev/shm) and belong to us, add o+x
        (search only, no listing). Anything else is left alone; _check_access() then
        reports the problem."""
        path = self.workdir
        chain = []
        while True:
            parent = os.path.dirname(path)
            if parent == path:
                return
            chain.append(path)
            st = os.stat(parent)
            if st.st_mode & 0o1002 == 0o1002:    # sticky and world-writable
                break
            path = parent
        for d in chain:
            st = os.stat(d)
            if st.st_uid == os.geteuid() and not st.st_mode & 0o001:
                os.chmod(d, (st.st_mode & 0o7777) | 0o001)

    def _prepare_dirs(self):
        os.makedirs(self.workdir, exist_ok=True)
        if self._ids:
            self._open_temp_ancestors()
        os.chmod(self.workdir, 0o755)   # the server user must traverse it
        os.makedirs(self.cert_dir, exist_ok=True)
        os.chmod(self.cert_dir, 0o755)
        for d in (self.var_dir, self.data_dir):
            os.makedirs(d, exist_ok=True)
            self._chown(d, 0o750)
        if not os.path.exists(self.log_path):
            open(self.log_path, "a").close()
        self._chown(self.log_path, 0o644)
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)

    def _make_certs(self):
        """CA + server certificate (EC P-256) for localhost and its subdomains."""
        if os.path.exists(self.cert_path) and os.path.exists(self.key_path) \
                and os.path.exists(self.ca_path):
            self._chown(self.key_path, 0o600)
            return
        ca_key = os.path.join(self.cert_dir, "ca.key")
        csr = os.path.join(self.cert_dir, "server.csr")
        ext = os.path.join(self.cert_dir, "server.ext")
        with open(ext, "w") as f:
            f.write("basicConstraints = critical, CA:FALSE\n"
                    "keyUsage = critical, digitalSignature, keyEncipherment\n"
                    "extendedKeyUsage = serverAuth, clientAuth\n"
                    "subjectAltName = DNS:%s, DNS:*.%s, DNS:%s, DNS:%s, "
                    "IP:127.0.0.1, IP:::1\n" % (DOMAIN, DOMAIN, MUC_DOMAIN, UPLOAD_DOMAIN))
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        steps = [
            ["req", "-x509", *ec, "-keyout", ca_key, "-out", self.ca_path, "-days", "3650",
             "-subj", "/O=purple-xmpp-modern tests/CN=pxm test CA",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign"],
            ["req", *ec, "-keyout", self.key_path, "-out", csr,
             "-subj", "/O=purple-xmpp-modern tests/CN=" + DOMAIN],
            ["x509", "-req", "-in", csr, "-CA", self.ca_path, "-CAkey", ca_key,
             "-CAcreateserial", "-out", self.cert_path, "-days", "825", "-sha256",
             "-extfile", ext],
        ]
        for step in steps:
            proc = subprocess.run([OPENSSL, *step], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0:
                raise ServerError("openssl %s failed:\n%s" % (step[0], proc.stdout))
        for path in (csr, ext, os.path.join(self.cert_dir, "ca.srl")):
            if os.path.exists(path):
                os.unlink(path)
        os.chmod(ca_key, 0o600)
        os.chmod(self.ca_path, 0o644)
        os.chmod(self.cert_path, 0o644)
        self._chown(self.key_path, 0o600)

    def _write_config(self):
        c2s, c2s_tls, http, https = self.ports
        ifaces = '{ "127.0.0.1", "::1" }' if self.ipv6 else '{ "127.0.0.1" }'
        if self.storage == "sql":
            storage = ('storage = "sql"\n'
                       'sql = { driver = "SQLite3", database = "prosody.sqlite" }\n')
        else:
            storage = 'storage = "internal"\n'
        q = _lua_str
        text = f"""-- Generated by tests/server/pxm_server.py; do not edit, it is rewritten on start.
-- Values are literals on purpose: no os.getenv() (it returns "" for a set-but-empty
-- variable, and "" is true in Lua).
pidfile = {q(self.pidfile)}
data_path = {q(self.data_dir)}
admin_socket = {q(self.admin_socket)}
prosody_user = {q(SERVICE_USER)}
prosody_group = {q(SERVICE_USER)}
plugin_paths = {{}}
log = {{ {{ levels = {{ min = {q(self.log_level)} }}, to = "file", filename = {q(self.log_path)} }} }}

interfaces = {ifaces}
local_interfaces = {ifaces}
c2s_ports = {{ {c2s} }}
c2s_direct_tls_ports = {{ {c2s_tls} }}
http_ports = {{ {http} }}
http_interfaces = {ifaces}
https_ports = {{ {https} }}
https_interfaces = {ifaces}
s2s_ports = {{ }}
component_ports = {{ }}

ssl = {{ certificate = {q(self.cert_path)}, key = {q(self.key_path)} }}
certificates = {q(self.cert_dir)}
c2s_require_encryption = true
allow_unencrypted_plain_auth = false
allow_registration = false
authentication = "internal_hashed"
{storage}
modules_enabled = {{
    "roster", "saslauth", "tls", "disco", "carbons", "mam", "pep", "bookmarks",
    "smacks", "csi_simple", "vcard4", "vcard_legacy", "ping", "time", "version",
    "uptime", "blocklist", "private", "admin_shell", "http",
}}
-- offline, presence, message, iq, c2s and posix are loaded automatically.
modules_disabled = {{ "s2s", "s2s_auth_certs", "dialback", "proxy65", "register", "limits" }}

default_archive_policy = true
archive_expires_after = "never"
muc_log_expires_after = "never"
max_archive_query_results = {self.max_archive_results}
mam_include_total = true        -- must be explicit: "never" expiry turns it off
muc_log_include_total = true

{self.extra_config}

VirtualHost {q(DOMAIN)}

Component {q(MUC_DOMAIN)} "muc"
    modules_enabled = {{ "muc_mam" }}
    muc_room_locking = false
    restrict_room_creation = false
    max_history_messages = 50

Component {q(UPLOAD_DOMAIN)} "http_file_share"
    http_host = {q(DOMAIN)}
    http_file_share_size_limit = {self.upload_size_limit}
    http_file_share_daily_quota = {self.upload_size_limit * 100}
"""
        with open(self.config_path, "w") as f:
            f.write(text)
        os.chmod(self.config_path, 0o644)

    def _priv_prefix(self, pdeathsig=False):
        """Command prefix running a program as the server user (when root), optionally
        with a parent-death signal so the program dies with the calling thread."""
        cmd = ["setpriv"]
        if self._ids:
            cmd += ["--reuid", str(self._ids[0]), "--regid", str(self._ids[1]),
                    "--clear-groups"]
        if pdeathsig:
            cmd += ["--pdeathsig", "TERM"]
        return cmd if len(cmd) > 1 else []

    def _env(self):
        return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
                "HOME": self.var_dir}

    def _check_access(self):
        if not self._ids:
            return
        proc = subprocess.run(self._priv_prefix() + [
            "sh", "-c", 'test -r "$1" && test -r "$2" && test -w "$3" && test -w "$4"', "-",
            self.config_path, self.key_path, self.data_dir, self.log_path],
            env=self._env())
        if proc.returncode != 0:
            raise ServerError("user %s cannot read %s or write %s: make every parent "
                              "directory of the work dir traversable (o+x)"
                              % (SERVICE_USER, self.config_path, self.data_dir))

    def _prosodyctl(self, *args):
        proc = subprocess.run(self._priv_prefix() + [PROSODYCTL, "--config", self.config_path,
                                                     *args],
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, env=self._env(),
                              cwd=self.var_dir, timeout=60)
        if proc.returncode != 0:
            raise ServerError("prosodyctl %s failed (%d):\n%s"
                              % (args[0], proc.returncode, proc.stdout))
        return proc.stdout

    def _registered(self):
        try:
            with open(self.registered_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def _mark_registered(self, user):
        done = self._registered()
        done[user] = self.users[user]
        with open(self.registered_path, "w") as f:
            json.dump(done, f)

    def _register_pending_users(self):
        done = self._registered()
        for user, password in self.users.items():
            if done.get(user) == password:
                continue
            if user in done:   # registered earlier with another password
                self._prosodyctl("deluser", "%s@%s" % (user, DOMAIN))
            self._prosodyctl("register", user, DOMAIN, password)
            self._mark_registered(user)

    # -- process management -----------------------------------------------------------
    def _available(self):
        return prosody_available(self.storage)

    def _requirements(self):
        return "prosody, openssl, setpriv (util-linux)%s" % (
            " and lua-dbi-sqlite3" if self.storage == "sql" else "")

    def _service_ids(self):
        return _ensure_service_user()

    def _command(self, pdeathsig):
        return self._priv_prefix(pdeathsig=pdeathsig) + [
            PROSODY, "--config", self.config_path, "-F"]

    def _spawn_cwd(self):
        return self.var_dir

    def _port_in_use(self, new_log):
        """Whether the log written since the start says a port was taken."""
        return ("Failed to open server port" in new_log
                or "Error binding encrypted port" in new_log)

    def _stdout_path(self):
        return os.path.join(self.workdir, "%s.stdout" % self.kind)

    def _spawn_and_wait(self, deadline):
        log_offset = os.path.getsize(self.log_path)
        # The parent-death signal fires when the *thread* that forked exits, so it is
        # only used from the main thread; atexit covers the other cases.
        tie = not self.detach and threading.current_thread() is threading.main_thread()
        cmd = self._command(tie)
        out = open(self._stdout_path(), "ab")
        try:
            self.proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                env=self._env(), cwd=self._spawn_cwd(), close_fds=True,
                start_new_session=self.detach)
        finally:
            out.close()
        self.pid = self.proc.pid
        if not self.detach and not self._atexit:
            atexit.register(self._atexit_stop)
            self._atexit = True

        while True:
            rc = self.proc.poll()
            if rc is not None:
                self.pid = None
                if self._port_in_use(self._log_since(log_offset)):
                    raise _PortInUse()
                raise ServerError("%s exited with status %d during start-up:\n%s%s"
                                  % (self.kind, rc, self._stdout_tail(), self.log_tail()))
            if self._port_in_use(self._log_since(log_offset)):
                raise _PortInUse()
            if self._serving():
                return
            if time.monotonic() > deadline:
                self._kill()
                raise ServerError("%s did not become ready in time:\n%s%s"
                                  % (self.kind, self._stdout_tail(), self.log_tail()))
            time.sleep(0.05)

    def _serving(self):
        """True once every port accepts and c2s answers a stream header."""
        c2s = self.ports[0]
        for port in self.ports[1:]:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
        try:
            with socket.create_connection(("127.0.0.1", c2s), timeout=2) as s:
                s.sendall(("<?xml version='1.0'?><stream:stream to='%s' version='1.0' "
                           "xmlns='jabber:client' "
                           "xmlns:stream='http://etherx.jabber.org/streams'>" % DOMAIN).encode())
                data = b""
                while b"starttls" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        return False
                    data += chunk
                s.sendall(b"</stream:stream>")
            return True
        except OSError:
            return False

    def _log_since(self, offset):
        try:
            with open(self.log_path, errors="replace") as f:
                f.seek(offset)
                return f.read()
        except OSError:
            return ""

    def _stdout_tail(self):
        try:
            with open(self._stdout_path(), errors="replace") as f:
                text = f.read()[-2000:]
            return ("--- stdout ---\n%s\n--- log ---\n" % text) if text.strip() else ""
        except OSError:
            return ""

    def _kill(self, timeout=10):
        pids = set(self.processes())
        if self.pid is not None and _pid_alive(self.pid):
            pids.add(self.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        end = time.monotonic() + timeout
        while pids and time.monotonic() < end:
            if self.proc is not None:
                self.proc.poll()    # reap our own child
            pids = {p for p in pids if _pid_alive(p)}
            if pids:
                time.sleep(0.05)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        self.pid = None

    def _atexit_stop(self):
        if self.pid is not None:
            self._kill(timeout=5)

    def _write_state(self):
        state = self.info
        state["ports"] = self.ports
        with open(os.path.join(self.workdir, STATE_FILE), "w") as f:
            json.dump(state, f, indent=1)


class _PortInUse(Exception):
    pass


def server_kind():
    """The server the integration tests should use: $PXM_SERVER or 'prosody'."""
    return (_env_nonempty("PXM_SERVER") or "prosody").lower()


def make_server(workdir, **kwargs):
    """The test server selected by $PXM_SERVER: 'prosody' (default) or 'ejabberd'
    (pxm_ejabberd.EjabberdServer, same interface). Raises NotImplementedError for
    anything else, which test scripts turn into a skip."""
    kind = server_kind()
    if kind == "ejabberd":
        from pxm_ejabberd import EjabberdServer
        return EjabberdServer(workdir, **kwargs)
    if kind != "prosody":
        raise NotImplementedError("PXM_SERVER=%s is not supported" % kind)
    return ProsodyServer(workdir, **kwargs)


def server_available(kind=None):
    """True when the selected server (default: $PXM_SERVER) can be started here."""
    kind = kind or server_kind()
    if kind == "ejabberd":
        from pxm_ejabberd import ejabberd_available
        return ejabberd_available()
    return kind == "prosody" and prosody_available()


def stop_dir(workdir, timeout=10):
    """Stop a server started (by the CLI or anyone) in workdir. Returns the PIDs stopped."""
    workdir = os.path.abspath(workdir)
    pids = set(pids_for_dir(workdir))
    state = os.path.join(workdir, STATE_FILE)
    try:
        with open(state) as f:
            pid = json.load(f).get("pid")
        if pid and pid in pids_for_dir(workdir):
            pids.add(pid)
    except (OSError, ValueError):
        pass
    pids = {p for p in pids if _pid_alive(p)}
    stopped = sorted(pids)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + timeout
    while pids and time.monotonic() < end:
        pids = {p for p in pids if _pid_alive(p)}
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        os.unlink(state)
    except OSError:
        pass
    return stopped


def main(argv=None):
    ap = argparse.ArgumentParser(description="Private Prosody on loopback for tests.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    st = sub.add_parser("start", help="start a server and print its description as JSON")
    st.add_argument("--dir", required=True)
    st.add_argument("--users", help="comma-separated user names (default: %s)"
                    % ",".join(DEFAULT_USERS))
    st.add_argument("--storage", choices=("sql", "internal"), default="sql")
    st.add_argument("--max-archive-results", type=int, default=DEFAULT_MAX_ARCHIVE_RESULTS)
    st.add_argument("--log-level", default=None)
    sp = sub.add_parser("stop", help="stop the server of a work dir")
    sp.add_argument("--dir", required=True)
    ss = sub.add_parser("status", help="print the JSON of a running server, exit 1 if none")
    ss.add_argument("--dir", required=True)
    args = ap.parse_args(argv)

    if args.cmd == "start":
        users = [u for u in (args.users or "").split(",") if u] or DEFAULT_USERS
        srv = ProsodyServer(args.dir, storage=args.storage, users=users,
                            max_archive_results=args.max_archive_results,
                            log_level=args.log_level, detach=True)
        try:
            info = srv.start()
        except ServerError as e:
            print("pxm_server: %s" % e, file=sys.stderr)
            return 1
        print(json.dumps(info), flush=True)
        return 0
    if args.cmd == "stop":
        stopped = stop_dir(args.dir)
        left = [p for p in pids_for_dir(args.dir) if _pid_alive(p)]
        if left:
            print("pxm_server: still running: %s" % left, file=sys.stderr)
            return 1
        if not stopped:
            print("pxm_server: no server was running in %s" % args.dir, file=sys.stderr)
        return 0
    if args.cmd == "status":
        try:
            with open(os.path.join(os.path.abspath(args.dir), STATE_FILE)) as f:
                state = json.load(f)
        except (OSError, ValueError):
            return 1
        if not state.get("pid") or not _pid_alive(state["pid"]):
            return 1
        state.pop("ports", None)
        print(json.dumps(state))
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())

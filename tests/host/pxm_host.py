#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Drive pxm-test-host, the headless libpurple UI, from Python tests.

    from pxm_host import TestHost

    with TestHost(build_root) as host:              # loads plugin/xmpp-modern.so
        alice = host.add_account(server_info, "alice@localhost")
        host.connect_and_wait(alice)
        host.send_im(alice, "bob@localhost", "hello")
        host.wait_for("conv_write", lambda e: "send" in e["flags"])

The protocol is documented in README.md next to this file.  Standard library only.

    pxm_host.py selftest [--host PATH | --build-root DIR]

runs the checks that need no XMPP server (start-up, accounts, loopback-only name
resolution, connection errors, clean exit).
"""

import argparse
import collections
import itertools
import json
import os
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

DEFAULT_TIMEOUT = 15.0
PLUGIN_ID = "core-xmpp-modern"
HOST_RELPATH = os.path.join("tests", "host", "pxm-test-host")
PLUGIN_RELPATH = os.path.join("plugin", "xmpp-modern.so")


class HostError(RuntimeError):
    """The host died, timed out, or broke the protocol."""


class CommandError(HostError):
    """A command was answered with ok=false.  .reply holds the reply event."""

    def __init__(self, message, reply):
        super().__init__(message)
        self.reply = reply


def _short(event, limit=400):
    text = json.dumps(event, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + "…"


class TestHost:
    """One pxm-test-host process.

    build_root: the meson build directory (holds tests/host/pxm-test-host and
        plugin/xmpp-modern.so); host_binary overrides the host's path, and so
        does $PXM_TEST_HOST.
    userdir: libpurple user directory; default a fresh temporary one that
        close() removes (kept when keep_userdir or $PXM_KEEP_USERDIR is set).
    plugin: True loads build_root/plugin/xmpp-modern.so, a string loads that
        file, None/False runs plain libpurple (the benchmark's baseline).
    debug: libpurple debug output to our stderr; debug_events: as "debug"
        events instead.
    wrapper: argv prefix, e.g. ["valgrind", "--leak-check=full"].
    """

    __test__ = False  # not a pytest test class despite the name

    def __init__(self, build_root=None, userdir=None, plugin=True, debug=False,
                 debug_events=False, host_binary=None, wrapper=None, env=None,
                 keep_userdir=None, start_timeout=30.0):
        self.build_root = build_root
        binary = host_binary or os.environ.get("PXM_TEST_HOST")
        if not binary:
            if build_root is None:
                raise ValueError("give build_root or host_binary")
            binary = os.path.join(build_root, HOST_RELPATH)
        self.binary = binary

        if plugin is True:
            if build_root is None:
                raise ValueError("plugin=True needs build_root")
            plugin = os.path.join(build_root, PLUGIN_RELPATH)
        self.plugin_path = plugin or None

        self._own_userdir = userdir is None
        if keep_userdir is None:
            keep_userdir = bool(os.environ.get("PXM_KEEP_USERDIR"))
        self.keep_userdir = keep_userdir
        self.userdir = userdir or tempfile.mkdtemp(prefix="pxm-host-")
        self.debug = debug

        self.history = []                     # every event, in arrival order
        self._pending = collections.deque()   # events not yet taken by wait_for
        self._replies = {}
        self._cond = threading.Condition()
        self._stderr_tail = collections.deque(maxlen=200)
        self._tags = itertools.count(1)
        self._write_lock = threading.Lock()
        self._eof = False
        self._closed = False

        argv = list(wrapper or []) + [self.binary, "--userdir", self.userdir]
        if self.plugin_path:
            argv += ["--plugin", self.plugin_path]
        if debug:
            argv.append("--debug")
        if debug_events:
            argv.append("--debug-events")
        self.argv = argv

        proc_env = dict(os.environ if env is None else env)
        if env is None:
            # The host follows the locale like Pidgin: English messages
            # whatever the machine's language, unless a test passes env.
            proc_env["LC_ALL"] = "C.UTF-8"
            proc_env.pop("LANGUAGE", None)
        try:
            self.proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, env=proc_env, close_fds=True)
        except OSError:
            if self._own_userdir:
                shutil.rmtree(self.userdir, ignore_errors=True)
            raise
        self._reader = threading.Thread(target=self._read_stdout,
                                        name="pxm-host-stdout", daemon=True)
        self._err_reader = threading.Thread(target=self._read_stderr,
                                            name="pxm-host-stderr", daemon=True)
        self._reader.start()
        self._err_reader.start()
        try:
            self.ready = self.wait_for("ready", timeout=start_timeout,
                                       also=("fatal",))
            if self.ready["event"] == "fatal":
                raise HostError("host could not start: " + self.ready["error"]
                                + self._diagnostics())
        except BaseException:
            self.close()
            raise

    # ----------------------------------------------------------------- plumbing

    def _read_stdout(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "garbage", "line": line}
            with self._cond:
                self.history.append(event)
                if event.get("event") == "reply" and "tag" in event:
                    self._replies[event["tag"]] = event
                else:
                    self._pending.append(event)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._stderr_tail.append(line)
            if self.debug:
                print("[pxm-test-host] " + line, file=sys.stderr, flush=True)

    def _diagnostics(self, events=15):
        with self._cond:
            last = self.history[-events:]
        parts = ["\n  last events:"]
        parts += ["    " + _short(e) for e in last] or ["    (none)"]
        code = self.proc.poll()
        if code is not None:
            parts.append("  host exited with status %s" % code)
        tail = list(self._stderr_tail)[-15:]
        if tail:
            parts.append("  stderr tail:")
            parts += ["    " + line for line in tail]
        return "\n".join(parts)

    def _send(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        with self._write_lock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError, OSError) as exc:
                raise HostError("cannot write to host (%s)" % exc
                                + self._diagnostics()) from exc

    # --------------------------------------------------------------- core API

    def cmd(self, _cmd=None, *, timeout=DEFAULT_TIMEOUT, check=True, **fields):
        """Send one command and return its reply event.

        host.cmd("send_im", account=a, to=b, text=t) or host.cmd(cmd="send_im", ...).
        With check (the default) an ok=false reply raises CommandError.
        """
        name = _cmd if _cmd is not None else fields.pop("cmd", None)
        if not name:
            raise ValueError("no command name")
        tag = "t%d" % next(self._tags)
        message = {"cmd": name, "tag": tag}
        message.update(fields)
        self._send(message)
        deadline = time.monotonic() + timeout
        with self._cond:
            while tag not in self._replies:
                if self._eof:
                    raise HostError("host exited before answering %s"
                                    % _short(message) + self._diagnostics())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HostError("no reply to %s within %.1fs"
                                    % (_short(message), timeout)
                                    + self._diagnostics())
                self._cond.wait(left)
            reply = self._replies.pop(tag)
        if check and not reply.get("ok"):
            raise CommandError("%s failed: %s" % (name, reply.get("error"))
                               + self._diagnostics(), reply)
        return reply

    def wait_for(self, event=None, predicate=None, timeout=DEFAULT_TIMEOUT,
                 also=(), fail_on=None):
        """Take and return the first pending event that matches.

        event: an event name (or None for any); predicate(event) -> bool narrows
        it further; also: more event names that match too.  Events are taken
        in arrival order and each is returned once; events that do not match
        stay pending for later calls.  fail_on(event) -> bool makes a pending
        event abort the wait with HostError (e.g. a connection_error).
        """
        names = set(also)
        if event is not None:
            names.add(event)

        def matches(e):
            if names and e.get("event") not in names:
                return False
            return predicate is None or predicate(e)

        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self._pending:
                    if fail_on is not None and fail_on(e):
                        self._pending.remove(e)
                        raise HostError("while waiting for %s: got %s"
                                        % (event or "an event", _short(e))
                                        + self._diagnostics())
                    if matches(e):
                        self._pending.remove(e)
                        return e
                if self._eof:
                    raise HostError("host exited while waiting for %s"
                                    % (event or "an event") + self._diagnostics())
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HostError("timed out after %.1fs waiting for %s"
                                    % (timeout, event or "an event")
                                    + self._diagnostics())
                self._cond.wait(left)

    def wait_eof(self, timeout=DEFAULT_TIMEOUT):
        """After the host exited (or was killed): wait until everything it
        printed has been read."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._eof:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HostError("the host's output did not end")
                self._cond.wait(left)

    def events(self, event=None, predicate=None):
        """Events seen so far (taken or not), optionally filtered."""
        with self._cond:
            seen = list(self.history)
        return [e for e in seen
                if (event is None or e.get("event") == event)
                and (predicate is None or predicate(e))]

    def drain(self):
        """Forget all pending (not yet waited for) events."""
        with self._cond:
            self._pending.clear()

    @property
    def alive(self):
        return self.proc.poll() is None

    @property
    def stderr_tail(self):
        return list(self._stderr_tail)

    def close(self, timeout=15.0):
        """Quit the host (kill it after timeout), reap it, clean up.  Idempotent."""
        if self._closed:
            return self.proc.returncode
        self._closed = True
        if self.proc.poll() is None:
            try:
                self._send({"cmd": "quit"})
            except HostError:
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        else:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        self._reader.join(5)
        self._err_reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        if self._own_userdir and not self.keep_userdir:
            shutil.rmtree(self.userdir, ignore_errors=True)
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------- helpers

    def add_account(self, server_info, jid, password=None, resource=None,
                    options=None, cert=True, connect_server=None):
        """Create an XMPP account for a server from the test rig; returns its name.

        jid: "alice@localhost" (a fresh resource is added: overlapping runs with
        the same resource kick each other off) or a full JID.  password defaults
        to the rig's password for that user.  cert=True trusts the rig's server
        certificate, a string trusts that PEM file, False none.
        """
        bare = jid.split("/", 1)[0]
        if "/" not in jid:
            jid = "%s/%s" % (jid, resource or "pxm-" + secrets.token_hex(4))
        if password is None:
            password = server_info.get("users", {}).get(bare)
            if password is None:
                raise ValueError("no password given or known for " + bare)
        fields = {
            "jid": jid,
            "password": password,
            "server": connect_server or "localhost",
            "port": int(server_info["c2s_port"]),
        }
        if cert is True:
            cert = server_info.get("server_cert")
        if cert:
            fields["cert"] = cert
        if options:
            fields["options"] = options
        return self.cmd("account", **fields)["account"]

    def connect_and_wait(self, account, timeout=30.0):
        """Connect and wait until signed on; a connection_error raises HostError."""
        self.cmd("connect", account=account)
        return self.wait_for(
            "signed_on", lambda e: e.get("account") == account, timeout=timeout,
            fail_on=lambda e: (e.get("event") == "connection_error"
                               and e.get("account") == account))

    def disconnect(self, account, wait=True, timeout=DEFAULT_TIMEOUT):
        self.cmd("disconnect", account=account)
        if wait:
            return self.wait_for("signed_off", lambda e: e.get("account") == account,
                                 timeout=timeout)
        return None

    def send_im(self, account, to, text, escape=False):
        return self.cmd("send_im", account=account, to=to, text=text, escape=escape)

    def join_room(self, account, room, nick, password=None, wait=True,
                  timeout=DEFAULT_TIMEOUT):
        fields = {"account": account, "room": room, "nick": nick}
        if password is not None:
            fields["password"] = password
        self.cmd("join_room", **fields)
        if wait:
            return self.wait_for(
                "chat_joined",
                lambda e: (e.get("account") == account
                           and _same_jid(e.get("conversation"), room)),
                timeout=timeout)
        return None

    def rejoin(self, on=True):
        """Pidgin's rejoin of open rooms at sign-on (the "rejoin" command)."""
        return self.cmd("rejoin", on=on)

    def send_room(self, account, room, text, escape=False):
        return self.cmd("send_room", account=account, room=room, text=text,
                        escape=escape)

    def command(self, account, conversation, text, type="im", check=False):
        """Run a /command; returns the reply (status, cmd_error) without raising."""
        return self.cmd("command", account=account, conversation=conversation,
                        text=text, type=type, check=check)

    def help(self, account, conversation, command=None, type="im"):
        """The help texts /help shows in that conversation (one command's
        with `command`)."""
        fields = {"command": command} if command else {}
        return self.cmd("help", account=account, conversation=conversation,
                        type=type, **fields)["help"]

    def send_file(self, account, to, path):
        return self.cmd("send_file", account=account, to=to, path=path)

    def cancel_xfer(self, xfer):
        """Cancel a transfer (an "xfer" event or its id) as the user would."""
        if isinstance(xfer, dict):
            xfer = xfer["id"]
        return self.cmd("cancel_xfer", xfer=xfer)

    def answer(self, request, action=0, fields=None, value=None):
        """Answer a "request" event (or its id): action index, field values, value."""
        if isinstance(request, dict):
            request = request["id"]
        message = {"request": request, "action": action}
        if fields is not None:
            message["fields"] = fields
        if value is not None:
            message["value"] = value
        return self.cmd("answer", **message)

    def set_pref(self, name, value):
        return self.cmd("set_pref", name=name, value=value)

    def get_pref(self, name):
        return self.cmd("get_pref", name=name)["value"]

    def set_account(self, account, key, value):
        return self.cmd("set_account", account=account, key=key, value=value)

    def set_account_icon(self, account, path=None):
        """The account's avatar from the image file @path (None clears it)."""
        fields = {"account": account}
        if path is not None:
            fields["path"] = path
        return self.cmd("set_account_icon", **fields)

    def set_status(self, account, status):
        """The account's status by primitive: available, away, extended_away,
        unavailable (busy), invisible."""
        return self.cmd("set_status", account=account, status=status)

    def set_idle(self, account, idle=True, seconds=0):
        """Mark the account idle for `seconds` already (or not idle)."""
        return self.cmd("set_idle", account=account, idle=idle, seconds=seconds)

    def add_buddy(self, account, who, alias=None, group=None):
        fields = {"account": account, "who": who}
        if alias is not None:
            fields["alias"] = alias
        if group is not None:
            fields["group"] = group
        return self.cmd("add_buddy", **fields)

    def chats(self, account=None):
        """The chats in the buddy list (of @account, or all)."""
        fields = {"account": account} if account is not None else {}
        return self.cmd("chats", **fields)["chats"]

    def add_chat(self, account, room, alias=None, group=None, nick=None,
                 password=None, autojoin=False):
        """What Pidgin's "Add Chat" dialog does."""
        fields = {"account": account, "room": room, "autojoin": autojoin}
        for key, value in (("alias", alias), ("group", group), ("nick", nick),
                           ("password", password)):
            if value is not None:
                fields[key] = value
        return self.cmd("add_chat", **fields)

    def remove_chat(self, account, room):
        return self.cmd("remove_chat", account=account, room=room)

    def alias_chat(self, account, room, alias):
        return self.cmd("alias_chat", account=account, room=room, alias=alias)

    def move_chat(self, account, room, group):
        return self.cmd("move_chat", account=account, room=room, group=group)

    def set_chat_setting(self, account, room, key, value):
        return self.cmd("set_chat_setting", account=account, room=room,
                        key=key, value=value)

    def chat_menu(self, account, room, action=None):
        fields = {"account": account, "room": room}
        if action is not None:
            fields["action"] = action
        return self.cmd("chat_menu", **fields)["labels"]

    def set_proxy(self, account, type, host=None, port=0, username=None,
                  password=None):
        fields = {"account": account, "type": type, "port": port}
        for k, v in (("host", host), ("username", username),
                     ("password", password)):
            if v is not None:
                fields[k] = v
        return self.cmd("set_proxy", **fields)

    def load_plugin(self, path=None):
        return self.cmd("load_plugin", path=path or self.plugin_path)["id"]

    def unload_plugin(self, plugin_id=PLUGIN_ID):
        return self.cmd("unload_plugin", id=plugin_id)

    def plugin_action(self, label, plugin=PLUGIN_ID, account=None):
        fields = {"plugin": plugin, "action": label}
        if account is not None:
            fields["account"] = account
        return self.cmd("plugin_action", **fields)

    def xml(self, account, on=True):
        return self.cmd("xml", account=account, on=on)

    def view_conversation(self, account, conversation, type="im", focus=True):
        """Do what Pidgin does when the user looks at a conversation (focus=True:
        unseen count back to 0, PURPLE_CONV_UPDATE_UNSEEN) or looks away."""
        return self.cmd("view_conversation", account=account,
                        conversation=conversation, type=type, focus=focus)

    def watch_signal(self, signal, plugin=PLUGIN_ID):
        """Relay a plugin's signal as "signal" events from now on."""
        return self.cmd("watch_signal", plugin=plugin, signal=signal)

    def raw(self, account, xml):
        return self.cmd("raw", account=account, xml=xml)

    def conv_writes(self, account=None, conversation=None, flag=None):
        """conv_write events seen so far.  conversation matches a bare JID too
        (IM conversations get renamed to the full JID that last wrote)."""
        return self.events("conv_write", lambda e: _write_matches(
            e, account, conversation, flag, None))

    def wait_for_conv_write(self, account=None, conversation=None, flag=None,
                            text=None, timeout=DEFAULT_TIMEOUT):
        """Wait for a conv_write; text matches as a substring."""
        return self.wait_for("conv_write", lambda e: _write_matches(
            e, account, conversation, flag, text), timeout=timeout)

    def wait_for_request(self, predicate=None, timeout=DEFAULT_TIMEOUT):
        return self.wait_for("request", predicate, timeout=timeout)


def _same_jid(name, jid):
    if name is None or jid is None:
        return False
    name, jid = name.lower(), jid.lower()
    return name == jid or name.startswith(jid + "/") or jid.startswith(name + "/")


def _write_matches(event, account, conversation, flag, text):
    if account is not None and event.get("account") != account:
        return False
    if conversation is not None and not _same_jid(event.get("conversation"),
                                                  conversation):
        return False
    if flag is not None and flag not in event.get("flags", ()):
        return False
    if text is not None and text not in (event.get("text") or ""):
        return False
    return True


# ---------------------------------------------------------------- self test

def _closed_loopback_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _selftest(host_binary):
    results = []

    def check(name, fn):
        try:
            fn()
        except Exception as exc:  # report every failure, keep going
            results.append((name, False))
            print("not ok - %s: %s" % (name, exc), flush=True)
        else:
            results.append((name, True))
            print("ok - %s" % name, flush=True)

    host = TestHost(host_binary=host_binary, plugin=None)
    try:
        def ready():
            assert host.ready["plugins"] == [], host.ready
            assert os.path.isdir(host.ready["userdir"])
            assert host.cmd("ping")["ok"]

        def bad_input():
            reply = host.cmd("no_such_command", check=False)
            assert not reply["ok"] and "unknown command" in reply["error"], reply
            reply = host.cmd("account", check=False)
            assert not reply["ok"] and "jid" in reply["error"], reply

        def loopback_prefs():
            assert host.get_pref("/purple/network/map_ports") is False
            assert host.get_pref("/purple/network/auto_ip") is False
            assert host.get_pref("/purple/network/stun_server") == ""
            assert host.get_pref("/purple/proxy/type") == "none"

        def set_pref():
            assert host.set_pref("/pxm/selftest/flag", True)["created"]
            assert host.get_pref("/pxm/selftest/flag") is True
            reply = host.cmd("set_pref", name="/pxm/selftest/flag", value="x",
                             check=False)
            assert not reply["ok"], reply

        state = {}

        def account():
            port = _closed_loopback_port()
            name = host.cmd("account", jid="alice@localhost/selftest",
                            password="pw", server="localhost", port=port)["account"]
            assert name == "alice@localhost/selftest"
            state["local"] = name
            host.set_account(name, "pxm-selftest", 7)
            assert host.cmd("account_state", account=name)["state"] == "disconnected"

        def closed_port():
            name = state["local"]
            host.cmd("connect", account=name)
            err = host.wait_for("connection_error",
                                lambda e: e.get("account") == name, timeout=20)
            assert err["reason_name"] == "network_error", err
            resolved = host.events("resolve")
            assert resolved and all(e["ok"] for e in resolved), resolved
            host.wait_for("signed_off", lambda e: e.get("account") == name)

        def external_name():
            before = len(host.events("resolve"))
            started = time.monotonic()
            name = host.cmd("account", jid="bob@example.org/selftest",
                            password="pw", server="example.org",
                            port=5222)["account"]
            host.cmd("connect", account=name)
            err = host.wait_for("connection_error",
                                lambda e: e.get("account") == name, timeout=20)
            assert time.monotonic() - started < 5, "the failure was not local"
            looked_up = host.events("resolve")[before:]
            assert looked_up == [{"event": "resolve", "kind": "A",
                                  "name": "example.org", "ok": False}], looked_up
            assert err["reason_name"] == "network_error", err

        def srv_lookup():
            before = len(host.events("resolve"))
            name = host.cmd("account", jid="carol@example.net/selftest",
                            password="pw", server="", port=5222)["account"]
            host.cmd("connect", account=name)
            host.wait_for("connection_error", lambda e: e.get("account") == name,
                          timeout=20)
            looked_up = [(e["kind"], e["name"], e["ok"])
                         for e in host.events("resolve")[before:]]
            assert looked_up == [("SRV", "_xmpp-client._tcp.example.net", False),
                                 ("A", "example.net", False)], looked_up

        def im_offline():
            reply = host.cmd("send_im", account=state["local"], to="bob@localhost",
                             text="hi", check=False)
            assert not reply["ok"] and "not connected" in reply["error"], reply

        check("ready event and ping", ready)
        check("bad commands get error replies", bad_input)
        check("network prefs keep libpurple on loopback", loopback_prefs)
        check("set_pref creates and type-checks prefs", set_pref)
        check("account creation", account)
        check("closed loopback port gives connection_error", closed_port)
        check("external name fails locally", external_name)
        check("SRV lookups fail locally", srv_lookup)
        check("send_im needs a connection", im_offline)
    finally:
        code = host.close()
    check("clean exit", lambda: _assert_equal(code, 0))
    check("exit event", lambda: host.events("exit") or _fail("no exit event"))

    passed = sum(1 for _, ok in results if ok)
    failed = len(results) - passed
    print("%d passed, %d failed" % (passed, failed), flush=True)
    return 0 if failed == 0 else 1


def _assert_equal(a, b):
    assert a == b, "%r != %r" % (a, b)


def _fail(message):
    raise AssertionError(message)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    selftest = sub.add_parser("selftest", help="checks that need no XMPP server")
    group = selftest.add_mutually_exclusive_group(required=True)
    group.add_argument("--host", help="path of pxm-test-host")
    group.add_argument("--build-root", help="meson build directory")
    args = parser.parse_args(argv)
    binary = args.host or os.path.join(args.build_root, HOST_RELPATH)
    return _selftest(binary)


if __name__ == "__main__":
    sys.exit(main())

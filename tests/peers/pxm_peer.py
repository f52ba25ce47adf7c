# SPDX-License-Identifier: GPL-3.0-or-later
"""A small synchronous facade over slixmpp for the integration tests.

Each Peer runs its own slixmpp client on its own asyncio loop in a background thread;
the methods below block the calling thread until done and raise PeerTimeout (an
AssertionError, so unittest reports a failure, and a TimeoutError) when a wait runs out.

Received <message/> and <presence/> stanzas are queued as plain dicts (see
message_dict()); wait_message()/wait_presence() take the first queued one a predicate
accepts and leave the others queued.  MAM results of our own queries are not queued:
mam_query() returns them.

Only loopback is used: the client connects to server_info["host"] (127.0.0.1) and never
resolves a name; TLS is verified against server_info["ca"] for the name "localhost".

    from pxm_peer import Peer, make_contacts
    a = Peer("alice@localhost", "pass-alice", info).connect()
    b = Peer("bob@localhost", "pass-bob", info).connect()
    make_contacts(a, b)
    a.send_message(b.bare, "hi")
    msg = b.wait_message(lambda m: m["body"] == "hi")
"""

import asyncio
import http.client
import logging
import mimetypes
import os
import socket
import ssl
import threading
import time
import urllib.parse
import uuid
import xml.etree.ElementTree as ET

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import tostring
from slixmpp.xmlstream.handler import Callback
from slixmpp.xmlstream.matcher import MatchXPath

# slixmpp logs through `logging`; without any handler Python prints its warnings (e.g.
# "No appropriate login method.") to stderr.  Stay quiet unless the test configures
# logging, or PXM_PEER_DEBUG is set (non-empty) for a full stanza trace.
if os.environ.get("PXM_PEER_DEBUG"):
    logging.basicConfig(level=logging.DEBUG,
                        format="%(asctime)s %(threadName)s %(name)s: %(message)s")
else:
    logging.getLogger("slixmpp").addHandler(logging.NullHandler())

NS_CLIENT = "jabber:client"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_DELAY = "urn:xmpp:delay"
NS_MAM = "urn:xmpp:mam:2"
NS_RSM = "http://jabber.org/protocol/rsm"
NS_DATA = "jabber:x:data"
NS_DISCO_INFO = "http://jabber.org/protocol/disco#info"
NS_UPLOAD = "urn:xmpp:http:upload:0"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_ROSTER = "jabber:iq:roster"
NS_SID = "urn:xmpp:sid:0"


class PeerTimeout(TimeoutError, AssertionError):
    """A wait ran out of time (a test failure, not an error of the rig)."""


class PeerError(RuntimeError):
    """The peer could not do what was asked (connection, auth, error replies)."""


def bare(jid):
    """The bare JID of a JID string."""
    return (jid or "").split("/", 1)[0]


def q(ns, tag):
    """ElementTree's {namespace}tag notation."""
    return "{%s}%s" % (ns, tag)


def parse_fragment(xml_text, ns=NS_CLIENT):
    """Parse zero or more XML elements; unqualified ones get namespace `ns`."""
    wrapper = ET.fromstring("<pxm-wrapper xmlns='%s'>%s</pxm-wrapper>" % (ns, xml_text or ""))
    return list(wrapper)


def message_dict(elem):
    """A <message/> element as a dict: from, to, type, id, body (None if absent),
    xml (the stanza as a string), stanza_ids ({by: id} of XEP-0359 <stanza-id/>),
    carbon ('received'/'sent'/None) and inner (the forwarded message as a dict, for
    carbons), element (the ElementTree element itself)."""
    body = elem.find(q(NS_CLIENT, "body"))
    d = {
        "from": elem.get("from"),
        "to": elem.get("to"),
        "type": elem.get("type", "normal"),
        "id": elem.get("id"),
        "body": body.text if body is not None else None,
        "xml": tostring(elem),
        "stanza_ids": {s.get("by"): s.get("id") for s in elem.findall(q(NS_SID, "stanza-id"))},
        "carbon": None,
        "inner": None,
        "element": elem,
    }
    for direction in ("received", "sent"):
        wrapper = elem.find(q(NS_CARBONS, direction))
        if wrapper is not None:
            inner = wrapper.find("%s/%s" % (q(NS_FORWARD, "forwarded"), q(NS_CLIENT, "message")))
            d["carbon"] = direction
            d["inner"] = message_dict(inner) if inner is not None else None
    return d


def presence_dict(elem):
    """A <presence/> element as a dict: from, to, type ('available' when absent), show,
    status, priority, xml, element."""
    def text(tag):
        child = elem.find(q(NS_CLIENT, tag))
        return child.text if child is not None else None
    return {
        "from": elem.get("from"),
        "to": elem.get("to"),
        "type": elem.get("type", "available"),
        "show": text("show"),
        "status": text("status"),
        "priority": text("priority"),
        "xml": tostring(elem),
        "element": elem,
    }


class _Client(slixmpp.ClientXMPP):
    """slixmpp client that never resolves names: always the given loopback address."""

    def __init__(self, jid, password, address):
        super().__init__(jid, password)
        self._pxm_address = address

    async def get_dns_records(self, domain, port=None):
        host, port = self._pxm_address
        return [(domain, host, port)]


class _LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to a *.localhost URL, connecting to a loopback address without resolving
    the name; the name is still used for SNI, certificate checking and Host."""

    def __init__(self, host, port, address, context, timeout):
        super().__init__(host, port, context=context, timeout=timeout)
        self._pxm_address = address

    def connect(self):
        sock = socket.create_connection((self._pxm_address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Peer:
    """One XMPP client session (one resource) driven synchronously from a test.

    jid          "user@localhost" (a resource in it is used unless `resource` is given)
    password     the account's password
    server_info  the dict from ProsodyServer.info / `pxm_server.py start` (or the
                 ProsodyServer object itself)
    resource     defaults to "peer-<random>" so parallel sessions never conflict
    auto_authorize  True: accept subscription requests and subscribe back
                 automatically (slixmpp's behaviour); False (default): do nothing,
                 the test decides (see approve(), make_contacts()).
    """

    def __init__(self, jid, password, server_info, resource=None, auto_authorize=False):
        if hasattr(server_info, "info"):
            server_info = server_info.info
        self.server = dict(server_info)
        self.bare = bare(jid)
        if "/" in jid and resource is None:
            resource = jid.split("/", 1)[1]
        self.resource = resource or "peer-" + uuid.uuid4().hex[:8]
        self.jid = "%s/%s" % (self.bare, self.resource)   # updated after bind
        self.password = password
        self.auto_authorize = auto_authorize
        self.default_timeout = 10
        self.last_mam_fin = None

        self._cond = threading.Condition()
        self._messages = []
        self._presences = []
        self._mam = {}          # queryid -> list of result dicts
        self._loop = None
        self._thread = None
        self._xmpp = None
        self._session = None    # concurrent future: session started / failed

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self):
        if self._xmpp is None:
            self.connect()
        return self

    def __exit__(self, *exc):
        self.disconnect()
        return False

    def __repr__(self):
        return "<Peer %s>" % self.jid

    def connect(self, timeout=10, direct_tls=False, presence=True, roster=True):
        """Log in over STARTTLS (or direct TLS on c2s_tls_port); by default fetch the
        roster and send initial presence like a normal client. Returns self."""
        if self._xmpp is not None:
            raise PeerError("%s already connected" % self.jid)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run_loop, daemon=True,
                                        name="peer-" + self.jid)
        self._thread.start()
        port = self.server["c2s_tls_port"] if direct_tls else self.server["c2s_port"]
        address = (self.server.get("host") or "127.0.0.1", port)
        try:
            self._run(self._start(address, direct_tls, presence, roster), timeout,
                      "log in as %s on %s:%d" % (self.jid, address[0], port))
        except BaseException:
            self._abort()
            raise
        return self

    def disconnect(self, timeout=5):
        """Close the stream (waiting for the server's reply) and stop the thread."""
        if self._loop is None:
            return
        if self._xmpp is not None:
            try:
                self._run(self._stop(), timeout, "disconnect")
            except PeerTimeout:
                pass
        self._abort()

    @property
    def connected(self):
        return self._xmpp is not None and self._xmpp.is_connected()

    # -- stanzas ------------------------------------------------------------------------------
    def send_message(self, to, body, mtype="chat", extra_xml=None, id=None):
        """Send a message; extra_xml is a string of child elements (unqualified ones are
        in jabber:client). Returns the message id."""
        mid = id or "pxm-" + uuid.uuid4().hex[:12]

        def build():
            msg = self._xmpp.make_message(mto=to, mbody=body, mtype=mtype)
            msg["id"] = mid
            for child in parse_fragment(extra_xml):
                msg.xml.append(child)
            msg.send()
        self._call(build)
        return mid

    def send_raw(self, xml_text):
        """Send any top-level stanza given as a string (xmlns jabber:client implied)."""
        elems = parse_fragment(xml_text)
        self._call(lambda: [self._xmpp.send_raw(tostring(e, xmlns="", top_level=True))
                            for e in elems])

    def wait_message(self, predicate=None, timeout=10):
        """The first queued message (oldest first) accepted by predicate(dict), removed
        from the queue; waits up to `timeout` seconds for one to arrive."""
        return self._wait(self._messages, predicate, timeout, "message")

    def wait_presence(self, predicate=None, timeout=10):
        """Like wait_message() for presence stanzas."""
        return self._wait(self._presences, predicate, timeout, "presence")

    def pending_messages(self):
        """A snapshot of the queued messages (not removed)."""
        with self._cond:
            return list(self._messages)

    def clear(self):
        """Forget every queued message and presence."""
        with self._cond:
            del self._messages[:]
            del self._presences[:]

    def send_iq(self, xml_text, timeout=10):
        """Send an <iq/> given as a string (id added if missing) and return the reply
        (result or error) as a string."""
        elem = parse_fragment(xml_text)[0]
        if elem.tag != q(NS_CLIENT, "iq"):
            raise ValueError("not an iq: %s" % xml_text)
        return tostring(self._iq(elem, timeout))

    def iq(self, xml_text, timeout=10):
        """send_iq() returning the reply as an ElementTree element; raises PeerError on
        an error reply."""
        reply = self._iq(parse_fragment(xml_text)[0], timeout)
        if reply.get("type") == "error":
            raise PeerError("error reply: %s" % tostring(reply))
        return reply

    # -- features -----------------------------------------------------------------------------
    def enable_carbons(self, timeout=10):
        """XEP-0280: enable carbons for this resource."""
        self.iq("<iq type='set'><enable xmlns='%s'/></iq>" % NS_CARBONS, timeout)

    def disco_info(self, jid, node=None, timeout=10):
        """XEP-0030 disco#info: {'identities': [{category,type,name}], 'features': [..]}."""
        node_attr = " node='%s'" % _attr(node) if node else ""
        reply = self.iq("<iq type='get' to='%s'><query xmlns='%s'%s/></iq>"
                        % (_attr(jid), NS_DISCO_INFO, node_attr), timeout)
        query = reply.find(q(NS_DISCO_INFO, "query"))
        return {
            "identities": [{"category": i.get("category"), "type": i.get("type"),
                            "name": i.get("name")}
                           for i in query.findall(q(NS_DISCO_INFO, "identity"))],
            "features": [f.get("var") for f in query.findall(q(NS_DISCO_INFO, "feature"))],
        }

    def mam_query(self, with_=None, start=None, end=None, after=None, before=None, max=50,
                  archive=None, timeout=10):
        """XEP-0313 query of our archive (or of `archive`, e.g. a room JID).

        before: None, True (empty <before/>: the last page) or an archive id.
        Returns the result messages, oldest first, as message dicts (the forwarded
        message) plus archive_id, stamp and result_xml.  The <fin/> is left in
        self.last_mam_fin = {complete, first, last, count}."""
        qid = "q-" + uuid.uuid4().hex[:10]
        fields = ["<field var='FORM_TYPE' type='hidden'><value>%s</value></field>" % NS_MAM]
        for var, value in (("with", with_), ("start", start), ("end", end)):
            if value is not None:
                fields.append("<field var='%s'><value>%s</value></field>" % (var, _text(value)))
        rsm = ["<max>%d</max>" % max] if max is not None else []
        if after is not None:
            rsm.append("<after>%s</after>" % _text(after))
        if before is True:
            rsm.append("<before/>")
        elif before is not None:
            rsm.append("<before>%s</before>" % _text(before))
        to = " to='%s'" % _attr(archive) if archive else ""
        xml = ("<iq type='set'%s><query xmlns='%s' queryid='%s'>"
               "<x xmlns='%s' type='submit'>%s</x><set xmlns='%s'>%s</set></query></iq>"
               % (to, NS_MAM, qid, NS_DATA, "".join(fields), NS_RSM, "".join(rsm)))
        with self._cond:
            self._mam[qid] = []
        try:
            reply = self.iq(xml, timeout)
        finally:
            with self._cond:
                results = self._mam.pop(qid)
        fin = reply.find(q(NS_MAM, "fin"))
        info = {"complete": False, "first": None, "last": None, "count": None}
        if fin is not None:
            info["complete"] = fin.get("complete") in ("true", "1")
            rset = fin.find(q(NS_RSM, "set"))
            if rset is not None:
                for key in ("first", "last", "count"):
                    el = rset.find(q(NS_RSM, key))
                    if el is not None:
                        info[key] = int(el.text) if key == "count" else el.text
        self.last_mam_fin = info
        return results

    def upload(self, path, content_type=None, timeout=10):
        """XEP-0363: request a slot from the upload service, PUT the file, return the
        GET URL."""
        with open(path, "rb") as f:
            data = f.read()
        name = os.path.basename(path)
        ctype = content_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
        reply = self.iq("<iq type='get' to='%s'><request xmlns='%s' filename='%s' size='%d' "
                        "content-type='%s'/></iq>"
                        % (_attr(self.server["upload"]), NS_UPLOAD, _attr(name), len(data),
                           _attr(ctype)), timeout)
        slot = reply.find(q(NS_UPLOAD, "slot"))
        put = slot.find(q(NS_UPLOAD, "put"))
        get_url = slot.find(q(NS_UPLOAD, "get")).get("url")
        headers = {h.get("name"): (h.text or "") for h in put.findall(q(NS_UPLOAD, "header"))}
        headers["Content-Type"] = ctype
        status, _, body = self.http_request("PUT", put.get("url"), data, headers, timeout)
        if status not in (200, 201):
            raise PeerError("upload PUT failed: HTTP %d %s" % (status, body[:200]))
        return get_url

    def http_get(self, url, timeout=10):
        """GET an https URL of the test server (verified with its CA); returns bytes."""
        status, _, body = self.http_request("GET", url, None, {}, timeout)
        if status != 200:
            raise PeerError("GET %s: HTTP %d" % (url, status))
        return body

    def http_request(self, method, url, body=None, headers=None, timeout=10):
        """One HTTP(S) request to the test server; returns (status, headers, body)."""
        return http_request(self.server, method, url, body, headers, timeout)

    def join_room(self, room_jid, nick, timeout=10, history=0):
        """XEP-0045: join (creating if needed) and wait for our own presence (status
        110). Returns that presence dict."""
        room = bare(room_jid)
        self.send_raw("<presence to='%s/%s'><x xmlns='%s'><history maxstanzas='%d'/></x>"
                      "</presence>" % (_attr(room), _attr(nick), NS_MUC, history))

        def own(p):
            if bare(p["from"]) != room:
                return False
            if p["type"] == "error":
                return True
            x = p["element"].find(q(NS_MUC_USER, "x"))
            return x is not None and any(s.get("code") == "110"
                                         for s in x.findall(q(NS_MUC_USER, "status")))
        pres = self.wait_presence(own, timeout)
        if pres["type"] == "error":
            raise PeerError("cannot join %s: %s" % (room, pres["xml"]))
        return pres

    def leave_room(self, room_jid, nick):
        self.send_raw("<presence type='unavailable' to='%s/%s'/>"
                      % (_attr(bare(room_jid)), _attr(nick)))

    def send_room(self, room, body, extra_xml=None, id=None):
        """A groupchat message to a room we joined; returns its id."""
        return self.send_message(bare(room), body, "groupchat", extra_xml, id)

    def set_presence(self, show=None, status=None, priority=None, to=None, ptype=None,
                     extra_xml=None):
        """Send a presence (broadcast unless `to`); ptype e.g. 'unavailable',
        'subscribe', 'subscribed', 'unsubscribe', 'unsubscribed'."""
        attrs = ""
        if to:
            attrs += " to='%s'" % _attr(to)
        if ptype and ptype != "available":
            attrs += " type='%s'" % _attr(ptype)
        children = ""
        if show:
            children += "<show>%s</show>" % _text(show)
        if status:
            children += "<status>%s</status>" % _text(status)
        if priority is not None:
            children += "<priority>%d</priority>" % priority
        self.send_raw("<presence%s>%s%s</presence>" % (attrs, children, extra_xml or ""))

    def subscribe(self, jid):
        """Ask for a presence subscription to jid."""
        self.set_presence(to=bare(jid), ptype="subscribe")

    def approve(self, jid):
        """Accept (or pre-approve) jid's subscription to our presence."""
        self.set_presence(to=bare(jid), ptype="subscribed")

    def roster(self, timeout=10):
        """The server's roster: {bare jid: {subscription, ask, name, groups}}."""
        reply = self.iq("<iq type='get'><query xmlns='%s'/></iq>" % NS_ROSTER, timeout)
        out = {}
        for item in reply.iter(q(NS_ROSTER, "item")):
            out[item.get("jid")] = {
                "subscription": item.get("subscription", "none"),
                "ask": item.get("ask"),
                "name": item.get("name"),
                "groups": [g.text for g in item.findall(q(NS_ROSTER, "group"))],
            }
        return out

    def roster_set(self, jid, name=None, groups=(), remove=False, timeout=10):
        """Add/update (or remove) a roster item."""
        attrs = " jid='%s'" % _attr(bare(jid))
        if remove:
            attrs += " subscription='remove'"
        if name:
            attrs += " name='%s'" % _attr(name)
        groups_xml = "".join("<group>%s</group>" % _text(g) for g in groups)
        self.iq("<iq type='set'><query xmlns='%s'><item%s>%s</item></query></iq>"
                % (NS_ROSTER, attrs, groups_xml), timeout)

    # -- internals --------------------------------------------------------------------------------
    def _run_loop(self):
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    def _run(self, coro, timeout, what):
        """Run a coroutine on our loop, wait for it from the calling thread."""
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return fut.result(timeout)
        except TimeoutError:
            fut.cancel()
            raise PeerTimeout("%s: timed out after %ss (%s)" % (self.jid, timeout, what))

    def _call(self, fn, timeout=10):
        """Run a plain function on our loop (slixmpp is not thread-safe)."""
        if self._xmpp is None:
            raise PeerError("%s is not connected" % self.jid)

        async def wrapper():
            return fn()
        return self._run(wrapper(), timeout, getattr(fn, "__name__", "call"))

    def _iq(self, elem, timeout):
        if self._xmpp is None:
            raise PeerError("%s is not connected" % self.jid)

        async def send():
            iq = self._xmpp.Iq(xml=elem)
            if not iq["id"]:
                iq["id"] = self._xmpp.new_id()
            try:
                reply = await iq.send(timeout=timeout)
            except IqError as e:
                reply = e.iq
            except IqTimeout:
                return None
            return reply.xml
        reply = self._run(send(), timeout + 2, "iq")
        if reply is None:
            raise PeerTimeout("%s: no reply to iq within %ss: %s"
                              % (self.jid, timeout, tostring(elem)))
        return reply

    async def _start(self, address, direct_tls, presence, roster):
        done = asyncio.get_running_loop().create_future()
        xmpp = _Client(self.jid, self.password, address)
        xmpp.loop = self._loop
        xmpp.ca_certs = self.server["ca"]
        xmpp.use_ipv6 = False
        xmpp.whitespace_keepalive = False
        xmpp.register_plugin("xep_0030")
        xmpp.register_plugin("xep_0199")
        auto = True if self.auto_authorize else None
        xmpp.roster.auto_authorize = auto
        xmpp.roster.auto_subscribe = auto

        def fail(reason):
            if not done.done():
                done.set_exception(PeerError("%s: %s" % (self.jid, reason)))

        async def session_start(_):
            try:
                self.jid = str(xmpp.boundjid)
                if roster:
                    await xmpp.get_roster()
                if presence:
                    xmpp.send_presence()
                if not done.done():
                    done.set_result(True)
            except Exception as e:     # noqa: BLE001 - reported to connect()
                fail("session start failed: %r" % e)

        xmpp.add_event_handler("session_start", session_start)
        xmpp.add_event_handler("failed_all_auth", lambda _: fail("authentication failed"))
        xmpp.add_event_handler("connection_failed", lambda e: fail("connection failed: %s" % e))
        xmpp.add_event_handler("stream_error", lambda e: fail("stream error: %s" % e))
        xmpp.add_event_handler("ssl_invalid_chain",
                               lambda e: fail("TLS certificate not trusted: %s" % e))
        xmpp.register_handler(Callback("pxm messages", MatchXPath(q(NS_CLIENT, "message")),
                                       self._on_message))
        xmpp.register_handler(Callback("pxm presences", MatchXPath(q(NS_CLIENT, "presence")),
                                       self._on_presence))
        self._xmpp = xmpp
        xmpp.connect(address=address, use_ssl=direct_tls)
        await done

    async def _stop(self):
        xmpp = self._xmpp
        if xmpp.is_connected():
            await xmpp.disconnect(wait=2.0)

    def _abort(self):
        """Drop the connection if any, stop the loop and the thread."""
        loop, xmpp = self._loop, self._xmpp
        self._xmpp = None
        if loop is None:
            return

        async def shutdown():
            if xmpp is not None:
                xmpp.cancel_connection_attempt()
                if xmpp.transport is not None:
                    # not xmpp.abort(): on a TLS transport its close()+abort() raises
                    try:
                        xmpp.transport.abort()
                    except Exception:       # noqa: BLE001 - already closing
                        pass
            for _ in range(5):      # cancelling may start follow-up tasks
                await asyncio.sleep(0)
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                if not tasks:
                    break
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        try:
            asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
        except Exception:       # noqa: BLE001 - best effort
            pass
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            loop.close()
        self._loop = None
        self._thread = None

    def _on_message(self, stanza):
        elem = stanza.xml
        result = elem.find(q(NS_MAM, "result"))
        with self._cond:
            if result is not None and result.get("queryid") in self._mam:
                self._mam[result.get("queryid")].append(_mam_item(result, tostring(elem)))
                return
            self._messages.append(message_dict(elem))
            self._cond.notify_all()

    def _on_presence(self, stanza):
        with self._cond:
            self._presences.append(presence_dict(stanza.xml))
            self._cond.notify_all()

    def _wait(self, queue, predicate, timeout, what):
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, item in enumerate(queue):
                    if predicate is None or predicate(item):
                        return queue.pop(i)
                left = end - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join(item["xml"][:300] for item in queue[-10:]) or "(none)"
                    raise PeerTimeout("%s: no matching %s within %ss; queued:\n  %s"
                                      % (self.jid, what, timeout, seen))
                self._cond.wait(left)


def _mam_item(result, result_xml):
    fwd = result.find(q(NS_FORWARD, "forwarded"))
    inner = fwd.find(q(NS_CLIENT, "message")) if fwd is not None else None
    item = message_dict(inner) if inner is not None else {"xml": None}
    delay = fwd.find(q(NS_DELAY, "delay")) if fwd is not None else None
    item["archive_id"] = result.get("id")
    item["stamp"] = delay.get("stamp") if delay is not None else None
    item["result_xml"] = result_xml
    return item


def _text(value):
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attr(value):
    return _text(value).replace("'", "&apos;").replace('"', "&quot;")


def http_request(server_info, method, url, body=None, headers=None, timeout=10):
    """HTTP(S) request to the test server without name resolution: the URL's host must
    be localhost or *.localhost; the connection goes to server_info['host'] and TLS is
    verified against server_info['ca'] for the URL's host name. Returns
    (status, headers dict, body bytes)."""
    if hasattr(server_info, "info"):
        server_info = server_info.info
    u = urllib.parse.urlsplit(url)
    if u.hostname != "localhost" and not (u.hostname or "").endswith(".localhost"):
        raise PeerError("refusing non-loopback URL %s" % url)
    address = server_info.get("host") or "127.0.0.1"
    if u.scheme == "https":
        ctx = ssl.create_default_context(cafile=server_info["ca"])
        conn = _LoopbackHTTPS(u.hostname, u.port or 443, address, ctx, timeout)
    else:
        conn = http.client.HTTPConnection(address, u.port or 80, timeout=timeout)
    path = u.path + ("?" + u.query if u.query else "")
    hdrs = dict(headers or {})
    hdrs.setdefault("Host", u.netloc)
    try:
        conn.request(method, path or "/", body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def make_contacts(peer_a, peer_b, timeout=10):
    """Make two connected peers mutual contacts (subscription 'both' on both rosters).

    Each side asks and the other approves after seeing the request, then both rosters
    are polled until the server reports 'both'. Harmless if they already are."""
    a, b = peer_a, peer_b
    if a.roster(timeout).get(b.bare, {}).get("subscription") == "both" and \
            b.roster(timeout).get(a.bare, {}).get("subscription") == "both":
        return
    end = time.monotonic() + timeout

    def left():
        return max(0.1, end - time.monotonic())

    for asker, approver in ((a, b), (b, a)):
        state = asker.roster(left()).get(approver.bare, {}).get("subscription", "none")
        if state in ("to", "both"):
            continue
        asker.subscribe(approver.bare)
        approver.wait_presence(lambda p, who=asker.bare: p["type"] == "subscribe"
                               and bare(p["from"]) == who, left())
        approver.approve(asker.bare)
    while True:
        ra = a.roster(left()).get(b.bare, {}).get("subscription")
        rb = b.roster(left()).get(a.bare, {}).get("subscription")
        if ra == "both" and rb == "both":
            return
        if time.monotonic() > end:
            raise PeerTimeout("make_contacts(%s, %s): subscriptions are %s / %s"
                              % (a.bare, b.bare, ra, rb))
        time.sleep(0.05)

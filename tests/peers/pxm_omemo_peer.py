# SPDX-License-Identifier: GPL-3.0-or-later
"""An independent OMEMO peer for the integration tests and the benchmark.

Built on Debian's python-omemo 1.0 with both of its backends, oldmemo (legacy OMEMO,
``eu.siacs.conversations.axolotl``) and twomemo (OMEMO 2, ``urn:xmpp:omemo:2``, with
XEP-0420 SCE envelopes), over the slixmpp facade of pxm_peer.py.  There is no
slixmpp-omemo in Debian: the glue (PEP device lists and bundles, message
(de)serialisation, trust, storage) is here.

    from pxm_omemo_peer import OmemoPeer
    a = OmemoPeer("alice@localhost", "pass-alice", info)              # both versions
    b = OmemoPeer("bob@localhost", "pass-bob", info, versions=("oldmemo",))
    a.send_encrypted(b.bare, "hi")                # for all of bob's and alice's devices
    m = b.wait_decrypted(lambda m: m["body"] == "hi")
    assert m["version"] == "oldmemo" and m["sender_device"] == a.device_id()
    a.close(); b.close()

Every received <message/> is recorded in `received` (dicts, see _record()); encrypted ones
are decrypted on arrival (in order, one at a time) unless `decrypt_live` is False.
`raw_stanzas` keeps the XML of every received stanza, so a test can check that a
plaintext never crossed the wire.

Trust (`trust` argument):
  "all"     every device is trusted (the default: tests of the other side's trust
            flows use "manual" or set_trust());
  "btbv"    blind trust before verification: devices of a JID are trusted until one of
            them is verified with set_trust(..., "verified"); then new ones are undecided
            and encryption for them fails (StillUndecided / TrustDecisionFailed);
  "manual"  new devices are undecided until set_trust().
"""

import asyncio
import base64
import copy
import json
import logging
import os
import secrets
import time
import uuid
import xml.etree.ElementTree as ET
from typing import Any, Dict, FrozenSet, Optional

import omemo
import oldmemo
import oldmemo.etree
import twomemo
import twomemo.etree
import xeddsa
from omemo.storage import Just, Maybe, Nothing, Storage
from omemo.types import DeviceInformation, JSONType, TrustLevel
from slixmpp.exceptions import IqError, IqTimeout
from slixmpp.xmlstream import tostring

from pxm_peer import (NS_CARBONS, NS_CLIENT, NS_FORWARD, NS_MUC_USER, Peer, PeerError, PeerTimeout,
                      bare, q)

NS_OLD = oldmemo.oldmemo.NAMESPACE            # eu.siacs.conversations.axolotl
NS_TWO = twomemo.twomemo.NAMESPACE            # urn:xmpp:omemo:2
NS_PUBSUB = "http://jabber.org/protocol/pubsub"
NS_PUBSUB_EVENT = "http://jabber.org/protocol/pubsub#event"
NS_PUBSUB_OWNER = "http://jabber.org/protocol/pubsub#owner"
NS_PUBSUB_ERRORS = "http://jabber.org/protocol/pubsub#errors"
# pubsub#max_items when a server refuses 'max' (ejabberd 23.01); the plugin
# uses the same number.
PUBLISH_MAX_ITEMS_FALLBACK = "256"
NS_DATA = "jabber:x:data"
NS_SCE = "urn:xmpp:sce:1"
NS_EME = "urn:xmpp:eme:0"
NS_HINTS = "urn:xmpp:hints"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"

NODE_OLD_DEVICES = NS_OLD + ".devicelist"
NODE_OLD_BUNDLES = NS_OLD + ".bundles:%d"
NODE_TWO_DEVICES = NS_TWO + ":devices"
NODE_TWO_BUNDLES = NS_TWO + ":bundles"

VERSIONS = {"oldmemo": NS_OLD, "twomemo": NS_TWO}
VERSION_OF = {NS_OLD: "oldmemo", NS_TWO: "twomemo"}
DEVICE_NODES = {NODE_OLD_DEVICES: NS_OLD, NODE_TWO_DEVICES: NS_TWO}

FALLBACK_BODY = ("I sent you an OMEMO encrypted message but your client doesn't seem "
                 "to support that.")

log = logging.getLogger("pxm.omemo_peer")


class OmemoPeerError(PeerError):
    """An OMEMO operation failed (encryption, publishing, ...)."""


# -- storage -------------------------------------------------------------------------------

class DictStorage(Storage):
    """python-omemo storage in a dict, optionally saved as a JSON file after every write
    (so a peer can be closed and re-opened with the same identity)."""

    def __init__(self, path=None):
        super().__init__()
        self.path = path
        self.data: Dict[str, JSONType] = {}
        if path and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                self.data = json.load(f)

    def _save(self):
        if self.path:
            tmp = self.path + ".tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.data, f)
            os.replace(tmp, self.path)

    async def _load(self, key: str) -> Maybe[JSONType]:
        if key in self.data:
            return Just(copy.deepcopy(self.data[key]))
        return Nothing()

    async def _store(self, key: str, value: JSONType) -> Any:
        self.data[key] = copy.deepcopy(value)
        self._save()

    async def _delete(self, key: str) -> Any:
        self.data.pop(key, None)
        self._save()


# -- the python-omemo session manager, talking PEP through slixmpp -------------------------

class _Manager(omemo.SessionManager):
    """SessionManager whose XMPP side goes through an OmemoPeer (set as _pxm_peer on the
    class of each instance: create() builds the instance itself)."""

    _pxm_peer: "OmemoPeer"

    async def _upload_bundle(self, bundle: omemo.Bundle) -> Any:
        peer = self._pxm_peer
        if isinstance(bundle, oldmemo.oldmemo.BundleImpl):
            await peer._publish(NODE_OLD_BUNDLES % bundle.device_id, "current",
                                oldmemo.etree.serialize_bundle(bundle), {})
        elif isinstance(bundle, twomemo.twomemo.BundleImpl):
            await peer._publish(NODE_TWO_BUNDLES, str(bundle.device_id),
                                twomemo.etree.serialize_bundle(bundle),
                                {"pubsub#max_items": "max"})
        else:
            raise omemo.UnknownNamespace("bundle of %s" % bundle.namespace)

    async def _download_bundle(self, namespace: str, bare_jid: str,
                               device_id: int) -> omemo.Bundle:
        peer = self._pxm_peer
        if namespace == NS_OLD:
            node, item = NODE_OLD_BUNDLES % device_id, None
        elif namespace == NS_TWO:
            node, item = NODE_TWO_BUNDLES, str(device_id)
        else:
            raise omemo.UnknownNamespace(namespace)
        try:
            items = await peer._items(bare_jid, node, item)
        except _ItemNotFound as e:
            raise omemo.BundleNotFound("%s %s/%d: %s" % (namespace, bare_jid, device_id, e))
        except Exception as e:      # noqa: BLE001 - reported as the library expects
            raise omemo.BundleDownloadFailed("%s/%d: %r" % (bare_jid, device_id, e))
        for it in items:
            if namespace == NS_TWO and it.get("id") != str(device_id):
                continue
            child = next(iter(it), None)
            if child is None:
                continue
            try:
                if namespace == NS_OLD:
                    return oldmemo.etree.parse_bundle(child, bare_jid, device_id)
                return twomemo.etree.parse_bundle(child, bare_jid, device_id)
            except Exception as e:      # noqa: BLE001
                raise omemo.BundleDownloadFailed("bad bundle %s/%d: %r"
                                                 % (bare_jid, device_id, e))
        raise omemo.BundleNotFound("%s %s/%d: no item" % (namespace, bare_jid, device_id))

    async def _delete_bundle(self, namespace: str, device_id: int) -> Any:
        peer = self._pxm_peer
        try:
            if namespace == NS_OLD:
                await peer._aiq(_iq("set", None, _el(q(NS_PUBSUB_OWNER, "pubsub"), [
                    _el(q(NS_PUBSUB_OWNER, "delete"), node=NODE_OLD_BUNDLES % device_id)])))
            elif namespace == NS_TWO:
                await peer._aiq(_iq("set", None, _el(q(NS_PUBSUB, "pubsub"), [
                    _el(q(NS_PUBSUB, "retract"), [_el(q(NS_PUBSUB, "item"), id=str(device_id))],
                        node=NODE_TWO_BUNDLES, notify="true")])))
        except _ItemNotFound:
            pass

    async def _upload_device_list(self, namespace: str,
                                  device_list: Dict[int, Optional[str]]) -> Any:
        peer = self._pxm_peer
        if namespace == NS_OLD:
            await peer._publish(NODE_OLD_DEVICES, "current",
                                oldmemo.etree.serialize_device_list(device_list), {})
        elif namespace == NS_TWO:
            await peer._publish(NODE_TWO_DEVICES, "current",
                                twomemo.etree.serialize_device_list(device_list), {})
        else:
            raise omemo.UnknownNamespace(namespace)

    async def _download_device_list(self, namespace: str,
                                    bare_jid: str) -> Dict[int, Optional[str]]:
        peer = self._pxm_peer
        node = {NS_OLD: NODE_OLD_DEVICES, NS_TWO: NODE_TWO_DEVICES}.get(namespace)
        if node is None:
            raise omemo.UnknownNamespace(namespace)
        try:
            items = await peer._items(bare_jid, node, None, max_items=1)
        except _ItemNotFound:
            return {}
        except OmemoPeerError as e:
            # Prosody answers forbidden for a node that does not exist on the PEP
            # service of an account we have no subscription to.
            if "forbidden" in str(e):
                return {}
            raise omemo.DeviceListDownloadFailed("%s %s: %r" % (namespace, bare_jid, e))
        except Exception as e:      # noqa: BLE001
            raise omemo.DeviceListDownloadFailed("%s %s: %r" % (namespace, bare_jid, e))
        return _parse_device_list_items(namespace, items)

    async def _evaluate_custom_trust_level(self, device: DeviceInformation) -> TrustLevel:
        level = device.trust_level_name
        if level in ("verified", "trusted"):
            return TrustLevel.TRUSTED
        if level == "distrusted":
            return TrustLevel.DISTRUSTED
        if level != "undecided":
            raise omemo.UnknownTrustLevel(level)
        policy = self._pxm_peer.trust_policy
        if policy == "all":
            return TrustLevel.TRUSTED
        if policy == "btbv":
            devices = await self.get_device_information(device.bare_jid)
            if not any(d.trust_level_name == "verified" for d in devices):
                return TrustLevel.TRUSTED
        return TrustLevel.UNDECIDED

    async def _make_trust_decision(self, undecided: FrozenSet[DeviceInformation],
                                   identifier: Optional[str]) -> Any:
        self._pxm_peer._undecided.extend(undecided)
        raise omemo.TrustDecisionFailed(
            "undecided devices: %s" % ", ".join("%s/%d" % (d.bare_jid, d.device_id)
                                                for d in undecided))

    async def _send_message(self, message: omemo.Message, bare_jid: str) -> Any:
        # Empty OMEMO messages (key exchange completion, heartbeats).
        peer = self._pxm_peer
        try:
            peer._send_encrypted_elements(bare_jid, [_serialize(message)], body=None)
        except Exception as e:      # noqa: BLE001
            raise omemo.MessageSendingFailed(repr(e))


class _ItemNotFound(Exception):
    pass


def _el(tag, children=(), text=None, **attrs):
    e = ET.Element(tag, {k: v for k, v in attrs.items() if v is not None})
    for c in children:
        e.append(c)
    if text is not None:
        e.text = text
    return e


def _iq(itype, to, payload):
    iq = ET.Element(q(NS_CLIENT, "iq"), {"type": itype})
    if to:
        iq.set("to", to)
    iq.append(payload)
    return iq


def _form(fields, form_type="http://jabber.org/protocol/pubsub#publish-options"):
    x = _el(q(NS_DATA, "x"), type="submit")
    for var, value in [("FORM_TYPE", form_type)] + list(fields.items()):
        f = ET.SubElement(x, q(NS_DATA, "field"), {"var": var})
        if var == "FORM_TYPE":
            f.set("type", "hidden")
        ET.SubElement(f, q(NS_DATA, "value")).text = value
    return x


def _parse_device_list_items(namespace, items):
    for it in items:
        child = next(iter(it), None)
        if child is None:
            continue
        try:
            if namespace == NS_OLD:
                return oldmemo.etree.parse_device_list(child)
            return twomemo.etree.parse_device_list(child)
        except Exception as e:      # noqa: BLE001
            raise omemo.DeviceListDownloadFailed("bad device list: %r" % e)
    return {}


def _serialize(message: omemo.Message) -> ET.Element:
    if message.namespace == NS_OLD:
        return oldmemo.etree.serialize_message(message)
    if message.namespace == NS_TWO:
        return twomemo.etree.serialize_message(message)
    raise omemo.UnknownNamespace(message.namespace)


def sce_envelope(text, from_jid, to_jid=None):
    """The XEP-0420 envelope OMEMO 2 encrypts: body, random padding, from (and to)."""
    env = ET.Element(q(NS_SCE, "envelope"))
    content = ET.SubElement(env, q(NS_SCE, "content"))
    if text is not None:
        ET.SubElement(content, q(NS_CLIENT, "body")).text = text
    ET.SubElement(env, q(NS_SCE, "rpad")).text = base64.b64encode(
        secrets.token_bytes(secrets.randbelow(32) + 1)).decode()
    ET.SubElement(env, q(NS_SCE, "from"), {"jid": from_jid})
    if to_jid:
        ET.SubElement(env, q(NS_SCE, "to"), {"jid": to_jid})
    return ET.tostring(env, encoding="utf-8")


def fingerprint_hex(identity_key_ed25519: bytes, version: str) -> str:
    """The fingerprint clients show, as lower-case hex without separators: OMEMO 2 uses
    the Ed25519 identity key, legacy clients the Curve25519 form (without the 0x05)."""
    if version == "twomemo":
        return identity_key_ed25519.hex()
    return xeddsa.ed25519_pub_to_curve25519_pub(identity_key_ed25519).hex()


def group_fingerprint(fp: str, size=8) -> str:
    """'0a1b2c3d 4e5f...' grouped the conventional way."""
    fp = fp.replace(" ", "").lower()
    return " ".join(fp[i:i + size] for i in range(0, len(fp), size))


# -- the peer --------------------------------------------------------------------------------

class OmemoPeer(Peer):
    """A slixmpp peer speaking OMEMO (see the module docstring).

    jid, password, server_info  as for Peer (a random resource unless one is given)
    versions     ("twomemo", "oldmemo") (default, OMEMO 2 preferred), or one of them
    storage_dir  directory for a JSON store named after the JID and resource
                 (None: in memory; the identity dies with the peer)
    storage_path an explicit JSON file instead
    trust        "all" (default), "btbv" or "manual" (see the module docstring)
    decrypt_live decrypt encrypted messages as they arrive (default True); False only
                 records them (decrypt_pending() later), e.g. to keep a benchmark's
                 measurement free of Python's decryption time
    carbons      enable XEP-0280 so sent/received carbons reach this device (default
                 False); carbons are decrypted like other messages
    connect      connect and publish at once (default True)
    """

    def __init__(self, jid, password, server_info, versions=("twomemo", "oldmemo"),
                 storage_dir=None, storage_path=None, trust="all", resource=None,
                 decrypt_live=True, carbons=False, connect=True, label=None,
                 timeout=30):
        super().__init__(jid, password, server_info, resource=resource)
        if isinstance(versions, str):
            versions = (versions,)
        for v in versions:
            if v not in VERSIONS:
                raise ValueError("unknown OMEMO version %r" % v)
        if trust not in ("all", "btbv", "manual"):
            raise ValueError("trust must be all, btbv or manual")
        self.versions = tuple(versions)
        self.namespaces = [VERSIONS[v] for v in self.versions]
        self.trust_policy = trust
        self.decrypt_live = decrypt_live
        self.want_carbons = carbons
        self.label = label
        if storage_path is None and storage_dir:
            os.makedirs(storage_dir, exist_ok=True)
            storage_path = os.path.join(storage_dir, "%s_%s.json"
                                        % (self.bare, self.resource))
        self.storage_path = storage_path
        self.received = []          # every message, decrypted or plain (dicts)
        self.raw_stanzas = []       # XML text of every stanza received
        self.errors = []            # decryption/processing failures (dicts)
        self.device_list_pushes = []    # (namespace, from, {id: label})
        self._undecided = []
        self._pending = []          # encrypted messages kept for decrypt_pending()
        self._manager = None
        self._lock = None           # asyncio.Lock, created on our loop
        self._decrypting = 0
        self._refreshed = set()     # (namespace, bare jid) fetched at least once
        self._occupants = {}        # room occupant full JID -> real bare JID
        if connect:
            self.connect(timeout=timeout)

    def __repr__(self):
        return "<OmemoPeer %s %s>" % (self.jid, "+".join(self.versions))

    # -- lifecycle -----------------------------------------------------------------------
    def connect(self, timeout=30, direct_tls=False, presence=True, roster=True):
        """Log in, announce +notify for the device lists (entity caps), publish
        bundle(s) and add our device to the device list(s). Returns self."""
        super().connect(timeout=timeout, direct_tls=direct_tls, presence=False,
                        roster=roster)
        try:
            self._run(self._setup(presence), timeout, "OMEMO set-up")
        except BaseException:
            self._abort()
            raise
        return self

    def close(self):
        """Disconnect (the store is kept when it is a file)."""
        self.disconnect()
        self._manager = None

    def __exit__(self, *exc):
        self.close()
        return False

    async def _setup(self, presence):
        xmpp = self._xmpp
        self._lock = asyncio.Lock()
        xmpp.register_plugin("xep_0115")
        xmpp.register_plugin("xep_0163")
        for node in (NODE_OLD_DEVICES if ns == NS_OLD else NODE_TWO_DEVICES
                     for ns in self.namespaces):
            xmpp["xep_0030"].add_feature(node + "+notify")
        for ns in self.namespaces:
            xmpp["xep_0030"].add_feature(ns)
        await xmpp["xep_0115"].update_caps(broadcast=False)
        if self.want_carbons:
            await self._aiq(_iq("set", None, _el(q(NS_CARBONS, "enable"))))
        storage = DictStorage(self.storage_path)
        backends = []
        for ns in self.namespaces:
            backends.append(oldmemo.Oldmemo(storage) if ns == NS_OLD
                            else twomemo.Twomemo(storage))
        manager_class = type("_PeerManager", (_Manager,), {"_pxm_peer": self})
        async with self._lock:
            self._manager = await manager_class.create(
                backends, storage, self.bare, self.label, "undecided")
            await self._manager.after_history_sync()
        if presence:
            xmpp.send_presence()

    # -- identity --------------------------------------------------------------------------
    def device_id(self, version=None):
        """Our device id (python-omemo uses one id for every version)."""
        own, _ = self._run(self._manager.get_own_device_information(), 10, "own device")
        return own.device_id

    def identity_key(self):
        """Our identity public key, Ed25519 form (32 bytes)."""
        own, _ = self._run(self._manager.get_own_device_information(), 10, "own device")
        return own.identity_key

    def fingerprint(self, version="twomemo", grouped=False):
        """Our fingerprint for @version as hex (see fingerprint_hex())."""
        fp = fingerprint_hex(self.identity_key(), version)
        return group_fingerprint(fp) if grouped else fp

    def devices(self, bare_jid, refresh=True):
        """What we know of bare_jid's devices: [{device_id, versions, fingerprint
        (per version), trust, active}]; refresh fetches the device lists first."""
        async def run():
            async with self._lock:
                if refresh:
                    await self._refresh(bare_jid, force=True)
                return await self._manager.get_device_information(bare_jid)
        infos = self._run(run(), 20, "device information")
        out = []
        for d in sorted(infos, key=lambda d: d.device_id):
            out.append({
                "device_id": d.device_id,
                "versions": sorted(VERSION_OF[ns] for ns in d.namespaces),
                "active": {VERSION_OF[ns]: a for ns, a in d.active},
                "fingerprint": {v: fingerprint_hex(d.identity_key, v) for v in VERSIONS},
                "identity_key": d.identity_key,
                "trust": d.trust_level_name,
            })
        return out

    def device_list(self, bare_jid, version):
        """The device ids in bare_jid's published device list for @version (fetched
        now, not from the cache)."""
        ns = VERSIONS[version]
        node = NODE_OLD_DEVICES if ns == NS_OLD else NODE_TWO_DEVICES

        async def run():
            try:
                items = await self._items(bare_jid, node, None, max_items=1)
            except _ItemNotFound:
                return {}
            except OmemoPeerError as e:
                if "forbidden" in str(e):     # see _download_device_list()
                    return {}
                raise
            return _parse_device_list_items(ns, items)
        return sorted(self._run(run(), 15, "device list"))

    def republish_device_lists(self, timeout=15):
        """Publish our device list(s) again, unchanged: a fresh notification to
        the contacts with +notify whose presence the server has seen.  ejabberd
        23.01 sends a contact on the same server the last items only on its
        presence probe (its next sign-in), never on a new subscription, and
        lurch reads device lists from notifications only."""
        async def run():
            async with self._lock:
                for ns in self.namespaces:
                    devices = await self._manager._download_device_list(ns, self.bare)
                    await self._manager._upload_device_list(ns, devices)
        self._run(run(), timeout, "device list republish")

    # -- trust ------------------------------------------------------------------------------
    def set_trust(self, bare_jid, key, level):
        """level: "verified", "trusted", "distrusted" or "undecided"; key: a device id,
        a fingerprint (either version, spaces allowed) or the Ed25519 identity key."""
        if level not in ("verified", "trusted", "distrusted", "undecided"):
            raise ValueError(level)
        ik = self._identity_of(bare_jid, key)
        self._run(self._locked(self._manager.set_trust(bare_jid, ik, level)), 10,
                  "set trust")

    def trust_all(self, bare_jid=None):
        """Trust every known device (of bare_jid, or of every JID seen so far)."""
        jids = [bare_jid] if bare_jid else self._known_jids()
        for j in jids:
            for d in self.devices(j, refresh=False):
                if d["trust"] not in ("verified", "trusted"):
                    self.set_trust(j, d["identity_key"], "trusted")

    def undecided(self):
        """Devices encryption stopped at (manual/btbv trust), oldest first."""
        return [{"jid": d.bare_jid, "device_id": d.device_id} for d in self._undecided]

    def _identity_of(self, bare_jid, key):
        if isinstance(key, bytes) and len(key) == 32:
            return key
        for d in self.devices(bare_jid, refresh=False) or self.devices(bare_jid):
            if isinstance(key, int) and d["device_id"] == key:
                return d["identity_key"]
            if isinstance(key, str) and key.replace(" ", "").replace(":", "").lower() in \
                    d["fingerprint"].values():
                return d["identity_key"]
        raise OmemoPeerError("%s: no device %r" % (bare_jid, key))

    def _known_jids(self):
        async def run():
            storage = self._manager._SessionManager__storage
            return sorted({k.split("/")[2] for k in storage.data
                           if k.startswith("/devices/")})
        return self._run(run(), 10, "known jids")

    # -- sending ---------------------------------------------------------------------------
    def send_encrypted(self, to, text, version=None, mtype="chat", id=None, refresh=False,
                       timeout=30, extra_xml=None):
        """Encrypt @text for every device of @to (a bare JID, or a list of them for a
        room's members with mtype "groupchat" and `room`) and for our own other
        devices, and send it.  version: None (per device: OMEMO 2 where published,
        legacy otherwise), "twomemo" or "oldmemo" (only that one).  The device lists
        are fetched the first time a JID is used, or always with refresh=True.
        Returns the message id; raises OmemoPeerError if nothing could be encrypted."""
        return self._send(to, text, version, mtype, id, refresh, timeout, extra_xml, None)

    def send_room_encrypted(self, room, members, text, version=None, id=None,
                            refresh=False, timeout=30):
        """A groupchat message to @room encrypted for the real bare JIDs @members."""
        return self._send(list(members), text, version, "groupchat", id, refresh,
                          timeout, None, bare(room))

    def encrypt_stanza(self, to, text, version=None, mtype="chat", id=None, refresh=False,
                       timeout=30):
        """Like send_encrypted() without sending: returns the <message/> as a string
        (for benchmarks that prepare their stanzas, and for replay tests)."""
        return self._run(self._encrypt(to, text, version, mtype, id, refresh, None,
                                       send=False), timeout, "encrypt")

    def _send(self, to, text, version, mtype, id, refresh, timeout, extra_xml, room):
        stanza = self._run(self._encrypt(to, text, version, mtype, id, refresh, room,
                                         send=False, extra_xml=extra_xml),
                           timeout, "encrypt")
        self.send_raw(stanza)
        return ET.fromstring(stanza).get("id")

    async def _encrypt(self, to, text, version, mtype, mid, refresh, room, send,
                       extra_xml=None):
        jids = [bare(j) for j in ([to] if isinstance(to, str) else to)]
        if version is None:
            order = list(self.namespaces)
        elif VERSIONS[version] in self.namespaces:
            order = [VERSIONS[version]]
        else:
            raise OmemoPeerError("%s does not speak %s" % (self.jid, version))
        async with self._lock:
            for j in jids + [self.bare]:
                await self._refresh(j, force=refresh)
            plaintext = {}
            for ns in order:
                if ns == NS_OLD:
                    plaintext[ns] = text.encode("utf-8")
                else:
                    plaintext[ns] = sce_envelope(text, self.bare,
                                                 room if mtype == "groupchat" else None)
            try:
                messages, errors = await self._manager.encrypt(
                    frozenset(jids), plaintext, order)
            except omemo.OMEMOException as e:
                raise OmemoPeerError("%s: cannot encrypt for %s: %r" % (self.jid, jids, e))
        for err in errors:
            self.errors.append({"when": "encrypt", "jid": err.bare_jid,
                                "device": err.device_id, "error": repr(err.exception)})
        elements = [_serialize(m) for m in messages]
        if not elements:
            raise OmemoPeerError("%s: nothing encrypted for %s" % (self.jid, jids))
        return self._message_xml(room or jids[0], elements, FALLBACK_BODY, mtype, mid,
                                 extra_xml)

    def _message_xml(self, to, elements, body, mtype="chat", mid=None, extra_xml=None):
        msg = ET.Element(q(NS_CLIENT, "message"), {
            "to": to, "type": mtype, "id": mid or "omemo-" + uuid.uuid4().hex[:12]})
        for e in elements:
            msg.append(e)
        if body is not None:
            ET.SubElement(msg, q(NS_CLIENT, "body")).text = body
            ns = elements[0].tag[1:].split("}")[0]
            ET.SubElement(msg, q(NS_EME, "encryption"), {
                "namespace": ns, "name": "OMEMO" if ns == NS_TWO else "Legacy OMEMO"})
        ET.SubElement(msg, q(NS_HINTS, "store"))
        text = tostring(msg, xmlns="", top_level=True)
        if extra_xml:
            text = text.replace("</message>", extra_xml + "</message>")
        return text

    def _send_encrypted_elements(self, bare_jid, elements, body):
        # Runs on our loop (called by the library): send directly.
        self._xmpp.send_raw(self._message_xml(bare_jid, elements, body, mtype="chat"))

    async def _refresh(self, bare_jid, force=False):
        for ns in self.namespaces:
            if force or (ns, bare_jid) not in self._refreshed:
                await self._manager.refresh_device_list(ns, bare_jid)
                self._refreshed.add((ns, bare_jid))

    # -- receiving ---------------------------------------------------------------------------
    def wait_decrypted(self, predicate=None, timeout=10):
        """The first not yet taken *decrypted* message accepted by predicate(dict);
        dict keys: from, to, id, type, body, version, device (ours), sender_device,
        encrypted (True), carbon (None/'sent'/'received'), xml."""
        return self.wait_received(lambda m: m["encrypted"] and m["body"] is not None
                                  and (predicate is None or predicate(m)), timeout)

    def wait_received(self, predicate=None, timeout=10):
        """Like wait_decrypted() over every recorded message: plaintext ones have
        encrypted False (and version None)."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.received:
                    if not m["_taken"] and (predicate is None or predicate(m)):
                        m["_taken"] = True
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    seen = "\n  ".join("%s %s %r" % (m["from"], m["version"], m["body"])
                                       for m in self.received[-10:]) or "(none)"
                    errs = "\n  ".join(str(e) for e in self.errors[-5:]) or "(none)"
                    raise PeerTimeout("%s: no matching message within %ss; recorded:\n  %s"
                                      "\nerrors:\n  %s" % (self.jid, timeout, seen, errs))
                self._cond.wait(left)

    def wait_idle(self, timeout=10):
        """Wait until no decryption is queued or running."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._decrypting:
                left = end - time.monotonic()
                if left <= 0:
                    raise PeerTimeout("%s: still decrypting after %ss" % (self.jid, timeout))
                self._cond.wait(left)

    def wait_count(self, predicate, count, timeout=60):
        """Wait until @count recorded messages match predicate (raw arrivals included
        when decrypt_live is False: then the dicts have body None, pending True)."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                n = sum(1 for m in self.received if predicate(m))
                if n >= count:
                    return n
                left = end - time.monotonic()
                if left <= 0:
                    raise PeerTimeout("%s: %d of %d messages after %ss"
                                      % (self.jid, n, count, timeout))
                self._cond.wait(min(left, 0.5))

    def decrypt_pending(self, timeout=600):
        """Decrypt what was recorded while decrypt_live was False, in arrival order."""
        async def run():
            pending, self._pending = self._pending, []
            for rec, elem in pending:
                await self._decrypt_into(rec, elem)
        self._run(run(), timeout, "decrypt pending")

    def decrypt_element(self, message_xml, sender=None):
        """Decrypt a <message/> (string or element), e.g. from a MAM result; returns the
        dict, or raises OmemoPeerError. Nothing is recorded in `received`."""
        elem = ET.fromstring(message_xml) if isinstance(message_xml, str) else message_xml
        rec = self._new_record(elem)
        if sender:
            rec["from"] = sender

        async def run():
            await self._decrypt_into(rec, elem, record=False)
        self._run(run(), 30, "decrypt")
        if rec["error"]:
            raise OmemoPeerError(rec["error"])
        return rec

    def _on_message(self, stanza):
        elem = stanza.xml
        with self._cond:
            self.raw_stanzas.append(tostring(elem))
        event = elem.find(q(NS_PUBSUB_EVENT, "event"))
        if event is not None:
            self._on_pep_event(elem, event)
            return
        inner, carbon = elem, None
        for direction in ("received", "sent"):
            wrapper = elem.find(q(NS_CARBONS, direction))
            if wrapper is not None:
                # XEP-0280: only our own account may send carbons.
                if bare(elem.get("from") or self.bare) != self.bare:
                    self.errors.append({"when": "carbon", "error": "forged carbon",
                                        "from": elem.get("from")})
                    return
                found = wrapper.find("%s/%s" % (q(NS_FORWARD, "forwarded"),
                                                q(NS_CLIENT, "message")))
                if found is None:
                    return
                inner, carbon = found, direction
        if inner.find(q(NS_PUBSUB_EVENT, "event")) is not None:
            return
        rec = self._new_record(inner, carbon)
        encrypted = self._encrypted_child(inner)
        if encrypted is None:
            super()._on_message(stanza)     # plain messages stay in the Peer queue too
            with self._cond:
                self.received.append(rec)
                self._cond.notify_all()
            return
        rec["encrypted"] = True
        rec["version"] = VERSION_OF[encrypted.tag[1:].split("}")[0]]
        rec["body"] = None
        if not self.decrypt_live:
            rec["pending"] = True
            with self._cond:
                self.received.append(rec)
                self._pending.append((rec, inner))
                self._cond.notify_all()
            return
        with self._cond:
            self._decrypting += 1
        asyncio.ensure_future(self._decrypt_and_record(rec, inner))

    def _on_presence(self, stanza):
        item = stanza.xml.find("%s/%s" % (q(NS_MUC_USER, "x"), q(NS_MUC_USER, "item")))
        if item is not None and item.get("jid"):
            with self._cond:
                if stanza.xml.get("type") == "unavailable":
                    self._occupants.pop(stanza.xml.get("from"), None)
                else:
                    self._occupants[stanza.xml.get("from")] = bare(item.get("jid"))
        super()._on_presence(stanza)

    def _encrypted_child(self, elem):
        # Prefer the version we speak best (the order of self.namespaces).
        for ns in self.namespaces:
            e = elem.find(q(ns, "encrypted"))
            if e is not None:
                return e
        return None

    def _new_record(self, elem, carbon=None):
        body = elem.find(q(NS_CLIENT, "body"))
        return {
            "from": elem.get("from"), "to": elem.get("to"), "id": elem.get("id"),
            "type": elem.get("type", "normal"), "carbon": carbon,
            "body": body.text if body is not None else None,
            "encrypted": False, "version": None, "device": None, "sender_device": None,
            "empty": False, "error": None, "pending": False, "xml": tostring(elem),
            "time": time.monotonic(), "_taken": False,
        }

    async def _decrypt_and_record(self, rec, elem):
        try:
            await self._decrypt_into(rec, elem)
        finally:
            with self._cond:
                self._decrypting -= 1
                self._cond.notify_all()

    async def _decrypt_into(self, rec, elem, record=True):
        encrypted = self._encrypted_child(elem)
        ns = encrypted.tag[1:].split("}")[0]
        sender = bare(rec["from"] or self.bare)
        if rec["type"] == "groupchat":
            # XEP-0384: in rooms the sender is known by its real JID (from presence).
            with self._cond:
                sender = self._occupants.get(rec["from"])
            if sender is None:
                rec["error"] = "no real JID known for occupant %s" % rec["from"]
                with self._cond:
                    self.errors.append({"when": "decrypt", "error": rec["error"]})
                    if record:
                        self.received.append(rec)
                    self._cond.notify_all()
                return
            rec["real_jid"] = sender
            header = encrypted.find(q(ns, "header"))
            if sender == self.bare and header is not None and \
                    header.get("sid") == str(self._manager._SessionManager__own_device_id):
                rec["own_echo"] = True      # the room reflecting our own message
                with self._cond:
                    if record:
                        self.received.append(rec)
                    self._cond.notify_all()
                return
        try:
            async with self._lock:
                if ns == NS_OLD:
                    encrypted = self._fix_legacy_prekey(encrypted, rec)
                    message = await oldmemo.etree.parse_message(
                        encrypted, sender, self.bare, self._manager)
                else:
                    message = twomemo.etree.parse_message(encrypted, sender)
                plaintext, device, _ = await self._manager.decrypt(message)
        except Exception as e:      # noqa: BLE001 - recorded for the test
            rec["error"] = "%s: %r" % (type(e).__name__, e)
            with self._cond:
                self.errors.append({"when": "decrypt", "from": rec["from"], "id": rec["id"],
                                    "version": rec["version"], "error": rec["error"]})
                if record:
                    self.received.append(rec)
                    self._cond.notify_all()
            return
        rec["pending"] = False
        rec["sender_device"] = device.device_id
        rec["device"] = self._manager._SessionManager__own_device_id
        if plaintext is None:
            rec["empty"] = True
            rec["body"] = None
        elif ns == NS_OLD:
            rec["body"] = plaintext.decode("utf-8")
        else:
            rec["body"], rec["sce"] = self._open_envelope(plaintext, sender, rec)
        with self._cond:
            if record and rec not in self.received:
                self.received.append(rec)
            self._cond.notify_all()

    def _fix_legacy_prekey(self, encrypted, rec):
        """oldmemo picks its parser from prekey="true"; lurch 0.7 leaves it out on key
        exchanges. Both kinds start with the version byte 0x33; a WhisperMessage then
        has protobuf field 1 (ratchet key, tag 0x0a), a PreKeyWhisperMessage another
        field. Mark such keys (on a copy) and note it in rec["quirks"]."""
        fixed = None
        header = encrypted.find(q(NS_OLD, "header"))
        for i, key in enumerate(header.findall(q(NS_OLD, "key")) if header is not None
                                else ()):
            if key.get("prekey") in ("true", "1"):
                continue
            try:
                raw = base64.b64decode(key.text or "", validate=True)
            except ValueError:
                continue
            if len(raw) > 2 and raw[0] == 0x33 and raw[1] != 0x0A:
                if fixed is None:
                    fixed = copy.deepcopy(encrypted)
                fixed.find(q(NS_OLD, "header")).findall(q(NS_OLD, "key"))[i].set(
                    "prekey", "true")
                rec.setdefault("quirks", []).append("key exchange without prekey=true "
                                                    "for device %s" % key.get("rid"))
        return fixed if fixed is not None else encrypted

    def _open_envelope(self, plaintext, sender, rec):
        env = ET.fromstring(plaintext)
        if env.tag != q(NS_SCE, "envelope"):
            rec["error"] = "not an SCE envelope"
            return None, None
        frm = env.find(q(NS_SCE, "from"))
        # XEP-0420: the 'from' affix must match the sender, or the message is forged.
        if frm is not None and bare(frm.get("jid")) != sender:
            rec["error"] = "SCE from %s != sender %s" % (frm.get("jid"), sender)
            self.errors.append({"when": "decrypt", "error": rec["error"]})
            return None, None
        body = env.find("%s/%s" % (q(NS_SCE, "content"), q(NS_CLIENT, "body")))
        return (body.text if body is not None else None), {
            "from": frm.get("jid") if frm is not None else None,
            "to": (env.find(q(NS_SCE, "to")).get("jid")
                   if env.find(q(NS_SCE, "to")) is not None else None),
            "rpad": env.find(q(NS_SCE, "rpad")) is not None}

    def _on_pep_event(self, elem, event):
        sender = bare(elem.get("from") or self.bare)
        for items in event.findall(q(NS_PUBSUB_EVENT, "items")):
            ns = DEVICE_NODES.get(items.get("node"))
            if ns is None or ns not in self.namespaces:
                continue
            found = items.findall(q(NS_PUBSUB_EVENT, "item"))
            try:
                devices = _parse_device_list_items(ns, found) if found else {}
            except Exception as e:      # noqa: BLE001
                self.errors.append({"when": "device list push", "from": sender,
                                    "error": repr(e)})
                continue
            with self._cond:
                self.device_list_pushes.append((VERSION_OF[ns], sender, dict(devices)))
                self._cond.notify_all()
            asyncio.ensure_future(self._locked(
                self._manager.update_device_list(ns, sender, devices)))

    async def _locked(self, coro):
        async with self._lock:
            return await coro

    def wait_device_list_push(self, predicate, timeout=10):
        """Wait for a PEP device-list notification; predicate(version, from, ids)."""
        end = time.monotonic() + timeout
        with self._cond:
            while True:
                for v, f, d in self.device_list_pushes:
                    if predicate(v, f, d):
                        return v, f, d
                left = end - time.monotonic()
                if left <= 0:
                    raise PeerTimeout("%s: no matching device-list push; got %s"
                                      % (self.jid, self.device_list_pushes[-5:]))
                self._cond.wait(left)

    def assert_no_plaintext(self, text):
        """Fail if @text appears in any stanza this peer received."""
        for raw in self.raw_stanzas:
            if text in raw:
                raise AssertionError("%s: plaintext %r on the wire: %s"
                                     % (self.jid, text, raw[:300]))

    # -- PEP --------------------------------------------------------------------------------
    async def _aiq(self, elem, timeout=15):
        iq = self._xmpp.Iq(xml=elem)
        iq["id"] = self._xmpp.new_id()
        try:
            reply = await iq.send(timeout=timeout)
        except IqError as e:
            err = e.iq.xml.find(q(NS_CLIENT, "error"))
            cond = ""
            if err is not None:
                cond = " ".join(c.tag.split("}")[1] for c in err)
            if "item-not-found" in cond:
                raise _ItemNotFound(cond)
            raise OmemoPeerError("iq error: %s (%s)" % (cond, tostring(elem)[:200]))
        except IqTimeout:
            raise OmemoPeerError("iq timeout: %s" % tostring(elem)[:200])
        return reply.xml

    async def _items(self, jid, node, item_id, max_items=None):
        items = _el(q(NS_PUBSUB, "items"), node=node,
                    max_items=str(max_items) if max_items else None)
        if item_id is not None:
            items.append(_el(q(NS_PUBSUB, "item"), id=item_id))
        reply = await self._aiq(_iq("get", jid, _el(q(NS_PUBSUB, "pubsub"), [items])))
        return reply.findall("%s/%s/%s" % (q(NS_PUBSUB, "pubsub"), q(NS_PUBSUB, "items"),
                                           q(NS_PUBSUB, "item")))

    async def _publish(self, node, item_id, payload, options):
        """Publish with publish-options access_model=open (+ @options); on
        precondition-not-met reconfigure the node and publish again (XEP-0384)."""
        fields = {"pubsub#access_model": "open"}
        fields.update(options)

        def request():
            item = _el(q(NS_PUBSUB, "item"), [copy.deepcopy(payload)], id=item_id)
            return _iq("set", None, _el(q(NS_PUBSUB, "pubsub"), [
                _el(q(NS_PUBSUB, "publish"), [item], node=node),
                _el(q(NS_PUBSUB, "publish-options"), [_form(fields)])]))
        try:
            await self._aiq(request())
            return
        except OmemoPeerError as e:
            if "pubsub#max_items" in fields \
                    and "precondition-not-met" not in str(e):
                # ejabberd 23.01 knows no pubsub#max_items in publish-options
                # (an 'unknown field' error): publish without it, then set
                # it in the node's configuration, where it is known.
                del fields["pubsub#max_items"]
                await self._aiq(request())
                form = _form({"pubsub#max_items": PUBLISH_MAX_ITEMS_FALLBACK},
                             "http://jabber.org/protocol/pubsub#node_config")
                await self._aiq(_iq("set", None, _el(q(NS_PUBSUB_OWNER, "pubsub"), [
                    _el(q(NS_PUBSUB_OWNER, "configure"), [form], node=node)])))
                return
            if "precondition-not-met" not in str(e):
                raise
        form = _form(fields, "http://jabber.org/protocol/pubsub#node_config")
        await self._aiq(_iq("set", None, _el(q(NS_PUBSUB_OWNER, "pubsub"), [
            _el(q(NS_PUBSUB_OWNER, "configure"), [form], node=node)])))
        await self._aiq(request())


def make_peer_threads_quiet():
    """python-omemo logs every message at INFO/DEBUG: keep it quiet unless
    PXM_PEER_DEBUG is set."""
    if not os.environ.get("PXM_PEER_DEBUG"):
        for name in ("omemo", "oldmemo", "twomemo", "doubleratchet", "x3dh"):
            logging.getLogger(name).addHandler(logging.NullHandler())
            logging.getLogger(name).propagate = False


make_peer_threads_quiet()


def make_private_room(owner, room, members=(), nick=None, timeout=10):
    """Create (join) @room as @owner (a Peer) and configure it the way OMEMO needs:
    members-only and non-anonymous (XEP-0384: real JIDs visible); then give the bare
    JIDs @members the member affiliation. Returns the owner's nick."""
    nick = nick or owner.bare.split("@")[0]
    owner.join_room(room, nick, timeout=timeout)
    fields = {"FORM_TYPE": "http://jabber.org/protocol/muc#roomconfig",
              "muc#roomconfig_membersonly": "1", "muc#roomconfig_whois": "anyone",
              "muc#roomconfig_persistentroom": "1"}
    form = "".join("<field var='%s'><value>%s</value></field>" % kv for kv in fields.items())
    owner.iq("<iq type='set' to='%s'><query xmlns='http://jabber.org/protocol/muc#owner'>"
             "<x xmlns='jabber:x:data' type='submit'>%s</x></query></iq>"
             % (bare(room), form), timeout)
    for m in members:
        owner.iq("<iq type='set' to='%s'><query xmlns='http://jabber.org/protocol/muc#admin'>"
                 "<item jid='%s' affiliation='member'/></query></iq>"
                 % (bare(room), bare(m)), timeout)
    return nick

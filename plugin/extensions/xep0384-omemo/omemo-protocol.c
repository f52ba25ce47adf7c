// SPDX-License-Identifier: GPL-3.0-or-later
#include "omemo-protocol.h"

#include <string.h>

const char *
pxm_omemo_ns(guint version)
{
	return version == 4 ? PXM_NS_OMEMO : PXM_NS_OMEMO_LEGACY;
}

const char *
pxm_omemo_devicelist_node(guint version)
{
	return version == 4 ? PXM_NS_OMEMO_DEVICES
			    : PXM_NS_OMEMO_LEGACY_DEVICELIST;
}

char *
pxm_omemo_bundle_node_dup(guint version, guint32 device)
{
	if (version == 4)
		return g_strdup(PXM_NS_OMEMO_BUNDLES);
	return g_strdup_printf("%s:%u", PXM_NS_OMEMO_LEGACY_BUNDLES, device);
}

gboolean
pxm_omemo_parse_id(const char *text, guint32 *out)
{
	guint64 v;

	if (text == NULL || !g_ascii_isdigit(*text) || strlen(text) > 10 ||
	    !g_ascii_string_to_unsigned(text, 10, 1, G_MAXINT32, &v, NULL))
		return FALSE;
	*out = (guint32)v;
	return TRUE;
}

GBytes *
pxm_omemo_b64_decode(const char *text, gsize max)
{
	g_autoptr(GString) clean = NULL;
	guchar *data;
	gsize len, pad = 0;

	if (text == NULL || strlen(text) > (max / 3 + 2) * 4 + 1024)
		return NULL;
	clean = g_string_sized_new(strlen(text));
	for (const char *p = text; *p != '\0'; p++) {
		if (g_ascii_isspace(*p))
			continue;
		if (pad > 0 && *p != '=')
			return NULL;
		if (*p == '=')
			pad++;
		else if (!g_ascii_isalnum(*p) && *p != '+' && *p != '/')
			return NULL;
		g_string_append_c(clean, *p);
	}
	if (clean->len == 0 || clean->len % 4 != 0 || pad > 2)
		return NULL;
	data = g_base64_decode(clean->str, &len);
	if (len > max) {
		g_free(data);
		return NULL;
	}
	return g_bytes_new_take(data, len);
}

static char *
b64(GBytes *bytes)
{
	gsize len;
	const guint8 *data = g_bytes_get_data(bytes, &len);

	return g_base64_encode(data, len);
}

static void
set_text_b64(xmlnode *node, GBytes *bytes)
{
	g_autofree char *text = b64(bytes);

	xmlnode_insert_data(node, text, -1);
}

static xmlnode *
child_ns(xmlnode *parent, const char *name, const char *ns)
{
	xmlnode *node = xmlnode_new_child(parent, name);

	if (ns != NULL)
		xmlnode_set_namespace(node, ns);
	return node;
}

static gboolean
fail(GError **error, const char *why)
{
	g_set_error_literal(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED,
			    why);
	return FALSE;
}

/* --- Device lists ------------------------------------------------------ */

xmlnode *
pxm_omemo_devicelist_build(guint version, const GArray *ids)
{
	xmlnode *list = xmlnode_new(version == 4 ? "devices" : "list");

	xmlnode_set_namespace(list, pxm_omemo_ns(version));
	for (guint i = 0; i < ids->len; i++) {
		xmlnode *device = xmlnode_new_child(list, "device");
		g_autofree char *id =
			g_strdup_printf("%u", g_array_index(ids, guint32, i));

		xmlnode_set_attrib(device, "id", id);
	}
	return list;
}

GArray *
pxm_omemo_devicelist_parse(guint version, xmlnode *list, GError **error)
{
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint32));

	if (list == NULL ||
	    g_strcmp0(list->name, version == 4 ? "devices" : "list") != 0 ||
	    g_strcmp0(xmlnode_get_namespace(list), pxm_omemo_ns(version)) !=
		    0) {
		fail(error, "not a device list");
		return NULL;
	}
	for (xmlnode *c = list->child; c != NULL; c = c->next) {
		guint32 id;
		gboolean dup = FALSE;

		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "device"))
			continue;
		/* A bad entry is skipped, not the whole list: a client that
		 * wrote one must not hide the other devices. */
		if (!pxm_omemo_parse_id(xmlnode_get_attrib(c, "id"), &id))
			continue;
		for (guint i = 0; i < ids->len && !dup; i++)
			dup = g_array_index(ids, guint32, i) == id;
		if (dup)
			continue;
		if (ids->len >= PXM_OMEMO_MAX_DEVICES) {
			fail(error, "too many devices");
			return NULL;
		}
		g_array_append_val(ids, id);
	}
	return g_steal_pointer(&ids);
}

/* --- Bundles ----------------------------------------------------------- */

xmlnode *
pxm_omemo_bundle_build(guint version, const PxmOmemoBundle *b)
{
	gboolean v4 = version == 4;
	xmlnode *bundle = xmlnode_new("bundle");
	xmlnode *node, *prekeys;
	g_autofree char *spk_id = g_strdup_printf("%u", b->spk_id);

	xmlnode_set_namespace(bundle, pxm_omemo_ns(version));
	node = xmlnode_new_child(bundle, v4 ? "spk" : "signedPreKeyPublic");
	xmlnode_set_attrib(node, v4 ? "id" : "signedPreKeyId", spk_id);
	set_text_b64(node, b->spk);
	set_text_b64(xmlnode_new_child(bundle,
				       v4 ? "spks" : "signedPreKeySignature"),
		     b->spk_sig);
	set_text_b64(xmlnode_new_child(bundle, v4 ? "ik" : "identityKey"),
		     b->ik);
	prekeys = xmlnode_new_child(bundle, "prekeys");
	for (guint i = 0; i < b->pks->len; i++) {
		g_autofree char *id = g_strdup_printf(
			"%u", g_array_index(b->pk_ids, guint32, i));

		node = xmlnode_new_child(prekeys, v4 ? "pk" : "preKeyPublic");
		xmlnode_set_attrib(node, v4 ? "id" : "preKeyId", id);
		set_text_b64(node, b->pks->pdata[i]);
	}
	return bundle;
}

static GBytes *
child_b64(xmlnode *parent, const char *name, gsize max)
{
	xmlnode *node = pxm_xml_child(parent, name, NULL);
	g_autofree char *text = node != NULL ? xmlnode_get_data(node) : NULL;

	return pxm_omemo_b64_decode(text, max);
}

PxmOmemoBundle *
pxm_omemo_bundle_parse(guint version, xmlnode *bundle, GError **error)
{
	g_autoptr(PxmOmemoBundle) b = pxm_omemo_bundle_new();
	gboolean v4 = version == 4;
	gsize key_len = v4 ? 32 : 33;
	xmlnode *spk, *prekeys;

	if (bundle == NULL || g_strcmp0(bundle->name, "bundle") != 0 ||
	    g_strcmp0(xmlnode_get_namespace(bundle), pxm_omemo_ns(version)) !=
		    0) {
		fail(error, "not a bundle");
		return NULL;
	}
	spk = pxm_xml_child(bundle, v4 ? "spk" : "signedPreKeyPublic", NULL);
	b->spk = child_b64(bundle, v4 ? "spk" : "signedPreKeyPublic", 64);
	b->spk_sig = child_b64(bundle, v4 ? "spks" : "signedPreKeySignature",
			       128);
	b->ik = child_b64(bundle, v4 ? "ik" : "identityKey", 64);
	/* Signed pre-key ids may be 0 (python-omemo starts there). */
	if (spk == NULL ||
	    !g_ascii_string_to_unsigned(
		    xmlnode_get_attrib(spk, v4 ? "id" : "signedPreKeyId"), 10,
		    0, G_MAXUINT32, NULL, NULL)) {
		fail(error, "bundle without a signed pre-key id");
		return NULL;
	}
	b->spk_id = (guint32)g_ascii_strtoull(
		xmlnode_get_attrib(spk, v4 ? "id" : "signedPreKeyId"), NULL,
		10);
	if (b->spk == NULL || g_bytes_get_size(b->spk) != key_len ||
	    b->spk_sig == NULL || g_bytes_get_size(b->spk_sig) != 64 ||
	    b->ik == NULL || g_bytes_get_size(b->ik) != key_len) {
		fail(error, "bundle keys of the wrong size");
		return NULL;
	}
	prekeys = pxm_xml_child(bundle, "prekeys", NULL);
	for (xmlnode *c = prekeys != NULL ? prekeys->child : NULL; c != NULL;
	     c = c->next) {
		g_autofree char *text = NULL;
		GBytes *key;
		guint64 id;

		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, v4 ? "pk" : "preKeyPublic"))
			continue;
		if (b->pks->len >= PXM_OMEMO_MAX_PREKEYS) {
			fail(error, "too many pre-keys");
			return NULL;
		}
		if (!g_ascii_string_to_unsigned(
			    xmlnode_get_attrib(c, v4 ? "id" : "preKeyId"), 10,
			    0, G_MAXUINT32, &id, NULL))
			continue;
		text = xmlnode_get_data(c);
		key = pxm_omemo_b64_decode(text, 64);
		if (key == NULL || g_bytes_get_size(key) != key_len) {
			if (key != NULL)
				g_bytes_unref(key);
			continue;
		}
		g_array_append_val(b->pk_ids, (guint32){ (guint32)id });
		g_ptr_array_add(b->pks, key);
	}
	if (b->pks->len == 0) {
		fail(error, "bundle without pre-keys");
		return NULL;
	}
	return g_steal_pointer(&b);
}

/* --- PEP ------------------------------------------------------------------- */

static void
add_field(xmlnode *x, const char *var, const char *value, const char *type)
{
	xmlnode *field = xmlnode_new_child(x, "field");

	xmlnode_set_attrib(field, "var", var);
	if (type != NULL)
		xmlnode_set_attrib(field, "type", type);
	xmlnode_insert_data(xmlnode_new_child(field, "value"), value, -1);
}

static xmlnode *
options_form(const char *form_type, const char *max_items)
{
	xmlnode *x = xmlnode_new("x");

	xmlnode_set_namespace(x, PXM_NS_DATA);
	xmlnode_set_attrib(x, "type", "submit");
	add_field(x, "FORM_TYPE", form_type, "hidden");
	add_field(x, "pubsub#access_model", "open", NULL);
	if (max_items != NULL)
		add_field(x, "pubsub#max_items", max_items, NULL);
	return x;
}

xmlnode *
pxm_omemo_publish_iq(const char *node, const char *item_id, xmlnode *payload,
		     const char *max_items)
{
	xmlnode *iq = xmlnode_new("iq");
	xmlnode *pubsub, *publish, *item, *options;

	xmlnode_set_attrib(iq, "type", "set");
	pubsub = child_ns(iq, "pubsub", PXM_NS_PUBSUB);
	publish = xmlnode_new_child(pubsub, "publish");
	xmlnode_set_attrib(publish, "node", node);
	item = xmlnode_new_child(publish, "item");
	xmlnode_set_attrib(item, "id", item_id);
	xmlnode_insert_child(item, payload);
	/* XEP-0384 sections 5.3.1 and 5.3.2: open access, so that room
	 * members who are not contacts can fetch them. */
	options = xmlnode_new_child(pubsub, "publish-options");
	xmlnode_insert_child(
		options,
		options_form(PXM_NS_PUBSUB_PUBLISH_OPTIONS, max_items));
	return iq;
}

xmlnode *
pxm_omemo_configure_iq(const char *node, const char *max_items)
{
	xmlnode *iq = xmlnode_new("iq");
	xmlnode *pubsub, *configure;

	xmlnode_set_attrib(iq, "type", "set");
	pubsub = child_ns(iq, "pubsub", PXM_NS_PUBSUB_OWNER);
	configure = xmlnode_new_child(pubsub, "configure");
	xmlnode_set_attrib(configure, "node", node);
	xmlnode_insert_child(
		configure, options_form(PXM_NS_PUBSUB_NODE_CONFIG, max_items));
	return iq;
}

xmlnode *
pxm_omemo_items_iq(const char *to, const char *node, const char *item_id)
{
	xmlnode *iq = xmlnode_new("iq");
	xmlnode *items;

	xmlnode_set_attrib(iq, "type", "get");
	if (to != NULL)
		xmlnode_set_attrib(iq, "to", to);
	items = xmlnode_new_child(child_ns(iq, "pubsub", PXM_NS_PUBSUB),
				  "items");
	xmlnode_set_attrib(items, "node", node);
	if (item_id != NULL)
		xmlnode_set_attrib(xmlnode_new_child(items, "item"), "id",
				   item_id);
	else
		xmlnode_set_attrib(items, "max_items", "1");
	return iq;
}

xmlnode *
pxm_omemo_items_first(xmlnode *items, const char *node)
{
	xmlnode *item;

	if (items == NULL || g_strcmp0(items->name, "items") != 0 ||
	    g_strcmp0(xmlnode_get_attrib(items, "node"), node) != 0)
		return NULL;
	item = pxm_xml_child(items, "item", NULL);
	for (xmlnode *c = item != NULL ? item->child : NULL; c != NULL;
	     c = c->next)
		if (c->type == XMLNODE_TYPE_TAG)
			return c;
	return NULL;
}

/* --- Messages --------------------------------------------------------------- */

static void
key_free(PxmOmemoKey *k)
{
	g_free(k->jid);
	g_bytes_unref(k->data);
	g_free(k);
}

PxmOmemoEncrypted *
pxm_omemo_encrypted_new(guint version, guint32 sid)
{
	PxmOmemoEncrypted *m = g_new0(PxmOmemoEncrypted, 1);

	m->version = version;
	m->sid = sid;
	m->keys = g_ptr_array_new_with_free_func((GDestroyNotify)key_free);
	return m;
}

void
pxm_omemo_encrypted_free(PxmOmemoEncrypted *m)
{
	if (m == NULL)
		return;
	g_ptr_array_unref(m->keys);
	g_clear_pointer(&m->iv, g_bytes_unref);
	g_clear_pointer(&m->payload, g_bytes_unref);
	g_free(m);
}

void
pxm_omemo_encrypted_add_key(PxmOmemoEncrypted *m, const char *jid, guint32 rid,
			    gboolean kex, GBytes *data)
{
	PxmOmemoKey *k = g_new0(PxmOmemoKey, 1);

	k->jid = g_strdup(jid);
	k->rid = rid;
	k->kex = kex;
	k->data = g_bytes_ref(data);
	g_ptr_array_add(m->keys, k);
}

static xmlnode *
key_node(xmlnode *parent, const PxmOmemoKey *k, guint version)
{
	xmlnode *node = xmlnode_new_child(parent, "key");
	g_autofree char *rid = g_strdup_printf("%u", k->rid);

	xmlnode_set_attrib(node, "rid", rid);
	/* oldmemo picks its parser from prekey (TEST-RIG-NOTES.md). */
	if (k->kex)
		xmlnode_set_attrib(node, version == 4 ? "kex" : "prekey",
				   "true");
	set_text_b64(node, k->data);
	return node;
}

xmlnode *
pxm_omemo_encrypted_build(const PxmOmemoEncrypted *m)
{
	xmlnode *enc = xmlnode_new("encrypted");
	xmlnode *header;
	g_autofree char *sid = g_strdup_printf("%u", m->sid);

	xmlnode_set_namespace(enc, pxm_omemo_ns(m->version));
	header = xmlnode_new_child(enc, "header");
	xmlnode_set_attrib(header, "sid", sid);
	if (m->version == 4) {
		/* One <keys/> per JID, in the order they first appear. */
		GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);

		for (guint i = 0; i < m->keys->len; i++) {
			const PxmOmemoKey *k = m->keys->pdata[i];
			xmlnode *keys = g_hash_table_lookup(seen, k->jid);

			if (keys == NULL) {
				keys = xmlnode_new_child(header, "keys");
				xmlnode_set_attrib(keys, "jid", k->jid);
				g_hash_table_insert(seen, k->jid, keys);
			}
			key_node(keys, k, 4);
		}
		g_hash_table_unref(seen);
	} else {
		for (guint i = 0; i < m->keys->len; i++)
			key_node(header, m->keys->pdata[i], 3);
		set_text_b64(xmlnode_new_child(header, "iv"), m->iv);
	}
	if (m->payload != NULL)
		set_text_b64(xmlnode_new_child(enc, "payload"), m->payload);
	return enc;
}

/* Some legacy clients (purple-lurch 0.7) send key exchanges without
 * prekey="true". Both legacy forms start with the version byte 0x33; a
 * WhisperMessage then holds its protobuf field 1 (ratchet key, tag 0x0a)
 * first, a PreKeyWhisperMessage never does (its field 1 is a varint). */
static gboolean
legacy_looks_like_kex(GBytes *data)
{
	gsize len;
	const guint8 *b = g_bytes_get_data(data, &len);

	return len > 2 && b[0] == 0x33 && b[1] != 0x0a;
}

static gboolean
parse_key(PxmOmemoEncrypted *m, xmlnode *node, const char *jid, GError **error)
{
	g_autofree char *text = xmlnode_get_data(node);
	const char *flag = xmlnode_get_attrib(node, m->version == 4 ? "kex"
								    : "prekey");
	g_autoptr(GBytes) data = NULL;
	guint32 rid;

	if (!pxm_omemo_parse_id(xmlnode_get_attrib(node, "rid"), &rid))
		return fail(error, "a key with a bad rid");
	data = pxm_omemo_b64_decode(text, PXM_OMEMO_MAX_KEY_BYTES);
	if (data == NULL || g_bytes_get_size(data) == 0)
		return fail(error, "a key that is not valid base64");
	if (m->keys->len >= PXM_OMEMO_MAX_KEYS)
		return fail(error, "too many keys");
	pxm_omemo_encrypted_add_key(
		m, jid, rid,
		g_strcmp0(flag, "true") == 0 || g_strcmp0(flag, "1") == 0 ||
			(m->version == 3 && legacy_looks_like_kex(data)),
		data);
	return TRUE;
}

PxmOmemoEncrypted *
pxm_omemo_encrypted_parse(xmlnode *enc, GError **error)
{
	g_autoptr(PxmOmemoEncrypted) m = NULL;
	const char *ns = enc != NULL ? xmlnode_get_namespace(enc) : NULL;
	xmlnode *header, *payload;
	guint version;
	guint32 sid;

	if (g_strcmp0(ns, PXM_NS_OMEMO) == 0)
		version = 4;
	else if (g_strcmp0(ns, PXM_NS_OMEMO_LEGACY) == 0)
		version = 3;
	else {
		fail(error, "not an OMEMO element");
		return NULL;
	}
	header = pxm_xml_child(enc, "header", NULL);
	if (header == NULL ||
	    !pxm_omemo_parse_id(xmlnode_get_attrib(header, "sid"), &sid)) {
		fail(error, "no header or a bad sid");
		return NULL;
	}
	m = pxm_omemo_encrypted_new(version, sid);
	for (xmlnode *c = header->child; c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG)
			continue;
		if (version == 4 && g_str_equal(c->name, "keys")) {
			g_autofree char *jid = pxm_jid_normalize_dup(
				xmlnode_get_attrib(c, "jid"));

			if (jid == NULL) {
				fail(error, "keys without a valid jid");
				return NULL;
			}
			for (xmlnode *k = c->child; k != NULL; k = k->next)
				if (k->type == XMLNODE_TYPE_TAG &&
				    g_str_equal(k->name, "key") &&
				    !parse_key(m, k, jid, error))
					return NULL;
		} else if (version == 3 && g_str_equal(c->name, "key")) {
			if (!parse_key(m, c, NULL, error))
				return NULL;
		} else if (version == 3 && g_str_equal(c->name, "iv")) {
			g_autofree char *text = xmlnode_get_data(c);

			if (m->iv != NULL) {
				fail(error, "two IVs");
				return NULL;
			}
			m->iv = pxm_omemo_b64_decode(text, 64);
			if (m->iv == NULL) {
				fail(error, "an IV that is not valid base64");
				return NULL;
			}
		}
	}
	if (version == 3 && m->iv == NULL) {
		fail(error, "no IV");
		return NULL;
	}
	payload = pxm_xml_child(enc, "payload", NULL);
	if (payload != NULL) {
		g_autofree char *text = xmlnode_get_data(payload);

		m->payload = pxm_omemo_b64_decode(text, PXM_OMEMO_MAX_PAYLOAD);
		if (m->payload == NULL) {
			fail(error, "a payload that is not valid base64 or "
				    "too big");
			return NULL;
		}
	}
	return g_steal_pointer(&m);
}

const PxmOmemoKey *
pxm_omemo_encrypted_find_key(const PxmOmemoEncrypted *m, const char *jid,
			     guint32 rid)
{
	for (guint i = 0; i < m->keys->len; i++) {
		const PxmOmemoKey *k = m->keys->pdata[i];

		if (k->rid == rid &&
		    (m->version == 3 || g_strcmp0(k->jid, jid) == 0))
			return k;
	}
	return NULL;
}

/* --- XEP-0420 ---------------------------------------------------------------- */

char *
pxm_omemo_sce_build(const char *body, const char *from, const char *to)
{
	xmlnode *env = xmlnode_new("envelope");
	xmlnode *content, *node;
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autofree char *stamp = g_date_time_format_iso8601(now);
	guint8 n;
	char pad[201];
	char *out;

	xmlnode_set_namespace(env, PXM_NS_SCE);
	content = xmlnode_new_child(env, "content");
	node = child_ns(content, "body", PXM_NS_CLIENT);
	xmlnode_insert_data(node, body, -1);
	/* XEP-0420 section 4.1: random padding hides the length. */
	pxm_omemo_random(&n, 1);
	n = n % 200;
	for (guint i = 0; i < n; i++) {
		guint8 r;

		pxm_omemo_random(&r, 1);
		pad[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[r % 36];
	}
	pad[n] = '\0';
	xmlnode_insert_data(xmlnode_new_child(env, "rpad"), pad, -1);
	xmlnode_set_attrib(xmlnode_new_child(env, "time"), "stamp", stamp);
	xmlnode_set_attrib(xmlnode_new_child(env, "to"), "jid", to);
	xmlnode_set_attrib(xmlnode_new_child(env, "from"), "jid", from);
	out = xmlnode_to_str(env, NULL);
	xmlnode_free(env);
	return out;
}

char *
pxm_omemo_sce_parse_body(const guint8 *data, gsize len, const char *from,
			 GError **error)
{
	g_autofree char *text = g_strndup((const char *)data, len);
	xmlnode *env, *content, *body, *affix;
	char *out = NULL;

	if (strlen(text) != len || !g_utf8_validate(text, len, NULL)) {
		fail(error, "the envelope is not UTF-8 text");
		return NULL;
	}
	env = xmlnode_from_str(text, len);
	if (env == NULL || g_strcmp0(env->name, "envelope") != 0 ||
	    g_strcmp0(xmlnode_get_namespace(env), PXM_NS_SCE) != 0) {
		if (env != NULL)
			xmlnode_free(env);
		fail(error, "not an SCE envelope");
		return NULL;
	}
	/* XEP-0420 section 6: the <from/> affix MUST match the sender, or
	 * someone replays a message they got from someone else. */
	affix = pxm_xml_child(env, "from", NULL);
	if (affix == NULL ||
	    !pxm_jid_bare_equal(xmlnode_get_attrib(affix, "jid"), from)) {
		xmlnode_free(env);
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_AUTH,
				    "the envelope's sender is not the "
				    "message's");
		return NULL;
	}
	content = pxm_xml_child(env, "content", NULL);
	body = pxm_xml_child(content, "body", NULL);
	if (body != NULL)
		out = xmlnode_get_data(body);
	xmlnode_free(env);
	if (out == NULL)
		fail(error, "an envelope without a body");
	return out;
}

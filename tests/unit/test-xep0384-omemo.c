// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0384 OMEMO: payload crypto known answers (both versions), the
 * store, the wire formats (exact XML, hostile input) and whole exchanges
 * between in-process accounts through a small PEP/message router.
 */
#include <curve.h>
#include <gcrypt.h>
#include <glib/gstdio.h>
#include <string.h>

#include "extensions/xep0384-omemo/omemo-protocol.h"
#include "extensions/xep0384-omemo/xep0384-omemo.h"
#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test-omemo-net.h"
#include "pxm-test.h"

#define ID "xep0384-omemo"

static char *
to_hex(const guint8 *data, gsize len)
{
	GString *s = g_string_new(NULL);

	for (gsize i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", data[i]);
	return g_string_free(s, FALSE);
}

/* --- Crypto ----------------------------------------------------------------- */

static void
test_hkdf(void)
{
	guint8 ikm[22], salt[13], out[42];
	char info[11];
	g_autofree char *got = NULL;

	pxm_omemo_crypto_init();
	memset(ikm, 0x0b, sizeof(ikm));
	for (guint i = 0; i < sizeof(salt); i++)
		salt[i] = i;
	for (guint i = 0; i < 10; i++)
		info[i] = (char)(0xf0 + i);
	info[10] = '\0';
	/* RFC 5869 test case 1 */
	g_assert_true(pxm_omemo_hkdf_sha256(
		ikm, sizeof(ikm), salt, sizeof(salt), info, out, sizeof(out)));
	got = to_hex(out, sizeof(out));
	g_assert_cmpstr(got, ==,
			"3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db0"
			"2d56ecc4c5bf34007208d5b887185865");
}

/* Vectors from python3-cryptography (AESGCM; HKDF + CBC + HMAC). */
static void
test_payload_v3(void)
{
	guint8 key[16], iv[12];
	PxmOmemoPayload p;
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmSecret) plain = NULL;
	g_autofree char *ct = NULL, *km = NULL;
	const char *text = "Hello, OMEMO!";

	for (guint i = 0; i < 16; i++)
		key[i] = i;
	for (guint i = 0; i < 12; i++)
		iv[i] = i;
	g_assert_true(pxm_omemo_payload_encrypt_v3(
		(const guint8 *)text, strlen(text), key, iv, &p, &error));
	ct = to_hex(g_bytes_get_data(p.payload, NULL),
		    g_bytes_get_size(p.payload));
	g_assert_cmpstr(ct, ==, "db09cba20937d71b06972cc517");
	km = to_hex(p.key_material->data, p.key_material->len);
	g_assert_cmpstr(km, ==,
			"000102030405060708090a0b0c0d0e0f"
			"ca2c307c86138db3c7ea9f3a25006b78");
	plain = pxm_omemo_payload_decrypt_v3(
		p.key_material->data, p.key_material->len, p.iv, 12,
		g_bytes_get_data(p.payload, NULL), g_bytes_get_size(p.payload),
		&error);
	g_assert_no_error(error);
	g_assert_cmpmem(plain->data, plain->len, text, strlen(text));
	/* A wrong tag. */
	p.key_material->data[31] ^= 1;
	g_assert_null(pxm_omemo_payload_decrypt_v3(
		p.key_material->data, p.key_material->len, p.iv, 12,
		g_bytes_get_data(p.payload, NULL), g_bytes_get_size(p.payload),
		&error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_AUTH);
	g_clear_error(&error);
	/* A wrong IV size. */
	g_assert_null(pxm_omemo_payload_decrypt_v3(
		p.key_material->data, p.key_material->len, p.iv, 11,
		g_bytes_get_data(p.payload, NULL), g_bytes_get_size(p.payload),
		&error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED);
	pxm_omemo_payload_clear(&p);
}

static void
test_payload_v4(void)
{
	guint8 key[32];
	PxmOmemoPayload p;
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmSecret) plain = NULL;
	g_autofree char *ct = NULL, *tag = NULL;
	const char *text = "Hello, OMEMO 2!";
	guint8 *bad;

	for (guint i = 0; i < 32; i++)
		key[i] = i;
	g_assert_true(pxm_omemo_payload_encrypt_v4(
		(const guint8 *)text, strlen(text), key, &p, &error));
	ct = to_hex(g_bytes_get_data(p.payload, NULL),
		    g_bytes_get_size(p.payload));
	g_assert_cmpstr(ct, ==, "b2f1d90d3b1d2e4a6759b930a9573275");
	tag = to_hex(p.key_material->data + 32, 16);
	g_assert_cmpstr(tag, ==, "d07a87f93cba5e99d3e85ea2d51cc9cb");
	plain = pxm_omemo_payload_decrypt_v4(
		p.key_material->data, p.key_material->len,
		g_bytes_get_data(p.payload, NULL), g_bytes_get_size(p.payload),
		&error);
	g_assert_no_error(error);
	g_assert_cmpmem(plain->data, plain->len, text, strlen(text));
	/* A flipped ciphertext bit fails the HMAC before decryption. */
	bad = g_memdup2(g_bytes_get_data(p.payload, NULL), 16);
	bad[3] ^= 0x80;
	g_assert_null(pxm_omemo_payload_decrypt_v4(
		p.key_material->data, p.key_material->len, bad, 16, &error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_AUTH);
	g_clear_error(&error);
	g_free(bad);
	/* Absurd sizes. */
	g_assert_null(pxm_omemo_payload_decrypt_v4(p.key_material->data, 32,
						   key, 16, &error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED);
	g_clear_error(&error);
	g_assert_null(pxm_omemo_payload_decrypt_v4(
		p.key_material->data, p.key_material->len, key, 15, &error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED);
	pxm_omemo_payload_clear(&p);
}

static void
test_fingerprint_format(void)
{
	guint8 key[32];
	g_autofree char *fp = NULL;

	for (guint i = 0; i < 32; i++)
		key[i] = i;
	fp = pxm_omemo_fingerprint_dup(key, 32);
	g_assert_cmpstr(fp, ==,
			"00010203 04050607 08090a0b 0c0d0e0f 10111213 14151617 "
			"18191a1b 1c1d1e1f");
}

/* --- Protocol ------------------------------------------------------------------- */

static char *
xml(xmlnode *node)
{
	char *s = xmlnode_to_str(node, NULL);

	xmlnode_free(node);
	return s;
}

static void
test_devicelist(void)
{
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint32));
	g_autoptr(GArray) parsed = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(xmlnode) hostile = NULL;
	g_autofree char *v3 = NULL, *v4 = NULL;
	guint32 id = 12345;

	g_array_append_val(ids, id);
	id = 4223;
	g_array_append_val(ids, id);
	v3 = xml(pxm_omemo_devicelist_build(3, ids));
	g_assert_cmpstr(v3, ==,
			"<list xmlns='eu.siacs.conversations.axolotl'>"
			"<device id='12345'/><device id='4223'/></list>");
	v4 = xml(pxm_omemo_devicelist_build(4, ids));
	g_assert_cmpstr(v4, ==,
			"<devices xmlns='urn:xmpp:omemo:2'>"
			"<device id='12345'/><device id='4223'/></devices>");
	/* Bad ids are skipped (0, too big, negative, not a number,
	 * duplicates); the rest of the list stays. */
	hostile = pxm_test_parse(
		"<devices xmlns='urn:xmpp:omemo:2'><device id='0'/>"
		"<device id='2147483648'/><device id='-5'/>"
		"<device id='12x'/><device id=' 7'/><device/>"
		"<device id='7'/><device id='7'/></devices>");
	parsed = pxm_omemo_devicelist_parse(4, hostile, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(parsed->len, ==, 1);
	g_assert_cmpuint(g_array_index(parsed, guint32, 0), ==, 7);
	/* The wrong namespace for the version. */
	g_assert_null(pxm_omemo_devicelist_parse(3, hostile, &error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED);
}

static void
test_b64_strict(void)
{
	g_autoptr(GBytes) ok = pxm_omemo_b64_decode(" aGVs\nbG8= ", 16);

	g_assert_nonnull(ok);
	g_assert_cmpmem(g_bytes_get_data(ok, NULL), g_bytes_get_size(ok),
			"hello", 5);
	g_assert_null(pxm_omemo_b64_decode("aGVsbG8", 16));  /* length */
	g_assert_null(pxm_omemo_b64_decode("aGV*bG8=", 16)); /* char */
	g_assert_null(pxm_omemo_b64_decode("aG=sbG8=", 16)); /* padding */
	g_assert_null(pxm_omemo_b64_decode("aGVsbG8=", 4));  /* too big */
	g_assert_null(pxm_omemo_b64_decode("", 16));
	g_assert_null(pxm_omemo_b64_decode(NULL, 16));
}

static void
test_encrypted_xml(void)
{
	g_autoptr(PxmOmemoEncrypted) m = pxm_omemo_encrypted_new(4, 27183);
	g_autoptr(PxmOmemoEncrypted) m3 = pxm_omemo_encrypted_new(3, 27183);
	g_autoptr(PxmOmemoEncrypted) back = NULL;
	g_autoptr(GBytes) k = g_bytes_new_static("key", 3);
	g_autoptr(GError) error = NULL;
	g_autofree char *s4 = NULL, *s3 = NULL;
	xmlnode *node;

	pxm_omemo_encrypted_add_key(m, "juliet@capulet.lit", 31415, FALSE, k);
	pxm_omemo_encrypted_add_key(m, "romeo@montague.lit", 1337, TRUE, k);
	pxm_omemo_encrypted_add_key(m, "juliet@capulet.lit", 12321, FALSE, k);
	m->payload = g_bytes_new_static("pay", 3);
	node = pxm_omemo_encrypted_build(m);
	back = pxm_omemo_encrypted_parse(node, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(back->keys->len, ==, 3);
	g_assert_nonnull(
		pxm_omemo_encrypted_find_key(back, "romeo@montague.lit", 1337));
	g_assert_true(
		pxm_omemo_encrypted_find_key(back, "romeo@montague.lit", 1337)
			->kex);
	g_assert_null(
		pxm_omemo_encrypted_find_key(back, "juliet@capulet.lit", 1337));
	s4 = xml(node);
	g_assert_cmpstr(s4, ==,
			"<encrypted xmlns='urn:xmpp:omemo:2'><header "
			"sid='27183'><keys jid='juliet@capulet.lit'><key "
			"rid='31415'>a2V5</key><key rid='12321'>a2V5</key>"
			"</keys><keys jid='romeo@montague.lit'><key "
			"rid='1337' kex='true'>a2V5</key></keys></header>"
			"<payload>cGF5</payload></encrypted>");
	pxm_omemo_encrypted_add_key(m3, NULL, 31415, TRUE, k);
	m3->iv = g_bytes_new_static("0123456789ab", 12);
	m3->payload = g_bytes_new_static("pay", 3);
	s3 = xml(pxm_omemo_encrypted_build(m3));
	g_assert_cmpstr(s3, ==,
			"<encrypted xmlns='eu.siacs.conversations.axolotl'>"
			"<header sid='27183'><key rid='31415' prekey='true'>"
			"a2V5</key><iv>MDEyMzQ1Njc4OWFi</iv></header>"
			"<payload>cGF5</payload></encrypted>");
}

static void
test_encrypted_hostile(void)
{
	static const char *const bad[] = {
		/* no header */
		"<encrypted xmlns='urn:xmpp:omemo:2'/>",
		/* sid out of range */
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='0'/>"
		"</encrypted>",
		"<encrypted xmlns='urn:xmpp:omemo:2'><header "
		"sid='99999999999'/></encrypted>",
		/* rid not a number */
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'><keys "
		"jid='a@b'><key rid='x'>a2V5</key></keys></header>"
		"</encrypted>",
		/* malformed base64 */
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'><keys "
		"jid='a@b'><key rid='2'>a2V5!</key></keys></header>"
		"</encrypted>",
		/* keys without a jid */
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='1'><keys>"
		"<key rid='2'>a2V5</key></keys></header></encrypted>",
		/* legacy without IV */
		"<encrypted xmlns='eu.siacs.conversations.axolotl'><header "
		"sid='1'><key rid='2'>a2V5</key></header></encrypted>",
		/* payload not base64 */
		"<encrypted xmlns='eu.siacs.conversations.axolotl'><header "
		"sid='1'><key rid='2'>a2V5</key><iv>MDEyMzQ1Njc4OWFi</iv>"
		"</header><payload>%%%%</payload></encrypted>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(xmlnode) node = pxm_test_parse(bad[i]);
		g_autoptr(GError) error = NULL;

		g_assert_null(pxm_omemo_encrypted_parse(node, &error));
		g_assert_error(error, PXM_OMEMO_ERROR,
			       PXM_OMEMO_ERROR_MALFORMED);
	}
}

static void
test_sce(void)
{
	g_autofree char *env = pxm_omemo_sce_build(
		"hi <b>&", "romeo@montague.lit", "juliet@capulet.lit");
	g_autofree char *body = NULL;
	g_autoptr(GError) error = NULL;

	body = pxm_omemo_sce_parse_body((const guint8 *)env, strlen(env),
					"Romeo@montague.lit", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(body, ==, "hi <b>&");
	/* XEP-0420 section 6: a forged sender. */
	g_assert_null(pxm_omemo_sce_parse_body((const guint8 *)env, strlen(env),
					       "mallory@evil.lit", &error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_AUTH);
	g_clear_error(&error);
	g_assert_null(pxm_omemo_sce_parse_body((const guint8 *)"<x/>", 4,
					       "romeo@montague.lit", &error));
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED);
}

typedef struct {
	PxmTestPeer *romeo, *juliet;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_host_init(&error));
	pxm_test_net_init();
	f->romeo = pxm_test_peer_new("romeo@montague.lit/orchard");
	f->juliet = pxm_test_peer_new("juliet@capulet.lit/balcony");
	pxm_test_pump();
}

static void
teardown(Fixture *f, gconstpointer data)
{
	pxm_test_net_clear();
	pxm_host_shutdown();
	pxm_omemo_outbox_refuse_all("test over");
}

static PxmOmemo *
omemo(PxmTestPeer *p)
{
	return p->account->states[pxm_test_extension_index(ID)];
}

static guint
count_with(GPtrArray *strings, const char *needle)
{
	guint n = 0;

	for (guint i = 0; i < strings->len; i++)
		if (strstr(strings->pdata[i], needle) != NULL)
			n++;
	return n;
}

static void
forget_node(const char *owner, const char *node)
{
	g_autofree char *key = g_strdup_printf("%s %s", owner, node);

	g_hash_table_remove(pxm_test_pep, key);
}

static void
test_publishes(Fixture *f, gconstpointer data)
{
	/* Both device lists and both bundles, with open access. */
	g_assert_cmpuint(
		count_with(f->romeo->sent, "node='urn:xmpp:omemo:2:devices'"),
		>=, 1);
	g_assert_cmpuint(
		count_with(f->romeo->sent,
			   "node='eu.siacs.conversations.axolotl.devicelist'"),
		>=, 1);
	g_assert_cmpuint(
		count_with(f->romeo->sent,
			   "<publish node='urn:xmpp:omemo:2:bundles'>"),
		==, 1);
	g_assert_cmpuint(
		count_with(f->romeo->sent,
			   "<publish node='eu.siacs.conversations.axolotl."
			   "bundles:"),
		==, 1);
	g_assert_cmpuint(count_with(f->romeo->sent,
				    "<field var='pubsub#access_model'><value>"
				    "open</value>"),
			 ==, 4);
	g_assert_cmpuint(count_with(f->romeo->sent, "<pk id='100'>"), ==, 1);
	g_assert_cmpuint(count_with(f->romeo->sent, "<pk id='101'>"), ==, 0);
}

static void
test_publish_without_max_items(Fixture *f, gconstpointer data)
{
	/* ejabberd 23.01 refuses pubsub#max_items in publish-options: the
	 * OMEMO 2 bundle goes out again without it, then the node is
	 * configured for many items; nothing else is retried. */
	PxmTestPeer *benvolio;
	g_autofree char *key = NULL;
	GHashTable *bundles;

	pxm_test_pep_refuses_max_items = TRUE;
	benvolio = pxm_test_peer_new("benvolio@montague.lit/street");
	pxm_test_pump();
	g_assert_cmpuint(
		count_with(benvolio->sent,
			   "<publish node='urn:xmpp:omemo:2:bundles'>"),
		==, 2);
	g_assert_cmpuint(count_with(benvolio->sent,
				    "<field var='pubsub#max_items'><value>max"
				    "</value>"),
			 ==, 1);
	g_assert_cmpuint(
		count_with(benvolio->sent,
			   "<configure node='urn:xmpp:omemo:2:bundles'><x "
			   "xmlns='jabber:x:data' type='submit'><field "
			   "var='FORM_TYPE' type='hidden'><value>http://"
			   "jabber.org/protocol/pubsub#node_config</value>"
			   "</field><field var='pubsub#access_model'><value>"
			   "open</value></field><field var='pubsub#max_items'>"
			   "<value>256</value></field></x></configure>"),
		==, 1);
	g_assert_cmpuint(count_with(benvolio->sent, "<configure "), ==, 1);
	key = g_strdup_printf("benvolio@montague.lit urn:xmpp:omemo:2:bundles");
	bundles = g_hash_table_lookup(pxm_test_pep, key);
	g_assert_nonnull(bundles);
	g_assert_cmpuint(g_hash_table_size(bundles), ==, 1);
	/* The others carry no max_items and were published once. */
	g_assert_cmpuint(
		count_with(benvolio->sent,
			   "<publish node='eu.siacs.conversations.axolotl."
			   "bundles:"),
		==, 1);
	/* Without the refusal: no configure at all (the fixture's peers). */
	g_assert_cmpuint(count_with(f->romeo->sent, "<configure "), ==, 0);
}

static void
exchange(Fixture *f, const char *text)
{
	g_assert_cmpint(pxm_omemo_send_message(omemo(f->romeo),
					       "juliet@capulet.lit", text,
					       FALSE),
			==, PXM_SEND_QUEUED);
	pxm_test_pump();
	g_assert_cmpuint(f->juliet->shown->len, >=, 1);
	g_assert_cmpstr(f->juliet->shown->pdata[f->juliet->shown->len - 1], ==,
			text);
	g_ptr_array_remove_index(f->juliet->shown, f->juliet->shown->len - 1);
}

static void
test_exchange(Fixture *f, gconstpointer data)
{
	guint version = GPOINTER_TO_UINT(data);
	const char *ns = version == 4 ? "urn:xmpp:omemo:2"
				      : "eu.siacs.conversations.axolotl";
	g_autofree char *reply = NULL;

	if (version == 3) {
		/* Juliet speaks legacy only. */
		forget_node("juliet@capulet.lit", PXM_NS_OMEMO_DEVICES);
	}
	g_assert_true(pxm_omemo_send_message(
			      omemo(f->romeo), "juliet@capulet.lit",
			      "Wherefore art thou?", FALSE) == PXM_SEND_QUEUED);
	pxm_test_pump();
	g_assert_cmpuint(f->juliet->shown->len, ==, 1);
	g_assert_cmpstr(f->juliet->shown->pdata[0], ==, "Wherefore art thou?");
	/* On the wire: the right version, a key exchange, the EME hint,
	 * the store hint, a fallback body, and never the plaintext. */
	g_assert_cmpuint(count_with(f->romeo->sent, ns), >=, 1);
	g_assert_cmpuint(count_with(f->romeo->sent, "Wherefore"), ==, 0);
	g_assert_cmpuint(count_with(f->romeo->sent, version == 4
							    ? "kex='true'"
							    : "prekey='true'"),
			 ==, 1);
	g_assert_cmpuint(count_with(f->romeo->sent,
				    "<encryption xmlns='urn:xmpp:eme:0'"),
			 ==, 1);
	g_assert_cmpuint(
		count_with(f->romeo->sent, "<store xmlns='urn:xmpp:hints'/>"),
		==, 1);
	if (version == 3)
		g_assert_cmpuint(
			count_with(f->romeo->sent,
				   "<encrypted xmlns='urn:xmpp:omemo:2'"),
			==, 0);
	/* Juliet answers on the session Romeo started. */
	g_assert_true(pxm_omemo_send_message(
			      omemo(f->juliet), "romeo@montague.lit/orchard",
			      "Deny thy father", FALSE) == PXM_SEND_QUEUED);
	pxm_test_pump();
	g_assert_cmpuint(f->romeo->shown->len, ==, 1);
	g_assert_cmpstr(f->romeo->shown->pdata[0], ==, "Deny thy father");
	g_assert_cmpuint(count_with(f->juliet->sent, "Deny"), ==, 0);
	/* The host API other extensions ask (e.g. to encrypt uploads). */
	g_assert_true(pxm_account_conversation_is_encrypted(
		f->romeo->account, "juliet@capulet.lit"));
	g_assert_false(pxm_account_conversation_is_encrypted(
		f->romeo->account, "nurse@capulet.lit"));
	pxm_account_set_active(f->romeo->account, pxm_test_extension_index(ID),
			       FALSE);
	g_assert_false(pxm_account_conversation_is_encrypted(
		f->romeo->account, "juliet@capulet.lit"));
	g_assert_true(pxm_account_set_active(
		f->romeo->account, pxm_test_extension_index(ID), TRUE));
	pxm_test_pump();
	/* Both keep talking. */
	exchange(f, "second");
	exchange(f, "third & <last>");
}

/* A message seen twice (archive, carbon) is not shown again, and the
 * session survives it. */
static void
test_replay(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) messages = NULL;
	PxmTestDelivery *d;

	pxm_omemo_send_message(omemo(f->romeo), "juliet@capulet.lit", "once",
			       FALSE);
	messages = pxm_test_pump_iqs();
	g_assert_cmpuint(messages->len, ==, 1);
	d = messages->pdata[0];
	pxm_test_peer_receive(d->to, d->node);
	pxm_test_peer_receive(d->to, d->node);
	xmlnode_free(d->node);
	g_free(d);
	g_assert_cmpuint(f->juliet->shown->len, ==, 1);
	exchange(f, "again");
}

static void
strip_prekey(xmlnode *node)
{
	for (xmlnode *c = node->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG)
			strip_prekey(c);
	if (g_str_equal(node->name, "key"))
		xmlnode_remove_attrib(node, "prekey");
}

/* purple-lurch 0.7 sends legacy key exchanges without prekey="true": the
 * serialized form tells a PreKeyWhisperMessage from a WhisperMessage. */
static void
test_legacy_kex_unflagged(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) messages = NULL;
	g_autoptr(xmlnode) enc = NULL;
	g_autoptr(PxmOmemoEncrypted) m = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree char *before = NULL, *after = NULL;
	PxmTestDelivery *d;

	forget_node("juliet@capulet.lit", PXM_NS_OMEMO_DEVICES);
	pxm_omemo_send_message(omemo(f->romeo), "juliet@capulet.lit", "no flag",
			       FALSE);
	messages = pxm_test_pump_iqs();
	g_assert_cmpuint(messages->len, ==, 1);
	d = messages->pdata[0];
	before = xmlnode_to_str(d->node, NULL);
	g_assert_nonnull(strstr(before, "prekey='true'"));
	strip_prekey(d->node);
	after = xmlnode_to_str(d->node, NULL);
	g_assert_null(strstr(after, "prekey="));
	pxm_test_peer_receive(d->to, d->node);
	xmlnode_free(d->node);
	g_free(d);
	g_assert_cmpuint(f->juliet->shown->len, ==, 1);
	g_assert_cmpstr(f->juliet->shown->pdata[0], ==, "no flag");
	/* A WhisperMessage (0x33, then field 1: tag 0x0a) stays one; other
	 * legacy bytes after 0x33 mean a key exchange; OMEMO 2 keeps its flag
	 * only. */
	enc = pxm_test_parse(
		"<encrypted xmlns='eu.siacs.conversations.axolotl'>"
		"<header sid='1'><key rid='2'>MwoB</key><key rid='3'>MwgB</key>"
		"<key rid='4'>Mw==</key><iv>MDEyMzQ1Njc4OWFi</iv></header>"
		"</encrypted>");
	m = pxm_omemo_encrypted_parse(enc, &error);
	g_assert_no_error(error);
	g_assert_false(pxm_omemo_encrypted_find_key(m, NULL, 2)->kex);
	g_assert_true(pxm_omemo_encrypted_find_key(m, NULL, 3)->kex);
	g_assert_false(pxm_omemo_encrypted_find_key(m, NULL, 4)->kex);
	g_clear_pointer(&m, pxm_omemo_encrypted_free);
	g_clear_pointer(&enc, xmlnode_free);
	enc = pxm_test_parse("<encrypted xmlns='urn:xmpp:omemo:2'><header "
			     "sid='1'><keys jid='juliet@capulet.lit'><key "
			     "rid='3'>MwgB</key></keys></header></encrypted>");
	m = pxm_omemo_encrypted_parse(enc, &error);
	g_assert_no_error(error);
	g_assert_false(
		pxm_omemo_encrypted_find_key(m, "juliet@capulet.lit", 3)->kex);
	/* The session it started carries on. */
	exchange(f, "and on");
}

static void
test_tampered(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) messages = NULL;
	PxmTestDelivery *d;
	xmlnode *enc, *payload;
	g_autofree char *text = NULL;

	pxm_omemo_send_message(omemo(f->romeo), "juliet@capulet.lit", "hi",
			       FALSE);
	messages = pxm_test_pump_iqs();
	d = messages->pdata[0];
	enc = pxm_xml_child(d->node, "encrypted", PXM_NS_OMEMO);
	payload = pxm_xml_child(enc, "payload", NULL);
	text = xmlnode_get_data(payload);
	/* Another valid base64 payload of the same size. */
	text[0] = text[0] == 'A' ? 'B' : 'A';
	xmlnode_free(payload->child);
	payload->child = payload->lastchild = NULL;
	xmlnode_insert_data(payload, text, -1);
	pxm_test_peer_receive(d->to, d->node);
	g_assert_cmpuint(f->juliet->shown->len, ==, 0);
	xmlnode_free(d->node);
	g_free(d);
	/* Nothing was committed: the real message still works. */
	exchange(f, "real");
}

static void
test_not_for_us(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) msg = pxm_test_parse(
		"<message from='romeo@montague.lit/orchard' type='chat' "
		"to='juliet@capulet.lit/balcony'><encrypted "
		"xmlns='urn:xmpp:omemo:2'><header sid='77'><keys "
		"jid='juliet@capulet.lit'><key rid='1'>a2V5</key></keys>"
		"</header><payload>cGF5cGF5cGF5cGF5cGF5cA==</payload>"
		"</encrypted><body>fallback</body></message>");
	g_autoptr(xmlnode) garbage = pxm_test_parse(
		"<message from='romeo@montague.lit/orchard' type='chat' "
		"to='juliet@capulet.lit/balcony'><encrypted "
		"xmlns='eu.siacs.conversations.axolotl'><header sid='77'>"
		"<key rid='1'>@@@@</key><iv>AAAAAAAAAAAAAAAA</iv></header>"
		"</encrypted><body>fallback</body></message>");
	PxmStanza st;

	pxm_stanza_init(&st, msg, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(f->juliet->account, &st), ==,
			PXM_VERDICT_CONSUMED);
	pxm_stanza_clear(&st);
	pxm_stanza_init(&st, garbage, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(f->juliet->account, &st), ==,
			PXM_VERDICT_DROP);
	pxm_stanza_clear(&st);
	g_assert_cmpuint(f->juliet->shown->len, ==, 0);
}

/* A forged key for our device that is no valid ratchet message. */
static void
test_forged_key(Fixture *f, gconstpointer data)
{
	g_autofree char *xml_text = NULL;
	g_autoptr(xmlnode) msg = NULL;
	PxmStanza st;

	exchange(f, "establish");
	xml_text = g_strdup_printf(
		"<message from='romeo@montague.lit/orchard' type='chat'>"
		"<encrypted xmlns='urn:xmpp:omemo:2'><header sid='5'><keys "
		"jid='juliet@capulet.lit'><key rid='%s'>a2V5a2V5a2V5</key>"
		"</keys></header><payload>cGF5cGF5cGF5cGF5cGF5cA==</payload>"
		"</encrypted></message>",
		"1");
	msg = pxm_test_parse(xml_text);
	pxm_stanza_init(&st, msg, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(f->juliet->account, &st), ==,
			PXM_VERDICT_CONSUMED);
	pxm_stanza_clear(&st);
	exchange(f, "still fine");
}

static void
test_no_devices_refused(Fixture *f, gconstpointer data)
{
	PxmTestPeer *nurse = pxm_test_peer_new("nurse@capulet.lit/kitchen");
	guint before;

	pxm_test_pump();
	/* The nurse has no OMEMO: the default sends in the clear... */
	forget_node("nurse@capulet.lit", PXM_NS_OMEMO_DEVICES);
	forget_node("nurse@capulet.lit", PXM_NS_OMEMO_LEGACY_DEVICELIST);
	g_assert_cmpint(pxm_omemo_send_message(omemo(f->romeo),
					       "nurse@capulet.lit", "plain",
					       FALSE),
			==, PXM_SEND_QUEUED);
	pxm_test_pump();
	g_assert_cmpuint(count_with(f->romeo->sent, ">plain</body>"), ==, 1);
	g_assert_cmpuint(nurse->shown->len, ==, 1);
	/* ... and later is left to the prpl. */
	g_assert_cmpint(pxm_omemo_send_message(omemo(f->romeo),
					       "nurse@capulet.lit", "plain 2",
					       FALSE),
			==, PXM_SEND_NOT_MINE);
	/* With /omemo on, nothing is sent. */
	g_assert_false(
		pxm_omemo_is_encrypted(omemo(f->romeo), "nurse@capulet.lit"));
	pxm_store_kv_set_string(pxm_account_get_store(f->romeo->account), ID,
				"conversation:nurse@capulet.lit", "on", NULL);
	before = f->romeo->sent->len;
	g_assert_cmpint(pxm_omemo_send_message(omemo(f->romeo),
					       "nurse@capulet.lit", "secret",
					       FALSE),
			==, PXM_SEND_QUEUED);
	pxm_test_pump();
	for (guint i = before; i < f->romeo->sent->len; i++)
		g_assert_false(
			g_str_has_prefix(f->romeo->sent->pdata[i], "<message"));
	g_assert_cmpuint(count_with(f->romeo->sent, "secret"), ==, 0);
}

/* The ENCRYPT stage: a plaintext body to an encrypted contact is removed. */
static void
test_plaintext_guard(Fixture *f, gconstpointer data)
{
	exchange(f, "hello");
	pxm_account_send(f->romeo->account,
			 pxm_test_parse("<message to='juliet@capulet.lit' "
					"type='chat'><body>leak</body><html "
					"xmlns='http://jabber.org/protocol/"
					"xhtml-im'><body>leak</body></html>"
					"</message>"));
	g_assert_cmpuint(count_with(f->romeo->sent, "leak"), ==, 0);
	pxm_test_pump();
}

/* Issue 5: a correction composed by another extension is encrypted in
 * place (the session exists), <replace/> outside, and arrives decrypted
 * as a correction; a resend of the same stanza is left alone. */
static void
test_correction_encrypted(Fixture *f, gconstpointer data)
{
	g_autoptr(GPtrArray) messages = NULL;
	g_autoptr(xmlnode) msg = NULL;
	g_autofree char *again = NULL;
	const char *xml_text = "<message to='juliet@capulet.lit' type='chat' "
			       "id='c1'><body>new words</body><replace "
			       "xmlns='urn:xmpp:message-correct:0' id='m1'/>"
			       "</message>";
	PxmStanza st;
	PxmTestDelivery *d;

	exchange(f, "old wrds");
	g_assert_true(pxm_account_set_active(
		f->juliet->account,
		pxm_test_extension_index("xep0359-stanza-id"), TRUE));
	g_assert_true(pxm_account_set_active(
		f->juliet->account,
		pxm_test_extension_index("xep0308-correction"), TRUE));
	pxm_account_send(f->romeo->account, pxm_test_parse(xml_text));
	g_assert_cmpuint(count_with(f->romeo->sent, "new words"), ==, 0);
	g_assert_cmpuint(count_with(f->romeo->sent, "not sent in the clear"),
			 ==, 0);
	again = g_strdup(f->romeo->sent->pdata[f->romeo->sent->len - 1]);
	g_assert_nonnull(strstr(again, "<encrypted xmlns='urn:xmpp:omemo:2'"));
	g_assert_nonnull(strstr(again, "<replace xmlns='urn:xmpp:message-"
				       "correct:0' id='m1'/>"));
	g_assert_nonnull(strstr(again, "<encryption xmlns='urn:xmpp:eme:0'"));
	messages = pxm_test_pump_iqs();
	g_assert_cmpuint(messages->len, ==, 1);
	d = messages->pdata[0];
	pxm_stanza_init(&st, d->node, FALSE);
	/* Shown by the presenter (it has html). */
	g_assert_cmpint(pxm_pipeline_incoming(f->juliet->account, &st), ==,
			PXM_VERDICT_CONSUMED);
	g_assert_true(st.encrypted);
	g_assert_cmpstr(st.body, ==, "new words");
	g_assert_nonnull(strstr(st.html, "✎"));
	g_assert_nonnull(strstr(st.html, "new words"));
	pxm_stanza_clear(&st);
	xmlnode_free(d->node);
	g_free(d);
	/* The prpl's resend of the encrypted stanza goes out unchanged. */
	msg = pxm_test_parse(again);
	pxm_stanza_init(&st, msg, TRUE);
	pxm_pipeline_outgoing(f->romeo->account, &st);
	pxm_stanza_clear(&st);
	g_free(again);
	again = xmlnode_to_str(msg, NULL);
	g_assert_cmpstr(again, ==,
			f->romeo->sent->pdata[f->romeo->sent->len - 1]);
}

/* Without a session for every device, the body is removed instead. */
static void
test_correction_no_session(Fixture *f, gconstpointer data)
{
	PxmOmemoStore *store = NULL;
	g_autoptr(GArray) ids = NULL;
	guint32 phone = 4242;

	exchange(f, "hello");
	/* Juliet's new phone: listed, no session yet. */
	store = pxm_omemo_engine_get_store(
		pxm_omemo_get_engine(omemo(f->romeo)));
	ids = pxm_omemo_store_get_devices(store, "juliet@capulet.lit", 4);
	g_array_append_val(ids, phone);
	pxm_omemo_store_set_devices(store, "juliet@capulet.lit", 4, ids);
	pxm_account_send(
		f->romeo->account,
		pxm_test_parse("<message to='juliet@capulet.lit' "
			       "type='chat'><body>fixed</body><replace "
			       "xmlns='urn:xmpp:message-correct:0' "
			       "id='m1'/></message>"));
	g_assert_cmpuint(count_with(f->romeo->sent, "fixed"), ==, 0);
	g_assert_cmpuint(count_with(f->romeo->sent, "<encrypted"), ==, 1);
	pxm_test_pump();
}

/* Issue 5: a message waiting for keys when the account goes offline is
 * sent, once and encrypted, when the extension starts again. */
static void
test_outbox(Fixture *f, gconstpointer data)
{
	guint idx = pxm_test_extension_index(ID);
	PxmTestDelivery *d;

	g_assert_cmpint(pxm_omemo_send_message(omemo(f->romeo),
					       "juliet@capulet.lit",
					       "typed before the drop", FALSE),
			==, PXM_SEND_QUEUED);
	/* The answers are lost with the link. */
	while ((d = g_queue_pop_head(&pxm_test_deliveries)) != NULL) {
		xmlnode_free(d->node);
		g_free(d);
	}
	pxm_account_set_active(f->romeo->account, idx, FALSE);
	g_assert_cmpuint(count_with(f->romeo->sent, "<message"), ==, 0);
	g_assert_true(pxm_account_set_active(f->romeo->account, idx, TRUE));
	pxm_test_pump();
	g_assert_cmpuint(f->juliet->shown->len, ==, 1);
	g_assert_cmpstr(f->juliet->shown->pdata[0], ==,
			"typed before the drop");
	g_assert_cmpuint(count_with(f->romeo->sent, "<message"), ==, 1);
	g_assert_cmpuint(count_with(f->romeo->sent, "typed before"), ==, 0);
	/* Taken: a second restart sends nothing more. */
	pxm_account_set_active(f->romeo->account, idx, FALSE);
	g_assert_true(pxm_account_set_active(f->romeo->account, idx, TRUE));
	pxm_test_pump();
	g_assert_cmpuint(count_with(f->romeo->sent, "<message"), ==, 1);
}

/* Plaintext in an encrypted conversation is shown with a warning. */
static void
test_plaintext_warning(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) msg = pxm_test_parse(
		"<message from='romeo@montague.lit/orchard' type='chat'>"
		"<body>in the clear</body></message>");
	PxmStanza st;

	exchange(f, "hello");
	pxm_stanza_init(&st, msg, FALSE);
	pxm_pipeline_incoming(f->juliet->account, &st);
	g_assert_cmpstr(st.body, ==, "in the clear");
	g_assert_nonnull(strstr(st.html, "not encrypted"));
	g_assert_false(st.encrypted);
	pxm_stanza_clear(&st);
}

/* Our other device reads what this one sent (a sent carbon). */
static void
test_own_device(Fixture *f, gconstpointer data)
{
	PxmTestPeer *romeo2 = pxm_test_peer_new("romeo@montague.lit/mobile");
	g_autoptr(GPtrArray) messages = NULL;
	PxmTestDelivery *d;
	PxmStanza st;

	pxm_test_pump();
	/* Romeo (orchard) learns of his new device from a PEP push. */
	for (guint version = 3; version <= 4; version++) {
		g_autofree char *key =
			g_strdup_printf("romeo@montague.lit %s",
					pxm_omemo_devicelist_node(version));
		GHashTable *t = g_hash_table_lookup(pxm_test_pep, key);
		xmlnode *list = g_hash_table_lookup(t, "current");
		g_autofree char *list_xml = xmlnode_to_str(list, NULL);
		g_autofree char *event = g_strdup_printf(
			"<message from='romeo@montague.lit'><event "
			"xmlns='http://jabber.org/protocol/pubsub#event'>"
			"<items node='%s'><item id='current'>%s</item>"
			"</items></event></message>",
			pxm_omemo_devicelist_node(version), list_xml);
		g_autoptr(xmlnode) ev = pxm_test_parse(event);

		pxm_stanza_init(&st, ev, FALSE);
		g_assert_cmpint(pxm_pipeline_incoming(f->romeo->account, &st),
				==, PXM_VERDICT_CONSUMED);
		pxm_stanza_clear(&st);
	}
	pxm_omemo_send_message(omemo(f->romeo), "juliet@capulet.lit", "to both",
			       FALSE);
	messages = pxm_test_pump_iqs();
	g_assert_cmpuint(messages->len, ==, 1);
	d = messages->pdata[0];
	/* As the server's sent carbon to the other device. */
	pxm_stanza_init(&st, d->node, FALSE);
	st.origin = PXM_ORIGIN_CARBON;
	st.sent_by_me = TRUE;
	pxm_pipeline_incoming(romeo2->account, &st);
	g_assert_cmpstr(st.body, ==, "to both");
	g_assert_true(st.encrypted);
	pxm_stanza_clear(&st);
	pxm_test_peer_receive(d->to, d->node);
	g_assert_cmpstr(f->juliet->shown->pdata[0], ==, "to both");
	xmlnode_free(d->node);
	g_free(d);
}

/* A forged PEP push from a full JID is dropped. */
static void
test_forged_push(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) ev = pxm_test_parse(
		"<message from='juliet@capulet.lit/evil'><event "
		"xmlns='http://jabber.org/protocol/pubsub#event'><items "
		"node='urn:xmpp:omemo:2:devices'><item id='current'><devices "
		"xmlns='urn:xmpp:omemo:2'><device id='666'/></devices></item>"
		"</items></event></message>");
	PxmStanza st;

	pxm_stanza_init(&st, ev, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(f->romeo->account, &st), ==,
			PXM_VERDICT_DROP);
	pxm_stanza_clear(&st);
}

/* BTBV: once a device is verified, new ones are left out. */
static void
test_trust(Fixture *f, gconstpointer data)
{
	g_autofree char *fps = NULL;
	g_autofree char *fp = NULL;
	char *line, *end;

	exchange(f, "hello");
	fps = pxm_omemo_fingerprints_dup(omemo(f->romeo), "juliet@capulet.lit");
	/* "juliet@capulet.lit ID (OMEMO 2): FP — trusted" */
	line = strstr(fps, "juliet@capulet.lit ");
	g_assert_nonnull(line);
	line = strstr(line, "): ") + 3;
	end = strstr(line, " — ");
	fp = g_strndup(line, end - line);
	g_assert_cmpuint(strlen(fp), ==, 71);
	g_assert_false(pxm_omemo_set_trust_by_fingerprint(
		omemo(f->romeo), "juliet@capulet.lit", "00 11", TRUE));
	g_assert_true(pxm_omemo_set_trust_by_fingerprint(
		omemo(f->romeo), "juliet@capulet.lit", fp, FALSE));
	/* Her only device is not trusted any more: refused. */
	pxm_omemo_send_message(omemo(f->romeo), "juliet@capulet.lit", "no",
			       FALSE);
	pxm_test_pump();
	g_assert_cmpuint(f->juliet->shown->len, ==, 0);
	g_assert_true(pxm_omemo_set_trust_by_fingerprint(
		omemo(f->romeo), "juliet@capulet.lit", fp, TRUE));
	exchange(f, "verified");
}

/* --- Store ------------------------------------------------------------------------ */

static void
test_identity_kept(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("pxm-omemo-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "store.sqlite3", NULL);
	PxmStore *store = pxm_store_open(path, &error);
	PxmOmemoEngine *e = pxm_omemo_engine_new(store, &error);
	guint32 id;
	g_autoptr(GArray) ids = NULL;

	g_assert_no_error(error);
	id = pxm_omemo_engine_get_device_id(e);
	g_assert_cmpuint(id, >, 0);
	g_assert_cmpuint(id, <=, G_MAXINT32);
	ids = pxm_omemo_store_list_prekeys(pxm_omemo_engine_get_store(e));
	g_assert_cmpuint(ids->len, ==, 100);
	pxm_omemo_engine_free(e);
	/* Opened again: the same device. */
	e = pxm_omemo_engine_new(store, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(pxm_omemo_engine_get_device_id(e), ==, id);
	/* Used pre-keys are replenished. */
	pxm_omemo_store_remove_prekey(pxm_omemo_engine_get_store(e), 1);
	g_assert_true(pxm_omemo_engine_maintain(e, g_get_real_time() /
							   G_USEC_PER_SEC));
	g_clear_pointer(&ids, g_array_unref);
	ids = pxm_omemo_store_list_prekeys(pxm_omemo_engine_get_store(e));
	g_assert_cmpuint(ids->len, ==, 100);
	/* The signed pre-key rotates after a week. */
	g_assert_false(pxm_omemo_engine_maintain(e, g_get_real_time() /
							    G_USEC_PER_SEC));
	g_assert_true(pxm_omemo_engine_maintain(
		e, g_get_real_time() / G_USEC_PER_SEC + 8 * 24 * 3600));
	pxm_omemo_engine_free(e);
	/* A broken identity is an error, never replaced. */
	g_assert_true(
		pxm_store_exec(store, "DELETE FROM omemo_identity", &error));
	e = pxm_omemo_engine_new(store, &error);
	g_assert_null(e);
	g_assert_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_STORE);
	pxm_store_close(store);
	g_remove(path);
	g_rmdir(dir);
}

/* A real Ed25519 identity (its sign bit is random, unlike libomemo-c's
 * XEdDSA keys) with a bundle signed by it, as twomemo publishes. */
static PxmOmemoBundle *
ed25519_bundle(signal_context *ctx, guint8 ik[32])
{
	PxmOmemoBundle *b = pxm_omemo_bundle_new();
	gcry_sexp_t params = NULL, pair = NULL, q = NULL, data = NULL,
		    sig = NULL, r = NULL, s = NULL;
	ec_key_pair *spk = NULL, *pk = NULL;
	signal_buffer *spk_raw = NULL, *pk_raw = NULL;
	guint8 rs[64];
	const char *v;
	size_t len = 0;
	guint32 pk_id = 1;

	g_assert_cmpint(gcry_sexp_build(&params, NULL,
					"(genkey (ecc (curve Ed25519)"
					" (flags eddsa transient-key)))"),
			==, 0);
	g_assert_cmpint(gcry_pk_genkey(&pair, params), ==, 0);
	q = gcry_sexp_find_token(pair, "q", 0);
	v = gcry_sexp_nth_data(q, 1, &len);
	/* libgcrypt may prefix the point with 0x40 (compressed). */
	if (len == 33 && v[0] == 0x40) {
		v++;
		len--;
	}
	g_assert_cmpuint(len, ==, 32);
	memcpy(ik, v, 32);
	g_assert_cmpint(curve_generate_key_pair(ctx, &spk), ==, 0);
	g_assert_cmpint(curve_generate_key_pair(ctx, &pk), ==, 0);
	ec_public_key_serialize_omemo(&spk_raw, ec_key_pair_get_public(spk));
	ec_public_key_serialize_omemo(&pk_raw, ec_key_pair_get_public(pk));
	/* XEP-0384: the signature is over the raw 32-byte signed pre-key. */
	g_assert_cmpint(gcry_sexp_build(&data, NULL,
					"(data (flags eddsa) (hash-algo sha512)"
					" (value %b))",
					(int)signal_buffer_len(spk_raw),
					signal_buffer_data(spk_raw)),
			==, 0);
	g_assert_cmpint(gcry_pk_sign(&sig, data, pair), ==, 0);
	r = gcry_sexp_find_token(sig, "r", 0);
	s = gcry_sexp_find_token(sig, "s", 0);
	v = gcry_sexp_nth_data(r, 1, &len);
	g_assert_cmpuint(len, ==, 32);
	memcpy(rs, v, 32);
	v = gcry_sexp_nth_data(s, 1, &len);
	g_assert_cmpuint(len, ==, 32);
	memcpy(rs + 32, v, 32);
	b->ik = g_bytes_new(ik, 32);
	b->spk_id = 1;
	b->spk = g_bytes_new(signal_buffer_data(spk_raw), 32);
	b->spk_sig = g_bytes_new(rs, 64);
	g_array_append_val(b->pk_ids, pk_id);
	g_ptr_array_add(b->pks, g_bytes_new(signal_buffer_data(pk_raw), 32));
	signal_buffer_free(spk_raw);
	signal_buffer_free(pk_raw);
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(pk);
	gcry_sexp_release(params);
	gcry_sexp_release(pair);
	gcry_sexp_release(q);
	gcry_sexp_release(data);
	gcry_sexp_release(sig);
	gcry_sexp_release(r);
	gcry_sexp_release(s);
	return b;
}

static void
test_fingerprint_v4_sign(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = g_dir_make_tmp("pxm-omemo-XXXXXX", NULL);
	g_autofree char *path = g_build_filename(dir, "store.sqlite3", NULL);
	PxmStore *store = pxm_store_open(path, &error);
	PxmOmemoEngine *e = pxm_omemo_engine_new(store, &error);
	PxmOmemoStore *os = pxm_omemo_engine_get_store(e);
	signal_context *ctx = NULL;
	const char *jid = "juliet@capulet.lit";
	guint8 prev[32] = { 0 };
	guint signs[2] = { 0, 0 };

	g_assert_no_error(error);
	g_assert_cmpint(signal_context_create(&ctx, NULL), ==, 0);
	g_assert_true(pxm_omemo_crypto_install(ctx));
	for (guint32 i = 0; i < 32; i++) {
		g_autoptr(PxmOmemoBundle) b = NULL;
		g_autofree char *want = NULL;
		g_autofree char *fp = NULL;
		g_autofree char *forged = NULL;
		g_autofree char *legacy = NULL;
		guint8 ik[32];
		guint32 device = 1000 + i;

		b = ed25519_bundle(ctx, ik);
		signs[ik[31] >> 7]++;
		g_assert_true(pxm_omemo_engine_build_session(e, 4, jid, device,
							     b, &error));
		g_assert_no_error(error);
		/* What the contact's client shows: its Ed25519 key. */
		want = pxm_omemo_fingerprint_dup(ik, 32);
		fp = pxm_omemo_engine_fingerprint_dup(e, 4, jid, device);
		g_assert_cmpstr(fp, ==, want);
		if (i == 0) {
			memcpy(prev, ik, 32);
			continue;
		}
		/* Another key's Ed form does not convert to this identity:
		 * never shown as this device's fingerprint. */
		g_assert_true(pxm_omemo_store_put_identity_ed(os, jid, device,
							      prev, 32));
		forged = pxm_omemo_engine_fingerprint_dup(e, 4, jid, device);
		g_assert_null(forged);
		/* An identity stored before the Ed form was kept: unknown,
		 * not a guess that is wrong half of the time. */
		g_assert_true(pxm_store_exec(
			store, "UPDATE omemo_remote_identity SET ed_key = NULL",
			&error));
		legacy = pxm_omemo_engine_fingerprint_dup(e, 4, jid, device);
		g_assert_null(legacy);
		memcpy(prev, ik, 32);
	}
	/* Both signs occurred (probability of failure 2^-31). */
	g_assert_cmpuint(signs[0], >, 0);
	g_assert_cmpuint(signs[1], >, 0);
	/* A changed identity key forgets the old Ed form. */
	{
		g_autoptr(PxmOmemoBundle) b = NULL;
		g_autoptr(GBytes) ed = NULL;
		guint8 ik[32], other[33] = { 0x05 };

		b = ed25519_bundle(ctx, ik);
		g_assert_true(pxm_omemo_engine_build_session(e, 4, jid, 7, b,
							     &error));
		ed = pxm_omemo_store_get_identity_ed(os, jid, 7);
		g_assert_nonnull(ed);
		g_clear_pointer(&ed, g_bytes_unref);
		other[1] = 9;
		g_assert_true(pxm_omemo_store_put_identity_key(os, jid, 7,
							       other, 33));
		ed = pxm_omemo_store_get_identity_ed(os, jid, 7);
		g_assert_null(ed);
	}
	signal_context_destroy(ctx);
	pxm_omemo_engine_free(e);
	pxm_store_close(store);
	g_remove(path);
	g_rmdir(dir);
}

/* pxm_account_conversation_decide_encryption() is recorded here. */
typedef struct {
	guint calls;
	gboolean encrypted;
} Decided;

static void
on_decided(PxmAccount *account, gboolean encrypted, gpointer data)
{
	Decided *d = data;

	d->calls++;
	d->encrypted = encrypted;
}

/* The host API an upload asks before its first message: it waits for the
 * contact's device lists, answers once, and fails closed when OMEMO stops
 * first. */
static void
test_decide_encryption(Fixture *f, gconstpointer data)
{
	Decided juliet = { 0 }, nurse = { 0 }, cut = { 0 }, off = { 0 };

	pxm_account_conversation_decide_encryption(f->romeo->account,
						   "juliet@capulet.lit",
						   on_decided, &juliet, NULL);
	pxm_account_conversation_decide_encryption(f->romeo->account,
						   "nurse@capulet.lit",
						   on_decided, &nurse, NULL);
	/* The lists are being fetched. */
	g_assert_cmpuint(juliet.calls, ==, 0);
	g_assert_cmpuint(nurse.calls, ==, 0);
	pxm_test_pump();
	g_assert_cmpuint(juliet.calls, ==, 1);
	g_assert_true(juliet.encrypted);
	g_assert_cmpuint(nurse.calls, ==, 1);
	g_assert_false(nurse.encrypted);
	/* Known now: answered at once. */
	juliet.calls = 0;
	pxm_account_conversation_decide_encryption(f->romeo->account,
						   "juliet@capulet.lit",
						   on_decided, &juliet, NULL);
	g_assert_cmpuint(juliet.calls, ==, 1);
	g_assert_true(juliet.encrypted);
	/* OMEMO stops while a list is awaited: encrypted (fail closed). */
	pxm_account_conversation_decide_encryption(f->romeo->account,
						   "tybalt@capulet.lit",
						   on_decided, &cut, NULL);
	g_assert_cmpuint(cut.calls, ==, 0);
	pxm_account_set_active(f->romeo->account, pxm_test_extension_index(ID),
			       FALSE);
	g_assert_cmpuint(cut.calls, ==, 1);
	g_assert_true(cut.encrypted);
	/* OMEMO off: nothing encrypts. */
	pxm_account_conversation_decide_encryption(f->romeo->account,
						   "juliet@capulet.lit",
						   on_decided, &off, NULL);
	g_assert_cmpuint(off.calls, ==, 1);
	g_assert_false(off.encrypted);
	pxm_test_pump();
	g_assert_cmpuint(cut.calls, ==, 1);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	g_test_add_func("/xep0384-omemo/crypto/hkdf", test_hkdf);
	g_test_add_func("/xep0384-omemo/crypto/payload-v3", test_payload_v3);
	g_test_add_func("/xep0384-omemo/crypto/payload-v4", test_payload_v4);
	g_test_add_func("/xep0384-omemo/crypto/fingerprint",
			test_fingerprint_format);
	g_test_add_func("/xep0384-omemo/protocol/devicelist", test_devicelist);
	g_test_add_func("/xep0384-omemo/protocol/base64", test_b64_strict);
	g_test_add_func("/xep0384-omemo/protocol/encrypted",
			test_encrypted_xml);
	g_test_add_func("/xep0384-omemo/protocol/encrypted-hostile",
			test_encrypted_hostile);
	g_test_add_func("/xep0384-omemo/protocol/sce", test_sce);
	g_test_add_func("/xep0384-omemo/store/identity", test_identity_kept);
	g_test_add_func("/xep0384-omemo/fingerprint/omemo2-sign",
			test_fingerprint_v4_sign);
#define ADD(path, func, data)                                                  \
	g_test_add("/xep0384-omemo/" path, Fixture, data, setup, func, teardown)
	ADD("publish", test_publishes, NULL);
	ADD("publish/without-max-items", test_publish_without_max_items, NULL);
	ADD("exchange/omemo2", test_exchange, GUINT_TO_POINTER(4));
	ADD("exchange/legacy", test_exchange, GUINT_TO_POINTER(3));
	ADD("receive/replay", test_replay, NULL);
	ADD("receive/legacy-kex-unflagged", test_legacy_kex_unflagged, NULL);
	ADD("receive/tampered", test_tampered, NULL);
	ADD("receive/not-for-us", test_not_for_us, NULL);
	ADD("receive/forged-key", test_forged_key, NULL);
	ADD("receive/plaintext-warning", test_plaintext_warning, NULL);
	ADD("receive/forged-push", test_forged_push, NULL);
	ADD("send/no-devices", test_no_devices_refused, NULL);
	ADD("send/plaintext-guard", test_plaintext_guard, NULL);
	ADD("send/correction-encrypted", test_correction_encrypted, NULL);
	ADD("send/correction-no-session", test_correction_no_session, NULL);
	ADD("send/outbox", test_outbox, NULL);
	ADD("send/own-device", test_own_device, NULL);
	ADD("trust/btbv", test_trust, NULL);
	ADD("host/decide-encryption", test_decide_encryption, NULL);
	return g_test_run();
}

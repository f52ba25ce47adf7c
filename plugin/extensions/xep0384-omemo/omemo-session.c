// SPDX-License-Identifier: GPL-3.0-or-later
#include "omemo-session.h"

#include <curve.h>
#include <key_helper.h>
#include <protocol.h>
#include <ratchet.h>
#include <session_builder.h>
#include <session_cipher.h>
#include <session_pre_key.h>
#include <string.h>

#define ID "xep0384-omemo"

struct PxmOmemoEngine {
	PxmOmemoStore *store;
	signal_context *ctx;
	signal_protocol_store_context *store_ctx;
	guint32 device_id;
};

G_DEFINE_AUTOPTR_CLEANUP_FUNC(signal_buffer, signal_buffer_bzero_free)

static void
set_error(GError **error, int code, const char *what)
{
	int domain_code;

	switch (code) {
	case SG_ERR_DUPLICATE_MESSAGE:
		domain_code = PXM_OMEMO_ERROR_DUPLICATE;
		break;
	case SG_ERR_NO_SESSION:
		domain_code = PXM_OMEMO_ERROR_NO_SESSION;
		break;
	case SG_ERR_UNTRUSTED_IDENTITY:
		domain_code = PXM_OMEMO_ERROR_UNTRUSTED;
		break;
	case SG_ERR_INVALID_MESSAGE:
	case SG_ERR_INVALID_PROTO_BUF:
	case SG_ERR_INVALID_KEY:
	case SG_ERR_INVALID_KEY_ID:
	case SG_ERR_INVALID_VERSION:
	case SG_ERR_LEGACY_MESSAGE:
		domain_code = PXM_OMEMO_ERROR_MALFORMED;
		break;
	case SG_ERR_INVALID_MAC:
		domain_code = PXM_OMEMO_ERROR_AUTH;
		break;
	default:
		domain_code = PXM_OMEMO_ERROR_CRYPTO;
	}
	g_set_error(error, PXM_OMEMO_ERROR, domain_code, "%s (libomemo-c %d)",
		    what, code);
}

static guint32
random_device_id(void)
{
	guint32 id = 0;

	/* XEP-0384 section 5.3.1: a random id in 1 .. 2^31 - 1. */
	while (id == 0) {
		pxm_omemo_random((guint8 *)&id, sizeof(id));
		id &= 0x7fffffff;
	}
	return id;
}

static gboolean
create_identity(PxmOmemoEngine *e, GError **error)
{
	ratchet_identity_key_pair *pair = NULL;
	g_autoptr(signal_buffer) pub = NULL;
	g_autoptr(signal_buffer) priv = NULL;
	g_autoptr(PxmSecret) secret = NULL;
	int rc;

	rc = signal_protocol_key_helper_generate_identity_key_pair(&pair,
								   e->ctx);
	if (rc != 0) {
		set_error(error, rc, "identity key generation failed");
		return FALSE;
	}
	if (ec_public_key_serialize(
		    &pub, ratchet_identity_key_pair_get_public(pair)) != 0 ||
	    ec_private_key_serialize(
		    &priv, ratchet_identity_key_pair_get_private(pair)) != 0) {
		SIGNAL_UNREF(pair);
		set_error(error, SG_ERR_UNKNOWN, "identity serialisation");
		return FALSE;
	}
	SIGNAL_UNREF(pair);
	secret = pxm_secret_new_from(signal_buffer_data(priv),
				     signal_buffer_len(priv));
	e->device_id = random_device_id();
	return pxm_omemo_store_save_identity(
		e->store, e->device_id, signal_buffer_data(pub),
		signal_buffer_len(pub), secret, error);
}

static gboolean
new_signed_prekey(PxmOmemoEngine *e, gint64 now)
{
	ratchet_identity_key_pair *pair = NULL;
	session_signed_pre_key *spk = NULL;
	guint32 id = 1;
	gint64 created;
	int rc;

	if (pxm_omemo_store_latest_signed_prekey(e->store, &id, &created))
		id = id % 0xffffff + 1;
	if (signal_protocol_identity_get_key_pair(e->store_ctx, &pair) != 0)
		return FALSE;
	rc = signal_protocol_key_helper_generate_signed_pre_key(
		&spk, pair, id, (guint64)now * 1000, e->ctx);
	SIGNAL_UNREF(pair);
	if (rc != 0)
		return FALSE;
	rc = signal_protocol_signed_pre_key_store_key(e->store_ctx, spk);
	SIGNAL_UNREF(spk);
	return rc == 0;
}

gboolean
pxm_omemo_engine_maintain(PxmOmemoEngine *e, gint64 now)
{
	g_autoptr(GArray) ids = pxm_omemo_store_list_prekeys(e->store);
	gboolean changed = FALSE;
	guint32 spk_id;
	gint64 created;

	if (ids->len < PXM_OMEMO_PREKEYS) {
		signal_protocol_key_helper_pre_key_list_node *head = NULL;
		guint32 start =
			ids->len > 0
				? g_array_index(ids, guint32, ids->len - 1) + 1
				: 1;

		/* Ids are 24 bits on the wire for some clients. */
		if (start + PXM_OMEMO_PREKEYS > 0xffffff)
			start = 1;
		if (signal_protocol_key_helper_generate_pre_keys(
			    &head, start, PXM_OMEMO_PREKEYS - ids->len,
			    e->ctx) == 0) {
			for (signal_protocol_key_helper_pre_key_list_node *n =
				     head;
			     n != NULL;
			     n = signal_protocol_key_helper_key_list_next(n))
				signal_protocol_pre_key_store_key(
					e->store_ctx,
					signal_protocol_key_helper_key_list_element(
						n));
			signal_protocol_key_helper_key_list_free(head);
			changed = TRUE;
		}
	}
	if (!pxm_omemo_store_latest_signed_prekey(e->store, &spk_id,
						  &created) ||
	    now - created >= PXM_OMEMO_SPK_ROTATE) {
		if (new_signed_prekey(e, now))
			changed = TRUE;
		pxm_omemo_store_prune_signed_prekeys(e->store,
						     now - PXM_OMEMO_SPK_KEEP);
	}
	return changed;
}

PxmOmemoEngine *
pxm_omemo_engine_new(PxmStore *store, GError **error)
{
	g_autoptr(PxmOmemoEngine) e = g_new0(PxmOmemoEngine, 1);
	gboolean is_new = FALSE;

	if (!pxm_omemo_crypto_init()) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_CRYPTO,
				    "libgcrypt is too old");
		return NULL;
	}
	if (signal_context_create(&e->ctx, e) != 0 ||
	    !pxm_omemo_crypto_install(e->ctx) ||
	    signal_protocol_store_context_create(&e->store_ctx, e->ctx) != 0) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_CRYPTO,
				    "libomemo-c could not be set up");
		return NULL;
	}
	if (!pxm_store_begin(store, error))
		return NULL;
	e->store = pxm_omemo_store_open(store, &is_new, error);
	if (e->store == NULL) {
		pxm_store_rollback(store, NULL);
		return NULL;
	}
	pxm_omemo_store_attach(e->store, e->store_ctx);
	if (is_new) {
		if (!create_identity(e, error)) {
			pxm_store_rollback(store, NULL);
			return NULL;
		}
		purple_debug_info(ID, "created OMEMO device %u\n",
				  e->device_id);
	} else {
		GBytes *pub = NULL;

		if (!pxm_omemo_store_load_identity(e->store, &e->device_id,
						   &pub, NULL, error)) {
			pxm_store_rollback(store, NULL);
			return NULL;
		}
		g_bytes_unref(pub);
	}
	pxm_omemo_engine_maintain(e, g_get_real_time() / G_USEC_PER_SEC);
	if (!pxm_store_commit(store, error))
		return NULL;
	return g_steal_pointer(&e);
}

void
pxm_omemo_engine_free(PxmOmemoEngine *e)
{
	if (e == NULL)
		return;
	if (e->store_ctx != NULL)
		signal_protocol_store_context_destroy(e->store_ctx);
	if (e->ctx != NULL)
		signal_context_destroy(e->ctx);
	pxm_omemo_store_free(e->store);
	g_free(e);
}

guint32
pxm_omemo_engine_get_device_id(PxmOmemoEngine *e)
{
	return e->device_id;
}

PxmOmemoStore *
pxm_omemo_engine_get_store(PxmOmemoEngine *e)
{
	return e->store;
}

/* --- Bundles -------------------------------------------------------------- */

PxmOmemoBundle *
pxm_omemo_bundle_new(void)
{
	PxmOmemoBundle *b = g_new0(PxmOmemoBundle, 1);

	b->pk_ids = g_array_new(FALSE, FALSE, sizeof(guint32));
	b->pks = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	return b;
}

void
pxm_omemo_bundle_free(PxmOmemoBundle *b)
{
	if (b == NULL)
		return;
	g_clear_pointer(&b->spk, g_bytes_unref);
	g_clear_pointer(&b->spk_sig, g_bytes_unref);
	g_clear_pointer(&b->ik, g_bytes_unref);
	g_array_unref(b->pk_ids);
	g_ptr_array_unref(b->pks);
	g_free(b);
}

static GBytes *
take_buffer(signal_buffer *buf)
{
	GBytes *out;

	if (buf == NULL)
		return NULL;
	out = g_bytes_new(signal_buffer_data(buf), signal_buffer_len(buf));
	signal_buffer_free(buf);
	return out;
}

/* The wire form of a public key for @version. */
static GBytes *
public_key_bytes(const ec_public_key *key, guint version)
{
	signal_buffer *buf = NULL;

	if (version == 4)
		ec_public_key_serialize_omemo(&buf, key);
	else
		ec_public_key_serialize(&buf, key);
	return take_buffer(buf);
}

PxmOmemoBundle *
pxm_omemo_engine_own_bundle(PxmOmemoEngine *e, guint version, GError **error)
{
	g_autoptr(PxmOmemoBundle) b = pxm_omemo_bundle_new();
	g_autoptr(GArray) ids = pxm_omemo_store_list_prekeys(e->store);
	ratchet_identity_key_pair *pair = NULL;
	session_signed_pre_key *spk = NULL;
	gint64 created;

	if (signal_protocol_identity_get_key_pair(e->store_ctx, &pair) != 0 ||
	    !pxm_omemo_store_latest_signed_prekey(e->store, &b->spk_id,
						  &created) ||
	    signal_protocol_signed_pre_key_load_key(e->store_ctx, &spk,
						    b->spk_id) != 0) {
		SIGNAL_UNREF(pair);
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_STORE,
				    "our keys could not be read");
		return NULL;
	}
	if (version == 4)
		b->ik = take_buffer(ec_public_key_get_ed(
			ratchet_identity_key_pair_get_public(pair)));
	else
		b->ik = public_key_bytes(
			ratchet_identity_key_pair_get_public(pair), 3);
	b->spk = public_key_bytes(
		ec_key_pair_get_public(
			session_signed_pre_key_get_key_pair(spk)),
		version);
	if (version == 4)
		b->spk_sig = g_bytes_new(
			session_signed_pre_key_get_signature_omemo(spk),
			session_signed_pre_key_get_signature_omemo_len(spk));
	else
		b->spk_sig = g_bytes_new(
			session_signed_pre_key_get_signature(spk),
			session_signed_pre_key_get_signature_len(spk));
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(pair);
	for (guint i = 0; i < ids->len; i++) {
		guint32 id = g_array_index(ids, guint32, i);
		session_pre_key *pk = NULL;

		if (signal_protocol_pre_key_load_key(e->store_ctx, &pk, id) !=
		    0)
			continue;
		g_array_append_val(b->pk_ids, id);
		g_ptr_array_add(
			b->pks,
			public_key_bytes(
				ec_key_pair_get_public(
					session_pre_key_get_key_pair(pk)),
				version));
		SIGNAL_UNREF(pk);
	}
	return g_steal_pointer(&b);
}

static ec_public_key *
decode_key(PxmOmemoEngine *e, GBytes *bytes, guint version, gboolean identity)
{
	ec_public_key *key = NULL;
	gsize len;
	const guint8 *data = bytes != NULL ? g_bytes_get_data(bytes, &len)
					   : NULL;

	if (data == NULL)
		return NULL;
	/* OMEMO-NOTES.md: legacy keys are 0x05-prefixed Curve25519; OMEMO
	 * 2 sends the identity key in Ed25519 form, the others raw. */
	if (version == 3) {
		if (len != 33 || curve_decode_point(&key, data, len, e->ctx))
			return NULL;
	} else if (identity) {
		if (len != 32 || curve_decode_point(&key, data, len, e->ctx))
			return NULL;
	} else if (len != 32 ||
		   curve_decode_point_mont(&key, data, len, e->ctx)) {
		return NULL;
	}
	return key;
}

/*
 * Whether @ed (an Ed25519 public key) is the stored identity of @jid's
 * @device: converted to Curve25519 it must give the stored key, or it is
 * some other key and must not be shown as this device's fingerprint.
 */
static gboolean
ed_is_identity(PxmOmemoEngine *e, const char *jid, guint32 device,
	       const guint8 *ed, gsize ed_len)
{
	g_autoptr(GBytes) known = pxm_omemo_store_get_identity_key(e->store,
								   jid, device);
	ec_public_key *key = NULL;
	signal_buffer *mont = NULL;
	const guint8 *data;
	gsize len = 0;
	gboolean ok;

	if (known == NULL || ed_len != 32 ||
	    curve_decode_point(&key, ed, ed_len, e->ctx) != 0)
		return FALSE;
	mont = ec_public_key_get_mont(key);
	SIGNAL_UNREF(key);
	data = g_bytes_get_data(known, &len);
	ok = mont != NULL && signal_buffer_len(mont) == 32 && len == 33 &&
	     data[0] == 0x05 &&
	     memcmp(data + 1, signal_buffer_data(mont), 32) == 0;
	signal_buffer_free(mont);
	return ok;
}

/*
 * Keeps the Ed25519 form of an OMEMO 2 identity the ratchet just saved:
 * XEP-0384 section 7.1 shows that form, and the 0x05-prefixed Curve25519
 * key libomemo-c stores has lost its sign bit (OMEMO-NOTES.md).
 */
static void
remember_ed(PxmOmemoEngine *e, const char *jid, guint32 device,
	    const ec_public_key *ik)
{
	signal_buffer *ed = ik != NULL ? ec_public_key_get_ed(ik) : NULL;

	if (ed == NULL)
		return;
	if (ed_is_identity(e, jid, device, signal_buffer_data(ed),
			   signal_buffer_len(ed)))
		pxm_omemo_store_put_identity_ed(e->store, jid, device,
						signal_buffer_data(ed),
						signal_buffer_len(ed));
	else
		purple_debug_warning("xep0384-omemo",
				     "an OMEMO 2 identity key does not match "
				     "the stored identity: not kept\n");
	signal_buffer_free(ed);
}

static signal_protocol_address
make_address(const char *name, guint32 device)
{
	signal_protocol_address a = { name, strlen(name), (int32_t)device };

	return a;
}

gboolean
pxm_omemo_engine_build_session(PxmOmemoEngine *e, guint version,
			       const char *jid, guint32 device,
			       const PxmOmemoBundle *b, GError **error)
{
	g_autofree char *name = pxm_omemo_address_name_dup(version, jid);
	signal_protocol_address address = make_address(name, device);
	ec_public_key *ik = NULL, *spk = NULL, *pk = NULL;
	session_pre_key_bundle *bundle = NULL;
	session_builder *builder = NULL;
	guint pick;
	gsize sig_len = 0;
	const guint8 *sig;
	int rc = SG_ERR_INVALID_KEY;

	if (b->pks->len == 0 || b->pks->len != b->pk_ids->len ||
	    b->spk_sig == NULL) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_MALFORMED,
				    "the bundle has no pre-keys");
		return FALSE;
	}
	/* XEP-0384 section 5.3.2: pick one pre-key at random. */
	pxm_omemo_random((guint8 *)&pick, sizeof(pick));
	pick %= b->pks->len;
	sig = g_bytes_get_data(b->spk_sig, &sig_len);
	ik = decode_key(e, b->ik, version, TRUE);
	spk = decode_key(e, b->spk, version, FALSE);
	pk = decode_key(e, b->pks->pdata[pick], version, FALSE);
	if (ik != NULL && spk != NULL && pk != NULL && sig_len == 64)
		rc = session_pre_key_bundle_create(
			&bundle, device, (int)device,
			g_array_index(b->pk_ids, guint32, pick), pk, b->spk_id,
			spk, sig, sig_len, ik);
	if (rc == 0)
		rc = session_builder_create(&builder, e->store_ctx, &address,
					    e->ctx);
	if (rc == 0) {
		session_builder_set_version(builder, version);
		rc = session_builder_process_pre_key_bundle(builder, bundle);
		session_builder_free(builder);
	}
	if (rc == 0 && version == 4)
		remember_ed(e, jid, device, ik);
	SIGNAL_UNREF(bundle);
	SIGNAL_UNREF(ik);
	SIGNAL_UNREF(spk);
	SIGNAL_UNREF(pk);
	if (rc != 0) {
		set_error(error, rc, "the bundle could not be used");
		return FALSE;
	}
	return TRUE;
}

gboolean
pxm_omemo_engine_has_session(PxmOmemoEngine *e, guint version, const char *jid,
			     guint32 device)
{
	g_autofree char *name = pxm_omemo_address_name_dup(version, jid);
	signal_protocol_address address = make_address(name, device);

	return signal_protocol_session_contains_session(e->store_ctx,
							&address) == 1;
}

GBytes *
pxm_omemo_engine_encrypt_key(PxmOmemoEngine *e, guint version, const char *jid,
			     guint32 device, const PxmSecret *km, gboolean *kex,
			     GError **error)
{
	g_autofree char *name = pxm_omemo_address_name_dup(version, jid);
	signal_protocol_address address = make_address(name, device);
	session_cipher *cipher = NULL;
	ciphertext_message *msg = NULL;
	signal_buffer *ser;
	GBytes *out;
	int rc;

	rc = session_cipher_create(&cipher, e->store_ctx, &address, e->ctx);
	if (rc == 0) {
		session_cipher_set_version(cipher, version);
		rc = session_cipher_encrypt(cipher, km->data, km->len, &msg);
		session_cipher_free(cipher);
	}
	if (rc != 0) {
		set_error(error, rc, "encryption failed");
		return NULL;
	}
	*kex = ciphertext_message_get_type(msg) == CIPHERTEXT_PREKEY_TYPE;
	ser = ciphertext_message_get_serialized(msg);
	out = g_bytes_new(signal_buffer_data(ser), signal_buffer_len(ser));
	SIGNAL_UNREF(msg);
	return out;
}

PxmSecret *
pxm_omemo_engine_decrypt_key(PxmOmemoEngine *e, guint version, const char *jid,
			     guint32 device, const guint8 *data, gsize len,
			     gboolean kex, GError **error)
{
	g_autofree char *name = pxm_omemo_address_name_dup(version, jid);
	signal_protocol_address address = make_address(name, device);
	session_cipher *cipher = NULL;
	signal_buffer *plain = NULL;
	PxmSecret *out;
	int rc;

	rc = session_cipher_create(&cipher, e->store_ctx, &address, e->ctx);
	if (rc != 0) {
		set_error(error, rc, "no cipher");
		return NULL;
	}
	session_cipher_set_version(cipher, version);
	if (kex) {
		pre_key_signal_message *msg = NULL;

		/* OMEMO 2 key exchanges carry no registration id. */
		rc = version == 4 ? pre_key_signal_message_deserialize_omemo(
					    &msg, data, len, device, e->ctx)
				  : pre_key_signal_message_deserialize(
					    &msg, data, len, e->ctx);
		if (rc == 0)
			rc = session_cipher_decrypt_pre_key_signal_message(
				cipher, msg, NULL, &plain);
		if (rc == 0 && version == 4)
			remember_ed(
				e, jid, device,
				pre_key_signal_message_get_identity_key(msg));
		SIGNAL_UNREF(msg);
	} else {
		signal_message *msg = NULL;

		rc = version == 4 ? signal_message_deserialize_omemo(
					    &msg, data, len, e->ctx)
				  : signal_message_deserialize(&msg, data, len,
							       e->ctx);
		if (rc == 0)
			rc = session_cipher_decrypt_signal_message(
				cipher, msg, NULL, &plain);
		SIGNAL_UNREF(msg);
	}
	session_cipher_free(cipher);
	if (rc != 0) {
		set_error(error, rc, "the key could not be decrypted");
		return NULL;
	}
	out = pxm_secret_new_from(signal_buffer_data(plain),
				  signal_buffer_len(plain));
	signal_buffer_bzero_free(plain);
	return out;
}

/* --- Fingerprints ----------------------------------------------------------- */

static char *
fingerprint_of(PxmOmemoEngine *e, const guint8 *data, gsize len, guint version)
{
	ec_public_key *key = NULL;
	signal_buffer *form;
	char *out;

	if (len != 33 || curve_decode_point(&key, data, len, e->ctx) != 0)
		return NULL;
	/* Legacy clients show the Curve25519 key, OMEMO 2 the Ed25519 one
	 * (XEP-0384 section 7.1). */
	form = version == 4 ? ec_public_key_get_ed(key)
			    : ec_public_key_get_mont(key);
	SIGNAL_UNREF(key);
	if (form == NULL)
		return NULL;
	out = pxm_omemo_fingerprint_dup(signal_buffer_data(form),
					signal_buffer_len(form));
	signal_buffer_free(form);
	return out;
}

char *
pxm_omemo_engine_own_fingerprint_dup(PxmOmemoEngine *e, guint version)
{
	g_autoptr(GBytes) pub = NULL;
	guint32 id;
	gsize len;
	const guint8 *data;

	if (!pxm_omemo_store_load_identity(e->store, &id, &pub, NULL, NULL))
		return NULL;
	data = g_bytes_get_data(pub, &len);
	return fingerprint_of(e, data, len, version);
}

char *
pxm_omemo_engine_fingerprint_dup(PxmOmemoEngine *e, guint version,
				 const char *jid, guint32 device)
{
	g_autoptr(GBytes) key = NULL;
	gsize len;
	const guint8 *data;

	if (version == 4) {
		/* Only the Ed25519 form the contact sent has the sign bit:
		 * without it (identities stored by older versions) the
		 * fingerprint is unknown until a bundle or key exchange
		 * brings it, rather than wrong half of the time. */
		key = pxm_omemo_store_get_identity_ed(e->store, jid, device);
		if (key == NULL)
			return NULL;
		data = g_bytes_get_data(key, &len);
		if (!ed_is_identity(e, jid, device, data, len))
			return NULL;
		return pxm_omemo_fingerprint_dup(data, len);
	}
	key = pxm_omemo_store_get_identity_key(e->store, jid, device);
	if (key == NULL)
		return NULL;
	data = g_bytes_get_data(key, &len);
	return fingerprint_of(e, data, len, version);
}

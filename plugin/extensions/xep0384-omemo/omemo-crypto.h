// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO crypto on libgcrypt: the crypto provider libomemo-c needs, and the
 * payload encryption of both OMEMO versions (OMEMO-NOTES.md's table).
 */
#pragma once

#include <glib.h>
#include <signal_protocol.h>

G_BEGIN_DECLS

#define PXM_OMEMO_ERROR (pxm_omemo_error_quark())
GQuark pxm_omemo_error_quark(void);

/**
 * PxmOmemoError:
 * @PXM_OMEMO_ERROR_CRYPTO: a libgcrypt or libomemo-c call failed
 * @PXM_OMEMO_ERROR_MALFORMED: input of the wrong size or format
 * @PXM_OMEMO_ERROR_AUTH: an authentication tag or MAC did not match
 * @PXM_OMEMO_ERROR_NO_SESSION: no session with that device
 * @PXM_OMEMO_ERROR_STORE: the store failed
 * @PXM_OMEMO_ERROR_NOT_FOR_US: the message holds no key for this device
 * @PXM_OMEMO_ERROR_DUPLICATE: a message already decrypted (replay)
 * @PXM_OMEMO_ERROR_UNTRUSTED: the sender's identity changed
 */
typedef enum {
	PXM_OMEMO_ERROR_CRYPTO,
	PXM_OMEMO_ERROR_MALFORMED,
	PXM_OMEMO_ERROR_AUTH,
	PXM_OMEMO_ERROR_NO_SESSION,
	PXM_OMEMO_ERROR_STORE,
	PXM_OMEMO_ERROR_NOT_FOR_US,
	PXM_OMEMO_ERROR_DUPLICATE,
	PXM_OMEMO_ERROR_UNTRUSTED,
} PxmOmemoError;

/** Sizes of the key material the ratchet carries (OMEMO-NOTES.md). */
#define PXM_OMEMO_V3_KEY_LEN 16
#define PXM_OMEMO_V3_IV_LEN 12
#define PXM_OMEMO_V3_TAG_LEN 16
#define PXM_OMEMO_V4_KEY_LEN 32
#define PXM_OMEMO_V4_TAG_LEN 16

/**
 * pxm_omemo_crypto_init:
 * Initialises libgcrypt (with secure memory) if the application has not.
 * Returns: FALSE if libgcrypt is too old.
 */
gboolean pxm_omemo_crypto_init(void);

/**
 * pxm_omemo_crypto_install:
 * @context: a libomemo-c context
 * Gives @context the libgcrypt provider (random, HMAC-SHA-256, SHA-512,
 * AES-CBC/PKCS#7, AES-CTR).  Returns: FALSE on failure.
 */
gboolean pxm_omemo_crypto_install(signal_context *context);

/** pxm_omemo_random: fills @buf with strong random bytes. */
void pxm_omemo_random(guint8 *buf, gsize len);

/**
 * PxmSecret: bytes in gcrypt secure memory, wiped when freed.
 */
typedef struct {
	guint8 *data;
	gsize len;
} PxmSecret;

/** pxm_secret_new: (transfer full): @len zero bytes in secure memory. */
PxmSecret *pxm_secret_new(gsize len);
/** pxm_secret_new_from: (transfer full): a secure copy of @data. */
PxmSecret *pxm_secret_new_from(const guint8 *data, gsize len);
/** pxm_secret_free: wipes and frees (NULL is fine). */
void pxm_secret_free(PxmSecret *secret);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmSecret, pxm_secret_free)

/**
 * pxm_omemo_hkdf_sha256:
 * RFC 5869 HKDF with SHA-256 (extract then expand) into @out (@out_len at
 * most 255 * 32).
 */
gboolean pxm_omemo_hkdf_sha256(const guint8 *ikm, gsize ikm_len,
			       const guint8 *salt, gsize salt_len,
			       const char *info, guint8 *out, gsize out_len);

/**
 * pxm_omemo_aes_gcm_encrypt:
 * @key: 16 (AES-128) or 32 (AES-256) bytes
 * @iv: 12 bytes
 * @tag: (out caller-allocates): 16 bytes
 * Returns: (transfer full) (nullable): the ciphertext, as long as @plain.
 */
GBytes *pxm_omemo_aes_gcm_encrypt(const guint8 *key, gsize key_len,
				  const guint8 *iv, const guint8 *plain,
				  gsize plain_len, guint8 *tag);

/**
 * pxm_omemo_aes_gcm_decrypt:
 * Returns: (transfer full) (nullable): the plaintext in secure memory, NULL
 * with %PXM_OMEMO_ERROR_AUTH when @tag does not match.
 */
PxmSecret *pxm_omemo_aes_gcm_decrypt(const guint8 *key, gsize key_len,
				     const guint8 *iv, const guint8 *cipher,
				     gsize cipher_len, const guint8 *tag,
				     GError **error);

/**
 * PxmOmemoPayload: what encrypting a message payload gives.
 * @key_material: what the ratchet carries for each device: legacy key(16)
 *   ‖ tag(16), OMEMO 2 key(32) ‖ HMAC(16)
 * @payload: the <payload/> bytes
 * @iv: legacy only (12 bytes), sent in <iv/>
 */
typedef struct {
	PxmSecret *key_material;
	GBytes *payload;
	guint8 iv[PXM_OMEMO_V3_IV_LEN];
} PxmOmemoPayload;

void pxm_omemo_payload_clear(PxmOmemoPayload *payload);

/**
 * pxm_omemo_payload_encrypt_v3:
 * Legacy: AES-128-GCM with a random key and IV.  When @key is not NULL it
 * is used (16 bytes) with @iv (12 bytes): known-answer tests only.
 */
gboolean pxm_omemo_payload_encrypt_v3(const guint8 *plain, gsize plain_len,
				      const guint8 *key, const guint8 *iv,
				      PxmOmemoPayload *out, GError **error);

/**
 * pxm_omemo_payload_decrypt_v3:
 * @key_material: key(16) ‖ tag(16) as the ratchet gave it (some clients
 *   send a 16-byte key and append the tag to the payload: accepted too)
 * Returns: (transfer full) (nullable): the plaintext.
 */
PxmSecret *pxm_omemo_payload_decrypt_v3(const guint8 *key_material,
					gsize key_material_len,
					const guint8 *iv, gsize iv_len,
					const guint8 *payload,
					gsize payload_len, GError **error);

/**
 * pxm_omemo_payload_encrypt_v4:
 * OMEMO 2: HKDF-SHA-256(key, 32 zero bytes, "OMEMO Payload") -> enc ‖ auth
 * ‖ IV; AES-256-CBC/PKCS#7; HMAC-SHA-256(auth, ciphertext)[0:16].  @key
 * (32 bytes) is random when NULL.
 */
gboolean pxm_omemo_payload_encrypt_v4(const guint8 *plain, gsize plain_len,
				      const guint8 *key, PxmOmemoPayload *out,
				      GError **error);

/** pxm_omemo_payload_decrypt_v4: the mirror; checks the HMAC first. */
PxmSecret *pxm_omemo_payload_decrypt_v4(const guint8 *key_material,
					gsize key_material_len,
					const guint8 *payload,
					gsize payload_len, GError **error);

/**
 * pxm_omemo_fingerprint_dup:
 * @key: 32 bytes of a public identity key (Curve25519 for legacy, Ed25519
 *   for OMEMO 2)
 * Returns: (transfer full): lower-case hex in 8 groups of 8, space
 * separated.
 */
char *pxm_omemo_fingerprint_dup(const guint8 *key, gsize len);

G_END_DECLS

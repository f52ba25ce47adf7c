// SPDX-License-Identifier: GPL-3.0-or-later
#include "omemo-crypto.h"

#include <gcrypt.h>
#include <string.h>

G_DEFINE_QUARK(pxm - omemo - error - quark, pxm_omemo_error)

#define SECURE_POOL (64 * 1024)

gboolean
pxm_omemo_crypto_init(void)
{
	if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
		return TRUE;
	if (gcry_check_version("1.8.0") == NULL)
		return FALSE;
	/* Key material lives in secure (locked, wiped) memory; running
	 * without the privilege to lock pages is not an error. */
	gcry_control(GCRYCTL_SUSPEND_SECMEM_WARN);
	gcry_control(GCRYCTL_INIT_SECMEM, SECURE_POOL, 0);
	gcry_control(GCRYCTL_RESUME_SECMEM_WARN);
	gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
	return TRUE;
}

void
pxm_omemo_random(guint8 *buf, gsize len)
{
	gcry_randomize(buf, len, GCRY_STRONG_RANDOM);
}

PxmSecret *
pxm_secret_new(gsize len)
{
	PxmSecret *s = g_new0(PxmSecret, 1);

	s->len = len;
	/* gcry_calloc_secure() falls back to normal memory when the pool is
	 * full; it is still wiped on free. */
	s->data = gcry_calloc_secure(1, len > 0 ? len : 1);
	return s;
}

PxmSecret *
pxm_secret_new_from(const guint8 *data, gsize len)
{
	PxmSecret *s = pxm_secret_new(len);

	if (len > 0)
		memcpy(s->data, data, len);
	return s;
}

void
pxm_secret_free(PxmSecret *s)
{
	if (s == NULL)
		return;
	/* Secure memory is wiped by gcry_free; the fallback is not. */
	gcry_create_nonce(s->data, s->len > 0 ? s->len : 1);
	gcry_free(s->data);
	g_free(s);
}

/* --- The libomemo-c provider ----------------------------------------- */

static int
random_func(uint8_t *data, size_t len, void *user_data)
{
	pxm_omemo_random(data, len);
	return 0;
}

static int
hmac_init(void **ctx, const uint8_t *key, size_t key_len, void *user_data)
{
	gcry_mac_hd_t hd;

	if (gcry_mac_open(&hd, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE,
			  NULL) != 0)
		return SG_ERR_UNKNOWN;
	if (gcry_mac_setkey(hd, key, key_len) != 0) {
		gcry_mac_close(hd);
		return SG_ERR_UNKNOWN;
	}
	*ctx = hd;
	return 0;
}

static int
hmac_update(void *ctx, const uint8_t *data, size_t len, void *user_data)
{
	return gcry_mac_write(ctx, data, len) == 0 ? 0 : SG_ERR_UNKNOWN;
}

static int
hmac_final(void *ctx, signal_buffer **output, void *user_data)
{
	guint8 mac[32];
	size_t len = sizeof(mac);

	if (gcry_mac_read(ctx, mac, &len) != 0)
		return SG_ERR_UNKNOWN;
	*output = signal_buffer_create(mac, len);
	return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static void
hmac_cleanup(void *ctx, void *user_data)
{
	if (ctx != NULL)
		gcry_mac_close(ctx);
}

static int
sha512_init(void **ctx, void *user_data)
{
	gcry_md_hd_t hd;

	if (gcry_md_open(&hd, GCRY_MD_SHA512, GCRY_MD_FLAG_SECURE) != 0)
		return SG_ERR_UNKNOWN;
	*ctx = hd;
	return 0;
}

static int
sha512_update(void *ctx, const uint8_t *data, size_t len, void *user_data)
{
	gcry_md_write(ctx, data, len);
	return 0;
}

static int
sha512_final(void *ctx, signal_buffer **output, void *user_data)
{
	const guint8 *digest = gcry_md_read(ctx, GCRY_MD_SHA512);

	if (digest == NULL)
		return SG_ERR_UNKNOWN;
	*output = signal_buffer_create(digest, 64);
	gcry_md_reset(ctx);
	return *output != NULL ? 0 : SG_ERR_NOMEM;
}

static void
sha512_cleanup(void *ctx, void *user_data)
{
	if (ctx != NULL)
		gcry_md_close(ctx);
}

static int
aes_algo(size_t key_len)
{
	switch (key_len) {
	case 16:
		return GCRY_CIPHER_AES128;
	case 24:
		return GCRY_CIPHER_AES192;
	case 32:
		return GCRY_CIPHER_AES256;
	default:
		return 0;
	}
}

/* AES-CBC with PKCS#7 padding (done here: gcrypt has none) or AES-CTR. */
static int
aes_run(gboolean encrypt, signal_buffer **output, int cipher,
	const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
	const uint8_t *in, size_t in_len)
{
	int algo = aes_algo(key_len);
	gboolean cbc = cipher == SG_CIPHER_AES_CBC_PKCS5;
	gcry_cipher_hd_t hd = NULL;
	guint8 *buf = NULL;
	size_t len = in_len, out_len;
	int ret = SG_ERR_UNKNOWN;

	if (algo == 0 || iv_len != 16 ||
	    (!cbc && cipher != SG_CIPHER_AES_CTR_NOPADDING))
		return SG_ERR_INVAL;
	if (cbc && encrypt)
		len = (in_len / 16 + 1) * 16;
	if (cbc && !encrypt && (in_len == 0 || in_len % 16 != 0))
		return SG_ERR_INVAL;
	buf = gcry_malloc_secure(len);
	if (buf == NULL)
		return SG_ERR_NOMEM;
	memcpy(buf, in, in_len);
	if (cbc && encrypt)
		memset(buf + in_len, (int)(len - in_len), len - in_len);
	if (gcry_cipher_open(&hd, algo,
			     cbc ? GCRY_CIPHER_MODE_CBC : GCRY_CIPHER_MODE_CTR,
			     GCRY_CIPHER_SECURE) != 0 ||
	    gcry_cipher_setkey(hd, key, key_len) != 0 ||
	    (cbc ? gcry_cipher_setiv(hd, iv, iv_len)
		 : gcry_cipher_setctr(hd, iv, iv_len)) != 0)
		goto out;
	if ((encrypt ? gcry_cipher_encrypt(hd, buf, len, NULL, 0)
		     : gcry_cipher_decrypt(hd, buf, len, NULL, 0)) != 0)
		goto out;
	out_len = len;
	if (cbc && !encrypt) {
		guint8 pad = buf[len - 1];

		if (pad == 0 || pad > 16)
			goto out;
		for (size_t i = len - pad; i < len; i++)
			if (buf[i] != pad)
				goto out;
		out_len = len - pad;
	}
	*output = signal_buffer_create(buf, out_len);
	ret = *output != NULL ? 0 : SG_ERR_NOMEM;
out:
	if (hd != NULL)
		gcry_cipher_close(hd);
	gcry_free(buf);
	return ret;
}

static int
encrypt_func(signal_buffer **output, int cipher, const uint8_t *key,
	     size_t key_len, const uint8_t *iv, size_t iv_len,
	     const uint8_t *plaintext, size_t plaintext_len, void *user_data)
{
	return aes_run(TRUE, output, cipher, key, key_len, iv, iv_len,
		       plaintext, plaintext_len);
}

static int
decrypt_func(signal_buffer **output, int cipher, const uint8_t *key,
	     size_t key_len, const uint8_t *iv, size_t iv_len,
	     const uint8_t *ciphertext, size_t ciphertext_len, void *user_data)
{
	return aes_run(FALSE, output, cipher, key, key_len, iv, iv_len,
		       ciphertext, ciphertext_len);
}

gboolean
pxm_omemo_crypto_install(signal_context *context)
{
	signal_crypto_provider provider = {
		.random_func = random_func,
		.hmac_sha256_init_func = hmac_init,
		.hmac_sha256_update_func = hmac_update,
		.hmac_sha256_final_func = hmac_final,
		.hmac_sha256_cleanup_func = hmac_cleanup,
		.sha512_digest_init_func = sha512_init,
		.sha512_digest_update_func = sha512_update,
		.sha512_digest_final_func = sha512_final,
		.sha512_digest_cleanup_func = sha512_cleanup,
		.encrypt_func = encrypt_func,
		.decrypt_func = decrypt_func,
	};

	return signal_context_set_crypto_provider(context, &provider) == 0;
}

/* --- Primitives -------------------------------------------------------- */

static gboolean
hmac_sha256(const guint8 *key, gsize key_len, const guint8 *data, gsize len,
	    guint8 out[32])
{
	gcry_mac_hd_t hd;
	size_t out_len = 32;
	gboolean ok;

	if (gcry_mac_open(&hd, GCRY_MAC_HMAC_SHA256, GCRY_MAC_FLAG_SECURE,
			  NULL) != 0)
		return FALSE;
	ok = gcry_mac_setkey(hd, key, key_len) == 0 &&
	     gcry_mac_write(hd, data, len) == 0 &&
	     gcry_mac_read(hd, out, &out_len) == 0;
	gcry_mac_close(hd);
	return ok;
}

gboolean
pxm_omemo_hkdf_sha256(const guint8 *ikm, gsize ikm_len, const guint8 *salt,
		      gsize salt_len, const char *info, guint8 *out,
		      gsize out_len)
{
	g_autoptr(PxmSecret) prk = pxm_secret_new(32);
	g_autoptr(PxmSecret) block = pxm_secret_new(32 + strlen(info) + 1);
	guint8 zero[32] = { 0 };
	gsize info_len = strlen(info), done = 0, t_len = 0;

	if (out_len > 255 * 32)
		return FALSE;
	if (salt == NULL || salt_len == 0) {
		salt = zero;
		salt_len = sizeof(zero);
	}
	if (!hmac_sha256(salt, salt_len, ikm, ikm_len, prk->data))
		return FALSE;
	for (guint8 i = 1; done < out_len; i++) {
		guint8 t[32];
		gsize n;

		/* T(i) = HMAC(PRK, T(i-1) | info | i) */
		memcpy(block->data + t_len, info, info_len);
		block->data[t_len + info_len] = i;
		if (!hmac_sha256(prk->data, 32, block->data,
				 t_len + info_len + 1, t))
			return FALSE;
		n = MIN(32, out_len - done);
		memcpy(out + done, t, n);
		done += n;
		memcpy(block->data, t, 32);
		t_len = 32;
		gcry_create_nonce(t, sizeof(t));
	}
	return TRUE;
}

static gcry_cipher_hd_t
gcm_open(const guint8 *key, gsize key_len, const guint8 *iv)
{
	gcry_cipher_hd_t hd;
	int algo = key_len == 16   ? GCRY_CIPHER_AES128
		   : key_len == 32 ? GCRY_CIPHER_AES256
				   : 0;

	if (algo == 0 || gcry_cipher_open(&hd, algo, GCRY_CIPHER_MODE_GCM,
					  GCRY_CIPHER_SECURE) != 0)
		return NULL;
	if (gcry_cipher_setkey(hd, key, key_len) != 0 ||
	    gcry_cipher_setiv(hd, iv, 12) != 0) {
		gcry_cipher_close(hd);
		return NULL;
	}
	return hd;
}

GBytes *
pxm_omemo_aes_gcm_encrypt(const guint8 *key, gsize key_len, const guint8 *iv,
			  const guint8 *plain, gsize plain_len, guint8 *tag)
{
	gcry_cipher_hd_t hd = gcm_open(key, key_len, iv);
	guint8 *out;

	if (hd == NULL)
		return NULL;
	out = g_malloc(plain_len > 0 ? plain_len : 1);
	if (gcry_cipher_final(hd) != 0 ||
	    gcry_cipher_encrypt(hd, out, plain_len, plain, plain_len) != 0 ||
	    gcry_cipher_gettag(hd, tag, 16) != 0) {
		gcry_cipher_close(hd);
		g_free(out);
		return NULL;
	}
	gcry_cipher_close(hd);
	return g_bytes_new_take(out, plain_len);
}

PxmSecret *
pxm_omemo_aes_gcm_decrypt(const guint8 *key, gsize key_len, const guint8 *iv,
			  const guint8 *cipher, gsize cipher_len,
			  const guint8 *tag, GError **error)
{
	gcry_cipher_hd_t hd = gcm_open(key, key_len, iv);
	g_autoptr(PxmSecret) out = NULL;
	gcry_error_t err;

	if (hd == NULL) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_CRYPTO, "AES-GCM setup");
		return NULL;
	}
	out = pxm_secret_new(cipher_len);
	err = gcry_cipher_final(hd);
	if (err == 0)
		err = gcry_cipher_decrypt(hd, out->data, cipher_len, cipher,
					  cipher_len);
	if (err == 0)
		err = gcry_cipher_checktag(hd, tag, 16);
	gcry_cipher_close(hd);
	if (err != 0) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_AUTH,
				    "authentication tag mismatch");
		return NULL;
	}
	return g_steal_pointer(&out);
}

/* --- Payloads ----------------------------------------------------------- */

void
pxm_omemo_payload_clear(PxmOmemoPayload *p)
{
	g_clear_pointer(&p->key_material, pxm_secret_free);
	g_clear_pointer(&p->payload, g_bytes_unref);
	memset(p->iv, 0, sizeof(p->iv));
}

gboolean
pxm_omemo_payload_encrypt_v3(const guint8 *plain, gsize plain_len,
			     const guint8 *key, const guint8 *iv,
			     PxmOmemoPayload *out, GError **error)
{
	g_autoptr(PxmSecret) km =
		pxm_secret_new(PXM_OMEMO_V3_KEY_LEN + PXM_OMEMO_V3_TAG_LEN);

	memset(out, 0, sizeof(*out));
	if (key != NULL) {
		memcpy(km->data, key, PXM_OMEMO_V3_KEY_LEN);
		memcpy(out->iv, iv, PXM_OMEMO_V3_IV_LEN);
	} else {
		pxm_omemo_random(km->data, PXM_OMEMO_V3_KEY_LEN);
		gcry_create_nonce(out->iv, PXM_OMEMO_V3_IV_LEN);
	}
	out->payload = pxm_omemo_aes_gcm_encrypt(
		km->data, PXM_OMEMO_V3_KEY_LEN, out->iv, plain, plain_len,
		km->data + PXM_OMEMO_V3_KEY_LEN);
	if (out->payload == NULL) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_CRYPTO, "AES-GCM failed");
		return FALSE;
	}
	out->key_material = g_steal_pointer(&km);
	return TRUE;
}

PxmSecret *
pxm_omemo_payload_decrypt_v3(const guint8 *km, gsize km_len, const guint8 *iv,
			     gsize iv_len, const guint8 *payload,
			     gsize payload_len, GError **error)
{
	/* XEP-0384 0.3.0 section 4.5: the key element carries key ‖ tag;
	 * older clients sent a 16-byte key with the tag after the payload. */
	if (iv_len != PXM_OMEMO_V3_IV_LEN ||
	    (km_len != PXM_OMEMO_V3_KEY_LEN + PXM_OMEMO_V3_TAG_LEN &&
	     km_len != PXM_OMEMO_V3_KEY_LEN) ||
	    (km_len == PXM_OMEMO_V3_KEY_LEN &&
	     payload_len < PXM_OMEMO_V3_TAG_LEN)) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_MALFORMED,
				    "legacy key or IV of the wrong size");
		return NULL;
	}
	if (km_len == PXM_OMEMO_V3_KEY_LEN)
		return pxm_omemo_aes_gcm_decrypt(
			km, PXM_OMEMO_V3_KEY_LEN, iv, payload,
			payload_len - PXM_OMEMO_V3_TAG_LEN,
			payload + payload_len - PXM_OMEMO_V3_TAG_LEN, error);
	return pxm_omemo_aes_gcm_decrypt(km, PXM_OMEMO_V3_KEY_LEN, iv, payload,
					 payload_len, km + PXM_OMEMO_V3_KEY_LEN,
					 error);
}

/* Constant time: a MAC compare must not tell how much matched. */
static gboolean
equal_ct(const guint8 *a, const guint8 *b, gsize len)
{
	guint8 diff = 0;

	for (gsize i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* enc(32) ‖ auth(32) ‖ iv(16) */
static PxmSecret *
v4_derive(const guint8 *key)
{
	PxmSecret *okm = pxm_secret_new(80);

	if (!pxm_omemo_hkdf_sha256(key, PXM_OMEMO_V4_KEY_LEN, NULL, 0,
				   "OMEMO Payload", okm->data, 80)) {
		pxm_secret_free(okm);
		return NULL;
	}
	return okm;
}

gboolean
pxm_omemo_payload_encrypt_v4(const guint8 *plain, gsize plain_len,
			     const guint8 *key, PxmOmemoPayload *out,
			     GError **error)
{
	g_autoptr(PxmSecret) km =
		pxm_secret_new(PXM_OMEMO_V4_KEY_LEN + PXM_OMEMO_V4_TAG_LEN);
	g_autoptr(PxmSecret) okm = NULL;
	signal_buffer *ct = NULL;
	guint8 mac[32];

	memset(out, 0, sizeof(*out));
	if (key != NULL)
		memcpy(km->data, key, PXM_OMEMO_V4_KEY_LEN);
	else
		pxm_omemo_random(km->data, PXM_OMEMO_V4_KEY_LEN);
	okm = v4_derive(km->data);
	if (okm == NULL ||
	    aes_run(TRUE, &ct, SG_CIPHER_AES_CBC_PKCS5, okm->data, 32,
		    okm->data + 64, 16, plain, plain_len) != 0 ||
	    !hmac_sha256(okm->data + 32, 32, signal_buffer_data(ct),
			 signal_buffer_len(ct), mac)) {
		signal_buffer_free(ct);
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_CRYPTO,
				    "OMEMO 2 payload encryption failed");
		return FALSE;
	}
	memcpy(km->data + PXM_OMEMO_V4_KEY_LEN, mac, PXM_OMEMO_V4_TAG_LEN);
	out->payload = g_bytes_new(signal_buffer_data(ct),
				   signal_buffer_len(ct));
	signal_buffer_free(ct);
	out->key_material = g_steal_pointer(&km);
	return TRUE;
}

PxmSecret *
pxm_omemo_payload_decrypt_v4(const guint8 *km, gsize km_len,
			     const guint8 *payload, gsize payload_len,
			     GError **error)
{
	g_autoptr(PxmSecret) okm = NULL;
	signal_buffer *plain = NULL;
	PxmSecret *out;
	guint8 mac[32];

	if (km_len != PXM_OMEMO_V4_KEY_LEN + PXM_OMEMO_V4_TAG_LEN ||
	    payload_len == 0 || payload_len % 16 != 0) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_MALFORMED,
				    "OMEMO 2 key or payload of the wrong size");
		return NULL;
	}
	okm = v4_derive(km);
	if (okm == NULL ||
	    !hmac_sha256(okm->data + 32, 32, payload, payload_len, mac)) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_CRYPTO, "HKDF failed");
		return NULL;
	}
	/* XEP-0384 section 4.4: verify the HMAC before decrypting. */
	if (!equal_ct(mac, km + PXM_OMEMO_V4_KEY_LEN, PXM_OMEMO_V4_TAG_LEN)) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_AUTH, "HMAC mismatch");
		return NULL;
	}
	if (aes_run(FALSE, &plain, SG_CIPHER_AES_CBC_PKCS5, okm->data, 32,
		    okm->data + 64, 16, payload, payload_len) != 0) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_MALFORMED, "bad padding");
		return NULL;
	}
	out = pxm_secret_new_from(signal_buffer_data(plain),
				  signal_buffer_len(plain));
	signal_buffer_bzero_free(plain);
	return out;
}

char *
pxm_omemo_fingerprint_dup(const guint8 *key, gsize len)
{
	GString *out = g_string_new(NULL);

	for (gsize i = 0; i < len; i++) {
		if (i > 0 && i % 4 == 0)
			g_string_append_c(out, ' ');
		g_string_append_printf(out, "%02x", key[i]);
	}
	return g_string_free(out, FALSE);
}

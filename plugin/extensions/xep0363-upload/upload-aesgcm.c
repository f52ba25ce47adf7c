// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0454: OMEMO Media Sharing.  aesgcm://host/path#<iv><key> links and
 * AES-256-GCM over a stream (the file is never whole in memory; the tag
 * follows the ciphertext).
 */
#include "xep0363-upload.h"

#include <gcrypt.h>
#include <string.h>

struct PxmAesgcm {
	gcry_cipher_hd_t hd;
	gboolean encrypt;
};

void
pxm_aesgcm_random(guint8 *buf, gsize len)
{
	gcry_randomize(buf, len, GCRY_STRONG_RANDOM);
}

PxmAesgcm *
pxm_aesgcm_new(const guint8 key[32], const guint8 *iv, gsize iv_len,
	       gboolean encrypt, GError **error)
{
	PxmAesgcm *ctx = g_new0(PxmAesgcm, 1);
	gcry_error_t err;

	ctx->encrypt = encrypt;
	err = gcry_cipher_open(&ctx->hd, GCRY_CIPHER_AES256,
			       GCRY_CIPHER_MODE_GCM, GCRY_CIPHER_SECURE);
	if (err == 0)
		err = gcry_cipher_setkey(ctx->hd, key, PXM_AESGCM_KEY_LEN);
	if (err == 0)
		err = gcry_cipher_setiv(ctx->hd, iv, iv_len);
	if (err != 0) {
		g_set_error(error, PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_INTEGRITY,
			    "AES-GCM: %s", gcry_strerror(err));
		pxm_aesgcm_free(ctx);
		return NULL;
	}
	return ctx;
}

gboolean
pxm_aesgcm_update(PxmAesgcm *ctx, guint8 *buf, gsize len)
{
	gcry_error_t err;

	if (len == 0)
		return TRUE;
	if (ctx->encrypt)
		err = gcry_cipher_encrypt(ctx->hd, buf, len, NULL, 0);
	else
		err = gcry_cipher_decrypt(ctx->hd, buf, len, NULL, 0);
	return err == 0;
}

void
pxm_aesgcm_tag(PxmAesgcm *ctx, guint8 tag[16])
{
	gcry_cipher_gettag(ctx->hd, tag, PXM_AESGCM_TAG_LEN);
}

gboolean
pxm_aesgcm_check_tag(PxmAesgcm *ctx, const guint8 tag[16])
{
	/* gcry_cipher_checktag compares in constant time. */
	return gcry_cipher_checktag(ctx->hd, tag, PXM_AESGCM_TAG_LEN) == 0;
}

void
pxm_aesgcm_free(PxmAesgcm *ctx)
{
	if (ctx == NULL)
		return;
	/* gcry_cipher_close wipes the (secure memory) key schedule. */
	if (ctx->hd != NULL)
		gcry_cipher_close(ctx->hd);
	g_free(ctx);
}

/* --- Links ------------------------------------------------------------ */

char *
pxm_aesgcm_url_build(const char *https_url, const guint8 *iv, gsize iv_len,
		     const guint8 key[32])
{
	GString *out = g_string_new("aesgcm://");
	const char *rest;

	g_return_val_if_fail(g_str_has_prefix(https_url, "https://"), NULL);
	rest = https_url + strlen("https://");
	/* The fragment is ours: drop any the server put in the GET URL. */
	g_string_append_len(out, rest, strcspn(rest, "#"));
	g_string_append_c(out, '#');
	for (gsize i = 0; i < iv_len; i++)
		g_string_append_printf(out, "%02x", iv[i]);
	for (gsize i = 0; i < PXM_AESGCM_KEY_LEN; i++)
		g_string_append_printf(out, "%02x", key[i]);
	return g_string_free(out, FALSE);
}

static gboolean
hex_decode(const char *hex, guint8 *out, gsize len)
{
	for (gsize i = 0; i < len; i++) {
		int hi = g_ascii_xdigit_value(hex[2 * i]);
		int lo = g_ascii_xdigit_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return FALSE;
		out[i] = (guint8)(hi << 4 | lo);
	}
	return TRUE;
}

gboolean
pxm_aesgcm_url_parse(const char *url, char **https_url, guint8 iv[16],
		     gsize *iv_len, guint8 key[32])
{
	const char *rest, *hash, *fragment;
	gsize host_len, frag_len;

	if (url == NULL ||
	    g_ascii_strncasecmp(url, "aesgcm://", strlen("aesgcm://")) != 0)
		return FALSE;
	rest = url + strlen("aesgcm://");
	hash = strchr(rest, '#');
	if (hash == NULL)
		return FALSE;
	host_len = strcspn(rest, "/#");
	if (host_len == 0)
		return FALSE;
	/* Nothing that would change the request or hide in the link. */
	for (const char *p = rest; p < hash; p++)
		if ((guchar)*p <= ' ' || *p == '\\' || *p == '@')
			return FALSE;
	fragment = hash + 1;
	frag_len = strlen(fragment);
	/* XEP-0454 section 3: a 12-byte IV (24 hex digits) and a 32-byte key
	 * (64); older clients used 16-byte IVs (32 hex digits). */
	if (frag_len == 2 * (12 + PXM_AESGCM_KEY_LEN))
		*iv_len = 12;
	else if (frag_len == 2 * (16 + PXM_AESGCM_KEY_LEN))
		*iv_len = 16;
	else
		return FALSE;
	if (!hex_decode(fragment, iv, *iv_len) ||
	    !hex_decode(fragment + 2 * *iv_len, key, PXM_AESGCM_KEY_LEN)) {
		memset(key, 0, PXM_AESGCM_KEY_LEN);
		return FALSE;
	}
	*https_url = g_strdup_printf("https://%.*s", (int)(hash - rest), rest);
	return TRUE;
}

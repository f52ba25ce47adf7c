// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0363 HTTP File Upload, XEP-0066 OOB links and XEP-0454 encrypted
 * media: what the parts of the extension share (and the unit tests use).
 *
 * xep0363-upload.c   the extension: discovery, slots, stages, /upload
 * upload-http.c      the HTTP client (libcurl on the GLib main loop)
 * upload-aesgcm.c    aesgcm:// links and streaming AES-256-GCM
 * upload-xfer.c      PurpleXfer glue: uploads and downloads
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

#define PXM_UPLOAD_ID "xep0363-upload"

/* The account setting (declared in the manifest) saying when Send File
 * uses HTTP upload, and its values: "auto" is when the contact cannot take
 * a direct transfer. */
#define PXM_UPLOAD_SETTING_MODE "xmpp-modern-upload-mode"
#define PXM_UPLOAD_MODE_ALWAYS "always"
#define PXM_UPLOAD_MODE_AUTO "auto"
#define PXM_UPLOAD_MODE_NEVER "never"

/* Plugin pref: a PEM file of extra trusted CAs for HTTPS (added to the
 * system trust store; the tests' private CA). */
#define PXM_UPLOAD_PREF_DIR "/plugins/core/core-xmpp-modern/upload"
#define PXM_UPLOAD_PREF_CA_FILE PXM_UPLOAD_PREF_DIR "/ca-file"

/** Errors of uploads and downloads, for the user. */
#define PXM_UPLOAD_ERROR (pxm_upload_error_quark())
GQuark pxm_upload_error_quark(void);

typedef enum {
	PXM_UPLOAD_ERROR_NO_SERVICE,  /* the server offers no upload */
	PXM_UPLOAD_ERROR_TOO_LARGE,   /* over the service's max-file-size */
	PXM_UPLOAD_ERROR_SLOT,        /* slot refused or malformed */
	PXM_UPLOAD_ERROR_HTTP,        /* HTTP status not 2xx */
	PXM_UPLOAD_ERROR_NETWORK,     /* connection, TLS, timeout */
	PXM_UPLOAD_ERROR_INTEGRITY,   /* aesgcm tag mismatch */
	PXM_UPLOAD_ERROR_DISCONNECTED /* the account went offline */
} PxmUploadError;

/* --- Slots (xep0363-upload.c) ----------------------------------------- */

/**
 * PxmUploadSlot: a slot the service gave (section 5).
 * @headers: "Name: value" lines to send with the PUT, only the allowed
 *   names, newlines stripped, in the order given
 */
typedef struct {
	char *put_url;
	char *get_url;
	GPtrArray *headers;
} PxmUploadSlot;

void pxm_upload_slot_free(PxmUploadSlot *slot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmUploadSlot, pxm_upload_slot_free)

/**
 * pxm_upload_slot_request_new:
 * @service: the upload service's JID
 * @filename: the file's name (no directory)
 * @content_type: (nullable)
 *
 * Returns: (transfer full): the slot request IQ (section 5).
 */
xmlnode *pxm_upload_slot_request_new(const char *service, const char *filename,
				     guint64 size, const char *content_type);

/**
 * pxm_upload_slot_parse:
 * @result: the IQ result
 *
 * Returns: (transfer full) (nullable): the slot; NULL with @error set when
 * it breaks the XEP (URLs missing or not https).
 */
PxmUploadSlot *pxm_upload_slot_parse(xmlnode *result, GError **error);

/**
 * pxm_upload_service_parse:
 * @query: a disco#info <query/>
 * @max_size: (out): the service's max-file-size, 0 for no limit
 *
 * Returns: TRUE if @query announces urn:xmpp:http:upload:0.
 */
gboolean pxm_upload_service_parse(xmlnode *query, guint64 *max_size);

/**
 * pxm_upload_check_size:
 * @max_size: 0 for no limit
 *
 * Returns: FALSE with PXM_UPLOAD_ERROR_TOO_LARGE (a message naming both
 * sizes) when @size is over @max_size or the file is empty.
 */
gboolean pxm_upload_check_size(guint64 size, guint64 max_size, GError **error);

/**
 * pxm_upload_filename_from_url:
 * @url: an http(s) URL
 *
 * A safe name to save a downloaded file under: the last segment of the
 * URL's path, percent-decoded, without control characters, slashes,
 * backslashes or leading dots, at most 200 bytes (extension kept), valid
 * UTF-8.
 *
 * Returns: (transfer full): the name ("download" when nothing is left).
 */
char *pxm_upload_filename_from_url(const char *url);

/**
 * pxm_upload_link_parse:
 * @message: an incoming <message/>
 * @body: (nullable): its plaintext body (decrypted, when it was)
 * @url: (out) (transfer full): the http(s) URL to fetch
 * @key: (out caller-allocates): for aesgcm links, the key
 * @iv: (out caller-allocates): for aesgcm links, the IV (16 bytes room)
 * @iv_len: (out): 0 for a plain link, else 12 or 16
 *
 * Whether @message carries a file link to offer: a body that is exactly an
 * aesgcm:// link, or exactly an http(s) URL that an OOB element (XEP-0066)
 * repeats.
 */
gboolean pxm_upload_link_parse(xmlnode *message, const char *body, char **url,
			       guint8 key[32], guint8 iv[16], gsize *iv_len);

/**
 * pxm_upload_add_oob:
 * Adds <x xmlns='jabber:x:oob'><url>@url</url></x> to @message unless it
 * already has an OOB element (idempotent: the prpl re-sends).
 */
void pxm_upload_add_oob(xmlnode *message, const char *url);

/** pxm_upload_format_size: (transfer full): e.g. "16.0 MiB" (translated) */
char *pxm_upload_format_size(guint64 size);

/* --- aesgcm (upload-aesgcm.c) ----------------------------------------- */

#define PXM_AESGCM_KEY_LEN 32
#define PXM_AESGCM_IV_LEN 12
#define PXM_AESGCM_TAG_LEN 16

/**
 * pxm_aesgcm_url_build:
 * @https_url: the GET URL of the uploaded ciphertext
 *
 * Returns: (transfer full): aesgcm://host/path#<hex iv><hex key>
 */
char *pxm_aesgcm_url_build(const char *https_url, const guint8 *iv,
			   gsize iv_len, const guint8 key[32]);

/**
 * pxm_aesgcm_url_parse:
 * @https_url: (out) (transfer full): where the ciphertext is
 * @iv_len: (out): 12 or 16
 *
 * Returns: FALSE when @url is not a well-formed aesgcm:// link (no host,
 * a fragment that is not 88 or 96 hex digits, a query).
 */
gboolean pxm_aesgcm_url_parse(const char *url, char **https_url, guint8 iv[16],
			      gsize *iv_len, guint8 key[32]);

typedef struct PxmAesgcm PxmAesgcm;

/**
 * pxm_aesgcm_new:
 * @encrypt: TRUE to encrypt, FALSE to decrypt
 *
 * Returns: (transfer full) (nullable): a streaming AES-256-GCM context
 * (the key in gcrypt secure memory); NULL with @error if libgcrypt fails.
 */
PxmAesgcm *pxm_aesgcm_new(const guint8 key[32], const guint8 *iv, gsize iv_len,
			  gboolean encrypt, GError **error);

/** pxm_aesgcm_update: en- or decrypts @len bytes of @buf in place. */
gboolean pxm_aesgcm_update(PxmAesgcm *ctx, guint8 *buf, gsize len);

/** pxm_aesgcm_tag: the tag after the last update (encryption). */
void pxm_aesgcm_tag(PxmAesgcm *ctx, guint8 tag[16]);

/** pxm_aesgcm_check_tag: TRUE if @tag authenticates what was decrypted. */
gboolean pxm_aesgcm_check_tag(PxmAesgcm *ctx, const guint8 tag[16]);

/** pxm_aesgcm_free: wipes and frees. */
void pxm_aesgcm_free(PxmAesgcm *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmAesgcm, pxm_aesgcm_free)

/**
 * pxm_aesgcm_random:
 * Fills @buf with @len random bytes (GCRY_STRONG_RANDOM).
 */
void pxm_aesgcm_random(guint8 *buf, gsize len);

/* --- HTTP (upload-http.c) --------------------------------------------- */

typedef struct PxmHttp PxmHttp;

/* Returns how many bytes of @buf it filled, 0 at the end, -1 to abort. */
typedef gssize (*PxmHttpReadFunc)(guint8 *buf, gsize len, gpointer data);
/* Returns FALSE to abort. */
typedef gboolean (*PxmHttpWriteFunc)(const guint8 *buf, gsize len,
				     gpointer data);
/* The response headers arrived (status, Content-Length or -1).  Return
 * FALSE to abort. */
typedef gboolean (*PxmHttpHeadersFunc)(long status, gint64 length,
				       gpointer data);
/* Called once at the end unless cancelled: @error is NULL on a 2xx. */
typedef void (*PxmHttpDoneFunc)(long status, const GError *error,
				gpointer data);

/**
 * PxmHttpRequest:
 * @method: "PUT", "GET" or "HEAD"
 * @url: http(s) URL (PUT: https only)
 * @headers: (nullable): extra "Name: value" lines
 * @account: (nullable): whose proxy settings apply (NULL: no proxy)
 * @body_size: PUT: the exact size @read will give
 */
typedef struct {
	const char *method;
	const char *url;
	GPtrArray *headers;
	PurpleAccount *account;
	guint64 body_size;
	PxmHttpReadFunc read;
	PxmHttpHeadersFunc headers_cb;
	PxmHttpWriteFunc write;
	PxmHttpDoneFunc done;
	gpointer user_data;
	GDestroyNotify destroy;
} PxmHttpRequest;

/**
 * pxm_http_start:
 *
 * Starts a request on the main loop.  Redirects (GET/HEAD only, at most 5)
 * are followed only https->https or to the same origin.  TLS is verified
 * against the system trust store plus PXM_UPLOAD_PREF_CA_FILE.
 *
 * Returns: (transfer none): the request, valid until done is called or
 * pxm_http_cancel(); @destroy runs after either.
 */
PxmHttp *pxm_http_start(const PxmHttpRequest *request);

/** pxm_http_cancel: stops the request; done is not called. */
void pxm_http_cancel(PxmHttp *http);

/**
 * pxm_http_proxy_url:
 * @info: (nullable): libpurple proxy settings (purple_proxy_get_setup())
 *
 * Returns: (transfer full): the proxy for libcurl: "" for none (which also
 * ignores *_proxy environment variables), socks5h:// for SOCKS5 and Tor
 * (names resolved by the proxy: no DNS leak), socks4a:// or socks4://,
 * http://.
 */
char *pxm_http_proxy_url(PurpleProxyInfo *info);

/** pxm_http_redirect_allowed: the redirect policy (see pxm_http_start). */
gboolean pxm_http_redirect_allowed(const char *from, const char *to);

/** pxm_http_shutdown: cancels everything; frees the curl multi handle. */
void pxm_http_shutdown(void);

/* --- Transfers (upload-xfer.c) ---------------------------------------- */

typedef struct PxmUploadState PxmUploadState;

/**
 * pxm_upload_xfer_send_new:
 * @who: a contact (bare or full JID) or a room
 * @groupchat: TRUE when @who is a room
 *
 * Returns: (transfer full): a PurpleXfer of type SEND whose init uploads
 * the chosen file and then sends its link to @who.
 */
PurpleXfer *pxm_upload_xfer_send_new(PxmAccount *account, PxmUploadState *state,
				     const char *who, gboolean groupchat);

/**
 * pxm_upload_offer:
 * Offers to download a link that @from sent (a PurpleXfer of type
 * RECEIVE, after a HEAD request for its size).
 */
void pxm_upload_offer(PxmAccount *account, PxmUploadState *state,
		      const char *from, const char *url, const guint8 *key,
		      const guint8 *iv, gsize iv_len);

/** pxm_upload_xfers_cancel_all: the account goes offline. */
void pxm_upload_xfers_cancel_all(PxmUploadState *state);

/* What the transfers need from the extension (xep0363-upload.c). */

/** The upload service, NULL when none (yet). */
const char *pxm_upload_state_service(PxmUploadState *state, guint64 *max_size,
				     gboolean *searching);

/** GList of transfers in flight (owned by the state). */
GList **pxm_upload_state_xfers(PxmUploadState *state);

/**
 * pxm_upload_request_slot:
 * Asks the service for a slot; @callback gets it or an error, once.
 */
typedef void (*PxmSlotCallback)(PxmUploadSlot *slot, const GError *error,
				gpointer data);
void pxm_upload_request_slot(PxmAccount *account, PxmUploadState *state,
			     const char *filename, guint64 size,
			     const char *content_type, PxmSlotCallback callback,
			     gpointer data, GDestroyNotify destroy);

/**
 * pxm_upload_is_encrypted:
 * @jid: (nullable): a contact or room, any form
 * Returns: TRUE if messages to @jid are end-to-end encrypted now (then
 * files are sent as aesgcm:// links).
 */
gboolean pxm_upload_is_encrypted(PxmAccount *account, const char *jid);

/* How long a file sent before discovery ended waits for it. */
#define PXM_UPLOAD_WAIT_TIMEOUT_MS (30 * 1000)

/**
 * PxmUploadReadyFunc:
 * @error: NULL once discovery has an answer (then
 *   pxm_upload_state_service() tells the service, or NULL for none);
 *   set when it took too long or the account went offline
 */
typedef void (*PxmUploadReadyFunc)(PxmUploadState *state, const GError *error,
				   gpointer data);

/**
 * pxm_upload_when_ready:
 * Calls @callback once the upload service is known or discovery has
 * ended: at once when it already is, else later (at most
 * PXM_UPLOAD_WAIT_TIMEOUT_MS later, with an error), or with an error when
 * the extension stops.  @destroy runs after it.
 */
void pxm_upload_when_ready(PxmUploadState *state, PxmUploadReadyFunc callback,
			   gpointer data, GDestroyNotify destroy);

/** For tests: how long pxm_upload_when_ready() waits at most. */
void pxm_upload_state_set_wait_timeout(PxmUploadState *state, guint ms);

/** Remembers a GET URL we just uploaded: its message gets an OOB element. */
void pxm_upload_state_remember_link(PxmUploadState *state, const char *url);

G_END_DECLS

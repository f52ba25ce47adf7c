// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The HTTP client of uploads and downloads: libcurl's multi interface
 * driven by libpurple's event loop (purple_input_add/purple_timeout_add).
 *
 * Why libcurl and not libsoup-3: libsoup-3 aborts the process when
 * libsoup-2.4 is loaded in it too, and a Pidgin 2 process may well have
 * 2.4 (GStreamer's souphttpsrc picks the libsoup already loaded; older
 * plugins link 2.4): a plugin must not be able to crash Pidgin that way.
 * libcurl (Debian's GnuTLS build, like libpurple's own TLS) has no such
 * conflict, streams request and response bodies through callbacks, and
 * speaks every proxy kind libpurple knows, SOCKS5 with remote name
 * resolution included (Tor users do not leak DNS).
 */
#include "xep0363-upload.h"

#include <curl/curl.h>
#include <glib/gi18n-lib.h>
#include <string.h>

#define CONNECT_TIMEOUT_S 30
/* An idle transfer (less than 1 byte/s for this long) fails. */
#define IDLE_TIMEOUT_S 60
#define HEAD_TIMEOUT_S 30
#define MAX_REDIRECTS 5

struct PxmHttp {
	PxmHttpRequest req; /* strings below are our copies */
	char *method;
	char *url;
	GPtrArray *headers;
	CURL *easy;
	struct curl_slist *header_list;
	char errbuf[CURL_ERROR_SIZE];
	guint redirects;
	gboolean headers_seen;
	gboolean aborted;   /* a callback asked to stop */
	gboolean cancelled; /* pxm_http_cancel() */
	gboolean in_callback;
	gboolean finishing; /* done is running */
	guint start_timer;
	long status;
};

typedef struct {
	CURLM *multi;
	guint timer;
	GHashTable *sockets; /* fd -> watcher id */
	GList *requests;
	gboolean dispatching;
} Client;

static Client client;

static void check_done(void);
static void finish(PxmHttp *http, const GError *error);

static void
http_free(PxmHttp *http)
{
	if (http->start_timer != 0)
		purple_timeout_remove(http->start_timer);
	if (http->easy != NULL) {
		curl_multi_remove_handle(client.multi, http->easy);
		curl_easy_cleanup(http->easy);
	}
	curl_slist_free_all(http->header_list);
	if (http->req.destroy != NULL)
		http->req.destroy(http->req.user_data);
	g_free(http->method);
	g_free(http->url);
	if (http->headers != NULL)
		g_ptr_array_unref(http->headers);
	client.requests = g_list_remove(client.requests, http);
	g_free(http);
}

/* --- Event loop ------------------------------------------------------- */

static void
on_socket_event(gpointer data, gint fd, PurpleInputCondition cond)
{
	int mask = 0;
	int running;

	if (cond & PURPLE_INPUT_READ)
		mask |= CURL_CSELECT_IN;
	if (cond & PURPLE_INPUT_WRITE)
		mask |= CURL_CSELECT_OUT;
	curl_multi_socket_action(client.multi, fd, mask, &running);
	check_done();
}

static int
on_socket(CURL *easy, curl_socket_t fd, int what, void *data, void *sockp)
{
	PurpleInputCondition cond = 0;
	guint watcher;

	watcher = GPOINTER_TO_UINT(
		g_hash_table_lookup(client.sockets, GINT_TO_POINTER(fd)));
	if (watcher != 0) {
		purple_input_remove(watcher);
		g_hash_table_remove(client.sockets, GINT_TO_POINTER(fd));
	}
	if (what == CURL_POLL_REMOVE)
		return 0;
	if (what & CURL_POLL_IN)
		cond |= PURPLE_INPUT_READ;
	if (what & CURL_POLL_OUT)
		cond |= PURPLE_INPUT_WRITE;
	watcher = purple_input_add(fd, cond, on_socket_event, NULL);
	g_hash_table_insert(client.sockets, GINT_TO_POINTER(fd),
			    GUINT_TO_POINTER(watcher));
	return 0;
}

static gboolean
on_timeout(gpointer data)
{
	int running;

	client.timer = 0;
	curl_multi_socket_action(client.multi, CURL_SOCKET_TIMEOUT, 0,
				 &running);
	check_done();
	return FALSE;
}

static int
on_timer(CURLM *multi, long timeout_ms, void *data)
{
	if (client.timer != 0) {
		purple_timeout_remove(client.timer);
		client.timer = 0;
	}
	/* -1: no timer; 0: act now, but not from inside curl. */
	if (timeout_ms >= 0)
		client.timer = purple_timeout_add(MAX(timeout_ms, 1),
						  on_timeout, NULL);
	return 0;
}

static gboolean
client_ensure(void)
{
	if (client.multi != NULL)
		return TRUE;
	client.multi = curl_multi_init();
	if (client.multi == NULL)
		return FALSE;
	client.sockets = g_hash_table_new(NULL, NULL);
	curl_multi_setopt(client.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(client.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	return TRUE;
}

static void
remove_watcher(gpointer key, gpointer value, gpointer data)
{
	purple_input_remove(GPOINTER_TO_UINT(value));
}

void
pxm_http_shutdown(void)
{
	while (client.requests != NULL)
		pxm_http_cancel(client.requests->data);
	if (client.multi == NULL)
		return;
	if (client.timer != 0)
		purple_timeout_remove(client.timer);
	g_hash_table_foreach(client.sockets, remove_watcher, NULL);
	g_hash_table_unref(client.sockets);
	curl_multi_cleanup(client.multi);
	memset(&client, 0, sizeof(client));
}

/* --- Policy ----------------------------------------------------------- */

static char *
origin_dup(const char *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	const char *scheme;
	int port;

	if (uri == NULL || g_uri_get_host(uri) == NULL)
		return NULL;
	scheme = g_uri_get_scheme(uri);
	port = g_uri_get_port(uri);
	if (port < 0)
		port = g_ascii_strcasecmp(scheme, "https") == 0 ? 443 : 80;
	return g_strdup_printf("%s://%s:%d", scheme, g_uri_get_host(uri), port);
}

gboolean
pxm_http_redirect_allowed(const char *from, const char *to)
{
	g_autofree char *a = NULL;
	g_autofree char *b = NULL;

	if (from == NULL || to == NULL)
		return FALSE;
	/* Never downgrade; https to https anywhere, http only within its own
	 * origin (so a link cannot send us to a local service elsewhere). */
	if (g_ascii_strncasecmp(to, "https://", 8) == 0 &&
	    g_ascii_strncasecmp(from, "https://", 8) == 0)
		return TRUE;
	a = origin_dup(from);
	b = origin_dup(to);
	return a != NULL && b != NULL && g_ascii_strcasecmp(a, b) == 0 &&
	       g_ascii_strncasecmp(to, "http", 4) == 0;
}

char *
pxm_http_proxy_url(PurpleProxyInfo *info)
{
	const char *scheme;
	const char *host;
	int port;

	if (info == NULL)
		return g_strdup("");
	host = purple_proxy_info_get_host(info);
	port = purple_proxy_info_get_port(info);
	switch (purple_proxy_info_get_type(info)) {
	case PURPLE_PROXY_HTTP:
		scheme = "http";
		if (port <= 0)
			port = 8080;
		break;
	case PURPLE_PROXY_SOCKS4:
		/* As libpurple: names resolved by the proxy only if the user
		 * asked for it (SOCKS4a). */
		scheme =
			purple_prefs_exists("/purple/proxy/socks4_remotedns") &&
					purple_prefs_get_bool(
						"/purple/proxy/"
						"socks4_remotedns")
				? "socks4a"
				: "socks4";
		if (port <= 0)
			port = 1080;
		break;
	case PURPLE_PROXY_SOCKS5:
		scheme = "socks5h";
		if (port <= 0)
			port = 1080;
		break;
	case PURPLE_PROXY_TOR:
		/* Tor: the proxy resolves every name (no DNS leak). */
		scheme = "socks5h";
		if (port <= 0)
			port = 9050;
		break;
	default:
		/* "" also stops libcurl from reading *_proxy variables:
		 * libpurple has already decided (PURPLE_PROXY_USE_ENVVAR is
		 * resolved by purple_proxy_get_setup()). */
		return g_strdup("");
	}
	if (host == NULL || *host == '\0')
		return g_strdup("");
	if (strchr(host, ':') != NULL)
		return g_strdup_printf("%s://[%s]:%d", scheme, host, port);
	return g_strdup_printf("%s://%s:%d", scheme, host, port);
}

/* --- Callbacks -------------------------------------------------------- */

static size_t
on_read(char *buf, size_t size, size_t nitems, void *data)
{
	PxmHttp *http = data;
	gssize n;

	if (http->cancelled || http->aborted)
		return CURL_READFUNC_ABORT;
	http->in_callback = TRUE;
	n = http->req.read((guint8 *)buf, size * nitems, http->req.user_data);
	http->in_callback = FALSE;
	if (n < 0 || http->cancelled) {
		http->aborted = TRUE;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static gboolean
headers_done(PxmHttp *http)
{
	curl_off_t length = -1;
	gboolean ok = TRUE;

	if (http->headers_seen)
		return TRUE;
	http->headers_seen = TRUE;
	curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &http->status);
	curl_easy_getinfo(http->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			  &length);
	if (http->req.headers_cb != NULL && http->status / 100 == 2) {
		http->in_callback = TRUE;
		ok = http->req.headers_cb(http->status, (gint64)length,
					  http->req.user_data);
		http->in_callback = FALSE;
	}
	return ok && !http->cancelled;
}

static size_t
on_header(char *buf, size_t size, size_t nitems, void *data)
{
	PxmHttp *http = data;
	gsize len = size * nitems;

	/* The blank line ends a response's headers (also of 1xx and 3xx,
	 * which are not ours: only a final 2xx goes on). */
	if (len <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
		long status = 0;

		curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &status);
		if (status / 100 == 2 && !headers_done(http)) {
			http->aborted = TRUE;
			return 0;
		}
	}
	return len;
}

static size_t
on_write(char *buf, size_t size, size_t nitems, void *data)
{
	PxmHttp *http = data;
	gsize len = size * nitems;
	long status = 0;
	gboolean ok;

	if (http->cancelled || http->aborted)
		return 0;
	curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &status);
	/* Bodies of errors and redirects are not kept. */
	if (status / 100 != 2 || http->req.write == NULL)
		return len;
	if (!headers_done(http)) {
		http->aborted = TRUE;
		return 0;
	}
	http->in_callback = TRUE;
	ok = http->req.write((const guint8 *)buf, len, http->req.user_data);
	http->in_callback = FALSE;
	if (!ok || http->cancelled) {
		http->aborted = TRUE;
		return 0;
	}
	return len;
}

/* --- Requests --------------------------------------------------------- */

static void
set_tls(PxmHttp *http)
{
	const char *ca =
		purple_prefs_exists(PXM_UPLOAD_PREF_CA_FILE)
			? purple_prefs_get_string(PXM_UPLOAD_PREF_CA_FILE)
			: NULL;

	curl_easy_setopt(http->easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(http->easy, CURLOPT_SSL_VERIFYHOST, 2L);
	/* GnuTLS loads CAINFO and CAPATH both: the extra file goes in CAINFO
	 * while CAPATH keeps the system store (Debian: /etc/ssl/certs). */
	if (ca != NULL && *ca != '\0')
		curl_easy_setopt(http->easy, CURLOPT_CAINFO, ca);
}

static gboolean
setup_easy(PxmHttp *http, GError **error)
{
	g_autofree char *proxy = NULL;
	PurpleProxyInfo *info = NULL;
	gboolean put = g_str_equal(http->method, "PUT");
	gboolean head = g_str_equal(http->method, "HEAD");

	if (http->easy != NULL) {
		curl_multi_remove_handle(client.multi, http->easy);
		curl_easy_cleanup(http->easy);
	}
	http->easy = curl_easy_init();
	if (http->easy == NULL) {
		g_set_error_literal(error, PXM_UPLOAD_ERROR,
				    PXM_UPLOAD_ERROR_NETWORK,
				    "curl_easy_init failed");
		return FALSE;
	}
	http->headers_seen = FALSE;
	http->errbuf[0] = '\0';
	curl_easy_setopt(http->easy, CURLOPT_URL, http->url);
	curl_easy_setopt(http->easy, CURLOPT_PRIVATE, http);
	curl_easy_setopt(http->easy, CURLOPT_ERRORBUFFER, http->errbuf);
	curl_easy_setopt(http->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(http->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(http->easy, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(http->easy, CURLOPT_CONNECTTIMEOUT,
			 (long)CONNECT_TIMEOUT_S);
	curl_easy_setopt(http->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(http->easy, CURLOPT_LOW_SPEED_TIME,
			 (long)IDLE_TIMEOUT_S);
	curl_easy_setopt(http->easy, CURLOPT_USERAGENT,
			 "purple-xmpp-modern/" PXM_VERSION);
	curl_easy_setopt(http->easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(http->easy, CURLOPT_HEADERDATA, http);
	curl_easy_setopt(http->easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(http->easy, CURLOPT_WRITEDATA, http);
	set_tls(http);

	if (http->req.account != NULL)
		info = purple_proxy_get_setup(http->req.account);
	proxy = pxm_http_proxy_url(info);
	curl_easy_setopt(http->easy, CURLOPT_PROXY, proxy);
	/* The account's proxy (or none) for every host: no *_proxy or
	 * no_proxy variable may send a request around it. */
	curl_easy_setopt(http->easy, CURLOPT_NOPROXY, "");
	if (*proxy != '\0') {
		const char *user = purple_proxy_info_get_username(info);
		const char *pass = purple_proxy_info_get_password(info);

		if (user != NULL && *user != '\0') {
			curl_easy_setopt(http->easy, CURLOPT_PROXYUSERNAME,
					 user);
			curl_easy_setopt(http->easy, CURLOPT_PROXYPASSWORD,
					 pass != NULL ? pass : "");
		}
	}

	curl_slist_free_all(http->header_list);
	http->header_list = NULL;
	if (put) {
		curl_easy_setopt(http->easy, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(http->easy, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)http->req.body_size);
		curl_easy_setopt(http->easy, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(http->easy, CURLOPT_READDATA, http);
		/* Bigger chunks: fewer callbacks for big files. */
		curl_easy_setopt(http->easy, CURLOPT_UPLOAD_BUFFERSIZE,
				 256L * 1024);
		/* No "Expect: 100-continue" round trip. */
		http->header_list = curl_slist_append(http->header_list,
						      "Expect:");
		http->header_list = curl_slist_append(
			http->header_list,
			"Content-Type: application/octet-stream");
	} else if (head) {
		curl_easy_setopt(http->easy, CURLOPT_NOBODY, 1L);
		curl_easy_setopt(http->easy, CURLOPT_TIMEOUT,
				 (long)HEAD_TIMEOUT_S);
	}
	for (guint i = 0; http->headers != NULL && i < http->headers->len; i++)
		http->header_list = curl_slist_append(http->header_list,
						      http->headers->pdata[i]);
	curl_easy_setopt(http->easy, CURLOPT_HTTPHEADER, http->header_list);
	if (curl_multi_add_handle(client.multi, http->easy) != CURLM_OK) {
		g_set_error_literal(error, PXM_UPLOAD_ERROR,
				    PXM_UPLOAD_ERROR_NETWORK,
				    "curl_multi_add_handle failed");
		return FALSE;
	}
	return TRUE;
}

static gboolean
start_later(gpointer data)
{
	PxmHttp *http = data;
	g_autoptr(GError) error = NULL;

	http->start_timer = 0;
	if (!setup_easy(http, &error))
		finish(http, error);
	return FALSE;
}

PxmHttp *
pxm_http_start(const PxmHttpRequest *request)
{
	PxmHttp *http = g_new0(PxmHttp, 1);

	http->req = *request;
	http->method = g_strdup(request->method);
	http->url = g_strdup(request->url);
	if (request->headers != NULL)
		http->headers = g_ptr_array_ref(request->headers);
	http->req.method = NULL;
	http->req.url = NULL;
	http->req.headers = NULL;
	client.requests = g_list_prepend(client.requests, http);
	if (!client_ensure()) {
		g_autoptr(GError) error = g_error_new_literal(
			PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_NETWORK,
			"curl_multi_init failed");

		finish(http, error);
		return NULL;
	}
	/* From the main loop: callers get the handle before any callback. */
	http->start_timer = purple_timeout_add(0, start_later, http);
	return http;
}

void
pxm_http_cancel(PxmHttp *http)
{
	if (http == NULL || http->cancelled || http->finishing)
		return;
	http->cancelled = TRUE;
	/* Inside one of our curl callbacks: curl must return first; the
	 * callback's caller aborts and check_done() frees. */
	if (http->in_callback || client.dispatching)
		return;
	http_free(http);
}

static void
finish(PxmHttp *http, const GError *error)
{
	http->finishing = TRUE;
	if (!http->cancelled && http->req.done != NULL)
		http->req.done(http->status, error, http->req.user_data);
	http_free(http);
}

static GError *
result_error(PxmHttp *http, CURLcode code)
{
	const char *detail = http->errbuf[0] != '\0' ? http->errbuf
						     : curl_easy_strerror(code);

	switch (code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CONNECT_ERROR:
		return g_error_new(PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_NETWORK,
				   _("The secure connection to the file server "
				     "failed: %s"),
				   detail);
	case CURLE_OPERATION_TIMEDOUT:
		return g_error_new(PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_NETWORK,
				   _("The file server did not answer in time "
				     "(%s)."),
				   detail);
	default:
		return g_error_new(PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_NETWORK,
				   _("Could not reach the file server: %s"),
				   detail);
	}
}

static void
request_done(PxmHttp *http, CURLcode code)
{
	g_autoptr(GError) error = NULL;
	char *location = NULL;

	curl_easy_getinfo(http->easy, CURLINFO_RESPONSE_CODE, &http->status);
	if (http->cancelled) {
		http_free(http);
		return;
	}
	if (http->aborted) {
		/* The caller's callback refused: it says why itself. */
		error = g_error_new_literal(PXM_UPLOAD_ERROR,
					    PXM_UPLOAD_ERROR_NETWORK,
					    _("The transfer was stopped."));
	} else if (code != CURLE_OK) {
		error = result_error(http, code);
	} else if (http->status / 100 == 3 &&
		   !g_str_equal(http->method, "PUT") &&
		   curl_easy_getinfo(http->easy, CURLINFO_REDIRECT_URL,
				     &location) == CURLE_OK &&
		   location != NULL) {
		if (++http->redirects > MAX_REDIRECTS ||
		    !pxm_http_redirect_allowed(http->url, location)) {
			error = g_error_new(
				PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_HTTP,
				_("The file server redirected to a place that "
				  "is not allowed (%s)."),
				location);
		} else {
			char *next = g_strdup(location);

			g_free(http->url);
			http->url = next;
			if (!setup_easy(http, &error))
				finish(http, error);
			return;
		}
	} else if (http->status / 100 != 2) {
		error = g_error_new(PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_HTTP,
				    _("The file server answered HTTP %ld."),
				    http->status);
	} else if (!headers_done(http)) {
		error = g_error_new_literal(PXM_UPLOAD_ERROR,
					    PXM_UPLOAD_ERROR_NETWORK,
					    _("The transfer was stopped."));
	}
	finish(http, error);
}

static void
check_done(void)
{
	CURLMsg *msg;
	int left;

	client.dispatching = TRUE;
	while (client.multi != NULL &&
	       (msg = curl_multi_info_read(client.multi, &left)) != NULL) {
		PxmHttp *http = NULL;

		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &http);
		client.dispatching = FALSE;
		request_done(http, msg->data.result);
		client.dispatching = TRUE;
	}
	client.dispatching = FALSE;
	/* Requests cancelled from inside a callback. */
	for (GList *l = client.requests; l != NULL;) {
		PxmHttp *http = l->data;

		l = l->next;
		if (http->cancelled && !http->in_callback)
			http_free(http);
	}
}

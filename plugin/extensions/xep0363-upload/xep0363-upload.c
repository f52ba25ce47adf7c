// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0363: HTTP File Upload, with XEP-0066 (OOB) links and XEP-0454
 * (aesgcm://) encrypted media.
 *
 * At start the server is searched for an upload service.  "Send File"
 * (through the host's file-sender hook) and /upload send files there and
 * then the link, through the normal send path; an annotate stage adds the
 * OOB element to that message when it is not encrypted.  A handle stage
 * offers the links contacts send as downloads.
 */
#include "xep0363-upload.h"

#include <gcrypt.h>
#include <glib/gi18n-lib.h>
#include <curl/curl.h>
#include <string.h>

#define ID PXM_UPLOAD_ID
/* Links we uploaded, remembered so their message gets the OOB element
 * (also when the prpl re-sends it). */
#define MAX_LINKS 32
#define MAX_NAME_BYTES 200

G_DEFINE_QUARK(pxm - upload - error - quark, pxm_upload_error)

struct PxmUploadState {
	PxmAccount *account;
	gboolean stopped; /* IQ answers may come after stop() */
	char *service;
	guint64 max_size;
	guint searching; /* disco requests in flight */
	GQueue links;    /* of char *, newest first */
	GList *xfers;
	GQueue waiters; /* of Waiter: files sent before discovery ended */
	guint wait_timer;
	guint wait_timeout_ms;
};

typedef struct {
	PxmUploadReadyFunc callback;
	gpointer data;
	GDestroyNotify destroy;
} Waiter;

/* Every started state, to find an account's from the buddy list menu. */
static GList *states;

static PxmUploadState *
state_ref(PxmUploadState *state)
{
	return g_rc_box_acquire(state);
}

static void
state_clear(PxmUploadState *state)
{
	g_assert(g_queue_is_empty(&state->waiters));
	g_free(state->service);
	g_queue_clear_full(&state->links, g_free);
}

static void
state_unref(PxmUploadState *state)
{
	g_rc_box_release_full(state, (GDestroyNotify)state_clear);
}

const char *
pxm_upload_state_service(PxmUploadState *state, guint64 *max_size,
			 gboolean *searching)
{
	if (max_size != NULL)
		*max_size = state->max_size;
	if (searching != NULL)
		*searching = state->searching > 0;
	return state->service;
}

GList **
pxm_upload_state_xfers(PxmUploadState *state)
{
	return &state->xfers;
}

static void
waiters_flush(PxmUploadState *state, const GError *error)
{
	GQueue waiting = state->waiters;
	Waiter *w;

	g_queue_init(&state->waiters);
	if (state->wait_timer != 0) {
		g_source_remove(state->wait_timer);
		state->wait_timer = 0;
	}
	while ((w = g_queue_pop_head(&waiting)) != NULL) {
		w->callback(state, error, w->data);
		if (w->destroy != NULL)
			w->destroy(w->data);
		g_free(w);
	}
}

/* Discovery moved on: the waiters go once there is an answer. */
static void
discovery_progress(PxmUploadState *state)
{
	if (state->service != NULL || state->searching == 0)
		waiters_flush(state, NULL);
}

static gboolean
on_wait_timeout(gpointer data)
{
	PxmUploadState *state = data;
	g_autoptr(GError) error = g_error_new_literal(
		PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_NO_SERVICE,
		_("Your server did not say in time whether it offers file "
		  "upload; try again later."));

	state->wait_timer = 0;
	purple_debug_info(ID, "upload service discovery took too long\n");
	waiters_flush(state, error);
	return G_SOURCE_REMOVE;
}

void
pxm_upload_when_ready(PxmUploadState *state, PxmUploadReadyFunc callback,
		      gpointer data, GDestroyNotify destroy)
{
	Waiter *w;

	if (state->service != NULL || state->searching == 0) {
		callback(state, NULL, data);
		if (destroy != NULL)
			destroy(data);
		return;
	}
	w = g_new0(Waiter, 1);
	w->callback = callback;
	w->data = data;
	w->destroy = destroy;
	g_queue_push_tail(&state->waiters, w);
	/* Bounded: the disco IQs alone may take 30 s each. */
	if (state->wait_timer == 0)
		state->wait_timer = g_timeout_add(state->wait_timeout_ms,
						  on_wait_timeout, state);
}

void
pxm_upload_state_set_wait_timeout(PxmUploadState *state, guint ms)
{
	state->wait_timeout_ms = ms;
}

void
pxm_upload_state_remember_link(PxmUploadState *state, const char *url)
{
	g_queue_push_head(&state->links, g_strdup(url));
	while (g_queue_get_length(&state->links) > MAX_LINKS)
		g_free(g_queue_pop_tail(&state->links));
}

/* --- Helpers (unit-tested) -------------------------------------------- */

char *
pxm_upload_format_size(guint64 size)
{
	return g_format_size_full(size, G_FORMAT_SIZE_IEC_UNITS);
}

gboolean
pxm_upload_check_size(guint64 size, guint64 max_size, GError **error)
{
	if (size == 0) {
		g_set_error_literal(error, PXM_UPLOAD_ERROR,
				    PXM_UPLOAD_ERROR_TOO_LARGE,
				    _("The file is empty."));
		return FALSE;
	}
	/* Section 3: the service announces its limit so clients refuse
	 * before asking for a slot. */
	if (max_size > 0 && size > max_size) {
		g_autofree char *have = pxm_upload_format_size(size);
		g_autofree char *limit = pxm_upload_format_size(max_size);

		g_set_error(error, PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_TOO_LARGE,
			    /* TRANSLATORS: sizes, e.g. "The file is too large
			     * (20.0 MiB); your server accepts at most 16.0
			     * MiB." */
			    _("The file is too large (%s); your server accepts "
			      "at most %s."),
			    have, limit);
		return FALSE;
	}
	return TRUE;
}

/* %XX decoded; NUL bytes dropped (g_uri_unescape_string refuses them);
 * the result made valid UTF-8. */
static char *
percent_decode(const char *text)
{
	GString *out = g_string_new(NULL);
	char *valid;

	for (const char *p = text; *p != '\0'; p++) {
		int hi, lo;

		if (*p == '%' && (hi = g_ascii_xdigit_value(p[1])) >= 0 &&
		    (lo = g_ascii_xdigit_value(p[2])) >= 0) {
			if (hi != 0 || lo != 0)
				g_string_append_c(out, (char)(hi << 4 | lo));
			p += 2;
			continue;
		}
		g_string_append_c(out, *p);
	}
	valid = g_utf8_make_valid(out->str, out->len);
	g_string_free(out, TRUE);
	return valid;
}

char *
pxm_upload_filename_from_url(const char *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_ENCODED, NULL);
	g_autofree char *decoded = NULL;
	const char *path, *last;
	GString *name;
	const char *p;

	path = uri != NULL ? g_uri_get_path(uri) : "";
	last = strrchr(path, '/');
	last = last != NULL ? last + 1 : path;
	decoded = percent_decode(last);
	name = g_string_new(NULL);
	for (p = decoded; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		/* No directories, no control or direction characters. */
		if (c == '/' || c == '\\' || g_unichar_iscntrl(c) ||
		    g_unichar_type(c) == G_UNICODE_FORMAT)
			continue;
		/* No hidden files, no "." or "..". */
		if (name->len == 0 && (c == '.' || g_unichar_isspace(c)))
			continue;
		g_string_append_unichar(name, c);
	}
	if (name->len > MAX_NAME_BYTES) {
		const char *dot = strrchr(name->str, '.');
		gsize ext = dot != NULL ? strlen(dot) : 0;
		const char *cut;

		if (ext > 16)
			ext = 0;
		cut = g_utf8_find_prev_char(
			name->str, name->str + MAX_NAME_BYTES - ext + 1);
		if (ext > 0) {
			g_autofree char *tail = g_strdup(dot);

			g_string_truncate(name, cut - name->str);
			g_string_append(name, tail);
		} else {
			g_string_truncate(name, cut - name->str);
		}
	}
	g_strchomp(name->str);
	if (*name->str == '\0') {
		g_string_free(name, TRUE);
		return g_strdup("download");
	}
	return g_string_free(name, FALSE);
}

/* (transfer full) (nullable): the text of @parent's child @name. */
static char *
child_data(xmlnode *parent, const char *name)
{
	xmlnode *child = pxm_xml_child(parent, name, NULL);

	return child != NULL ? xmlnode_get_data(child) : NULL;
}

static gboolean
is_http_url(const char *text)
{
	g_autoptr(GUri) uri = NULL;
	const char *scheme;

	if (text == NULL)
		return FALSE;
	for (const char *p = text; *p != '\0'; p++)
		if ((guchar)*p <= ' ')
			return FALSE;
	uri = g_uri_parse(text, G_URI_FLAGS_ENCODED, NULL);
	if (uri == NULL || g_uri_get_host(uri) == NULL ||
	    *g_uri_get_host(uri) == '\0' || g_uri_get_userinfo(uri) != NULL)
		return FALSE;
	scheme = g_uri_get_scheme(uri);
	return g_ascii_strcasecmp(scheme, "https") == 0 ||
	       g_ascii_strcasecmp(scheme, "http") == 0;
}

/*
 * Whether the body may be a link, from its start, without copying it: most
 * messages are not.  libxml2 hands text to xmlnode in pieces, so a first
 * piece too short to tell answers TRUE.
 */
static gboolean
may_be_link(xmlnode *message, const char *body)
{
	xmlnode *node, *piece;
	const char *p;
	gsize len;

	if (body != NULL) {
		p = body;
		len = strlen(body);
	} else {
		node = pxm_xml_child(message, "body", NULL);
		piece = node != NULL ? node->child : NULL;
		if (piece == NULL || piece->type != XMLNODE_TYPE_DATA)
			return piece != NULL;
		p = piece->data;
		len = piece->data_sz;
	}
	while (len > 0 && g_ascii_isspace(*p)) {
		p++;
		len--;
	}
	if (len < 7)
		return TRUE;
	return g_ascii_strncasecmp(p, "http", 4) == 0 ||
	       g_ascii_strncasecmp(p, "aesgcm:", 7) == 0;
}

gboolean
pxm_upload_link_parse(xmlnode *message, const char *body, char **url,
		      guint8 key[32], guint8 iv[16], gsize *iv_len)
{
	g_autofree char *own_body = NULL;
	g_autofree char *text = NULL;
	xmlnode *x;

	*url = NULL;
	*iv_len = 0;
	if (!may_be_link(message, body))
		return FALSE;
	if (body == NULL) {
		own_body = child_data(message, "body");
		body = own_body;
	}
	if (body == NULL)
		return FALSE;
	text = g_strstrip(g_strdup(body));
	if (g_ascii_strncasecmp(text, "aesgcm://", 9) == 0)
		return pxm_aesgcm_url_parse(text, url, iv, iv_len, key);
	if (!is_http_url(text))
		return FALSE;
	/* XEP-0066: the body is only a file link when an OOB element says
	 * so (a URL alone is someone sharing a web page). */
	for (x = message->child; x != NULL; x = x->next) {
		g_autofree char *oob_url = NULL;

		if (x->type != XMLNODE_TYPE_TAG || !g_str_equal(x->name, "x") ||
		    g_strcmp0(xmlnode_get_namespace(x), PXM_NS_OOB) != 0)
			continue;
		oob_url = child_data(x, "url");
		if (oob_url != NULL && g_str_equal(g_strstrip(oob_url), text)) {
			*url = g_steal_pointer(&text);
			return TRUE;
		}
	}
	return FALSE;
}

void
pxm_upload_add_oob(xmlnode *message, const char *url)
{
	xmlnode *x;

	if (pxm_xml_child(message, "x", PXM_NS_OOB) != NULL)
		return;
	x = xmlnode_new_child(message, "x");
	xmlnode_set_namespace(x, PXM_NS_OOB);
	xmlnode_insert_data(xmlnode_new_child(x, "url"), url, -1);
}

/* --- Slots ------------------------------------------------------------ */

void
pxm_upload_slot_free(PxmUploadSlot *slot)
{
	if (slot == NULL)
		return;
	g_free(slot->put_url);
	g_free(slot->get_url);
	g_ptr_array_unref(slot->headers);
	g_free(slot);
}

xmlnode *
pxm_upload_slot_request_new(const char *service, const char *filename,
			    guint64 size, const char *content_type)
{
	xmlnode *iq = xmlnode_new("iq");
	xmlnode *request;
	char buf[32];

	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", service);
	request = xmlnode_new_child(iq, "request");
	xmlnode_set_namespace(request, PXM_NS_HTTP_UPLOAD);
	xmlnode_set_attrib(request, "filename", filename);
	g_snprintf(buf, sizeof(buf), "%" G_GUINT64_FORMAT, size);
	xmlnode_set_attrib(request, "size", buf);
	if (content_type != NULL)
		xmlnode_set_attrib(request, "content-type", content_type);
	return iq;
}

static char *
strip_newlines(const char *text)
{
	GString *out = g_string_new(NULL);

	for (const char *p = text; *p != '\0'; p++)
		if (*p != '\r' && *p != '\n')
			g_string_append_c(out, *p);
	return g_strstrip(g_string_free(out, FALSE));
}

PxmUploadSlot *
pxm_upload_slot_parse(xmlnode *result, GError **error)
{
	static const char *const allowed[] = { "Authorization", "Cookie",
					       "Expires" };
	xmlnode *slot = pxm_xml_child(result, "slot", PXM_NS_HTTP_UPLOAD);
	xmlnode *put = pxm_xml_child(slot, "put", PXM_NS_HTTP_UPLOAD);
	xmlnode *get = pxm_xml_child(slot, "get", PXM_NS_HTTP_UPLOAD);
	const char *put_url = put != NULL ? xmlnode_get_attrib(put, "url")
					  : NULL;
	const char *get_url = get != NULL ? xmlnode_get_attrib(get, "url")
					  : NULL;
	PxmUploadSlot *out;

	/* Section 5: the host MUST provide TLS; both URLs are https. */
	if (put_url == NULL || get_url == NULL || !is_http_url(put_url) ||
	    !is_http_url(get_url) ||
	    g_ascii_strncasecmp(put_url, "https://", 8) != 0 ||
	    g_ascii_strncasecmp(get_url, "https://", 8) != 0) {
		g_set_error_literal(error, PXM_UPLOAD_ERROR,
				    PXM_UPLOAD_ERROR_SLOT,
				    _("The upload service gave an invalid "
				      "slot."));
		return NULL;
	}
	out = g_new0(PxmUploadSlot, 1);
	out->put_url = g_strdup(put_url);
	out->get_url = g_strdup(get_url);
	out->headers = g_ptr_array_new_with_free_func(g_free);
	for (xmlnode *h = put->child; h != NULL; h = h->next) {
		g_autofree char *name = NULL;
		g_autofree char *value = NULL;
		g_autofree char *raw = NULL;
		const char *canonical = NULL;

		if (h->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(h->name, "header"))
			continue;
		/* Section 5: strip newlines from name and value; only
		 * Authorization, Cookie and Expires (any case), the rest
		 * MUST be ignored; keep their order. */
		name = strip_newlines(xmlnode_get_attrib(h, "name") != NULL
					      ? xmlnode_get_attrib(h, "name")
					      : "");
		for (guint i = 0; i < G_N_ELEMENTS(allowed); i++)
			if (g_ascii_strcasecmp(name, allowed[i]) == 0)
				canonical = allowed[i];
		if (canonical == NULL) {
			purple_debug_warning(ID, "ignoring a slot header that "
						 "is not allowed\n");
			continue;
		}
		raw = xmlnode_get_data(h);
		value = strip_newlines(raw != NULL ? raw : "");
		g_ptr_array_add(out->headers,
				g_strdup_printf("%s: %s", canonical, value));
	}
	return out;
}

gboolean
pxm_upload_service_parse(xmlnode *query, guint64 *max_size)
{
	gboolean found = FALSE;

	*max_size = 0;
	for (xmlnode *c = query != NULL ? query->child : NULL; c != NULL;
	     c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG)
			continue;
		if (g_str_equal(c->name, "feature") &&
		    g_strcmp0(xmlnode_get_attrib(c, "var"),
			      PXM_NS_HTTP_UPLOAD) == 0)
			found = TRUE;
	}
	if (!found)
		return FALSE;
	/* Section 3: max-file-size in a XEP-0128 form of FORM_TYPE
	 * urn:xmpp:http:upload:0 (servers may add other forms). */
	for (xmlnode *x = query->child; x != NULL; x = x->next) {
		gboolean ours = FALSE;
		g_autofree char *max = NULL;

		if (x->type != XMLNODE_TYPE_TAG || !g_str_equal(x->name, "x") ||
		    g_strcmp0(xmlnode_get_namespace(x), PXM_NS_DATA) != 0)
			continue;
		for (xmlnode *f = x->child; f != NULL; f = f->next) {
			const char *var;
			g_autofree char *value = NULL;

			if (f->type != XMLNODE_TYPE_TAG ||
			    !g_str_equal(f->name, "field"))
				continue;
			var = xmlnode_get_attrib(f, "var");
			value = child_data(f, "value");
			if (g_strcmp0(var, "FORM_TYPE") == 0)
				ours = g_strcmp0(value, PXM_NS_HTTP_UPLOAD) ==
				       0;
			else if (g_strcmp0(var, "max-file-size") == 0)
				max = g_steal_pointer(&value);
		}
		if (ours && max != NULL) {
			guint64 n;

			if (g_ascii_string_to_unsigned(g_strstrip(max), 10, 1,
						       G_MAXUINT64, &n, NULL))
				*max_size = n;
			else
				purple_debug_warning(ID, "ignoring an invalid "
							 "max-file-size\n");
		}
	}
	return TRUE;
}

/* --- Discovery -------------------------------------------------------- */

typedef struct {
	PxmUploadState *state; /* a reference */
	char *jid;
} Query;

static void
query_free(Query *q)
{
	state_unref(q->state);
	g_free(q->jid);
	g_free(q);
}

static void
on_info(PxmAccount *account, xmlnode *result, const GError *error,
	gpointer data)
{
	Query *q = data;
	guint64 max = 0;

	if (q->state->stopped)
		return;
	q->state->searching--;
	if (result != NULL && q->state->service == NULL &&
	    pxm_upload_service_parse(
		    pxm_xml_child(result, "query", PXM_NS_DISCO_INFO), &max)) {
		q->state->service = g_strdup(q->jid);
		q->state->max_size = max;
		purple_debug_info(
			ID,
			"upload service %s, max-file-size %" G_GUINT64_FORMAT
			"\n",
			q->jid, max);
	}
	discovery_progress(q->state);
}

static void
ask_info(PxmUploadState *state, const char *jid)
{
	xmlnode *iq = xmlnode_new("iq");
	Query *q = g_new0(Query, 1);

	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", jid);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	q->state = state_ref(state);
	q->jid = g_strdup(jid);
	state->searching++;
	pxm_account_send_iq(state->account, iq, 0, on_info, q,
			    (GDestroyNotify)query_free);
}

static void
on_items(PxmAccount *account, xmlnode *result, const GError *error,
	 gpointer data)
{
	Query *q = data;
	xmlnode *query;

	if (q->state->stopped)
		return;
	q->state->searching--;
	query = pxm_xml_child(result, "query", PXM_NS_DISCO_ITEMS);
	for (xmlnode *item = query != NULL ? query->child : NULL; item != NULL;
	     item = item->next) {
		const char *jid;

		if (item->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(item->name, "item"))
			continue;
		jid = xmlnode_get_attrib(item, "jid");
		/* Items are services (no node, no user part). */
		if (jid != NULL && strchr(jid, '@') == NULL &&
		    strchr(jid, '/') == NULL &&
		    xmlnode_get_attrib(item, "node") == NULL)
			ask_info(q->state, jid);
	}
	discovery_progress(q->state);
}

static void
discover(PxmUploadState *state)
{
	const char *bare = pxm_account_get_bare_jid(state->account);
	const char *at = strchr(bare, '@');
	const char *domain = at != NULL ? at + 1 : bare;
	xmlnode *iq = xmlnode_new("iq");
	Query *q = g_new0(Query, 1);

	/* Section 3: the server lists upload services in its disco items
	 * (and may offer it on the domain itself). */
	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", domain);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_ITEMS);
	q->state = state_ref(state);
	q->jid = g_strdup(domain);
	state->searching++;
	pxm_account_send_iq(state->account, iq, 0, on_items, q,
			    (GDestroyNotify)query_free);
	ask_info(state, domain);
}

/* --- Slot requests ---------------------------------------------------- */

typedef struct {
	PxmUploadState *state; /* a reference */
	PxmSlotCallback callback;
	gpointer data;
	GDestroyNotify destroy;
} SlotRequest;

static void
slot_request_free(SlotRequest *r)
{
	if (r->destroy != NULL)
		r->destroy(r->data);
	state_unref(r->state);
	g_free(r);
}

static void
on_slot(PxmAccount *account, xmlnode *result, const GError *error,
	gpointer data)
{
	SlotRequest *r = data;
	g_autoptr(GError) own = NULL;
	g_autoptr(PxmUploadSlot) slot = NULL;

	if (result != NULL) {
		slot = pxm_upload_slot_parse(result, &own);
	} else if (g_error_matches(error, PXM_IQ_ERROR, PXM_IQ_ERROR_STANZA)) {
		own = g_error_new(PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_SLOT,
				  _("The upload service refused: %s"),
				  error->message);
	} else if (error != NULL) {
		own = g_error_new(PXM_UPLOAD_ERROR,
				  g_error_matches(error, PXM_IQ_ERROR,
						  PXM_IQ_ERROR_DISCONNECTED)
					  ? PXM_UPLOAD_ERROR_DISCONNECTED
					  : PXM_UPLOAD_ERROR_SLOT,
				  _("No upload slot: %s"), error->message);
	}
	r->callback(slot, own, r->data);
}

void
pxm_upload_request_slot(PxmAccount *account, PxmUploadState *state,
			const char *filename, guint64 size,
			const char *content_type, PxmSlotCallback callback,
			gpointer data, GDestroyNotify destroy)
{
	SlotRequest *r = g_new0(SlotRequest, 1);

	r->state = state_ref(state);
	r->callback = callback;
	r->data = data;
	r->destroy = destroy;
	pxm_account_send_iq(account,
			    pxm_upload_slot_request_new(state->service,
							filename, size,
							content_type),
			    0, on_slot, r, (GDestroyNotify)slot_request_free);
}

/* --- Stages ----------------------------------------------------------- */

gboolean
pxm_upload_is_encrypted(PxmAccount *account, const char *jid)
{
	g_autofree char *bare = pxm_jid_bare_dup(jid);

	return bare != NULL &&
	       pxm_account_conversation_is_encrypted(account, bare);
}

/* Runs again on the prpl's resends: pxm_upload_add_oob is idempotent. */
static PxmVerdict
annotate(PxmAccount *account, gpointer data, PxmStanza *st)
{
	PxmUploadState *state = data;
	g_autofree char *body = NULL;

	if (st->body == NULL || st->encrypted || !pxm_stanza_is_chat(st))
		return PXM_VERDICT_CONTINUE;
	body = g_strstrip(g_strdup(st->body));
	if (g_queue_find_custom(&state->links, body, (GCompareFunc)strcmp) ==
	    NULL)
		return PXM_VERDICT_CONTINUE;
	/* XEP-0454: in an encrypted conversation nothing about the file
	 * travels in clear (and such links are aesgcm://, never
	 * remembered here anyway). */
	if (pxm_upload_is_encrypted(account, st->to))
		return PXM_VERDICT_CONTINUE;
	pxm_upload_add_oob(st->stanza, body);
	return PXM_VERDICT_CONTINUE;
}

static gboolean
may_offer(PxmAccount *account, PxmStanza *st, const char *bare)
{
	PurpleAccount *pa = pxm_account_get_purple(account);

	if (pa == NULL)
		return FALSE;
	if (g_strcmp0(st->type, "groupchat") == 0) {
		/* A room we are in, not our own message reflected. */
		return purple_find_conversation_with_account(
			       PURPLE_CONV_TYPE_CHAT, bare, pa) != NULL &&
		       !pxm_account_is_own_nick(account, bare, st->from);
	}
	/* Never from strangers: they only get the link shown. */
	return purple_find_buddy(pa, bare) != NULL;
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	PxmUploadState *state = data;
	g_autofree char *url = NULL;
	g_autofree char *bare = NULL;
	guint8 key[PXM_AESGCM_KEY_LEN];
	guint8 iv[16];
	gsize iv_len = 0;

	if (st->message == NULL || st->sent_by_me || !pxm_stanza_is_chat(st) ||
	    (st->origin != PXM_ORIGIN_LIVE && st->origin != PXM_ORIGIN_CARBON))
		return PXM_VERDICT_CONTINUE;
	if (!pxm_stanza_has_body(st) ||
	    !pxm_upload_link_parse(st->message, st->body, &url, key, iv,
				   &iv_len))
		return PXM_VERDICT_CONTINUE;
	bare = pxm_jid_bare_dup(st->from);
	if (bare != NULL && may_offer(account, st, bare))
		pxm_upload_offer(
			account, state,
			g_strcmp0(st->type, "groupchat") == 0 ? st->from : bare,
			url, iv_len > 0 ? key : NULL, iv, iv_len);
	memset(key, 0, sizeof(key));
	/* The message is shown as it is (the link stays clickable). */
	return PXM_VERDICT_CONTINUE;
}

/* --- Sending files ---------------------------------------------------- */

static gboolean
file_wanted(PxmAccount *account, gpointer data, const char *who,
	    gboolean direct)
{
	PxmUploadState *state = data;
	const char *mode =
		pxm_account_get_option_choice(account, PXM_UPLOAD_SETTING_MODE);

	if (g_strcmp0(mode, PXM_UPLOAD_MODE_NEVER) == 0 ||
	    (state->service == NULL && state->searching == 0))
		return FALSE;
	if (g_strcmp0(mode, PXM_UPLOAD_MODE_ALWAYS) == 0)
		return TRUE;
	return !direct;
}

static PurpleXfer *
file_new_xfer(PxmAccount *account, gpointer data, const char *who)
{
	return pxm_upload_xfer_send_new(account, data, who, FALSE);
}

static const PxmFileSender file_sender = {
	.wanted = file_wanted,
	.new_xfer = file_new_xfer,
};

static PurpleCmdRet
cmd_upload(PxmAccount *account, gpointer data, PurpleConversation *conv,
	   const char *args, char **error)
{
	PxmUploadState *state = data;
	g_autofree char *jid = NULL;
	g_autofree char *path = NULL;
	const char *to = NULL;
	gboolean groupchat = FALSE;
	PurpleXfer *xfer;

	if (args == NULL) {
		*error = g_strdup(_("Usage: /upload PATH"));
		return PURPLE_CMD_RET_FAILED;
	}
	/* While discovery runs the transfer waits for it (upload_init). */
	if (state->service == NULL && state->searching == 0) {
		*error = g_strdup(_("Your server offers no file upload "
				    "(XEP-0363)."));
		return PURPLE_CMD_RET_FAILED;
	}
	if (!pxm_conversation_message_target(conv, &jid, &to, &groupchat,
					     error))
		return PURPLE_CMD_RET_FAILED;
	path = g_str_has_prefix(args, "~/")
		       ? g_build_filename(g_get_home_dir(), args + 2, NULL)
		       : g_strdup(args);
	if (!g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
		*error = g_strdup_printf(_("No such file: %s"), path);
		return PURPLE_CMD_RET_FAILED;
	}
	xfer = pxm_upload_xfer_send_new(account, state, groupchat ? jid : to,
					groupchat);
	purple_xfer_request_accepted(xfer, path);
	return PURPLE_CMD_RET_OK;
}

static const PxmCommand commands[] = {
	{ "upload",
	  N_("upload PATH: uploads a file to your server's HTTP upload service "
	     "and sends its link here (encrypted when the conversation is)."),
	  TRUE, TRUE, cmd_upload },
	{ NULL },
};

/* --- Life cycle ------------------------------------------------------- */

static gpointer
start(PxmAccount *account, GError **error)
{
	PxmUploadState *state = g_rc_box_new0(PxmUploadState);

	state->account = account;
	state->wait_timeout_ms = PXM_UPLOAD_WAIT_TIMEOUT_MS;
	g_queue_init(&state->links);
	g_queue_init(&state->waiters);
	states = g_list_prepend(states, state);
	discover(state);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	PxmUploadState *state = data;

	g_autoptr(GError) error = g_error_new_literal(
		PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_DISCONNECTED,
		_("The account went offline: the transfer stopped."));

	state->stopped = TRUE;
	states = g_list_remove(states, state);
	pxm_upload_xfers_cancel_all(state);
	waiters_flush(state, error);
	state_unref(state);
}

/* --- Room menu -------------------------------------------------------- */

typedef struct {
	PurpleAccount *account;
	char *room;
} MenuRequest;

/* Open file dialogs, closed at unload (libpurple's request API has no
 * GDestroyNotify: freed by whichever of ok/cancel runs, or here). */
static GList *menu_requests;
static PurplePlugin *menu_plugin;

static void
menu_request_free(MenuRequest *r)
{
	menu_requests = g_list_remove(menu_requests, r);
	g_free(r->room);
	g_free(r);
}

static PxmUploadState *
state_for(PurpleAccount *pa)
{
	for (GList *l = states; l != NULL; l = l->next) {
		PxmUploadState *state = l->data;

		if (pxm_account_get_purple(state->account) == pa)
			return state;
	}
	return NULL;
}

/* (transfer full) (nullable): the room JID of a buddy-list chat. */
static char *
chat_room_dup(PurpleChat *chat)
{
	GHashTable *components = purple_chat_get_components(chat);
	const char *room = g_hash_table_lookup(components, "room");
	const char *server = g_hash_table_lookup(components, "server");

	g_autofree char *jid = NULL;

	if (room == NULL || server == NULL || *room == '\0' || *server == '\0')
		return NULL;
	jid = g_strdup_printf("%s@%s", room, server);
	return pxm_jid_bare_dup(jid);
}

static PurpleConversation *
joined_room(PurpleAccount *pa, const char *room)
{
	PurpleConversation *conv = purple_find_conversation_with_account(
		PURPLE_CONV_TYPE_CHAT, room, pa);

	if (conv == NULL || purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv)))
		return NULL;
	return conv;
}

static void
menu_file_chosen(MenuRequest *r, const char *path)
{
	PxmUploadState *state = state_for(r->account);
	PurpleXfer *xfer;

	if (path != NULL && *path != '\0' && state != NULL &&
	    joined_room(r->account, r->room) != NULL) {
		xfer = pxm_upload_xfer_send_new(state->account, state, r->room,
						TRUE);
		purple_xfer_request_accepted(xfer, path);
	}
	menu_request_free(r);
}

static void
menu_file_cancelled(MenuRequest *r, const char *path)
{
	menu_request_free(r);
}

static void
menu_upload(PurpleBlistNode *node, gpointer data)
{
	PurpleChat *chat = (PurpleChat *)node;
	MenuRequest *r = g_new0(MenuRequest, 1);
	PurpleConversation *conv;

	r->account = purple_chat_get_account(chat);
	r->room = chat_room_dup(chat);
	conv = r->room != NULL ? joined_room(r->account, r->room) : NULL;
	if (conv == NULL) {
		menu_request_free(r);
		return;
	}
	menu_requests = g_list_prepend(menu_requests, r);
	purple_request_file(menu_plugin, _("Upload a File"), NULL, FALSE,
			    G_CALLBACK(menu_file_chosen),
			    G_CALLBACK(menu_file_cancelled), r->account,
			    r->room, conv, r);
}

/* "Upload a File…" on a room we are in, in its buddy-list menu (Pidgin
 * shows the same items in the conversation's "More" menu). */
static void
on_extended_menu(PurpleBlistNode *node, GList **menu, gpointer data)
{
	PurpleChat *chat;
	PurpleAccount *pa;
	PxmUploadState *state;
	g_autofree char *room = NULL;

	if (!PURPLE_BLIST_NODE_IS_CHAT(node))
		return;
	chat = (PurpleChat *)node;
	pa = purple_chat_get_account(chat);
	state = state_for(pa);
	if (state == NULL || (state->service == NULL && state->searching == 0))
		return;
	room = chat_room_dup(chat);
	if (room == NULL || joined_room(pa, room) == NULL)
		return;
	*menu = g_list_append(
		*menu, purple_menu_action_new(_("Upload a File…"),
					      PURPLE_CALLBACK(menu_upload),
					      NULL, NULL));
}

static void
plugin_load(PurplePlugin *plugin)
{
	gcry_check_version(NULL);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!purple_prefs_exists("/plugins/core/core-xmpp-modern"))
		purple_prefs_add_none("/plugins/core/core-xmpp-modern");
	purple_prefs_add_none(PXM_UPLOAD_PREF_DIR);
	purple_prefs_add_string(PXM_UPLOAD_PREF_CA_FILE, "");
	menu_plugin = plugin;
	purple_signal_connect(purple_blist_get_handle(),
			      "blist-node-extended-menu", plugin,
			      PURPLE_CALLBACK(on_extended_menu), NULL);
}

static void
plugin_unload(PurplePlugin *plugin)
{
	purple_signal_disconnect(purple_blist_get_handle(),
				 "blist-node-extended-menu", plugin,
				 PURPLE_CALLBACK(on_extended_menu));
	purple_request_close_with_handle(plugin);
	while (menu_requests != NULL)
		menu_request_free(menu_requests->data);
	menu_plugin = NULL;
	pxm_http_shutdown();
	curl_global_cleanup();
}

const PxmExtensionClass pxm_xep0363_upload = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_ANNOTATE] = annotate,
	},
	.commands = commands,
	.plugin_load = plugin_load,
	.plugin_unload = plugin_unload,
	.file_sender = &file_sender,
};

// SPDX-License-Identifier: GPL-3.0-or-later
#include "iq.h"

#include <string.h>

#include "jid.h"

/* clang-format off */
G_DEFINE_QUARK(pxm-iq-error-quark, pxm_iq_error)
/* clang-format on */

#define DEFAULT_TIMEOUT_MS 30000

typedef struct {
	PxmIqTracker *tracker;
	char *id;
	char *to; /* normalised, NULL when the request had no 'to' */
	PxmIqCallback callback;
	gpointer user_data;
	GDestroyNotify destroy;
	guint timeout_source;
} Request;

struct PxmIqTracker {
	PxmAccount *account;
	char *own_bare;
	char *own_domain;
	GHashTable *pending; /* id -> Request, owned */
	guint64 next;
};

static void
request_free(Request *req)
{
	if (req->timeout_source != 0)
		g_source_remove(req->timeout_source);
	if (req->destroy != NULL)
		req->destroy(req->user_data);
	g_free(req->id);
	g_free(req->to);
	g_free(req);
}

/* Removes @req from the table first, so a callback that sends a new IQ or
 * frees the tracker cannot see it again: exactly once. */
static void
complete(Request *req, xmlnode *result, const GError *error)
{
	PxmIqTracker *tracker = req->tracker;

	g_hash_table_steal(tracker->pending, req->id);
	if (req->timeout_source != 0) {
		g_source_remove(req->timeout_source);
		req->timeout_source = 0;
	}
	req->callback(tracker->account, result, error, req->user_data);
	request_free(req);
}

PxmIqTracker *
pxm_iq_tracker_new(PxmAccount *account, const char *own_jid)
{
	PxmIqTracker *tracker = g_new0(PxmIqTracker, 1);
	const char *at;

	tracker->account = account;
	tracker->own_bare = pxm_jid_bare_dup(own_jid);
	at = tracker->own_bare != NULL ? strchr(tracker->own_bare, '@') : NULL;
	tracker->own_domain = g_strdup(at != NULL ? at + 1 : tracker->own_bare);
	tracker->pending = g_hash_table_new(g_str_hash, g_str_equal);
	tracker->next = g_random_int();
	return tracker;
}

void
pxm_iq_tracker_free(PxmIqTracker *tracker, const GError *reason)
{
	g_autoptr(GError) cancelled = NULL;
	GHashTableIter iter;
	gpointer value;

	if (tracker == NULL)
		return;
	if (reason == NULL) {
		cancelled = g_error_new_literal(PXM_IQ_ERROR,
						PXM_IQ_ERROR_CANCELLED,
						"the request was cancelled");
		reason = cancelled;
	}
	/* Callbacks may add requests while we drain (they get the same fate
	 * on the next round). */
	while (g_hash_table_size(tracker->pending) > 0) {
		g_hash_table_iter_init(&iter, tracker->pending);
		g_hash_table_iter_next(&iter, NULL, &value);
		complete(value, NULL, reason);
	}
	g_hash_table_unref(tracker->pending);
	g_free(tracker->own_bare);
	g_free(tracker->own_domain);
	g_free(tracker);
}

static gboolean
on_timeout(gpointer data)
{
	Request *req = data;
	g_autoptr(GError) error =
		g_error_new(PXM_IQ_ERROR, PXM_IQ_ERROR_TIMEOUT,
			    "no answer to request %s", req->id);

	req->timeout_source = 0;
	complete(req, NULL, error);
	return G_SOURCE_REMOVE;
}

const char *
pxm_iq_tracker_add(PxmIqTracker *tracker, xmlnode *iq, guint timeout_ms,
		   PxmIqCallback callback, gpointer user_data,
		   GDestroyNotify destroy)
{
	Request *req;
	const char *id, *to;

	g_return_val_if_fail(tracker != NULL && iq != NULL, NULL);
	g_return_val_if_fail(callback != NULL, NULL);

	id = xmlnode_get_attrib(iq, "id");
	if (id == NULL || g_hash_table_contains(tracker->pending, id)) {
		g_autofree char *fresh = NULL;

		do {
			g_free(fresh);
			fresh = g_strdup_printf("pxm%" G_GINT64_MODIFIER "x",
						tracker->next++);
		} while (g_hash_table_contains(tracker->pending, fresh));
		xmlnode_set_attrib(iq, "id", fresh);
		id = xmlnode_get_attrib(iq, "id");
	}
	to = xmlnode_get_attrib(iq, "to");

	req = g_new0(Request, 1);
	req->tracker = tracker;
	req->id = g_strdup(id);
	req->to = to != NULL ? pxm_jid_normalize_dup(to) : NULL;
	if (to != NULL && req->to == NULL)
		req->to = g_strdup(to);
	req->callback = callback;
	req->user_data = user_data;
	req->destroy = destroy;
	req->timeout_source =
		g_timeout_add(timeout_ms != 0 ? timeout_ms : DEFAULT_TIMEOUT_MS,
			      on_timeout, req);
	g_hash_table_insert(tracker->pending, req->id, req);
	return req->id;
}

/*
 * RFC 6120 section 10.3.3 and 8.1.2.1: a request without 'to' (or to our
 * bare JID) is answered by our server on our behalf, so the reply has no
 * 'from', or our bare JID.  Some servers use their domain.  Anything else
 * answering one of those ids is someone guessing ids.
 */
static gboolean
sender_matches(PxmIqTracker *tracker, Request *req, const char *from)
{
	g_autofree char *norm = NULL;

	if (req->to == NULL || g_strcmp0(req->to, tracker->own_bare) == 0) {
		if (from == NULL)
			return TRUE;
		norm = pxm_jid_normalize_dup(from);
		return g_strcmp0(norm, tracker->own_bare) == 0 ||
		       g_strcmp0(norm, tracker->own_domain) == 0;
	}
	if (from == NULL)
		return FALSE;
	norm = pxm_jid_normalize_dup(from);
	return g_strcmp0(norm, req->to) == 0;
}

gboolean
pxm_iq_tracker_handle(PxmIqTracker *tracker, xmlnode *iq)
{
	const char *type = xmlnode_get_attrib(iq, "type");
	const char *id = xmlnode_get_attrib(iq, "id");
	Request *req;

	if (id == NULL || type == NULL ||
	    (strcmp(type, "result") != 0 && strcmp(type, "error") != 0))
		return FALSE;
	req = g_hash_table_lookup(tracker->pending, id);
	if (req == NULL)
		return FALSE;
	if (!sender_matches(tracker, req, xmlnode_get_attrib(iq, "from"))) {
		purple_debug_warning("xmpp-modern",
				     "dropping a reply to IQ %s from an "
				     "unexpected sender\n",
				     id);
		return TRUE;
	}
	if (strcmp(type, "result") == 0) {
		complete(req, iq, NULL);
	} else {
		g_autoptr(GError) error = pxm_iq_error_from_stanza(iq);
		complete(req, NULL, error);
	}
	return TRUE;
}

guint
pxm_iq_tracker_get_pending(PxmIqTracker *tracker)
{
	return g_hash_table_size(tracker->pending);
}

gboolean
pxm_iq_error_is(const GError *error, const char *condition)
{
	gsize len = strlen(condition);

	/* The message is "condition" or "condition: text". */
	return error != NULL &&
	       g_error_matches(error, PXM_IQ_ERROR, PXM_IQ_ERROR_STANZA) &&
	       strncmp(error->message, condition, len) == 0 &&
	       (error->message[len] == '\0' || error->message[len] == ':');
}

gboolean
pxm_iq_error_refused_options(const GError *error)
{
	return pxm_iq_error_is(error, "resource-constraint") ||
	       pxm_iq_error_is(error, "bad-request") ||
	       pxm_iq_error_is(error, "not-acceptable");
}

GError *
pxm_iq_error_from_stanza(xmlnode *iq)
{
	xmlnode *error = xmlnode_get_child(iq, "error");
	const char *condition = NULL;
	g_autofree char *text = NULL;

	for (xmlnode *c = error != NULL ? error->child : NULL; c != NULL;
	     c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG ||
		    g_strcmp0(xmlnode_get_namespace(c), PXM_NS_STANZAS) != 0)
			continue;
		if (strcmp(c->name, "text") == 0)
			text = xmlnode_get_data(c);
		else if (condition == NULL)
			condition = c->name;
	}
	if (condition == NULL)
		condition = "undefined-condition";
	if (text != NULL)
		return g_error_new(PXM_IQ_ERROR, PXM_IQ_ERROR_STANZA, "%s: %s",
				   condition, text);
	return g_error_new_literal(PXM_IQ_ERROR, PXM_IQ_ERROR_STANZA,
				   condition);
}

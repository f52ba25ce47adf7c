// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0359: Unique and Stable Stanza IDs.
 *
 * Outgoing messages get one <origin-id/>; incoming <stanza-id/>s are trusted
 * only when set by the account's own server (1:1) or by the room
 * (groupchat), and feed the presenter's message identity.
 */
#include "../../host/extension.h"

#include <string.h>

#define ID "xep0359-stanza-id"

/*
 * Section 8: before using a stanza-id, check that the entity in 'by'
 * announces urn:xmpp:sid:0 (otherwise it does not strip forged ones).  Our
 * server is asked at start, a room the first time it gives an id.  While
 * the answer is pending the id is used; an entity that answers without the
 * feature (or with an error) is not believed from then on.
 */
typedef enum {
	SUPPORT_PENDING = 1,
	SUPPORT_YES,
	SUPPORT_NO,
} Support;

typedef struct {
	GHashTable *support; /* normalised bare JID -> Support */
	gboolean stopped;    /* replies may come after stop() */
} State;

typedef struct {
	State *state; /* a reference */
	char *jid;
} Query;

static void
state_clear(State *state)
{
	g_hash_table_unref(state->support);
}

static void
state_unref(State *state)
{
	g_rc_box_release_full(state, (GDestroyNotify)state_clear);
}

static void
query_free(Query *query)
{
	state_unref(query->state);
	g_free(query->jid);
	g_free(query);
}

static gboolean
has_feature(xmlnode *result, const char *feature)
{
	xmlnode *query = xmlnode_get_child_with_namespace(result, "query",
							  PXM_NS_DISCO_INFO);

	for (xmlnode *f = query != NULL ? xmlnode_get_child(query, "feature")
					: NULL;
	     f != NULL; f = xmlnode_get_next_twin(f))
		if (g_strcmp0(xmlnode_get_attrib(f, "var"), feature) == 0)
			return TRUE;
	return FALSE;
}

static void
on_disco_info(PxmAccount *account, xmlnode *result, const GError *error,
	      gpointer data)
{
	Query *query = data;
	Support support;

	if (query->state->stopped)
		return;
	support = result != NULL && has_feature(result, PXM_NS_SID)
			  ? SUPPORT_YES
			  : SUPPORT_NO;
	if (support == SUPPORT_NO)
		purple_debug_info(ID,
				  "%s does not announce %s: its stanza-ids "
				  "are not used\n",
				  query->jid, PXM_NS_SID);
	g_hash_table_insert(query->state->support, g_strdup(query->jid),
			    GINT_TO_POINTER(support));
}

static void
ask_support(PxmAccount *account, State *state, const char *jid)
{
	xmlnode *iq = xmlnode_new("iq");
	Query *query = g_new0(Query, 1);

	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", jid);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	query->state = g_rc_box_acquire(state);
	query->jid = g_strdup(jid);
	g_hash_table_insert(state->support, g_strdup(jid),
			    GINT_TO_POINTER(SUPPORT_PENDING));
	pxm_account_send_iq(account, iq, 0, on_disco_info, query,
			    (GDestroyNotify)query_free);
}

/* Whether stanza-ids set by @by may be used now. */
static gboolean
believed(PxmAccount *account, State *state, const char *by)
{
	gpointer value = g_hash_table_lookup(state->support, by);

	if (value == NULL) {
		ask_support(account, state, by);
		return TRUE;
	}
	return GPOINTER_TO_INT(value) != SUPPORT_NO;
}

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_rc_box_new0(State);

	state->support = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       NULL);
	ask_support(account, state, pxm_account_get_bare_jid(account));
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	state->stopped = TRUE;
	state_unref(state);
}

static gboolean
is_sid_element(xmlnode *node, const char *name)
{
	return node->type == XMLNODE_TYPE_TAG &&
	       g_str_equal(node->name, name) &&
	       g_strcmp0(xmlnode_get_namespace(node), PXM_NS_SID) == 0;
}

static const char *
valid_id(xmlnode *node)
{
	const char *id = xmlnode_get_attrib(node, "id");

	if (id == NULL || *id == '\0')
		return NULL;
	/* Section 4: 'id' MUST be present; no child elements or text.
	 * (Attributes are children too in libpurple's xmlnode.) */
	for (xmlnode *c = node->child; c != NULL; c = c->next)
		if (c->type != XMLNODE_TYPE_ATTRIB)
			return NULL;
	return id;
}

static PxmVerdict
handle(PxmAccount *account, gpointer state, PxmStanza *st)
{
	g_autofree char *room = NULL;
	const char *expected_by;
	const char *trusted = NULL;
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	guint ours = 0;

	if (st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	/* Section 8: a stanza-id is only unspoofable from the entity that set
	 * it, so only our server's (or the room's) counts. */
	if (groupchat)
		expected_by = room = pxm_jid_bare_dup(st->from);
	else
		expected_by = pxm_account_get_bare_jid(account);

	for (xmlnode *c = st->message->child; c != NULL; c = c->next) {
		const char *id, *by;

		if (is_sid_element(c, "origin-id")) {
			id = valid_id(c);
			if (id != NULL && st->origin_id == NULL)
				pxm_stanza_set(&st->origin_id, id);
			continue;
		}
		if (!is_sid_element(c, "stanza-id"))
			continue;
		id = valid_id(c);
		if (id == NULL) {
			purple_debug_warning(ID, "ignoring a malformed "
						 "stanza-id\n");
			continue;
		}
		by = xmlnode_get_attrib(c, "by");
		/* expected_by is normalised: an identical 'by' is the common
		 * case and needs no normalising. */
		if (expected_by == NULL || (g_strcmp0(by, expected_by) != 0 &&
					    !pxm_jid_equal(by, expected_by))) {
			purple_debug_warning(ID,
					     "ignoring a stanza-id set by "
					     "someone else than %s\n",
					     groupchat ? "the room"
						       : "our server");
			continue;
		}
		ours++;
		trusted = id;
	}
	/* Section 4: at most one stanza-id per 'by'.  Two means someone added
	 * one we cannot tell apart from the real one. */
	if (ours > 1) {
		purple_debug_warning(ID,
				     "ignoring %u stanza-ids claiming the "
				     "same origin\n",
				     ours);
		trusted = NULL;
	}
	if (trusted != NULL && !believed(account, state, expected_by)) {
		purple_debug_warning(ID,
				     "ignoring a stanza-id of %s, which "
				     "does not announce %s\n",
				     groupchat ? "a room" : "our server",
				     PXM_NS_SID);
		trusted = NULL;
	}
	if (trusted != NULL && st->stanza_id == NULL)
		pxm_stanza_set(&st->stanza_id, trusted);
	return PXM_VERDICT_CONTINUE;
}

/* Runs again on the prpl's resends after a reconnect: reuse what is there. */
static PxmVerdict
compose(PxmAccount *account, gpointer state, PxmStanza *st)
{
	xmlnode *origin = NULL;
	g_autofree char *uuid = NULL;

	if (g_strcmp0(st->type, "error") == 0)
		return PXM_VERDICT_CONTINUE;
	for (xmlnode *c = st->stanza->child; c != NULL && origin == NULL;
	     c = c->next)
		if (is_sid_element(c, "origin-id") && valid_id(c) != NULL)
			origin = c;
	if (origin == NULL) {
		uuid = g_uuid_string_random();
		origin = xmlnode_new_child(st->stanza, "origin-id");
		xmlnode_set_namespace(origin, PXM_NS_SID);
		xmlnode_set_attrib(origin, "id", uuid);
	}
	pxm_stanza_set(&st->origin_id, xmlnode_get_attrib(origin, "id"));
	/* Room messages come back reflected by the room: that copy is how
	 * libpurple shows them, so it must not look like a duplicate. */
	if (st->body != NULL && g_strcmp0(st->type, "groupchat") != 0)
		pxm_presenter_remember_sent(account, st->to, st);
	return PXM_VERDICT_CONTINUE;
}

const PxmExtensionClass pxm_xep0359_stanza_id = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_COMPOSE] = compose,
	},
};

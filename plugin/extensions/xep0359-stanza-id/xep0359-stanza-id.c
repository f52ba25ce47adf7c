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

#include "../../host/jid.h"

#define ID "xep0359-stanza-id"

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
	g_autofree char *expected_by = NULL;
	const char *trusted = NULL;
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	guint ours = 0;

	if (st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	/* Section 8: a stanza-id is only unspoofable from the entity that set
	 * it, so only our server's (or the room's) counts. */
	expected_by = groupchat ? pxm_jid_bare_dup(st->from)
				: g_strdup(pxm_account_get_bare_jid(account));

	for (xmlnode *c = st->message->child; c != NULL; c = c->next) {
		const char *id;

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
		if (expected_by == NULL ||
		    !pxm_jid_equal(xmlnode_get_attrib(c, "by"), expected_by)) {
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
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_COMPOSE] = compose,
	},
};

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0249: Direct MUC Invitations.
 *
 * prpl-jabber sends invitations to rooms the XEP-0045 way only (a message
 * to the room, which relays it), from the invite dialog and /invite alike.
 * Each one also goes straight to the invitee's bare JID here, with the
 * room's password when we joined with one.  prpl-jabber already offers
 * both kinds it receives (password and reason carried): what is left is
 * offering an invitation that arrives both ways only once.
 */
#include "../../host/extension.h"

#include <string.h>

#define ID "xep0249-direct-invite"

/* The id given to a mediated invitation once its direct twin is sent: the
 * prpl sends unacknowledged stanzas again through the same path after a
 * reconnect (with this extension started afresh), and the mark travels
 * with the stanza. */
#define MARK "pxm-invite-"

/* An invitation to the same room within this time is offered once (both
 * kinds of one invitation, or several people inviting at once). */
#define SAME_INVITATION_S (10 * 60)
#define RECENT_MAX 256

typedef struct {
	GHashTable *passwords; /* normalised room JID -> password */
	GHashTable *recent;    /* normalised room JID -> gint64 *, Unix s */
} State;

/* --- Sending ---------------------------------------------------------- */

static xmlnode *
direct_invitation(const char *invitee, const char *room, const char *password,
		  const char *reason)
{
	xmlnode *message = xmlnode_new("message");
	xmlnode *x;

	xmlnode_set_attrib(message, "to", invitee);
	x = xmlnode_new_child(message, "x");
	xmlnode_set_namespace(x, PXM_NS_CONFERENCE);
	xmlnode_set_attrib(x, "jid", room);
	if (password != NULL && *password != '\0')
		xmlnode_set_attrib(x, "password", password);
	if (reason != NULL && *reason != '\0')
		xmlnode_set_attrib(x, "reason", reason);
	return message;
}

/* XEP-0045 section 7.8.2: <message to='room'><x xmlns='muc#user'><invite
 * to='invitee'><reason/></invite></x></message>, as jabber_chat_invite()
 * builds it. */
static void
compose_message(PxmAccount *account, State *state, PxmStanza *st)
{
	xmlnode *x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER);
	g_autofree char *room = NULL;
	g_autofree char *mark = NULL;
	g_autofree char *uuid = NULL;
	guint sent = 0;

	if (x == NULL || g_strcmp0(st->type, "error") == 0 ||
	    pxm_jid_resource_peek(st->to) != NULL ||
	    (room = pxm_jid_bare_dup(st->to)) == NULL ||
	    (st->id != NULL && g_str_has_prefix(st->id, MARK)))
		return;
	for (xmlnode *c = x->child; c != NULL; c = c->next) {
		const char *to;
		xmlnode *r;
		g_autofree char *invitee = NULL;
		g_autofree char *reason = NULL;

		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "invite"))
			continue;
		to = xmlnode_get_attrib(c, "to");
		if ((invitee = pxm_jid_bare_dup(to)) == NULL)
			continue;
		/* Section 3: to the bare JID (the server picks the
		 * resources); not to a contact known not to understand it. */
		if (!pxm_account_peer_may_support(account, to,
						  PXM_NS_CONFERENCE)) {
			purple_debug_info(ID,
					  "%s announces no %s: invited "
					  "through the room only\n",
					  invitee, PXM_NS_CONFERENCE);
			continue;
		}
		if ((r = pxm_xml_child(c, "reason", NULL)) != NULL)
			reason = xmlnode_get_data(r);
		pxm_account_send(
			account,
			direct_invitation(
				invitee, room,
				g_hash_table_lookup(state->passwords, room),
				reason));
		sent++;
	}
	if (sent == 0)
		return;
	uuid = g_uuid_string_random();
	mark = g_strconcat(MARK, uuid, NULL);
	xmlnode_set_attrib(st->stanza, "id", mark);
	/* The old value was freed with the attribute. */
	st->id = xmlnode_get_attrib(st->stanza, "id");
}

/* Our presences to rooms: the password to pass on in invitations. */
static void
compose_presence(State *state, PxmStanza *st)
{
	g_autofree char *room = NULL;
	xmlnode *x, *password;

	if (pxm_jid_resource_peek(st->to) == NULL ||
	    (room = pxm_jid_bare_dup(st->to)) == NULL)
		return;
	if (g_strcmp0(st->type, "unavailable") == 0) {
		g_hash_table_remove(state->passwords, room);
		return;
	}
	if (st->type != NULL ||
	    (x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC)) == NULL ||
	    (password = pxm_xml_child(x, "password", NULL)) == NULL)
		return;
	g_hash_table_replace(state->passwords, g_steal_pointer(&room),
			     xmlnode_get_data(password));
}

static PxmVerdict
compose(PxmAccount *account, gpointer data, PxmStanza *st)
{
	if (st->kind == PXM_STANZA_PRESENCE)
		compose_presence(data, st);
	else
		compose_message(account, data, st);
	return PXM_VERDICT_CONTINUE;
}

/* --- Receiving -------------------------------------------------------- */

static gboolean
in_room(PxmAccount *account, const char *room)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	PurpleConversation *conv =
		pa != NULL ? purple_find_conversation_with_account(
				     PURPLE_CONV_TYPE_CHAT, room, pa)
			   : NULL;

	return conv != NULL &&
	       !purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv));
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *x;
	g_autofree char *room = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	gint64 *when;

	if (st->message != st->stanza || g_strcmp0(st->type, "error") == 0 ||
	    g_strcmp0(st->type, "groupchat") == 0)
		return PXM_VERDICT_CONTINUE;
	/* Relayed by the room (XEP-0045 section 7.8.2), which may add a
	 * jabber:x:conference element of its own (Prosody does). */
	if ((x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER)) != NULL &&
	    pxm_xml_child(x, "invite", NULL) != NULL) {
		if (pxm_jid_resource_peek(st->from) != NULL)
			return PXM_VERDICT_CONTINUE;
		room = pxm_jid_bare_dup(st->from);
	} else if ((x = pxm_xml_child(st->stanza, "x", PXM_NS_CONFERENCE)) !=
		   NULL) {
		const char *jid = xmlnode_get_attrib(x, "jid");

		/* Section 3: 'jid' (the room's address) is REQUIRED.  A full
		 * JID is no room. */
		if (jid == NULL || pxm_jid_resource_peek(jid) != NULL ||
		    (room = pxm_jid_bare_dup(jid)) == NULL) {
			purple_debug_warning(ID, "dropping a direct invitation "
						 "without a valid room "
						 "address\n");
			return PXM_VERDICT_DROP;
		}
	} else {
		return PXM_VERDICT_CONTINUE;
	}
	if (room == NULL)
		return PXM_VERDICT_CONTINUE;
	if (in_room(account, room)) {
		purple_debug_info(ID, "not offering to join %s: already in\n",
				  room);
		return PXM_VERDICT_CONSUMED;
	}
	/* The same room: one offer, whoever invites (a semi-anonymous room
	 * names the inviter by nick, the direct invitation by JID). */
	when = g_hash_table_lookup(state->recent, room);
	if (when != NULL && now - *when >= 0 &&
	    now - *when < SAME_INVITATION_S) {
		purple_debug_info(ID, "invitation to %s already offered\n",
				  room);
		return PXM_VERDICT_CONSUMED;
	}
	if (g_hash_table_size(state->recent) >= RECENT_MAX)
		g_hash_table_remove_all(state->recent);
	when = g_new(gint64, 1);
	*when = now;
	g_hash_table_replace(state->recent, g_steal_pointer(&room), when);
	return PXM_VERDICT_CONTINUE;
}

/* --- Start and stop --------------------------------------------------- */

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_new0(State, 1);

	state->passwords = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, g_free);
	state->recent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      g_free);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	g_hash_table_unref(state->passwords);
	g_hash_table_unref(state->recent);
	g_free(state);
}

const PxmExtensionClass pxm_xep0249_direct_invite = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_COMPOSE] = compose,
	},
};

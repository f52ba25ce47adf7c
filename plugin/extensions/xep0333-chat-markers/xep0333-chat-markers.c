// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0333: Displayed Markers (version 1.0.0).
 *
 * Our one-to-one messages are marked <markable/> when the contact's client
 * may support markers.  When the user has seen a conversation (in
 * libpurple's sense: its unseen count went back to 0, or a message arrived
 * while it had the focus), its latest markable message gets one
 * <displayed/> marker, unless the user's other device already sent one
 * for it or a later message.  Markers for messages we sent fire the
 * "xmpp-modern-message-displayed" signal, which xep0184-receipts registers
 * and documents and whose handler there shows "read" in the conversation's
 * title.
 *
 * Version 1.0.0 dropped <received/> and <acknowledged/> (section 9):
 * delivery is XEP-0184's receipts, sent on arrival by xep0184-receipts.
 * Rooms are left alone: markers are neither sent nor shown there.
 */
#include "xep0333-chat-markers.h"

#include <string.h>

#define ID "xep0333-chat-markers"
#define SIGNAL_DISPLAYED "xmpp-modern-message-displayed"

typedef struct {
	char *id;
	char *type;
	gint64 timestamp;
	gboolean displayed; /* the marker for it went out */
} Markable;

/* The latest of our messages a contact displayed. */
typedef struct {
	char *id;
	gint64 timestamp;
} Displayed;

typedef struct {
	PxmAccount *account;
	PurpleAccount *purple; /* NULL in unit tests */
	GHashTable *markable;  /* conversation (bare JID) -> Markable */
	GHashTable *displayed; /* conversation (bare JID) -> Displayed */
} State;

/* The plugin owning the signals, between plugin_load and plugin_unload. */
static PurplePlugin *plugin_handle;
/* The running States, for libpurple's signal handlers. */
static GList *running;
static guint core_users;
static int core_handle;

static void
markable_free(Markable *markable)
{
	g_free(markable->id);
	g_free(markable->type);
	g_free(markable);
}

static void
displayed_free(Displayed *displayed)
{
	g_free(displayed->id);
	g_free(displayed);
}

static State *
find_state(PurpleAccount *purple)
{
	for (GList *l = running; purple != NULL && l != NULL; l = l->next)
		if (((State *)l->data)->purple == purple)
			return l->data;
	return NULL;
}

static const char *
nonempty(const char *text)
{
	return text != NULL && *text != '\0' ? text : NULL;
}

static gboolean
is_chat_type(const char *type)
{
	return type == NULL || g_str_equal(type, "chat") ||
	       g_str_equal(type, "normal");
}

/* --- Incoming ---------------------------------------------------------- */

/*
 * The user displayed message @id of a contact on another device (a copy of
 * the marker it sent).  Section 8: markers only move forward, so ours for
 * that message or an older one would say nothing new: it is not sent.
 */
static void
own_displayed(PxmAccount *account, State *state, PxmStanza *st, const char *id)
{
	g_autofree char *conversation = pxm_jid_bare_dup(st->to);
	Markable *markable = conversation != NULL
				     ? g_hash_table_lookup(state->markable,
							   conversation)
				     : NULL;
	const PxmShownMessage *message;

	if (markable == NULL || markable->displayed || !is_chat_type(st->type))
		return;
	if (g_str_equal(markable->id, id)) {
		markable->displayed = TRUE;
		return;
	}
	/* A later message than ours to mark (same second: not known to be
	 * later, so ours still goes out). */
	message = pxm_presenter_find(account, conversation, id);
	if (message != NULL && !message->sent &&
	    message->timestamp > markable->timestamp)
		markable->displayed = TRUE;
}

/* The contact displayed one of our messages (and those before it). */
static void
contact_displayed(PxmAccount *account, State *state, PxmStanza *st,
		  xmlnode *marker)
{
	const char *id = nonempty(xmlnode_get_attrib(marker, "id"));
	g_autofree char *conversation = pxm_jid_bare_dup(st->from);
	const PxmShownMessage *message;
	Displayed *last;

	if (id == NULL) {
		purple_debug_warning(ID, "ignoring a marker without an id\n");
		return;
	}
	if (st->sent_by_me) {
		own_displayed(account, state, st, id);
		return;
	}
	/* Section 8: markers one of our devices sent (carbons, above) are
	 * not the contact's; archived ones are old news. */
	if (st->origin == PXM_ORIGIN_ARCHIVE || conversation == NULL ||
	    pxm_account_is_own_bare_jid(account, conversation))
		return;
	if (g_strcmp0(st->type, "groupchat") == 0 ||
	    pxm_account_is_room_message(account, st->message, conversation))
		return;
	/* Section 8: "a message not found in the respective chat MUST be
	 * ignored"; so is one the contact did not get from us. */
	message = pxm_presenter_find(account, conversation, id);
	if (message == NULL || !message->sent) {
		purple_debug_warning(ID, "ignoring a marker for a message not "
					 "sent to its sender\n");
		return;
	}
	/* Section 8: markers only move forward; an older one "MUST be
	 * ignored". */
	last = g_hash_table_lookup(state->displayed, conversation);
	if (last != NULL &&
	    (g_str_equal(last->id, id) || message->timestamp < last->timestamp))
		return;
	last = g_new0(Displayed, 1);
	last->id = g_strdup(id);
	last->timestamp = message->timestamp;
	g_hash_table_insert(state->displayed, g_strdup(conversation), last);
	if (plugin_handle != NULL)
		purple_signal_emit(plugin_handle, SIGNAL_DISPLAYED,
				   state->purple, conversation, id);
}

static void
remember_markable(PxmAccount *account, State *state, PxmStanza *st)
{
	g_autofree char *conversation = pxm_jid_bare_dup(st->from);
	gint64 timestamp = st->timestamp != 0
				   ? st->timestamp
				   : g_get_real_time() / G_USEC_PER_SEC;
	Markable *markable;

	/* Section 8: never for our own messages, whichever device sent
	 * them. */
	if (st->sent_by_me || conversation == NULL ||
	    pxm_account_is_own_bare_jid(account, conversation))
		return;
	if (!is_chat_type(st->type) ||
	    pxm_account_is_room_message(account, st->message, conversation))
		return;
	/* Section 5.1: the marker echoes the id. */
	if (nonempty(st->id) == NULL) {
		purple_debug_warning(ID, "ignoring a markable message without "
					 "an id\n");
		return;
	}
	if (!pxm_stanza_has_body(st))
		return;
	/* Section 11: "a sender SHOULD NOT send Displayed Markers to
	 * recipients who are not otherwise authorized to view its
	 * presence". */
	if (!pxm_account_shares_presence(account, conversation)) {
		purple_debug_info(ID,
				  "not marking messages of %s, who does not "
				  "share presence with us\n",
				  conversation);
		return;
	}
	/* Archive pages can bring older messages after newer ones, and a
	 * message can come again (the host drops the copy after this). */
	markable = g_hash_table_lookup(state->markable, conversation);
	if (markable != NULL && (markable->timestamp > timestamp ||
				 g_str_equal(markable->id, st->id)))
		return;
	markable = g_new0(Markable, 1);
	markable->id = g_strdup(st->id);
	markable->type = g_strdup(st->type);
	markable->timestamp = timestamp;
	g_hash_table_insert(state->markable, g_strdup(conversation), markable);
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *marker;

	if (st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	marker = pxm_xml_child(st->message, "displayed", PXM_NS_CHAT_MARKERS);
	if (marker != NULL)
		contact_displayed(account, state, st, marker);
	/* Section 5.2: "MUST NOT send a Displayed Marker as a response to a
	 * Displayed Marker". */
	if (pxm_xml_child(st->message, "markable", PXM_NS_CHAT_MARKERS) == NULL)
		return PXM_VERDICT_CONTINUE;
	if (marker != NULL)
		purple_debug_warning(ID, "ignoring a marker that is "
					 "markable\n");
	else
		remember_markable(account, state, st);
	return PXM_VERDICT_CONTINUE;
}

/* --- The user has seen a conversation ---------------------------------- */

void
pxm_chat_markers_seen(PxmAccount *account, gpointer data,
		      const char *conversation)
{
	State *state = data;
	Markable *markable = g_hash_table_lookup(state->markable, conversation);
	g_autofree char *uuid = NULL;
	xmlnode *message, *displayed;

	/* Section 5.2: one marker, for the most recent message. */
	if (markable == NULL || markable->displayed)
		return;
	markable->displayed = TRUE;
	/* Section 5.2: "MAY be sent to the bare JID", so the contact's other
	 * devices learn it too. */
	message = xmlnode_new("message");
	xmlnode_set_attrib(message, "to", conversation);
	if (g_strcmp0(markable->type, "chat") == 0)
		xmlnode_set_attrib(message, "type", "chat");
	uuid = g_uuid_string_random();
	xmlnode_set_attrib(message, "id", uuid);
	displayed = xmlnode_new_child(message, "displayed");
	xmlnode_set_namespace(displayed, PXM_NS_CHAT_MARKERS);
	xmlnode_set_attrib(displayed, "id", markable->id);
	pxm_account_send(account, message);
}

static void
conversation_seen(PurpleConversation *conv)
{
	State *state = find_state(purple_conversation_get_account(conv));
	g_autofree char *conversation = NULL;

	if (state == NULL ||
	    purple_conversation_get_type(conv) != PURPLE_CONV_TYPE_IM)
		return;
	conversation = pxm_conversation_jid_dup(conv);
	if (conversation != NULL)
		pxm_chat_markers_seen(state->account, state, conversation);
}

/* Pidgin and Finch set the conversation's "unseen-count" back to 0 and
 * emit this when the user looks at it. */
static void
on_conversation_updated(PurpleConversation *conv, PurpleConvUpdateType type,
			gpointer data)
{
	if (type == PURPLE_CONV_UPDATE_UNSEEN &&
	    GPOINTER_TO_INT(
		    purple_conversation_get_data(conv, "unseen-count")) == 0)
		conversation_seen(conv);
}

/* A message written while the user looks at the conversation is seen at
 * once (Pidgin then sends no unseen update). */
static void
on_wrote_im(PurpleAccount *purple, const char *who, const char *text,
	    PurpleConversation *conv, PurpleMessageFlags flags, gpointer data)
{
	if ((flags & PURPLE_MESSAGE_RECV) && conv != NULL &&
	    purple_conversation_has_focus(conv))
		conversation_seen(conv);
}

/* --- Outgoing ---------------------------------------------------------- */

/* Runs again on the prpl's resends after a reconnect: one <markable/> at
 * most. */
static PxmVerdict
annotate(PxmAccount *account, gpointer data, PxmStanza *st)
{
	g_autofree char *bare = NULL;
	xmlnode *markable;

	if (st->body == NULL || st->to == NULL || !is_chat_type(st->type))
		return PXM_VERDICT_CONTINUE;
	bare = pxm_jid_bare_dup(st->to);
	if (bare == NULL || pxm_account_is_own_bare_jid(account, bare) ||
	    pxm_account_is_room_message(account, st->stanza, bare))
		return PXM_VERDICT_CONTINUE;
	/* So markers find it even when XEP-0359 is off (a no-op when it
	 * already recorded it). */
	pxm_presenter_remember_sent(account, st->to, st);
	/* Section 5.1: the message "MUST possess an 'id'".  Section 4:
	 * support shows in caps (nothing known: mark, as Conversations and
	 * Dino do). */
	if (nonempty(st->id) == NULL ||
	    pxm_xml_child(st->stanza, "markable", PXM_NS_CHAT_MARKERS) !=
		    NULL ||
	    pxm_xml_child(st->stanza, "displayed", PXM_NS_CHAT_MARKERS) !=
		    NULL ||
	    !pxm_account_peer_may_support(account, st->to, PXM_NS_CHAT_MARKERS))
		return PXM_VERDICT_CONTINUE;
	markable = xmlnode_new_child(st->stanza, "markable");
	xmlnode_set_namespace(markable, PXM_NS_CHAT_MARKERS);
	return PXM_VERDICT_CONTINUE;
}

/* --- Life cycle -------------------------------------------------------- */

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_new0(State, 1);
	void *conversations;

	state->account = account;
	state->purple = pxm_account_get_purple(account);
	state->markable = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						(GDestroyNotify)markable_free);
	state->displayed =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				      (GDestroyNotify)displayed_free);
	running = g_list_prepend(running, state);
	/* Conversations exist only with libpurple's core (not in unit
	 * tests). */
	if (state->purple != NULL && core_users++ == 0) {
		conversations = purple_conversations_get_handle();
		purple_signal_connect(
			conversations, "conversation-updated", &core_handle,
			PURPLE_CALLBACK(on_conversation_updated), NULL);
		purple_signal_connect(conversations, "wrote-im-msg",
				      &core_handle,
				      PURPLE_CALLBACK(on_wrote_im), NULL);
	}
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	if (state->purple != NULL && --core_users == 0)
		purple_signals_disconnect_by_handle(&core_handle);
	running = g_list_remove(running, state);
	g_hash_table_unref(state->markable);
	g_hash_table_unref(state->displayed);
	g_free(state);
}

static void
plugin_load(PurplePlugin *plugin)
{
	plugin_handle = plugin;
}

static void
plugin_unload(PurplePlugin *plugin)
{
	plugin_handle = NULL;
}

const PxmExtensionClass pxm_xep0333_chat_markers = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_ANNOTATE] = annotate,
	},
	.plugin_load = plugin_load,
	.plugin_unload = plugin_unload,
};

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0184: Message Delivery Receipts.
 *
 * Our one-to-one messages ask for a receipt when the contact's client may
 * give one; requests of contacts allowed to see our presence are answered;
 * receipts for messages we sent mark them delivered.
 *
 * This extension also owns the message-state signals, registered on the
 * xmpp-modern plugin (purple_plugins_find_with_id("core-xmpp-modern"))
 * while it is loaded, whether or not an account uses the extension:
 *
 *   "xmpp-modern-message-delivered"
 *   "xmpp-modern-message-displayed"
 *       void (PurpleAccount *account, const char *who,
 *             const char *message_id, gpointer data)
 *
 * @who is the normalised bare JID of the contact and @message_id the 'id'
 * attribute of a message this account sent to them.  "delivered" fires for
 * each receipt (XEP-0184) of such a message; "displayed" (emitted by
 * xep0333-chat-markers) means the contact's client displayed it and the
 * messages before it.  A contact with several devices can confirm a
 * message more than once: handlers should be idempotent.
 *
 * What the user sees: the title of the conversation tells the state of the
 * last message they sent, "Bob — ✓ delivered" then "Bob — ✓✓ read at
 * 14:03", and goes back to "Bob" when they send the next one.  One line per
 * receipt would flood the conversation; the title updates in place, shows
 * in Pidgin's tab and window and in Finch's window, and is restored when
 * the extension stops.  "Read" comes from the displayed signal: it shows
 * on accounts where this extension runs.
 */
#include "../../host/extension.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define ID "xep0184-receipts"
#define SIGNAL_DELIVERED "xmpp-modern-message-delivered"
#define SIGNAL_DISPLAYED "xmpp-modern-message-displayed"
/* Conversation data: set while the title shows a state. */
#define TITLE_KEY "xmpp-modern-receipts-title"

typedef enum {
	LEVEL_NONE,
	LEVEL_DELIVERED,
	LEVEL_READ,
} Level;

/* The state of the latest message we sent in a conversation. */
typedef struct {
	char *key; /* its id (see message_key()) */
	Level level;
	gint64 read_at;
} Progress;

typedef struct {
	PxmAccount *account;
	PurpleAccount *purple; /* NULL in unit tests */
	GHashTable *progress;  /* conversation (bare JID) -> Progress */
} State;

/* The plugin the signals belong to, between plugin_load and
 * plugin_unload. */
static PurplePlugin *plugin_handle;
/* The running States, for the signal handlers. */
static GList *running;
static guint core_users;
static int core_handle;
static int plugin_signals_handle;

static void
progress_free(Progress *progress)
{
	g_free(progress->key);
	g_free(progress);
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

/* --- What the user sees ---------------------------------------------- */

/* The id a receipt or marker names: the message's 'id'. */
static const char *
message_key(const PxmShownMessage *message)
{
	if (message->id != NULL)
		return message->id;
	return message->origin_id != NULL ? message->origin_id
					  : message->stanza_id;
}

static char *
title_with_progress(State *state, PurpleConversation *conv,
		    const Progress *progress)
{
	const char *name = purple_conversation_get_name(conv);
	PurpleBuddy *buddy = purple_find_buddy(state->purple, name);
	/* What purple_conversation_autoset_title() would show. */
	const char *base = buddy != NULL ? purple_buddy_get_contact_alias(buddy)
					 : name;
	g_autoptr(GDateTime) when = NULL;
	g_autofree char *at = NULL;

	if (progress->level == LEVEL_DELIVERED)
		/* TRANSLATORS: the title of a conversation when the contact's
		 * client confirmed the last message you sent; %s is the
		 * contact's name. */
		return g_strdup_printf(_("%s — ✓ delivered"), base);
	when = g_date_time_new_from_unix_local(progress->read_at);
	at = g_date_time_format(when, "%H:%M");
	/* TRANSLATORS: the title of a conversation when the contact read
	 * the last message you sent; the first %s is the contact's name,
	 * the second a time such as 14:03. */
	return g_strdup_printf(_("%s — ✓✓ read at %s"), base, at);
}

/* Shows the state of the latest message sent in @conversation, if any is
 * known, in its title. */
static void
show_progress(State *state, const char *conversation)
{
	const PxmShownMessage *latest;
	const Progress *progress;
	PurpleConversation *conv;
	g_autofree char *title = NULL;

	if (state->purple == NULL)
		return;
	conv = purple_find_conversation_with_account(
		PURPLE_CONV_TYPE_IM, conversation, state->purple);
	if (conv == NULL)
		return;
	latest = pxm_presenter_last(state->account, conversation,
				    PXM_LAST_SENT);
	progress = g_hash_table_lookup(state->progress, conversation);
	if (latest != NULL && progress != NULL &&
	    g_strcmp0(message_key(latest), progress->key) == 0)
		title = title_with_progress(state, conv, progress);
	if (title == NULL) {
		if (purple_conversation_get_data(conv, TITLE_KEY) != NULL) {
			purple_conversation_set_data(conv, TITLE_KEY, NULL);
			purple_conversation_autoset_title(conv);
		}
		return;
	}
	purple_conversation_set_data(conv, TITLE_KEY, GINT_TO_POINTER(TRUE));
	if (g_strcmp0(purple_conversation_get_title(conv), title) != 0)
		purple_conversation_set_title(conv, title);
}

/* @message (ours, in @conversation) reached @level: if it is the latest we
 * sent there, the title says so.  Never goes back (a late receipt after
 * the message was read). */
static void
progress_raise(State *state, const char *conversation,
	       const PxmShownMessage *message, Level level)
{
	const PxmShownMessage *latest =
		pxm_presenter_last(state->account, conversation, PXM_LAST_SENT);
	Progress *progress;

	if (latest != message)
		return;
	progress = g_hash_table_lookup(state->progress, conversation);
	if (progress == NULL ||
	    g_strcmp0(progress->key, message_key(message)) != 0) {
		progress = g_new0(Progress, 1);
		progress->key = g_strdup(message_key(message));
		g_hash_table_insert(state->progress, g_strdup(conversation),
				    progress);
	}
	if (level <= progress->level)
		return;
	progress->level = level;
	if (level == LEVEL_READ)
		progress->read_at = g_get_real_time() / G_USEC_PER_SEC;
	show_progress(state, conversation);
}

/* libpurple sets the title again when the contact's alias changes or the
 * conversation moves to another resource: put the state back. */
static void
on_conversation_updated(PurpleConversation *conv, PurpleConvUpdateType type,
			gpointer data)
{
	State *state;
	g_autofree char *conversation = NULL;

	if (type != PURPLE_CONV_UPDATE_TITLE ||
	    purple_conversation_get_data(conv, TITLE_KEY) == NULL)
		return;
	state = find_state(purple_conversation_get_account(conv));
	conversation = pxm_conversation_jid_dup(conv);
	if (state != NULL && conversation != NULL)
		show_progress(state, conversation);
}

/* "xmpp-modern-message-displayed", whoever emits it. */
static void
on_displayed(PurpleAccount *purple, const char *who, const char *id,
	     gpointer data)
{
	State *state = find_state(purple);
	const PxmShownMessage *message;

	if (state == NULL)
		return;
	message = pxm_presenter_find(state->account, who, id);
	if (message != NULL && message->sent)
		progress_raise(state, who, message, LEVEL_READ);
}

static void
restore_titles(State *state)
{
	for (GList *l = purple_get_ims(); l != NULL; l = l->next) {
		PurpleConversation *conv = l->data;

		if (purple_conversation_get_account(conv) != state->purple ||
		    purple_conversation_get_data(conv, TITLE_KEY) == NULL)
			continue;
		purple_conversation_set_data(conv, TITLE_KEY, NULL);
		purple_conversation_autoset_title(conv);
	}
}

/* --- Incoming ---------------------------------------------------------- */

static void
answer(PxmAccount *account, State *state, PxmStanza *st)
{
	g_autofree char *bare = pxm_jid_bare_dup(st->from);
	g_autofree char *uuid = NULL;
	xmlnode *ack, *received;

	/* Section 5.5: only when the message first arrives, not from an
	 * archive; a carbon was delivered to our other device, which
	 * answers. */
	if (st->origin != PXM_ORIGIN_LIVE)
		return;
	/* Never to ourselves (our other devices). */
	if (st->sent_by_me || bare == NULL ||
	    pxm_account_is_own_bare_jid(account, bare))
		return;
	/* Section 5.3: not in rooms, nor in private with their occupants
	 * (the answer would go through the room); never to errors. */
	if (g_strcmp0(st->type, "groupchat") == 0 ||
	    g_strcmp0(st->type, "error") == 0 ||
	    pxm_account_is_room_message(account, st->message, bare))
		return;
	/* Section 6: the ack echoes the id; without one it means nothing. */
	if (nonempty(st->id) == NULL) {
		purple_debug_warning(ID, "not answering a receipt request "
					 "without a message id\n");
		return;
	}
	/* Section 9: receipts leak presence, so they go only to "senders
	 * who are otherwise authorized to view [our] presence". */
	if (!pxm_account_shares_presence(account, bare)) {
		purple_debug_info(ID,
				  "not answering a receipt request of %s, "
				  "who does not share presence with us\n",
				  bare);
		return;
	}

	/* Section 6: "only one child element", the same type as the
	 * request. */
	ack = xmlnode_new("message");
	xmlnode_set_attrib(ack, "to", st->from);
	if (g_strcmp0(st->type, "chat") == 0 ||
	    g_strcmp0(st->type, "normal") == 0)
		xmlnode_set_attrib(ack, "type", st->type);
	uuid = g_uuid_string_random();
	xmlnode_set_attrib(ack, "id", uuid);
	received = xmlnode_new_child(ack, "received");
	xmlnode_set_namespace(received, PXM_NS_RECEIPTS);
	xmlnode_set_attrib(received, "id", st->id);
	pxm_account_send(account, ack);
}

static void
delivered(PxmAccount *account, State *state, PxmStanza *st, xmlnode *receipt)
{
	const char *id = nonempty(xmlnode_get_attrib(receipt, "id"));
	g_autofree char *conversation = pxm_jid_bare_dup(st->from);
	const PxmShownMessage *message;

	if (id == NULL) {
		purple_debug_warning(ID, "ignoring a receipt without an id\n");
		return;
	}
	/* A receipt one of our devices sent (a carbon) is not the contact's;
	 * archived receipts are old news. */
	if (st->sent_by_me || st->origin == PXM_ORIGIN_ARCHIVE ||
	    conversation == NULL ||
	    pxm_account_is_own_bare_jid(account, conversation))
		return;
	if (g_strcmp0(st->type, "groupchat") == 0 ||
	    pxm_account_is_room_message(account, st->message, conversation)) {
		purple_debug_warning(ID, "ignoring a receipt from a room\n");
		return;
	}
	/* Only for a message we sent to that contact: an id of another
	 * conversation, or one we never sent, means nothing. */
	message = pxm_presenter_find(account, conversation, id);
	if (message == NULL || !message->sent) {
		purple_debug_warning(ID, "ignoring a receipt for a message "
					 "not sent to its sender\n");
		return;
	}
	if (plugin_handle != NULL)
		purple_signal_emit(plugin_handle, SIGNAL_DELIVERED,
				   state->purple, conversation, id);
	progress_raise(state, conversation, message, LEVEL_DELIVERED);
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *request, *receipt;

	if (st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	request = pxm_xml_child(st->message, "request", PXM_NS_RECEIPTS);
	receipt = pxm_xml_child(st->message, "received", PXM_NS_RECEIPTS);
	if (receipt != NULL)
		delivered(account, state, st, receipt);
	/* Section 5.4: an ack never asks for an ack (loops). */
	if (request != NULL && receipt != NULL)
		purple_debug_warning(ID, "not answering a receipt that asks "
					 "for a receipt\n");
	else if (request != NULL)
		answer(account, state, st);
	return PXM_VERDICT_CONTINUE;
}

/* --- Outgoing ---------------------------------------------------------- */

/* Runs again on the prpl's resends after a reconnect: one <request/> at
 * most. */
static PxmVerdict
annotate(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	g_autofree char *bare = NULL;
	xmlnode *request;

	/* Content messages in one-to-one chats (section 5.3: not rooms). */
	if (st->body == NULL || st->to == NULL ||
	    (st->type != NULL && !g_str_equal(st->type, "chat") &&
	     !g_str_equal(st->type, "normal")))
		return PXM_VERDICT_CONTINUE;
	bare = pxm_jid_bare_dup(st->to);
	if (bare == NULL || pxm_account_is_own_bare_jid(account, bare) ||
	    pxm_account_is_room_message(account, st->stanza, bare))
		return PXM_VERDICT_CONTINUE;
	/* So receipts find it even when XEP-0359 is off (a no-op when it
	 * already recorded it). */
	pxm_presenter_remember_sent(account, st->to, st);
	show_progress(state, bare);
	/* Section 6: the id is what the receipt echoes; section 5.4: never
	 * in an ack.  Section 5: to a full JID, ask only if its client
	 * supports receipts; to a bare JID support cannot be known and
	 * asking is allowed (5.1). */
	if (nonempty(st->id) == NULL ||
	    pxm_xml_child(st->stanza, "received", PXM_NS_RECEIPTS) != NULL ||
	    pxm_xml_child(st->stanza, "request", PXM_NS_RECEIPTS) != NULL ||
	    !pxm_account_peer_may_support(account, st->to, PXM_NS_RECEIPTS))
		return PXM_VERDICT_CONTINUE;
	request = xmlnode_new_child(st->stanza, "request");
	xmlnode_set_namespace(request, PXM_NS_RECEIPTS);
	return PXM_VERDICT_CONTINUE;
}

/* --- Life cycle -------------------------------------------------------- */

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_new0(State, 1);

	state->account = account;
	state->purple = pxm_account_get_purple(account);
	state->progress = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						(GDestroyNotify)progress_free);
	running = g_list_prepend(running, state);
	/* Conversations exist only with libpurple's core (not in unit
	 * tests). */
	if (state->purple != NULL && core_users++ == 0)
		purple_signal_connect(purple_conversations_get_handle(),
				      "conversation-updated", &core_handle,
				      PURPLE_CALLBACK(on_conversation_updated),
				      NULL);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	if (state->purple != NULL) {
		if (--core_users == 0)
			purple_signals_disconnect_by_handle(&core_handle);
		restore_titles(state);
	}
	running = g_list_remove(running, state);
	g_hash_table_unref(state->progress);
	g_free(state);
}

static void
register_signal(PurplePlugin *plugin, const char *name)
{
	purple_signal_register(
		plugin, name, purple_marshal_VOID__POINTER_POINTER_POINTER,
		NULL, 3,
		purple_value_new(PURPLE_TYPE_SUBTYPE, PURPLE_SUBTYPE_ACCOUNT),
		purple_value_new(PURPLE_TYPE_STRING),
		purple_value_new(PURPLE_TYPE_STRING));
}

static void
plugin_load(PurplePlugin *plugin)
{
	plugin_handle = plugin;
	register_signal(plugin, SIGNAL_DELIVERED);
	register_signal(plugin, SIGNAL_DISPLAYED);
	purple_signal_connect(plugin, SIGNAL_DISPLAYED, &plugin_signals_handle,
			      PURPLE_CALLBACK(on_displayed), NULL);
}

static void
plugin_unload(PurplePlugin *plugin)
{
	purple_signals_disconnect_by_handle(&plugin_signals_handle);
	purple_signal_unregister(plugin, SIGNAL_DISPLAYED);
	purple_signal_unregister(plugin, SIGNAL_DELIVERED);
	plugin_handle = NULL;
}

const PxmExtensionClass pxm_xep0184_receipts = {
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

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0424: Message Retraction.
 *
 * libpurple 2 cannot take back a line it has shown: a retraction is shown
 * as a notice, "Bob retracted a message (“first words…”)", and its fallback
 * body is not.  A retraction of someone else's message is dropped.
 * /retract retracts the user's last message in the conversation.
 */
#include "xep0424-retraction.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define ID "xep0424-retraction"
/* Characters of the retracted message quoted in the notice. */
#define EXCERPT_CHARS 50
/* Past these sizes a table starts over (long sessions, hostile rooms). */
#define TABLE_MAX 1000
/* Section 3: the fallback for clients without retraction (sent as is:
 * the recipient's language is unknown). */
#define FALLBACK_BODY                                                          \
	"/me retracted a previous message, but it's unsupported by your "      \
	"client."

typedef struct {
	/* "conversation \x1f retracted id": shown once. */
	GHashTable *retracted;
} State;

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_new0(State, 1);

	state->retracted = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, NULL);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	g_hash_table_unref(state->retracted);
	g_free(state);
}

static char *
key_dup(const char *conversation, const char *id)
{
	return g_strconcat(conversation, "\x1f", id, NULL);
}

static gboolean
is_retracted(State *state, const char *conversation, const char *id)
{
	g_autofree char *key = key_dup(conversation, id);

	return g_hash_table_contains(state->retracted, key);
}

static void
mark_retracted(State *state, const char *conversation, const char *id)
{
	if (g_hash_table_size(state->retracted) >= TABLE_MAX)
		g_hash_table_remove_all(state->retracted);
	g_hash_table_add(state->retracted, key_dup(conversation, id));
}

/* --- Notices ----------------------------------------------------------- */

char *
pxm_retraction_notice_dup(const char *who, const char *excerpt)
{
	g_autofree char *words =
		excerpt != NULL
			? pxm_text_first_words_dup(excerpt, EXCERPT_CHARS)
			: NULL;
	g_autofree char *text = NULL;

	if (who == NULL && words != NULL)
		/* TRANSLATORS: %s is the start of the message. */
		text = g_strdup_printf(_("You retracted a message (“%s”)."),
				       words);
	else if (who == NULL)
		text = g_strdup(_("You retracted a message."));
	else if (words != NULL)
		/* TRANSLATORS: a contact's name or a nick, then the start of
		 * the message. */
		text = g_strdup_printf(_("%s retracted a message (“%s”)."), who,
				       words);
	else
		/* TRANSLATORS: a contact's name or a nick. */
		text = g_strdup_printf(_("%s retracted a message."), who);
	return purple_markup_escape_text(text, -1);
}

/* --- Incoming ---------------------------------------------------------- */

static PxmVerdict
retraction(PxmAccount *account, State *state, PxmStanza *st,
	   const char *conversation, const char *sender, xmlnode *retract)
{
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	const char *id = xmlnode_get_attrib(retract, "id");
	const PxmShownMessage *target;
	g_autofree char *who = NULL;
	g_autofree char *html = NULL;
	gboolean mine;

	if (id == NULL || *id == '\0') {
		purple_debug_warning(ID, "dropping a retraction naming no "
					 "message\n");
		return PXM_VERDICT_DROP;
	}
	target = pxm_presenter_find(account, conversation, id);
	/* Section 5.1: in a room, the id the room gave the message (or its
	 * origin-id where the room gives none), never its 'id' attribute. */
	if (target != NULL && groupchat &&
	    g_strcmp0(target->stanza_id, id) != 0 &&
	    g_strcmp0(target->origin_id, id) != 0)
		target = NULL;
	/* Section 5: a retraction MUST only be processed when it comes from
	 * the sender of the message: the same bare JID one to one, the same
	 * full JID in a room. */
	if (target != NULL && g_strcmp0(target->sender, sender) != 0) {
		purple_debug_warning(ID, "dropping a retraction of a message "
					 "someone else sent\n");
		return PXM_VERDICT_DROP;
	}
	/* In a room the nick may have changed hands since the message was
	 * sent: then which message is meant is not shown. */
	if (target != NULL && groupchat &&
	    !pxm_account_occupant_joined_since(account, sender,
					       target->timestamp)) {
		purple_debug_info(ID, "a retraction of a message sent before "
				      "its sender joined the room is shown "
				      "without it\n");
		target = NULL;
	}
	if (is_retracted(state, conversation, id))
		return PXM_VERDICT_CONSUMED;
	mark_retracted(state, conversation, id);

	mine = st->sent_by_me || (target != NULL && target->sent) ||
	       (groupchat &&
		pxm_account_is_own_nick(account, conversation, st->from));
	if (!mine)
		who = groupchat ? g_strdup(pxm_jid_resource_peek(sender))
				: pxm_account_contact_name_dup(account, sender);
	html = pxm_retraction_notice_dup(who, target != NULL ? target->excerpt
							     : NULL);
	pxm_presenter_notice(account, conversation, groupchat, html);
	/* The fallback body is for clients without retraction. */
	return PXM_VERDICT_CONSUMED;
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	g_autofree char *conversation = NULL;
	g_autofree char *sender = NULL;
	xmlnode *retract;

	if (st->message == NULL || !pxm_stanza_is_chat(st) ||
	    (retract = pxm_xml_child(st->message, "retract", PXM_NS_RETRACT)) ==
		    NULL ||
	    pxm_stanza_is_room_private(st))
		return PXM_VERDICT_CONTINUE;
	conversation = pxm_jid_bare_dup(
		st->sent_by_me && !groupchat ? st->to : st->from);
	/* The sender as the presenter keeps it: bare JID one to one,
	 * room/nick in rooms. */
	if (groupchat)
		sender = pxm_jid_normalize_dup(st->from);
	else if (st->sent_by_me)
		sender = g_strdup(pxm_account_get_bare_jid(account));
	else
		sender = g_strdup(conversation);
	if (conversation == NULL || sender == NULL)
		return PXM_VERDICT_CONTINUE;
	return retraction(account, state, st, conversation, sender, retract);
}

/* --- Outgoing ---------------------------------------------------------- */

/*
 * The fallback body goes in after the compose phase, which records what
 * the user sent: a retraction is not a message to correct or retract
 * later.  Idempotent: the prpl re-sends unacknowledged stanzas.
 */
static PxmVerdict
annotate(PxmAccount *account, gpointer state, PxmStanza *st)
{
	xmlnode *node;

	if (!pxm_stanza_is_chat(st) ||
	    pxm_xml_child(st->stanza, "retract", PXM_NS_RETRACT) == NULL ||
	    pxm_xml_child(st->stanza, "body", NULL) != NULL)
		return PXM_VERDICT_CONTINUE;
	/* Section 3: a XEP-0428 fallback, so that servers archive it and
	 * clients without retraction show the intent. */
	node = xmlnode_new_child(st->stanza, "fallback");
	xmlnode_set_namespace(node, PXM_NS_FALLBACK);
	xmlnode_set_attrib(node, "for", PXM_NS_RETRACT);
	node = xmlnode_new_child(st->stanza, "body");
	xmlnode_set_namespace(node, PXM_NS_CLIENT);
	xmlnode_insert_data(node, FALLBACK_BODY, -1);
	pxm_stanza_set(&st->body, FALLBACK_BODY);
	return PXM_VERDICT_CONTINUE;
}

/* Section 5.1: the id the room gave @m in a room (its origin-id where the
 * room gives none), its 'id' attribute one to one. */
static const char *
reference(const PxmShownMessage *m, gboolean groupchat)
{
	if (groupchat)
		return m->stanza_id != NULL ? m->stanza_id : m->origin_id;
	return m->id != NULL ? m->id : m->origin_id;
}

PurpleCmdRet
pxm_retraction_send(PxmAccount *account, gpointer data,
		    const char *conversation, const char *to,
		    gboolean groupchat, char **error)
{
	State *state = data;
	const PxmShownMessage *last, *target;
	g_autofree char *ref = NULL;
	g_autofree char *excerpt = NULL;
	g_autofree char *id = NULL;
	xmlnode *message, *node;

	last = pxm_presenter_last(account, conversation, PXM_LAST_SENT);
	if (last == NULL) {
		*error = g_strdup(_("You have sent no message in this "
				    "conversation since you signed in."));
		return PURPLE_CMD_RET_FAILED;
	}
	/* A corrected message: its first version is what other clients
	 * know it by (XEP-0308 section 5). */
	target = pxm_presenter_first_version(account, last);
	if (target != NULL) {
		ref = g_strdup(reference(target, groupchat));
	} else {
		/* No longer remembered: one to one its id is still known; in
		 * a room its stanza-id is not, the correction's is what
		 * there is. */
		ref = g_strdup(groupchat ? reference(last, groupchat)
					 : last->replaces);
		target = last;
	}
	if (ref == NULL) {
		*error = g_strdup(_("This room gave your last message no ID: "
				    "it cannot be retracted."));
		return PURPLE_CMD_RET_FAILED;
	}
	if (is_retracted(state, conversation, ref)) {
		*error = g_strdup(_("Your last message was already "
				    "retracted."));
		return PURPLE_CMD_RET_FAILED;
	}
	/* Copied now: sending may drop the oldest shown message. */
	excerpt = g_strdup(target->excerpt);

	/* Section 5: supporting clients MUST give their messages ids. */
	id = g_uuid_string_random();
	message = xmlnode_new("message");
	xmlnode_set_attrib(message, "type", groupchat ? "groupchat" : "chat");
	xmlnode_set_attrib(message, "to", to);
	xmlnode_set_attrib(message, "id", id);
	node = xmlnode_new_child(message, "retract");
	xmlnode_set_namespace(node, PXM_NS_RETRACT);
	xmlnode_set_attrib(node, "id", ref);
	/* Section 3: MAY ask for it to be archived (XEP-0334). */
	node = xmlnode_new_child(message, "store");
	xmlnode_set_namespace(node, PXM_NS_HINTS);
	pxm_account_send(account, message);
	/* In a room, the room's copy of the retraction is what shows it. */
	if (!groupchat) {
		g_autofree char *html = pxm_retraction_notice_dup(NULL,
								  excerpt);

		mark_retracted(state, conversation, ref);
		pxm_presenter_notice(account, conversation, FALSE, html);
	}
	return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_retract(PxmAccount *account, gpointer state, PurpleConversation *conv,
	    const char *args, char **error)
{
	g_autofree char *jid = NULL;
	const char *to;
	gboolean groupchat;

	if (!pxm_conversation_message_target(conv, &jid, &to, &groupchat,
					     error))
		return PURPLE_CMD_RET_FAILED;
	return pxm_retraction_send(account, state, jid, to, groupchat, error);
}

static const PxmCommand commands[] = {
	{ "retract",
	  N_("retract:  Take back your last message in this conversation. "
	     "Clients that support it hide it, but it may have been read "
	     "already."),
	  TRUE, TRUE, cmd_retract },
	{ 0 },
};

const PxmExtensionClass pxm_xep0424_retraction = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_ANNOTATE] = annotate,
	},
	.commands = commands,
};

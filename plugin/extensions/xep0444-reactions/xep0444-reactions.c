// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0444: Message Reactions.
 *
 * libpurple 2 cannot attach anything to a line it has shown: a reaction is
 * shown as a notice, "Bob reacted 👍 to “first words…”" (or "to an earlier
 * message" when that message is not known), once per change.  /react sets
 * the user's reactions to the last message they received.
 */
#include "xep0444-reactions.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define ID "xep0444-reactions"
/* Characters of the message quoted in the notice. */
#define EXCERPT_CHARS 50
/* Reactions kept of one message from one sender. */
#define REACTIONS_MAX 20
/* Bounds of one reaction: the longest emoji (ZWJ sequences with skin
 * tones) are about 35 bytes and 10 code points. */
#define REACTION_BYTES_MAX 64
#define REACTION_CHARS_MAX 16
/* Past this size the table starts over (long sessions, hostile rooms). */
#define TABLE_MAX 2000

/* The reactions of one sender to one message, as last accepted. */
typedef struct {
	char *set; /* sorted, "\x1f"-separated */
	gint64 stamp;
} Given;

typedef struct {
	/* "conversation \x1f sender \x1f message id" -> Given */
	GHashTable *given;
} State;

static void
given_free(Given *given)
{
	g_free(given->set);
	g_free(given);
}

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_new0(State, 1);

	state->given = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     (GDestroyNotify)given_free);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	g_hash_table_unref(state->given);
	g_free(state);
}

gboolean
pxm_reactions_is_emoji(const char *text)
{
	gboolean symbol = FALSE;
	guint n = 0;
	gsize len;

	if (text == NULL || (len = strlen(text)) == 0 ||
	    len > REACTION_BYTES_MAX || !g_utf8_validate(text, len, NULL))
		return FALSE;
	for (const char *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		GUnicodeScript script;
		GUnicodeType type;

		if (++n > REACTION_CHARS_MAX)
			return FALSE;
		/* Zero-width joiner, variation selectors, tag characters
		 * (flags of regions): the glue of emoji sequences. */
		if (c == 0x200D || c == 0xFE0E || c == 0xFE0F ||
		    (c >= 0xE0020 && c <= 0xE007F))
			continue;
		if (c == 0x20E3) { /* combining keycap: 1️⃣ */
			symbol = TRUE;
			continue;
		}
		type = g_unichar_type(c);
		if (g_unichar_iscntrl(c) || g_unichar_isspace(c) ||
		    g_unichar_isalpha(c) || type == G_UNICODE_FORMAT ||
		    type == G_UNICODE_NON_SPACING_MARK ||
		    type == G_UNICODE_ENCLOSING_MARK)
			return FALSE;
		script = g_unichar_get_script(c);
		if (script != G_UNICODE_SCRIPT_COMMON &&
		    script != G_UNICODE_SCRIPT_INHERITED)
			return FALSE;
		if (c > 0x7F)
			symbol = TRUE;
	}
	return symbol;
}

char *
pxm_reactions_notice_dup(const char *who, const char *const *reactions,
			 const char *excerpt)
{
	g_autofree char *words =
		excerpt != NULL
			? pxm_text_first_words_dup(excerpt, EXCERPT_CHARS)
			: NULL;
	g_autofree char *list =
		reactions != NULL ? g_strjoinv(" ", (char **)reactions) : NULL;
	g_autofree char *text = NULL;

	if (list != NULL && *list != '\0') {
		if (who == NULL && words != NULL)
			/* TRANSLATORS: the emoji, then the start of the
			 * message. */
			text = g_strdup_printf(_("You reacted %s to “%s”."),
					       list, words);
		else if (who == NULL)
			/* TRANSLATORS: %s is one or more emoji. */
			text = g_strdup_printf(_("You reacted %s to an "
						 "earlier message."),
					       list);
		else if (words != NULL)
			/* TRANSLATORS: a contact's name or a nick, the
			 * emoji, then the start of the message. */
			text = g_strdup_printf(_("%s reacted %s to “%s”."), who,
					       list, words);
		else
			/* TRANSLATORS: a contact's name or a nick, then one
			 * or more emoji. */
			text = g_strdup_printf(_("%s reacted %s to an earlier "
						 "message."),
					       who, list);
	} else if (who == NULL && words != NULL) {
		/* TRANSLATORS: %s is the start of the message. */
		text = g_strdup_printf(_("You removed your reactions to "
					 "“%s”."),
				       words);
	} else if (who == NULL) {
		text = g_strdup(_("You removed your reactions to an earlier "
				  "message."));
	} else if (words != NULL) {
		/* TRANSLATORS: a contact's name or a nick, then the start of
		 * the message. */
		text = g_strdup_printf(_("%s removed their reactions to "
					 "“%s”."),
				       who, words);
	} else {
		/* TRANSLATORS: a contact's name or a nick. */
		text = g_strdup_printf(_("%s removed their reactions to an "
					 "earlier message."),
				       who);
	}
	return purple_markup_escape_text(text, -1);
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* @reactions (NULL-terminated) in an order-independent form. */
static char *
canonical_dup(GPtrArray *reactions)
{
	g_autoptr(GPtrArray) sorted = g_ptr_array_new();

	for (guint i = 0; i + 1 < reactions->len; i++)
		g_ptr_array_add(sorted, reactions->pdata[i]);
	g_ptr_array_sort(sorted, compare_strings);
	g_ptr_array_add(sorted, NULL);
	return g_strjoinv("\x1f", (char **)sorted->pdata);
}

/*
 * Records @reactions (NULL-terminated) as what @sender gives @id now.
 * Returns: FALSE if that changes nothing (a copy seen before, or older
 * than what was accepted).
 */
static gboolean
update(State *state, const char *conversation, const char *sender,
       const char *id, GPtrArray *reactions, gint64 delayed)
{
	g_autofree char *key = g_strjoin("\x1f", conversation, sender, id,
					 NULL);
	g_autofree char *set = canonical_dup(reactions);
	Given *given = g_hash_table_lookup(state->given, key);

	/* Business rules: a delayed reaction SHOULD only be accepted if no
	 * newer one from the same sender was. */
	if (given != NULL && delayed != 0 && given->stamp > delayed)
		return FALSE;
	if (given != NULL ? g_str_equal(given->set, set) : *set == '\0')
		return FALSE;
	if (*set == '\0') {
		g_hash_table_remove(state->given, key);
		return TRUE;
	}
	if (given == NULL) {
		if (g_hash_table_size(state->given) >= TABLE_MAX)
			g_hash_table_remove_all(state->given);
		given = g_new0(Given, 1);
		g_hash_table_insert(state->given, g_steal_pointer(&key), given);
	}
	g_free(given->set);
	given->set = g_steal_pointer(&set);
	given->stamp = delayed != 0 ? delayed
				    : g_get_real_time() / G_USEC_PER_SEC;
	return TRUE;
}

/* The valid reactions of @reactions, NULL-terminated; @invalid counts the
 * others. */
static GPtrArray *
parse_reactions(xmlnode *reactions, guint *invalid)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);

	for (xmlnode *c = reactions->child; c != NULL; c = c->next) {
		char *text;

		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "reaction"))
			continue;
		text = xmlnode_get_data(c);
		/* Business rules: receivers MAY ignore what is not one
		 * emoji, and SHOULD ignore the same reaction twice. */
		if (!pxm_reactions_is_emoji(text)) {
			(*invalid)++;
			g_free(text);
		} else if (out->len >= REACTIONS_MAX ||
			   g_ptr_array_find_with_equal_func(
				   out, text, g_str_equal, NULL)) {
			g_free(text);
		} else {
			g_ptr_array_add(out, text);
		}
	}
	g_ptr_array_add(out, NULL);
	return out;
}

/* Whether the message's body is only there for clients without
 * reactions (XEP-0428), or absent. */
static gboolean
body_is_fallback(const PxmStanza *st)
{
	if (!pxm_stanza_has_body(st))
		return TRUE;
	for (xmlnode *c = st->message->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    g_str_equal(c->name, "fallback") &&
		    g_strcmp0(xmlnode_get_namespace(c), PXM_NS_FALLBACK) == 0 &&
		    g_strcmp0(xmlnode_get_attrib(c, "for"), PXM_NS_REACTIONS) ==
			    0)
			return TRUE;
	return FALSE;
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	g_autoptr(GPtrArray) list = NULL;
	g_autofree char *conversation = NULL;
	g_autofree char *sender = NULL;
	g_autofree char *who = NULL;
	g_autofree char *html = NULL;
	const PxmShownMessage *target;
	xmlnode *reactions = NULL;
	const char *id;
	guint n = 0, invalid = 0;
	PxmVerdict done;

	if (st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	for (xmlnode *c = st->message->child; c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "reactions") ||
		    g_strcmp0(xmlnode_get_namespace(c), PXM_NS_REACTIONS) != 0)
			continue;
		if (n++ == 0)
			reactions = c;
	}
	if (reactions == NULL || !pxm_stanza_is_chat(st) ||
	    pxm_stanza_is_room_private(st))
		return PXM_VERDICT_CONTINUE;
	/* Business rules: MUST NOT contain more than one <reactions/>. */
	if (n > 1) {
		purple_debug_warning(ID,
				     "dropping a message with %u sets of "
				     "reactions\n",
				     n);
		return PXM_VERDICT_DROP;
	}
	id = xmlnode_get_attrib(reactions, "id");
	if (id == NULL || *id == '\0') {
		purple_debug_warning(ID, "dropping reactions naming no "
					 "message\n");
		return PXM_VERDICT_DROP;
	}
	list = parse_reactions(reactions, &invalid);
	if (invalid > 0 && list->len == 1) {
		purple_debug_warning(ID, "dropping reactions that are not "
					 "emoji\n");
		return PXM_VERDICT_DROP;
	}
	if (invalid > 0)
		purple_debug_warning(ID,
				     "ignoring %u reactions that are not "
				     "emoji\n",
				     invalid);
	done = body_is_fallback(st) ? PXM_VERDICT_CONSUMED
				    : PXM_VERDICT_CONTINUE;

	/* Business rules: one to one, a reaction MUST come from one of the
	 * two parties: the conversation is the sender's (the recipient's
	 * for our own copies), and the message is looked for among theirs
	 * only. */
	conversation = pxm_jid_bare_dup(
		st->sent_by_me && !groupchat ? st->to : st->from);
	if (groupchat)
		sender = pxm_jid_normalize_dup(st->from);
	else if (st->sent_by_me)
		sender = g_strdup(pxm_account_get_bare_jid(account));
	else
		sender = g_strdup(conversation);
	if (conversation == NULL || sender == NULL)
		return done;
	target = pxm_presenter_find(account, conversation, id);
	/* Business rules: in a room, the id the room gave the message; its
	 * 'id' attribute MUST NOT be used. */
	if (target != NULL && groupchat &&
	    g_strcmp0(target->stanza_id, id) != 0)
		target = NULL;
	if (!update(state, conversation, sender, id, list, st->timestamp))
		return done;

	if (!st->sent_by_me &&
	    !(groupchat &&
	      pxm_account_is_own_nick(account, conversation, st->from)))
		who = groupchat ? g_strdup(pxm_jid_resource_peek(sender))
				: pxm_account_contact_name_dup(account, sender);
	html = pxm_reactions_notice_dup(who, (const char *const *)list->pdata,
					target != NULL ? target->excerpt
						       : NULL);
	pxm_presenter_notice(account, conversation, groupchat, html);
	return done;
}

PurpleCmdRet
pxm_reactions_send(PxmAccount *account, gpointer data, const char *conversation,
		   const char *to, gboolean groupchat, const char *emoji,
		   char **error)
{
	State *state = data;
	g_auto(GStrv) words = g_strsplit_set(emoji != NULL ? emoji : "",
					     " \t\r\n", -1);
	g_autoptr(GPtrArray) list = g_ptr_array_new_with_free_func(g_free);
	const PxmShownMessage *last;
	g_autofree char *ref = NULL;
	g_autofree char *excerpt = NULL;
	g_autofree char *id = NULL;
	xmlnode *message, *reactions, *node;

	for (guint i = 0; words[i] != NULL; i++) {
		if (*words[i] == '\0' ||
		    g_ptr_array_find_with_equal_func(list, words[i],
						     g_str_equal, NULL))
			continue;
		if (!pxm_reactions_is_emoji(words[i])) {
			g_autofree char *word = g_markup_escape_text(words[i],
								     -1);

			*error = g_strdup_printf(_("“%s” is not an emoji."),
						 word);
			return PURPLE_CMD_RET_FAILED;
		}
		if (list->len < REACTIONS_MAX)
			g_ptr_array_add(list, g_strdup(words[i]));
	}
	g_ptr_array_add(list, NULL);
	last = pxm_presenter_last(account, conversation, PXM_LAST_RECEIVED);
	if (last == NULL) {
		*error = g_strdup(_("There is no message to react to in this "
				    "conversation."));
		return PURPLE_CMD_RET_FAILED;
	}
	/* Business rules: in a room, the id the room gave the message (no
	 * reactions without one); one to one, its origin-id, else its 'id'
	 * attribute. */
	if (groupchat)
		ref = g_strdup(last->stanza_id);
	else
		ref = g_strdup(last->origin_id != NULL ? last->origin_id
						       : last->id);
	if (ref == NULL) {
		*error = g_strdup(
			groupchat ? _("This room gave that message no ID: "
				      "it cannot be reacted to.")
				  : _("That message has no ID: it cannot "
				      "be reacted to."));
		return PURPLE_CMD_RET_FAILED;
	}
	/* Copied now: sending may drop the oldest shown message. */
	excerpt = g_strdup(last->excerpt);

	id = g_uuid_string_random();
	message = xmlnode_new("message");
	xmlnode_set_attrib(message, "type", groupchat ? "groupchat" : "chat");
	xmlnode_set_attrib(message, "to", to);
	xmlnode_set_attrib(message, "id", id);
	/* Section 3.2: all reactions that apply now; none removes them. */
	reactions = xmlnode_new_child(message, "reactions");
	xmlnode_set_namespace(reactions, PXM_NS_REACTIONS);
	xmlnode_set_attrib(reactions, "id", ref);
	for (guint i = 0; i + 1 < list->len; i++) {
		node = xmlnode_new_child(reactions, "reaction");
		xmlnode_insert_data(node, list->pdata[i], -1);
	}
	/* Business rules: SHOULD ask for it to be archived (XEP-0334). */
	node = xmlnode_new_child(message, "store");
	xmlnode_set_namespace(node, PXM_NS_HINTS);
	pxm_account_send(account, message);
	/* In a room, the room's copy is what shows it. */
	if (!groupchat) {
		g_autofree char *html = pxm_reactions_notice_dup(
			NULL, (const char *const *)list->pdata, excerpt);

		update(state, conversation, pxm_account_get_bare_jid(account),
		       ref, list, 0);
		pxm_presenter_notice(account, conversation, FALSE, html);
	}
	return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_react(PxmAccount *account, gpointer state, PurpleConversation *conv,
	  const char *args, char **error)
{
	g_autofree char *jid = NULL;
	const char *to;
	gboolean groupchat;

	if (!pxm_conversation_message_target(conv, &jid, &to, &groupchat,
					     error))
		return PURPLE_CMD_RET_FAILED;
	return pxm_reactions_send(account, state, jid, to, groupchat, args,
				  error);
}

static const PxmCommand commands[] = {
	{ "react",
	  N_("react [emoji…]:  React to the last message you received in "
	     "this conversation with these emoji, in place of your earlier "
	     "reactions to it; with none, remove your reactions."),
	  TRUE, TRUE, cmd_react },
	{ 0 },
};

const PxmExtensionClass pxm_xep0444_reactions = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
	},
	.commands = commands,
};

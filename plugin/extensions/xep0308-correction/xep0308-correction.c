// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0308: Last Message Correction.
 *
 * libpurple 2 cannot change a line it has shown, so a correction is shown as
 * a new message from its sender, marked "✎ correction of “first words”:"
 * when the corrected message is known and verifiably from the same sender,
 * "✎ corrected:" when it is unknown (older than this session).  A
 * correction of someone else's message is not applied: it is shown as the
 * ordinary message it then is.  /correct sends a correction of the user's
 * last message in the conversation.
 */
#include "xep0308-correction.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define ID "xep0308-correction"
/* Characters of the corrected message quoted in the mark. */
#define EXCERPT_CHARS 40

/* --- Showing corrections ----------------------------------------------- */

/*
 * What is shown for a correction: the mark, then @html (what an earlier
 * stage made of the message, e.g. a reply with its quote) or @text.
 * @excerpt is the start of the corrected message, NULL if unknown.
 */
static char *
correction_html_dup(const char *excerpt, const char *html, const char *text)
{
	g_autofree char *label = NULL;
	g_autofree char *label_html = NULL;
	g_autofree char *text_html = NULL;

	if (excerpt != NULL) {
		g_autofree char *words =
			pxm_text_first_words_dup(excerpt, EXCERPT_CHARS);

		/* TRANSLATORS: marks a message that replaces an earlier one,
		 * quoted by its first words; the new text follows. */
		label = g_strdup_printf(_("correction of “%s”:"), words);
	} else {
		/* TRANSLATORS: marks a message that replaces an earlier one
		 * not shown in this session; the new text follows. */
		label = g_strdup(_("corrected:"));
	}
	label_html = purple_markup_escape_text(label, -1);
	if (html != NULL)
		return g_strdup_printf("✎ <i>%s</i><br>%s", label_html, html);
	text_html = purple_markup_escape_text(text != NULL ? text : "", -1);
	return g_strdup_printf("✎ <i>%s</i> %s", label_html, text_html);
}

static PxmVerdict
handle(PxmAccount *account, gpointer state, PxmStanza *st)
{
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	g_autofree char *conversation = NULL;
	g_autofree char *sender = NULL;
	g_autofree char *body = NULL;
	g_autofree char *html = NULL;
	const PxmShownMessage *original;
	xmlnode *replace;
	const char *id;

	if (st->message == NULL ||
	    (replace = pxm_xml_child(st->message, "replace", PXM_NS_CORRECT)) ==
		    NULL)
		return PXM_VERDICT_CONTINUE;
	/* Only messages with a body are shown (section 5: only what people
	 * read is corrected). */
	if (!pxm_stanza_is_chat(st) || !pxm_stanza_has_body(st) ||
	    pxm_stanza_is_room_private(st))
		return PXM_VERDICT_CONTINUE;
	id = xmlnode_get_attrib(replace, "id");
	if (id == NULL || *id == '\0') {
		purple_debug_warning(ID, "a correction naming no message is "
					 "shown as a new message\n");
		return PXM_VERDICT_CONTINUE;
	}
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

	original = pxm_presenter_find(account, conversation, id);
	/* Section 5: a correction MUST only be allowed when the original
	 * and the correction come from the same sender: the same bare JID
	 * one to one, the same full JID in a room. */
	if (original != NULL && g_strcmp0(original->sender, sender) != 0) {
		purple_debug_warning(ID, "not applying a correction of a "
					 "message someone else sent\n");
		return PXM_VERDICT_CONTINUE;
	}
	/* Section 6: not to messages sent before the sender (last) joined
	 * the room. */
	if (original != NULL && groupchat &&
	    !pxm_account_occupant_joined_since(account, sender,
					       original->timestamp)) {
		purple_debug_warning(ID, "not applying a correction of a "
					 "message sent before its sender "
					 "joined the room\n");
		return PXM_VERDICT_CONTINUE;
	}
	/* Which message this corrects is recorded by the presenter when it
	 * shows it. */
	if (st->html == NULL)
		body = st->body != NULL ? g_strdup(st->body)
					: xmlnode_get_data(pxm_xml_child(
						  st->message, "body", NULL));
	html = correction_html_dup(original != NULL ? original->excerpt : NULL,
				   st->html, body);
	pxm_stanza_set(&st->html, html);
	return PXM_VERDICT_CONTINUE;
}

/* --- Sending corrections ----------------------------------------------- */

/* The local echo of a correction sent one to one. */
static void
show_sent(PxmAccount *account, const char *to, const char *text,
	  const char *excerpt)
{
	PxmStanza echo;

	memset(&echo, 0, sizeof(echo));
	echo.kind = PXM_STANZA_MESSAGE;
	echo.outgoing = TRUE;
	echo.origin = PXM_ORIGIN_LOCAL;
	echo.sent_by_me = TRUE;
	echo.type = "chat";
	echo.to = to;
	pxm_stanza_set(&echo.body, text);
	echo.html = correction_html_dup(excerpt, NULL, text);
	pxm_presenter_show(account, &echo);
	pxm_stanza_set(&echo.body, NULL);
	pxm_stanza_set(&echo.html, NULL);
}

PurpleCmdRet
pxm_correction_send(PxmAccount *account, const char *conversation,
		    const char *to, gboolean groupchat, const char *text,
		    char **error)
{
	const PxmShownMessage *last, *original;
	g_autofree char *target = NULL;
	g_autofree char *excerpt = NULL;
	g_autofree char *id = NULL;
	xmlnode *message, *node;

	if (text == NULL || *text == '\0') {
		*error = g_strdup(_("Type the corrected text after /correct."));
		return PURPLE_CMD_RET_FAILED;
	}
	last = pxm_presenter_last(account, conversation, PXM_LAST_SENT);
	if (last == NULL || last->id == NULL) {
		*error = g_strdup(_("You have sent no message in this "
				    "conversation since you signed in."));
		return PURPLE_CMD_RET_FAILED;
	}
	/* Section 5: a message corrected several times is named by its
	 * first id each time. */
	target = g_strdup(last->replaces != NULL ? last->replaces : last->id);
	original = pxm_presenter_first_version(account, last);
	/* Copied now: sending records a shown message, which may drop the
	 * oldest one. */
	excerpt = g_strdup(original != NULL ? original->excerpt
					    : last->excerpt);

	/* Section 5: clients that let users correct MUST send ids. */
	id = g_uuid_string_random();
	message = xmlnode_new("message");
	xmlnode_set_attrib(message, "type", groupchat ? "groupchat" : "chat");
	xmlnode_set_attrib(message, "to", to);
	xmlnode_set_attrib(message, "id", id);
	node = xmlnode_new_child(message, "body");
	xmlnode_set_namespace(node, PXM_NS_CLIENT);
	xmlnode_insert_data(node, text, -1);
	node = xmlnode_new_child(message, "replace");
	xmlnode_set_namespace(node, PXM_NS_CORRECT);
	xmlnode_set_attrib(node, "id", target);
	pxm_account_send(account, message);
	/* In a room, the room's copy is what shows it. */
	if (!groupchat)
		show_sent(account, to, text, excerpt);
	return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_correct(PxmAccount *account, gpointer state, PurpleConversation *conv,
	    const char *args, char **error)
{
	g_autofree char *jid = NULL;
	const char *to;
	gboolean groupchat;

	if (!pxm_conversation_message_target(conv, &jid, &to, &groupchat,
					     error))
		return PURPLE_CMD_RET_FAILED;
	return pxm_correction_send(account, jid, to, groupchat, args, error);
}

static const PxmCommand commands[] = {
	{ "correct",
	  N_("correct &lt;text&gt;:  Replace your last message in this "
	     "conversation with a corrected text."),
	  TRUE, TRUE, cmd_correct },
	{ 0 },
};

const PxmExtensionClass pxm_xep0308_correction = {
	.id = ID,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
	},
	.commands = commands,
};

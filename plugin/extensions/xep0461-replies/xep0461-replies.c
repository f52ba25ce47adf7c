// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0461: Message Replies.
 *
 * A reply to a message shown in this session is shown under a grey quote
 * line, "┃ Alice: first words…", with the fallback quote (XEP-0428) taken
 * out of its body; a reply to an unknown message is left as it is, its
 * fallback quote then being the context.  GtkIMHtml has no <blockquote>.
 * /reply answers the last message received, and a message the user starts
 * with "> " lines quoting the start of the last message received becomes a
 * reply to it.
 */
#include "xep0461-replies.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define ID "xep0461-replies"
/* Characters of the replied-to message shown in the quote line. */
#define EXCERPT_CHARS 60
/* A quote longer than a shown message's excerpt still quotes it when
 * the excerpt is at least this long (bytes): the excerpt was cut. */
#define EXCERPT_CUT 100
/* Fallback ranges looked at in one message. */
#define RANGES_MAX 16

typedef struct {
	glong start; /* code points, inclusive */
	glong end;   /* exclusive */
} Range;

static gboolean
is_reply_fallback(xmlnode *node)
{
	return node->type == XMLNODE_TYPE_TAG &&
	       g_str_equal(node->name, "fallback") &&
	       g_strcmp0(xmlnode_get_namespace(node), PXM_NS_FALLBACK) == 0 &&
	       g_strcmp0(xmlnode_get_attrib(node, "for"), PXM_NS_REPLY) == 0;
}

/* Section 4.1: which id names @message: in a room the id the room gave it
 * (no replies without one), else its origin-id, else its 'id'. */
static const char *
reference_of(const PxmShownMessage *message, gboolean groupchat)
{
	if (groupchat)
		return message->stanza_id;
	return message->origin_id != NULL ? message->origin_id : message->id;
}

/* The message of @conversation that @id names, if shown this session. */
static const PxmShownMessage *
find_target(PxmAccount *account, const char *conversation, const char *id,
	    gboolean groupchat)
{
	const PxmShownMessage *target = pxm_presenter_find(account,
							   conversation, id);

	/* Section 4.1: in a room, a message's 'id' attribute MUST NOT be
	 * used. */
	if (target != NULL && groupchat &&
	    g_strcmp0(target->stanza_id, id) != 0)
		return NULL;
	return target;
}

/* --- Showing replies --------------------------------------------------- */

static char *
author_dup(PxmAccount *account, const PxmShownMessage *message,
	   gboolean groupchat)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	PurpleBuddy *buddy;

	if (message->sent)
		/* TRANSLATORS: the author of a quoted message, when it is
		 * the user. */
		return g_strdup(C_("quoted message", "You"));
	if (groupchat && pxm_jid_resource_peek(message->sender) != NULL)
		return g_strdup(pxm_jid_resource_peek(message->sender));
	buddy = pa != NULL ? purple_find_buddy(pa, message->sender) : NULL;
	return g_strdup(buddy != NULL ? purple_buddy_get_contact_alias(buddy)
				      : message->sender);
}

/* The quote line shown above a reply to @target, HTML, ending in <br>. */
static char *
quote_html_dup(PxmAccount *account, const PxmShownMessage *target,
	       gboolean groupchat)
{
	g_autofree char *author = author_dup(account, target, groupchat);
	g_autofree char *words = pxm_text_first_words_dup(target->excerpt,
							  EXCERPT_CHARS);
	g_autofree char *author_html = purple_markup_escape_text(author, -1);
	g_autofree char *words_html = purple_markup_escape_text(words, -1);
	g_autofree char *bold = g_strdup_printf("<b>%s</b>", author_html);
	g_autofree char *line = NULL;

	/* TRANSLATORS: the quote above a reply: the author of the message
	 * replied to (in bold), then its first words. */
	line = g_strdup_printf(C_("quoted message", "%s: %s"), bold,
			       words_html);
	return g_strdup_printf("<font color=\"#808080\">┃ %s</font><br>", line);
}

static gboolean
parse_offset(const char *value, glong length, glong *out)
{
	guint64 v;

	if (value == NULL || !g_ascii_string_to_unsigned(
				     value, 10, 0, (guint64)length, &v, NULL))
		return FALSE;
	*out = (glong)v;
	return TRUE;
}

static gint
compare_ranges(gconstpointer a, gconstpointer b)
{
	const Range *ra = a, *rb = b;

	return ra->start < rb->start ? -1 : ra->start > rb->start;
}

/*
 * XEP-0428: the parts of a body of @length code points that are only there
 * for clients without replies, sorted and merged.  Returns FALSE if a
 * marker is malformed (out of the body, reversed, not a number).
 */
static gboolean
fallback_ranges(xmlnode *message, glong length, GArray *ranges)
{
	GArray *merged;

	for (xmlnode *f = message->child; f != NULL; f = f->next) {
		guint parts = 0;

		if (!is_reply_fallback(f))
			continue;
		for (xmlnode *b = f->child; b != NULL; b = b->next) {
			const char *start, *end;
			Range r = { 0, length };

			if (b->type != XMLNODE_TYPE_TAG)
				continue;
			parts++;
			if (!g_str_equal(b->name, "body"))
				continue; /* <subject/> */
			start = xmlnode_get_attrib(b, "start");
			end = xmlnode_get_attrib(b, "end");
			/* Without offsets, all of the body. */
			if ((start != NULL || end != NULL) &&
			    (!parse_offset(start, length, &r.start) ||
			     !parse_offset(end, length, &r.end) ||
			     r.start > r.end))
				return FALSE;
			if (ranges->len >= RANGES_MAX)
				return FALSE;
			g_array_append_val(ranges, r);
		}
		/* No <body/> nor <subject/>: all of the body. */
		if (parts == 0) {
			Range all = { 0, length };

			if (ranges->len >= RANGES_MAX)
				return FALSE;
			g_array_append_val(ranges, all);
		}
	}
	g_array_sort(ranges, compare_ranges);
	merged = g_array_sized_new(FALSE, FALSE, sizeof(Range), ranges->len);
	for (guint i = 0; i < ranges->len; i++) {
		Range r = g_array_index(ranges, Range, i);
		Range *last = merged->len > 0 ? &g_array_index(merged, Range,
							       merged->len - 1)
					      : NULL;

		if (last != NULL && r.start <= last->end)
			last->end = MAX(last->end, r.end);
		else
			g_array_append_val(merged, r);
	}
	g_array_set_size(ranges, 0);
	g_array_append_vals(ranges, merged->data, merged->len);
	g_array_unref(merged);
	return TRUE;
}

/* @body without its reply fallback (all of it if the marker is bad). */
static char *
strip_fallback(xmlnode *message, const char *body)
{
	g_autoptr(GArray) ranges = g_array_new(FALSE, FALSE, sizeof(Range));
	GString *out;
	glong length, i = 0;
	guint r = 0;

	if (!g_utf8_validate(body, -1, NULL))
		return g_strdup(body);
	length = g_utf8_strlen(body, -1);
	if (!fallback_ranges(message, length, ranges)) {
		purple_debug_warning(ID, "showing all of a reply whose "
					 "fallback marker is malformed\n");
		return g_strdup(body);
	}
	out = g_string_sized_new(strlen(body));
	for (const char *p = body; *p != '\0'; p = g_utf8_next_char(p), i++) {
		while (r < ranges->len &&
		       i >= g_array_index(ranges, Range, r).end)
			r++;
		if (r < ranges->len &&
		    i >= g_array_index(ranges, Range, r).start)
			continue;
		g_string_append_len(out, p, g_utf8_next_char(p) - p);
	}
	return g_string_free(out, FALSE);
}

static PxmVerdict
handle(PxmAccount *account, gpointer state, PxmStanza *st)
{
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	g_autofree char *conversation = NULL;
	g_autofree char *body = NULL;
	g_autofree char *text = NULL;
	g_autofree char *quote = NULL;
	g_autofree char *text_html = NULL;
	g_autofree char *html = NULL;
	const PxmShownMessage *target;
	xmlnode *reply;
	const char *id;

	if (st->message == NULL ||
	    (reply = pxm_xml_child(st->message, "reply", PXM_NS_REPLY)) ==
		    NULL ||
	    !pxm_stanza_is_chat(st) || !pxm_stanza_has_body(st) ||
	    pxm_stanza_is_room_private(st))
		return PXM_VERDICT_CONTINUE;
	id = xmlnode_get_attrib(reply, "id");
	if (id == NULL || *id == '\0') {
		purple_debug_warning(ID, "a reply naming no message is shown "
					 "as it is\n");
		return PXM_VERDICT_CONTINUE;
	}
	conversation = pxm_jid_bare_dup(
		st->sent_by_me && !groupchat ? st->to : st->from);
	if (conversation == NULL)
		return PXM_VERDICT_CONTINUE;
	/* Section 3.1: when the message replied to is not known, the
	 * fallback quote MAY be shown: the body is left as it is. */
	target = find_target(account, conversation, id, groupchat);
	if (target == NULL)
		return PXM_VERDICT_CONTINUE;
	body = st->body != NULL ? g_strdup(st->body)
				: xmlnode_get_data(pxm_xml_child(st->message,
								 "body", NULL));
	if (body == NULL)
		return PXM_VERDICT_CONTINUE;
	/* Section 3.1: shown with the message it answers, the reply SHOULD
	 * NOT show its fallback.  What is kept of it (for reactions and
	 * replies to it) is the reply alone. */
	text = strip_fallback(st->message, body);
	quote = quote_html_dup(account, target, groupchat);
	text_html = purple_markup_escape_text(text, -1);
	html = g_strconcat(quote, text_html, NULL);
	pxm_stanza_set(&st->body, text);
	pxm_stanza_set(&st->html, html);
	return PXM_VERDICT_CONTINUE;
}

/* --- Sending replies --------------------------------------------------- */

static void
add_reply(xmlnode *message, const char *to, const char *id)
{
	xmlnode *reply = xmlnode_new_child(message, "reply");

	xmlnode_set_namespace(reply, PXM_NS_REPLY);
	if (to != NULL)
		xmlnode_set_attrib(reply, "to", to);
	xmlnode_set_attrib(reply, "id", id);
}

static void
add_fallback(xmlnode *message, glong end)
{
	xmlnode *fallback = xmlnode_new_child(message, "fallback");
	xmlnode *body;
	char offset[24];

	xmlnode_set_namespace(fallback, PXM_NS_FALLBACK);
	xmlnode_set_attrib(fallback, "for", PXM_NS_REPLY);
	body = xmlnode_new_child(fallback, "body");
	xmlnode_set_attrib(body, "start", "0");
	g_snprintf(offset, sizeof(offset), "%ld", end);
	xmlnode_set_attrib(body, "end", offset);
}

/* A quote of @excerpt for clients without replies: "> " lines. */
static char *
fallback_quote_dup(const char *excerpt)
{
	g_auto(GStrv) lines = g_strsplit(excerpt != NULL ? excerpt : "", "\n",
					 -1);
	GString *out = g_string_new(NULL);

	for (guint i = 0; lines[i] != NULL; i++)
		g_string_append_printf(out, "> %s\n", lines[i]);
	return g_string_free(out, FALSE);
}

/* Whitespace runs as one space, none at the ends. */
static char *
normalize_dup(const char *text)
{
	GString *out = g_string_new(NULL);
	gboolean space = FALSE;

	for (const char *p = text; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_isspace(c)) {
			space = out->len > 0;
			continue;
		}
		if (space)
			g_string_append_c(out, ' ');
		space = FALSE;
		g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

/* Whether @quote (normalised) quotes the start of @excerpt. */
static gboolean
quotes(const char *excerpt, const char *quote)
{
	g_autofree char *text = NULL;

	if (excerpt == NULL || !g_utf8_validate(excerpt, -1, NULL))
		return FALSE;
	text = normalize_dup(excerpt);
	return *text != '\0' && (g_str_has_prefix(text, quote) ||
				 (strlen(excerpt) >= EXCERPT_CUT &&
				  g_str_has_prefix(quote, text)));
}

/*
 * A message that starts with "> " lines quoting the start of the last
 * message received in the conversation, followed by more text, becomes a
 * reply to it, the quote being its fallback.  (The user's own last message
 * is, by now, the one being sent: the compose phase recorded it.)
 */
static void
reply_to_quote(PxmAccount *account, PxmStanza *st, const char *conversation,
	       gboolean groupchat)
{
	const char *text = st->body;
	const char *end = text;
	const PxmShownMessage *target;
	g_autoptr(GString) quoted = g_string_new(NULL);
	g_autofree char *quote = NULL;
	const char *ref;

	if (!g_utf8_validate(text, -1, NULL))
		return;
	while (*end == '>') {
		const char *line = end + 1;
		const char *nl = strchr(line, '\n');

		if (nl == NULL)
			return; /* nothing but a quote */
		if (*line == ' ')
			line++;
		g_string_append_len(quoted, line, nl - line);
		g_string_append_c(quoted, ' ');
		end = nl + 1;
	}
	if (end == text || *end == '\0')
		return;
	quote = normalize_dup(quoted->str);
	/* Quoted from a notice or a quote line, which cut with "…". */
	if (g_str_has_suffix(quote, "…"))
		quote[strlen(quote) - strlen("…")] = '\0';
	else if (g_str_has_suffix(quote, "..."))
		quote[strlen(quote) - 3] = '\0';
	g_strchomp(quote);
	if (*quote == '\0')
		return;
	target = pxm_presenter_last(account, conversation, PXM_LAST_RECEIVED);
	if (target == NULL || !quotes(target->excerpt, quote) ||
	    (ref = reference_of(target, groupchat)) == NULL)
		return;
	add_reply(st->stanza, target->sender, ref);
	add_fallback(st->stanza, g_utf8_strlen(text, end - text));
}

/* /reply: the quote of the message replied to goes in now. */
static void
add_quote(PxmAccount *account, PxmStanza *st, const char *conversation,
	  gboolean groupchat, xmlnode *reply, xmlnode *body)
{
	const char *id = xmlnode_get_attrib(reply, "id");
	const PxmShownMessage *target;
	g_autofree char *quote = NULL;
	g_autofree char *text = NULL;
	xmlnode *next;

	if (id == NULL ||
	    (target = find_target(account, conversation, id, groupchat)) ==
		    NULL ||
	    target->excerpt == NULL ||
	    !g_utf8_validate(target->excerpt, -1, NULL))
		return;
	quote = fallback_quote_dup(target->excerpt);
	text = g_strconcat(quote, st->body, NULL);
	for (xmlnode *c = body->child; c != NULL; c = next) {
		next = c->next;
		if (c->type == XMLNODE_TYPE_DATA)
			xmlnode_free(c);
	}
	xmlnode_insert_data(body, text, -1);
	pxm_stanza_set(&st->body, text);
	add_fallback(st->stanza, g_utf8_strlen(quote, -1));
}

/*
 * After the compose phase, which records what the user wrote: the quote is
 * only for clients without replies.  Idempotent: the prpl re-sends
 * unacknowledged stanzas.
 */
static PxmVerdict
annotate(PxmAccount *account, gpointer state, PxmStanza *st)
{
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	g_autofree char *conversation = NULL;
	xmlnode *body, *reply;

	if (!pxm_stanza_is_chat(st) || st->body == NULL ||
	    (body = pxm_xml_child(st->stanza, "body", NULL)) == NULL ||
	    pxm_xml_child(st->stanza, "replace", PXM_NS_CORRECT) != NULL)
		return PXM_VERDICT_CONTINUE;
	for (xmlnode *c = st->stanza->child; c != NULL; c = c->next)
		if (is_reply_fallback(c))
			return PXM_VERDICT_CONTINUE;
	conversation = pxm_jid_bare_dup(st->to);
	if (conversation == NULL)
		return PXM_VERDICT_CONTINUE;
	reply = pxm_xml_child(st->stanza, "reply", PXM_NS_REPLY);
	if (reply != NULL)
		add_quote(account, st, conversation, groupchat, reply, body);
	else
		reply_to_quote(account, st, conversation, groupchat);
	return PXM_VERDICT_CONTINUE;
}

/* The local echo of a reply sent one to one. */
static void
show_sent(PxmAccount *account, const char *to, const char *text,
	  const char *html)
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
	pxm_stanza_set(&echo.html, html);
	pxm_presenter_show(account, &echo);
	pxm_stanza_set(&echo.body, NULL);
	pxm_stanza_set(&echo.html, NULL);
}

PurpleCmdRet
pxm_replies_send(PxmAccount *account, gpointer state, const char *conversation,
		 const char *to, gboolean groupchat, const char *text,
		 char **error)
{
	const PxmShownMessage *last;
	const char *ref;
	g_autofree char *html = NULL;
	g_autofree char *text_html = NULL;
	g_autofree char *quote = NULL;
	g_autofree char *id = NULL;
	xmlnode *message, *body;

	if (text == NULL || *text == '\0') {
		*error = g_strdup(_("Type your reply after /reply."));
		return PURPLE_CMD_RET_FAILED;
	}
	last = pxm_presenter_last(account, conversation, PXM_LAST_RECEIVED);
	if (last == NULL) {
		*error = g_strdup(_("There is no message to reply to in this "
				    "conversation."));
		return PURPLE_CMD_RET_FAILED;
	}
	ref = reference_of(last, groupchat);
	if (ref == NULL) {
		*error = g_strdup(
			groupchat ? _("This room gave that message no ID: "
				      "it cannot be replied to.")
				  : _("That message has no ID: it cannot "
				      "be replied to."));
		return PURPLE_CMD_RET_FAILED;
	}
	/* Built now: sending may drop the oldest shown message. */
	quote = quote_html_dup(account, last, groupchat);
	text_html = purple_markup_escape_text(text, -1);
	html = g_strconcat(quote, text_html, NULL);

	id = g_uuid_string_random();
	message = xmlnode_new("message");
	xmlnode_set_attrib(message, "type", groupchat ? "groupchat" : "chat");
	xmlnode_set_attrib(message, "to", to);
	xmlnode_set_attrib(message, "id", id);
	body = xmlnode_new_child(message, "body");
	xmlnode_set_namespace(body, PXM_NS_CLIENT);
	xmlnode_insert_data(body, text, -1);
	/* Section 3: 'to' SHOULD be the author (a bare JID will do one to
	 * one). */
	add_reply(message, last->sender, ref);
	pxm_account_send(account, message);
	/* In a room, the room's copy is what shows it. */
	if (!groupchat)
		show_sent(account, to, text, html);
	return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
cmd_reply(PxmAccount *account, gpointer state, PurpleConversation *conv,
	  const char *args, char **error)
{
	g_autofree char *jid = NULL;
	const char *to;
	gboolean groupchat;

	if (!pxm_conversation_message_target(conv, &jid, &to, &groupchat,
					     error))
		return PURPLE_CMD_RET_FAILED;
	return pxm_replies_send(account, state, jid, to, groupchat, args,
				error);
}

static const PxmCommand commands[] = {
	{ "reply",
	  N_("reply &lt;text&gt;:  Reply to the last message you received in "
	     "this conversation. Clients without replies see it quoted. You "
	     "can also start a message with “&gt; ” and the first words of "
	     "that message."),
	  TRUE, TRUE, cmd_reply },
	{ 0 },
};

const PxmExtensionClass pxm_xep0461_replies = {
	.id = ID,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_ANNOTATE] = annotate,
	},
	.commands = commands,
};

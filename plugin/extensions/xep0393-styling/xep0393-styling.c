// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0393: Message Styling.
 *
 * A received plain body that uses styling is shown as libpurple HTML (what
 * Pidgin's GtkIMHtml renders): *strong* in <b>, _emphasis_ in <i>, ~strike~
 * in <s>, `pre` spans and ``` blocks in a monospace <font>, quotations in a
 * coloured <font>.  The directives stay visible, inside the formatting they
 * start, as section 8 recommends ("*emphasis*" is shown as "*emphasis*" in
 * bold): the text reads the same with formatting ignored, and a quotation
 * is told apart by its '>' as well as by its colour.
 *
 * The output is the body itself, every byte escaped, with tags around runs
 * of it and <br> for its newlines: nothing from the network becomes markup.
 */
#include "../../host/extension.h"

#include <string.h>

#define ID "xep0393-styling"

/* Mid-tone: 4.5:1 contrast on white and on black backgrounds alike
 * (section 2: readable whatever the background). */
#define QUOTE_OPEN "<font color='#52799e'>"
#define MONO_OPEN "<font face='monospace'>"
#define FONT_CLOSE "</font>"

/* Quotations nest deeper than this are shown as text inside the deepest
 * one: it bounds the recursion a hostile body could ask for. */
#define MAX_QUOTE_DEPTH 20

/* --- Text ------------------------------------------------------------ */

/* Section 4 (glossary): White_Space or category Z. */
static gboolean
is_space_char(gunichar u)
{
	switch (g_unichar_type(u)) {
	case G_UNICODE_SPACE_SEPARATOR:
	case G_UNICODE_LINE_SEPARATOR:
	case G_UNICODE_PARAGRAPH_SEPARATOR:
		return TRUE;
	default:
		return (u >= 0x09 && u <= 0x0d) || u == 0x85;
	}
}

static gboolean
is_ascii_space(guchar c)
{
	return c == ' ' || (c >= 0x09 && c <= 0x0d);
}

/* Whether the character starting at @p (valid UTF-8) is white space. */
static gboolean
space_at(const char *p)
{
	guchar c = *p;

	return c < 0x80 ? is_ascii_space(c) : is_space_char(g_utf8_get_char(p));
}

/* Whether the character just before @p is white space. */
static gboolean
space_before(const char *line, const char *p)
{
	const char *prev = p - 1;

	if ((guchar)*prev < 0x80)
		return is_ascii_space(*prev);
	while (prev > line && ((guchar)*prev & 0xc0) == 0x80)
		prev--;
	return is_space_char(g_utf8_get_char(prev));
}

/* Text as HTML, as libpurple escapes bodies (purple_markup_escape_text()
 * then purple_strdup_withhtml(), which drops carriage returns). */
static void
escape(GString *out, const char *p, const char *end)
{
	const char *run = p;

	for (; p < end; p++) {
		const char *entity;

		switch (*p) {
		case '&':
			entity = "&amp;";
			break;
		case '<':
			entity = "&lt;";
			break;
		case '>':
			entity = "&gt;";
			break;
		case '"':
			entity = "&quot;";
			break;
		case '\r':
			entity = "";
			break;
		default:
			continue;
		}
		g_string_append_len(out, run, p - run);
		g_string_append(out, entity);
		run = p + 1;
	}
	g_string_append_len(out, run, p - run);
}

/* --- Spans (section 6.2) ----------------------------------------------- */

enum { STRONG, EMPHASIS, STRIKE, PRE, N_SPANS };

static const char directive_chars[N_SPANS] = { '*', '_', '~', '`' };
static const char *const span_open[N_SPANS] = { "<b>", "<i>", "<s>",
						MONO_OPEN };
static const char *const span_close[N_SPANS] = { "</b>", "</i>", "</s>",
						 FONT_CLOSE };

static int
span_kind(char c)
{
	switch (c) {
	case '*':
		return STRONG;
	case '_':
		return EMPHASIS;
	case '~':
		return STRIKE;
	case '`':
		return PRE;
	default:
		return -1;
	}
}

/*
 * One line (a plain block) being rendered.  Spans are matched lazily: an
 * opening directive is closed by the first valid closing one after it.
 * Every look-up starts after the previous one (the line is read left to
 * right, inner spans before what follows their parent), so the closers
 * found are remembered per kind and the line is scanned at most once per
 * kind, whatever the input.
 */
typedef struct {
	GString *out;
	const char *start; /* the block's first byte */
	const char *end;
	const char *closer[N_SPANS];  /* the last one found, or NULL */
	const char *scanned[N_SPANS]; /* searched up to here */
} Line;

/* The first closing directive of @kind at or after @from, or NULL. */
static const char *
next_closer(Line *line, int kind, const char *from)
{
	const char *p;

	if (line->closer[kind] != NULL && line->closer[kind] >= from)
		return line->closer[kind];
	p = MAX(from, line->scanned[kind]);
	for (; p < line->end; p++) {
		/* Section 6.2: a closing directive MUST NOT be preceded by
		 * white space. */
		if (*p == directive_chars[kind] &&
		    !space_before(line->start, p)) {
			line->closer[kind] = p;
			line->scanned[kind] = p + 1;
			return p;
		}
	}
	line->scanned[kind] = line->end;
	line->closer[kind] = NULL;
	return NULL;
}

/*
 * Renders [@from, @end) of the line.  @from is the beginning of the block
 * or just after an opening directive: the places, with white space, where
 * section 6.2 allows an opening directive.  Returns TRUE if a span was
 * found.
 */
static gboolean
render_spans(Line *line, const char *from, const char *end)
{
	const char *plain = from;
	const char *p = from;
	gboolean styled = FALSE;

	while (p < end) {
		int kind = span_kind(*p);
		const char *close;

		/* Section 6.2: an opening directive is at the beginning of
		 * the block, after white space or after another opening
		 * directive, and MUST NOT be followed by white space. */
		if (kind < 0 || (p != from && !space_before(line->start, p)) ||
		    p + 1 >= end || space_at(p + 1)) {
			p++;
			continue;
		}
		close = next_closer(line, kind, p + 1);
		if (close == NULL || close >= end) {
			p++;
			continue;
		}
		/* A span MUST contain some text, otherwise neither directive
		 * is valid. */
		if (close == p + 1) {
			p += 2;
			continue;
		}
		escape(line->out, plain, p);
		g_string_append(line->out, span_open[kind]);
		g_string_append_c(line->out, *p);
		/* Section 6.2.5: a preformatted span holds plain text only. */
		if (kind == PRE)
			escape(line->out, p + 1, close);
		else
			render_spans(line, p + 1, close);
		g_string_append_c(line->out, *close);
		g_string_append(line->out, span_close[kind]);
		styled = TRUE;
		p = plain = close + 1;
	}
	escape(line->out, plain, end);
	return styled;
}

/* --- Blocks (section 6.1) ---------------------------------------------- */

typedef struct {
	const char *start;
	const char *text; /* after the quotation directives of every level */
	const char *end;  /* excluding the newline */
	gboolean quoted;
	gboolean pre;
} Block;

static gboolean
starts_with_fence(const Block *b)
{
	return b->end - b->text >= 3 && memcmp(b->text, "```", 3) == 0;
}

static gboolean
is_closing_fence(const Block *b)
{
	return b->end - b->text == 3 && memcmp(b->text, "```", 3) == 0;
}

/*
 * Marks the preformatted and quoted lines of @lines, one parent block.
 * Returns TRUE if there is any.
 */
static gboolean
parse_blocks(Block *lines, gsize n, guint depth)
{
	gboolean styled = FALSE;
	gsize i = 0;

	while (i < n) {
		if (starts_with_fence(&lines[i])) {
			/* Section 6.1.2: up to a line of only three grave
			 * accents or the end of the parent block. */
			lines[i++].pre = TRUE;
			while (i < n) {
				lines[i].pre = TRUE;
				if (is_closing_fence(&lines[i++]))
					break;
			}
			styled = TRUE;
		} else if (lines[i].text < lines[i].end &&
			   *lines[i].text == '>' && depth < MAX_QUOTE_DEPTH) {
			gsize first = i;

			for (; i < n && lines[i].text < lines[i].end &&
			       *lines[i].text == '>';
			     i++) {
				Block *b = &lines[i];

				b->quoted = TRUE;
				b->text++;
				/* Section 6.1.3: the first leading white space
				 * character MUST be trimmed. */
				if (b->text < b->end && space_at(b->text))
					b->text = g_utf8_next_char(b->text);
			}
			parse_blocks(lines + first, i - first, depth + 1);
			styled = TRUE;
		} else {
			i++;
		}
	}
	return styled;
}

/*
 * The body as HTML, or NULL when it uses no styling.
 * @text: valid UTF-8, @len bytes
 */
static char *
render(const char *text, gsize len)
{
	const char *end = text + len;
	g_autofree Block *lines = NULL;
	gsize n = 1;
	gboolean styled;
	GString *out;
	Line line;

	for (const char *p = text; (p = memchr(p, '\n', end - p)) != NULL; p++)
		n++;
	lines = g_new0(Block, n);
	for (gsize i = 0; i < n; i++) {
		const char *nl = memchr(text, '\n', end - text);

		lines[i].start = lines[i].text = text;
		lines[i].end = nl != NULL ? nl : end;
		if (nl != NULL)
			text = nl + 1;
	}
	styled = parse_blocks(lines, n, 0);

	out = g_string_sized_new(len + len / 4 + 64);
	for (gsize i = 0; i < n; i++) {
		const Block *b = &lines[i];

		if (i > 0)
			g_string_append(out, "<br>");
		if (b->quoted) {
			g_string_append(out, QUOTE_OPEN);
			escape(out, b->start, b->text);
		}
		if (b->pre && b->text < b->end) {
			g_string_append(out, MONO_OPEN);
			escape(out, b->text, b->end);
			g_string_append(out, FONT_CLOSE);
		} else if (!b->pre) {
			line.out = out;
			line.start = b->text;
			line.end = b->end;
			for (int k = 0; k < N_SPANS; k++) {
				line.closer[k] = NULL;
				line.scanned[k] = b->text;
			}
			styled |= render_spans(&line, b->text, b->end);
		}
		if (b->quoted)
			g_string_append(out, FONT_CLOSE);
	}
	if (!styled) {
		g_string_free(out, TRUE);
		return NULL;
	}
	return g_string_free(out, FALSE);
}

/* --- The stage --------------------------------------------------------- */

/*
 * Whether a body could hold styling: a span directive anywhere, or a '>'
 * starting a line ("```" starts with a directive too).  Runs on every
 * message, so it reads the text where the parser left it, in place.
 */
static gboolean
may_be_styled(const char *p, gsize len, gboolean *line_start)
{
	for (gsize i = 0; i < len; i++) {
		guchar c = p[i];

		switch (c) {
		case '*':
		case '_':
		case '~':
		case '`':
			return TRUE;
		case '>':
			if (*line_start)
				return TRUE;
			break;
		default:
			break;
		}
		*line_start = c == '\n';
	}
	return FALSE;
}

static gboolean
is_named(xmlnode *node, const char *name, const char *ns)
{
	return node->type == XMLNODE_TYPE_TAG &&
	       strcmp(node->name, name) == 0 &&
	       g_strcmp0(xmlnode_get_namespace(node), ns) == 0;
}

/*
 * Whether showing the message ourselves would lose something the prpl
 * does with it besides showing the body: XHTML-IM formatting of its own,
 * a room's subject, invitations, attention requests, pubsub events, legacy
 * delay stamps.  And the sender's wish (section 7): <unstyled/>.
 */
static gboolean
leave_to_prpl(xmlnode *message)
{
	for (xmlnode *c = message->child; c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG)
			continue;
		if (is_named(c, "unstyled", PXM_NS_STYLING) ||
		    is_named(c, "html", PXM_NS_XHTML_IM) ||
		    strcmp(c->name, "subject") == 0 ||
		    is_named(c, "x", PXM_NS_CONFERENCE) ||
		    is_named(c, "x", PXM_NS_MUC_USER) ||
		    is_named(c, "x", PXM_NS_DELAY_LEGACY) ||
		    is_named(c, "attention", PXM_NS_ATTENTION) ||
		    is_named(c, "event", PXM_NS_PUBSUB_EVENT))
			return TRUE;
	}
	return FALSE;
}

/* A private message from a room occupant: the presenter would show it as
 * from the room itself. */
static gboolean
is_room_private(PxmAccount *account, const PxmStanza *st)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	g_autofree char *bare = NULL;

	if (pa == NULL || pxm_jid_resource_peek(st->from) == NULL)
		return FALSE;
	bare = pxm_jid_bare_dup(st->from);
	return bare != NULL && purple_find_conversation_with_account(
				       PURPLE_CONV_TYPE_CHAT, bare, pa) != NULL;
}

static PxmVerdict
present(PxmAccount *account, gpointer state, PxmStanza *st)
{
	g_autofree char *data = NULL;
	gboolean line_start = TRUE;
	gboolean groupchat;
	xmlnode *body = NULL;
	const char *text, *nick;
	gsize len;

	/* Corrections, replies and the like build their own HTML. */
	if (st->html != NULL || st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	groupchat = g_strcmp0(st->type, "groupchat") == 0;
	if (!groupchat && st->type != NULL && strcmp(st->type, "chat") != 0 &&
	    strcmp(st->type, "normal") != 0)
		return PXM_VERDICT_CONTINUE;

	if (st->body != NULL) {
		text = st->body;
		len = strlen(text);
		if (!may_be_styled(text, len, &line_start))
			return PXM_VERDICT_CONTINUE;
	} else {
		gboolean candidate = FALSE;

		for (xmlnode *c = st->message->child; c != NULL; c = c->next) {
			if (c->type == XMLNODE_TYPE_TAG &&
			    strcmp(c->name, "body") == 0) {
				body = c;
				break;
			}
		}
		if (body == NULL)
			return PXM_VERDICT_CONTINUE;
		/* The parser may have split the text into several nodes. */
		for (xmlnode *c = body->child; c != NULL && !candidate;
		     c = c->next)
			if (c->type == XMLNODE_TYPE_DATA)
				candidate = may_be_styled(c->data, c->data_sz,
							  &line_start);
		if (!candidate)
			return PXM_VERDICT_CONTINUE;
		text = data = xmlnode_get_data(body);
		len = strlen(text);
	}

	nick = pxm_jid_resource_peek(st->from);
	if (leave_to_prpl(st->message) ||
	    /* Sent by the room itself: the prpl shows it as a notice. */
	    (groupchat && (nick == NULL || *nick == '\0')) ||
	    (!groupchat && is_room_private(account, st)) ||
	    /* A produced body (decrypted) was not checked by an XML
	     * parser. */
	    !g_utf8_validate(text, len, NULL))
		return PXM_VERDICT_CONTINUE;
	st->html = render(text, len);
	return PXM_VERDICT_CONTINUE;
}

const PxmExtensionClass pxm_xep0393_styling = {
	.id = ID,
	.stages = {
		[PXM_PHASE_PRESENT] = present,
	},
};

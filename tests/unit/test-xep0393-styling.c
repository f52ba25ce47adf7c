// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0393 through the host's real pipeline: the spec's examples, the HTML
 * each one becomes, what is left to the prpl, and hostile bodies (the
 * output is always the body, escaped, with only our tags around it). */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define OWN "alice@example.org/pidgin"
#define PEER "bob@example.org/phone"

#define B(s) "<b>" s "</b>"
#define I(s) "<i>" s "</i>"
#define S(s) "<s>" s "</s>"
#define M(s) "<font face='monospace'>" s "</font>"
#define Q(s) "<font color='#52799e'>" s "</font>"

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, "xep0393-styling");
}

/* Runs @node through the incoming pipeline; returns the HTML a stage set
 * (NULL: the message is left to the prpl). */
static char *
run(Fixture *f, xmlnode *node, PxmVerdict *verdict)
{
	PxmStanza st;
	PxmVerdict v;
	char *html;

	pxm_stanza_init(&st, node, FALSE);
	v = pxm_pipeline_incoming(f->account, &st);
	if (verdict != NULL)
		*verdict = v;
	html = g_steal_pointer(&st.html);
	pxm_stanza_clear(&st);
	return html;
}

/* A message whose body is @body as it arrives (no XML escaping to get
 * wrong in the test). */
static xmlnode *
message(const char *type, const char *from, const char *body)
{
	static guint counter;
	g_autofree char *id = NULL;
	xmlnode *msg = xmlnode_new("message");
	xmlnode *b;

	if (type != NULL)
		xmlnode_set_attrib(msg, "type", type);
	xmlnode_set_attrib(msg, "from", from);
	xmlnode_set_attrib(msg, "to", OWN);
	/* A new id each time: the host drops what it has already shown. */
	id = g_strdup_printf("m%u", ++counter);
	xmlnode_set_attrib(msg, "id", id);
	if (body != NULL) {
		b = xmlnode_new_child(msg, "body");
		xmlnode_insert_data(b, body, -1);
	}
	return msg;
}

static char *
style(Fixture *f, const char *body)
{
	xmlnode *msg = message("chat", PEER, body);
	PxmVerdict verdict;
	char *html = run(f, msg, &verdict);

	/* Shown by the host's presenter (CONSUMED), or left to the prpl. */
	g_assert_cmpint(verdict, ==,
			html != NULL ? PXM_VERDICT_CONSUMED
				     : PXM_VERDICT_CONTINUE);
	xmlnode_free(msg);
	return html;
}

static void
check(Fixture *f, const char *body, const char *expected)
{
	g_autofree char *html = style(f, body);

	if (g_strcmp0(html, expected) != 0)
		g_error("body «%s»\n  gave «%s»\n  want «%s»", body,
			html ? html : "(unstyled)",
			expected ? expected : "(unstyled)");
}

/* Section 6.2: the lists of styled and unstyled examples. */
static void
test_span_examples(Fixture *f, gconstpointer data)
{
	check(f, "plain span", NULL);
	check(f, "*strong span*", B("*strong span*"));
	check(f, "plain _emphasis_ plain", "plain " I("_emphasis_") " plain");
	check(f, "`pre` plain *strong*", M("`pre`") " plain " B("*strong*"));
	check(f, "*strong*plain*", B("*strong*") "plain*");
	check(f, "* plain *strong*", "* plain " B("*strong*"));

	check(f, "not strong*", NULL);
	check(f, "*not strong", NULL);
	check(f, "*not \n strong*", NULL);
	check(f, "*not *strong", NULL);
	check(f, "**", NULL);
	check(f, "***", NULL);
	check(f, "****", NULL);
}

/* Sections 6.2.1 to 6.2.5: the examples of each span. */
static void
test_span_kinds(Fixture *f, gconstpointer data)
{
	check(f, "Two spans, both *alike in dignity*",
	      "Two spans, both " B("*alike in dignity*"));
	check(f,
	      "The full title is _Twelfth Night, or What You Will_ but\n"
	      "_most_ people shorten it.",
	      "The full title is " I(
		      "_Twelfth Night, or What You Will_") " "
							   "but<br>" I(
								   "_most_") " "
									     "p"
									     "e"
									     "o"
									     "p"
									     "l"
									     "e"
									     " "
									     "s"
									     "h"
									     "o"
									     "r"
									     "t"
									     "e"
									     "n"
									     " "
									     "i"
									     "t"
									     ".");
	check(f,
	      "The full title is \"Twelfth Night, or What You Will\" but\n"
	      "*most* people shorten it.",
	      "The full title is &quot;Twelfth Night, or What You Will&quot; "
	      "but<br>" B("*most*") " people shorten it.");
	check(f, "Everyone ~dis~likes cake.",
	      "Everyone " S("~dis~") "likes cake.");
	check(f, "This is `monospace`", "This is " M("`monospace`"));
	check(f, "This is `*monospace*`", "This is " M("`*monospace*`"));
	check(f, "This is *`monospace and bold`*",
	      "This is " B("*" M("`monospace and bold`") "*"));
	check(f, "Wow, I can write in `monospace`!",
	      "Wow, I can write in " M("`monospace`") "!");
}

/* Nesting, laziness and where directives may stand. */
static void
test_span_rules(Fixture *f, gconstpointer data)
{
	check(f, "*_~both~_*", B("*" I("_" S("~both~") "_") "*"));
	check(f, "_a *b* c_", I("_a " B("*b*") " c_"));
	/* Lazily matched: the first closing directive wins, and spans do not
	 * cross. */
	check(f, "*a _b* c_", B("*a _b*") " c_");
	check(f, "*a *b*", B("*a *b*"));
	check(f, "*a* *b*", B("*a*") " " B("*b*"));
	/* An opening directive follows white space, the start of the block
	 * or another opening directive; a closing one is not preceded by
	 * white space. */
	check(f, "snake_case_name and 2*3*4", NULL);
	check(f, "(*not*)", NULL);
	check(f, "*a*_b_", B("*a*") "_b_");
	check(f, "a *b *", NULL);
	check(f, "\t*tab*", "\t" B("*tab*"));
	/* Unicode white space: no-break space, em space, ideographic. */
	check(f, "*a\u00a0*", NULL);
	check(f, "*\u00a0a*", NULL);
	check(f, "\u2003*b*", "\u2003" B("*b*"));
	check(f, "x\u3000_i_", "x\u3000" I("_i_"));
	check(f, "é*b*", NULL);
	check(f, "*é*", B("*é*"));
	/* Preformatted spans are not parsed further. */
	check(f, "`*a* _b_`", M("`*a* _b_`"));
	check(f, "`a` `b`", M("`a`") " " M("`b`"));
	/* An empty span invalidates both directives. */
	check(f, "`` x", NULL);
	check(f, "__init__", NULL);
	check(f, "a ~~b~~", NULL);
}

/* Section 6.1.1: spans do not escape their line. */
static void
test_plain_blocks(Fixture *f, gconstpointer data)
{
	check(f,
	      "There are three blocks in this body, one per line,\n"
	      "but there is no *formatting\n"
	      "as spans* may not escape blocks.",
	      NULL);
	check(f, "one\n*two*\nthree", "one<br>" B("*two*") "<br>three");
	check(f, "a\r\n*b*", "a<br>" B("*b*"));
}

/* Section 6.1.2. */
static void
test_pre_blocks(Fixture *f, gconstpointer data)
{
	check(f,
	      "```ignored\n"
	      "(println \"Hello, world!\")\n"
	      "```\n"
	      "\n"
	      "This should show up as monospace, preformatted text ⤴",
	      M("```ignored") "<br>" M(
		      "(println &quot;Hello, world!&quot;)") "<br>" M("```") "<"
									     "b"
									     "r"
									     ">"
									     "<"
									     "b"
									     "r"
									     ">"
									     "T"
									     "h"
									     "i"
									     "s"
									     " "
									     "s"
									     "h"
									     "o"
									     "u"
									     "l"
									     "d"
									     " "
									     "s"
									     "h"
									     "o"
									     "w"
									     " "
									     "u"
									     "p"
									     " "
									     "a"
									     "s"
									     " "
									     "m"
									     "o"
									     "n"
									     "o"
									     "s"
									     "p"
									     "a"
									     "c"
									     "e"
									     ","
									     " "
									     "p"
									     "r"
									     "e"
									     "f"
									     "o"
									     "r"
									     "m"
									     "a"
									     "t"
									     "t"
									     "e"
									     "d"
									     " "
									     "t"
									     "e"
									     "x"
									     "t"
									     " "
									     "⤴");
	/* Not parsed further; blank lines kept. */
	check(f, "```\n*a*\n\n> b\n```\n*c*",
	      M("```") "<br>" M("*a*") "<br><br>" M("&gt; b") "<br>" M(
		      "```") "<br>" B("*c*"));
	/* Ended by the end of the parent block (here the message). */
	check(f, "see:\n```sh\nrm -rf *_*",
	      "see:<br>" M("```sh") "<br>" M("rm -rf *_*"));
	/* Only a line of exactly three grave accents closes it. */
	check(f, "```\na\n ```\n````\n```\nb",
	      M("```") "<br>" M("a") "<br>" M(" ```") "<br>" M("````") "<br>" M(
		      "```") "<br>b");
	/* A fence must start the line. */
	check(f, "x ```\ny", NULL);
}

/* Section 6.1.3. */
static void
test_quotes(Fixture *f, gconstpointer data)
{
	check(f, "> That that is, is.\n\nSaid the old hermit of Prague.",
	      Q("&gt; That that is, is.") "<br><br>Said the old hermit of "
					  "Prague.");
	check(f,
	      ">> That that is, is.\n"
	      "> Said the old hermit of Prague.\n"
	      "\n"
	      "Who?",
	      Q("&gt;&gt; That that is, is.") "<br>" Q(
		      "&gt; Said the old hermit of Prague.") "<br><br>Who?");
	/* Ended by the first line that does not start with '>'. */
	check(f, ">a\nb", Q("&gt;a") "<br>b");
	check(f, ">\n>", Q("&gt;") "<br>" Q("&gt;"));
	/* Spans inside, starting after the trimmed white space. */
	check(f, "> *yes* _no", Q("&gt; " B("*yes*") " _no"));
	check(f, ">*yes*", Q("&gt;" B("*yes*")));
	/* Only the first white space character is trimmed: the span then
	 * follows white space. */
	check(f, ">  *yes*", Q("&gt;  " B("*yes*")));
	check(f, ">\u00a0*x*", Q("&gt;\u00a0" B("*x*")));
	/* A '>' elsewhere is text. */
	check(f, "a > b", NULL);
	check(f, " > b", NULL);
}

/* Section 6.1.2, second example: a block inside a quotation ends with
 * it. */
static void
test_pre_in_quote(Fixture *f, gconstpointer data)
{
	check(f,
	      "> ```\n"
	      "> (println \"Hello, world!\")\n"
	      "\n"
	      "The entire blockquote is a preformatted text block, but this "
	      "line\n"
	      "is plaintext!",
	      Q("&gt; " M("```")) "<br>" /* */
	      Q("&gt; " M(
		      "(println &quot;Hello, world!&quot;)")) "<br>" /* */
							      "<br>The entire "
							      "blockquote is a "
							      "preformatted "
							      "text block, but "
							      "this line<br>is "
							      "plaintext!");
	check(f, "> ```\n> *a*\n> ```\n> *b*",
	      Q("&gt; " M("```")) "<br>" Q("&gt; " M("*a*")) "<br>" /* */
	      Q("&gt; " M("```")) "<br>" Q("&gt; " B("*b*")));
	/* A quotation inside a block is text. */
	check(f, "```\n> a\n```", M("```") "<br>" M("&gt; a") "<br>" M("```"));
}

/* Section 7: the sender asks for no styling. */
static void
test_unstyled_hint(Fixture *f, gconstpointer data)
{
	xmlnode *msg = message("chat", PEER, "> _ <");
	xmlnode *hint = xmlnode_new_child(msg, "unstyled");
	g_autofree char *without = style(f, "> _ <");
	g_autofree char *html = NULL;

	g_assert_cmpstr(without, ==, Q("&gt; _ &lt;"));
	xmlnode_set_namespace(hint, "urn:xmpp:styling:0");
	html = run(f, msg, NULL);
	g_assert_null(html);
	xmlnode_free(msg);
}

static char *
style_with(Fixture *f, const char *type, const char *from, const char *body,
	   const char *extra)
{
	xmlnode *msg = message(type, from, body);
	char *html;

	if (extra != NULL) {
		xmlnode *x = xmlnode_from_str(extra, -1);

		g_assert_nonnull(x);
		xmlnode_insert_child(msg, x);
	}
	html = run(f, msg, NULL);
	xmlnode_free(msg);
	return html;
}

/* What the prpl does more with than show the body stays with it. */
static void
test_left_to_prpl(Fixture *f, gconstpointer data)
{
	static const char *const extras[] = {
		"<html xmlns='http://jabber.org/protocol/xhtml-im'><body "
		"xmlns='http://www.w3.org/1999/xhtml'><p><b>bold</b></p>"
		"</body></html>",
		"<subject>*topic*</subject>",
		"<x xmlns='jabber:x:conference' jid='room@muc.example.org'/>",
		"<x xmlns='http://jabber.org/protocol/muc#user'><invite "
		"from='carol@example.org'/></x>",
		"<attention xmlns='urn:xmpp:attention:0'/>",
		"<x xmlns='jabber:x:delay' stamp='20020910T23:08:25'/>",
		"<event xmlns='http://jabber.org/protocol/pubsub#event'/>",
	};
	g_autofree char *groupchat = NULL;
	g_autofree char *normal = NULL;
	g_autofree char *untyped = NULL;

	for (guint i = 0; i < G_N_ELEMENTS(extras); i++) {
		g_autofree char *html = style_with(f, "chat", PEER, "*bold*",
						   extras[i]);

		if (html != NULL)
			g_error("styled despite %s", extras[i]);
	}
	/* Other message types. */
	for (guint i = 0; i < 3; i++) {
		static const char *const types[] = { "headline", "error",
						     "unknown" };
		g_autofree char *html = style_with(f, types[i], PEER, "*bold*",
						   NULL);

		g_assert_null(html);
	}
	normal = style_with(f, "normal", PEER, "*bold*", NULL);
	untyped = style_with(f, NULL, PEER, "*bold*", NULL);
	g_assert_cmpstr(normal, ==, B("*bold*"));
	g_assert_cmpstr(untyped, ==, B("*bold*"));

	/* A room's own messages (no nick) are notices the prpl shows. */
	for (guint i = 0; i < 2; i++) {
		g_autofree char *html =
			style_with(f, "groupchat",
				   i == 0 ? "room@muc.example.org"
					  : "room@muc.example.org/",
				   "*bold*", NULL);

		g_assert_null(html);
	}
	groupchat = style_with(f, "groupchat", "room@muc.example.org/bob",
			       "*bold*", NULL);
	g_assert_cmpstr(groupchat, ==, B("*bold*"));
}

/* Corrections, replies and the like set their own HTML first. */
static void
test_html_already_set(Fixture *f, gconstpointer data)
{
	xmlnode *msg = message("chat", PEER, "*bold*");
	PxmStanza st;

	pxm_stanza_init(&st, msg, FALSE);
	pxm_stanza_set(&st.html, "<i>theirs</i>");
	pxm_pipeline_incoming(f->account, &st);
	g_assert_cmpstr(st.html, ==, "<i>theirs</i>");
	pxm_stanza_clear(&st);
	xmlnode_free(msg);
}

/* A body a stage produced (decrypted, read from a forwarded message) is
 * the text, not the stanza's <body/>; a forwarded message is styled the
 * same way. */
static void
test_produced_body(Fixture *f, gconstpointer data)
{
	xmlnode *msg = message("chat", PEER, "fallback _text_");
	xmlnode *outer = xmlnode_new("message");
	PxmStanza st;

	pxm_stanza_init(&st, msg, FALSE);
	pxm_stanza_set(&st.body, "the *plaintext*");
	pxm_pipeline_incoming(f->account, &st);
	g_assert_cmpstr(st.html, ==, "the " B("*plaintext*"));
	pxm_stanza_clear(&st);

	/* Not valid UTF-8: not parsed, left as it is. */
	pxm_stanza_init(&st, msg, FALSE);
	pxm_stanza_set(&st.body, "*bad\xff*");
	pxm_pipeline_incoming(f->account, &st);
	g_assert_null(st.html);
	pxm_stanza_clear(&st);

	/* As an unwrap stage leaves a carbon: st->message is the forwarded
	 * one. */
	xmlnode_set_attrib(outer, "from", "alice@example.org");
	pxm_stanza_init(&st, outer, FALSE);
	st.message = msg;
	st.type = "chat";
	st.from = PEER;
	st.origin = PXM_ORIGIN_CARBON;
	pxm_pipeline_incoming(f->account, &st);
	g_assert_cmpstr(st.html, ==, "fallback " I("_text_"));
	pxm_stanza_clear(&st);
	xmlnode_free(outer);
	xmlnode_free(msg);
}

/* The XML parser may hand the text over in several pieces. */
static void
test_split_text(Fixture *f, gconstpointer data)
{
	static const char *const pieces[][3] = {
		{ "*bo", "ld* a", " &" },
		{ "line\n", "> quoted", NULL },
		{ "no", " styling\n", "a > b" },
	};
	static const char *const expected[] = {
		B("*bold*") " a &amp;",
		"line<br>" Q("&gt; quoted"),
		NULL,
	};

	for (guint i = 0; i < G_N_ELEMENTS(pieces); i++) {
		xmlnode *msg = message("chat", PEER, NULL);
		xmlnode *body = xmlnode_new_child(msg, "body");
		g_autofree char *html = NULL;

		for (guint j = 0; j < 3 && pieces[i][j] != NULL; j++)
			xmlnode_insert_data(body, pieces[i][j], -1);
		html = run(f, msg, NULL);
		g_assert_cmpstr(html, ==, expected[i]);
		xmlnode_free(msg);
	}
}

/* Bodies written to break out of the markup. */
static void
test_hostile(Fixture *f, gconstpointer data)
{
	check(f, "*<script>alert('x')</script>*",
	      B("*&lt;script&gt;alert('x')&lt;/script&gt;*"));
	check(f, "`</font><img src=x>`", M("`&lt;/font&gt;&lt;img src=x&gt;`"));
	check(f, "_\"'&amp;&lt;_", I("_&quot;'&amp;amp;&amp;lt;_"));
	check(f, "> </font><font color='red'>x",
	      Q("&gt; &lt;/font&gt;&lt;font color='red'&gt;x"));
	check(f, "```\n<br>&nbsp;\n```",
	      M("```") "<br>" M("&lt;br&gt;&amp;nbsp;") "<br>" M("```"));
	check(f, "<b> *x*", "&lt;b&gt; " B("*x*"));
	check(f, "<b>*x*", NULL);
	check(f, "&*x*", NULL);
	check(f, "*a* <3 & \"b\"", B("*a*") " &lt;3 &amp; &quot;b&quot;");
	/* Unbalanced directives. */
	check(f, "*_~`", NULL);
	check(f, "`*_~x", NULL);
	/* Directives that open nothing cannot be followed by an opening
	 * one. */
	check(f, "*_~`x`~_", NULL);
	check(f, "*_~ `x`~_", "*_~ " M("`x`") "~_");
	check(f, "*a _b ~c `d", NULL);
	check(f, "d` c~ b_ a*", NULL);
}

/* Deep or long input is handled in linear time, and the quotation depth is
 * bounded. */
static void
test_huge(Fixture *f, gconstpointer data)
{
	const guint n = 100000;
	GString *body = g_string_new(NULL);
	GString *want = g_string_new(NULL);
	g_autofree char *html = NULL;

	/* Quotations nested n deep. */
	for (guint i = 0; i < n; i++) {
		g_string_append_c(body, '>');
		g_string_append(want, "&gt;");
	}
	g_string_append(body, " x");
	g_string_prepend(want, "<font color='#52799e'>");
	g_string_append(want, " x</font>");
	html = style(f, body->str);
	g_assert_cmpstr(html, ==, want->str);
	g_clear_pointer(&html, g_free);

	/* Openers that are never closed, and closers never opened. */
	g_string_truncate(body, 0);
	for (guint i = 0; i < n; i++)
		g_string_append(body, " *a _b ~c `d");
	for (guint i = 0; i < n; i++)
		g_string_append(body, "a* b_ c~ d` ");
	html = style(f, body->str);
	g_assert_nonnull(html);
	g_assert_true(g_str_has_prefix(html, " <b>*a _b ~c `d *a"));
	g_clear_pointer(&html, g_free);

	/* Many short styled lines. */
	g_string_truncate(body, 0);
	g_string_truncate(want, 0);
	for (guint i = 0; i < n / 10; i++) {
		g_string_append(body, i > 0 ? "\n> *a*" : "> *a*");
		g_string_append(want, i > 0 ? "<br>" Q("&gt; " B("*a*"))
					    : Q("&gt; " B("*a*")));
	}
	html = style(f, body->str);
	g_assert_cmpstr(html, ==, want->str);

	g_string_free(body, TRUE);
	g_string_free(want, TRUE);
}

/*
 * Reads back what the renderer wrote: only our tags, properly nested, only
 * the entities escape() writes; the text between them must be the body
 * (newlines as <br>, carriage returns dropped).
 */
static void
check_safe(const char *body, const char *html)
{
	static const char *const opens[] = {
		"<b>",
		"<i>",
		"<s>",
		"<font face='monospace'>",
		"<font color='#52799e'>",
	};
	static const char *const closes[] = { "</b>", "</i>", "</s>", "</font>",
					      "</font>" };
	static const char *const entities[][2] = {
		{ "&amp;", "&" },
		{ "&lt;", "<" },
		{ "&gt;", ">" },
		{ "&quot;", "\"" },
	};
	g_autoptr(GString) text = g_string_new(NULL);
	g_autoptr(GString) want = g_string_new(NULL);
	g_autoptr(GArray) stack = g_array_new(FALSE, FALSE, sizeof(guint));
	const char *p = html;

	while (*p != '\0') {
		gboolean known = FALSE;

		if (*p == '<') {
			if (g_str_has_prefix(p, "<br>")) {
				g_assert_cmpuint(stack->len, ==, 0);
				g_string_append_c(text, '\n');
				p += 4;
				continue;
			}
			for (guint i = 0; i < G_N_ELEMENTS(opens) && !known;
			     i++) {
				if (g_str_has_prefix(p, opens[i])) {
					g_array_append_val(stack, i);
					p += strlen(opens[i]);
					known = TRUE;
				}
			}
			if (!known && stack->len > 0) {
				guint top = g_array_index(stack, guint,
							  stack->len - 1);

				if (g_str_has_prefix(p, closes[top])) {
					p += strlen(closes[top]);
					g_array_set_size(stack, stack->len - 1);
					known = TRUE;
				}
			}
			if (!known)
				g_error("body «%s»: unexpected markup at «%s»",
					body, p);
			continue;
		}
		if (*p == '&') {
			for (guint i = 0; i < G_N_ELEMENTS(entities) && !known;
			     i++) {
				if (g_str_has_prefix(p, entities[i][0])) {
					g_string_append(text, entities[i][1]);
					p += strlen(entities[i][0]);
					known = TRUE;
				}
			}
			if (!known)
				g_error("body «%s»: bare & at «%s»", body, p);
			continue;
		}
		g_assert_true(*p != '>' && *p != '"');
		g_string_append_c(text, *p++);
	}
	g_assert_cmpuint(stack->len, ==, 0);
	for (const char *b = body; *b != '\0'; b++)
		if (*b != '\r')
			g_string_append_c(want, *b);
	g_assert_cmpstr(text->str, ==, want->str);
}

static void
test_random(Fixture *f, gconstpointer data)
{
	static const char *const alphabet[] = {
		"*", "_", "~", "`",  "```", ">", "> ",     "\n", " ",  "a",
		"b", "<", "&", "\"", "'",   "é", "\u00a0", "\r", "\t", "&amp;",
	};
	g_autoptr(GRand) rand = g_rand_new_with_seed(393);
	guint styled = 0;

	for (guint i = 0; i < 3000; i++) {
		g_autoptr(GString) body = g_string_new(NULL);
		guint len = g_rand_int_range(rand, 1, 40);
		g_autofree char *html = NULL;

		for (guint j = 0; j < len; j++)
			g_string_append(
				body,
				alphabet[g_rand_int_range(
					rand, 0, G_N_ELEMENTS(alphabet))]);
		html = style(f, body->str);
		if (html != NULL) {
			check_safe(body->str, html);
			styled++;
		}
	}
	/* The generator does reach the renderer. */
	g_assert_cmpuint(styled, >, 1000);
}

/* An extension that is off changes nothing. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *html = style(f, "*bold* > `x`");

	g_assert_null(html);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0393-styling/" path, Fixture, GINT_TO_POINTER(on),     \
		   setup, func, pxm_test_account_teardown)
	ADD("spans/xep-examples", test_span_examples, TRUE);
	ADD("spans/kinds", test_span_kinds, TRUE);
	ADD("spans/rules", test_span_rules, TRUE);
	ADD("blocks/plain", test_plain_blocks, TRUE);
	ADD("blocks/pre", test_pre_blocks, TRUE);
	ADD("blocks/quotes", test_quotes, TRUE);
	ADD("blocks/pre-in-quote", test_pre_in_quote, TRUE);
	ADD("unstyled-hint", test_unstyled_hint, TRUE);
	ADD("present/left-to-prpl", test_left_to_prpl, TRUE);
	ADD("present/html-already-set", test_html_already_set, TRUE);
	ADD("present/produced-body", test_produced_body, TRUE);
	ADD("present/split-text", test_split_text, TRUE);
	ADD("hostile/escaping", test_hostile, TRUE);
	ADD("hostile/huge", test_huge, TRUE);
	ADD("hostile/random", test_random, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0461 through the host's real pipeline: a reply to a known message is
 * shown under a quote line without its fallback (XEP-0428 offsets in code
 * points, hostile ones harmless), one to an unknown message is left as it
 * is, /reply and quoting messages send what section 3 says. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0461-replies/xep0461-replies.h"

#define OWN "anna@example.com/tablet"
#define MAXJ "max@example.com"
#define ROOM "bakery@chat.example.com"
#define ROOM_BOB ROOM "/bob"
#define QUOTE_OPEN "<font color=\"#808080\">┃ "
#define QUOTE_CLOSE "</font><br>"

enum { REPLIES = 1 << 0, CORRECTION = 1 << 1 };

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	int which = GPOINTER_TO_INT(data);

	pxm_test_account_setup(f, OWN, TRUE);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	if (which & REPLIES)
		pxm_test_account_activate(f, "xep0461-replies");
	if (which & CORRECTION)
		pxm_test_account_activate(f, "xep0308-correction");
}

static const char *const cake = "<message to='" MAXJ
				"' id='message-id1' type='chat'>"
				"<body>We should bake a cake</body></message>";

/* Section 3, example 3: Max replies to Anna's message. */
static void
test_xep_example(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *body = NULL;

	pxm_test_user_sends(f, cake);
	g_assert_cmpint(
		pxm_test_receive_facts(
			f,
			"<message to='" OWN "' from='max@example.com/phone' "
			"id='message-id2' type='chat'><body>Great idea!</body>"
			"<reply to='anna@example.com/tablet' id='message-id1' "
			"xmlns='urn:xmpp:reply:0'/></message>",
			&html, &body),
		==, PXM_VERDICT_CONSUMED);
	g_assert_cmpstr(html, ==,
			QUOTE_OPEN
			"<b>You</b>: We should bake a cake" QUOTE_CLOSE
			"Great idea!");
	g_assert_cmpstr(body, ==, "Great idea!");
}

static const char *const with_fallback =
	"<message to='" OWN "' from='max@example.com/phone' id='message-id3' "
	"type='chat'><body>&gt; Anna wrote:\n&gt; We should bake a cake\n"
	"Great idea!</body><reply to='anna@example.com/laptop' "
	"id='message-id1' xmlns='urn:xmpp:reply:0'/><fallback "
	"xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body start='0' "
	"end='38'/></fallback></message>";

/* Section 3.1, example 4: the fallback is not shown twice. */
static void
test_fallback(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *body = NULL;

	pxm_test_user_sends(f, cake);
	pxm_test_receive_facts(f, with_fallback, &html, &body);
	g_assert_cmpstr(html, ==,
			QUOTE_OPEN
			"<b>You</b>: We should bake a cake" QUOTE_CLOSE
			"Great idea!");
	g_assert_cmpstr(body, ==, "Great idea!");
}

/* Section 3.1: the message replied to is unknown: the fallback quote is
 * the context, left to the prpl. */
static void
test_unknown(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	g_assert_cmpint(pxm_test_receive_facts(f, with_fallback, &html, NULL),
			==, PXM_VERDICT_CONTINUE);
	g_assert_null(html);
}

/* XEP-0428 offsets count code points, not bytes. */
static void
test_code_points(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *body = NULL;

	pxm_test_user_sends(f, cake);
	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' id='u1' type='chat'>"
		"<body>&gt; 👋 héllo 日本\nOK 👍</body><reply id='message-id1' "
		"xmlns='urn:xmpp:reply:0'/><fallback "
		"xmlns='urn:xmpp:fallback:0' "
		"for='urn:xmpp:reply:0'><body start='0' end='13'/></fallback>"
		"</message>",
		&html, &body);
	g_assert_cmpstr(body, ==, "OK 👍");
}

/* Hostile ranges strip nothing and break nothing. */
static void
test_hostile_ranges(Fixture *f, gconstpointer data)
{
	static const char *const ranges[] = {
		"start='5' end='2'",
		"start='0' end='999'",
		"start='-1' end='3'",
		"start='0' end='-0'",
		"start='abc' end='3'",
		"start='0' end='3x'",
		"start='0' end='99999999999999999999999'",
		"start='' end=''",
		"start='0'",
		"end='3'",
		"start='+1' end='3'",
		"start=' 1' end='3'",
	};

	pxm_test_user_sends(f, cake);
	for (guint i = 0; i < G_N_ELEMENTS(ranges); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message from='max@example.com/phone' id='h%u' "
			"type='chat'><body>&gt; x\nhello</body><reply "
			"id='message-id1' xmlns='urn:xmpp:reply:0'/><fallback "
			"xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'>"
			"<body %s/></fallback></message>",
			i, ranges[i]);
		g_autofree char *body = NULL;

		pxm_test_receive_facts(f, xml, NULL, &body);
		g_assert_cmpstr(body, ==, "> x\nhello");
	}
}

/* Several ranges, overlapping ones merged; no offsets: all of the body;
 * fallbacks for other XEPs are not ours to strip. */
static void
test_ranges(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *fallback, *expected;
	} cases[] = {
		{ "<fallback xmlns='urn:xmpp:fallback:0' "
		  "for='urn:xmpp:reply:0'><body start='0' end='2'/>"
		  "<body start='1' end='4'/><body start='6' end='7'/>"
		  "</fallback>",
		  "ab" },
		{ "<fallback xmlns='urn:xmpp:fallback:0' "
		  "for='urn:xmpp:reply:0'><body/></fallback>",
		  "" },
		{ "<fallback xmlns='urn:xmpp:fallback:0' "
		  "for='urn:xmpp:reply:0'/>",
		  "" },
		{ "<fallback xmlns='urn:xmpp:fallback:0' "
		  "for='urn:xmpp:reactions:0'><body start='0' end='4'/>"
		  "</fallback>",
		  "0123ab6" },
		{ "<fallback xmlns='urn:xmpp:fallback:1' "
		  "for='urn:xmpp:reply:0'><body start='0' end='4'/>"
		  "</fallback>",
		  "0123ab6" },
	};

	pxm_test_user_sends(f, cake);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message from='max@example.com/phone' id='g%u' "
			"type='chat'><body>0123ab6</body><reply "
			"id='message-id1' xmlns='urn:xmpp:reply:0'/>%s"
			"</message>",
			i, cases[i].fallback);
		g_autofree char *body = NULL;

		pxm_test_receive_facts(f, xml, NULL, &body);
		g_assert_cmpstr(body, ==, cases[i].expected);
	}
}

static void
test_escaped(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	pxm_test_user_sends(f, "<message to='" MAXJ "' id='e1' type='chat'>"
			       "<body>&lt;i&gt;a&lt;/i&gt; &amp; \u202eb</body>"
			       "</message>");
	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' id='e2' type='chat'>"
		"<body>&lt;script&gt; &amp;</body><reply id='e1' "
		"xmlns='urn:xmpp:reply:0'/></message>",
		&html, NULL);
	g_assert_cmpstr(html, ==,
			QUOTE_OPEN "<b>You</b>: &lt;i&gt;a&lt;/i&gt; &amp; "
				   "b" QUOTE_CLOSE "&lt;script&gt; &amp;");
}

static void
test_malformed(Fixture *f, gconstpointer data)
{
	static const char *const odd[] = {
		"<message from='max@example.com/p' id='m1' type='chat'>"
		"<body>x</body><reply xmlns='urn:xmpp:reply:0'/></message>",
		"<message from='max@example.com/p' id='m2' type='chat'>"
		"<body>x</body><reply id='' xmlns='urn:xmpp:reply:0'/>"
		"</message>",
		"<message from='max@example.com/p' id='m3' type='chat'>"
		"<reply id='message-id1' xmlns='urn:xmpp:reply:0'/></message>",
		"<message from='max@example.com/p' id='m4' type='error'>"
		"<body>x</body><reply id='message-id1' "
		"xmlns='urn:xmpp:reply:0'/></message>",
	};

	pxm_test_user_sends(f, cake);
	for (guint i = 0; i < G_N_ELEMENTS(odd); i++) {
		g_autofree char *html = NULL;

		g_assert_cmpint(pxm_test_receive_facts(f, odd[i], &html, NULL),
				==, PXM_VERDICT_CONTINUE);
		g_assert_null(html);
	}
}

static const char *const room_message =
	"<message from='" ROOM_BOB "' type='groupchat' id='r1'>"
	"<body>Hi all</body><stanza-id xmlns='urn:xmpp:sid:0' id='sid-r1' "
	"by='" ROOM "'/></message>";

/* Section 4.1: in a room, the id the room gave the message, never its
 * 'id' attribute. */
static void
test_room(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *by_id = NULL;

	pxm_test_receive_facts(f, room_message, NULL, NULL);
	pxm_test_receive_facts(
		f,
		"<message from='" ROOM "/eve' type='groupchat' id='r2'>"
		"<body>Hello bob</body><reply to='" ROOM_BOB "' id='sid-r1' "
		"xmlns='urn:xmpp:reply:0'/></message>",
		&html, NULL);
	g_assert_cmpstr(html, ==,
			QUOTE_OPEN "<b>bob</b>: Hi all" QUOTE_CLOSE
				   "Hello bob");
	pxm_test_receive_facts(
		f,
		"<message from='" ROOM "/eve' type='groupchat' id='r3'>"
		"<body>Hello bob</body><reply to='" ROOM_BOB "' id='r1' "
		"xmlns='urn:xmpp:reply:0'/></message>",
		&by_id, NULL);
	g_assert_null(by_id);
}

/* The exact stanza /reply sends one to one: the reply naming the last
 * message received (its id: it has no origin-id), with a quote of it as
 * the fallback; what is remembered as sent is the reply itself. */
static void
test_command(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *expected = NULL;
	g_autoptr(xmlnode) sent = NULL;
	const PxmShownMessage *mine;

	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' to='" OWN "' id='m1' "
		"type='chat'><body>We should bake\na cake</body></message>",
		NULL, NULL);
	pxm_test_user_sends(f, "<message to='" MAXJ "' id='p1' type='chat'>"
			       "<body>Unrelated</body></message>");
	g_assert_cmpint(pxm_replies_send(f->account, NULL, MAXJ,
					 "max@example.com/phone", FALSE,
					 "Great idea!", &error),
			==, PURPLE_CMD_RET_OK);
	g_assert_null(error);
	sent = xmlnode_from_str(pxm_test_last_sent(f), -1);
	expected = g_strdup_printf(
		"<message type='chat' to='max@example.com/phone' id='%s'>"
		"<body xmlns='jabber:client'>&gt; We should bake\n&gt; a "
		"cake\nGreat idea!</body><reply xmlns='urn:xmpp:reply:0' "
		"to='max@example.com' id='m1'/><origin-id "
		"xmlns='urn:xmpp:sid:0' id='%s'/><fallback "
		"xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body "
		"start='0' end='26'/></fallback></message>",
		xmlnode_get_attrib(sent, "id"),
		xmlnode_get_attrib(xmlnode_get_child(sent, "origin-id"), "id"));
	g_assert_cmpstr(pxm_test_last_sent(f), ==, expected);
	mine = pxm_presenter_last(f->account, MAXJ, PXM_LAST_SENT);
	g_assert_cmpstr(mine->excerpt, ==, "Great idea!");
}

static void
test_command_room(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *no_id = NULL;
	g_autoptr(xmlnode) sent = NULL;
	xmlnode *reply;
	guint before;

	pxm_test_receive_facts(f, room_message, NULL, NULL);
	g_assert_cmpint(pxm_replies_send(f->account, NULL, ROOM, ROOM, TRUE,
					 "Hi bob", &error),
			==, PURPLE_CMD_RET_OK);
	sent = xmlnode_from_str(pxm_test_last_sent(f), -1);
	reply = xmlnode_get_child(sent, "reply");
	g_assert_cmpstr(xmlnode_get_attrib(sent, "type"), ==, "groupchat");
	g_assert_cmpstr(xmlnode_get_attrib(reply, "to"), ==, ROOM_BOB);
	g_assert_cmpstr(xmlnode_get_attrib(reply, "id"), ==, "sid-r1");

	pxm_test_receive_facts(f,
			       "<message from='" ROOM_BOB
			       "' type='groupchat' id='r9'>"
			       "<body>No id</body></message>",
			       NULL, NULL);
	before = f->sent->len;
	g_assert_cmpint(pxm_replies_send(f->account, NULL, ROOM, ROOM, TRUE,
					 "Hi", &no_id),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(no_id);
	g_assert_cmpuint(f->sent->len, ==, before);
}

static void
test_command_errors(Fixture *f, gconstpointer data)
{
	g_autofree char *nothing = NULL;
	g_autofree char *empty = NULL;

	pxm_test_user_sends(f, cake);
	g_assert_cmpint(pxm_replies_send(f->account, NULL, MAXJ, MAXJ, FALSE,
					 "Hi", &nothing),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(nothing);
	g_assert_cmpint(pxm_replies_send(f->account, NULL, MAXJ, MAXJ, FALSE,
					 NULL, &empty),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(empty);
}

/* Sends @body as the user typed it; returns the stanza on the wire. */
static xmlnode *
type_message(Fixture *f, const char *to, const char *type, const char *body)
{
	xmlnode *node = xmlnode_new("message");
	xmlnode *b;

	xmlnode_set_attrib(node, "type", type);
	xmlnode_set_attrib(node, "to", to);
	xmlnode_set_attrib(node, "id", "typed");
	b = xmlnode_new_child(node, "body");
	xmlnode_insert_data(b, body, -1);
	pxm_account_send(f->account, node);
	return xmlnode_from_str(pxm_test_last_sent(f), -1);
}

/* A message starting with "> " lines quoting the last message becomes a
 * reply to it, the quote being its fallback. */
static void
test_quoting(Fixture *f, gconstpointer data)
{
	static const char *const quoting[] = {
		"> We should\nYes!",
		">We should bake\nYes!",
		"> We should bake…\nYes!",
		"> We should  bake\n> a\nYes!",
	};
	static const char *const not_quoting[] = {
		"> We shall\nYes!",    /* not its start */
		"> We should\n",       /* nothing but a quote */
		"> We should",         /* idem */
		"Yes!\n> We should\n", /* not at the start */
		">> We should\nYes",   /* a quote of a quote */
		">\nYes",              /* empty */
		"> cake\nYes",         /* not its start */
	};

	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' to='" OWN "' id='m1' "
		"type='chat'><body>We should bake a cake</body><origin-id "
		"xmlns='urn:xmpp:sid:0' id='o1'/></message>",
		NULL, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(quoting); i++) {
		g_autoptr(xmlnode) sent = type_message(f, MAXJ, "chat",
						       quoting[i]);
		xmlnode *reply = xmlnode_get_child(sent, "reply");
		xmlnode *fallback = xmlnode_get_child(sent, "fallback");
		g_autofree char *end = g_strdup_printf(
			"%ld",
			g_utf8_strlen(quoting[i], strrchr(quoting[i], '\n') -
							  quoting[i] + 1));

		g_assert_nonnull(reply);
		g_assert_cmpstr(xmlnode_get_attrib(reply, "id"), ==, "o1");
		g_assert_cmpstr(xmlnode_get_attrib(reply, "to"), ==, MAXJ);
		g_assert_cmpstr(xmlnode_get_attrib(fallback, "for"), ==,
				"urn:xmpp:reply:0");
		g_assert_cmpstr(
			xmlnode_get_attrib(xmlnode_get_child(fallback, "body"),
					   "end"),
			==, end);
	}
	for (guint i = 0; i < G_N_ELEMENTS(not_quoting); i++) {
		g_autoptr(xmlnode) sent = type_message(f, MAXJ, "chat",
						       not_quoting[i]);

		g_assert_null(xmlnode_get_child(sent, "reply"));
		g_assert_null(xmlnode_get_child(sent, "fallback"));
	}
}

/* Only the last message received is looked at: quoting one's own is not a
 * reply. */
static void
test_quoting_own(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) sent = NULL;

	pxm_test_user_sends(f, cake);
	sent = type_message(f, MAXJ, "chat", "> We should bake\nI said");
	g_assert_null(xmlnode_get_child(sent, "reply"));
}

static void
test_quoting_room(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) sent = NULL;
	g_autoptr(xmlnode) no_id = NULL;
	xmlnode *reply;

	pxm_test_receive_facts(f, room_message, NULL, NULL);
	sent = type_message(f, ROOM, "groupchat", "> Hi all\nHello bob");
	reply = xmlnode_get_child(sent, "reply");
	g_assert_cmpstr(xmlnode_get_attrib(reply, "to"), ==, ROOM_BOB);
	g_assert_cmpstr(xmlnode_get_attrib(reply, "id"), ==, "sid-r1");
	/* Section 4.1: no room id, no reply. */
	pxm_test_receive_facts(f,
			       "<message from='" ROOM_BOB
			       "' type='groupchat' id='r9'>"
			       "<body>No id</body></message>",
			       NULL, NULL);
	no_id = type_message(f, ROOM, "groupchat", "> No id\nHm");
	g_assert_null(xmlnode_get_child(no_id, "reply"));
}

/* LIBPURPLE-NOTES pitfall 3: the prpl re-sends unacknowledged stanzas. */
static void
test_idempotent(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) node = NULL;
	g_autofree char *once = NULL;
	g_autofree char *twice = NULL;

	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' id='m1' type='chat'>"
		"<body>We should bake a cake</body></message>",
		NULL, NULL);
	node = xmlnode_from_str("<message type='chat' to='" MAXJ "' id='x'>"
				"<body>&gt; We should\nYes</body></message>",
				-1);
	for (guint i = 0; i < 2; i++) {
		PxmStanza st;

		pxm_stanza_init(&st, node, TRUE);
		pxm_pipeline_outgoing(f->account, &st);
		pxm_stanza_clear(&st);
		if (i == 0)
			once = xmlnode_to_str(node, NULL);
	}
	twice = xmlnode_to_str(node, NULL);
	g_assert_cmpstr(once, ==, twice);
	g_assert_nonnull(strstr(once, "<reply"));
}

/* A corrected reply (XEP-0308 with XEP-0461): the correction's mark, then
 * the quote, then the new text.  (Without a conversation the first reply
 * is not shown, so the correction names an unknown message here.) */
static void
test_corrected_reply(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	pxm_test_user_sends(f, cake);
	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' id='c1' type='chat'>"
		"<body>Grate idea</body><reply id='message-id1' "
		"xmlns='urn:xmpp:reply:0'/></message>",
		NULL, NULL);
	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' id='c2' type='chat'>"
		"<body>&gt; We should bake a cake\nGreat idea</body><reply "
		"id='message-id1' xmlns='urn:xmpp:reply:0'/><fallback "
		"xmlns='urn:xmpp:fallback:0' for='urn:xmpp:reply:0'><body "
		"start='0' end='24'/></fallback><replace id='c1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		&html, NULL);
	g_assert_cmpstr(html, ==,
			"✎ <i>corrected:</i><br>" QUOTE_OPEN
			"<b>You</b>: We should bake a cake" QUOTE_CLOSE
			"Great idea");
}

/* Off: left to the prpl, and what the user types is sent as it is. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autoptr(xmlnode) sent = NULL;

	pxm_test_user_sends(f, cake);
	g_assert_cmpint(pxm_test_receive_facts(f, with_fallback, &html, NULL),
			==, PXM_VERDICT_CONTINUE);
	g_assert_null(html);
	pxm_test_receive_facts(
		f,
		"<message from='max@example.com/phone' id='m1' type='chat'>"
		"<body>We should bake a cake</body></message>",
		NULL, NULL);
	sent = type_message(f, MAXJ, "chat", "> We should\nYes");
	g_assert_null(xmlnode_get_child(sent, "reply"));
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0461-replies/" path, Fixture, GINT_TO_POINTER(on),     \
		   setup, func, pxm_test_account_teardown)
	ADD("handle/xep-example", test_xep_example, REPLIES);
	ADD("handle/fallback", test_fallback, REPLIES);
	ADD("handle/unknown", test_unknown, REPLIES);
	ADD("handle/code-points", test_code_points, REPLIES);
	ADD("handle/hostile-ranges", test_hostile_ranges, REPLIES);
	ADD("handle/ranges", test_ranges, REPLIES);
	ADD("handle/escaped", test_escaped, REPLIES);
	ADD("handle/malformed", test_malformed, REPLIES);
	ADD("handle/room", test_room, REPLIES);
	ADD("handle/corrected-reply", test_corrected_reply,
	    REPLIES | CORRECTION);
	ADD("command/sends", test_command, REPLIES);
	ADD("command/room", test_command_room, REPLIES);
	ADD("command/errors", test_command_errors, REPLIES);
	ADD("annotate/quoting", test_quoting, REPLIES);
	ADD("annotate/quoting-own", test_quoting_own, REPLIES);
	ADD("annotate/quoting-room", test_quoting_room, REPLIES);
	ADD("annotate/idempotent", test_idempotent, REPLIES);
	ADD("disabled", test_disabled, 0);
	return g_test_run();
}

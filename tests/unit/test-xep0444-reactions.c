// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0444 through the host's real pipeline: reactions are consumed (their
 * notice is what is shown), malformed ones dropped, /react sends what
 * section 3 says with the id section 4.2 asks for, and what counts as one
 * emoji. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0444-reactions/xep0444-reactions.h"

#define OWN "romeo@capulet.net/orchard"
#define JULIET "juliet@capulet.net"
#define ROOM "verona@chat.capulet.net"
#define ROOM_BOB ROOM "/bob"

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, TRUE);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, "xep0444-reactions");
}

static gpointer
state(Fixture *f)
{
	return pxm_test_account_state(f, "xep0444-reactions");
}

/* Section 3.1: Romeo's message and Juliet's reaction to it. */
static void
test_xep_example(Fixture *f, gconstpointer data)
{
	pxm_test_user_sends(
		f, "<message to='juliet@capulet.net/balcony' "
		   "id='744f6e18-a57a-11e9-a656-4889e7820c76' type='chat'>"
		   "<body>Hello, world!</body></message>");
	g_assert_cmpint(pxm_test_receive(
				f, "<message from='juliet@capulet.net/balcony' "
				   "to='" OWN "' "
				   "id='7fdd29fa-a57a-11e9-b04a-4889e7820c76' "
				   "type='chat'><reactions "
				   "id='744f6e18-a57a-11e9-a656-4889e7820c76' "
				   "xmlns='urn:xmpp:reactions:0'><reaction>👋"
				   "</reaction></reactions><store "
				   "xmlns='urn:xmpp:hints'/></message>"),
			==, PXM_VERDICT_CONSUMED);
	/* Section 3.2: updated, then removed. */
	g_assert_cmpint(
		pxm_test_receive(f,
				 "<message from='juliet@capulet.net/balcony' "
				 "id='96d73204' type='chat'><reactions "
				 "id='744f6e18-a57a-11e9-a656-4889e7820c76' "
				 "xmlns='urn:xmpp:reactions:0'><reaction>👋"
				 "</reaction><reaction>🐢</reaction></reactions>"
				 "</message>"),
		==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(pxm_test_receive(
				f, "<message from='juliet@capulet.net/balcony' "
				   "id='973c9d2e' type='chat'><reactions "
				   "id='744f6e18-a57a-11e9-a656-4889e7820c76' "
				   "xmlns='urn:xmpp:reactions:0'/></message>"),
			==, PXM_VERDICT_CONSUMED);
}

/* A body marked as a fallback for reactions is not shown; a real one is. */
static void
test_bodies(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(
		pxm_test_receive(f,
				 "<message from='juliet@capulet.net/b' id='b1' "
				 "type='chat'><reactions id='x' "
				 "xmlns='urn:xmpp:reactions:0'><reaction>👍"
				 "</reaction></reactions><fallback "
				 "xmlns='urn:xmpp:fallback:0' "
				 "for='urn:xmpp:reactions:0'/><body>👍</body>"
				 "</message>"),
		==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(pxm_test_receive(
				f,
				"<message from='juliet@capulet.net/b' id='b2' "
				"type='chat'><reactions id='x' "
				"xmlns='urn:xmpp:reactions:0'><reaction>❤️"
				"</reaction></reactions><body>And a word</body>"
				"</message>"),
			==, PXM_VERDICT_CONTINUE);
}

static void
test_malformed(Fixture *f, gconstpointer data)
{
	/* Business rules: one <reactions/> per message. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='juliet@capulet.net/b' "
				    "id='m1' type='chat'><reactions id='x' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👍"
				    "</reaction></reactions><reactions id='y' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👎"
				    "</reaction></reactions></message>"),
		==, PXM_VERDICT_DROP);
	/* The schema: 'id' is required. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='juliet@capulet.net/b' "
				    "id='m2' type='chat'><reactions "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👍"
				    "</reaction></reactions></message>"),
		==, PXM_VERDICT_DROP);
	/* Nothing but text that is no emoji. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='juliet@capulet.net/b' "
				    "id='m3' type='chat'><reactions id='x' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>"
				    "&lt;script&gt;</reaction><reaction>lol"
				    "</reaction></reactions></message>"),
		==, PXM_VERDICT_DROP);
	/* Some good, some not: the good ones count. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='juliet@capulet.net/b' "
				    "id='m4' type='chat'><reactions id='x' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👍"
				    "</reaction><reaction>👍</reaction>"
				    "<reaction>lol</reaction><reaction/>"
				    "</reactions></message>"),
		==, PXM_VERDICT_CONSUMED);
	/* Errors (a refusal, section 3.3) are left to the prpl. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='juliet@capulet.net/b' "
				    "id='m5' type='error'><reactions id='x' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👍"
				    "</reaction></reactions><error "
				    "type='modify'><not-acceptable "
				    "xmlns='urn:ietf:params:xml:ns:xmpp-"
				    "stanzas'/></error></message>"),
		==, PXM_VERDICT_CONTINUE);
}

/* Business rules (one to one): the message must be the conversation's,
 * and the sender one of its two parties; a reaction naming another
 * conversation's message is only "to an earlier message". */
static void
test_reaction_elsewhere(Fixture *f, gconstpointer data)
{
	pxm_test_receive(
		f, "<message from='juliet@capulet.net/b' id='j1' type='chat'>"
		   "<body>Juliet's</body></message>");
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='tybalt@capulet.net/x' "
				    "id='t1' type='chat'><reactions id='j1' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👎"
				    "</reaction></reactions></message>"),
		==, PXM_VERDICT_CONSUMED);
}

/* The exact stanza /react sends one to one (sections 3.1, 4.2): the
 * origin-id of the last message received, else its id. */
static void
test_command(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *expected = NULL;
	g_autofree char *by_id = NULL;
	g_autoptr(xmlnode) sent = NULL;
	g_autoptr(xmlnode) sent2 = NULL;

	pxm_test_receive(
		f, "<message from='juliet@capulet.net/b' id='j1' type='chat'>"
		   "<body>Hello</body><origin-id xmlns='urn:xmpp:sid:0' "
		   "id='origin-j1'/></message>");
	pxm_test_user_sends(f, "<message type='chat' to='" JULIET "' id='mine'>"
			       "<body>Not this one</body></message>");
	g_assert_cmpint(pxm_reactions_send(f->account, state(f), JULIET,
					   "juliet@capulet.net/b", FALSE,
					   " 👍  ❤️ 👍 ", &error),
			==, PURPLE_CMD_RET_OK);
	g_assert_null(error);
	sent = xmlnode_from_str(pxm_test_last_sent(f), -1);
	expected = g_strdup_printf(
		"<message type='chat' to='juliet@capulet.net/b' id='%s'>"
		"<reactions xmlns='urn:xmpp:reactions:0' id='origin-j1'>"
		"<reaction>👍</reaction><reaction>❤️</reaction></"
		"reactions>"
		"<store xmlns='urn:xmpp:hints'/><origin-id "
		"xmlns='urn:xmpp:sid:0' id='%s'/></message>",
		xmlnode_get_attrib(sent, "id"),
		xmlnode_get_attrib(xmlnode_get_child(sent, "origin-id"), "id"));
	g_assert_cmpstr(pxm_test_last_sent(f), ==, expected);

	/* None: removes them (section 3.2).  Without an origin-id, the
	 * message's id. */
	pxm_test_receive(
		f, "<message from='juliet@capulet.net/b' id='j2' type='chat'>"
		   "<body>Again</body></message>");
	g_assert_cmpint(pxm_reactions_send(f->account, state(f), JULIET, JULIET,
					   FALSE, NULL, &by_id),
			==, PURPLE_CMD_RET_OK);
	sent2 = xmlnode_from_str(pxm_test_last_sent(f), -1);
	g_assert_cmpstr(
		xmlnode_get_attrib(xmlnode_get_child(sent2, "reactions"), "id"),
		==, "j2");
	g_assert_null(xmlnode_get_child(xmlnode_get_child(sent2, "reactions"),
					"reaction"));
}

/* Section 4.2: in a room, the id the room gave the message; without one
 * there is nothing to react to. */
static void
test_command_room(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *no_id = NULL;
	g_autoptr(xmlnode) sent = NULL;
	guint before;

	pxm_test_receive(
		f, "<message from='" ROOM_BOB "' type='groupchat' id='r1'>"
		   "<body>Hi all</body><stanza-id xmlns='urn:xmpp:sid:0' "
		   "id='sid-r1' by='" ROOM "'/></message>");
	g_assert_cmpint(pxm_reactions_send(f->account, state(f), ROOM, ROOM,
					   TRUE, "🎉", &error),
			==, PURPLE_CMD_RET_OK);
	sent = xmlnode_from_str(pxm_test_last_sent(f), -1);
	g_assert_cmpstr(xmlnode_get_attrib(sent, "type"), ==, "groupchat");
	g_assert_cmpstr(xmlnode_get_attrib(sent, "to"), ==, ROOM);
	g_assert_cmpstr(
		xmlnode_get_attrib(xmlnode_get_child(sent, "reactions"), "id"),
		==, "sid-r1");

	pxm_test_receive(f, "<message from='" ROOM_BOB
			    "' type='groupchat' id='r2'>"
			    "<body>No id</body></message>");
	before = f->sent->len;
	g_assert_cmpint(pxm_reactions_send(f->account, state(f), ROOM, ROOM,
					   TRUE, "🎉", &no_id),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(no_id);
	g_assert_cmpuint(f->sent->len, ==, before);
}

static void
test_command_errors(Fixture *f, gconstpointer data)
{
	g_autofree char *nothing = NULL;
	g_autofree char *not_emoji = NULL;

	g_assert_cmpint(pxm_reactions_send(f->account, state(f), JULIET, JULIET,
					   FALSE, "👍", &nothing),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(nothing);
	pxm_test_receive(
		f, "<message from='juliet@capulet.net/b' id='j1' type='chat'>"
		   "<body>Hello</body></message>");
	g_assert_cmpint(pxm_reactions_send(f->account, state(f), JULIET, JULIET,
					   FALSE, "👍 <b>", &not_emoji),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_cmpstr(not_emoji, ==, "“&lt;b&gt;” is not an emoji.");
}

static void
test_is_emoji(Fixture *f, gconstpointer data)
{
	static const char *const good[] = {
		"👋",
		"🐢",
		"👍🏽",
		"❤️",
		"1️⃣",
		"#️⃣",
		"🏳️‍🌈",
		"🇫🇷",
		"👩‍👩‍👧‍👦",
		"©",
		"🏴󠁧󠁢󠁳󠁣󠁴󠁿",
	};
	static const char *const bad[] = {
		"",    "a",        "lol",     "+1",  "!!",
		"👍 👍", "👍\n",      "\u202e👍", "A👍",  "é",
		"日",  "\xcc\x81", "<b>",     "👍\t", "👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍👍",
	};

	for (guint i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(pxm_reactions_is_emoji(good[i]));
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++)
		g_assert_false(pxm_reactions_is_emoji(bad[i]));
	g_assert_false(pxm_reactions_is_emoji(NULL));
	g_assert_false(pxm_reactions_is_emoji("\xff\xfe"));
}

static void
test_notice(Fixture *f, gconstpointer data)
{
	static const char *const two[] = { "👍", "🐢", NULL };
	static const char *const none[] = { NULL };
	static const struct {
		const char *who;
		const char *const *reactions;
		const char *excerpt, *expected;
	} cases[] = {
		{ "Juliet", two, "Hello, world!",
		  "Juliet reacted 👍 🐢 to “Hello, world!”." },
		{ "Juliet", two, NULL,
		  "Juliet reacted 👍 🐢 to an earlier message." },
		{ NULL, two, "Hello", "You reacted 👍 🐢 to “Hello”." },
		{ NULL, two, NULL, "You reacted 👍 🐢 to an earlier message." },
		{ "<i>x</i>", none, "a & <b>",
		  "&lt;i&gt;x&lt;/i&gt; removed their reactions to “a &amp; "
		  "&lt;b&gt;”." },
		{ "bob", NULL, NULL,
		  "bob removed their reactions to an earlier message." },
		{ NULL, none, "Hi", "You removed your reactions to “Hi”." },
		{ NULL, NULL, NULL,
		  "You removed your reactions to an earlier message." },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *html = pxm_reactions_notice_dup(
			cases[i].who, cases[i].reactions, cases[i].excerpt);

		g_assert_cmpstr(html, ==, cases[i].expected);
	}
}

/* Off: nothing is consumed. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='juliet@capulet.net/b' "
				    "id='m1' type='chat'><reactions id='x' "
				    "xmlns='urn:xmpp:reactions:0'><reaction>👍"
				    "</reaction></reactions></message>"),
		==, PXM_VERDICT_CONTINUE);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0444-reactions/" path, Fixture, GINT_TO_POINTER(on),   \
		   setup, func, pxm_test_account_teardown)
	ADD("handle/xep-example", test_xep_example, TRUE);
	ADD("handle/bodies", test_bodies, TRUE);
	ADD("handle/malformed", test_malformed, TRUE);
	ADD("handle/elsewhere", test_reaction_elsewhere, TRUE);
	ADD("command/sends", test_command, TRUE);
	ADD("command/room", test_command_room, TRUE);
	ADD("command/errors", test_command_errors, TRUE);
	ADD("is-emoji", test_is_emoji, TRUE);
	ADD("notice", test_notice, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

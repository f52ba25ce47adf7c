// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0308 through the host's real pipeline: corrections from the sender of
 * the corrected message are marked as such, forged ones (another sender, a
 * nick that changed hands) are not applied, and /correct sends what section
 * 3 says, naming the first version of a message corrected twice. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0308-correction/xep0308-correction.h"

#define OWN "juliet@capulet.net/balcony"
#define ROMEO "romeo@montague.net"
#define ROOM "verona@chat.capulet.net"

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, TRUE);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, "xep0308-correction");
}

static PxmVerdict
receive(Fixture *f, const char *xml, char **html)
{
	return pxm_test_receive_facts(f, xml, html, NULL);
}

/* A copy of a message of ours sent from another device (what the carbons
 * extension makes of a sent carbon). */
static char *
receive_own_copy(Fixture *f, const char *xml)
{
	xmlnode *node = xmlnode_from_str(xml, -1);
	PxmStanza st;
	char *html;

	pxm_stanza_init(&st, node, FALSE);
	st.origin = PXM_ORIGIN_CARBON;
	st.sent_by_me = TRUE;
	pxm_pipeline_incoming(f->account, &st);
	html = g_strdup(st.html);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
	return html;
}

static void
presence(Fixture *f, const char *from, const char *type, const char *status)
{
	g_autofree char *xml = g_strdup_printf(
		"<presence from='%s'%s%s%s><x "
		"xmlns='http://jabber.org/protocol/muc#user'><item "
		"affiliation='none' role='participant'/>%s%s%s</x></presence>",
		from, type ? " type='" : "", type ? type : "", type ? "'" : "",
		status ? "<status code='" : "", status ? status : "",
		status ? "'/>" : "");

	g_assert_cmpint(receive(f, xml, NULL), ==, PXM_VERDICT_CONTINUE);
}

static const char *const bad1 =
	"<message from='romeo@montague.net/orchard' to='" OWN "' id='bad1'>"
	"<body>But soft, what light through yonder airlock breaks?</body>"
	"</message>";
static const char *const good1 =
	"<message from='romeo@montague.net/orchard' to='" OWN "' id='good1'>"
	"<body>But soft, what light through yonder window breaks?</body>"
	"<replace id='bad1' xmlns='urn:xmpp:message-correct:0'/></message>";

/* Section 3, examples 3 and 4. */
static void
test_xep_example(Fixture *f, gconstpointer data)
{
	g_autofree char *first = NULL;
	g_autofree char *html = NULL;

	g_assert_cmpint(receive(f, bad1, &first), ==, PXM_VERDICT_CONTINUE);
	g_assert_null(first); /* an ordinary message: the prpl shows it */
	/* Shown by the presenter instead of the prpl. */
	g_assert_cmpint(receive(f, good1, &html), ==, PXM_VERDICT_CONSUMED);
	g_assert_cmpstr(html, ==,
			"✎ <i>correction of “But soft, what light through "
			"yonder…”:</i> But soft, what light through yonder "
			"window breaks?");
}

/* Section 5: bare JIDs must match one to one, not resources. */
static void
test_other_resource(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	receive(f, bad1, NULL);
	receive(f,
		"<message from='romeo@montague.net/garden' id='good2' "
		"type='chat'><body>window</body><replace id='bad1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		&html);
	g_assert_cmpstr(html, ==,
			"✎ <i>correction of “But soft, what light through "
			"yonder…”:</i> window");
}

/* Section 5: a correction MUST come from the sender of the original.  A
 * contact "correcting" our message is shown as the ordinary message it
 * is, never as a correction. */
static void
test_forged_sender(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *html2 = NULL;

	pxm_test_user_sends(
		f, "<message type='chat' to='romeo@montague.net/orchard' "
		   "id='mine1'><body>I love thee</body></message>");
	g_assert_cmpint(
		receive(f,
			"<message from='romeo@montague.net/orchard' id='f1' "
			"type='chat'><body>I hate thee</body><replace "
			"id='mine1' xmlns='urn:xmpp:message-correct:0'/>"
			"</message>",
			&html),
		==, PXM_VERDICT_CONTINUE);
	g_assert_null(html);
	/* Nor can a third party reach into another conversation: there it
	 * names no known message. */
	receive(f, bad1, NULL);
	receive(f,
		"<message from='tybalt@capulet.net/x' id='f2' type='chat'>"
		"<body>forged</body><replace id='bad1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		&html2);
	g_assert_cmpstr(html2, ==, "✎ <i>corrected:</i> forged");
}

static void
test_unknown_original(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	receive(f,
		"<message from='romeo@montague.net/orchard' id='c' "
		"type='chat'><body>fixed</body><replace id='older' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		&html);
	g_assert_cmpstr(html, ==, "✎ <i>corrected:</i> fixed");
}

/* Section 5: later corrections name the first id; each shows the first
 * version. */
static void
test_corrected_twice(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	receive(f, bad1, NULL);
	receive(f, good1, NULL);
	receive(f,
		"<message from='romeo@montague.net/orchard' id='good2'>"
		"<body>Again</body><replace id='bad1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		&html);
	g_assert_cmpstr(html, ==,
			"✎ <i>correction of “But soft, what light through "
			"yonder…”:</i> Again");
}

/* Everything from the network is escaped, direction controls left out of
 * the quoted words. */
static void
test_escaped(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	pxm_test_user_sends(f,
			    "<message type='chat' to='" ROMEO "' id='e1'>"
			    "<body>&lt;b&gt;x&lt;/b&gt; &amp;\u202e evil</body>"
			    "</message>");
	html = receive_own_copy(
		f, "<message from='juliet@capulet.net/phone' to='" ROMEO "' "
		   "type='chat' id='e2'><body>&lt;script&gt;alert(\"1\")"
		   "&lt;/script&gt; &amp; 'q'</body><replace id='e1' "
		   "xmlns='urn:xmpp:message-correct:0'/></message>");
	g_assert_cmpstr(html, ==,
			"✎ <i>correction of “&lt;b&gt;x&lt;/b&gt; &amp; "
			"evil”:</i> &lt;script&gt;alert(&quot;1&quot;)&lt;"
			"/script&gt; &amp; 'q'");
}

/* Hostile or odd input: left to the prpl as an ordinary message. */
static void
test_malformed(Fixture *f, gconstpointer data)
{
	static const char *const odd[] = {
		/* no id */
		"<message from='romeo@montague.net/o' id='m1'><body>x</body>"
		"<replace xmlns='urn:xmpp:message-correct:0'/></message>",
		/* empty id */
		"<message from='romeo@montague.net/o' id='m2'><body>x</body>"
		"<replace id='' xmlns='urn:xmpp:message-correct:0'/>"
		"</message>",
		/* wrong namespace */
		"<message from='romeo@montague.net/o' id='m3'><body>x</body>"
		"<replace id='bad1' xmlns='urn:xmpp:message-correct:1'/>"
		"</message>",
		/* no body: nothing to show */
		"<message from='romeo@montague.net/o' id='m4'><replace "
		"id='bad1' xmlns='urn:xmpp:message-correct:0'/></message>",
		/* errors and headlines are not messages people write */
		"<message from='romeo@montague.net/o' id='m5' type='error'>"
		"<body>x</body><replace id='bad1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		"<message from='romeo@montague.net/o' id='m6' "
		"type='headline'><body>x</body><replace id='bad1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		/* no sender */
		"<message id='m7'><body>x</body><replace id='bad1' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
	};

	receive(f, bad1, NULL);
	for (guint i = 0; i < G_N_ELEMENTS(odd); i++) {
		g_autofree char *html = NULL;

		g_assert_cmpint(receive(f, odd[i], &html), ==,
				PXM_VERDICT_CONTINUE);
		g_assert_null(html);
	}
}

#define ROOM_BOB ROOM "/bob"

static const char *const room_message =
	"<message from='" ROOM_BOB "' type='groupchat' id='r1'>"
	"<body>Where art thou</body><stanza-id xmlns='urn:xmpp:sid:0' "
	"id='sid-r1' by='" ROOM "'/></message>";

static char *
room_correction(Fixture *f, const char *from, const char *id)
{
	g_autofree char *xml = g_strdup_printf(
		"<message from='%s' type='groupchat' id='%s-fix'>"
		"<body>Wherefore art thou</body><replace id='%s' "
		"xmlns='urn:xmpp:message-correct:0'/></message>",
		from, id, id);
	char *html = NULL;

	receive(f, xml, &html);
	return html;
}

/* Section 5: in a room, the full JID must match. */
static void
test_room(Fixture *f, gconstpointer data)
{
	g_autofree char *forged = NULL;
	g_autofree char *html = NULL;

	presence(f, ROOM "/eve", NULL, NULL);
	presence(f, ROOM_BOB, NULL, NULL);
	presence(f, ROOM "/juliet", NULL, "110");
	receive(f, room_message, NULL);
	forged = room_correction(f, ROOM "/eve", "r1");
	g_assert_null(forged);
	html = room_correction(f, ROOM_BOB, "r1");
	g_assert_cmpstr(html, ==,
			"✎ <i>correction of “Where art thou”:</i> Wherefore "
			"art thou");
}

/* Section 6: not for a message from before the sender (last) joined: the
 * nick may belong to someone else now. */
static void
test_room_rejoined(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	presence(f, ROOM_BOB, NULL, NULL);
	receive(f, room_message, NULL);
	/* Join times are kept in seconds. */
	g_usleep(1100 * 1000);
	presence(f, ROOM_BOB, "unavailable", NULL);
	presence(f, ROOM_BOB, NULL, NULL);
	html = room_correction(f, ROOM_BOB, "r1");
	g_assert_null(html);
}

static void
test_room_history(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *unknown = NULL;

	presence(f, ROOM_BOB, NULL, NULL);
	/* Room history from before we joined. */
	receive(f,
		"<message from='" ROOM_BOB "' type='groupchat' id='h1'>"
		"<body>Old</body><delay xmlns='urn:xmpp:delay' "
		"stamp='2020-01-01T00:00:00Z' from='" ROOM "'/></message>",
		NULL);
	html = room_correction(f, ROOM_BOB, "h1");
	g_assert_null(html);
	/* A nick we never saw join. */
	receive(f,
		"<message from='" ROOM "/ghost' type='groupchat' id='g1'>"
		"<body>Boo</body></message>",
		NULL);
	unknown = room_correction(f, ROOM "/ghost", "g1");
	g_assert_null(unknown);
}

/* When we leave, what we knew of the room's occupants is forgotten. */
static void
test_room_we_left(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	presence(f, ROOM_BOB, NULL, NULL);
	presence(f, ROOM "/juliet", NULL, "110");
	receive(f, room_message, NULL);
	presence(f, ROOM "/juliet", "unavailable", "110");
	html = room_correction(f, ROOM_BOB, "r1");
	g_assert_null(html);
}

/* Our own correction sent from another device. */
static void
test_own_copy(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;
	g_autofree char *error = NULL;
	g_autoptr(xmlnode) sent = NULL;

	pxm_test_user_sends(
		f, "<message type='chat' to='romeo@montague.net/orchard' "
		   "id='mine1'><body>I love the</body></message>");
	html = receive_own_copy(
		f, "<message from='juliet@capulet.net/phone' "
		   "to='romeo@montague.net' type='chat' id='mine2'>"
		   "<body>I love thee</body><replace id='mine1' "
		   "xmlns='urn:xmpp:message-correct:0'/></message>");
	g_assert_cmpstr(html, ==,
			"✎ <i>correction of “I love the”:</i> I love thee");
	/* Correcting again here names the first version. */
	g_assert_cmpint(pxm_correction_send(f->account, ROMEO, ROMEO, FALSE,
					    "I love thee!", &error),
			==, PURPLE_CMD_RET_OK);
	sent = xmlnode_from_str(f->sent->pdata[f->sent->len - 1], -1);
	g_assert_cmpstr(
		xmlnode_get_attrib(xmlnode_get_child(sent, "replace"), "id"),
		==, "mine1");
}

/* The exact stanza /correct sends: a new id, the body, the replace naming
 * the id of the user's last message (section 3). */
static void
test_command(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *expected = NULL;
	g_autoptr(xmlnode) sent = NULL;
	const char *id, *origin;

	pxm_test_user_sends(
		f, "<message type='chat' to='romeo@montague.net/orchard' "
		   "id='purple1'><body>Helo</body></message>");
	g_assert_cmpint(pxm_correction_send(f->account, ROMEO,
					    "romeo@montague.net/orchard", FALSE,
					    "Hello <&>", &error),
			==, PURPLE_CMD_RET_OK);
	g_assert_null(error);
	g_assert_cmpuint(f->sent->len, >=, 2);
	sent = xmlnode_from_str(f->sent->pdata[f->sent->len - 1], -1);
	id = xmlnode_get_attrib(sent, "id");
	origin = xmlnode_get_attrib(xmlnode_get_child(sent, "origin-id"), "id");
	g_assert_true(g_uuid_string_is_valid(id));
	g_assert_true(g_uuid_string_is_valid(origin));
	expected = g_strdup_printf(
		"<message type='chat' to='romeo@montague.net/orchard' "
		"id='%s'><body xmlns='jabber:client'>Hello &lt;&amp;&gt;</body>"
		"<replace xmlns='urn:xmpp:message-correct:0' id='purple1'/>"
		"<origin-id xmlns='urn:xmpp:sid:0' id='%s'/></message>",
		id, origin);
	g_assert_cmpstr(f->sent->pdata[f->sent->len - 1], ==, expected);
}

/* Section 5: corrected twice, a message is still named by its first id. */
static void
test_command_twice(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *body = NULL;
	g_autoptr(xmlnode) second = NULL;

	pxm_test_user_sends(f,
			    "<message type='chat' to='" ROMEO "' id='purple1'>"
			    "<body>Helo</body></message>");
	g_assert_cmpint(pxm_correction_send(f->account, ROMEO, ROMEO, FALSE,
					    "Hello", &error),
			==, PURPLE_CMD_RET_OK);
	g_assert_cmpint(pxm_correction_send(f->account, ROMEO, ROMEO, FALSE,
					    "Hello!", &error),
			==, PURPLE_CMD_RET_OK);
	second = xmlnode_from_str(f->sent->pdata[f->sent->len - 1], -1);
	g_assert_cmpstr(
		xmlnode_get_attrib(xmlnode_get_child(second, "replace"), "id"),
		==, "purple1");
	body = xmlnode_get_data(xmlnode_get_child(second, "body"));
	g_assert_cmpstr(body, ==, "Hello!");
}

static void
test_command_errors(Fixture *f, gconstpointer data)
{
	g_autofree char *nothing = NULL;
	g_autofree char *empty = NULL;
	guint before = f->sent->len;

	/* Only messages received: none of ours to correct. */
	receive(f, bad1, NULL);
	g_assert_cmpint(pxm_correction_send(f->account, ROMEO, ROMEO, FALSE,
					    "x", &nothing),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(nothing);
	pxm_test_user_sends(f, "<message type='chat' to='" ROMEO "' id='p1'>"
			       "<body>Helo</body></message>");
	g_assert_cmpint(pxm_correction_send(f->account, ROMEO, ROMEO, FALSE,
					    NULL, &empty),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(empty);
	g_assert_cmpuint(f->sent->len, ==, before + 1);
}

/* Off: a correction is an ordinary message. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *html = NULL;

	receive(f, bad1, NULL);
	receive(f, good1, &html);
	g_assert_null(html);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0308-correction/" path, Fixture, GINT_TO_POINTER(on),  \
		   setup, func, pxm_test_account_teardown)
	ADD("handle/xep-example", test_xep_example, TRUE);
	ADD("handle/other-resource", test_other_resource, TRUE);
	ADD("handle/forged-sender", test_forged_sender, TRUE);
	ADD("handle/unknown-original", test_unknown_original, TRUE);
	ADD("handle/corrected-twice", test_corrected_twice, TRUE);
	ADD("handle/escaped", test_escaped, TRUE);
	ADD("handle/malformed", test_malformed, TRUE);
	ADD("handle/room", test_room, TRUE);
	ADD("handle/room-rejoined", test_room_rejoined, TRUE);
	ADD("handle/room-history", test_room_history, TRUE);
	ADD("handle/room-we-left", test_room_we_left, TRUE);
	ADD("handle/own-copy", test_own_copy, TRUE);
	ADD("command/sends", test_command, TRUE);
	ADD("command/twice", test_command_twice, TRUE);
	ADD("command/errors", test_command_errors, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

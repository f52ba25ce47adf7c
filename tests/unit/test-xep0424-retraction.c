// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0424 through the host's real pipeline: a retraction by the sender is
 * consumed (its notice replaces the fallback body), one of someone else's
 * message is dropped, and /retract sends what section 3 says, naming the
 * id section 5.1 asks for. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0424-retraction/xep0424-retraction.h"

#define OWN "lord@capulet.example/chamber"
#define ROMEO "romeo@montague.example"
#define ROOM "verona@chat.capulet.example"
#define ROOM_BOB ROOM "/bob"
#define FALLBACK                                                               \
	"/me retracted a previous message, but it&apos;s unsupported by your " \
	"client."

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, TRUE);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, "xep0424-retraction");
}

static gpointer
state(Fixture *f)
{
	return pxm_test_account_state(f, "xep0424-retraction");
}

static void
presence(Fixture *f, const char *from, const char *type)
{
	g_autofree char *xml = g_strdup_printf(
		"<presence from='%s'%s%s%s><x "
		"xmlns='http://jabber.org/protocol/muc#user'><item "
		"affiliation='none' role='participant'/></x></presence>",
		from, type ? " type='" : "", type ? type : "", type ? "'" : "");

	g_assert_cmpint(pxm_test_receive(f, xml), ==, PXM_VERDICT_CONTINUE);
}

static const char *const wrong =
	"<message type='chat' from='romeo@montague.example/orchard' "
	"to='" OWN "' id='wrong-recipient-1'>"
	"<body>Have not saints lips, and holy palmers too?</body></message>";

static char *
retraction_of(const char *from, const char *type, const char *id)
{
	return g_strdup_printf(
		"<message type='%s' from='%s' id='retract-%s'>"
		"<retract id='%s' xmlns='urn:xmpp:message-retract:1'/>"
		"<fallback xmlns='urn:xmpp:fallback:0' "
		"for='urn:xmpp:message-retract:1'/>"
		"<body>/me retracted a previous message, but it's "
		"unsupported by your client.</body>"
		"<store xmlns='urn:xmpp:hints'/></message>",
		type, from, id, id);
}

/* Section 3: the retraction is consumed (its notice is shown, not its
 * fallback body). */
static void
test_xep_example(Fixture *f, gconstpointer data)
{
	g_autofree char *retraction = retraction_of(
		"romeo@montague.example/orchard", "chat", "wrong-recipient-1");

	g_assert_cmpint(pxm_test_receive(f, wrong), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(f, retraction), ==,
			PXM_VERDICT_CONSUMED);
	/* The same again (a copy from the archive): consumed silently. */
	g_assert_cmpint(pxm_test_receive(f, retraction), ==,
			PXM_VERDICT_CONSUMED);
}

/* Section 5: only the sender of a message retracts it. */
static void
test_forged(Fixture *f, gconstpointer data)
{
	g_autofree char *of_ours = retraction_of(
		"romeo@montague.example/orchard", "chat", "purple1");
	g_autofree char *elsewhere = retraction_of("tybalt@capulet.example/x",
						   "chat", "wrong-recipient-1");

	pxm_test_user_sends(f,
			    "<message type='chat' to='" ROMEO "' id='purple1'>"
			    "<body>Mine</body></message>");
	g_assert_cmpint(pxm_test_receive(f, of_ours), ==, PXM_VERDICT_DROP);
	/* Another contact names a message of another conversation: there
	 * it is unknown, so nothing of it is shown. */
	pxm_test_receive(f, wrong);
	g_assert_cmpint(pxm_test_receive(f, elsewhere), ==,
			PXM_VERDICT_CONSUMED);
}

static void
test_malformed(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(
		pxm_test_receive(f, "<message type='chat' "
				    "from='romeo@montague.example/o' id='x1'>"
				    "<retract "
				    "xmlns='urn:xmpp:message-retract:1'/>"
				    "<body>fallback</body></message>"),
		==, PXM_VERDICT_DROP);
	g_assert_cmpint(
		pxm_test_receive(f, "<message type='chat' "
				    "from='romeo@montague.example/o' id='x2'>"
				    "<retract id='' "
				    "xmlns='urn:xmpp:message-retract:1'/>"
				    "</message>"),
		==, PXM_VERDICT_DROP);
	/* Version 0 (urn:xmpp:message-retract:0 in a XEP-0422 wrapper) is
	 * not this protocol: an ordinary message. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message type='chat' "
				    "from='romeo@montague.example/o' id='x3'>"
				    "<apply-to xmlns='urn:xmpp:fasten:0' "
				    "id='wrong-recipient-1'><retract "
				    "xmlns='urn:xmpp:message-retract:0'/>"
				    "</apply-to><body>fallback</body>"
				    "</message>"),
		==, PXM_VERDICT_CONTINUE);
	/* Errors are not retractions. */
	g_assert_cmpint(
		pxm_test_receive(f, "<message type='error' "
				    "from='romeo@montague.example/o' id='x4'>"
				    "<retract id='a' "
				    "xmlns='urn:xmpp:message-retract:1'/>"
				    "</message>"),
		==, PXM_VERDICT_CONTINUE);
}

static const char *const room_message =
	"<message from='" ROOM_BOB "' type='groupchat' id='r1'>"
	"<body>Where art thou</body><stanza-id xmlns='urn:xmpp:sid:0' "
	"id='sid-r1' by='" ROOM "'/></message>";

/* Section 5: the full JID in a room; section 5.1: the room's id. */
static void
test_room(Fixture *f, gconstpointer data)
{
	g_autofree char *forged = retraction_of(ROOM "/eve", "groupchat",
						"sid-r1");
	g_autofree char *by_id = retraction_of(ROOM "/eve", "groupchat", "r1");
	g_autofree char *real = retraction_of(ROOM_BOB, "groupchat", "sid-r1");

	presence(f, ROOM "/eve", NULL);
	presence(f, ROOM_BOB, NULL);
	pxm_test_receive(f, room_message);
	g_assert_cmpint(pxm_test_receive(f, forged), ==, PXM_VERDICT_DROP);
	/* The 'id' attribute names nothing in a room: not shown as that
	 * message, so no check is needed. */
	g_assert_cmpint(pxm_test_receive(f, by_id), ==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(pxm_test_receive(f, real), ==, PXM_VERDICT_CONSUMED);
}

/* The exact stanza /retract sends, one to one (section 3): the 'id'
 * attribute of the user's last message (section 5.1), the fallback and
 * the store hint. */
static void
test_command(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	g_autofree char *again = NULL;
	g_autofree char *expected = NULL;
	g_autoptr(xmlnode) sent = NULL;
	const PxmShownMessage *last;

	pxm_test_user_sends(
		f, "<message type='chat' to='romeo@montague.example/orchard' "
		   "id='purple1'><body>Oops</body></message>");
	g_assert_cmpint(pxm_retraction_send(f->account, state(f), ROMEO,
					    "romeo@montague.example/orchard",
					    FALSE, &error),
			==, PURPLE_CMD_RET_OK);
	g_assert_null(error);
	sent = xmlnode_from_str(pxm_test_last_sent(f), -1);
	g_assert_true(g_uuid_string_is_valid(xmlnode_get_attrib(sent, "id")));
	expected = g_strdup_printf(
		"<message type='chat' to='romeo@montague.example/orchard' "
		"id='%s'><retract xmlns='urn:xmpp:message-retract:1' "
		"id='purple1'/><store xmlns='urn:xmpp:hints'/>"
		"<origin-id xmlns='urn:xmpp:sid:0' id='%s'/>"
		"<fallback xmlns='urn:xmpp:fallback:0' "
		"for='urn:xmpp:message-retract:1'/>"
		"<body xmlns='jabber:client'>" FALLBACK "</body></message>",
		xmlnode_get_attrib(sent, "id"),
		xmlnode_get_attrib(xmlnode_get_child(sent, "origin-id"), "id"));
	g_assert_cmpstr(pxm_test_last_sent(f), ==, expected);
	/* The retraction is not the user's last message now. */
	last = pxm_presenter_last(f->account, ROMEO, PXM_LAST_SENT);
	g_assert_cmpstr(last->id, ==, "purple1");
	g_assert_cmpint(pxm_retraction_send(f->account, state(f), ROMEO, ROMEO,
					    FALSE, &again),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(again);
}

/* The user sends Romeo message @id, a correction of @replaced unless
 * NULL. */
static void
user_sends(Fixture *f, const char *id, const char *replaced)
{
	g_autofree char *xml = g_strdup_printf(
		"<message type='chat' to='" ROMEO
		"' id='%s'><body>Text %s</body>"
		"%s%s%s</message>",
		id, id,
		replaced ? "<replace xmlns='urn:xmpp:message-correct:0' id='"
			 : "",
		replaced ? replaced : "", replaced ? "'/>" : "");

	pxm_test_user_sends(f, xml);
}

/* /retract with Romeo; returns the id it names (valid until the next
 * call). */
static const char *
retract(Fixture *f)
{
	static char id[64];
	g_autofree char *error = NULL;
	g_autoptr(xmlnode) sent = NULL;

	g_assert_cmpint(pxm_retraction_send(f->account, state(f), ROMEO, ROMEO,
					    FALSE, &error),
			==, PURPLE_CMD_RET_OK);
	sent = xmlnode_from_str(pxm_test_last_sent(f), -1);
	g_strlcpy(id,
		  xmlnode_get_attrib(xmlnode_get_child(sent, "retract"), "id"),
		  sizeof(id));
	return id;
}

/* A corrected message is retracted under its first id (XEP-0308 section
 * 5), the one other clients know it by. */
static void
test_command_corrected(Fixture *f, gconstpointer data)
{
	user_sends(f, "purple1", NULL);
	user_sends(f, "purple2", "purple1");
	user_sends(f, "purple3", "purple1");
	g_assert_cmpstr(retract(f), ==, "purple1");
}

/* Corrected from another device (a carbon) or found in the archive, with
 * the correction extension off here (this fixture never starts it): the
 * first version is still what is retracted. */
static void
test_command_corrected_elsewhere(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) carbon = xmlnode_from_str(
		"<message type='chat' from='lord@capulet.example/phone' "
		"to='" ROMEO "' id='phone2'><body>Oops!</body><replace "
		"id='purple1' xmlns='urn:xmpp:message-correct:0'/></message>",
		-1);
	g_autoptr(xmlnode) archived = xmlnode_from_str(
		"<message type='chat' from='lord@capulet.example/phone' "
		"to='" ROMEO "' id='phone3'><body>Oops!!</body><replace "
		"id='purple2' xmlns='urn:xmpp:message-correct:0'/></message>",
		-1);

	g_assert_false(f->account->active[pxm_test_extension_index(
		"xep0308-correction")]);
	user_sends(f, "purple1", NULL);
	g_assert_true(pxm_account_replay(f->account, carbon, PXM_ORIGIN_CARBON,
					 NULL, 0, PXM_REPLAY_CATCHUP));
	g_assert_cmpstr(retract(f), ==, "purple1");
	user_sends(f, "purple2", NULL);
	g_assert_true(pxm_account_replay(f->account, archived,
					 PXM_ORIGIN_ARCHIVE, "archive-3", 0,
					 PXM_REPLAY_CATCHUP));
	g_assert_cmpstr(retract(f), ==, "purple2");
}

/* One to one, a first version no longer remembered is still named by its
 * id; someone else's message of the same id is never taken for it. */
static void
test_command_first_forgotten(Fixture *f, gconstpointer data)
{
	user_sends(f, "purple1", NULL);
	user_sends(f, "purple2", "purple1");
	/* Romeo's messages push it out; his last one has the same id. */
	for (guint i = 0; i < 99; i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message type='chat' from='" ROMEO "/orchard' "
			"id='%s'><body>%u</body><origin-id "
			"xmlns='urn:xmpp:sid:0' id='o%u'/></message>",
			i == 98 ? "purple1" : "filler", i, i);

		pxm_test_receive(f, xml);
	}
	g_assert_cmpstr(
		pxm_presenter_find(f->account, ROMEO, "purple1")->sender, ==,
		ROMEO);
	g_assert_cmpstr(retract(f), ==, "purple1");
}

static void
test_command_nothing_sent(Fixture *f, gconstpointer data)
{
	g_autofree char *error = NULL;
	guint before;

	pxm_test_receive(f, wrong);
	before = f->sent->len;
	g_assert_cmpint(pxm_retraction_send(f->account, state(f), ROMEO, ROMEO,
					    FALSE, &error),
			==, PURPLE_CMD_RET_FAILED);
	g_assert_nonnull(error);
	g_assert_cmpuint(f->sent->len, ==, before);
}

/* LIBPURPLE-NOTES pitfall 3: the prpl re-sends unacknowledged stanzas
 * through the same hooks. */
static void
test_annotate_idempotent(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) node = xmlnode_from_str(
		"<message type='chat' to='" ROMEO "' id='r'><retract id='x' "
		"xmlns='urn:xmpp:message-retract:1'/></message>",
		-1);
	g_autofree char *once = NULL;
	g_autofree char *twice = NULL;

	for (guint i = 0; i < 2; i++) {
		PxmStanza st;

		pxm_stanza_init(&st, node, TRUE);
		pxm_pipeline_outgoing(f->account, &st);
		g_assert_cmpstr(st.body, ==,
				"/me retracted a previous message, but it's "
				"unsupported by your client.");
		pxm_stanza_clear(&st);
		if (i == 0)
			once = xmlnode_to_str(node, NULL);
	}
	twice = xmlnode_to_str(node, NULL);
	g_assert_cmpstr(once, ==, twice);
}

static void
test_notice(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *who, *excerpt, *expected;
	} cases[] = {
		{ ROMEO, "Have not saints lips, and holy palmers too?",
		  ROMEO " retracted a message (“Have not saints lips, and "
			"holy palmers too?”)." },
		{ "<b>Eve</b>", NULL,
		  "&lt;b&gt;Eve&lt;/b&gt; retracted a "
		  "message." },
		{ NULL, "a\n\n  <i>b</i> & \u202ec",
		  "You retracted a message (“a &lt;i&gt;b&lt;/i&gt; &amp; "
		  "c”)." },
		{ NULL, NULL, "You retracted a message." },
		{ "bob",
		  "one two three four five six seven eight nine ten eleven "
		  "twelve",
		  "bob retracted a message (“one two three four five six "
		  "seven eight nine ten…”)." },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *html = pxm_retraction_notice_dup(
			cases[i].who, cases[i].excerpt);

		g_assert_cmpstr(html, ==, cases[i].expected);
	}
}

/* Off: the prpl shows the fallback body. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *retraction = retraction_of(
		"romeo@montague.example/orchard", "chat", "wrong-recipient-1");

	pxm_test_receive(f, wrong);
	g_assert_cmpint(pxm_test_receive(f, retraction), ==,
			PXM_VERDICT_CONTINUE);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0424-retraction/" path, Fixture, GINT_TO_POINTER(on),  \
		   setup, func, pxm_test_account_teardown)
	ADD("handle/xep-example", test_xep_example, TRUE);
	ADD("handle/forged", test_forged, TRUE);
	ADD("handle/malformed", test_malformed, TRUE);
	ADD("handle/room", test_room, TRUE);
	ADD("command/sends", test_command, TRUE);
	ADD("command/corrected", test_command_corrected, TRUE);
	ADD("command/corrected-elsewhere", test_command_corrected_elsewhere,
	    TRUE);
	ADD("command/first-forgotten", test_command_first_forgotten, TRUE);
	ADD("command/nothing-sent", test_command_nothing_sent, TRUE);
	ADD("annotate/idempotent", test_annotate_idempotent, TRUE);
	ADD("notice", test_notice, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

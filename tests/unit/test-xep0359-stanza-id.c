// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0359 through the host's real pipeline: origin-id on outgoing
 * messages (idempotent under resends), stanza-id trusted only from our
 * server or the room, and the presenter's identity gate fed by both. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define OWN "alice@example.org/pidgin"

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, "xep0359-stanza-id");
}

static char *
send_out(Fixture *f, xmlnode *node)
{
	PxmStanza st;
	char *origin;

	pxm_stanza_init(&st, node, TRUE);
	pxm_pipeline_outgoing(f->account, &st);
	origin = g_strdup(st.origin_id);
	pxm_stanza_clear(&st);
	return origin;
}

/* Incoming: returns the verdict and the trusted stanza-id. */
static PxmVerdict
receive(Fixture *f, const char *xml, char **stanza_id)
{
	xmlnode *node = pxm_test_parse(xml);
	PxmStanza st;
	PxmVerdict verdict;

	pxm_stanza_init(&st, node, FALSE);
	verdict = pxm_pipeline_incoming(f->account, &st);
	if (stanza_id != NULL)
		*stanza_id = g_strdup(st.stanza_id);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
	return verdict;
}

static void
test_origin_id_added(Fixture *f, gconstpointer data)
{
	xmlnode *msg = pxm_test_parse(
		"<message type='chat' to='bob@example.org' "
		"id='purple1'><body>Hi</body></message>");
	g_autofree char *origin = send_out(f, msg);
	g_autofree char *xml = NULL;
	g_autofree char *expected = NULL;

	g_assert_nonnull(origin);
	g_assert_true(g_uuid_string_is_valid(origin));
	g_assert_cmpuint(pxm_test_count_children(msg, "origin-id", PXM_NS_SID),
			 ==, 1);
	/* The exact XML the prpl will send. */
	xml = xmlnode_to_str(msg, NULL);
	expected = g_strdup_printf(
		"<message type='chat' to='bob@example.org' id='purple1'>"
		"<body>Hi</body><origin-id xmlns='urn:xmpp:sid:0' id='%s'/>"
		"</message>",
		origin);
	g_assert_cmpstr(xml, ==, expected);
	xmlnode_free(msg);
}

/* LIBPURPLE-NOTES pitfall 3: the prpl re-sends unacknowledged stanzas
 * through the same hook after a reconnect. */
static void
test_origin_id_idempotent(Fixture *f, gconstpointer data)
{
	xmlnode *msg = pxm_test_parse(
		"<message type='chat' to='bob@example.org'>"
		"<body>Hi</body></message>");
	g_autofree char *first = send_out(f, msg);
	g_autofree char *second = send_out(f, msg);
	g_autofree char *third = send_out(f, msg);

	g_assert_cmpstr(first, ==, second);
	g_assert_cmpstr(first, ==, third);
	g_assert_cmpuint(pxm_test_count_children(msg, "origin-id", PXM_NS_SID),
			 ==, 1);
	xmlnode_free(msg);
}

static void
test_origin_id_kept(Fixture *f, gconstpointer data)
{
	xmlnode *msg = pxm_test_parse(
		"<message type='chat' to='bob@example.org'>"
		"<body>Hi</body><origin-id xmlns='urn:xmpp:sid:0' "
		"id='given'/></message>");
	g_autofree char *origin = send_out(f, msg);

	g_assert_cmpstr(origin, ==, "given");
	g_assert_cmpuint(pxm_test_count_children(msg, "origin-id", PXM_NS_SID),
			 ==, 1);
	xmlnode_free(msg);
}

static void
test_origin_id_not_on_errors(Fixture *f, gconstpointer data)
{
	xmlnode *msg =
		pxm_test_parse("<message type='error' to='bob@example.org'/>");
	g_autofree char *origin = send_out(f, msg);

	g_assert_null(origin);
	g_assert_cmpuint(pxm_test_count_children(msg, "origin-id", PXM_NS_SID),
			 ==, 0);
	xmlnode_free(msg);
}

static void
test_stanza_id_own_server(Fixture *f, gconstpointer data)
{
	g_autofree char *sid = NULL;

	g_assert_cmpint(
		receive(f,
			"<message type='chat' from='bob@example.org/phone' "
			"to='" OWN "' id='m1'><body>Hi</body><stanza-id "
			"xmlns='urn:xmpp:sid:0' id='arch-1' "
			"by='Alice@Example.org'/></message>",
			&sid),
		==, PXM_VERDICT_CONTINUE);
	g_assert_cmpstr(sid, ==, "arch-1");
}

/* Section 8: a stanza-id is only trustworthy from the entity in 'by'; a
 * sender can put any 'by' in. */
static void
test_stanza_id_forged_by(Fixture *f, gconstpointer data)
{
	static const char *const forged[] = {
		"by='bob@example.org'",
		"by='example.org'",
		"by='alice@example.org/pidgin'",
		"by='alice@example.org.evil.com'",
		"",
	};

	for (guint i = 0; i < G_N_ELEMENTS(forged); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message type='chat' from='bob@example.org/phone' "
			"id='f%u'><body>Hi</body><stanza-id "
			"xmlns='urn:xmpp:sid:0' id='forged-%u' %s/></message>",
			i, i, forged[i]);
		g_autofree char *sid = NULL;

		receive(f, xml, &sid);
		g_assert_null(sid);
	}
}

static void
test_stanza_id_two_claims(Fixture *f, gconstpointer data)
{
	g_autofree char *sid = NULL;

	receive(f,
		"<message type='chat' from='bob@example.org/phone' id='t'>"
		"<body>Hi</body>"
		"<stanza-id xmlns='urn:xmpp:sid:0' id='a' "
		"by='alice@example.org'/>"
		"<stanza-id xmlns='urn:xmpp:sid:0' id='b' "
		"by='alice@example.org'/></message>",
		&sid);
	g_assert_null(sid);
}

static void
test_stanza_id_malformed(Fixture *f, gconstpointer data)
{
	g_autofree char *a = NULL;
	g_autofree char *b = NULL;
	g_autofree char *c = NULL;

	receive(f,
		"<message type='chat' from='bob@example.org/phone' id='x1'>"
		"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
		"by='alice@example.org'/></message>",
		&a);
	receive(f,
		"<message type='chat' from='bob@example.org/phone' id='x2'>"
		"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='k' "
		"by='alice@example.org'><x/></stanza-id></message>",
		&b);
	/* Wrong namespace. */
	receive(f,
		"<message type='chat' from='bob@example.org/phone' id='x3'>"
		"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:1' id='k' "
		"by='alice@example.org'/></message>",
		&c);
	g_assert_null(a);
	g_assert_null(b);
	g_assert_null(c);
}

static const char *const foreign_rooms[] = {
	"other@muc.example.org",
	"muc.example.org",
	"room@muc.example.org/bob",
	"room@muc.example.org.evil.com",
};

static void
test_stanza_id_room(Fixture *f, gconstpointer data)
{
	g_autofree char *ok = NULL;
	g_autofree char *forged = NULL;

	receive(f,
		"<message type='groupchat' from='room@muc.example.org/bob' "
		"id='r1'><body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
		"id='room-1' by='room@muc.example.org'/></message>",
		&ok);
	/* In a room only the room's own id counts, not our server's. */
	receive(f,
		"<message type='groupchat' from='room@muc.example.org/bob' "
		"id='r2'><body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
		"id='room-2' by='alice@example.org'/></message>",
		&forged);
	g_assert_cmpstr(ok, ==, "room-1");
	g_assert_null(forged);
	/* Nor another room's, nor the room's service, nor an occupant's. */
	for (guint i = 0; i < G_N_ELEMENTS(foreign_rooms); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message type='groupchat' "
			"from='room@muc.example.org/bob' id='r%u'>"
			"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
			"id='room-x%u' by='%s'/></message>",
			i + 3, i, foreign_rooms[i]);
		g_autofree char *sid = NULL;

		receive(f, xml, &sid);
		g_assert_null(sid);
	}
}

static const char *const live =
	"<message type='chat' from='bob@example.org/phone' id='dup'>"
	"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='arch-9' "
	"by='alice@example.org'/></message>";

static void
test_duplicate_dropped(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(receive(f, live, NULL), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(receive(f, live, NULL), ==, PXM_VERDICT_DROP);
	/* The same archive id under another message id: still the same. */
	g_assert_cmpint(
		receive(f,
			"<message type='chat' from='bob@example.org/tablet' "
			"id='other'><body>Hi</body><stanza-id "
			"xmlns='urn:xmpp:sid:0' id='arch-9' "
			"by='alice@example.org'/></message>",
			NULL),
		==, PXM_VERDICT_DROP);
	/* A forged stanza-id cannot suppress a message. */
	g_assert_cmpint(
		receive(f,
			"<message type='chat' from='bob@example.org/tablet' "
			"id='new'><body>Hi</body><stanza-id "
			"xmlns='urn:xmpp:sid:0' id='arch-9' "
			"by='bob@example.org'/></message>",
			NULL),
		==, PXM_VERDICT_CONTINUE);
}

/* The identity index outlives the connection: after a restart the same
 * message delivered again (from offline storage, with a delay) is still
 * recognised. */
static void
test_duplicate_after_restart(Fixture *f, gconstpointer data)
{
	static const char *const redelivered =
		"<message type='chat' from='bob@example.org/phone' id='dup'>"
		"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='arch-9' "
		"by='alice@example.org'/><delay xmlns='urn:xmpp:delay' "
		"from='example.org' stamp='2026-11-20T10:00:00Z'/></message>";

	g_assert_cmpint(receive(f, live, NULL), ==, PXM_VERDICT_CONTINUE);
	pxm_test_account_close(f);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	g_assert_cmpint(receive(f, redelivered, NULL), ==, PXM_VERDICT_DROP);
	/* A different delayed message is shown. */
	g_assert_cmpint(
		receive(f,
			"<message type='chat' from='bob@example.org/phone' "
			"id='new'><body>Hi</body><stanza-id "
			"xmlns='urn:xmpp:sid:0' id='arch-10' "
			"by='alice@example.org'/><delay xmlns='urn:xmpp:delay' "
			"stamp='2026-11-20T10:00:00Z'/></message>",
			NULL),
		==, PXM_VERDICT_CONTINUE);
}

/* What we send is recognised when it comes back (archive, carbon). */
static void
test_sent_recognised(Fixture *f, gconstpointer data)
{
	xmlnode *msg = pxm_test_parse(
		"<message type='chat' to='bob@example.org/phone'>"
		"<body>Hi</body></message>");
	g_autofree char *origin = send_out(f, msg);
	PxmStanza echo = { 0 };

	echo.kind = PXM_STANZA_MESSAGE;
	echo.sent_by_me = TRUE;
	echo.type = "chat";
	echo.from = OWN;
	echo.to = "Bob@example.org";
	pxm_stanza_set(&echo.body, "Hi");
	pxm_stanza_set(&echo.stanza_id, "arch-77");
	pxm_stanza_set(&echo.origin_id, origin);
	g_assert_false(pxm_presenter_admit(f->account, &echo));
	pxm_stanza_set(&echo.origin_id, "something-else");
	pxm_stanza_set(&echo.stanza_id, "arch-78");
	g_assert_true(pxm_presenter_admit(f->account, &echo));
	pxm_stanza_clear(&echo);
	xmlnode_free(msg);
}

/* Reflected room messages are how libpurple shows our own room messages:
 * sending one must not make its reflection look like a duplicate. */
static void
test_room_reflection_shown(Fixture *f, gconstpointer data)
{
	xmlnode *msg = pxm_test_parse(
		"<message type='groupchat' "
		"to='room@muc.example.org'><body>Hi</body>"
		"</message>");
	g_autofree char *origin = send_out(f, msg);
	g_autofree char *xml = g_strdup_printf(
		"<message type='groupchat' from='room@muc.example.org/alice' "
		"id='r'><body>Hi</body><origin-id xmlns='urn:xmpp:sid:0' "
		"id='%s'/><stanza-id xmlns='urn:xmpp:sid:0' id='room-5' "
		"by='room@muc.example.org'/></message>",
		origin);

	g_assert_cmpint(receive(f, xml, NULL), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(receive(f, xml, NULL), ==, PXM_VERDICT_DROP);
	xmlnode_free(msg);
}

/* The last IQ the extension sent: a disco#info query to @to. */
static char *
sent_disco_id(Fixture *f, const char *to)
{
	for (guint i = f->sent->len; i-- > 0;) {
		xmlnode *iq = xmlnode_from_str(f->sent->pdata[i], -1);
		char *id = NULL;

		if (g_str_equal(iq->name, "iq") &&
		    g_strcmp0(xmlnode_get_attrib(iq, "to"), to) == 0 &&
		    xmlnode_get_child_with_namespace(
			    iq, "query",
			    "http://jabber.org/protocol/disco#info") != NULL)
			id = g_strdup(xmlnode_get_attrib(iq, "id"));
		xmlnode_free(iq);
		if (id != NULL)
			return id;
	}
	g_error("no disco#info query to %s was sent", to);
	return NULL;
}

static void
answer(Fixture *f, const char *from, const char *id, const char *feature)
{
	g_autofree char *xml = g_strdup_printf(
		"<iq type='result' from='%s' id='%s'><query "
		"xmlns='http://jabber.org/protocol/disco#info'>"
		"<identity category='account' type='registered'/>"
		"<feature var='%s'/></query></iq>",
		from, id, feature);
	xmlnode *iq = pxm_test_parse(xml);

	g_assert_true(pxm_iq_tracker_handle(f->account->iq, iq));
	xmlnode_free(iq);
}

/* Section 8: our server is asked whether it supports stanza-ids; if it
 * does not, it would not strip forged ones, so none is used. */
static void
test_server_without_support(Fixture *f, gconstpointer data)
{
	g_autofree char *id = sent_disco_id(f, "alice@example.org");
	g_autofree char *sid = NULL;

	answer(f, "alice@example.org", id, "urn:xmpp:mam:2");
	receive(f, live, &sid);
	g_assert_null(sid);
}

static void
test_server_with_support(Fixture *f, gconstpointer data)
{
	g_autofree char *id = sent_disco_id(f, "alice@example.org");
	g_autofree char *sid = NULL;

	answer(f, "alice@example.org", id, "urn:xmpp:sid:0");
	receive(f, live, &sid);
	g_assert_cmpstr(sid, ==, "arch-9");
}

static void
test_room_without_support(Fixture *f, gconstpointer data)
{
	static const char *const first =
		"<message type='groupchat' from='room@muc.example.org/bob' "
		"id='r1'><body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
		"id='room-1' by='room@muc.example.org'/></message>";
	static const char *const second =
		"<message type='groupchat' from='room@muc.example.org/bob' "
		"id='r2'><body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' "
		"id='room-2' by='room@muc.example.org'/></message>";
	g_autofree char *a = NULL;
	g_autofree char *b = NULL;
	g_autofree char *id = NULL;

	/* Used while the room's answer is pending, and the room is asked
	 * once. */
	receive(f, first, &a);
	g_assert_cmpstr(a, ==, "room-1");
	id = sent_disco_id(f, "room@muc.example.org");
	answer(f, "room@muc.example.org", id, "http://jabber.org/protocol/muc");
	receive(f, second, &b);
	g_assert_null(b);
}

/* A reply that comes after the extension stopped changes nothing (and
 * does not touch freed state: run under valgrind/ASan). */
static void
test_reply_after_stop(Fixture *f, gconstpointer data)
{
	g_autofree char *id = sent_disco_id(f, "alice@example.org");
	guint index = pxm_test_extension_index("xep0359-stanza-id");

	g_assert_true(pxm_account_set_active(f->account, index, FALSE));
	answer(f, "alice@example.org", id, "urn:xmpp:sid:0");
}

/* An extension that is off sees nothing and changes nothing. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	xmlnode *msg = pxm_test_parse(
		"<message type='chat' to='bob@example.org'>"
		"<body>Hi</body></message>");
	g_autofree char *origin = send_out(f, msg);
	g_autofree char *sid = NULL;

	g_assert_null(origin);
	g_assert_null(xmlnode_get_child(msg, "origin-id"));
	receive(f, live, &sid);
	g_assert_null(sid);
	xmlnode_free(msg);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0359-stanza-id/" path, Fixture, GINT_TO_POINTER(on),   \
		   setup, func, pxm_test_account_teardown)
	ADD("compose/adds-origin-id", test_origin_id_added, TRUE);
	ADD("compose/idempotent-under-resend", test_origin_id_idempotent, TRUE);
	ADD("compose/keeps-existing", test_origin_id_kept, TRUE);
	ADD("compose/not-on-errors", test_origin_id_not_on_errors, TRUE);
	ADD("handle/own-server", test_stanza_id_own_server, TRUE);
	ADD("handle/forged-by", test_stanza_id_forged_by, TRUE);
	ADD("handle/two-claims", test_stanza_id_two_claims, TRUE);
	ADD("handle/malformed", test_stanza_id_malformed, TRUE);
	ADD("handle/room", test_stanza_id_room, TRUE);
	ADD("presenter/duplicate-dropped", test_duplicate_dropped, TRUE);
	ADD("presenter/duplicate-after-restart", test_duplicate_after_restart,
	    TRUE);
	ADD("presenter/sent-recognised", test_sent_recognised, TRUE);
	ADD("presenter/room-reflection-shown", test_room_reflection_shown,
	    TRUE);
	ADD("support/server-without", test_server_without_support, TRUE);
	ADD("support/server-with", test_server_with_support, TRUE);
	ADD("support/room-without", test_room_without_support, TRUE);
	ADD("support/reply-after-stop", test_reply_after_stop, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

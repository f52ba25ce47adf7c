// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0249 through the host's real pipeline: a direct invitation next to
 * each mediated one prpl-jabber sends (exact XML, password, bare JID, once
 * under resends), and an invitation received both ways offered once. */
#include <string.h>

#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define OWN "alice@example.org/pidgin"
#define ROOM "room@muc.example.org"
#define EXT "xep0249-direct-invite"

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, EXT);
}

/* What jabber_chat_invite() sends for "/invite bob@example.org/phone
 * Come in". */
static const char *const mediated =
	"<message to='" ROOM "'><x xmlns='http://jabber.org/protocol/muc#user'>"
	"<invite to='Bob@example.org/phone'><reason>Come &amp; see</reason>"
	"</invite></x></message>";

static void
test_direct_sent(Fixture *f, gconstpointer data)
{
	g_autofree char *out = pxm_test_send_out(f, mediated);
	g_autoptr(xmlnode) node = pxm_test_parse(out);

	/* Section 3: to the bare JID, the room in 'jid', the reason. */
	g_assert_cmpuint(f->sent->len, ==, 1);
	g_assert_cmpstr(f->sent->pdata[0], ==,
			"<message to='bob@example.org'><x "
			"xmlns='jabber:x:conference' jid='" ROOM
			"' reason='Come &amp; see'/></message>");
	/* The mediated one still goes to the room, unchanged but for its
	 * id. */
	g_assert_cmpstr(xmlnode_get_attrib(node, "to"), ==, ROOM);
	g_assert_true(g_str_has_prefix(xmlnode_get_attrib(node, "id"),
				       "pxm-invite-"));
	g_assert_nonnull(xmlnode_get_child_with_namespace(
		node, "x", "http://jabber.org/protocol/muc#user"));
}

/* The room's password (from our join) travels in the direct invitation;
 * no longer once we left. */
static void
test_password(Fixture *f, gconstpointer data)
{
	g_autofree char *join = pxm_test_send_out(
		f,
		"<presence to='" ROOM "/alice'><x "
		"xmlns='http://jabber.org/protocol/muc'><password>s&apos;cret"
		"</password></x></presence>");
	g_autofree char *a = pxm_test_send_out(
		f, "<message to='" ROOM "'><x "
		   "xmlns='http://jabber.org/protocol/muc#user'><invite "
		   "to='bob@example.org'/></x></message>");
	g_autofree char *leave = pxm_test_send_out(
		f, "<presence type='unavailable' to='" ROOM "/alice'/>");
	g_autofree char *b = pxm_test_send_out(
		f, "<message to='" ROOM "'><x "
		   "xmlns='http://jabber.org/protocol/muc#user'><invite "
		   "to='bob@example.org'/></x></message>");

	g_assert_cmpuint(f->sent->len, ==, 2);
	g_assert_cmpstr(f->sent->pdata[0], ==,
			"<message to='bob@example.org'><x "
			"xmlns='jabber:x:conference' jid='" ROOM
			"' password='s&apos;cret'/></message>");
	g_assert_cmpstr(f->sent->pdata[1], ==,
			"<message to='bob@example.org'><x "
			"xmlns='jabber:x:conference' jid='" ROOM
			"'/></message>");
}

/* LIBPURPLE-NOTES pitfall 3: the prpl re-sends unacknowledged stanzas
 * through the same hook after a reconnect (with the extension started
 * afresh): no second direct invitation. */
static void
test_resend(Fixture *f, gconstpointer data)
{
	g_autofree char *first = pxm_test_send_out(f, mediated);
	g_autofree char *second = NULL;
	g_autofree char *third = NULL;

	second = pxm_test_send_out(f, first);
	g_assert_cmpstr(first, ==, second);
	pxm_test_account_close(f);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, EXT);
	third = pxm_test_send_out(f, first);
	g_assert_cmpstr(first, ==, third);
	g_assert_cmpuint(f->sent->len, ==, 1);
}

/* Several invitees in one stanza: one direct invitation each; messages
 * that are no invitation are left alone. */
static void
test_several_and_others(Fixture *f, gconstpointer data)
{
	g_autofree char *a = pxm_test_send_out(
		f, "<message to='" ROOM "'><x "
		   "xmlns='http://jabber.org/protocol/muc#user'><invite "
		   "to='bob@example.org'/><invite to='carol@example.org'/>"
		   "</x></message>");
	g_autofree char *b = pxm_test_send_out(
		f, "<message type='groupchat' to='" ROOM "'><body>hi</body>"
		   "</message>");
	g_autofree char *c = pxm_test_send_out(
		f, "<message to='" ROOM "/bob'><x "
		   "xmlns='http://jabber.org/protocol/muc#user'><invite "
		   "to='dave@example.org'/></x></message>");

	g_assert_cmpuint(f->sent->len, ==, 2);
	g_assert_nonnull(strstr(f->sent->pdata[0], "to='bob@example.org'"));
	g_assert_nonnull(strstr(f->sent->pdata[1], "to='carol@example.org'"));
	g_assert_cmpstr(b, ==,
			"<message type='groupchat' to='" ROOM
			"'><body>hi</body></message>");
}

static const char *const direct =
	"<message from='bob@example.org/phone' to='" OWN "'><x "
	"xmlns='jabber:x:conference' jid='" ROOM "' password='pw' "
	"reason='Hey'/></message>";
static const char *const relayed =
	"<message from='" ROOM "' to='" OWN "'><x "
	"xmlns='http://jabber.org/protocol/muc#user'><invite "
	"from='bob@example.org/laptop'><reason>Hey</reason></invite>"
	"<password>pw</password></x></message>";

/* Both kinds of the same invitation: the prpl offers the first only. */
static void
test_received_once(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(pxm_test_receive(f, direct), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(f, relayed), ==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(pxm_test_receive(f, direct), ==, PXM_VERDICT_CONSUMED);
}

static void
test_received_relayed_first(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(pxm_test_receive(f, relayed), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(f, direct), ==, PXM_VERDICT_CONSUMED);
}

/* Another room is another invitation; another person inviting to the
 * same room meanwhile is not offered again (a semi-anonymous room names
 * the inviter by nick, so the two kinds cannot be told apart by who). */
static void
test_received_others(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(pxm_test_receive(f, direct), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(
		pxm_test_receive(f,
				 "<message from='carol@example.org/x' to='" OWN
				 "'><x xmlns='jabber:x:conference' "
				 "jid='" ROOM "'/></message>"),
		==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(
		pxm_test_receive(f,
				 "<message from='bob@example.org/phone' "
				 "to='" OWN "'><x xmlns='jabber:x:conference' "
				 "jid='other@muc.example.org'/></message>"),
		==, PXM_VERDICT_CONTINUE);
	/* A relayed invitation must come from the room itself, not an
	 * occupant: left to the prpl, not counted. */
	g_assert_cmpint(pxm_test_receive(
				f,
				"<message from='third@muc.example.org/mallory' "
				"to='" OWN "'><x xmlns='http://jabber.org/"
				"protocol/muc#user'><invite "
				"from='dave@example.org'/></x></message>"),
			==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(
		pxm_test_receive(f, "<message from='third@muc.example.org' "
				    "to='" OWN "'><x xmlns='http://jabber.org/"
				    "protocol/muc#user'><invite "
				    "from='dave@example.org'/></x></message>"),
		==, PXM_VERDICT_CONTINUE);
}

/* Prosody relays an invitation with a jabber:x:conference element of its
 * own next to the XEP-0045 one (seen in the integration test). */
static void
test_received_prosody(Fixture *f, gconstpointer data)
{
	static const char *const prosody =
		"<message from='" ROOM "' to='alice@example.org'><x "
		"xmlns='http://jabber.org/protocol/muc#user'><invite "
		"from='" ROOM "/bob'><reason>Hey</reason></invite><password>pw"
		"</password></x><body>" ROOM
		"/bob invited you to the room " ROOM
		" (Hey)</body><x xmlns='jabber:x:conference' jid='" ROOM
		"'>Hey</x></message>";

	g_assert_cmpint(pxm_test_receive(f, direct), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(f, prosody), ==, PXM_VERDICT_CONSUMED);
}

/* Section 3: 'jid' is required and is a room's (bare) address. */
static void
test_received_malformed(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		"",
		"jid=''",
		"jid='" ROOM "/nick'",
		"jid='@@'",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message from='bob@example.org/phone' to='" OWN
			"'><x xmlns='jabber:x:conference' %s/></message>",
			bad[i]);

		g_assert_cmpint(pxm_test_receive(f, xml), ==, PXM_VERDICT_DROP);
	}
}

/* An extension that is off sends and hides nothing. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *out = pxm_test_send_out(f, mediated);

	g_assert_cmpuint(f->sent->len, ==, 0);
	g_assert_null(strstr(out, "pxm-invite-"));
	g_assert_cmpint(pxm_test_receive(f, direct), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(f, relayed), ==, PXM_VERDICT_CONTINUE);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/" EXT "/" path, Fixture, GINT_TO_POINTER(on), setup,      \
		   func, pxm_test_account_teardown)
	ADD("send/direct", test_direct_sent, TRUE);
	ADD("send/password", test_password, TRUE);
	ADD("send/idempotent-under-resend", test_resend, TRUE);
	ADD("send/several-and-others", test_several_and_others, TRUE);
	ADD("receive/once", test_received_once, TRUE);
	ADD("receive/relayed-first", test_received_relayed_first, TRUE);
	ADD("receive/others", test_received_others, TRUE);
	ADD("receive/prosody", test_received_prosody, TRUE);
	ADD("receive/malformed", test_received_malformed, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

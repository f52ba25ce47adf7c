// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0184 through the host's real pipeline: receipt requests on outgoing
 * messages (caps, idempotent under resends), answers to the XEP's examples
 * and to forged variants (own devices, rooms, strangers, errors, loops,
 * carbons, archives), receipts matched to the messages we sent, and the
 * "xmpp-modern-message-delivered" signal. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

/* The XEP's examples: Northumberland asks King Richard for a receipt.  We
 * are the king. */
#define OWN "kingrichard@royalty.england.lit/throne"
#define OWN_BARE "kingrichard@royalty.england.lit"
#define PEER "northumberland@shakespeare.lit/westminster"
#define PEER_BARE "northumberland@shakespeare.lit"
#define EXT "xep0184-receipts"
#define SIGNAL_DELIVERED "xmpp-modern-message-delivered"
#define SIGNAL_DISPLAYED "xmpp-modern-message-displayed"

extern const PxmExtensionClass pxm_xep0184_receipts;

/* Example 1. */
#define CONTENT_MESSAGE                                                        \
	"<message from='" PEER "' id='richard2-4.1.247' to='" OWN "'>"         \
	"<body>My lord, dispatch; read o'er these articles.</body>"            \
	"<request xmlns='urn:xmpp:receipts'/></message>"

typedef struct {
	PxmTestAccount t;
	GPtrArray *signals; /* "who id" of each delivered signal */
	PurplePlugin plugin;
} Fixture;

static void
on_delivered(PurpleAccount *account, const char *who, const char *id,
	     gpointer data)
{
	Fixture *f = data;

	g_ptr_array_add(f->signals, g_strdup_printf("%s %s", who, id));
}

static void
setup(Fixture *f, gconstpointer data)
{
	purple_signals_init();
	pxm_test_account_setup(&f->t, OWN, FALSE);
	pxm_xep0184_receipts.plugin_load(&f->plugin);
	purple_signal_connect(&f->plugin, SIGNAL_DELIVERED, f,
			      PURPLE_CALLBACK(on_delivered), f);
	f->signals = g_ptr_array_new_with_free_func(g_free);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(&f->t, EXT);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	pxm_test_account_close(&f->t);
	purple_signals_disconnect_by_handle(f);
	pxm_xep0184_receipts.plugin_unload(&f->plugin);
	pxm_test_account_teardown(&f->t, NULL);
	purple_signals_uninit();
	g_ptr_array_unref(f->signals);
}

static void
peer_online(Fixture *f, const char *extra)
{
	g_autofree char *xml = g_strdup_printf("<presence from='" PEER
					       "' to='" OWN "'>%s</presence>",
					       extra != NULL ? extra : "");

	g_assert_cmpint(pxm_test_receive(&f->t, xml), ==, PXM_VERDICT_CONTINUE);
}

#define CAPS                                                                   \
	"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "             \
	"node='https://example.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"

/* --- Requesting ------------------------------------------------------- */

static void
test_request_added(Fixture *f, gconstpointer data)
{
	g_autofree char *out = pxm_test_send_out(
		&f->t, "<message type='chat' to='" PEER_BARE "' id='purple1'>"
		       "<body>Hi</body></message>");

	/* Section 5.1: to a bare JID of which nothing is known, a request
	 * may be included. */
	g_assert_cmpstr(out, ==,
			"<message type='chat' to='" PEER_BARE "' id='purple1'>"
			"<body>Hi</body>"
			"<request xmlns='urn:xmpp:receipts'/></message>");
}

/* LIBPURPLE-NOTES pitfall 3: resends run the hook again. */
static void
test_request_idempotent(Fixture *f, gconstpointer data)
{
	xmlnode *node = pxm_test_parse(
		"<message type='chat' to='" PEER "' "
		"id='purple2'><body>Hi</body></message>");

	for (guint i = 0; i < 3; i++) {
		PxmStanza st;

		pxm_stanza_init(&st, node, TRUE);
		pxm_pipeline_outgoing(f->t.account, &st);
		pxm_stanza_clear(&st);
	}
	g_assert_cmpuint(
		pxm_test_count_children(node, "request", "urn:xmpp:receipts"),
		==, 1);
	xmlnode_free(node);
}

static void
test_request_not_added(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
		/* Section 5.3: rooms. */
		"<message type='groupchat' to='room@muc.shakespeare.lit' "
		"id='a'><body>Hi</body></message>",
		/* Private messages with a room occupant. */
		"<message type='chat' to='room@muc.shakespeare.lit/bob' id='b'>"
		"<body>Hi</body><x "
		"xmlns='http://jabber.org/protocol/muc#user'/>"
		"</message>",
		"<message type='error' to='" PEER "' id='c'><body>Hi</body>"
		"</message>",
		"<message type='headline' to='" PEER "' id='d'><body>Hi</body>"
		"</message>",
		/* Not a content message (a chat state). */
		"<message type='chat' to='" PEER "' id='e'><active "
		"xmlns='http://jabber.org/protocol/chatstates'/></message>",
		/* Section 6: nothing to track it by. */
		"<message type='chat' to='" PEER "'><body>Hi</body></message>",
		"<message type='chat' to='" PEER "' id=''><body>Hi</body>"
		"</message>",
		/* Our own devices. */
		"<message type='chat' to='" OWN_BARE "/laptop' id='f'>"
		"<body>Hi</body></message>",
		/* Section 5.4: an ack never asks for an ack. */
		"<message type='chat' to='" PEER "' id='g'><body>Hi</body>"
		"<received xmlns='urn:xmpp:receipts' id='x'/></message>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *out = pxm_test_send_out(&f->t, cases[i]);

		g_assert_null(strstr(out, "<request"));
	}
}

/* Section 5.2: a full JID whose caps are known and lack receipts gets no
 * request (prpl-jabber's caps cache is empty in unit tests: every resource
 * that announced caps lacks the feature). */
static void
test_request_caps(Fixture *f, gconstpointer data)
{
	g_autofree char *full = NULL;
	g_autofree char *bare = NULL;
	g_autofree char *bare2 = NULL;
	g_autofree char *gone = NULL;

	peer_online(f, CAPS);
	full = pxm_test_send_out(&f->t,
				 "<message type='chat' to='" PEER "' id='1'>"
				 "<body>Hi</body></message>");
	g_assert_null(strstr(full, "<request"));
	/* To the bare JID: its only resource lacks it. */
	bare = pxm_test_send_out(&f->t, "<message type='chat' to='" PEER_BARE
					"' id='2'>"
					"<body>Hi</body></message>");
	g_assert_null(strstr(bare, "<request"));
	/* Another resource that says nothing of its features may support
	 * it. */
	g_assert_cmpint(pxm_test_receive(&f->t, "<presence from='" PEER_BARE
						"/phone'/>"),
			==, PXM_VERDICT_CONTINUE);
	bare2 = pxm_test_send_out(&f->t, "<message type='chat' to='" PEER_BARE
					 "' id='3'>"
					 "<body>Hi</body></message>");
	g_assert_nonnull(strstr(bare2, "<request xmlns='urn:xmpp:receipts'/>"));
	/* Gone offline: nothing known any more. */
	pxm_test_receive(&f->t, "<presence from='" PEER_BARE
				"/phone' type='unavailable'/>");
	pxm_test_receive(&f->t,
			 "<presence from='" PEER "' type='unavailable'/>");
	gone = pxm_test_send_out(&f->t,
				 "<message type='chat' to='" PEER "' id='4'>"
				 "<body>Hi</body></message>");
	g_assert_nonnull(strstr(gone, "<request xmlns='urn:xmpp:receipts'/>"));
}

static void
test_request_without_caps(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	peer_online(f, NULL);
	out = pxm_test_send_out(&f->t,
				"<message type='chat' to='" PEER "' id='1'>"
				"<body>Hi</body></message>");
	g_assert_nonnull(strstr(out, "<request xmlns='urn:xmpp:receipts'/>"));
}

/* --- Answering -------------------------------------------------------- */

/* Example 1 answered with example 2. */
static void
test_answer_example(Fixture *f, gconstpointer data)
{
	g_autofree char *xml = NULL;

	peer_online(f, NULL);
	g_assert_cmpint(pxm_test_receive(&f->t, CONTENT_MESSAGE), ==,
			PXM_VERDICT_CONTINUE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	xml = pxm_test_sent_dup(&f->t, 0);
	g_assert_cmpstr(xml, ==,
			"<message to='" PEER "' id='ID'>"
			"<received xmlns='urn:xmpp:receipts' "
			"id='richard2-4.1.247'/></message>");
}

/* Section 6: the same type as the request. */
static void
test_answer_chat(Fixture *f, gconstpointer data)
{
	g_autofree char *xml = NULL;

	peer_online(f, NULL);
	pxm_test_receive(
		&f->t, "<message type='chat' from='" PEER "' id='m1'><body>Hi"
		       "</body><request xmlns='urn:xmpp:receipts'/></message>");
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	xml = pxm_test_sent_dup(&f->t, 0);
	g_assert_cmpstr(xml, ==,
			"<message to='" PEER "' type='chat' id='ID'>"
			"<received xmlns='urn:xmpp:receipts' id='m1'/>"
			"</message>");
}

/* Section 9: no receipts to who cannot see our presence. */
static void
test_answer_needs_presence(Fixture *f, gconstpointer data)
{
	pxm_test_receive(&f->t, CONTENT_MESSAGE);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	peer_online(f, NULL);
	pxm_test_receive(&f->t,
			 "<presence from='" PEER "' type='unavailable'/>");
	pxm_test_receive(&f->t, CONTENT_MESSAGE);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	/* Presence of another contact does not count. */
	pxm_test_receive(&f->t, "<presence from='mallory@evil.example/x'/>");
	pxm_test_receive(&f->t, CONTENT_MESSAGE);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	/* Any resource of the contact does. */
	pxm_test_receive(&f->t, "<presence from='" PEER_BARE "/phone'/>");
	pxm_test_receive(&f->t, CONTENT_MESSAGE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
}

static void
test_answer_forged(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
		/* Our own other device. */
		"<message type='chat' from='" OWN_BARE "/laptop' id='a'>"
		"<body>Hi</body><request xmlns='urn:xmpp:receipts'/></message>",
		/* Rooms, and private messages through them. */
		"<message type='groupchat' from='room@muc.shakespeare.lit/n' "
		"id='b'><body>Hi</body><request xmlns='urn:xmpp:receipts'/>"
		"</message>",
		"<message type='chat' from='" PEER "' id='c'><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts'/>"
		"<x xmlns='http://jabber.org/protocol/muc#user'/></message>",
		/* Errors. */
		"<message type='error' from='" PEER "' id='d'><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts'/></message>",
		/* Section 6: without an id there is nothing to echo. */
		"<message type='chat' from='" PEER "'><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts'/></message>",
		"<message type='chat' from='" PEER "' id=''><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts'/></message>",
		/* Section 5.4: an ack asking for an ack (a loop). */
		"<message type='chat' from='" PEER "' id='e'>"
		"<received xmlns='urn:xmpp:receipts' id='x'/>"
		"<request xmlns='urn:xmpp:receipts'/></message>",
		/* Another namespace. */
		"<message type='chat' from='" PEER "' id='f'><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts:1'/></message>",
		/* From our server (no from). */
		"<message type='chat' id='g'><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts'/></message>",
	};

	peer_online(f, NULL);
	pxm_test_receive(&f->t, "<presence from='" OWN_BARE "/laptop'/>");
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		pxm_test_receive(&f->t, cases[i]);
		g_assert_cmpuint(f->t.sent->len, ==, 0);
	}
}

/* Section 5.5: not for archived messages; a carbon went to our other
 * device, which answers. */
static void
test_answer_not_forwarded(Fixture *f, gconstpointer data)
{
	peer_online(f, NULL);
	pxm_test_receive_forwarded(&f->t, CONTENT_MESSAGE, PXM_ORIGIN_CARBON,
				   FALSE, 0);
	pxm_test_receive_forwarded(&f->t, CONTENT_MESSAGE, PXM_ORIGIN_ARCHIVE,
				   FALSE, 0);
	/* Our other device's message to the contact, asking for a
	 * receipt. */
	pxm_test_receive_forwarded(
		&f->t,
		"<message type='chat' from='" OWN_BARE "/laptop' "
		"to='" PEER "' id='s'><body>Hi</body>"
		"<request xmlns='urn:xmpp:receipts'/></message>",
		PXM_ORIGIN_CARBON, TRUE, 0);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
}

/* --- Receipts --------------------------------------------------------- */

static void
send_content(Fixture *f, const char *id)
{
	g_autofree char *xml = g_strdup_printf("<message type='chat' to='" PEER
					       "' id='%s'><body>My lord, "
					       "dispatch</body></message>",
					       id);

	g_free(pxm_test_send_out(&f->t, xml));
}

static void
test_receipt_delivered(Fixture *f, gconstpointer data)
{
	send_content(f, "richard2-4.1.247");
	/* Example 2. */
	g_assert_cmpint(pxm_test_receive(&f->t,
					 "<message from='" PEER
					 "' id='bi29sg183b4v' "
					 "to='" OWN "'><received "
					 "xmlns='urn:xmpp:receipts' "
					 "id='richard2-4.1.247'/></message>"),
			==, PXM_VERDICT_CONTINUE);
	g_assert_cmpuint(f->signals->len, ==, 1);
	g_assert_cmpstr(f->signals->pdata[0], ==,
			PEER_BARE " richard2-4.1.247");
	/* Section 4: another device of the contact confirms it too. */
	pxm_test_receive(&f->t, "<message from='" PEER_BARE
				"/phone' id='r2' type='chat'>"
				"<received xmlns='urn:xmpp:receipts' "
				"id='richard2-4.1.247'/></message>");
	g_assert_cmpuint(f->signals->len, ==, 2);
}

static void
test_receipt_forged(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
		/* An id we never sent. */
		"<message from='" PEER "' id='a'><received "
		"xmlns='urn:xmpp:receipts' id='never-sent'/></message>",
		/* Someone else than the partner, with our id. */
		"<message from='mallory@evil.example/x' id='b'><received "
		"xmlns='urn:xmpp:receipts' id='ours'/></message>",
		/* Our own other device. */
		"<message from='" OWN_BARE "/laptop' id='c'><received "
		"xmlns='urn:xmpp:receipts' id='ours'/></message>",
		/* The id of a message we received, not sent. */
		"<message from='" PEER "' id='d'><received "
		"xmlns='urn:xmpp:receipts' id='theirs'/></message>",
		/* No id. */
		"<message from='" PEER "' id='e'><received "
		"xmlns='urn:xmpp:receipts'/></message>",
		"<message from='" PEER "' id='f'><received "
		"xmlns='urn:xmpp:receipts' id=''/></message>",
		/* Rooms. */
		"<message type='groupchat' from='" PEER_BARE "/nick' id='g'>"
		"<received xmlns='urn:xmpp:receipts' id='ours'/></message>",
		"<message from='" PEER "' id='h'><received "
		"xmlns='urn:xmpp:receipts' id='ours'/>"
		"<x xmlns='http://jabber.org/protocol/muc#user'/></message>",
		/* Another namespace. */
		"<message from='" PEER "' id='i'><received "
		"xmlns='urn:xmpp:chat-markers:0' id='ours'/></message>",
	};

	send_content(f, "ours");
	peer_online(f, NULL);
	pxm_test_receive(&f->t,
			 "<message type='chat' from='" PEER "' id='theirs'>"
			 "<body>Hi</body></message>");
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		pxm_test_receive(&f->t, cases[i]);
	g_assert_cmpuint(f->signals->len, ==, 0);
}

/* After the carbons (or archive) extension unwrapped them: a receipt our
 * other device sent is not the contact's; the contact's receipt to our
 * other device is. */
static void
test_receipt_carbons(Fixture *f, gconstpointer data)
{
	send_content(f, "ours");
	pxm_test_receive_forwarded(
		&f->t,
		"<message from='" OWN_BARE "/laptop' to='" PEER "' "
		"type='chat' id='c1'><received "
		"xmlns='urn:xmpp:receipts' id='ours'/></message>",
		PXM_ORIGIN_CARBON, TRUE, 0);
	g_assert_cmpuint(f->signals->len, ==, 0);
	/* From the archive: old news, already counted when it came. */
	pxm_test_receive_forwarded(
		&f->t,
		"<message from='" PEER "' to='" OWN "' "
		"type='chat' id='a1'><received "
		"xmlns='urn:xmpp:receipts' id='ours'/></message>",
		PXM_ORIGIN_ARCHIVE, FALSE, 0);
	g_assert_cmpuint(f->signals->len, ==, 0);
	pxm_test_receive_forwarded(
		&f->t,
		"<message from='" PEER "' to='" OWN_BARE "/laptop' "
		"type='chat' id='c2'><received "
		"xmlns='urn:xmpp:receipts' id='ours'/></message>",
		PXM_ORIGIN_CARBON, FALSE, 0);
	g_assert_cmpuint(f->signals->len, ==, 1);
	g_assert_cmpstr(f->signals->pdata[0], ==, PEER_BARE " ours");
}

/* Hostile input: a receipt alone is not dropped (the prpl shows nothing
 * for it), and does not crash. */
static void
test_receipt_hostile(Fixture *f, gconstpointer data)
{
	g_autofree char *long_id = g_strnfill(100000, 'x');
	g_autofree char *xml =
		g_strdup_printf("<message from='" PEER "' id='h'><received "
				"xmlns='urn:xmpp:receipts' id='%s'/></message>",
				long_id);

	send_content(f, "ours");
	g_assert_cmpint(pxm_test_receive(&f->t, xml), ==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(&f->t,
					 "<message from='not a jid@@/x' id='h'>"
					 "<received xmlns='urn:xmpp:receipts' "
					 "id='ours'/></message>"),
			==, PXM_VERDICT_CONTINUE);
	g_assert_cmpint(pxm_test_receive(&f->t,
					 "<message><received "
					 "xmlns='urn:xmpp:receipts' id='ours'/>"
					 "<request xmlns='urn:xmpp:receipts'/>"
					 "</message>"),
			==, PXM_VERDICT_CONTINUE);
	g_assert_cmpuint(f->signals->len, ==, 0);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
}

/* --- Signals and switching off ---------------------------------------- */

static gboolean
is_subtype(PurpleValue *value, PurpleSubType subtype)
{
	return purple_value_get_type(value) == PURPLE_TYPE_SUBTYPE &&
	       purple_value_get_subtype(value) == subtype;
}

static void
test_signals_registered(Fixture *f, gconstpointer data)
{
	static const char *const names[] = { SIGNAL_DELIVERED,
					     SIGNAL_DISPLAYED };

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		PurpleValue *ret = NULL;
		PurpleValue **values = NULL;
		int n = 0;

		purple_signal_get_values(&f->plugin, names[i], &ret, &n,
					 &values);
		g_assert_null(ret);
		g_assert_cmpint(n, ==, 3);
		g_assert_true(is_subtype(values[0], PURPLE_SUBTYPE_ACCOUNT));
		g_assert_cmpint(purple_value_get_type(values[1]), ==,
				PURPLE_TYPE_STRING);
		g_assert_cmpint(purple_value_get_type(values[2]), ==,
				PURPLE_TYPE_STRING);
	}
}

/* An extension that is off sees nothing and changes nothing. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	peer_online(f, NULL);
	out = pxm_test_send_out(&f->t,
				"<message type='chat' to='" PEER "' id='ours'>"
				"<body>Hi</body></message>");
	g_assert_null(strstr(out, "<request"));
	pxm_test_receive(&f->t, CONTENT_MESSAGE);
	pxm_test_receive(&f->t,
			 "<message from='" PEER "' id='r'><received "
			 "xmlns='urn:xmpp:receipts' id='ours'/></message>");
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	g_assert_cmpuint(f->signals->len, ==, 0);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0184-receipts/" path, Fixture, GINT_TO_POINTER(on),    \
		   setup, func, teardown)
	ADD("request/added", test_request_added, TRUE);
	ADD("request/idempotent-under-resend", test_request_idempotent, TRUE);
	ADD("request/not-added", test_request_not_added, TRUE);
	ADD("request/caps", test_request_caps, TRUE);
	ADD("request/without-caps", test_request_without_caps, TRUE);
	ADD("answer/example", test_answer_example, TRUE);
	ADD("answer/same-type", test_answer_chat, TRUE);
	ADD("answer/needs-presence", test_answer_needs_presence, TRUE);
	ADD("answer/forged", test_answer_forged, TRUE);
	ADD("answer/not-forwarded", test_answer_not_forwarded, TRUE);
	ADD("receipt/delivered", test_receipt_delivered, TRUE);
	ADD("receipt/forged", test_receipt_forged, TRUE);
	ADD("receipt/carbons", test_receipt_carbons, TRUE);
	ADD("receipt/hostile", test_receipt_hostile, TRUE);
	ADD("signals/registered", test_signals_registered, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0333 through the host's real pipeline: <markable/> on outgoing
 * messages (caps, idempotent under resends), one <displayed/> for the latest
 * markable message when the user has seen a conversation, the XEP's
 * examples and forged variants (own devices, rooms, strangers, loops,
 * carbons, archives), markers matched to the messages we sent, only moving
 * forward, and the "xmpp-modern-message-displayed" signal. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0333-chat-markers/xep0333-chat-markers.h"

/* The XEP's examples: Romeo writes to Juliet.  We are Juliet. */
#define OWN "juliet@capulet.lit/balcony"
#define OWN_BARE "juliet@capulet.lit"
#define PEER "romeo@montegue.lit/orchard"
#define PEER_BARE "romeo@montegue.lit"
#define EXT "xep0333-chat-markers"
#define SIGNAL_DISPLAYED "xmpp-modern-message-displayed"

extern const PxmExtensionClass pxm_xep0184_receipts;
extern const PxmExtensionClass pxm_xep0333_chat_markers;

/* Example 1 ("Romeo sends a message to Juliet"). */
#define MARKABLE                                                               \
	"<message to='" OWN_BARE "' from='" PEER "' id='the-msg-1'>"           \
	"<body>Hi. How are you?</body>"                                        \
	"<markable xmlns='urn:xmpp:chat-markers:0'/>"                          \
	"<request xmlns='urn:xmpp:receipts'/></message>"

typedef struct {
	PxmTestAccount t;
	GPtrArray *signals; /* "who id" of each displayed signal */
	PurplePlugin plugin;
} Fixture;

static void
on_displayed(PurpleAccount *account, const char *who, const char *id,
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
	/* The receipts extension registers the message-state signals. */
	pxm_xep0184_receipts.plugin_load(&f->plugin);
	pxm_xep0333_chat_markers.plugin_load(&f->plugin);
	purple_signal_connect(&f->plugin, SIGNAL_DISPLAYED, f,
			      PURPLE_CALLBACK(on_displayed), f);
	f->signals = g_ptr_array_new_with_free_func(g_free);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(&f->t, EXT);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	pxm_test_account_close(&f->t);
	purple_signals_disconnect_by_handle(f);
	pxm_xep0333_chat_markers.plugin_unload(&f->plugin);
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

/* What the extension does when the user has seen the conversation. */
static void
seen(Fixture *f, const char *conversation)
{
	guint index = pxm_test_extension_index(EXT);

	pxm_chat_markers_seen(f->t.account, f->t.account->states[index],
			      conversation);
}

#define CAPS                                                                   \
	"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "             \
	"node='https://example.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"

/* --- Marking ---------------------------------------------------------- */

static void
test_markable_added(Fixture *f, gconstpointer data)
{
	g_autofree char *out = pxm_test_send_out(
		&f->t, "<message type='chat' to='" PEER_BARE "' id='m1'>"
		       "<body>Hi. How are you?</body></message>");

	g_assert_cmpstr(out, ==,
			"<message type='chat' to='" PEER_BARE "' id='m1'>"
			"<body>Hi. How are you?</body>"
			"<markable xmlns='urn:xmpp:chat-markers:0'/>"
			"</message>");
}

static void
test_markable_idempotent(Fixture *f, gconstpointer data)
{
	xmlnode *node = pxm_test_parse("<message type='chat' to='" PEER
				       "' id='m2'>"
				       "<body>Hi</body></message>");

	for (guint i = 0; i < 3; i++) {
		PxmStanza st;

		pxm_stanza_init(&st, node, TRUE);
		pxm_pipeline_outgoing(f->t.account, &st);
		pxm_stanza_clear(&st);
	}
	g_assert_cmpuint(pxm_test_count_children(node, "markable",
						 "urn:xmpp:chat-markers:0"),
			 ==, 1);
	xmlnode_free(node);
}

static void
test_markable_not_added(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
		"<message type='groupchat' to='room@muc.capulet.lit' id='a'>"
		"<body>Hi</body></message>",
		"<message type='chat' to='room@muc.capulet.lit/nurse' id='b'>"
		"<body>Hi</body><x "
		"xmlns='http://jabber.org/protocol/muc#user'/>"
		"</message>",
		"<message type='error' to='" PEER "' id='c'><body>Hi</body>"
		"</message>",
		"<message type='headline' to='" PEER "' id='d'><body>Hi</body>"
		"</message>",
		"<message type='chat' to='" PEER "' id='e'><active "
		"xmlns='http://jabber.org/protocol/chatstates'/></message>",
		/* Section 5.1: "MUST possess an 'id'". */
		"<message type='chat' to='" PEER "'><body>Hi</body></message>",
		"<message type='chat' to='" OWN_BARE "/laptop' id='f'>"
		"<body>Hi</body></message>",
		/* A marker is not markable (loops). */
		"<message type='chat' to='" PEER "' id='g'><body>Hi</body>"
		"<displayed xmlns='urn:xmpp:chat-markers:0' id='x'/></message>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *out = pxm_test_send_out(&f->t, cases[i]);

		g_assert_null(strstr(out, "<markable"));
	}
}

/* Section 4: support shows in caps (prpl-jabber's cache is empty in unit
 * tests: a resource that announced caps lacks the feature). */
static void
test_markable_caps(Fixture *f, gconstpointer data)
{
	g_autofree char *full = NULL;
	g_autofree char *bare = NULL;
	g_autofree char *other = NULL;

	peer_online(f, CAPS);
	full = pxm_test_send_out(&f->t,
				 "<message type='chat' to='" PEER "' id='1'>"
				 "<body>Hi</body></message>");
	bare = pxm_test_send_out(&f->t, "<message type='chat' to='" PEER_BARE
					"' id='2'>"
					"<body>Hi</body></message>");
	g_assert_null(strstr(full, "<markable"));
	g_assert_null(strstr(bare, "<markable"));
	pxm_test_receive(&f->t, "<presence from='" PEER_BARE "/phone'/>");
	other = pxm_test_send_out(&f->t, "<message type='chat' to='" PEER_BARE
					 "' id='3'>"
					 "<body>Hi</body></message>");
	g_assert_nonnull(strstr(other, "<markable"));
}

/* --- Sending markers -------------------------------------------------- */

/* Example 1 seen: example 2's marker, to the bare JID (section 5.2). */
static void
test_seen_example(Fixture *f, gconstpointer data)
{
	g_autofree char *xml = NULL;

	peer_online(f, NULL);
	g_assert_cmpint(pxm_test_receive(&f->t, MARKABLE), ==,
			PXM_VERDICT_CONTINUE);
	/* Nothing before the user has seen it. */
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	xml = pxm_test_sent_dup(&f->t, 0);
	g_assert_cmpstr(xml, ==,
			"<message to='" PEER_BARE "' id='ID'>"
			"<displayed xmlns='urn:xmpp:chat-markers:0' "
			"id='the-msg-1'/></message>");
}

/* One marker, for the most recent message, once. */
static void
test_seen_latest_once(Fixture *f, gconstpointer data)
{
	g_autofree char *first = NULL;
	g_autofree char *second = NULL;

	peer_online(f, NULL);
	pxm_test_receive(&f->t,
			 "<message type='chat' from='" PEER "' id='m1'><body>1"
			 "</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
			 "</message>");
	pxm_test_receive(&f->t,
			 "<message type='chat' from='" PEER "' id='m2'><body>2"
			 "</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
			 "</message>");
	/* Not markable: does not move the marker. */
	pxm_test_receive(&f->t,
			 "<message type='chat' from='" PEER "' id='m3'><body>3"
			 "</body></message>");
	seen(f, PEER_BARE);
	seen(f, PEER_BARE);
	/* The same message delivered again is not new. */
	pxm_test_receive(&f->t,
			 "<message type='chat' from='" PEER "' id='m2'><body>2"
			 "</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
			 "</message>");
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	first = pxm_test_sent_dup(&f->t, 0);
	g_assert_cmpstr(first, ==,
			"<message to='" PEER_BARE "' type='chat' id='ID'>"
			"<displayed xmlns='urn:xmpp:chat-markers:0' id='m2'/>"
			"</message>");
	pxm_test_receive(
		&f->t,
		"<message type='chat' from='" PEER_BARE "/phone' id='m4'>"
		"<body>4</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
		"</message>");
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 2);
	second = pxm_test_sent_dup(&f->t, 1);
	g_assert_cmpstr(second, ==,
			"<message to='" PEER_BARE "' type='chat' id='ID'>"
			"<displayed xmlns='urn:xmpp:chat-markers:0' id='m4'/>"
			"</message>");
	/* Another conversation has nothing to mark. */
	seen(f, "nurse@capulet.lit");
	g_assert_cmpuint(f->t.sent->len, ==, 2);
}

static void
test_seen_forged(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
		/* Section 8: never for our own messages. */
		"<message type='chat' from='" OWN_BARE "/laptop' id='a'>"
		"<body>Hi</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
		"</message>",
		/* Rooms, and private messages through them. */
		"<message type='groupchat' from='" PEER_BARE "/nick' id='b'>"
		"<body>Hi</body><markable xmlns='urn:xmpp:chat-markers:0'/>"
		"</message>",
		"<message type='chat' from='" PEER "' id='c'><body>Hi</body>"
		"<markable xmlns='urn:xmpp:chat-markers:0'/>"
		"<x xmlns='http://jabber.org/protocol/muc#user'/></message>",
		"<message type='error' from='" PEER "' id='d'><body>Hi</body>"
		"<markable xmlns='urn:xmpp:chat-markers:0'/></message>",
		"<message type='headline' from='" PEER "' id='e'><body>Hi"
		"</body><markable xmlns='urn:xmpp:chat-markers:0'/></message>",
		/* Nothing to echo. */
		"<message type='chat' from='" PEER "'><body>Hi</body>"
		"<markable xmlns='urn:xmpp:chat-markers:0'/></message>",
		/* Section 5.2: a marker is never answered with a marker. */
		"<message type='chat' from='" PEER "' id='f'><body>Hi</body>"
		"<displayed xmlns='urn:xmpp:chat-markers:0' id='x'/>"
		"<markable xmlns='urn:xmpp:chat-markers:0'/></message>",
		/* Nothing displayed to the user. */
		"<message type='chat' from='" PEER "' id='g'>"
		"<markable xmlns='urn:xmpp:chat-markers:0'/></message>",
		"<message type='chat' from='" PEER "' id='h'><body>Hi</body>"
		"<markable xmlns='urn:xmpp:chat-markers:1'/></message>",
	};

	peer_online(f, NULL);
	pxm_test_receive(&f->t, "<presence from='" OWN_BARE "/laptop'/>");
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		pxm_test_receive(&f->t, cases[i]);
		seen(f, PEER_BARE);
		seen(f, OWN_BARE);
		g_assert_cmpuint(f->t.sent->len, ==, 0);
	}
	/* Our other device's message to the contact (a sent carbon). */
	pxm_test_receive_forwarded(&f->t,
				   "<message type='chat' from='" OWN_BARE
				   "/laptop' "
				   "to='" PEER "' id='s'><body>Hi</body>"
				   "<markable xmlns='urn:xmpp:chat-markers:0'/>"
				   "</message>",
				   PXM_ORIGIN_CARBON, TRUE, 0);
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
}

/* Section 11: no markers to who cannot see our presence. */
static void
test_seen_needs_presence(Fixture *f, gconstpointer data)
{
	pxm_test_receive(&f->t, MARKABLE);
	seen(f, PEER_BARE);
	pxm_test_receive(&f->t, "<presence from='mallory@evil.example/x'/>");
	pxm_test_receive(&f->t, MARKABLE);
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	peer_online(f, NULL);
	pxm_test_receive(&f->t, MARKABLE);
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
}

/* Messages from the contact seen here as carbons or from the archive are
 * marked too; an older archived one does not replace a newer one. */
static void
test_seen_forwarded(Fixture *f, gconstpointer data)
{
	g_autofree char *xml = NULL;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;

	peer_online(f, NULL);
	pxm_test_receive_forwarded(&f->t,
				   "<message type='chat' from='" PEER
				   "' to='" OWN_BARE
				   "/laptop' id='c1'><body>Hi</body>"
				   "<markable xmlns='urn:xmpp:chat-markers:0'/>"
				   "</message>",
				   PXM_ORIGIN_CARBON, FALSE, 0);
	pxm_test_receive_forwarded(&f->t,
				   "<message type='chat' from='" PEER
				   "' to='" OWN_BARE
				   "' id='old'><body>Hi</body>"
				   "<markable xmlns='urn:xmpp:chat-markers:0'/>"
				   "</message>",
				   PXM_ORIGIN_ARCHIVE, FALSE, now - 3600);
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	xml = pxm_test_sent_dup(&f->t, 0);
	g_assert_cmpstr(xml, ==,
			"<message to='" PEER_BARE "' type='chat' id='ID'>"
			"<displayed xmlns='urn:xmpp:chat-markers:0' id='c1'/>"
			"</message>");
}

/* --- Receiving markers ------------------------------------------------ */

static void
send_content(Fixture *f, const char *id)
{
	g_autofree char *xml = g_strdup_printf("<message type='chat' to='" PEER
					       "' id='%s'><body>Hi. How "
					       "are you?</body></message>",
					       id);

	g_free(pxm_test_send_out(&f->t, xml));
}

/* Example 2, the other way round: Romeo displayed our message. */
static void
test_displayed_example(Fixture *f, gconstpointer data)
{
	send_content(f, "the-msg-1");
	g_assert_cmpint(pxm_test_receive(&f->t,
					 "<message to='" OWN_BARE
					 "' from='" PEER "'><displayed "
					 "xmlns='urn:xmpp:chat-markers:0' "
					 "id='the-msg-1'/></message>"),
			==, PXM_VERDICT_CONTINUE);
	g_assert_cmpuint(f->signals->len, ==, 1);
	g_assert_cmpstr(f->signals->pdata[0], ==, PEER_BARE " the-msg-1");
	/* Again (another device of his): nothing new. */
	pxm_test_receive(&f->t, "<message to='" OWN_BARE "' from='" PEER_BARE
				"/phone'>"
				"<displayed xmlns='urn:xmpp:chat-markers:0' "
				"id='the-msg-1'/></message>");
	g_assert_cmpuint(f->signals->len, ==, 1);
}

/* Section 8: markers only move forward. */
static void
test_displayed_forward_only(Fixture *f, gconstpointer data)
{
	xmlnode *node = pxm_test_parse("<message type='chat' to='" PEER
				       "' id='old'>"
				       "<body>Earlier</body></message>");
	PxmStanza old;

	/* A message we sent an hour ago (e.g. seen again as a carbon). */
	pxm_stanza_init(&old, node, TRUE);
	old.timestamp = g_get_real_time() / G_USEC_PER_SEC - 3600;
	pxm_presenter_remember_sent(f->t.account, old.to, &old);
	pxm_stanza_clear(&old);
	xmlnode_free(node);
	send_content(f, "new");

	pxm_test_receive(
		&f->t, "<message from='" PEER "'><displayed "
		       "xmlns='urn:xmpp:chat-markers:0' id='new'/></message>");
	pxm_test_receive(
		&f->t, "<message from='" PEER "'><displayed "
		       "xmlns='urn:xmpp:chat-markers:0' id='old'/></message>");
	g_assert_cmpuint(f->signals->len, ==, 1);
	g_assert_cmpstr(f->signals->pdata[0], ==, PEER_BARE " new");
}

static void
test_displayed_forged(Fixture *f, gconstpointer data)
{
	static const char *const cases[] = {
		/* Section 8: "not found in the respective chat". */
		"<message from='" PEER "'><displayed "
		"xmlns='urn:xmpp:chat-markers:0' id='never-sent'/></message>",
		/* Someone else than the partner, with our id. */
		"<message from='nurse@capulet.lit/x'><displayed "
		"xmlns='urn:xmpp:chat-markers:0' id='ours'/></message>",
		/* Our own other device. */
		"<message from='" OWN_BARE "/laptop'><displayed "
		"xmlns='urn:xmpp:chat-markers:0' id='ours'/></message>",
		/* A message the contact sent, not us. */
		"<message from='" PEER "'><displayed "
		"xmlns='urn:xmpp:chat-markers:0' id='theirs'/></message>",
		"<message from='" PEER "'><displayed "
		"xmlns='urn:xmpp:chat-markers:0'/></message>",
		"<message type='groupchat' from='" PEER_BARE "/nick'>"
		"<displayed xmlns='urn:xmpp:chat-markers:0' id='ours'/>"
		"</message>",
		"<message from='" PEER "'><displayed "
		"xmlns='urn:xmpp:chat-markers:0' id='ours'/>"
		"<x xmlns='http://jabber.org/protocol/muc#user'/></message>",
		/* Version 1.0.0 has no <received/> marker. */
		"<message from='" PEER "'><received "
		"xmlns='urn:xmpp:chat-markers:0' id='ours'/></message>",
	};

	send_content(f, "ours");
	peer_online(f, NULL);
	pxm_test_receive(&f->t,
			 "<message type='chat' from='" PEER "' id='theirs'>"
			 "<body>Hi</body></message>");
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		pxm_test_receive(&f->t, cases[i]);
	/* Our other device displayed something (a sent carbon), and an
	 * archived marker. */
	pxm_test_receive_forwarded(&f->t,
				   "<message from='" OWN_BARE
				   "/laptop' to='" PEER "' "
				   "type='chat' id='c1'><displayed "
				   "xmlns='urn:xmpp:chat-markers:0' id='ours'/>"
				   "</message>",
				   PXM_ORIGIN_CARBON, TRUE, 0);
	pxm_test_receive_forwarded(&f->t,
				   "<message from='" PEER "' to='" OWN_BARE "' "
				   "type='chat' id='a1'><displayed "
				   "xmlns='urn:xmpp:chat-markers:0' id='ours'/>"
				   "</message>",
				   PXM_ORIGIN_ARCHIVE, FALSE, 0);
	g_assert_cmpuint(f->signals->len, ==, 0);
	/* None of them is answered either. */
	g_assert_cmpuint(f->t.sent->len, ==, 0);
}

/* The contact's marker sent to our other device, copied to us. */
static void
test_displayed_carbon(Fixture *f, gconstpointer data)
{
	send_content(f, "ours");
	pxm_test_receive_forwarded(&f->t,
				   "<message from='" PEER "' to='" OWN_BARE
				   "/laptop' "
				   "type='chat' id='c2'><displayed "
				   "xmlns='urn:xmpp:chat-markers:0' id='ours'/>"
				   "</message>",
				   PXM_ORIGIN_CARBON, FALSE, 0);
	g_assert_cmpuint(f->signals->len, ==, 1);
	g_assert_cmpstr(f->signals->pdata[0], ==, PEER_BARE " ours");
}

/* A copy of the marker our other device sent for a contact's message. */
static void
own_marker(Fixture *f, const char *id)
{
	g_autofree char *xml = g_strdup_printf(
		"<message type='chat' from='" OWN_BARE "/laptop' "
		"to='" PEER_BARE "' id='own-%s'><displayed "
		"xmlns='urn:xmpp:chat-markers:0' id='%s'/></message>",
		id, id);

	pxm_test_receive_forwarded(&f->t, xml, PXM_ORIGIN_CARBON, TRUE, 0);
}

/* A contact's message sent at @when, from the archive (the presenter
 * records what it shows only so, without libpurple). */
static void
receive_at(Fixture *f, const char *id, gboolean markable, gint64 when)
{
	g_autofree char *xml = g_strdup_printf(
		"<message type='chat' from='" PEER "' to='" OWN_BARE
		"' id='%s'><body>%s</body>%s</message>",
		id, id,
		markable ? "<markable xmlns='urn:xmpp:chat-markers:0'/>" : "");
	xmlnode *node = pxm_test_parse(xml);

	g_assert_true(pxm_account_replay(f->t.account, node, PXM_ORIGIN_ARCHIVE,
					 NULL, when, PXM_REPLAY_CATCHUP));
	xmlnode_free(node);
}

/* Section 8: markers only move forward, ours too.  Read on another
 * device: the same or a later message displayed there makes ours
 * redundant; an older one does not.  Neither is the contact's. */
static void
test_displayed_own_device(Fixture *f, gconstpointer data)
{
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	g_autofree char *xml = NULL;

	peer_online(f, NULL);
	pxm_test_receive(&f->t, MARKABLE);
	own_marker(f, "the-msg-1");
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 0);

	receive_at(f, "old", FALSE, now + 10);
	receive_at(f, "m2", TRUE, now + 20);
	own_marker(f, "old");
	own_marker(f, "unknown");
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	xml = pxm_test_sent_dup(&f->t, 0);
	g_assert_cmpstr(xml, ==,
			"<message to='" PEER_BARE "' type='chat' id='ID'>"
			"<displayed xmlns='urn:xmpp:chat-markers:0' id='m2'/>"
			"</message>");

	receive_at(f, "m3", TRUE, now + 30);
	receive_at(f, "m4", FALSE, now + 40);
	own_marker(f, "m4");
	seen(f, PEER_BARE);
	g_assert_cmpuint(f->t.sent->len, ==, 1);
	g_assert_cmpuint(f->signals->len, ==, 0);
}

static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	peer_online(f, NULL);
	out = pxm_test_send_out(&f->t,
				"<message type='chat' to='" PEER "' id='ours'>"
				"<body>Hi</body></message>");
	g_assert_null(strstr(out, "<markable"));
	pxm_test_receive(&f->t, MARKABLE);
	pxm_test_receive(
		&f->t, "<message from='" PEER "'><displayed "
		       "xmlns='urn:xmpp:chat-markers:0' id='ours'/></message>");
	g_assert_cmpuint(f->t.sent->len, ==, 0);
	g_assert_cmpuint(f->signals->len, ==, 0);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0333-chat-markers/" path, Fixture,                     \
		   GINT_TO_POINTER(on), setup, func, teardown)
	ADD("markable/added", test_markable_added, TRUE);
	ADD("markable/idempotent-under-resend", test_markable_idempotent, TRUE);
	ADD("markable/not-added", test_markable_not_added, TRUE);
	ADD("markable/caps", test_markable_caps, TRUE);
	ADD("seen/example", test_seen_example, TRUE);
	ADD("seen/latest-once", test_seen_latest_once, TRUE);
	ADD("seen/forged", test_seen_forged, TRUE);
	ADD("seen/needs-presence", test_seen_needs_presence, TRUE);
	ADD("seen/forwarded", test_seen_forwarded, TRUE);
	ADD("displayed/example", test_displayed_example, TRUE);
	ADD("displayed/forward-only", test_displayed_forward_only, TRUE);
	ADD("displayed/forged", test_displayed_forged, TRUE);
	ADD("displayed/carbon", test_displayed_carbon, TRUE);
	ADD("displayed/own-device", test_displayed_own_device, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

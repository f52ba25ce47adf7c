// SPDX-License-Identifier: GPL-3.0-or-later
/* The presenter's identity gate and its memory of shown messages. */
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
	/* For origin-ids and stanza-ids to be read. */
	pxm_test_account_activate(f, "xep0359-stanza-id");
}

/* Feeds a message through the incoming pipeline (and so the live gate);
 * returns whether it was new. */
static gboolean
admit(Fixture *f, const char *xml)
{
	xmlnode *node = xmlnode_from_str(xml, -1);
	PxmStanza st;
	gboolean fresh;

	g_assert_nonnull(node);
	pxm_stanza_init(&st, node, FALSE);
	fresh = pxm_pipeline_incoming(f->account, &st) == PXM_VERDICT_CONTINUE;
	pxm_stanza_clear(&st);
	xmlnode_free(node);
	return fresh;
}

static void
test_find_and_last(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *m;

	g_assert_true(admit(f, "<message type='chat' from='Bob@example.org/x' "
			       "id='m1'><body>Premier message</body>"
			       "<origin-id xmlns='urn:xmpp:sid:0' id='o1'/>"
			       "</message>"));
	g_assert_true(admit(f, "<message type='chat' from='bob@example.org/x' "
			       "id='m2'><body>Second</body></message>"));

	m = pxm_presenter_find(f->account, "bob@example.org", "m1");
	g_assert_nonnull(m);
	g_assert_cmpstr(m->excerpt, ==, "Premier message");
	g_assert_cmpstr(m->sender, ==, "bob@example.org");
	g_assert_cmpstr(m->id, ==, "m1");
	g_assert_false(m->sent);
	g_assert_true(pxm_presenter_find(f->account, "bob@example.org", "o1") ==
		      m);
	g_assert_null(
		pxm_presenter_find(f->account, "carol@example.org", "m1"));
	g_assert_null(pxm_presenter_find(f->account, "bob@example.org", "zz"));

	m = pxm_presenter_last(f->account, "bob@example.org", PXM_LAST_ANY);
	g_assert_cmpstr(m->id, ==, "m2");
	g_assert_null(pxm_presenter_last(f->account, "bob@example.org",
					 PXM_LAST_SENT));
}

static void
test_sent_remembered(Fixture *f, gconstpointer data)
{
	xmlnode *node = xmlnode_from_str("<message type='chat' "
					 "to='bob@example.org/x' id='s1'>"
					 "<body>Réponse</body></message>",
					 -1);
	PxmStanza st;
	const PxmShownMessage *m;

	pxm_stanza_init(&st, node, TRUE);
	pxm_presenter_remember_sent(f->account, st.to, &st);
	pxm_stanza_clear(&st);
	xmlnode_free(node);

	m = pxm_presenter_last(f->account, "bob@example.org", PXM_LAST_SENT);
	g_assert_nonnull(m);
	g_assert_true(m->sent);
	g_assert_cmpstr(m->id, ==, "s1");
	g_assert_cmpstr(m->sender, ==, "alice@example.org");
	g_assert_cmpstr(m->excerpt, ==, "Réponse");
	g_assert_null(pxm_presenter_last(f->account, "bob@example.org",
					 PXM_LAST_RECEIVED));
}

/* "Last" is by time: an archived message shown after a live one is not
 * the latest. */
static void
test_last_by_time(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *m;

	g_assert_true(admit(f, "<message type='chat' from='bob@example.org/x' "
			       "id='now'><body>Live</body></message>"));
	g_assert_true(admit(f, "<message type='chat' from='bob@example.org/x' "
			       "id='old'><body>Delayed</body><delay "
			       "xmlns='urn:xmpp:delay' "
			       "stamp='2020-01-01T00:00:00Z'/></message>"));
	m = pxm_presenter_last(f->account, "bob@example.org", PXM_LAST_ANY);
	g_assert_nonnull(m);
	g_assert_cmpstr(m->id, ==, "now");
}

/* Long texts are cut between characters, never inside one. */
static void
test_excerpt_cut(Fixture *f, gconstpointer data)
{
	g_autoptr(GString) body = g_string_new(NULL);
	g_autofree char *xml = NULL;
	const PxmShownMessage *m;

	for (guint i = 0; i < 100; i++)
		g_string_append(body, "é"); /* two bytes each */
	xml = g_strdup_printf("<message type='chat' from='bob@example.org/x' "
			      "id='long'><body>%s</body></message>",
			      body->str);
	g_assert_true(admit(f, xml));
	m = pxm_presenter_find(f->account, "bob@example.org", "long");
	g_assert_nonnull(m);
	g_assert_true(g_utf8_validate(m->excerpt, -1, NULL));
	g_assert_cmpuint(strlen(m->excerpt), <=, 120);
	g_assert_cmpuint(strlen(m->excerpt), >=, 118);
}

/* The XML parser hands text over in pieces (at entities, before non-ASCII
 * characters): the excerpt is the whole text, not the first piece. */
static void
test_excerpt_pieces(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *m;

	g_assert_true(admit(f, "<message type='chat' from='bob@example.org/x' "
			       "id='p1'><body>Tom &amp; Jerry, th&#xE9; ou "
			       "caf&#xE9; &apos;ici&apos;</body></message>"));
	m = pxm_presenter_find(f->account, "bob@example.org", "p1");
	g_assert_nonnull(m);
	g_assert_cmpstr(m->excerpt, ==, "Tom & Jerry, thé ou café 'ici'");
}

/* Only the latest messages of a conversation are kept. */
static void
test_bounded(Fixture *f, gconstpointer data)
{
	for (guint i = 0; i < 150; i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message type='chat' from='bob@example.org/x' "
			"id='n%u'><body>%u</body></message>",
			i, i);
		g_assert_true(admit(f, xml));
	}
	g_assert_null(pxm_presenter_find(f->account, "bob@example.org", "n0"));
	g_assert_nonnull(
		pxm_presenter_find(f->account, "bob@example.org", "n149"));
	g_assert_nonnull(
		pxm_presenter_find(f->account, "bob@example.org", "n50"));
}

/* Live messages are recognised in memory during the session, and written
 * to the store when the account goes offline (the server may deliver the
 * unacknowledged ones again, from offline storage). */
static void
test_live_written_offline(Fixture *f, gconstpointer data)
{
	static const char *const live =
		"<message type='chat' from='bob@example.org/x' id='l1'>"
		"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='s-1' "
		"by='alice@example.org'/></message>";
	static const char *const again =
		"<message type='chat' from='bob@example.org/x' id='l1'>"
		"<body>Hi</body><stanza-id xmlns='urn:xmpp:sid:0' id='s-1' "
		"by='alice@example.org'/><delay xmlns='urn:xmpp:delay' "
		"stamp='2026-11-21T10:00:00Z'/></message>";
	gboolean found = TRUE;
	PxmMessageIdentity id = { .conversation = "bob@example.org",
				  .stanza_id = "s-1" };

	g_assert_true(admit(f, live));
	g_assert_false(admit(f, live));
	/* Not in the store yet: live messages cost no write. */
	g_assert_true(pxm_store_identity_lookup(f->account->store, &id, &found,
						NULL, NULL));
	g_assert_false(found);

	pxm_test_account_close(f);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	g_assert_false(admit(f, again));
}

/* An archive result as pxm_account_replay() hands it to the presenter. */
static PxmAdmission
check_archived(Fixture *f, const char *id, gboolean requested)
{
	g_autofree char *xml = g_strdup_printf(
		"<message type='chat' from='bob@example.org/x' "
		"to='alice@example.org/pidgin' id='%s'><body>Old</body>"
		"</message>",
		id);
	xmlnode *node = xmlnode_from_str(xml, -1);
	g_autofree char *stanza_id = g_strconcat("archive-", id, NULL);
	PxmStanza st;
	PxmAdmission admission;

	g_assert_nonnull(node);
	pxm_stanza_init(&st, node, FALSE);
	st.origin = PXM_ORIGIN_ARCHIVE;
	st.timestamp = 1795255200;
	st.requested = requested;
	pxm_stanza_set(&st.stanza_id, stanza_id);
	admission = pxm_presenter_check(f->account, &st);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
	return admission;
}

/* History on demand: what this session showed is skipped, what an earlier
 * session showed is shown again without being logged again, the rest is
 * new; catching up keeps skipping both. */
static void
test_requested_again(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *m;

	g_assert_cmpint(check_archived(f, "a", FALSE), ==, PXM_ADMISSION_NEW);
	g_assert_cmpint(check_archived(f, "a", FALSE), ==,
			PXM_ADMISSION_DUPLICATE);
	g_assert_cmpint(check_archived(f, "a", TRUE), ==,
			PXM_ADMISSION_DUPLICATE);
	pxm_presenter_write_identities(f->account);

	/* A restart: the window is empty, the store remembers. */
	pxm_test_account_close(f);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	g_assert_cmpint(check_archived(f, "a", FALSE), ==,
			PXM_ADMISSION_DUPLICATE);
	g_assert_null(pxm_presenter_find(f->account, "bob@example.org", "a"));
	g_assert_cmpint(check_archived(f, "a", TRUE), ==, PXM_ADMISSION_AGAIN);
	m = pxm_presenter_find(f->account, "bob@example.org", "archive-a");
	g_assert_nonnull(m);
	g_assert_cmpstr(m->excerpt, ==, "Old");
	/* Shown now: not a second time in this session. */
	g_assert_cmpint(check_archived(f, "a", TRUE), ==,
			PXM_ADMISSION_DUPLICATE);
	g_assert_cmpint(check_archived(f, "b", TRUE), ==, PXM_ADMISSION_NEW);
	g_assert_cmpint(check_archived(f, "b", FALSE), ==,
			PXM_ADMISSION_DUPLICATE);

	/* The new one went to the store; the one shown again is there
	 * once. */
	pxm_test_account_close(f);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	g_assert_cmpint(check_archived(f, "b", FALSE), ==,
			PXM_ADMISSION_DUPLICATE);
	g_assert_cmpint(check_archived(f, "b", TRUE), ==, PXM_ADMISSION_AGAIN);
	g_assert_cmpint(check_archived(f, "a", TRUE), ==, PXM_ADMISSION_AGAIN);
}

static void
test_first_words(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *text;
		guint max;
		const char *words;
	} cases[] = {
		{ NULL, 10, "" },
		{ "", 10, "" },
		{ "  Hello\n\t world  ", 40, "Hello world" },
		/* Direction controls (RLO, LRI, RLM) left out. */
		{ "a\u202Eb\u2066c\u200F d", 40, "abc d" },
		/* Cut at a word's end past half of the bound... */
		{ "one two three four", 10, "one two…" },
		/* ...within the word when none ends that far... */
		{ "a bcdefghij", 6, "a bcde…" },
		{ "abcdefghijkl", 5, "abcde…" },
		/* ...and counted in characters, not bytes. */
		{ "ééééé ééé", 7, "ééééé…" },
		{ "exactly ten", 11, "exactly ten" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *words = pxm_text_first_words_dup(cases[i].text,
								  cases[i].max);

		g_assert_cmpstr(words, ==, cases[i].words);
	}
}

#define BOB "bob@example.org"
#define CAPS                                                                   \
	"<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' "             \
	"node='https://example.org' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/>"

static void
test_presence_shared(Fixture *f, gconstpointer data)
{
	g_assert_false(pxm_account_shares_presence(f->account, BOB));
	/* Read before any stage runs: no extension needs to be on. */
	pxm_test_receive(f, "<presence from='Bob@Example.org/phone'/>");
	g_assert_true(pxm_account_shares_presence(f->account, BOB));
	pxm_test_receive(f, "<presence from='" BOB "/laptop'/>");
	pxm_test_receive(f,
			 "<presence from='" BOB "/phone' type='unavailable'/>");
	g_assert_true(pxm_account_shares_presence(f->account, BOB));
	pxm_test_receive(f, "<presence from='" BOB "/laptop' type='error'/>");
	g_assert_false(pxm_account_shares_presence(f->account, BOB));

	/* Losing the subscription forgets every resource. */
	pxm_test_receive(f, "<presence from='" BOB "/phone'/>");
	pxm_test_receive(f, "<presence from='" BOB "/laptop'/>");
	pxm_test_receive(f, "<presence from='" BOB "' type='unsubscribed'/>");
	g_assert_false(pxm_account_shares_presence(f->account, BOB));

	/* Room occupants, a bare JID, other types and our own resources are
	 * no contacts' resources. */
	pxm_test_receive(
		f, "<presence from='room@muc.example.org/bob'><x "
		   "xmlns='http://jabber.org/protocol/muc#user'/></presence>");
	g_assert_false(pxm_account_shares_presence(f->account,
						   "room@muc.example.org"));
	pxm_test_receive(f, "<presence from='" BOB "'/>");
	pxm_test_receive(f, "<presence from='" BOB "/x' type='subscribe'/>");
	g_assert_false(pxm_account_shares_presence(f->account, BOB));
	pxm_test_receive(f, "<presence from='alice@example.org/phone'/>");
	g_assert_false(
		pxm_account_shares_presence(f->account, "alice@example.org"));
}

/* Without libpurple (unit tests) no caps are known: a resource that
 * announced caps has none of the features asked about. */
static void
test_presence_may_support(Fixture *f, gconstpointer data)
{
	const char *feature = "urn:xmpp:receipts";

	/* Nothing known: asking is allowed. */
	g_assert_true(pxm_account_peer_may_support(f->account, BOB, feature));
	g_assert_true(pxm_account_peer_may_support(f->account, BOB "/phone",
						   feature));

	pxm_test_receive(f,
			 "<presence from='" BOB "/phone'>" CAPS "</presence>");
	g_assert_false(pxm_account_peer_may_support(f->account, BOB "/phone",
						    feature));
	g_assert_false(pxm_account_peer_may_support(f->account, BOB, feature));
	/* Another resource: unknown. */
	g_assert_true(pxm_account_peer_may_support(f->account, BOB "/laptop",
						   feature));

	/* One resource without caps: the bare JID may reach it. */
	pxm_test_receive(f, "<presence from='" BOB "/laptop'/>");
	g_assert_true(pxm_account_peer_may_support(f->account, BOB, feature));
	g_assert_true(pxm_account_peer_may_support(f->account, BOB "/laptop",
						   feature));
	g_assert_false(pxm_account_peer_may_support(f->account, BOB "/phone",
						    feature));

	pxm_test_receive(f, "<presence from='" BOB
			    "/laptop' type='unavailable'/>");
	g_assert_false(pxm_account_peer_may_support(f->account, BOB, feature));
	pxm_test_receive(f,
			 "<presence from='" BOB "/phone' type='unavailable'/>");
	g_assert_true(pxm_account_peer_may_support(f->account, BOB, feature));
}

#define ROOM "room@muc.example.org"
#define MUC_X "<x xmlns='http://jabber.org/protocol/muc#user'/>"

static void
test_occupant_joined(Fixture *f, gconstpointer data)
{
	gint64 later = g_get_real_time() / G_USEC_PER_SEC + 60;

	g_assert_false(
		pxm_account_occupant_joined_since(f->account, NULL, later));
	g_assert_false(pxm_account_occupant_joined_since(f->account,
							 ROOM "/bob", later));
	/* Only a room's presence tells of occupants. */
	pxm_test_receive(f, "<presence from='" ROOM "/bob'/>");
	g_assert_false(pxm_account_occupant_joined_since(f->account,
							 ROOM "/bob", later));

	pxm_test_receive(f, "<presence from='Room@MUC.example.org/bob'>" MUC_X
			    "</presence>");
	pxm_test_receive(f, "<presence from='" ROOM "/carol'>" MUC_X
			    "</presence>");
	g_assert_true(pxm_account_occupant_joined_since(f->account, ROOM "/bob",
							later));
	/* Not for what was sent before the join. */
	g_assert_false(pxm_account_occupant_joined_since(f->account,
							 ROOM "/bob", 1000));

	/* An occupant leaves: its nick is free for someone else. */
	pxm_test_receive(f, "<presence from='" ROOM
			    "/bob' type='unavailable'>" MUC_X "</presence>");
	g_assert_false(pxm_account_occupant_joined_since(f->account,
							 ROOM "/bob", later));
	g_assert_true(pxm_account_occupant_joined_since(f->account,
							ROOM "/carol", later));

	/* We leave (status 110): every occupant of the room is forgotten. */
	pxm_test_receive(
		f, "<presence from='" ROOM "/alice' type='unavailable'><x "
		   "xmlns='http://jabber.org/protocol/muc#user'><status "
		   "code='110'/></x></presence>");
	g_assert_false(pxm_account_occupant_joined_since(f->account,
							 ROOM "/carol", later));
}

/* --- Corrections (XEP-0308): which message a shown one replaces -------- */

#define BOB "bob@example.org"
#define REPLACE(id) "<replace xmlns='urn:xmpp:message-correct:0' id='" id "'/>"

static const PxmShownMessage *
shown(Fixture *f, const char *conversation, const char *id)
{
	const PxmShownMessage *m = pxm_presenter_find(f->account, conversation,
						      id);

	g_assert_nonnull(m);
	return m;
}

/* A message from bob (through the incoming pipeline), or to him (as the
 * compose phase records it). */
static void
chat(Fixture *f, gboolean mine, const char *id, const char *more)
{
	g_autofree char *xml = g_strdup_printf(
		"<message type='chat' %s='bob@example.org/x' id='%s'>"
		"<body>Text %s</body>%s</message>",
		mine ? "to" : "from", id, id, more);
	xmlnode *node;
	PxmStanza st;

	if (!mine) {
		g_assert_true(admit(f, xml));
		return;
	}
	node = pxm_test_parse(xml);
	pxm_stanza_init(&st, node, TRUE);
	pxm_presenter_remember_sent(f->account, st.to, &st);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
}

#define from_bob(f, id, more) chat(f, FALSE, id, more)
#define sent(f, id, more) chat(f, TRUE, id, more)

/* Section 5: corrections of corrections lead to the first version, whether
 * they name it (as they should) or the correction before. */
static void
test_replaces_chain(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *first;

	from_bob(f, "a", "");
	from_bob(f, "b", REPLACE("a"));
	from_bob(f, "c", REPLACE("b"));
	from_bob(f, "d", REPLACE("a"));
	first = shown(f, BOB, "a");
	g_assert_null(first->replaces);
	g_assert_cmpstr(shown(f, BOB, "b")->replaces, ==, "a");
	g_assert_cmpstr(shown(f, BOB, "c")->replaces, ==, "a");
	g_assert_cmpstr(shown(f, BOB, "d")->replaces, ==, "a");
	g_assert_true(pxm_presenter_first_version(f->account,
						  shown(f, BOB, "c")) == first);
	g_assert_true(pxm_presenter_first_version(f->account, first) == first);
	g_assert_null(pxm_presenter_first_version(f->account, NULL));
}

/* Ours: sent here, from another device (a carbon), from the archive; a
 * message and its corrections from anywhere make one chain. */
static void
test_replaces_own(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) carbon = NULL;
	g_autoptr(xmlnode) archived = NULL;
	const PxmShownMessage *last;

	sent(f, "s1", "");
	sent(f, "s2", REPLACE("s1"));
	g_assert_cmpstr(shown(f, BOB, "s2")->replaces, ==, "s1");
	/* How the carbons extension hands on a copy (unit tests have no
	 * libpurple account to show it). */
	carbon = pxm_test_parse(
		"<message type='chat' from='alice@example.org/phone' "
		"to='bob@example.org' id='s3'><body>Mine s3</body>" REPLACE(
			"s2") "</message>");
	g_assert_true(pxm_account_replay(f->account, carbon, PXM_ORIGIN_CARBON,
					 NULL, 0, PXM_REPLAY_CATCHUP));
	g_assert_cmpstr(shown(f, BOB, "s3")->replaces, ==, "s1");
	archived = pxm_test_parse(
		"<message type='chat' from='alice@example.org/laptop' "
		"to='bob@example.org' id='s4'><body>Mine s4</body>" REPLACE(
			"s1") "</message>");
	g_assert_true(pxm_account_replay(f->account, archived,
					 PXM_ORIGIN_ARCHIVE, "archive-s4", 0,
					 PXM_REPLAY_CATCHUP));
	last = pxm_presenter_last(f->account, BOB, PXM_LAST_SENT);
	g_assert_cmpstr(last->id, ==, "s4");
	g_assert_cmpstr(last->replaces, ==, "s1");
	g_assert_true(pxm_presenter_first_version(f->account, last) ==
		      shown(f, BOB, "s1"));
	/* The contact's messages are not ours to correct, nor ours his. */
	from_bob(f, "b1", REPLACE("s1"));
	g_assert_null(shown(f, BOB, "b1")->replaces);
	sent(f, "s5", REPLACE("b1"));
	g_assert_null(shown(f, BOB, "s5")->replaces);
}

#define ROOM_MESSAGE(nick, id, more)                                           \
	"<message type='groupchat' from='" ROOM "/" nick "' id='" id "'>"      \
	"<body>" id "</body>" more "</message>"

/* Section 5: only a message of the same sender is corrected (the same full
 * JID in a room, a message of the same conversation); section 6: in a
 * room, one sent since the sender last joined. */
static void
test_replaces_forged(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *fix;

	/* Another conversation's message is not looked for. */
	from_bob(f, "a", "");
	g_assert_true(admit(f, "<message type='chat' "
			       "from='carol@example.org/x' id='c1'>"
			       "<body>Carol</body>" REPLACE("a") "</message>"));
	g_assert_null(shown(f, "carol@example.org", "c1")->replaces);

	pxm_test_receive(f,
			 "<presence from='" ROOM "/bob'>" MUC_X "</presence>");
	pxm_test_receive(f,
			 "<presence from='" ROOM "/eve'>" MUC_X "</presence>");
	g_assert_true(admit(f, ROOM_MESSAGE("bob", "r1", "")));
	g_assert_true(admit(f, ROOM_MESSAGE("eve", "e1", REPLACE("r1"))));
	g_assert_null(shown(f, ROOM, "e1")->replaces);
	/* eve gives a message bob's id: a correction of bob's is still of
	 * bob's. */
	g_assert_true(admit(f,
			    "<message type='groupchat' from='" ROOM
			    "/eve' id='r1'><body>Same id</body>"
			    "<stanza-id xmlns='urn:xmpp:sid:0' id='x' by='" ROOM
			    "'/></message>"));
	g_assert_true(admit(f, ROOM_MESSAGE("bob", "r2", REPLACE("r1"))));
	fix = shown(f, ROOM, "r2");
	g_assert_cmpstr(fix->replaces, ==, "r1");
	g_assert_cmpstr(pxm_presenter_first_version(f->account, fix)->sender,
			==, ROOM "/bob");
	/* Sent before bob joined (room history): the nick may have been
	 * someone else's. */
	g_assert_true(admit(f, ROOM_MESSAGE("bob", "h1",
					    "<delay xmlns='urn:xmpp:delay' "
					    "stamp='2020-01-01T00:00:00Z'/>")));
	g_assert_true(admit(f, ROOM_MESSAGE("bob", "h2", REPLACE("h1"))));
	g_assert_null(shown(f, ROOM, "h2")->replaces);
	/* A nick never seen joining. */
	g_assert_true(admit(f, ROOM_MESSAGE("ghost", "g1", "")));
	g_assert_true(admit(f, ROOM_MESSAGE("ghost", "g2", REPLACE("g1"))));
	g_assert_null(shown(f, ROOM, "g2")->replaces);
}

static void
test_replaces_malformed(Fixture *f, gconstpointer data)
{
	from_bob(f, "a", "");
	from_bob(f, "m1", "<replace xmlns='urn:xmpp:message-correct:0'/>");
	from_bob(f, "m2", REPLACE(""));
	from_bob(f, "m3", "<replace xmlns='urn:xmpp:other' id='a'/>");
	from_bob(f, "m4", "<replace id='a'/>");
	/* Naming itself, or a message of the same id. */
	from_bob(f, "m5", REPLACE("m5"));
	g_assert_true(admit(f, "<message type='chat' from='bob@example.org/x' "
			       "id='m5'><body>Again</body><origin-id "
			       "xmlns='urn:xmpp:sid:0' id='o-m5'/>" REPLACE(
				       "m5") "</message>"));
	g_assert_null(shown(f, BOB, "o-m5")->replaces);
	/* Unknown: not shown this session. */
	from_bob(f, "m6", REPLACE("zz"));
	for (guint i = 1; i <= 6; i++) {
		g_autofree char *id = g_strdup_printf("m%u", i);

		g_assert_null(shown(f, BOB, id)->replaces);
	}
}

/* Kept with each shown message: as many as the presenter keeps per
 * conversation, and only this session. */
static void
test_replaces_bounded(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *fix;

	from_bob(f, "a", "");
	from_bob(f, "b", REPLACE("a"));
	/* The first version goes; the correction still knows its id. */
	for (guint i = 0; i < 99; i++) {
		g_autofree char *id = g_strdup_printf("n%u", i);

		from_bob(f, id, "");
	}
	g_assert_null(pxm_presenter_find(f->account, BOB, "a"));
	fix = shown(f, BOB, "b");
	g_assert_cmpstr(fix->replaces, ==, "a");
	g_assert_null(pxm_presenter_first_version(f->account, fix));
	/* The oldest shown is the one corrected: what it replaces outlives
	 * it. */
	from_bob(f, "c", REPLACE("b"));
	g_assert_null(pxm_presenter_find(f->account, BOB, "b"));
	g_assert_cmpstr(shown(f, BOB, "c")->replaces, ==, "a");
	/* Naming a message no longer kept. */
	from_bob(f, "d", REPLACE("a"));
	g_assert_null(shown(f, BOB, "d")->replaces);

	/* Dropped with the account. */
	pxm_test_account_close(f);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	g_assert_null(pxm_presenter_find(f->account, BOB, "c"));
	from_bob(f, "e", REPLACE("c"));
	g_assert_null(shown(f, BOB, "e")->replaces);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func)                                                        \
	g_test_add("/presenter/" path, Fixture, NULL, setup, func,             \
		   pxm_test_account_teardown)
	ADD("find-and-last", test_find_and_last);
	ADD("sent-remembered", test_sent_remembered);
	ADD("last-by-time", test_last_by_time);
	ADD("excerpt-cut", test_excerpt_cut);
	ADD("excerpt-pieces", test_excerpt_pieces);
	ADD("bounded", test_bounded);
	ADD("live-written-offline", test_live_written_offline);
	ADD("requested-again", test_requested_again);
	ADD("first-words", test_first_words);
	ADD("presence/shared", test_presence_shared);
	ADD("presence/may-support", test_presence_may_support);
	ADD("occupant-joined", test_occupant_joined);
	ADD("replaces/chain", test_replaces_chain);
	ADD("replaces/own", test_replaces_own);
	ADD("replaces/forged", test_replaces_forged);
	ADD("replaces/malformed", test_replaces_malformed);
	ADD("replaces/bounded", test_replaces_bounded);
	return g_test_run();
}

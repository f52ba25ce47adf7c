// SPDX-License-Identifier: GPL-3.0-or-later
/* The presenter's identity gate and its memory of shown messages. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test.h"

#define OWN "alice@example.org/pidgin"

typedef struct {
	char *dir;
	char *path;
	PxmAccount *account;
} Fixture;

static void
drop_sent(PxmAccount *account, xmlnode *stanza, gpointer data)
{
	xmlnode_free(stanza);
}

static PxmAccount *
open_account(Fixture *f)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = pxm_store_open(f->path, &error);

	PxmAccount *account;

	g_assert_no_error(error);
	account = pxm_account_new(pxm_host_get_registry(), NULL, OWN, store,
				  drop_sent, NULL);
	/* For origin-ids and stanza-ids to be read. */
	g_assert_true(pxm_account_set_active(
		account,
		pxm_registry_lookup(pxm_host_get_registry(),
				    "xep0359-stanza-id")
			->index,
		TRUE));
	return account;
}

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_host_init(&error));
	f->dir = g_dir_make_tmp("pxm-presenter-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "store.sqlite3", NULL);
	f->account = open_account(f);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	g_autoptr(GDir) d = NULL;
	const char *name;

	pxm_account_free(f->account, NULL);
	pxm_host_shutdown();
	d = g_dir_open(f->dir, 0, NULL);
	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *p = g_build_filename(f->dir, name, NULL);
		g_remove(p);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
	g_free(f->path);
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

	pxm_account_free(f->account, NULL);
	f->account = open_account(f);
	g_assert_false(admit(f, again));
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func)                                                        \
	g_test_add("/presenter/" path, Fixture, NULL, setup, func, teardown)
	ADD("find-and-last", test_find_and_last);
	ADD("sent-remembered", test_sent_remembered);
	ADD("last-by-time", test_last_by_time);
	ADD("excerpt-cut", test_excerpt_cut);
	ADD("excerpt-pieces", test_excerpt_pieces);
	ADD("bounded", test_bounded);
	ADD("live-written-offline", test_live_written_offline);
	return g_test_run();
}

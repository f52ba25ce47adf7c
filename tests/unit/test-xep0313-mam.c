// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0313 through the host's real pipeline: the catch-up queries (exact
 * XML), RSM paging, results accepted only for our queries from our archive,
 * malformed results skipped, pages committed with their position, stale
 * positions, live positions, and the identity gate against duplicates. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define OWN "alice@example.org/pidgin"
#define BARE "alice@example.org"
#define BOB "bob@example.org"
#define MAM "xep0313-mam"

typedef PxmTestAccount Fixture;

/* Opens the account again on the same store, with what it runs. */
static void
open_account(Fixture *f)
{
	g_ptr_array_set_size(f->sent, 0);
	pxm_test_account_open(f);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	pxm_test_account_activate(f, MAM);
}

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	pxm_test_account_activate(f, "xep0359-stanza-id");
	pxm_test_account_activate(f, MAM);
}

static void
handle_iq(Fixture *f, const char *xml)
{
	xmlnode *iq = pxm_test_parse(xml);

	g_assert_true(pxm_iq_tracker_handle(f->account->iq, iq));
	xmlnode_free(iq);
}

/* Answers every disco#info query sent so far to our bare JID. */
static void
answer_disco(Fixture *f, const char *features)
{
	for (guint i = 0; i < f->sent->len; i++) {
		xmlnode *iq = pxm_test_parse(f->sent->pdata[i]);

		if (g_strcmp0(xmlnode_get_attrib(iq, "to"), BARE) == 0 &&
		    xmlnode_get_child_with_namespace(iq, "query",
						     PXM_NS_DISCO_INFO)) {
			g_autofree char *xml = g_strdup_printf(
				"<iq type='result' from='" BARE "' id='%s'>"
				"<query xmlns='%s'><identity "
				"category='account' type='registered'/>%s"
				"</query></iq>",
				xmlnode_get_attrib(iq, "id"), PXM_NS_DISCO_INFO,
				features);
			handle_iq(f, xml);
		}
		xmlnode_free(iq);
	}
}

#define WITH_MAM                                                               \
	"<feature var='urn:xmpp:sid:0'/><feature var='urn:xmpp:mam:2'/>"

static guint
count_queries(Fixture *f)
{
	guint n = 0;

	for (guint i = 0; i < f->sent->len; i++)
		if (strstr(f->sent->pdata[i], "xmlns='urn:xmpp:mam:2'") != NULL)
			n++;
	return n;
}

/* The last archive query sent (a node to free). */
static xmlnode *
last_query(Fixture *f)
{
	for (guint i = f->sent->len; i-- > 0;)
		if (strstr(f->sent->pdata[i], "xmlns='urn:xmpp:mam:2'") != NULL)
			return pxm_test_parse(f->sent->pdata[i]);
	g_error("no archive query was sent");
	return NULL;
}

static const char *
queryid_of(xmlnode *iq)
{
	return xmlnode_get_attrib(xmlnode_get_child(iq, "query"), "queryid");
}

static char *
result_xml(const char *queryid, const char *id, const char *from,
	   const char *to, const char *body, const char *stamp)
{
	return g_strdup_printf(
		"<message to='" OWN
		"' id='r-%s'><result xmlns='urn:xmpp:mam:2' "
		"queryid='%s' id='%s'><forwarded xmlns='urn:xmpp:forward:0'>"
		"<delay xmlns='urn:xmpp:delay' stamp='%s'/><message "
		"xmlns='jabber:client' from='%s' to='%s' type='chat' "
		"id='m-%s'><body>%s</body></message></forwarded></result>"
		"</message>",
		id, queryid, id, stamp, from, to, id, body);
}

static void
feed(Fixture *f, const char *queryid, const char *id, const char *from,
     const char *to, const char *body)
{
	g_autofree char *xml = result_xml(queryid, id, from, to, body,
					  "2026-01-02T03:04:05Z");

	g_assert_cmpint(pxm_test_receive(f, xml), ==, PXM_VERDICT_CONSUMED);
}

static void
fin(Fixture *f, xmlnode *query, const char *first, const char *last,
    gboolean complete)
{
	g_autofree char *rsm = NULL;
	g_autofree char *xml = NULL;

	if (first != NULL)
		rsm = g_strdup_printf("<first>%s</first><last>%s</last>", first,
				      last);
	xml = g_strdup_printf(
		"<iq type='result' id='%s'><fin xmlns='urn:xmpp:mam:2'%s>"
		"<set xmlns='http://jabber.org/protocol/rsm'>%s</set></fin>"
		"</iq>",
		xmlnode_get_attrib(query, "id"),
		complete ? " complete='true'" : "", rsm != NULL ? rsm : "");
	handle_iq(f, xml);
}

static char *
stored(Fixture *f, const char *key)
{
	char *value = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_store_kv_get_string_dup(f->account->store, MAM, key,
						  &value, &error));
	g_assert_no_error(error);
	return value;
}

static gboolean
identity_known(Fixture *f, const char *conversation, const char *stanza_id)
{
	PxmMessageIdentity mi = { .conversation = conversation,
				  .stanza_id = stanza_id };
	gboolean found = FALSE;
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_store_identity_lookup(f->account->store, &mi, &found,
						NULL, &error));
	return found;
}

static const char *
last_shown(Fixture *f, const char *conversation)
{
	const PxmShownMessage *m = pxm_presenter_last(f->account, conversation,
						      PXM_LAST_ANY);

	return m != NULL ? m->stanza_id : NULL;
}

/* The query checking an empty answer to a stored position (stamp
 * 2026-01-02T03:04:05Z): by time, a minute before it, no 'after'.
 * Answered with @ids (NULL-terminated), complete. */
static void
answer_check(Fixture *f, const char *const *ids)
{
	xmlnode *q = last_query(f);
	xmlnode *field;
	g_autofree char *start = NULL;

	g_assert_null(xmlnode_get_child(q, "query/set/after"));
	field = xmlnode_get_next_twin(xmlnode_get_child(q, "query/x/field"));
	g_assert_cmpstr(xmlnode_get_attrib(field, "var"), ==, "start");
	start = xmlnode_get_data(xmlnode_get_child(field, "value"));
	g_assert_cmpstr(start, ==, "2026-01-02T03:03:05Z");
	for (guint i = 0; ids[i] != NULL; i++)
		feed(f, queryid_of(q), ids[i], BOB "/phone", OWN, ids[i]);
	fin(f, q, ids[0],
	    ids[0] != NULL ? ids[g_strv_length((char **)ids) - 1] : NULL, TRUE);
	xmlnode_free(q);
}

/* --- Queries ---------------------------------------------------------- */

/* First sign-in: a window of the last days (7 by default), exact XML. */
static void
test_first_query(Fixture *f, gconstpointer data)
{
	g_autoptr(GDateTime) start = NULL;
	g_autofree char *xml = NULL;
	g_autofree char *expected = NULL;
	g_autofree char *stamp = NULL;
	xmlnode *iq, *field;
	gint64 when, expected_when;

	g_assert_cmpuint(count_queries(f), ==, 0);
	answer_disco(f, WITH_MAM);
	g_assert_cmpuint(count_queries(f), ==, 1);
	iq = last_query(f);
	g_assert_true(g_uuid_string_is_valid(queryid_of(iq)));
	field = xmlnode_get_child(iq, "query/x/field");
	field = xmlnode_get_next_twin(field);
	stamp = xmlnode_get_data(xmlnode_get_child(field, "value"));
	start = g_date_time_new_from_iso8601(stamp, NULL);
	g_assert_nonnull(start);
	when = g_date_time_to_unix(start);
	expected_when = g_get_real_time() / G_USEC_PER_SEC - 7 * 24 * 3600;
	g_assert_cmpint(ABS(when - expected_when), <=, 5);
	xml = xmlnode_to_str(iq, NULL);
	expected = g_strdup_printf(
		"<iq type='set' id='%s'><query xmlns='urn:xmpp:mam:2' "
		"queryid='%s'><x xmlns='jabber:x:data' type='submit'><field "
		"var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value>"
		"</field><field var='start'><value>%s</value></field></x><set "
		"xmlns='http://jabber.org/protocol/rsm'><max>250</max></set>"
		"</query></iq>",
		xmlnode_get_attrib(iq, "id"), queryid_of(iq), stamp);
	g_assert_cmpstr(xml, ==, expected);
	xmlnode_free(iq);
}

static void
test_no_archive(Fixture *f, gconstpointer data)
{
	answer_disco(f, "<feature var='urn:xmpp:sid:0'/>");
	g_assert_cmpuint(count_queries(f), ==, 0);
}

/* RSM paging: 'after' the <last/> of each page until complete='true';
 * each page commits its identities with its position. */
static void
test_paging(Fixture *f, gconstpointer data)
{
	xmlnode *q1, *q2;
	g_autofree char *xml = NULL;
	g_autofree char *expected = NULL;
	g_autofree char *position = NULL;
	g_autofree char *stamp = NULL;

	answer_disco(f, WITH_MAM);
	q1 = last_query(f);
	feed(f, queryid_of(q1), "a1", BOB "/phone", OWN, "one");
	feed(f, queryid_of(q1), "a2", OWN, BOB, "two");
	/* Not shown before the page ends. */
	g_assert_null(last_shown(f, BOB));
	fin(f, q1, "a1", "a2", FALSE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "a2");
	g_assert_true(pxm_presenter_last(f->account, BOB, PXM_LAST_ANY)->sent);
	g_assert_cmpstr(pxm_presenter_last(f->account, BOB, PXM_LAST_RECEIVED)
				->stanza_id,
			==, "a1");
	/* The original time (XEP-0203 in <forwarded/>), not the arrival. */
	g_assert_cmpint(pxm_presenter_last(f->account, BOB, PXM_LAST_RECEIVED)
				->timestamp,
			==, 1767323045);
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "a2");
	stamp = stored(f, "position-stamp");
	g_assert_cmpstr(stamp, ==, "1767323045");
	g_assert_true(identity_known(f, BOB, "a1"));
	g_assert_true(identity_known(f, BOB, "a2"));

	q2 = last_query(f);
	g_assert_cmpstr(queryid_of(q2), ==, queryid_of(q1));
	xml = xmlnode_to_str(xmlnode_get_child(q2, "query/set"), NULL);
	g_assert_cmpstr(xml, ==,
			"<set xmlns='http://jabber.org/protocol/rsm'>"
			"<max>250</max><after>a2</after></set>");
	feed(f, queryid_of(q2), "a3", BOB "/phone", OWN, "three");
	fin(f, q2, "a3", "a3", TRUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "a3");
	g_free(position);
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "a3");
	/* Complete: no more queries. */
	g_assert_cmpuint(count_queries(f), ==, 2);
	xmlnode_free(q1);
	xmlnode_free(q2);
}

/* The next sign-in goes on from the stored position, not by time. */
static void
test_resume_from_position(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *xml = NULL;
	g_autofree char *expected = NULL;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "a1", BOB "/phone", OWN, "one");
	fin(f, q, "a1", "a1", TRUE);
	xmlnode_free(q);
	pxm_test_account_close(f);

	open_account(f);
	answer_disco(f, WITH_MAM);
	q = last_query(f);
	xml = xmlnode_to_str(q, NULL);
	expected = g_strdup_printf(
		"<iq type='set' id='%s'><query xmlns='urn:xmpp:mam:2' "
		"queryid='%s'><x xmlns='jabber:x:data' type='submit'><field "
		"var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value>"
		"</field></x><set xmlns='http://jabber.org/protocol/rsm'>"
		"<max>250</max><after>a1</after></set></query></iq>",
		xmlnode_get_attrib(q, "id"), queryid_of(q));
	g_assert_cmpstr(xml, ==, expected);
	/* The same message again (the server repeats it): not shown. */
	feed(f, queryid_of(q), "a1", BOB "/phone", OWN, "one");
	feed(f, queryid_of(q), "a2", BOB "/phone", OWN, "two");
	fin(f, q, "a1", "a2", TRUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "a2");
	g_assert_null(pxm_presenter_find(f->account, BOB, "a1"));
	xmlnode_free(q);
}

/* --- Safety ----------------------------------------------------------- */

/* Security considerations: results only for a query we have open, from
 * the archive it went to. */
static void
test_forged_results(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *from_other = NULL;
	g_autofree char *from_resource = NULL;
	g_autofree char *unknown = NULL;
	g_autofree char *no_queryid = NULL;
	g_autofree char *position = NULL;
	g_autofree char *ok = NULL;
	char *p;

	/* Before any query: nothing is open. */
	unknown = result_xml("nope", "x0", BOB "/phone", OWN, "early",
			     "2026-01-02T03:04:05Z");
	g_assert_cmpint(pxm_test_receive(f, unknown), ==, PXM_VERDICT_DROP);

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	ok = result_xml(queryid_of(q), "x1", BOB "/phone", OWN, "forged",
			"2026-01-02T03:04:05Z");
	/* The right queryid, but sent by someone else. */
	p = strstr(ok, "<message to=");
	g_assert_nonnull(p);
	from_other = g_strdup_printf("<message from='" BOB "' %s", ok + 9);
	from_resource = g_strdup_printf("<message from='" BARE "/evil' %s",
					ok + 9);
	g_assert_cmpint(pxm_test_receive(f, from_other), ==, PXM_VERDICT_DROP);
	g_assert_cmpint(pxm_test_receive(f, from_resource), ==,
			PXM_VERDICT_DROP);
	/* Another queryid. */
	g_free(unknown);
	unknown = result_xml("f27", "x2", BOB "/phone", OWN, "forged",
			     "2026-01-02T03:04:05Z");
	g_assert_cmpint(pxm_test_receive(f, unknown), ==, PXM_VERDICT_DROP);
	no_queryid = g_strdup(
		"<message><result xmlns='urn:xmpp:mam:2' id='x3'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
		"from='bob@example.org/a' to='alice@example.org' type='chat'>"
		"<body>forged</body></message></forwarded></result>"
		"</message>");
	g_assert_cmpint(pxm_test_receive(f, no_queryid), ==, PXM_VERDICT_DROP);
	/* From our bare JID (what servers may also say): accepted. */
	{
		g_autofree char *bare =
			g_strdup_printf("<message from='" BARE "' %s", ok + 9);

		g_assert_cmpint(pxm_test_receive(f, bare), ==,
				PXM_VERDICT_CONSUMED);
	}
	fin(f, q, "x1", "x1", TRUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "x1");
	g_assert_null(pxm_presenter_find(f->account, BOB, "x2"));
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "x1");
	xmlnode_free(q);
}

/* Malformed results are skipped; the rest of the page is kept. */
static void
test_malformed_results(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		/* no id */
		"<message><result xmlns='urn:xmpp:mam:2' queryid='%s'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='bob@example.org/a' "
		"to='alice@example.org' type='chat'><body>b1</body></message>"
		"</forwarded></result></message>",
		/* no forwarded */
		"<message><result xmlns='urn:xmpp:mam:2' queryid='%s' "
		"id='b2'><message xmlns='jabber:client' "
		"from='bob@example.org/a' to='alice@example.org' type='chat'>"
		"<body>b2</body></message></result></message>",
		/* two messages */
		"<message><result xmlns='urn:xmpp:mam:2' queryid='%s' "
		"id='b3'><forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='bob@example.org/a' "
		"to='alice@example.org' type='chat'><body>b3</body></message>"
		"<message xmlns='jabber:client' from='bob@example.org/a' "
		"to='alice@example.org' type='chat'><body>b3</body></message>"
		"</forwarded></result></message>",
		/* a message between other people */
		"<message><result xmlns='urn:xmpp:mam:2' queryid='%s' "
		"id='b4'><forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='bob@example.org/a' "
		"to='carol@example.org' type='chat'><body>b4</body></message>"
		"</forwarded></result></message>",
		/* no sender */
		"<message><result xmlns='urn:xmpp:mam:2' queryid='%s' "
		"id='b5'><forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' to='alice@example.org' type='chat'>"
		"<body>b5</body></message></forwarded></result></message>",
		/* a message removed from the archive (section 3.3) */
		"<message><result xmlns='urn:xmpp:mam:2' queryid='%s' "
		"id='b6'><forwarded xmlns='urn:xmpp:forward:0'><delay "
		"xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>"
		"</forwarded></result></message>",
	};
	xmlnode *q;
	g_autofree char *position = NULL;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "g1", BOB "/phone", OWN, "good one");
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		GString *xml = g_string_new(bad[i]);

		g_string_replace(xml, "%s", queryid_of(q), 1);
		g_assert_cmpint(pxm_test_receive(f, xml->str), ==,
				PXM_VERDICT_DROP);
		g_string_free(xml, TRUE);
	}
	feed(f, queryid_of(q), "g2", BOB "/phone", OWN, "good two");
	fin(f, q, "g1", "b6", TRUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "g2");
	g_assert_null(last_shown(f, "carol@example.org"));
	/* The skipped ones are behind us for good. */
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "b6");
	xmlnode_free(q);
}

/* Section 6.1.1: item-not-found for a stale 'after': start again from
 * the time of the last message, with a new queryid. */
static void
test_stale_position(Fixture *f, gconstpointer data)
{
	xmlnode *q, *q2;
	g_autofree char *xml = NULL;
	g_autofree char *old_result = NULL;
	g_autofree char *position = NULL;
	g_autofree char *start = NULL;
	g_autofree char *after = NULL;
	xmlnode *field;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "old", BOB "/phone", OWN, "one");
	fin(f, q, "old", "old", TRUE);
	xmlnode_free(q);
	pxm_test_account_close(f);

	open_account(f);
	answer_disco(f, WITH_MAM);
	q = last_query(f);
	after = xmlnode_get_data(xmlnode_get_child(q, "query/set/after"));
	g_assert_cmpstr(after, ==, "old");
	xml = g_strdup_printf(
		"<iq type='error' id='%s'><error type='cancel'><item-not-found "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
		xmlnode_get_attrib(q, "id"));
	handle_iq(f, xml);
	q2 = last_query(f);
	g_assert_cmpuint(count_queries(f), ==, 2);
	g_assert_cmpstr(queryid_of(q2), !=, queryid_of(q));
	g_assert_null(xmlnode_get_child(q2, "query/set/after"));
	field = xmlnode_get_next_twin(xmlnode_get_child(q2, "query/x/field"));
	g_assert_cmpstr(xmlnode_get_attrib(field, "var"), ==, "start");
	start = xmlnode_get_data(xmlnode_get_child(field, "value"));
	/* 2026-01-02T03:04:05Z less the margin. */
	g_assert_cmpstr(start, ==, "2026-01-02T03:03:05Z");
	/* Results of the abandoned query no longer count. */
	old_result = result_xml(queryid_of(q), "z1", BOB "/phone", OWN, "x",
				"2026-01-02T03:04:05Z");
	g_assert_cmpint(pxm_test_receive(f, old_result), ==, PXM_VERDICT_DROP);
	/* The message we had comes again: recognised. */
	feed(f, queryid_of(q2), "old", BOB "/phone", OWN, "one");
	feed(f, queryid_of(q2), "new", BOB "/phone", OWN, "two");
	fin(f, q2, "old", "new", TRUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "new");
	g_assert_null(pxm_presenter_find(f->account, BOB, "old"));
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "new");
	xmlnode_free(q);
	xmlnode_free(q2);
}

/* Sign in again with "old" (2026-01-02T03:04:05Z) as the position (or
 * @position, a stale one, at the same time) and an empty, complete answer
 * to it. */
static void
empty_answer_to_old(Fixture *f, const char *position)
{
	xmlnode *q;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "old", BOB "/phone", OWN, "one");
	fin(f, q, "old", "old", TRUE);
	xmlnode_free(q);
	if (position != NULL)
		g_assert_true(pxm_store_kv_set_string(
			f->account->store, MAM, "position", position, NULL));
	pxm_test_account_close(f);

	open_account(f);
	answer_disco(f, WITH_MAM);
	q = last_query(f);
	fin(f, q, NULL, NULL, TRUE);
	xmlnode_free(q);
	/* Checked by time. */
	g_assert_cmpuint(count_queries(f), ==, 2);
}

/* ejabberd answers an 'after' it does not have with an empty, complete
 * page instead of item-not-found (section 6.1.1): the check by time does
 * not find the position, so what it has is new (shown once) and the
 * position moves on. */
static void
test_stale_position_empty(Fixture *f, gconstpointer data)
{
	g_autofree char *position = NULL;

	empty_answer_to_old(f, "gone");
	answer_check(f, (const char *const[]){ "x1", "old", "x2", NULL });
	g_assert_cmpuint(count_queries(f), ==, 2);
	g_assert_cmpstr(last_shown(f, BOB), ==, "x2");
	g_assert_nonnull(pxm_presenter_find(f->account, BOB, "x1"));
	/* The message we had comes again: recognised. */
	g_assert_null(pxm_presenter_find(f->account, BOB, "old"));
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "x2");
}

/* The check finds the position: what lies before it is what we had (not
 * shown, even if it was never shown here), what comes after is new. */
static void
test_empty_answer_checked(Fixture *f, gconstpointer data)
{
	g_autofree char *position = NULL;

	empty_answer_to_old(f, NULL);
	answer_check(f,
		     (const char *const[]){ "before", "old", "after", NULL });
	g_assert_cmpuint(count_queries(f), ==, 2);
	g_assert_null(pxm_presenter_find(f->account, BOB, "before"));
	g_assert_cmpstr(last_shown(f, BOB), ==, "after");
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "after");
}

/* The position is the last thing the archive has: nothing shown, the
 * position and its time stay; an empty check ends too (no loop). */
static void
test_empty_answer_caught_up(Fixture *f, gconstpointer data)
{
	g_autofree char *position = NULL;
	g_autofree char *stamp = NULL;

	empty_answer_to_old(f, NULL);
	answer_check(f, (const char *const[]){ "before", "old", NULL });
	g_assert_cmpuint(count_queries(f), ==, 2);
	g_assert_null(pxm_presenter_find(f->account, BOB, "before"));
	g_assert_null(last_shown(f, BOB));
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "old");
	stamp = stored(f, "position-stamp");
	g_assert_cmpstr(stamp, ==, "1767323045");

	pxm_test_account_close(f);
	open_account(f);
	answer_disco(f, WITH_MAM);
	{
		xmlnode *q = last_query(f);

		fin(f, q, NULL, NULL, TRUE);
		xmlnode_free(q);
	}
	answer_check(f, (const char *const[]){ NULL });
	g_assert_cmpuint(count_queries(f), ==, 2);
	g_free(position);
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "old");
}

/* Other errors end the catch-up, position untouched, told once. */
static void
test_refused(Fixture *f, gconstpointer data)
{
	static const char *const conditions[] = { "feature-not-implemented",
						  "policy-violation" };

	for (guint i = 0; i < G_N_ELEMENTS(conditions); i++) {
		xmlnode *q;
		g_autofree char *xml = NULL;
		g_autofree char *told = NULL;
		g_autofree char *position = NULL;

		if (i > 0) {
			pxm_test_account_close(f);
			open_account(f);
		}
		answer_disco(f, WITH_MAM);
		q = last_query(f);
		xml = g_strdup_printf(
			"<iq type='error' id='%s'><error type='cancel'><%s "
			"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
			"</iq>",
			xmlnode_get_attrib(q, "id"), conditions[i]);
		handle_iq(f, xml);
		g_assert_cmpuint(count_queries(f), ==, 1);
		told = stored(f, "noticed-error");
		g_assert_cmpstr(told, ==, conditions[i]);
		position = stored(f, "position");
		g_assert_null(position);
		xmlnode_free(q);
	}
}

/* --- Duplicates and positions ----------------------------------------- */

static const char *const live_msg =
	"<message type='chat' from='bob@example.org/phone' to='" OWN "' "
	"id='live-1'><body>live</body><stanza-id xmlns='urn:xmpp:sid:0' "
	"id='L1' by='alice@example.org'/></message>";

/* A message seen live in this session is not shown again from the
 * archive. */
static void
test_dedup_live(Fixture *f, gconstpointer data)
{
	xmlnode *q;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	/* Arrives live while the catch-up runs. */
	g_assert_cmpint(pxm_test_receive(f, live_msg), ==,
			PXM_VERDICT_CONTINUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "L1");
	feed(f, queryid_of(q), "a0", BOB "/phone", OWN, "older");
	{
		g_autofree char *xml = g_strdup_printf(
			"<message to='" OWN "'><result xmlns='urn:xmpp:mam:2' "
			"queryid='%s' id='L1'><forwarded "
			"xmlns='urn:xmpp:forward:0'><delay "
			"xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>"
			"<message xmlns='jabber:client' "
			"from='bob@example.org/phone' to='" OWN "' "
			"type='chat' id='live-1'><body>live</body></message>"
			"</forwarded></result></message>",
			queryid_of(q));

		g_assert_cmpint(pxm_test_receive(f, xml), ==,
				PXM_VERDICT_CONSUMED);
	}
	fin(f, q, "a0", "L1", TRUE);
	/* a0 was shown (older, so L1 stays the latest); L1 not again. */
	g_assert_nonnull(pxm_presenter_find(f->account, BOB, "a0"));
	g_assert_cmpstr(last_shown(f, BOB), ==, "L1");
	xmlnode_free(q);
}

/* Messages seen as carbons (sent from our other device, received there)
 * are not shown again from the archive, by our server's stanza-id (which
 * Prosody and ejabberd put in both kinds of carbons).  (Without a
 * libpurple account the host shows no unwrapped message: the carbons are
 * handed over as the carbons extension's unwrap stage would, through
 * pxm_account_replay(), which runs the same stages and identity gate.) */
static void
test_dedup_carbon(Fixture *f, gconstpointer data)
{
	xmlnode *sent = pxm_test_parse(
		"<message xmlns='jabber:client' from='" BARE "/phone' to='" BOB
		"' type='chat' id='c-sent'><body>from my phone</body>"
		"<stanza-id xmlns='urn:xmpp:sid:0' id='A1' by='" BARE "'/>"
		"</message>");
	xmlnode *received = pxm_test_parse(
		"<message xmlns='jabber:client' from='" BOB "/desk' to='" BARE
		"/phone' type='chat' id='c-recv'><body>to my phone</body>"
		"<stanza-id xmlns='urn:xmpp:sid:0' id='A2' by='" BARE "'/>"
		"</message>");
	xmlnode *q;
	g_autofree char *r1 = NULL;
	g_autofree char *r2 = NULL;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	g_assert_true(pxm_account_replay(f->account, sent, PXM_ORIGIN_CARBON,
					 NULL, 0, PXM_REPLAY_CATCHUP));
	g_assert_true(pxm_account_replay(f->account, received,
					 PXM_ORIGIN_CARBON, NULL, 0,
					 PXM_REPLAY_CATCHUP));
	/* Our server's stanza-id, believed by the stanza-id extension. */
	g_assert_nonnull(pxm_presenter_find(f->account, BOB, "A2"));
	xmlnode_free(sent);
	xmlnode_free(received);
	r1 = g_strdup_printf(
		"<message to='" OWN "'><result xmlns='urn:xmpp:mam:2' "
		"queryid='%s' id='A1'><forwarded xmlns='urn:xmpp:forward:0'>"
		"<delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>"
		"<message xmlns='jabber:client' from='" BARE "/phone' to='" BOB
		"' type='chat' id='c-sent'><body>from my phone</body>"
		"</message></forwarded></result></message>",
		queryid_of(q));
	r2 = g_strdup_printf(
		"<message to='" OWN "'><result xmlns='urn:xmpp:mam:2' "
		"queryid='%s' id='A2'><forwarded xmlns='urn:xmpp:forward:0'>"
		"<delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:06Z'/>"
		"<message xmlns='jabber:client' from='" BOB "/desk' to='" BARE
		"/phone' type='chat' id='c-recv'><body>to my phone</body>"
		"</message></forwarded></result></message>",
		queryid_of(q));
	g_assert_cmpint(pxm_test_receive(f, r1), ==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(pxm_test_receive(f, r2), ==, PXM_VERDICT_CONSUMED);
	feed(f, queryid_of(q), "A3", BOB "/desk", OWN, "new");
	fin(f, q, "A1", "A3", TRUE);
	g_assert_nonnull(pxm_presenter_find(f->account, BOB, "A3"));
	/* Still the carbons, not the archive's copies (their time). */
	g_assert_cmpint(pxm_presenter_find(f->account, BOB, "A1")->timestamp,
			!=, 1767323045);
	g_assert_cmpint(pxm_presenter_find(f->account, BOB, "A2")->timestamp,
			!=, 1767323046);
	xmlnode_free(q);
}

/* Offline storage delivers with a XEP-0203 delay: shown by the presenter
 * (as history, with its time), not by the prpl.  Messages without a
 * delay, room history and XHTML-IM stay the prpl's. */
static void
test_offline_delayed(Fixture *f, gconstpointer data)
{
	static const char *const offline =
		"<message type='chat' from='bob@example.org/phone' to='" BARE
		"' id='o1'><body>while you were away</body><delay "
		"xmlns='urn:xmpp:delay' from='example.org' "
		"stamp='2026-01-02T03:04:05Z'>Offline Storage</delay>"
		"<stanza-id xmlns='urn:xmpp:sid:0' id='O1' by='" BARE "'/>"
		"</message>";
	static const char *const prpl[] = {
		/* live */
		"<message type='chat' from='bob@example.org/phone' to='" OWN
		"' id='o2'><body>now</body></message>",
		/* room history */
		"<message type='groupchat' from='room@conference.example.org/"
		"bob' to='" OWN "' id='o3'><body>earlier</body><delay "
		"xmlns='urn:xmpp:delay' from='room@conference.example.org' "
		"stamp='2026-01-02T03:04:05Z'/></message>",
		/* XHTML-IM: the prpl renders it */
		"<message type='chat' from='bob@example.org/phone' to='" BARE
		"' id='o4'><body>bold</body><html "
		"xmlns='http://jabber.org/protocol/xhtml-im'><body "
		"xmlns='http://www.w3.org/1999/xhtml'><b>bold</b></body>"
		"</html><delay xmlns='urn:xmpp:delay' "
		"stamp='2026-01-02T03:04:05Z'/></message>",
		/* no body */
		"<message type='chat' from='bob@example.org/phone' to='" BARE
		"' id='o5'><delay xmlns='urn:xmpp:delay' "
		"stamp='2026-01-02T03:04:05Z'/></message>",
		/* an error bounced later */
		"<message type='error' from='bob@example.org/phone' to='" OWN
		"' id='o6'><body>x</body><delay xmlns='urn:xmpp:delay' "
		"stamp='2026-01-02T03:04:05Z'/></message>",
	};

	answer_disco(f, WITH_MAM);
	g_assert_cmpint(pxm_test_receive(f, offline), ==, PXM_VERDICT_CONSUMED);
	for (guint i = 0; i < G_N_ELEMENTS(prpl); i++)
		g_assert_cmpint(pxm_test_receive(f, prpl[i]), ==,
				PXM_VERDICT_CONTINUE);
}

/* Live messages move the position once caught up (saved when going
 * offline), never while the catch-up runs. */
static void
test_live_position(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *position = NULL;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	g_assert_cmpint(pxm_test_receive(f, live_msg), ==,
			PXM_VERDICT_CONTINUE);
	feed(f, queryid_of(q), "a0", BOB "/phone", OWN, "older");
	fin(f, q, "a0", "a0", TRUE);
	pxm_test_account_close(f);
	open_account(f);
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "a0");

	answer_disco(f, WITH_MAM);
	xmlnode_free(q);
	q = last_query(f);
	fin(f, q, NULL, NULL, TRUE);
	answer_check(f, (const char *const[]){ "a0", NULL });
	g_assert_cmpint(
		pxm_test_receive(
			f, "<message type='chat' from='bob@example.org/phone' "
			   "id='live-2'><body>live</body><stanza-id "
			   "xmlns='urn:xmpp:sid:0' id='L2' "
			   "by='alice@example.org'/></message>"),
		==, PXM_VERDICT_CONTINUE);
	/* A stanza-id from someone else moves nothing. */
	g_assert_cmpint(
		pxm_test_receive(
			f, "<message type='chat' from='bob@example.org/phone' "
			   "id='live-3'><body>live</body><stanza-id "
			   "xmlns='urn:xmpp:sid:0' id='FORGED' "
			   "by='bob@example.org'/></message>"),
		==, PXM_VERDICT_CONTINUE);
	pxm_test_account_close(f);
	open_account(f);
	g_free(position);
	position = stored(f, "position");
	g_assert_cmpstr(position, ==, "L2");
	xmlnode_free(q);
}

/* Live messages that came while the position could not follow them (the
 * catch-up failed, or was cut by a disconnect) are not shown again by the
 * next session's catch-up. */
static void
test_live_while_not_caught_up(Fixture *f, gconstpointer data)
{
	static const char *const live2 =
		"<message type='chat' from='bob@example.org/phone' to='" OWN
		"' id='live-2'><body>live</body><stanza-id "
		"xmlns='urn:xmpp:sid:0' id='L2' by='alice@example.org'/>"
		"</message>";
	xmlnode *q;
	g_autofree char *xml = NULL;

	/* The catch-up fails. */
	answer_disco(f, WITH_MAM);
	q = last_query(f);
	xml = g_strdup_printf(
		"<iq type='error' id='%s'><error type='wait'><policy-violation "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
		xmlnode_get_attrib(q, "id"));
	handle_iq(f, xml);
	xmlnode_free(q);
	g_assert_cmpint(pxm_test_receive(f, live_msg), ==,
			PXM_VERDICT_CONTINUE);
	/* More than the presenter writes of its latest live messages when
	 * going offline (what a crash would not write at all). */
	for (guint i = 0; i < 1100; i++) {
		g_autofree char *more = g_strdup_printf(
			"<message type='chat' from='bob@example.org/phone' "
			"to='" OWN "' id='m%u'><body>live</body><stanza-id "
			"xmlns='urn:xmpp:sid:0' id='M%u' "
			"by='alice@example.org'/></message>",
			i, i);

		g_assert_cmpint(pxm_test_receive(f, more), ==,
				PXM_VERDICT_CONTINUE);
	}
	pxm_test_account_close(f);

	/* The next one is cut by a disconnect. */
	open_account(f);
	answer_disco(f, WITH_MAM);
	g_assert_cmpint(pxm_test_receive(f, live2), ==, PXM_VERDICT_CONTINUE);
	pxm_test_account_close(f);

	open_account(f);
	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "L1", BOB "/phone", OWN, "live");
	feed(f, queryid_of(q), "M0", BOB "/phone", OWN, "live");
	feed(f, queryid_of(q), "L2", BOB "/phone", OWN, "live");
	feed(f, queryid_of(q), "L3", BOB "/phone", OWN, "new");
	fin(f, q, "L1", "L3", TRUE);
	g_assert_null(pxm_presenter_find(f->account, BOB, "L1"));
	g_assert_null(pxm_presenter_find(f->account, BOB, "M0"));
	g_assert_null(pxm_presenter_find(f->account, BOB, "L2"));
	g_assert_nonnull(pxm_presenter_find(f->account, BOB, "L3"));
	xmlnode_free(q);
}

/* A page the server never finished leaves no trace: after a disconnect
 * (or a crash) it is fetched again and shown then. */
static void
test_unfinished_page(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *position = NULL;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "u1", BOB "/phone", OWN, "one");
	pxm_test_account_close(f);
	open_account(f);
	position = stored(f, "position");
	g_assert_null(position);
	g_assert_false(identity_known(f, BOB, "u1"));
	answer_disco(f, WITH_MAM);
	xmlnode_free(q);
	q = last_query(f);
	g_assert_null(xmlnode_get_child(q, "query/set/after"));
	feed(f, queryid_of(q), "u1", BOB "/phone", OWN, "one");
	fin(f, q, "u1", "u1", TRUE);
	g_assert_cmpstr(last_shown(f, BOB), ==, "u1");
	xmlnode_free(q);
}

/* A reply after stop() touches nothing freed (valgrind/ASan). */
static void
test_reply_after_stop(Fixture *f, gconstpointer data)
{
	xmlnode *q;

	answer_disco(f, WITH_MAM);
	q = last_query(f);
	feed(f, queryid_of(q), "s1", BOB "/phone", OWN, "one");
	g_assert_true(pxm_account_set_active(
		f->account, pxm_test_extension_index(MAM), FALSE));
	fin(f, q, "s1", "s1", TRUE);
	g_assert_null(last_shown(f, BOB));
	xmlnode_free(q);
}

/* --- Rooms ------------------------------------------------------------ */

#define ROOM "lounge@conference.example.org"
#define JOIN                                                                   \
	"<presence to='" ROOM "/alice'><x "                                    \
	"xmlns='http://jabber.org/protocol/muc'/></presence>"
#define SELF_PRESENCE                                                          \
	"<presence from='" ROOM "/alice' to='" OWN "'><x "                     \
	"xmlns='http://jabber.org/protocol/muc#user'><item "                   \
	"affiliation='member' role='participant'/><status code='110'/>"        \
	"</x></presence>"

/* Answers every disco#info query sent so far to @to; returns how many
 * were still waiting. */
static guint
answer_disco_of(Fixture *f, const char *to, const char *features)
{
	guint n = 0;

	for (guint i = 0; i < f->sent->len; i++) {
		xmlnode *iq = pxm_test_parse(f->sent->pdata[i]);

		if (g_strcmp0(xmlnode_get_attrib(iq, "to"), to) == 0 &&
		    g_strcmp0(xmlnode_get_attrib(iq, "type"), "get") == 0 &&
		    xmlnode_get_child_with_namespace(iq, "query",
						     PXM_NS_DISCO_INFO)) {
			g_autofree char *xml = g_strdup_printf(
				"<iq type='result' from='%s' id='%s'>"
				"<query xmlns='%s'><identity "
				"category='conference' type='text'/>%s"
				"</query></iq>",
				to, xmlnode_get_attrib(iq, "id"),
				PXM_NS_DISCO_INFO, features);

			xmlnode *answer = pxm_test_parse(xml);

			/* Answered already: the tracker forgot the id. */
			if (pxm_iq_tracker_handle(f->account->iq, answer))
				n++;
			xmlnode_free(answer);
		}
		xmlnode_free(iq);
	}
	return n;
}

static char *
room_result_xml(const char *from, const char *queryid, const char *id,
		const char *inner_from, const char *type, const char *body)
{
	return g_strdup_printf(
		"<message %s%s%s to='" OWN "'><result xmlns='urn:xmpp:mam:2' "
		"queryid='%s' id='%s'><forwarded xmlns='urn:xmpp:forward:0'>"
		"<delay xmlns='urn:xmpp:delay' stamp='2026-01-02T03:04:05Z'/>"
		"<message xmlns='jabber:client' from='%s' to='" BARE "' "
		"type='%s' id='m-%s'><body>%s</body></message></forwarded>"
		"</result></message>",
		from != NULL ? "from='" : "", from != NULL ? from : "",
		from != NULL ? "'" : "", queryid, id, inner_from, type, id,
		body);
}

static void
room_fin(Fixture *f, xmlnode *query, const char *last, gboolean complete)
{
	g_autofree char *xml = g_strdup_printf(
		"<iq type='result' from='" ROOM "' id='%s'><fin "
		"xmlns='urn:xmpp:mam:2'%s><set "
		"xmlns='http://jabber.org/protocol/rsm'>%s%s%s</set></fin>"
		"</iq>",
		xmlnode_get_attrib(query, "id"),
		complete ? " complete='true'" : "",
		last != NULL ? "<last>" : "", last != NULL ? last : "",
		last != NULL ? "</last>" : "");

	handle_iq(f, xml);
}

/* We joined (our join presence, then the room's self-presence). */
static void
join_room(Fixture *f)
{
	g_autofree char *out = pxm_test_send_out(f, JOIN);

	g_assert_cmpint(pxm_test_receive(f, SELF_PRESENCE), ==,
			PXM_VERDICT_CONTINUE);
}

/* The join presence: unchanged for a room not known to have an archive;
 * <history maxstanzas='0'/> once it is known, added once. */
static void
test_room_join_presence(Fixture *f, gconstpointer data)
{
	g_autofree char *first = NULL;
	g_autofree char *known = NULL;
	g_autofree char *again = NULL;
	g_autofree char *status = NULL;
	g_autofree char *other = NULL;
	static const char *const expected =
		"<presence to='" ROOM "/alice'><x "
		"xmlns='http://jabber.org/protocol/muc'><history "
		"maxstanzas='0'/></x></presence>";

	first = pxm_test_send_out(f, JOIN);
	g_assert_cmpstr(first, ==, JOIN);
	g_assert_true(pxm_store_kv_set_string(f->account->store, MAM,
					      "room-mam:" ROOM, "1", NULL));
	known = pxm_test_send_out(f, JOIN);
	g_assert_cmpstr(known, ==, expected);
	/* A resend of the changed stanza. */
	again = pxm_test_send_out(f, expected);
	g_assert_cmpstr(again, ==, expected);
	/* Presence to the room that is not a join: untouched. */
	status = pxm_test_send_out(f, "<presence to='" ROOM "/alice'><show>"
				      "away</show></presence>");
	g_assert_cmpstr(status, ==,
			"<presence to='" ROOM "/alice'><show>away</show>"
			"</presence>");
	other = pxm_test_send_out(
		f, "<presence to='other@conference.example.org/alice'><x "
		   "xmlns='http://jabber.org/protocol/muc'/></presence>");
	g_assert_null(strstr(other, "history"));
}

/* After the self-presence: disco#info of the room, then a query to the
 * room (exact XML), results from the room, the room's position. */
static void
test_room_catchup(Fixture *f, gconstpointer data)
{
	xmlnode *q, *iq;
	g_autofree char *xml = NULL;
	g_autofree char *expected = NULL;
	g_autofree char *position = NULL;
	g_autofree char *r1 = NULL;
	g_autofree char *r2 = NULL;
	g_autofree char *join = NULL;
	g_autofree char *stamp = NULL;
	guint before = count_queries(f);

	join_room(f);
	iq = pxm_test_parse(pxm_test_last_sent(f));
	xml = xmlnode_to_str(iq, NULL);
	expected = g_strdup_printf(
		"<iq type='get' to='" ROOM "' id='%s'><query "
		"xmlns='http://jabber.org/protocol/disco#info'/></iq>",
		xmlnode_get_attrib(iq, "id"));
	g_assert_cmpstr(xml, ==, expected);
	xmlnode_free(iq);
	g_assert_cmpuint(answer_disco_of(f, ROOM, WITH_MAM), >=, 1);
	g_assert_cmpuint(count_queries(f), ==, before + 1);

	q = last_query(f);
	stamp = xmlnode_get_data(xmlnode_get_child(
		xmlnode_get_next_twin(xmlnode_get_child(q, "query/x/field")),
		"value"));
	g_free(xml);
	g_free(expected);
	xml = xmlnode_to_str(q, NULL);
	expected = g_strdup_printf(
		"<iq type='set' to='" ROOM "' id='%s'><query "
		"xmlns='urn:xmpp:mam:2' queryid='%s'><x xmlns='jabber:x:data' "
		"type='submit'><field var='FORM_TYPE' type='hidden'><value>"
		"urn:xmpp:mam:2</value></field><field var='start'><value>%s"
		"</value></field></x><set "
		"xmlns='http://jabber.org/protocol/rsm'><max>250</max></set>"
		"</query></iq>",
		xmlnode_get_attrib(q, "id"), queryid_of(q), stamp);
	g_assert_cmpstr(xml, ==, expected);

	r1 = room_result_xml(ROOM, queryid_of(q), "r1", ROOM "/bob",
			     "groupchat", "salut");
	r2 = room_result_xml(ROOM, queryid_of(q), "r2", ROOM "/alice",
			     "groupchat", "moi");
	g_assert_cmpint(pxm_test_receive(f, r1), ==, PXM_VERDICT_CONSUMED);
	g_assert_cmpint(pxm_test_receive(f, r2), ==, PXM_VERDICT_CONSUMED);
	room_fin(f, q, "r2", TRUE);
	g_assert_cmpstr(last_shown(f, ROOM), ==, "r2");
	g_assert_nonnull(pxm_presenter_find(f->account, ROOM, "r1"));
	position = stored(f, "room-position:" ROOM);
	g_assert_cmpstr(position, ==, "r2");
	/* Our own archive's position is another. */
	g_clear_pointer(&position, g_free);
	position = stored(f, "position");
	g_assert_null(position);
	xmlnode_free(q);

	/* Next session: no replay asked, and the gap after r2. */
	pxm_test_account_close(f);
	open_account(f);
	join = pxm_test_send_out(f, JOIN);
	g_assert_nonnull(strstr(join, "<history maxstanzas='0'/>"));
	g_assert_cmpint(pxm_test_receive(f, SELF_PRESENCE), ==,
			PXM_VERDICT_CONTINUE);
	answer_disco_of(f, ROOM, WITH_MAM);
	q = last_query(f);
	g_assert_cmpstr(xmlnode_get_attrib(q, "to"), ==, ROOM);
	g_free(xml);
	xml = xmlnode_to_str(xmlnode_get_child(q, "query/set"), NULL);
	g_assert_cmpstr(xml, ==,
			"<set xmlns='http://jabber.org/protocol/rsm'>"
			"<max>250</max><after>r2</after></set>");
	/* By position, not by time. */
	g_assert_cmpuint(
		pxm_test_count_children(xmlnode_get_child(q, "query/x"),
					"field", PXM_NS_DATA),
		==, 1);
	xmlnode_free(q);
}

/* Security considerations: a room query's results only from that room's
 * bare JID (not our server, not an occupant, not another room), holding
 * groupchat messages of that room. */
static void
test_room_forged(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *position = NULL;
	const char *qid;
	struct {
		const char *from, *inner_from, *type;
	} const forged[] = {
		{ NULL, ROOM "/bob", "groupchat" },
		{ BARE, ROOM "/bob", "groupchat" },
		{ "example.org", ROOM "/bob", "groupchat" },
		{ ROOM "/eve", ROOM "/bob", "groupchat" },
		{ "other@conference.example.org", ROOM "/bob", "groupchat" },
		{ ROOM, "other@conference.example.org/bob", "groupchat" },
		{ ROOM, "bob@example.org/phone", "groupchat" },
		{ ROOM, ROOM, "groupchat" },
		{ ROOM, ROOM "/bob", "chat" },
	};

	/* A self-presence for a room we did not join asks nothing. */
	g_ptr_array_set_size(f->sent, 0);
	g_assert_cmpint(pxm_test_receive(f, SELF_PRESENCE), ==,
			PXM_VERDICT_CONTINUE);
	g_assert_cmpuint(f->sent->len, ==, 0);

	join_room(f);
	answer_disco_of(f, ROOM, WITH_MAM);
	q = last_query(f);
	qid = queryid_of(q);
	for (guint i = 0; i < G_N_ELEMENTS(forged); i++) {
		g_autofree char *xml = room_result_xml(
			forged[i].from, qid, "x", forged[i].inner_from,
			forged[i].type, "forged");

		g_assert_cmpint(pxm_test_receive(f, xml), ==, PXM_VERDICT_DROP);
	}
	/* The rest of the page is kept. */
	{
		g_autofree char *good = room_result_xml(
			ROOM, qid, "ok", ROOM "/bob", "groupchat", "fine");

		g_assert_cmpint(pxm_test_receive(f, good), ==,
				PXM_VERDICT_CONSUMED);
	}
	/* The end of the page from our own server is not the room's. */
	{
		g_autofree char *spoof = g_strdup_printf(
			"<iq type='result' from='" BARE "' id='%s'><fin "
			"xmlns='urn:xmpp:mam:2' complete='true'/></iq>",
			xmlnode_get_attrib(q, "id"));
		xmlnode *node = pxm_test_parse(spoof);

		pxm_iq_tracker_handle(f->account->iq, node);
		xmlnode_free(node);
	}
	g_assert_null(last_shown(f, ROOM));
	room_fin(f, q, "ok", TRUE);
	g_assert_cmpstr(last_shown(f, ROOM), ==, "ok");
	g_assert_null(pxm_presenter_find(f->account, ROOM, "x"));
	position = stored(f, "room-position:" ROOM);
	g_assert_cmpstr(position, ==, "ok");
	xmlnode_free(q);
}

static void
room_live(Fixture *f, const char *id)
{
	g_autofree char *xml = g_strdup_printf(
		"<message type='groupchat' from='" ROOM "/bob' to='" OWN
		"' id='m-%s'><body>live</body><stanza-id "
		"xmlns='urn:xmpp:sid:0' id='%s' by='" ROOM "'/></message>",
		id, id);

	g_assert_cmpint(pxm_test_receive(f, xml), ==, PXM_VERDICT_CONTINUE);
	/* The stanza-id extension asks the room once. */
	answer_disco_of(f, ROOM, WITH_MAM);
}

/* Live room messages move the room's position once its catch-up ended,
 * never before (a crash would skip the rest of the gap). */
static void
test_room_live_position(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *position = NULL;

	join_room(f);
	answer_disco_of(f, ROOM, WITH_MAM);
	room_live(f, "L0");
	room_live(f, "L1");
	pxm_test_account_close(f);
	open_account(f);
	position = stored(f, "room-position:" ROOM);
	g_assert_null(position);
	/* But they are known: the catch-up will not show them again. */
	g_assert_true(identity_known(f, ROOM, "L0"));
	g_assert_true(identity_known(f, ROOM, "L1"));

	join_room(f);
	answer_disco_of(f, ROOM, WITH_MAM);
	q = last_query(f);
	room_fin(f, q, NULL, TRUE);
	room_live(f, "L2");
	pxm_test_account_close(f);
	open_account(f);
	position = stored(f, "room-position:" ROOM);
	g_assert_cmpstr(position, ==, "L2");
	xmlnode_free(q);
}

/* Leaving the room in the middle of its catch-up: the page is not
 * processed and the position stays (the next join fetches it again). */
static void
test_room_left(Fixture *f, gconstpointer data)
{
	xmlnode *q;
	g_autofree char *r1 = NULL;
	g_autofree char *position = NULL;

	join_room(f);
	answer_disco_of(f, ROOM, WITH_MAM);
	q = last_query(f);
	r1 = room_result_xml(ROOM, queryid_of(q), "r1", ROOM "/bob",
			     "groupchat", "salut");
	g_assert_cmpint(pxm_test_receive(f, r1), ==, PXM_VERDICT_CONSUMED);
	pxm_test_receive(f, "<presence from='" ROOM "/alice' to='" OWN
			    "' type='unavailable'><x "
			    "xmlns='http://jabber.org/protocol/muc#user'>"
			    "<status code='110'/></x></presence>");
	room_fin(f, q, "r1", TRUE);
	g_assert_null(last_shown(f, ROOM));
	position = stored(f, "room-position:" ROOM);
	g_assert_null(position);
	xmlnode_free(q);
}

/* A room without an archive: no query, and the next join keeps the
 * replay. */
static void
test_room_no_archive(Fixture *f, gconstpointer data)
{
	g_autofree char *join = NULL;
	g_autofree char *known = NULL;
	guint before = count_queries(f);

	g_assert_true(pxm_store_kv_set_string(f->account->store, MAM,
					      "room-mam:" ROOM, "1", NULL));
	join_room(f);
	answer_disco_of(f, ROOM, "<feature var='urn:xmpp:sid:0'/>");
	g_assert_cmpuint(count_queries(f), ==, before);
	join = pxm_test_send_out(f, JOIN);
	g_assert_cmpstr(join, ==, JOIN);
	known = stored(f, "room-mam:" ROOM);
	g_assert_cmpstr(known, ==, "0");
}

/* --- The first join of a room (held until the room answers) ----------- */

/* prpl-jabber's join_chat, once the host lets a held join go on: the join
 * presence it would write, through the outgoing pipeline, recorded. */
static void
record_join(PxmAccount *account, GHashTable *components, gpointer data)
{
	Fixture *f = data;
	const char *password = g_hash_table_lookup(components, "password");
	g_autofree char *xml = g_strdup_printf(
		"<presence to='%s@%s/%s'><x "
		"xmlns='http://jabber.org/protocol/muc'>%s%s%s</x></presence>",
		(char *)g_hash_table_lookup(components, "room"),
		(char *)g_hash_table_lookup(components, "server"),
		(char *)g_hash_table_lookup(components, "handle"),
		password != NULL ? "<password>" : "",
		password != NULL ? password : "",
		password != NULL ? "</password>" : "");

	g_ptr_array_add(f->sent, pxm_test_send_out(f, xml));
}

static GHashTable *
components_new(const char *room, const char *server, const char *password)
{
	GHashTable *c = g_hash_table_new(g_str_hash, g_str_equal);

	g_hash_table_insert(c, "room", (gpointer)room);
	if (server != NULL)
		g_hash_table_insert(c, "server", (gpointer)server);
	g_hash_table_insert(c, "handle", "alice");
	if (password != NULL)
		g_hash_table_insert(c, "password", (gpointer)password);
	return c;
}

/* Asks to join the room as Pidgin would; TRUE if the join is held. */
static gboolean
user_joins(Fixture *f, const char *password)
{
	g_autoptr(GHashTable) c =
		components_new("lounge", "conference.example.org", password);

	f->account->join = record_join;
	f->account->join_data = f;
	return pxm_account_join_room(f->account, c);
}

static guint
count_joins(Fixture *f)
{
	guint n = 0;

	for (guint i = 0; i < f->sent->len; i++)
		if (g_str_has_prefix(f->sent->pdata[i], "<presence"))
			n++;
	return n;
}

#define JOIN_NO_REPLAY                                                         \
	"<presence to='" ROOM "/alice'><x "                                    \
	"xmlns='http://jabber.org/protocol/muc'><history "                     \
	"maxstanzas='0'/></x></presence>"

/* The room's disco#info, asked before the join (exact XML). */
static void
assert_prejoin_disco(Fixture *f)
{
	xmlnode *iq = pxm_test_parse(pxm_test_last_sent(f));
	g_autofree char *xml = xmlnode_to_str(iq, NULL);
	g_autofree char *expected = g_strdup_printf(
		"<iq type='get' to='" ROOM "' id='%s'><query "
		"xmlns='http://jabber.org/protocol/disco#info'/></iq>",
		xmlnode_get_attrib(iq, "id"));

	g_assert_cmpstr(xml, ==, expected);
	xmlnode_free(iq);
}

/* XEP-0313 section 7: a room that advertises urn:xmpp:mam:2 is joined
 * without replay (XEP-0045 section 7.2.14), then caught up from its
 * archive (the first window), and remembered. */
static void
test_prejoin_archive(Fixture *f, gconstpointer data)
{
	g_autofree char *again = NULL;
	g_autofree char *known = NULL;
	guint before;

	g_assert_true(user_joins(f, NULL));
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 1);
	assert_prejoin_disco(f);
	g_assert_cmpuint(count_joins(f), ==, 0);
	g_assert_cmpuint(answer_disco_of(f, ROOM, WITH_MAM), ==, 1);
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 0);
	g_assert_cmpuint(count_joins(f), ==, 1);
	g_assert_cmpstr(pxm_test_last_sent(f), ==, JOIN_NO_REPLAY);
	known = stored(f, "room-mam:" ROOM);
	g_assert_cmpstr(known, ==, "1");
	/* The prpl resends it unchanged (XEP-0198). */
	again = pxm_test_send_out(f, JOIN_NO_REPLAY);
	g_assert_cmpstr(again, ==, JOIN_NO_REPLAY);
	/* In: the archive fills the gap, from the first window. */
	before = count_queries(f);
	g_assert_cmpint(pxm_test_receive(f, SELF_PRESENCE), ==,
			PXM_VERDICT_CONTINUE);
	answer_disco_of(f, ROOM, WITH_MAM);
	g_assert_cmpuint(count_queries(f), ==, before + 1);
	/* The next join knows: not held, no question. */
	before = f->sent->len;
	g_assert_false(user_joins(f, NULL));
	g_assert_cmpuint(f->sent->len, ==, before);
}

/* A room without an archive keeps its replay; remembered too. */
static void
test_prejoin_no_archive(Fixture *f, gconstpointer data)
{
	g_autofree char *known = NULL;
	guint before;

	g_assert_true(user_joins(f, NULL));
	assert_prejoin_disco(f);
	g_assert_cmpuint(
		answer_disco_of(f, ROOM, "<feature var='urn:xmpp:sid:0'/>"), ==,
		1);
	g_assert_cmpuint(count_joins(f), ==, 1);
	g_assert_cmpstr(pxm_test_last_sent(f), ==, JOIN);
	known = stored(f, "room-mam:" ROOM);
	g_assert_cmpstr(known, ==, "0");
	before = f->sent->len;
	g_assert_false(user_joins(f, NULL));
	g_assert_cmpuint(f->sent->len, ==, before);
}

/* An error (item-not-found: the join will create the room, nothing to
 * replay) joins as usual and says nothing of the archive; an answer from
 * anyone but the room is not the room's. */
static void
test_prejoin_error(Fixture *f, gconstpointer data)
{
	xmlnode *iq;
	g_autofree char *forged = NULL;
	g_autofree char *error = NULL;
	g_autofree char *known = NULL;
	xmlnode *answer;

	g_assert_true(user_joins(f, NULL));
	iq = pxm_test_parse(pxm_test_last_sent(f));
	forged = g_strdup_printf(
		"<iq type='result' from='other@conference.example.org' "
		"id='%s'><query xmlns='%s'><feature var='urn:xmpp:mam:2'/>"
		"</query></iq>",
		xmlnode_get_attrib(iq, "id"), PXM_NS_DISCO_INFO);
	answer = pxm_test_parse(forged);
	pxm_iq_tracker_handle(f->account->iq, answer);
	xmlnode_free(answer);
	g_assert_cmpuint(count_joins(f), ==, 0);
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 1);
	error = g_strdup_printf(
		"<iq type='error' from='" ROOM "' id='%s'><error "
		"type='cancel'><item-not-found "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
		xmlnode_get_attrib(iq, "id"));
	handle_iq(f, error);
	xmlnode_free(iq);
	g_assert_cmpuint(count_joins(f), ==, 1);
	g_assert_cmpstr(pxm_test_last_sent(f), ==, JOIN);
	known = stored(f, "room-mam:" ROOM);
	g_assert_null(known);
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 0);
}

static gboolean
on_deadline(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* No answer in time: joined as usual, a few seconds later. */
static void
test_prejoin_timeout(Fixture *f, gconstpointer data)
{
	gboolean late = FALSE;
	guint deadline;
	gint64 start = g_get_monotonic_time();

	g_assert_true(user_joins(f, NULL));
	deadline = g_timeout_add_seconds(PXM_JOIN_HOLD_MAX_S - 2, on_deadline,
					 &late);
	while (count_joins(f) == 0 && !late)
		g_main_context_iteration(NULL, TRUE);
	g_assert_false(late);
	g_source_remove(deadline);
	/* The extension's own timeout (5 s), not the host's guard. */
	g_assert_cmpint(g_get_monotonic_time() - start, >=, 4 * G_USEC_PER_SEC);
	g_assert_cmpstr(pxm_test_last_sent(f), ==, JOIN);
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 0);
}

/* Going offline while held: dropped, nothing sent, everything freed
 * (valgrind and ASan runs check the last part). */
static void
test_prejoin_disconnect(Fixture *f, gconstpointer data)
{
	g_assert_true(user_joins(f, "secret"));
	pxm_test_account_close(f);
	g_assert_cmpuint(count_joins(f), ==, 0);
	open_account(f);
	/* Not remembered: the next sign-in asks again. */
	g_assert_true(user_joins(f, NULL));
}

/* The extension stops while the join is held (turned off, or the plugin
 * unloads): the join goes on without it at once; the late answer does
 * nothing. */
static void
test_prejoin_stop(Fixture *f, gconstpointer data)
{
	xmlnode *iq;
	g_autofree char *answer = NULL;

	g_assert_true(user_joins(f, NULL));
	iq = pxm_test_parse(pxm_test_last_sent(f));
	g_assert_true(pxm_account_set_active(
		f->account, pxm_test_extension_index(MAM), FALSE));
	g_assert_cmpuint(count_joins(f), ==, 1);
	g_assert_cmpstr(pxm_test_last_sent(f), ==, JOIN);
	answer = g_strdup_printf("<iq type='result' from='" ROOM "' id='%s'>"
				 "<query xmlns='%s'>" WITH_MAM "</query></iq>",
				 xmlnode_get_attrib(iq, "id"),
				 PXM_NS_DISCO_INFO);
	handle_iq(f, answer);
	xmlnode_free(iq);
	g_assert_cmpuint(count_joins(f), ==, 1);
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 0);
}

/* Joined again while held (Pidgin's auto-join and a bookmark, or the user
 * typing the password again): one question, one join, the latest
 * password.  Malformed components are the prpl's to refuse. */
static void
test_prejoin_twice(Fixture *f, gconstpointer data)
{
	g_autoptr(GHashTable) bad = components_new("lounge", NULL, NULL);
	g_autoptr(GHashTable) upper =
		components_new("Lounge", "conference.example.org", "s3cret");
	guint discos;

	g_assert_true(user_joins(f, "wrong"));
	discos = f->sent->len;
	g_assert_true(pxm_account_join_room(f->account, upper));
	g_assert_cmpuint(f->sent->len, ==, discos);
	g_assert_cmpuint(answer_disco_of(f, ROOM, WITH_MAM), ==, 1);
	g_assert_cmpuint(count_joins(f), ==, 1);
	g_assert_cmpstr(pxm_test_last_sent(f), ==,
			"<presence to='Lounge@conference.example.org/alice'><x "
			"xmlns='http://jabber.org/protocol/muc'><password>"
			"s3cret</password><history maxstanzas='0'/></x>"
			"</presence>");
	g_assert_false(pxm_account_join_room(f->account, bad));
	g_hash_table_insert(bad, "server", "a/b");
	g_assert_false(pxm_account_join_room(f->account, bad));
	g_assert_cmpuint(pxm_account_n_held_joins(f->account), ==, 0);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func)                                                        \
	g_test_add("/xep0313-mam/" path, Fixture, NULL, setup, func,           \
		   pxm_test_account_teardown)
	ADD("query/first-window", test_first_query);
	ADD("query/no-archive", test_no_archive);
	ADD("query/paging", test_paging);
	ADD("query/resume-from-position", test_resume_from_position);
	ADD("safety/forged-results", test_forged_results);
	ADD("safety/malformed-results", test_malformed_results);
	ADD("errors/stale-position", test_stale_position);
	ADD("errors/stale-position-empty-answer", test_stale_position_empty);
	ADD("errors/empty-answer-checked", test_empty_answer_checked);
	ADD("errors/empty-answer-caught-up", test_empty_answer_caught_up);
	ADD("errors/refused", test_refused);
	ADD("dedup/live", test_dedup_live);
	ADD("dedup/carbon", test_dedup_carbon);
	ADD("offline-delayed", test_offline_delayed);
	ADD("position/live", test_live_position);
	ADD("position/unfinished-page", test_unfinished_page);
	ADD("position/live-while-not-caught-up", test_live_while_not_caught_up);
	ADD("reply-after-stop", test_reply_after_stop);
	ADD("room/join-presence", test_room_join_presence);
	ADD("room/catchup", test_room_catchup);
	ADD("room/forged", test_room_forged);
	ADD("room/no-archive", test_room_no_archive);
	ADD("room/live-position", test_room_live_position);
	ADD("room/left", test_room_left);
	ADD("room/prejoin-archive", test_prejoin_archive);
	ADD("room/prejoin-no-archive", test_prejoin_no_archive);
	ADD("room/prejoin-error", test_prejoin_error);
	ADD("room/prejoin-timeout", test_prejoin_timeout);
	ADD("room/prejoin-disconnect", test_prejoin_disconnect);
	ADD("room/prejoin-stop", test_prejoin_stop);
	ADD("room/prejoin-twice", test_prejoin_twice);
	return g_test_run();
}

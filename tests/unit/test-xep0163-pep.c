// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0163 for prpl-jabber: the account's bare JID is asked before the
 * prpl asks the server domain, and the domain's answer to that one query
 * gets the pubsub/pep identity only when the bare JID announced it. */
#include <string.h>

#include "pep.h"
#include "pxm-test.h"

#define OWN "alice@example.org/pidgin"
#define DISCO "http://jabber.org/protocol/disco#info"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlnode, xmlnode_free)

static xmlnode *
parse(const char *xml)
{
	xmlnode *node = xmlnode_from_str(xml, -1);

	g_assert_nonnull(node);
	return node;
}

/* What prpl-jabber sends at login (jabber_disco_items_server()). */
#define PRPL_QUERY                                                             \
	"<iq type='get' id='purple1' to='example.org'>"                        \
	"<query xmlns='" DISCO "'/></iq>"

#define DOMAIN_ANSWER(from, id)                                                \
	"<iq type='result' id='" id "' from='" from "' to='" OWN "'>"          \
	"<query xmlns='" DISCO "'>"                                            \
	"<identity category='server' type='im' name='Prosody'/>"               \
	"<feature var='" DISCO "'/></query></iq>"

#define ACCOUNT_PEP                                                            \
	"<query xmlns='" DISCO "'>"                                            \
	"<identity category='account' type='registered'/>"                     \
	"<identity category='pubsub' type='pep'/>"                             \
	"<feature var='http://jabber.org/protocol/pubsub#publish'/>"           \
	"</query>"

#define ACCOUNT_NO_PEP                                                         \
	"<query xmlns='" DISCO "'>"                                            \
	"<identity category='account' type='registered'/></query>"

/* Counts pubsub/pep identities the way prpl-jabber's
 * jabber_disco_server_info_result_cb() walks them. */
static guint
count_pep(xmlnode *iq)
{
	xmlnode *query = xmlnode_get_child(iq, "query");
	guint n = 0;

	for (xmlnode *c = xmlnode_get_child(query, "identity"); c != NULL;
	     c = xmlnode_get_next_twin(c))
		if (g_strcmp0(xmlnode_get_attrib(c, "category"), "pubsub") ==
			    0 &&
		    g_strcmp0(xmlnode_get_attrib(c, "type"), "pep") == 0)
			n++;
	return n;
}

/* Sends the prpl's login query; returns the probe's query id. */
static char *
start(PxmPepProbe *probe)
{
	g_autoptr(xmlnode) prpl = parse(PRPL_QUERY);
	g_autoptr(xmlnode) query = pxm_pep_probe_sending(probe, prpl);
	xmlnode *child;

	g_assert_nonnull(query);
	g_assert_cmpstr(query->name, ==, "iq");
	g_assert_cmpstr(xmlnode_get_attrib(query, "type"), ==, "get");
	g_assert_cmpstr(xmlnode_get_attrib(query, "to"), ==,
			"alice@example.org");
	g_assert_null(xmlnode_get_attrib(query, "from"));
	child = xmlnode_get_child_with_namespace(query, "query", DISCO);
	g_assert_nonnull(child);
	g_assert_null(child->child);
	g_assert_null(xmlnode_get_attrib(child, "node"));
	g_assert_nonnull(xmlnode_get_attrib(query, "id"));
	g_assert_cmpstr(xmlnode_get_attrib(query, "id"), !=, "purple1");
	return g_strdup(xmlnode_get_attrib(query, "id"));
}

/* Feeds the account's answer; returns whether it was consumed. */
static gboolean
account_answer(PxmPepProbe *probe, const char *from, const char *id,
	       const char *type, const char *query)
{
	g_autofree char *xml = g_strdup_printf(
		"<iq type='%s' id='%s'%s%s%s to='" OWN "'>%s</iq>", type, id,
		from != NULL ? " from='" : "", from != NULL ? from : "",
		from != NULL ? "'" : "", query);
	g_autoptr(xmlnode) iq = parse(xml);

	return pxm_pep_probe_receiving(probe, iq);
}

/* Feeds the domain's answer; returns its pubsub/pep identity count. */
static guint
domain_answer(PxmPepProbe *probe, const char *xml)
{
	g_autoptr(xmlnode) iq = parse(xml);

	g_assert_false(pxm_pep_probe_receiving(probe, iq));
	return count_pep(iq);
}

static void
test_announced(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);
	g_autoptr(xmlnode) iq = NULL;
	xmlnode *identity;

	g_assert_true(account_answer(probe, "alice@example.org", id, "result",
				     ACCOUNT_PEP));
	g_assert_true(pxm_pep_probe_has_pep(probe));

	iq = parse(DOMAIN_ANSWER("example.org", "purple1"));
	g_assert_false(pxm_pep_probe_receiving(probe, iq));
	g_assert_cmpuint(count_pep(iq), ==, 1);
	/* The rest of the server's answer is as it was. */
	identity = xmlnode_get_child(xmlnode_get_child(iq, "query"),
				     "identity");
	g_assert_cmpstr(xmlnode_get_attrib(identity, "category"), ==, "server");
	g_assert_nonnull(
		xmlnode_get_child(xmlnode_get_child(iq, "query"), "feature"));
}

/* RFC 6120 §8.1.2.1: a reply without 'from' comes from the account. */
static void
test_answer_without_from(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);

	g_assert_true(account_answer(probe, NULL, id, "result", ACCOUNT_PEP));
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 1);
}

static void
test_not_announced(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);

	g_assert_true(account_answer(probe, "alice@example.org", id, "result",
				     ACCOUNT_NO_PEP));
	g_assert_false(pxm_pep_probe_has_pep(probe));
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 0);
}

static void
test_account_error(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);

	g_assert_true(account_answer(
		probe, "alice@example.org", id, "error",
		"<error type='cancel'><service-unavailable "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"));
	g_assert_false(pxm_pep_probe_has_pep(probe));
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 0);
}

/* A server that announces PEP itself gets no second identity. */
static void
test_domain_has_it(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);

	g_assert_true(account_answer(probe, "alice@example.org", id, "result",
				     ACCOUNT_PEP));
	g_assert_cmpuint(
		domain_answer(
			probe,
			"<iq type='result' id='purple1' from='example.org'>"
			"<query xmlns='" DISCO "'>"
			"<identity category='pubsub' type='pep'/>"
			"<identity category='server' type='im'/>"
			"</query></iq>"),
		==, 1);
}

/* Someone else answering our query with a PEP identity is not the
 * account's PEP service: not consumed, not believed. */
static void
test_forged_account_answer(void)
{
	const char *forgers[] = { "bob@example.org", "example.org",
				  "alice@example.org/other",
				  "alice@evil.example" };
	for (guint i = 0; i < G_N_ELEMENTS(forgers); i++) {
		g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
		g_autofree char *id = start(probe);

		g_assert_false(account_answer(probe, forgers[i], id, "result",
					      ACCOUNT_PEP));
		g_assert_false(pxm_pep_probe_has_pep(probe));
		g_assert_cmpuint(
			domain_answer(probe,
				      DOMAIN_ANSWER("example.org", "purple1")),
			==, 0);
	}
}

/* Only the server domain's answer to the prpl's own query is changed:
 * not a forged one with its id, not another disco#info result. */
static void
test_other_results_untouched(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);

	g_assert_true(account_answer(probe, "alice@example.org", id, "result",
				     ACCOUNT_PEP));
	/* Same id, not the server. */
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("evil.example", "purple1")),
		==, 0);
	g_assert_cmpuint(domain_answer(probe, DOMAIN_ANSWER("bob@example.org",
							    "purple1")),
			 ==, 0);
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org/x", "purple1")),
		==, 0);
	/* The server, another query. */
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple2")),
		==, 0);
	/* The real answer still gets it, once. */
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 1);
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 0);
}

/* Only the login query is probed; later ones (a user browsing the server)
 * and queries to other JIDs or nodes are left alone. */
static void
test_only_login_query(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	const char *others[] = {
		"<iq type='get' id='p0' to='conference.example.org'>"
		"<query xmlns='" DISCO "'/></iq>",
		"<iq type='get' id='p0' to='example.org'>"
		"<query xmlns='" DISCO "' node='x'/></iq>",
		"<iq type='set' id='p0' to='example.org'>"
		"<query xmlns='" DISCO "'/></iq>",
		"<iq type='get' id='p0' to='example.org'>"
		"<query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
		"<message to='example.org'><body>x</body></message>",
	};
	g_autofree char *id = NULL;
	g_autoptr(xmlnode) again = parse(PRPL_QUERY);

	for (guint i = 0; i < G_N_ELEMENTS(others); i++) {
		g_autoptr(xmlnode) node = parse(others[i]);

		g_assert_null(pxm_pep_probe_sending(probe, node));
	}
	id = start(probe);
	g_assert_null(pxm_pep_probe_sending(probe, again));
}

/* Our answer comes after the server's: nothing is held back, PEP stays
 * off, and our late answer is still consumed. */
static void
test_late_answer(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);

	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 0);
	g_assert_true(account_answer(probe, "alice@example.org", id, "result",
				     ACCOUNT_PEP));
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 0);
}

/* JIDs are compared normalised. */
static void
test_normalised(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new("Alice@Example.ORG");
	g_autoptr(xmlnode) prpl = parse("<iq type='get' id='purple1' "
					"to='EXAMPLE.org'><query xmlns='" DISCO
					"'/></iq>");
	g_autoptr(xmlnode) query = pxm_pep_probe_sending(probe, prpl);

	g_assert_nonnull(query);
	g_assert_cmpstr(xmlnode_get_attrib(query, "to"), ==,
			"alice@example.org");
	g_assert_true(account_answer(probe, "ALICE@example.org",
				     xmlnode_get_attrib(query, "id"), "result",
				     ACCOUNT_PEP));
	g_assert_cmpuint(
		domain_answer(probe, DOMAIN_ANSWER("example.org", "purple1")),
		==, 1);
}

static void
test_hostile(void)
{
	g_autoptr(PxmPepProbe) probe = pxm_pep_probe_new(OWN);
	g_autofree char *id = start(probe);
	g_autoptr(xmlnode) parent = parse("<x>text</x>");
	g_autoptr(xmlnode) noid =
		parse("<iq type='result' from='example.org'/>");

	g_assert_null(pxm_pep_probe_new("example.org"));
	g_assert_null(pxm_pep_probe_new("not a jid@"));
	g_assert_false(pxm_pep_probe_receiving(probe, parent->child));
	g_assert_false(pxm_pep_probe_receiving(probe, noid));
	/* A 'get' or 'set' with our id is not an answer. */
	g_assert_false(account_answer(probe, "alice@example.org", id, "get",
				      ACCOUNT_PEP));
	g_assert_false(pxm_pep_probe_has_pep(probe));
	/* A result without a query. */
	g_assert_true(
		account_answer(probe, "alice@example.org", id, "result", ""));
	g_assert_false(pxm_pep_probe_has_pep(probe));
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	g_test_add_func("/xep0163-pep/announced", test_announced);
	g_test_add_func("/xep0163-pep/answer-without-from",
			test_answer_without_from);
	g_test_add_func("/xep0163-pep/not-announced", test_not_announced);
	g_test_add_func("/xep0163-pep/account-error", test_account_error);
	g_test_add_func("/xep0163-pep/domain-has-it", test_domain_has_it);
	g_test_add_func("/xep0163-pep/forged-account-answer",
			test_forged_account_answer);
	g_test_add_func("/xep0163-pep/other-results-untouched",
			test_other_results_untouched);
	g_test_add_func("/xep0163-pep/only-login-query", test_only_login_query);
	g_test_add_func("/xep0163-pep/late-answer", test_late_answer);
	g_test_add_func("/xep0163-pep/normalised", test_normalised);
	g_test_add_func("/xep0163-pep/hostile", test_hostile);
	return g_test_run();
}

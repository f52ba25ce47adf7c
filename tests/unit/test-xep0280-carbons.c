// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0280 through the host's real pipeline: discovery and enabling (the
 * exact IQs sent, replies, errors, forged replies), unwrapping of the XEP's
 * examples, spoofed and malformed copies, <private/>/<no-copy/>, room
 * copies, delays; and the presenter's identity of room private messages. */
#include <glib/gstdio.h>
#include <string.h>

#include "host.h"
#include "presenter.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define OWN "romeo@montague.example/home"
#define EXT "xep0280-carbons"

extern const PxmExtensionClass pxm_xep0280_carbons;

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, EXT);
}

/* --- Enabling --------------------------------------------------------- */

/* The id of sent stanza @i, and its XML with the id replaced by "ID". */
static char *
sent_xml(Fixture *f, guint i, char **id)
{
	xmlnode *node;
	char *xml;

	g_assert_cmpuint(i, <, f->sent->len);
	node = pxm_test_parse(f->sent->pdata[i]);
	if (id != NULL)
		*id = g_strdup(xmlnode_get_attrib(node, "id"));
	if (xmlnode_get_attrib(node, "id") != NULL)
		xmlnode_set_attrib(node, "id", "ID");
	xml = xmlnode_to_str(node, NULL);
	xmlnode_free(node);
	return xml;
}

static void reply(Fixture *f, const char *format, ...) G_GNUC_PRINTF(2, 3);

static void
reply(Fixture *f, const char *format, ...)
{
	g_autofree char *xml = NULL;
	xmlnode *iq;
	va_list args;

	va_start(args, format);
	xml = g_strdup_vprintf(format, args);
	va_end(args);
	iq = pxm_test_parse(xml);

	/* Through the glue's path: the tracker sees IQ replies first. */
	g_assert_true(pxm_iq_tracker_handle(f->account->iq, iq));
	xmlnode_free(iq);
}

#define DISCO_DOMAIN                                                           \
	"<iq type='get' to='montague.example' id='ID'><query "                 \
	"xmlns='http://jabber.org/protocol/disco#info'/></iq>"
#define DISCO_BARE                                                             \
	"<iq type='get' to='romeo@montague.example' id='ID'><query "           \
	"xmlns='http://jabber.org/protocol/disco#info'/></iq>"
#define ENABLE                                                                 \
	"<iq type='set' id='ID'><enable xmlns='urn:xmpp:carbons:2'/></iq>"

/* Example 2, from montague.example. */
#define WITH_CARBONS                                                           \
	"<iq from='montague.example' id='%s' to='" OWN "' type='result'>"      \
	"<query xmlns='http://jabber.org/protocol/disco#info'>"                \
	"<feature var='urn:xmpp:carbons:2'/>"                                  \
	"<feature var='urn:xmpp:carbons:rules:0'/></query></iq>"
#define WITHOUT_CARBONS                                                        \
	"<iq from='montague.example' id='%s' type='result'><query "            \
	"xmlns='http://jabber.org/protocol/disco#info'><feature "              \
	"var='urn:xmpp:ping'/></query></iq>"

/* Sections 3 and 4: ask our server, then enable (examples 1 and 3). */
static void
test_enable(Fixture *f, gconstpointer data)
{
	g_autofree char *disco_id = NULL;
	g_autofree char *enable_id = NULL;
	g_autofree char *disco = sent_xml(f, 0, &disco_id);
	g_autofree char *enable = NULL;

	g_assert_cmpuint(f->sent->len, ==, 1);
	g_assert_cmpstr(disco, ==, DISCO_DOMAIN);
	reply(f, WITH_CARBONS, disco_id);
	g_assert_cmpuint(f->sent->len, ==, 2);
	enable = sent_xml(f, 1, &enable_id);
	g_assert_cmpstr(enable, ==, ENABLE);
	/* Example 4: the answer comes from our bare JID. */
	reply(f,
	      "<iq from='romeo@montague.example' id='%s' to='" OWN
	      "' type='result'/>",
	      enable_id);
	g_assert_cmpuint(f->sent->len, ==, 2);
	g_assert_cmpuint(pxm_iq_tracker_get_pending(f->account->iq), ==, 0);
}

/* A server that announces carbons on the account rather than on itself. */
static void
test_enable_on_bare_jid(Fixture *f, gconstpointer data)
{
	g_autofree char *first_id = NULL;
	g_autofree char *second_id = NULL;
	g_autofree char *second = NULL;
	g_autofree char *enable = NULL;
	g_autofree char *first = sent_xml(f, 0, &first_id);

	reply(f, WITHOUT_CARBONS, first_id);
	g_assert_cmpuint(f->sent->len, ==, 2);
	second = sent_xml(f, 1, &second_id);
	g_assert_cmpstr(second, ==, DISCO_BARE);
	reply(f,
	      "<iq from='romeo@montague.example' id='%s' type='result'>"
	      "<query xmlns='http://jabber.org/protocol/disco#info'>"
	      "<feature var='urn:xmpp:carbons:2'/></query></iq>",
	      second_id);
	enable = sent_xml(f, 2, NULL);
	g_assert_cmpstr(enable, ==, ENABLE);
}

static void
test_not_offered(Fixture *f, gconstpointer data)
{
	g_autofree char *first_id = NULL;
	g_autofree char *second_id = NULL;
	g_autofree char *first = sent_xml(f, 0, &first_id);
	g_autofree char *second = NULL;

	/* The server answers with an error, the account without the
	 * feature: nothing is enabled. */
	reply(f,
	      "<iq from='montague.example' id='%s' type='error'><error "
	      "type='cancel'><service-unavailable "
	      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
	      first_id);
	second = sent_xml(f, 1, &second_id);
	g_assert_cmpstr(second, ==, DISCO_BARE);
	reply(f,
	      "<iq from='romeo@montague.example' id='%s' type='result'>"
	      "<query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
	      second_id);
	g_assert_cmpuint(f->sent->len, ==, 2);
}

/* Example 5: the server refuses; the extension stays passive and copies
 * that arrive anyway are still shown. */
static void
test_enable_refused(Fixture *f, gconstpointer data)
{
	g_autofree char *disco_id = NULL;
	g_autofree char *enable_id = NULL;
	g_autofree char *disco = sent_xml(f, 0, &disco_id);
	g_autofree char *enable = NULL;
	xmlnode *carbon;
	PxmStanza st;

	reply(f, WITH_CARBONS, disco_id);
	enable = sent_xml(f, 1, &enable_id);
	reply(f,
	      "<iq from='romeo@montague.example' id='%s' to='" OWN
	      "' type='error'><error type='auth'><forbidden "
	      "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
	      enable_id);
	g_assert_cmpuint(f->sent->len, ==, 2);

	carbon = pxm_test_parse(
		"<message from='romeo@montague.example' to='" OWN
		"' type='chat'><received xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='juliet@capulet.example/"
		"balcony' to='romeo@montague.example/garden' "
		"type='chat'><body>Hi</body></message></forwarded>"
		"</received></message>");
	pxm_stanza_init(&st, carbon, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(f->account, &st), ==,
			PXM_VERDICT_CONSUMED);
	g_assert_true(st.origin == PXM_ORIGIN_CARBON);
	pxm_stanza_clear(&st);
	xmlnode_free(carbon);
}

/* The IQ tracker's sender check: an answer to our disco from anyone but
 * the server we asked does not make us enable anything. */
static void
test_forged_disco_reply(Fixture *f, gconstpointer data)
{
	g_autofree char *disco_id = NULL;
	g_autofree char *disco = sent_xml(f, 0, &disco_id);
	g_autofree char *xml = g_strdup_printf(
		"<iq from='tybalt@capulet.example/home' id='%s' "
		"type='result'><query "
		"xmlns='http://jabber.org/protocol/disco#info'><feature "
		"var='urn:xmpp:carbons:2'/></query></iq>",
		disco_id);
	xmlnode *iq = pxm_test_parse(xml);

	pxm_iq_tracker_handle(f->account->iq, iq);
	xmlnode_free(iq);
	g_assert_cmpuint(f->sent->len, ==, 1);
	g_assert_cmpuint(pxm_iq_tracker_get_pending(f->account->iq), ==, 1);
}

/* Answers after the extension stopped change nothing and touch no freed
 * state (valgrind/ASan). */
static void
test_reply_after_stop(Fixture *f, gconstpointer data)
{
	g_autofree char *disco_id = NULL;
	g_autofree char *disco = sent_xml(f, 0, &disco_id);

	g_assert_true(pxm_account_set_active(
		f->account, pxm_test_extension_index(EXT), FALSE));
	reply(f, WITH_CARBONS, disco_id);
	g_assert_cmpuint(f->sent->len, ==, 1);
}

static void
test_enable_reply_after_stop(Fixture *f, gconstpointer data)
{
	g_autofree char *disco_id = NULL;
	g_autofree char *enable_id = NULL;
	g_autofree char *disco = sent_xml(f, 0, &disco_id);
	g_autofree char *enable = NULL;
	g_autofree char *disable = NULL;

	reply(f, WITH_CARBONS, disco_id);
	enable = sent_xml(f, 1, &enable_id);
	g_assert_true(pxm_account_set_active(
		f->account, pxm_test_extension_index(EXT), FALSE));
	reply(f, "<iq from='romeo@montague.example' id='%s' type='result'/>",
	      enable_id);
	/* Turned off while the server was enabling: undone. */
	g_assert_cmpuint(f->sent->len, ==, 3);
	disable = sent_xml(f, 2, NULL);
	g_assert_cmpstr(disable, ==,
			"<iq type='set' id='ID'><disable "
			"xmlns='urn:xmpp:carbons:2'/></iq>");
}

/* --- Unwrapping ------------------------------------------------------- */

typedef struct {
	PxmVerdict stage;    /* what the unwrap stage said */
	PxmVerdict pipeline; /* what the whole pipeline said */
	gboolean unwrapped;
	gboolean sent_by_me;
	PxmOrigin origin;
	char *type, *from, *to, *id, *body;
	gint64 timestamp;
} Result;

static void
result_clear(Result *r)
{
	g_free(r->type);
	g_free(r->from);
	g_free(r->to);
	g_free(r->id);
	g_free(r->body);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Result, result_clear)

/* Runs @xml through the unwrap stage alone, then (on a fresh record)
 * through the whole pipeline. */
static void
receive(Fixture *f, const char *xml, Result *r)
{
	xmlnode *node = pxm_test_parse(xml);
	guint index = pxm_test_extension_index(EXT);
	PxmStanza st;

	memset(r, 0, sizeof(*r));
	pxm_stanza_init(&st, node, FALSE);
	r->stage = pxm_xep0280_carbons.stages[PXM_PHASE_UNWRAP](
		f->account, f->account->states[index], &st);
	r->unwrapped = st.message != st.stanza;
	r->sent_by_me = st.sent_by_me;
	r->origin = st.origin;
	r->type = g_strdup(st.type);
	r->from = g_strdup(st.from);
	r->to = g_strdup(st.to);
	r->id = g_strdup(st.id);
	r->timestamp = st.timestamp;
	if (r->unwrapped) {
		xmlnode *body = xmlnode_get_child(st.message, "body");

		r->body = body != NULL ? xmlnode_get_data(body) : NULL;
	}
	pxm_stanza_clear(&st);

	pxm_stanza_init(&st, node, FALSE);
	r->pipeline = pxm_pipeline_incoming(f->account, &st);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
}

/* Example 10. */
static const char *const received_carbon =
	"<message xmlns='jabber:client' from='romeo@montague.example' "
	"to='romeo@montague.example/home' type='chat'>"
	"<received xmlns='urn:xmpp:carbons:2'>"
	"<forwarded xmlns='urn:xmpp:forward:0'>"
	"<message xmlns='jabber:client' "
	"from='juliet@capulet.example/balcony' "
	"to='romeo@montague.example/garden' type='chat' id='j1'>"
	"<body>What man art thou that, thus bescreen'd in night, so stumblest "
	"on my counsel?</body>"
	"<thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>"
	"</message></forwarded></received></message>";

/* Example 13. */
static const char *const sent_carbon =
	"<message xmlns='jabber:client' from='romeo@montague.example' "
	"to='romeo@montague.example/garden' type='chat'>"
	"<sent xmlns='urn:xmpp:carbons:2'>"
	"<forwarded xmlns='urn:xmpp:forward:0'>"
	"<message xmlns='jabber:client' to='juliet@capulet.example/balcony' "
	"from='romeo@montague.example/home' type='chat' id='r1'>"
	"<body>Neither, fair saint, if either thee dislike.</body>"
	"<thread>0e3141cd80894871a68e6fe6b1ec56fa</thread>"
	"</message></forwarded></sent></message>";

static void
test_received(Fixture *f, gconstpointer data)
{
	g_auto(Result) r;

	receive(f, received_carbon, &r);
	g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONTINUE);
	g_assert_true(r.unwrapped);
	g_assert_true(r.origin == PXM_ORIGIN_CARBON);
	g_assert_false(r.sent_by_me);
	g_assert_cmpstr(r.type, ==, "chat");
	g_assert_cmpstr(r.from, ==, "juliet@capulet.example/balcony");
	g_assert_cmpstr(r.to, ==, "romeo@montague.example/garden");
	g_assert_cmpstr(r.id, ==, "j1");
	g_assert_cmpstr(r.body, ==,
			"What man art thou that, thus bescreen'd in night, so "
			"stumblest on my counsel?");
	/* Live: shown as now, not as history. */
	g_assert_cmpint(r.timestamp, ==, 0);
	/* Shown by the host's presenter, never by the prpl. */
	g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_CONSUMED);
}

static void
test_sent(Fixture *f, gconstpointer data)
{
	g_auto(Result) r;

	receive(f, sent_carbon, &r);
	g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONTINUE);
	g_assert_true(r.unwrapped);
	g_assert_true(r.origin == PXM_ORIGIN_CARBON);
	g_assert_true(r.sent_by_me);
	g_assert_cmpstr(r.from, ==, "romeo@montague.example/home");
	g_assert_cmpstr(r.to, ==, "juliet@capulet.example/balcony");
	g_assert_cmpstr(r.id, ==, "r1");
	g_assert_cmpstr(r.body, ==,
			"Neither, fair saint, if either thee dislike.");
	g_assert_cmpint(r.timestamp, ==, 0);
	g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_CONSUMED);
}

/* RFC 6120 section 8.1.2.1: no 'from' is our own account, and JIDs are
 * compared normalised (a case-sensitive compare once made clients drop
 * real copies). */
static void
test_own_account_forms(Fixture *f, gconstpointer data)
{
	static const char *const froms[] = {
		"from='ROMEO@Montague.Example'",
		"",
	};

	for (guint i = 0; i < G_N_ELEMENTS(froms); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message %s to='" OWN "' type='chat'>"
			"<received xmlns='urn:xmpp:carbons:2'>"
			"<forwarded xmlns='urn:xmpp:forward:0'>"
			"<message xmlns='jabber:client' "
			"from='juliet@capulet.example/balcony' "
			"to='romeo@montague.example' type='chat'>"
			"<body>Hi</body></message></forwarded></received>"
			"</message>",
			froms[i]);
		g_auto(Result) r;

		receive(f, xml, &r);
		g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONTINUE);
		g_assert_true(r.unwrapped);
	}
}

/* Section 7 example 11 and section 11: a copy from anyone but our own bare
 * JID is dropped (CVE-2017-5589), also from our own full JID, our server,
 * or a look-alike. */
static void
test_forged_sender(Fixture *f, gconstpointer data)
{
	static const char *const froms[] = {
		"tybalt@capulet.example/home",
		"tybalt@capulet.example",
		"juliet@capulet.example/balcony",
		"romeo@montague.example/home",
		"romeo@montague.example/garden",
		"montague.example",
		"romeo@montague.example.evil.example",
		"romeo@montague.examplf",
		"",
		"@@",
	};

	for (guint i = 0; i < G_N_ELEMENTS(froms); i++) {
		for (guint sent = 0; sent < 2; sent++) {
			g_autofree char *xml = g_strdup_printf(
				"<message xmlns='jabber:client' from='%s' "
				"to='romeo@montague.example' type='chat'>"
				"<%s xmlns='urn:xmpp:carbons:2'>"
				"<forwarded xmlns='urn:xmpp:forward:0'>"
				"<message xmlns='jabber:client' "
				"from='%s' to='%s' type='chat'>"
				"<body>Thou shall meet me tonite, at our "
				"house's hall!</body></message></forwarded>"
				"</%s></message>",
				froms[i], sent ? "sent" : "received",
				sent ? "romeo@montague.example/home"
				     : "juliet@capulet.example/balcony",
				sent ? "juliet@capulet.example"
				     : "romeo@montague.example/garden",
				sent ? "sent" : "received");
			g_auto(Result) r;

			receive(f, xml, &r);
			g_assert_cmpint(r.stage, ==, PXM_VERDICT_DROP);
			g_assert_false(r.unwrapped);
			g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_DROP);
		}
	}
}

/* Our server only copies what our resources sent or what was addressed
 * to us. */
static void
test_copy_of_others(Fixture *f, gconstpointer data)
{
	static const char *const copies[] = {
		"<sent xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
		"from='juliet@capulet.example/balcony' "
		"to='romeo@montague.example' type='chat'><body>I love "
		"Tybalt</body></message></forwarded></sent>",
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
		"from='juliet@capulet.example/balcony' "
		"to='tybalt@capulet.example' type='chat'><body>Hi</body>"
		"</message></forwarded></received>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(copies); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message from='romeo@montague.example' to='" OWN
			"' type='chat'>%s</message>",
			copies[i]);
		g_auto(Result) r;

		receive(f, xml, &r);
		g_assert_cmpint(r.stage, ==, PXM_VERDICT_DROP);
		g_assert_false(r.unwrapped);
	}
}

static void
test_malformed(Fixture *f, gconstpointer data)
{
	static const char *const bodies[] = {
		/* No <forwarded/>. */
		"<received xmlns='urn:xmpp:carbons:2'/>",
		"<received xmlns='urn:xmpp:carbons:2'><message "
		"xmlns='jabber:client' from='juliet@capulet.example'><body>Hi"
		"</body></message></received>",
		/* <forwarded/> in another namespace. */
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:1'><message xmlns='jabber:client' "
		"from='juliet@capulet.example'><body>Hi</body></message>"
		"</forwarded></received>",
		/* Empty, two messages, something else than a message. */
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'/></received>",
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
		"from='juliet@capulet.example'><body>A</body></message>"
		"<message xmlns='jabber:client' "
		"from='tybalt@capulet.example'><body>B</body></message>"
		"</forwarded></received>",
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><iq xmlns='jabber:client' "
		"type='get' from='juliet@capulet.example'/></forwarded>"
		"</received>",
		/* A message in the wrong namespace. */
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message "
		"xmlns='urn:xmpp:forward:0' from='juliet@capulet.example'>"
		"<body>Hi</body></message></forwarded></received>",
		/* Two forwarded elements. */
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
		"from='juliet@capulet.example'><body>A</body></message>"
		"</forwarded><forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='juliet@capulet.example'><body>B"
		"</body></message></forwarded></received>",
		/* Both directions at once. */
		"<received xmlns='urn:xmpp:carbons:2'><forwarded "
		"xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' "
		"from='juliet@capulet.example'><body>A</body></message>"
		"</forwarded></received><sent xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' to='juliet@capulet.example'><body>B"
		"</body></message></forwarded></sent>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bodies); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message from='romeo@montague.example' to='" OWN
			"' type='chat'>%s</message>",
			bodies[i]);
		g_auto(Result) r;

		receive(f, xml, &r);
		g_assert_cmpint(r.stage, ==, PXM_VERDICT_DROP);
		g_assert_false(r.unwrapped);
		g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_DROP);
	}
}

/* Not a carbon at all: left alone. */
static void
test_not_a_carbon(Fixture *f, gconstpointer data)
{
	static const char *const messages[] = {
		"<message from='juliet@capulet.example/balcony' to='" OWN
		"' type='chat' id='x'><body>Hi</body></message>",
		/* Another namespace (the obsolete carbons:1, say). */
		"<message from='romeo@montague.example' to='" OWN
		"' type='chat'><received xmlns='urn:xmpp:carbons:1'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='juliet@capulet.example'><body>Hi"
		"</body></message></forwarded></received></message>",
		/* A <private/> on a live message is the sender's business. */
		"<message from='juliet@capulet.example/balcony' to='" OWN
		"' type='chat' id='y'><body>Hi</body><private "
		"xmlns='urn:xmpp:carbons:2'/></message>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(messages); i++) {
		g_auto(Result) r;

		receive(f, messages[i], &r);
		g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONTINUE);
		g_assert_false(r.unwrapped);
		g_assert_true(r.origin == PXM_ORIGIN_LIVE);
		g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_CONTINUE);
	}
}

/* Section 9 (see the extension's top comment): a copy of a message its
 * sender marked private, or no-copy, is not shown. */
static void
test_private(Fixture *f, gconstpointer data)
{
	static const char *const marks[] = {
		"<private xmlns='urn:xmpp:carbons:2'/>",
		"<no-copy xmlns='urn:xmpp:hints'/>",
		"<private xmlns='urn:xmpp:carbons:2'/>"
		"<no-copy xmlns='urn:xmpp:hints'/>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(marks); i++) {
		for (guint sent = 0; sent < 2; sent++) {
			g_autofree char *xml = g_strdup_printf(
				"<message from='romeo@montague.example' "
				"to='" OWN "' type='chat'><%s "
				"xmlns='urn:xmpp:carbons:2'><forwarded "
				"xmlns='urn:xmpp:forward:0'><message "
				"xmlns='jabber:client' from='%s' to='%s' "
				"type='chat'><body>Neither, fair saint</body>"
				"%s</message></forwarded></%s></message>",
				sent ? "sent" : "received",
				sent ? "romeo@montague.example/home"
				     : "juliet@capulet.example/home",
				sent ? "juliet@capulet.example/home"
				     : "romeo@montague.example/garden",
				marks[i], sent ? "sent" : "received");
			g_auto(Result) r;

			receive(f, xml, &r);
			g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONSUMED);
			g_assert_false(r.unwrapped);
			g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_CONSUMED);
		}
	}
}

/* Section 6.1: rooms deliver their messages themselves. */
static void
test_room_message(Fixture *f, gconstpointer data)
{
	g_auto(Result) r;

	receive(f,
		"<message from='romeo@montague.example' to='" OWN
		"' type='groupchat'><received xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='verona@rooms.example/juliet' "
		"to='romeo@montague.example/garden' type='groupchat'>"
		"<body>Hi all</body></message></forwarded></received>"
		"</message>",
		&r);
	g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONSUMED);
	g_assert_false(r.unwrapped);
}

/* Section 6.1: copies of private messages in a room we are not in cannot
 * be answered and are ignored.  (Joined rooms: tests/integration.) */
static void
test_room_private_not_joined(Fixture *f, gconstpointer data)
{
	g_auto(Result) r;

	receive(f,
		"<message from='romeo@montague.example' to='" OWN
		"' type='chat'><sent xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='romeo@montague.example/garden' "
		"to='verona@rooms.example/juliet' type='chat'>"
		"<body>Psst</body><x "
		"xmlns='http://jabber.org/protocol/muc#user'/></message>"
		"</forwarded></sent></message>",
		&r);
	g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONSUMED);
	g_assert_false(r.unwrapped);
}

/* XEP-0297: a <delay/> in <forwarded/> is when the original was
 * sent; else the message's own delay counts. */
static void
test_delay(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *forwarded_delay;
		const char *message_delay;
		gint64 expected;
	} cases[] = {
		{ "<delay xmlns='urn:xmpp:delay' "
		  "stamp='2010-07-10T23:08:25Z'/>",
		  "", 1278803305 },
		{ "",
		  "<delay xmlns='urn:xmpp:delay' "
		  "stamp='2002-09-10T23:08:25.000+02:00'/>",
		  1031692105 },
		{ "<delay xmlns='urn:xmpp:delay' "
		  "stamp='2010-07-10T23:08:25Z'/>",
		  "<delay xmlns='urn:xmpp:delay' "
		  "stamp='2002-09-10T23:08:25Z'/>",
		  1278803305 },
		{ "<delay xmlns='urn:xmpp:delay' stamp='yesterday'/>", "", 0 },
		{ "<delay xmlns='urn:xmpp:delay'/>", "", 0 },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<message from='romeo@montague.example' to='" OWN
			"' type='chat'><sent xmlns='urn:xmpp:carbons:2'>"
			"<forwarded xmlns='urn:xmpp:forward:0'>%s<message "
			"xmlns='jabber:client' "
			"from='romeo@montague.example/home' "
			"to='juliet@capulet.example' type='chat' id='d%u'>"
			"<body>Later</body>%s</message></forwarded></sent>"
			"</message>",
			cases[i].forwarded_delay, i, cases[i].message_delay);
		g_auto(Result) r;

		receive(f, xml, &r);
		g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONTINUE);
		g_assert_cmpint(r.timestamp, ==, cases[i].expected);
	}
}

/* Chat states and receipts come as body-less copies: unwrapped for the
 * handlers, then consumed without being shown (no conversation with
 * ourselves). */
static void
test_bodyless(Fixture *f, gconstpointer data)
{
	g_auto(Result) r;

	receive(f,
		"<message from='romeo@montague.example' to='" OWN
		"' type='chat'><sent xmlns='urn:xmpp:carbons:2'>"
		"<forwarded xmlns='urn:xmpp:forward:0'><message "
		"xmlns='jabber:client' from='romeo@montague.example/home' "
		"to='juliet@capulet.example' type='chat'><composing "
		"xmlns='http://jabber.org/protocol/chatstates'/></message>"
		"</forwarded></sent></message>",
		&r);
	g_assert_cmpint(r.stage, ==, PXM_VERDICT_CONTINUE);
	g_assert_true(r.unwrapped);
	g_assert_null(r.body);
	g_assert_cmpint(r.pipeline, ==, PXM_VERDICT_CONSUMED);
}

/* Off: copies reach the prpl as they are (it ignores them: no body). */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	xmlnode *node = pxm_test_parse(received_carbon);
	PxmStanza st;

	g_assert_cmpuint(f->sent->len, ==, 0);
	pxm_stanza_init(&st, node, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(f->account, &st), ==,
			PXM_VERDICT_CONTINUE);
	g_assert_true(st.message == st.stanza);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
}

/* --- Presenter: room private messages --------------------------------- */

static gboolean
admit(Fixture *f, const char *xml)
{
	xmlnode *node = pxm_test_parse(xml);
	PxmStanza st;
	gboolean admitted;

	pxm_stanza_init(&st, node, FALSE);
	admitted = pxm_presenter_admit(f->account, &st);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
	return admitted;
}

/* Two occupants of one room may use the same message id in private: the
 * nick is part of who sent it. */
static void
test_room_private_identity(Fixture *f, gconstpointer data)
{
	const PxmShownMessage *last;

	g_assert_true(admit(f, "<message type='chat' "
			       "from='verona@rooms.example/juliet' id='1'>"
			       "<body>A</body><x xmlns='http://jabber.org/"
			       "protocol/muc#user'/></message>"));
	g_assert_true(admit(f, "<message type='chat' "
			       "from='verona@rooms.example/nurse' id='1'>"
			       "<body>B</body><x xmlns='http://jabber.org/"
			       "protocol/muc#user'/></message>"));
	g_assert_false(admit(f, "<message type='chat' "
				"from='verona@rooms.example/nurse' id='1'>"
				"<body>B</body><x xmlns='http://jabber.org/"
				"protocol/muc#user'/></message>"));
	last = pxm_presenter_last(f->account, "verona@rooms.example",
				  PXM_LAST_RECEIVED);
	g_assert_nonnull(last);
	g_assert_cmpstr(last->sender, ==, "verona@rooms.example/nurse");
	/* A contact's resources are still one sender. */
	g_assert_true(admit(f, "<message type='chat' "
			       "from='juliet@capulet.example/a' id='2'>"
			       "<body>C</body></message>"));
	g_assert_false(admit(f, "<message type='chat' "
				"from='juliet@capulet.example/b' id='2'>"
				"<body>C</body></message>"));
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0280-carbons/" path, Fixture, GINT_TO_POINTER(on),     \
		   setup, func, pxm_test_account_teardown)
	ADD("enable/disco-then-enable", test_enable, TRUE);
	ADD("enable/announced-on-bare-jid", test_enable_on_bare_jid, TRUE);
	ADD("enable/not-offered", test_not_offered, TRUE);
	ADD("enable/refused", test_enable_refused, TRUE);
	ADD("enable/forged-disco-reply", test_forged_disco_reply, TRUE);
	ADD("enable/reply-after-stop", test_reply_after_stop, TRUE);
	ADD("enable/turned-off-while-enabling", test_enable_reply_after_stop,
	    TRUE);
	ADD("unwrap/received", test_received, TRUE);
	ADD("unwrap/sent", test_sent, TRUE);
	ADD("unwrap/own-account-forms", test_own_account_forms, TRUE);
	ADD("unwrap/forged-sender", test_forged_sender, TRUE);
	ADD("unwrap/copy-of-others", test_copy_of_others, TRUE);
	ADD("unwrap/malformed", test_malformed, TRUE);
	ADD("unwrap/not-a-carbon", test_not_a_carbon, TRUE);
	ADD("unwrap/private", test_private, TRUE);
	ADD("unwrap/room-message", test_room_message, TRUE);
	ADD("unwrap/room-private-not-joined", test_room_private_not_joined,
	    TRUE);
	ADD("unwrap/delay", test_delay, TRUE);
	ADD("unwrap/bodyless", test_bodyless, TRUE);
	ADD("disabled", test_disabled, FALSE);
	ADD("presenter/room-private-identity", test_room_private_identity,
	    FALSE);
	return g_test_run();
}

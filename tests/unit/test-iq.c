// SPDX-License-Identifier: GPL-3.0-or-later
/* The IQ tracker: exactly one callback per request, with the result or a
 * GError (stanza error, timeout, disconnect), spoofed replies ignored. */
#include "iq.h"
#include "pxm-test.h"

typedef struct {
	guint calls;
	guint destroyed;
	char *result_id;
	GError *error;
	GMainLoop *loop;
} Record;

static void
record_clear(Record *r)
{
	g_free(r->result_id);
	g_clear_error(&r->error);
	g_clear_pointer(&r->loop, g_main_loop_unref);
}

static void
on_reply(PxmAccount *account, xmlnode *result, const GError *error,
	 gpointer data)
{
	Record *r = data;

	r->calls++;
	if (result != NULL)
		r->result_id = g_strdup(xmlnode_get_attrib(result, "id"));
	if (error != NULL)
		r->error = g_error_copy(error);
	if (r->loop != NULL)
		g_main_loop_quit(r->loop);
}

static void
on_destroy(gpointer data)
{
	((Record *)data)->destroyed++;
}

static xmlnode *
request(const char *to)
{
	xmlnode *iq = xmlnode_new("iq");

	xmlnode_set_attrib(iq, "type", "get");
	if (to != NULL)
		xmlnode_set_attrib(iq, "to", to);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      "http://jabber.org/protocol/disco#info");
	return iq;
}

static xmlnode *
parse(const char *xml)
{
	xmlnode *node = xmlnode_from_str(xml, -1);

	g_assert_nonnull(node);
	return node;
}

static char *
add(PxmIqTracker *t, const char *to, guint timeout, Record *r)
{
	xmlnode *iq = request(to);
	char *id = g_strdup(
		pxm_iq_tracker_add(t, iq, timeout, on_reply, r, on_destroy));

	/* The tracker sets an id when there is none. */
	g_assert_cmpstr(xmlnode_get_attrib(iq, "id"), ==, id);
	xmlnode_free(iq);
	return id;
}

static gboolean handle(PxmIqTracker *t, const char *fmt, ...)
	G_GNUC_PRINTF(2, 3);

static gboolean
handle(PxmIqTracker *t, const char *fmt, ...)
{
	va_list args;
	g_autofree char *xml = NULL;
	xmlnode *node;
	gboolean handled;

	va_start(args, fmt);
	xml = g_strdup_vprintf(fmt, args);
	va_end(args);
	node = parse(xml);
	handled = pxm_iq_tracker_handle(t, node);
	xmlnode_free(node);
	return handled;
}

static void
test_result(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "alice@example.org/pc");
	Record r = { 0 };
	g_autofree char *id = add(t, "bob@example.org/phone", 0, &r);

	g_assert_cmpuint(pxm_iq_tracker_get_pending(t), ==, 1);
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='bob@example.org/phone'/>",
			     id));
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_cmpuint(r.destroyed, ==, 1);
	g_assert_cmpstr(r.result_id, ==, id);
	g_assert_no_error(r.error);
	/* A second answer with the same id is nobody's: not ours any more. */
	g_assert_false(handle(t,
			      "<iq type='result' id='%s' "
			      "from='bob@example.org/phone'/>",
			      id));
	g_assert_cmpuint(r.calls, ==, 1);
	pxm_iq_tracker_free(t, NULL);
	g_assert_cmpuint(r.destroyed, ==, 1);
	record_clear(&r);
}

static void
test_stanza_error(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "alice@example.org/pc");
	Record r = { 0 };
	g_autofree char *id = add(t, "example.org", 0, &r);

	g_assert_true(
		handle(t,
		       "<iq type='error' id='%s' from='example.org'><error "
		       "type='cancel'><item-not-found "
		       "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
		       "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>No such "
		       "node</text></error></iq>",
		       id));
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_null(r.result_id);
	g_assert_error(r.error, PXM_IQ_ERROR, PXM_IQ_ERROR_STANZA);
	g_assert_cmpstr(r.error->message, ==, "item-not-found: No such node");
	pxm_iq_tracker_free(t, NULL);
	g_assert_cmpuint(r.destroyed, ==, 1);
	record_clear(&r);
}

static void
test_error_without_condition(void)
{
	g_autoptr(GError) error = NULL;
	xmlnode *iq = parse("<iq type='error' id='x'><error "
			    "type='cancel'/></iq>");

	error = pxm_iq_error_from_stanza(iq);
	g_assert_error(error, PXM_IQ_ERROR, PXM_IQ_ERROR_STANZA);
	g_assert_cmpstr(error->message, ==, "undefined-condition");
	xmlnode_free(iq);
}

/* Conditions read from real error stanzas: with and without a text, a
 * condition that only starts like another, errors that are no stanza. */
static void
test_error_is(void)
{
	xmlnode *iq = parse(
		"<iq type='error' id='x'><error "
		"type='wait'><resource-constraint "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Unknown field "
		"pubsub#max_items</text></error></iq>");
	g_autoptr(GError) error = pxm_iq_error_from_stanza(iq);
	g_autoptr(GError) bare = NULL;
	g_autoptr(GError) timeout = g_error_new_literal(
		PXM_IQ_ERROR, PXM_IQ_ERROR_TIMEOUT, "conflict");

	xmlnode_free(iq);
	iq = parse(
		"<iq type='error' id='y'><error type='cancel'><conflict "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>");
	bare = pxm_iq_error_from_stanza(iq);
	xmlnode_free(iq);

	g_assert_true(pxm_iq_error_is(error, "resource-constraint"));
	g_assert_false(pxm_iq_error_is(error, "resource"));
	g_assert_false(pxm_iq_error_is(error, "conflict"));
	g_assert_true(pxm_iq_error_refused_options(error));
	g_assert_true(pxm_iq_error_is(bare, "conflict"));
	g_assert_false(pxm_iq_error_is(bare, "conflic"));
	g_assert_false(pxm_iq_error_refused_options(bare));
	g_assert_false(pxm_iq_error_is(timeout, "conflict"));
	g_assert_false(pxm_iq_error_is(NULL, "conflict"));
	g_assert_false(pxm_iq_error_refused_options(NULL));
}

static void
test_timeout(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "alice@example.org/pc");
	Record r = { 0 };
	g_autofree char *id = NULL;

	r.loop = g_main_loop_new(NULL, FALSE);
	id = add(t, "bob@example.org/phone", 20, &r);
	g_main_loop_run(r.loop);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_error(r.error, PXM_IQ_ERROR, PXM_IQ_ERROR_TIMEOUT);
	g_assert_cmpuint(pxm_iq_tracker_get_pending(t), ==, 0);
	/* A late answer changes nothing. */
	g_assert_false(handle(t,
			      "<iq type='result' id='%s' "
			      "from='bob@example.org/phone'/>",
			      id));
	g_assert_cmpuint(r.calls, ==, 1);
	pxm_iq_tracker_free(t, NULL);
	g_assert_cmpuint(r.destroyed, ==, 1);
	record_clear(&r);
}

static void
test_disconnect(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "alice@example.org/pc");
	Record r1 = { 0 }, r2 = { 0 };
	g_autofree char *id1 = add(t, "bob@example.org/phone", 0, &r1);
	g_autofree char *id2 = add(t, NULL, 0, &r2);
	g_autoptr(GError) reason = g_error_new_literal(
		PXM_IQ_ERROR, PXM_IQ_ERROR_DISCONNECTED, "offline");

	g_assert_cmpstr(id1, !=, id2);
	pxm_iq_tracker_free(t, reason);
	g_assert_cmpuint(r1.calls, ==, 1);
	g_assert_cmpuint(r2.calls, ==, 1);
	g_assert_error(r1.error, PXM_IQ_ERROR, PXM_IQ_ERROR_DISCONNECTED);
	g_assert_error(r2.error, PXM_IQ_ERROR, PXM_IQ_ERROR_DISCONNECTED);
	g_assert_cmpuint(r1.destroyed, ==, 1);
	g_assert_cmpuint(r2.destroyed, ==, 1);
	record_clear(&r1);
	record_clear(&r2);
}

static void
test_cancel_default(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "alice@example.org/pc");
	Record r = { 0 };
	g_autofree char *id = add(t, NULL, 0, &r);

	pxm_iq_tracker_free(t, NULL);
	g_assert_error(r.error, PXM_IQ_ERROR, PXM_IQ_ERROR_CANCELLED);
	record_clear(&r);
}

/* RFC 6120 10.3.3: only our server answers for our bare JID. */
static void
test_spoofed_reply(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "Alice@Example.org/pc");
	Record r = { 0 }, s = { 0 };
	g_autofree char *id = add(t, "bob@example.org/phone", 0, &r);
	g_autofree char *own = add(t, NULL, 0, &s);

	/* Consumed (it carries our id) but not accepted. */
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='mallory@example.org/x'/>",
			     id));
	g_assert_true(handle(t, "<iq type='result' id='%s'/>", id));
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='bob@example.org/other'/>",
			     id));
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='mallory@example.org'/>",
			     own));
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='alice@example.org/phone'/>",
			     own));
	g_assert_cmpuint(r.calls, ==, 0);
	g_assert_cmpuint(s.calls, ==, 0);
	g_assert_cmpuint(pxm_iq_tracker_get_pending(t), ==, 2);
	/* The real answers, with JIDs in another case. */
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='Bob@EXAMPLE.org/phone'/>",
			     id));
	g_assert_true(handle(t,
			     "<iq type='result' id='%s' "
			     "from='alice@example.org'/>",
			     own));
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_cmpuint(s.calls, ==, 1);
	pxm_iq_tracker_free(t, NULL);
	record_clear(&r);
	record_clear(&s);
}

static void
test_not_ours(void)
{
	PxmIqTracker *t = pxm_iq_tracker_new(NULL, "alice@example.org/pc");

	g_assert_false(handle(t, "<iq type='result' id='unknown'/>"));
	g_assert_false(handle(t, "<iq type='get' id='x'><ping "
				 "xmlns='urn:xmpp:ping'/></iq>"));
	g_assert_false(handle(t, "<iq type='result'/>"));
	pxm_iq_tracker_free(t, NULL);
}

/* A callback that sends another request while the tracker is torn down
 * still gets exactly one call for each. */
static PxmIqTracker *reentrant_tracker;
static Record reentrant_second;

static void
on_reply_and_resend(PxmAccount *account, xmlnode *result, const GError *error,
		    gpointer data)
{
	on_reply(account, result, error, data);
	g_free(add(reentrant_tracker, NULL, 0, &reentrant_second));
}

static void
test_reentrant(void)
{
	Record r = { 0 };
	xmlnode *iq = request(NULL);

	reentrant_tracker = pxm_iq_tracker_new(NULL, "alice@example.org");
	pxm_iq_tracker_add(reentrant_tracker, iq, 0, on_reply_and_resend, &r,
			   on_destroy);
	xmlnode_free(iq);
	pxm_iq_tracker_free(reentrant_tracker, NULL);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_cmpuint(r.destroyed, ==, 1);
	g_assert_cmpuint(reentrant_second.calls, ==, 1);
	g_assert_cmpuint(reentrant_second.destroyed, ==, 1);
	record_clear(&r);
	record_clear(&reentrant_second);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	g_test_add_func("/iq/result", test_result);
	g_test_add_func("/iq/stanza-error", test_stanza_error);
	g_test_add_func("/iq/stanza-error/no-condition",
			test_error_without_condition);
	g_test_add_func("/iq/timeout", test_timeout);
	g_test_add_func("/iq/error-is", test_error_is);
	g_test_add_func("/iq/disconnect", test_disconnect);
	g_test_add_func("/iq/cancel", test_cancel_default);
	g_test_add_func("/iq/spoofed-reply", test_spoofed_reply);
	g_test_add_func("/iq/not-ours", test_not_ours);
	g_test_add_func("/iq/reentrant", test_reentrant);
	return g_test_run();
}

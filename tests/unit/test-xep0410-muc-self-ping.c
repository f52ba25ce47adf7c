// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0410 through the host's real pipeline and IQ tracker: which rooms
 * are watched, the exact ping, the answers of section 3.2 and what each
 * one leads to, quiet periods and back-off on real (short) timers. */
#include <string.h>

#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0410-muc-self-ping/xep0410-muc-self-ping.h"

#define OWN "alice@example.org/pidgin"
#define ROOM "room@muc.example.org"
#define EXT "xep0410-muc-self-ping"

#define QUIET_MS 40
#define RETRY_MS 30

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	pxm_test_account_activate(f, EXT);
	pxm_self_ping_set_timing(pxm_test_account_state(f, EXT), QUIET_MS,
				 RETRY_MS, 4 * RETRY_MS, 200);
}

static gboolean
on_deadline(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* Runs the main loop until something more is sent or @ms pass; TRUE if
 * something was sent. */
static gboolean
wait_sent(Fixture *f, guint ms)
{
	guint before = f->sent->len;
	gboolean late = FALSE;
	guint source = g_timeout_add(ms, on_deadline, &late);

	while (!late && f->sent->len == before)
		g_main_context_iteration(NULL, TRUE);
	if (!late)
		g_source_remove(source);
	return f->sent->len > before;
}

static void
join(Fixture *f, const char *nick, const char *password)
{
	g_autofree char *pw =
		password != NULL
			? g_strdup_printf("<password>%s</password>", password)
			: g_strdup("");
	g_autofree char *out = g_strdup_printf(
		"<presence to='" ROOM "/%s'><x "
		"xmlns='http://jabber.org/protocol/muc'>%s</x></presence>",
		nick, pw);
	g_autofree char *self = g_strdup_printf(
		"<presence from='" ROOM "/%s' to='" OWN "'><x "
		"xmlns='http://jabber.org/protocol/muc#user'><item "
		"affiliation='member' role='participant'/><status "
		"code='110'/></x></presence>",
		nick);
	g_autofree char *sent = pxm_test_send_out(f, out);

	g_assert_cmpint(pxm_test_receive(f, self), ==, PXM_VERDICT_CONTINUE);
}

/* The id of the last stanza sent. */
static char *
last_id(Fixture *f)
{
	g_autoptr(xmlnode) node = pxm_test_parse(pxm_test_last_sent(f));

	return g_strdup(xmlnode_get_attrib(node, "id"));
}

/* Sent stanza @i with its id (the IQ tracker's) replaced by "ID". */
static char *
sent_dup(Fixture *f, guint i)
{
	g_autoptr(xmlnode) node = NULL;

	g_assert_cmpuint(i, <, f->sent->len);
	node = pxm_test_parse(f->sent->pdata[i]);
	g_assert_nonnull(xmlnode_get_attrib(node, "id"));
	xmlnode_set_attrib(node, "id", "ID");
	return xmlnode_to_str(node, NULL);
}

static void
answer_error(Fixture *f, const char *from, const char *condition)
{
	g_autofree char *id = last_id(f);
	g_autofree char *xml = g_strdup_printf(
		"<iq type='error' from='%s' to='" OWN "' id='%s'><error "
		"type='cancel'><%s "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
		"</error></iq>",
		from, id, condition);
	g_autoptr(xmlnode) iq = pxm_test_parse(xml);

	g_assert_true(pxm_iq_tracker_handle(f->account->iq, iq));
}

static void
answer_result(Fixture *f, const char *from)
{
	g_autofree char *id = last_id(f);
	g_autofree char *xml = g_strdup_printf(
		"<iq type='result' from='%s' to='" OWN "' id='%s'/>", from, id);
	g_autoptr(xmlnode) iq = pxm_test_parse(xml);

	g_assert_true(pxm_iq_tracker_handle(f->account->iq, iq));
}

static void
assert_ping(Fixture *f, const char *nick)
{
	g_autofree char *xml = sent_dup(f, f->sent->len - 1);
	g_autofree char *expected =
		g_strdup_printf("<iq type='get' to='" ROOM "/%s' id='ID'><ping "
				"xmlns='urn:xmpp:ping'/></iq>",
				nick);

	g_assert_cmpstr(xml, ==, expected);
}

/* Section 3.2: after a quiet period, a ping to our own occupant JID. */
static void
test_ping_after_quiet(Fixture *f, gconstpointer data)
{
	gint64 start;

	join(f, "alice", NULL);
	start = g_get_monotonic_time();
	g_assert_cmpuint(f->sent->len, ==, 0);
	g_assert_true(wait_sent(f, 2000));
	g_assert_cmpint(g_get_monotonic_time() - start, >=, QUIET_MS * 1000);
	assert_ping(f, "alice");
	g_assert_cmpuint(f->sent->len, ==, 1);
}

/* Traffic from the room shows we are in: the ping waits for silence.
 * Traffic comes every half quiet period, so no ping is due before the
 * last; a machine stalled for longer than a quiet period between two
 * messages (valgrind on a busy machine) may see the ping early, and then
 * it must still come a whole quiet period after the last traffic. */
static void
test_traffic_postpones(Fixture *f, gconstpointer data)
{
	gint64 last;

	/* Read before what arms the timer: a lower bound of its start. */
	last = g_get_monotonic_time();
	join(f, "alice", NULL);
	for (guint i = 0; i < 6; i++) {
		g_autofree char *msg = g_strdup_printf(
			"<message type='groupchat' from='" ROOM "/bob' "
			"id='m%u'><body>%u</body></message>",
			i, i);

		if (wait_sent(f, QUIET_MS / 2)) {
			g_assert_cmpint(g_get_monotonic_time() - last, >=,
					QUIET_MS * 1000);
			assert_ping(f, "alice");
			return;
		}
		last = g_get_monotonic_time();
		pxm_test_receive(f, msg);
	}
	g_assert_true(wait_sent(f, 2000));
	g_assert_cmpint(g_get_monotonic_time() - last, >=, QUIET_MS * 1000);
	assert_ping(f, "alice");
}

/* XEP-0045 section 7.2.2: a self-presence from a room we did not ask to
 * join (anyone can send one) does not make us ping anything. */
static void
test_forged_self_presence(Fixture *f, gconstpointer data)
{
	pxm_test_receive(f,
			 "<presence from='evil@muc.example.org/alice' "
			 "to='" OWN "'><x "
			 "xmlns='http://jabber.org/protocol/muc#user'><status "
			 "code='110'/></x></presence>");
	g_assert_false(wait_sent(f, 3 * QUIET_MS));
}

/* Once left (or kicked), the room is not pinged or rejoined. */
static void
test_left(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	join(f, "alice", NULL);
	out = pxm_test_send_out(f, "<presence type='unavailable' to='" ROOM
				   "/alice'/>");
	g_assert_false(wait_sent(f, 3 * QUIET_MS));

	join(f, "alice", NULL);
	pxm_test_receive(f, "<presence type='unavailable' from='" ROOM
			    "/alice' to='" OWN "'><x "
			    "xmlns='http://jabber.org/protocol/muc#user'><item "
			    "role='none'/><status code='307'/><status "
			    "code='110'/></x></presence>");
	g_assert_false(wait_sent(f, 3 * QUIET_MS));
}

static void
assert_rejoin(Fixture *f, const char *password)
{
	g_autoptr(xmlnode) p = pxm_test_parse(pxm_test_last_sent(f));
	xmlnode *x = pxm_xml_child(p, "x", "http://jabber.org/protocol/muc");
	xmlnode *history = pxm_xml_child(x, "history", NULL);
	xmlnode *pw = pxm_xml_child(x, "password", NULL);
	g_autofree char *pw_text = pw != NULL ? xmlnode_get_data(pw) : NULL;
	g_autoptr(GDateTime) since = NULL;

	g_assert_cmpstr(p->name, ==, "presence");
	g_assert_cmpstr(xmlnode_get_attrib(p, "to"), ==, ROOM "/alice");
	g_assert_null(xmlnode_get_attrib(p, "type"));
	g_assert_nonnull(x);
	g_assert_cmpstr(pw_text, ==, password);
	/* What was said since the room was last heard from. */
	g_assert_nonnull(history);
	since = g_date_time_new_from_iso8601(
		xmlnode_get_attrib(history, "since"), NULL);
	g_assert_nonnull(since);
	g_assert_cmpint(g_date_time_to_unix(since), <=,
			g_get_real_time() / G_USEC_PER_SEC);
	g_assert_cmpint(g_date_time_to_unix(since), >=,
			g_get_real_time() / G_USEC_PER_SEC - 60);
}

/* Section 3.2: "Any other error: the client is probably not joined any
 * more. It should perform a re-join." */
static void
test_not_joined_rejoins(Fixture *f, gconstpointer data)
{
	static const char *const conditions[] = {
		"not-acceptable",
		"not-allowed",
		"bad-request",
		"forbidden",
	};

	for (guint i = 0; i < G_N_ELEMENTS(conditions); i++) {
		g_autofree char *room_out = NULL;

		f->sent->len > 0 ? g_ptr_array_set_size(f->sent, 0) : (void)0;
		join(f, "alice", "s3cret");
		g_assert_true(wait_sent(f, 2000));
		assert_ping(f, "alice");
		answer_error(f, ROOM "/alice", conditions[i]);
		g_assert_cmpuint(f->sent->len, ==, 2);
		assert_rejoin(f, "s3cret");
		room_out = pxm_test_send_out(
			f,
			"<presence type='unavailable' to='" ROOM "/alice'/>");
	}
}

/* After the rejoin is confirmed the room is watched again. */
static void
test_rejoined_watched(Fixture *f, gconstpointer data)
{
	join(f, "alice", NULL);
	g_assert_true(wait_sent(f, 2000));
	answer_error(f, ROOM "/alice", "not-acceptable");
	assert_rejoin(f, NULL);
	pxm_test_receive(f, "<presence from='" ROOM "/bob' to='" OWN "'><x "
			    "xmlns='http://jabber.org/protocol/muc#user'><item "
			    "role='participant'/></x></presence>");
	pxm_test_receive(f, "<presence from='" ROOM "/alice' to='" OWN
			    "'><x xmlns='http://jabber.org/protocol/muc#user'>"
			    "<item role='participant'/><status code='110'/>"
			    "</x></presence>");
	g_assert_true(wait_sent(f, 2000));
	assert_ping(f, "alice");
	answer_result(f, ROOM "/alice");
	g_assert_cmpuint(f->sent->len, ==, 3);
}

/* Section 3.2: a result, service-unavailable or feature-not-implemented
 * mean we are in: nothing is sent until the next quiet period. */
static void
test_joined(Fixture *f, gconstpointer data)
{
	static const char *const conditions[] = {
		NULL,
		"service-unavailable",
		"feature-not-implemented",
	};

	join(f, "alice", NULL);
	for (guint i = 0; i < G_N_ELEMENTS(conditions); i++) {
		gint64 answered;

		g_assert_true(wait_sent(f, 2000));
		assert_ping(f, "alice");
		/* Before the answer: handling it arms the next ping, and
		 * under valgrind that takes a while. */
		answered = g_get_monotonic_time();
		if (conditions[i] == NULL)
			answer_result(f, ROOM "/alice");
		else
			answer_error(f, ROOM "/alice", conditions[i]);
		g_assert_cmpuint(f->sent->len, ==, i + 1);
		/* The next one comes a quiet period later. */
		g_assert_true(wait_sent(f, 2000));
		g_assert_cmpint(g_get_monotonic_time() - answered, >=,
				QUIET_MS * 1000);
		g_ptr_array_set_size(f->sent, i + 1);
	}
}

/* Section 3.2: remote-server-not-found / -timeout and no answer at all
 * are "treated like a timeout": ask again later, never rejoin (no false
 * alarm on a slow link), waiting longer each time up to a bound. */
static void
test_unreachable_backs_off(Fixture *f, gconstpointer data)
{
	static const char *const conditions[] = {
		"remote-server-not-found",
		"remote-server-timeout",
		NULL, /* no answer (the ping times out) */
		NULL,
		"remote-server-timeout",
	};
	gint64 waits[G_N_ELEMENTS(conditions)];

	join(f, "alice", NULL);
	g_assert_true(wait_sent(f, 2000));
	for (guint i = 0; i < G_N_ELEMENTS(conditions); i++) {
		gint64 t0 = g_get_monotonic_time();

		assert_ping(f, "alice");
		if (conditions[i] != NULL)
			answer_error(f, ROOM "/alice", conditions[i]);
		else
			t0 += 200 * 1000; /* the ping's own timeout */
		g_assert_true(wait_sent(f, 3000));
		waits[i] = g_get_monotonic_time() - t0;
	}
	/* Only pings: no rejoin. */
	for (guint i = 0; i < f->sent->len; i++)
		g_assert_true(strstr(f->sent->pdata[i], "urn:xmpp:ping") !=
			      NULL);
	/* 30 ms, 60, 120 (after the timeout), then the bound: 120. */
	g_assert_cmpint(waits[0], >=, RETRY_MS * 1000);
	g_assert_cmpint(waits[1], >=, 2 * RETRY_MS * 1000);
	g_assert_cmpint(waits[4], >=, 4 * RETRY_MS * 1000);
	/* An answer resets the back-off. */
	answer_result(f, ROOM "/alice");
	g_assert_true(wait_sent(f, 2000));
	answer_error(f, ROOM "/alice", "remote-server-not-found");
	{
		gint64 t0 = g_get_monotonic_time();

		g_assert_true(wait_sent(f, 2000));
		g_assert_cmpint(g_get_monotonic_time() - t0, <,
				4 * RETRY_MS * 1000);
	}
}

/* item-not-found means a nick change of another client of ours is under
 * way (section 3.2) -- unless the room itself is gone (a temporary room
 * after a service restart): the room is asked. */
static void
test_item_not_found(Fixture *f, gconstpointer data)
{
	g_autofree char *disco = NULL;

	join(f, "alice", NULL);
	g_assert_true(wait_sent(f, 2000));
	answer_error(f, ROOM "/alice", "item-not-found");
	g_assert_cmpuint(f->sent->len, ==, 2);
	disco = sent_dup(f, 1);
	g_assert_cmpstr(disco, ==,
			"<iq type='get' to='" ROOM "' id='ID'><query "
			"xmlns='http://jabber.org/protocol/disco#info'/></iq>");
	/* The room exists: we are in; the next ping is a quiet period
	 * later. */
	answer_result(f, ROOM);
	g_assert_cmpuint(f->sent->len, ==, 2);
	g_assert_true(wait_sent(f, 2000));
	assert_ping(f, "alice");
	answer_error(f, ROOM "/alice", "item-not-found");
	/* The room is not found: rejoin. */
	answer_error(f, ROOM, "item-not-found");
	g_assert_cmpuint(f->sent->len, ==, 5);
	assert_rejoin(f, NULL);
}

/* A reply from someone else than the pinged occupant is not believed
 * (the host's IQ tracker drops it as a spoof). */
static void
test_forged_answer(Fixture *f, gconstpointer data)
{
	g_autofree char *id = NULL;
	g_autofree char *xml = NULL;
	g_autoptr(xmlnode) iq = NULL;

	join(f, "alice", NULL);
	g_assert_true(wait_sent(f, 2000));
	id = last_id(f);
	xml = g_strdup_printf(
		"<iq type='error' from='" ROOM "/mallory' to='" OWN
		"' id='%s'><error type='cancel'><not-acceptable "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></iq>",
		id);
	iq = pxm_test_parse(xml);
	pxm_iq_tracker_handle(f->account->iq, iq);
	g_assert_cmpuint(f->sent->len, ==, 1);
}

/* Section 4: no self-ping between asking for a new nick and the room's
 * answer; afterwards the ping goes to the new nick. */
static void
test_nick_change(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	join(f, "alice", NULL);
	out = pxm_test_send_out(f, "<presence to='" ROOM "/alicia'/>");
	g_assert_false(wait_sent(f, 3 * QUIET_MS));
	pxm_test_receive(f, "<presence type='unavailable' from='" ROOM
			    "/alice' to='" OWN "'><x "
			    "xmlns='http://jabber.org/protocol/muc#user'><item "
			    "nick='alicia' role='participant'/><status "
			    "code='303'/><status code='110'/></x></presence>");
	pxm_test_receive(f, "<presence from='" ROOM "/alicia' to='" OWN
			    "'><x xmlns='http://jabber.org/protocol/muc#user'>"
			    "<item role='participant'/><status code='110'/>"
			    "</x></presence>");
	g_assert_true(wait_sent(f, 2000));
	assert_ping(f, "alicia");
}

/* A ping answered after the extension stopped touches nothing (run under
 * valgrind/ASan), and stopping cancels the timers. */
static void
test_stop(Fixture *f, gconstpointer data)
{
	join(f, "alice", NULL);
	g_assert_true(wait_sent(f, 2000));
	g_assert_true(pxm_account_set_active(
		f->account, pxm_test_extension_index(EXT), FALSE));
	answer_error(f, ROOM "/alice", "not-acceptable");
	g_assert_cmpuint(f->sent->len, ==, 1);
	g_assert_false(wait_sent(f, 3 * QUIET_MS));
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func)                                                        \
	g_test_add("/" EXT "/" path, Fixture, NULL, setup, func,               \
		   pxm_test_account_teardown)
	ADD("ping/after-quiet", test_ping_after_quiet);
	ADD("ping/traffic-postpones", test_traffic_postpones);
	ADD("ping/forged-self-presence", test_forged_self_presence);
	ADD("ping/left", test_left);
	ADD("ping/nick-change", test_nick_change);
	ADD("answer/not-joined-rejoins", test_not_joined_rejoins);
	ADD("answer/rejoined-watched", test_rejoined_watched);
	ADD("answer/joined", test_joined);
	ADD("answer/unreachable-backs-off", test_unreachable_backs_off);
	ADD("answer/item-not-found", test_item_not_found);
	ADD("answer/forged", test_forged_answer);
	ADD("stop", test_stop);
	return g_test_run();
}

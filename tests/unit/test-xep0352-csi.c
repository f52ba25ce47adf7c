// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0352 with libpurple's own status and presence code: the nonzas sent
 * (exactly, and only on changes), the stream feature gate, the status
 * signal and our outgoing presence as triggers, start and stop.
 *
 * libpurple's core is not initialised here: the account and connection
 * are libpurple 2's public structs filled in by hand, with a presence of
 * real PurpleStatuses, and the signal subsystem holds just the one signal
 * the extension listens to. */
#include <glib/gstdio.h>
#include <string.h>

#include "glue.h"
#include "host.h"
#include "pxm-test.h"

#define OWN "juliet@capulet.example/balcony"
#define EXT "xep0352-csi"
#define INACTIVE "<inactive xmlns='urn:xmpp:csi:0'/>"
#define ACTIVE "<active xmlns='urn:xmpp:csi:0'/>"

/* Example 1, after authentication. */
#define FEATURES                                                               \
	"<stream:features xmlns:stream='http://etherx.jabber.org/streams'>"    \
	"<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"                     \
	"<csi xmlns='urn:xmpp:csi:0'/></stream:features>"

typedef struct {
	char *dir;
	PxmAccount *account;
	GPtrArray *sent;
	PurpleConnection gc;
	PurpleAccount purple;
	PurplePresence *presence;
	GList *types;
} Fixture;

static void
record_send(PxmAccount *account, xmlnode *stanza, gpointer data)
{
	Fixture *f = data;

	g_ptr_array_add(f->sent, xmlnode_to_str(stanza, NULL));
	xmlnode_free(stanza);
}

static guint
extension_index(void)
{
	return pxm_registry_lookup(pxm_host_get_registry(), EXT)->index;
}

static void
set_features(Fixture *f, const char *xml)
{
	xmlnode *features = xmlnode_from_str(xml, -1);

	g_assert_nonnull(features);
	pxm_glue_set_stream_features(&f->gc, features);
	xmlnode_free(features);
}

static void
add_status(Fixture *f, PurpleStatusPrimitive primitive, const char *id)
{
	PurpleStatusType *type = purple_status_type_new_full(primitive, id, id,
							     TRUE, TRUE, FALSE);

	f->types = g_list_prepend(f->types, type);
	purple_presence_add_status(f->presence,
				   purple_status_new(type, f->presence));
}

static void
setup_purple(Fixture *f)
{
	purple_signals_init();
	purple_signal_register(
		purple_accounts_get_handle(), "account-status-changed",
		purple_marshal_VOID__POINTER_POINTER_POINTER, NULL, 3,
		purple_value_new(PURPLE_TYPE_SUBTYPE, PURPLE_SUBTYPE_ACCOUNT),
		purple_value_new(PURPLE_TYPE_SUBTYPE, PURPLE_SUBTYPE_STATUS),
		purple_value_new(PURPLE_TYPE_SUBTYPE, PURPLE_SUBTYPE_STATUS));
	/* A conversation-context presence: libpurple does not reach for an
	 * account or a prpl when its statuses change. */
	f->presence = purple_presence_new(PURPLE_PRESENCE_CONTEXT_CONV);
	add_status(f, PURPLE_STATUS_AVAILABLE, "available");
	add_status(f, PURPLE_STATUS_AWAY, "away");
	add_status(f, PURPLE_STATUS_EXTENDED_AWAY, "xa");
	add_status(f, PURPLE_STATUS_UNAVAILABLE, "dnd");
	add_status(f, PURPLE_STATUS_INVISIBLE, "invisible");
	purple_presence_set_status_active(f->presence, "available", TRUE);
	f->purple.username = (char *)OWN;
	f->purple.protocol_id = (char *)"prpl-jabber";
	f->purple.presence = f->presence;
	f->gc.account = &f->purple;
	f->gc.state = PURPLE_CONNECTED;
}

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_host_init(&error));
	f->dir = g_dir_make_tmp("pxm-test-XXXXXX", &error);
	g_assert_no_error(error);
	f->sent = g_ptr_array_new_with_free_func(g_free);
	setup_purple(f);
	f->account = pxm_account_new(pxm_host_get_registry(), &f->gc, OWN, NULL,
				     record_send, f);
}

/* As the glue does at sign-in: features first, then the extensions. */
static void
start(Fixture *f, const char *features)
{
	if (features != NULL)
		set_features(f, features);
	g_assert_true(
		pxm_account_set_active(f->account, extension_index(), TRUE));
}

static void
setup_started(Fixture *f, gconstpointer data)
{
	setup(f, data);
	start(f, FEATURES);
}

static void
teardown(Fixture *f, gconstpointer data)
{
	/* Signing off: nothing more is said to the server. */
	f->purple.disconnecting = TRUE;
	pxm_account_free(f->account, NULL);
	pxm_glue_set_stream_features(&f->gc, NULL);
	pxm_host_shutdown();
	purple_presence_destroy(f->presence);
	g_list_free_full(f->types, (GDestroyNotify)purple_status_type_destroy);
	purple_signals_unregister_by_instance(purple_accounts_get_handle());
	purple_signals_uninit();
	g_rmdir(f->dir);
	g_free(f->dir);
	g_ptr_array_unref(f->sent);
}

/* As libpurple does: activate, then emit account-status-changed. */
static void
set_status(Fixture *f, const char *id)
{
	PurpleStatus *old = purple_presence_get_active_status(f->presence);

	purple_presence_set_status_active(f->presence, id, TRUE);
	purple_signal_emit(purple_accounts_get_handle(),
			   "account-status-changed", &f->purple, old,
			   purple_presence_get_active_status(f->presence));
}

/* What prpl-jabber sends after a change (jabber_presence_send()), through
 * the outgoing pipeline; returns the stanza as it leaves. */
static char *
send_presence(Fixture *f, const char *xml)
{
	xmlnode *node = xmlnode_from_str(xml, -1);
	PxmStanza st;
	char *out;

	g_assert_nonnull(node);
	pxm_stanza_init(&st, node, TRUE);
	pxm_pipeline_outgoing(f->account, &st);
	pxm_stanza_clear(&st);
	out = xmlnode_to_str(node, NULL);
	xmlnode_free(node);
	return out;
}

#define PRESENCE "<presence><priority>1</priority></presence>"
#define PRESENCE_IDLE                                                          \
	"<presence><priority>1</priority><query xmlns='jabber:iq:last' "       \
	"seconds='600'/></presence>"

static void
assert_sent(Fixture *f, const char *const *expected)
{
	guint n = expected != NULL ? g_strv_length((char **)expected) : 0;

	for (guint i = 0; i < MIN(n, f->sent->len); i++)
		g_assert_cmpstr(f->sent->pdata[i], ==, expected[i]);
	g_assert_cmpuint(f->sent->len, ==, n);
}

/* Section 3 examples 2 and 3, once per change. */
static void
test_away(Fixture *f, gconstpointer data)
{
	static const char *const one[] = { INACTIVE, NULL };
	static const char *const two[] = { INACTIVE, ACTIVE, NULL };

	/* The stream starts active: nothing to say while available. */
	assert_sent(f, NULL);
	set_status(f, "away");
	assert_sent(f, one);
	set_status(f, "xa");
	set_status(f, "away");
	assert_sent(f, one);
	set_status(f, "available");
	assert_sent(f, two);
	set_status(f, "available");
	assert_sent(f, two);
}

/* Busy and invisible people are at their computer. */
static void
test_present_statuses(Fixture *f, gconstpointer data)
{
	set_status(f, "dnd");
	set_status(f, "invisible");
	set_status(f, "available");
	assert_sent(f, NULL);
}

/* libpurple has no signal for our idleness: the presence the prpl sends
 * for it is what tells us.  That presence is not changed. */
static void
test_idle(Fixture *f, gconstpointer data)
{
	static const char *const one[] = { INACTIVE, NULL };
	static const char *const two[] = { INACTIVE, ACTIVE, NULL };
	g_autofree char *first = NULL;
	g_autofree char *again = NULL;
	g_autofree char *back = NULL;

	purple_presence_set_idle(f->presence, TRUE, time(NULL) - 600);
	first = send_presence(f, PRESENCE_IDLE);
	g_assert_cmpstr(first, ==, PRESENCE_IDLE);
	assert_sent(f, one);
	/* A resend, and a directed presence (joining a room): same state. */
	again = send_presence(f, PRESENCE_IDLE);
	g_free(send_presence(f, "<presence to='verona@rooms.example/juliet'>"
				"<x xmlns='http://jabber.org/protocol/muc'/>"
				"</presence>"));
	assert_sent(f, one);
	/* Away while idle, then available while still idle: inactive. */
	set_status(f, "away");
	set_status(f, "available");
	assert_sent(f, one);
	purple_presence_set_idle(f->presence, FALSE, 0);
	back = send_presence(f, PRESENCE);
	assert_sent(f, two);
}

/* Signing off: the presence says unavailable, the server forgets the
 * state with the stream; nothing is said. */
static void
test_unavailable_presence(Fixture *f, gconstpointer data)
{
	purple_presence_set_idle(f->presence, TRUE, time(NULL) - 600);
	g_free(send_presence(f, "<presence type='unavailable'/>"));
	assert_sent(f, NULL);
}

/* The signal is for every account: another one's status is not ours. */
static void
test_other_account(Fixture *f, gconstpointer data)
{
	PurpleAccount other = { 0 };
	PurpleStatus *available = purple_presence_get_status(f->presence,
							     "available");

	purple_presence_set_status_active(f->presence, "away", TRUE);
	purple_signal_emit(purple_accounts_get_handle(),
			   "account-status-changed", &other, available,
			   purple_presence_get_active_status(f->presence));
	assert_sent(f, NULL);
}

/* Signing in while away or idle. */
static void
test_sign_in_away(Fixture *f, gconstpointer data)
{
	static const char *const one[] = { INACTIVE, NULL };

	purple_presence_set_status_active(f->presence, "xa", TRUE);
	start(f, FEATURES);
	assert_sent(f, one);
}

static void
test_sign_in_idle(Fixture *f, gconstpointer data)
{
	static const char *const one[] = { INACTIVE, NULL };

	purple_presence_set_idle(f->presence, TRUE, time(NULL) - 3600);
	start(f, FEATURES);
	assert_sent(f, one);
}

/* Section 3: only when the server offers it (unknown elements would end
 * the stream), in its own namespace. */
static void
test_not_offered(Fixture *f, gconstpointer data)
{
	static const char *const features[] = {
		"<stream:features xmlns:stream='http://etherx.jabber.org/"
		"streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>"
		"</stream:features>",
		"<stream:features xmlns:stream='http://etherx.jabber.org/"
		"streams'><csi xmlns='urn:xmpp:csi:1'/></stream:features>",
		"<stream:features xmlns:stream='http://etherx.jabber.org/"
		"streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><csi "
		"xmlns='urn:xmpp:csi:0'/></bind></stream:features>",
		NULL, /* never seen: plugin loaded after sign-in */
	};

	for (guint i = 0; i < G_N_ELEMENTS(features); i++) {
		pxm_glue_set_stream_features(&f->gc, NULL);
		start(f, features[i]);
		set_status(f, "away");
		purple_presence_set_idle(f->presence, TRUE, time(NULL) - 600);
		g_free(send_presence(f, PRESENCE_IDLE));
		assert_sent(f, NULL);
		purple_presence_set_idle(f->presence, FALSE, 0);
		set_status(f, "available");
		g_assert_true(pxm_account_set_active(f->account,
						     extension_index(), FALSE));
	}
}

/* The glue keeps the last features of a connection: those after
 * authentication replace the ones before. */
static void
test_stream_features(Fixture *f, gconstpointer data)
{
	g_assert_false(pxm_account_has_stream_feature(f->account, "csi",
						      "urn:xmpp:csi:0"));
	set_features(f, "<stream:features xmlns:stream='http://etherx.jabber."
			"org/streams'><mechanisms xmlns='urn:ietf:params:xml:"
			"ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
			"</mechanisms></stream:features>");
	g_assert_true(pxm_account_has_stream_feature(
		f->account, "mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl"));
	g_assert_false(pxm_account_has_stream_feature(f->account, "csi",
						      "urn:xmpp:csi:0"));
	set_features(f, FEATURES);
	g_assert_true(pxm_account_has_stream_feature(f->account, "csi",
						     "urn:xmpp:csi:0"));
	g_assert_false(pxm_account_has_stream_feature(f->account, "csi",
						      "urn:xmpp:csi:1"));
	g_assert_false(pxm_account_has_stream_feature(
		f->account, "mechanisms", "urn:ietf:params:xml:ns:xmpp-sasl"));
	pxm_glue_set_stream_features(&f->gc, NULL);
	g_assert_false(pxm_account_has_stream_feature(f->account, "csi",
						      "urn:xmpp:csi:0"));
}

/* Turned off while inactive and online: the stream is left as it would be
 * without us, and the signal no longer reaches the extension. */
static void
test_stop_online(Fixture *f, gconstpointer data)
{
	static const char *const two[] = { INACTIVE, ACTIVE, NULL };

	set_status(f, "away");
	g_assert_true(
		pxm_account_set_active(f->account, extension_index(), FALSE));
	assert_sent(f, two);
	set_status(f, "available");
	set_status(f, "xa");
	assert_sent(f, two);
}

/* Signing off while inactive: nothing to restore. */
static void
test_stop_signing_off(Fixture *f, gconstpointer data)
{
	static const char *const one[] = { INACTIVE, NULL };

	set_status(f, "away");
	f->purple.disconnecting = TRUE;
	g_assert_true(
		pxm_account_set_active(f->account, extension_index(), FALSE));
	assert_sent(f, one);
}

/* Off: no nonza, presence untouched. */
static void
test_disabled(Fixture *f, gconstpointer data)
{
	g_autofree char *out = NULL;

	set_features(f, FEATURES);
	set_status(f, "away");
	out = send_presence(f, PRESENCE);
	g_assert_cmpstr(out, ==, PRESENCE);
	assert_sent(f, NULL);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, started)                                               \
	g_test_add("/xep0352-csi/" path, Fixture, NULL,                        \
		   (started) ? setup_started : setup, func, teardown)
	ADD("status/away-and-back", test_away, TRUE);
	ADD("status/present-statuses", test_present_statuses, TRUE);
	ADD("status/other-account", test_other_account, TRUE);
	ADD("idle/through-own-presence", test_idle, TRUE);
	ADD("idle/unavailable-presence", test_unavailable_presence, TRUE);
	ADD("start/signed-in-away", test_sign_in_away, FALSE);
	ADD("start/signed-in-idle", test_sign_in_idle, FALSE);
	ADD("start/not-offered", test_not_offered, FALSE);
	ADD("stream-features", test_stream_features, FALSE);
	ADD("stop/online", test_stop_online, TRUE);
	ADD("stop/signing-off", test_stop_signing_off, TRUE);
	ADD("disabled", test_disabled, FALSE);
	return g_test_run();
}

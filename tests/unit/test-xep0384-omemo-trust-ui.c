// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0384 OMEMO, trust the user can follow: the question about a device
 * that is not trusted (once per device, its fingerprint, what the answers
 * do), our own devices (list, removal from both lists) and the plugin
 * actions the host offers for them.  In-process accounts exchange through
 * a small PEP/message router (the one of test-xep0384-omemo.c).
 */
#include <glib/gstdio.h>
#include <string.h>

#include "extensions/xep0384-omemo/omemo-trust-ui.h"
#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test-omemo-net.h"
#include "pxm-test.h"
#include "ui.h"

#define ID "xep0384-omemo"
#define JULIET "juliet@capulet.lit"

typedef struct {
	PxmTestPeer *romeo, *juliet;
} Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_host_init(&error));
	pxm_test_net_init();
	f->romeo = pxm_test_peer_new("romeo@montague.lit/orchard");
	f->juliet = pxm_test_peer_new("juliet@capulet.lit/balcony");
	pxm_test_pump();
}

static void
teardown(Fixture *f, gconstpointer data)
{
	pxm_test_net_clear();
	pxm_host_shutdown();
}

static PxmOmemo *
omemo(PxmTestPeer *p)
{
	return p->account->states[pxm_test_extension_index(ID)];
}

static guint
count_with(GPtrArray *strings, const char *needle)
{
	guint n = 0;

	for (guint i = 0; i < strings->len; i++)
		if (strstr(strings->pdata[i], needle) != NULL)
			n++;
	return n;
}

static guint32
device_of(PxmTestPeer *p)
{
	return pxm_omemo_engine_get_device_id(pxm_omemo_get_engine(omemo(p)));
}

static void
send_text(PxmTestPeer *from, const char *to, const char *text)
{
	g_assert_cmpint(pxm_omemo_send_message(omemo(from), to, text, FALSE),
			==, PXM_SEND_QUEUED);
	pxm_test_pump();
}

static gboolean
shown(PxmTestPeer *p, const char *text)
{
	for (guint i = 0; i < p->shown->len; i++)
		if (g_str_equal(p->shown->pdata[i], text))
			return TRUE;
	return FALSE;
}

/* A PEP notification of @owner's OMEMO 2 device list (@ids, 0-ended). */
static void
push_devices(PxmTestPeer *to, const char *owner, const guint32 *ids)
{
	GString *xml = g_string_new(NULL);
	xmlnode *ev;
	PxmStanza st;

	g_string_append_printf(
		xml,
		"<message from='%s' to='%s'><event "
		"xmlns='http://jabber.org/protocol/pubsub#event'><items "
		"node='urn:xmpp:omemo:2:devices'><item id='current'><devices "
		"xmlns='urn:xmpp:omemo:2'>",
		owner, to->jid);
	for (; *ids != 0; ids++)
		g_string_append_printf(xml, "<device id='%u'/>", *ids);
	g_string_append(xml, "</devices></item></items></event></message>");
	ev = xmlnode_from_str(xml->str, -1);
	g_string_free(xml, TRUE);
	pxm_stanza_init(&st, ev, FALSE);
	g_assert_cmpint(pxm_pipeline_incoming(to->account, &st), ==,
			PXM_VERDICT_CONSUMED);
	pxm_stanza_clear(&st);
	xmlnode_free(ev);
	pxm_test_pump();
}

/* Romeo verified Juliet's first device; then she adds a second one. */
static PxmTestPeer *
second_device(Fixture *f)
{
	g_autofree char *fp = NULL;
	PxmTestPeer *phone;
	guint32 ids[3];

	send_text(f->romeo, JULIET, "hello");
	g_assert_true(shown(f->juliet, "hello"));
	fp = pxm_omemo_engine_fingerprint_dup(
		pxm_omemo_get_engine(omemo(f->romeo)), 4, JULIET,
		device_of(f->juliet));
	g_assert_nonnull(fp);
	g_assert_true(pxm_omemo_set_trust_by_fingerprint(omemo(f->romeo),
							 JULIET, fp, TRUE));
	phone = pxm_test_peer_new("juliet@capulet.lit/phone");
	pxm_test_pump();
	ids[0] = device_of(f->juliet);
	ids[1] = device_of(phone);
	ids[2] = 0;
	push_devices(f->romeo, JULIET, ids);
	return phone;
}

/* Issue 5 item 3: a new device after verification is not encrypted for,
 * the user is asked once with its fingerprint, and "Trust" includes it. */
static void
test_new_device_asked(Fixture *f, gconstpointer data)
{
	PxmTestPeer *phone = second_device(f);
	g_autofree char *asked = NULL;
	g_autofree char *expected = pxm_omemo_engine_own_fingerprint_dup(
		pxm_omemo_get_engine(omemo(phone)), 4);
	g_autofree char *bundle_get = g_strdup_printf(
		"<items node='urn:xmpp:omemo:2:bundles'><item id='%u'/>",
		device_of(phone));
	guint fetches;

	send_text(f->romeo, JULIET, "before");
	g_assert_true(shown(f->juliet, "before"));
	g_assert_false(shown(phone, "before"));
	/* The question holds the new device's own fingerprint, fetched from
	 * its bundle (no session with it was made). */
	asked = pxm_omemo_trust_ui_asked_dup(omemo(f->romeo), JULIET,
					     device_of(phone));
	g_assert_cmpstr(asked, ==, expected);
	fetches = count_with(f->romeo->sent, bundle_get);
	g_assert_cmpuint(fetches, ==, 1);
	/* Once: not again for the next message. */
	send_text(f->romeo, JULIET, "again");
	g_assert_false(shown(phone, "again"));
	g_assert_cmpuint(count_with(f->romeo->sent, bundle_get), ==, fetches);
	g_assert_false(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						    JULIET, device_of(phone)));
	/* "Decide later" changes nothing. */
	g_assert_true(pxm_omemo_trust_ui_answer(omemo(f->romeo), JULIET,
						device_of(phone), asked,
						PXM_OMEMO_ANSWER_LATER));
	send_text(f->romeo, JULIET, "later");
	g_assert_false(shown(phone, "later"));
	/* "Trust". */
	g_assert_true(pxm_omemo_trust_ui_answer(omemo(f->romeo), JULIET,
						device_of(phone), asked,
						PXM_OMEMO_ANSWER_TRUST));
	send_text(f->romeo, JULIET, "after");
	g_assert_true(shown(phone, "after"));
	g_assert_true(shown(f->juliet, "after"));
	g_assert_cmpuint(count_with(f->romeo->sent, "after"), ==, 0);
}

static void
test_new_device_refused(Fixture *f, gconstpointer data)
{
	PxmTestPeer *phone = second_device(f);
	g_autofree char *asked = NULL;

	send_text(f->romeo, JULIET, "before");
	asked = pxm_omemo_trust_ui_asked_dup(omemo(f->romeo), JULIET,
					     device_of(phone));
	g_assert_nonnull(asked);
	g_assert_true(pxm_omemo_trust_ui_answer(omemo(f->romeo), JULIET,
						device_of(phone), asked,
						PXM_OMEMO_ANSWER_DONT_TRUST));
	g_assert_cmpint(pxm_omemo_store_get_trust(
				pxm_omemo_engine_get_store(
					pxm_omemo_get_engine(omemo(f->romeo))),
				JULIET, device_of(phone)),
			==, PXM_OMEMO_TRUST_UNTRUSTED);
	send_text(f->romeo, JULIET, "still not");
	g_assert_true(shown(f->juliet, "still not"));
	g_assert_false(shown(phone, "still not"));
}

/* "Trust" trusts what was shown: a key that is known and differs (the
 * bundle changed, or a forged fingerprint) is not trusted. */
static void
test_trust_wrong_fingerprint(Fixture *f, gconstpointer data)
{
	PxmOmemoStore *store;
	g_autofree char *other = NULL;

	send_text(f->romeo, JULIET, "hello");
	store = pxm_omemo_engine_get_store(
		pxm_omemo_get_engine(omemo(f->romeo)));
	g_assert_true(pxm_omemo_store_set_trust(store, JULIET,
						device_of(f->juliet),
						PXM_OMEMO_TRUST_UNTRUSTED));
	other = pxm_omemo_engine_own_fingerprint_dup(
		pxm_omemo_get_engine(omemo(f->romeo)), 4);
	g_assert_false(pxm_omemo_trust_ui_answer(omemo(f->romeo), JULIET,
						 device_of(f->juliet), other,
						 PXM_OMEMO_ANSWER_TRUST));
	g_assert_cmpint(
		pxm_omemo_store_get_trust(store, JULIET, device_of(f->juliet)),
		==, PXM_OMEMO_TRUST_UNTRUSTED);
}

/* Once per device, across sessions (kept in the store); a bundle that
 * cannot be fetched still gets the question, without a fingerprint. */
static void
test_once_per_device(Fixture *f, gconstpointer data)
{
	g_autofree char *asked = NULL;

	g_assert_true(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						   JULIET, 4242));
	pxm_test_pump();
	asked = pxm_omemo_trust_ui_asked_dup(omemo(f->romeo), JULIET, 4242);
	g_assert_cmpstr(asked, ==, "");
	g_assert_false(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						    JULIET, 4242));
	g_assert_true(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						   JULIET, 4243));
	/* The extension stops with a fetch in flight: nothing is asked
	 * later, nothing leaks. */
	g_assert_true(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						   JULIET, 4244));
	pxm_account_set_active(f->romeo->account, pxm_test_extension_index(ID),
			       FALSE);
	pxm_test_pump();
	pxm_account_set_active(f->romeo->account, pxm_test_extension_index(ID),
			       TRUE);
	pxm_test_pump();
	g_assert_false(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						    JULIET, 4242));
	g_assert_false(pxm_omemo_trust_ui_untrusted(omemo(f->romeo), JULIET,
						    JULIET, 4244));
}

static void
test_own_devices(Fixture *f, gconstpointer data)
{
	PxmTestPeer *laptop = pxm_test_peer_new("romeo@montague.lit/laptop");
	g_autoptr(GError) error = NULL;
	g_autofree char *list = NULL;
	g_autofree char *fps = NULL;
	g_autofree char *me = g_strdup_printf("%u", device_of(f->romeo));
	g_autofree char *other = g_strdup_printf("<device id='%u'/>",
						 device_of(laptop));
	g_autofree char *other_id = g_strdup_printf("%u", device_of(laptop));
	guint before;

	pxm_test_pump();
	/* The laptop published a list with both; Romeo learns it. */
	{
		guint32 ids[] = { device_of(f->romeo), device_of(laptop), 0 };

		push_devices(f->romeo, "romeo@montague.lit", ids);
	}
	list = pxm_omemo_own_devices_dup(omemo(f->romeo));
	g_assert_nonnull(strstr(list, me));
	g_assert_nonnull(strstr(list, other_id));
	fps = pxm_omemo_own_fingerprints_dup(omemo(f->romeo));
	g_assert_nonnull(strstr(fps, "OMEMO 2: "));
	/* This device cannot be removed. */
	g_assert_false(pxm_omemo_remove_own_device(
		omemo(f->romeo), device_of(f->romeo), &error));
	g_clear_error(&error);
	g_assert_false(
		pxm_omemo_remove_own_device(omemo(f->romeo), 4242, &error));
	g_clear_error(&error);
	before = f->romeo->sent->len;
	g_assert_true(pxm_omemo_remove_own_device(omemo(f->romeo),
						  device_of(laptop), &error));
	g_assert_no_error(error);
	/* The list that had it (the pushed OMEMO 2 one) is published
	 * without it, with this device. */
	g_assert_cmpuint(f->romeo->sent->len, ==, before + 1);
	for (guint i = before; i < f->romeo->sent->len; i++) {
		g_assert_null(strstr(f->romeo->sent->pdata[i], other));
		g_assert_nonnull(strstr(f->romeo->sent->pdata[i], me));
		g_assert_nonnull(strstr(f->romeo->sent->pdata[i], "<publish "));
	}
	g_clear_pointer(&list, g_free);
	list = pxm_omemo_own_devices_dup(omemo(f->romeo));
	g_assert_null(strstr(list, other_id));
}

/* The host lists the extensions' plugin actions after its own. */
static void
test_plugin_actions(Fixture *f, gconstpointer data)
{
	GList *actions = pxm_ui_actions(NULL, NULL);
	guint n = 0;

	for (GList *l = actions; l != NULL; l = l->next) {
		PurplePluginAction *a = l->data;

		if (g_str_equal(a->label, "Show my OMEMO fingerprints") ||
		    g_str_equal(a->label, "Manage my OMEMO devices"))
			n++;
	}
	g_assert_cmpuint(n, ==, 2);
	g_assert_cmpstr(((PurplePluginAction *)actions->data)->label, ==,
			"Extensions…");
	g_list_free_full(actions, (GDestroyNotify)purple_plugin_action_free);
	/* No connection: the user is told, nothing runs. */
	pxm_ui_run_action(pxm_test_extension_index(ID), 0);
	pxm_ui_run_action(1000, 0);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func)                                                        \
	g_test_add("/xep0384-omemo/trust-ui/" path, Fixture, NULL, setup,      \
		   func, teardown)
	ADD("new-device-asked", test_new_device_asked);
	ADD("new-device-refused", test_new_device_refused);
	ADD("wrong-fingerprint", test_trust_wrong_fingerprint);
	ADD("once-per-device", test_once_per_device);
	ADD("own-devices", test_own_devices);
	ADD("plugin-actions", test_plugin_actions);
	return g_test_run();
}

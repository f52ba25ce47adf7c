// SPDX-License-Identifier: GPL-3.0-or-later
#include "pxm-test-omemo-net.h"

#include <glib/gstdio.h>

#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define ID "xep0384-omemo"

GQueue pxm_test_deliveries = G_QUEUE_INIT;
GHashTable *pxm_test_pep;
GPtrArray *pxm_test_peers;
const char *pxm_test_room;
xmlnode *(*pxm_test_room_iq)(xmlnode *iq);
void (*pxm_test_room_message)(PxmTestPeer *sender, xmlnode *stanza);
gboolean pxm_test_pep_refuses_max_items;

static gboolean
has_max_items_option(xmlnode *pubsub)
{
	xmlnode *options = pxm_xml_child(pubsub, "publish-options", NULL);
	xmlnode *x = pxm_xml_child(options, "x", PXM_NS_DATA);

	for (xmlnode *f = x != NULL ? xmlnode_get_child(x, "field") : NULL;
	     f != NULL; f = xmlnode_get_next_twin(f))
		if (g_strcmp0(xmlnode_get_attrib(f, "var"),
			      "pubsub#max_items") == 0)
			return TRUE;
	return FALSE;
}

xmlnode *
pxm_test_iq_reply(xmlnode *iq, const char *from, const char *type)
{
	xmlnode *r = xmlnode_new("iq");

	xmlnode_set_attrib(r, "type", type);
	xmlnode_set_attrib(r, "id", xmlnode_get_attrib(iq, "id"));
	if (from != NULL)
		xmlnode_set_attrib(r, "from", from);
	return r;
}

static void
route_iq(PxmTestPeer *sender, xmlnode *iq)
{
	xmlnode *pubsub = pxm_xml_child(iq, "pubsub", PXM_NS_PUBSUB);
	xmlnode *publish = pxm_xml_child(pubsub, "publish", NULL);
	xmlnode *items = pxm_xml_child(pubsub, "items", NULL);
	const char *to = xmlnode_get_attrib(iq, "to");
	g_autofree char *owner = pxm_jid_bare_dup(to != NULL ? to
							     : sender->jid);
	xmlnode *reply;
	PxmTestDelivery *d = g_new0(PxmTestDelivery, 1);

	d->to = sender;
	if (pxm_test_room != NULL && g_strcmp0(to, pxm_test_room) == 0) {
		reply = pxm_test_room_iq(iq);
	} else if (publish != NULL && pxm_test_pep_refuses_max_items &&
		   has_max_items_option(pubsub)) {
		/* What ejabberd 23.01 answers. */
		xmlnode *error;

		reply = pxm_test_iq_reply(iq, owner, "error");
		error = xmlnode_new_child(reply, "error");
		xmlnode_set_attrib(error, "type", "wait");
		xmlnode_set_namespace(
			xmlnode_new_child(error, "resource-constraint"),
			PXM_NS_STANZAS);
	} else if (publish != NULL) {
		const char *node = xmlnode_get_attrib(publish, "node");
		xmlnode *item = pxm_xml_child(publish, "item", NULL);
		g_autofree char *key = g_strdup_printf("%s %s", owner, node);
		GHashTable *table = g_hash_table_lookup(pxm_test_pep, key);

		if (table == NULL) {
			table = g_hash_table_new_full(
				g_str_hash, g_str_equal, g_free,
				(GDestroyNotify)xmlnode_free);
			g_hash_table_insert(pxm_test_pep, g_strdup(key), table);
		}
		xmlnode *payload = item->child;

		/* Attributes are children too in libpurple's xmlnode. */
		while (payload != NULL && payload->type != XMLNODE_TYPE_TAG)
			payload = payload->next;
		g_hash_table_replace(table,
				     g_strdup(xmlnode_get_attrib(item, "id")),
				     xmlnode_copy(payload));
		reply = pxm_test_iq_reply(iq, owner, "result");
	} else if (items != NULL) {
		const char *node = xmlnode_get_attrib(items, "node");
		xmlnode *want = pxm_xml_child(items, "item", NULL);
		g_autofree char *key = g_strdup_printf("%s %s", owner, node);
		GHashTable *table = g_hash_table_lookup(pxm_test_pep, key);
		xmlnode *payload = NULL;
		const char *item_id = NULL;

		if (table != NULL && want != NULL) {
			item_id = xmlnode_get_attrib(want, "id");
			payload = g_hash_table_lookup(table, item_id);
		} else if (table != NULL) {
			GHashTableIter iter;
			gpointer k, v;

			g_hash_table_iter_init(&iter, table);
			if (g_hash_table_iter_next(&iter, &k, &v)) {
				item_id = k;
				payload = v;
			}
		}
		if (payload == NULL) {
			xmlnode *error;

			reply = pxm_test_iq_reply(iq, to != NULL ? to : owner,
						  "error");
			error = xmlnode_new_child(reply, "error");
			xmlnode_set_attrib(error, "type", "cancel");
			xmlnode_set_namespace(
				xmlnode_new_child(error, "item-not-found"),
				PXM_NS_STANZAS);
		} else {
			xmlnode *ps, *its, *it;

			reply = pxm_test_iq_reply(iq, to != NULL ? to : owner,
						  "result");
			ps = xmlnode_new_child(reply, "pubsub");
			xmlnode_set_namespace(ps, PXM_NS_PUBSUB);
			its = xmlnode_new_child(ps, "items");
			xmlnode_set_attrib(its, "node", node);
			it = xmlnode_new_child(its, "item");
			xmlnode_set_attrib(it, "id", item_id);
			xmlnode_insert_child(it, xmlnode_copy(payload));
		}
	} else {
		reply = pxm_test_iq_reply(iq, to != NULL ? to : owner,
					  "result");
	}
	d->node = reply;
	g_queue_push_tail(&pxm_test_deliveries, d);
}

/*
 * Where a message goes: the pxm_test_peers named exactly; otherwise, for a bare JID,
 * every resource of it (all devices), for a full JID the first resource of
 * its bare JID.  Never back to the sender.
 */
static void
route_message(PxmTestPeer *sender, xmlnode *stanza)
{
	const char *to = xmlnode_get_attrib(stanza, "to");
	gboolean exact = FALSE;

	if (to == NULL)
		return;
	xmlnode_set_attrib(stanza, "from", sender->jid);
	for (guint i = 0; i < pxm_test_peers->len; i++)
		exact = exact ||
			(pxm_test_peers->pdata[i] != sender &&
			 g_str_equal(
				 ((PxmTestPeer *)pxm_test_peers->pdata[i])->jid,
				 to));
	for (guint i = 0; i < pxm_test_peers->len; i++) {
		PxmTestPeer *p = pxm_test_peers->pdata[i];
		PxmTestDelivery *d;

		if (p == sender || (exact ? !g_str_equal(p->jid, to)
					  : !pxm_jid_bare_equal(p->jid, to)))
			continue;
		d = g_new0(PxmTestDelivery, 1);
		d->to = p;
		d->node = xmlnode_copy(stanza);
		g_queue_push_tail(&pxm_test_deliveries, d);
		if (!exact && pxm_jid_resource_peek(to) != NULL)
			break;
	}
}

static void
route_send(PxmAccount *account, xmlnode *stanza, gpointer data)
{
	PxmTestPeer *sender = data;
	PxmStanza st;

	pxm_stanza_init(&st, stanza, TRUE);
	pxm_pipeline_outgoing(account, &st);
	pxm_stanza_clear(&st);
	g_ptr_array_add(sender->sent, xmlnode_to_str(stanza, NULL));
	if (g_str_equal(stanza->name, "iq")) {
		route_iq(sender, stanza);
	} else if (g_str_equal(stanza->name, "message") &&
		   pxm_test_room != NULL &&
		   g_strcmp0(xmlnode_get_attrib(stanza, "to"), pxm_test_room) ==
			   0) {
		pxm_test_room_message(sender, stanza);
	} else if (g_str_equal(stanza->name, "message")) {
		route_message(sender, stanza);
	}
	xmlnode_free(stanza);
}

void
pxm_test_peer_receive(PxmTestPeer *p, xmlnode *node)
{
	PxmStanza st;

	if (g_str_equal(node->name, "iq")) {
		pxm_iq_tracker_handle(p->account->iq, node);
		return;
	}
	pxm_stanza_init(&st, node, FALSE);
	switch (pxm_pipeline_incoming(p->account, &st)) {
	case PXM_VERDICT_CONTINUE: /* the prpl shows the <body/> */
		if (st.body == NULL && pxm_xml_child(node, "body", NULL))
			st.body = xmlnode_get_data(
				pxm_xml_child(node, "body", NULL));
		if (st.body != NULL)
			g_ptr_array_add(p->shown, g_strdup(st.body));
		break;
	case PXM_VERDICT_CONSUMED: /* shown by the presenter, if any */
		if (st.body != NULL && st.encrypted)
			g_ptr_array_add(p->shown, g_strdup(st.body));
		break;
	default:
		break;
	}
	pxm_stanza_clear(&st);
}

void
pxm_test_pump(void)
{
	PxmTestDelivery *d;

	while ((d = g_queue_pop_head(&pxm_test_deliveries)) != NULL) {
		pxm_test_peer_receive(d->to, d->node);
		xmlnode_free(d->node);
		g_free(d);
	}
}

GPtrArray *
pxm_test_pump_iqs(void)
{
	GPtrArray *messages = g_ptr_array_new();
	PxmTestDelivery *d;

	while ((d = g_queue_pop_head(&pxm_test_deliveries)) != NULL) {
		if (g_str_equal(d->node->name, "iq")) {
			pxm_test_peer_receive(d->to, d->node);
			xmlnode_free(d->node);
			g_free(d);
		} else {
			g_ptr_array_add(messages, d);
		}
	}
	return messages;
}

PxmTestPeer *
pxm_test_peer_new(const char *jid)
{
	PxmTestPeer *p = g_new0(PxmTestPeer, 1);
	g_autoptr(GError) error = NULL;
	g_autofree char *path = NULL;
	PxmStore *store;

	p->jid = g_strdup(jid);
	p->dir = g_dir_make_tmp("pxm-omemo-XXXXXX", &error);
	g_assert_no_error(error);
	path = g_build_filename(p->dir, "store.sqlite3", NULL);
	store = pxm_store_open(path, &error);
	g_assert_no_error(error);
	p->sent = g_ptr_array_new_with_free_func(g_free);
	p->shown = g_ptr_array_new_with_free_func(g_free);
	p->account = pxm_account_new(pxm_host_get_registry(), NULL, jid, store,
				     route_send, p);
	g_assert_true(pxm_account_set_active(
		p->account, pxm_test_extension_index(ID), TRUE));
	g_ptr_array_add(pxm_test_peers, p);
	return p;
}

static void
remove_dir(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);

		g_remove(path);
	}
	g_rmdir(dir);
}

static void
peer_free(PxmTestPeer *p)
{
	if (p->account != NULL)
		pxm_account_free(p->account, NULL);
	remove_dir(p->dir);
	g_free(p->dir);
	g_free(p->jid);
	g_ptr_array_unref(p->sent);
	g_ptr_array_unref(p->shown);
	g_free(p);
}

void
pxm_test_net_init(void)
{
	pxm_test_pep =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				      (GDestroyNotify)g_hash_table_unref);
	pxm_test_peers =
		g_ptr_array_new_with_free_func((GDestroyNotify)peer_free);
}

void
pxm_test_net_clear(void)
{
	PxmTestDelivery *d;

	while ((d = g_queue_pop_head(&pxm_test_deliveries)) != NULL) {
		xmlnode_free(d->node);
		g_free(d);
	}
	g_clear_pointer(&pxm_test_peers, g_ptr_array_unref);
	g_clear_pointer(&pxm_test_pep, g_hash_table_unref);
	pxm_test_room = NULL;
	pxm_test_room_iq = NULL;
	pxm_test_room_message = NULL;
	pxm_test_pep_refuses_max_items = FALSE;
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "pxm-test-account.h"

#include <glib/gstdio.h>
#include <string.h>

static void
record_send(PxmAccount *account, xmlnode *stanza, gpointer data)
{
	PxmTestAccount *t = data;

	if (t->glue) {
		PxmStanza st;

		pxm_stanza_init(&st, stanza, TRUE);
		pxm_pipeline_outgoing(account, &st);
		pxm_stanza_clear(&st);
	}
	g_ptr_array_add(t->sent, xmlnode_to_str(stanza, NULL));
	xmlnode_free(stanza);
}

void
pxm_test_account_open(PxmTestAccount *t)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = pxm_store_open(t->store_path, &error);

	g_assert_no_error(error);
	g_assert_null(t->account);
	t->account = pxm_account_new(pxm_host_get_registry(), NULL, t->jid,
				     store, record_send, t);
}

void
pxm_test_account_close(PxmTestAccount *t)
{
	pxm_account_free(t->account, NULL);
	t->account = NULL;
}

void
pxm_test_account_setup(PxmTestAccount *t, const char *jid, gboolean glue)
{
	g_autoptr(GError) error = NULL;

	memset(t, 0, sizeof(*t));
	g_assert_true(pxm_host_init(&error));
	t->dir = g_dir_make_tmp("pxm-test-XXXXXX", &error);
	g_assert_no_error(error);
	t->store_path = g_build_filename(t->dir, "store.sqlite3", NULL);
	t->sent = g_ptr_array_new_with_free_func(g_free);
	t->jid = g_strdup(jid);
	t->glue = glue;
	pxm_test_account_open(t);
}

static void
remove_tree(const char *dir)
{
	g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
	const char *name;

	while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
		g_autofree char *path = g_build_filename(dir, name, NULL);
		g_remove(path);
	}
	g_rmdir(dir);
}

void
pxm_test_account_teardown(PxmTestAccount *t, gconstpointer data)
{
	pxm_test_account_close(t);
	pxm_host_shutdown();
	remove_tree(t->dir);
	g_free(t->dir);
	g_free(t->store_path);
	g_free(t->jid);
	g_ptr_array_unref(t->sent);
}

guint
pxm_test_extension_index(const char *id)
{
	const PxmExtension *ext = pxm_registry_lookup(pxm_host_get_registry(),
						      id);

	g_assert_nonnull(ext);
	return ext->index;
}

void
pxm_test_account_activate(PxmTestAccount *t, const char *id)
{
	g_assert_true(pxm_account_set_active(
		t->account, pxm_test_extension_index(id), TRUE));
}

gpointer
pxm_test_account_state(PxmTestAccount *t, const char *id)
{
	return t->account->states[pxm_test_extension_index(id)];
}

xmlnode *
pxm_test_parse(const char *xml)
{
	xmlnode *node = xmlnode_from_str(xml, -1);

	g_assert_nonnull(node);
	return node;
}

PxmVerdict
pxm_test_receive_facts(PxmTestAccount *t, const char *xml, char **html,
		       char **body)
{
	xmlnode *node = pxm_test_parse(xml);
	PxmStanza st;
	PxmVerdict verdict;

	pxm_stanza_init(&st, node, FALSE);
	verdict = pxm_pipeline_incoming(t->account, &st);
	if (html != NULL)
		*html = g_strdup(st.html);
	if (body != NULL)
		*body = g_strdup(st.body);
	pxm_stanza_clear(&st);
	xmlnode_free(node);
	return verdict;
}

PxmVerdict
pxm_test_receive(PxmTestAccount *t, const char *xml)
{
	return pxm_test_receive_facts(t, xml, NULL, NULL);
}

void
pxm_test_receive_forwarded(PxmTestAccount *t, const char *inner_xml,
			   PxmOrigin origin, gboolean sent_by_me,
			   gint64 timestamp)
{
	g_autofree char *bare = pxm_jid_bare_dup(t->jid);
	g_autofree char *outer_xml =
		g_strdup_printf("<message from='%s' to='%s'/>", bare, t->jid);
	xmlnode *outer = pxm_test_parse(outer_xml);
	xmlnode *inner = pxm_test_parse(inner_xml);
	PxmStanza st;

	xmlnode_insert_child(outer, inner);
	pxm_stanza_init(&st, outer, FALSE);
	st.message = inner;
	st.type = xmlnode_get_attrib(inner, "type");
	st.from = xmlnode_get_attrib(inner, "from");
	st.to = xmlnode_get_attrib(inner, "to");
	st.id = xmlnode_get_attrib(inner, "id");
	st.origin = origin;
	st.sent_by_me = sent_by_me;
	st.timestamp = timestamp;
	pxm_pipeline_incoming(t->account, &st);
	pxm_stanza_clear(&st);
	xmlnode_free(outer);
}

void
pxm_test_user_sends(PxmTestAccount *t, const char *xml)
{
	record_send(t->account, pxm_test_parse(xml), t);
}

char *
pxm_test_send_out(PxmTestAccount *t, const char *xml)
{
	xmlnode *node = pxm_test_parse(xml);
	PxmStanza st;
	char *out;

	pxm_stanza_init(&st, node, TRUE);
	pxm_pipeline_outgoing(t->account, &st);
	pxm_stanza_clear(&st);
	out = xmlnode_to_str(node, NULL);
	xmlnode_free(node);
	return out;
}

const char *
pxm_test_last_sent(PxmTestAccount *t)
{
	g_assert_cmpuint(t->sent->len, >, 0);
	return t->sent->pdata[t->sent->len - 1];
}

char *
pxm_test_sent_dup(PxmTestAccount *t, guint i)
{
	xmlnode *node;
	char *xml;

	g_assert_cmpuint(i, <, t->sent->len);
	node = pxm_test_parse(t->sent->pdata[i]);
	g_assert_true(g_uuid_string_is_valid(xmlnode_get_attrib(node, "id")));
	xmlnode_set_attrib(node, "id", "ID");
	xml = xmlnode_to_str(node, NULL);
	xmlnode_free(node);
	return xml;
}

guint
pxm_test_count_children(xmlnode *node, const char *name, const char *ns)
{
	guint n = 0;

	for (xmlnode *c = node->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG && g_str_equal(c->name, name) &&
		    g_strcmp0(xmlnode_get_namespace(c), ns) == 0)
			n++;
	return n;
}

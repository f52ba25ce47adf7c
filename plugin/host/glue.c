// SPDX-License-Identifier: GPL-3.0-or-later
#include "glue.h"

#include <glib/gi18n-lib.h>
#include <gio/gio.h>
#include <gmodule.h>
#include <string.h>

#include "host.h"
#include "pep.h"

#define CATEGORY "xmpp-modern"
#define PRPL_ID "prpl-jabber"
#define NS_STREAMS "http://etherx.jabber.org/streams"

/* libjabber's feature callback: (JabberStream *js, const char *ns). */
typedef gboolean (*FeatureEnabledFunc)(gpointer js, const char *ns);

typedef struct {
	PurplePlugin *prpl;
	void (*add_feature)(const char *ns, FeatureEnabledFunc enabled);
	void (*remove_feature)(const char *ns);
	void (*broadcast_change)(void);
	GPtrArray *features; /* added by us, borrowed strings */
	GList *options;      /* PurpleAccountOption we added */
	/* prpl-jabber's own file functions, while ours replace them. */
	gboolean (*can_receive_file)(PurpleConnection *gc, const char *who);
	void (*send_file)(PurpleConnection *gc, const char *who,
			  const char *file);
	PurpleXfer *(*new_xfer)(PurpleConnection *gc, const char *who);
	gboolean files_wrapped;
	/* prpl-jabber's own message senders, while ours replace them. */
	int (*send_im)(PurpleConnection *gc, const char *who,
		       const char *message, PurpleMessageFlags flags);
	int (*chat_send)(PurpleConnection *gc, int id, const char *message,
			 PurpleMessageFlags flags);
	gboolean sends_wrapped;
	/* prpl-jabber's own join_chat, while ours replaces it. */
	void (*join_chat)(PurpleConnection *gc, GHashTable *components);
} Glue;

static Glue glue;

/* PurpleConnection* -> copy of its last <stream:features/>; created on
 * first use (unit tests record features without attaching). */
static GHashTable *stream_features;

/* PurpleConnection* -> PxmPepProbe, from signing-on to signing-off. */
static GHashTable *pep_probes;

/*
 * Features prpl-jabber advertises itself.  jabber_add_feature() replaces an
 * entry of the same name and jabber_remove_feature() removes it, so adding
 * one of these and removing it on unload would take it from the prpl.
 */
static const char *const prpl_features[] = {
	"jabber:iq:last",
	"jabber:iq:oob",
	"urn:xmpp:time",
	"jabber:iq:version",
	"jabber:x:conference",
	"http://jabber.org/protocol/bytestreams",
	"http://jabber.org/protocol/caps",
	"http://jabber.org/protocol/chatstates",
	"http://jabber.org/protocol/disco#info",
	"http://jabber.org/protocol/disco#items",
	"http://jabber.org/protocol/ibb",
	"http://jabber.org/protocol/muc",
	"http://jabber.org/protocol/muc#user",
	"http://jabber.org/protocol/si",
	"http://jabber.org/protocol/si/profile/file-transfer",
	"http://jabber.org/protocol/xhtml-im",
	"urn:xmpp:ping",
	"urn:xmpp:attention:0",
	"urn:xmpp:bob",
	"urn:xmpp:jingle:1",
	"http://jabber.org/protocol/commands",
	NULL,
};

gboolean
pxm_glue_is_xmpp(PurpleAccount *account)
{
	return g_strcmp0(purple_account_get_protocol_id(account), PRPL_ID) == 0;
}

static gboolean
is_ours(PurpleConnection *gc)
{
	return gc != NULL &&
	       pxm_glue_is_xmpp(purple_connection_get_account(gc));
}

void
pxm_glue_send(PurpleConnection *gc, xmlnode *stanza)
{
	g_return_if_fail(stanza != NULL);
	/* The emitter owns the node: prpl-jabber's writer serialises it and
	 * our own outgoing handler sees it like any other stanza. */
	if (glue.prpl != NULL && gc != NULL &&
	    PURPLE_CONNECTION_IS_CONNECTED(gc))
		purple_signal_emit(glue.prpl, "jabber-sending-xmlnode", gc,
				   &stanza);
	else
		purple_debug_warning(CATEGORY, "not connected: %s not sent\n",
				     stanza->name);
	xmlnode_free(stanza);
}

gboolean
pxm_glue_peer_has_feature(PurpleAccount *account, const char *full_jid,
			  const char *feature)
{
	gboolean ok = FALSE;
	gpointer result;

	if (glue.prpl == NULL || full_jid == NULL)
		return FALSE;
	/* IPC "contact_has_feature": gboolean (account, jid, feature). */
	result = purple_plugin_ipc_call(glue.prpl, "contact_has_feature", &ok,
					account, full_jid, feature);
	return ok && GPOINTER_TO_INT(result);
}

void
pxm_glue_features_changed(void)
{
	if (glue.broadcast_change != NULL)
		glue.broadcast_change();
}

/* --- Incoming --------------------------------------------------------- */

static gboolean
incoming(PurpleConnection *gc, xmlnode *node)
{
	PxmAccount *account = pxm_host_lookup(gc);
	PxmStanza st;
	PxmVerdict verdict;

	if (account == NULL)
		return FALSE;
	if (g_str_equal(node->name, "iq") &&
	    pxm_iq_tracker_handle(account->iq, node))
		return TRUE;
	pxm_stanza_init(&st, node, FALSE);
	verdict = pxm_pipeline_incoming(account, &st);
	pxm_stanza_clear(&st);
	/* Consumed in the receiving-* signals, not in receiving-xmlnode, so
	 * the prpl still counts the stanza for XEP-0198 acks. */
	return verdict != PXM_VERDICT_CONTINUE;
}

static gboolean
on_receiving_message(PurpleConnection *gc, const char *type, const char *id,
		     const char *from, const char *to, xmlnode *message,
		     gpointer data)
{
	return incoming(gc, message);
}

static gboolean
on_receiving_iq(PurpleConnection *gc, const char *type, const char *id,
		const char *from, xmlnode *iq, gpointer data)
{
	PxmPepProbe *probe =
		pep_probes != NULL ? g_hash_table_lookup(pep_probes, gc) : NULL;

	/* Before the prpl's IQ callbacks: the probe may add the account's
	 * PEP identity to the answer its login disco#info gets. */
	if (probe != NULL && pxm_pep_probe_receiving(probe, iq))
		return TRUE;
	return incoming(gc, iq);
}

static gboolean
on_receiving_presence(PurpleConnection *gc, const char *type, const char *from,
		      xmlnode *presence, gpointer data)
{
	return incoming(gc, presence);
}

/* --- Stream features -------------------------------------------------- */

void
pxm_glue_set_stream_features(PurpleConnection *gc, xmlnode *features)
{
	if (features == NULL) {
		if (stream_features != NULL &&
		    g_hash_table_remove(stream_features, gc) &&
		    g_hash_table_size(stream_features) == 0)
			g_clear_pointer(&stream_features, g_hash_table_unref);
		return;
	}
	if (stream_features == NULL)
		stream_features = g_hash_table_new_full(
			NULL, NULL, NULL, (GDestroyNotify)xmlnode_free);
	g_hash_table_replace(stream_features, gc, xmlnode_copy(features));
}

gboolean
pxm_glue_has_stream_feature(PurpleConnection *gc, const char *name,
			    const char *ns)
{
	xmlnode *features = stream_features != NULL
				    ? g_hash_table_lookup(stream_features, gc)
				    : NULL;

	for (xmlnode *c = features != NULL ? features->child : NULL; c != NULL;
	     c = c->next)
		if (c->type == XMLNODE_TYPE_TAG && g_str_equal(c->name, name) &&
		    g_strcmp0(xmlnode_get_namespace(c), ns) == 0)
			return TRUE;
	return FALSE;
}

/* Only looks: the node stays as it is, so the prpl parses (and counts)
 * it as usual.  The server sends features again after TLS and after SASL;
 * the last ones are what the session has. */
static void
on_receiving_xmlnode(PurpleConnection *gc, xmlnode **packet, gpointer data)
{
	xmlnode *node = packet != NULL ? *packet : NULL;

	if (node != NULL && node->type == XMLNODE_TYPE_TAG &&
	    g_str_equal(node->name, "features") &&
	    g_strcmp0(xmlnode_get_namespace(node), NS_STREAMS) == 0 &&
	    is_ours(gc))
		pxm_glue_set_stream_features(gc, node);
}

/* --- Outgoing --------------------------------------------------------- */

/* Our disco#info of the account goes out right before the prpl's of the
 * server domain, so its answer is in first (see pep.h). */
static void
pep_probe_sending(PurpleConnection *gc, xmlnode *node)
{
	PxmPepProbe *probe = g_hash_table_lookup(pep_probes, gc);
	xmlnode *query = probe != NULL ? pxm_pep_probe_sending(probe, node)
				       : NULL;

	if (query == NULL)
		return;
	/* Not pxm_glue_send(): the connection is still signing on. */
	purple_signal_emit(glue.prpl, "jabber-sending-xmlnode", gc, &query);
	xmlnode_free(query);
}

static void
on_sending_xmlnode(PurpleConnection *gc, xmlnode **packet, gpointer data)
{
	PxmAccount *account;
	PxmStanza st;
	xmlnode *node = packet != NULL ? *packet : NULL;

	if (node == NULL || node->type != XMLNODE_TYPE_TAG)
		return;
	if (pep_probes != NULL && g_str_equal(node->name, "iq"))
		pep_probe_sending(gc, node);
	if (!g_str_equal(node->name, "message") &&
	    !g_str_equal(node->name, "presence") &&
	    !g_str_equal(node->name, "iq"))
		return; /* stream features, SASL, XEP-0198 <r/>/<a/> */
	account = pxm_host_lookup(gc);
	if (account == NULL)
		return;
	/* In place only: the sender owns *packet (LIBPURPLE-NOTES.md). */
	pxm_stanza_init(&st, node, TRUE);
	pxm_pipeline_outgoing(account, &st);
	pxm_stanza_clear(&st);
}

/* --- Connections ------------------------------------------------------ */

static void
on_signing_on(PurpleConnection *gc, gpointer data)
{
	PxmPepProbe *probe;

	if (!is_ours(gc))
		return;
	probe = pxm_pep_probe_new(
		purple_account_get_username(purple_connection_get_account(gc)));
	if (probe == NULL)
		return;
	if (pep_probes == NULL)
		pep_probes = g_hash_table_new_full(
			NULL, NULL, NULL, (GDestroyNotify)pxm_pep_probe_free);
	g_hash_table_replace(pep_probes, gc, probe);
}

static void
on_signed_on(PurpleConnection *gc, gpointer data)
{
	if (is_ours(gc))
		pxm_host_connection_up(gc);
}

static void
on_signing_off(PurpleConnection *gc, gpointer data)
{
	if (is_ours(gc))
		pxm_host_connection_down(gc);
	pxm_glue_set_stream_features(gc, NULL);
	if (pep_probes != NULL)
		g_hash_table_remove(pep_probes, gc);
}

/* --- Disco features --------------------------------------------------- */

static gboolean
feature_enabled(gpointer js, const char *ns)
{
	for (GList *l = purple_connections_get_all(); l != NULL; l = l->next) {
		PurpleConnection *gc = l->data;

		if (purple_connection_get_protocol_data(gc) == js)
			return pxm_host_feature_enabled(gc, ns);
	}
	return FALSE;
}

static void
add_features(void)
{
	g_autoptr(GPtrArray) all = pxm_host_all_features();

	glue.features = g_ptr_array_new();
	if (glue.add_feature == NULL || glue.remove_feature == NULL) {
		purple_debug_warning(CATEGORY,
				     "libjabber has no jabber_add_feature/"
				     "jabber_remove_feature: our features "
				     "are not advertised\n");
		return;
	}
	for (guint i = 0; i < all->len; i++) {
		const char *ns = all->pdata[i];

		if (g_strv_contains(prpl_features, ns)) {
			purple_debug_warning(CATEGORY,
					     "not taking over prpl-jabber's "
					     "feature %s\n",
					     ns);
			continue;
		}
		glue.add_feature(ns, feature_enabled);
		g_ptr_array_add(glue.features, (gpointer)ns);
	}
}

static void
remove_features(void)
{
	for (guint i = 0; glue.features != NULL && i < glue.features->len; i++)
		glue.remove_feature(glue.features->pdata[i]);
	g_clear_pointer(&glue.features, g_ptr_array_unref);
}

/* --- Account options (one switch per extension, then theirs) --------- */

static char *
option_label_dup(const char *untranslated)
{
	return g_strdup_printf(
		/* TRANSLATORS: an account option; %s is an extension name
		 * such as "Unique message IDs (XEP-0359)", or what one of
		 * its options sets, such as "send files by HTTP upload" */
		_("Modern XMPP: %s"),
		g_dgettext(GETTEXT_PACKAGE, untranslated));
}

static void
add_option(PurplePluginProtocolInfo *info, PurpleAccountOption *option)
{
	info->protocol_options = g_list_append(info->protocol_options, option);
	glue.options = g_list_prepend(glue.options, option);
}

/* @m's account options: the manifest holds their defaults. */
static void
add_declared_options(PurplePluginProtocolInfo *info, const PxmManifest *m)
{
	for (guint i = 0; i < m->n_options; i++) {
		const PxmManifestOption *o = &m->options[i];
		g_autofree char *label = option_label_dup(o->label);
		GList *choices = NULL;

		switch (o->type) {
		case PXM_OPTION_BOOL:
			add_option(info,
				   purple_account_option_bool_new(
					   label, o->key, o->default_bool));
			break;
		case PXM_OPTION_INT:
			add_option(info,
				   purple_account_option_int_new(
					   label, o->key, o->default_int));
			break;
		case PXM_OPTION_CHOICE:
			for (guint j = 0; j < o->n_choices; j++) {
				PurpleKeyValuePair *kv =
					g_new0(PurpleKeyValuePair, 1);

				/* The option frees the pairs. */
				kv->key = g_strdup(g_dgettext(
					GETTEXT_PACKAGE, o->choices[j].label));
				kv->value = g_strdup(o->choices[j].value);
				/* libpurple's default is the first. */
				if (g_str_equal(kv->value, o->default_choice))
					choices = g_list_prepend(choices, kv);
				else
					choices = g_list_append(choices, kv);
			}
			add_option(info, purple_account_option_list_new(
						 label, o->key, choices));
			break;
		}
	}
}

static void
add_options(PurplePluginProtocolInfo *info)
{
	PxmRegistry *registry = pxm_host_get_registry();

	for (guint i = 0; i < pxm_registry_get_n(registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(registry, i);
		g_autofree char *key =
			pxm_host_setting_key_dup(ext->manifest->id);
		g_autofree char *label = option_label_dup(ext->manifest->name);

		add_option(info, purple_account_option_bool_new(
					 label, key,
					 ext->manifest->enabled_by_default));
	}
	/* Options stay when an extension is off for an account: they are
	 * prpl-jabber's, shared by every XMPP account. */
	for (guint i = 0; i < pxm_registry_get_n(registry); i++)
		add_declared_options(info,
				     pxm_registry_peek(registry, i)->manifest);
}

static void
remove_options(PurplePluginProtocolInfo *info)
{
	for (GList *l = glue.options; l != NULL; l = l->next) {
		info->protocol_options = g_list_remove(info->protocol_options,
						       l->data);
		purple_account_option_destroy(l->data);
	}
	g_clear_pointer(&glue.options, g_list_free);
}

/* --- Send File (PxmFileSender) --------------------------------------- */

/* Whether prpl-jabber could send to @who itself (SI / Jingle). */
static gboolean
prpl_can_receive_file(PurpleConnection *gc, const char *who)
{
	return glue.can_receive_file == NULL || glue.can_receive_file(gc, who);
}

static gboolean
wrap_can_receive_file(PurpleConnection *gc, const char *who)
{
	gboolean direct = prpl_can_receive_file(gc, who);

	return direct || pxm_host_file_wanted(gc, who, direct);
}

static void
wrap_send_file(PurpleConnection *gc, const char *who, const char *file)
{
	PurpleXfer *xfer =
		pxm_host_file_new_xfer(gc, who, prpl_can_receive_file(gc, who));

	if (xfer == NULL) {
		if (glue.send_file != NULL)
			glue.send_file(gc, who, file);
		return;
	}
	/* As prpl-jabber's own send_file does. */
	if (file != NULL)
		purple_xfer_request_accepted(xfer, file);
	else
		purple_xfer_request(xfer);
}

static PurpleXfer *
wrap_new_xfer(PurpleConnection *gc, const char *who)
{
	PurpleXfer *xfer =
		pxm_host_file_new_xfer(gc, who, prpl_can_receive_file(gc, who));

	if (xfer == NULL && glue.new_xfer != NULL)
		xfer = glue.new_xfer(gc, who);
	return xfer;
}

static gboolean
has_file_sender(void)
{
	PxmRegistry *registry = pxm_host_get_registry();

	for (guint i = 0; i < pxm_registry_get_n(registry); i++)
		if (pxm_registry_peek(registry, i)->klass->file_sender != NULL)
			return TRUE;
	return FALSE;
}

static void
wrap_files(PurplePluginProtocolInfo *info)
{
	if (!has_file_sender())
		return;
	glue.can_receive_file = info->can_receive_file;
	glue.send_file = info->send_file;
	glue.new_xfer = info->new_xfer;
	info->can_receive_file = wrap_can_receive_file;
	info->send_file = wrap_send_file;
	info->new_xfer = wrap_new_xfer;
	glue.files_wrapped = TRUE;
}

static void
unwrap_files(PurplePluginProtocolInfo *info)
{
	if (!glue.files_wrapped)
		return;
	/* All three, so nothing points into our unloaded code. */
	info->can_receive_file = glue.can_receive_file;
	info->send_file = glue.send_file;
	info->new_xfer = glue.new_xfer;
	glue.files_wrapped = FALSE;
}

/* --- Typed messages (PxmSendMessageFunc) ----------------------------- */

/* What libpurple's core makes of the result: > 0 shows the message as
 * sent, 0 shows nothing (the extension shows it or says why). */
static int
send_result(PxmSendResult result)
{
	return result == PXM_SEND_SENT ? 1 : 0;
}

static int
wrap_send_im(PurpleConnection *gc, const char *who, const char *message,
	     PurpleMessageFlags flags)
{
	PxmSendResult result = pxm_host_send_message(gc, who, message, flags,
						     FALSE);

	if (result == PXM_SEND_NOT_MINE)
		return glue.send_im(gc, who, message, flags);
	return send_result(result);
}

static int
wrap_chat_send(PurpleConnection *gc, int id, const char *message,
	       PurpleMessageFlags flags)
{
	PurpleConversation *conv = purple_find_chat(gc, id);
	PxmSendResult result = PXM_SEND_NOT_MINE;

	if (conv != NULL)
		result = pxm_host_send_message(
			gc, purple_conversation_get_name(conv), message, flags,
			TRUE);
	if (result == PXM_SEND_NOT_MINE)
		return glue.chat_send(gc, id, message, flags);
	return send_result(result);
}

static void
wrap_sends(PurplePluginProtocolInfo *info)
{
	if (info->send_im == NULL || info->chat_send == NULL)
		return;
	glue.send_im = info->send_im;
	glue.chat_send = info->chat_send;
	info->send_im = wrap_send_im;
	info->chat_send = wrap_chat_send;
	glue.sends_wrapped = TRUE;
}

static void
unwrap_sends(PurplePluginProtocolInfo *info)
{
	if (!glue.sends_wrapped)
		return;
	info->send_im = glue.send_im;
	info->chat_send = glue.chat_send;
	glue.sends_wrapped = FALSE;
}

/* --- Room joins (PxmExtensionClass.join_room) ----------------------- */

void
pxm_glue_join_chat(PurpleConnection *gc, GHashTable *components)
{
	if (glue.join_chat != NULL && gc != NULL &&
	    PURPLE_CONNECTION_IS_CONNECTED(gc))
		glue.join_chat(gc, components);
}

static void
wrap_join_chat(PurpleConnection *gc, GHashTable *components)
{
	if (!pxm_host_join_room(gc, components))
		glue.join_chat(gc, components);
}

static void
wrap_join(PurplePluginProtocolInfo *info)
{
	if (info->join_chat == NULL)
		return;
	glue.join_chat = info->join_chat;
	info->join_chat = wrap_join_chat;
}

static void
unwrap_join(PurplePluginProtocolInfo *info)
{
	if (glue.join_chat == NULL)
		return;
	info->join_chat = glue.join_chat;
	glue.join_chat = NULL;
}

/* --- Attach / detach -------------------------------------------------- */

static gpointer
lookup_symbol(PurplePlugin *prpl, const char *name)
{
	gpointer symbol = NULL;

	if (prpl->handle == NULL ||
	    !g_module_symbol(prpl->handle, name, &symbol)) {
		purple_debug_warning(CATEGORY, "libjabber lacks %s\n", name);
		return NULL;
	}
	return symbol;
}

gboolean
pxm_glue_attach(PurplePlugin *plugin, GError **error)
{
	PurplePlugin *prpl = purple_plugins_find_with_id(PRPL_ID);
	void *conn = purple_connections_get_handle();

	if (prpl == NULL || !purple_plugin_is_loaded(prpl)) {
		g_set_error_literal(
			error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
			_("The XMPP protocol plugin is not loaded."));
		return FALSE;
	}
	glue.prpl = prpl;
	glue.add_feature = lookup_symbol(prpl, "jabber_add_feature");
	glue.remove_feature = lookup_symbol(prpl, "jabber_remove_feature");
	glue.broadcast_change = lookup_symbol(prpl,
					      "jabber_caps_broadcast_change");

	purple_signal_connect(prpl, "jabber-receiving-message", plugin,
			      PURPLE_CALLBACK(on_receiving_message), NULL);
	purple_signal_connect(prpl, "jabber-receiving-iq", plugin,
			      PURPLE_CALLBACK(on_receiving_iq), NULL);
	purple_signal_connect(prpl, "jabber-receiving-presence", plugin,
			      PURPLE_CALLBACK(on_receiving_presence), NULL);
	purple_signal_connect(prpl, "jabber-sending-xmlnode", plugin,
			      PURPLE_CALLBACK(on_sending_xmlnode), NULL);
	purple_signal_connect(prpl, "jabber-receiving-xmlnode", plugin,
			      PURPLE_CALLBACK(on_receiving_xmlnode), NULL);
	purple_signal_connect(conn, "signing-on", plugin,
			      PURPLE_CALLBACK(on_signing_on), NULL);
	/* Before any other handler: a UI rejoins the rooms still open from
	 * its own (Pidgin's gtkconv.c), and those joins must find the account
	 * set up (held joins, the join presence's compose stages).  Equal
	 * priorities run in an order libpurple does not promise (today the
	 * latest connected first) and that depends on load order. */
	purple_signal_connect_priority(conn, "signed-on", plugin,
				       PURPLE_CALLBACK(on_signed_on), NULL,
				       PURPLE_SIGNAL_PRIORITY_LOWEST);
	purple_signal_connect(conn, "signing-off", plugin,
			      PURPLE_CALLBACK(on_signing_off), NULL);

	add_options(PURPLE_PLUGIN_PROTOCOL_INFO(prpl));
	wrap_files(PURPLE_PLUGIN_PROTOCOL_INFO(prpl));
	wrap_sends(PURPLE_PLUGIN_PROTOCOL_INFO(prpl));
	wrap_join(PURPLE_PLUGIN_PROTOCOL_INFO(prpl));
	add_features();

	/* No restart needed: accounts already online get the extensions. */
	for (GList *l = purple_connections_get_all(); l != NULL; l = l->next) {
		PurpleConnection *gc = l->data;

		if (is_ours(gc) && PURPLE_CONNECTION_IS_CONNECTED(gc))
			pxm_host_connection_up(gc);
	}
	pxm_glue_features_changed();
	return TRUE;
}

void
pxm_glue_detach(PurplePlugin *plugin)
{
	if (glue.prpl == NULL)
		return;
	/* The user asked for them: joined as without the plugin. */
	for (GList *l = purple_connections_get_all(); l != NULL; l = l->next)
		pxm_host_release_joins(l->data);
	for (GList *l = purple_connections_get_all(); l != NULL; l = l->next)
		pxm_host_connection_down(l->data);
	purple_signals_disconnect_by_handle(plugin);
	g_clear_pointer(&stream_features, g_hash_table_unref);
	g_clear_pointer(&pep_probes, g_hash_table_unref);
	remove_features();
	unwrap_sends(PURPLE_PLUGIN_PROTOCOL_INFO(glue.prpl));
	unwrap_join(PURPLE_PLUGIN_PROTOCOL_INFO(glue.prpl));
	unwrap_files(PURPLE_PLUGIN_PROTOCOL_INFO(glue.prpl));
	remove_options(PURPLE_PLUGIN_PROTOCOL_INFO(glue.prpl));
	pxm_glue_features_changed();
	memset(&glue, 0, sizeof(glue));
}

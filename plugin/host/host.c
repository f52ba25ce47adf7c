// SPDX-License-Identifier: GPL-3.0-or-later
#include "host.h"

#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>

#include "glue.h"
#include "jid.h"
#include "presenter.h"
#include "pxm-resources.h"

#define CATEGORY "xmpp-modern"
#define RESOURCE_ROOT "/im/pidgin/xmpp-modern/extensions"

/* The C halves of the built-in extensions (plugin/extensions/builtin.c). */
extern const PxmExtensionClass *const pxm_builtin_extensions[];

/* --- Stanza records --------------------------------------------------- */

void
pxm_stanza_set(char **field, const char *value)
{
	char *old = *field;

	*field = g_strdup(value);
	g_free(old);
}

/* libpurple's xmlnode_get_child*() split the name as a path on every call,
 * which shows on a path run for every message. */
xmlnode *
pxm_xml_child(xmlnode *parent, const char *name, const char *ns)
{
	if (parent == NULL)
		return NULL;
	/* c->xmlns is what xmlnode_get_namespace() returns, read without a
	 * call into libpurple: several stages look for their element in
	 * every message. */
	for (xmlnode *c = parent->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG && c->name[0] == name[0] &&
		    strcmp(c->name, name) == 0 &&
		    (ns == NULL ||
		     (c->xmlns != NULL && strcmp(c->xmlns, ns) == 0)))
			return c;
	return NULL;
}

/* XEP-0082 date-time; 0 when malformed. */
static gint64
parse_stamp(const char *stamp)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_iso8601(stamp, NULL);

	return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

/* The first of each, as xmlnode_get_attrib() would find it. */
static void
read_attribute(PxmStanza *st, xmlnode *attr)
{
	const char **field = NULL;

	switch (attr->name[0]) {
	case 't':
		if (strcmp(attr->name, "type") == 0)
			field = &st->type;
		else if (strcmp(attr->name, "to") == 0)
			field = &st->to;
		break;
	case 'f':
		if (strcmp(attr->name, "from") == 0)
			field = &st->from;
		break;
	case 'i':
		if (strcmp(attr->name, "id") == 0)
			field = &st->id;
		break;
	}
	if (field != NULL && *field == NULL)
		*field = attr->data;
}

void
pxm_stanza_init(PxmStanza *st, xmlnode *node, gboolean outgoing)
{
	xmlnode *body = NULL, *delay = NULL;
	const char *stamp;

	memset(st, 0, sizeof(*st));
	st->stanza = node;
	st->message = node;
	st->outgoing = outgoing;
	st->origin = outgoing ? PXM_ORIGIN_LOCAL : PXM_ORIGIN_LIVE;
	st->sent_by_me = outgoing;
	if (g_str_equal(node->name, "message"))
		st->kind = PXM_STANZA_MESSAGE;
	else if (g_str_equal(node->name, "presence"))
		st->kind = PXM_STANZA_PRESENCE;
	else if (g_str_equal(node->name, "iq"))
		st->kind = PXM_STANZA_IQ;
	/* One walk over the children rather than one per attribute and
	 * element looked for: this runs for every stanza. */
	for (xmlnode *c = node->child; c != NULL; c = c->next) {
		if (c->type == XMLNODE_TYPE_ATTRIB) {
			read_attribute(st, c);
		} else if (c->type == XMLNODE_TYPE_TAG &&
			   st->kind == PXM_STANZA_MESSAGE) {
			if (body == NULL && strcmp(c->name, "body") == 0)
				body = c;
			else if (delay == NULL &&
				 strcmp(c->name, "delay") == 0 &&
				 g_strcmp0(xmlnode_get_namespace(c),
					   PXM_NS_DELAY) == 0)
				delay = c;
		}
	}
	if (st->kind != PXM_STANZA_MESSAGE)
		return;
	if (outgoing && body != NULL)
		st->body = xmlnode_get_data(body);
	/* XEP-0203: the original send time of a message stored and delivered
	 * later (offline storage, room history). */
	if (!outgoing && delay != NULL &&
	    (stamp = xmlnode_get_attrib(delay, "stamp")) != NULL)
		st->timestamp = parse_stamp(stamp);
}

/* Looks @jid up in, or adds it to, cache slot @slot of @st. */
static const char *
bare_cached(const PxmStanza *stanza, guint slot, const char *jid)
{
	/* A cache: the record's facts stay as they are. */
	PxmStanza *st = (PxmStanza *)stanza;
	char *text = st->bare_cache[slot].overflow != NULL
			     ? st->bare_cache[slot].overflow
			     : st->bare_cache[slot].text;
	g_autofree char *bare = NULL;
	gsize len, bare_len;

	if (jid == NULL || *jid == '\0')
		return NULL;
	if (strcmp(text, jid) == 0) {
		text += strlen(text) + 1;
		return *text != '\0' ? text : NULL;
	}
	len = strlen(jid);
	bare_len = pxm_jid_normal_bare_length(jid);
	if (bare_len == 0 && (bare = pxm_jid_bare_dup(jid)) != NULL)
		bare_len = strlen(bare);
	g_clear_pointer(&st->bare_cache[slot].overflow, g_free);
	text = st->bare_cache[slot].text;
	if (len + bare_len + 2 > sizeof(st->bare_cache[slot].text))
		text = st->bare_cache[slot].overflow =
			g_malloc(len + bare_len + 2);
	memcpy(text, jid, len + 1);
	memcpy(text + len + 1, bare != NULL ? bare : jid, bare_len);
	text[len + 1 + bare_len] = '\0';
	return bare_len > 0 ? text + len + 1 : NULL;
}

const char *
pxm_stanza_bare_from(const PxmStanza *stanza)
{
	return bare_cached(stanza, 0, stanza->from);
}

const char *
pxm_stanza_bare_to(const PxmStanza *stanza)
{
	return bare_cached(stanza, 1, stanza->to);
}

gboolean
pxm_stanza_has_body(const PxmStanza *st)
{
	return st->body != NULL ||
	       (st->message != NULL &&
		pxm_xml_child(st->message, "body", NULL) != NULL);
}

gboolean
pxm_stanza_is_chat(const PxmStanza *st)
{
	/* Messages people write: not errors or headlines. */
	return st->type == NULL || g_str_equal(st->type, "chat") ||
	       g_str_equal(st->type, "normal") ||
	       g_str_equal(st->type, "groupchat");
}

gboolean
pxm_stanza_is_room_private(const PxmStanza *st)
{
	/* XEP-0045 section 7.5: a private message through a room carries
	 * the muc#user <x/>. */
	return g_strcmp0(st->type, "groupchat") != 0 && st->message != NULL &&
	       pxm_xml_child(st->message, "x", PXM_NS_MUC_USER) != NULL;
}

void
pxm_stanza_clear(PxmStanza *st)
{
	char *owned[] = { st->body,
			  st->html,
			  st->stanza_id,
			  st->origin_id,
			  st->archive_query_id,
			  st->bare_cache[0].overflow,
			  st->bare_cache[1].overflow };

	/* Most are NULL: no call for those (this runs for every stanza). */
	for (guint i = 0; i < G_N_ELEMENTS(owned); i++)
		if (owned[i] != NULL)
			g_free(owned[i]);
	memset(st, 0, sizeof(*st));
}

/* --- Accounts --------------------------------------------------------- */

PxmAccount *
pxm_account_new(PxmRegistry *registry, PurpleConnection *gc, const char *jid,
		PxmStore *store, PxmSendFunc send, gpointer send_data)
{
	PxmAccount *account = g_new0(PxmAccount, 1);
	guint n = pxm_registry_get_n(registry);

	account->gc = gc;
	account->purple = gc != NULL ? purple_connection_get_account(gc) : NULL;
	account->bare_jid = pxm_jid_bare_dup(jid);
	account->store = store;
	account->registry = registry;
	account->active = g_new0(gboolean, n);
	account->states = g_new0(gpointer, n);
	account->start_errors = g_new0(char *, n + 1);
	account->send = send;
	account->send_data = send_data;
	account->iq = pxm_iq_tracker_new(account, jid);
	account->presenter = pxm_presenter_new(account);
	account->contacts =
		g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
				      (GDestroyNotify)g_hash_table_unref);
	account->joined = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						g_free);
	return account;
}

void
pxm_account_free(PxmAccount *account, const GError *reason)
{
	if (account == NULL)
		return;
	/* Before stopping the extensions: a join they let go on as they stop
	 * would go to a connection that is going away. */
	pxm_account_drop_joins(account);
	/* Mirror of starting: dependents stop before what they depend on. */
	for (guint i = pxm_registry_get_n(account->registry); i-- > 0;)
		pxm_account_set_active(account, i, FALSE);
	pxm_iq_tracker_free(account->iq, reason);
	pxm_presenter_free(account->presenter);
	g_hash_table_unref(account->joined);
	g_hash_table_unref(account->contacts);
	pxm_store_close(account->store);
	g_free(account->active);
	g_free(account->states);
	g_strfreev(account->start_errors);
	g_free(account->bare_jid);
	g_free(account);
}

gboolean
pxm_account_set_active(PxmAccount *account, guint index, gboolean active)
{
	const PxmExtension *ext = pxm_registry_peek(account->registry, index);
	g_autoptr(GError) error = NULL;

	if (!active)
		g_clear_pointer(&account->start_errors[index], g_free);
	if (account->active[index] == active)
		return TRUE;
	if (!active) {
		account->active[index] = FALSE;
		if (ext->klass->stop != NULL)
			ext->klass->stop(account, account->states[index]);
		account->states[index] = NULL;
		pxm_account_release_joins_of(account, index);
		purple_debug_info(ext->manifest->id, "stopped on %s\n",
				  account->bare_jid);
		return TRUE;
	}
	if (ext->klass->start != NULL) {
		account->states[index] = ext->klass->start(account, &error);
		if (error != NULL) {
			purple_debug_error(ext->manifest->id,
					   "could not start on %s: %s\n",
					   account->bare_jid, error->message);
			account->states[index] = NULL;
			g_free(account->start_errors[index]);
			account->start_errors[index] = g_strdup(error->message);
			return FALSE;
		}
	}
	g_clear_pointer(&account->start_errors[index], g_free);
	account->active[index] = TRUE;
	purple_debug_info(ext->manifest->id, "started on %s\n",
			  account->bare_jid);
	return TRUE;
}

gboolean
pxm_account_is_active(PxmAccount *account, guint index)
{
	return account->active[index];
}

PurpleAccount *
pxm_account_get_purple(PxmAccount *account)
{
	return account->purple;
}

PurpleConnection *
pxm_account_get_connection(PxmAccount *account)
{
	return account->gc;
}

const char *
pxm_account_get_bare_jid(PxmAccount *account)
{
	return account->bare_jid;
}

PxmStore *
pxm_account_get_store(PxmAccount *account)
{
	return account->store;
}

static const PxmManifestOption *
declared_option(const char *key, PxmOptionType type)
{
	PxmRegistry *registry = pxm_host_get_registry();
	const PxmManifestOption *option =
		registry != NULL ? pxm_registry_lookup_option(registry, key)
				 : NULL;

	if (option == NULL || option->type != type) {
		g_critical("no account option '%s' of that type is declared",
			   key);
		return NULL;
	}
	return option;
}

gboolean
pxm_account_get_option_bool(PxmAccount *account, const char *key)
{
	const PxmManifestOption *option = declared_option(key, PXM_OPTION_BOOL);

	if (option == NULL)
		return FALSE;
	return account->purple != NULL
		       ? purple_account_get_bool(account->purple, key,
						 option->default_bool)
		       : option->default_bool;
}

int
pxm_account_get_option_int(PxmAccount *account, const char *key)
{
	const PxmManifestOption *option = declared_option(key, PXM_OPTION_INT);

	if (option == NULL)
		return 0;
	return account->purple != NULL
		       ? purple_account_get_int(account->purple, key,
						option->default_int)
		       : option->default_int;
}

const char *
pxm_account_get_option_choice(PxmAccount *account, const char *key)
{
	const PxmManifestOption *option = declared_option(key,
							  PXM_OPTION_CHOICE);
	const char *value;

	if (option == NULL)
		return NULL;
	value = account->purple != NULL
			? purple_account_get_string(account->purple, key,
						    option->default_choice)
			: NULL;
	/* The manifest's copy: it outlives whatever the setting holds. */
	for (guint i = 0; value != NULL && i < option->n_choices; i++)
		if (g_str_equal(option->choices[i].value, value))
			return option->choices[i].value;
	return option->default_choice;
}

gboolean
pxm_account_is_own_bare_jid(PxmAccount *account, const char *jid)
{
	g_autofree char *norm = pxm_jid_normalize_dup(jid);

	return norm != NULL && g_strcmp0(norm, account->bare_jid) == 0;
}

gboolean
pxm_account_peer_has_feature(PxmAccount *account, const char *full_jid,
			     const char *feature)
{
	return account->purple != NULL &&
	       pxm_glue_peer_has_feature(account->purple, full_jid, feature);
}

gboolean
pxm_account_has_stream_feature(PxmAccount *account, const char *name,
			       const char *ns)
{
	return account->gc != NULL &&
	       pxm_glue_has_stream_feature(account->gc, name, ns);
}

char *
pxm_conversation_jid_dup(PurpleConversation *conv)
{
	const char *name = purple_conversation_get_name(conv);

	/* IM conversations are named after the partner's bare or full JID;
	 * chats after the room. */
	return pxm_jid_bare_dup(name);
}

char *
pxm_account_contact_name_dup(PxmAccount *account, const char *bare_jid)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	PurpleBuddy *buddy = pa != NULL ? purple_find_buddy(pa, bare_jid)
					: NULL;

	return g_strdup(buddy != NULL ? purple_buddy_get_contact_alias(buddy)
				      : bare_jid);
}

gboolean
pxm_account_is_room_message(PxmAccount *account, xmlnode *message,
			    const char *bare_jid)
{
	PurpleAccount *pa = pxm_account_get_purple(account);

	return pxm_xml_child(message, "x", PXM_NS_MUC_USER) != NULL ||
	       (pa != NULL && bare_jid != NULL &&
		purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT,
						      bare_jid, pa) != NULL);
}

gboolean
pxm_account_is_own_nick(PxmAccount *account, const char *room,
			const char *occupant)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	const char *nick = pxm_jid_resource_peek(occupant);
	PurpleConversation *conv;

	if (pa == NULL || nick == NULL)
		return FALSE;
	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT,
						     room, pa);
	return conv != NULL &&
	       g_strcmp0(purple_conv_chat_get_nick(PURPLE_CONV_CHAT(conv)),
			 nick) == 0;
}

gboolean
pxm_conversation_message_target(PurpleConversation *conv, char **jid,
				const char **to, gboolean *groupchat,
				char **error)
{
	g_autofree char *bare = pxm_conversation_jid_dup(conv);
	const char *name = purple_conversation_get_name(conv);

	*groupchat = purple_conversation_get_type(conv) ==
		     PURPLE_CONV_TYPE_CHAT;
	/* A private conversation with a room occupant is named
	 * room@service/nick, and its room is open. */
	if (bare == NULL ||
	    (!*groupchat && pxm_jid_resource_peek(name) != NULL &&
	     purple_find_conversation_with_account(
		     PURPLE_CONV_TYPE_CHAT, bare,
		     purple_conversation_get_account(conv)) != NULL)) {
		*error = g_strdup(_("This command does not work in private "
				    "conversations with room occupants."));
		return FALSE;
	}
	*jid = g_steal_pointer(&bare);
	*to = *groupchat ? *jid : name;
	return TRUE;
}

gboolean
pxm_account_conversation_is_encrypted(PxmAccount *account, const char *bare_jid)
{
	for (guint i = 0;
	     bare_jid != NULL && i < pxm_registry_get_n(account->registry);
	     i++) {
		const PxmExtensionClass *klass =
			pxm_registry_peek(account->registry, i)->klass;

		if (klass->is_encrypted != NULL && account->active[i] &&
		    klass->is_encrypted(account, account->states[i], bare_jid))
			return TRUE;
	}
	return FALSE;
}

void
pxm_account_conversation_decide_encryption(PxmAccount *account,
					   const char *bare_jid,
					   PxmEncryptionDecided callback,
					   gpointer user_data,
					   GDestroyNotify destroy)
{
	for (guint i = 0; i < pxm_registry_get_n(account->registry); i++) {
		const PxmExtensionClass *klass =
			pxm_registry_peek(account->registry, i)->klass;

		if (klass->decide_encrypted != NULL && account->active[i]) {
			klass->decide_encrypted(account, account->states[i],
						bare_jid, callback, user_data,
						destroy);
			return;
		}
	}
	callback(account,
		 pxm_account_conversation_is_encrypted(account, bare_jid),
		 user_data);
	if (destroy != NULL)
		destroy(user_data);
}

void
pxm_account_send(PxmAccount *account, xmlnode *stanza)
{
	g_return_if_fail(stanza != NULL);
	account->send(account, stanza, account->send_data);
}

void
pxm_account_send_iq(PxmAccount *account, xmlnode *iq, guint timeout_ms,
		    PxmIqCallback callback, gpointer user_data,
		    GDestroyNotify destroy)
{
	pxm_iq_tracker_add(account->iq, iq, timeout_ms, callback, user_data,
			   destroy);
	pxm_account_send(account, iq);
}

/* --- Contacts' presence ---------------------------------------------- */

/* What we know of a contact's resource from its presence. */
enum {
	RESOURCE_ONLINE = 1,
	RESOURCE_CAPS = 2, /* it announced XEP-0115 caps */
};

static void
forget_resource(PxmAccount *account, const char *bare, const char *resource)
{
	GHashTable *resources = g_hash_table_lookup(account->contacts, bare);

	if (resources == NULL)
		return;
	if (resource != NULL)
		g_hash_table_remove(resources, resource);
	if (resource == NULL || g_hash_table_size(resources) == 0)
		g_hash_table_remove(account->contacts, bare);
}

/*
 * Which resources of each contact are online, and whether they announced
 * their features (XEP-0115).  libpurple's API tells neither (prpl-jabber
 * keeps resources private), so presence is read on its way in.  Only
 * contacts in the roster are kept: that bounds the table, and nobody else
 * is asked about (receipts, markers).
 */
static void
track_presence(PxmAccount *account, const PxmStanza *st)
{
	g_autofree char *bare = pxm_jid_bare_dup(st->from);
	const char *resource = pxm_jid_resource_peek(st->from);
	GHashTable *resources;
	int flags = RESOURCE_ONLINE;

	if (bare == NULL || pxm_account_is_own_bare_jid(account, bare))
		return;
	if (st->type != NULL) {
		if (g_str_equal(st->type, "unavailable") ||
		    g_str_equal(st->type, "error") ||
		    g_str_equal(st->type, "unsubscribed"))
			forget_resource(account, bare, resource);
		return;
	}
	/* Room occupants are no contacts. */
	if (resource == NULL ||
	    pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER) != NULL ||
	    (account->purple != NULL &&
	     purple_find_buddy(account->purple, bare) == NULL))
		return;
	if (pxm_xml_child(st->stanza, "c", PXM_NS_CAPS) != NULL)
		flags |= RESOURCE_CAPS;
	resources = g_hash_table_lookup(account->contacts, bare);
	if (resources == NULL) {
		resources = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, NULL);
		g_hash_table_insert(account->contacts, g_strdup(bare),
				    resources);
	}
	g_hash_table_insert(resources, g_strdup(resource),
			    GINT_TO_POINTER(flags));
}

/*
 * libpurple 2 does not expose the roster's subscription states; what it
 * tells is whether the contact is in the roster and whether we receive
 * their presence (the server sends it for subscriptions 'to' and 'both',
 * and 'both' is what clients set up).  Both are required.
 */
gboolean
pxm_account_shares_presence(PxmAccount *account, const char *bare_jid)
{
	PurpleBuddy *buddy;

	if (account->purple != NULL) {
		buddy = purple_find_buddy(account->purple, bare_jid);
		if (buddy == NULL)
			return FALSE;
		/* Presence received before the host saw it (the plugin was
		 * loaded after signing in). */
		if (PURPLE_BUDDY_IS_ONLINE(buddy))
			return TRUE;
	}
	return g_hash_table_contains(account->contacts, bare_jid);
}

/*
 * To a full JID, ask its caps when it announced some; to a bare JID, the
 * server picks the resource and support cannot be known: TRUE unless
 * every online resource announced caps without @feature (Conversations
 * and Dino always ask).
 */
gboolean
pxm_account_peer_may_support(PxmAccount *account, const char *jid,
			     const char *feature)
{
	g_autofree char *bare = pxm_jid_bare_dup(jid);
	GHashTable *resources =
		bare != NULL ? g_hash_table_lookup(account->contacts, bare)
			     : NULL;
	const char *resource = pxm_jid_resource_peek(jid);
	GHashTableIter iter;
	gpointer name, flags;

	if (resource != NULL) {
		flags = resources != NULL
				? g_hash_table_lookup(resources, resource)
				: NULL;
		if (GPOINTER_TO_INT(flags) & RESOURCE_CAPS)
			return pxm_account_peer_has_feature(account, jid,
							    feature);
		return TRUE; /* nothing known of it */
	}
	if (resources == NULL)
		return TRUE;
	g_hash_table_iter_init(&iter, resources);
	while (g_hash_table_iter_next(&iter, &name, &flags)) {
		g_autofree char *full = NULL;

		if (!(GPOINTER_TO_INT(flags) & RESOURCE_CAPS))
			return TRUE;
		full = g_strconcat(bare, "/", (const char *)name, NULL);
		if (pxm_account_peer_has_feature(account, full, feature))
			return TRUE;
	}
	return FALSE;
}

/* --- Room occupants ------------------------------------------------- */

/* Past this size the table starts over (long sessions, hostile rooms). */
#define OCCUPANTS_MAX 10000

static gboolean
has_status(xmlnode *x, const char *code)
{
	for (xmlnode *c = x->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    g_str_equal(c->name, "status") &&
		    g_strcmp0(xmlnode_get_attrib(c, "code"), code) == 0)
			return TRUE;
	return FALSE;
}

static gboolean
has_prefix(gpointer key, gpointer value, gpointer prefix)
{
	return g_str_has_prefix(key, prefix);
}

/* In a room, the entity behind a nick may change when it leaves and joins
 * again: joins are noted to tell sessions apart (XEP-0308 section 6). */
static void
track_occupant(PxmAccount *account, const PxmStanza *st)
{
	xmlnode *x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER);
	g_autofree char *occupant = NULL;
	const char *nick;
	gint64 *when;

	if (x == NULL || (occupant = pxm_jid_normalize_dup(st->from)) == NULL ||
	    (nick = pxm_jid_resource_peek(occupant)) == NULL)
		return;
	if (g_strcmp0(st->type, "unavailable") == 0) {
		if (has_status(x, "110")) {
			/* We left: the nicks we find at our next join may
			 * belong to others. */
			g_autofree char *room = g_strndup(occupant,
							  nick - occupant);

			g_hash_table_foreach_remove(account->joined, has_prefix,
						    room);
		} else {
			g_hash_table_remove(account->joined, occupant);
		}
		return;
	}
	if (st->type != NULL ||
	    g_hash_table_contains(account->joined, occupant))
		return;
	if (g_hash_table_size(account->joined) >= OCCUPANTS_MAX)
		g_hash_table_remove_all(account->joined);
	when = g_new(gint64, 1);
	*when = g_get_real_time() / G_USEC_PER_SEC;
	g_hash_table_insert(account->joined, g_steal_pointer(&occupant), when);
}

gboolean
pxm_account_occupant_joined_since(PxmAccount *account, const char *occupant,
				  gint64 when)
{
	const gint64 *joined;

	if (occupant == NULL)
		return FALSE;
	joined = g_hash_table_lookup(account->joined, occupant);
	return joined != NULL && when >= *joined;
}

/* --- Pipelines -------------------------------------------------------- */

static PxmVerdict
run_phase(PxmAccount *account, PxmPhase phase, PxmStanza *st)
{
	guint n;
	const guint *order = pxm_registry_get_order(account->registry, phase,
						    &n);

	for (guint i = 0; i < n; i++) {
		const PxmExtension *ext = pxm_registry_peek(account->registry,
							    order[i]);
		PxmVerdict verdict;

		if (!account->active[order[i]] ||
		    !(ext->manifest->stages[phase].stanzas & st->kind))
			continue;
		verdict = ext->klass->stages[phase](
			account, account->states[order[i]], st);
		if (verdict != PXM_VERDICT_CONTINUE && !st->outgoing)
			return verdict;
	}
	return PXM_VERDICT_CONTINUE;
}

static gboolean
is_shown_message(const PxmStanza *st)
{
	return st->kind == PXM_STANZA_MESSAGE && pxm_stanza_has_body(st) &&
	       g_strcmp0(st->type, "error") != 0 &&
	       g_strcmp0(st->type, "headline") != 0;
}

/* Shows a message the prpl will not show itself; TRUE if it was shown. */
static gboolean
present(PxmAccount *account, PxmStanza *st)
{
	if (!is_shown_message(st))
		return FALSE;
	if (st->body == NULL && st->html == NULL)
		st->body = xmlnode_get_data(
			pxm_xml_child(st->message, "body", NULL));
	if (!pxm_presenter_show(account, st)) {
		purple_debug_info(CATEGORY,
				  "not showing a message already shown (id "
				  "%s)\n",
				  st->id);
		return FALSE;
	}
	return TRUE;
}

PxmVerdict
pxm_pipeline_incoming(PxmAccount *account, PxmStanza *st)
{
	/* Before the stages: what they ask of presence includes this one. */
	if (st->kind == PXM_STANZA_PRESENCE) {
		track_presence(account, st);
		track_occupant(account, st);
	}
	for (PxmPhase p = PXM_PHASE_UNWRAP; p <= PXM_PHASE_PRESENT; p++) {
		PxmVerdict v = run_phase(account, p, st);

		if (v != PXM_VERDICT_CONTINUE)
			return v;
	}
	/* An unwrapped message (a carbon, an archive result) or one a stage
	 * wants shown differently: the presenter shows it, the prpl does not
	 * see the stanza. */
	if (st->message != st->stanza || st->html != NULL) {
		present(account, st);
		return PXM_VERDICT_CONSUMED;
	}
	/* What reaches the prpl is shown by it: pass the identity gate first
	 * so a message already shown (from the archive, as a carbon, or
	 * replayed by a room) is not shown twice. */
	if (is_shown_message(st) && st->message == st->stanza &&
	    !pxm_presenter_admit(account, st)) {
		purple_debug_info(
			CATEGORY, "dropping a message already shown (id %s)\n",
			st->stanza_id != NULL ? st->stanza_id : st->id);
		return PXM_VERDICT_DROP;
	}
	return PXM_VERDICT_CONTINUE;
}

gboolean
pxm_account_replay(PxmAccount *account, xmlnode *message, PxmOrigin origin,
		   const char *stanza_id, gint64 timestamp, PxmReplay why)
{
	PxmStanza st;
	gboolean shown = FALSE;

	g_return_val_if_fail(message != NULL, FALSE);
	pxm_stanza_init(&st, message, FALSE);
	if (st.kind != PXM_STANZA_MESSAGE)
		goto out;
	st.origin = origin;
	pxm_stanza_set(&st.stanza_id, stanza_id);
	if (timestamp != 0)
		st.timestamp = timestamp;
	st.requested = why == PXM_REPLAY_REQUESTED;
	st.sent_by_me = g_strcmp0(st.type, "groupchat") != 0 &&
			st.from != NULL &&
			pxm_jid_bare_equal(st.from, account->bare_jid);
	/* Whoever found the message did the unwrapping and its checks. */
	for (PxmPhase p = PXM_PHASE_DECRYPT; p <= PXM_PHASE_PRESENT; p++)
		if (run_phase(account, p, &st) != PXM_VERDICT_CONTINUE)
			goto out;
	if (account->purple != NULL)
		shown = present(account, &st);
	else
		shown = is_shown_message(&st) &&
			pxm_presenter_admit(account, &st);
out:
	pxm_stanza_clear(&st);
	return shown;
}

void
pxm_pipeline_outgoing(PxmAccount *account, PxmStanza *st)
{
	for (PxmPhase p = PXM_PHASE_COMPOSE; p <= PXM_PHASE_ENCRYPT; p++)
		run_phase(account, p, st);
}

/* --- The host --------------------------------------------------------- */

typedef struct {
	PxmRegistry *registry;
	GHashTable *accounts; /* PurpleConnection* -> PxmAccount* */
	PurplePlugin *plugin; /* set between plugin_load and plugin_unload */
} Host;

static Host *host;

static const PxmExtensionClass *
find_class(const char *id)
{
	for (guint i = 0; pxm_builtin_extensions[i] != NULL; i++)
		if (g_str_equal(pxm_builtin_extensions[i]->id, id))
			return pxm_builtin_extensions[i];
	return NULL;
}

static int
compare_strv(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static gboolean
load_registry(PxmRegistry *registry, GError **error)
{
	g_auto(GStrv) children = NULL;

	children = g_resources_enumerate_children(
		RESOURCE_ROOT, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
	if (children == NULL)
		return FALSE;
	/* Registry order (and so lists shown to users) by id, whatever order
	 * the resource lists them in. */
	qsort(children, g_strv_length(children), sizeof(char *), compare_strv);
	for (guint i = 0; children[i] != NULL; i++) {
		g_autofree char *id = g_strndup(children[i],
						strcspn(children[i], "/"));
		g_autofree char *path = g_strdup_printf("%s/%s/manifest.json",
							RESOURCE_ROOT, id);
		g_autofree char *source = g_strdup_printf(
			"plugin/extensions/%s/manifest.json", id);
		g_autoptr(GBytes) bytes = NULL;
		const PxmExtensionClass *klass;
		PxmManifest *manifest;
		gsize len;
		const char *data;

		bytes = g_resources_lookup_data(
			path, G_RESOURCE_LOOKUP_FLAGS_NONE, error);
		if (bytes == NULL)
			return FALSE;
		data = g_bytes_get_data(bytes, &len);
		manifest = pxm_manifest_parse(source, data, len, error);
		if (manifest == NULL)
			return FALSE;
		if (!g_str_equal(manifest->id, id)) {
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_MISMATCH,
				    "%s: key 'id': '%s' differs from the "
				    "folder name",
				    source, manifest->id);
			pxm_manifest_free(manifest);
			return FALSE;
		}
		klass = find_class(id);
		if (klass == NULL) {
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_MISMATCH,
				    "%s: key 'id': no C implementation of "
				    "'%s' is built in",
				    source, id);
			pxm_manifest_free(manifest);
			return FALSE;
		}
		if (!pxm_registry_add(registry, manifest, klass, error))
			return FALSE;
	}
	for (guint i = 0; pxm_builtin_extensions[i] != NULL; i++) {
		if (pxm_registry_lookup(
			    registry, pxm_builtin_extensions[i]->id) == NULL) {
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_MISMATCH,
				    "extension '%s' has no manifest.json",
				    pxm_builtin_extensions[i]->id);
			return FALSE;
		}
	}
	return pxm_registry_resolve(registry, error);
}

gboolean
pxm_host_init(GError **error)
{
	g_autoptr(PxmRegistry) registry = pxm_registry_new();

	g_return_val_if_fail(host == NULL, FALSE);
	pxm_register_resource();
	if (!load_registry(registry, error)) {
		pxm_unregister_resource();
		return FALSE;
	}
	host = g_new0(Host, 1);
	host->registry = g_steal_pointer(&registry);
	host->accounts = g_hash_table_new(NULL, NULL);
	return TRUE;
}

static void
account_down(PxmAccount *account)
{
	g_autoptr(GError) reason =
		g_error_new_literal(PXM_IQ_ERROR, PXM_IQ_ERROR_DISCONNECTED,
				    "the account went offline");

	pxm_account_free(account, reason);
}

void
pxm_host_shutdown(void)
{
	GHashTableIter iter;
	gpointer value;

	if (host == NULL)
		return;
	g_hash_table_iter_init(&iter, host->accounts);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		g_hash_table_iter_remove(&iter);
		pxm_account_free(value, NULL);
	}
	g_hash_table_unref(host->accounts);
	pxm_registry_free(host->registry);
	g_clear_pointer(&host, g_free);
	pxm_unregister_resource();
}

PxmRegistry *
pxm_host_get_registry(void)
{
	return host != NULL ? host->registry : NULL;
}

char *
pxm_host_setting_key_dup(const char *id)
{
	return g_strconcat("xmpp-modern-", id, NULL);
}

static gboolean
wanted(PurpleAccount *account, const PxmExtension *ext, guint depth)
{
	g_autofree char *key = pxm_host_setting_key_dup(ext->manifest->id);

	/* depth guards against a dependency loop the registry would have
	 * refused anyway. */
	if (depth > pxm_registry_get_n(host->registry) ||
	    !purple_account_get_bool(account, key,
				     ext->manifest->enabled_by_default))
		return FALSE;
	for (guint i = 0; ext->manifest->depends[i] != NULL; i++) {
		const PxmExtension *dep = pxm_registry_lookup(
			host->registry, ext->manifest->depends[i]);

		if (dep == NULL || !wanted(account, dep, depth + 1))
			return FALSE;
	}
	return TRUE;
}

gboolean
pxm_host_extension_wanted(PurpleAccount *account, const PxmExtension *ext)
{
	g_return_val_if_fail(host != NULL, FALSE);
	return wanted(account, ext, 0);
}

static char *
store_path_dup(const char *bare_jid)
{
	return g_build_filename(purple_user_dir(), "xmpp-modern", bare_jid,
				"store.sqlite3", NULL);
}

static void
send_through_glue(PxmAccount *account, xmlnode *stanza, gpointer user_data)
{
	pxm_glue_send(account->gc, stanza);
}

static void
join_through_glue(PxmAccount *account, GHashTable *components,
		  gpointer user_data)
{
	pxm_glue_join_chat(account->gc, components);
}

/* Starts what is wanted and stops what is not, dependencies first. */
static gboolean
apply_settings(PxmAccount *account)
{
	guint n = pxm_registry_get_n(host->registry);
	gboolean changed = FALSE;

	for (guint i = n; i-- > 0;) {
		const PxmExtension *ext = pxm_registry_peek(host->registry, i);

		if (pxm_host_extension_wanted(account->purple, ext))
			continue;
		/* Turned off: no longer a reason to refuse to send. */
		g_clear_pointer(&account->start_errors[i], g_free);
		if (account->active[i]) {
			pxm_account_set_active(account, i, FALSE);
			changed = TRUE;
		}
	}
	/* Dependencies first: the depends-order has dependencies at lower
	 * positions only if the registry was built that way, so iterate until
	 * nothing more starts. */
	for (gboolean progress = TRUE; progress;) {
		progress = FALSE;
		for (guint i = 0; i < n; i++) {
			const PxmExtension *ext =
				pxm_registry_peek(host->registry, i);
			gboolean deps_up = TRUE;

			if (account->active[i] ||
			    !pxm_host_extension_wanted(account->purple, ext))
				continue;
			for (guint d = 0; ext->manifest->depends[d] != NULL;
			     d++) {
				const PxmExtension *dep = pxm_registry_lookup(
					host->registry,
					ext->manifest->depends[d]);
				deps_up = deps_up &&
					  account->active[dep->index];
			}
			if (deps_up &&
			    pxm_account_set_active(account, i, TRUE)) {
				changed = TRUE;
				progress = TRUE;
			}
		}
	}
	return changed;
}

void
pxm_host_connection_up(PurpleConnection *gc)
{
	PurpleAccount *pa = purple_connection_get_account(gc);
	const char *jid = purple_account_get_username(pa);
	g_autofree char *bare = pxm_jid_bare_dup(jid);
	g_autofree char *path = NULL;
	g_autoptr(GError) error = NULL;
	PxmStore *store;
	PxmAccount *account;

	if (host == NULL || g_hash_table_contains(host->accounts, gc))
		return;
	if (bare == NULL) {
		purple_debug_error(CATEGORY, "account '%s' has no valid JID\n",
				   jid);
		return;
	}
	path = store_path_dup(bare);
	store = pxm_store_open(path, &error);
	if (store == NULL) {
		/* Left as it is: it may hold keys the user cannot lose. */
		purple_debug_error(CATEGORY, "store of %s not opened: %s\n",
				   bare, error->message);
		purple_notify_error(NULL, _("Modern XMPP"),
				    _("Could not open the message store"),
				    error->message);
	}
	account = pxm_account_new(host->registry, gc, jid, store,
				  send_through_glue, NULL);
	account->join = join_through_glue;
	g_hash_table_insert(host->accounts, gc, account);
	apply_settings(account);
}

void
pxm_host_connection_down(PurpleConnection *gc)
{
	PxmAccount *account;

	if (host == NULL)
		return;
	account = g_hash_table_lookup(host->accounts, gc);
	if (account == NULL)
		return;
	g_hash_table_remove(host->accounts, gc);
	account_down(account);
}

gboolean
pxm_host_join_room(PurpleConnection *gc, GHashTable *components)
{
	PxmAccount *account = pxm_host_lookup(gc);

	return account != NULL && pxm_account_join_room(account, components);
}

void
pxm_host_release_joins(PurpleConnection *gc)
{
	PxmAccount *account = pxm_host_lookup(gc);

	if (account != NULL)
		pxm_account_release_all_joins(account);
}

gboolean
pxm_host_refresh(PurpleAccount *pa)
{
	PurpleConnection *gc = purple_account_get_connection(pa);
	PxmAccount *account;

	if (host == NULL || gc == NULL)
		return FALSE;
	account = g_hash_table_lookup(host->accounts, gc);
	return account != NULL && apply_settings(account);
}

gboolean
pxm_extensions_retry(PurpleAccount *account)
{
	return pxm_host_refresh(account);
}

PxmAccount *
pxm_host_lookup(PurpleConnection *gc)
{
	return host != NULL ? g_hash_table_lookup(host->accounts, gc) : NULL;
}

gboolean
pxm_host_feature_enabled(PurpleConnection *gc, const char *feature)
{
	PxmAccount *account = pxm_host_lookup(gc);

	if (account == NULL)
		return FALSE;
	for (guint i = 0; i < pxm_registry_get_n(host->registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(host->registry, i);

		if (account->active[i] &&
		    g_strv_contains(
			    (const char *const *)ext->manifest->features,
			    feature))
			return TRUE;
	}
	return FALSE;
}

GPtrArray *
pxm_host_all_features(void)
{
	GPtrArray *all = g_ptr_array_new();

	for (guint i = 0;
	     host != NULL && i < pxm_registry_get_n(host->registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(host->registry, i);

		for (guint f = 0; ext->manifest->features[f] != NULL; f++) {
			const char *feature = ext->manifest->features[f];

			if (!g_ptr_array_find_with_equal_func(
				    all, feature, g_str_equal, NULL))
				g_ptr_array_add(all, (gpointer)feature);
		}
	}
	return all;
}

/* The first active extension of @gc's account that sends files to @who. */
static guint
file_sender_index(PurpleConnection *gc, const char *who, gboolean direct,
		  PxmAccount **out)
{
	PxmAccount *account = pxm_host_lookup(gc);

	*out = account;
	for (guint i = 0;
	     account != NULL && i < pxm_registry_get_n(account->registry);
	     i++) {
		const PxmFileSender *fs = pxm_registry_peek(account->registry,
							    i)
						  ->klass->file_sender;

		if (fs != NULL && account->active[i] &&
		    fs->wanted(account, account->states[i], who, direct))
			return i;
	}
	return G_MAXUINT;
}

gboolean
pxm_host_file_wanted(PurpleConnection *gc, const char *who, gboolean direct)
{
	PxmAccount *account;

	return file_sender_index(gc, who, direct, &account) != G_MAXUINT;
}

PurpleXfer *
pxm_host_file_new_xfer(PurpleConnection *gc, const char *who, gboolean direct)
{
	PxmAccount *account;
	guint i = file_sender_index(gc, who, direct, &account);

	if (i == G_MAXUINT)
		return NULL;
	return pxm_registry_peek(account->registry, i)
		->klass->file_sender->new_xfer(account, account->states[i],
					       who);
}

/*
 * An extension that handles typed messages (end-to-end encryption) is
 * wanted on the account but could not start (e.g. its keys are missing):
 * sending in the clear would fail open.  The user can turn it off, which
 * is an explicit choice.
 */
static void
refuse_unstarted(PxmAccount *account, guint index, const char *to)
{
	const PxmExtension *ext = pxm_registry_peek(account->registry, index);
	g_autofree char *jid = pxm_jid_bare_dup(to);
	g_autofree char *why =
		g_markup_escape_text(account->start_errors[index], -1);
	g_autofree char *html = NULL;

	if (jid == NULL)
		return;
	html = g_strdup_printf(
		/* TRANSLATORS: %s: the extension's name, its error, its id. */
		_("<b>Not sent</b>: %s could not start on this account (%s). "
		  "Type /xmpp-modern disable %s to send without it."),
		g_dgettext(GETTEXT_PACKAGE, ext->manifest->name), why,
		ext->manifest->id);
	pxm_presenter_notice(account, jid, FALSE, html);
}

PxmSendResult
pxm_host_send_message(PurpleConnection *gc, const char *to, const char *html,
		      PurpleMessageFlags flags, gboolean groupchat)
{
	PxmAccount *account = pxm_host_lookup(gc);

	for (guint i = 0;
	     account != NULL && i < pxm_registry_get_n(account->registry);
	     i++) {
		PxmSendMessageFunc send = pxm_registry_peek(account->registry,
							    i)
						  ->klass->send_message;
		PxmSendResult result;

		if (send != NULL && !account->active[i] &&
		    account->start_errors[i] != NULL && !groupchat) {
			refuse_unstarted(account, i, to);
			return PXM_SEND_REFUSED;
		}
		if (send == NULL || !account->active[i])
			continue;
		result = send(account, account->states[i], to, html, flags,
			      groupchat);
		if (result != PXM_SEND_NOT_MINE)
			return result;
	}
	return PXM_SEND_NOT_MINE;
}

void
pxm_host_plugin_load(PurplePlugin *plugin)
{
	g_return_if_fail(host != NULL && host->plugin == NULL);
	host->plugin = plugin;
	for (guint i = 0; i < pxm_registry_get_n(host->registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(host->registry, i);

		if (ext->klass->plugin_load != NULL)
			ext->klass->plugin_load(plugin);
	}
}

void
pxm_host_plugin_unload(PurplePlugin *plugin)
{
	if (host == NULL || host->plugin == NULL)
		return;
	for (guint i = pxm_registry_get_n(host->registry); i-- > 0;) {
		const PxmExtension *ext = pxm_registry_peek(host->registry, i);

		if (ext->klass->plugin_unload != NULL)
			ext->klass->plugin_unload(plugin);
	}
	host->plugin = NULL;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * Held room joins (PxmExtensionClass.join_room).
 *
 * The glue wraps prpl-jabber's join_chat: a join an extension wants to
 * hold is kept here, with a copy of its components, and handed to the
 * prpl once every extension holding it let it go.  Holding before the
 * prpl sees the join, rather than holding its presence in the outgoing
 * pipeline, keeps the prpl's own state simple: it has no JabberChat for
 * the room yet, nothing was counted for XEP-0198 or queued for a resend,
 * and the presence it finally sends passes the compose stages as usual.
 */
#include "host.h"

#include <string.h>

#define CATEGORY "xmpp-modern"

typedef struct {
	PxmAccount *account;
	char *room;
	GHashTable *components;
	gboolean *holders; /* per extension index */
	guint guard;
} HeldJoin;

static void
held_join_free(HeldJoin *held)
{
	g_clear_handle_id(&held->guard, g_source_remove);
	g_hash_table_unref(held->components);
	g_free(held->holders);
	g_free(held->room);
	g_free(held);
}

static GHashTable *
components_copy(GHashTable *components)
{
	GHashTable *copy = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, g_free);
	GHashTableIter iter;
	gpointer key, value;

	g_hash_table_iter_init(&iter, components);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_hash_table_insert(copy, g_strdup(key), g_strdup(value));
	return copy;
}

static GHashTable *
held_joins(PxmAccount *account)
{
	if (account->held_joins == NULL)
		account->held_joins =
			g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					      (GDestroyNotify)held_join_free);
	return account->held_joins;
}

/* Out of the table first: joining runs the outgoing pipeline, which may
 * come back here. */
static void
let_go(HeldJoin *held)
{
	PxmAccount *account = held->account;

	g_hash_table_steal(account->held_joins, held->room);
	purple_debug_info(CATEGORY, "joining a room held until now\n");
	if (account->join != NULL)
		account->join(account, held->components, account->join_data);
	held_join_free(held);
}

static gboolean
on_guard(gpointer data)
{
	HeldJoin *held = data;

	held->guard = 0;
	purple_debug_warning(CATEGORY,
			     "a room join was held too long: joining now\n");
	let_go(held);
	return G_SOURCE_REMOVE;
}

static char *
room_jid_dup(GHashTable *components)
{
	const char *room = g_hash_table_lookup(components, "room");
	const char *server = g_hash_table_lookup(components, "server");
	g_autofree char *jid = NULL;
	char *normalized;

	if (room == NULL || server == NULL || *room == '\0' ||
	    *server == '\0' || strchr(room, '@') != NULL)
		return NULL;
	jid = g_strconcat(room, "@", server, NULL);
	normalized = pxm_jid_normalize_dup(jid);
	if (normalized != NULL && pxm_jid_resource_peek(normalized) != NULL)
		g_clear_pointer(&normalized, g_free);
	return normalized;
}

gboolean
pxm_account_join_room(PxmAccount *account, GHashTable *components)
{
	guint n = pxm_registry_get_n(account->registry);
	g_autofree char *room = room_jid_dup(components);
	g_autofree gboolean *holders = NULL;
	gboolean held = FALSE;
	HeldJoin *join;

	/* Malformed: the prpl says why. */
	if (room == NULL)
		return FALSE;
	/* Joined twice while held (Pidgin's auto-join and a bookmark, or the
	 * user again): one join, with the latest components (a password
	 * typed again). */
	join = account->held_joins != NULL
		       ? g_hash_table_lookup(account->held_joins, room)
		       : NULL;
	if (join != NULL) {
		g_hash_table_unref(join->components);
		join->components = components_copy(components);
		return TRUE;
	}
	holders = g_new0(gboolean, n);
	for (guint i = 0; i < n; i++) {
		const PxmExtension *ext = pxm_registry_peek(account->registry,
							    i);

		if (account->active[i] && ext->klass->join_room != NULL &&
		    ext->klass->join_room(account, account->states[i], room)) {
			holders[i] = TRUE;
			held = TRUE;
		}
	}
	if (!held)
		return FALSE;
	join = g_new0(HeldJoin, 1);
	join->account = account;
	join->room = g_steal_pointer(&room);
	join->components = components_copy(components);
	join->holders = g_steal_pointer(&holders);
	join->guard = g_timeout_add_seconds(PXM_JOIN_HOLD_MAX_S, on_guard,
					    join);
	g_hash_table_insert(held_joins(account), join->room, join);
	return TRUE;
}

static gboolean
has_holders(HeldJoin *held)
{
	for (guint i = 0; i < pxm_registry_get_n(held->account->registry); i++)
		if (held->holders[i])
			return TRUE;
	return FALSE;
}

void
pxm_account_release_join(PxmAccount *account, const char *extension_id,
			 const char *room)
{
	const PxmExtension *ext = pxm_registry_lookup(account->registry,
						      extension_id);
	HeldJoin *held = account->held_joins != NULL && room != NULL
				 ? g_hash_table_lookup(account->held_joins,
						       room)
				 : NULL;

	g_return_if_fail(ext != NULL);
	/* Dropped with the connection, or let go by the guard. */
	if (held == NULL)
		return;
	held->holders[ext->index] = FALSE;
	if (!has_holders(held))
		let_go(held);
}

void
pxm_account_release_joins_of(PxmAccount *account, guint index)
{
	g_autoptr(GPtrArray) done = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;

	if (account->held_joins == NULL)
		return;
	g_hash_table_iter_init(&iter, account->held_joins);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		HeldJoin *held = value;

		held->holders[index] = FALSE;
		if (!has_holders(held))
			g_ptr_array_add(done, held);
	}
	for (guint i = 0; i < done->len; i++)
		let_go(done->pdata[i]);
}

void
pxm_account_release_all_joins(PxmAccount *account)
{
	for (guint i = 0; i < pxm_registry_get_n(account->registry); i++)
		pxm_account_release_joins_of(account, i);
}

void
pxm_account_drop_joins(PxmAccount *account)
{
	if (account->held_joins != NULL &&
	    g_hash_table_size(account->held_joins) > 0)
		purple_debug_info(CATEGORY, "dropping %u held room join(s)\n",
				  g_hash_table_size(account->held_joins));
	g_clear_pointer(&account->held_joins, g_hash_table_unref);
}

guint
pxm_account_n_held_joins(PxmAccount *account)
{
	return account->held_joins != NULL
		       ? g_hash_table_size(account->held_joins)
		       : 0;
}

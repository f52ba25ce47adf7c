// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0402: PEP Native Bookmarks, with XEP-0048 bookmarks in XEP-0049
 * private storage when the server does not unify the two.
 *
 * The server's bookmarks and the account's chats in the buddy list are kept
 * in step.  What the server has is kept here (one PxmBookmark per room);
 * after reading it at sign-on the two are merged once, then changes flow
 * both ways: pushes from the user's other clients change the chats, and a
 * check of the chats (right after buddy-list signals, and every few
 * seconds for what has no signal: auto-join and the nick or password) sends
 * whatever differs from what the server has.  A change applied from a push
 * leaves nothing different, so it is never published back.
 */
#include "xep0402-bookmarks.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#define ID "xep0402-bookmarks"

/* Bounds on what other clients (or a hostile server) give us. */
#define MAX_BOOKMARKS 1000
#define MAX_TEXT 1024
#define MAX_JID 3071

/* libpurple has no signal for the auto-join setting, nor for a chat's
 * components (nick, password): they are compared this often. */
#define CHECK_SECONDS 5

/* Blist node settings: Pidgin's and Finch's auto-join checkboxes, and our
 * mark on chats that matched a bookmark the last time we looked. */
#define SETTING_GTK_AUTOJOIN "gtk-autojoin"
#define SETTING_GNT_AUTOJOIN "gnt-autojoin"
#define SETTING_MARK "xmpp-modern-bookmark"
/* Account setting: the group new bookmarked chats go to. */
#define SETTING_GROUP "xmpp-modern-bookmarks-group"

typedef struct {
	PxmAccount *account; /* NULL once stopped */
	PxmBookmarksMode mode;
	gboolean ready;
	/* The server's bookmarks: normalised room JID -> PxmBookmark. */
	GHashTable *remote;
	/* XEP-0049: the storage element as read, for what we do not
	 * understand (URL bookmarks) to be written back. */
	xmlnode *storage;
	/* Rooms that had a chat at the last check: one missing now was
	 * removed by the user. */
	GHashTable *local;
	guint batch;      /* > 0: private storage written at the end */
	gboolean dirty;   /* private storage to write */
	guint idle_id;    /* a check scheduled after a blist signal */
	guint timeout_id; /* the periodic check */
	/* The service refuses pubsub#max_items (and
	 * send_last_published_item) in publish-options (ejabberd 23.01):
	 * publish without them; the node's configuration has them. */
	gboolean no_max_option;
	gboolean max_configured;
} State;

typedef struct {
	State *state; /* a reference */
	PxmBookmark *bookmark;
	gboolean retried;
} Publish;

static void sync_initial(State *state);
static void apply_remote(State *state, const PxmBookmark *old,
			 const PxmBookmark *bookmark);
static void remove_local(State *state, const PxmBookmark *old);

/* --- Bookmarks ------------------------------------------------------- */

void
pxm_bookmark_free(PxmBookmark *bm)
{
	if (bm == NULL)
		return;
	g_free(bm->jid);
	g_free(bm->id);
	g_free(bm->name);
	g_free(bm->nick);
	g_free(bm->password);
	if (bm->extensions != NULL)
		xmlnode_free(bm->extensions);
	g_free(bm);
}

PxmBookmark *
pxm_bookmark_copy(const PxmBookmark *bm)
{
	PxmBookmark *copy = g_new0(PxmBookmark, 1);

	copy->jid = g_strdup(bm->jid);
	copy->id = g_strdup(bm->id);
	copy->name = g_strdup(bm->name);
	copy->nick = g_strdup(bm->nick);
	copy->password = g_strdup(bm->password);
	copy->autojoin = bm->autojoin;
	copy->extensions = bm->extensions != NULL ? xmlnode_copy(bm->extensions)
						  : NULL;
	return copy;
}

static const char *
nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

gboolean
pxm_bookmark_equal(const PxmBookmark *a, const PxmBookmark *b)
{
	return g_strcmp0(a->jid, b->jid) == 0 &&
	       g_strcmp0(nonempty(a->name), nonempty(b->name)) == 0 &&
	       g_strcmp0(nonempty(a->nick), nonempty(b->nick)) == 0 &&
	       g_strcmp0(nonempty(a->password), nonempty(b->password)) == 0 &&
	       !a->autojoin == !b->autojoin;
}

/* A room's JID: a bare JID with a local part, normalised. */
static char *
room_jid_dup(const char *jid)
{
	g_autofree char *norm = NULL;

	if (jid == NULL || strlen(jid) > MAX_JID)
		return NULL;
	norm = pxm_jid_normalize_dup(jid);
	if (norm == NULL || pxm_jid_resource_peek(norm) != NULL ||
	    strchr(norm, '@') == NULL)
		return NULL;
	return g_steal_pointer(&norm);
}

/* Text of a child; FALSE when it is too long to be a name, nick or
 * password anybody typed. */
static gboolean
child_text(xmlnode *parent, const char *name, const char *ns, char **out)
{
	xmlnode *child = pxm_xml_child(parent, name, ns);
	g_autofree char *text = child != NULL ? xmlnode_get_data(child) : NULL;

	if (text != NULL && strlen(text) > MAX_TEXT)
		return FALSE;
	*out = nonempty(text) != NULL ? g_steal_pointer(&text) : NULL;
	return TRUE;
}

/* XML Schema boolean (XEP-0402 section 3, XEP-0048 section 3.2). */
static gboolean
parse_bool(const char *value)
{
	return g_strcmp0(value, "true") == 0 || g_strcmp0(value, "1") == 0;
}

/* The fields both formats share, from <conference/>. */
static PxmBookmark *
parse_conference(xmlnode *conference, const char *id, const char *ns)
{
	g_autoptr(PxmBookmark) bm = g_new0(PxmBookmark, 1);
	const char *name = xmlnode_get_attrib(conference, "name");

	bm->jid = room_jid_dup(id);
	if (bm->jid == NULL) {
		purple_debug_warning(ID, "ignoring a bookmark without a valid "
					 "room JID\n");
		return NULL;
	}
	bm->id = g_strdup(id);
	if ((name != NULL && strlen(name) > MAX_TEXT) ||
	    !child_text(conference, "nick", ns, &bm->nick) ||
	    !child_text(conference, "password", ns, &bm->password)) {
		purple_debug_warning(ID, "ignoring a bookmark with an "
					 "oversized name, nick or password\n");
		return NULL;
	}
	bm->name = g_strdup(nonempty(name));
	bm->autojoin = parse_bool(xmlnode_get_attrib(conference, "autojoin"));
	if (bm->nick != NULL) {
		g_autofree char *occupant = g_strconcat(bm->jid, "/", bm->nick,
							NULL);
		g_autofree char *norm = pxm_jid_normalize_dup(occupant);

		if (norm == NULL) {
			purple_debug_warning(ID, "ignoring a bookmark with an "
						 "invalid nick\n");
			return NULL;
		}
	}
	return g_steal_pointer(&bm);
}

PxmBookmark *
pxm_bookmark_from_item(xmlnode *item)
{
	xmlnode *conference = pxm_xml_child(item, "conference",
					    PXM_NS_BOOKMARKS);
	xmlnode *extensions;
	PxmBookmark *bm;

	/* Section 3: the payload is one <conference/> in our namespace; the
	 * room is the item id. */
	if (conference == NULL) {
		purple_debug_warning(ID,
				     "ignoring a bookmark item without "
				     "<conference xmlns='%s'/>\n",
				     PXM_NS_BOOKMARKS);
		return NULL;
	}
	bm = parse_conference(conference, xmlnode_get_attrib(item, "id"),
			      PXM_NS_BOOKMARKS);
	if (bm == NULL)
		return NULL;
	extensions = pxm_xml_child(conference, "extensions", PXM_NS_BOOKMARKS);
	if (extensions != NULL)
		bm->extensions = xmlnode_copy(extensions);
	return bm;
}

static gboolean
is_known_legacy_child(xmlnode *c)
{
	return g_str_equal(c->name, "nick") || g_str_equal(c->name, "password");
}

PxmBookmark *
pxm_bookmark_from_conference(xmlnode *conference)
{
	PxmBookmark *bm = parse_conference(
		conference, xmlnode_get_attrib(conference, "jid"),
		PXM_NS_BOOKMARKS_LEGACY);

	if (bm == NULL)
		return NULL;
	/* Elements other clients added are written back as they were. */
	for (xmlnode *c = conference->child; c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG ||
		    (is_known_legacy_child(c) &&
		     g_strcmp0(xmlnode_get_namespace(c),
			       PXM_NS_BOOKMARKS_LEGACY) == 0))
			continue;
		if (bm->extensions == NULL)
			bm->extensions = xmlnode_new("extensions");
		xmlnode_insert_child(bm->extensions, xmlnode_copy(c));
	}
	return bm;
}

static void
add_text_child(xmlnode *parent, const char *name, const char *text)
{
	if (nonempty(text) != NULL)
		xmlnode_insert_data(xmlnode_new_child(parent, name), text, -1);
}

/* <conference/> of either format (XEP-0048 names the room in it). */
static xmlnode *
conference_new(const PxmBookmark *bm, gboolean legacy)
{
	xmlnode *conference = xmlnode_new("conference");

	xmlnode_set_namespace(conference, legacy ? PXM_NS_BOOKMARKS_LEGACY
						 : PXM_NS_BOOKMARKS);
	if (nonempty(bm->name) != NULL)
		xmlnode_set_attrib(conference, "name", bm->name);
	xmlnode_set_attrib(conference, "autojoin",
			   bm->autojoin ? "true" : "false");
	if (legacy)
		xmlnode_set_attrib(conference, "jid", bm->id);
	add_text_child(conference, "nick", bm->nick);
	add_text_child(conference, "password", bm->password);
	if (bm->extensions != NULL && !legacy)
		xmlnode_insert_child(conference, xmlnode_copy(bm->extensions));
	for (xmlnode *c = legacy && bm->extensions != NULL
				  ? bm->extensions->child
				  : NULL;
	     c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG)
			xmlnode_insert_child(conference, xmlnode_copy(c));
	return conference;
}

/* --- State ----------------------------------------------------------- */

static void
state_clear(State *state)
{
	g_hash_table_unref(state->remote);
	g_hash_table_unref(state->local);
	if (state->storage != NULL)
		xmlnode_free(state->storage);
}

static State *
state_ref(State *state)
{
	return g_rc_box_acquire(state);
}

static void
state_unref(State *state)
{
	g_rc_box_release_full(state, (GDestroyNotify)state_clear);
}

static void
publish_free(Publish *publish)
{
	state_unref(publish->state);
	pxm_bookmark_free(publish->bookmark);
	g_free(publish);
}

PxmBookmarksMode
pxm_bookmarks_get_mode(gpointer data)
{
	return ((State *)data)->mode;
}

gboolean
pxm_bookmarks_is_ready(gpointer data)
{
	return ((State *)data)->ready;
}

const PxmBookmark *
pxm_bookmarks_lookup(gpointer data, const char *jid)
{
	State *state = data;
	g_autofree char *room = room_jid_dup(jid);

	return room != NULL ? g_hash_table_lookup(state->remote, room) : NULL;
}

guint
pxm_bookmarks_count(gpointer data)
{
	return g_hash_table_size(((State *)data)->remote);
}

/* Takes @bm; FALSE (and frees it) past the bound. */
static gboolean
remember(State *state, PxmBookmark *bm)
{
	if (!g_hash_table_contains(state->remote, bm->jid) &&
	    g_hash_table_size(state->remote) >= MAX_BOOKMARKS) {
		purple_debug_warning(ID,
				     "ignoring bookmarks past the first "
				     "%d\n",
				     MAX_BOOKMARKS);
		pxm_bookmark_free(bm);
		return FALSE;
	}
	g_hash_table_replace(state->remote, bm->jid, bm);
	return TRUE;
}

/* --- Writing --------------------------------------------------------- */

/* XEP-0402 section 5 (and XEP-0223 section 3): a private node, every item
 * kept, nothing sent on subscribing.  @form_type: publish-options or
 * node_config. */
static xmlnode *
node_config_form(const char *form_type, const char *max_items)
{
	const char *const fields[][2] = {
		{ "pubsub#persist_items", "true" },
		{ "pubsub#max_items", max_items },
		/* Left out with max_items: ejabberd 23.01 knows neither in
		 * publish-options. */
		{ "pubsub#send_last_published_item",
		  max_items != NULL ? "never" : NULL },
		{ "pubsub#access_model", "whitelist" },
	};
	xmlnode *x = xmlnode_new("x");
	xmlnode *field;

	xmlnode_set_namespace(x, PXM_NS_DATA);
	xmlnode_set_attrib(x, "type", "submit");
	field = xmlnode_new_child(x, "field");
	xmlnode_set_attrib(field, "var", "FORM_TYPE");
	xmlnode_set_attrib(field, "type", "hidden");
	add_text_child(field, "value", form_type);
	for (gsize i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (fields[i][1] == NULL)
			continue;
		field = xmlnode_new_child(x, "field");
		xmlnode_set_attrib(field, "var", fields[i][0]);
		add_text_child(field, "value", fields[i][1]);
	}
	return x;
}

static xmlnode *
iq_new(const char *type, const char *child, const char *ns, xmlnode **out)
{
	xmlnode *iq = xmlnode_new("iq");

	xmlnode_set_attrib(iq, "type", type);
	*out = xmlnode_new_child(iq, child);
	xmlnode_set_namespace(*out, ns);
	return iq;
}

static void send_publish(State *state, Publish *publish);

/* pubsub#max_items in the node's configuration when the service refused it
 * in publish-options: a number, as 'max' is refused there too. */
#define MAX_ITEMS_FALLBACK G_STRINGIFY(MAX_BOOKMARKS)

static const char *
max_items_value(State *state)
{
	return state->no_max_option ? MAX_ITEMS_FALLBACK : "max";
}

static void
on_reconfigured(PxmAccount *account, xmlnode *result, const GError *error,
		gpointer data)
{
	if (error != NULL)
		purple_debug_warning(ID,
				     "could not configure the bookmarks "
				     "node: %s\n",
				     error->message);
}

static void
on_configured(PxmAccount *account, xmlnode *result, const GError *error,
	      gpointer data)
{
	Publish *publish = data;
	Publish *again;

	if (publish->state->account == NULL)
		return;
	if (error != NULL) {
		purple_debug_warning(ID,
				     "could not make the bookmarks node "
				     "private: %s\n",
				     error->message);
		return;
	}
	again = g_new0(Publish, 1);
	again->state = state_ref(publish->state);
	again->bookmark = pxm_bookmark_copy(publish->bookmark);
	again->retried = TRUE;
	send_publish(publish->state, again);
}

static void
on_published(PxmAccount *account, xmlnode *result, const GError *error,
	     gpointer data)
{
	Publish *publish = data;
	xmlnode *iq, *pubsub, *configure;

	if (publish->state->account == NULL)
		return;
	if (error == NULL) {
		if (publish->state->no_max_option &&
		    !publish->state->max_configured) {
			publish->state->max_configured = TRUE;
			iq = iq_new("set", "pubsub", PXM_NS_PUBSUB_OWNER,
				    &pubsub);
			configure = xmlnode_new_child(pubsub, "configure");
			xmlnode_set_attrib(configure, "node", PXM_NS_BOOKMARKS);
			xmlnode_insert_child(
				configure,
				node_config_form(PXM_NS_PUBSUB_NODE_CONFIG,
						 MAX_ITEMS_FALLBACK));
			pxm_account_send_iq(account, iq, 0, on_reconfigured,
					    NULL, NULL);
		}
		return;
	}
	/* XEP-0402 section 5 wants pubsub#max_items 'max' and
	 * send_last_published_item in publish-options; ejabberd 23.01 knows
	 * neither there (an "unknown field" error, whatever the value):
	 * publish again without them, still private (access_model), then
	 * set them in the node's configuration, where they are known. Once
	 * per account. */
	if (!publish->state->no_max_option &&
	    pxm_iq_error_refused_options(error)) {
		Publish *again = g_new0(Publish, 1);

		purple_debug_info(ID,
				  "publishing the bookmark again without "
				  "max_items (%s)\n",
				  error->message);
		publish->state->no_max_option = TRUE;
		again->state = state_ref(publish->state);
		again->bookmark = pxm_bookmark_copy(publish->bookmark);
		again->retried = publish->retried;
		send_publish(publish->state, again);
		return;
	}
	/* XEP-0060 section 7.1.5: a node configured otherwise answers
	 * <conflict/> with <precondition-not-met/>: configure it as the
	 * options say, then publish again (once). */
	if (!publish->retried && pxm_iq_error_is(error, "conflict")) {
		Publish *again = g_new0(Publish, 1);

		again->state = state_ref(publish->state);
		again->bookmark = pxm_bookmark_copy(publish->bookmark);
		again->retried = TRUE;
		iq = iq_new("set", "pubsub", PXM_NS_PUBSUB_OWNER, &pubsub);
		configure = xmlnode_new_child(pubsub, "configure");
		xmlnode_set_attrib(configure, "node", PXM_NS_BOOKMARKS);
		xmlnode_insert_child(
			configure,
			node_config_form(PXM_NS_PUBSUB_NODE_CONFIG,
					 max_items_value(publish->state)));
		purple_debug_info(ID, "bookmarks node configured otherwise: "
				      "reconfiguring it\n");
		pxm_account_send_iq(account, iq, 0, on_configured, again,
				    (GDestroyNotify)publish_free);
		return;
	}
	purple_debug_warning(ID, "could not publish a bookmark: %s\n",
			     error->message);
}

/* Takes @publish. */
static void
send_publish(State *state, Publish *publish)
{
	xmlnode *pubsub, *node, *item, *options;
	xmlnode *iq = iq_new("set", "pubsub", PXM_NS_PUBSUB, &pubsub);

	node = xmlnode_new_child(pubsub, "publish");
	xmlnode_set_attrib(node, "node", PXM_NS_BOOKMARKS);
	item = xmlnode_new_child(node, "item");
	xmlnode_set_attrib(item, "id", publish->bookmark->id);
	xmlnode_insert_child(item, conference_new(publish->bookmark, FALSE));
	/* XEP-0402 section 5: MUST use publish-options, so the bookmarks
	 * never land in a node our contacts can read. */
	options = xmlnode_new_child(pubsub, "publish-options");
	xmlnode_insert_child(
		options, node_config_form(PXM_NS_PUBSUB_PUBLISH_OPTIONS,
					  state->no_max_option ? NULL : "max"));
	pxm_account_send_iq(state->account, iq, 0, on_published, publish,
			    (GDestroyNotify)publish_free);
}

static void
on_stored(PxmAccount *account, xmlnode *result, const GError *error,
	  gpointer data)
{
	if (error != NULL)
		purple_debug_warning(ID, "could not store the bookmarks: %s\n",
				     error->message);
}

static int
compare_jids(gconstpointer a, gconstpointer b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* XEP-0048 in XEP-0049: the storage is one element, written whole. */
static void
write_private(State *state)
{
	xmlnode *query, *storage;
	xmlnode *iq;
	g_autofree gpointer *keys = NULL;
	guint n;

	if (state->batch > 0) {
		state->dirty = TRUE;
		return;
	}
	state->dirty = FALSE;
	iq = iq_new("set", "query", PXM_NS_PRIVATE, &query);
	storage = xmlnode_new_child(query, "storage");
	xmlnode_set_namespace(storage, PXM_NS_BOOKMARKS_LEGACY);
	/* URL bookmarks and whatever else other clients keep there. */
	for (xmlnode *c = state->storage != NULL ? state->storage->child : NULL;
	     c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    !g_str_equal(c->name, "conference"))
			xmlnode_insert_child(storage, xmlnode_copy(c));
	keys = g_hash_table_get_keys_as_array(state->remote, &n);
	qsort(keys, n, sizeof(gpointer), compare_jids);
	for (guint i = 0; i < n; i++)
		xmlnode_insert_child(
			storage, conference_new(g_hash_table_lookup(
							state->remote, keys[i]),
						TRUE));
	pxm_account_send_iq(state->account, iq, 0, on_stored, NULL, NULL);
}

void
pxm_bookmarks_store(PxmAccount *account, gpointer data,
		    const PxmBookmark *bookmark)
{
	State *state = data;
	const PxmBookmark *old;
	PxmBookmark *bm;

	g_return_if_fail(bookmark != NULL && bookmark->jid != NULL);
	if (!state->ready)
		return;
	old = g_hash_table_lookup(state->remote, bookmark->jid);
	if (old != NULL && pxm_bookmark_equal(old, bookmark))
		return;
	bm = pxm_bookmark_copy(bookmark);
	if (bm->id == NULL)
		bm->id = g_strdup(old != NULL ? old->id : bm->jid);
	if (bm->extensions == NULL && old != NULL && old->extensions != NULL)
		bm->extensions = xmlnode_copy(old->extensions);
	if (!remember(state, bm))
		return;
	purple_debug_info(ID, "storing the bookmark of a room\n");
	if (state->mode == PXM_BOOKMARKS_PEP) {
		Publish *publish = g_new0(Publish, 1);

		publish->state = state_ref(state);
		publish->bookmark = pxm_bookmark_copy(bm);
		send_publish(state, publish);
	} else {
		write_private(state);
	}
}

void
pxm_bookmarks_remove(PxmAccount *account, gpointer data, const char *jid)
{
	State *state = data;
	g_autofree char *room = room_jid_dup(jid);
	const PxmBookmark *old;
	xmlnode *iq, *pubsub, *retract;

	if (!state->ready || room == NULL ||
	    (old = g_hash_table_lookup(state->remote, room)) == NULL)
		return;
	purple_debug_info(ID, "removing the bookmark of a room\n");
	if (state->mode == PXM_BOOKMARKS_PEP) {
		iq = iq_new("set", "pubsub", PXM_NS_PUBSUB, &pubsub);
		retract = xmlnode_new_child(pubsub, "retract");
		xmlnode_set_attrib(retract, "node", PXM_NS_BOOKMARKS);
		/* Section 5.4: notify, so the user's other clients see it. */
		xmlnode_set_attrib(retract, "notify", "true");
		xmlnode_set_attrib(xmlnode_new_child(retract, "item"), "id",
				   old->id);
		g_hash_table_remove(state->remote, room);
		pxm_account_send_iq(account, iq, 0, on_stored, NULL, NULL);
	} else {
		g_hash_table_remove(state->remote, room);
		write_private(state);
	}
}

/* --- Reading --------------------------------------------------------- */

static void
read_done(State *state, PxmBookmarksMode mode)
{
	state->mode = mode;
	state->ready = TRUE;
	purple_debug_info(ID, "%u bookmarks read from %s\n",
			  g_hash_table_size(state->remote),
			  mode == PXM_BOOKMARKS_PEP ? "PEP (XEP-0402)"
						    : "private storage "
						      "(XEP-0048)");
	sync_initial(state);
}

static void
on_private(PxmAccount *account, xmlnode *result, const GError *error,
	   gpointer data)
{
	State *state = data;
	xmlnode *query = pxm_xml_child(result, "query", PXM_NS_PRIVATE);
	xmlnode *storage = pxm_xml_child(query, "storage",
					 PXM_NS_BOOKMARKS_LEGACY);

	if (state->account == NULL)
		return;
	if (error != NULL) {
		/* Nothing to merge with: writing would lose what is there. */
		purple_debug_warning(ID, "could not read the bookmarks: %s\n",
				     error->message);
		return;
	}
	if (storage != NULL) {
		state->storage = xmlnode_copy(storage);
		for (xmlnode *c = storage->child; c != NULL; c = c->next) {
			PxmBookmark *bm;

			if (c->type != XMLNODE_TYPE_TAG ||
			    !g_str_equal(c->name, "conference") ||
			    (bm = pxm_bookmark_from_conference(c)) == NULL)
				continue;
			remember(state, bm);
		}
	}
	read_done(state, PXM_BOOKMARKS_PRIVATE);
}

static void
read_private(State *state)
{
	xmlnode *query;
	xmlnode *iq = iq_new("get", "query", PXM_NS_PRIVATE, &query);

	xmlnode_set_namespace(xmlnode_new_child(query, "storage"),
			      PXM_NS_BOOKMARKS_LEGACY);
	pxm_account_send_iq(state->account, iq, 0, on_private, state_ref(state),
			    (GDestroyNotify)state_unref);
}

static void
read_items(State *state, xmlnode *items)
{
	for (xmlnode *c = items != NULL ? items->child : NULL; c != NULL;
	     c = c->next) {
		PxmBookmark *bm;

		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "item") ||
		    (bm = pxm_bookmark_from_item(c)) == NULL)
			continue;
		remember(state, bm);
	}
}

typedef struct {
	State *state; /* a reference */
	gboolean compat;
} ItemsQuery;

static void
items_query_free(ItemsQuery *q)
{
	state_unref(q->state);
	g_free(q);
}

static void
on_items(PxmAccount *account, xmlnode *result, const GError *error,
	 gpointer data)
{
	ItemsQuery *q = data;
	State *state = q->state;
	xmlnode *pubsub = pxm_xml_child(result, "pubsub", PXM_NS_PUBSUB);
	xmlnode *items = pxm_xml_child(pubsub, "items", NULL);

	if (state->account == NULL)
		return;
	if (error != NULL && !q->compat) {
		/* No such node: this server's clients use XEP-0048. */
		read_private(state);
		return;
	}
	if (error != NULL && !pxm_iq_error_is(error, "item-not-found")) {
		purple_debug_warning(ID, "could not read the bookmarks: %s\n",
				     error->message);
		return;
	}
	read_items(state, items);
	read_done(state, PXM_BOOKMARKS_PEP);
}

static void
read_pep(State *state, gboolean compat)
{
	xmlnode *pubsub, *items;
	xmlnode *iq = iq_new("get", "pubsub", PXM_NS_PUBSUB, &pubsub);
	ItemsQuery *q = g_new0(ItemsQuery, 1);

	items = xmlnode_new_child(pubsub, "items");
	xmlnode_set_attrib(items, "node", PXM_NS_BOOKMARKS);
	q->state = state_ref(state);
	q->compat = compat;
	pxm_account_send_iq(state->account, iq, 0, on_items, q,
			    (GDestroyNotify)items_query_free);
}

static gboolean
has_feature(xmlnode *result, const char *feature)
{
	xmlnode *query = pxm_xml_child(result, "query", PXM_NS_DISCO_INFO);

	for (xmlnode *c = query != NULL ? query->child : NULL; c != NULL;
	     c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    g_str_equal(c->name, "feature") &&
		    g_strcmp0(xmlnode_get_attrib(c, "var"), feature) == 0)
			return TRUE;
	return FALSE;
}

/*
 * Section 7: a server announcing #compat mirrors XEP-0402 bookmarks into
 * XEP-0048 private storage for older clients, so XEP-0402 alone is enough.
 * Without it, XEP-0402 is used if the user's clients already do (the node
 * exists) and the server can keep it private (publish-options, section 5);
 * otherwise the bookmarks stay where older clients look for them.
 */
static void
on_disco(PxmAccount *account, xmlnode *result, const GError *error,
	 gpointer data)
{
	State *state = data;

	if (state->account == NULL)
		return;
	if (result != NULL && has_feature(result, PXM_NS_BOOKMARKS_COMPAT))
		read_pep(state, TRUE);
	else if (result != NULL &&
		 has_feature(result, PXM_NS_PUBSUB_PUBLISH_OPTIONS))
		read_pep(state, FALSE);
	else
		read_private(state);
}

/* --- Pushes ---------------------------------------------------------- */

static void
push_item(State *state, xmlnode *item)
{
	g_autoptr(PxmBookmark) old = NULL;
	PxmBookmark *bm = pxm_bookmark_from_item(item);

	if (bm == NULL)
		return;
	old = g_hash_table_lookup(state->remote, bm->jid);
	if (old != NULL) {
		old = pxm_bookmark_copy(old);
		/* Our own publication coming back. */
		if (pxm_bookmark_equal(old, bm)) {
			remember(state, bm);
			return;
		}
	}
	if (remember(state, bm))
		apply_remote(state, old, bm);
}

static void
push_retract(State *state, const char *id)
{
	g_autofree char *room = room_jid_dup(id);
	PxmBookmark *old;

	if (room == NULL) {
		purple_debug_warning(ID, "ignoring the retraction of an "
					 "invalid room JID\n");
		return;
	}
	if (!g_hash_table_steal_extended(state->remote, room, NULL,
					 (gpointer *)&old))
		return;
	remove_local(state, old);
	pxm_bookmark_free(old);
}

static void
push_purge(State *state)
{
	g_autoptr(GList) values = g_hash_table_get_values(state->remote);

	g_hash_table_steal_all(state->remote);
	for (GList *l = values; l != NULL; l = l->next) {
		remove_local(state, l->data);
		pxm_bookmark_free(l->data);
	}
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *event, *payload = NULL;

	/* Pushes are headlines of their own, never forwarded. */
	if (st->message != st->stanza ||
	    (event = pxm_xml_child(st->stanza, "event", PXM_NS_PUBSUB_EVENT)) ==
		    NULL)
		return PXM_VERDICT_CONTINUE;
	for (xmlnode *c = event->child; c != NULL && payload == NULL;
	     c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    g_strcmp0(xmlnode_get_attrib(c, "node"),
			      PXM_NS_BOOKMARKS) == 0)
			payload = c;
	if (payload == NULL)
		return PXM_VERDICT_CONTINUE;
	/* XEP-0163 section 4.3: the user's own PEP service notifies from the
	 * bare JID (a stanza without 'from' comes from the account itself,
	 * RFC 6120 section 8.1.2.1).  Anybody else could add rooms to the
	 * buddy list and make us join them. */
	if (st->from != NULL &&
	    !pxm_account_is_own_bare_jid(account, st->from)) {
		purple_debug_warning(ID, "dropping a bookmark notification "
					 "not sent by our own account\n");
		return PXM_VERDICT_DROP;
	}
	/* Before the first read, or with private storage, the read is what
	 * counts. */
	if (!state->ready || state->mode != PXM_BOOKMARKS_PEP)
		return PXM_VERDICT_CONSUMED;
	if (g_str_equal(payload->name, "items")) {
		for (xmlnode *c = payload->child; c != NULL; c = c->next) {
			if (c->type != XMLNODE_TYPE_TAG)
				continue;
			if (g_str_equal(c->name, "item"))
				push_item(state, c);
			else if (g_str_equal(c->name, "retract"))
				push_retract(state,
					     xmlnode_get_attrib(c, "id"));
		}
	} else if (g_str_equal(payload->name, "purge") ||
		   g_str_equal(payload->name, "delete")) {
		push_purge(state);
	}
	return PXM_VERDICT_CONSUMED;
}

/* --- The buddy list -------------------------------------------------- */

/* The room of a chat of this account, normalised; NULL if it has none. */
static char *
chat_room_dup(PurpleChat *chat)
{
	GHashTable *components = purple_chat_get_components(chat);
	const char *room = g_hash_table_lookup(components, "room");
	const char *server = g_hash_table_lookup(components, "server");
	g_autofree char *jid = NULL;

	if (nonempty(room) == NULL || nonempty(server) == NULL)
		return NULL;
	jid = g_strconcat(room, "@", server, NULL);
	return room_jid_dup(jid);
}

static gboolean
chat_autojoin(PurpleChat *chat)
{
	PurpleBlistNode *node = (PurpleBlistNode *)chat;

	return purple_blist_node_get_bool(node, SETTING_GTK_AUTOJOIN) ||
	       purple_blist_node_get_bool(node, SETTING_GNT_AUTOJOIN);
}

static PxmBookmark *
bookmark_from_chat(PurpleChat *chat, const char *room)
{
	GHashTable *components = purple_chat_get_components(chat);
	PxmBookmark *bm = g_new0(PxmBookmark, 1);

	bm->jid = g_strdup(room);
	bm->name = g_strdup(nonempty(chat->alias));
	bm->nick =
		g_strdup(nonempty(g_hash_table_lookup(components, "handle")));
	bm->password =
		g_strdup(nonempty(g_hash_table_lookup(components, "password")));
	bm->autojoin = chat_autojoin(chat);
	return bm;
}

/* The chats of @pa with their rooms, the first chat of each room only
 * (room -> chat). */
static GHashTable *
account_chats(PurpleAccount *pa)
{
	GHashTable *chats = g_hash_table_new_full(g_str_hash, g_str_equal,
						  g_free, NULL);

	for (PurpleBlistNode *n = purple_blist_get_root(); n != NULL;
	     n = purple_blist_node_next(n, TRUE)) {
		char *room;

		if (!PURPLE_BLIST_NODE_IS_CHAT(n) ||
		    purple_chat_get_account((PurpleChat *)n) != pa ||
		    (room = chat_room_dup((PurpleChat *)n)) == NULL)
			continue;
		if (g_hash_table_contains(chats, room))
			g_free(room);
		else
			g_hash_table_insert(chats, room, n);
	}
	return chats;
}

/* Where new bookmarked chats go: the group holding most of the account's
 * bookmarked chats (the user may have moved or renamed it), else the one
 * remembered, else "Bookmarks". */
static PurpleGroup *
bookmark_group(PurpleAccount *pa, GHashTable *chats)
{
	g_autoptr(GHashTable) counts = g_hash_table_new(NULL, NULL);
	PurpleGroup *best = NULL;
	guint best_count = 0;
	GHashTableIter iter;
	gpointer chat;
	const char *name;
	PurpleGroup *group;

	g_hash_table_iter_init(&iter, chats);
	while (g_hash_table_iter_next(&iter, NULL, &chat)) {
		guint count;

		if (!purple_blist_node_get_bool(chat, SETTING_MARK))
			continue;
		group = purple_chat_get_group(chat);
		count = GPOINTER_TO_UINT(g_hash_table_lookup(counts, group)) +
			1;
		g_hash_table_insert(counts, group, GUINT_TO_POINTER(count));
		if (count > best_count) {
			best = group;
			best_count = count;
		}
	}
	if (best != NULL) {
		purple_account_set_string(pa, SETTING_GROUP,
					  purple_group_get_name(best));
		return best;
	}
	name = purple_account_get_string(pa, SETTING_GROUP, NULL);
	if (nonempty(name) == NULL)
		/* TRANSLATORS: the buddy-list group of the rooms bookmarked
		 * on the server */
		name = _("Bookmarks");
	group = purple_find_group(name);
	if (group == NULL) {
		group = purple_group_new(name);
		purple_blist_add_group(group, NULL);
	}
	return group;
}

static void
set_component(GHashTable *components, const char *key, const char *value)
{
	if (nonempty(value) != NULL)
		g_hash_table_replace(components, g_strdup(key),
				     g_strdup(value));
	else
		g_hash_table_remove(components, key);
}

/* The chat made to say what @bm says. */
static void
chat_set(PurpleChat *chat, const PxmBookmark *bm)
{
	PurpleBlistNode *node = (PurpleBlistNode *)chat;
	GHashTable *components = purple_chat_get_components(chat);

	if (g_strcmp0(nonempty(chat->alias), nonempty(bm->name)) != 0)
		purple_blist_alias_chat(chat, nonempty(bm->name));
	set_component(components, "handle", bm->nick);
	set_component(components, "password", bm->password);
	purple_blist_node_set_bool(node, SETTING_GTK_AUTOJOIN, bm->autojoin);
	purple_blist_node_set_bool(node, SETTING_GNT_AUTOJOIN, bm->autojoin);
	purple_blist_node_set_bool(node, SETTING_MARK, TRUE);
	purple_blist_schedule_save();
}

static PurpleChat *
chat_new(PurpleAccount *pa, PurpleGroup *group, const PxmBookmark *bm)
{
	GHashTable *components = g_hash_table_new_full(g_str_hash, g_str_equal,
						       g_free, g_free);
	const char *at = strchr(bm->jid, '@');
	PurpleChat *chat;

	g_hash_table_insert(components, g_strdup("room"),
			    g_strndup(bm->jid, at - bm->jid));
	g_hash_table_insert(components, g_strdup("server"), g_strdup(at + 1));
	chat = purple_chat_new(pa, NULL, components);
	purple_blist_add_chat(chat, group, NULL);
	chat_set(chat, bm);
	return chat;
}

static PurpleConvChat *
joined_room(PurpleAccount *pa, const char *room)
{
	PurpleConversation *conv = purple_find_conversation_with_account(
		PURPLE_CONV_TYPE_CHAT, room, pa);

	if (conv == NULL || purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv)))
		return NULL;
	return PURPLE_CONV_CHAT(conv);
}

/* prpl-jabber ignores a join of a room it is in or joining, so a join
 * Pidgin's own auto-join already started is not sent twice. */
static void
join(State *state, PurpleChat *chat, const char *room)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);

	if (joined_room(pa, room) != NULL)
		return;
	purple_debug_info(ID, "joining a bookmarked room\n");
	serv_join_chat(pxm_account_get_connection(state->account),
		       purple_chat_get_components(chat));
}

/* XEP-0402 section 6: a room no longer to be joined, or no longer
 * bookmarked, SHOULD be left. */
static void
leave(State *state, const char *room)
{
	PurpleConvChat *chat =
		joined_room(pxm_account_get_purple(state->account), room);

	if (chat == NULL)
		return;
	purple_debug_info(ID, "leaving a room no longer bookmarked to join\n");
	serv_chat_leave(pxm_account_get_connection(state->account),
			purple_conv_chat_get_id(chat));
}

/* A bookmark changed or added elsewhere. */
static void
apply_remote(State *state, const PxmBookmark *old, const PxmBookmark *bm)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	g_autoptr(GHashTable) chats = NULL;
	PurpleChat *chat;

	if (pa == NULL)
		return;
	chats = account_chats(pa);
	chat = g_hash_table_lookup(chats, bm->jid);
	if (chat == NULL)
		chat = chat_new(pa, bookmark_group(pa, chats), bm);
	else
		chat_set(chat, bm);
	g_hash_table_add(state->local, g_strdup(bm->jid));
	if (bm->autojoin && (old == NULL || !old->autojoin))
		join(state, chat, bm->jid);
	else if (!bm->autojoin && old != NULL && old->autojoin)
		leave(state, bm->jid);
}

/* A bookmark removed elsewhere. */
static void
remove_local(State *state, const PxmBookmark *old)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	g_autoptr(GHashTable) chats = NULL;
	PurpleChat *chat;

	if (pa == NULL)
		return;
	chats = account_chats(pa);
	g_hash_table_remove(state->local, old->jid);
	chat = g_hash_table_lookup(chats, old->jid);
	if (chat != NULL)
		purple_blist_remove_chat(chat);
	if (old->autojoin)
		leave(state, old->jid);
}

/* What the user changed in the buddy list since the last check goes to the
 * server. */
static void
check_local(State *state)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	g_autoptr(GHashTable) chats = NULL;
	g_autoptr(GHashTable) now = NULL;
	GHashTableIter iter;
	gpointer room, chat;

	if (pa == NULL || !state->ready)
		return;
	chats = account_chats(pa);
	now = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	state->batch++;
	g_hash_table_iter_init(&iter, chats);
	while (g_hash_table_iter_next(&iter, &room, &chat)) {
		g_autoptr(PxmBookmark) bm = bookmark_from_chat(chat, room);

		g_hash_table_add(now, g_strdup(room));
		if (!purple_blist_node_get_bool(chat, SETTING_MARK))
			purple_blist_node_set_bool(chat, SETTING_MARK, TRUE);
		pxm_bookmarks_store(state->account, state, bm);
	}
	g_hash_table_iter_init(&iter, state->local);
	while (g_hash_table_iter_next(&iter, &room, NULL))
		if (!g_hash_table_contains(now, room))
			pxm_bookmarks_remove(state->account, state, room);
	g_hash_table_unref(state->local);
	state->local = g_steal_pointer(&now);
	state->batch--;
	if (state->dirty)
		write_private(state);
}

/*
 * The first merge after reading.  A chat marked as bookmarked before
 * follows the server (changed, or removed elsewhere meanwhile); one the
 * user had before bookmarks reached it keeps its alias, nick and password
 * and becomes a bookmark (or merges with the room's); rooms without a chat
 * get one.  Then the check sends what the merge changed, and the rooms to
 * join are joined.
 */
static void
sync_initial(State *state)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	g_autoptr(GHashTable) chats = NULL;
	g_autoptr(GPtrArray) removed = g_ptr_array_new();
	GHashTableIter iter;
	gpointer key, value;
	PurpleGroup *group = NULL;

	if (pa == NULL)
		return;
	chats = account_chats(pa);
	g_hash_table_iter_init(&iter, chats);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		PurpleChat *chat = value;
		const PxmBookmark *bm = g_hash_table_lookup(state->remote, key);
		gboolean marked = purple_blist_node_get_bool(value,
							     SETTING_MARK);

		if (bm != NULL && marked) {
			chat_set(chat, bm);
		} else if (bm != NULL) {
			g_autoptr(PxmBookmark) merged = bookmark_from_chat(chat,
									   key);

			if (merged->name == NULL)
				merged->name = g_strdup(bm->name);
			if (merged->nick == NULL)
				merged->nick = g_strdup(bm->nick);
			if (merged->password == NULL)
				merged->password = g_strdup(bm->password);
			merged->autojoin = merged->autojoin || bm->autojoin;
			chat_set(chat, merged);
		} else if (marked) {
			g_ptr_array_add(removed, chat);
			g_hash_table_iter_remove(&iter);
			continue;
		}
		g_hash_table_add(state->local, g_strdup(key));
	}
	for (guint i = 0; i < removed->len; i++)
		purple_blist_remove_chat(removed->pdata[i]);
	g_hash_table_iter_init(&iter, state->remote);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		if (g_hash_table_contains(state->local, key))
			continue;
		if (group == NULL)
			group = bookmark_group(pa, chats);
		chat_new(pa, group, value);
		g_hash_table_add(state->local, g_strdup(key));
	}
	check_local(state);
	/* Section 4.2: join the rooms marked autojoin, once per sign-on. */
	g_clear_pointer(&chats, g_hash_table_unref);
	chats = account_chats(pa);
	g_hash_table_iter_init(&iter, state->remote);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		PurpleChat *chat = g_hash_table_lookup(chats, key);

		if (((PxmBookmark *)value)->autojoin && chat != NULL)
			join(state, chat, key);
	}
}

static gboolean
on_check(gpointer data)
{
	check_local(data);
	return G_SOURCE_CONTINUE;
}

static gboolean
on_idle_check(gpointer data)
{
	State *state = data;

	state->idle_id = 0;
	check_local(state);
	return G_SOURCE_REMOVE;
}

/* A chat was added, removed, renamed or moved: look soon, once the
 * caller (e.g. Pidgin's dialog) has set everything. */
static void
on_blist_node(PurpleBlistNode *node, gpointer data)
{
	State *state = data;

	if (!PURPLE_BLIST_NODE_IS_CHAT(node) ||
	    purple_chat_get_account((PurpleChat *)node) !=
		    pxm_account_get_purple(state->account) ||
	    state->idle_id != 0)
		return;
	state->idle_id = g_idle_add_full(G_PRIORITY_DEFAULT_IDLE, on_idle_check,
					 state_ref(state),
					 (GDestroyNotify)state_unref);
}

static void
on_blist_aliased(PurpleBlistNode *node, const char *old_alias, gpointer data)
{
	on_blist_node(node, data);
}

/* --- Start and stop -------------------------------------------------- */

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_rc_box_new0(State);
	xmlnode *query;
	xmlnode *iq = iq_new("get", "query", PXM_NS_DISCO_INFO, &query);
	void *blist = purple_blist_get_handle();

	state->account = account;
	state->remote =
		g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
				      (GDestroyNotify)pxm_bookmark_free);
	state->local = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     NULL);
	if (pxm_account_get_purple(account) != NULL) {
		purple_signal_connect(blist, "blist-node-added", state,
				      PURPLE_CALLBACK(on_blist_node), state);
		purple_signal_connect(blist, "blist-node-removed", state,
				      PURPLE_CALLBACK(on_blist_node), state);
		purple_signal_connect(blist, "blist-node-aliased", state,
				      PURPLE_CALLBACK(on_blist_aliased), state);
		state->timeout_id = g_timeout_add_seconds_full(
			G_PRIORITY_DEFAULT, CHECK_SECONDS, on_check,
			state_ref(state), (GDestroyNotify)state_unref);
	}
	xmlnode_set_attrib(iq, "to", pxm_account_get_bare_jid(account));
	pxm_account_send_iq(account, iq, 0, on_disco, state_ref(state),
			    (GDestroyNotify)state_unref);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	if (pxm_account_get_purple(account) != NULL)
		purple_signals_disconnect_by_handle(state);
	if (state->timeout_id != 0)
		g_source_remove(state->timeout_id);
	if (state->idle_id != 0)
		g_source_remove(state->idle_id);
	state->account = NULL;
	state_unref(state);
}

const PxmExtensionClass pxm_xep0402_bookmarks = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
	},
};

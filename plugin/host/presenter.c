// SPDX-License-Identifier: GPL-3.0-or-later
#include "presenter.h"

#include <string.h>

#include "jid.h"

/* Identities are written to the store in batches, one transaction each, so
 * a burst of messages costs one commit, not one per message. */
#define FLUSH_BATCH 256
#define FLUSH_DELAY_MS 500
/* The in-memory index only speeds up recent look-ups; the store is the
 * truth.  Past this size it starts over. */
#define MEMORY_MAX 50000

enum { DIRECTION_RECEIVED = 0, DIRECTION_SENT = 1 };

typedef struct {
	char *conversation;
	char *sender;
	char *stanza_id;
	char *origin_id;
	char *message_id;
	int direction;
	gint64 timestamp;
} Identity;

struct PxmPresenter {
	PxmAccount *account;
	GHashTable *memory; /* key strings, owned */
	GPtrArray *pending; /* Identity, owned */
	GString *scratch;   /* for building keys */
	guint flush_source;
};

static void
identity_free(Identity *id)
{
	g_free(id->conversation);
	g_free(id->sender);
	g_free(id->stanza_id);
	g_free(id->origin_id);
	g_free(id->message_id);
	g_free(id);
}

PxmPresenter *
pxm_presenter_new(PxmAccount *account)
{
	PxmPresenter *p = g_new0(PxmPresenter, 1);

	p->account = account;
	p->memory = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  NULL);
	p->pending =
		g_ptr_array_new_with_free_func((GDestroyNotify)identity_free);
	p->scratch = g_string_sized_new(128);
	return p;
}

void
pxm_presenter_flush(PxmPresenter *p)
{
	PxmStore *store = p->account->store;
	g_autoptr(GError) error = NULL;

	g_clear_handle_id(&p->flush_source, g_source_remove);
	if (p->pending->len == 0)
		return;
	if (store == NULL) {
		g_ptr_array_set_size(p->pending, 0);
		return;
	}
	if (!pxm_store_begin(store, &error))
		goto out;
	for (guint i = 0; i < p->pending->len; i++) {
		Identity *id = p->pending->pdata[i];
		PxmMessageIdentity mi = {
			.conversation = id->conversation,
			.sender = id->sender,
			.stanza_id = id->stanza_id,
			.origin_id = id->origin_id,
			.message_id = id->message_id,
			.direction = id->direction,
			.timestamp = id->timestamp,
		};

		if (!pxm_store_identity_record(store, &mi, &error)) {
			pxm_store_rollback(store, NULL);
			goto out;
		}
	}
	pxm_store_commit(store, &error);
out:
	if (error != NULL)
		purple_debug_error("xmpp-modern",
				   "could not record %u message identities: "
				   "%s\n",
				   p->pending->len, error->message);
	g_ptr_array_set_size(p->pending, 0);
}

void
pxm_presenter_free(PxmPresenter *p)
{
	if (p == NULL)
		return;
	pxm_presenter_flush(p);
	g_hash_table_unref(p->memory);
	g_ptr_array_unref(p->pending);
	g_string_free(p->scratch, TRUE);
	g_free(p);
}

static gboolean
on_flush(gpointer data)
{
	PxmPresenter *p = data;

	p->flush_source = 0;
	pxm_presenter_flush(p);
	return G_SOURCE_REMOVE;
}

/* Builds a key of the in-memory index into @out (reused: look-ups run for
 * every message and should not allocate). */
static const char *
memory_key(GString *out, char kind, const char *conversation,
	   const char *sender, const char *value)
{
	g_string_truncate(out, 0);
	g_string_append_c(out, kind);
	g_string_append_c(out, '\x1f');
	g_string_append(out, conversation);
	g_string_append_c(out, '\x1f');
	if (sender != NULL)
		g_string_append(out, sender);
	g_string_append_c(out, '\x1f');
	g_string_append(out, value);
	return out->str;
}

/*
 * Keys of one message.  Lookups try every key the message carries; records
 * keep only the strongest ones: a stanza-id from our server (or the room)
 * with the origin-id, else the origin-id, else the message id.  Message ids
 * are not unique enough to remember next to a stanza-id (some clients reuse
 * them), but are all there is for old clients on servers without MAM.
 */
static Identity *
identity_from(PxmAccount *account, const PxmStanza *st, gboolean sent)
{
	Identity *id = g_new0(Identity, 1);
	gboolean groupchat = g_strcmp0(st->type, "groupchat") == 0;
	const char *peer = sent ? st->to : st->from;

	id->conversation = pxm_jid_bare_dup(peer);
	if (groupchat)
		id->sender = pxm_jid_normalize_dup(st->from);
	else if (sent)
		id->sender = g_strdup(account->bare_jid);
	else
		id->sender = g_strdup(id->conversation);
	id->stanza_id = g_strdup(st->stanza_id);
	id->origin_id = g_strdup(st->origin_id);
	id->message_id = g_strdup(st->id);
	id->direction = sent ? DIRECTION_SENT : DIRECTION_RECEIVED;
	id->timestamp = (st->timestamp != 0
				 ? st->timestamp
				 : g_get_real_time() / G_USEC_PER_SEC) *
			G_USEC_PER_SEC;
	return id;
}

static gboolean
memory_has(PxmPresenter *p, Identity *id)
{
	struct {
		char kind;
		const char *sender;
		const char *value;
	} keys[] = {
		{ 's', NULL, id->stanza_id },
		{ 'o', id->sender, id->origin_id },
		{ 'm', id->sender,
		  id->stanza_id == NULL && id->origin_id == NULL
			  ? id->message_id
			  : NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(keys); i++) {
		if (keys[i].value != NULL &&
		    g_hash_table_contains(p->memory,
					  memory_key(p->scratch, keys[i].kind,
						     id->conversation,
						     keys[i].sender,
						     keys[i].value)))
			return TRUE;
	}
	return FALSE;
}

static void
remember(PxmPresenter *p, Identity *id)
{
	if (id->stanza_id != NULL || id->origin_id != NULL)
		g_clear_pointer(&id->message_id, g_free);
	if (g_hash_table_size(p->memory) > MEMORY_MAX)
		g_hash_table_remove_all(p->memory);
	if (id->stanza_id != NULL)
		g_hash_table_add(
			p->memory,
			g_strdup(memory_key(p->scratch, 's', id->conversation,
					    NULL, id->stanza_id)));
	if (id->origin_id != NULL)
		g_hash_table_add(
			p->memory,
			g_strdup(memory_key(p->scratch, 'o', id->conversation,
					    id->sender, id->origin_id)));
	if (id->message_id != NULL)
		g_hash_table_add(
			p->memory,
			g_strdup(memory_key(p->scratch, 'm', id->conversation,
					    id->sender, id->message_id)));
	g_ptr_array_add(p->pending, id);
	if (p->pending->len >= FLUSH_BATCH)
		pxm_presenter_flush(p);
	else if (p->flush_source == 0)
		p->flush_source = g_timeout_add(FLUSH_DELAY_MS, on_flush, p);
}

static gboolean
admit(PxmAccount *account, const PxmStanza *st, gboolean sent)
{
	PxmPresenter *p = account->presenter;
	Identity *id;
	gboolean found = FALSE;

	if (st->stanza_id == NULL && st->origin_id == NULL && st->id == NULL)
		return TRUE; /* nothing to recognise it by */
	id = identity_from(account, st, sent);
	if (id->conversation == NULL) {
		identity_free(id);
		return TRUE;
	}
	if (memory_has(p, id)) {
		identity_free(id);
		return FALSE;
	}
	/* A live message that was not stored and delivered later cannot
	 * have been shown in an earlier session: the in-memory index is
	 * enough, and the store is only written (in batches), not read. */
	if (account->store != NULL &&
	    (st->origin != PXM_ORIGIN_LIVE || st->timestamp != 0)) {
		PxmMessageIdentity mi = {
			.conversation = id->conversation,
			.sender = id->sender,
			.stanza_id = id->stanza_id,
			.origin_id = id->origin_id,
			/* A bare message id only counts when there is nothing
			 * better: clients that restart their id counters would
			 * otherwise have new messages hidden as old ones. */
			.message_id = id->stanza_id == NULL &&
						      id->origin_id == NULL
					      ? id->message_id
					      : NULL,
		};
		g_autoptr(GError) error = NULL;

		if (!pxm_store_identity_lookup(account->store, &mi, &found,
					       NULL, &error))
			purple_debug_error("xmpp-modern",
					   "identity look-up failed: %s\n",
					   error->message);
	}
	if (found) {
		identity_free(id);
		return FALSE;
	}
	remember(p, id);
	return TRUE;
}

gboolean
pxm_presenter_admit(PxmAccount *account, const PxmStanza *stanza)
{
	return admit(account, stanza, stanza->sent_by_me);
}

void
pxm_presenter_remember_sent(PxmAccount *account, const char *to,
			    const PxmStanza *stanza)
{
	PxmStanza copy = *stanza;

	copy.to = (char *)to;
	copy.sent_by_me = TRUE;
	admit(account, &copy, TRUE);
}

/* Conversation text is HTML; bodies are plain text. */
gboolean
pxm_presenter_show(PxmAccount *account, PxmStanza *st)
{
	PurpleAccount *pa = account->purple;
	PurpleMessageFlags flags;
	g_autofree char *html = NULL;
	g_autofree char *peer = NULL;
	time_t when;

	if (st->body == NULL || pa == NULL)
		return FALSE;
	if (!pxm_presenter_admit(account, st))
		return FALSE;

	html = purple_markup_escape_text(st->body, -1);
	flags = st->sent_by_me ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;
	if (st->sent_by_me && st->origin != PXM_ORIGIN_LOCAL)
		flags |= PURPLE_MESSAGE_REMOTE_SEND;
	if (st->origin == PXM_ORIGIN_ARCHIVE || st->timestamp != 0)
		flags |= PURPLE_MESSAGE_DELAYED;
	when = st->timestamp != 0 ? (time_t)st->timestamp : time(NULL);

	if (g_strcmp0(st->type, "groupchat") == 0) {
		g_autofree char *room = pxm_jid_bare_dup(st->from);
		const char *nick = pxm_jid_resource_peek(st->from);
		PurpleConversation *conv;

		conv = room != NULL ? purple_find_conversation_with_account(
					      PURPLE_CONV_TYPE_CHAT, room, pa)
				    : NULL;
		if (conv == NULL || nick == NULL)
			return FALSE;
		purple_conv_chat_write(PURPLE_CONV_CHAT(conv), nick, html,
				       flags, when);
		return TRUE;
	}

	peer = pxm_jid_bare_dup(st->sent_by_me ? st->to : st->from);
	if (peer == NULL)
		return FALSE;
	if (!st->sent_by_me && !(flags & PURPLE_MESSAGE_DELAYED) &&
	    account->gc != NULL) {
		/* Live news from a contact: the normal path, so sounds,
		 * notifications and other plugins see it. */
		serv_got_im(account->gc, peer, html, flags, when);
	} else {
		PurpleConversation *conv =
			purple_find_conversation_with_account(
				PURPLE_CONV_TYPE_IM, peer, pa);

		if (conv == NULL)
			conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, pa,
						       peer);
		purple_conv_im_write(PURPLE_CONV_IM(conv),
				     st->sent_by_me ? NULL : peer, html, flags,
				     when);
	}
	return TRUE;
}

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
/* Live messages the server may deliver again after a disconnect: the
 * ones received since its last XEP-0198 ack, at most a few hundred. */
#define RECENT_MAX 1024
/* Messages remembered per conversation for corrections, reactions,
 * replies and retractions to refer to. */
#define SHOWN_MAX 100
/* Bytes of text kept of each (cut at a character boundary). */
#define EXCERPT_MAX 120

enum { DIRECTION_RECEIVED = 0, DIRECTION_SENT = 1 };

/* The keys of one message, for one look-up: built on the stack, strings
 * borrowed from the record or the account where possible. */
typedef struct {
	char *conversation;
	const char *sender;
	char *sender_owned;
	const char *stanza_id;
	const char *origin_id;
	const char *message_id;
	int direction;
	gint64 timestamp;
} Identity;

/* An identity waiting to be written to the store: owned copies. */
typedef struct {
	char *conversation;
	char *sender;
	char *stanza_id;
	char *origin_id;
	char *message_id;
	int direction;
	gint64 timestamp;
} Pending;

/* A PxmShownMessage and the strings it points to, in one block. */
typedef struct {
	PxmShownMessage pub;
	char strings[];
} Shown;

static void
shown_queue_free(GQueue *queue)
{
	g_queue_free_full(queue, g_free);
}

struct PxmPresenter {
	PxmAccount *account;
	GHashTable *memory; /* key strings, owned */
	GPtrArray *pending; /* Pending, owned */
	GQueue recent;      /* Pending of the latest live messages, owned */
	GHashTable *shown;  /* conversation -> GQueue of Shown, owned */
	GString *scratch;   /* for building keys */
	guint flush_source;
};

static void
pending_free(Pending *pending)
{
	/* One block: the strings live after the struct (pending_new()). */
	g_free(pending);
}

/* Copies @text (nullable) to *@cursor and moves it on. */
static char *
copy_into(char **cursor, const char *text)
{
	char *start = *cursor;
	gsize len;

	if (text == NULL)
		return NULL;
	len = strlen(text) + 1;
	memcpy(start, text, len);
	*cursor += len;
	return start;
}

/* One allocation rather than six: this runs for every live message. */
static Pending *
pending_new(const Identity *id)
{
	const char *texts[] = { id->conversation, id->sender, id->stanza_id,
				id->origin_id, id->message_id };
	gsize size = sizeof(Pending);
	Pending *pending;
	char *cursor;

	for (guint i = 0; i < G_N_ELEMENTS(texts); i++)
		size += texts[i] != NULL ? strlen(texts[i]) + 1 : 0;
	pending = g_malloc(size);
	cursor = (char *)(pending + 1);
	pending->conversation = copy_into(&cursor, id->conversation);
	pending->sender = copy_into(&cursor, id->sender);
	pending->stanza_id = copy_into(&cursor, id->stanza_id);
	pending->origin_id = copy_into(&cursor, id->origin_id);
	pending->message_id = copy_into(&cursor, id->message_id);
	pending->direction = id->direction;
	pending->timestamp = id->timestamp;
	return pending;
}

PxmPresenter *
pxm_presenter_new(PxmAccount *account)
{
	PxmPresenter *p = g_new0(PxmPresenter, 1);

	p->account = account;
	p->memory = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					  NULL);
	p->pending =
		g_ptr_array_new_with_free_func((GDestroyNotify)pending_free);
	p->scratch = g_string_sized_new(128);
	p->shown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 (GDestroyNotify)shown_queue_free);
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
		Pending *id = p->pending->pdata[i];
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
pxm_presenter_write_identities(PxmAccount *account)
{
	pxm_presenter_flush(account->presenter);
}

void
pxm_presenter_free(PxmPresenter *p)
{
	Pending *pending;

	if (p == NULL)
		return;
	/* Going offline: the latest live messages may come back from offline
	 * storage at the next sign-in (those the server had no ack for), so
	 * they are written now. */
	while ((pending = g_queue_pop_head(&p->recent)) != NULL)
		g_ptr_array_add(p->pending, pending);
	pxm_presenter_flush(p);
	g_hash_table_unref(p->memory);
	g_ptr_array_unref(p->pending);
	g_string_free(p->scratch, TRUE);
	g_hash_table_unref(p->shown);
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
 * XEP-0045 section 7.5: a private message with a room occupant, one-to-one
 * but addressed to room@service/nick.  Clients and rooms mark them with
 * <x xmlns='http://jabber.org/protocol/muc#user'/>.
 */
static gboolean
has_muc_user(const PxmStanza *st)
{
	if (st->message == NULL || g_strcmp0(st->type, "groupchat") == 0)
		return FALSE;
	for (xmlnode *c = st->message->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG && strcmp(c->name, "x") == 0 &&
		    g_strcmp0(xmlnode_get_namespace(c), PXM_NS_MUC_USER) == 0)
			return TRUE;
	return FALSE;
}

/*
 * Keys of one message: a stanza-id from our server (or the room) with the
 * origin-id, else the origin-id, else the message id.  A bare message id
 * only counts when there is nothing better: clients that restart their id
 * counters would otherwise have new messages hidden as old ones.
 */
static gboolean
identity_init(Identity *id, PxmAccount *account, const PxmStanza *st,
	      gboolean sent)
{
	memset(id, 0, sizeof(*id));
	id->conversation = pxm_jid_bare_dup(sent ? st->to : st->from);
	if (id->conversation == NULL)
		return FALSE;
	/* In a room, and in private with its occupants, the room is the
	 * conversation and the nick tells senders apart. */
	if (g_strcmp0(st->type, "groupchat") == 0 ||
	    (!sent && has_muc_user(st) && pxm_jid_resource_peek(st->from)))
		id->sender = id->sender_owned = pxm_jid_normalize_dup(st->from);
	else
		id->sender = sent ? account->bare_jid : id->conversation;
	id->stanza_id = st->stanza_id;
	id->origin_id = st->origin_id;
	if (id->stanza_id == NULL && id->origin_id == NULL)
		id->message_id = st->id;
	id->direction = sent ? DIRECTION_SENT : DIRECTION_RECEIVED;
	id->timestamp = (st->timestamp != 0
				 ? st->timestamp
				 : g_get_real_time() / G_USEC_PER_SEC) *
			G_USEC_PER_SEC;
	return TRUE;
}

static void
identity_clear(Identity *id)
{
	g_free(id->conversation);
	g_free(id->sender_owned);
}

static gboolean
memory_has(PxmPresenter *p, const Identity *id)
{
	const struct {
		char kind;
		const char *sender;
		const char *value;
	} keys[] = {
		{ 's', NULL, id->stanza_id },
		{ 'o', id->sender, id->origin_id },
		{ 'm', id->sender, id->message_id },
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
memory_add(PxmPresenter *p, char kind, const Identity *id, const char *sender,
	   const char *value)
{
	if (value != NULL)
		g_hash_table_add(
			p->memory,
			g_strdup(memory_key(p->scratch, kind, id->conversation,
					    sender, value)));
}

static void
remember_in_memory(PxmPresenter *p, const Identity *id)
{
	/* Past this size the index starts over; what it forgets is, at
	 * worst, a duplicate shown again, never a message hidden. */
	if (g_hash_table_size(p->memory) > MEMORY_MAX)
		g_hash_table_remove_all(p->memory);
	memory_add(p, 's', id, NULL, id->stanza_id);
	memory_add(p, 'o', id, id->sender, id->origin_id);
	memory_add(p, 'm', id, id->sender, id->message_id);
}

static void
remember(PxmPresenter *p, const Identity *id, gboolean persist)
{
	Pending *pending;

	remember_in_memory(p, id);
	pending = pending_new(id);
	if (!persist) {
		g_queue_push_tail(&p->recent, pending);
		if (g_queue_get_length(&p->recent) > RECENT_MAX)
			pending_free(g_queue_pop_head(&p->recent));
		return;
	}
	g_ptr_array_add(p->pending, pending);
	if (p->pending->len >= FLUSH_BATCH)
		pxm_presenter_flush(p);
	else if (p->flush_source == 0)
		p->flush_source = g_timeout_add(FLUSH_DELAY_MS, on_flush, p);
}

/*
 * What the store keeps, and what it is asked: everything but live messages
 * (delivered to this resource as they were sent, not delayed).  Those
 * cannot have been shown in an earlier session, and within this one the
 * in-memory index recognises them (as a carbon, an archive result or a
 * room replay).  Across sessions, the archive position (the last stanza-id
 * seen, kept by the archive extension) is what stops them from being
 * fetched again, and the latest ones are written when the account goes
 * offline, for the server's redelivery of unacknowledged messages.  This
 * keeps the per-message cost of live traffic free of storage writes
 * (bench/overhead).
 */
static gboolean
is_live(const PxmStanza *st, gboolean sent)
{
	return !sent && st->origin == PXM_ORIGIN_LIVE && st->timestamp == 0;
}

/* The start of @text, at most EXCERPT_MAX bytes, cut between characters. */
static gsize
excerpt_length(const char *text, gsize len)
{
	const char *end;

	if (len <= EXCERPT_MAX)
		return len;
	end = g_utf8_find_prev_char(text, text + EXCERPT_MAX + 1);
	return end != NULL ? (gsize)(end - text) : 0;
}

static gboolean
is_bidi_control(gunichar c)
{
	return (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069) ||
	       c == 0x200E || c == 0x200F;
}

/* Direction controls are left out: they could turn the rest of the line
 * around. */
char *
pxm_text_first_words_dup(const char *text, guint max_chars)
{
	GString *out = g_string_new(NULL);
	gboolean space = FALSE;
	guint n = 0;

	for (const char *p = text != NULL ? text : ""; *p != '\0';
	     p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);

		if (g_unichar_isspace(c)) {
			space = out->len > 0;
			continue;
		}
		if (is_bidi_control(c))
			continue;
		if (n + (space ? 1 : 0) >= max_chars) {
			const char *cut = strrchr(out->str, ' ');

			/* At a word's end when there is one near. */
			if (cut != NULL &&
			    g_utf8_strlen(out->str, cut - out->str) >
				    max_chars / 2)
				g_string_truncate(out, cut - out->str);
			g_string_append(out, "…");
			break;
		}
		if (space) {
			g_string_append_c(out, ' ');
			n++;
			space = FALSE;
		}
		g_string_append_unichar(out, c);
		n++;
	}
	return g_string_free(out, FALSE);
}

/*
 * The body text of a message, copied only when it must be: a produced
 * body, or the text of <body/>.  The XML parser keeps text it was handed
 * in pieces as several data nodes (libxml2 cuts at every entity, &apos;
 * included, and before the first non-ASCII character): then the pieces
 * are joined in @joined, as far as an excerpt needs.
 */
static const char *
peek_body(const PxmStanza *st, GString *joined, gsize *len)
{
	xmlnode *body, *first = NULL;

	if (st->body != NULL) {
		*len = strlen(st->body);
		return st->body;
	}
	for (body = st->message != NULL ? st->message->child : NULL;
	     body != NULL; body = body->next)
		if (body->type == XMLNODE_TYPE_TAG &&
		    strcmp(body->name, "body") == 0)
			break;
	g_string_truncate(joined, 0);
	for (xmlnode *c = body != NULL ? body->child : NULL;
	     c != NULL && joined->len <= EXCERPT_MAX; c = c->next) {
		if (c->type != XMLNODE_TYPE_DATA)
			continue;
		if (first == NULL) {
			first = c;
			continue;
		}
		if (joined->len == 0)
			g_string_append_len(joined, first->data,
					    first->data_sz);
		g_string_append_len(joined, c->data, c->data_sz);
	}
	if (joined->len > 0) {
		*len = joined->len;
		return joined->str;
	}
	if (first == NULL)
		return NULL;
	*len = first->data_sz;
	return first->data;
}

static char *
put(char **cursor, const char *text, gsize len)
{
	char *start = *cursor;

	if (text == NULL)
		return NULL;
	memcpy(start, text, len);
	start[len] = '\0';
	*cursor += len + 1;
	return start;
}

static gsize
size_of(const char *text)
{
	return text != NULL ? strlen(text) + 1 : 0;
}

static void
record_shown(PxmPresenter *p, const Identity *id, const PxmStanza *st,
	     gboolean sent)
{
	gsize body_len = 0, cut = 0;
	/* The keys are built: the scratch string is free. */
	const char *body = peek_body(st, p->scratch, &body_len);
	GQueue *queue;
	Shown *shown;
	char *cursor;

	if (body != NULL)
		cut = excerpt_length(body, body_len);
	shown = g_malloc(sizeof(Shown) + size_of(id->conversation) +
			 size_of(id->sender) + size_of(st->id) +
			 size_of(st->origin_id) + size_of(st->stanza_id) +
			 (body != NULL ? cut + 1 : 0));
	cursor = shown->strings;
	shown->pub.conversation = put(&cursor, id->conversation,
				      strlen(id->conversation));
	shown->pub.sender = put(&cursor, id->sender,
				id->sender != NULL ? strlen(id->sender) : 0);
	shown->pub.id = put(&cursor, st->id, st->id ? strlen(st->id) : 0);
	shown->pub.origin_id = put(&cursor, st->origin_id,
				   st->origin_id ? strlen(st->origin_id) : 0);
	shown->pub.stanza_id = put(&cursor, st->stanza_id,
				   st->stanza_id ? strlen(st->stanza_id) : 0);
	shown->pub.excerpt = put(&cursor, body, cut);
	shown->pub.sent = sent;
	shown->pub.timestamp = id->timestamp / G_USEC_PER_SEC;

	queue = g_hash_table_lookup(p->shown, id->conversation);
	if (queue == NULL) {
		queue = g_queue_new();
		g_hash_table_insert(p->shown, g_strdup(id->conversation),
				    queue);
	}
	g_queue_push_tail(queue, shown);
	if (g_queue_get_length(queue) > SHOWN_MAX)
		g_free(g_queue_pop_head(queue));
}

/* Our own messages in a room come back from the room under our nick. */
static gboolean
is_own_room_message(PxmAccount *account, const PxmStanza *st)
{
	PurpleConversation *conv;
	const char *nick;
	g_autofree char *room = NULL;

	if (account->purple == NULL || g_strcmp0(st->type, "groupchat") != 0 ||
	    (nick = pxm_jid_resource_peek(st->from)) == NULL ||
	    (room = pxm_jid_bare_dup(st->from)) == NULL)
		return FALSE;
	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT,
						     room, account->purple);
	return conv != NULL &&
	       g_strcmp0(purple_conv_chat_get_nick(PURPLE_CONV_CHAT(conv)),
			 nick) == 0;
}

/*
 * The memory holds what this session showed, the store what any session
 * showed.  A message the user asks for again (history on demand) is shown
 * unless this session showed it: after a restart the conversation window
 * is empty, even if the log has the message.
 */
static PxmAdmission
admit(PxmAccount *account, const PxmStanza *st, gboolean sent)
{
	PxmPresenter *p = account->presenter;
	gboolean live = is_live(st, sent);
	gboolean in_store = FALSE;
	PxmAdmission admission;
	Identity id;

	if (st->stanza_id == NULL && st->origin_id == NULL && st->id == NULL)
		return PXM_ADMISSION_NEW; /* nothing to recognise it by */
	if (!identity_init(&id, account, st, sent))
		return PXM_ADMISSION_NEW;
	if (memory_has(p, &id)) {
		identity_clear(&id);
		return PXM_ADMISSION_DUPLICATE;
	}
	if (!live && account->store != NULL) {
		PxmMessageIdentity mi = {
			.conversation = id.conversation,
			.sender = id.sender,
			.stanza_id = id.stanza_id,
			.origin_id = id.origin_id,
			.message_id = id.message_id,
		};
		g_autoptr(GError) error = NULL;

		if (!pxm_store_identity_lookup(account->store, &mi, &in_store,
					       NULL, &error))
			purple_debug_error("xmpp-modern",
					   "identity look-up failed: %s\n",
					   error->message);
	}
	if (in_store && !st->requested) {
		admission = PXM_ADMISSION_DUPLICATE;
	} else {
		/* Known from the store: only this session's memory lacks
		 * it. */
		if (in_store)
			remember_in_memory(p, &id);
		else
			remember(p, &id, !live);
		record_shown(p, &id, st,
			     sent || is_own_room_message(account, st));
		admission = in_store ? PXM_ADMISSION_AGAIN : PXM_ADMISSION_NEW;
	}
	identity_clear(&id);
	return admission;
}

PxmAdmission
pxm_presenter_check(PxmAccount *account, const PxmStanza *stanza)
{
	return admit(account, stanza, stanza->sent_by_me);
}

gboolean
pxm_presenter_admit(PxmAccount *account, const PxmStanza *stanza)
{
	return pxm_presenter_check(account, stanza) != PXM_ADMISSION_DUPLICATE;
}

void
pxm_presenter_remember_sent(PxmAccount *account, const char *to,
			    const PxmStanza *stanza)
{
	PxmStanza copy = *stanza;

	copy.to = to;
	copy.sent_by_me = TRUE;
	admit(account, &copy, TRUE);
}

/*
 * The name of the IM conversation with @jid: the bare JID, except for a
 * room occupant, named room@service/nick like prpl-jabber does (its
 * jabber_normalize() keeps the nick of occupants of joined rooms, so
 * libpurple finds that conversation, not one with the room).
 */
static char *
im_peer_dup(PxmAccount *account, const PxmStanza *st, const char *jid)
{
	g_autofree char *bare = pxm_jid_bare_dup(jid);

	if (bare != NULL && pxm_jid_resource_peek(jid) != NULL &&
	    (has_muc_user(st) ||
	     (account->purple != NULL &&
	      purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT, bare,
						    account->purple) != NULL)))
		return pxm_jid_normalize_dup(jid);
	return g_steal_pointer(&bare);
}

static gboolean
is_open_room(PxmAccount *account, const PxmStanza *st)
{
	g_autofree char *room = pxm_jid_bare_dup(st->from);

	return room != NULL && pxm_jid_resource_peek(st->from) != NULL &&
	       purple_find_conversation_with_account(
		       PURPLE_CONV_TYPE_CHAT, room, account->purple) != NULL;
}

/* Conversation text is HTML; bodies are plain text. */
gboolean
pxm_presenter_show(PxmAccount *account, PxmStanza *st)
{
	PurpleAccount *pa = account->purple;
	PurpleMessageFlags flags;
	PxmAdmission admission = PXM_ADMISSION_NEW;
	g_autofree char *html = NULL;
	g_autofree char *peer = NULL;
	time_t when;

	if ((st->body == NULL && st->html == NULL) || pa == NULL)
		return FALSE;
	/* Composed here: remembered when it was sent (compose phase); this is
	 * its local echo. */
	/* Not in that room (any more): nothing to write to, and nothing
	 * recorded, which would hide the message once we are back. */
	if (g_strcmp0(st->type, "groupchat") == 0 && !is_open_room(account, st))
		return FALSE;
	if (st->origin != PXM_ORIGIN_LOCAL &&
	    (admission = pxm_presenter_check(account, st)) ==
		    PXM_ADMISSION_DUPLICATE)
		return FALSE;

	html = st->html != NULL ? g_strdup(st->html)
				: purple_markup_escape_text(st->body, -1);
	flags = st->sent_by_me ? PURPLE_MESSAGE_SEND : PURPLE_MESSAGE_RECV;
	if (st->sent_by_me && st->origin != PXM_ORIGIN_LOCAL)
		flags |= PURPLE_MESSAGE_REMOTE_SEND;
	if (st->origin == PXM_ORIGIN_ARCHIVE || st->timestamp != 0)
		flags |= PURPLE_MESSAGE_DELAYED;
	if (admission == PXM_ADMISSION_AGAIN)
		flags |= PURPLE_MESSAGE_NO_LOG;
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
		/* Ours from another device or from the room's archive. */
		if (is_own_room_message(account, st))
			flags = (flags & ~PURPLE_MESSAGE_RECV) |
				PURPLE_MESSAGE_SEND;
		if (st->origin == PXM_ORIGIN_LIVE && st->timestamp == 0 &&
		    account->gc != NULL)
			/* The normal path: highlighting, sounds, plugins. */
			serv_got_chat_in(
				account->gc,
				purple_conv_chat_get_id(PURPLE_CONV_CHAT(conv)),
				nick, flags & ~PURPLE_MESSAGE_RECV, html, when);
		else
			purple_conv_chat_write(PURPLE_CONV_CHAT(conv), nick,
					       html, flags, when);
		return TRUE;
	}

	peer = im_peer_dup(account, st, st->sent_by_me ? st->to : st->from);
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

const PxmShownMessage *
pxm_presenter_find(PxmAccount *account, const char *conversation,
		   const char *id)
{
	GQueue *queue;

	if (conversation == NULL || id == NULL)
		return NULL;
	queue = g_hash_table_lookup(account->presenter->shown, conversation);
	for (GList *l = queue != NULL ? queue->tail : NULL; l != NULL;
	     l = l->prev) {
		const PxmShownMessage *m = l->data;

		if (g_strcmp0(m->id, id) == 0 ||
		    g_strcmp0(m->origin_id, id) == 0 ||
		    g_strcmp0(m->stanza_id, id) == 0)
			return m;
	}
	return NULL;
}

const PxmShownMessage *
pxm_presenter_last(PxmAccount *account, const char *conversation, PxmLast which)
{
	const PxmShownMessage *latest = NULL;
	GQueue *queue;

	if (conversation == NULL)
		return NULL;
	queue = g_hash_table_lookup(account->presenter->shown, conversation);
	/* By time, not by arrival: an archive catch-up can show older
	 * messages after newer live ones.  Ties go to the later arrival. */
	for (GList *l = queue != NULL ? queue->tail : NULL; l != NULL;
	     l = l->prev) {
		const PxmShownMessage *m = l->data;

		if (which != PXM_LAST_ANY &&
		    (which == PXM_LAST_SENT) != m->sent)
			continue;
		if (latest == NULL || m->timestamp > latest->timestamp)
			latest = m;
	}
	return latest;
}

void
pxm_presenter_notice(PxmAccount *account, const char *conversation,
		     gboolean groupchat, const char *html)
{
	PurpleAccount *pa = account->purple;
	PurpleConversation *conv;

	if (pa == NULL || conversation == NULL)
		return;
	conv = purple_find_conversation_with_account(
		groupchat ? PURPLE_CONV_TYPE_CHAT : PURPLE_CONV_TYPE_IM,
		conversation, pa);
	if (conv == NULL && !groupchat)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, pa,
					       conversation);
	if (conv == NULL)
		return;
	purple_conversation_write(conv, NULL, html,
				  PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG,
				  time(NULL));
}

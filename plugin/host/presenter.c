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
	const char *conversation;
	const char *sender;
	char *sender_owned;
	const char *stanza_id;
	const char *origin_id;
	const char *message_id;
	int direction;
	gint64 timestamp;
	/* The keys' hashes, once memory_has() has worked them out. */
	guint32 hashes[3];
	gboolean hashed;
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

/* The latest messages shown in one conversation, oldest first. */
typedef struct {
	Shown *items[SHOWN_MAX];
	guint first, len;
} ShownRing;

static void
shown_ring_free(ShownRing *ring)
{
	for (guint i = 0; i < ring->len; i++)
		g_free(ring->items[(ring->first + i) % SHOWN_MAX]);
	g_free(ring);
}

/* The @i-th newest message of @ring (0: the newest). */
static const PxmShownMessage *
shown_ring_newest(const ShownRing *ring, guint i)
{
	return &ring->items[(ring->first + ring->len - 1 - i) % SHOWN_MAX]->pub;
}

/* The newest message of @ring (nullable) named @id, from @sender unless
 * @any_sender. */
static const PxmShownMessage *
shown_ring_find(const ShownRing *ring, const char *id, const char *sender,
		gboolean any_sender)
{
	for (guint i = 0; ring != NULL && i < ring->len; i++) {
		const PxmShownMessage *m = shown_ring_newest(ring, i);

		if ((g_strcmp0(m->id, id) == 0 ||
		     g_strcmp0(m->origin_id, id) == 0 ||
		     g_strcmp0(m->stanza_id, id) == 0) &&
		    (any_sender || g_strcmp0(m->sender, sender) == 0))
			return m;
	}
	return NULL;
}

/*
 * The in-memory index: a set of key strings, open addressing with linear
 * probing.  A message costs one hash of its key and, when new, a copy into
 * a string chunk, not an allocation per key (bench/overhead).
 */
typedef struct {
	const char **keys; /* NULL: a free slot; strings in @chunk */
	guint32 *hashes;
	guint mask; /* slots - 1, a power of two minus one */
	guint used;
	GStringChunk *chunk;
} KeySet;

#define KEYSET_MIN 1024

static void
keyset_init(KeySet *set, guint slots)
{
	set->keys = g_new0(const char *, slots);
	set->hashes = g_new(guint32, slots);
	set->mask = slots - 1;
	set->used = 0;
}

static void
keyset_free(KeySet *set)
{
	g_free(set->keys);
	g_free(set->hashes);
	if (set->chunk != NULL)
		g_string_chunk_free(set->chunk);
}

static void
keyset_reset(KeySet *set)
{
	keyset_free(set);
	set->chunk = NULL;
	keyset_init(set, KEYSET_MIN);
}

static guint32
key_hash(const char *key, gsize len)
{
	guint32 h = 5381;

	for (gsize i = 0; i < len; i++)
		h = (h << 5) + h + (guchar)key[i];
	return h;
}

/* The slot of @key, or the free slot where it would go. */
static guint
keyset_slot(const KeySet *set, const char *key, guint32 hash)
{
	guint i = hash & set->mask;

	while (set->keys[i] != NULL &&
	       (set->hashes[i] != hash || strcmp(set->keys[i], key) != 0))
		i = (i + 1) & set->mask;
	return i;
}

static void
keyset_add(KeySet *set, const char *key, gsize len, guint32 hash)
{
	guint i = keyset_slot(set, key, hash);

	if (set->keys[i] != NULL)
		return;
	if (set->chunk == NULL)
		set->chunk = g_string_chunk_new(64 * 1024);
	set->keys[i] = g_string_chunk_insert_len(set->chunk, key, len);
	set->hashes[i] = hash;
	/* At most half full: probes stay short. */
	if (++set->used * 2 > set->mask + 1) {
		KeySet bigger;

		keyset_init(&bigger, (set->mask + 1) * 2);
		for (guint j = 0; j <= set->mask; j++) {
			guint k;

			if (set->keys[j] == NULL)
				continue;
			for (k = set->hashes[j] & bigger.mask;
			     bigger.keys[k] != NULL; k = (k + 1) & bigger.mask)
				;
			bigger.keys[k] = set->keys[j];
			bigger.hashes[k] = set->hashes[j];
		}
		g_free(set->keys);
		g_free(set->hashes);
		set->keys = bigger.keys;
		set->hashes = bigger.hashes;
		set->mask = bigger.mask;
	}
}

struct PxmPresenter {
	PxmAccount *account;
	KeySet memory;
	GPtrArray *pending; /* Pending, owned */
	/* Pending of the latest live messages, owned, oldest first. */
	Pending *recent[RECENT_MAX];
	guint recent_first, recent_len;
	GHashTable *shown; /* conversation -> ShownRing, owned */
	/* The conversation shown last, and its ring (both in @shown). */
	const char *last_conversation;
	ShownRing *last_ring;
	GString *scratch; /* for building keys */
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
	keyset_init(&p->memory, KEYSET_MIN);
	p->pending =
		g_ptr_array_new_with_free_func((GDestroyNotify)pending_free);
	p->scratch = g_string_sized_new(128);
	p->shown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					 (GDestroyNotify)shown_ring_free);
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
	if (p == NULL)
		return;
	/* Going offline: the latest live messages may come back from offline
	 * storage at the next sign-in (those the server had no ack for), so
	 * they are written now. */
	for (guint i = 0; i < p->recent_len; i++)
		g_ptr_array_add(p->pending,
				p->recent[(p->recent_first + i) % RECENT_MAX]);
	p->recent_len = 0;
	pxm_presenter_flush(p);
	keyset_free(&p->memory);
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

/* Builds a key of the in-memory index in @out (reused: look-ups run for
 * every message and should not allocate). */
static const char *
memory_key(GString *out, char kind, const char *conversation,
	   const char *sender, const char *value)
{
	gsize lc = strlen(conversation);
	gsize ls = sender != NULL ? strlen(sender) : 0;
	gsize lv = strlen(value);
	char *cursor;

	g_string_set_size(out, 2 + lc + 1 + ls + 1 + lv);
	cursor = out->str;
	*cursor++ = kind;
	*cursor++ = '\x1f';
	memcpy(cursor, conversation, lc);
	cursor += lc;
	*cursor++ = '\x1f';
	if (sender != NULL)
		memcpy(cursor, sender, ls);
	cursor += ls;
	*cursor++ = '\x1f';
	memcpy(cursor, value, lv);
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
	id->conversation = sent ? pxm_stanza_bare_to(st)
				: pxm_stanza_bare_from(st);
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
	g_free(id->sender_owned);
}

/* The keys of @id, as memory_key() arguments. */
#define N_KEYS 3
static void
identity_keys(const Identity *id, char kinds[N_KEYS],
	      const char *senders[N_KEYS], const char *values[N_KEYS])
{
	kinds[0] = 's', senders[0] = NULL, values[0] = id->stanza_id;
	kinds[1] = 'o', senders[1] = id->sender, values[1] = id->origin_id;
	kinds[2] = 'm', senders[2] = id->sender, values[2] = id->message_id;
}

static gboolean
memory_has(PxmPresenter *p, Identity *id)
{
	char kinds[N_KEYS];
	const char *senders[N_KEYS], *values[N_KEYS];

	identity_keys(id, kinds, senders, values);
	for (guint i = 0; i < N_KEYS; i++) {
		const char *key;

		if (values[i] == NULL)
			continue;
		key = memory_key(p->scratch, kinds[i], id->conversation,
				 senders[i], values[i]);
		id->hashes[i] = key_hash(key, p->scratch->len);
		if (p->memory.keys[keyset_slot(&p->memory, key,
					       id->hashes[i])] != NULL)
			return TRUE;
	}
	id->hashed = TRUE;
	return FALSE;
}

static void
remember_in_memory(PxmPresenter *p, const Identity *id)
{
	char kinds[N_KEYS];
	const char *senders[N_KEYS], *values[N_KEYS];

	/* Past this size the index starts over; what it forgets is, at
	 * worst, a duplicate shown again, never a message hidden. */
	if (p->memory.used > MEMORY_MAX)
		keyset_reset(&p->memory);
	identity_keys(id, kinds, senders, values);
	for (guint i = 0; i < N_KEYS; i++) {
		const char *key;

		if (values[i] == NULL)
			continue;
		key = memory_key(p->scratch, kinds[i], id->conversation,
				 senders[i], values[i]);
		keyset_add(&p->memory, key, p->scratch->len,
			   id->hashed ? id->hashes[i]
				      : key_hash(key, p->scratch->len));
	}
}

static void
remember(PxmPresenter *p, const Identity *id, gboolean persist)
{
	Pending *pending;

	remember_in_memory(p, id);
	pending = pending_new(id);
	if (!persist) {
		if (p->recent_len < RECENT_MAX) {
			p->recent[(p->recent_first + p->recent_len++) %
				  RECENT_MAX] = pending;
			return;
		}
		pending_free(p->recent[p->recent_first]);
		p->recent[p->recent_first] = pending;
		p->recent_first = (p->recent_first + 1) % RECENT_MAX;
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
 * body, or the text of @body, its <body/>.  The XML parser keeps text it
 * was handed in pieces as several data nodes (libxml2 cuts at every
 * entity, &apos; included, and before the first non-ASCII character):
 * then the pieces are joined in @joined, as far as an excerpt needs.
 */
static const char *
peek_body(const PxmStanza *st, xmlnode *body, GString *joined, gsize *len)
{
	xmlnode *first = NULL;

	if (st->body != NULL) {
		*len = strlen(st->body);
		return st->body;
	}
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

/* The ring of @conversation's shown messages, made when it is new. */
static ShownRing *
conversation_ring(PxmPresenter *p, const char *conversation)
{
	ShownRing *ring;
	char *key;

	if (p->last_conversation != NULL &&
	    strcmp(p->last_conversation, conversation) == 0)
		return p->last_ring;
	if (!g_hash_table_lookup_extended(p->shown, conversation,
					  (gpointer *)&key,
					  (gpointer *)&ring)) {
		key = g_strdup(conversation);
		ring = g_new0(ShownRing, 1);
		g_hash_table_insert(p->shown, key, ring);
	}
	p->last_conversation = key;
	p->last_ring = ring;
	return ring;
}

/*
 * XEP-0308: the id of the first version of the message that @replace, in
 * a message from @id's sender, corrects; NULL when that correction does
 * not apply.  Kept here rather than by an extension so that what the
 * correction and retraction extensions read is one record, whichever of
 * them is on: a /retract after a correction from another device names the
 * first version, the one other clients know the message by.
 */
static const char *
first_version_id(PxmAccount *account, const ShownRing *ring, const Identity *id,
		 xmlnode *replace)
{
	const char *named = xmlnode_get_attrib(replace, "id");
	const PxmShownMessage *target;

	if (named == NULL || *named == '\0' ||
	    g_strcmp0(xmlnode_get_namespace(replace), PXM_NS_CORRECT) != 0)
		return NULL;
	/* Section 5: a correction MUST only be allowed when the original
	 * and the correction come from the same sender (the same bare JID
	 * one to one, the same full JID in a room): another sender's
	 * message of that id is not even looked at. */
	target = shown_ring_find(ring, named, id->sender, FALSE);
	if (target == NULL)
		return NULL;
	/* Section 6: not to a message sent before its sender (last) joined
	 * the room: the nick may be someone else's now. */
	if (id->sender_owned != NULL &&
	    !pxm_account_occupant_joined_since(account, id->sender,
					       target->timestamp))
		return NULL;
	/* Section 5: every correction names the first version; one naming
	 * an earlier correction leads there too. */
	return target->replaces != NULL ? target->replaces : named;
}

static void
record_shown(PxmPresenter *p, const Identity *id, const PxmStanza *st,
	     gboolean sent)
{
	ShownRing *ring = conversation_ring(p, id->conversation);
	xmlnode *body_node = NULL, *replace = NULL;
	const char *body, *replaces = NULL;
	gsize body_len = 0, cut = 0;
	Shown *shown;
	char *cursor;

	/* One walk over the children: this runs for every message shown. */
	for (xmlnode *c = st->message != NULL ? st->message->child : NULL;
	     c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG)
			continue;
		if (body_node == NULL && strcmp(c->name, "body") == 0)
			body_node = c;
		else if (replace == NULL && strcmp(c->name, "replace") == 0)
			replace = c;
	}
	if (replace != NULL &&
	    (replaces = first_version_id(p->account, ring, id, replace)) !=
		    NULL &&
	    g_strcmp0(replaces, st->id) == 0)
		replaces = NULL;
	/* The keys are built: the scratch string is free. */
	body = peek_body(st, body_node, p->scratch, &body_len);

	const char *texts[] = { id->conversation, id->sender,    st->id,
				st->origin_id,    st->stanza_id, replaces };
	gsize lens[G_N_ELEMENTS(texts)];
	gsize size = sizeof(Shown);

	if (body != NULL)
		cut = excerpt_length(body, body_len);
	/* Each length once: this runs for every message shown. */
	for (guint i = 0; i < G_N_ELEMENTS(texts); i++) {
		lens[i] = texts[i] != NULL ? strlen(texts[i]) : 0;
		size += texts[i] != NULL ? lens[i] + 1 : 0;
	}
	/* Built before the oldest message goes: @replaces may be its. */
	shown = g_malloc(size + (body != NULL ? cut + 1 : 0));
	cursor = shown->strings;
	shown->pub.conversation = put(&cursor, texts[0], lens[0]);
	shown->pub.sender = put(&cursor, texts[1], lens[1]);
	shown->pub.id = put(&cursor, texts[2], lens[2]);
	shown->pub.origin_id = put(&cursor, texts[3], lens[3]);
	shown->pub.stanza_id = put(&cursor, texts[4], lens[4]);
	shown->pub.replaces = put(&cursor, texts[5], lens[5]);
	shown->pub.excerpt = put(&cursor, body, cut);
	shown->pub.sent = sent;
	shown->pub.timestamp = id->timestamp / G_USEC_PER_SEC;

	if (ring->len < SHOWN_MAX) {
		ring->items[(ring->first + ring->len++) % SHOWN_MAX] = shown;
	} else {
		g_free(ring->items[ring->first]);
		ring->items[ring->first] = shown;
		ring->first = (ring->first + 1) % SHOWN_MAX;
	}
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

	/* The copy's JID cache is its own, not a second owner of the
	 * record's. */
	memset(copy.bare_cache, 0, sizeof(copy.bare_cache));
	copy.to = to;
	copy.sent_by_me = TRUE;
	admit(account, &copy, TRUE);
	g_free(copy.bare_cache[0].overflow);
	g_free(copy.bare_cache[1].overflow);
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
	if (conversation == NULL || id == NULL)
		return NULL;
	return shown_ring_find(
		g_hash_table_lookup(account->presenter->shown, conversation),
		id, NULL, TRUE);
}

const PxmShownMessage *
pxm_presenter_first_version(PxmAccount *account, const PxmShownMessage *message)
{
	if (message == NULL || message->replaces == NULL)
		return message;
	return shown_ring_find(g_hash_table_lookup(account->presenter->shown,
						   message->conversation),
			       message->replaces, message->sender, FALSE);
}

const PxmShownMessage *
pxm_presenter_last(PxmAccount *account, const char *conversation, PxmLast which)
{
	const PxmShownMessage *latest = NULL;
	const ShownRing *ring;

	if (conversation == NULL)
		return NULL;
	ring = g_hash_table_lookup(account->presenter->shown, conversation);
	/* By time, not by arrival: an archive catch-up can show older
	 * messages after newer live ones.  Ties go to the later arrival. */
	for (guint i = 0; ring != NULL && i < ring->len; i++) {
		const PxmShownMessage *m = shown_ring_newest(ring, i);

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

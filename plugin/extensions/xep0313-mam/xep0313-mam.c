// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0313: Message Archive Management, for the account's own archive and
 * for rooms.
 *
 * At sign-in our bare JID is asked for urn:xmpp:mam:2; if it has it, what
 * was archived since the last position is fetched page by page (RSM
 * 'after' the last archive id processed; the first time, a window of the
 * last days instead of the whole archive).  /history fetches older
 * messages of one conversation on request.
 *
 * Rooms the same way, once we are in (our self-presence): the room is
 * asked for urn:xmpp:mam:2 and, if it has it, what it archived since the
 * last message we saw there is fetched from it (section 8).  A room with
 * an archive is asked for no history replay when we join it (XEP-0045
 * section 7.2.14): the archive fills the gap instead, by id rather than
 * by a count of stanzas.  Whether it has one is remembered; the first
 * join of a room holds until the room answers a disco#info (section 7,
 * "Determining support"), so even that join gets no replay.
 *
 * Results are messages that arrive before the IQ result that ends their
 * page.  The unwrap stage checks them and keeps a copy; the page is
 * handled as a whole when the IQ result comes: every message goes through
 * DECRYPT, HANDLE and PRESENT (pxm_account_replay()) and the presenter,
 * then the identities of what was shown and the new position are
 * committed in one transaction.  Why not show each result from the unwrap
 * stage like carbons are: the identities and the position must be
 * committed together with what was shown (see process_page()), and a page
 * the server never finishes (disconnect, error) must leave no trace.
 */
#include "../../host/extension.h"

#include <glib/gi18n-lib.h>
#include <stdlib.h>
#include <string.h>

#define ID "xep0313-mam"

/* XEP-0059 page size asked for.  Servers cap it (Prosody's
 * max_archive_query_results, 50 by default); paging goes on from what
 * came, so a smaller page only costs round trips. */
#define PAGE_MAX 250
/* How far back the first catch-up ever goes: an account option declared
 * in the manifest (which holds its default). */
#define SETTING_DAYS "xmpp-modern-mam-days"
/* The store: the last archive id processed and its time; for a room,
 * the same under "room-position:<room>" and "room-stamp:<room>". */
#define KEY_POSITION "position"
#define KEY_STAMP "position-stamp"
#define KEY_ROOM_POSITION "room-position:"
#define KEY_ROOM_STAMP "room-stamp:"
/* "room-mam:<room>": "1" if the room had an archive when we last asked
 * it, "0" if it had none. */
#define KEY_ROOM_MAM "room-mam:"
/* How long the first join of a room waits for its disco#info answer
 * (the host lets it go after PXM_JOIN_HOLD_MAX_S anyway). */
#define PREJOIN_TIMEOUT_MS 5000
/* The last error the user was told about (told once, not at every
 * sign-in). */
#define KEY_NOTICED "noticed-error"
/* A position taken from live messages is saved this long after it moved,
 * so a crash loses at most that much. */
#define LIVE_SAVE_DELAY_S 5
/* /history: at most this many messages, or days. */
#define HISTORY_MAX 1000
#define HISTORY_DAYS_MAX 3650
#define HISTORY_DEFAULT 50
/* Going back from a stale position by time: the stamp of the last
 * message is the server's; a little before it costs only duplicates the
 * identity index recognises. */
#define STAMP_MARGIN_S 60

typedef enum {
	QUERY_CATCHUP,
	QUERY_HISTORY,
} QueryKind;

typedef struct {
	char *id;         /* archive id */
	xmlnode *message; /* copy of the forwarded message */
	gint64 stamp;     /* XEP-0203 time of the forwarded copy, 0 if none */
} Result;

typedef struct State State;

typedef struct {
	State *state; /* a reference */
	QueryKind kind;
	char *queryid;
	/* The room whose archive is asked (normalised bare JID), NULL for
	 * our own archive. */
	char *room;
	/* Form fields and RSM of the next page. */
	char *with;   /* history: the conversation (normalised bare JID) */
	gint64 start; /* 0: no 'start' */
	char *after;  /* catch-up: the position */
	char *before; /* history: "" for the last page */
	guint max;
	GPtrArray *page; /* Result, of the page in flight */
	/* History: every page so far, oldest first, and how many are
	 * wanted (0: all in the window). */
	GPtrArray *collected;
	guint wanted;
	/* Catch-up: the position came from the store (a stale one gets one
	 * fall-back to a time window). */
	gboolean from_position;
	/* Catch-up: the time the stale position was replaced by (0: none),
	 * said in the count lines. */
	gint64 restarted_from;
	/* Catch-up: the stored position an empty answer is being checked
	 * for in a window by time (see check_empty_answer()). */
	char *checking;
	GHashTable *shown; /* catch-up: conversation -> count */
	/* Catch-up: conversations told that more is coming (set). */
	GHashTable *announced;
	guint pages;
} Query;

struct State {
	PxmAccount *account;
	gboolean stopped; /* replies may come after stop() */
	gboolean supported;
	gboolean unsupported; /* our server answered: no archive */
	GHashTable *queries;  /* queryid -> Query (a reference) */
	Query *catchup;       /* (nullable) borrowed from queries */
	gboolean caught_up;   /* the catch-up of this session ended well */
	/* The latest archive id of a live message (moves only once caught
	 * up) and its time; saved LIVE_SAVE_DELAY_S later. */
	char *live_position;
	gint64 live_stamp;
	guint save_source;
	/* /history: normalised bare JID -> oldest archive id shown in that
	 * conversation this session. */
	GHashTable *oldest;
	/* The rooms we are in: normalised bare JID -> Room. */
	GHashTable *rooms;
	/* Rooms we sent a join presence to (normalised bare JIDs). */
	GHashTable *joining;
	/* Rooms whose join is held until they answer disco#info. */
	GHashTable *prejoin;
};

/* A room we are in. */
typedef struct {
	/* Its catch-up of this session ended well: from now on live messages
	 * move its position. */
	gboolean caught_up;
	char *live_position;
	gint64 live_stamp;
} Room;

static void
room_free(Room *room)
{
	g_free(room->live_position);
	g_free(room);
}

static void
result_free(Result *r)
{
	g_free(r->id);
	if (r->message != NULL)
		xmlnode_free(r->message);
	g_free(r);
}

static void
state_clear(State *state)
{
	g_hash_table_unref(state->queries);
	g_hash_table_unref(state->oldest);
	g_hash_table_unref(state->rooms);
	g_hash_table_unref(state->joining);
	g_hash_table_unref(state->prejoin);
	g_free(state->live_position);
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
query_clear(Query *q)
{
	state_unref(q->state);
	g_free(q->queryid);
	g_free(q->room);
	g_free(q->with);
	g_free(q->after);
	g_free(q->before);
	g_free(q->checking);
	g_ptr_array_unref(q->page);
	g_clear_pointer(&q->collected, g_ptr_array_unref);
	g_clear_pointer(&q->shown, g_hash_table_unref);
	g_clear_pointer(&q->announced, g_hash_table_unref);
}

static void
query_unref(Query *q)
{
	g_rc_box_release_full(q, (GDestroyNotify)query_clear);
}

static Query *
query_new(State *state, QueryKind kind)
{
	Query *q = g_rc_box_new0(Query);

	q->state = state_ref(state);
	q->kind = kind;
	q->max = PAGE_MAX;
	q->page = g_ptr_array_new_with_free_func((GDestroyNotify)result_free);
	q->queryid = g_uuid_string_random();
	g_hash_table_insert(state->queries, q->queryid, q);
	return q;
}

/* A new queryid for the next request: results of an abandoned one (a
 * failed page) must not count for the next. */
static void
query_renew_id(Query *q)
{
	g_hash_table_steal(q->state->queries, q->queryid);
	g_free(q->queryid);
	q->queryid = g_uuid_string_random();
	g_hash_table_insert(q->state->queries, q->queryid, q);
	g_ptr_array_set_size(q->page, 0);
}

static void
query_end(Query *q)
{
	State *state = q->state;

	if (state->catchup == q)
		state->catchup = NULL;
	/* Drops the table's reference: q may be freed. */
	g_hash_table_remove(state->queries, q->queryid);
}

/* --- Helpers ---------------------------------------------------------- */

static gboolean
is_element(xmlnode *node, const char *name, const char *ns)
{
	return node->type == XMLNODE_TYPE_TAG &&
	       g_str_equal(node->name, name) &&
	       g_strcmp0(xmlnode_get_namespace(node), ns) == 0;
}

static char *
child_text_dup(xmlnode *parent, const char *name, const char *ns)
{
	xmlnode *node = pxm_xml_child(parent, name, ns);

	return node != NULL ? xmlnode_get_data(node) : NULL;
}

static gint64
parse_stamp(const char *stamp)
{
	g_autoptr(GDateTime) dt = NULL;

	if (stamp == NULL)
		return 0;
	dt = g_date_time_new_from_iso8601(stamp, NULL);
	return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

static char *
format_stamp(gint64 when)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(when);

	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : NULL;
}

static gint64
now(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

static gboolean
has_feature(xmlnode *result, const char *feature)
{
	xmlnode *query = pxm_xml_child(result, "query", PXM_NS_DISCO_INFO);

	for (xmlnode *f = query != NULL ? query->child : NULL; f != NULL;
	     f = f->next)
		if (is_element(f, "feature", PXM_NS_DISCO_INFO) &&
		    g_strcmp0(xmlnode_get_attrib(f, "var"), feature) == 0)
			return TRUE;
	return FALSE;
}

/* --- Positions -------------------------------------------------------- */

/* The keys of the position of our archive (@room NULL) or of a room's. */
static void
position_keys(const char *room, char **key, char **stamp_key)
{
	*key = room != NULL ? g_strconcat(KEY_ROOM_POSITION, room, NULL)
			    : g_strdup(KEY_POSITION);
	*stamp_key = room != NULL ? g_strconcat(KEY_ROOM_STAMP, room, NULL)
				  : g_strdup(KEY_STAMP);
}

static void
read_position(PxmStore *store, const char *room, char **position, gint64 *stamp)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = NULL;
	g_autofree char *key = NULL;
	g_autofree char *stamp_key = NULL;

	position_keys(room, &key, &stamp_key);
	*position = NULL;
	*stamp = 0;
	if (!pxm_store_kv_get_string_dup(store, ID, key, position, &error) ||
	    !pxm_store_kv_get_string_dup(store, ID, stamp_key, &text, &error)) {
		purple_debug_error(ID,
				   "could not read the archive position: "
				   "%s\n",
				   error->message);
		g_clear_pointer(position, g_free);
		return;
	}
	if (text != NULL)
		*stamp = g_ascii_strtoll(text, NULL, 10);
}

/* Inside the caller's transaction. */
static gboolean
write_position(PxmStore *store, const char *room, const char *position,
	       gint64 stamp, GError **error)
{
	g_autofree char *text = g_strdup_printf("%" G_GINT64_FORMAT, stamp);
	g_autofree char *key = NULL;
	g_autofree char *stamp_key = NULL;

	position_keys(room, &key, &stamp_key);
	return pxm_store_kv_set_string(store, ID, key, position, error) &&
	       pxm_store_kv_set_string(store, ID, stamp_key, text, error);
}

/* Our own archive's live position and the rooms', in one transaction. */
static void
save_live_positions(State *state)
{
	PxmStore *store = pxm_account_get_store(state->account);
	g_autoptr(GError) error = NULL;
	GHashTableIter iter;
	gpointer key, value;
	gboolean ok;

	g_clear_handle_id(&state->save_source, g_source_remove);
	if (store == NULL)
		return;
	/* What the live messages up to here showed is known by the presenter
	 * in memory only (see its is_live()): the position is what keeps
	 * them from coming back from the archive. */
	if (pxm_store_begin(store, &error)) {
		ok = state->live_position == NULL ||
		     write_position(store, NULL, state->live_position,
				    state->live_stamp, &error);
		g_hash_table_iter_init(&iter, state->rooms);
		while (ok && g_hash_table_iter_next(&iter, &key, &value)) {
			Room *room = value;

			ok = room->live_position == NULL ||
			     write_position(store, key, room->live_position,
					    room->live_stamp, &error);
		}
		if (ok)
			pxm_store_commit(store, &error);
		else
			pxm_store_rollback(store, NULL);
	}
	if (error != NULL)
		purple_debug_error(ID,
				   "could not save the archive position: "
				   "%s\n",
				   error->message);
	g_clear_pointer(&state->live_position, g_free);
	g_hash_table_iter_init(&iter, state->rooms);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_clear_pointer(&((Room *)value)->live_position, g_free);
}

static gboolean
on_save(gpointer data)
{
	State *state = data;

	state->save_source = 0;
	save_live_positions(state);
	return G_SOURCE_REMOVE;
}

static void
schedule_save(State *state)
{
	if (state->save_source == 0)
		state->save_source = g_timeout_add_seconds(LIVE_SAVE_DELAY_S,
							   on_save, state);
}

/* --- Queries ---------------------------------------------------------- */

static void
add_field(xmlnode *form, const char *var, const char *type, const char *value)
{
	xmlnode *field = xmlnode_new_child(form, "field");

	xmlnode_set_attrib(field, "var", var);
	if (type != NULL)
		xmlnode_set_attrib(field, "type", type);
	xmlnode_insert_data(xmlnode_new_child(field, "value"), value, -1);
}

static xmlnode *
build_query(Query *q)
{
	xmlnode *iq = xmlnode_new("iq");
	xmlnode *query, *form, *set;
	char max[16];

	xmlnode_set_attrib(iq, "type", "set");
	/* No 'to' for our own archive: it is on our bare JID, which is where
	 * the server answers an IQ without one (section 4.1.1).  A room's is
	 * on the room's JID (section 8). */
	if (q->room != NULL)
		xmlnode_set_attrib(iq, "to", q->room);
	query = xmlnode_new_child(iq, "query");
	xmlnode_set_namespace(query, PXM_NS_MAM);
	xmlnode_set_attrib(query, "queryid", q->queryid);
	form = xmlnode_new_child(query, "x");
	xmlnode_set_namespace(form, PXM_NS_DATA);
	xmlnode_set_attrib(form, "type", "submit");
	add_field(form, "FORM_TYPE", "hidden", PXM_NS_MAM);
	if (q->with != NULL)
		add_field(form, "with", NULL, q->with);
	if (q->start != 0) {
		g_autofree char *start = format_stamp(q->start);

		add_field(form, "start", NULL, start);
	}
	set = xmlnode_new_child(query, "set");
	xmlnode_set_namespace(set, PXM_NS_RSM);
	g_snprintf(max, sizeof(max), "%u", q->max);
	xmlnode_insert_data(xmlnode_new_child(set, "max"), max, -1);
	if (q->after != NULL)
		xmlnode_insert_data(xmlnode_new_child(set, "after"), q->after,
				    -1);
	if (q->before != NULL) {
		xmlnode *before = xmlnode_new_child(set, "before");

		if (*q->before != '\0')
			xmlnode_insert_data(before, q->before, -1);
	}
	return iq;
}

static void on_page(PxmAccount *account, xmlnode *result, const GError *error,
		    gpointer data);

static void
send_page(Query *q)
{
	q->pages++;
	pxm_account_send_iq(q->state->account, build_query(q), 0, on_page,
			    g_rc_box_acquire(q), (GDestroyNotify)query_unref);
}

/* @room: NULL for our own archive. */
/* Where a catch-up without a position starts: the days the user chose. */
static gint64
first_window_start(PxmAccount *account)
{
	int days = pxm_account_get_option_int(account, SETTING_DAYS);

	return now() - (gint64)MAX(days, 0) * 24 * 3600;
}

static void
start_catchup(State *state, const char *room)
{
	PxmAccount *account = state->account;
	PxmStore *store = pxm_account_get_store(account);
	g_autofree char *position = NULL;
	gint64 stamp;
	Query *q;

	if (store == NULL) {
		purple_debug_warning(ID, "no store: no catch-up (positions "
					 "could not be kept)\n");
		return;
	}
	read_position(store, room, &position, &stamp);
	q = query_new(state, QUERY_CATCHUP);
	q->room = g_strdup(room);
	q->shown = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	q->announced = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     NULL);
	if (room == NULL)
		state->catchup = q;
	if (position != NULL) {
		q->after = g_steal_pointer(&position);
		q->from_position = TRUE;
	} else {
		/* First sign-in with this store (first join of this room):
		 * a bounded window, not the whole archive.  In a room, the
		 * first join has the room's own replay too: the presenter
		 * shows each message once. */
		q->start = first_window_start(account);
	}
	purple_debug_info(ID, "catching up %s%s\n",
			  room != NULL ? "a room " : "",
			  q->after != NULL ? "from the last position"
					   : "from the last days");
	send_page(q);
}

/* --- Errors the user is told about ------------------------------------ */

/* Once per condition, remembered in the store: a server that refuses
 * every time must not bring a dialog at every sign-in. */
static void
tell_once(State *state, const GError *error)
{
	PxmStore *store = pxm_account_get_store(state->account);
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	g_autofree char *told = NULL;
	g_autofree char *secondary = NULL;

	if (store != NULL) {
		pxm_store_kv_get_string_dup(store, ID, KEY_NOTICED, &told,
					    NULL);
		if (g_strcmp0(told, error->message) == 0)
			return;
		pxm_store_kv_set_string(store, ID, KEY_NOTICED, error->message,
					NULL);
	}
	if (pa == NULL)
		return;
	secondary = g_strdup_printf(
		_("The server of %s refused to give the messages exchanged "
		  "while Pidgin was offline (%s). They are not shown here; "
		  "your other devices may have them."),
		pxm_account_get_bare_jid(state->account), error->message);
	purple_notify_warning(NULL, _("Message archive"),
			      _("Could not fetch the message history"),
			      secondary);
}

static void
forget_told(State *state)
{
	PxmStore *store = pxm_account_get_store(state->account);

	if (store != NULL)
		pxm_store_kv_delete(store, ID, KEY_NOTICED, NULL);
}

/* --- Pages ------------------------------------------------------------ */

static void
count_shown(GHashTable *shown, PxmAccount *account, xmlnode *message)
{
	const char *from = xmlnode_get_attrib(message, "from");
	const char *to = xmlnode_get_attrib(message, "to");
	gboolean sent = from != NULL &&
			pxm_jid_bare_equal(from,
					   pxm_account_get_bare_jid(account));
	char *conversation = pxm_jid_bare_dup(sent ? to : from);

	if (conversation == NULL)
		return;
	g_hash_table_replace(
		shown, conversation,
		GUINT_TO_POINTER(GPOINTER_TO_UINT(g_hash_table_lookup(
					 shown, conversation)) +
				 1));
}

/*
 * Shows a finished page and moves the position, as one transaction.
 *
 * Crash safety: the page is shown in this one call, without returning to
 * the main loop, and the identities of what it showed are committed with
 * the position of its last result.  So the store is always either before
 * the page (nothing of it committed: after a crash the page is fetched
 * again and shown again only if the crash came in the milliseconds between
 * writing it and the commit) or after it (shown, recognised, and not
 * fetched again).  The position never gets ahead of what was shown, and
 * when it is behind, the identity index recognises what lies between.
 * Live messages move the position only once the catch-up has ended (they
 * could otherwise skip the rest of it after a crash).
 */
static void
process_page(Query *q, const char *last)
{
	State *state = q->state;
	PxmAccount *account = state->account;
	PxmStore *store = pxm_account_get_store(account);
	g_autoptr(GError) error = NULL;
	gboolean in_transaction = FALSE;
	gint64 stamp = 0, last_stamp = 0;

	if (store != NULL) {
		in_transaction = pxm_store_begin(store, &error);
		if (!in_transaction) {
			purple_debug_error(ID, "archive page not stored: %s\n",
					   error->message);
			g_clear_error(&error);
		}
	}
	for (guint i = 0; i < q->page->len; i++) {
		Result *r = q->page->pdata[i];

		if (pxm_account_replay(account, r->message, PXM_ORIGIN_ARCHIVE,
				       r->id, r->stamp, PXM_REPLAY_CATCHUP))
			count_shown(q->shown, account, r->message);
		if (last != NULL && g_str_equal(r->id, last))
			last_stamp = r->stamp;
		stamp = MAX(stamp, r->stamp);
	}
	if (last_stamp != 0)
		stamp = last_stamp;
	if (!in_transaction)
		return;
	pxm_presenter_write_identities(account);
	if (last != NULL && stamp == 0)
		stamp = now();
	if ((last == NULL ||
	     write_position(store, q->room, last, stamp, &error)) &&
	    pxm_store_commit(store, &error)) {
		/* The tests wait for this line to tell a page committed from
		 * one shown but not yet committed. */
		purple_debug_info(ID,
				  "archive page stored (%u results, "
				  "position %s)\n",
				  q->page->len,
				  last != NULL ? last : "unchanged");
		return;
	}
	if (pxm_store_get_transaction_depth(store) > 0)
		pxm_store_rollback(store, NULL);
	purple_debug_error(ID, "archive position not stored: %s\n",
			   error != NULL ? error->message : "?");
}

/* The server lost our place (section 6.1.1): said with the count, in the
 * conversations that got messages, rather than in a dialog: nothing is
 * missing or doubled, but the user may wonder why older messages came. */
static char *
restarted_text(const Query *q)
{
	time_t t = (time_t)q->restarted_from;
	struct tm tm;

	localtime_r(&t, &tm);
	return g_strdup_printf(
		/* TRANSLATORS: %s is a date and time */
		_("The archive no longer knew where Pidgin had stopped (it "
		  "may have been reset): these messages start from %s."),
		purple_date_format_long(&tm));
}

static void
end_catchup(Query *q, gboolean ok)
{
	State *state = q->state;
	GHashTableIter iter;
	gpointer key, value;
	Room *room;

	if (ok && q->room != NULL) {
		/* Unless we left the room meanwhile. */
		room = g_hash_table_lookup(state->rooms, q->room);
		if (room != NULL)
			room->caught_up = TRUE;
	} else if (ok) {
		state->caught_up = TRUE;
		forget_told(state);
	}
	if (ok) {
		g_hash_table_iter_init(&iter, q->shown);
		while (g_hash_table_iter_next(&iter, &key, &value)) {
			guint n = GPOINTER_TO_UINT(value);
			g_autofree char *text = NULL;
			g_autofree char *html = NULL;

			if (q->room != NULL)
				text = g_strdup_printf(
					ngettext("%u message from the room "
						 "archive (sent while you "
						 "were not in the room).",
						 "%u messages from the room "
						 "archive (sent while you "
						 "were not in the room).",
						 n),
					n);
			else
				text = g_strdup_printf(
					ngettext("%u message from the server "
						 "archive (sent or received "
						 "while Pidgin was offline).",
						 "%u messages from the server "
						 "archive (sent or received "
						 "while Pidgin was offline).",
						 n),
					n);
			if (q->restarted_from != 0) {
				g_autofree char *more = restarted_text(q);
				char *both = g_strconcat(text, " ", more, NULL);

				g_free(text);
				text = both;
			}
			html = g_markup_escape_text(text, -1);
			pxm_presenter_notice(state->account, key,
					     q->room != NULL, html);
		}
		purple_debug_info(ID, "caught up in %u page(s)\n", q->pages);
	}
	query_end(q);
}

/*
 * The progress of a long catch-up.  libpurple has no progress bar for
 * conversations: each conversation that got messages from a catch-up that
 * goes on for more pages gets one line saying that more is coming, and the
 * count line at the end closes it.  A catch-up of one page (most) shows
 * the count line only.
 */
static void
announce_more(Query *q)
{
	GHashTableIter iter;
	gpointer key;

	g_hash_table_iter_init(&iter, q->shown);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		g_autofree char *html = NULL;

		if (g_hash_table_contains(q->announced, key))
			continue;
		g_hash_table_add(q->announced, g_strdup(key));
		html = g_markup_escape_text(
			q->room != NULL ? _("Fetching more messages from the "
					    "room archive…")
					: _("Fetching more messages from the "
					    "server archive…"),
			-1);
		pxm_presenter_notice(q->state->account, key, q->room != NULL,
				     html);
	}
}

/* Back to the time of the last message (a little before it), from a
 * stored position the archive does not have (@q->after is freed). */
static void
restart_by_time(Query *q)
{
	PxmStore *store = pxm_account_get_store(q->state->account);
	g_autofree char *position = NULL;
	gint64 stamp = 0;

	if (store != NULL)
		read_position(store, q->room, &position, &stamp);
	g_clear_pointer(&q->after, g_free);
	q->from_position = FALSE;
	q->start = stamp != 0 ? stamp - STAMP_MARGIN_S
			      : first_window_start(q->state->account);
	query_renew_id(q);
}

/*
 * Section 6.1.1 says an 'after' the archive does not have is
 * item-not-found, but ejabberd (23.01 at least) compares 'after' with its
 * ids, which are times, and answers an unknown one with an empty, complete
 * page: whatever the archive lost since, or everything, if the id is not
 * one of its own (an archive moved to another server).  An empty answer to
 * a stored position is therefore checked once: the same archive by the
 * time of the last message, which must hold the position.  Returns TRUE if
 * that check was sent.
 */
static gboolean
check_empty_answer(Query *q)
{
	PxmStore *store = pxm_account_get_store(q->state->account);
	g_autofree char *position = NULL;
	gint64 stamp = 0;

	if (!q->from_position || store == NULL)
		return FALSE;
	read_position(store, q->room, &position, &stamp);
	/* Without the time, the window would be the first days': the
	 * position could be older, and the check would be wrong. */
	if (stamp == 0)
		return FALSE;
	q->checking = g_strdup(q->after);
	restart_by_time(q);
	purple_debug_info(ID, "nothing after the last position: checking "
			      "that the archive still has it\n");
	send_page(q);
	return TRUE;
}

/* While checking: what the page has up to the position is what we had
 * already; once found, the check is over. */
static void
check_page(Query *q)
{
	for (guint i = 0; i < q->page->len; i++) {
		Result *r = q->page->pdata[i];

		if (g_str_equal(r->id, q->checking)) {
			g_ptr_array_remove_range(q->page, 0, i + 1);
			g_clear_pointer(&q->checking, g_free);
			return;
		}
	}
}

static void
catchup_page(Query *q, gboolean complete, const char *last)
{
	const char *stored = last;

	/* We left the room: the page stays in its archive for the next
	 * join (the position does not move past what was not shown). */
	if (q->room != NULL &&
	    !g_hash_table_contains(q->state->rooms, q->room)) {
		end_catchup(q, FALSE);
		return;
	}
	if (q->page->len == 0 &&
	    (complete || last == NULL || g_strcmp0(last, q->after) == 0) &&
	    check_empty_answer(q))
		return;
	if (q->checking != NULL) {
		check_page(q);
		/* The position was the last result: the store keeps it (and
		 * its own time). */
		if (q->checking == NULL && q->page->len == 0)
			stored = NULL;
	}
	process_page(q, stored);
	g_ptr_array_set_size(q->page, 0);
	/* Section 6.1: paging ends with complete='true'; a server that
	 * neither says so nor moves on would keep us asking forever. */
	if (complete || last == NULL || g_strcmp0(last, q->after) == 0) {
		if (q->checking != NULL) {
			/* Not in the archive: it was stale after all. */
			purple_debug_warning(ID, "the archive no longer has "
						 "our last position: going "
						 "back by time\n");
			q->restarted_from = q->start;
			g_clear_pointer(&q->checking, g_free);
		}
		end_catchup(q, TRUE);
		return;
	}
	announce_more(q);
	g_free(q->after);
	q->after = g_strdup(last);
	q->from_position = FALSE;
	send_page(q);
}

static void
catchup_error(Query *q, const GError *error)
{
	State *state = q->state;

	/* Section 6.1.1: an 'after' the archive does not have (expired, or
	 * the archive was reset) is item-not-found.  Start again from the
	 * time of the last message we had instead. */
	if (q->from_position && pxm_iq_error_is(error, "item-not-found")) {
		restart_by_time(q);
		q->restarted_from = q->start;
		purple_debug_warning(ID, "the archive no longer has our last "
					 "position: going back by time\n");
		send_page(q);
		return;
	}
	purple_debug_warning(ID, "catch-up stopped: %s\n", error->message);
	if (error->code == PXM_IQ_ERROR_STANZA && q->room != NULL) {
		/* One line in the room, at this join only. */
		g_autofree char *text =
			g_strdup_printf(_("Could not fetch the messages sent "
					  "while you were not "
					  "in the room from its archive (%s)."),
					error->message);
		g_autofree char *html = g_markup_escape_text(text, -1);

		pxm_presenter_notice(state->account, q->room, TRUE, html);
	} else if (error->code == PXM_IQ_ERROR_STANZA) {
		tell_once(state, error);
	}
	end_catchup(q, FALSE);
}

/* --- /history --------------------------------------------------------- */

static void
history_notice(Query *q, const char *text)
{
	g_autofree char *html = g_markup_escape_text(text, -1);

	if (q->room != NULL)
		pxm_presenter_notice(q->state->account, q->room, TRUE, html);
	else
		pxm_presenter_notice(q->state->account, q->with, FALSE, html);
}

static void
history_show(Query *q)
{
	State *state = q->state;
	PxmAccount *account = state->account;
	PxmStore *store = pxm_account_get_store(account);
	gboolean in_transaction = FALSE;
	guint shown = 0;
	g_autofree char *text = NULL;

	/* Count form: the newest of what came. */
	if (q->wanted != 0 && q->collected->len > q->wanted)
		g_ptr_array_remove_range(q->collected, 0,
					 q->collected->len - q->wanted);
	if (store != NULL)
		in_transaction = pxm_store_begin(store, NULL);
	for (guint i = 0; i < q->collected->len; i++) {
		Result *r = q->collected->pdata[i];

		if (pxm_account_replay(account, r->message, PXM_ORIGIN_ARCHIVE,
				       r->id, r->stamp, PXM_REPLAY_REQUESTED))
			shown++;
	}
	if (in_transaction) {
		pxm_presenter_write_identities(account);
		if (!pxm_store_commit(store, NULL))
			purple_debug_error(ID, "history identities not "
					       "stored\n");
	}
	if (q->collected->len > 0)
		g_hash_table_replace(
			state->oldest,
			g_strdup(q->room != NULL ? q->room : q->with),
			g_strdup(((Result *)q->collected->pdata[0])->id));
	if (shown == 0)
		text = g_strdup(_("No older messages in the server archive."));
	else
		text = g_strdup_printf(
			ngettext("End of the %u message from the "
				 "server archive.",
				 "End of the %u messages from "
				 "the server archive.",
				 shown),
			shown);
	history_notice(q, text);
}

static void
history_page(Query *q, gboolean complete, const char *first)
{
	GPtrArray *older = q->page;

	/* Pages come newest first: this one goes before what we have. */
	g_ptr_array_extend_and_steal(older, g_steal_pointer(&q->collected));
	q->collected = older;
	q->page = g_ptr_array_new_with_free_func((GDestroyNotify)result_free);
	if (complete || first == NULL || g_strcmp0(first, q->before) == 0 ||
	    (q->wanted != 0 && q->collected->len >= q->wanted) ||
	    q->collected->len >= HISTORY_MAX) {
		history_show(q);
		query_end(q);
		return;
	}
	g_free(q->before);
	q->before = g_strdup(first);
	if (q->wanted != 0)
		q->max = MIN(PAGE_MAX, q->wanted - q->collected->len);
	send_page(q);
}

static void
on_page(PxmAccount *account, xmlnode *result, const GError *error,
	gpointer data)
{
	Query *q = data;
	xmlnode *fin, *set;
	g_autofree char *last = NULL;
	g_autofree char *first = NULL;
	gboolean complete;

	if (q->state->stopped ||
	    g_hash_table_lookup(q->state->queries, q->queryid) != q)
		return;
	if (error != NULL) {
		if (q->kind == QUERY_CATCHUP) {
			catchup_error(q, error);
		} else {
			g_autofree char *text = g_strdup_printf(
				_("Could not fetch the history: %s"),
				error->message);

			history_notice(q, text);
			query_end(q);
		}
		return;
	}
	fin = pxm_xml_child(result, "fin", PXM_NS_MAM);
	set = pxm_xml_child(fin, "set", PXM_NS_RSM);
	if (fin == NULL) {
		/* Section 4.3: the IQ result carries <fin/>.  Without it we
		 * cannot page on; what came is still shown. */
		purple_debug_warning(ID, "archive answer without <fin/>\n");
	}
	complete = fin == NULL ||
		   g_strcmp0(xmlnode_get_attrib(fin, "complete"), "true") == 0;
	last = child_text_dup(set, "last", PXM_NS_RSM);
	first = child_text_dup(set, "first", PXM_NS_RSM);
	/* An empty page has no <first/> and <last/>: the results we took
	 * are all there is. */
	if (last == NULL && q->page->len > 0)
		last = g_strdup(
			((Result *)q->page->pdata[q->page->len - 1])->id);
	if (first == NULL && q->page->len > 0)
		first = g_strdup(((Result *)q->page->pdata[0])->id);
	if (q->kind == QUERY_CATCHUP)
		catchup_page(q, complete, last);
	else
		history_page(q, complete, first);
}

static gboolean
parse_history_args(const char *args, guint *count, guint *days)
{
	char *end = NULL;
	guint64 n;

	*count = *days = 0;
	if (args == NULL || *args == '\0') {
		*count = HISTORY_DEFAULT;
		return TRUE;
	}
	if (!g_ascii_isdigit(*args))
		return FALSE;
	n = g_ascii_strtoull(args, &end, 10);
	if (n == 0)
		return FALSE;
	if (*end == '\0' && n <= HISTORY_MAX) {
		*count = (guint)n;
		return TRUE;
	}
	if (g_str_equal(end, "d") && n <= HISTORY_DAYS_MAX) {
		*days = (guint)n;
		return TRUE;
	}
	return FALSE;
}

/* What we know of @room's archive: "1", "0", or NULL (never asked, or
 * it did not say). */
static char *
room_archive_dup(State *state, const char *room)
{
	PxmStore *store = pxm_account_get_store(state->account);
	g_autofree char *key = g_strconcat(KEY_ROOM_MAM, room, NULL);
	char *value = NULL;

	if (store == NULL ||
	    !pxm_store_kv_get_string_dup(store, ID, key, &value, NULL))
		return NULL;
	return value;
}

static gboolean
room_has_archive(State *state, const char *room)
{
	g_autofree char *value = room_archive_dup(state, room);

	return g_strcmp0(value, "1") == 0;
}

static void
remember_room_archive(PxmAccount *account, const char *room, gboolean has)
{
	PxmStore *store = pxm_account_get_store(account);
	g_autofree char *key = g_strconcat(KEY_ROOM_MAM, room, NULL);

	if (store != NULL)
		pxm_store_kv_set_string(store, ID, key, has ? "1" : "0", NULL);
}

static PurpleCmdRet
cmd_history(PxmAccount *account, gpointer data, PurpleConversation *conv,
	    const char *args, char **error)
{
	State *state = data;
	g_autofree char *with = pxm_conversation_jid_dup(conv);
	gboolean room = conv != NULL && purple_conversation_get_type(conv) ==
						PURPLE_CONV_TYPE_CHAT;
	const char *oldest;
	guint count, days;
	GHashTableIter iter;
	gpointer value;
	Query *q;

	if (!parse_history_args(args, &count, &days)) {
		*error = g_strdup_printf(
			_("Usage: /history N (the last N messages, at most "
			  "%u) or /history Nd (the last N days)"),
			HISTORY_MAX);
		return PURPLE_CMD_RET_FAILED;
	}
	if (with == NULL) {
		*error = g_strdup(_("This conversation has no address."));
		return PURPLE_CMD_RET_FAILED;
	}
	if (room && !room_has_archive(state, with)) {
		*error = g_strdup(_("This room does not keep a message "
				    "archive."));
		return PURPLE_CMD_RET_FAILED;
	}
	if (!room && !state->supported) {
		*error = g_strdup(_("Your server does not keep a message "
				    "archive for this account."));
		return PURPLE_CMD_RET_FAILED;
	}
	g_hash_table_iter_init(&iter, state->queries);
	while (g_hash_table_iter_next(&iter, NULL, &value)) {
		Query *other = value;

		if (other->kind == QUERY_HISTORY &&
		    g_strcmp0(room ? other->room : other->with, with) == 0) {
			*error = g_strdup(_("The history of this conversation "
					    "is already being fetched."));
			return PURPLE_CMD_RET_FAILED;
		}
	}
	q = query_new(state, QUERY_HISTORY);
	/* A room's archive holds the room only: no 'with' (section 8). */
	if (room)
		q->room = g_steal_pointer(&with);
	else
		q->with = g_steal_pointer(&with);
	q->collected =
		g_ptr_array_new_with_free_func((GDestroyNotify)result_free);
	q->wanted = count;
	if (count != 0)
		q->max = MIN(PAGE_MAX, count);
	else
		q->start = now() - (gint64)days * 24 * 3600;
	/* XEP-0059 section 2.5: an empty <before/> asks for the last page;
	 * else go on before what this conversation already showed. */
	oldest = g_hash_table_lookup(state->oldest, room ? q->room : q->with);
	q->before = g_strdup(oldest != NULL ? oldest : "");
	history_notice(q, _("Fetching older messages from the server "
			    "archive…"));
	send_page(q);
	return PURPLE_CMD_RET_OK;
}

/* --- Stages ----------------------------------------------------------- */

/* Exactly @room's bare JID: its occupants write from room/nick. */
static gboolean
is_room(const char *jid, const char *room)
{
	g_autofree char *normalized = pxm_jid_normalize_dup(jid);

	return normalized != NULL && g_str_equal(normalized, room);
}

/*
 * Section 4.2 and Security Considerations: results are accepted only for
 * a query we have open, from the archive it went to (our bare JID, which
 * the server may leave out: it stamps 'from' on everything anyone else
 * sends; or the room's bare JID, section 8).
 */
static PxmVerdict
unwrap(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *result, *forwarded, *message = NULL;
	const char *queryid, *id, *ns;
	const char *inner_from, *inner_to;
	Query *q;
	Result *r;

	if (st->message != st->stanza ||
	    (result = pxm_xml_child(st->stanza, "result", PXM_NS_MAM)) == NULL)
		return PXM_VERDICT_CONTINUE;
	queryid = xmlnode_get_attrib(result, "queryid");
	q = queryid != NULL ? g_hash_table_lookup(state->queries, queryid)
			    : NULL;
	if (q == NULL) {
		purple_debug_warning(ID, "dropping an archive result for no "
					 "query of ours\n");
		return PXM_VERDICT_DROP;
	}
	if (q->room != NULL
		    ? !is_room(st->from, q->room)
		    : !(st->from == NULL ||
			pxm_account_is_own_bare_jid(account, st->from))) {
		purple_debug_warning(ID, "dropping an archive result that "
					 "does not come from the archive "
					 "asked\n");
		return PXM_VERDICT_DROP;
	}
	/* Section 4.2: 'id' (the archive id) and one <forwarded/> holding
	 * the message and its <delay/>. */
	id = xmlnode_get_attrib(result, "id");
	forwarded = pxm_xml_child(result, "forwarded", PXM_NS_FORWARD);
	for (xmlnode *c = forwarded != NULL ? forwarded->child : NULL;
	     c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "message"))
			continue;
		ns = xmlnode_get_namespace(c);
		if (message != NULL ||
		    (ns != NULL && !g_str_equal(ns, PXM_NS_CLIENT))) {
			message = NULL;
			break;
		}
		message = c;
	}
	if (id == NULL || *id == '\0' || message == NULL) {
		purple_debug_warning(ID, "skipping a malformed archive "
					 "result\n");
		return PXM_VERDICT_DROP;
	}
	inner_from = xmlnode_get_attrib(message, "from");
	inner_to = xmlnode_get_attrib(message, "to");
	/* A room's archive holds what its occupants said in it. */
	if (q->room != NULL &&
	    (inner_from == NULL || !pxm_jid_bare_equal(inner_from, q->room) ||
	     pxm_jid_resource_peek(inner_from) == NULL ||
	     g_strcmp0(xmlnode_get_attrib(message, "type"), "groupchat") !=
		     0)) {
		purple_debug_warning(ID, "skipping a room archive result of a "
					 "message not from the room\n");
		return PXM_VERDICT_DROP;
	}
	/* Our own archive holds what we sent and what was sent to us. */
	if (q->room == NULL &&
	    (inner_from == NULL ||
	     (!pxm_jid_bare_equal(inner_from,
				  pxm_account_get_bare_jid(account)) &&
	      (inner_to == NULL ||
	       !pxm_jid_bare_equal(inner_to,
				   pxm_account_get_bare_jid(account)))))) {
		purple_debug_warning(ID, "skipping an archive result of a "
					 "message that is not ours\n");
		return PXM_VERDICT_DROP;
	}
	r = g_new0(Result, 1);
	r->id = g_strdup(id);
	r->message = xmlnode_copy(message);
	r->stamp = parse_stamp(xmlnode_get_attrib(
		pxm_xml_child(forwarded, "delay", PXM_NS_DELAY), "stamp"));
	g_ptr_array_add(q->page, r);
	return PXM_VERDICT_CONSUMED;
}

/* --- Rooms ----------------------------------------------------------- */

/* What a room disco#info query needs in its callback. */
typedef struct {
	State *state; /* a reference */
	char *room;
} RoomDisco;

static void
room_disco_free(RoomDisco *rd)
{
	state_unref(rd->state);
	g_free(rd->room);
	g_free(rd);
}

static void
on_room_disco_info(PxmAccount *account, xmlnode *result, const GError *error,
		   gpointer data)
{
	RoomDisco *rd = data;
	State *state = rd->state;

	/* Left meanwhile: its next join asks again. */
	if (state->stopped || !g_hash_table_contains(state->rooms, rd->room))
		return;
	if (result == NULL || !has_feature(result, PXM_NS_MAM)) {
		purple_debug_info(ID, "a room without a message archive (%s)\n",
				  error != NULL ? error->message : PXM_NS_MAM);
		/* An error says nothing of the archive: keep what we knew. */
		if (result != NULL)
			remember_room_archive(account, rd->room, FALSE);
		return;
	}
	remember_room_archive(account, rd->room, TRUE);
	start_catchup(state, rd->room);
}

/*
 * The join this answers is held (join_room()): a room with an archive is
 * then asked for no replay (compose()).  Whatever else comes (an error,
 * item-not-found for a room that does not exist yet and will be created
 * empty, no answer in time), the join goes on as it was.
 */
static void
on_prejoin_disco_info(PxmAccount *account, xmlnode *result, const GError *error,
		      gpointer data)
{
	RoomDisco *rd = data;
	State *state = rd->state;

	/* Stopped: the host let the join go on or dropped it. */
	if (state->stopped)
		return;
	g_hash_table_remove(state->prejoin, rd->room);
	if (result != NULL)
		remember_room_archive(account, rd->room,
				      has_feature(result, PXM_NS_MAM));
	else
		purple_debug_info(ID,
				  "a room did not say whether it keeps an "
				  "archive (%s): joining as usual\n",
				  error->message);
	pxm_account_release_join(account, ID, rd->room);
}

/*
 * XEP-0045 section 7.2.14 asks for no replay in the join presence itself:
 * the first join of a room whose archive we know nothing of waits for
 * its disco#info (XEP-0313 section 7).  Known rooms (either way) join at
 * once; the disco#info after each join keeps what we know up to date.
 */
static gboolean
join_room(PxmAccount *account, gpointer data, const char *room)
{
	State *state = data;
	g_autofree char *known = room_archive_dup(state, room);
	RoomDisco *rd;
	xmlnode *iq;

	/* Without a store nothing is remembered, and there is no catch-up
	 * to replace the replay. */
	if (known != NULL || pxm_account_get_store(account) == NULL ||
	    g_hash_table_contains(state->rooms, room) ||
	    g_hash_table_contains(state->prejoin, room))
		return FALSE;
	iq = xmlnode_new("iq");
	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", room);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	rd = g_new0(RoomDisco, 1);
	rd->state = state_ref(state);
	rd->room = g_strdup(room);
	g_hash_table_add(state->prejoin, g_strdup(room));
	pxm_account_send_iq(account, iq, PREJOIN_TIMEOUT_MS,
			    on_prejoin_disco_info, rd,
			    (GDestroyNotify)room_disco_free);
	return TRUE;
}

static gboolean
has_status(xmlnode *x, const char *code)
{
	for (xmlnode *c = x->child; c != NULL; c = c->next)
		if (is_element(c, "status", PXM_NS_MUC_USER) &&
		    g_strcmp0(xmlnode_get_attrib(c, "code"), code) == 0)
			return TRUE;
	return FALSE;
}

/*
 * XEP-0045 section 7.2.2: the room sends our own presence (status 110)
 * last, once we are in.  Its archive is asked then, and only for a room
 * we asked to join (anyone can send us a presence that claims to be our
 * own in some room).
 */
static void
handle_presence(PxmAccount *account, State *state, PxmStanza *st)
{
	xmlnode *x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER);
	g_autofree char *room = NULL;
	RoomDisco *rd;
	xmlnode *iq;

	if (x == NULL || !has_status(x, "110") ||
	    pxm_jid_resource_peek(st->from) == NULL ||
	    (room = pxm_jid_bare_dup(st->from)) == NULL)
		return;
	if (g_strcmp0(st->type, "unavailable") == 0) {
		/* Section 7.6: a nick change (303) leaves and comes back. */
		if (has_status(x, "303") ||
		    !g_hash_table_contains(state->rooms, room))
			return;
		save_live_positions(state);
		g_hash_table_remove(state->rooms, room);
		return;
	}
	if (st->type != NULL || g_hash_table_contains(state->rooms, room) ||
	    !g_hash_table_remove(state->joining, room))
		return;
	g_hash_table_insert(state->rooms, g_strdup(room), g_new0(Room, 1));
	/* Section 8: a room announces its archive on its own JID. */
	iq = xmlnode_new("iq");
	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", room);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	rd = g_new0(RoomDisco, 1);
	rd->state = state_ref(state);
	rd->room = g_steal_pointer(&room);
	pxm_account_send_iq(account, iq, 0, on_room_disco_info, rd,
			    (GDestroyNotify)room_disco_free);
}

/*
 * A live message the position cannot follow yet (our catch-up, or the
 * room's, has not ended well): the next catch-up will fetch it again from
 * the position.  The presenter keeps live messages in memory only (the
 * position keeps them from coming back) and writes just the latest ones
 * when going offline, nothing after a crash: this one is recorded now.
 */
static void
record_live(State *state, PxmStanza *st, const char *sender)
{
	PxmStore *store = pxm_account_get_store(state->account);
	const char *conversation = pxm_stanza_bare_from(st);
	g_autoptr(GError) error = NULL;
	PxmMessageIdentity mi = {
		.conversation = conversation,
		.sender = sender,
		.stanza_id = st->stanza_id,
		.origin_id = st->origin_id,
		/* The presenter's "received" and its time scale. */
		.direction = 0,
		.timestamp = g_get_real_time(),
	};

	/* What the presenter records anyway (see its is_live()). */
	if (store == NULL || conversation == NULL || st->sent_by_me ||
	    st->origin != PXM_ORIGIN_LIVE || st->timestamp != 0)
		return;
	if (!pxm_store_identity_record(store, &mi, &error))
		purple_debug_error(ID, "could not record a live message: %s\n",
				   error->message);
}

/* A live message of a room moves the room's position, once that room has
 * caught up in this session (as for our own archive). */
static void
handle_room_message(State *state, PxmStanza *st)
{
	g_autofree char *room_jid = pxm_jid_bare_dup(st->from);
	Room *room;

	if (room_jid == NULL)
		return;
	if (!g_hash_table_contains(state->oldest, room_jid))
		g_hash_table_insert(state->oldest, g_strdup(room_jid),
				    g_strdup(st->stanza_id));
	room = g_hash_table_lookup(state->rooms, room_jid);
	if (st->origin == PXM_ORIGIN_ARCHIVE || room == NULL)
		return;
	if (!room->caught_up) {
		if (room_has_archive(state, room_jid)) {
			g_autofree char *sender =
				pxm_jid_normalize_dup(st->from);

			record_live(state, st, sender);
		}
		return;
	}
	g_free(room->live_position);
	room->live_position = g_strdup(st->stanza_id);
	room->live_stamp = st->timestamp != 0 ? st->timestamp : now();
	schedule_save(state);
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	const char *conversation;

	if (st->kind == PXM_STANZA_PRESENCE) {
		handle_presence(account, state, st);
		return PXM_VERDICT_CONTINUE;
	}
	if (st->stanza_id == NULL || st->message == NULL)
		return PXM_VERDICT_CONTINUE;
	/* The stanza-id of a room message is the room's (checked by the
	 * stanza-id extension). */
	if (g_strcmp0(st->type, "groupchat") == 0) {
		handle_room_message(state, st);
		return PXM_VERDICT_CONTINUE;
	}
	/* The oldest archive id of each conversation, where /history goes
	 * on from (messages come oldest first: the first one stays). */
	conversation = st->sent_by_me ? pxm_stanza_bare_to(st)
				      : pxm_stanza_bare_from(st);
	if (conversation != NULL &&
	    !g_hash_table_contains(state->oldest, conversation))
		g_hash_table_insert(state->oldest, g_strdup(conversation),
				    g_strdup(st->stanza_id));
	/* A live message (or carbon) with our server's stanza-id moves the
	 * position; never while catching up, or a crash would skip the rest
	 * of the catch-up. */
	if (st->origin == PXM_ORIGIN_ARCHIVE)
		return PXM_VERDICT_CONTINUE;
	if (!state->caught_up || state->catchup != NULL) {
		if (!state->unsupported)
			record_live(state, st, pxm_stanza_bare_from(st));
		return PXM_VERDICT_CONTINUE;
	}
	g_free(state->live_position);
	state->live_position = g_strdup(st->stanza_id);
	state->live_stamp = st->timestamp != 0 ? st->timestamp : now();
	schedule_save(state);
	return PXM_VERDICT_CONTINUE;
}

/*
 * The join presence (XEP-0045 section 7.2.1).  A room known to keep an
 * archive is asked for no history (section 7.2.14): the catch-up after
 * the join fetches exactly what we missed (the first time, the last
 * days).  A room we know nothing of keeps the replay: its first join
 * asked it first (join_room()) unless it did not come through
 * prpl-jabber's join_chat.  Idempotent: the prpl sends unacknowledged
 * stanzas again through the same path.
 */
static PxmVerdict
compose(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *x, *history;
	g_autofree char *room = NULL;

	if (st->kind != PXM_STANZA_PRESENCE || st->type != NULL ||
	    (x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC)) == NULL ||
	    pxm_jid_resource_peek(st->to) == NULL ||
	    (room = pxm_jid_bare_dup(st->to)) == NULL)
		return PXM_VERDICT_CONTINUE;
	/* Joins are the user's: few.  A room that never answered stays
	 * until the next sign-in. */
	g_hash_table_add(state->joining, g_strdup(room));
	if (pxm_xml_child(x, "history", NULL) != NULL ||
	    !room_has_archive(state, room))
		return PXM_VERDICT_CONTINUE;
	/* Inherits the namespace of <x/>. */
	history = xmlnode_new_child(x, "history");
	xmlnode_set_attrib(history, "maxstanzas", "0");
	return PXM_VERDICT_CONTINUE;
}

/*
 * Offline storage (RFC 6121 section 8.5.2.1.1): at sign-in the server
 * delivers what came while no resource was online, with a XEP-0203 delay,
 * and the same messages are in the archive.  The prpl would show them as
 * if they had just arrived; shown by the presenter instead, they are
 * marked as history with their time like the catch-up, which then finds
 * them known.  After styling: a styled message already has its HTML.
 * XHTML-IM is left to the prpl (it renders it).
 */
static PxmVerdict
present(PxmAccount *account, gpointer data, PxmStanza *st)
{
	xmlnode *body;

	if (st->origin != PXM_ORIGIN_LIVE || st->timestamp == 0 ||
	    st->html != NULL || st->message != st->stanza ||
	    (st->type != NULL && !g_str_equal(st->type, "chat") &&
	     !g_str_equal(st->type, "normal")) ||
	    pxm_xml_child(st->message, "html", PXM_NS_XHTML_IM) != NULL)
		return PXM_VERDICT_CONTINUE;
	if (st->body != NULL) {
		st->html = purple_markup_escape_text(st->body, -1);
		return PXM_VERDICT_CONTINUE;
	}
	body = pxm_xml_child(st->message, "body", NULL);
	if (body != NULL) {
		g_autofree char *text = xmlnode_get_data(body);

		if (text != NULL && *text != '\0')
			st->html = purple_markup_escape_text(text, -1);
	}
	return PXM_VERDICT_CONTINUE;
}

/* --- Start and stop --------------------------------------------------- */

static void
on_disco_info(PxmAccount *account, xmlnode *result, const GError *error,
	      gpointer data)
{
	State *state = data;

	if (state->stopped)
		return;
	if (result == NULL || !has_feature(result, PXM_NS_MAM)) {
		state->unsupported = TRUE;
		purple_debug_info(ID, "%s has no message archive (%s)\n",
				  pxm_account_get_bare_jid(account),
				  error != NULL ? error->message : PXM_NS_MAM);
		return;
	}
	state->supported = TRUE;
	start_catchup(state, NULL);
}

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_rc_box_new0(State);
	xmlnode *iq = xmlnode_new("iq");

	state->account = account;
	state->queries = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					       (GDestroyNotify)query_unref);
	state->oldest = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      g_free);
	state->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     (GDestroyNotify)room_free);
	state->joining = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       NULL);
	state->prejoin = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       NULL);
	/* Section 7: a user archive is announced on the account's bare
	 * JID. */
	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", pxm_account_get_bare_jid(account));
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	pxm_account_send_iq(account, iq, 0, on_disco_info, state_ref(state),
			    (GDestroyNotify)state_unref);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	/* Going offline: the live position is written now (a page in
	 * flight leaves the position where its last finished page put
	 * it). */
	save_live_positions(state);
	state->stopped = TRUE;
	state->catchup = NULL;
	/* Queries hold a reference to the state: break the cycle. */
	g_hash_table_remove_all(state->queries);
	state_unref(state);
}

static const PxmCommand commands[] = {
	{
		.name = "history",
		.help = N_("history N, or history Nd: fetch the last "
			   "N messages (or N days) of this conversation from "
			   "the server archive."),
		.im = TRUE,
		.chat = TRUE,
		.func = cmd_history,
	},
	{ NULL },
};

const PxmExtensionClass pxm_xep0313_mam = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_UNWRAP] = unwrap,
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_PRESENT] = present,
		[PXM_PHASE_COMPOSE] = compose,
	},
	.commands = commands,
	.join_room = join_room,
};

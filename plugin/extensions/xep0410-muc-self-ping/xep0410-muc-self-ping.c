// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0410: MUC Self-Ping (Schrödinger's Chat).
 *
 * A room that restarted, or a link that broke for a while, can drop us from
 * a room without a word: the room just goes quiet.  After a quiet period we
 * ping our own occupant JID; when the answer says we are no longer in, we
 * send the join presence again (same nick, same password), with a line in
 * the room.  prpl-jabber still holds the room as joined, so the room's
 * presences after the rejoin update the conversation it already has.
 */
#include "../../host/extension.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "xep0410-muc-self-ping.h"

#define ID "xep0410-muc-self-ping"

/* Unanswered pings: 1 min, 2, 4, ... then every quiet period. */
#define RETRY_MS (60 * 1000)

typedef struct {
	GHashTable *rooms;   /* normalised room JID -> Room */
	GHashTable *joining; /* normalised room JID -> password ("" for none) */
	PxmAccount *account;
	guint quiet_ms;
	guint retry_ms;
	guint retry_max_ms;
	guint timeout_ms;
	gboolean stopped; /* replies may come after stop() */
} State;

typedef struct {
	State *state; /* borrowed: the room lives in state->rooms */
	char *jid;
	char *nick;
	char *password;      /* (nullable) */
	gint64 last_traffic; /* monotonic, µs */
	gint64 last_seen;    /* real time, µs: for <history since/> */
	guint timer;
	guint unanswered; /* pings without an answer in a row */
	gboolean pinging;
	gboolean nick_change; /* we asked for another nick */
	gboolean rejoining;
	GHashTable *seen; /* nicks present since the rejoin */
} Room;

typedef struct {
	State *state; /* a reference */
	char *room;
} Ping;

static void ping_room(Room *room);

static void
room_free(Room *room)
{
	if (room->timer != 0)
		g_source_remove(room->timer);
	g_clear_pointer(&room->seen, g_hash_table_unref);
	g_free(room->jid);
	g_free(room->nick);
	g_free(room->password);
	g_free(room);
}

static void
state_clear(State *state)
{
	g_hash_table_unref(state->rooms);
	g_hash_table_unref(state->joining);
}

static void
state_unref(State *state)
{
	g_rc_box_release_full(state, (GDestroyNotify)state_clear);
}

static void
ping_free(Ping *ping)
{
	state_unref(ping->state);
	g_free(ping->room);
	g_free(ping);
}

/* --- Timers ----------------------------------------------------------- */

static gboolean
on_timer(gpointer data)
{
	Room *room = data;
	gint64 quiet_us = (gint64)room->state->quiet_ms * 1000;
	gint64 silent_us = g_get_monotonic_time() - room->last_traffic;

	room->timer = 0;
	/* Traffic since the timer was set: wait for the rest of the quiet
	 * period (cheaper than re-arming on every message). */
	if (room->unanswered == 0 && silent_us < quiet_us) {
		room->timer = g_timeout_add(
			(guint)((quiet_us - silent_us) / 1000) + 1, on_timer,
			room);
		return G_SOURCE_REMOVE;
	}
	ping_room(room);
	return G_SOURCE_REMOVE;
}

static void
arm(Room *room, guint ms)
{
	if (room->timer != 0)
		g_source_remove(room->timer);
	room->timer = g_timeout_add(ms, on_timer, room);
}

static void
touch(Room *room)
{
	room->last_traffic = g_get_monotonic_time();
	room->last_seen = g_get_real_time();
}

void
pxm_self_ping_set_timing(gpointer data, guint quiet_ms, guint retry_ms,
			 guint retry_max_ms, guint timeout_ms)
{
	State *state = data;
	GHashTableIter iter;
	gpointer value;

	state->quiet_ms = quiet_ms;
	state->retry_ms = retry_ms;
	state->retry_max_ms = retry_max_ms;
	state->timeout_ms = timeout_ms;
	g_hash_table_iter_init(&iter, state->rooms);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		if (!((Room *)value)->pinging)
			arm(value, quiet_ms);
}

/* --- Rejoining -------------------------------------------------------- */

static void
rejoin(Room *room)
{
	xmlnode *presence = xmlnode_new("presence");
	xmlnode *x, *history;
	g_autofree char *to = g_strdup_printf("%s/%s", room->jid, room->nick);
	g_autoptr(GDateTime) since =
		g_date_time_new_from_unix_utc(room->last_seen / G_USEC_PER_SEC);
	g_autofree char *stamp = g_date_time_format(since, "%FT%TZ");

	purple_debug_info(ID, "not in %s any more: rejoining\n", room->jid);
	room->rejoining = TRUE;
	g_clear_pointer(&room->seen, g_hash_table_unref);
	room->seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   NULL);
	xmlnode_set_attrib(presence, "to", to);
	x = xmlnode_new_child(presence, "x");
	xmlnode_set_namespace(x, PXM_NS_MUC);
	if (room->password != NULL && *room->password != '\0')
		xmlnode_insert_data(xmlnode_new_child(x, "password"),
				    room->password, -1);
	/* XEP-0045 section 7.2.14: what was said since the room was last
	 * heard from; what was shown already is recognised by its id. */
	history = xmlnode_new_child(x, "history");
	xmlnode_set_attrib(history, "since", stamp);
	/* No answer at all: ask again after a quiet period. */
	arm(room, room->state->quiet_ms);
	pxm_account_send(room->state->account, presence);
}

/* After a rejoin the room sent everyone who is in it now; whoever the
 * conversation still lists left while we were out. */
static void
prune_occupants(State *state, Room *room)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	PurpleConversation *conv;
	GList *gone = NULL;

	if (pa == NULL || room->seen == NULL)
		return;
	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT,
						     room->jid, pa);
	if (conv == NULL)
		return;
	for (GList *l = purple_conv_chat_get_users(PURPLE_CONV_CHAT(conv));
	     l != NULL; l = l->next) {
		const char *name = purple_conv_chat_cb_get_name(l->data);

		if (!g_hash_table_contains(room->seen, name) &&
		    g_strcmp0(name, room->nick) != 0)
			gone = g_list_prepend(gone, g_strdup(name));
	}
	if (gone != NULL)
		purple_conv_chat_remove_users(PURPLE_CONV_CHAT(conv), gone,
					      NULL);
	g_list_free_full(gone, g_free);
}

static void
notice(State *state, Room *room, const char *text)
{
	g_autofree char *html = g_markup_escape_text(text, -1);

	pxm_presenter_notice(state->account, room->jid, TRUE, html);
}

/* --- Pinging ---------------------------------------------------------- */

typedef enum {
	OUTCOME_JOINED,
	OUTCOME_NOT_JOINED,
	OUTCOME_UNKNOWN,    /* no answer: try again later */
	OUTCOME_CHECK_ROOM, /* item-not-found: the room may be gone */
	OUTCOME_NONE,       /* we went offline or stopped */
} Outcome;

/* The defined condition of an error reply (the host puts it first in the
 * message, before ": text"). */
static char *
condition_dup(const GError *error)
{
	return g_strndup(error->message, strcspn(error->message, ": "));
}

/* Section 3.2, the answers to a self-ping. */
static Outcome
classify(const GError *error)
{
	g_autofree char *condition = NULL;

	if (error == NULL)
		return OUTCOME_JOINED; /* a result: still joined */
	if (error->domain != PXM_IQ_ERROR)
		return OUTCOME_NONE;
	switch ((PxmIqError)error->code) {
	case PXM_IQ_ERROR_TIMEOUT:
		/* "the MUC service (or another client) is unreachable":
		 * ask again later, never conclude from silence. */
		return OUTCOME_UNKNOWN;
	case PXM_IQ_ERROR_DISCONNECTED:
	case PXM_IQ_ERROR_CANCELLED:
		return OUTCOME_NONE;
	case PXM_IQ_ERROR_STANZA:
		break;
	}
	condition = condition_dup(error);
	/* "joined, but the pinged client does not implement XEP-0199". */
	if (g_str_equal(condition, "service-unavailable") ||
	    g_str_equal(condition, "feature-not-implemented"))
		return OUTCOME_JOINED;
	/* "treat like a timeout". */
	if (g_str_equal(condition, "remote-server-not-found") ||
	    g_str_equal(condition, "remote-server-timeout"))
		return OUTCOME_UNKNOWN;
	/* "joined, but the occupant just changed their name" -- or, from
	 * a service whose room no longer exists (Prosody after a restart
	 * of a temporary room), the room itself is not found: asked. */
	if (g_str_equal(condition, "item-not-found"))
		return OUTCOME_CHECK_ROOM;
	/* "Any other error: the client is probably not joined any more. It
	 * should perform a re-join." */
	return OUTCOME_NOT_JOINED;
}

static void on_room_info(PxmAccount *account, xmlnode *result,
			 const GError *error, gpointer data);

static void
apply(Room *room, Outcome outcome)
{
	State *state = room->state;
	guint wait;

	switch (outcome) {
	case OUTCOME_JOINED:
		room->unanswered = 0;
		touch(room);
		arm(room, state->quiet_ms);
		break;
	case OUTCOME_UNKNOWN:
		/* Back-off, bounded: no false alarm on a slow link. */
		room->unanswered++;
		wait = state->retry_ms;
		for (guint i = 1; i < room->unanswered && wait < G_MAXUINT / 2;
		     i++)
			wait *= 2;
		wait = MIN(wait, state->retry_max_ms);
		purple_debug_info(ID,
				  "%s did not answer (%u in a row): asking "
				  "again in %u s\n",
				  room->jid, room->unanswered, wait / 1000);
		arm(room, wait);
		break;
	case OUTCOME_CHECK_ROOM: {
		xmlnode *iq = xmlnode_new("iq");
		Ping *ping = g_new0(Ping, 1);

		xmlnode_set_attrib(iq, "type", "get");
		xmlnode_set_attrib(iq, "to", room->jid);
		xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
				      PXM_NS_DISCO_INFO);
		ping->state = g_rc_box_acquire(state);
		ping->room = g_strdup(room->jid);
		room->pinging = TRUE;
		pxm_account_send_iq(state->account, iq, state->timeout_ms,
				    on_room_info, ping,
				    (GDestroyNotify)ping_free);
		break;
	}
	case OUTCOME_NOT_JOINED:
		room->unanswered = 0;
		rejoin(room);
		break;
	case OUTCOME_NONE:
		break;
	}
}

/* The room after an item-not-found to our nick: a room that is not found
 * (or gone) does not have us; one that answers does (a nick change of
 * another client of ours was under way). */
static void
on_room_info(PxmAccount *account, xmlnode *result, const GError *error,
	     gpointer data)
{
	Ping *ping = data;
	Room *room;
	Outcome outcome = OUTCOME_JOINED;
	g_autofree char *condition = NULL;

	if (ping->state->stopped ||
	    (room = g_hash_table_lookup(ping->state->rooms, ping->room)) ==
		    NULL)
		return;
	room->pinging = FALSE;
	if (error != NULL) {
		outcome = classify(error);
		if (outcome == OUTCOME_CHECK_ROOM)
			outcome = OUTCOME_NOT_JOINED;
		else if (error->code == PXM_IQ_ERROR_STANZA &&
			 (condition = condition_dup(error)) != NULL &&
			 g_str_equal(condition, "gone"))
			outcome = OUTCOME_NOT_JOINED;
		else if (outcome == OUTCOME_NOT_JOINED)
			/* The room answers, if not to disco: it exists. */
			outcome = OUTCOME_JOINED;
	}
	apply(room, outcome);
}

static void
on_pong(PxmAccount *account, xmlnode *result, const GError *error,
	gpointer data)
{
	Ping *ping = data;
	Room *room;

	if (ping->state->stopped ||
	    (room = g_hash_table_lookup(ping->state->rooms, ping->room)) ==
		    NULL)
		return;
	room->pinging = FALSE;
	apply(room, classify(error));
}

static void
ping_room(Room *room)
{
	State *state = room->state;
	xmlnode *iq;
	Ping *ping;
	g_autofree char *to = NULL;

	/* Section 4: not while a nick change we asked for is pending (the
	 * room may not accept the new nick). */
	if (room->pinging || room->nick_change) {
		arm(room, state->quiet_ms);
		return;
	}
	to = g_strdup_printf("%s/%s", room->jid, room->nick);
	iq = xmlnode_new("iq");
	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", to);
	xmlnode_set_namespace(xmlnode_new_child(iq, "ping"), PXM_NS_PING);
	ping = g_new0(Ping, 1);
	ping->state = g_rc_box_acquire(state);
	ping->room = g_strdup(room->jid);
	room->pinging = TRUE;
	purple_debug_info(ID, "%s is quiet: pinging our occupant\n", room->jid);
	pxm_account_send_iq(state->account, iq, state->timeout_ms, on_pong,
			    ping, (GDestroyNotify)ping_free);
}

/* --- Stages ----------------------------------------------------------- */

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

static Room *
room_new(State *state, const char *jid, const char *nick, const char *password)
{
	Room *room = g_new0(Room, 1);

	room->state = state;
	room->jid = g_strdup(jid);
	room->nick = g_strdup(nick);
	room->password = g_strdup(password);
	touch(room);
	g_hash_table_replace(state->rooms, room->jid, room);
	arm(room, state->quiet_ms);
	return room;
}

/* The user is in @jid as libpurple knows it (e.g. joined before the
 * plugin was loaded: we did not see the join). */
static gboolean
chat_open(State *state, const char *jid)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	PurpleConversation *conv =
		pa != NULL ? purple_find_conversation_with_account(
				     PURPLE_CONV_TYPE_CHAT, jid, pa)
			   : NULL;

	return conv != NULL &&
	       !purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv));
}

/* Our own presence in a room (XEP-0045 status 110). */
static void
self_presence(State *state, PxmStanza *st, Room *room, const char *jid,
	      const char *nick, xmlnode *x)
{
	char *password = NULL;

	if (g_strcmp0(st->type, "unavailable") == 0) {
		/* Section 7.6: a nick change leaves under the old nick with
		 * 303 and the new one. */
		if (has_status(x, "303") && room != NULL) {
			xmlnode *item = pxm_xml_child(x, "item", NULL);
			const char *new_nick =
				item != NULL ? xmlnode_get_attrib(item, "nick")
					     : NULL;

			if (new_nick != NULL && *new_nick != '\0') {
				g_free(room->nick);
				room->nick = g_strdup(new_nick);
			}
			return;
		}
		/* Left, kicked, banned, room destroyed: not ours to rejoin. */
		g_hash_table_remove(state->rooms, jid);
		return;
	}
	if (st->type != NULL)
		return;
	if (room == NULL) {
		/* XEP-0045 section 7.2.2: anyone can send a presence that
		 * claims to be our own in some room; only rooms we asked to
		 * join are watched (and pinged). */
		if (!g_hash_table_lookup_extended(state->joining, jid, NULL,
						  (gpointer *)&password) &&
		    !chat_open(state, jid)) {
			purple_debug_warning(ID,
					     "ignoring a self-presence "
					     "from a room we did not join\n");
			return;
		}
		room_new(state, jid, nick,
			 password != NULL && *password != '\0' ? password
							       : NULL);
		g_hash_table_remove(state->joining, jid);
		return;
	}
	g_free(room->nick);
	room->nick = g_strdup(nick);
	room->nick_change = FALSE;
	if (room->rejoining) {
		room->rejoining = FALSE;
		room->unanswered = 0;
		prune_occupants(state, room);
		g_clear_pointer(&room->seen, g_hash_table_unref);
		notice(state, room,
		       _("The connection to this room was lost; rejoined."));
	}
	arm(room, state->quiet_ms);
}

static void
handle_presence(State *state, PxmStanza *st, Room *room, const char *jid)
{
	xmlnode *x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER);
	const char *nick = pxm_jid_resource_peek(st->from);

	if (g_strcmp0(st->type, "error") == 0) {
		if (room != NULL && room->rejoining) {
			notice(state, room,
			       _("The connection to this room was lost, and "
				 "rejoining it failed."));
			g_hash_table_remove(state->rooms, jid);
		}
		return;
	}
	if (x == NULL || nick == NULL)
		return;
	if (has_status(x, "110")) {
		self_presence(state, st, room, jid, nick, x);
		return;
	}
	if (room != NULL && room->seen != NULL && st->type == NULL)
		g_hash_table_add(room->seen, g_strdup(nick));
}

static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	g_autofree char *jid = NULL;
	Room *room;

	/* Most stanzas come from contacts while we are in no room. */
	if (st->kind != PXM_STANZA_PRESENCE &&
	    g_hash_table_size(state->rooms) == 0)
		return PXM_VERDICT_CONTINUE;
	jid = pxm_jid_bare_dup(st->from);
	if (jid == NULL)
		return PXM_VERDICT_CONTINUE;
	room = g_hash_table_lookup(state->rooms, jid);
	/* Anything from the room shows we are still in: no ping needed. */
	if (room != NULL && g_strcmp0(st->type, "error") != 0)
		touch(room);
	if (st->kind == PXM_STANZA_PRESENCE)
		handle_presence(state, st, room, jid);
	return PXM_VERDICT_CONTINUE;
}

/* Our presences to rooms: joins (nick and password to rejoin with), nick
 * changes, leaving.  Only records: idempotent under resends. */
static PxmVerdict
compose(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	g_autofree char *jid = NULL;
	const char *nick = pxm_jid_resource_peek(st->to);
	xmlnode *x, *password;
	Room *room;

	if (nick == NULL || (jid = pxm_jid_bare_dup(st->to)) == NULL)
		return PXM_VERDICT_CONTINUE;
	room = g_hash_table_lookup(state->rooms, jid);
	if (g_strcmp0(st->type, "unavailable") == 0) {
		g_hash_table_remove(state->rooms, jid);
		g_hash_table_remove(state->joining, jid);
		return PXM_VERDICT_CONTINUE;
	}
	if (st->type != NULL)
		return PXM_VERDICT_CONTINUE;
	x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC);
	if (x == NULL) {
		if (room != NULL && g_strcmp0(nick, room->nick) != 0)
			room->nick_change = TRUE;
		return PXM_VERDICT_CONTINUE;
	}
	password = pxm_xml_child(x, "password", NULL);
	if (room != NULL) {
		/* Our own rejoin, or the user joining again. */
		g_autofree char *pw =
			password != NULL ? xmlnode_get_data(password) : NULL;

		if (pw != NULL) {
			g_free(room->password);
			room->password = g_steal_pointer(&pw);
		}
		return PXM_VERDICT_CONTINUE;
	}
	g_hash_table_replace(state->joining, g_strdup(jid),
			     password != NULL ? xmlnode_get_data(password)
					      : g_strdup(""));
	return PXM_VERDICT_CONTINUE;
}

/* --- Start and stop --------------------------------------------------- */

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_rc_box_new0(State);
	/* The manifest's default is section 3.2's "adequate amount of
	 * silence (e.g. 15 minutes)". */
	int quiet_s = pxm_account_get_option_int(account,
						 PXM_SELF_PING_QUIET_SETTING);

	quiet_s = CLAMP(quiet_s, 1, 24 * 3600);
	state->account = account;
	state->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					     (GDestroyNotify)room_free);
	state->joining = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       g_free);
	state->quiet_ms = (guint)quiet_s * 1000;
	/* A short quiet period (tests) retries sooner too. */
	state->retry_ms = MIN(RETRY_MS, state->quiet_ms);
	state->retry_max_ms = state->quiet_ms;
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	state->stopped = TRUE;
	/* The timers point at the rooms: gone with them. */
	g_hash_table_remove_all(state->rooms);
	state_unref(state);
}

const PxmExtensionClass pxm_xep0410_muc_self_ping = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_COMPOSE] = compose,
	},
};

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO in private rooms: members-only, non-anonymous rooms only
 * (XEP-0384 0.3.0 section 6.1 / OMEMO 2 section 5.4), where every
 * occupant's real JID is visible and nobody outside the member list can
 * join to read along.
 */
#include "../../host/extension.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "omemo-rooms.h"

#define ID "xep0384-omemo"
/* The same key the conversation setting of contacts uses. */
#define KV_CONVERSATION "conversation:"
/* Hostile rooms and long sessions: bounds on what presence can grow. */
#define ROOMS_MAX 500
#define OCCUPANTS_MAX 2000
#define SENT_MAX 200

typedef enum {
	ASK_NONE,
	ASK_PENDING,
	ASK_DONE,
} Ask;

typedef struct {
	char *body;
	char *html;
} Sent;

typedef struct {
	char *jid;
	gboolean joined;
	char *own_nick;
	GHashTable *occupants;  /* nick -> real bare JID */
	GHashTable *affiliated; /* real bare JID (set) */
	Ask disco;
	char *refusal;   /* after disco: NULL when private */
	gboolean set_on; /* the user asked /omemo on: answer when known */
	Ask list;
	guint list_outstanding;
	GHashTable *sent; /* message id -> Sent */
	GQueue sent_order;
} Room;

struct PxmOmemoRooms {
	PxmAccount *account;
	GHashTable *rooms; /* bare JID -> Room */
	gboolean stopped;
	void (*kick)(gpointer);
	gpointer kick_data;
};

typedef struct PxmOmemoRooms Rooms;

static void
sent_free(Sent *s)
{
	if (s->body != NULL)
		memset(s->body, 0, strlen(s->body));
	g_free(s->body);
	g_free(s->html);
	g_free(s);
}

static void
room_free(Room *r)
{
	g_free(r->jid);
	g_free(r->own_nick);
	g_hash_table_unref(r->occupants);
	g_hash_table_unref(r->affiliated);
	g_free(r->refusal);
	g_hash_table_unref(r->sent);
	g_queue_clear_full(&r->sent_order, g_free);
	g_free(r);
}

static Room *
room_get(Rooms *rooms, const char *jid, gboolean create)
{
	Room *r = g_hash_table_lookup(rooms->rooms, jid);

	if (r != NULL || !create)
		return r;
	if (g_hash_table_size(rooms->rooms) >= ROOMS_MAX) {
		purple_debug_warning(ID, "too many rooms tracked: ignoring "
					 "presence from a new one\n");
		return NULL;
	}
	r = g_new0(Room, 1);
	r->jid = g_strdup(jid);
	r->occupants = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     g_free);
	r->affiliated = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					      NULL);
	r->sent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					(GDestroyNotify)sent_free);
	g_queue_init(&r->sent_order);
	g_hash_table_insert(rooms->rooms, r->jid, r);
	return r;
}

static void
rooms_clear(Rooms *rooms)
{
	g_hash_table_unref(rooms->rooms);
}

static Rooms *
rooms_ref(Rooms *rooms)
{
	return g_rc_box_acquire(rooms);
}

static void
rooms_unref(Rooms *rooms)
{
	g_rc_box_release_full(rooms, (GDestroyNotify)rooms_clear);
}

PxmOmemoRooms *
pxm_omemo_rooms_new(PxmAccount *account, void (*kick)(gpointer),
		    gpointer kick_data)
{
	Rooms *rooms = g_rc_box_new0(Rooms);

	rooms->account = account;
	rooms->kick = kick;
	rooms->kick_data = kick_data;
	rooms->rooms = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					     (GDestroyNotify)room_free);
	return rooms;
}

void
pxm_omemo_rooms_free(PxmOmemoRooms *rooms)
{
	rooms->stopped = TRUE;
	rooms_unref(rooms);
}

static void
line(Rooms *rooms, const char *room, const char *html)
{
	pxm_presenter_notice(rooms->account, room, TRUE, html);
}

/* --- Presence ----------------------------------------------------------- */

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

PxmVerdict
pxm_omemo_rooms_presence(PxmOmemoRooms *rooms, PxmStanza *st)
{
	xmlnode *x = pxm_xml_child(st->stanza, "x", PXM_NS_MUC_USER);
	xmlnode *item = pxm_xml_child(x, "item", NULL);
	g_autofree char *occupant = NULL;
	g_autofree char *room = NULL;
	g_autofree char *real = NULL;
	const char *nick;
	Room *r;

	/* XEP-0045 section 7.2.3: an occupant's presence comes from the room
	 * as room@service/nick; one from a bare JID, or of another type
	 * than available/unavailable, says nothing about occupants. */
	if (x == NULL || st->from == NULL ||
	    (occupant = pxm_jid_normalize_dup(st->from)) == NULL ||
	    (nick = pxm_jid_resource_peek(occupant)) == NULL ||
	    (st->type != NULL && !g_str_equal(st->type, "unavailable")))
		return PXM_VERDICT_CONTINUE;
	room = g_strndup(occupant, nick - 1 - occupant);
	if (g_strcmp0(st->type, "unavailable") == 0) {
		r = room_get(rooms, room, FALSE);
		if (r == NULL)
			return PXM_VERDICT_CONTINUE;
		if (has_status(x, "110") && !has_status(x, "303")) {
			/* We left: what we knew of the room may be stale
			 * when we are back. */
			g_hash_table_remove(rooms->rooms, room);
			return PXM_VERDICT_CONTINUE;
		}
		g_hash_table_remove(r->occupants, nick);
		return PXM_VERDICT_CONTINUE;
	}
	r = room_get(rooms, room, TRUE);
	if (r == NULL)
		return PXM_VERDICT_CONTINUE;
	/* Status 110: our own presence, the last of a join (section 7.2.3):
	 * from then on we are in the room. */
	if (has_status(x, "110")) {
		r->joined = TRUE;
		g_free(r->own_nick);
		r->own_nick = g_strdup(nick);
	}
	/* The occupant's own presence, as the room relays it, carries its
	 * real JID in non-anonymous rooms (section 7.2.4). */
	if (item != NULL && xmlnode_get_attrib(item, "jid") != NULL)
		real = pxm_jid_bare_dup(xmlnode_get_attrib(item, "jid"));
	if (real == NULL) {
		g_hash_table_remove(r->occupants, nick);
		return PXM_VERDICT_CONTINUE;
	}
	if (!g_hash_table_contains(r->occupants, nick) &&
	    g_hash_table_size(r->occupants) >= OCCUPANTS_MAX) {
		purple_debug_warning(ID,
				     "too many occupants in %s: ignoring "
				     "a new one\n",
				     room);
		return PXM_VERDICT_CONTINUE;
	}
	g_hash_table_replace(r->occupants, g_strdup(nick),
			     g_steal_pointer(&real));
	return PXM_VERDICT_CONTINUE;
}

static Room *
joined_room(Rooms *rooms, const char *occupant, const char **nick)
{
	g_autofree char *norm = pxm_jid_normalize_dup(occupant);
	g_autofree char *room = pxm_jid_bare_dup(occupant);
	Room *r = room != NULL ? room_get(rooms, room, FALSE) : NULL;

	if (r == NULL || !r->joined || norm == NULL)
		return NULL;
	/* The nick is compared as the room wrote it (normalised). */
	*nick = pxm_jid_resource_peek(occupant);
	return *nick != NULL ? r : NULL;
}

gboolean
pxm_omemo_rooms_is_joined(PxmOmemoRooms *rooms, const char *room)
{
	Room *r = room != NULL ? room_get(rooms, room, FALSE) : NULL;

	return r != NULL && r->joined;
}

const char *
pxm_omemo_rooms_real_jid(PxmOmemoRooms *rooms, const char *occupant)
{
	g_autofree char *norm = pxm_jid_normalize_dup(occupant);
	const char *nick = NULL;
	Room *r = norm != NULL ? joined_room(rooms, norm, &nick) : NULL;

	return r != NULL ? g_hash_table_lookup(r->occupants, nick) : NULL;
}

gboolean
pxm_omemo_rooms_is_own_nick(PxmOmemoRooms *rooms, const char *occupant)
{
	g_autofree char *norm = pxm_jid_normalize_dup(occupant);
	const char *nick = NULL;
	Room *r = norm != NULL ? joined_room(rooms, norm, &nick) : NULL;

	return r != NULL && g_strcmp0(r->own_nick, nick) == 0;
}

static void
add_member(GPtrArray *out, Rooms *rooms, const char *jid)
{
	if (pxm_account_is_own_bare_jid(rooms->account, jid))
		return;
	for (guint i = 0; i < out->len; i++)
		if (g_str_equal(out->pdata[i], jid))
			return;
	g_ptr_array_add(out, g_strdup(jid));
}

static gint
compare_strings(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

GPtrArray *
pxm_omemo_rooms_members_dup(PxmOmemoRooms *rooms, const char *room)
{
	GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
	Room *r = room != NULL ? room_get(rooms, room, FALSE) : NULL;
	GHashTableIter iter;
	gpointer key, value;

	if (r == NULL || !r->joined)
		return out;
	g_hash_table_iter_init(&iter, r->occupants);
	while (g_hash_table_iter_next(&iter, &key, &value))
		add_member(out, rooms, value);
	g_hash_table_iter_init(&iter, r->affiliated);
	while (g_hash_table_iter_next(&iter, &key, &value))
		add_member(out, rooms, key);
	g_ptr_array_sort(out, compare_strings);
	return out;
}

/* --- Disco and member list ------------------------------------------------ */

static gboolean
has_feature(xmlnode *query, const char *var)
{
	for (xmlnode *c = query != NULL ? query->child : NULL; c != NULL;
	     c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    g_str_equal(c->name, "feature") &&
		    g_strcmp0(xmlnode_get_attrib(c, "var"), var) == 0)
			return TRUE;
	return FALSE;
}

char *
pxm_omemo_rooms_check_features(xmlnode *query)
{
	/* XEP-0384: OMEMO is only for rooms whose members are known and
	 * whose real JIDs are visible to us (muc_membersonly and
	 * muc_nonanonymous, XEP-0045 section 17.1). */
	gboolean members_only = has_feature(query, "muc_membersonly");
	gboolean non_anonymous = has_feature(query, "muc_nonanonymous");

	if (members_only && non_anonymous)
		return NULL;
	if (!members_only && !non_anonymous)
		return g_strdup(_("this room is open to anyone and hides the "
				  "addresses of its members."));
	if (!members_only)
		return g_strdup(_("this room is open to anyone, not only "
				  "to its members."));
	return g_strdup(_("this room hides the addresses of its members, "
			  "so their devices cannot be found."));
}

typedef struct {
	Rooms *rooms;
	char *room;
} Request;

static void
ask_free(Request *a)
{
	rooms_unref(a->rooms);
	g_free(a->room);
	g_free(a);
}

static Request *
ask_new(Rooms *rooms, const char *room)
{
	Request *a = g_new0(Request, 1);

	a->rooms = rooms_ref(rooms);
	a->room = g_strdup(room);
	return a;
}

static void
answer_set_on(Rooms *rooms, Room *r)
{
	g_autofree char *html = NULL;

	if (!r->set_on)
		return;
	r->set_on = FALSE;
	if (r->refusal == NULL) {
		PxmStore *store = pxm_account_get_store(rooms->account);
		g_autofree char *key = g_strconcat(KV_CONVERSATION, r->jid,
						   NULL);

		if (store != NULL)
			pxm_store_kv_set_string(store, ID, key, "on", NULL);
		line(rooms, r->jid,
		     _("OMEMO encryption is on for this room: messages are "
		       "encrypted for the devices of every member."));
		return;
	}
	html = g_markup_printf_escaped(
		/* TRANSLATORS: %s: the reason, a sentence */
		_("OMEMO cannot be turned on in this room: %s It needs a "
		  "members-only room that shows members' addresses."),
		r->refusal);
	line(rooms, r->jid, html);
}

static void
on_disco(PxmAccount *account, xmlnode *result, const GError *error,
	 gpointer data)
{
	Request *a = data;
	Room *r;

	if (a->rooms->stopped ||
	    (r = room_get(a->rooms, a->room, FALSE)) == NULL)
		return;
	r->disco = ASK_DONE;
	g_free(r->refusal);
	if (error != NULL)
		r->refusal = g_strdup_printf(
			/* TRANSLATORS: %s: an error from the server */
			_("the room did not say whether it is private (%s)."),
			error->message);
	else
		r->refusal = pxm_omemo_rooms_check_features(
			pxm_xml_child(result, "query", PXM_NS_DISCO_INFO));
	answer_set_on(a->rooms, r);
	if (a->rooms->kick != NULL)
		a->rooms->kick(a->rooms->kick_data);
}

static void
ask_disco(Rooms *rooms, Room *r)
{
	xmlnode *iq = xmlnode_new("iq");

	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", r->jid);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	r->disco = ASK_PENDING;
	pxm_account_send_iq(rooms->account, iq, 0, on_disco,
			    ask_new(rooms, r->jid), (GDestroyNotify)ask_free);
}

static void
on_affiliations(PxmAccount *account, xmlnode *result, const GError *error,
		gpointer data)
{
	Request *a = data;
	xmlnode *query = pxm_xml_child(result, "query", PXM_NS_MUC_ADMIN);
	Room *r;

	if (a->rooms->stopped ||
	    (r = room_get(a->rooms, a->room, FALSE)) == NULL)
		return;
	/* Members may not be allowed to read the list (XEP-0045 section
	 * 9.5 leaves it to the room): the room's presence is then all we
	 * know. */
	if (error != NULL)
		purple_debug_info(ID, "member list of %s: %s\n", a->room,
				  error->message);
	for (xmlnode *c = query != NULL ? query->child : NULL; c != NULL;
	     c = c->next) {
		const char *aff;
		g_autofree char *jid = NULL;

		if (c->type != XMLNODE_TYPE_TAG ||
		    !g_str_equal(c->name, "item"))
			continue;
		aff = xmlnode_get_attrib(c, "affiliation");
		jid = pxm_jid_bare_dup(xmlnode_get_attrib(c, "jid"));
		if (jid == NULL || pxm_jid_resource_peek(jid) != NULL ||
		    (g_strcmp0(aff, "member") != 0 &&
		     g_strcmp0(aff, "admin") != 0 &&
		     g_strcmp0(aff, "owner") != 0) ||
		    g_hash_table_size(r->affiliated) >= OCCUPANTS_MAX)
			continue;
		g_hash_table_add(r->affiliated, g_steal_pointer(&jid));
	}
	if (r->list_outstanding > 0 && --r->list_outstanding == 0) {
		r->list = ASK_DONE;
		if (a->rooms->kick != NULL)
			a->rooms->kick(a->rooms->kick_data);
	}
}

static void
ask_members(Rooms *rooms, Room *r)
{
	static const char *const affiliations[] = { "member", "admin",
						    "owner" };

	r->list = ASK_PENDING;
	r->list_outstanding = G_N_ELEMENTS(affiliations);
	for (guint i = 0; i < G_N_ELEMENTS(affiliations); i++) {
		xmlnode *iq = xmlnode_new("iq");
		xmlnode *query = xmlnode_new_child(iq, "query");

		xmlnode_set_attrib(iq, "type", "get");
		xmlnode_set_attrib(iq, "to", r->jid);
		xmlnode_set_namespace(query, PXM_NS_MUC_ADMIN);
		xmlnode_set_attrib(xmlnode_new_child(query, "item"),
				   "affiliation", affiliations[i]);
		pxm_account_send_iq(rooms->account, iq, 0, on_affiliations,
				    ask_new(rooms, r->jid),
				    (GDestroyNotify)ask_free);
	}
}

gboolean
pxm_omemo_rooms_ready(PxmOmemoRooms *rooms, const char *room)
{
	Room *r = room_get(rooms, room, TRUE);

	if (r == NULL)
		return TRUE;
	if (r->disco == ASK_NONE)
		ask_disco(rooms, r);
	if (r->list == ASK_NONE)
		ask_members(rooms, r);
	return r->disco == ASK_DONE && r->list == ASK_DONE;
}

char *
pxm_omemo_rooms_refusal_dup(PxmOmemoRooms *rooms, const char *room)
{
	Room *r = room_get(rooms, room, FALSE);

	if (r == NULL || r->disco != ASK_DONE)
		return g_strdup(_("the room did not say whether it is "
				  "private."));
	if (!r->joined && r->refusal == NULL)
		return g_strdup(_("you are not in this room."));
	return g_strdup(r->refusal);
}

void
pxm_omemo_rooms_set_on(PxmOmemoRooms *rooms, const char *room)
{
	Room *r = room_get(rooms, room, TRUE);

	if (r == NULL)
		return;
	r->set_on = TRUE;
	/* Asked again: the room's configuration may have changed. */
	if (r->disco != ASK_PENDING)
		ask_disco(rooms, r);
	if (r->list == ASK_NONE)
		ask_members(rooms, r);
}

/* --- Messages --------------------------------------------------------------- */

void
pxm_omemo_rooms_remember_sent(PxmOmemoRooms *rooms, const char *room,
			      const char *id, const char *body,
			      const char *html)
{
	Room *r = room_get(rooms, room, FALSE);
	Sent *s;

	if (r == NULL || id == NULL)
		return;
	if (g_queue_get_length(&r->sent_order) >= SENT_MAX) {
		char *old = g_queue_pop_head(&r->sent_order);

		g_hash_table_remove(r->sent, old);
		g_free(old);
	}
	s = g_new0(Sent, 1);
	s->body = g_strdup(body);
	s->html = g_strdup(html);
	g_hash_table_replace(r->sent, g_strdup(id), s);
	g_queue_push_tail(&r->sent_order, g_strdup(id));
}

static void
cannot_decrypt(Rooms *rooms, const PxmStanza *st, const char *room,
	       const char *nick, const char *why)
{
	g_autofree char *html = NULL;

	purple_debug_warning(ID, "not decrypting a message in %s: %s\n", room,
			     why);
	/* Room history replayed at join: old news, no line each. */
	if (st->timestamp != 0 || st->origin != PXM_ORIGIN_LIVE)
		return;
	html = g_markup_printf_escaped(
		/* TRANSLATORS: %s: a nick in a room */
		_("Could not decrypt a message from %s: their address is not "
		  "known (the room does not show it, or they left)."),
		nick);
	line(rooms, room, html);
}

gboolean
pxm_omemo_rooms_incoming(PxmOmemoRooms *rooms, PxmStanza *st,
			 gboolean encrypted, gboolean element, char **sender,
			 PxmVerdict *verdict)
{
	g_autofree char *room = pxm_jid_bare_dup(st->from);
	const char *nick = pxm_jid_resource_peek(st->from);
	const char *real;
	Room *r;

	*verdict = PXM_VERDICT_CONTINUE;
	/* The room's own messages (subject, status) are not a member's. */
	if (room == NULL || nick == NULL)
		return FALSE;
	if (!element) {
		/* Issue 5: plaintext in an encrypted room is shown with a
		 * warning. */
		if (encrypted && pxm_stanza_has_body(st) &&
		    pxm_stanza_is_chat(st)) {
			g_autofree char *text = xmlnode_get_data(
				pxm_xml_child(st->message, "body", NULL));
			g_autofree char *escaped = g_markup_escape_text(
				text != NULL ? text : "", -1);

			pxm_stanza_set(&st->body, text);
			g_free(st->html);
			st->html = g_strdup_printf(
				"%s %s", _("<i>(not encrypted)</i>"), escaped);
		}
		return FALSE;
	}
	r = room_get(rooms, room, FALSE);
	if (r == NULL || !r->joined) {
		purple_debug_warning(ID, "dropping an OMEMO groupchat message "
					 "from a room we are not in\n");
		*verdict = PXM_VERDICT_DROP;
		return FALSE;
	}
	/* Our own message, reflected by the room (XEP-0045 section 7.4):
	 * not encrypted for this device; shown with what we sent. */
	if (g_strcmp0(r->own_nick, nick) == 0 && st->id != NULL) {
		Sent *s = g_hash_table_lookup(r->sent, st->id);

		if (s != NULL) {
			st->encrypted = TRUE;
			pxm_stanza_set(&st->body, s->body);
			g_free(st->html);
			st->html = g_strdup(s->html);
			g_hash_table_remove(r->sent, st->id);
			return FALSE;
		}
	}
	/* XEP-0384: the sender's keys are those of its real JID, which only
	 * the occupant's own presence in this room tells. */
	real = g_strcmp0(r->own_nick, nick) == 0
		       ? pxm_account_get_bare_jid(rooms->account)
		       : g_hash_table_lookup(r->occupants, nick);
	if (real == NULL) {
		cannot_decrypt(rooms, st, room, nick, "unknown real JID");
		*verdict = PXM_VERDICT_CONSUMED;
		return FALSE;
	}
	*sender = g_strdup(real);
	return TRUE;
}

gboolean
pxm_omemo_rooms_command(PxmOmemoRooms *rooms, gboolean encrypted,
			const char *room, const char *verb, PurpleCmdRet *ret,
			char **text, char **error)
{
	*ret = PURPLE_CMD_RET_OK;
	if (g_str_equal(verb, "on")) {
		/* The answer is a line in the room once the room said
		 * whether it is private. */
		pxm_omemo_rooms_set_on(rooms, room);
		return TRUE;
	}
	if (g_str_equal(verb, "off")) {
		PxmStore *store = pxm_account_get_store(rooms->account);
		g_autofree char *key = g_strconcat(KV_CONVERSATION, room, NULL);

		if (store != NULL)
			pxm_store_kv_set_string(store, ID, key, "off", NULL);
		*text = g_strdup(_("OMEMO encryption is off for this room."));
		return TRUE;
	}
	if (g_str_equal(verb, "status")) {
		g_autoptr(GPtrArray) members = NULL;
		g_autoptr(GString) list = NULL;

		if (!encrypted) {
			*text = g_strdup(_("OMEMO encryption is off for this "
					   "room (rooms are encrypted only "
					   "when you type /omemo on)."));
			return TRUE;
		}
		members = pxm_omemo_rooms_members_dup(rooms, room);
		list = g_string_new(NULL);
		for (guint i = 0; i < members->len; i++) {
			g_autofree char *m =
				g_markup_escape_text(members->pdata[i], -1);

			g_string_append_printf(list, "%s%s", i > 0 ? ", " : "",
					       m);
		}
		*text = g_strdup_printf(
			/* TRANSLATORS: %s: a list of addresses */
			_("OMEMO encryption is on for this room. Members: %s"),
			list->str);
		return TRUE;
	}
	(void)error;
	return FALSE;
}

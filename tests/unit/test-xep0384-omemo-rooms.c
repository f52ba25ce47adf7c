// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0384 OMEMO in private rooms: members from the room's presence
 * (real JIDs, joins and leaves, forged and foreign presence ignored),
 * refusal of open or anonymous rooms, and encrypted room messages between
 * three in-process accounts through a small room, PEP and message router.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "extensions/xep0384-omemo/omemo-protocol.h"
#include "extensions/xep0384-omemo/omemo-rooms.h"
#include "extensions/xep0384-omemo/xep0384-omemo.h"
#include "host.h"
#include "pxm-test-account.h"
#include "pxm-test-omemo-net.h"
#include "pxm-test.h"

#define ID "xep0384-omemo"
#define ROOM "chapel@rooms.verona.lit"

/* What the room says about itself (disco#info features). */
static const char *room_features[3];
/* A member the room's member list names (NULL: members may not read
 * it, as Prosody answers by default). */
static const char *room_listed;

typedef struct {
	PxmTestPeer *romeo, *juliet, *nurse;
} Fixture;

static xmlnode *room_iq(xmlnode *iq);
static void room_message(PxmTestPeer *sender, xmlnode *stanza);

static void
setup(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_host_init(&error));
	pxm_test_net_init();
	pxm_test_room = ROOM;
	pxm_test_room_iq = room_iq;
	pxm_test_room_message = room_message;
	f->romeo = pxm_test_peer_new("romeo@montague.lit/orchard");
	f->juliet = pxm_test_peer_new("juliet@capulet.lit/balcony");
	pxm_test_pump();
}

static void
teardown(Fixture *f, gconstpointer data)
{
	pxm_test_net_clear();
	pxm_host_shutdown();
}

static PxmOmemo *
omemo(PxmTestPeer *p)
{
	return p->account->states[pxm_test_extension_index(ID)];
}

static guint
count_with(GPtrArray *strings, const char *needle)
{
	guint n = 0;

	for (guint i = 0; i < strings->len; i++)
		if (strstr(strings->pdata[i], needle) != NULL)
			n++;
	return n;
}

static void
forget_node(const char *owner, const char *node)
{
	g_autofree char *key = g_strdup_printf("%s %s", owner, node);

	g_hash_table_remove(pxm_test_pep, key);
}

/* --- The room -------------------------------------------------------------- */

static GPtrArray *occupants; /* PxmTestPeer*, in the room */

static char *
nick_of(const PxmTestPeer *p)
{
	return g_strndup(p->jid, strchr(p->jid, '@') - p->jid);
}

static xmlnode *
room_iq(xmlnode *iq)
{
	xmlnode *r = pxm_test_iq_reply(iq, ROOM, "result");
	xmlnode *query;

	if (pxm_xml_child(iq, "query", PXM_NS_DISCO_INFO) != NULL) {
		query = xmlnode_new_child(r, "query");
		xmlnode_set_namespace(query, PXM_NS_DISCO_INFO);
		for (guint i = 0; i < G_N_ELEMENTS(room_features); i++)
			if (room_features[i] != NULL)
				xmlnode_set_attrib(
					xmlnode_new_child(query, "feature"),
					"var", room_features[i]);
	} else if (room_listed != NULL) {
		xmlnode *item;

		query = xmlnode_new_child(r, "query");
		xmlnode_set_namespace(query, PXM_NS_MUC_ADMIN);
		item = xmlnode_new_child(query, "item");
		xmlnode_set_attrib(item, "jid", room_listed);
		xmlnode_set_attrib(item, "affiliation", "member");
	} else {
		xmlnode *error;

		xmlnode_free(r);
		r = pxm_test_iq_reply(iq, ROOM, "error");
		error = xmlnode_new_child(r, "error");
		xmlnode_set_attrib(error, "type", "auth");
		xmlnode_set_namespace(xmlnode_new_child(error, "forbidden"),
				      PXM_NS_STANZAS);
	}
	return r;
}

static void
deliver(PxmTestPeer *to, xmlnode *node)
{
	PxmTestDelivery *d = g_new0(PxmTestDelivery, 1);

	d->to = to;
	d->node = node;
	g_queue_push_tail(&pxm_test_deliveries, d);
}

/* The room relays a message to every occupant, the sender included
 * (XEP-0045 section 7.4), from the sender's nick. */
static void
room_message(PxmTestPeer *sender, xmlnode *stanza)
{
	g_autofree char *nick = nick_of(sender);
	g_autofree char *from = g_strdup_printf(ROOM "/%s", nick);

	for (guint i = 0; i < occupants->len; i++) {
		xmlnode *copy = xmlnode_copy(stanza);

		xmlnode_set_attrib(copy, "from", from);
		xmlnode_set_attrib(copy, "to",
				   ((PxmTestPeer *)occupants->pdata[i])->jid);
		deliver(occupants->pdata[i], copy);
	}
}

static xmlnode *
occupant_presence(const char *from, const char *real, const char *type,
		  gboolean self)
{
	xmlnode *p = xmlnode_new("presence");
	xmlnode *x = xmlnode_new_child(p, "x");
	xmlnode *item = xmlnode_new_child(x, "item");

	xmlnode_set_attrib(p, "from", from);
	if (type != NULL)
		xmlnode_set_attrib(p, "type", type);
	xmlnode_set_namespace(x, PXM_NS_MUC_USER);
	xmlnode_set_attrib(item, "affiliation", "member");
	xmlnode_set_attrib(item, "role", type != NULL ? "none" : "participant");
	if (real != NULL)
		xmlnode_set_attrib(item, "jid", real);
	if (self)
		xmlnode_set_attrib(xmlnode_new_child(x, "status"), "code",
				   "110");
	return p;
}

static void
presence_of(PxmTestPeer *to, PxmTestPeer *about, const char *type,
	    gboolean self)
{
	g_autofree char *nick = nick_of(about);
	g_autofree char *from = g_strdup_printf(ROOM "/%s", nick);

	deliver(to, occupant_presence(from, about->jid, type, self));
}

/* XEP-0045 section 7.2.3: the occupants' presence, then ours (110). */
static void
join(PxmTestPeer *p)
{
	for (guint i = 0; i < occupants->len; i++) {
		presence_of(p, occupants->pdata[i], NULL, FALSE);
		presence_of(occupants->pdata[i], p, NULL, FALSE);
	}
	g_ptr_array_add(occupants, p);
	presence_of(p, p, NULL, TRUE);
	pxm_test_pump();
}

static void
leave(PxmTestPeer *p)
{
	g_ptr_array_remove(occupants, p);
	for (guint i = 0; i < occupants->len; i++)
		presence_of(occupants->pdata[i], p, "unavailable", FALSE);
	pxm_test_pump();
}

/* Feeds one stanza built here to @p. */
static void
feed(PxmTestPeer *p, xmlnode *node)
{
	pxm_test_peer_receive(p, node);
	xmlnode_free(node);
}

static PxmOmemoRooms *
rooms(PxmTestPeer *p)
{
	return pxm_omemo_get_rooms(omemo(p));
}

static void
private_room(void)
{
	room_features[0] = "muc_membersonly";
	room_features[1] = "muc_nonanonymous";
	room_features[2] = "muc_persistent";
}

static void
room_setup(Fixture *f, gconstpointer data)
{
	setup(f, data);
	f->nurse = pxm_test_peer_new("nurse@capulet.lit/kitchen");
	pxm_test_pump();
	occupants = g_ptr_array_new();
	memset(room_features, 0, sizeof(room_features));
	room_listed = NULL;
}

static void
room_teardown(Fixture *f, gconstpointer data)
{
	g_ptr_array_unref(occupants);
	teardown(f, data);
}

static char *
members_str(PxmTestPeer *p)
{
	g_autoptr(GPtrArray) m = pxm_omemo_rooms_members_dup(rooms(p), ROOM);

	g_ptr_array_add(m, NULL);
	return g_strjoinv(" ", (char **)m->pdata);
}

static void
test_members(Fixture *f, gconstpointer data)
{
	g_autofree char *m1 = NULL, *m2 = NULL, *m3 = NULL, *m4 = NULL;

	join(f->juliet);
	join(f->romeo);
	m1 = members_str(f->romeo);
	g_assert_cmpstr(m1, ==, "juliet@capulet.lit");
	g_assert_cmpstr(
		pxm_omemo_rooms_real_jid(rooms(f->romeo), ROOM "/juliet"), ==,
		"juliet@capulet.lit");
	g_assert_true(
		pxm_omemo_rooms_is_own_nick(rooms(f->romeo), ROOM "/romeo"));
	g_assert_false(
		pxm_omemo_rooms_is_own_nick(rooms(f->romeo), ROOM "/juliet"));
	/* A join and a leave. */
	join(f->nurse);
	m2 = members_str(f->romeo);
	g_assert_cmpstr(m2, ==, "juliet@capulet.lit nurse@capulet.lit");
	leave(f->nurse);
	m3 = members_str(f->romeo);
	g_assert_cmpstr(m3, ==, "juliet@capulet.lit");
	g_assert_null(pxm_omemo_rooms_real_jid(rooms(f->romeo), ROOM "/nurse"));
	/* Presence from another room, from the room's bare JID, from a
	 * contact's resource posing as an occupant, and of an error type:
	 * none of it adds a member here. */
	feed(f->romeo, occupant_presence("crypt@rooms.verona.lit/tybalt",
					 "tybalt@capulet.lit", NULL, FALSE));
	feed(f->romeo,
	     occupant_presence(ROOM, "tybalt@capulet.lit", NULL, FALSE));
	feed(f->romeo, occupant_presence("juliet@capulet.lit/balcony",
					 "tybalt@capulet.lit", NULL, FALSE));
	feed(f->romeo, occupant_presence(ROOM "/tybalt", "tybalt@capulet.lit",
					 "error", FALSE));
	m4 = members_str(f->romeo);
	g_assert_cmpstr(m4, ==, "juliet@capulet.lit");
	g_assert_null(pxm_omemo_rooms_real_jid(
		rooms(f->romeo), "crypt@rooms.verona.lit/tybalt"));
	g_assert_null(pxm_omemo_rooms_real_jid(rooms(f->romeo),
					       "juliet@capulet.lit/balcony"));
	/* A room we are not in (no self-presence) has no members. */
	g_assert_false(pxm_omemo_rooms_is_joined(rooms(f->romeo),
						 "crypt@rooms.verona.lit"));
	/* We leave: the room is forgotten. */
	feed(f->romeo, occupant_presence(ROOM "/romeo", "romeo@montague.lit",
					 "unavailable", TRUE));
	g_assert_false(pxm_omemo_rooms_is_joined(rooms(f->romeo), ROOM));
	g_assert_null(
		pxm_omemo_rooms_real_jid(rooms(f->romeo), ROOM "/juliet"));
}

static xmlnode *
features(const char *a, const char *b)
{
	xmlnode *q = xmlnode_new("query");

	xmlnode_set_namespace(q, PXM_NS_DISCO_INFO);
	if (a != NULL)
		xmlnode_set_attrib(xmlnode_new_child(q, "feature"), "var", a);
	if (b != NULL)
		xmlnode_set_attrib(xmlnode_new_child(q, "feature"), "var", b);
	return q;
}

static void
check_refusal(const char *a, const char *b, gboolean refused)
{
	xmlnode *q = features(a, b);
	g_autofree char *why = pxm_omemo_rooms_check_features(q);

	xmlnode_free(q);
	if (refused)
		g_assert_nonnull(why);
	else
		g_assert_null(why);
}

static void
test_refusal(Fixture *f, gconstpointer data)
{
	check_refusal("muc_membersonly", "muc_nonanonymous", FALSE);
	check_refusal("muc_open", "muc_nonanonymous", TRUE);
	check_refusal("muc_membersonly", "muc_semianonymous", TRUE);
	check_refusal("muc_open", "muc_semianonymous", TRUE);
	check_refusal(NULL, NULL, TRUE);
	/* /omemo on in an open room: stays off, nothing is sent encrypted
	 * and the room is not taken over. */
	room_features[0] = "muc_open";
	room_features[1] = "muc_nonanonymous";
	join(f->juliet);
	join(f->romeo);
	pxm_omemo_rooms_set_on(rooms(f->romeo), ROOM);
	pxm_test_pump();
	g_assert_false(pxm_omemo_is_encrypted(omemo(f->romeo), ROOM));
	g_assert_cmpint(
		pxm_omemo_send_message(omemo(f->romeo), ROOM, "open", TRUE), ==,
		PXM_SEND_NOT_MINE);
	/* Rooms are off by default, even with members that have OMEMO. */
	g_assert_false(
		pxm_account_conversation_is_encrypted(f->romeo->account, ROOM));
	/* A private room: on. */
	private_room();
	pxm_omemo_rooms_set_on(rooms(f->romeo), ROOM);
	pxm_test_pump();
	g_assert_true(pxm_omemo_is_encrypted(omemo(f->romeo), ROOM));
	/* The room turned open since: a message is refused, not sent. */
	room_features[0] = "muc_open";
	pxm_omemo_rooms_set_on(rooms(f->romeo), ROOM);
	pxm_test_pump();
	g_ptr_array_set_size(f->romeo->sent, 0);
	g_assert_cmpint(
		pxm_omemo_send_message(omemo(f->romeo), ROOM, "now open", TRUE),
		==, PXM_SEND_QUEUED);
	pxm_test_pump();
	g_assert_cmpuint(count_with(f->romeo->sent, "<message"), ==, 0);
	g_assert_cmpuint(f->juliet->shown->len, ==, 0);
}

static void
turn_on(PxmTestPeer *p)
{
	pxm_omemo_rooms_set_on(rooms(p), ROOM);
	pxm_test_pump();
	g_assert_true(pxm_omemo_is_encrypted(omemo(p), ROOM));
}

static void
test_exchange_room(Fixture *f, gconstpointer data)
{
	guint version = GPOINTER_TO_UINT(data);

	if (version == 3)
		forget_node("nurse@capulet.lit", PXM_NS_OMEMO_DEVICES);
	private_room();
	join(f->romeo);
	join(f->juliet);
	join(f->nurse);
	turn_on(f->romeo);
	g_ptr_array_set_size(f->romeo->sent, 0);
	g_assert_cmpint(pxm_omemo_send_message(omemo(f->romeo), ROOM,
					       "Good morrow, friends", TRUE),
			==, PXM_SEND_QUEUED);
	pxm_test_pump();
	/* Every member reads it; the reflection is shown once as ours. */
	g_assert_cmpuint(f->juliet->shown->len, ==, 1);
	g_assert_cmpstr(f->juliet->shown->pdata[0], ==, "Good morrow, friends");
	g_assert_cmpuint(f->nurse->shown->len, ==, 1);
	g_assert_cmpstr(f->nurse->shown->pdata[0], ==, "Good morrow, friends");
	g_assert_cmpuint(f->romeo->shown->len, ==, 1);
	g_assert_cmpstr(f->romeo->shown->pdata[0], ==, "Good morrow, friends");
	g_assert_cmpuint(count_with(f->romeo->sent, "Good morrow"), ==, 0);
	g_assert_cmpuint(count_with(f->romeo->sent, "type='groupchat'"), ==, 1);
	if (version == 3)
		g_assert_cmpuint(count_with(f->romeo->sent,
					    "eu.siacs.conversations.axolotl'"),
				 >=, 1);
	/* Juliet answers; Romeo and the nurse decrypt it as from her real
	 * JID. */
	turn_on(f->juliet);
	g_assert_cmpint(pxm_omemo_send_message(omemo(f->juliet), ROOM,
					       "And to you", TRUE),
			==, PXM_SEND_QUEUED);
	pxm_test_pump();
	g_assert_cmpuint(f->romeo->shown->len, ==, 2);
	g_assert_cmpstr(f->romeo->shown->pdata[1], ==, "And to you");
	g_assert_cmpuint(f->nurse->shown->len, ==, 2);
	g_assert_cmpuint(count_with(f->juliet->sent, "And to you"), ==, 0);
	/* Plain text from the nurse in Romeo's encrypted room: shown with a
	 * warning; and the plaintext guard keeps Romeo's own plain bodies
	 * out of the room. */
	{
		xmlnode *plain = xmlnode_new("message");
		xmlnode *body = xmlnode_new_child(plain, "body");
		PxmStanza st;

		xmlnode_set_attrib(plain, "type", "groupchat");
		xmlnode_set_attrib(plain, "from", ROOM "/nurse");
		xmlnode_set_attrib(plain, "to", f->romeo->jid);
		xmlnode_insert_data(body, "in the clear", -1);
		pxm_stanza_init(&st, plain, FALSE);
		pxm_pipeline_incoming(f->romeo->account, &st);
		g_assert_nonnull(st.html);
		g_assert_nonnull(strstr(st.html, "(not encrypted)"));
		pxm_stanza_clear(&st);
		xmlnode_set_attrib(plain, "to", ROOM);
		xmlnode_remove_attrib(plain, "from");
		pxm_stanza_init(&st, plain, TRUE);
		pxm_pipeline_outgoing(f->romeo->account, &st);
		pxm_stanza_clear(&st);
		g_assert_null(pxm_xml_child(plain, "body", NULL));
		xmlnode_free(plain);
	}
}

/* The sender's real JID is unknown (its presence never reached us): the
 * message is not decrypted as anyone else's. */
static void
test_unknown_sender(Fixture *f, gconstpointer data)
{
	private_room();
	join(f->romeo);
	join(f->juliet);
	join(f->nurse);
	turn_on(f->juliet);
	/* Romeo misses Juliet: her presence says she left. */
	presence_of(f->romeo, f->juliet, "unavailable", FALSE);
	pxm_test_pump();
	pxm_omemo_send_message(omemo(f->juliet), ROOM, "who am I", TRUE);
	pxm_test_pump();
	g_assert_cmpuint(f->nurse->shown->len, ==, 1);
	g_assert_cmpuint(f->romeo->shown->len, ==, 0);
	/* An OMEMO groupchat message from a room Romeo is not in. */
	{
		xmlnode *m = xmlnode_new("message");
		xmlnode *enc = xmlnode_new_child(m, "encrypted");
		PxmStanza st;

		xmlnode_set_attrib(m, "type", "groupchat");
		xmlnode_set_attrib(m, "from", "crypt@rooms.verona.lit/tybalt");
		xmlnode_set_namespace(enc, PXM_NS_OMEMO);
		pxm_stanza_init(&st, m, FALSE);
		g_assert_cmpint(pxm_pipeline_incoming(f->romeo->account, &st),
				==, PXM_VERDICT_DROP);
		pxm_stanza_clear(&st);
		xmlnode_free(m);
	}
}

/* A member without OMEMO is named and nothing is sent. */
static void
test_member_without_omemo(Fixture *f, gconstpointer data)
{
	private_room();
	join(f->romeo);
	join(f->juliet);
	feed(f->romeo, occupant_presence(ROOM "/friar", "laurence@verona.lit",
					 NULL, FALSE));
	turn_on(f->romeo);
	g_ptr_array_set_size(f->romeo->sent, 0);
	pxm_omemo_send_message(omemo(f->romeo), ROOM, "secret", TRUE);
	pxm_test_pump();
	g_assert_cmpuint(count_with(f->romeo->sent, "<message"), ==, 0);
	g_assert_cmpuint(f->juliet->shown->len, ==, 0);
}

/* Members who are not in the room, from the member list when the room
 * lets members read it. */
static void
test_member_list(Fixture *f, gconstpointer data)
{
	g_autofree char *m = NULL;

	private_room();
	room_listed = "rosaline@verona.lit";
	join(f->romeo);
	join(f->juliet);
	pxm_omemo_rooms_ready(rooms(f->romeo), ROOM);
	pxm_test_pump();
	g_assert_true(pxm_omemo_rooms_ready(rooms(f->romeo), ROOM));
	m = members_str(f->romeo);
	g_assert_cmpstr(m, ==, "juliet@capulet.lit rosaline@verona.lit");
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
#define ADD(path, func, data)                                                  \
	g_test_add("/xep0384-omemo-rooms/" path, Fixture, data, room_setup,    \
		   func, room_teardown)
	ADD("members/presence", test_members, NULL);
	ADD("refusal", test_refusal, NULL);
	ADD("exchange/omemo2", test_exchange_room, GUINT_TO_POINTER(4));
	ADD("exchange/legacy", test_exchange_room, GUINT_TO_POINTER(3));
	ADD("receive/unknown-sender", test_unknown_sender, NULL);
	ADD("send/member-without-omemo", test_member_without_omemo, NULL);
	ADD("members/list", test_member_list, NULL);
	return g_test_run();
}

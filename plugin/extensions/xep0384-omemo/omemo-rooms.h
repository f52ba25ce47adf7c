// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO in private rooms (XEP-0384 section 6.1 of 0.3.0, section 5.4 of
 * OMEMO 2): which rooms are members-only and non-anonymous, who their
 * members are (real JIDs from the room's presence and its member list),
 * and the reflections of our own encrypted messages.
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

typedef struct PxmOmemoRooms PxmOmemoRooms;

/**
 * pxm_omemo_rooms_new:
 * @kick: called when something a queued message waits for (a room's
 *   disco#info or member list) arrived
 */
PxmOmemoRooms *pxm_omemo_rooms_new(PxmAccount *account, void (*kick)(gpointer),
				   gpointer kick_data);
/** pxm_omemo_rooms_free: pending requests are dropped; symmetric to new. */
void pxm_omemo_rooms_free(PxmOmemoRooms *rooms);

/** pxm_omemo_rooms_presence: the HANDLE stage for presence (always
 * CONTINUE: the prpl needs it too). */
PxmVerdict pxm_omemo_rooms_presence(PxmOmemoRooms *rooms, PxmStanza *st);

/** Returns: TRUE if we are in @room (its self-presence was seen). */
gboolean pxm_omemo_rooms_is_joined(PxmOmemoRooms *rooms, const char *room);

/**
 * pxm_omemo_rooms_real_jid:
 * @occupant: room@service/nick
 * Returns: (transfer none) (nullable): the occupant's real bare JID, from
 * its own presence in a room we are in; NULL when unknown.
 */
const char *pxm_omemo_rooms_real_jid(PxmOmemoRooms *rooms,
				     const char *occupant);

/** Returns: TRUE if @occupant is our own nick in a room we are in. */
gboolean pxm_omemo_rooms_is_own_nick(PxmOmemoRooms *rooms,
				     const char *occupant);

/**
 * pxm_omemo_rooms_members_dup:
 * Returns: (transfer full): the real bare JIDs of @room's occupants and
 * affiliated members (member, admin, owner), ours excepted, sorted.
 */
GPtrArray *pxm_omemo_rooms_members_dup(PxmOmemoRooms *rooms, const char *room);

/**
 * pxm_omemo_rooms_ready:
 * Asks, once per session, for @room's disco#info and member list.
 * Returns: TRUE when both answered (or failed); else kick() is called
 * later.
 */
gboolean pxm_omemo_rooms_ready(PxmOmemoRooms *rooms, const char *room);

/**
 * pxm_omemo_rooms_refusal_dup:
 * Returns: (transfer full) (nullable): why @room cannot be encrypted
 * (translated), NULL when it is members-only and non-anonymous.  Only
 * meaningful once pxm_omemo_rooms_ready() returned TRUE.
 */
char *pxm_omemo_rooms_refusal_dup(PxmOmemoRooms *rooms, const char *room);

/**
 * pxm_omemo_rooms_check_features:
 * @query: (nullable): the room's disco#info <query/>
 * Returns: (transfer full) (nullable): the refusal for those features.
 */
char *pxm_omemo_rooms_check_features(xmlnode *query);

/**
 * pxm_omemo_rooms_set_on:
 * Turns OMEMO on in @room after a fresh disco#info (the room's
 * configuration may have changed), or refuses with the reason; either way
 * a line in the room says so.
 */
void pxm_omemo_rooms_set_on(PxmOmemoRooms *rooms, const char *room);

/**
 * pxm_omemo_rooms_remember_sent:
 * Keeps what we sent to @room under @id until the room reflects it: the
 * reflection is not encrypted for this device and is shown with it.
 */
void pxm_omemo_rooms_remember_sent(PxmOmemoRooms *rooms, const char *room,
				   const char *id, const char *body,
				   const char *html);

/**
 * pxm_omemo_rooms_incoming:
 * @encrypted: whether @room is encrypted (the /omemo setting)
 * @element: whether the message carries an OMEMO <encrypted/>
 * @sender: (out): the real bare JID to decrypt as
 * @verdict: (out): the verdict when FALSE is returned
 *
 * The room part of the DECRYPT stage for a groupchat message.
 * Returns: TRUE if the message is to be decrypted as from @sender.
 */
gboolean pxm_omemo_rooms_incoming(PxmOmemoRooms *rooms, PxmStanza *st,
				  gboolean encrypted, gboolean element,
				  char **sender, PxmVerdict *verdict);

/**
 * pxm_omemo_rooms_command:
 * /omemo on|off|status typed in a room.
 * Returns: TRUE if handled (then *ret and *error are set).
 */
gboolean pxm_omemo_rooms_command(PxmOmemoRooms *rooms, gboolean encrypted,
				 const char *room, const char *verb,
				 PurpleCmdRet *ret, char **text, char **error);

G_END_DECLS

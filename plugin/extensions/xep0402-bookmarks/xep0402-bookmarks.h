// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0402 (and XEP-0048 in XEP-0049 private storage): what the unit test
 * drives directly.  The buddy-list side needs libpurple's core, which unit
 * tests do not have; it reads and changes bookmarks through these.
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/**
 * PxmBookmark: one bookmarked room.
 * @jid: the room's normalised bare JID (the key)
 * @id: the item id as the server has it (XEP-0402), or the 'jid'
 *   attribute (XEP-0048): used to replace or retract that very item
 * @name: (nullable): the user's name for it
 * @nick: (nullable): the nick to join with
 * @password: (nullable): the room's password
 * @autojoin: join it on sign-on
 * @extensions: (nullable): what other clients stored that we do not
 *   understand, kept to be written back (XEP-0402 section 3: MUST
 *   preserve): the <extensions/> element (XEP-0402), or an element holding
 *   the unknown children of <conference/> (XEP-0048)
 */
typedef struct {
	char *jid;
	char *id;
	char *name;
	char *nick;
	char *password;
	gboolean autojoin;
	xmlnode *extensions;
} PxmBookmark;

void pxm_bookmark_free(PxmBookmark *bookmark);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmBookmark, pxm_bookmark_free)

/** pxm_bookmark_copy: (transfer full): a deep copy of @bookmark. */
PxmBookmark *pxm_bookmark_copy(const PxmBookmark *bookmark);

/**
 * pxm_bookmark_equal:
 * Returns: TRUE if both have the same room, name, nick, password and
 * autojoin (a missing and an empty string are equal; ids and extensions
 * are not compared).
 */
gboolean pxm_bookmark_equal(const PxmBookmark *a, const PxmBookmark *b);

/**
 * pxm_bookmark_from_item:
 * @item: a XEP-0402 <item id='room@service'><conference/></item>
 *
 * Returns: (transfer full) (nullable): the bookmark, or NULL (one debug
 * warning said why) when the item is malformed or hostile.
 */
PxmBookmark *pxm_bookmark_from_item(xmlnode *item);

/**
 * pxm_bookmark_from_conference:
 * @conference: a XEP-0048 <conference jid='room@service'/>
 *
 * Returns: (transfer full) (nullable): as pxm_bookmark_from_item().
 */
PxmBookmark *pxm_bookmark_from_conference(xmlnode *conference);

/** PxmBookmarksMode: where the account's bookmarks are kept. */
typedef enum {
	PXM_BOOKMARKS_UNKNOWN, /* still finding out */
	PXM_BOOKMARKS_PEP,     /* XEP-0402, one PEP item per room */
	PXM_BOOKMARKS_PRIVATE, /* XEP-0048 in XEP-0049 private storage */
} PxmBookmarksMode;

/** pxm_bookmarks_get_mode: which storage @state uses. */
PxmBookmarksMode pxm_bookmarks_get_mode(gpointer state);

/** pxm_bookmarks_is_ready: whether the bookmarks were read. */
gboolean pxm_bookmarks_is_ready(gpointer state);

/**
 * pxm_bookmarks_lookup:
 * @jid: a room JID (any form)
 *
 * Returns: (transfer none) (nullable): the bookmark of that room as the
 * server has it (as far as we know).
 */
const PxmBookmark *pxm_bookmarks_lookup(gpointer state, const char *jid);

/** pxm_bookmarks_count: how many bookmarks the server has. */
guint pxm_bookmarks_count(gpointer state);

/**
 * pxm_bookmarks_store:
 * @bookmark: (transfer none): the new or changed bookmark; its
 *   extensions are taken from the known bookmark of the room when it has
 *   none
 *
 * Stores a bookmark the user made or changed here: publishes it
 * (XEP-0402) or writes the whole storage (XEP-0048).  Nothing is sent when
 * it equals what the server has.
 */
void pxm_bookmarks_store(PxmAccount *account, gpointer state,
			 const PxmBookmark *bookmark);

/**
 * pxm_bookmarks_remove:
 * @jid: a room JID
 *
 * Removes the bookmark of a room the user removed here: a retraction with
 * notify (XEP-0402) or the whole storage written again (XEP-0048).
 */
void pxm_bookmarks_remove(PxmAccount *account, gpointer state, const char *jid);

G_END_DECLS

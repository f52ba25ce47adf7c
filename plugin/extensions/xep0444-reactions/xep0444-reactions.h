// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0444: what the unit test drives directly.  The /react command needs
 * a libpurple conversation, which unit tests do not have; it only works out
 * where the conversation's messages go and calls pxm_reactions_send().
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/**
 * pxm_reactions_send:
 * @state: the extension's state on @account
 * @conversation: normalised bare JID of the partner, or the room
 * @to: where the conversation's messages go (the partner as the
 *   conversation names it, or the room)
 * @groupchat: TRUE in a room
 * @emoji: (nullable): the reactions, separated by spaces; none removes
 *   the user's reactions
 * @error: (out): on failure, a message for the user (g_malloc'ed)
 *
 * Sets the user's reactions to the last message received in
 * @conversation.  One to one, a notice says so at once; in a room, when
 * the room's copy comes back.
 *
 * Returns: PURPLE_CMD_RET_OK, or PURPLE_CMD_RET_FAILED with @error set.
 */
PurpleCmdRet pxm_reactions_send(PxmAccount *account, gpointer state,
				const char *conversation, const char *to,
				gboolean groupchat, const char *emoji,
				char **error);

/**
 * pxm_reactions_is_emoji:
 * @text: (nullable): a reaction
 *
 * Returns: TRUE if @text looks like one emoji (business rules: receivers
 * MAY ignore anything else): a short run of symbols with at least one
 * outside ASCII, no letters, spaces, controls or direction marks.
 */
gboolean pxm_reactions_is_emoji(const char *text);

/**
 * pxm_reactions_notice_dup:
 * @who: (nullable): who reacted, as shown; NULL for the user
 * @reactions: (nullable): the reactions; NULL or empty: all removed
 * @excerpt: (nullable): the start of the message, NULL if unknown
 *
 * Returns: (transfer full): the notice, HTML.
 */
char *pxm_reactions_notice_dup(const char *who, const char *const *reactions,
			       const char *excerpt);

G_END_DECLS

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0461: what the unit test drives directly.  The /reply command needs a
 * libpurple conversation, which unit tests do not have; it only works out
 * where the conversation's messages go and calls pxm_replies_send().
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/**
 * pxm_replies_send:
 * @state: the extension's state on @account
 * @conversation: normalised bare JID of the partner, or the room
 * @to: where the conversation's messages go (the partner as the
 *   conversation names it, or the room)
 * @groupchat: TRUE in a room
 * @text: (nullable): the reply
 * @error: (out): on failure, a message for the user (g_malloc'ed)
 *
 * Sends @text as a reply to the last message received in @conversation,
 * with a quote of it for clients without replies, and one to one shows it
 * (in a room, the room's copy is shown).
 *
 * Returns: PURPLE_CMD_RET_OK, or PURPLE_CMD_RET_FAILED with @error set.
 */
PurpleCmdRet pxm_replies_send(PxmAccount *account, gpointer state,
			      const char *conversation, const char *to,
			      gboolean groupchat, const char *text,
			      char **error);

G_END_DECLS

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0308: what the unit test drives directly.  The /correct command needs
 * a libpurple conversation, which unit tests do not have; it only works out
 * where the conversation's messages go and calls this.
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/**
 * pxm_correction_send:
 * @conversation: normalised bare JID of the partner, or the room
 * @to: where the conversation's messages go (the partner as the
 *   conversation names it, or the room)
 * @groupchat: TRUE in a room
 * @text: (nullable): the corrected text
 * @error: (out): on failure, a message for the user (g_malloc'ed)
 *
 * Sends a correction of the user's last message in @conversation, and in a
 * one-to-one conversation shows it (in a room, the room's copy is shown).
 *
 * Returns: PURPLE_CMD_RET_OK, or PURPLE_CMD_RET_FAILED with @error set.
 */
PurpleCmdRet pxm_correction_send(PxmAccount *account, const char *conversation,
				 const char *to, gboolean groupchat,
				 const char *text, char **error);

G_END_DECLS

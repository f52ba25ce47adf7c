// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0424: what the unit test drives directly.  The /retract command needs
 * a libpurple conversation, which unit tests do not have; it only works out
 * where the conversation's messages go and calls pxm_retraction_send().
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/**
 * pxm_retraction_send:
 * @state: the extension's state on @account
 * @conversation: normalised bare JID of the partner, or the room
 * @to: where the conversation's messages go (the partner as the
 *   conversation names it, or the room)
 * @groupchat: TRUE in a room
 * @error: (out): on failure, a message for the user (g_malloc'ed)
 *
 * Retracts the user's last message in @conversation (its first version if
 * it was corrected).  One to one, a notice says so at once; in a room, when
 * the room's copy of the retraction comes back.
 *
 * Returns: PURPLE_CMD_RET_OK, or PURPLE_CMD_RET_FAILED with @error set.
 */
PurpleCmdRet pxm_retraction_send(PxmAccount *account, gpointer state,
				 const char *conversation, const char *to,
				 gboolean groupchat, char **error);

/**
 * pxm_retraction_notice_dup:
 * @who: (nullable): who retracted, as shown; NULL for the user
 * @excerpt: (nullable): the start of the retracted message, NULL if unknown
 *
 * Returns: (transfer full): the notice, HTML.
 */
char *pxm_retraction_notice_dup(const char *who, const char *excerpt);

G_END_DECLS

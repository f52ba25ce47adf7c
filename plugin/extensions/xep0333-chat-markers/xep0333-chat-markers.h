// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0333: what the unit test drives directly.  The user seeing a
 * conversation is a libpurple event (its unseen count going back to 0, or a
 * message written while it has the focus), which unit tests do not have;
 * the extension turns it into a call of this.
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/**
 * pxm_chat_markers_seen:
 * @state: the extension's state on @account
 * @conversation: normalised bare JID of the partner
 *
 * The user has seen @conversation: sends a <displayed/> marker for its
 * latest markable message, unless one was sent for it already.
 */
void pxm_chat_markers_seen(PxmAccount *account, gpointer state,
			   const char *conversation);

G_END_DECLS

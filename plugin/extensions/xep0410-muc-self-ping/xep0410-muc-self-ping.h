// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0410: what the unit test drives directly (timings in milliseconds
 * instead of the account settings, which need a libpurple account).
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/** The account setting: seconds of silence before a room is pinged. */
#define PXM_SELF_PING_QUIET_SETTING "xmpp-modern-self-ping-quiet"

/**
 * pxm_self_ping_set_timing:
 * @state: the extension's state on an account
 * @quiet_ms: silence from a room before it is pinged
 * @retry_ms: the first wait after an unanswered ping (doubled after each
 *   further one)
 * @retry_max_ms: the longest wait between unanswered pings
 * @timeout_ms: how long a ping waits for its answer (0: the host's
 *   default)
 *
 * Applies to rooms joined afterwards and to the next waits of the others.
 */
void pxm_self_ping_set_timing(gpointer state, guint quiet_ms, guint retry_ms,
			      guint retry_max_ms, guint timeout_ms);

G_END_DECLS

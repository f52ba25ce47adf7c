// SPDX-License-Identifier: GPL-3.0-or-later
/* IQ tracking: id -> callback, called exactly once with the result or a
 * GError (stanza error, timeout, disconnect, cancel). */
#pragma once

#include "extension.h"

G_BEGIN_DECLS

typedef struct PxmIqTracker PxmIqTracker;

/**
 * pxm_iq_tracker_new:
 * @account: (transfer none): passed back to callbacks
 * @own_jid: the account's JID (any form): replies to requests without a
 *   'to' must come from its bare JID, its domain, or carry no 'from'
 */
PxmIqTracker *pxm_iq_tracker_new(PxmAccount *account, const char *own_jid);

/**
 * pxm_iq_tracker_free:
 * @reason: (nullable): error given to every pending callback (default:
 *   PXM_IQ_ERROR_CANCELLED)
 */
void pxm_iq_tracker_free(PxmIqTracker *tracker, const GError *reason);

/**
 * pxm_iq_tracker_add:
 * @iq: (transfer none): the request; an id attribute is set if missing
 * @timeout_ms: 0 for the default of 30 seconds
 *
 * Registers a request about to be sent.
 *
 * Returns: (transfer none): the request's id.
 */
const char *pxm_iq_tracker_add(PxmIqTracker *tracker, xmlnode *iq,
			       guint timeout_ms, PxmIqCallback callback,
			       gpointer user_data, GDestroyNotify destroy);

/**
 * pxm_iq_tracker_handle:
 * @iq: (transfer none): an incoming <iq/>
 *
 * Completes the request @iq answers, if any.  A result or error with one of
 * our ids from an unexpected sender is dropped (with a debug line) and the
 * request keeps waiting.
 *
 * Returns: TRUE if @iq carried one of our pending ids (it must not be
 * processed further), FALSE otherwise.
 */
gboolean pxm_iq_tracker_handle(PxmIqTracker *tracker, xmlnode *iq);

/** pxm_iq_tracker_get_pending: number of requests still waiting. */
guint pxm_iq_tracker_get_pending(PxmIqTracker *tracker);

/**
 * pxm_iq_error_from_stanza:
 * @iq: an <iq type='error'/> (or any stanza with an <error/> child)
 *
 * Returns: (transfer full): a PXM_IQ_ERROR_STANZA error whose message is
 * the defined condition, followed by ": text" when the error has a text.
 */
GError *pxm_iq_error_from_stanza(xmlnode *iq);

G_END_DECLS

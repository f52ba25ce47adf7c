// SPDX-License-Identifier: GPL-3.0-or-later
/* The presenter's internals: message identity (DESIGN.md section 4). */
#pragma once

#include "host.h"

G_BEGIN_DECLS

/** pxm_presenter_new: (transfer full): identity state for @account. */
PxmPresenter *pxm_presenter_new(PxmAccount *account);

/** pxm_presenter_free: writes pending identities to the store, frees. */
void pxm_presenter_free(PxmPresenter *presenter);

/**
 * pxm_presenter_admit:
 * @stanza: an incoming message with its facts
 *
 * The identity gate: if the message was already shown (same stanza-id,
 * origin-id or message id from the same sender, in the same conversation)
 * returns FALSE; otherwise remembers it and returns TRUE.
 */
gboolean pxm_presenter_admit(PxmAccount *account, const PxmStanza *stanza);

/** PxmAdmission: what the identity gate decided. */
typedef enum {
	PXM_ADMISSION_DUPLICATE, /* already shown: not shown again */
	PXM_ADMISSION_NEW,       /* shown (and logged) for the first time */
	/* Requested again (PxmStanza.requested) and shown by an earlier
	 * session only: shown, but the log already has it. */
	PXM_ADMISSION_AGAIN,
} PxmAdmission;

/**
 * pxm_presenter_check:
 * @stanza: an incoming message with its facts
 *
 * pxm_presenter_admit() telling apart a message new to the log from one
 * asked for again.
 */
PxmAdmission pxm_presenter_check(PxmAccount *account, const PxmStanza *stanza);

/** pxm_presenter_flush: writes pending identities in one transaction. */
void pxm_presenter_flush(PxmPresenter *presenter);

G_END_DECLS

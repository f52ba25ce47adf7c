// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO trust the user can follow: the question asked once when a device
 * that is not trusted appears (Blind Trust Before Verification ended for
 * its owner), our own fingerprints and devices (plugin actions, /omemo
 * devices, /omemo remove-device).
 */
#pragma once

#include "omemo-protocol.h"
#include "xep0384-omemo.h"

G_BEGIN_DECLS

/** PxmOmemoAnswer: the buttons of the question, in order. */
typedef enum {
	PXM_OMEMO_ANSWER_TRUST = 0,
	PXM_OMEMO_ANSWER_DONT_TRUST = 1,
	PXM_OMEMO_ANSWER_LATER = 2,
} PxmOmemoAnswer;

/**
 * pxm_omemo_trust_ui_untrusted:
 * @conversation: the conversation the message was typed in (bare JID)
 * @jid: the owner of the device (the contact, or our own bare JID)
 *
 * A message was not encrypted for @device of @jid because it is not
 * trusted.  The first time ever for that device (kept in the store), asks
 * the user (purple_request_action: Trust / Don't trust / Decide later)
 * with its fingerprint, fetched from its bundle when not known yet, and
 * writes a line in @conversation.
 *
 * Returns: TRUE if the user is being told now, FALSE if told before.
 */
gboolean pxm_omemo_trust_ui_untrusted(PxmOmemo *state, const char *conversation,
				      const char *jid, guint32 device);

/**
 * pxm_omemo_trust_ui_answer:
 * @fingerprint: (nullable): the fingerprint the user was shown
 *
 * What the question's buttons do.  Trust is refused (FALSE) when the
 * device's identity key is known and its fingerprint is not the one shown
 * (the bundle changed meanwhile).
 */
gboolean pxm_omemo_trust_ui_answer(PxmOmemo *state, const char *jid,
				   guint32 device, const char *fingerprint,
				   PxmOmemoAnswer answer);

/**
 * pxm_omemo_trust_ui_asked_dup:
 * Returns: (transfer full) (nullable): the fingerprint shown in the open
 * question about @device of @jid ("" if it could not be fetched), NULL
 * when there is none.
 */
char *pxm_omemo_trust_ui_asked_dup(PxmOmemo *state, const char *jid,
				   guint32 device);

/** pxm_omemo_trust_ui_stop: closes the open questions (stop()). */
void pxm_omemo_trust_ui_stop(PxmOmemo *state);

/** (transfer full): our device ids and fingerprints per version (HTML). */
char *pxm_omemo_own_fingerprints_dup(PxmOmemo *state);
/** (transfer full): our devices from both device lists (HTML). */
char *pxm_omemo_own_devices_dup(PxmOmemo *state);

/**
 * pxm_omemo_remove_own_device:
 * Publishes both of our device lists without @device.  This device cannot
 * be removed (it would add itself back).
 */
gboolean pxm_omemo_remove_own_device(PxmOmemo *state, guint32 device,
				     GError **error);

/**
 * pxm_omemo_trust_ui_command:
 * /omemo devices and /omemo remove-device ID.
 * Returns: FALSE if @verb is not one of them.
 */
gboolean pxm_omemo_trust_ui_command(PxmOmemo *state, const char *verb,
				    const char *arg, char **text, char **error);

/** The extension's plugin actions (PxmExtensionClass.actions). */
extern const PxmAction pxm_omemo_actions[];

G_END_DECLS

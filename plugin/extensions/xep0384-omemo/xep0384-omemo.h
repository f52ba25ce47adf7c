// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The OMEMO extension's internal API: what its unit tests drive, and what
 * later parts (trust dialogs, rooms) build on.
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

typedef struct PxmOmemo PxmOmemo;

/* The account setting (a bool, declared in the manifest) saying whether a
 * conversation with a contact whose devices publish OMEMO is encrypted
 * unless the user chose otherwise (/omemo off). */
#define PXM_OMEMO_SETTING_DEFAULT "xmpp-modern-omemo-default"

/** pxm_omemo_new: the extension's per-account state (start()). */
PxmOmemo *pxm_omemo_new(PxmAccount *account, GError **error);
/**
 * pxm_omemo_free: stop(); messages still waiting for keys go to the
 * plugin's outbox (the next pxm_omemo_new() of the account sends them)
 * when the account only goes offline, else are refused with a line.
 */
void pxm_omemo_free(PxmOmemo *state);

/**
 * pxm_omemo_outbox_refuse_all:
 * @why: the reason shown in each conversation still open
 * Refuses every message the outbox holds (plugin_unload; unit tests).
 */
void pxm_omemo_outbox_refuse_all(const char *why);

/* (transfer none): for the trust UI and rooms (omemo-trust-ui.c). */
PxmAccount *pxm_omemo_get_account(PxmOmemo *state);
struct PxmOmemoEngine *pxm_omemo_get_engine(PxmOmemo *state);
/* (transfer none): the private rooms part (omemo-rooms.c). */
struct PxmOmemoRooms *pxm_omemo_get_rooms(PxmOmemo *state);

/**
 * pxm_omemo_is_encrypted:
 * @jid: a contact's bare JID
 * Returns: whether messages to @jid are encrypted: the conversation's
 * /omemo setting, else the account default when @jid has OMEMO devices.
 */
gboolean pxm_omemo_is_encrypted(PxmOmemo *state, const char *jid);

/**
 * pxm_omemo_send_message:
 * The send_message hook: queues a typed message to be encrypted for every
 * trusted device of the contact and our other devices.
 */
PxmSendResult pxm_omemo_send_message(PxmOmemo *state, const char *to,
				     const char *html, gboolean groupchat);

/** pxm_omemo_decrypt: the DECRYPT stage. */
PxmVerdict pxm_omemo_decrypt(PxmOmemo *state, PxmStanza *st);
/** pxm_omemo_encrypt_stage: the ENCRYPT stage (plaintext guard). */
PxmVerdict pxm_omemo_encrypt_stage(PxmOmemo *state, PxmStanza *st);

/** (transfer full): /omemo status text (HTML). */
char *pxm_omemo_describe_dup(PxmOmemo *state, const char *jid);
/** (transfer full): /omemo fingerprints text (HTML). */
char *pxm_omemo_fingerprints_dup(PxmOmemo *state, const char *jid);
/**
 * pxm_omemo_set_trust_by_fingerprint:
 * @trust: TRUE: verified; FALSE: untrusted
 * Returns: FALSE if no device of @jid or of ours has @fp.
 */
gboolean pxm_omemo_set_trust_by_fingerprint(PxmOmemo *state, const char *jid,
					    const char *fp, gboolean trust);

G_END_DECLS

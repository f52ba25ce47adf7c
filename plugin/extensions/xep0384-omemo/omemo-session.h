// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The OMEMO engine of one account: libomemo-c (X3DH and the double ratchet
 * of both session versions: 3 = legacy eu.siacs.conversations.axolotl, 4 =
 * urn:xmpp:omemo:2) over the account's store, our identity and keys.
 */
#pragma once

#include "omemo-store.h"

G_BEGIN_DECLS

#define PXM_OMEMO_PREKEYS 100
/* Signed pre-key rotation, and how long an old one still answers late key
 * exchanges. */
#define PXM_OMEMO_SPK_ROTATE (7 * 24 * 3600)
#define PXM_OMEMO_SPK_KEEP (30 * 24 * 3600)

typedef struct PxmOmemoEngine PxmOmemoEngine;

/**
 * pxm_omemo_engine_new:
 * @store: (transfer none): the account's store, outliving the engine
 *
 * Opens the OMEMO state; on first use creates our identity (random
 * device id), 100 pre-keys and a signed pre-key.  An existing but broken
 * state is an error: nothing is replaced.
 */
PxmOmemoEngine *pxm_omemo_engine_new(PxmStore *store, GError **error);
void pxm_omemo_engine_free(PxmOmemoEngine *e);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmOmemoEngine, pxm_omemo_engine_free)

guint32 pxm_omemo_engine_get_device_id(PxmOmemoEngine *e);
PxmOmemoStore *pxm_omemo_engine_get_store(PxmOmemoEngine *e);

/**
 * pxm_omemo_engine_maintain:
 * @now: Unix seconds
 * Tops the pre-keys up to 100 and rotates the signed pre-key when due.
 * Returns: TRUE if the bundle changed (republish it).
 */
gboolean pxm_omemo_engine_maintain(PxmOmemoEngine *e, gint64 now);

/**
 * PxmOmemoBundle: a bundle's keys, as the wire has them for one version
 * (legacy: 0x05-prefixed keys; OMEMO 2: raw 32 bytes, Ed25519 <ik>).
 */
typedef struct {
	guint32 spk_id;
	GBytes *spk;
	GBytes *spk_sig;
	GBytes *ik;
	GArray *pk_ids; /* guint32 */
	GPtrArray *pks; /* GBytes */
} PxmOmemoBundle;

PxmOmemoBundle *pxm_omemo_bundle_new(void);
void pxm_omemo_bundle_free(PxmOmemoBundle *b);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmOmemoBundle, pxm_omemo_bundle_free)

/** pxm_omemo_engine_own_bundle: (transfer full): our bundle for @version. */
PxmOmemoBundle *pxm_omemo_engine_own_bundle(PxmOmemoEngine *e, guint version,
					    GError **error);

/**
 * pxm_omemo_engine_build_session:
 * @bundle: a contact device's bundle; one of its pre-keys is picked at
 *   random
 * Runs X3DH (checks the signed pre-key's signature).
 */
gboolean pxm_omemo_engine_build_session(PxmOmemoEngine *e, guint version,
					const char *jid, guint32 device,
					const PxmOmemoBundle *bundle,
					GError **error);

gboolean pxm_omemo_engine_has_session(PxmOmemoEngine *e, guint version,
				      const char *jid, guint32 device);

/**
 * pxm_omemo_engine_encrypt_key:
 * @kex: (out): TRUE for a key exchange (prekey/kex attribute)
 * Returns: (transfer full): the <key/> bytes for that device.
 */
GBytes *pxm_omemo_engine_encrypt_key(PxmOmemoEngine *e, guint version,
				     const char *jid, guint32 device,
				     const PxmSecret *key_material,
				     gboolean *kex, GError **error);

/**
 * pxm_omemo_engine_decrypt_key:
 * @kex: the key element says it is a key exchange
 * Errors: %PXM_OMEMO_ERROR_DUPLICATE for a message already decrypted (e.g.
 * seen again from the archive), %PXM_OMEMO_ERROR_NO_SESSION,
 * %PXM_OMEMO_ERROR_UNTRUSTED, %PXM_OMEMO_ERROR_MALFORMED,
 * %PXM_OMEMO_ERROR_CRYPTO.
 * Returns: (transfer full): the key material.
 */
PxmSecret *pxm_omemo_engine_decrypt_key(PxmOmemoEngine *e, guint version,
					const char *jid, guint32 device,
					const guint8 *data, gsize len,
					gboolean kex, GError **error);

/**
 * pxm_omemo_engine_own_fingerprint_dup:
 * Returns: (transfer full): our identity's fingerprint for @version.
 */
char *pxm_omemo_engine_own_fingerprint_dup(PxmOmemoEngine *e, guint version);

/**
 * pxm_omemo_engine_fingerprint_dup:
 * Returns: (transfer full) (nullable): the fingerprint of a contact's
 * device, as @version shows it, NULL when its identity is unknown.
 */
char *pxm_omemo_engine_fingerprint_dup(PxmOmemoEngine *e, guint version,
				       const char *jid, guint32 device);

G_END_DECLS

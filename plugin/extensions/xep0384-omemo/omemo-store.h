// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO state in the account's PxmStore: our identity and keys, the
 * sessions (one per version, contact and device: the version is part of
 * the libomemo-c address name, "3:jid" / "4:jid"), contacts' identity keys
 * and trust, and the device lists we last saw.
 */
#pragma once

#include "../../host/extension.h"

#include <signal_protocol.h>

#include "omemo-crypto.h"

G_BEGIN_DECLS

typedef struct PxmOmemoStore PxmOmemoStore;

/** PxmOmemoTrust: what the user (or BTBV) decided about a device. */
typedef enum {
	PXM_OMEMO_TRUST_UNDECIDED = 0,
	PXM_OMEMO_TRUST_TRUSTED = 1,   /* blindly (BTBV) or by /omemo trust */
	PXM_OMEMO_TRUST_UNTRUSTED = 2, /* not encrypted for */
	PXM_OMEMO_TRUST_VERIFIED = 3,  /* fingerprint checked */
} PxmOmemoTrust;

/**
 * pxm_omemo_store_open:
 * @store: (transfer none): the account's store (must outlive the result)
 * @out_new: (out): TRUE when the OMEMO tables were just created (no
 *   identity yet: the caller creates one)
 *
 * Brings the OMEMO tables up to date.  Tables that exist but hold no
 * identity are an error (%PXM_OMEMO_ERROR_STORE): an identity is never
 * silently created again.
 */
PxmOmemoStore *pxm_omemo_store_open(PxmStore *store, gboolean *out_new,
				    GError **error);
void pxm_omemo_store_free(PxmOmemoStore *s);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmOmemoStore, pxm_omemo_store_free)

/** pxm_omemo_store_get_store: (transfer none): the account's store. */
PxmStore *pxm_omemo_store_get_store(PxmOmemoStore *s);

/* Own identity: the libomemo-c serialised key pair (public 0x05-prefixed,
 * private 32 bytes) and the device id. */
gboolean pxm_omemo_store_save_identity(PxmOmemoStore *s, guint32 device_id,
				       const guint8 *pub, gsize pub_len,
				       const PxmSecret *priv, GError **error);
/** Returns: FALSE with an error if there is none or it is damaged. */
gboolean pxm_omemo_store_load_identity(PxmOmemoStore *s, guint32 *device_id,
				       GBytes **pub, PxmSecret **priv,
				       GError **error);

/* Pre-keys and signed pre-keys: serialised libomemo-c records. */
gboolean pxm_omemo_store_put_prekey(PxmOmemoStore *s, guint32 id,
				    const guint8 *rec, gsize len);
GBytes *pxm_omemo_store_get_prekey(PxmOmemoStore *s, guint32 id);
gboolean pxm_omemo_store_remove_prekey(PxmOmemoStore *s, guint32 id);
/** (transfer full): the ids of the pre-keys we have, ascending. */
GArray *pxm_omemo_store_list_prekeys(PxmOmemoStore *s);

gboolean pxm_omemo_store_put_signed_prekey(PxmOmemoStore *s, guint32 id,
					   const guint8 *rec, gsize len,
					   gint64 created);
GBytes *pxm_omemo_store_get_signed_prekey(PxmOmemoStore *s, guint32 id);
gboolean pxm_omemo_store_remove_signed_prekey(PxmOmemoStore *s, guint32 id);
/** The newest signed pre-key: FALSE if there is none. */
gboolean pxm_omemo_store_latest_signed_prekey(PxmOmemoStore *s, guint32 *id,
					      gint64 *created);
/** Removes signed pre-keys created before @before except the newest. */
void pxm_omemo_store_prune_signed_prekeys(PxmOmemoStore *s, gint64 before);

/* Contacts' identity keys (0x05 ‖ Curve25519) and trust. */
GBytes *pxm_omemo_store_get_identity_key(PxmOmemoStore *s, const char *jid,
					 guint32 device);
gboolean pxm_omemo_store_put_identity_key(PxmOmemoStore *s, const char *jid,
					  guint32 device, const guint8 *key,
					  gsize len);
/* The Ed25519 form (32 bytes) of a contact device's identity, as OMEMO 2
 * sent it; NULL when unknown.  Cleared when the identity key changes; the
 * caller checks it converts to the stored Curve25519 key. */
GBytes *pxm_omemo_store_get_identity_ed(PxmOmemoStore *s, const char *jid,
					guint32 device);
gboolean pxm_omemo_store_put_identity_ed(PxmOmemoStore *s, const char *jid,
					 guint32 device, const guint8 *ed,
					 gsize len);
PxmOmemoTrust pxm_omemo_store_get_trust(PxmOmemoStore *s, const char *jid,
					guint32 device);
gboolean pxm_omemo_store_set_trust(PxmOmemoStore *s, const char *jid,
				   guint32 device, PxmOmemoTrust trust);
/** Whether the user verified any device of @jid (BTBV ends then). */
gboolean pxm_omemo_store_has_verified(PxmOmemoStore *s, const char *jid);

/* Device lists (version 3 or 4) as last seen. */
gboolean pxm_omemo_store_set_devices(PxmOmemoStore *s, const char *jid,
				     guint version, const GArray *ids);
/** (transfer full): guint32 ids, ascending; empty if unknown. */
GArray *pxm_omemo_store_get_devices(PxmOmemoStore *s, const char *jid,
				    guint version);

/** Gives @ctx the store callbacks (identity, pre-keys, signed pre-keys,
 * sessions) backed by @s. */
void pxm_omemo_store_attach(PxmOmemoStore *s,
			    signal_protocol_store_context *ctx);

/** The libomemo-c address name of @jid for @version ("3:jid"). */
char *pxm_omemo_address_name_dup(guint version, const char *jid);

/**
 * pxm_omemo_store_get_devices_generation:
 * Returns: a number that changes whenever a device list is written.
 */
guint64 pxm_omemo_store_get_devices_generation(PxmOmemoStore *s);

G_END_DECLS

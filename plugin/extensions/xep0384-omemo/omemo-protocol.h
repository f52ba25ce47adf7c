// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO on the wire, both versions: device lists, bundles, encrypted
 * message elements and (OMEMO 2) the XEP-0420 envelope.  Builders give
 * the exact XML; parsers are strict (ranges, sizes, base64).
 */
#pragma once

#include "omemo-session.h"

G_BEGIN_DECLS

/* Limits of what we accept from the network. */
#define PXM_OMEMO_MAX_KEYS 1000
#define PXM_OMEMO_MAX_KEY_BYTES 1024
#define PXM_OMEMO_MAX_PAYLOAD (256 * 1024)
#define PXM_OMEMO_MAX_DEVICES 200
#define PXM_OMEMO_MAX_PREKEYS 1000

/** pxm_omemo_ns: the namespace of @version (3 legacy, 4 OMEMO 2). */
const char *pxm_omemo_ns(guint version);
/** pxm_omemo_devicelist_node / bundle node (legacy: per device). */
const char *pxm_omemo_devicelist_node(guint version);
char *pxm_omemo_bundle_node_dup(guint version, guint32 device);

/** pxm_omemo_parse_id: a device id, 1 .. 2^31 - 1; FALSE otherwise. */
gboolean pxm_omemo_parse_id(const char *text, guint32 *out);

/**
 * pxm_omemo_b64_decode:
 * Strict base64 (white space allowed): FALSE for other characters, bad
 * length, or more than @max bytes.
 */
GBytes *pxm_omemo_b64_decode(const char *text, gsize max);

/* --- Device lists ------------------------------------------------------ */

/** (transfer full): <list/> (3) or <devices/> (4) of @ids. */
xmlnode *pxm_omemo_devicelist_build(guint version, const GArray *ids);
/** (transfer full) (nullable): the ids of a <list/> or <devices/>. */
GArray *pxm_omemo_devicelist_parse(guint version, xmlnode *list,
				   GError **error);

/* --- Bundles --------------------------------------------------------- */

xmlnode *pxm_omemo_bundle_build(guint version, const PxmOmemoBundle *bundle);
PxmOmemoBundle *pxm_omemo_bundle_parse(guint version, xmlnode *bundle,
				       GError **error);

/* --- PEP ------------------------------------------------------------------- */

/**
 * pxm_omemo_publish_iq:
 * @payload: (transfer full)
 * @max_items: (nullable): pubsub#max_items publish-option
 * Returns: (transfer full): an <iq type='set'/> publishing @payload with
 * pubsub#access_model=open.
 */
xmlnode *pxm_omemo_publish_iq(const char *node, const char *item_id,
			      xmlnode *payload, const char *max_items);
/** The owner configuration form that makes a node match our options. */
xmlnode *pxm_omemo_configure_iq(const char *node, const char *max_items);
/** <iq type='get'> for the items of @node of @to (@item_id nullable). */
xmlnode *pxm_omemo_items_iq(const char *to, const char *node,
			    const char *item_id);
/**
 * pxm_omemo_items_first: (transfer none) (nullable): the payload of the
 * first <item/> of an items result or event for @node.
 */
xmlnode *pxm_omemo_items_first(xmlnode *items, const char *node);

/* --- Messages --------------------------------------------------------------- */

typedef struct {
	char *jid; /* OMEMO 2: the <keys jid/>; legacy: NULL */
	guint32 rid;
	gboolean kex;
	GBytes *data;
} PxmOmemoKey;

typedef struct {
	guint version;
	guint32 sid;
	GPtrArray *keys; /* PxmOmemoKey */
	GBytes *iv;      /* legacy */
	GBytes *payload; /* NULL for key transport / empty messages */
} PxmOmemoEncrypted;

PxmOmemoEncrypted *pxm_omemo_encrypted_new(guint version, guint32 sid);
void pxm_omemo_encrypted_free(PxmOmemoEncrypted *m);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmOmemoEncrypted, pxm_omemo_encrypted_free)
/** Adds a key (@data copied). */
void pxm_omemo_encrypted_add_key(PxmOmemoEncrypted *m, const char *jid,
				 guint32 rid, gboolean kex, GBytes *data);

/** pxm_omemo_encrypted_build: (transfer full): the <encrypted/> element. */
xmlnode *pxm_omemo_encrypted_build(const PxmOmemoEncrypted *m);
/** Strict parse of an <encrypted/> of either namespace. */
PxmOmemoEncrypted *pxm_omemo_encrypted_parse(xmlnode *encrypted,
					     GError **error);
/**
 * pxm_omemo_encrypted_find_key: (transfer none) (nullable): the key for
 * @rid (and, OMEMO 2, @jid).
 */
const PxmOmemoKey *pxm_omemo_encrypted_find_key(const PxmOmemoEncrypted *m,
						const char *jid, guint32 rid);

/* --- XEP-0420 ---------------------------------------------------------------- */

/**
 * pxm_omemo_sce_build:
 * Returns: (transfer full): the serialised <envelope/> holding @body, with
 * <rpad/>, <time/>, <to/> and <from/> affixes.
 */
char *pxm_omemo_sce_build(const char *body, const char *from, const char *to);
/**
 * pxm_omemo_sce_parse_body:
 * @from: the bare JID the message came from: the <from/> affix must
 *   match it (XEP-0420 section 6)
 * Returns: (transfer full) (nullable): the body text.
 */
char *pxm_omemo_sce_parse_body(const guint8 *data, gsize len, const char *from,
			       GError **error);

G_END_DECLS

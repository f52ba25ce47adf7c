// SPDX-License-Identifier: GPL-3.0-or-later
/* JID splitting and normalisation (RFC 7622, approximated with Unicode
 * NFKC + case folding for the local part and the domain). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * pxm_jid_bare_dup:
 * @jid: (nullable): any JID
 *
 * Returns: (transfer full) (nullable): the normalised bare JID
 * ("node@domain" or "domain"), or NULL if @jid is NULL or malformed.
 */
char *pxm_jid_bare_dup(const char *jid);

/**
 * pxm_jid_normalize_dup:
 * @jid: (nullable): any JID
 *
 * Returns: (transfer full) (nullable): the normalised JID, resource kept as
 * is, or NULL if @jid is NULL or malformed.
 */
char *pxm_jid_normalize_dup(const char *jid);

/**
 * pxm_jid_normal_bare_length:
 * @jid: a JID
 *
 * The common case, checked without allocating: an ASCII JID already in
 * normal form (no upper case, one '@' at most, between a non-empty local
 * part and domain, no trailing dot, a valid resource).
 *
 * Returns: the length of its bare part, which is then its normalised bare
 * JID; 0 when the JID needs pxm_jid_bare_dup()'s full treatment.
 */
gsize pxm_jid_normal_bare_length(const char *jid);

/**
 * pxm_jid_resource_peek:
 * Returns: (transfer none) (nullable): the resource part of @jid, pointing
 * into @jid, or NULL when there is none.
 */
const char *pxm_jid_resource_peek(const char *jid);

/**
 * pxm_jid_bare_equal:
 * Returns: TRUE if both JIDs are valid and have the same normalised bare JID.
 */
gboolean pxm_jid_bare_equal(const char *a, const char *b);

/**
 * pxm_jid_equal:
 * Returns: TRUE if both JIDs are valid and equal after normalisation
 * (resources compared exactly).
 */
gboolean pxm_jid_equal(const char *a, const char *b);

G_END_DECLS

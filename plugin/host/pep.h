// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0163 for prpl-jabber: the prpl turns its PEP features on (XEP-0084
 * avatars, XEP-0172 nicknames, XEP-0107 moods, XEP-0118 tunes) only when
 * the server domain's disco#info has the pubsub/pep identity, but
 * XEP-0163 §4 puts that identity on the account's bare JID, where
 * Prosody and others announce it.  The probe asks the bare JID just before
 * the prpl asks the domain and, when the bare JID does announce PEP, adds
 * the identity to the domain's answer to that one query before the prpl
 * reads it.  Nothing is held back and nothing is claimed that the account
 * does not announce.  The glue drives one probe per connection.
 */
#pragma once

#include <purple.h>

G_BEGIN_DECLS

typedef struct PxmPepProbe PxmPepProbe;

/**
 * pxm_pep_probe_new:
 * @account_jid: the account's JID (bare or full)
 *
 * Returns: (transfer full) (nullable): a probe, or NULL if @account_jid is
 * not a JID with a local part.
 */
PxmPepProbe *pxm_pep_probe_new(const char *account_jid);

/** pxm_pep_probe_free: frees @probe (NULL is fine). */
void pxm_pep_probe_free(PxmPepProbe *probe);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmPepProbe, pxm_pep_probe_free)

/**
 * pxm_pep_probe_sending:
 * @stanza: (transfer none): a stanza the prpl is about to send
 *
 * Looks for the prpl's first disco#info query to the server domain and
 * remembers its id.
 *
 * Returns: (transfer full) (nullable): a disco#info query to the account's
 * bare JID, to send just before @stanza, or NULL.
 */
xmlnode *pxm_pep_probe_sending(PxmPepProbe *probe, xmlnode *stanza);

/**
 * pxm_pep_probe_receiving:
 * @stanza: (transfer none): a stanza just received, before the prpl
 *   parses it; changed in place when it is the domain's answer to the
 *   remembered query and the bare JID announced pubsub/pep
 *
 * Returns: TRUE if @stanza is the answer to the probe's own query (the
 * prpl has nothing to do with it: consume it).
 */
gboolean pxm_pep_probe_receiving(PxmPepProbe *probe, xmlnode *stanza);

/**
 * pxm_pep_probe_has_pep:
 * Returns: TRUE once the account's bare JID has announced pubsub/pep.
 */
gboolean pxm_pep_probe_has_pep(const PxmPepProbe *probe);

G_END_DECLS

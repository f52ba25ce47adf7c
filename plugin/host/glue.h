// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The glue: the only code that talks to prpl-jabber (its signals, its IPC,
 * the few libjabber functions looked up at run time).  See
 * shared/LIBPURPLE-NOTES.md for the contracts it relies on.
 */
#pragma once

#include <purple.h>

G_BEGIN_DECLS

/**
 * pxm_glue_attach:
 * @plugin: our plugin (owner of every signal connection)
 *
 * Finds prpl-jabber, connects to its signals and the connection signals,
 * adds the per-extension account options and the disco features, and
 * starts the host on accounts that are already online.
 *
 * Returns: FALSE with @error set if prpl-jabber is not loaded.
 */
gboolean pxm_glue_attach(PurplePlugin *plugin, GError **error);

/** pxm_glue_detach: the mirror of attach; leaves prpl-jabber as it was. */
void pxm_glue_detach(PurplePlugin *plugin);

/**
 * pxm_glue_send:
 * @stanza: (transfer full): sent through prpl-jabber's normal path
 */
void pxm_glue_send(PurpleConnection *gc, xmlnode *stanza);

/**
 * pxm_glue_join_chat:
 * Calls prpl-jabber's own join_chat (a join an extension held).
 */
void pxm_glue_join_chat(PurpleConnection *gc, GHashTable *components);

/**
 * pxm_glue_features_changed:
 * Tells contacts our capabilities changed (re-sends presence with the new
 * caps hash).
 */
void pxm_glue_features_changed(void);

/** pxm_glue_is_xmpp: TRUE if @account uses prpl-jabber. */
gboolean pxm_glue_is_xmpp(PurpleAccount *account);

/**
 * pxm_glue_peer_has_feature:
 * Returns: TRUE if prpl-jabber's caps cache says @full_jid advertises
 * @feature.
 */
gboolean pxm_glue_peer_has_feature(PurpleAccount *account, const char *full_jid,
				   const char *feature);

/**
 * pxm_glue_set_stream_features:
 * @features: (nullable) (transfer none): the <stream:features/> the server
 *   sent on @gc, copied; NULL forgets them
 *
 * Records what the server offers on a connection (XEP-0352 and the like
 * are stream features, not disco features).  The glue calls it from
 * prpl-jabber's jabber-receiving-xmlnode and forgets when the connection
 * signs off; unit tests call it directly.
 */
void pxm_glue_set_stream_features(PurpleConnection *gc, xmlnode *features);

/**
 * pxm_glue_has_stream_feature:
 * Returns: TRUE if the last <stream:features/> recorded for @gc holds an
 * element @name in namespace @ns.  FALSE when none were seen (e.g. the
 * plugin was loaded after the account signed on).
 */
gboolean pxm_glue_has_stream_feature(PurpleConnection *gc, const char *name,
				     const char *ns);

G_END_DECLS

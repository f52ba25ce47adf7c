// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The extension host: loads the built-in extensions' manifests, keeps the
 * per-account state, decides which extensions are active on an account, and
 * runs the pipelines.  It knows no XEP.  Only glue.c calls it from
 * prpl-jabber's signals.
 */
#pragma once

#include "extension.h"
#include "iq.h"
#include "manifest.h"
#include "store.h"

G_BEGIN_DECLS

typedef struct PxmPresenter PxmPresenter;

/** How a PxmAccount sends a finished stanza (takes ownership). */
typedef void (*PxmSendFunc)(PxmAccount *account, xmlnode *stanza,
			    gpointer user_data);

/** How a PxmAccount hands a join no longer held to prpl-jabber's
 * join_chat (@components borrowed). */
typedef void (*PxmJoinFunc)(PxmAccount *account, GHashTable *components,
			    gpointer user_data);

struct PxmAccount {
	PurpleAccount *purple; /* NULL in unit tests */
	PurpleConnection *gc;  /* NULL in unit tests */
	char *bare_jid;        /* normalised */
	PxmStore *store;       /* NULL if it could not be opened */
	PxmIqTracker *iq;
	PxmPresenter *presenter;
	PxmRegistry *registry; /* borrowed */
	/* Bare JID -> (resource -> RESOURCE_* flags): the resources of roster
	 * contacts whose available presence was received. */
	GHashTable *contacts;
	/* Normalised room/nick -> gint64 *, Unix seconds: when the occupant
	 * was seen joining (for those there when we joined: when we
	 * joined). */
	GHashTable *joined;
	gboolean *active; /* per extension index */
	gpointer *states; /* per extension index */
	/* Per extension index: why start() failed, until the extension
	 * starts or is turned off (NULL otherwise). */
	char **start_errors;
	PxmSendFunc send;
	gpointer send_data;
	/* Room JID -> joins extensions hold (join.c); NULL when none. */
	GHashTable *held_joins;
	/* NULL: a join let go is dropped (unit tests set their own). */
	PxmJoinFunc join;
	gpointer join_data;
};

/**
 * pxm_account_new:
 * @registry: (transfer none): the loaded extensions
 * @jid: the account's JID
 * @store: (transfer full) (nullable): its store
 * @send: how stanzas leave
 *
 * Creates the per-account state with every extension inactive.  Used by
 * the host for connections and by unit tests with a recording @send.
 */
PxmAccount *pxm_account_new(PxmRegistry *registry, PurpleConnection *gc,
			    const char *jid, PxmStore *store, PxmSendFunc send,
			    gpointer send_data);

/**
 * pxm_account_free:
 * @reason: (nullable): given to pending IQ callbacks
 *
 * Stops every active extension (in reverse order of starting) and frees.
 */
void pxm_account_free(PxmAccount *account, const GError *reason);

/**
 * pxm_account_set_active:
 *
 * Starts or stops one extension on @account.  Starting fails (returns
 * FALSE, logs why) when start() fails.
 */
gboolean pxm_account_set_active(PxmAccount *account, guint index,
				gboolean active);

/** pxm_account_is_active: whether extension @index runs on @account. */
gboolean pxm_account_is_active(PxmAccount *account, guint index);

/**
 * pxm_pipeline_incoming:
 * @stanza: (transfer none): a record with kind and stanza set
 *
 * Runs the incoming phases.  Afterwards, a message with a body that
 * continues to the prpl passes the presenter's identity gate: a message
 * already shown is dropped.
 *
 * Returns: CONTINUE if the prpl should process the stanza.
 */
PxmVerdict pxm_pipeline_incoming(PxmAccount *account, PxmStanza *stanza);

/**
 * pxm_account_join_room:
 * @components: (transfer none): prpl-jabber's join_chat components (room,
 *   server, handle, password)
 *
 * Asks the active extensions whether to hold this join
 * (PxmExtensionClass.join_room).  A held join is handed to @account's join
 * function once every extension holding it released it, or after
 * PXM_JOIN_HOLD_MAX_S.
 *
 * Returns: TRUE if held (the components are copied); FALSE: join now.
 */
gboolean pxm_account_join_room(PxmAccount *account, GHashTable *components);

/** pxm_account_release_joins_of: extension @index stops: what it held
 * goes on without it. */
void pxm_account_release_joins_of(PxmAccount *account, guint index);

/** pxm_account_release_all_joins: every held join goes on now (the
 * plugin unloads, the connection stays). */
void pxm_account_release_all_joins(PxmAccount *account);

/** pxm_account_drop_joins: frees the held joins without joining (the
 * connection goes away). */
void pxm_account_drop_joins(PxmAccount *account);

/** pxm_account_n_held_joins: how many joins are held. */
guint pxm_account_n_held_joins(PxmAccount *account);

/** pxm_pipeline_outgoing: runs the outgoing phases (changes in place). */
void pxm_pipeline_outgoing(PxmAccount *account, PxmStanza *stanza);

/**
 * pxm_stanza_init:
 * Fills a record from @node (kind, type, from, to, id, body).
 */
void pxm_stanza_init(PxmStanza *stanza, xmlnode *node, gboolean outgoing);

/** pxm_stanza_clear: frees the strings of a record (not the record). */
void pxm_stanza_clear(PxmStanza *stanza);

/* --- The host (one per loaded plugin) --------------------------------- */

/**
 * pxm_host_init:
 *
 * Loads the built-in extensions from the embedded manifests.
 *
 * Returns: FALSE with @error set when a manifest is invalid or manifests
 * and classes disagree (a build bug: the plugin refuses to load).
 */
gboolean pxm_host_init(GError **error);

/** pxm_host_shutdown: takes every account offline and frees the host. */
void pxm_host_shutdown(void);

/** pxm_host_get_registry: (transfer none) (nullable) */
PxmRegistry *pxm_host_get_registry(void);

/** The account setting that turns extension @id on or off. */
char *pxm_host_setting_key_dup(const char *id);

/**
 * pxm_host_extension_wanted:
 * Returns: whether the user wants extension @ext on @account (its setting,
 * or the manifest default) and everything it depends on.
 */
gboolean pxm_host_extension_wanted(PurpleAccount *account,
				   const PxmExtension *ext);

/** pxm_host_connection_up: the account is signed on: start extensions. */
void pxm_host_connection_up(PurpleConnection *gc);

/** pxm_host_connection_down: the account signs off: stop everything. */
void pxm_host_connection_down(PurpleConnection *gc);

/**
 * pxm_host_refresh:
 * Re-reads the per-extension settings of @account and starts or stops
 * extensions to match.  Returns TRUE if something changed.
 */
gboolean pxm_host_refresh(PurpleAccount *account);

/** pxm_host_lookup: (transfer none) (nullable): the state of @gc. */
PxmAccount *pxm_host_lookup(PurpleConnection *gc);

/** pxm_host_feature_enabled: whether @gc advertises @feature. */
gboolean pxm_host_feature_enabled(PurpleConnection *gc, const char *feature);

/**
 * pxm_host_all_features:
 * Returns: (transfer container): every feature any extension can
 * advertise (strings borrowed from the manifests).
 */
GPtrArray *pxm_host_all_features(void);

/**
 * pxm_host_file_wanted:
 * @direct: whether prpl-jabber could send to @who itself
 *
 * Returns: TRUE if an active extension of @gc's account (PxmFileSender)
 * sends files to @who.
 */
gboolean pxm_host_file_wanted(PurpleConnection *gc, const char *who,
			      gboolean direct);

/**
 * pxm_host_file_new_xfer:
 * Returns: (transfer full) (nullable): a SEND transfer from the first
 * extension that wants @who (pxm_host_file_wanted()), NULL when none does.
 */
PurpleXfer *pxm_host_file_new_xfer(PurpleConnection *gc, const char *who,
				   gboolean direct);

/**
 * pxm_host_send_message:
 * @to: the recipient (as the conversation names it) or the room
 * @html: what the user typed, as libpurple hands it to the prpl
 *
 * Offers a typed message to the active extensions of @gc's account
 * (PxmSendMessageFunc), in id order.
 *
 * Returns: PXM_SEND_NOT_MINE when the prpl should send it.
 */
PxmSendResult pxm_host_send_message(PurpleConnection *gc, const char *to,
				    const char *html, PurpleMessageFlags flags,
				    gboolean groupchat);

/**
 * pxm_host_join_room:
 * The glue's join_chat: pxm_account_join_room() on @gc's account.
 * Returns: TRUE if held; FALSE: the prpl joins now.
 */
gboolean pxm_host_join_room(PurpleConnection *gc, GHashTable *components);

/** pxm_host_release_joins: the held joins of @gc go on now (unload). */
void pxm_host_release_joins(PurpleConnection *gc);

/**
 * pxm_host_plugin_load:
 * Gives every extension its plugin_load() call (once per plugin load,
 * after pxm_host_init()); pxm_host_plugin_unload() is the mirror.
 */
void pxm_host_plugin_load(PurplePlugin *plugin);
void pxm_host_plugin_unload(PurplePlugin *plugin);

G_END_DECLS

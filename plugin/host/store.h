// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * Per-account SQLite store of purple-xmpp-modern.
 *
 * One PxmStore per XMPP account, one long-lived SQLite connection in WAL mode.
 * It holds what grows or must change atomically with a message: the message
 * identity index (below), archive positions (the key-value table), and the
 * tables extensions add through pxm_store_ensure_schema() (OMEMO identity,
 * sessions, trust...).
 *
 * The store knows nothing of libpurple: the caller passes the path (the plugin
 * uses purple_user_dir()/xmpp-modern/<bare-jid>/store.sqlite3).
 *
 * A store that cannot be used (not a SQLite file, damaged, another program's
 * database, a newer schema) is reported and left exactly as it is: it may hold
 * an OMEMO identity whose loss would cost the user their conversations.
 *
 * Not thread-safe: use a PxmStore from one thread (libpurple's main loop).
 */
#ifndef PXM_STORE_H
#define PXM_STORE_H

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

#define PXM_STORE_ERROR (pxm_store_error_quark())

/**
 * PxmStoreError:
 * @PXM_STORE_ERROR_OPEN: the file or its folder could not be created, opened
 *   or read (permissions, missing folder, I/O error); the message names the
 *   path and the system's reason.
 * @PXM_STORE_ERROR_CORRUPT: the file exists but is not a store we can use: not
 *   a SQLite database, damaged, or another application's database. The file is
 *   left untouched; the message names the path.
 * @PXM_STORE_ERROR_NEWER_SCHEMA: a component's tables were written by a newer
 *   version of the plugin. Nothing was changed.
 * @PXM_STORE_ERROR_MIGRATION: a schema migration failed (or the migration list
 *   is malformed); that migration was rolled back, the component stays at its
 *   previous version.
 * @PXM_STORE_ERROR_SQL: any other SQLite failure (statement error, constraint,
 *   disk full, I/O error after open).
 * @PXM_STORE_ERROR_BUSY: another process holds a lock on the database for
 *   longer than the busy timeout, or the store is already open in this
 *   process (one PxmStore per file and process).
 *
 * Error codes of the %PXM_STORE_ERROR domain.
 */
typedef enum {
	PXM_STORE_ERROR_OPEN,
	PXM_STORE_ERROR_CORRUPT,
	PXM_STORE_ERROR_NEWER_SCHEMA,
	PXM_STORE_ERROR_MIGRATION,
	PXM_STORE_ERROR_SQL,
	PXM_STORE_ERROR_BUSY,
} PxmStoreError;

/**
 * pxm_store_error_quark:
 *
 * Returns: the error domain of the store, %PXM_STORE_ERROR.
 */
GQuark pxm_store_error_quark(void);

typedef struct PxmStore PxmStore;

/**
 * PxmStoreMigration:
 * @version: the schema version this step produces. The steps of a component
 *   are numbered 1, 2, 3... in order: step i takes the schema from i - 1 to i.
 * @sql: one or more SQL statements. They must not contain transaction control
 *   (BEGIN, COMMIT, SAVEPOINT...): the store runs each step in its own
 *   transaction together with the version bump.
 *
 * One step of a component's schema. Steps are never edited once released; a
 * change is a new step.
 */
typedef struct {
	int version;
	const char *sql;
} PxmStoreMigration;

/**
 * PxmMessageIdentity:
 * @conversation: normalised bare JID of the chat partner, or of the room.
 *   Required.
 * @sender: (nullable): normalised JID of the author: bare JID in 1:1 chats
 *   (our own bare JID for messages we sent), room@service/nick in rooms.
 *   @origin_id and @message_id are only matched together with a sender.
 * @stanza_id: (nullable): XEP-0359 stanza-id, only when it was set by the
 *   account's server (1:1) or by the room (groupchat): the caller checks `by`.
 * @origin_id: (nullable): XEP-0359 origin-id.
 * @message_id: (nullable): the id attribute of the <message/>.
 * @direction: opaque to the store; the presenter defines its values.
 * @timestamp: opaque to the store; by convention Unix time in microseconds
 *   (the scale of g_get_real_time()).
 *
 * The keys under which a message can be recognised when it is seen again (live,
 * as a carbon, from the archive). All strings are borrowed; the store copies
 * what it keeps. The store does not normalise JIDs: the caller does.
 */
typedef struct {
	const char *conversation;
	const char *sender;
	const char *stanza_id;
	const char *origin_id;
	const char *message_id;
	int direction;
	gint64 timestamp;
} PxmMessageIdentity;

/**
 * pxm_store_open:
 * @path: (type filename): the database file. Missing parent folders are
 *   created with mode 0700. A missing file is created with mode 0600; an
 *   existing usable store with a looser mode is tightened to 0600 (so are its
 *   -wal, -shm and -journal files).
 * @error: return location for a #GError, or %NULL.
 *
 * Opens (creating if needed) an account's store and brings the host's own
 * schema (component "host": the message identity index and the key-value
 * table) up to date.
 *
 * The connection uses WAL with synchronous=NORMAL (a commit is durable once
 * the process has returned from it, even if the process is killed; only a
 * power loss or OS crash can lose the last commits, never corrupt the file),
 * foreign keys on, a 2 s busy timeout, secure_delete on (deleted key material
 * is overwritten, not left in free pages) and SQLite's defensive mode.
 *
 * Nothing is written to a file that turns out to be unusable (nor is its
 * mode changed): a file that is not SQLite is rejected by its header before
 * SQLite sees it, and a damaged, foreign or newer database is rejected before
 * the first write.
 *
 * A file can be open only once per process: a second pxm_store_open() of
 * it (by any path that leads to it) fails with %PXM_STORE_ERROR_BUSY until
 * the first store is closed.
 *
 * Errors: %PXM_STORE_ERROR_OPEN, %PXM_STORE_ERROR_CORRUPT,
 * %PXM_STORE_ERROR_NEWER_SCHEMA (for the "host" component),
 * %PXM_STORE_ERROR_BUSY, %PXM_STORE_ERROR_MIGRATION; messages name @path.
 *
 * Returns: (transfer full) (nullable): the store, to be closed with
 *   pxm_store_close(); %NULL on error.
 */
PxmStore *pxm_store_open(const char *path, GError **error);

/**
 * pxm_store_close:
 * @store: (nullable) (transfer full): a store, or %NULL.
 *
 * Finalises the cached statements and closes the connection (the last
 * connection checkpoints the WAL into the database and removes the -wal and
 * -shm files). An open transaction is rolled back, with a warning: that is a
 * bug in the caller. Statements an extension prepared on pxm_store_get_db()
 * must be finalised before; if not, a warning is logged and the connection is
 * closed when the last of them is finalised.
 */
void pxm_store_close(PxmStore *store);

G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmStore, pxm_store_close)

/**
 * pxm_store_get_db:
 * @store: a store.
 *
 * The SQLite connection, for extensions that keep their own tables (created
 * through pxm_store_ensure_schema()). Do not close it, do not change its
 * journal mode, and use pxm_store_begin()/pxm_store_commit() rather than
 * BEGIN/COMMIT so that nesting keeps working.
 *
 * Returns: (transfer none): the connection, valid until pxm_store_close().
 */
sqlite3 *pxm_store_get_db(PxmStore *store);

/**
 * pxm_store_get_path:
 * @store: a store.
 *
 * Returns: (transfer none) (type filename): the path given to pxm_store_open().
 */
const char *pxm_store_get_path(PxmStore *store);

/**
 * pxm_store_ensure_schema:
 * @store: a store.
 * @component: the owner of the tables, e.g. "xep0384-omemo" (the extension id).
 *   "host" is the store's own component.
 * @migrations: (array length=n_migrations): the component's steps, versions
 *   1..n_migrations in order.
 * @n_migrations: number of steps.
 * @error: return location for a #GError, or %NULL.
 *
 * Brings @component's tables up to version @n_migrations. The current version
 * is kept in the table `pxm_schema(component, version)` (0 when absent). Each
 * missing step runs in its own transaction (a savepoint when called inside
 * pxm_store_begin()) together with its version bump, so a failure leaves the
 * component at the last step that succeeded. Calling it again when up to date
 * changes nothing.
 *
 * Errors: %PXM_STORE_ERROR_NEWER_SCHEMA when the stored version is above
 * @n_migrations (nothing is changed: the caller must not use the tables);
 * %PXM_STORE_ERROR_MIGRATION when a step fails or @migrations is not numbered
 * 1..n; %PXM_STORE_ERROR_BUSY, %PXM_STORE_ERROR_SQL.
 *
 * Returns: %TRUE when the component is at version @n_migrations.
 */
gboolean pxm_store_ensure_schema(PxmStore *store, const char *component,
				 const PxmStoreMigration *migrations,
				 gsize n_migrations, GError **error);

/**
 * pxm_store_get_schema_version:
 * @store: a store.
 * @component: a component name.
 * @out_version: (out): the stored version, 0 when the component has none.
 * @error: return location for a #GError, or %NULL.
 *
 * Reads a component's schema version.
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_get_schema_version(PxmStore *store, const char *component,
				      int *out_version, GError **error);

/**
 * pxm_store_begin:
 * @store: a store.
 * @error: return location for a #GError, or %NULL.
 *
 * Starts a transaction. Transactions nest: the outermost level is a
 * `BEGIN IMMEDIATE` (it takes the write lock at once, so it waits for the busy
 * timeout instead of failing later with SQLITE_BUSY), inner levels are
 * savepoints. Every successful pxm_store_begin() must be matched by exactly
 * one pxm_store_commit() or pxm_store_rollback(). Only the outermost commit
 * makes changes durable; an inner rollback undoes that level only.
 *
 * Errors: %PXM_STORE_ERROR_BUSY, %PXM_STORE_ERROR_SQL; on error no level was
 * opened.
 *
 * Returns: %TRUE when a level was opened.
 */
gboolean pxm_store_begin(PxmStore *store, GError **error);

/**
 * pxm_store_commit:
 * @store: a store inside pxm_store_begin().
 * @error: return location for a #GError, or %NULL.
 *
 * Commits the innermost level (releases its savepoint, or commits the
 * transaction at the outermost level). The level is closed in every case: if
 * the commit fails, the level's changes are rolled back.
 *
 * Errors: %PXM_STORE_ERROR_BUSY, %PXM_STORE_ERROR_SQL (also when SQLite had
 * already rolled the whole transaction back after an earlier error, e.g. a
 * full disk).
 *
 * Returns: %TRUE when the changes were committed.
 */
gboolean pxm_store_commit(PxmStore *store, GError **error);

/**
 * pxm_store_rollback:
 * @store: a store inside pxm_store_begin().
 * @error: return location for a #GError, or %NULL.
 *
 * Undoes the innermost level and closes it (the level is closed even when
 * this fails).
 *
 * Errors: %PXM_STORE_ERROR_SQL.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_rollback(PxmStore *store, GError **error);

/**
 * pxm_store_get_generation:
 * @store: a store.
 *
 * A number that changes whenever a key-value entry is written or deleted
 * and whenever a transaction is rolled back: what a caller computed from
 * the key-value table is still right while it has not changed.
 *
 * Returns: the current generation.
 */
guint64 pxm_store_get_generation(PxmStore *store);

/**
 * pxm_store_get_transaction_depth:
 * @store: a store.
 *
 * Returns: how many pxm_store_begin() levels are open (0: none).
 */
guint pxm_store_get_transaction_depth(PxmStore *store);

/**
 * pxm_store_exec:
 * @store: a store.
 * @sql: one or more SQL statements without parameters (never build it from
 *   untrusted data: use prepared statements on pxm_store_get_db() for that).
 * @error: return location for a #GError, or %NULL.
 *
 * Runs @sql, discarding any rows.
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY,
 * %PXM_STORE_ERROR_CORRUPT.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_exec(PxmStore *store, const char *sql, GError **error);

/**
 * pxm_store_identity_lookup:
 * @store: a store.
 * @id: the message's keys; @id->conversation is required.
 * @out_found: (out): whether a recorded message matches.
 * @out_rowid: (out) (optional): the matching row id (stable, usable as a
 *   foreign key by extensions), 0 when not found.
 * @error: return location for a #GError, or %NULL.
 *
 * Looks up a message by its identity in @id->conversation: it matches when
 * ANY given key matches a recorded message: the stanza-id, or the origin-id
 * with the sender, or the message id with the sender (keys that are %NULL are
 * not used; origin-id and message id need a sender). When keys point at
 * different rows, the stanza-id wins, then the origin-id. Uses cached
 * statements and the unique indexes: a few microseconds.
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY.
 *
 * Returns: %TRUE on success (whether or not it was found).
 */
gboolean pxm_store_identity_lookup(PxmStore *store,
				   const PxmMessageIdentity *id,
				   gboolean *out_found, gint64 *out_rowid,
				   GError **error);

/**
 * pxm_store_identity_record:
 * @store: a store.
 * @id: the message's keys; @id->conversation is required.
 * @error: return location for a #GError, or %NULL.
 *
 * Records a message's identity. If a row matches (as in
 * pxm_store_identity_lookup()), the keys it lacks are added to it, so a
 * message seen live without a stanza-id and later from the archive with one
 * ends up as one row holding both. Keys a row already has are never
 * overwritten; a key that already belongs to another row is not moved (rows
 * are never merged: extensions may refer to their ids). The sender of a row
 * is only filled in when it was unknown and the row had no sender-scoped key
 * yet. Direction and timestamp are those of the first record. Runs as one
 * transaction level (nests in pxm_store_begin()).
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_identity_record(PxmStore *store,
				   const PxmMessageIdentity *id,
				   GError **error);

/**
 * pxm_store_kv_set:
 * @store: a store.
 * @component: the owner, e.g. an extension id.
 * @key: the key within @component.
 * @value: (array length=len) (nullable): the bytes to store (%NULL only when
 *   @len is 0).
 * @len: length of @value.
 * @error: return location for a #GError, or %NULL.
 *
 * Stores @value under (@component, @key), replacing any previous value. Meant
 * for small values such as archive positions; @value is copied.
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_kv_set(PxmStore *store, const char *component,
			  const char *key, const void *value, gsize len,
			  GError **error);

/**
 * pxm_store_kv_get_dup:
 * @store: a store.
 * @component: the owner.
 * @key: the key within @component.
 * @out_value: (out) (transfer full) (nullable): a copy of the value, %NULL
 *   when there is none.
 * @error: return location for a #GError, or %NULL.
 *
 * Reads the value stored under (@component, @key).
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY.
 *
 * Returns: %TRUE on success, whether or not a value was found.
 */
gboolean pxm_store_kv_get_dup(PxmStore *store, const char *component,
			      const char *key, GBytes **out_value,
			      GError **error);

/**
 * pxm_store_kv_set_string:
 * @store: a store.
 * @component: the owner.
 * @key: the key within @component.
 * @value: a NUL-terminated string (stored without the NUL).
 * @error: return location for a #GError, or %NULL.
 *
 * pxm_store_kv_set() for a string.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_kv_set_string(PxmStore *store, const char *component,
				 const char *key, const char *value,
				 GError **error);

/**
 * pxm_store_kv_get_string_dup:
 * @store: a store.
 * @component: the owner.
 * @key: the key within @component.
 * @out_value: (out) (transfer full) (nullable): a copy of the value, %NULL
 *   when there is none.
 * @error: return location for a #GError, or %NULL.
 *
 * pxm_store_kv_get_dup() for a string.
 *
 * Errors: as pxm_store_kv_get_dup(), and %PXM_STORE_ERROR_SQL when the value
 * holds a NUL byte (it is not a string).
 *
 * Returns: %TRUE on success, whether or not a value was found.
 */
gboolean pxm_store_kv_get_string_dup(PxmStore *store, const char *component,
				     const char *key, char **out_value,
				     GError **error);

/**
 * pxm_store_kv_delete:
 * @store: a store.
 * @component: the owner.
 * @key: (nullable): the key within @component, or %NULL for all of
 *   @component's keys.
 * @error: return location for a #GError, or %NULL.
 *
 * Removes a value (deleting a missing key is not an error).
 *
 * Errors: %PXM_STORE_ERROR_SQL, %PXM_STORE_ERROR_BUSY.
 *
 * Returns: %TRUE on success.
 */
gboolean pxm_store_kv_delete(PxmStore *store, const char *component,
			     const char *key, GError **error);

G_END_DECLS

#endif /* PXM_STORE_H */

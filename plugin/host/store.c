// SPDX-License-Identifier: GPL-3.0-or-later
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* Marks the file as ours ("PXMS"), so that another program's database that
 * happens to sit at our path is refused instead of being migrated. */
#define PXM_STORE_APPLICATION_ID 0x50584d53

/* The connection lives on libpurple's main loop: a lock held by another
 * process (a sqlite3 shell, a backup tool) freezes the UI for at most this. */
#define PXM_STORE_BUSY_TIMEOUT_MS 2000

/* After a checkpoint the WAL is truncated to this size, so that a big archive
 * import does not leave a big file (holding old page images) behind. */
#define PXM_STORE_WAL_SIZE_LIMIT (4 * 1024 * 1024)

#define PXM_STORE_SAVEPOINT "pxm_store"

#define PXM_STORE_HOST_COMPONENT "host"

/* clang-format off */
G_DEFINE_QUARK(pxm-store-error-quark, pxm_store_error)
/* clang-format on */

typedef enum {
	PXM_STMT_SCHEMA_GET,
	PXM_STMT_SCHEMA_SET,
	PXM_STMT_ID_BY_STANZA,
	PXM_STMT_ID_BY_ORIGIN,
	PXM_STMT_ID_BY_MESSAGE,
	PXM_STMT_ID_GET_ROW,
	PXM_STMT_ID_INSERT,
	PXM_STMT_ID_UPDATE,
	PXM_STMT_KV_GET,
	PXM_STMT_KV_SET,
	PXM_STMT_KV_DELETE,
	PXM_STMT_KV_DELETE_COMPONENT,
	PXM_STMT_BEGIN,
	PXM_STMT_SAVEPOINT,
	PXM_STMT_COMMIT,
	PXM_STMT_RELEASE,
	PXM_N_STMTS
} PxmStoreStmt;

static const char *const stmt_sql[PXM_N_STMTS] = {
	[PXM_STMT_SCHEMA_GET] =
		"SELECT version FROM pxm_schema WHERE component = ?1",
	[PXM_STMT_SCHEMA_SET] =
		"INSERT INTO pxm_schema (component, version) VALUES (?1, ?2) "
		"ON CONFLICT (component) DO UPDATE "
		"SET version = excluded.version",
	/* One statement per key rather than one with ORs: each is a single
	 * probe of its partial unique index. */
	[PXM_STMT_ID_BY_STANZA] = "SELECT id FROM messages "
				  "WHERE conversation = ?1 AND stanza_id = ?2",
	[PXM_STMT_ID_BY_ORIGIN] =
		"SELECT id FROM messages "
		"WHERE conversation = ?1 AND sender = ?2 AND origin_id = ?3",
	[PXM_STMT_ID_BY_MESSAGE] =
		"SELECT id FROM messages "
		"WHERE conversation = ?1 AND sender = ?2 AND message_id = ?3",
	[PXM_STMT_ID_GET_ROW] =
		"SELECT sender, stanza_id, origin_id, message_id FROM messages "
		"WHERE id = ?1",
	[PXM_STMT_ID_INSERT] =
		"INSERT INTO messages (conversation, sender, stanza_id, "
		"origin_id, message_id, direction, timestamp) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[PXM_STMT_ID_UPDATE] =
		"UPDATE messages SET sender = ?2, stanza_id = ?3, "
		"origin_id = ?4, message_id = ?5 WHERE id = ?1",
	[PXM_STMT_KV_GET] =
		"SELECT value FROM kv WHERE component = ?1 AND key = ?2",
	[PXM_STMT_KV_SET] =
		"INSERT INTO kv (component, key, value) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (component, key) DO UPDATE "
		"SET value = excluded.value",
	[PXM_STMT_KV_DELETE] =
		"DELETE FROM kv WHERE component = ?1 AND key = ?2",
	[PXM_STMT_KV_DELETE_COMPONENT] = "DELETE FROM kv WHERE component = ?1",
	/* Transactions run for every batch and nested record: prepared once
	 * rather than parsed each time. */
	[PXM_STMT_BEGIN] = "BEGIN IMMEDIATE",
	[PXM_STMT_SAVEPOINT] = "SAVEPOINT " PXM_STORE_SAVEPOINT,
	[PXM_STMT_COMMIT] = "COMMIT",
	[PXM_STMT_RELEASE] = "RELEASE " PXM_STORE_SAVEPOINT,
};

/* The host's own tables. Released steps are never edited: add a step. */
static const PxmStoreMigration host_migrations[] = {
	{ 1,
	  /* The message identity index of the presenter. conversation: bare
	   * JID of the partner or room; sender: bare JID (1:1) or room/nick.
	   * NULLs are distinct in unique indexes, so the partial indexes only
	   * constrain rows that carry the key. No AUTOINCREMENT: it costs a
	   * second table write per message (this runs for every message), and
	   * rows are never deleted, so row ids are never reused.  A future step
	   * that deletes rows must first make ids monotonic. */
	  "CREATE TABLE messages ("
	  " id INTEGER PRIMARY KEY,"
	  " conversation TEXT NOT NULL,"
	  " sender TEXT,"
	  " stanza_id TEXT,"
	  " origin_id TEXT,"
	  " message_id TEXT,"
	  " direction INTEGER NOT NULL DEFAULT 0,"
	  " timestamp INTEGER NOT NULL DEFAULT 0"
	  ");"
	  "CREATE UNIQUE INDEX messages_by_stanza_id"
	  " ON messages (conversation, stanza_id)"
	  " WHERE stanza_id IS NOT NULL;"
	  "CREATE UNIQUE INDEX messages_by_origin_id"
	  " ON messages (conversation, sender, origin_id)"
	  " WHERE origin_id IS NOT NULL;"
	  "CREATE UNIQUE INDEX messages_by_message_id"
	  " ON messages (conversation, sender, message_id)"
	  " WHERE message_id IS NOT NULL;"
	  "CREATE TABLE kv ("
	  " component TEXT NOT NULL,"
	  " key TEXT NOT NULL,"
	  " value BLOB NOT NULL,"
	  " PRIMARY KEY (component, key)"
	  ") WITHOUT ROWID;" },
};

struct PxmStore {
	char *path;
	char *file_id;
	sqlite3 *db;
	guint depth;
	sqlite3_stmt *stmts[PXM_N_STMTS];
	/* Key-value reads, "component\x1fkey" -> GBytes (or kv_absent):
	 * extensions read settings on every message.  Writes drop the entry,
	 * any rollback drops them all (the store has the only connection:
	 * locking_mode=EXCLUSIVE). */
	GHashTable *kv_cache;
	/* Bumped by every key-value write or delete and every rollback. */
	guint64 generation;
};

/* The cached answer "no such key": an address, not an allocation, so
 * nothing outlives the last store (the plugin can be unloaded). */
static const char kv_absent_mark;
#define kv_absent ((gpointer)&kv_absent_mark)
#define KV_CACHE_MAX 4096

static char *
kv_cache_key(const char *component, const char *key)
{
	return g_strconcat(component, "\x1f", key, NULL);
}

static void
kv_cache_forget(PxmStore *store, const char *component, const char *key)
{
	g_autofree char *k = NULL;

	store->generation++;
	if (store->kv_cache == NULL)
		return;
	if (key == NULL) {
		g_hash_table_remove_all(store->kv_cache);
		return;
	}
	k = kv_cache_key(component, key);
	g_hash_table_remove(store->kv_cache, k);
}

static void
kv_cache_value_free(gpointer value)
{
	if (value != kv_absent)
		g_bytes_unref(value);
}

/* A cached statement borrowed for one call: reset (releasing its read lock)
 * and unbound on every way out of the scope. */
typedef sqlite3_stmt *PxmCachedStmt;

static void
cached_stmt_release(sqlite3_stmt *stmt)
{
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
}

G_DEFINE_AUTO_CLEANUP_FREE_FUNC(PxmCachedStmt, cached_stmt_release, NULL)

static PxmStoreError
error_code_for(int rc, PxmStoreError fallback)
{
	switch (rc & 0xff) {
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return PXM_STORE_ERROR_BUSY;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return PXM_STORE_ERROR_CORRUPT;
	default:
		return fallback;
	}
}

/* Sets @error from the connection's last error; call right after the failing
 * sqlite3 call so that sqlite3_errmsg() still describes it. */
static void
set_sql_error(PxmStore *store, GError **error, int rc, const char *what)
{
	g_set_error(error, PXM_STORE_ERROR,
		    error_code_for(rc, PXM_STORE_ERROR_SQL), "%s: %s", what,
		    sqlite3_errmsg(store->db));
}

static void
set_open_error(PxmStore *store, GError **error, int rc)
{
	g_set_error(error, PXM_STORE_ERROR,
		    error_code_for(rc, PXM_STORE_ERROR_OPEN),
		    "Cannot open the store “%s”: %s", store->path,
		    store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
}

static gboolean
exec_sql(PxmStore *store, const char *sql, const char *what, GError **error)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);

	if (rc != SQLITE_OK) {
		set_sql_error(store, error, rc, what);
		return FALSE;
	}
	return TRUE;
}

static sqlite3_stmt *
store_stmt(PxmStore *store, PxmStoreStmt which, GError **error)
{
	int rc;

	if (store->stmts[which]) {
		return store->stmts[which];
	}
	rc = sqlite3_prepare_v3(store->db, stmt_sql[which], -1,
				SQLITE_PREPARE_PERSISTENT, &store->stmts[which],
				NULL);
	if (rc != SQLITE_OK) {
		set_sql_error(store, error, rc, "Cannot prepare a statement");
		return NULL;
	}
	return store->stmts[which];
}

/* Runs a cached statement that returns no rows. */
static gboolean
exec_cached(PxmStore *store, PxmStoreStmt which, const char *what,
	    GError **error)
{
	sqlite3_stmt *stmt = store_stmt(store, which, error);
	int rc;

	if (stmt == NULL) {
		return FALSE;
	}
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE) {
		set_sql_error(store, error, rc, what);
		return FALSE;
	}
	return TRUE;
}

/* Binds a borrowed string: the statement is reset and unbound before the
 * caller returns, so SQLite need not copy it. NULL binds SQL NULL. */
static void
bind_text(sqlite3_stmt *stmt, int index, const char *text)
{
	sqlite3_bind_text(stmt, index, text, -1, SQLITE_STATIC);
}

/* Steps a statement that yields at most one integer. */
static gboolean
step_int64(PxmStore *store, sqlite3_stmt *stmt, gboolean *out_found,
	   gint64 *out_value, GError **error)
{
	int rc = sqlite3_step(stmt);

	if (rc == SQLITE_ROW) {
		*out_found = TRUE;
		*out_value = sqlite3_column_int64(stmt, 0);
		return TRUE;
	}
	if (rc == SQLITE_DONE) {
		*out_found = FALSE;
		*out_value = 0;
		return TRUE;
	}
	set_sql_error(store, error, rc, "Cannot read from the store");
	return FALSE;
}

/* Steps a statement that yields no row. */
static gboolean
step_done(PxmStore *store, sqlite3_stmt *stmt, const char *what, GError **error)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE) {
		set_sql_error(store, error, rc, what);
		return FALSE;
	}
	return TRUE;
}

/* File checks done before SQLite sees the file. */

static gboolean
tighten_mode(const char *path, const struct stat *st, GError **error)
{
	if ((st->st_mode & (S_IRWXG | S_IRWXO)) == 0) {
		return TRUE;
	}
	if (g_chmod(path, S_IRUSR | S_IWUSR) != 0) {
		int saved_errno = errno;

		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN,
			    "Cannot restrict the permissions of “%s” to "
			    "0600: %s",
			    path, g_strerror(saved_errno));
		return FALSE;
	}
	return TRUE;
}

/* Stores open in this process, by "device:inode". A second connection to
 * one file in one process is refused: a raw open() and close() of a file
 * SQLite has open drops the POSIX locks of the other connection (see
 * prepare_file()), and two accounts sharing one store would share an OMEMO
 * identity. */
G_LOCK_DEFINE_STATIC(open_files);
static GHashTable *open_files;

static char *
file_id_for(const struct stat *st)
{
	return g_strdup_printf("%ju:%ju", (uintmax_t)st->st_dev,
			       (uintmax_t)st->st_ino);
}

static gboolean
file_id_is_open(const char *file_id)
{
	gboolean is_open;

	G_LOCK(open_files);
	is_open = open_files && g_hash_table_contains(open_files, file_id);
	G_UNLOCK(open_files);
	return is_open;
}

static void
file_id_register(const char *file_id)
{
	G_LOCK(open_files);
	if (open_files == NULL) {
		open_files = g_hash_table_new_full(g_str_hash, g_str_equal,
						   g_free, NULL);
	}
	g_hash_table_add(open_files, g_strdup(file_id));
	G_UNLOCK(open_files);
}

static void
file_id_unregister(const char *file_id)
{
	G_LOCK(open_files);
	if (open_files) {
		g_hash_table_remove(open_files, file_id);
		if (g_hash_table_size(open_files) == 0) {
			g_clear_pointer(&open_files, g_hash_table_unref);
		}
	}
	G_UNLOCK(open_files);
}

static void
set_busy_in_process_error(const char *path, GError **error)
{
	g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_BUSY,
		    "The store “%s” is already open in this process", path);
}

/* Creates the folders and an empty 0600 file if there is none; otherwise
 * checks that the file is a SQLite database by its header, before anything
 * could write to it. Sets @out_file_id to the file's identity. */
static gboolean
prepare_file(const char *path, char **out_file_id, GError **error)
{
	static const char magic[16] = "SQLite format 3";
	g_autofree char *dir = g_path_get_dirname(path);
	g_autofree char *file_id = NULL;
	char header[sizeof(magic)];
	struct stat st;
	ssize_t n;
	int fd;

	if (g_mkdir_with_parents(dir, S_IRWXU) != 0) {
		int saved_errno = errno;

		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN,
			    "Cannot create the folder “%s” of the store: %s",
			    dir, g_strerror(saved_errno));
		return FALSE;
	}

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY,
		  S_IRUSR | S_IWUSR);
	if (fd >= 0) {
		if (fstat(fd, &st) != 0) {
			int saved_errno = errno;

			close(fd);
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_OPEN,
				    "Cannot open the store “%s”: %s", path,
				    g_strerror(saved_errno));
			return FALSE;
		}
		close(fd);
		*out_file_id = file_id_for(&st);
		return TRUE;
	}
	if (errno != EEXIST) {
		int saved_errno = errno;

		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN,
			    "Cannot open the store “%s”: %s", path,
			    g_strerror(saved_errno));
		return FALSE;
	}

	/* Checked before our open(): its close() would release the locks that
	 * SQLite holds on the file for another connection of this process. */
	if (g_stat(path, &st) == 0) {
		file_id = file_id_for(&st);
		if (file_id_is_open(file_id)) {
			set_busy_in_process_error(path, error);
			return FALSE;
		}
	}

	/* O_NONBLOCK: a FIFO at our path must not hang the UI. O_RDWR so that a
	 * read-only file is reported here rather than opened read-only by
	 * SQLite. */
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int saved_errno = errno;

		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN,
			    "Cannot open the store “%s”: %s", path,
			    g_strerror(saved_errno));
		return FALSE;
	}

	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN,
			    "Cannot open the store “%s”: not a regular file",
			    path);
		return FALSE;
	}
	g_free(file_id);
	file_id = file_id_for(&st);

	/* An empty file is a new database to SQLite. */
	if (st.st_size > 0) {
		do {
			n = pread(fd, header, sizeof(header), 0);
		} while (n < 0 && errno == EINTR);
		if (n < 0) {
			int saved_errno = errno;

			close(fd);
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_OPEN,
				    "Cannot read the store “%s”: %s", path,
				    g_strerror(saved_errno));
			return FALSE;
		}
		if (n != (ssize_t)sizeof(header) ||
		    memcmp(header, magic, sizeof(magic)) != 0) {
			close(fd);
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_CORRUPT,
				    "The store “%s” is not a SQLite database; "
				    "it was left untouched",
				    path);
			return FALSE;
		}
	}

	close(fd);
	*out_file_id = g_steal_pointer(&file_id);
	return TRUE;
}

/* Tightens the database and its side files once we know the store is ours.
 * A -wal or -shm left with a loose mode would be reused as it is: SQLite only
 * chooses the mode when it creates them, copying the database's. */
static gboolean
tighten_files(PxmStore *store, GError **error)
{
	static const char *const suffixes[] = {
		"",
		"-wal",
		"-shm",
		"-journal",
	};
	const char *main_file = sqlite3_db_filename(store->db, "main");

	if (main_file == NULL || *main_file == '\0') {
		return TRUE;
	}
	for (gsize i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree char *file = NULL;
		struct stat st;

		/* Not through a symlink: sqlite3_db_filename() has resolved
		 * the database's own links already. */
		file = g_strconcat(main_file, suffixes[i], NULL);
		if (g_lstat(file, &st) != 0 || !S_ISREG(st.st_mode)) {
			continue;
		}
		if (!tighten_mode(file, &st, error)) {
			return FALSE;
		}
	}
	return TRUE;
}

/* Reads that refuse a file we must not touch; nothing is written before they
 * pass. Reading the header and the schema makes SQLite parse the file: a
 * damaged one fails with SQLITE_NOTADB or SQLITE_CORRUPT here. */
static gboolean
check_usable(PxmStore *store, gboolean *out_is_new, GError **error)
{
	static const char check_sql[] =
		"SELECT (SELECT application_id FROM pragma_application_id),"
		" (SELECT count(*) FROM sqlite_master),"
		" (SELECT count(*) FROM sqlite_master"
		"  WHERE type = 'table' AND name = 'pxm_schema')";
	sqlite3_stmt *stmt = NULL;
	gint64 app_id = 0, n_objects = 0, n_schema = 0;
	gboolean found;
	int rc;

	rc = sqlite3_prepare_v2(store->db, check_sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_ROW) {
		set_open_error(store, error, rc);
		sqlite3_finalize(stmt);
		return FALSE;
	}
	app_id = sqlite3_column_int64(stmt, 0);
	n_objects = sqlite3_column_int64(stmt, 1);
	n_schema = sqlite3_column_int64(stmt, 2);
	sqlite3_finalize(stmt);

	*out_is_new = n_objects == 0 && app_id == 0;
	if (*out_is_new) {
		return TRUE;
	}
	if (app_id != PXM_STORE_APPLICATION_ID || n_schema != 1) {
		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_CORRUPT,
			    "“%s” is not a purple-xmpp-modern store (another "
			    "program's database?); it was left untouched",
			    store->path);
		return FALSE;
	}

	{
		g_auto(PxmCachedStmt) get = NULL;
		gint64 version;

		get = store_stmt(store, PXM_STMT_SCHEMA_GET, error);
		if (get == NULL) {
			return FALSE;
		}
		bind_text(get, 1, PXM_STORE_HOST_COMPONENT);
		if (!step_int64(store, get, &found, &version, error)) {
			return FALSE;
		}
		if (found && version > (gint64)G_N_ELEMENTS(host_migrations)) {
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_NEWER_SCHEMA,
				    "The store “%s” was written by a newer "
				    "version of the plugin (schema "
				    "%" G_GINT64_FORMAT ", this version knows "
				    "%d); it was left untouched",
				    store->path, version,
				    (int)G_N_ELEMENTS(host_migrations));
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
configure_connection(PxmStore *store, GError **error)
{
	g_autofree char *settings = NULL;
	int rc;

	sqlite3_busy_timeout(store->db, PXM_STORE_BUSY_TIMEOUT_MS);
	/* Defensive mode forbids writable_schema and other ways for SQL to
	 * corrupt the file; untrusted schema keeps SQL functions with side
	 * effects out of views and triggers of a tampered file. */
	sqlite3_db_config(store->db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(store->db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);

	/* Connection settings only: none of these writes to the file. WAL with
	 * synchronous=NORMAL syncs at checkpoints, not at every commit: a
	 * killed process loses nothing committed and the file never corrupts;
	 * only a power cut can undo the last commits. secure_delete overwrites
	 * deleted content, so that removed pre-keys and old ratchet states do
	 * not linger in free pages. Exclusive locking: the store belongs to
	 * one account of one process, so hold the file lock for the whole
	 * connection; a second program (a second Pidgin on the same profile)
	 * is refused instead of interleaving ratchet steps, and no lock is
	 * taken and released per statement. */
	settings = g_strdup_printf("PRAGMA locking_mode = EXCLUSIVE;"
				   "PRAGMA foreign_keys = ON;"
				   "PRAGMA synchronous = NORMAL;"
				   "PRAGMA secure_delete = ON;"
				   "PRAGMA journal_size_limit = %d;",
				   PXM_STORE_WAL_SIZE_LIMIT);
	rc = sqlite3_exec(store->db, settings, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		set_open_error(store, error, rc);
		return FALSE;
	}
	return TRUE;
}

static gboolean
enable_wal(PxmStore *store, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	const char *mode;
	int rc;

	rc = sqlite3_prepare_v2(store->db, "PRAGMA journal_mode = WAL", -1,
				&stmt, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
	}
	if (rc != SQLITE_ROW) {
		set_open_error(store, error, rc);
		sqlite3_finalize(stmt);
		return FALSE;
	}
	/* A file system without shared memory support (some network mounts)
	 * keeps the rollback journal: still transactional, so go on. */
	mode = (const char *)sqlite3_column_text(stmt, 0);
	if (mode == NULL || g_ascii_strcasecmp(mode, "wal") != 0) {
		g_debug("store %s: journal mode stays %s", store->path,
			mode ? mode : "(unknown)");
	}
	sqlite3_finalize(stmt);
	return TRUE;
}

static gboolean
initialise_new(PxmStore *store, GError **error)
{
	g_autofree char *sql = NULL;
	int rc;

	sql = g_strdup_printf("BEGIN IMMEDIATE;"
			      "PRAGMA application_id = %d;"
			      "CREATE TABLE IF NOT EXISTS pxm_schema ("
			      " component TEXT PRIMARY KEY NOT NULL,"
			      " version INTEGER NOT NULL"
			      ") WITHOUT ROWID;"
			      "COMMIT;",
			      PXM_STORE_APPLICATION_ID);
	rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		set_open_error(store, error, rc);
		if (!sqlite3_get_autocommit(store->db)) {
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
		}
		return FALSE;
	}
	return TRUE;
}

/* Errors of the open sequence all name the file. */
static void
prefix_path(GError **error, const char *path)
{
	if (error && *error && strstr((*error)->message, path) == NULL) {
		g_prefix_error(error, "Cannot open the store “%s”: ", path);
	}
}

PxmStore *
pxm_store_open(const char *path, GError **error)
{
	g_autoptr(PxmStore) store = NULL;
	g_autofree char *file_id = NULL;
	gboolean is_new = FALSE;
	int rc;

	g_return_val_if_fail(path != NULL && *path != '\0', NULL);
	g_return_val_if_fail(error == NULL || *error == NULL, NULL);

	if (!prepare_file(path, &file_id, error)) {
		return NULL;
	}
	/* A new file cannot be open already; an existing one was checked
	 * before prepare_file() opened it, this catches a replaced file. */
	if (file_id_is_open(file_id)) {
		set_busy_in_process_error(path, error);
		return NULL;
	}

	store = g_new0(PxmStore, 1);
	store->kv_cache = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						kv_cache_value_free);
	store->path = g_strdup(path);
	store->file_id = g_steal_pointer(&file_id);
	file_id_register(store->file_id);

	/* No SQLITE_OPEN_CREATE: prepare_file() made the file, so a file that
	 * vanished in between is an error rather than silently recreated. */
	rc = sqlite3_open_v2(path, &store->db, SQLITE_OPEN_READWRITE, NULL);
	if (rc != SQLITE_OK) {
		set_open_error(store, error, rc);
		return NULL;
	}
	sqlite3_extended_result_codes(store->db, 1);

	if (!configure_connection(store, error) ||
	    !check_usable(store, &is_new, error) ||
	    !tighten_files(store, error) || !enable_wal(store, error) ||
	    (is_new && !initialise_new(store, error)) ||
	    !pxm_store_ensure_schema(store, PXM_STORE_HOST_COMPONENT,
				     host_migrations,
				     G_N_ELEMENTS(host_migrations), error)) {
		prefix_path(error, path);
		return NULL;
	}

	return g_steal_pointer(&store);
}

void
pxm_store_close(PxmStore *store)
{
	int rc;

	if (store == NULL) {
		return;
	}

	for (gsize i = 0; i < G_N_ELEMENTS(store->stmts); i++) {
		sqlite3_finalize(store->stmts[i]);
		store->stmts[i] = NULL;
	}
	g_clear_pointer(&store->kv_cache, g_hash_table_unref);

	if (store->db) {
		if (store->depth > 0) {
			g_warning("store %s closed inside a transaction; "
				  "rolling back",
				  store->path);
			if (!sqlite3_get_autocommit(store->db)) {
				sqlite3_exec(store->db, "ROLLBACK", NULL, NULL,
					     NULL);
			}
		}
		rc = sqlite3_close(store->db);
		if (rc == SQLITE_BUSY) {
			g_warning("store %s closed with statements still "
				  "prepared; it closes when they are finalised",
				  store->path);
			sqlite3_close_v2(store->db);
		}
	}

	if (store->file_id) {
		file_id_unregister(store->file_id);
	}
	g_free(store->file_id);
	g_free(store->path);
	g_free(store);
}

sqlite3 *
pxm_store_get_db(PxmStore *store)
{
	g_return_val_if_fail(store != NULL, NULL);

	return store->db;
}

const char *
pxm_store_get_path(PxmStore *store)
{
	g_return_val_if_fail(store != NULL, NULL);

	return store->path;
}

gboolean
pxm_store_exec(PxmStore *store, const char *sql, GError **error)
{
	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(sql != NULL, FALSE);

	return exec_sql(store, sql, "SQL failed", error);
}

/* Transactions. */

static void
set_rolled_back_error(GError **error)
{
	g_set_error_literal(error, PXM_STORE_ERROR, PXM_STORE_ERROR_SQL,
			    "The transaction was already rolled back by an "
			    "earlier error");
}

gboolean
pxm_store_begin(PxmStore *store, GError **error)
{
	g_return_val_if_fail(store != NULL, FALSE);

	if (store->depth == 0) {
		if (!exec_cached(store, PXM_STMT_BEGIN,
				 "Cannot begin a transaction", error)) {
			return FALSE;
		}
	} else {
		/* SAVEPOINT outside a transaction would start a new one:
		 * refuse when SQLite already ended ours (disk full...). */
		if (sqlite3_get_autocommit(store->db)) {
			set_rolled_back_error(error);
			return FALSE;
		}
		if (!exec_cached(store, PXM_STMT_SAVEPOINT,
				 "Cannot begin a transaction", error)) {
			return FALSE;
		}
	}
	store->depth++;
	return TRUE;
}

static void
rollback_level(PxmStore *store)
{
	kv_cache_forget(store, NULL, NULL);
	/* Nothing left to undo when SQLite rolled back the whole transaction
	 * itself. */
	if (sqlite3_get_autocommit(store->db)) {
		return;
	}
	if (store->depth == 1) {
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	} else {
		sqlite3_exec(store->db,
			     "ROLLBACK TO " PXM_STORE_SAVEPOINT ";"
			     "RELEASE " PXM_STORE_SAVEPOINT,
			     NULL, NULL, NULL);
	}
}

gboolean
pxm_store_commit(PxmStore *store, GError **error)
{
	gboolean ok;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(store->depth > 0, FALSE);

	if (sqlite3_get_autocommit(store->db)) {
		kv_cache_forget(store, NULL, NULL);
		store->depth--;
		set_rolled_back_error(error);
		return FALSE;
	}

	ok = exec_cached(store,
			 store->depth == 1 ? PXM_STMT_COMMIT : PXM_STMT_RELEASE,
			 "Cannot commit a transaction", error);
	if (!ok) {
		rollback_level(store);
	}
	store->depth--;
	return ok;
}

gboolean
pxm_store_rollback(PxmStore *store, GError **error)
{
	static const char rollback_to[] = "ROLLBACK TO " PXM_STORE_SAVEPOINT ";"
					  "RELEASE " PXM_STORE_SAVEPOINT;
	int rc = SQLITE_OK;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(store->depth > 0, FALSE);

	kv_cache_forget(store, NULL, NULL);
	if (!sqlite3_get_autocommit(store->db)) {
		rc = sqlite3_exec(store->db,
				  store->depth == 1 ? "ROLLBACK" : rollback_to,
				  NULL, NULL, NULL);
	}
	store->depth--;
	if (rc != SQLITE_OK) {
		set_sql_error(store, error, rc,
			      "Cannot roll back a transaction");
		return FALSE;
	}
	return TRUE;
}

guint64
pxm_store_get_generation(PxmStore *store)
{
	g_return_val_if_fail(store != NULL, 0);

	return store->generation;
}

guint
pxm_store_get_transaction_depth(PxmStore *store)
{
	g_return_val_if_fail(store != NULL, 0);

	return store->depth;
}

/* Schema versions. */

static gboolean
read_schema_version(PxmStore *store, const char *component, gint64 *out_version,
		    GError **error)
{
	g_auto(PxmCachedStmt) stmt = store_stmt(store, PXM_STMT_SCHEMA_GET,
						error);
	gboolean found;

	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, 1, component);
	return step_int64(store, stmt, &found, out_version, error);
}

gboolean
pxm_store_get_schema_version(PxmStore *store, const char *component,
			     int *out_version, GError **error)
{
	gint64 version = 0;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(component != NULL, FALSE);
	g_return_val_if_fail(out_version != NULL, FALSE);

	if (!read_schema_version(store, component, &version, error)) {
		return FALSE;
	}
	*out_version = (int)CLAMP(version, G_MININT, G_MAXINT);
	return TRUE;
}

static gboolean
write_schema_version(PxmStore *store, const char *component, gint64 version,
		     GError **error)
{
	g_auto(PxmCachedStmt) stmt = store_stmt(store, PXM_STMT_SCHEMA_SET,
						error);

	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, 1, component);
	sqlite3_bind_int64(stmt, 2, version);
	return step_done(store, stmt, "Cannot record the schema version",
			 error);
}

/* Runs step @step (1-based) of @component inside the current level. */
static gboolean
run_migration(PxmStore *store, const char *component,
	      const PxmStoreMigration *step, GError **error)
{
	char *message = NULL;
	int rc;

	rc = sqlite3_exec(store->db, step->sql, NULL, NULL, &message);
	if (rc != SQLITE_OK) {
		g_set_error(error, PXM_STORE_ERROR,
			    error_code_for(rc, PXM_STORE_ERROR_MIGRATION),
			    "Cannot update “%s” to schema version %d: %s",
			    component, step->version,
			    message ? message : sqlite3_errstr(rc));
		sqlite3_free(message);
		return FALSE;
	}
	/* A COMMIT in the step would have made it impossible to roll back. */
	if (sqlite3_get_autocommit(store->db)) {
		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_MIGRATION,
			    "Schema version %d of “%s” ended the "
			    "transaction; migrations must not contain "
			    "transaction control",
			    step->version, component);
		return FALSE;
	}
	return write_schema_version(store, component, step->version, error);
}

gboolean
pxm_store_ensure_schema(PxmStore *store, const char *component,
			const PxmStoreMigration *migrations, gsize n_migrations,
			GError **error)
{
	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(component != NULL, FALSE);
	g_return_val_if_fail(migrations != NULL || n_migrations == 0, FALSE);

	for (gsize i = 0; i < n_migrations; i++) {
		if (migrations[i].version != (gint64)i + 1 ||
		    migrations[i].sql == NULL) {
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_MIGRATION,
				    "Migration %" G_GSIZE_FORMAT " of “%s” "
				    "has version %d (expected "
				    "%" G_GSIZE_FORMAT ") or no SQL",
				    i, component, migrations[i].version, i + 1);
			return FALSE;
		}
	}

	/* The version is read again inside each step's transaction: another
	 * process migrating at the same time makes us skip what it did. */
	for (;;) {
		gint64 version = 0;

		if (!pxm_store_begin(store, error)) {
			return FALSE;
		}
		if (!read_schema_version(store, component, &version, error)) {
			break;
		}
		if (version > (gint64)n_migrations) {
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_NEWER_SCHEMA,
				    "The tables of “%s” in “%s” were written "
				    "by a newer version (schema "
				    "%" G_GINT64_FORMAT ", this version knows "
				    "%" G_GSIZE_FORMAT "); they were left "
				    "untouched",
				    component, store->path, version,
				    n_migrations);
			break;
		}
		if (version == (gint64)n_migrations) {
			/* Nothing was written: a rollback keeps the file as
			 * it is. */
			pxm_store_rollback(store, NULL);
			return TRUE;
		}
		if (version < 0) {
			g_set_error(error, PXM_STORE_ERROR,
				    PXM_STORE_ERROR_MIGRATION,
				    "Invalid schema version %" G_GINT64_FORMAT
				    " of “%s”",
				    version, component);
			break;
		}
		if (!run_migration(store, component, &migrations[version],
				   error)) {
			break;
		}
		if (!pxm_store_commit(store, error)) {
			return FALSE;
		}
	}

	pxm_store_rollback(store, NULL);
	return FALSE;
}

/* Message identity. */

static gboolean
lookup_key(PxmStore *store, PxmStoreStmt which, const char *conversation,
	   const char *scope, const char *key, gint64 *out_rowid,
	   GError **error)
{
	g_auto(PxmCachedStmt) stmt = NULL;
	gboolean found;
	int i = 1;

	*out_rowid = 0;
	stmt = store_stmt(store, which, error);
	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, i++, conversation);
	if (scope) {
		bind_text(stmt, i++, scope);
	}
	bind_text(stmt, i, key);
	return step_int64(store, stmt, &found, out_rowid, error);
}

typedef struct {
	gint64 by_stanza;
	gint64 by_origin;
	gint64 by_message;
} PxmIdentityMatches;

static gboolean
lookup_all(PxmStore *store, const PxmMessageIdentity *id, gboolean stop_early,
	   PxmIdentityMatches *matches, GError **error)
{
	memset(matches, 0, sizeof(*matches));

	if (id->stanza_id &&
	    !lookup_key(store, PXM_STMT_ID_BY_STANZA, id->conversation, NULL,
			id->stanza_id, &matches->by_stanza, error)) {
		return FALSE;
	}
	if (stop_early && matches->by_stanza) {
		return TRUE;
	}
	if (id->sender && id->origin_id &&
	    !lookup_key(store, PXM_STMT_ID_BY_ORIGIN, id->conversation,
			id->sender, id->origin_id, &matches->by_origin,
			error)) {
		return FALSE;
	}
	if (stop_early && matches->by_origin) {
		return TRUE;
	}
	if (id->sender && id->message_id &&
	    !lookup_key(store, PXM_STMT_ID_BY_MESSAGE, id->conversation,
			id->sender, id->message_id, &matches->by_message,
			error)) {
		return FALSE;
	}
	return TRUE;
}

static gint64
first_match(const PxmIdentityMatches *matches)
{
	if (matches->by_stanza) {
		return matches->by_stanza;
	}
	if (matches->by_origin) {
		return matches->by_origin;
	}
	return matches->by_message;
}

gboolean
pxm_store_identity_lookup(PxmStore *store, const PxmMessageIdentity *id,
			  gboolean *out_found, gint64 *out_rowid,
			  GError **error)
{
	PxmIdentityMatches matches;
	gint64 rowid;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(id != NULL && id->conversation != NULL, FALSE);
	g_return_val_if_fail(out_found != NULL, FALSE);

	if (!lookup_all(store, id, TRUE, &matches, error)) {
		return FALSE;
	}
	rowid = first_match(&matches);
	*out_found = rowid != 0;
	if (out_rowid) {
		*out_rowid = rowid;
	}
	return TRUE;
}

static gboolean
insert_identity(PxmStore *store, const PxmMessageIdentity *id, GError **error)
{
	g_auto(PxmCachedStmt) stmt = store_stmt(store, PXM_STMT_ID_INSERT,
						error);

	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, 1, id->conversation);
	bind_text(stmt, 2, id->sender);
	bind_text(stmt, 3, id->stanza_id);
	bind_text(stmt, 4, id->origin_id);
	bind_text(stmt, 5, id->message_id);
	sqlite3_bind_int(stmt, 6, id->direction);
	sqlite3_bind_int64(stmt, 7, id->timestamp);
	return step_done(store, stmt, "Cannot record a message", error);
}

/* Adds to row @rowid the keys of @id it lacks and no other row holds. */
static gboolean
merge_identity(PxmStore *store, gint64 rowid, const PxmMessageIdentity *id,
	       const PxmIdentityMatches *matches, GError **error)
{
	g_auto(PxmCachedStmt) get = NULL;
	g_auto(PxmCachedStmt) update = NULL;
	g_autofree char *sender = NULL;
	g_autofree char *stanza_id = NULL;
	g_autofree char *origin_id = NULL;
	g_autofree char *message_id = NULL;
	gboolean changed = FALSE;
	gboolean same_sender;
	int rc;

	get = store_stmt(store, PXM_STMT_ID_GET_ROW, error);
	if (get == NULL) {
		return FALSE;
	}
	sqlite3_bind_int64(get, 1, rowid);
	rc = sqlite3_step(get);
	if (rc != SQLITE_ROW) {
		set_sql_error(store, error,
			      rc == SQLITE_DONE ? SQLITE_ERROR : rc,
			      "Cannot read a recorded message");
		return FALSE;
	}
	sender = g_strdup((const char *)sqlite3_column_text(get, 0));
	stanza_id = g_strdup((const char *)sqlite3_column_text(get, 1));
	origin_id = g_strdup((const char *)sqlite3_column_text(get, 2));
	message_id = g_strdup((const char *)sqlite3_column_text(get, 3));
	sqlite3_reset(get);

	/* The sender scopes origin_id and message_id in their unique indexes:
	 * it is only filled in while the row has neither. */
	if (sender == NULL && origin_id == NULL && message_id == NULL &&
	    id->sender) {
		sender = g_strdup(id->sender);
		changed = TRUE;
	}
	same_sender = id->sender && g_strcmp0(sender, id->sender) == 0;

	/* A key found on another row stays there: merging rows would break
	 * extensions that refer to row ids. */
	if (stanza_id == NULL && id->stanza_id && matches->by_stanza == 0) {
		stanza_id = g_strdup(id->stanza_id);
		changed = TRUE;
	}
	if (origin_id == NULL && id->origin_id && same_sender &&
	    matches->by_origin == 0) {
		origin_id = g_strdup(id->origin_id);
		changed = TRUE;
	}
	if (message_id == NULL && id->message_id && same_sender &&
	    matches->by_message == 0) {
		message_id = g_strdup(id->message_id);
		changed = TRUE;
	}
	if (!changed) {
		return TRUE;
	}

	update = store_stmt(store, PXM_STMT_ID_UPDATE, error);
	if (update == NULL) {
		return FALSE;
	}
	sqlite3_bind_int64(update, 1, rowid);
	bind_text(update, 2, sender);
	bind_text(update, 3, stanza_id);
	bind_text(update, 4, origin_id);
	bind_text(update, 5, message_id);
	return step_done(store, update, "Cannot update a recorded message",
			 error);
}

gboolean
pxm_store_identity_record(PxmStore *store, const PxmMessageIdentity *id,
			  GError **error)
{
	PxmIdentityMatches matches;
	gint64 rowid;
	gboolean ok;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(id != NULL && id->conversation != NULL, FALSE);

	/* Fast path, for the common case of a message never seen: the unique
	 * indexes are exactly the keys a match is made on, so an insert that
	 * violates none of them means no row matches.  A failed insert only
	 * undoes itself, not the caller's transaction. */
	{
		g_auto(PxmCachedStmt) insert =
			store_stmt(store, PXM_STMT_ID_INSERT, error);
		int rc;

		if (insert == NULL) {
			return FALSE;
		}
		bind_text(insert, 1, id->conversation);
		bind_text(insert, 2, id->sender);
		bind_text(insert, 3, id->stanza_id);
		bind_text(insert, 4, id->origin_id);
		bind_text(insert, 5, id->message_id);
		sqlite3_bind_int(insert, 6, id->direction);
		sqlite3_bind_int64(insert, 7, id->timestamp);
		rc = sqlite3_step(insert);
		if (rc == SQLITE_DONE) {
			return TRUE;
		}
		if ((rc & 0xff) != SQLITE_CONSTRAINT) {
			set_sql_error(store, error, rc,
				      "Cannot record a message");
			return FALSE;
		}
	}

	if (!pxm_store_begin(store, error)) {
		return FALSE;
	}
	ok = lookup_all(store, id, FALSE, &matches, error);
	if (ok) {
		rowid = first_match(&matches);
		ok = rowid == 0 ? insert_identity(store, id, error)
				: merge_identity(store, rowid, id, &matches,
						 error);
	}
	if (!ok) {
		pxm_store_rollback(store, NULL);
		return FALSE;
	}
	return pxm_store_commit(store, error);
}

/* Key-value table. */

gboolean
pxm_store_kv_set(PxmStore *store, const char *component, const char *key,
		 const void *value, gsize len, GError **error)
{
	g_auto(PxmCachedStmt) stmt = NULL;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(component != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	g_return_val_if_fail(value != NULL || len == 0, FALSE);

	kv_cache_forget(store, component, key);
	stmt = store_stmt(store, PXM_STMT_KV_SET, error);
	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, 1, component);
	bind_text(stmt, 2, key);
	/* A NULL pointer would bind SQL NULL; an empty value is an empty
	 * blob. */
	sqlite3_bind_blob64(stmt, 3, value ? value : "", len, SQLITE_STATIC);
	return step_done(store, stmt, "Cannot store a value", error);
}

gboolean
pxm_store_kv_get_dup(PxmStore *store, const char *component, const char *key,
		     GBytes **out_value, GError **error)
{
	g_auto(PxmCachedStmt) stmt = NULL;
	g_autofree char *cache_key = NULL;
	gpointer cached;
	int rc;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(component != NULL, FALSE);
	g_return_val_if_fail(key != NULL, FALSE);
	g_return_val_if_fail(out_value != NULL, FALSE);

	*out_value = NULL;
	cache_key = kv_cache_key(component, key);
	if (store->kv_cache != NULL &&
	    g_hash_table_lookup_extended(store->kv_cache, cache_key, NULL,
					 &cached)) {
		if (cached != kv_absent)
			*out_value = g_bytes_ref(cached);
		return TRUE;
	}
	stmt = store_stmt(store, PXM_STMT_KV_GET, error);
	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, 1, component);
	bind_text(stmt, 2, key);
	rc = sqlite3_step(stmt);
	if (store->kv_cache != NULL &&
	    g_hash_table_size(store->kv_cache) >= KV_CACHE_MAX)
		g_hash_table_remove_all(store->kv_cache);
	if (rc == SQLITE_DONE) {
		if (store->kv_cache != NULL)
			g_hash_table_insert(store->kv_cache,
					    g_steal_pointer(&cache_key),
					    kv_absent);
		return TRUE;
	}
	if (rc != SQLITE_ROW) {
		set_sql_error(store, error, rc, "Cannot read a value");
		return FALSE;
	}
	/* column_blob before column_bytes, as SQLite documents. */
	{
		const void *data = sqlite3_column_blob(stmt, 0);
		int len = sqlite3_column_bytes(stmt, 0);

		*out_value = g_bytes_new(data, (gsize)len);
	}
	if (store->kv_cache != NULL)
		g_hash_table_insert(store->kv_cache,
				    g_steal_pointer(&cache_key),
				    g_bytes_ref(*out_value));
	return TRUE;
}

gboolean
pxm_store_kv_set_string(PxmStore *store, const char *component, const char *key,
			const char *value, GError **error)
{
	g_return_val_if_fail(value != NULL, FALSE);

	return pxm_store_kv_set(store, component, key, value, strlen(value),
				error);
}

gboolean
pxm_store_kv_get_string_dup(PxmStore *store, const char *component,
			    const char *key, char **out_value, GError **error)
{
	g_autoptr(GBytes) bytes = NULL;
	const char *data;
	gsize len;

	g_return_val_if_fail(out_value != NULL, FALSE);

	*out_value = NULL;
	if (!pxm_store_kv_get_dup(store, component, key, &bytes, error)) {
		return FALSE;
	}
	if (bytes == NULL) {
		return TRUE;
	}
	data = g_bytes_get_data(bytes, &len);
	if (len > 0 && memchr(data, '\0', len) != NULL) {
		g_set_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_SQL,
			    "The value of “%s” of “%s” is not a string", key,
			    component);
		return FALSE;
	}
	/* An empty GBytes may have no data pointer at all. */
	*out_value = len > 0 ? g_strndup(data, len) : g_strdup("");
	return TRUE;
}

gboolean
pxm_store_kv_delete(PxmStore *store, const char *component, const char *key,
		    GError **error)
{
	g_auto(PxmCachedStmt) stmt = NULL;

	g_return_val_if_fail(store != NULL, FALSE);
	g_return_val_if_fail(component != NULL, FALSE);

	kv_cache_forget(store, component, key);
	stmt = store_stmt(
		store, key ? PXM_STMT_KV_DELETE : PXM_STMT_KV_DELETE_COMPONENT,
		error);
	if (stmt == NULL) {
		return FALSE;
	}
	bind_text(stmt, 1, component);
	if (key) {
		bind_text(stmt, 2, key);
	}
	return step_done(store, stmt, "Cannot delete a value", error);
}

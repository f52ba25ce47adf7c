// SPDX-License-Identifier: GPL-3.0-or-later
#include "store.h"

#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib/gstdio.h>

/* argv[0], to run this binary again as the child of the crash test. */
static const char *self_path;

typedef struct {
	char *dir;
	char *path;
} Fixture;

static void
remove_tree(const char *path)
{
	struct stat st;

	if (g_lstat(path, &st) != 0) {
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		g_autoptr(GDir) dir = NULL;
		const char *name;

		g_chmod(path, 0700);
		dir = g_dir_open(path, 0, NULL);
		while (dir && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree char *child = NULL;

			child = g_build_filename(path, name, NULL);
			remove_tree(child);
		}
		g_rmdir(path);
	} else {
		g_unlink(path);
	}
}

static void
fixture_set_up(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	fx->dir = g_dir_make_tmp("pxm-store-XXXXXX", &error);
	g_assert_no_error(error);
	fx->path = g_build_filename(fx->dir, "store.sqlite3", NULL);
}

static void
fixture_tear_down(Fixture *fx, gconstpointer data)
{
	remove_tree(fx->dir);
	g_free(fx->path);
	g_free(fx->dir);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	g_assert_cmpint(g_stat(path, &st), ==, 0);
	return st.st_mode & 07777;
}

static gboolean
file_exists(const char *path)
{
	struct stat st;

	return g_lstat(path, &st) == 0;
}

static GBytes *
read_bytes(const char *path)
{
	g_autoptr(GError) error = NULL;
	char *data = NULL;
	gsize len = 0;

	g_file_get_contents(path, &data, &len, &error);
	g_assert_no_error(error);
	return g_bytes_new_take(data, len);
}

static void
write_bytes(const char *path, const void *data, gsize len)
{
	g_autoptr(GError) error = NULL;

	g_file_set_contents(path, data, (gssize)len, &error);
	g_assert_no_error(error);
}

static void
assert_same_bytes(GBytes *before, const char *path)
{
	g_autoptr(GBytes) after = read_bytes(path);

	g_assert_true(g_bytes_equal(before, after));
}

static gint64
query_int(PxmStore *store, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	gint64 value;

	g_assert_cmpint(sqlite3_prepare_v2(pxm_store_get_db(store), sql, -1,
					   &stmt, NULL),
			==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return value;
}

static char *
query_text(PxmStore *store, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	char *value;

	g_assert_cmpint(sqlite3_prepare_v2(pxm_store_get_db(store), sql, -1,
					   &stmt, NULL),
			==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	value = g_strdup((const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	return value;
}

static PxmStore *
open_ok(const char *path)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = pxm_store_open(path, &error);

	g_assert_no_error(error);
	g_assert_nonnull(store);
	return store;
}

static void
exec_ok(PxmStore *store, const char *sql)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_store_exec(store, sql, &error));
	g_assert_no_error(error);
}

static int
schema_version(PxmStore *store, const char *component)
{
	g_autoptr(GError) error = NULL;
	int version = -1;

	g_assert_true(pxm_store_get_schema_version(store, component, &version,
						   &error));
	g_assert_no_error(error);
	return version;
}

static gboolean
table_exists(PxmStore *store, const char *table)
{
	g_autofree char *sql = g_strdup_printf(
		"SELECT count(*) FROM sqlite_master WHERE type = 'table' "
		"AND name = '%s'",
		table);

	return query_int(store, sql) == 1;
}

static gint64
kv_count(PxmStore *store)
{
	return query_int(store, "SELECT count(*) FROM kv");
}

/* /store/open */

static void
test_open_creates_0600(Fixture *fx, gconstpointer data)
{
	g_autofree char *parent = g_build_filename(fx->dir, "a", "b", NULL);
	g_autofree char *path = g_build_filename(parent, "store.sqlite3", NULL);
	g_autofree char *wal = g_strconcat(path, "-wal", NULL);
	g_autofree char *shm = g_strconcat(path, "-shm", NULL);
	g_autofree char *top = g_build_filename(fx->dir, "a", NULL);
	g_autoptr(PxmStore) store = NULL;
	mode_t old_umask;

	/* The modes must not depend on the user's umask. */
	old_umask = umask(0);
	store = open_ok(path);
	g_assert_true(pxm_store_kv_set_string(store, "test", "k", "v", NULL));
	umask(old_umask);

	g_assert_cmpstr(pxm_store_get_path(store), ==, path);
	g_assert_cmpint(file_mode(top), ==, 0700);
	g_assert_cmpint(file_mode(parent), ==, 0700);
	g_assert_cmpint(file_mode(path), ==, 0600);
	g_assert_true(file_exists(wal));
	/* Exclusive locking keeps the WAL index in memory: no -shm file. */
	g_assert_false(file_exists(shm));
	g_assert_cmpint(file_mode(wal), ==, 0600);

	{
		g_autofree char *mode = NULL;

		mode = query_text(store, "PRAGMA journal_mode");
		g_assert_cmpstr(mode, ==, "wal");
	}
	g_assert_cmpint(query_int(store, "PRAGMA synchronous"), ==, 1);
	{
		g_autofree char *locking = NULL;

		locking = query_text(store, "PRAGMA locking_mode");
		g_assert_cmpstr(locking, ==, "exclusive");
	}
	g_assert_cmpint(query_int(store, "PRAGMA foreign_keys"), ==, 1);
	g_assert_cmpint(query_int(store, "PRAGMA busy_timeout"), >, 0);
	g_assert_cmpint(query_int(store, "PRAGMA application_id"), ==,
			0x50584d53);
	g_assert_cmpint(schema_version(store, "host"), ==, 1);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);

	/* The last connection checkpoints and removes its side files. */
	g_clear_pointer(&store, pxm_store_close);
	g_assert_false(file_exists(wal));
	g_assert_false(file_exists(shm));
}

static void
test_open_tightens_mode(Fixture *fx, gconstpointer data)
{
	g_autofree char *wal = g_strconcat(fx->path, "-wal", NULL);
	PxmStore *store;

	pxm_store_close(open_ok(fx->path));
	g_assert_cmpint(g_chmod(fx->path, 0644), ==, 0);
	/* An empty WAL left behind with a loose mode would be reused. */
	write_bytes(wal, "", 0);
	g_assert_cmpint(g_chmod(wal, 0666), ==, 0);

	store = open_ok(fx->path);
	g_assert_cmpint(file_mode(fx->path), ==, 0600);
	g_assert_cmpint(file_mode(wal), ==, 0600);
	pxm_store_close(store);
}

static void
test_open_reopen_keeps_data(Fixture *fx, gconstpointer data)
{
	PxmMessageIdentity id = {
		.conversation = "juliet@capulet.lit",
		.sender = "romeo@montague.lit",
		.origin_id = "o-1",
		.direction = 1,
		.timestamp = G_GINT64_CONSTANT(1700000000000000),
	};
	g_autoptr(GError) error = NULL;
	g_autofree char *value = NULL;
	PxmStore *store;
	gboolean found = FALSE;
	gint64 rowid = 0;

	store = open_ok(fx->path);
	g_assert_true(pxm_store_identity_record(store, &id, &error));
	g_assert_no_error(error);
	g_assert_true(pxm_store_kv_set_string(
		store, "xep0313-mam", "juliet@capulet.lit", "page-7", &error));
	g_assert_no_error(error);
	pxm_store_close(store);

	store = open_ok(fx->path);
	g_assert_true(
		pxm_store_identity_lookup(store, &id, &found, &rowid, &error));
	g_assert_no_error(error);
	g_assert_true(found);
	g_assert_cmpint(rowid, >, 0);
	g_assert_true(pxm_store_kv_get_string_dup(
		store, "xep0313-mam", "juliet@capulet.lit", &value, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(value, ==, "page-7");
	g_assert_cmpint(schema_version(store, "host"), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT timestamp FROM messages"), ==,
			G_GINT64_CONSTANT(1700000000000000));
	pxm_store_close(store);
}

static void
test_open_empty_file(Fixture *fx, gconstpointer data)
{
	PxmStore *store;

	write_bytes(fx->path, "", 0);
	store = open_ok(fx->path);
	g_assert_true(table_exists(store, "messages"));
	pxm_store_close(store);
}

/* Opens @path expecting @code; checks that the file is byte for byte and
 * mode for mode what it was, and that no side file was left. */
static void
assert_refused_untouched(const char *path, int code)
{
	g_autoptr(GBytes) before = read_bytes(path);
	g_autoptr(GError) error = NULL;
	g_autofree char *wal = g_strconcat(path, "-wal", NULL);
	g_autofree char *shm = g_strconcat(path, "-shm", NULL);
	g_autofree char *journal = g_strconcat(path, "-journal", NULL);
	mode_t mode = file_mode(path);
	PxmStore *store;

	store = pxm_store_open(path, &error);
	g_assert_null(store);
	g_test_message("refused: %s", error->message);
	g_assert_error(error, PXM_STORE_ERROR, code);
	g_assert_nonnull(strstr(error->message, path));

	assert_same_bytes(before, path);
	g_assert_cmpint(file_mode(path), ==, mode);
	g_assert_false(file_exists(wal));
	g_assert_false(file_exists(shm));
	g_assert_false(file_exists(journal));
}

static void
test_open_garbage_untouched(Fixture *fx, gconstpointer data)
{
	g_autoptr(GRand) rand = g_rand_new_with_seed(42);
	guint8 garbage[8192];

	for (gsize i = 0; i < sizeof(garbage); i++) {
		garbage[i] = (guint8)g_rand_int_range(rand, 0, 256);
	}
	write_bytes(fx->path, garbage, sizeof(garbage));
	g_assert_cmpint(g_chmod(fx->path, 0644), ==, 0);
	assert_refused_untouched(fx->path, PXM_STORE_ERROR_CORRUPT);

	/* Shorter than a header. */
	write_bytes(fx->path, "SQLite", 6);
	assert_refused_untouched(fx->path, PXM_STORE_ERROR_CORRUPT);
}

static void
test_open_damaged_untouched(Fixture *fx, gconstpointer data)
{
	g_autoptr(GBytes) good = NULL;
	g_autofree guint8 *bad = NULL;
	gsize len;
	PxmStore *store;

	store = open_ok(fx->path);
	for (int i = 0; i < 50; i++) {
		g_autofree char *key = g_strdup_printf("key-%d", i);

		g_assert_true(pxm_store_kv_set_string(store, "test", key,
						      "some value", NULL));
	}
	pxm_store_close(store);

	/* A SQLite header followed by a wrecked schema page. */
	good = read_bytes(fx->path);
	len = g_bytes_get_size(good);
	bad = g_malloc(len);
	memcpy(bad, g_bytes_get_data(good, NULL), len);
	g_assert_cmpuint(len, >, 4096);
	memset(bad + 100, 0xa5, 200);
	write_bytes(fx->path, bad, len);
	assert_refused_untouched(fx->path, PXM_STORE_ERROR_CORRUPT);

	/* A header that makes no sense (page size 3). */
	memcpy(bad, g_bytes_get_data(good, NULL), len);
	bad[16] = 0;
	bad[17] = 3;
	write_bytes(fx->path, bad, len);
	assert_refused_untouched(fx->path, PXM_STORE_ERROR_CORRUPT);
}

static void
test_open_foreign_untouched(Fixture *fx, gconstpointer data)
{
	sqlite3 *db = NULL;

	g_assert_cmpint(sqlite3_open(fx->path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db,
				     "CREATE TABLE bookmarks (url TEXT);"
				     "INSERT INTO bookmarks VALUES ('x');",
				     NULL, NULL, NULL),
			==, SQLITE_OK);
	sqlite3_close(db);
	g_assert_cmpint(g_chmod(fx->path, 0600), ==, 0);

	assert_refused_untouched(fx->path, PXM_STORE_ERROR_CORRUPT);
}

static void
test_open_newer_host_schema(Fixture *fx, gconstpointer data)
{
	PxmStore *store = open_ok(fx->path);

	exec_ok(store, "UPDATE pxm_schema SET version = 99 "
		       "WHERE component = 'host'");
	pxm_store_close(store);

	assert_refused_untouched(fx->path, PXM_STORE_ERROR_NEWER_SCHEMA);
}

static void
test_open_not_a_directory(Fixture *fx, gconstpointer data)
{
	g_autofree char *file = g_build_filename(fx->dir, "file", NULL);
	g_autofree char *path = g_build_filename(file, "sub", "store.sqlite3",
						 NULL);
	g_autoptr(GError) error = NULL;

	write_bytes(file, "x", 1);
	g_assert_null(pxm_store_open(path, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN);
	g_test_message("refused: %s", error->message);
	g_clear_error(&error);

	/* A folder where the file should be. */
	g_assert_null(pxm_store_open(fx->dir, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN);
	g_assert_nonnull(strstr(error->message, fx->dir));
}

static void
test_open_twice_in_process(Fixture *fx, gconstpointer data)
{
	g_autofree char *link = g_build_filename(fx->dir, "link.sqlite3", NULL);
	g_autoptr(GError) error = NULL;
	PxmStore *first = open_ok(fx->path);
	PxmStore *second;

	g_assert_null(pxm_store_open(fx->path, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_BUSY);
	g_clear_error(&error);

	/* Another name for the same file. */
	g_assert_cmpint(symlink(fx->path, link), ==, 0);
	g_assert_null(pxm_store_open(link, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_BUSY);
	g_clear_error(&error);

	/* The first store kept its locks and works. */
	g_assert_true(pxm_store_begin(first, &error));
	g_assert_true(pxm_store_kv_set_string(first, "t", "k", "v", &error));
	g_assert_true(pxm_store_commit(first, &error));
	g_assert_no_error(error);
	pxm_store_close(first);

	second = open_ok(link);
	g_assert_cmpint(kv_count(second), ==, 1);
	pxm_store_close(second);
}

/* Caller bugs at close: reported, and nothing is lost or leaked. */
static void
test_open_close_misuse(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	sqlite3_stmt *stmt = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_true(pxm_store_kv_set_string(store, "t", "kept", "1", NULL));
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "lost", "1", NULL));
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "*closed inside a transaction*");
	pxm_store_close(store);
	g_test_assert_expected_messages();

	/* An extension's statement left prepared: the connection closes
	 * when it is finalised. */
	store = open_ok(fx->path);
	g_assert_cmpint(kv_count(store), ==, 1);
	g_assert_cmpint(sqlite3_prepare_v2(pxm_store_get_db(store), "SELECT 1",
					   -1, &stmt, NULL),
			==, SQLITE_OK);
	g_test_expect_message(G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
			      "*statements still prepared*");
	pxm_store_close(store);
	g_test_assert_expected_messages();
	sqlite3_finalize(stmt);

	pxm_store_close(NULL);
}

/* The child of the permission test, a new run of this binary: it may drop
 * root privileges, which cannot be undone. Exit status 0: both opens were
 * refused as expected; 77: cannot run the check. */
static int
permission_child(const char *dir)
{
	g_autofree char *locked = g_build_filename(dir, "locked",
						   "store.sqlite3", NULL);
	g_autofree char *unreadable = g_build_filename(dir, "open",
						       "store.sqlite3", NULL);
	g_autoptr(GError) error = NULL;

	if (getuid() == 0) {
		struct passwd *nobody = getpwnam("nobody");

		if (nobody == NULL || setgroups(0, NULL) != 0 ||
		    setgid(nobody->pw_gid) != 0 ||
		    setuid(nobody->pw_uid) != 0) {
			return 77;
		}
	}

	g_assert_null(pxm_store_open(locked, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN);
	g_assert_nonnull(strstr(error->message, "Permission denied"));
	g_print("refused: %s\n", error->message);
	g_clear_error(&error);

	g_assert_null(pxm_store_open(unreadable, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_OPEN);
	g_assert_nonnull(strstr(error->message, unreadable));
	g_assert_nonnull(strstr(error->message, "Permission denied"));
	g_print("refused: %s\n", error->message);
	return 0;
}

static void
test_open_permission_denied(Fixture *fx, gconstpointer data)
{
	g_autofree char *locked = g_build_filename(fx->dir, "locked", NULL);
	g_autofree char *open_dir = g_build_filename(fx->dir, "open", NULL);
	g_autofree char *store_path = g_build_filename(open_dir,
						       "store.sqlite3", NULL);
	const char *argv[] = { self_path, "--permission-child", fx->dir, NULL };
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) before = NULL;
	g_autofree char *out = NULL;
	int status = -1;

	/* locked/: nobody else may enter. open/store.sqlite3: an existing
	 * store nobody else may read. As root, the child becomes nobody. */
	g_assert_cmpint(g_mkdir(locked, 0700), ==, 0);
	g_assert_cmpint(g_mkdir(open_dir, 0777), ==, 0);
	g_assert_cmpint(g_chmod(open_dir, 0777), ==, 0);
	g_assert_cmpint(g_chmod(fx->dir, 0711), ==, 0);
	pxm_store_close(open_ok(store_path));
	before = read_bytes(store_path);
	if (getuid() != 0) {
		g_assert_cmpint(g_chmod(locked, 0), ==, 0);
	}
	g_assert_cmpint(g_chmod(store_path, 0), ==, 0);

	g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_DEFAULT,
				   NULL, NULL, &out, NULL, &status, &error));
	g_assert_no_error(error);
	g_test_message("%s", g_strchomp(out));
	g_assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		g_test_skip("running as root and cannot become nobody");
		return;
	}
	g_assert_cmpint(WEXITSTATUS(status), ==, 0);
	g_assert_true(g_pattern_match_simple("*refused*Permission denied*"
					     "refused*Permission denied*",
					     out));

	g_assert_cmpint(file_mode(store_path), ==, 0);
	assert_same_bytes(before, store_path);
}

/* /store/schema */

static const PxmStoreMigration test_migrations[] = {
	{ 1, "CREATE TABLE things (id INTEGER PRIMARY KEY, name TEXT);"
	     "INSERT INTO things (name) VALUES ('first');" },
	{ 2, "ALTER TABLE things ADD COLUMN colour TEXT;"
	     "CREATE TABLE more (x INTEGER);" },
	{ 3, "INSERT INTO more (x) VALUES (3);" },
};

static void
test_schema_migrate(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_cmpint(schema_version(store, "test"), ==, 0);
	g_assert_true(pxm_store_ensure_schema(store, "test", test_migrations, 2,
					      &error));
	g_assert_no_error(error);
	g_assert_cmpint(schema_version(store, "test"), ==, 2);
	g_assert_true(table_exists(store, "things"));
	g_assert_true(table_exists(store, "more"));
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM things"), ==, 1);

	/* Again: nothing runs (step 1 would fail or add a row). */
	g_assert_true(pxm_store_ensure_schema(store, "test", test_migrations, 2,
					      &error));
	g_assert_no_error(error);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM things"), ==, 1);
	g_assert_cmpint(schema_version(store, "test"), ==, 2);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);
	pxm_store_close(store);

	/* A later release adds step 3: only it runs, after a reopen. */
	store = open_ok(fx->path);
	g_assert_true(pxm_store_ensure_schema(store, "test", test_migrations, 3,
					      &error));
	g_assert_no_error(error);
	g_assert_cmpint(schema_version(store, "test"), ==, 3);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM things"), ==, 1);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM more"), ==, 1);

	/* Components are independent. */
	g_assert_cmpint(schema_version(store, "other"), ==, 0);
	g_assert_cmpint(schema_version(store, "host"), ==, 1);
	pxm_store_close(store);
}

static void
test_schema_newer_refused(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) before = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_true(pxm_store_ensure_schema(store, "test", test_migrations, 1,
					      &error));
	g_assert_no_error(error);
	exec_ok(store, "UPDATE pxm_schema SET version = 99 "
		       "WHERE component = 'test'");
	pxm_store_close(store);
	before = read_bytes(fx->path);

	store = open_ok(fx->path);
	g_assert_false(pxm_store_ensure_schema(store, "test", test_migrations,
					       2, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_NEWER_SCHEMA);
	g_test_message("refused: %s", error->message);
	g_assert_cmpint(schema_version(store, "test"), ==, 99);
	g_assert_false(table_exists(store, "more"));
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);
	pxm_store_close(store);

	assert_same_bytes(before, fx->path);
}

static void
test_schema_failed_migration_rolls_back(Fixture *fx, gconstpointer data)
{
	static const PxmStoreMigration broken[] = {
		{ 1, "CREATE TABLE good (x INTEGER);" },
		{ 2, "CREATE TABLE partial (x INTEGER);"
		     "INSERT INTO good VALUES (1);"
		     "CREATE TABLE broken (;" },
	};
	static const PxmStoreMigration fixed[] = {
		{ 1, "CREATE TABLE good (x INTEGER);" },
		{ 2, "CREATE TABLE partial (x INTEGER);" },
	};
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_false(
		pxm_store_ensure_schema(store, "test", broken, 2, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_MIGRATION);
	g_test_message("refused: %s", error->message);
	g_clear_error(&error);

	/* Step 1 was committed on its own, step 2 left no trace. */
	g_assert_cmpint(schema_version(store, "test"), ==, 1);
	g_assert_true(table_exists(store, "good"));
	g_assert_false(table_exists(store, "partial"));
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM good"), ==, 0);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);

	g_assert_true(pxm_store_ensure_schema(store, "test", fixed, 2, &error));
	g_assert_no_error(error);
	g_assert_cmpint(schema_version(store, "test"), ==, 2);
	g_assert_true(table_exists(store, "partial"));
	pxm_store_close(store);
}

static void
test_schema_bad_list(Fixture *fx, gconstpointer data)
{
	static const PxmStoreMigration gap[] = {
		{ 1, "CREATE TABLE a (x);" },
		{ 3, "CREATE TABLE b (x);" },
	};
	static const PxmStoreMigration commits[] = {
		{ 1, "CREATE TABLE c (x); COMMIT;" },
	};
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_false(pxm_store_ensure_schema(store, "gap", gap, 2, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_MIGRATION);
	g_clear_error(&error);
	g_assert_false(table_exists(store, "a"));
	g_assert_cmpint(schema_version(store, "gap"), ==, 0);

	/* Transaction control in a step is detected (it cannot be undone). */
	g_assert_false(
		pxm_store_ensure_schema(store, "commits", commits, 1, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_MIGRATION);
	g_clear_error(&error);
	g_assert_cmpint(schema_version(store, "commits"), ==, 0);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);

	/* No migrations at all is version 0: fine. */
	g_assert_true(pxm_store_ensure_schema(store, "none", NULL, 0, &error));
	g_assert_no_error(error);
	pxm_store_close(store);
}

static void
test_schema_inside_transaction(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_ensure_schema(store, "test", test_migrations, 2,
					      &error));
	g_assert_no_error(error);
	g_assert_cmpint(schema_version(store, "test"), ==, 2);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 1);
	g_assert_true(pxm_store_rollback(store, &error));
	g_assert_no_error(error);

	g_assert_cmpint(schema_version(store, "test"), ==, 0);
	g_assert_false(table_exists(store, "things"));
	pxm_store_close(store);
}

/* /store/identity */

static gint64
lookup(PxmStore *store, const PxmMessageIdentity *id)
{
	g_autoptr(GError) error = NULL;
	gboolean found = TRUE;
	gint64 rowid = -1;

	g_assert_true(
		pxm_store_identity_lookup(store, id, &found, &rowid, &error));
	g_assert_no_error(error);
	g_assert_true(found == (rowid != 0));
	return rowid;
}

static void
record(PxmStore *store, const PxmMessageIdentity *id)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_store_identity_record(store, id, &error));
	g_assert_no_error(error);
}

static gint64
count_messages(PxmStore *store)
{
	return query_int(store, "SELECT count(*) FROM messages");
}

static void
test_identity_by_each_key(Fixture *fx, gconstpointer data)
{
	static const char conv[] = "room@muc.example";
	static const char nick[] = "room@muc.example/alice";
	PxmMessageIdentity by_stanza = {
		.conversation = conv,
		.sender = nick,
		.stanza_id = "s-1",
	};
	PxmMessageIdentity by_origin = {
		.conversation = conv,
		.sender = nick,
		.origin_id = "o-2",
	};
	PxmMessageIdentity by_message = {
		.conversation = conv,
		.sender = nick,
		.message_id = "m-3",
	};
	PxmMessageIdentity probe = { .conversation = conv };
	PxmStore *store = open_ok(fx->path);
	gint64 s, o, m;

	g_assert_cmpint(lookup(store, &by_stanza), ==, 0);
	record(store, &by_stanza);
	record(store, &by_origin);
	record(store, &by_message);
	g_assert_cmpint(count_messages(store), ==, 3);
	s = lookup(store, &by_stanza);
	o = lookup(store, &by_origin);
	m = lookup(store, &by_message);
	g_assert_cmpint(s, >, 0);
	g_assert_cmpint(o, >, 0);
	g_assert_cmpint(m, >, 0);
	g_assert_cmpint(s, !=, o);
	g_assert_cmpint(o, !=, m);

	/* The stanza-id alone is enough, whoever the sender. */
	probe.stanza_id = "s-1";
	g_assert_cmpint(lookup(store, &probe), ==, s);
	probe.sender = "room@muc.example/mallory";
	g_assert_cmpint(lookup(store, &probe), ==, s);

	/* origin-id and message id only count with their sender. */
	probe = (PxmMessageIdentity){
		.conversation = conv,
		.origin_id = "o-2",
	};
	g_assert_cmpint(lookup(store, &probe), ==, 0);
	probe.sender = "room@muc.example/mallory";
	g_assert_cmpint(lookup(store, &probe), ==, 0);
	probe.sender = nick;
	g_assert_cmpint(lookup(store, &probe), ==, o);
	probe = (PxmMessageIdentity){
		.conversation = conv,
		.sender = "room@muc.example/mallory",
		.message_id = "m-3",
	};
	g_assert_cmpint(lookup(store, &probe), ==, 0);
	probe.sender = nick;
	g_assert_cmpint(lookup(store, &probe), ==, m);

	/* Keys are per conversation. */
	probe = by_stanza;
	probe.conversation = "other@muc.example";
	g_assert_cmpint(lookup(store, &probe), ==, 0);

	/* ANY key matching is a match; the stanza-id wins. */
	probe = (PxmMessageIdentity){
		.conversation = conv,
		.sender = nick,
		.stanza_id = "s-unknown",
		.origin_id = "o-unknown",
		.message_id = "m-3",
	};
	g_assert_cmpint(lookup(store, &probe), ==, m);
	probe.stanza_id = "s-1";
	g_assert_cmpint(lookup(store, &probe), ==, s);

	/* Recording again what is known adds nothing. */
	record(store, &by_stanza);
	record(store, &by_origin);
	record(store, &by_message);
	g_assert_cmpint(count_messages(store), ==, 3);
	pxm_store_close(store);
}

static void
test_identity_merge(Fixture *fx, gconstpointer data)
{
	/* Seen live without a stanza-id (our server did not add one to the
	 * carbon), then from the archive with it. */
	PxmMessageIdentity live = {
		.conversation = "juliet@capulet.lit",
		.sender = "juliet@capulet.lit",
		.origin_id = "o-1",
		.message_id = "m-1",
		.direction = 0,
		.timestamp = 1000,
	};
	PxmMessageIdentity archived = {
		.conversation = "juliet@capulet.lit",
		.sender = "juliet@capulet.lit",
		.stanza_id = "s-1",
		.origin_id = "o-1",
		.timestamp = 2000,
	};
	PxmMessageIdentity stanza_only = {
		.conversation = "juliet@capulet.lit",
		.stanza_id = "s-1",
	};
	PxmStore *store = open_ok(fx->path);
	gint64 rowid;

	record(store, &live);
	rowid = lookup(store, &live);
	g_assert_cmpint(lookup(store, &stanza_only), ==, 0);

	record(store, &archived);
	g_assert_cmpint(count_messages(store), ==, 1);
	g_assert_cmpint(lookup(store, &stanza_only), ==, rowid);
	g_assert_cmpint(lookup(store, &archived), ==, rowid);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM messages WHERE "
					 "stanza_id = 's-1' AND "
					 "origin_id = 'o-1' AND "
					 "message_id = 'm-1'"),
			==, 1);
	/* The first record's facts stay. */
	g_assert_cmpint(query_int(store, "SELECT timestamp FROM messages"), ==,
			1000);

	/* The other way round: archive first (stanza-id only, sender not
	 * known), then the live copy fills in the sender and its keys. */
	{
		PxmMessageIdentity first = {
			.conversation = "romeo@montague.lit",
			.stanza_id = "s-2",
		};
		PxmMessageIdentity second = {
			.conversation = "romeo@montague.lit",
			.sender = "romeo@montague.lit",
			.stanza_id = "s-2",
			.message_id = "m-2",
		};
		PxmMessageIdentity by_message = {
			.conversation = "romeo@montague.lit",
			.sender = "romeo@montague.lit",
			.message_id = "m-2",
		};

		record(store, &first);
		record(store, &second);
		g_assert_cmpint(count_messages(store), ==, 2);
		g_assert_cmpint(lookup(store, &by_message), ==,
				lookup(store, &first));
	}
	pxm_store_close(store);
}

static void
test_identity_conflict(Fixture *fx, gconstpointer data)
{
	static const char conv[] = "juliet@capulet.lit";
	PxmMessageIdentity a = {
		.conversation = conv,
		.sender = conv,
		.stanza_id = "s-a",
	};
	PxmMessageIdentity b = {
		.conversation = conv,
		.sender = conv,
		.origin_id = "o-b",
	};
	PxmMessageIdentity both = {
		.conversation = conv,
		.sender = conv,
		.stanza_id = "s-a",
		.origin_id = "o-b",
		.message_id = "m-new",
	};
	PxmMessageIdentity other_sender = {
		.conversation = conv,
		.sender = "romeo@montague.lit",
		.stanza_id = "s-a",
		.origin_id = "o-c",
	};
	PxmMessageIdentity o_c = {
		.conversation = conv,
		.sender = "romeo@montague.lit",
		.origin_id = "o-c",
	};
	PxmMessageIdentity m_new = {
		.conversation = conv,
		.sender = conv,
		.message_id = "m-new",
	};
	PxmStore *store = open_ok(fx->path);
	gint64 row_a, row_b;

	record(store, &a);
	record(store, &b);
	row_a = lookup(store, &a);
	row_b = lookup(store, &b);

	/* Keys pointing at two rows: rows are not merged, the stanza-id's row
	 * gets the keys nobody holds, o-b stays with its row. */
	record(store, &both);
	g_assert_cmpint(count_messages(store), ==, 2);
	g_assert_cmpint(lookup(store, &both), ==, row_a);
	g_assert_cmpint(lookup(store, &b), ==, row_b);
	g_assert_cmpint(lookup(store, &m_new), ==, row_a);

	/* A different sender claiming a known stanza-id does not attach its
	 * sender-scoped keys to that row. */
	record(store, &other_sender);
	g_assert_cmpint(count_messages(store), ==, 2);
	g_assert_cmpint(lookup(store, &o_c), ==, 0);
	pxm_store_close(store);
}

/* The lookups must stay index probes: they run for every message. */
static void
test_identity_query_plan(Fixture *fx, gconstpointer data)
{
	PxmMessageIdentity id = {
		.conversation = "c@example",
		.sender = "c@example",
		.stanza_id = "s",
		.origin_id = "o",
		.message_id = "m",
	};
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);
	sqlite3 *db = pxm_store_get_db(store);
	sqlite3_stmt *cached = NULL;
	gboolean found;
	int n_checked = 0;

	/* Not found: all three statements run and stay cached. */
	g_assert_true(
		pxm_store_identity_lookup(store, &id, &found, NULL, &error));
	g_assert_false(found);

	while ((cached = sqlite3_next_stmt(db, cached)) != NULL) {
		const char *sql = sqlite3_sql(cached);
		g_autofree char *explain = NULL;
		g_autofree char *plan = NULL;
		sqlite3_stmt *stmt = NULL;

		if (!g_str_has_prefix(sql, "SELECT id FROM messages")) {
			continue;
		}
		explain = g_strconcat("EXPLAIN QUERY PLAN ", sql, NULL);
		g_assert_cmpint(
			sqlite3_prepare_v2(db, explain, -1, &stmt, NULL), ==,
			SQLITE_OK);
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
		plan = g_strdup((const char *)sqlite3_column_text(stmt, 3));
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_DONE);
		sqlite3_finalize(stmt);
		g_test_message("%s -> %s", sql, plan);
		g_assert_true(g_str_has_prefix(plan, "SEARCH messages USING "));
		g_assert_nonnull(strstr(plan, "INDEX messages_by_"));
		n_checked++;
	}
	g_assert_cmpint(n_checked, ==, 3);
	pxm_store_close(store);
}

static void
test_identity_perf(Fixture *fx, gconstpointer data)
{
	const int n_rows = 20000, n_lookups = 200000;
	g_autoptr(GError) error = NULL;
	PxmStore *store;
	gint64 start;
	double elapsed;

	if (!g_test_perf()) {
		g_test_skip("run with -m perf");
		return;
	}

	store = open_ok(fx->path);
	start = g_get_monotonic_time();
	g_assert_true(pxm_store_begin(store, &error));
	for (int i = 0; i < n_rows; i++) {
		g_autofree char *conv = g_strdup_printf("c%d@example", i % 50);
		g_autofree char *s = g_strdup_printf("stanza-%d", i);
		g_autofree char *o = g_strdup_printf("origin-%d", i);
		PxmMessageIdentity id = {
			.conversation = conv,
			.sender = conv,
			.stanza_id = s,
			.origin_id = o,
			.timestamp = i,
		};

		record(store, &id);
	}
	g_assert_true(pxm_store_commit(store, &error));
	elapsed = (double)(g_get_monotonic_time() - start);
	g_test_message("record in one transaction: %.2f µs/message",
		       elapsed / n_rows);

	start = g_get_monotonic_time();
	for (int i = 0; i < 2000; i++) {
		g_autofree char *conv = g_strdup_printf("c%d@example", i % 50);
		g_autofree char *o = g_strdup_printf("live-%d", i);
		PxmMessageIdentity id = {
			.conversation = conv,
			.sender = conv,
			.origin_id = o,
		};

		record(store, &id);
	}
	elapsed = (double)(g_get_monotonic_time() - start);
	g_test_message("record, one transaction each: %.2f µs/message",
		       elapsed / 2000);

	start = g_get_monotonic_time();
	for (int i = 0; i < n_lookups; i++) {
		char conv[32], o[32];
		PxmMessageIdentity id = {
			.conversation = conv,
			.sender = conv,
			.origin_id = o,
			.stanza_id = NULL,
		};
		gboolean found;

		g_snprintf(conv, sizeof(conv), "c%d@example", i % 50);
		g_snprintf(o, sizeof(o), "origin-%d", i % n_rows);
		g_assert_true(pxm_store_identity_lookup(store, &id, &found,
							NULL, NULL));
	}
	elapsed = (double)(g_get_monotonic_time() - start);
	g_test_minimized_result(elapsed / n_lookups, "lookup: %.2f µs",
				elapsed / n_lookups);
	pxm_store_close(store);
}

/* /store/transaction */

static void
test_transaction_commit_rollback(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "a", "1", &error));
	g_assert_true(pxm_store_commit(store, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kv_count(store), ==, 1);

	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "b", "2", &error));
	g_assert_cmpint(kv_count(store), ==, 2);
	g_assert_true(pxm_store_rollback(store, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kv_count(store), ==, 1);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);
	pxm_store_close(store);

	store = open_ok(fx->path);
	g_assert_cmpint(kv_count(store), ==, 1);
	pxm_store_close(store);
}

/* The value of @key of component "t" in *@value (freeing the previous). */
static const char *
kv_get(PxmStore *store, char **value, const char *key)
{
	g_autoptr(GError) error = NULL;

	g_clear_pointer(value, g_free);
	g_assert_true(
		pxm_store_kv_get_string_dup(store, "t", key, value, &error));
	g_assert_no_error(error);
	return *value;
}

/* Reads are cached in memory: a value read again after a write, a delete
 * or a rollback is the stored one. */
static void
test_kv_cache(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);
	char *value = NULL;

	g_assert_null(kv_get(store, &value, "k"));
	g_assert_true(pxm_store_kv_set_string(store, "t", "k", "a", &error));
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "a");
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "a");
	/* A write in a transaction rolled back (at an inner level, then the
	 * whole transaction). */
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "k", "b", &error));
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "b");
	g_assert_true(pxm_store_rollback(store, &error));
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "a");
	g_assert_true(pxm_store_kv_set_string(store, "t", "new", "c", &error));
	g_assert_cmpstr(kv_get(store, &value, "new"), ==, "c");
	g_assert_true(pxm_store_rollback(store, &error));
	g_assert_null(kv_get(store, &value, "new"));
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "a");
	/* Deletes, one key and a whole component. */
	g_assert_true(pxm_store_kv_delete(store, "t", "k", &error));
	g_assert_null(kv_get(store, &value, "k"));
	g_assert_true(pxm_store_kv_set_string(store, "t", "k", "d", &error));
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "d");
	g_assert_true(pxm_store_kv_delete(store, "t", NULL, &error));
	g_assert_null(kv_get(store, &value, "k"));
	/* What was read from the cache is what the file holds. */
	g_assert_true(pxm_store_kv_set_string(store, "t", "k", "e", &error));
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "e");
	pxm_store_close(store);
	store = open_ok(fx->path);
	g_assert_cmpstr(kv_get(store, &value, "k"), ==, "e");
	g_free(value);
	g_assert_no_error(error);
	pxm_store_close(store);
}

static void
test_transaction_nested(Fixture *fx, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = open_ok(fx->path);

	/* Inner rollback undoes only the inner level. */
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "outer", "1", NULL));
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 2);
	g_assert_true(pxm_store_kv_set_string(store, "t", "inner", "1", NULL));
	g_assert_true(pxm_store_rollback(store, &error));
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 1);
	g_assert_cmpint(kv_count(store), ==, 1);
	/* A third level after that still nests correctly. */
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "inner2", "1", NULL));
	g_assert_true(pxm_store_commit(store, &error));
	g_assert_true(pxm_store_commit(store, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kv_count(store), ==, 2);

	/* Outer rollback undoes a committed inner level. */
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "lost", "1", NULL));
	g_assert_true(pxm_store_commit(store, &error));
	g_assert_true(pxm_store_rollback(store, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kv_count(store), ==, 2);
	g_assert_cmpuint(pxm_store_get_transaction_depth(store), ==, 0);

	/* identity_record nests: rolled back with the page it belongs to. */
	{
		PxmMessageIdentity id = {
			.conversation = "a@example",
			.stanza_id = "s",
		};

		g_assert_true(pxm_store_begin(store, &error));
		record(store, &id);
		g_assert_cmpint(count_messages(store), ==, 1);
		g_assert_true(pxm_store_rollback(store, &error));
		g_assert_cmpint(count_messages(store), ==, 0);
	}

	/* A failing statement inside a level does not end the transaction. */
	g_assert_true(pxm_store_begin(store, &error));
	g_assert_true(pxm_store_kv_set_string(store, "t", "kept", "1", NULL));
	g_assert_false(pxm_store_exec(store, "INSERT INTO nowhere VALUES (1)",
				      &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_SQL);
	g_clear_error(&error);
	g_assert_true(pxm_store_commit(store, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kv_count(store), ==, 3);
	pxm_store_close(store);
}

/* /store/kv */

static void
test_kv(Fixture *fx, gconstpointer data)
{
	static const guint8 blob[] = { 0x00, 0x01, 0xff, 0x00, 0x7f };
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) value = NULL;
	g_autofree char *text = NULL;
	PxmStore *store = open_ok(fx->path);

	g_assert_true(pxm_store_kv_get_dup(store, "omemo", "identity", &value,
					   &error));
	g_assert_no_error(error);
	g_assert_null(value);

	g_assert_true(pxm_store_kv_set(store, "omemo", "identity", blob,
				       sizeof(blob), &error));
	g_assert_true(pxm_store_kv_get_dup(store, "omemo", "identity", &value,
					   &error));
	g_assert_nonnull(value);
	g_assert_cmpmem(g_bytes_get_data(value, NULL), g_bytes_get_size(value),
			blob, sizeof(blob));
	g_clear_pointer(&value, g_bytes_unref);

	/* Not a string. */
	g_assert_false(pxm_store_kv_get_string_dup(store, "omemo", "identity",
						   &text, &error));
	g_assert_error(error, PXM_STORE_ERROR, PXM_STORE_ERROR_SQL);
	g_assert_null(text);
	g_clear_error(&error);

	/* Empty values exist and differ from missing ones. */
	g_assert_true(
		pxm_store_kv_set(store, "omemo", "empty", NULL, 0, &error));
	g_assert_true(
		pxm_store_kv_get_dup(store, "omemo", "empty", &value, &error));
	g_assert_nonnull(value);
	g_assert_cmpuint(g_bytes_get_size(value), ==, 0);
	g_clear_pointer(&value, g_bytes_unref);
	g_assert_true(pxm_store_kv_get_string_dup(store, "omemo", "empty",
						  &text, &error));
	g_assert_cmpstr(text, ==, "");
	g_clear_pointer(&text, g_free);

	/* Replace; components are separate namespaces. */
	g_assert_true(
		pxm_store_kv_set_string(store, "mam", "identity", "x", &error));
	g_assert_true(
		pxm_store_kv_set_string(store, "mam", "identity", "y", &error));
	g_assert_true(pxm_store_kv_get_string_dup(store, "mam", "identity",
						  &text, &error));
	g_assert_no_error(error);
	g_assert_cmpstr(text, ==, "y");
	g_clear_pointer(&text, g_free);
	g_assert_cmpint(kv_count(store), ==, 3);

	g_assert_true(pxm_store_kv_delete(store, "mam", "identity", &error));
	g_assert_true(pxm_store_kv_delete(store, "mam", "missing", &error));
	g_assert_true(pxm_store_kv_get_string_dup(store, "mam", "identity",
						  &text, &error));
	g_assert_null(text);
	g_assert_cmpint(kv_count(store), ==, 2);
	g_assert_true(pxm_store_kv_delete(store, "omemo", NULL, &error));
	g_assert_no_error(error);
	g_assert_cmpint(kv_count(store), ==, 0);
	pxm_store_close(store);
}

/* /store/crash */

static const PxmStoreMigration crash_migrations[] = {
	{ 1, "CREATE TABLE crash (id INTEGER PRIMARY KEY,"
	     " phase INTEGER NOT NULL, payload BLOB NOT NULL);" },
};

enum {
	CRASH_PHASE_PARENT = 0,
	CRASH_PHASE_CHILD_COMMITTED = 1,
	CRASH_PHASE_CHILD_UNCOMMITTED = 2,
	CRASH_N_PARENT = 10,
	CRASH_N_CHILD_COMMITTED = 100,
	/* 1 KiB rows: 6 MiB is well past the page cache, so uncommitted
	 * pages are spilled into the WAL before the kill. */
	CRASH_N_BEFORE_READY = 6000,
};

static void
crash_insert(PxmStore *store, int phase, int n)
{
	sqlite3_stmt *stmt = NULL;
	guint8 payload[1024];

	memset(payload, phase, sizeof(payload));
	g_assert_cmpint(sqlite3_prepare_v2(pxm_store_get_db(store),
					   "INSERT INTO crash (phase, payload) "
					   "VALUES (?1, ?2)",
					   -1, &stmt, NULL),
			==, SQLITE_OK);
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int(stmt, 1, phase);
		sqlite3_bind_blob(stmt, 2, payload, sizeof(payload),
				  SQLITE_STATIC);
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_DONE);
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
}

/* The child: commits some rows, then writes without end inside one
 * transaction, telling the parent on stdout when it is well into it. */
static int
crash_child(const char *path)
{
	g_autoptr(GError) error = NULL;
	PxmStore *store = pxm_store_open(path, &error);
	PxmMessageIdentity id = { .conversation = "crash@example" };

	if (store == NULL ||
	    !pxm_store_ensure_schema(store, "crash", crash_migrations,
				     G_N_ELEMENTS(crash_migrations), &error) ||
	    !pxm_store_begin(store, &error)) {
		g_printerr("crash child: %s\n", error->message);
		return 1;
	}
	crash_insert(store, CRASH_PHASE_CHILD_COMMITTED,
		     CRASH_N_CHILD_COMMITTED);
	id.stanza_id = "committed";
	g_assert_true(pxm_store_identity_record(store, &id, NULL));
	g_assert_true(pxm_store_commit(store, NULL));

	g_assert_true(pxm_store_begin(store, NULL));
	id.stanza_id = "uncommitted";
	g_assert_true(pxm_store_identity_record(store, &id, NULL));
	g_assert_true(
		pxm_store_kv_set_string(store, "crash", "k", "lost", NULL));
	crash_insert(store, CRASH_PHASE_CHILD_UNCOMMITTED,
		     CRASH_N_BEFORE_READY);
	if (write(STDOUT_FILENO, "ready\n", 6) != 6) {
		return 1;
	}
	for (;;) {
		crash_insert(store, CRASH_PHASE_CHILD_UNCOMMITTED, 100);
	}
	return 0;
}

static void
test_crash_sigkill(Fixture *fx, gconstpointer data)
{
	g_autofree char *wal = g_strconcat(fx->path, "-wal", NULL);
	const char *argv[] = { self_path, "--crash-child", fx->path, NULL };
	g_autoptr(GError) error = NULL;
	g_autofree char *check = NULL;
	g_autofree char *value = NULL;
	PxmMessageIdentity id = { .conversation = "crash@example" };
	struct pollfd pfd;
	struct stat st;
	char buf[16] = { 0 };
	gsize got = 0;
	PxmStore *store;
	GPid pid;
	int out_fd = -1;
	int status;

	store = open_ok(fx->path);
	g_assert_true(pxm_store_ensure_schema(store, "crash", crash_migrations,
					      G_N_ELEMENTS(crash_migrations),
					      &error));
	g_assert_true(pxm_store_begin(store, &error));
	crash_insert(store, CRASH_PHASE_PARENT, CRASH_N_PARENT);
	g_assert_true(pxm_store_commit(store, &error));
	g_assert_no_error(error);
	pxm_store_close(store);

	g_assert_true(g_spawn_async_with_pipes(
		NULL, (char **)argv, NULL, G_SPAWN_DO_NOT_REAP_CHILD, NULL,
		NULL, &pid, NULL, &out_fd, NULL, &error));
	g_assert_no_error(error);

	/* Wait for "ready\n" (at most 60 s; the child may be slow under
	 * sanitizers). */
	pfd.fd = out_fd;
	pfd.events = POLLIN;
	while (got < 6) {
		ssize_t n;

		g_assert_cmpint(poll(&pfd, 1, 60000), ==, 1);
		n = read(out_fd, buf + got, 6 - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		g_assert_cmpint(n, >, 0);
		got += (gsize)n;
	}
	g_assert_cmpstr(buf, ==, "ready\n");

	g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
	g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
	g_assert_true(WIFSIGNALED(status));
	g_assert_cmpint(WTERMSIG(status), ==, SIGKILL);
	g_spawn_close_pid(pid);
	close(out_fd);

	/* The crash left uncommitted pages in the WAL. */
	g_assert_cmpint(g_stat(wal, &st), ==, 0);
	g_test_message("WAL after the kill: %" G_GINT64_FORMAT " bytes",
		       (gint64)st.st_size);
	g_assert_cmpint(st.st_size, >, 1024 * 1024);

	store = open_ok(fx->path);
	check = query_text(store, "PRAGMA integrity_check");
	g_assert_cmpstr(check, ==, "ok");
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM crash "
					 "WHERE phase = 0"),
			==, CRASH_N_PARENT);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM crash "
					 "WHERE phase = 1"),
			==, CRASH_N_CHILD_COMMITTED);
	g_assert_cmpint(query_int(store, "SELECT count(*) FROM crash "
					 "WHERE phase = 2"),
			==, 0);
	id.stanza_id = "committed";
	g_assert_cmpint(lookup(store, &id), >, 0);
	id.stanza_id = "uncommitted";
	g_assert_cmpint(lookup(store, &id), ==, 0);
	g_assert_true(pxm_store_kv_get_string_dup(store, "crash", "k", &value,
						  &error));
	g_assert_no_error(error);
	g_assert_null(value);

	/* And the store is still writable. */
	crash_insert(store, CRASH_PHASE_PARENT, 1);
	pxm_store_close(store);
	g_assert_cmpint(file_mode(fx->path), ==, 0600);
}

#define ADD(path, func)                                                        \
	g_test_add(path, Fixture, NULL, fixture_set_up, func, fixture_tear_down)

int
main(int argc, char **argv)
{
	/* Children of the tests, run as new processes of this binary. */
	if (argc == 3 && strcmp(argv[1], "--crash-child") == 0) {
		return crash_child(argv[2]);
	}
	if (argc == 3 && strcmp(argv[1], "--permission-child") == 0) {
		return permission_child(argv[2]);
	}
	self_path = argv[0];

	g_test_init(&argc, &argv, NULL);

	ADD("/store/open/creates-0600", test_open_creates_0600);
	ADD("/store/open/tightens-loose-mode", test_open_tightens_mode);
	ADD("/store/open/reopen-keeps-data", test_open_reopen_keeps_data);
	ADD("/store/open/empty-file", test_open_empty_file);
	ADD("/store/open/garbage-untouched", test_open_garbage_untouched);
	ADD("/store/open/damaged-untouched", test_open_damaged_untouched);
	ADD("/store/open/foreign-untouched", test_open_foreign_untouched);
	ADD("/store/open/newer-host-schema", test_open_newer_host_schema);
	ADD("/store/open/not-a-directory", test_open_not_a_directory);
	ADD("/store/open/twice-in-process", test_open_twice_in_process);
	ADD("/store/open/close-misuse", test_open_close_misuse);
	ADD("/store/open/permission-denied", test_open_permission_denied);
	ADD("/store/schema/migrate", test_schema_migrate);
	ADD("/store/schema/newer-refused", test_schema_newer_refused);
	ADD("/store/schema/failed-migration-rolls-back",
	    test_schema_failed_migration_rolls_back);
	ADD("/store/schema/bad-list", test_schema_bad_list);
	ADD("/store/schema/inside-transaction", test_schema_inside_transaction);
	ADD("/store/identity/by-each-key", test_identity_by_each_key);
	ADD("/store/identity/merge", test_identity_merge);
	ADD("/store/identity/conflict", test_identity_conflict);
	ADD("/store/identity/query-plan", test_identity_query_plan);
	ADD("/store/identity/perf", test_identity_perf);
	ADD("/store/transaction/commit-rollback",
	    test_transaction_commit_rollback);
	ADD("/store/transaction/nested", test_transaction_nested);
	ADD("/store/kv/cache", test_kv_cache);
	ADD("/store/kv/set-get-delete", test_kv);
	ADD("/store/crash/sigkill-mid-transaction", test_crash_sigkill);

	return g_test_run();
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "omemo-store.h"

#include <string.h>

#define COMPONENT "xep0384-omemo"

static const PxmStoreMigration migrations[] = {
	{ 1, "CREATE TABLE omemo_identity ("
	     " id INTEGER PRIMARY KEY CHECK (id = 1),"
	     " device_id INTEGER NOT NULL,"
	     " public BLOB NOT NULL,"
	     " private BLOB NOT NULL,"
	     " created INTEGER NOT NULL);"
	     "CREATE TABLE omemo_prekey ("
	     " id INTEGER PRIMARY KEY, record BLOB NOT NULL);"
	     "CREATE TABLE omemo_signed_prekey ("
	     " id INTEGER PRIMARY KEY, record BLOB NOT NULL,"
	     " created INTEGER NOT NULL);"
	     "CREATE TABLE omemo_session ("
	     " name TEXT NOT NULL, device INTEGER NOT NULL,"
	     " record BLOB NOT NULL, PRIMARY KEY (name, device));"
	     "CREATE TABLE omemo_remote_identity ("
	     " jid TEXT NOT NULL, device INTEGER NOT NULL,"
	     " key BLOB, trust INTEGER NOT NULL DEFAULT 0,"
	     " first_seen INTEGER NOT NULL,"
	     " PRIMARY KEY (jid, device));"
	     "CREATE TABLE omemo_device ("
	     " jid TEXT NOT NULL, version INTEGER NOT NULL,"
	     " device INTEGER NOT NULL,"
	     " PRIMARY KEY (jid, version, device));" },
	/* The Ed25519 form of a contact's identity (OMEMO 2 fingerprints):
	 * the 0x05-prefixed Curve25519 key lost its sign bit. */
	{ 2, "ALTER TABLE omemo_remote_identity ADD COLUMN ed_key BLOB;" },
};

struct PxmOmemoStore {
	PxmStore *store; /* borrowed */
	sqlite3 *db;
	GHashTable *stmts; /* const char *sql -> sqlite3_stmt* */
	/* "version:jid" -> GArray of device ids: every incoming message asks
	 * whether its conversation is encrypted, which reads the device
	 * lists; all writes go through pxm_omemo_store_set_devices(). */
	GHashTable *devices;
	guint64 devices_generation; /* bumped by every device-list write */
	/* Our identity, once loaded or created. */
	guint32 device_id;
	GBytes *pub;
	PxmSecret *priv;
};

static void
finalize_stmt(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

/* Cached by the address of @sql (string literals). */
static sqlite3_stmt *
prep(PxmOmemoStore *s, const char *sql)
{
	sqlite3_stmt *stmt = g_hash_table_lookup(s->stmts, sql);

	if (stmt == NULL) {
		if (sqlite3_prepare_v2(s->db, sql, -1, &stmt, NULL) !=
		    SQLITE_OK) {
			purple_debug_error(COMPONENT, "SQL error: %s\n",
					   sqlite3_errmsg(s->db));
			return NULL;
		}
		g_hash_table_insert(s->stmts, (gpointer)sql, stmt);
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

static gboolean
done(PxmOmemoStore *s, sqlite3_stmt *stmt)
{
	int rc = sqlite3_step(stmt);

	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		purple_debug_error(COMPONENT, "SQL error: %s\n",
				   sqlite3_errmsg(s->db));
		return FALSE;
	}
	return TRUE;
}

static GBytes *
column_bytes(sqlite3_stmt *stmt, int col)
{
	const void *data = sqlite3_column_blob(stmt, col);
	int len = sqlite3_column_bytes(stmt, col);

	return data != NULL ? g_bytes_new(data, len) : NULL;
}

char *
pxm_omemo_address_name_dup(guint version, const char *jid)
{
	return g_strdup_printf("%u:%s", version, jid);
}

PxmOmemoStore *
pxm_omemo_store_open(PxmStore *store, gboolean *out_new, GError **error)
{
	g_autoptr(GError) local = NULL;
	PxmOmemoStore *s;
	int version = 0;

	if (!pxm_store_get_schema_version(store, COMPONENT, &version, error))
		return NULL;
	if (!pxm_store_ensure_schema(store, COMPONENT, migrations,
				     G_N_ELEMENTS(migrations), error))
		return NULL;
	s = g_new0(PxmOmemoStore, 1);
	s->store = store;
	s->db = pxm_store_get_db(store);
	s->stmts = g_hash_table_new_full(NULL, NULL, NULL, finalize_stmt);
	s->devices = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   (GDestroyNotify)g_array_unref);
	*out_new = version == 0;
	if (version != 0 && !pxm_omemo_store_load_identity(s, &s->device_id,
							   NULL, NULL, error)) {
		pxm_omemo_store_free(s);
		return NULL;
	}
	return s;
}

void
pxm_omemo_store_free(PxmOmemoStore *s)
{
	if (s == NULL)
		return;
	g_hash_table_unref(s->stmts);
	g_hash_table_unref(s->devices);
	g_clear_pointer(&s->pub, g_bytes_unref);
	pxm_secret_free(s->priv);
	g_free(s);
}

PxmStore *
pxm_omemo_store_get_store(PxmOmemoStore *s)
{
	return s->store;
}

/* --- Own identity ------------------------------------------------------- */

gboolean
pxm_omemo_store_save_identity(PxmOmemoStore *s, guint32 device_id,
			      const guint8 *pub, gsize pub_len,
			      const PxmSecret *priv, GError **error)
{
	sqlite3_stmt *stmt =
		prep(s, "INSERT INTO omemo_identity (id, device_id, public, "
			"private, created) VALUES (1, ?, ?, ?, ?)");

	if (stmt == NULL)
		goto fail;
	sqlite3_bind_int64(stmt, 1, device_id);
	sqlite3_bind_blob(stmt, 2, pub, pub_len, SQLITE_TRANSIENT);
	sqlite3_bind_blob(stmt, 3, priv->data, priv->len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, g_get_real_time() / G_USEC_PER_SEC);
	if (!done(s, stmt))
		goto fail;
	s->device_id = device_id;
	g_clear_pointer(&s->pub, g_bytes_unref);
	s->pub = g_bytes_new(pub, pub_len);
	pxm_secret_free(s->priv);
	s->priv = pxm_secret_new_from(priv->data, priv->len);
	return TRUE;
fail:
	g_set_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_STORE,
		    "could not save the OMEMO identity: %s",
		    sqlite3_errmsg(s->db));
	return FALSE;
}

gboolean
pxm_omemo_store_load_identity(PxmOmemoStore *s, guint32 *device_id,
			      GBytes **pub, PxmSecret **priv, GError **error)
{
	sqlite3_stmt *stmt = prep(s, "SELECT device_id, public, private FROM "
				     "omemo_identity WHERE id = 1");
	gint64 id;

	if (stmt == NULL || sqlite3_step(stmt) != SQLITE_ROW) {
		if (stmt != NULL)
			sqlite3_reset(stmt);
		g_set_error_literal(
			error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_STORE,
			"the store has OMEMO tables but no OMEMO identity");
		return FALSE;
	}
	id = sqlite3_column_int64(stmt, 0);
	/* XEP-0384 section 5.3.1: a device id is 1 .. 2^31 - 1. */
	if (id < 1 || id > G_MAXINT32 || sqlite3_column_bytes(stmt, 1) != 33 ||
	    sqlite3_column_bytes(stmt, 2) != 32) {
		sqlite3_reset(stmt);
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_STORE,
				    "the OMEMO identity in the store is "
				    "damaged");
		return FALSE;
	}
	s->device_id = *device_id = (guint32)id;
	g_clear_pointer(&s->pub, g_bytes_unref);
	s->pub = column_bytes(stmt, 1);
	pxm_secret_free(s->priv);
	s->priv = pxm_secret_new_from(sqlite3_column_blob(stmt, 2), 32);
	sqlite3_reset(stmt);
	if (pub != NULL)
		*pub = g_bytes_ref(s->pub);
	if (priv != NULL)
		*priv = pxm_secret_new_from(s->priv->data, s->priv->len);
	return TRUE;
}

/* --- Pre-keys ------------------------------------------------------------ */

gboolean
pxm_omemo_store_put_prekey(PxmOmemoStore *s, guint32 id, const guint8 *rec,
			   gsize len)
{
	sqlite3_stmt *stmt = prep(s, "INSERT OR REPLACE INTO omemo_prekey "
				     "(id, record) VALUES (?, ?)");

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_blob(stmt, 2, rec, len, SQLITE_TRANSIENT);
	return done(s, stmt);
}

static GBytes *
get_blob_by_id(PxmOmemoStore *s, const char *sql, guint32 id)
{
	sqlite3_stmt *stmt = prep(s, sql);
	GBytes *out = NULL;

	if (stmt == NULL)
		return NULL;
	sqlite3_bind_int64(stmt, 1, id);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		out = column_bytes(stmt, 0);
	sqlite3_reset(stmt);
	return out;
}

static gboolean
delete_by_id(PxmOmemoStore *s, const char *sql, guint32 id)
{
	sqlite3_stmt *stmt = prep(s, sql);

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, id);
	return done(s, stmt);
}

GBytes *
pxm_omemo_store_get_prekey(PxmOmemoStore *s, guint32 id)
{
	return get_blob_by_id(s, "SELECT record FROM omemo_prekey WHERE id = ?",
			      id);
}

gboolean
pxm_omemo_store_remove_prekey(PxmOmemoStore *s, guint32 id)
{
	return delete_by_id(s, "DELETE FROM omemo_prekey WHERE id = ?", id);
}

static GArray *
list_ids(PxmOmemoStore *s, sqlite3_stmt *stmt)
{
	GArray *ids = g_array_new(FALSE, FALSE, sizeof(guint32));

	while (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
		guint32 id = (guint32)sqlite3_column_int64(stmt, 0);

		g_array_append_val(ids, id);
	}
	if (stmt != NULL)
		sqlite3_reset(stmt);
	return ids;
}

GArray *
pxm_omemo_store_list_prekeys(PxmOmemoStore *s)
{
	return list_ids(s, prep(s, "SELECT id FROM omemo_prekey ORDER BY id"));
}

gboolean
pxm_omemo_store_put_signed_prekey(PxmOmemoStore *s, guint32 id,
				  const guint8 *rec, gsize len, gint64 created)
{
	sqlite3_stmt *stmt = prep(s, "INSERT OR REPLACE INTO "
				     "omemo_signed_prekey (id, record, "
				     "created) VALUES (?, ?, ?)");

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, id);
	sqlite3_bind_blob(stmt, 2, rec, len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, created);
	return done(s, stmt);
}

GBytes *
pxm_omemo_store_get_signed_prekey(PxmOmemoStore *s, guint32 id)
{
	return get_blob_by_id(
		s, "SELECT record FROM omemo_signed_prekey WHERE id = ?", id);
}

gboolean
pxm_omemo_store_remove_signed_prekey(PxmOmemoStore *s, guint32 id)
{
	return delete_by_id(s, "DELETE FROM omemo_signed_prekey WHERE id = ?",
			    id);
}

gboolean
pxm_omemo_store_latest_signed_prekey(PxmOmemoStore *s, guint32 *id,
				     gint64 *created)
{
	sqlite3_stmt *stmt = prep(s, "SELECT id, created FROM "
				     "omemo_signed_prekey ORDER BY created "
				     "DESC, id DESC LIMIT 1");
	gboolean found = FALSE;

	if (stmt == NULL)
		return FALSE;
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*id = (guint32)sqlite3_column_int64(stmt, 0);
		*created = sqlite3_column_int64(stmt, 1);
		found = TRUE;
	}
	sqlite3_reset(stmt);
	return found;
}

void
pxm_omemo_store_prune_signed_prekeys(PxmOmemoStore *s, gint64 before)
{
	guint32 latest;
	gint64 created;
	sqlite3_stmt *stmt;

	if (!pxm_omemo_store_latest_signed_prekey(s, &latest, &created))
		return;
	stmt = prep(s, "DELETE FROM omemo_signed_prekey WHERE created < ? "
		       "AND id != ?");
	if (stmt == NULL)
		return;
	sqlite3_bind_int64(stmt, 1, before);
	sqlite3_bind_int64(stmt, 2, latest);
	done(s, stmt);
}

/* --- Contacts' identities and trust -------------------------------------- */

GBytes *
pxm_omemo_store_get_identity_key(PxmOmemoStore *s, const char *jid,
				 guint32 device)
{
	sqlite3_stmt *stmt = prep(s, "SELECT key FROM omemo_remote_identity "
				     "WHERE jid = ? AND device = ?");
	GBytes *out = NULL;

	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, device);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		out = column_bytes(stmt, 0);
	sqlite3_reset(stmt);
	return out;
}

gboolean
pxm_omemo_store_put_identity_key(PxmOmemoStore *s, const char *jid,
				 guint32 device, const guint8 *key, gsize len)
{
	sqlite3_stmt *stmt = prep(
		s, "INSERT INTO omemo_remote_identity (jid, device, key, "
		   "first_seen) VALUES (?, ?, ?, ?) ON CONFLICT (jid, device) "
		   "DO UPDATE SET key = excluded.key, ed_key = CASE WHEN "
		   "key IS excluded.key THEN ed_key ELSE NULL END");

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, device);
	sqlite3_bind_blob(stmt, 3, key, len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, g_get_real_time() / G_USEC_PER_SEC);
	return done(s, stmt);
}

GBytes *
pxm_omemo_store_get_identity_ed(PxmOmemoStore *s, const char *jid,
				guint32 device)
{
	sqlite3_stmt *stmt = prep(s, "SELECT ed_key FROM omemo_remote_identity "
				     "WHERE jid = ? AND device = ?");
	GBytes *out = NULL;

	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, device);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		out = column_bytes(stmt, 0);
	sqlite3_reset(stmt);
	return out;
}

gboolean
pxm_omemo_store_put_identity_ed(PxmOmemoStore *s, const char *jid,
				guint32 device, const guint8 *ed, gsize len)
{
	sqlite3_stmt *stmt = prep(s, "UPDATE omemo_remote_identity SET "
				     "ed_key = ? WHERE jid = ? AND device = ?");

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_blob(stmt, 1, ed, len, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 3, device);
	return done(s, stmt);
}

PxmOmemoTrust
pxm_omemo_store_get_trust(PxmOmemoStore *s, const char *jid, guint32 device)
{
	sqlite3_stmt *stmt = prep(s, "SELECT trust FROM omemo_remote_identity "
				     "WHERE jid = ? AND device = ?");
	PxmOmemoTrust trust = PXM_OMEMO_TRUST_UNDECIDED;

	if (stmt == NULL)
		return trust;
	sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, device);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		int v = sqlite3_column_int(stmt, 0);

		if (v >= PXM_OMEMO_TRUST_UNDECIDED &&
		    v <= PXM_OMEMO_TRUST_VERIFIED)
			trust = v;
	}
	sqlite3_reset(stmt);
	return trust;
}

gboolean
pxm_omemo_store_set_trust(PxmOmemoStore *s, const char *jid, guint32 device,
			  PxmOmemoTrust trust)
{
	sqlite3_stmt *stmt = prep(
		s, "INSERT INTO omemo_remote_identity (jid, device, trust, "
		   "first_seen) VALUES (?, ?, ?, ?) ON CONFLICT (jid, device) "
		   "DO UPDATE SET trust = excluded.trust");

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, device);
	sqlite3_bind_int(stmt, 3, trust);
	sqlite3_bind_int64(stmt, 4, g_get_real_time() / G_USEC_PER_SEC);
	return done(s, stmt);
}

gboolean
pxm_omemo_store_has_verified(PxmOmemoStore *s, const char *jid)
{
	sqlite3_stmt *stmt = prep(s, "SELECT 1 FROM omemo_remote_identity "
				     "WHERE jid = ? AND trust = 3 LIMIT 1");
	gboolean found;

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
	found = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_reset(stmt);
	return found;
}

/* --- Device lists ----------------------------------------------------------- */

gboolean
pxm_omemo_store_set_devices(PxmOmemoStore *s, const char *jid, guint version,
			    const GArray *ids)
{
	sqlite3_stmt *del, *ins;
	g_autofree char *key = g_strconcat(version == 4 ? "4:" : "3:", jid,
					   NULL);
	gboolean ok;

	/* Read again from the store next time (also after a failure or a
	 * rollback of an enclosing transaction). */
	g_hash_table_remove(s->devices, key);
	s->devices_generation++;
	ok = pxm_store_begin(s->store, NULL);
	if (!ok)
		return FALSE;
	del = prep(s, "DELETE FROM omemo_device WHERE jid = ? AND "
		      "version = ?");
	ok = del != NULL;
	if (ok) {
		sqlite3_bind_text(del, 1, jid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(del, 2, version);
		ok = done(s, del);
	}
	for (guint i = 0; ok && i < ids->len; i++) {
		ins = prep(s, "INSERT OR IGNORE INTO omemo_device (jid, "
			      "version, device) VALUES (?, ?, ?)");
		ok = ins != NULL;
		if (!ok)
			break;
		sqlite3_bind_text(ins, 1, jid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(ins, 2, version);
		sqlite3_bind_int64(ins, 3, g_array_index(ids, guint32, i));
		ok = done(s, ins);
	}
	if (!ok) {
		pxm_store_rollback(s->store, NULL);
		return FALSE;
	}
	return pxm_store_commit(s->store, NULL);
}

guint64
pxm_omemo_store_get_devices_generation(PxmOmemoStore *s)
{
	return s->devices_generation;
}

GArray *
pxm_omemo_store_get_devices(PxmOmemoStore *s, const char *jid, guint version)
{
	g_autofree char *key = g_strconcat(version == 4 ? "4:" : "3:", jid,
					   NULL);
	GArray *cached = g_hash_table_lookup(s->devices, key);
	sqlite3_stmt *stmt;
	GArray *ids;

	if (cached == NULL) {
		stmt = prep(s, "SELECT device FROM omemo_device WHERE jid = ? "
			       "AND version = ? ORDER BY device");
		if (stmt != NULL) {
			sqlite3_bind_text(stmt, 1, jid, -1, SQLITE_TRANSIENT);
			sqlite3_bind_int(stmt, 2, version);
		}
		cached = list_ids(s, stmt);
		/* Bounded: one entry per conversation partner seen. */
		if (g_hash_table_size(s->devices) >= 4096)
			g_hash_table_remove_all(s->devices);
		g_hash_table_insert(s->devices, g_steal_pointer(&key), cached);
	}
	ids = g_array_sized_new(FALSE, FALSE, sizeof(guint32), cached->len);
	g_array_append_vals(ids, cached->data, cached->len);
	return ids;
}

/* --- libomemo-c callbacks ------------------------------------------------- */

static char *
address_name(const signal_protocol_address *address)
{
	return g_strndup(address->name, address->name_len);
}

/* "3:jid" -> "jid" */
static const char *
address_jid(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? colon + 1 : name;
}

static int
load_session(signal_buffer **record, signal_buffer **user_record,
	     const signal_protocol_address *address, void *user_data)
{
	PxmOmemoStore *s = user_data;
	g_autofree char *name = address_name(address);
	sqlite3_stmt *stmt = prep(s, "SELECT record FROM omemo_session "
				     "WHERE name = ? AND device = ?");
	int ret = 0;

	if (stmt == NULL)
		return SG_ERR_UNKNOWN;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, address->device_id);
	if (sqlite3_step(stmt) == SQLITE_ROW) {
		*record = signal_buffer_create(sqlite3_column_blob(stmt, 0),
					       sqlite3_column_bytes(stmt, 0));
		ret = *record != NULL ? 1 : SG_ERR_NOMEM;
	}
	sqlite3_reset(stmt);
	return ret;
}

static int
get_sub_device_sessions(signal_int_list **sessions, const char *name,
			size_t name_len, void *user_data)
{
	PxmOmemoStore *s = user_data;
	g_autofree char *n = g_strndup(name, name_len);
	sqlite3_stmt *stmt = prep(s, "SELECT device FROM omemo_session "
				     "WHERE name = ?");
	signal_int_list *list = signal_int_list_alloc();

	if (stmt == NULL || list == NULL) {
		if (list != NULL)
			signal_int_list_free(list);
		return SG_ERR_UNKNOWN;
	}
	sqlite3_bind_text(stmt, 1, n, -1, SQLITE_TRANSIENT);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		signal_int_list_push_back(list, sqlite3_column_int(stmt, 0));
	sqlite3_reset(stmt);
	*sessions = list;
	return (int)signal_int_list_size(list);
}

static int
store_session(const signal_protocol_address *address, uint8_t *record,
	      size_t record_len, uint8_t *user_record, size_t user_record_len,
	      void *user_data)
{
	PxmOmemoStore *s = user_data;
	g_autofree char *name = address_name(address);
	sqlite3_stmt *stmt = prep(s, "INSERT OR REPLACE INTO omemo_session "
				     "(name, device, record) VALUES (?, ?, "
				     "?)");

	if (stmt == NULL)
		return SG_ERR_UNKNOWN;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, address->device_id);
	sqlite3_bind_blob(stmt, 3, record, record_len, SQLITE_TRANSIENT);
	return done(s, stmt) ? 0 : SG_ERR_UNKNOWN;
}

static int
contains_session(const signal_protocol_address *address, void *user_data)
{
	PxmOmemoStore *s = user_data;
	g_autofree char *name = address_name(address);
	sqlite3_stmt *stmt = prep(s, "SELECT 1 FROM omemo_session WHERE "
				     "name = ? AND device = ?");
	int found;

	if (stmt == NULL)
		return 0;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, address->device_id);
	found = sqlite3_step(stmt) == SQLITE_ROW;
	sqlite3_reset(stmt);
	return found;
}

static int
delete_session(const signal_protocol_address *address, void *user_data)
{
	PxmOmemoStore *s = user_data;
	g_autofree char *name = address_name(address);
	sqlite3_stmt *stmt = prep(s, "DELETE FROM omemo_session WHERE "
				     "name = ? AND device = ?");

	if (stmt == NULL)
		return SG_ERR_UNKNOWN;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 2, address->device_id);
	if (!done(s, stmt))
		return SG_ERR_UNKNOWN;
	return sqlite3_changes(s->db) > 0;
}

static int
delete_all_sessions(const char *name, size_t name_len, void *user_data)
{
	PxmOmemoStore *s = user_data;
	g_autofree char *n = g_strndup(name, name_len);
	sqlite3_stmt *stmt = prep(s, "DELETE FROM omemo_session WHERE "
				     "name = ?");

	if (stmt == NULL)
		return SG_ERR_UNKNOWN;
	sqlite3_bind_text(stmt, 1, n, -1, SQLITE_TRANSIENT);
	if (!done(s, stmt))
		return SG_ERR_UNKNOWN;
	return sqlite3_changes(s->db);
}

static int
load_pre_key(signal_buffer **record, uint32_t id, void *user_data)
{
	g_autoptr(GBytes) rec = pxm_omemo_store_get_prekey(user_data, id);
	gsize len;
	const guint8 *data;

	if (rec == NULL)
		return SG_ERR_INVALID_KEY_ID;
	data = g_bytes_get_data(rec, &len);
	*record = signal_buffer_create(data, len);
	return *record != NULL ? SG_SUCCESS : SG_ERR_NOMEM;
}

static int
store_pre_key(uint32_t id, uint8_t *record, size_t len, void *user_data)
{
	return pxm_omemo_store_put_prekey(user_data, id, record, len)
		       ? 0
		       : SG_ERR_UNKNOWN;
}

static int
contains_pre_key(uint32_t id, void *user_data)
{
	g_autoptr(GBytes) rec = pxm_omemo_store_get_prekey(user_data, id);

	return rec != NULL;
}

/* A key exchange seen again (from the archive) finds its session by its
 * base key and does not need the pre-key any more. */
static int
remove_pre_key(uint32_t id, void *user_data)
{
	return pxm_omemo_store_remove_prekey(user_data, id) ? 0
							    : SG_ERR_UNKNOWN;
}

static int
load_signed_pre_key(signal_buffer **record, uint32_t id, void *user_data)
{
	g_autoptr(GBytes) rec = pxm_omemo_store_get_signed_prekey(user_data,
								  id);
	gsize len;
	const guint8 *data;

	if (rec == NULL)
		return SG_ERR_INVALID_KEY_ID;
	data = g_bytes_get_data(rec, &len);
	*record = signal_buffer_create(data, len);
	return *record != NULL ? SG_SUCCESS : SG_ERR_NOMEM;
}

static int
store_signed_pre_key(uint32_t id, uint8_t *record, size_t len, void *user_data)
{
	return pxm_omemo_store_put_signed_prekey(user_data, id, record, len,
						 g_get_real_time() /
							 G_USEC_PER_SEC)
		       ? 0
		       : SG_ERR_UNKNOWN;
}

static int
contains_signed_pre_key(uint32_t id, void *user_data)
{
	g_autoptr(GBytes) rec = pxm_omemo_store_get_signed_prekey(user_data,
								  id);

	return rec != NULL;
}

static int
remove_signed_pre_key(uint32_t id, void *user_data)
{
	return pxm_omemo_store_remove_signed_prekey(user_data, id)
		       ? 0
		       : SG_ERR_UNKNOWN;
}

static int
get_identity_key_pair(signal_buffer **public_data, signal_buffer **private_data,
		      void *user_data)
{
	PxmOmemoStore *s = user_data;
	gsize len;
	const guint8 *pub;

	if (s->pub == NULL || s->priv == NULL)
		return SG_ERR_UNKNOWN;
	pub = g_bytes_get_data(s->pub, &len);
	*public_data = signal_buffer_create(pub, len);
	*private_data = signal_buffer_create(s->priv->data, s->priv->len);
	return 0;
}

/* Legacy clients use the device id as registration id. */
static int
get_local_registration_id(void *user_data, uint32_t *registration_id)
{
	PxmOmemoStore *s = user_data;

	*registration_id = s->device_id;
	return 0;
}

static int
save_identity(const signal_protocol_address *address, uint8_t *key_data,
	      size_t key_len, void *user_data)
{
	g_autofree char *name = address_name(address);

	if (key_data == NULL)
		return 0;
	return pxm_omemo_store_put_identity_key(user_data, address_jid(name),
						address->device_id, key_data,
						key_len)
		       ? 0
		       : SG_ERR_UNKNOWN;
}

/*
 * The ratchet's check: a device whose identity key changed is not the
 * device we knew (trust decisions for encrypting are the extension's).
 */
static int
is_trusted_identity(const signal_protocol_address *address, uint8_t *key_data,
		    size_t key_len, void *user_data)
{
	g_autofree char *name = address_name(address);
	g_autoptr(GBytes) known = pxm_omemo_store_get_identity_key(
		user_data, address_jid(name), address->device_id);
	gsize len;
	const guint8 *data;

	if (known == NULL)
		return 1;
	data = g_bytes_get_data(known, &len);
	return len == key_len && memcmp(data, key_data, len) == 0;
}

void
pxm_omemo_store_attach(PxmOmemoStore *s, signal_protocol_store_context *ctx)
{
	signal_protocol_session_store sessions = {
		.load_session_func = load_session,
		.get_sub_device_sessions_func = get_sub_device_sessions,
		.store_session_func = store_session,
		.contains_session_func = contains_session,
		.delete_session_func = delete_session,
		.delete_all_sessions_func = delete_all_sessions,
		.user_data = s,
	};
	signal_protocol_pre_key_store pre_keys = {
		.load_pre_key = load_pre_key,
		.store_pre_key = store_pre_key,
		.contains_pre_key = contains_pre_key,
		.remove_pre_key = remove_pre_key,
		.user_data = s,
	};
	signal_protocol_signed_pre_key_store signed_pre_keys = {
		.load_signed_pre_key = load_signed_pre_key,
		.store_signed_pre_key = store_signed_pre_key,
		.contains_signed_pre_key = contains_signed_pre_key,
		.remove_signed_pre_key = remove_signed_pre_key,
		.user_data = s,
	};
	signal_protocol_identity_key_store identity = {
		.get_identity_key_pair = get_identity_key_pair,
		.get_local_registration_id = get_local_registration_id,
		.save_identity = save_identity,
		.is_trusted_identity = is_trusted_identity,
		.user_data = s,
	};

	signal_protocol_store_context_set_session_store(ctx, &sessions);
	signal_protocol_store_context_set_pre_key_store(ctx, &pre_keys);
	signal_protocol_store_context_set_signed_pre_key_store(
		ctx, &signed_pre_keys);
	signal_protocol_store_context_set_identity_key_store(ctx, &identity);
}

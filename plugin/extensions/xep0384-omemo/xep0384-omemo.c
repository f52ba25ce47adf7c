// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0384: OMEMO Encryption, one-to-one conversations, both versions
 * (OMEMO 2 and the legacy eu.siacs.conversations.axolotl), with XEP-0380
 * hints and XEP-0420 envelopes.
 *
 * Sending fails closed: a message typed in an encrypted conversation is
 * taken from the prpl (send_message hook), queued while device lists and
 * bundles are fetched, then sent encrypted by us, or refused with a line
 * saying why; the ENCRYPT stage strips the body of anything else that
 * would leave in the clear.
 */
#include "../../host/extension.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "omemo-identity.h"
#include "omemo-protocol.h"
#include "omemo-rooms.h"
#include "omemo-trust-ui.h"
#include "xep0384-omemo.h"

#define ID "xep0384-omemo"
#define KV_CONVERSATION "conversation:"

typedef enum {
	LIST_PENDING = 1,
	LIST_DONE,
} ListStatus;

struct PxmOmemo {
	PxmAccount *account;
	PxmOmemoEngine *engine;
	gboolean stopped;
	/* "version:jid" -> ListStatus, device lists asked this session. */
	GHashTable *lists;
	GPtrArray *jobs; /* Job*, messages waiting to be sent */
	/* "jid/device" of untrusted devices the user was told about. */
	GHashTable *told;
	/* Conversations told this session that they are encrypted. */
	GHashTable *announced;
	guint maintain_timer; /* the daily key check (start()) */
	PxmOmemoRooms *rooms; /* private rooms (omemo-rooms.c) */
	/* jid -> Decision: pxm_omemo_is_encrypted() runs for every incoming
	 * message; its answer holds while the settings (store generation),
	 * the device lists and the account default have not changed. */
	GHashTable *decisions;
	/* Waiter*: when_decided() calls waiting for device lists. */
	GPtrArray *waiters;
};

typedef struct {
	char *jid;
	PxmEncryptionDecided callback;
	gpointer user_data;
	GDestroyNotify destroy;
} Waiter;

typedef struct {
	guint64 store_generation;
	guint64 devices_generation;
	gboolean default_on;
	gboolean encrypted;
} Decision;

typedef struct PxmOmemo State;

static void job_step(State *state, gpointer job);
static void kick_jobs(State *state);

/* --- State and references --------------------------------------------- */

static void
state_clear(State *state)
{
	g_hash_table_unref(state->lists);
	g_ptr_array_unref(state->jobs);
	g_hash_table_unref(state->told);
	g_hash_table_unref(state->announced);
	g_hash_table_unref(state->decisions);
	g_ptr_array_unref(state->waiters);
	pxm_omemo_engine_free(state->engine);
}

static State *
state_ref(State *state)
{
	return g_rc_box_acquire(state);
}

static void
state_unref(State *state)
{
	g_rc_box_release_full(state, (GDestroyNotify)state_clear);
}

PxmAccount *
pxm_omemo_get_account(PxmOmemo *state)
{
	return state->account;
}

PxmOmemoEngine *
pxm_omemo_get_engine(PxmOmemo *state)
{
	return state->engine;
}

PxmOmemoRooms *
pxm_omemo_get_rooms(PxmOmemo *state)
{
	return state->rooms;
}

static char *
list_key_dup(guint version, const char *jid)
{
	return g_strdup_printf("%u:%s", version, jid);
}

static void
notice(State *state, const char *jid, const char *html)
{
	purple_debug_info(ID, "notice in %s\n", jid);
	pxm_presenter_notice(state->account, jid,
			     pxm_omemo_rooms_is_joined(state->rooms, jid),
			     html);
}

/* The state is visible: the first encrypted message of a conversation
 * (each session) comes with a line saying so. */
static void
announce(State *state, const char *jid)
{
	if (jid == NULL || g_hash_table_contains(state->announced, jid))
		return;
	g_hash_table_add(state->announced, g_strdup(jid));
	notice(state, jid,
	       _("🔒 Messages in this conversation are encrypted end to end "
		 "with OMEMO. Type /omemo for details."));
}

/* --- Publishing ----------------------------------------------------------- */

typedef struct {
	State *state;
	char *node;
	char *item_id;
	xmlnode *payload; /* a copy, for the retry */
	char *max_items;
	gboolean retried;
	/* Set in the node's configuration once published (see on_published). */
	char *configure_max;
} Publish;

/* pubsub#max_items in the node's configuration when the service refuses it
 * in publish-options: a number, as 'max' is refused there too. */
#define MAX_ITEMS_FALLBACK "256"

static void
publish_free(Publish *p)
{
	state_unref(p->state);
	g_free(p->node);
	g_free(p->item_id);
	xmlnode_free(p->payload);
	g_free(p->max_items);
	g_free(p->configure_max);
	g_free(p);
}

static void publish(State *state, const char *node, const char *item_id,
		    xmlnode *payload, const char *max_items, gboolean retried);
static void publish_full(State *state, const char *node, const char *item_id,
			 xmlnode *payload, const char *max_items,
			 gboolean retried, const char *configure_max);

static void
on_reconfigured(PxmAccount *account, xmlnode *result, const GError *error,
		gpointer data)
{
	const char *node = data;

	if (error != NULL)
		purple_debug_warning(ID, "could not configure %s: %s\n", node,
				     error->message);
}

static void
on_configured(PxmAccount *account, xmlnode *result, const GError *error,
	      gpointer data)
{
	Publish *p = data;

	if (p->state->stopped)
		return;
	if (error != NULL) {
		purple_debug_warning(ID, "could not configure %s: %s\n",
				     p->node, error->message);
		return;
	}
	publish_full(p->state, p->node, p->item_id, xmlnode_copy(p->payload),
		     p->max_items, TRUE, p->configure_max);
}

static void
on_published(PxmAccount *account, xmlnode *result, const GError *error,
	     gpointer data)
{
	Publish *p = data;
	Publish *again;

	if (p->state->stopped)
		return;
	if (error == NULL) {
		if (p->configure_max != NULL)
			pxm_account_send_iq(account,
					    pxm_omemo_configure_iq(
						    p->node, p->configure_max),
					    0, on_reconfigured,
					    g_strdup(p->node), g_free);
		return;
	}
	/* XEP-0060 section 7.1.5: a node configured otherwise answers
	 * <conflict/> with <precondition-not-met/>: make it match, once. */
	if (!p->retried && pxm_iq_error_is(error, "conflict")) {
		again = g_new0(Publish, 1);
		again->state = state_ref(p->state);
		again->node = g_strdup(p->node);
		again->item_id = g_strdup(p->item_id);
		again->payload = xmlnode_copy(p->payload);
		again->max_items = g_strdup(p->max_items);
		again->configure_max = g_strdup(p->configure_max);
		again->retried = TRUE;
		pxm_account_send_iq(
			account, pxm_omemo_configure_iq(p->node, p->max_items),
			0, on_configured, again, (GDestroyNotify)publish_free);
		return;
	}
	/* XEP-0384 section 5.3.2 wants pubsub#max_items 'max' in
	 * publish-options; ejabberd 23.01 knows no max_items there at all
	 * (an "unknown field" error, whatever the value). Publish without
	 * it, then set it in the node's configuration, where it is known
	 * (if the node was not just created with enough room). Once. */
	if (p->max_items != NULL && pxm_iq_error_refused_options(error)) {
		purple_debug_info(ID,
				  "%s: publishing again without max_items "
				  "(%s)\n",
				  p->node, error->message);
		publish_full(p->state, p->node, p->item_id,
			     xmlnode_copy(p->payload), NULL, p->retried,
			     MAX_ITEMS_FALLBACK);
		return;
	}
	purple_debug_warning(ID, "could not publish %s: %s\n", p->node,
			     error->message);
}

static void
publish(State *state, const char *node, const char *item_id, xmlnode *payload,
	const char *max_items, gboolean retried)
{
	publish_full(state, node, item_id, payload, max_items, retried, NULL);
}

static void
publish_full(State *state, const char *node, const char *item_id,
	     xmlnode *payload, const char *max_items, gboolean retried,
	     const char *configure_max)
{
	Publish *p = g_new0(Publish, 1);

	p->state = state_ref(state);
	p->node = g_strdup(node);
	p->item_id = g_strdup(item_id);
	/* @payload goes into the IQ; the copy is for a retry. */
	p->payload = xmlnode_copy(payload);
	p->max_items = g_strdup(max_items);
	p->retried = retried;
	p->configure_max = g_strdup(configure_max);
	pxm_account_send_iq(
		state->account,
		pxm_omemo_publish_iq(node, item_id, payload, max_items), 0,
		on_published, p, (GDestroyNotify)publish_free);
}

static void
publish_bundles(State *state)
{
	guint32 device = pxm_omemo_engine_get_device_id(state->engine);
	g_autofree char *id = g_strdup_printf("%u", device);

	for (guint version = 3; version <= 4; version++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(PxmOmemoBundle) b = pxm_omemo_engine_own_bundle(
			state->engine, version, &error);
		g_autofree char *node = pxm_omemo_bundle_node_dup(version,
								  device);

		if (b == NULL) {
			purple_debug_error(ID, "no bundle: %s\n",
					   error->message);
			continue;
		}
		/* Legacy: one node per device, item 'current'; OMEMO 2: one
		 * node, one item per device (section 5.3.2). */
		publish(state, node, version == 4 ? id : "current",
			pxm_omemo_bundle_build(version, b),
			version == 4 ? "max" : NULL, FALSE);
	}
}

static void
publish_devicelist(State *state, guint version, const GArray *ids)
{
	publish(state, pxm_omemo_devicelist_node(version), "current",
		pxm_omemo_devicelist_build(version, ids), NULL, FALSE);
}

/* --- Device lists ------------------------------------------------------------ */

static gboolean
contains_id(const GArray *ids, guint32 id)
{
	for (guint i = 0; i < ids->len; i++)
		if (g_array_index(ids, guint32, i) == id)
			return TRUE;
	return FALSE;
}

/* A list of ours that lacks this device gets it back (section 5.3.1). */
static void
check_own_list(State *state, guint version, GArray *ids)
{
	guint32 me = pxm_omemo_engine_get_device_id(state->engine);

	if (contains_id(ids, me))
		return;
	g_array_append_val(ids, me);
	purple_debug_info(ID, "adding device %u to our %s list\n", me,
			  version == 4 ? "OMEMO 2" : "legacy");
	publish_devicelist(state, version, ids);
}

static void
got_devicelist(State *state, const char *jid, guint version, xmlnode *list)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GArray) ids = NULL;
	PxmOmemoStore *store = pxm_omemo_engine_get_store(state->engine);

	if (list == NULL)
		ids = g_array_new(FALSE, FALSE, sizeof(guint32));
	else
		ids = pxm_omemo_devicelist_parse(version, list, &error);
	if (ids == NULL) {
		purple_debug_warning(ID, "ignoring a device list of %s: %s\n",
				     jid, error->message);
		return;
	}
	pxm_omemo_store_set_devices(store, jid, version, ids);
	if (pxm_account_is_own_bare_jid(state->account, jid))
		check_own_list(state, version, ids);
}

typedef struct {
	State *state;
	char *jid;
	guint version;
} ListFetch;

static void
list_fetch_free(ListFetch *f)
{
	state_unref(f->state);
	g_free(f->jid);
	g_free(f);
}

static void
on_devicelist(PxmAccount *account, xmlnode *result, const GError *error,
	      gpointer data)
{
	ListFetch *f = data;
	const char *node = pxm_omemo_devicelist_node(f->version);
	xmlnode *pubsub = pxm_xml_child(result, "pubsub", PXM_NS_PUBSUB);

	if (f->state->stopped)
		return;
	/* item-not-found and the like: no list, no devices. */
	got_devicelist(f->state, f->jid, f->version,
		       pxm_omemo_items_first(
			       pxm_xml_child(pubsub, "items", NULL), node));
	g_hash_table_insert(f->state->lists, list_key_dup(f->version, f->jid),
			    GINT_TO_POINTER(LIST_DONE));
	kick_jobs(f->state);
}

/* Asks for @jid's device list of @version unless asked this session. */
static gboolean
ensure_list(State *state, const char *jid, guint version)
{
	g_autofree char *key = list_key_dup(version, jid);
	ListFetch *f;
	gpointer status = g_hash_table_lookup(state->lists, key);

	if (GPOINTER_TO_INT(status) == LIST_DONE)
		return TRUE;
	if (status != NULL)
		return FALSE;
	g_hash_table_insert(state->lists, g_steal_pointer(&key),
			    GINT_TO_POINTER(LIST_PENDING));
	f = g_new0(ListFetch, 1);
	f->state = state_ref(state);
	f->jid = g_strdup(jid);
	f->version = version;
	pxm_account_send_iq(
		state->account,
		pxm_omemo_items_iq(
			pxm_account_is_own_bare_jid(state->account, jid) ? NULL
									 : jid,
			pxm_omemo_devicelist_node(version), NULL),
		0, on_devicelist, f, (GDestroyNotify)list_fetch_free);
	return FALSE;
}

static gboolean
has_devices(State *state, const char *jid)
{
	PxmOmemoStore *store = pxm_omemo_engine_get_store(state->engine);

	for (guint version = 3; version <= 4; version++) {
		g_autoptr(GArray) ids = pxm_omemo_store_get_devices(store, jid,
								    version);

		if (ids->len > 0)
			return TRUE;
	}
	return FALSE;
}

/* --- Conversation state ----------------------------------------------------- */

/* "on", "off" or NULL (the default applies). */
static char *
conversation_setting_dup(State *state, const char *jid)
{
	g_autofree char *key = g_strconcat(KV_CONVERSATION, jid, NULL);
	PxmStore *store = pxm_account_get_store(state->account);
	char *value = NULL;

	if (store != NULL)
		pxm_store_kv_get_string_dup(store, ID, key, &value, NULL);
	return value;
}

static void
set_conversation_setting(State *state, const char *jid, const char *value)
{
	g_autofree char *key = g_strconcat(KV_CONVERSATION, jid, NULL);
	PxmStore *store = pxm_account_get_store(state->account);

	if (store != NULL)
		pxm_store_kv_set_string(store, ID, key, value, NULL);
}

static gboolean
default_on(State *state)
{
	return pxm_account_get_option_bool(state->account,
					   PXM_OMEMO_SETTING_DEFAULT);
}

static gboolean
compute_encrypted(State *state, const char *jid, gboolean on_by_default)
{
	g_autofree char *setting = conversation_setting_dup(state, jid);

	if (setting != NULL)
		return g_str_equal(setting, "on");
	return on_by_default && has_devices(state, jid);
}

gboolean
pxm_omemo_is_encrypted(PxmOmemo *state, const char *jid)
{
	PxmStore *store = pxm_account_get_store(state->account);
	guint64 store_generation =
		store != NULL ? pxm_store_get_generation(store) : 0;
	guint64 devices_generation = pxm_omemo_store_get_devices_generation(
		pxm_omemo_engine_get_store(state->engine));
	gboolean on_by_default = default_on(state);
	Decision *d = g_hash_table_lookup(state->decisions, jid);

	if (d == NULL) {
		if (g_hash_table_size(state->decisions) >= 4096)
			g_hash_table_remove_all(state->decisions);
		d = g_new0(Decision, 1);
		d->store_generation = G_MAXUINT64;
		g_hash_table_insert(state->decisions, g_strdup(jid), d);
	}
	if (d->store_generation != store_generation ||
	    d->devices_generation != devices_generation ||
	    d->default_on != on_by_default) {
		d->encrypted = compute_encrypted(state, jid, on_by_default);
		d->store_generation = store_generation;
		d->devices_generation = devices_generation;
		d->default_on = on_by_default;
	}
	return d->encrypted;
}

static gboolean
is_encrypted(PxmAccount *account, gpointer data, const char *jid)
{
	return pxm_omemo_is_encrypted(data, jid);
}

/* --- Sending ----------------------------------------------------------------- */

typedef enum {
	JOB_LISTS,
	JOB_SESSIONS,
	JOB_DONE,
} JobPhase;

typedef struct {
	char *jid;
	guint32 device;
	guint version;
} Target;

typedef struct {
	State *state;       /* borrowed: jobs live in state->jobs */
	char *to;           /* as the conversation names it */
	char *jid;          /* the contact, bare */
	char *body;         /* plain text */
	char *html;         /* as typed, for the local echo */
	gboolean decide;    /* no explicit setting: encrypt only if devices */
	gboolean groupchat; /* jid is a room: encrypt for its members */
	JobPhase phase;
	guint outstanding;
	GPtrArray *targets; /* Target* */
	GString *problems;  /* devices left out, HTML */
} Job;

static void
target_free(Target *t)
{
	g_free(t->jid);
	g_free(t);
}

static void
job_free(Job *job)
{
	g_free(job->to);
	g_free(job->jid);
	if (job->body != NULL)
		memset(job->body, 0, strlen(job->body));
	g_free(job->body);
	g_free(job->html);
	g_ptr_array_unref(job->targets);
	g_string_free(job->problems, TRUE);
	g_free(job);
}

static gboolean
lists_known(State *state, const char *jid)
{
	gboolean known = TRUE;

	for (guint version = 3; version <= 4; version++)
		known = ensure_list(state, jid, version) && known;
	return known;
}

/* Answers @w (with TRUE, fail closed, when OMEMO stopped) and frees it. */
static void
waiter_answer(State *state, Waiter *w)
{
	w->callback(state->account,
		    state->stopped || pxm_omemo_is_encrypted(state, w->jid),
		    w->user_data);
	if (w->destroy != NULL)
		w->destroy(w->user_data);
	g_free(w->jid);
	g_free(w);
}

static void
when_decided(PxmAccount *account, gpointer data, const char *jid,
	     PxmEncryptionDecided callback, gpointer user_data,
	     GDestroyNotify destroy)
{
	State *state = data;
	Waiter *w = g_new0(Waiter, 1);

	w->jid = g_strdup(jid);
	w->callback = callback;
	w->user_data = user_data;
	w->destroy = destroy;
	if (lists_known(state, jid))
		waiter_answer(state, w);
	else
		g_ptr_array_add(state->waiters, w);
}

static void
kick_waiters(State *state)
{
	for (guint i = 0; i < state->waiters->len;) {
		Waiter *w = state->waiters->pdata[i];

		if (!state->stopped && !lists_known(state, w->jid)) {
			i++;
			continue;
		}
		g_ptr_array_remove_index(state->waiters, i);
		waiter_answer(state, w);
	}
}

static void
kick_jobs(State *state)
{
	kick_waiters(state);
	/* A step may finish a job and remove it: walk a copy. */
	g_autoptr(GPtrArray) jobs = g_ptr_array_new();

	for (guint i = 0; i < state->jobs->len; i++)
		g_ptr_array_add(jobs, state->jobs->pdata[i]);
	for (guint i = 0; i < jobs->len; i++)
		if (g_ptr_array_find(state->jobs, jobs->pdata[i], NULL))
			job_step(state, jobs->pdata[i]);
}

static void
echo(State *state, Job *job, xmlnode *sent)
{
	PxmStanza st = {
		.kind = PXM_STANZA_MESSAGE,
		.outgoing = TRUE,
		.stanza = sent,
		.message = sent,
		.origin = PXM_ORIGIN_LOCAL,
		.sent_by_me = TRUE,
		.type = xmlnode_get_attrib(sent, "type"),
		.to = xmlnode_get_attrib(sent, "to"),
		.id = xmlnode_get_attrib(sent, "id"),
		.encrypted = TRUE,
		.body = job->body,
		.html = job->html,
	};

	/* The strings stay the job's: nothing here frees them. */
	pxm_presenter_show(state->account, &st);
}

static xmlnode *
new_message(const char *to)
{
	xmlnode *msg = xmlnode_new("message");
	g_autofree char *id = g_uuid_string_random();

	xmlnode_set_attrib(msg, "type", "chat");
	xmlnode_set_attrib(msg, "to", to);
	xmlnode_set_attrib(msg, "id", id);
	return msg;
}

static void
add_body(xmlnode *msg, const char *text)
{
	xmlnode *body = xmlnode_new_child(msg, "body");

	xmlnode_set_namespace(body, PXM_NS_CLIENT);
	xmlnode_insert_data(body, text, -1);
}

/* The conversation turned out not to be encrypted (no devices): send as
 * the prpl would have. */
static void
send_plain(State *state, Job *job)
{
	xmlnode *msg = new_message(job->to);
	xmlnode *copy;

	add_body(msg, job->body);
	copy = xmlnode_copy(msg);
	pxm_account_send(state->account, msg);
	echo(state, job, copy);
	xmlnode_free(copy);
}

static char *
refusal_dup(const char *body, const char *why)
{
	g_autofree char *text = g_markup_escape_text(body, -1);

	return g_strdup_printf(
		/* TRANSLATORS: %s: why; then the message that was not sent */
		_("<b>Not sent</b> (OMEMO): %s<br>Your message: %s"), why,
		text);
}

static void
refuse(State *state, Job *job, const char *why)
{
	g_autofree char *html = refusal_dup(job->body, why);

	notice(state, job->jid, html);
}

/*
 * Builds one <encrypted/> per version for the targets of that version.
 * Returns FALSE if a target that had a session could not be encrypted for.
 */
static xmlnode *
encrypt_for(State *state, Job *job, guint version, guint *n_contact,
	    GError **error)
{
	g_autoptr(PxmOmemoEncrypted) m = pxm_omemo_encrypted_new(
		version, pxm_omemo_engine_get_device_id(state->engine));
	PxmOmemoPayload payload;
	gboolean ok;
	const char *own = pxm_account_get_bare_jid(state->account);
	guint n = 0;

	if (version == 4) {
		g_autofree char *env = pxm_omemo_sce_build(job->body, own,
							   job->jid);

		ok = pxm_omemo_payload_encrypt_v4((const guint8 *)env,
						  strlen(env), NULL, &payload,
						  error);
		memset(env, 0, strlen(env));
	} else {
		ok = pxm_omemo_payload_encrypt_v3((const guint8 *)job->body,
						  strlen(job->body), NULL, NULL,
						  &payload, error);
	}
	if (!ok)
		return NULL;
	for (guint i = 0; i < job->targets->len; i++) {
		const Target *t = job->targets->pdata[i];
		g_autoptr(GBytes) key = NULL;
		g_autoptr(GError) local = NULL;
		gboolean kex = FALSE;

		if (t->version != version ||
		    !pxm_omemo_engine_has_session(state->engine, version,
						  t->jid, t->device))
			continue;
		key = pxm_omemo_engine_encrypt_key(
			state->engine, version, t->jid, t->device,
			payload.key_material, &kex, &local);
		if (key == NULL) {
			g_string_append_printf(job->problems, "<br>%s (%u): %s",
					       t->jid, t->device,
					       local->message);
			continue;
		}
		pxm_omemo_encrypted_add_key(m, t->jid, t->device, kex, key);
		n++;
		if (g_str_equal(t->jid, job->jid) ||
		    (job->groupchat &&
		     !pxm_account_is_own_bare_jid(state->account, t->jid)))
			(*n_contact)++;
	}
	if (n == 0) {
		pxm_omemo_payload_clear(&payload);
		return NULL;
	}
	if (version == 3)
		m->iv = g_bytes_new(payload.iv, sizeof(payload.iv));
	m->payload = g_bytes_ref(payload.payload);
	pxm_omemo_payload_clear(&payload);
	return pxm_omemo_encrypted_build(m);
}

static gboolean room_covered(State *state, Job *job);

static void
job_finish(State *state, Job *job)
{
	g_autoptr(GError) error = NULL;
	xmlnode *enc4, *enc3, *msg, *eme, *copy;
	guint n_contact = 0;

	if (job->groupchat && !room_covered(state, job))
		return;
	enc4 = encrypt_for(state, job, 4, &n_contact, &error);
	enc3 = error == NULL ? encrypt_for(state, job, 3, &n_contact, &error)
			     : NULL;
	if (error != NULL || n_contact == 0) {
		g_autofree char *why = NULL;

		if (enc4 != NULL)
			xmlnode_free(enc4);
		if (enc3 != NULL)
			xmlnode_free(enc3);
		if (error != NULL)
			why = g_strdup(_("encryption failed."));
		else if (!has_devices(state, job->jid))
			why = g_strdup_printf(
				_("%s has no OMEMO device. Type /omemo off to "
				  "send without encryption."),
				job->jid);
		else
			why = g_strdup_printf(
				_("none of the devices of %s can be "
				  "encrypted for (no usable keys, or not "
				  "trusted). Type /omemo fingerprints to see "
				  "them, or /omemo off to send without "
				  "encryption.%s"),
				job->jid, job->problems->str);
		refuse(state, job, why);
		return;
	}
	msg = new_message(job->to);
	if (job->groupchat)
		xmlnode_set_attrib(msg, "type", "groupchat");
	/* Legacy first: purple-lurch's libomemo reads the first <encrypted/>
	 * whatever its namespace; OMEMO 2 clients look by namespace. */
	if (enc3 != NULL)
		xmlnode_insert_child(msg, enc3);
	if (enc4 != NULL)
		xmlnode_insert_child(msg, enc4);
	/* XEP-0380: say what the fallback body is about. */
	eme = xmlnode_new_child(msg, "encryption");
	xmlnode_set_namespace(eme, PXM_NS_EME);
	xmlnode_set_attrib(eme, "namespace",
			   enc3 != NULL ? PXM_NS_OMEMO_LEGACY : PXM_NS_OMEMO);
	xmlnode_set_attrib(eme, "name", "OMEMO");
	add_body(msg, _("This message is encrypted with OMEMO, and your "
			"client cannot decrypt it."));
	/* XEP-0384 section 6: archive it even though the body is a
	 * fallback. */
	xmlnode_set_namespace(xmlnode_new_child(msg, "store"), PXM_NS_HINTS);
	copy = xmlnode_copy(msg);
	pxm_account_send(state->account, msg);
	announce(state, job->jid);
	if (job->groupchat)
		pxm_omemo_rooms_remember_sent(state->rooms, job->jid,
					      xmlnode_get_attrib(copy, "id"),
					      job->body, job->html);
	else
		echo(state, job, copy);
	xmlnode_free(copy);
	if (job->problems->len > 0) {
		g_autofree char *html = g_strdup_printf(
			_("OMEMO: this message was not encrypted for these "
			  "devices:%s"),
			job->problems->str);

		notice(state, job->jid, html);
	}
}

typedef struct {
	State *state;
	Job *job; /* checked against state->jobs before use */
	Target target;
} BundleFetch;

static void
bundle_fetch_free(BundleFetch *f)
{
	state_unref(f->state);
	g_free(f->target.jid);
	g_free(f);
}

static void
on_bundle(PxmAccount *account, xmlnode *result, const GError *error,
	  gpointer data)
{
	BundleFetch *f = data;
	Job *job = f->job;
	const Target *t = &f->target;
	g_autofree char *node = pxm_omemo_bundle_node_dup(t->version,
							  t->device);
	g_autoptr(GError) local = NULL;
	g_autoptr(PxmOmemoBundle) bundle = NULL;
	xmlnode *pubsub = pxm_xml_child(result, "pubsub", PXM_NS_PUBSUB);

	if (f->state->stopped || !g_ptr_array_find(f->state->jobs, job, NULL))
		return;
	job->outstanding--;
	if (error == NULL)
		bundle = pxm_omemo_bundle_parse(
			t->version,
			pxm_omemo_items_first(
				pxm_xml_child(pubsub, "items", NULL), node),
			&local);
	if (bundle == NULL || !pxm_omemo_engine_build_session(
				      f->state->engine, t->version, t->jid,
				      t->device, bundle, &local)) {
		const char *why = error != NULL   ? error->message
				  : local != NULL ? local->message
						  : "no bundle";

		purple_debug_warning(ID, "no session with %s device %u: %s\n",
				     t->jid, t->device, why);
		g_string_append_printf(job->problems, "<br>%s (%u): %s", t->jid,
				       t->device,
				       _("its keys could not be fetched"));
	}
	job_step(f->state, job);
}

static void
fetch_bundle(State *state, Job *job, const Target *t)
{
	BundleFetch *f = g_new0(BundleFetch, 1);
	g_autofree char *node = pxm_omemo_bundle_node_dup(t->version,
							  t->device);
	g_autofree char *item = g_strdup_printf("%u", t->device);

	f->state = state_ref(state);
	f->job = job;
	f->target.jid = g_strdup(t->jid);
	f->target.device = t->device;
	f->target.version = t->version;
	job->outstanding++;
	pxm_account_send_iq(
		state->account,
		pxm_omemo_items_iq(
			pxm_account_is_own_bare_jid(state->account, t->jid)
				? NULL
				: t->jid,
			node, t->version == 4 ? item : NULL),
		0, on_bundle, f, (GDestroyNotify)bundle_fetch_free);
}

/* Blind Trust Before Verification: a new device is trusted until one of
 * the contact's devices was verified; then new ones are not, and the user
 * is told once. */
static gboolean
trusted(State *state, Job *job, const char *jid, guint32 device)
{
	PxmOmemoStore *store = pxm_omemo_engine_get_store(state->engine);
	PxmOmemoTrust trust = pxm_omemo_store_get_trust(store, jid, device);
	g_autofree char *key = NULL;

	if (trust == PXM_OMEMO_TRUST_TRUSTED ||
	    trust == PXM_OMEMO_TRUST_VERIFIED)
		return TRUE;
	if (trust == PXM_OMEMO_TRUST_UNDECIDED &&
	    !pxm_omemo_store_has_verified(store, jid)) {
		pxm_omemo_store_set_trust(store, jid, device,
					  PXM_OMEMO_TRUST_TRUSTED);
		return TRUE;
	}
	key = g_strdup_printf("%s/%u", jid, device);
	g_string_append_printf(job->problems, "<br>%s (%u): %s", jid, device,
			       _("not trusted (/omemo trust FINGERPRINT)"));
	if (!g_hash_table_contains(state->told, key)) {
		purple_debug_info(ID, "device %u of %s is not trusted\n",
				  device, jid);
		g_hash_table_add(state->told, g_steal_pointer(&key));
		pxm_omemo_trust_ui_untrusted(
			state, job->groupchat ? jid : job->jid, jid, device);
	}
	return FALSE;
}

static void
add_targets(State *state, Job *job, const char *jid)
{
	PxmOmemoStore *store = pxm_omemo_engine_get_store(state->engine);
	g_autoptr(GArray) v4 = pxm_omemo_store_get_devices(store, jid, 4);
	g_autoptr(GArray) v3 = pxm_omemo_store_get_devices(store, jid, 3);
	guint32 me = pxm_omemo_engine_get_device_id(state->engine);
	gboolean own = pxm_account_is_own_bare_jid(state->account, jid);

	for (guint pass = 0; pass < 2; pass++) {
		GArray *ids = pass == 0 ? v4 : v3;

		for (guint i = 0; i < ids->len; i++) {
			guint32 device = g_array_index(ids, guint32, i);
			Target *t;

			/* OMEMO 2 where the device publishes it, legacy
			 * otherwise (issue 5). */
			if ((own && device == me) ||
			    (pass == 1 && contains_id(v4, device)) ||
			    !trusted(state, job, jid, device))
				continue;
			t = g_new0(Target, 1);
			t->jid = g_strdup(jid);
			t->device = device;
			t->version = pass == 0 ? 4 : 3;
			g_ptr_array_add(job->targets, t);
		}
	}
}

static void
kick_jobs_cb(gpointer data)
{
	kick_jobs(data);
}

/* Rooms: the room must be private, and every member's device lists are
 * needed (they are published open, so members who are not contacts can
 * be read). */
static gboolean
room_lists(State *state, Job *job)
{
	g_autoptr(GPtrArray) members = NULL;
	g_autofree char *refusal = NULL;
	gboolean ready = TRUE;

	if (!pxm_omemo_rooms_ready(state->rooms, job->jid))
		return FALSE;
	refusal = pxm_omemo_rooms_refusal_dup(state->rooms, job->jid);
	if (refusal != NULL) {
		refuse(state, job, refusal);
		g_ptr_array_remove(state->jobs, job);
		return FALSE;
	}
	members = pxm_omemo_rooms_members_dup(state->rooms, job->jid);
	for (guint i = 0; i < members->len; i++)
		for (guint version = 3; version <= 4; version++)
			ready = ensure_list(state, members->pdata[i],
					    version) &&
				ready;
	return ready;
}

static void
room_add_targets(State *state, Job *job)
{
	g_autoptr(GPtrArray) members = pxm_omemo_rooms_members_dup(state->rooms,
								   job->jid);

	for (guint i = 0; i < members->len; i++)
		add_targets(state, job, members->pdata[i]);
}

/* Issue 5: members without OMEMO are named, and the message is not sent
 * (encrypting for some members only would leave the others unable to
 * read it without anyone noticing). */
static gboolean
room_covered(State *state, Job *job)
{
	g_autoptr(GPtrArray) members = pxm_omemo_rooms_members_dup(state->rooms,
								   job->jid);
	g_autoptr(GString) missing = g_string_new(NULL);
	g_autofree char *why = NULL;

	for (guint i = 0; i < members->len; i++) {
		const char *m = members->pdata[i];
		gboolean covered = FALSE;

		for (guint j = 0; j < job->targets->len && !covered; j++) {
			const Target *t = job->targets->pdata[j];

			covered = g_str_equal(t->jid, m) &&
				  pxm_omemo_engine_has_session(
					  state->engine, t->version, t->jid,
					  t->device);
		}
		if (!covered) {
			g_autofree char *name = g_markup_escape_text(m, -1);

			g_string_append_printf(missing, "%s%s",
					       missing->len > 0 ? ", " : "",
					       name);
		}
	}
	if (members->len == 0)
		why = g_strdup(_("there is no other member in this room to "
				 "encrypt for."));
	else if (missing->len > 0)
		why = g_strdup_printf(
			/* TRANSLATORS: %s: addresses; then details */
			_("these members cannot read OMEMO messages in this "
			  "room (no OMEMO device, no usable keys, or not "
			  "trusted): %s. Type /omemo off to send without "
			  "encryption.%s"),
			missing->str, job->problems->str);
	if (why == NULL)
		return TRUE;
	refuse(state, job, why);
	return FALSE;
}

static void
job_remove(State *state, Job *job)
{
	g_ptr_array_remove(state->jobs, job);
}

static void
job_step(State *state, gpointer data)
{
	Job *job = data;
	const char *own = pxm_account_get_bare_jid(state->account);
	gboolean ready = TRUE;

	if (job->phase == JOB_LISTS && job->groupchat &&
	    !room_lists(state, job))
		return;
	if (job->phase == JOB_LISTS) {
		for (guint version = 3; version <= 4; version++) {
			if (!job->groupchat)
				ready = ensure_list(state, job->jid, version) &&
					ready;
			ready = ensure_list(state, own, version) && ready;
		}
		if (!ready)
			return;
		if (job->decide && !has_devices(state, job->jid)) {
			send_plain(state, job);
			job_remove(state, job);
			return;
		}
		if (job->groupchat)
			room_add_targets(state, job);
		else
			add_targets(state, job, job->jid);
		add_targets(state, job, own);
		job->phase = JOB_SESSIONS;
		for (guint i = 0; i < job->targets->len; i++) {
			const Target *t = job->targets->pdata[i];

			if (!pxm_omemo_engine_has_session(state->engine,
							  t->version, t->jid,
							  t->device))
				fetch_bundle(state, job, t);
		}
	}
	if (job->phase != JOB_SESSIONS || job->outstanding > 0)
		return;
	job->phase = JOB_DONE;
	job_finish(state, job);
	job_remove(state, job);
}

PxmSendResult
pxm_omemo_send_message(PxmOmemo *state, const char *to, const char *html,
		       gboolean groupchat)
{
	g_autofree char *jid = pxm_jid_bare_dup(to);
	g_autofree char *setting = NULL;
	g_autofree char *list_key = NULL;
	char *plain = NULL;
	Job *job;

	/* Rooms: only when the user turned OMEMO on (omemo-rooms.c). */
	if (jid == NULL || (groupchat && !pxm_omemo_is_encrypted(state, jid)))
		return PXM_SEND_NOT_MINE;
	setting = conversation_setting_dup(state, jid);
	if (g_strcmp0(setting, "off") == 0 ||
	    (setting == NULL && !default_on(state)))
		return PXM_SEND_NOT_MINE;
	list_key = list_key_dup(4, jid);
	if (setting == NULL &&
	    GPOINTER_TO_INT(g_hash_table_lookup(state->lists, list_key)) ==
		    LIST_DONE &&
	    !has_devices(state, jid))
		return PXM_SEND_NOT_MINE;
	job = g_new0(Job, 1);
	job->state = state;
	job->to = g_strdup(to);
	job->jid = g_steal_pointer(&jid);
	purple_markup_html_to_xhtml(html, NULL, &plain);
	job->body = plain;
	job->html = g_strdup(html);
	job->decide = setting == NULL;
	job->groupchat = groupchat;
	job->targets =
		g_ptr_array_new_with_free_func((GDestroyNotify)target_free);
	job->problems = g_string_new(NULL);
	g_ptr_array_add(state->jobs, job);
	job_step(state, job);
	return PXM_SEND_QUEUED;
}

static PxmSendResult
send_message(PxmAccount *account, gpointer data, const char *to,
	     const char *html, PurpleMessageFlags flags, gboolean groupchat)
{
	return pxm_omemo_send_message(data, to, html, groupchat);
}

/* --- Outbox ------------------------------------------------------------------- */

/*
 * A message still waiting for keys when the account goes offline is not
 * lost: it waits here, by account, and the next start() sends it, as the
 * prpl sends again what its XEP-0198 queue holds.  It is refused with a
 * line when the account is disabled or removed, or the plugin unloads.
 */
typedef struct {
	char *to;
	char *html;
} Pending;

/* account key -> GPtrArray of Pending* */
static GHashTable *outbox;
/* Set by plugin_unload: what stops later is refused at once. */
static gboolean outbox_closed;

static void
pending_free(Pending *p)
{
	g_free(p->to);
	if (p->html != NULL)
		memset(p->html, 0, strlen(p->html));
	g_free(p->html);
	g_free(p);
}

/* The libpurple account's name (full JID) when there is one. */
static char *
account_key_dup(PxmAccount *account)
{
	PurpleAccount *pa = pxm_account_get_purple(account);

	return g_strdup(pa != NULL ? purple_account_get_username(pa)
				   : pxm_account_get_bare_jid(account));
}

static void
outbox_put(const char *key, const char *to, const char *html)
{
	GPtrArray *list;
	Pending *p = g_new0(Pending, 1);

	if (outbox == NULL)
		outbox = g_hash_table_new_full(
			g_str_hash, g_str_equal, g_free,
			(GDestroyNotify)g_ptr_array_unref);
	list = g_hash_table_lookup(outbox, key);
	if (list == NULL) {
		list = g_ptr_array_new_with_free_func(
			(GDestroyNotify)pending_free);
		g_hash_table_insert(outbox, g_strdup(key), list);
	}
	p->to = g_strdup(to);
	p->html = g_strdup(html);
	g_ptr_array_add(list, p);
}

/* (transfer full) (nullable) */
static GPtrArray *
outbox_take(const char *key)
{
	gpointer orig = NULL, list = NULL;

	if (outbox == NULL ||
	    !g_hash_table_steal_extended(outbox, key, &orig, &list))
		return NULL;
	g_free(orig);
	if (g_hash_table_size(outbox) == 0)
		g_clear_pointer(&outbox, g_hash_table_unref);
	return list;
}

/* The account is offline: the line goes to its conversation if it is
 * still open. */
static void
outbox_refuse(const char *key, const char *why)
{
	g_autoptr(GPtrArray) list = outbox_take(key);
	PurpleAccount *pa;

	if (list == NULL)
		return;
	purple_debug_info(ID, "%u queued messages not sent\n", list->len);
	pa = purple_accounts_find(key, "prpl-jabber");
	for (guint i = 0; pa != NULL && i < list->len; i++) {
		const Pending *p = list->pdata[i];
		g_autofree char *jid = pxm_jid_bare_dup(p->to);
		g_autofree char *plain = NULL;
		g_autofree char *html = NULL;
		PurpleConversation *conv =
			purple_find_conversation_with_account(
				PURPLE_CONV_TYPE_IM, p->to, pa);

		if (conv == NULL && jid != NULL)
			conv = purple_find_conversation_with_account(
				PURPLE_CONV_TYPE_IM, jid, pa);
		if (conv == NULL)
			continue;
		purple_markup_html_to_xhtml(p->html, NULL, &plain);
		html = refusal_dup(plain, why);
		purple_conversation_write(conv, NULL, html,
					  PURPLE_MESSAGE_SYSTEM |
						  PURPLE_MESSAGE_NO_LOG,
					  time(NULL));
	}
}

void
pxm_omemo_outbox_refuse_all(const char *why)
{
	g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func(g_free);
	GHashTableIter iter;
	gpointer key;

	if (outbox == NULL)
		return;
	g_hash_table_iter_init(&iter, outbox);
	while (g_hash_table_iter_next(&iter, &key, NULL))
		g_ptr_array_add(keys, g_strdup(key));
	for (guint i = 0; i < keys->len; i++)
		outbox_refuse(keys->pdata[i], why);
}

/* Called by stop(): jobs waiting for keys go to the outbox when the
 * account only goes offline; anything else refuses them. */
static void
outbox_keep_jobs(State *state)
{
	PurpleAccount *pa = pxm_account_get_purple(state->account);
	g_autofree char *key = account_key_dup(state->account);
	const char *why = NULL;

	if (outbox_closed)
		why = _("OMEMO stopped on this account.");
	else if (pa != NULL &&
		 !purple_account_get_enabled(pa, purple_core_get_ui()))
		why = _("the account was disabled.");
	else if (pa != NULL && !pa->disconnecting)
		/* Online: the user turned the extension off. */
		why = _("OMEMO stopped on this account.");
	for (guint i = 0; i < state->jobs->len; i++) {
		Job *job = state->jobs->pdata[i];
		g_autofree char *html = NULL;
		g_autofree char *text = NULL;

		/* Rooms are joined again later, by the user: refused. */
		if (why != NULL || job->groupchat) {
			refuse(state, job,
			       why != NULL ? why
					   : _("the account went offline."));
			continue;
		}
		outbox_put(key, job->to, job->html);
		text = g_markup_escape_text(job->body, -1);
		html = g_strdup_printf(
			/* TRANSLATORS: %s: the message that waits */
			_("<b>Not sent yet</b> (OMEMO): the account went "
			  "offline. This message will be sent when it is "
			  "back online.<br>Your message: %s"),
			text);
		notice(state, job->jid, html);
	}
	g_ptr_array_set_size(state->jobs, 0);
}

/* Called by start(): what waited in the outbox is sent now. */
static void
outbox_resume(State *state)
{
	g_autofree char *key = account_key_dup(state->account);
	g_autoptr(GPtrArray) list = outbox_take(key);

	for (guint i = 0; list != NULL && i < list->len; i++) {
		const Pending *p = list->pdata[i];
		Job *job;
		char *plain = NULL;

		purple_debug_info(ID, "sending a message typed before the "
				      "account went offline\n");
		if (pxm_omemo_send_message(state, p->to, p->html, FALSE) !=
		    PXM_SEND_NOT_MINE)
			continue;
		/* The user turned encryption off meanwhile: as the prpl
		 * would have sent it. */
		job = g_new0(Job, 1);
		job->state = state;
		job->to = g_strdup(p->to);
		job->jid = pxm_jid_bare_dup(p->to);
		purple_markup_html_to_xhtml(p->html, NULL, &plain);
		job->body = plain;
		job->html = g_strdup(p->html);
		job->targets = g_ptr_array_new_with_free_func(
			(GDestroyNotify)target_free);
		job->problems = g_string_new(NULL);
		send_plain(state, job);
		job_free(job);
	}
}

static void
on_account_disabled(PurpleAccount *pa, gpointer data)
{
	if (g_strcmp0(purple_account_get_protocol_id(pa), "prpl-jabber") == 0)
		outbox_refuse(purple_account_get_username(pa),
			      _("the account was disabled."));
}

static void
on_account_removed(PurpleAccount *pa, gpointer data)
{
	g_autoptr(GPtrArray) list = NULL;

	if (g_strcmp0(purple_account_get_protocol_id(pa), "prpl-jabber") == 0)
		list = outbox_take(purple_account_get_username(pa));
}

static void
outbox_plugin_load(PurplePlugin *plugin)
{
	void *accounts = purple_accounts_get_handle();

	outbox_closed = FALSE;
	purple_signal_connect(accounts, "account-disabled", &outbox,
			      PURPLE_CALLBACK(on_account_disabled), NULL);
	purple_signal_connect(accounts, "account-removed", &outbox,
			      PURPLE_CALLBACK(on_account_removed), NULL);
}

static void
outbox_plugin_unload(PurplePlugin *plugin)
{
	purple_signals_disconnect_by_handle(&outbox);
	pxm_omemo_outbox_refuse_all(_("the plugin was unloaded."));
	outbox_closed = TRUE;
}

/* --- Receiving ------------------------------------------------------------------ */

static void
cannot_decrypt(State *state, const PxmStanza *st, const char *jid,
	       guint32 device, const char *why)
{
	g_autofree char *html = NULL;
	g_autofree char *who = g_markup_escape_text(jid, -1);

	if (st->origin == PXM_ORIGIN_ARCHIVE && !st->requested)
		return; /* catching up: old messages keys are gone */
	html = g_strdup_printf(
		/* TRANSLATORS: %s: a JID, %u: a device number, %s: why */
		_("Could not decrypt a message from %s (device %u): %s"), who,
		device, why);
	if (g_strcmp0(st->type, "groupchat") == 0) {
		g_autofree char *room = pxm_jid_bare_dup(st->from);

		pxm_presenter_notice(state->account, room, TRUE, html);
		return;
	}
	notice(state, st->sent_by_me ? st->to != NULL ? st->to : jid : jid,
	       html);
}

static xmlnode *
find_encrypted(xmlnode *msg, const char *ns)
{
	return pxm_xml_child(msg, "encrypted", ns);
}

static void
maybe_replenish(State *state)
{
	if (pxm_omemo_engine_maintain(state->engine,
				      g_get_real_time() / G_USEC_PER_SEC))
		publish_bundles(state);
}

PxmVerdict
pxm_omemo_decrypt(PxmOmemo *state, PxmStanza *st)
{
	PxmStore *store = pxm_account_get_store(state->account);
	const char *own = pxm_account_get_bare_jid(state->account);
	guint32 me = pxm_omemo_engine_get_device_id(state->engine);
	g_autofree char *sender = NULL;
	const char *peer;
	g_autoptr(PxmOmemoEncrypted) m = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmSecret) km = NULL;
	g_autoptr(PxmSecret) plain = NULL;
	g_autofree char *body = NULL;
	const PxmOmemoKey *key = NULL;
	xmlnode *encs[2];

	if (st->message == NULL || g_strcmp0(st->type, "error") == 0)
		return PXM_VERDICT_CONTINUE;
	encs[0] = find_encrypted(st->message, PXM_NS_OMEMO);
	encs[1] = find_encrypted(st->message, PXM_NS_OMEMO_LEGACY);
	/* Most messages: plaintext in a one-to-one conversation, which
	 * matters only when it is encrypted (below). */
	if (encs[0] == NULL && encs[1] == NULL &&
	    g_strcmp0(st->type, "groupchat") != 0 &&
	    (st->sent_by_me || !pxm_stanza_is_chat(st) ||
	     !pxm_stanza_has_body(st)))
		return PXM_VERDICT_CONTINUE;
	peer = st->sent_by_me ? pxm_stanza_bare_to(st)
			      : pxm_stanza_bare_from(st);
	if (g_strcmp0(st->type, "groupchat") == 0) {
		PxmVerdict verdict;

		/* The sender is the occupant's real JID (omemo-rooms.c). */
		if (!pxm_omemo_rooms_incoming(
			    state->rooms, st,
			    peer != NULL && pxm_omemo_is_encrypted(state, peer),
			    encs[0] != NULL || encs[1] != NULL, &sender,
			    &verdict))
			return verdict;
	} else if (encs[0] != NULL || encs[1] != NULL) {
		/* Not for plaintext (most messages): the block below is all
		 * that applies to it. */
		sender = g_strdup(st->sent_by_me ? own
						 : pxm_stanza_bare_from(st));
	}
	if (encs[0] == NULL && encs[1] == NULL) {
		/* Issue 5: plaintext in an encrypted conversation is shown
		 * with a warning. */
		if (!st->sent_by_me && peer != NULL &&
		    pxm_stanza_has_body(st) && pxm_stanza_is_chat(st) &&
		    pxm_omemo_is_encrypted(state, peer)) {
			g_autofree char *text = xmlnode_get_data(
				pxm_xml_child(st->message, "body", NULL));
			g_autofree char *escaped = g_markup_escape_text(
				text != NULL ? text : "", -1);

			pxm_stanza_set(&st->body, text);
			g_free(st->html);
			st->html = g_strdup_printf(
				"%s %s", _("<i>(not encrypted)</i>"), escaped);
		}
		return PXM_VERDICT_CONTINUE;
	}
	if (sender == NULL || store == NULL)
		return PXM_VERDICT_DROP;
	/* Prefer the version whose element holds a key for us. */
	for (guint i = 0; i < 2 && key == NULL; i++) {
		g_autoptr(PxmOmemoEncrypted) parsed = NULL;

		if (encs[i] == NULL)
			continue;
		parsed = pxm_omemo_encrypted_parse(encs[i], &error);
		if (parsed == NULL) {
			purple_debug_warning(ID,
					     "dropping a malformed OMEMO "
					     "message: %s\n",
					     error->message);
			return PXM_VERDICT_DROP;
		}
		key = pxm_omemo_encrypted_find_key(parsed, own, me);
		g_clear_pointer(&m, pxm_omemo_encrypted_free);
		m = g_steal_pointer(&parsed);
	}
	/* Our own message, sent from this device (an archive copy). */
	if (st->sent_by_me && m->sid == me) {
		purple_debug_info(ID, "not decrypting our own message\n");
		return PXM_VERDICT_CONSUMED;
	}
	if (key == NULL) {
		purple_debug_warning(ID,
				     "OMEMO message of %s device %u holds no "
				     "key for us\n",
				     sender, m->sid);
		if (m->payload != NULL)
			cannot_decrypt(state, st, sender, m->sid,
				       _("it was not encrypted for this "
					 "device."));
		return PXM_VERDICT_CONSUMED;
	}
	/* The ratchet step is committed together with the decrypted
	 * payload: a payload that fails leaves the session as it was. */
	if (!pxm_store_begin(store, &error)) {
		purple_debug_error(ID, "store: %s\n", error->message);
		return PXM_VERDICT_CONSUMED;
	}
	km = pxm_omemo_engine_decrypt_key(
		state->engine, m->version, sender, m->sid,
		g_bytes_get_data(key->data, NULL), g_bytes_get_size(key->data),
		key->kex, &error);
	if (km != NULL && m->payload != NULL) {
		if (m->version == 4)
			plain = pxm_omemo_payload_decrypt_v4(
				km->data, km->len,
				g_bytes_get_data(m->payload, NULL),
				g_bytes_get_size(m->payload), &error);
		else
			plain = pxm_omemo_payload_decrypt_v3(
				km->data, km->len,
				g_bytes_get_data(m->iv, NULL),
				g_bytes_get_size(m->iv),
				g_bytes_get_data(m->payload, NULL),
				g_bytes_get_size(m->payload), &error);
		if (plain != NULL && m->version == 4)
			body = pxm_omemo_sce_parse_body(plain->data, plain->len,
							sender, &error);
		else if (plain != NULL &&
			 g_utf8_validate((const char *)plain->data, plain->len,
					 NULL) &&
			 memchr(plain->data, 0, plain->len) == NULL)
			body = g_strndup((const char *)plain->data, plain->len);
		else if (plain != NULL)
			g_set_error_literal(&error, PXM_OMEMO_ERROR,
					    PXM_OMEMO_ERROR_MALFORMED,
					    "not UTF-8 text");
	}
	if (km == NULL || (m->payload != NULL && body == NULL)) {
		pxm_store_rollback(store, NULL);
		if (g_error_matches(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_DUPLICATE)) {
			/* Seen again (archive, carbon): already shown. */
			purple_debug_info(ID, "OMEMO message already "
					      "decrypted\n");
			return PXM_VERDICT_CONSUMED;
		}
		purple_debug_warning(ID,
				     "could not decrypt an OMEMO message of "
				     "%s device %u: %s\n",
				     sender, m->sid, error->message);
		cannot_decrypt(
			state, st, sender, m->sid,
			g_error_matches(error, PXM_OMEMO_ERROR,
					PXM_OMEMO_ERROR_NO_SESSION)
				? _("there is no session with that device; "
				    "its next message should work.")
			: g_error_matches(error, PXM_OMEMO_ERROR,
					  PXM_OMEMO_ERROR_UNTRUSTED)
				? _("that device's identity key changed.")
				: _("it is damaged or forged."));
		return PXM_VERDICT_CONSUMED;
	}
	if (!pxm_store_commit(store, &error)) {
		purple_debug_error(ID, "store: %s\n", error->message);
		return PXM_VERDICT_CONSUMED;
	}
	if (key->kex)
		maybe_replenish(state);
	/* Whom we hear from in OMEMO we answer in OMEMO: know their
	 * devices. */
	for (guint version = 3; version <= 4; version++)
		ensure_list(state, sender, version);
	if (body == NULL) {
		/* An empty OMEMO message (key transport, heartbeat). */
		return PXM_VERDICT_CONSUMED;
	}
	if (st->origin != PXM_ORIGIN_ARCHIVE)
		announce(state, peer);
	st->encrypted = TRUE;
	pxm_stanza_set(&st->body, body);
	g_free(st->html);
	st->html = g_markup_escape_text(body, -1);
	return PXM_VERDICT_CONTINUE;
}

static PxmVerdict
decrypt(PxmAccount *account, gpointer data, PxmStanza *st)
{
	return pxm_omemo_decrypt(data, st);
}

/* PEP notifications of device lists (we advertise +notify). */
static PxmVerdict
handle(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;
	xmlnode *event = pxm_xml_child(st->stanza, "event",
				       PXM_NS_PUBSUB_EVENT);
	xmlnode *items = pxm_xml_child(event, "items", NULL);
	const char *node = items != NULL ? xmlnode_get_attrib(items, "node")
					 : NULL;
	g_autofree char *jid = NULL;
	guint version;

	if (st->kind == PXM_STANZA_PRESENCE)
		return pxm_omemo_rooms_presence(state->rooms, st);
	if (node == NULL || st->message != st->stanza)
		return PXM_VERDICT_CONTINUE;
	if (g_str_equal(node, PXM_NS_OMEMO_DEVICES))
		version = 4;
	else if (g_str_equal(node, PXM_NS_OMEMO_LEGACY_DEVICELIST))
		version = 3;
	else
		return PXM_VERDICT_CONTINUE;
	/* XEP-0163 section 4.3: PEP notifications come from the owner's
	 * bare JID (our own: no 'from', or our bare JID). */
	if (st->from == NULL)
		jid = g_strdup(pxm_account_get_bare_jid(account));
	else if (pxm_jid_resource_peek(st->from) == NULL)
		jid = pxm_jid_normalize_dup(st->from);
	if (jid == NULL) {
		purple_debug_warning(ID, "dropping a device list pushed by a "
					 "full JID\n");
		return PXM_VERDICT_DROP;
	}
	got_devicelist(state, jid, version, pxm_omemo_items_first(items, node));
	g_hash_table_insert(state->lists, list_key_dup(version, jid),
			    GINT_TO_POINTER(LIST_DONE));
	kick_jobs(state);
	return PXM_VERDICT_CONSUMED;
}

static gboolean
has_element(xmlnode *node, const char *name, const char *ns)
{
	return pxm_xml_child(node, name, ns) != NULL;
}

static void
remove_children(xmlnode *parent, const char *name, const char *ns)
{
	xmlnode *prev = NULL, *c = parent->child;

	while (c != NULL) {
		xmlnode *next = c->next;

		if (c->type == XMLNODE_TYPE_TAG && g_str_equal(c->name, name) &&
		    (ns == NULL ||
		     g_strcmp0(xmlnode_get_namespace(c), ns) == 0)) {
			if (prev == NULL)
				parent->child = next;
			else
				prev->next = next;
			if (parent->lastchild == c)
				parent->lastchild = prev;
			c->next = NULL;
			c->parent = NULL;
			xmlnode_free(c);
		} else {
			prev = c;
		}
		c = next;
	}
}

/*
 * What other extensions compose (/correct, /reply, an upload's link) is
 * encrypted here, synchronously, when every device it must go to has a
 * session (the usual case in a conversation under way).  Only the body
 * is encrypted: <replace/>, <reply/>, <fallback/> and the rest stay
 * outside, as legacy OMEMO (Conversations) has them and OMEMO 2 clients
 * read them.
 */
static gboolean
encrypt_in_place(State *state, PxmStanza *st, const char *jid)
{
	const char *own = pxm_account_get_bare_jid(state->account);
	g_autoptr(GError) error = NULL;
	xmlnode *enc4 = NULL, *enc3 = NULL, *eme;
	guint n_contact = 0;
	gboolean ready = TRUE, done = FALSE;
	Job job = {
		.state = state,
		.to = (char *)st->to,
		.jid = (char *)jid,
	};

	for (guint version = 3; version <= 4; version++) {
		ready = ensure_list(state, jid, version) && ready;
		ready = ensure_list(state, own, version) && ready;
	}
	if (!ready || !has_devices(state, jid))
		return FALSE;
	job.body = xmlnode_get_data(pxm_xml_child(st->stanza, "body", NULL));
	job.targets =
		g_ptr_array_new_with_free_func((GDestroyNotify)target_free);
	job.problems = g_string_new(NULL);
	if (job.body == NULL)
		goto out;
	add_targets(state, &job, jid);
	add_targets(state, &job, own);
	for (guint i = 0; i < job.targets->len; i++) {
		const Target *t = job.targets->pdata[i];

		if (!pxm_omemo_engine_has_session(state->engine, t->version,
						  t->jid, t->device))
			goto out;
	}
	enc4 = encrypt_for(state, &job, 4, &n_contact, &error);
	enc3 = error == NULL ? encrypt_for(state, &job, 3, &n_contact, &error)
			     : NULL;
	if (error != NULL || n_contact == 0) {
		g_clear_pointer(&enc4, xmlnode_free);
		g_clear_pointer(&enc3, xmlnode_free);
		goto out;
	}
	remove_children(st->stanza, "body", NULL);
	remove_children(st->stanza, "html", PXM_NS_XHTML_IM);
	/* Legacy first, as job_finish(). */
	if (enc3 != NULL)
		xmlnode_insert_child(st->stanza, enc3);
	if (enc4 != NULL)
		xmlnode_insert_child(st->stanza, enc4);
	/* XEP-0380, and XEP-0384 section 6 (archived), as job_finish(). */
	eme = xmlnode_new_child(st->stanza, "encryption");
	xmlnode_set_namespace(eme, PXM_NS_EME);
	xmlnode_set_attrib(eme, "namespace",
			   enc3 != NULL ? PXM_NS_OMEMO_LEGACY : PXM_NS_OMEMO);
	xmlnode_set_attrib(eme, "name", "OMEMO");
	add_body(st->stanza, _("This message is encrypted with OMEMO, and "
			       "your client cannot decrypt it."));
	if (!has_element(st->stanza, "store", PXM_NS_HINTS))
		xmlnode_set_namespace(xmlnode_new_child(st->stanza, "store"),
				      PXM_NS_HINTS);
	st->encrypted = TRUE;
	pxm_stanza_set(&st->body, NULL);
	done = TRUE;
	if (job.problems->len > 0) {
		g_autofree char *html = g_strdup_printf(
			_("OMEMO: this message was not encrypted for these "
			  "devices:%s"),
			job.problems->str);

		notice(state, jid, html);
	}
out:
	if (job.body != NULL)
		memset(job.body, 0, strlen(job.body));
	g_free(job.body);
	g_ptr_array_unref(job.targets);
	g_string_free(job.problems, TRUE);
	return done;
}

/*
 * The last line of defence: a message with a body that would leave in
 * the clear in an encrypted conversation (sent by another extension, or
 * by the prpl) is encrypted in place, or else loses its body.  Our own
 * messages carry <encrypted/> already (as do the prpl's resends of what
 * this stage encrypted).
 */
PxmVerdict
pxm_omemo_encrypt_stage(PxmOmemo *state, PxmStanza *st)
{
	g_autofree char *jid = NULL;

	if (g_strcmp0(st->type, "error") == 0 ||
	    !has_element(st->stanza, "body", NULL) ||
	    has_element(st->stanza, "encrypted", PXM_NS_OMEMO) ||
	    has_element(st->stanza, "encrypted", PXM_NS_OMEMO_LEGACY))
		return PXM_VERDICT_CONTINUE;
	jid = pxm_jid_bare_dup(st->to);
	if (jid == NULL || !pxm_omemo_is_encrypted(state, jid))
		return PXM_VERDICT_CONTINUE;
	if (g_strcmp0(st->type, "groupchat") != 0 &&
	    encrypt_in_place(state, st, jid))
		return PXM_VERDICT_CONTINUE;
	purple_debug_warning(ID, "removing the plaintext of a message to an "
				 "encrypted conversation\n");
	remove_children(st->stanza, "body", NULL);
	remove_children(st->stanza, "html", PXM_NS_XHTML_IM);
	pxm_stanza_set(&st->body, NULL);
	notice(state, jid,
	       _("A message was not sent in the clear: this conversation is "
		 "encrypted with OMEMO."));
	return PXM_VERDICT_CONTINUE;
}

static PxmVerdict
encrypt(PxmAccount *account, gpointer data, PxmStanza *st)
{
	return pxm_omemo_encrypt_stage(data, st);
}

/* --- Commands ----------------------------------------------------------------------- */

static void
write_system(PurpleConversation *conv, const char *html)
{
	purple_conversation_write(conv, NULL, html,
				  PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG,
				  time(NULL));
}

char *
pxm_omemo_describe_dup(PxmOmemo *state, const char *jid)
{
	g_autofree char *setting = conversation_setting_dup(state, jid);
	gboolean on = pxm_omemo_is_encrypted(state, jid);

	if (setting != NULL)
		return g_strdup(on ? _("OMEMO encryption is on for this "
				       "conversation.")
				   : _("OMEMO encryption is off for this "
				       "conversation."));
	return g_strdup(on ? _("OMEMO encryption is on for this conversation "
			       "(the default for contacts with OMEMO).")
			   : _("OMEMO encryption is off for this conversation "
			       "(the contact has no OMEMO device, or the "
			       "default is off)."));
}

static void
append_devices(State *state, GString *out, const char *jid)
{
	PxmOmemoStore *store = pxm_omemo_engine_get_store(state->engine);
	guint32 me = pxm_omemo_engine_get_device_id(state->engine);
	gboolean own = pxm_account_is_own_bare_jid(state->account, jid);
	g_autoptr(GArray) v4 = pxm_omemo_store_get_devices(store, jid, 4);
	g_autoptr(GArray) v3 = pxm_omemo_store_get_devices(store, jid, 3);
	static const char *const trust_names[] = { N_("undecided"),
						   N_("trusted"),
						   N_("not trusted"),
						   N_("verified") };

	for (guint pass = 0; pass < 2; pass++) {
		GArray *ids = pass == 0 ? v4 : v3;

		for (guint i = 0; i < ids->len; i++) {
			guint32 device = g_array_index(ids, guint32, i);
			guint version = pass == 0 ? 4 : 3;
			g_autofree char *fp = NULL;

			if ((own && device == me) ||
			    (pass == 1 && contains_id(v4, device)))
				continue;
			fp = pxm_omemo_engine_fingerprint_dup(
				state->engine, version, jid, device);
			g_string_append_printf(
				out, "<br>%s %u (%s): %s — %s", jid, device,
				version == 4 ? "OMEMO 2" : "OMEMO",
				fp != NULL ? fp : _("keys not fetched yet"),
				_(trust_names[pxm_omemo_store_get_trust(
					store, jid, device)]));
		}
	}
}

char *
pxm_omemo_fingerprints_dup(PxmOmemo *state, const char *jid)
{
	GString *out = g_string_new(NULL);
	g_autofree char *fp3 =
		pxm_omemo_engine_own_fingerprint_dup(state->engine, 3);
	g_autofree char *fp4 =
		pxm_omemo_engine_own_fingerprint_dup(state->engine, 4);

	g_string_append_printf(out, _("This device (%u):"),
			       pxm_omemo_engine_get_device_id(state->engine));
	g_string_append_printf(out, "<br>OMEMO: %s<br>OMEMO 2: %s", fp3, fp4);
	if (jid != NULL) {
		g_string_append(out, "<br>");
		g_string_append(out, _("Devices of the contact:"));
		append_devices(state, out, jid);
	}
	g_string_append(out, "<br>");
	g_string_append(out, _("Your other devices:"));
	append_devices(state, out, pxm_account_get_bare_jid(state->account));
	return g_string_free(out, FALSE);
}

/* The device of @jid (or ours) whose fingerprint is @fp, in either
 * form, spaces ignored. */
static gboolean
find_fingerprint(State *state, const char *jid, const char *fp, char **out_jid,
		 guint32 *out_device)
{
	PxmOmemoStore *store = pxm_omemo_engine_get_store(state->engine);
	g_autoptr(GString) want = g_string_new(NULL);
	const char *jids[] = { jid, pxm_account_get_bare_jid(state->account) };

	for (const char *p = fp; *p != '\0'; p++)
		if (!g_ascii_isspace(*p))
			g_string_append_c(want, g_ascii_tolower(*p));
	for (guint j = 0; j < G_N_ELEMENTS(jids); j++) {
		for (guint version = 3; version <= 4; version++) {
			g_autoptr(GArray) ids = pxm_omemo_store_get_devices(
				store, jids[j], version);

			for (guint i = 0; i < ids->len; i++) {
				guint32 device = g_array_index(ids, guint32, i);

				for (guint form = 3; form <= 4; form++) {
					g_autofree char *have =
						pxm_omemo_engine_fingerprint_dup(
							state->engine, form,
							jids[j], device);
					g_autoptr(GString) flat =
						g_string_new(NULL);

					for (const char *p = have;
					     p != NULL && *p != '\0'; p++)
						if (*p != ' ')
							g_string_append_c(flat,
									  *p);
					if (have != NULL &&
					    g_str_equal(flat->str, want->str)) {
						*out_jid = g_strdup(jids[j]);
						*out_device = device;
						return TRUE;
					}
				}
			}
		}
	}
	return FALSE;
}

gboolean
pxm_omemo_set_trust_by_fingerprint(PxmOmemo *state, const char *jid,
				   const char *fp, gboolean trust)
{
	g_autofree char *owner = NULL;
	guint32 device;

	if (!find_fingerprint(state, jid, fp, &owner, &device))
		return FALSE;
	return pxm_omemo_store_set_trust(
		pxm_omemo_engine_get_store(state->engine), owner, device,
		trust ? PXM_OMEMO_TRUST_VERIFIED : PXM_OMEMO_TRUST_UNTRUSTED);
}

static PurpleCmdRet
command(PxmAccount *account, gpointer data, PurpleConversation *conv,
	const char *args, char **error)
{
	State *state = data;
	g_autofree char *jid = pxm_conversation_jid_dup(conv);
	g_auto(GStrv) words = NULL;
	g_autofree char *text = NULL;
	const char *verb;

	if (jid == NULL) {
		*error = g_strdup(_("No contact here."));
		return PURPLE_CMD_RET_FAILED;
	}
	words = g_strsplit_set(args != NULL ? args : "status", " \t", 2);
	verb = words[0] != NULL ? words[0] : "status";
	if (purple_conversation_get_type(conv) == PURPLE_CONV_TYPE_CHAT) {
		PurpleCmdRet ret;

		if (pxm_omemo_rooms_command(state->rooms,
					    pxm_omemo_is_encrypted(state, jid),
					    jid, verb, &ret, &text, error)) {
			g_hash_table_remove(state->announced, jid);
			if (text != NULL)
				write_system(conv, text);
			return ret;
		}
	}
	if (g_str_equal(verb, "on") || g_str_equal(verb, "off")) {
		set_conversation_setting(state, jid, verb);
		g_hash_table_remove(state->announced, jid);
		for (guint version = 3; version <= 4; version++)
			ensure_list(state, jid, version);
		text = pxm_omemo_describe_dup(state, jid);
	} else if (g_str_equal(verb, "status")) {
		text = pxm_omemo_describe_dup(state, jid);
	} else if (g_str_equal(verb, "fingerprints")) {
		text = pxm_omemo_fingerprints_dup(state, jid);
	} else if ((g_str_equal(verb, "trust") ||
		    g_str_equal(verb, "untrust")) &&
		   words[1] != NULL) {
		if (!pxm_omemo_set_trust_by_fingerprint(
			    state, jid, words[1], g_str_equal(verb, "trust"))) {
			*error = g_strdup(_("No device of this contact or of "
					    "yours has that fingerprint. Type "
					    "/omemo fingerprints to see "
					    "them."));
			return PURPLE_CMD_RET_FAILED;
		}
		text = g_strdup(g_str_equal(verb, "trust")
					? _("The device is now verified.")
					: _("The device is now not trusted: "
					    "messages are no longer encrypted "
					    "for it."));
	} else if (pxm_omemo_trust_ui_command(state, verb, words[1], &text,
					      error)) {
		if (*error != NULL)
			return PURPLE_CMD_RET_FAILED;
	} else {
		*error = g_strdup(_("Usage: /omemo [on | off | status | "
				    "fingerprints | trust FINGERPRINT | "
				    "untrust FINGERPRINT]"));
		return PURPLE_CMD_RET_FAILED;
	}
	write_system(conv, text);
	return PURPLE_CMD_RET_OK;
}

static const PxmCommand commands[] = {
	{ "omemo",
	  N_("omemo [on | off | status | fingerprints | trust FINGERPRINT | "
	     "untrust FINGERPRINT]: end-to-end encryption of this "
	     "conversation with OMEMO."),
	  TRUE, TRUE, command },
	{ NULL },
};

/* --- Start and stop ---------------------------------------------------------------- */

static void
on_conversation_created(PurpleConversation *conv, gpointer data)
{
	State *state = data;
	g_autofree char *jid = NULL;

	if (purple_conversation_get_account(conv) !=
		    pxm_account_get_purple(state->account) ||
	    purple_conversation_get_type(conv) != PURPLE_CONV_TYPE_IM)
		return;
	/* Know the contact's devices before the first message is typed. */
	jid = pxm_conversation_jid_dup(conv);
	if (jid != NULL)
		for (guint version = 3; version <= 4; version++)
			ensure_list(state, jid, version);
}

PxmOmemo *
pxm_omemo_new(PxmAccount *account, GError **error)
{
	PxmStore *store = pxm_account_get_store(account);
	State *state;
	PxmOmemoEngine *engine;
	const char *own = pxm_account_get_bare_jid(account);

	if (store == NULL) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_STORE,
				    "the account's store is not open");
		return NULL;
	}
	engine = pxm_omemo_engine_new(store, error);
	if (engine != NULL &&
	    !pxm_omemo_identity_check(
		    account, pxm_omemo_engine_get_device_id(engine), error))
		g_clear_pointer(&engine, pxm_omemo_engine_free);
	if (engine == NULL) {
		/* Never a new identity over a broken one: tell the user. */
		if (pxm_account_get_purple(account) != NULL)
			purple_notify_error(
				NULL, _("OMEMO"),
				_("OMEMO encryption is off for this account"),
				(*error)->message);
		return NULL;
	}
	state = g_rc_box_new0(State);
	state->account = account;
	state->engine = engine;
	state->lists = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					     NULL);
	state->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)job_free);
	state->decisions = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, g_free);
	state->waiters = g_ptr_array_new();
	state->told = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					    NULL);
	state->announced = g_hash_table_new_full(g_str_hash, g_str_equal,
						 g_free, NULL);
	state->rooms = pxm_omemo_rooms_new(state->account, kick_jobs_cb, state);
	for (guint version = 3; version <= 4; version++)
		ensure_list(state, own, version);
	publish_bundles(state);
	outbox_resume(state);
	return state;
}

void
pxm_omemo_free(PxmOmemo *state)
{
	state->stopped = TRUE;
	kick_waiters(state);
	pxm_omemo_trust_ui_stop(state);
	outbox_keep_jobs(state);
	g_clear_pointer(&state->rooms, pxm_omemo_rooms_free);
	state_unref(state);
}

/* Section 5.3.2 keys: the signed pre-key is rotated on a schedule, and
 * an account that stays online still needs the check. */
static gboolean
on_maintain_timer(gpointer data)
{
	maybe_replenish(data);
	return G_SOURCE_CONTINUE;
}

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = pxm_omemo_new(account, error);

	if (state != NULL && pxm_account_get_purple(account) != NULL) {
		purple_signal_connect(purple_conversations_get_handle(),
				      "conversation-created", state,
				      PURPLE_CALLBACK(on_conversation_created),
				      state);
		state->maintain_timer = purple_timeout_add_seconds(
			24 * 60 * 60, on_maintain_timer, state);
	}
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;

	if (pxm_account_get_purple(account) != NULL)
		purple_signals_disconnect_by_handle(data);
	if (state->maintain_timer != 0)
		purple_timeout_remove(state->maintain_timer);
	pxm_omemo_free(data);
}

static void
plugin_unload(PurplePlugin *plugin)
{
	outbox_plugin_unload(plugin);
	pxm_omemo_identity_plugin_unload(plugin);
}

const PxmExtensionClass pxm_xep0384_omemo = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_DECRYPT] = decrypt,
		[PXM_PHASE_HANDLE] = handle,
		[PXM_PHASE_ENCRYPT] = encrypt,
	},
	.commands = commands,
	.send_message = send_message,
	.is_encrypted = is_encrypted,
	.decide_encrypted = when_decided,
	.actions = pxm_omemo_actions,
	.plugin_load = outbox_plugin_load,
	.plugin_unload = plugin_unload,
};

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * OMEMO trust the user can follow (issue 5, item 3).
 */
#include "../../host/extension.h"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "omemo-trust-ui.h"

#define ID "xep0384-omemo"
#define KV_ASKED "asked:"

typedef struct Question Question;
typedef struct Fetch Fetch;

/* What this module keeps per running OMEMO state. */
typedef struct {
	PxmOmemo *state;
	GPtrArray *questions; /* Question*, open requests */
	GPtrArray *fetches;   /* Fetch*, bundle requests in flight */
} TrustUi;

struct Question {
	TrustUi *ui;
	char *jid;
	guint32 device;
	char *fingerprint;
	gpointer handle; /* the UI's request */
};

struct Fetch {
	TrustUi *ui; /* NULL once the state stopped */
	char *conversation;
	char *jid;
	guint32 device;
	guint version;
};

static GHashTable *uis; /* PxmOmemo* -> TrustUi* */

static TrustUi *
ui_get(PxmOmemo *state)
{
	TrustUi *ui;

	if (uis == NULL)
		uis = g_hash_table_new(NULL, NULL);
	ui = g_hash_table_lookup(uis, state);
	if (ui == NULL) {
		ui = g_new0(TrustUi, 1);
		ui->state = state;
		ui->questions = g_ptr_array_new();
		ui->fetches = g_ptr_array_new();
		g_hash_table_insert(uis, state, ui);
	}
	return ui;
}

static void
question_free(Question *q)
{
	g_free(q->jid);
	g_free(q->fingerprint);
	g_free(q);
}

static void
fetch_free(Fetch *f)
{
	if (f->ui != NULL)
		g_ptr_array_remove(f->ui->fetches, f);
	g_free(f->conversation);
	g_free(f->jid);
	g_free(f);
}

void
pxm_omemo_trust_ui_stop(PxmOmemo *state)
{
	TrustUi *ui = uis != NULL ? g_hash_table_lookup(uis, state) : NULL;

	if (ui == NULL)
		return;
	g_hash_table_remove(uis, state);
	if (g_hash_table_size(uis) == 0)
		g_clear_pointer(&uis, g_hash_table_unref);
	for (guint i = 0; i < ui->fetches->len; i++)
		((Fetch *)ui->fetches->pdata[i])->ui = NULL;
	if (pxm_account_get_purple(pxm_omemo_get_account(state)) != NULL)
		purple_request_close_with_handle(state);
	/* Closing calls no button: free the questions here. */
	while (ui->questions->len > 0) {
		Question *q = g_ptr_array_steal_index(ui->questions, 0);

		question_free(q);
	}
	g_ptr_array_unref(ui->questions);
	g_ptr_array_unref(ui->fetches);
	g_free(ui);
}

static PxmOmemoStore *
omemo_store(PxmOmemo *state)
{
	return pxm_omemo_engine_get_store(pxm_omemo_get_engine(state));
}

static gboolean
contains_id(const GArray *ids, guint32 id)
{
	for (guint i = 0; i < ids->len; i++)
		if (g_array_index(ids, guint32, i) == id)
			return TRUE;
	return FALSE;
}

/* OMEMO 2 where the device publishes it, legacy otherwise: the form its
 * owner's client shows. */
static guint
device_version(PxmOmemo *state, const char *jid, guint32 device)
{
	g_autoptr(GArray) v4 = pxm_omemo_store_get_devices(omemo_store(state),
							   jid, 4);

	return contains_id(v4, device) ? 4 : 3;
}

/* --- The question ---------------------------------------------------- */

gboolean
pxm_omemo_trust_ui_answer(PxmOmemo *state, const char *jid, guint32 device,
			  const char *fingerprint, PxmOmemoAnswer answer)
{
	PxmOmemoEngine *engine = pxm_omemo_get_engine(state);
	g_autofree char *known = NULL;

	if (answer == PXM_OMEMO_ANSWER_LATER)
		return TRUE;
	if (answer == PXM_OMEMO_ANSWER_DONT_TRUST)
		return pxm_omemo_store_set_trust(omemo_store(state), jid,
						 device,
						 PXM_OMEMO_TRUST_UNTRUSTED);
	/* Trust what the user saw, not whatever key the device has now. */
	known = pxm_omemo_engine_fingerprint_dup(
		engine, device_version(state, jid, device), jid, device);
	if (known != NULL && fingerprint != NULL &&
	    !g_str_equal(known, fingerprint)) {
		purple_debug_warning(ID,
				     "not trusting device %u of %s: its key "
				     "changed since the question\n",
				     device, jid);
		return FALSE;
	}
	return pxm_omemo_store_set_trust(omemo_store(state), jid, device,
					 PXM_OMEMO_TRUST_TRUSTED);
}

static void
on_answer(Question *q, int action)
{
	TrustUi *ui = q->ui;

	g_ptr_array_remove(ui->questions, q);
	if (!pxm_omemo_trust_ui_answer(ui->state, q->jid, q->device,
				       q->fingerprint, action))
		purple_notify_error(
			NULL, _("OMEMO"), _("The device was not trusted"),
			_("Its key changed since you were asked. Type /omemo "
			  "fingerprints to see it again."));
	question_free(q);
}

static void
ask(TrustUi *ui, const char *conversation, const char *jid, guint32 device,
    const char *fingerprint)
{
	PxmAccount *account = pxm_omemo_get_account(ui->state);
	PurpleAccount *pa = pxm_account_get_purple(account);
	gboolean own = pxm_account_is_own_bare_jid(account, jid);
	g_autofree char *name =
		own ? NULL : pxm_account_contact_name_dup(account, jid);
	g_autofree char *escaped = NULL;
	g_autofree char *line = NULL;
	g_autofree char *primary = NULL;
	g_autofree char *secondary = NULL;
	const char *fp = fingerprint != NULL ? fingerprint
					     : _("(its keys could not be "
						 "fetched)");
	Question *q;

	purple_debug_info(ID, "asking about device %u of %s\n", device, jid);
	if (own)
		primary = g_strdup(_("A new device appeared on your account"));
	else
		primary = g_strdup_printf(_("%s has a new device"), name);
	secondary = g_strdup_printf(
		_("Device %u of %s is not trusted, because you verified "
		  "another device of %s. Messages are not encrypted for it "
		  "until you trust it.\n\nFingerprint: %s\n\nTrust it only "
		  "if this fingerprint is the one the device shows."),
		device, jid, own ? _("your account") : jid, fp);
	escaped = g_markup_escape_text(secondary, -1);
	line = g_strdup_printf("<b>%s</b><br>%s", primary, escaped);
	pxm_presenter_notice(account, conversation, FALSE, line);
	q = g_new0(Question, 1);
	q->ui = ui;
	q->jid = g_strdup(jid);
	q->device = device;
	q->fingerprint = g_strdup(fingerprint);
	g_ptr_array_add(ui->questions, q);
	if (pa == NULL)
		return; /* no libpurple (unit tests): the line only */
	/* The order is PxmOmemoAnswer's. */
	q->handle = purple_request_action(
		ui->state, _("OMEMO"), primary, secondary, 2, pa, jid, NULL, q,
		3, _("_Trust"), G_CALLBACK(on_answer), _("_Don't trust"),
		G_CALLBACK(on_answer), _("Decide _later"),
		G_CALLBACK(on_answer));
}

static void
on_bundle(PxmAccount *account, xmlnode *result, const GError *error,
	  gpointer data)
{
	Fetch *f = data;
	g_autofree char *node = NULL;
	g_autoptr(GError) local = NULL;
	g_autoptr(PxmOmemoBundle) bundle = NULL;
	g_autofree char *fp = NULL;
	xmlnode *pubsub;

	if (f->ui == NULL)
		return;
	node = pxm_omemo_bundle_node_dup(f->version, f->device);
	pubsub = pxm_xml_child(result, "pubsub", PXM_NS_PUBSUB);
	if (error == NULL)
		bundle = pxm_omemo_bundle_parse(
			f->version,
			pxm_omemo_items_first(
				pxm_xml_child(pubsub, "items", NULL), node),
			&local);
	if (bundle != NULL) {
		gsize len;
		const guint8 *ik = g_bytes_get_data(bundle->ik, &len);

		/* XEP-0384 section 7.1: legacy clients show the Curve25519
		 * key (the wire form without its 0x05 prefix), OMEMO 2 ones
		 * the Ed25519 key (the wire form). */
		if (f->version == 3 && len == 33 && ik[0] == 0x05)
			fp = pxm_omemo_fingerprint_dup(ik + 1, 32);
		else if (f->version == 4 && len == 32)
			fp = pxm_omemo_fingerprint_dup(ik, 32);
	}
	if (fp == NULL)
		purple_debug_warning(ID,
				     "no usable bundle for device %u of "
				     "%s\n",
				     f->device, f->jid);
	ask(f->ui, f->conversation, f->jid, f->device, fp);
}

gboolean
pxm_omemo_trust_ui_untrusted(PxmOmemo *state, const char *conversation,
			     const char *jid, guint32 device)
{
	PxmAccount *account = pxm_omemo_get_account(state);
	PxmStore *store = pxm_account_get_store(account);
	TrustUi *ui = ui_get(state);
	g_autofree char *key = g_strdup_printf(KV_ASKED "%s/%u", jid, device);
	g_autofree char *asked = NULL;
	g_autofree char *fp = NULL;
	guint version = device_version(state, jid, device);
	g_autofree char *node = NULL;
	g_autofree char *item = NULL;
	Fetch *f;

	/* Issue 5: the user is told once per device, across sessions. */
	if (store == NULL ||
	    (pxm_store_kv_get_string_dup(store, ID, key, &asked, NULL) &&
	     asked != NULL))
		return FALSE;
	pxm_store_kv_set_string(store, ID, key, "1", NULL);
	fp = pxm_omemo_engine_fingerprint_dup(pxm_omemo_get_engine(state),
					      version, jid, device);
	if (fp != NULL) {
		ask(ui, conversation, jid, device, fp);
		return TRUE;
	}
	/* Not encrypted for, so no session yet: its key is in its bundle. */
	f = g_new0(Fetch, 1);
	f->ui = ui;
	f->conversation = g_strdup(conversation);
	f->jid = g_strdup(jid);
	f->device = device;
	f->version = version;
	g_ptr_array_add(ui->fetches, f);
	node = pxm_omemo_bundle_node_dup(version, device);
	item = g_strdup_printf("%u", device);
	pxm_account_send_iq(
		account,
		pxm_omemo_items_iq(
			pxm_account_is_own_bare_jid(account, jid) ? NULL : jid,
			node, version == 4 ? item : NULL),
		0, on_bundle, f, (GDestroyNotify)fetch_free);
	return TRUE;
}

char *
pxm_omemo_trust_ui_asked_dup(PxmOmemo *state, const char *jid, guint32 device)
{
	TrustUi *ui = uis != NULL ? g_hash_table_lookup(uis, state) : NULL;

	for (guint i = 0; ui != NULL && i < ui->questions->len; i++) {
		Question *q = ui->questions->pdata[i];

		if (q->device == device && g_str_equal(q->jid, jid))
			return g_strdup(q->fingerprint != NULL ? q->fingerprint
							       : "");
	}
	return NULL;
}

/* --- Our own devices ---------------------------------------------------- */

char *
pxm_omemo_own_fingerprints_dup(PxmOmemo *state)
{
	PxmOmemoEngine *engine = pxm_omemo_get_engine(state);
	g_autofree char *fp3 = pxm_omemo_engine_own_fingerprint_dup(engine, 3);
	g_autofree char *fp4 = pxm_omemo_engine_own_fingerprint_dup(engine, 4);

	return g_strdup_printf("%s<br>OMEMO 2: %s<br>OMEMO: %s",
			       _("This device:"), fp4 != NULL ? fp4 : "—",
			       fp3 != NULL ? fp3 : "—");
}

char *
pxm_omemo_own_devices_dup(PxmOmemo *state)
{
	PxmAccount *account = pxm_omemo_get_account(state);
	PxmOmemoEngine *engine = pxm_omemo_get_engine(state);
	const char *own = pxm_account_get_bare_jid(account);
	guint32 me = pxm_omemo_engine_get_device_id(engine);
	g_autoptr(GArray) v4 = pxm_omemo_store_get_devices(omemo_store(state),
							   own, 4);
	g_autoptr(GArray) v3 = pxm_omemo_store_get_devices(omemo_store(state),
							   own, 3);
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(guint32));
	GString *out = g_string_new(_("Your OMEMO devices:"));

	g_array_append_vals(all, v4->data, v4->len);
	for (guint i = 0; i < v3->len; i++)
		if (!contains_id(v4, g_array_index(v3, guint32, i)))
			g_array_append_val(all, g_array_index(v3, guint32, i));
	if (!contains_id(all, me))
		g_array_prepend_val(all, me);
	for (guint i = 0; i < all->len; i++) {
		guint32 device = g_array_index(all, guint32, i);
		guint version = contains_id(v4, device) ? 4 : 3;
		g_autofree char *fp =
			device == me ? pxm_omemo_engine_own_fingerprint_dup(
					       engine, version)
				     : pxm_omemo_engine_fingerprint_dup(
					       engine, version, own, device);
		const char *lists = contains_id(v4, device) &&
						    contains_id(v3, device)
					    ? "OMEMO 2, OMEMO"
				    : contains_id(v4, device) ? "OMEMO 2"
				    : contains_id(v3, device) ? "OMEMO"
							      : "—";

		g_string_append_printf(out, "<br>%u (%s): %s%s", device, lists,
				       fp != NULL ? fp
						  : _("keys not fetched yet"),
				       device == me ? _(" — this device") : "");
	}
	g_string_append(out, "<br>");
	g_string_append(out, _("Type /omemo remove-device ID to remove a "
			       "device you no longer use."));
	return g_string_free(out, FALSE);
}

static void
on_list_published(PxmAccount *account, xmlnode *result, const GError *error,
		  gpointer data)
{
	if (error != NULL)
		purple_debug_warning(ID,
				     "could not publish a device list: %s\n",
				     error->message);
}

gboolean
pxm_omemo_remove_own_device(PxmOmemo *state, guint32 device, GError **error)
{
	PxmAccount *account = pxm_omemo_get_account(state);
	const char *own = pxm_account_get_bare_jid(account);
	gboolean found = FALSE;

	if (device ==
	    pxm_omemo_engine_get_device_id(pxm_omemo_get_engine(state))) {
		g_set_error_literal(error, PXM_OMEMO_ERROR,
				    PXM_OMEMO_ERROR_MALFORMED,
				    _("This is the device you are using."));
		return FALSE;
	}
	for (guint version = 3; version <= 4; version++) {
		g_autoptr(GArray) ids = pxm_omemo_store_get_devices(
			omemo_store(state), own, version);
		guint32 me = pxm_omemo_engine_get_device_id(
			pxm_omemo_get_engine(state));
		gboolean has_me = FALSE;

		/* The list we publish always holds this device (the stored
		 * copy may predate its announcement), and so is never empty
		 * (OMEMO 2 requires one device at least). */
		for (guint i = 0; i < ids->len; i++)
			has_me = has_me || g_array_index(ids, guint32, i) == me;
		if (!has_me)
			g_array_append_val(ids, me);
		for (guint i = 0; i < ids->len; i++) {
			if (g_array_index(ids, guint32, i) != device)
				continue;
			g_array_remove_index(ids, i);
			found = TRUE;
			pxm_omemo_store_set_devices(omemo_store(state), own,
						    version, ids);
			pxm_account_send_iq(
				account,
				pxm_omemo_publish_iq(
					pxm_omemo_devicelist_node(version),
					"current",
					pxm_omemo_devicelist_build(version,
								   ids),
					NULL),
				0, on_list_published, NULL, NULL);
			break;
		}
	}
	if (!found)
		g_set_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_MALFORMED,
			    _("No device %u is in your device lists."), device);
	return found;
}

gboolean
pxm_omemo_trust_ui_command(PxmOmemo *state, const char *verb, const char *arg,
			   char **text, char **error)
{
	g_autoptr(GError) local = NULL;
	guint32 device;

	if (g_str_equal(verb, "devices")) {
		*text = pxm_omemo_own_devices_dup(state);
		return TRUE;
	}
	if (!g_str_equal(verb, "remove-device"))
		return FALSE;
	if (arg == NULL ||
	    !pxm_omemo_parse_id(g_strstrip((char *)arg), &device)) {
		*error = g_strdup(_("Usage: /omemo remove-device ID (type "
				    "/omemo devices to see them)"));
		return TRUE;
	}
	if (!pxm_omemo_remove_own_device(state, device, &local))
		*error = g_strdup(local->message);
	else
		*text = g_strdup_printf(_("Device %u was removed from your "
					  "device lists."),
					device);
	return TRUE;
}

/* --- Plugin actions ---------------------------------------------------- */

static void
action_fingerprints(PxmAccount *account, gpointer state)
{
	g_autofree char *html = pxm_omemo_own_fingerprints_dup(state);
	g_autofree char *primary = g_strdup_printf(
		_("Your OMEMO fingerprints (%s, device %u)"),
		pxm_account_get_bare_jid(account),
		pxm_omemo_engine_get_device_id(pxm_omemo_get_engine(state)));

	purple_notify_formatted(NULL, _("OMEMO"), primary,
				_("Compare them with what your contacts' "
				  "clients show to verify this device."),
				html, NULL, NULL);
}

static void
on_devices_chosen(TrustUi *ui, PurpleRequestFields *fields)
{
	g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint32));
	GString *done = g_string_new(NULL);
	g_autofree char *text = NULL;

	for (GList *g = purple_request_fields_get_groups(fields); g != NULL;
	     g = g->next)
		for (GList *l = purple_request_field_group_get_fields(g->data);
		     l != NULL; l = l->next) {
			guint32 device;

			if (purple_request_field_bool_get_value(l->data) &&
			    pxm_omemo_parse_id(
				    purple_request_field_get_id(l->data),
				    &device))
				g_array_append_val(ids, device);
		}
	for (guint i = 0; i < ids->len; i++) {
		g_autoptr(GError) error = NULL;
		guint32 device = g_array_index(ids, guint32, i);

		if (pxm_omemo_remove_own_device(ui->state, device, &error))
			g_string_append_printf(done, " %u", device);
	}
	if (done->len == 0) {
		g_string_free(done, TRUE);
		return;
	}
	text = g_string_free(done, FALSE);
	purple_notify_info(NULL, _("OMEMO"),
			   _("Removed from your device lists:"), text);
}

static void
action_devices(PxmAccount *account, gpointer state)
{
	TrustUi *ui = ui_get(state);
	PxmOmemoEngine *engine = pxm_omemo_get_engine(state);
	const char *own = pxm_account_get_bare_jid(account);
	guint32 me = pxm_omemo_engine_get_device_id(engine);
	g_autoptr(GArray) v4 = pxm_omemo_store_get_devices(omemo_store(state),
							   own, 4);
	g_autoptr(GArray) v3 = pxm_omemo_store_get_devices(omemo_store(state),
							   own, 3);
	PurpleRequestFields *fields = purple_request_fields_new();
	PurpleRequestFieldGroup *group = purple_request_field_group_new(
		_("Remove these devices from your device lists:"));
	g_autofree char *secondary = NULL;
	guint n = 0;

	purple_request_fields_add_group(fields, group);
	for (guint pass = 0; pass < 2; pass++) {
		GArray *ids = pass == 0 ? v4 : v3;

		for (guint i = 0; i < ids->len; i++) {
			guint32 device = g_array_index(ids, guint32, i);
			g_autofree char *id = g_strdup_printf("%u", device);
			g_autofree char *fp = NULL;
			g_autofree char *label = NULL;

			if (device == me ||
			    (pass == 1 && contains_id(v4, device)))
				continue;
			fp = pxm_omemo_engine_fingerprint_dup(
				engine, pass == 0 ? 4 : 3, own, device);
			label = g_strdup_printf(
				"%u: %s", device,
				fp != NULL ? fp : _("keys not fetched yet"));
			purple_request_field_group_add_field(
				group, purple_request_field_bool_new(id, label,
								     FALSE));
			n++;
		}
	}
	secondary = g_strdup_printf(
		_("This device is %u. %s"), me,
		n == 0 ? _("You have no other OMEMO device.")
		       : _("Check the devices you no longer use: your "
			   "contacts stop encrypting for them."));
	purple_request_fields(state, _("OMEMO"), _("Your OMEMO devices"),
			      secondary, fields, _("_Remove"),
			      G_CALLBACK(on_devices_chosen), _("_Cancel"), NULL,
			      pxm_account_get_purple(account), NULL, NULL, ui);
}

const PxmAction pxm_omemo_actions[] = {
	{ N_("Show my OMEMO fingerprints"), action_fingerprints },
	{ N_("Manage my OMEMO devices"), action_devices },
	{ NULL },
};

// SPDX-License-Identifier: GPL-3.0-or-later
#include "omemo-identity.h"

#include <glib/gi18n-lib.h>

#include "omemo-crypto.h"

/* The handle of the questions, closed when the plugin unloads (their
 * callbacks live in it). */
static int request_handle;
/* PurpleAccount -> its open question: one at a time per account. */
static GHashTable *open_questions;

typedef struct {
	PurpleAccount *account;
	guint32 device;
} Question;

static void
forget_question(Question *q)
{
	if (open_questions != NULL)
		g_hash_table_remove(open_questions, q->account);
}

static void
use_new_device(Question *q, int choice)
{
	forget_question(q);
	/* The account may have been deleted while the question was open. */
	if (g_list_find(purple_accounts_get_all(), q->account) != NULL) {
		purple_account_set_int(q->account, PXM_OMEMO_SETTING_DEVICE,
				       (int)q->device);
		purple_debug_info("xep0384-omemo",
				  "the user accepted OMEMO device %u\n",
				  q->device);
		pxm_extensions_retry(q->account);
	}
	g_free(q);
}

static void
keep_off(Question *q, int choice)
{
	forget_question(q);
	g_free(q);
}

gboolean
pxm_omemo_identity_check(PxmAccount *account, guint32 device, GError **error)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	guint32 remembered;
	g_autofree char *primary = NULL;
	g_autofree char *secondary = NULL;
	Question *q;
	gpointer handle;

	if (pa == NULL)
		return TRUE;
	remembered = (guint32)purple_account_get_int(
		pa, PXM_OMEMO_SETTING_DEVICE, 0);
	if (remembered == 0) {
		purple_account_set_int(pa, PXM_OMEMO_SETTING_DEVICE,
				       (int)device);
		return TRUE;
	}
	if (remembered == device)
		return TRUE;
	g_set_error(error, PXM_OMEMO_ERROR, PXM_OMEMO_ERROR_STORE,
		    "the store holds device %u, the account was device %u",
		    device, remembered);
	q = g_new0(Question, 1);
	q->account = pa;
	q->device = device;
	/* TRANSLATORS: %s is the account (user@example.org). */
	primary = g_strdup_printf(_("The OMEMO keys of %s are missing"),
				  purple_account_get_username(pa));
	secondary = g_strdup_printf(
		/* TRANSLATORS: %u are OMEMO device numbers. */
		_("This account was OMEMO device %u, but its keys are not in "
		  "its store any more (the file was deleted, or restored from "
		  "another copy). OMEMO stays off, and one-to-one messages are "
		  "not sent, until you decide.\n\n"
		  "Restore the file from a backup to keep device %u, or start "
		  "as a new device %u: your contacts will see a new device, "
		  "and messages encrypted for the old one cannot be read "
		  "here (then remove device %u with Tools → Modern XMPP → "
		  "Manage my OMEMO devices). To send without OMEMO instead, "
		  "type /xmpp-modern disable xep0384-omemo in a conversation."),
		remembered, remembered, device, remembered);
	if (open_questions == NULL)
		open_questions = g_hash_table_new(NULL, NULL);
	if (g_hash_table_contains(open_questions, pa)) {
		g_free(q);
		return FALSE;
	}
	handle = purple_request_action(
		&request_handle, _("OMEMO"), primary, secondary, 1, pa, NULL,
		NULL, q, 2, _("Start as a _new device"),
		G_CALLBACK(use_new_device), _("_Decide later"),
		G_CALLBACK(keep_off));
	if (handle != NULL)
		g_hash_table_insert(open_questions, pa, handle);
	return FALSE;
}

void
pxm_omemo_identity_plugin_unload(PurplePlugin *plugin)
{
	purple_request_close_with_handle(&request_handle);
	g_clear_pointer(&open_questions, g_hash_table_unref);
}

// SPDX-License-Identifier: GPL-3.0-or-later
#include "ui.h"

#include <glib/gi18n-lib.h>

#include "glue.h"
#include "host.h"

#define COMMAND "xmpp-modern"

static PurpleCmdId command_id;

/* The extensions' own commands. */
typedef struct {
	guint index; /* of the extension */
	const PxmCommand *command;
	PurpleCmdId id;
} ExtensionCommand;

static GPtrArray *extension_commands;

gboolean
pxm_ui_set_extension(PurpleAccount *account, const char *id, gboolean enabled)
{
	PxmRegistry *registry = pxm_host_get_registry();
	g_autofree char *key = NULL;

	if (registry == NULL || pxm_registry_lookup(registry, id) == NULL)
		return FALSE;
	key = pxm_host_setting_key_dup(id);
	purple_account_set_bool(account, key, enabled);
	if (pxm_host_refresh(account))
		pxm_glue_features_changed();
	return TRUE;
}

static char *
describe(PurpleAccount *account)
{
	PxmRegistry *registry = pxm_host_get_registry();
	PxmAccount *state =
		pxm_host_lookup(purple_account_get_connection(account));
	GString *out = g_string_new(_("Extensions of this account:"));

	for (guint i = 0; i < pxm_registry_get_n(registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(registry, i);
		gboolean wanted = pxm_host_extension_wanted(account, ext);
		gboolean active = state != NULL &&
				  pxm_account_is_active(state, i);
		g_autofree char *name = g_markup_escape_text(
			g_dgettext(GETTEXT_PACKAGE, ext->manifest->name), -1);
		const char *status;

		/* TRANSLATORS: the state of an extension (feminine in
		 * French: "une extension"). */
		if (active)
			status = _("on");
		else if (wanted)
			status = _("on, not running");
		else
			status = _("off");
		g_string_append_printf(out, "<br>%s — <b>%s</b> (%s)", name,
				       ext->manifest->id, status);
	}
	return g_string_free(out, FALSE);
}

static PurpleCmdRet
on_command(PurpleConversation *conv, const char *cmd, char **args, char **error,
	   gpointer data)
{
	PurpleAccount *account = purple_conversation_get_account(conv);
	g_autofree char *text = NULL;
	g_auto(GStrv) words = NULL;

	if (args[0] != NULL)
		words = g_strsplit_set(g_strstrip(args[0]), " \t", 3);
	if (words == NULL || words[0] == NULL || *words[0] == '\0' ||
	    g_str_equal(words[0], "list")) {
		text = describe(account);
	} else if ((g_str_equal(words[0], "enable") ||
		    g_str_equal(words[0], "disable")) &&
		   words[1] != NULL) {
		gboolean on = g_str_equal(words[0], "enable");

		if (!pxm_ui_set_extension(account, words[1], on)) {
			*error = g_strdup_printf(_("No extension is called "
						   "'%s'. Type /%s to list "
						   "them."),
						 words[1], COMMAND);
			return PURPLE_CMD_RET_FAILED;
		}
		text = describe(account);
	} else {
		*error = g_strdup_printf(_("Usage: /%s [list | enable ID | "
					   "disable ID]"),
					 COMMAND);
		return PURPLE_CMD_RET_FAILED;
	}
	purple_conversation_write(conv, NULL, text,
				  PURPLE_MESSAGE_SYSTEM | PURPLE_MESSAGE_NO_LOG,
				  time(NULL));
	return PURPLE_CMD_RET_OK;
}

static PurpleCmdRet
on_extension_command(PurpleConversation *conv, const char *cmd, char **args,
		     char **error, gpointer data)
{
	ExtensionCommand *ec = data;
	PxmRegistry *registry = pxm_host_get_registry();
	PxmAccount *account = pxm_host_lookup(purple_conversation_get_gc(conv));
	const PxmExtension *ext;
	g_autofree char *text = NULL;

	if (registry == NULL || account == NULL) {
		*error = g_strdup(_("This account is not connected."));
		return PURPLE_CMD_RET_FAILED;
	}
	ext = pxm_registry_peek(registry, ec->index);
	if (!pxm_account_is_active(account, ec->index)) {
		*error = g_strdup_printf(
			_("%s is off for this account. Type /%s enable %s to "
			  "turn it on."),
			g_dgettext(GETTEXT_PACKAGE, ext->manifest->name),
			COMMAND, ext->manifest->id);
		return PURPLE_CMD_RET_FAILED;
	}
	text = args[0] != NULL ? g_strstrip(g_strdup(args[0])) : NULL;
	return ec->command->func(account, account->states[ec->index], conv,
				 text != NULL && *text != '\0' ? text : NULL,
				 error);
}

static void
register_extension_commands(void)
{
	PxmRegistry *registry = pxm_host_get_registry();

	extension_commands = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < pxm_registry_get_n(registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(registry, i);

		for (const PxmCommand *c = ext->klass->commands;
		     c != NULL && c->name != NULL; c++) {
			ExtensionCommand *ec = g_new0(ExtensionCommand, 1);
			PurpleCmdFlag flags = PURPLE_CMD_FLAG_PRPL_ONLY |
					      PURPLE_CMD_FLAG_ALLOW_WRONG_ARGS;

			if (c->im)
				flags |= PURPLE_CMD_FLAG_IM;
			if (c->chat)
				flags |= PURPLE_CMD_FLAG_CHAT;
			ec->index = i;
			ec->command = c;
			ec->id = purple_cmd_register(
				c->name, "s", PURPLE_CMD_P_PLUGIN, flags,
				"prpl-jabber", on_extension_command,
				g_dgettext(GETTEXT_PACKAGE, c->help), ec);
			g_ptr_array_add(extension_commands, ec);
		}
	}
}

static void
unregister_extension_commands(void)
{
	for (guint i = 0;
	     extension_commands != NULL && i < extension_commands->len; i++)
		purple_cmd_unregister(
			((ExtensionCommand *)extension_commands->pdata[i])->id);
	g_clear_pointer(&extension_commands, g_ptr_array_unref);
}

void
pxm_ui_register(PurplePlugin *plugin)
{
	register_extension_commands();
	command_id = purple_cmd_register(
		COMMAND, "s", PURPLE_CMD_P_PLUGIN,
		PURPLE_CMD_FLAG_IM | PURPLE_CMD_FLAG_CHAT |
			PURPLE_CMD_FLAG_PRPL_ONLY |
			PURPLE_CMD_FLAG_ALLOW_WRONG_ARGS,
		"prpl-jabber", on_command,
		_("xmpp-modern [list | enable ID | disable ID]: lists the "
		  "modern XMPP extensions of this account, or turns one on or "
		  "off."),
		NULL);
}

void
pxm_ui_unregister(PurplePlugin *plugin)
{
	if (command_id != 0)
		purple_cmd_unregister(command_id);
	command_id = 0;
	unregister_extension_commands();
}

/* --- "Extensions…" plugin action -------------------------------------- */

static void
on_extensions_saved(PurpleAccount *account, PurpleRequestFields *fields)
{
	PxmRegistry *registry = pxm_host_get_registry();

	if (registry == NULL)
		return;
	for (guint i = 0; i < pxm_registry_get_n(registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(registry, i);
		g_autofree char *key =
			pxm_host_setting_key_dup(ext->manifest->id);

		purple_account_set_bool(account, key,
					purple_request_fields_get_bool(
						fields, ext->manifest->id));
	}
	if (pxm_host_refresh(account))
		pxm_glue_features_changed();
}

static void
show_extensions(PurpleAccount *account)
{
	PxmRegistry *registry = pxm_host_get_registry();
	PurpleRequestFields *fields = purple_request_fields_new();
	PurpleRequestFieldGroup *group = purple_request_field_group_new(NULL);

	purple_request_fields_add_group(fields, group);
	for (guint i = 0; i < pxm_registry_get_n(registry); i++) {
		const PxmExtension *ext = pxm_registry_peek(registry, i);
		g_autofree char *key =
			pxm_host_setting_key_dup(ext->manifest->id);
		PurpleRequestField *field = purple_request_field_bool_new(
			ext->manifest->id,
			g_dgettext(GETTEXT_PACKAGE, ext->manifest->name),
			purple_account_get_bool(
				account, key,
				ext->manifest->enabled_by_default));

		purple_request_field_group_add_field(group, field);
	}
	purple_request_fields(NULL, _("Modern XMPP extensions"),
			      purple_account_get_username(account),
			      _("Turn features on or off for this account. "
				"Changes apply at once."),
			      fields, _("_Save"),
			      G_CALLBACK(on_extensions_saved), _("_Cancel"),
			      NULL, account, NULL, NULL, account);
}

static gboolean
is_xmpp_account(PurpleAccount *account)
{
	return pxm_glue_is_xmpp(account);
}

static void
on_account_chosen(gpointer data, PurpleRequestFields *fields)
{
	PurpleAccount *account = purple_request_fields_get_account(fields,
								   "account");

	if (account != NULL)
		show_extensions(account);
}

static void
on_action_extensions(PurplePluginAction *action)
{
	PurpleRequestFields *fields = purple_request_fields_new();
	PurpleRequestFieldGroup *group = purple_request_field_group_new(NULL);
	PurpleRequestField *field;

	purple_request_fields_add_group(fields, group);
	field = purple_request_field_account_new("account", _("Account"), NULL);
	purple_request_field_account_set_show_all(field, TRUE);
	purple_request_field_account_set_filter(field, is_xmpp_account);
	purple_request_field_set_required(field, TRUE);
	purple_request_field_group_add_field(group, field);
	purple_request_fields(action->plugin, _("Modern XMPP extensions"),
			      _("Which account?"), NULL, fields, _("_Next"),
			      G_CALLBACK(on_account_chosen), _("_Cancel"), NULL,
			      NULL, NULL, NULL, NULL);
}

/* --- Extensions' plugin actions ------------------------------------------ */

/* user_data of an action: extension index << 16 | action index. */
void
pxm_ui_run_action(guint index, guint action)
{
	PxmRegistry *registry = pxm_host_get_registry();
	const PxmExtension *ext;
	guint n = 0;

	if (registry == NULL || index >= pxm_registry_get_n(registry))
		return;
	ext = pxm_registry_peek(registry, index);
	for (GList *l = purple_connections_get_all(); l != NULL; l = l->next) {
		PxmAccount *account = pxm_host_lookup(l->data);

		if (account == NULL || !pxm_account_is_active(account, index))
			continue;
		ext->klass->actions[action].func(account,
						 account->states[index]);
		n++;
	}
	if (n == 0)
		purple_notify_info(
			NULL, _("Modern XMPP extensions"),
			g_dgettext(GETTEXT_PACKAGE,
				   ext->klass->actions[action].label),
			_("No connected account uses this extension."));
}

static void
on_extension_action(PurplePluginAction *action)
{
	guint code = GPOINTER_TO_UINT(action->user_data);

	pxm_ui_run_action(code >> 16, code & 0xffff);
}

GList *
pxm_ui_actions(PurplePlugin *plugin, gpointer context)
{
	PxmRegistry *registry = pxm_host_get_registry();
	GList *actions = g_list_append(
		NULL, purple_plugin_action_new(_("Extensions…"),
					       on_action_extensions));

	for (guint i = 0; registry != NULL && i < pxm_registry_get_n(registry);
	     i++) {
		const PxmExtension *ext = pxm_registry_peek(registry, i);

		for (guint j = 0; ext->klass->actions != NULL &&
				  ext->klass->actions[j].label != NULL;
		     j++) {
			PurplePluginAction *a = purple_plugin_action_new(
				g_dgettext(GETTEXT_PACKAGE,
					   ext->klass->actions[j].label),
				on_extension_action);

			a->user_data = GUINT_TO_POINTER(i << 16 | j);
			actions = g_list_append(actions, a);
		}
	}
	return actions;
}

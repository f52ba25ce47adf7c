// SPDX-License-Identifier: GPL-3.0-or-later
/* The host's own user interface: turning extensions on and off per account
 * (a conversation command and a plugin action), with libpurple-level UI
 * only so Pidgin and Finch both get it. */
#pragma once

#include <purple.h>

G_BEGIN_DECLS

void pxm_ui_register(PurplePlugin *plugin);
void pxm_ui_unregister(PurplePlugin *plugin);

/** pxm_ui_actions: the plugin's actions (for PurplePluginInfo). */
GList *pxm_ui_actions(PurplePlugin *plugin, gpointer context);
/** pxm_ui_run_action: runs action @action of extension @index (for every
 * connected account where it is on). */
void pxm_ui_run_action(guint index, guint action);

/**
 * pxm_ui_set_extension:
 * Turns extension @id on or off for @account (its account setting) and
 * applies it at once if the account is online.
 * Returns: FALSE if there is no such extension.
 */
gboolean pxm_ui_set_extension(PurpleAccount *account, const char *id,
			      gboolean enabled);

G_END_DECLS

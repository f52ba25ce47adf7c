// SPDX-License-Identifier: GPL-3.0-or-later
/* libpurple entry point of purple-xmpp-modern. */
#include <glib/gi18n-lib.h>
#include <purple.h>

#include "host/glue.h"
#include "host/host.h"
#include "host/ui.h"

#define PLUGIN_ID "core-xmpp-modern"

static gboolean
plugin_load(PurplePlugin *plugin)
{
	g_autoptr(GError) error = NULL;

	if (!pxm_host_init(&error)) {
		purple_debug_error(PLUGIN_ID, "not loaded: %s\n",
				   error->message);
		g_free(plugin->error);
		plugin->error = g_strdup(error->message);
		return FALSE;
	}
	pxm_host_plugin_load(plugin);
	if (!pxm_glue_attach(plugin, &error)) {
		purple_debug_error(PLUGIN_ID, "not loaded: %s\n",
				   error->message);
		g_free(plugin->error);
		plugin->error = g_strdup(error->message);
		pxm_host_plugin_unload(plugin);
		pxm_host_shutdown();
		return FALSE;
	}
	pxm_ui_register(plugin);
	return TRUE;
}

static gboolean
plugin_unload(PurplePlugin *plugin)
{
	pxm_ui_unregister(plugin);
	pxm_glue_detach(plugin);
	pxm_host_plugin_unload(plugin);
	pxm_host_shutdown();
	return TRUE;
}

static PurplePluginInfo info = {
	.magic = PURPLE_PLUGIN_MAGIC,
	.major_version = PURPLE_MAJOR_VERSION,
	.minor_version = PURPLE_MINOR_VERSION,
	.type = PURPLE_PLUGIN_STANDARD,
	.priority = PURPLE_PRIORITY_DEFAULT,
	.id = PLUGIN_ID,
	.version = PXM_VERSION,
	.author = "purple-xmpp-modern developers",
	.homepage = "https://github.com/purple-xmpp-modern/purple-xmpp-modern",
	.load = plugin_load,
	.unload = plugin_unload,
	.actions = pxm_ui_actions,
};

static void
init_plugin(PurplePlugin *plugin)
{
	/* PXM_LOCALEDIR in the environment: translations of an uninstalled
	 * build (build/po), for developers and the tests. */
	const char *localedir = g_getenv("PXM_LOCALEDIR");

	bindtextdomain(GETTEXT_PACKAGE, localedir != NULL && *localedir != '\0'
						? localedir
						: PXM_LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");

	if (info.dependencies == NULL)
		info.dependencies = g_list_append(NULL, "prpl-jabber");
	info.name = _("Modern XMPP");
	info.summary = _("Brings XMPP accounts up to date: messages from your "
			 "other devices, server history, encryption, file "
			 "sharing.");
	info.description = _("Extends libpurple's XMPP protocol with what "
			     "modern clients such as Conversations, Dino and "
			     "Gajim speak. Each feature is an extension that "
			     "can be turned off per account.");
}

PURPLE_INIT_PLUGIN(xmpp_modern, init_plugin, info)

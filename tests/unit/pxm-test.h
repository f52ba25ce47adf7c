// SPDX-License-Identifier: GPL-3.0-or-later
/* What every unit test does first. */
#pragma once

#include <glib.h>
#include <purple.h>

/* From libpurple's dbus-server.h, which needs the D-Bus headers. */
void purple_dbus_init_ids(void);

/* GTest's set-up plus the libpurple state plain xmlnode use needs: the
 * D-Bus pointer maps that xmlnode_new() registers nodes in (no bus is
 * contacted). */
static inline void
pxm_test_init(int *argc, char ***argv)
{
	g_test_init(argc, argv, NULL);
	purple_dbus_init_ids();
}

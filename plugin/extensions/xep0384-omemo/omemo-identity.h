// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The account remembers which OMEMO device it is, outside the store: a
 * store that was lost (deleted, restored from an old backup, another
 * profile's) would otherwise give the account a new identity without the
 * user knowing, and their contacts would see a new device appear.
 */
#pragma once

#include "../../host/extension.h"

G_BEGIN_DECLS

/** The account setting that holds our device id (an int). */
#define PXM_OMEMO_SETTING_DEVICE "xmpp-modern-omemo-device"

/**
 * pxm_omemo_identity_check:
 * @device: the device id the store holds
 *
 * Compares @device with the one the account remembers (and remembers it
 * the first time).  When they differ, asks the user (once per sign-in)
 * whether to keep OMEMO off or to start with the store's device, and fails.
 * Without a libpurple account (unit tests) there is nothing to compare.
 *
 * Returns: TRUE if OMEMO may start with @device.
 */
gboolean pxm_omemo_identity_check(PxmAccount *account, guint32 device,
				  GError **error);

/** pxm_omemo_identity_plugin_unload: closes the open questions. */
void pxm_omemo_identity_plugin_unload(PurplePlugin *plugin);

G_END_DECLS

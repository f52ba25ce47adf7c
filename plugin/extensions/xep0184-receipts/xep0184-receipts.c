// SPDX-License-Identifier: GPL-3.0-or-later
/* Delivery receipts (XEP-0184): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0184-receipts"

const PxmExtensionClass pxm_xep0184_receipts = {
	.id = ID,
};

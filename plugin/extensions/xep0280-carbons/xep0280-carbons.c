// SPDX-License-Identifier: GPL-3.0-or-later
/* Messages from your other devices (XEP-0280): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0280-carbons"

const PxmExtensionClass pxm_xep0280_carbons = {
	.id = ID,
};

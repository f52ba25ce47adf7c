// SPDX-License-Identifier: GPL-3.0-or-later
/* Message correction (XEP-0308): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0308-correction"

const PxmExtensionClass pxm_xep0308_correction = {
	.id = ID,
};

// SPDX-License-Identifier: GPL-3.0-or-later
/* Message retraction (XEP-0424): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0424-retraction"

const PxmExtensionClass pxm_xep0424_retraction = {
	.id = ID,
};

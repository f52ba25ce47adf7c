// SPDX-License-Identifier: GPL-3.0-or-later
/* Reactions (XEP-0444): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0444-reactions"

const PxmExtensionClass pxm_xep0444_reactions = {
	.id = ID,
};

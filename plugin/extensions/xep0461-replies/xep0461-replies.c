// SPDX-License-Identifier: GPL-3.0-or-later
/* Replies (XEP-0461): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0461-replies"

const PxmExtensionClass pxm_xep0461_replies = {
	.id = ID,
};

// SPDX-License-Identifier: GPL-3.0-or-later
/* Read markers (XEP-0333): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0333-chat-markers"

const PxmExtensionClass pxm_xep0333_chat_markers = {
	.id = ID,
};

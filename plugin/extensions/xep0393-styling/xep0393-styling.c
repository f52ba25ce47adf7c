// SPDX-License-Identifier: GPL-3.0-or-later
/* Message styling (XEP-0393): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0393-styling"

const PxmExtensionClass pxm_xep0393_styling = {
	.id = ID,
};

// SPDX-License-Identifier: GPL-3.0-or-later
/* Saving battery and data while away (XEP-0352): being written (issue 3). */
#include "../../host/extension.h"

#define ID "xep0352-csi"

const PxmExtensionClass pxm_xep0352_csi = {
	.id = ID,
};

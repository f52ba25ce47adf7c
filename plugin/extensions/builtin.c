// SPDX-License-Identifier: GPL-3.0-or-later
/* The C halves of the built-in extensions; their manifests are embedded
 * from plugin/extensions/<id>/manifest.json (extensions.gresource.xml). */
#include "../host/extension.h"

extern const PxmExtensionClass pxm_xep0359_stanza_id;

const PxmExtensionClass *const pxm_builtin_extensions[] = {
	&pxm_xep0359_stanza_id,
	NULL,
};

// SPDX-License-Identifier: GPL-3.0-or-later
/* The C halves of the built-in extensions; their manifests are embedded
 * from plugin/extensions/<id>/manifest.json (extensions.gresource.xml). */
#include "../host/extension.h"

extern const PxmExtensionClass pxm_xep0184_receipts;
extern const PxmExtensionClass pxm_xep0249_direct_invite;
extern const PxmExtensionClass pxm_xep0280_carbons;
extern const PxmExtensionClass pxm_xep0308_correction;
extern const PxmExtensionClass pxm_xep0313_mam;
extern const PxmExtensionClass pxm_xep0333_chat_markers;
extern const PxmExtensionClass pxm_xep0352_csi;
extern const PxmExtensionClass pxm_xep0359_stanza_id;
extern const PxmExtensionClass pxm_xep0363_upload;
extern const PxmExtensionClass pxm_xep0384_omemo;
extern const PxmExtensionClass pxm_xep0393_styling;
extern const PxmExtensionClass pxm_xep0410_muc_self_ping;
extern const PxmExtensionClass pxm_xep0402_bookmarks;
extern const PxmExtensionClass pxm_xep0424_retraction;
extern const PxmExtensionClass pxm_xep0444_reactions;
extern const PxmExtensionClass pxm_xep0461_replies;

const PxmExtensionClass *const pxm_builtin_extensions[] = {
	&pxm_xep0184_receipts,
	&pxm_xep0249_direct_invite,
	&pxm_xep0280_carbons,
	&pxm_xep0308_correction,
	&pxm_xep0313_mam,
	&pxm_xep0333_chat_markers,
	&pxm_xep0352_csi,
	&pxm_xep0359_stanza_id,
	&pxm_xep0363_upload,
	&pxm_xep0384_omemo,
	&pxm_xep0393_styling,
	&pxm_xep0402_bookmarks,
	&pxm_xep0410_muc_self_ping,
	&pxm_xep0424_retraction,
	&pxm_xep0444_reactions,
	&pxm_xep0461_replies,
	NULL,
};

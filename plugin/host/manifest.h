// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * Extension manifests (manifest.json) and the registry that pairs them with
 * their C classes, resolves dependencies and orders the pipeline stages.
 */
#pragma once

#include <glib.h>

#include "extension.h"

G_BEGIN_DECLS

#define PXM_MANIFEST_ERROR (pxm_manifest_error_quark())
GQuark pxm_manifest_error_quark(void);

/**
 * PxmManifestError:
 * @PXM_MANIFEST_ERROR_PARSE: not JSON, or not a JSON object
 * @PXM_MANIFEST_ERROR_UNKNOWN_KEY: a key the format does not define
 * @PXM_MANIFEST_ERROR_MISSING_KEY: a required key is absent
 * @PXM_MANIFEST_ERROR_BAD_VALUE: a value of the wrong type or form
 * @PXM_MANIFEST_ERROR_MISMATCH: manifest and C class disagree (id, stages)
 * @PXM_MANIFEST_ERROR_DUPLICATE: two extensions with one id
 * @PXM_MANIFEST_ERROR_DEPENDENCY: depends on, or orders after, an unknown
 *   extension
 * @PXM_MANIFEST_ERROR_CYCLE: "after" or "depends" edges form a cycle
 */
typedef enum {
	PXM_MANIFEST_ERROR_PARSE,
	PXM_MANIFEST_ERROR_UNKNOWN_KEY,
	PXM_MANIFEST_ERROR_MISSING_KEY,
	PXM_MANIFEST_ERROR_BAD_VALUE,
	PXM_MANIFEST_ERROR_MISMATCH,
	PXM_MANIFEST_ERROR_DUPLICATE,
	PXM_MANIFEST_ERROR_DEPENDENCY,
	PXM_MANIFEST_ERROR_CYCLE,
} PxmManifestError;

typedef struct {
	guint number;
	char *version;
} PxmManifestXep;

typedef struct {
	/* 0 when the manifest declares no stage in this phase. */
	PxmStanzaKind stanzas;
	/* (array zero-terminated=1): ids this stage runs after. */
	char **after;
} PxmManifestStage;

/**
 * PxmOptionType: an account option an extension declares
 * ("account_options"): a check box, a number, or one of a list of values.
 *
 *   "account_options": [
 *     {"key": "xmpp-modern-mam-days", "type": "int", "default": 7,
 *      "label": "days of history fetched at the first sign-in"},
 *     {"key": "xmpp-modern-upload-mode", "type": "choice", "default": "auto",
 *      "label": "...", "choices": [{"value": "auto", "label": "..."}, ...]}
 *   ]
 *
 * All of key, type, label and default are required; choices only (and
 * always) with "choice".  Labels are translated (po/manifest-strings.py).
 * The glue shows each as "Modern XMPP: <label>" in prpl-jabber's account
 * dialog, after the extensions' switches; extensions read them with
 * pxm_account_get_option_bool() and friends.
 */
typedef enum {
	PXM_OPTION_BOOL,
	PXM_OPTION_INT,
	PXM_OPTION_CHOICE,
} PxmOptionType;

typedef struct {
	char *value; /* what the setting holds */
	char *label; /* untranslated */
} PxmManifestChoice;

typedef struct {
	char *key; /* the account setting, "xmpp-modern-..." */
	PxmOptionType type;
	char *label; /* untranslated; shown after "Modern XMPP: " */
	gboolean default_bool;
	int default_int;
	char *default_choice; /* one of @choices' values */
	PxmManifestChoice *choices;
	guint n_choices;
} PxmManifestOption;

typedef struct {
	char *source; /* where it was read from, for messages */
	char *id;
	char *name;        /* untranslated; translate with g_dgettext() */
	char *description; /* untranslated */
	PxmManifestXep *xeps;
	guint n_xeps;
	char **features; /* disco features, zero-terminated */
	char **depends;  /* extension ids, zero-terminated */
	char **commands; /* conversation commands, zero-terminated */
	gboolean enabled_by_default;
	PxmManifestStage stages[PXM_PHASE_COUNT];
	/* Account options (prpl-jabber's account dialog), in order. */
	PxmManifestOption *options;
	guint n_options;
} PxmManifest;

/**
 * pxm_manifest_parse:
 * @source: name of the file, used in error messages
 * @data: the JSON text
 * @length: its length, or -1 if NUL-terminated
 *
 * Parses and validates a manifest.  Unknown keys and bad values are errors
 * whose message names @source and the key.
 *
 * Returns: (transfer full) (nullable): the manifest, or NULL with @error set.
 */
PxmManifest *pxm_manifest_parse(const char *source, const char *data,
				gssize length, GError **error);

void pxm_manifest_free(PxmManifest *manifest);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmManifest, pxm_manifest_free)

/** pxm_phase_to_string: (transfer none): the manifest name of @phase. */
const char *pxm_phase_to_string(PxmPhase phase);

/** pxm_phase_is_outgoing: TRUE for COMPOSE, ANNOTATE and ENCRYPT. */
gboolean pxm_phase_is_outgoing(PxmPhase phase);

/** PxmExtension: one loaded extension: its manifest and C class. */
typedef struct {
	PxmManifest *manifest;
	const PxmExtensionClass *klass;
	guint index; /* position in the registry */
} PxmExtension;

/** PxmRegistry: all loaded extensions and the order of each phase. */
typedef struct PxmRegistry PxmRegistry;

PxmRegistry *pxm_registry_new(void);
void pxm_registry_free(PxmRegistry *registry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PxmRegistry, pxm_registry_free)

/**
 * pxm_registry_add:
 * @manifest: (transfer full): a parsed manifest
 * @klass: (transfer none): its C class, static
 *
 * Adds an extension after checking that the class has the manifest's id and
 * exactly the stages the manifest declares, and that its account options
 * take no setting key another extension's option or switch has.
 *
 * Returns: FALSE with @error set (and @manifest freed) on a mismatch or a
 * duplicate id or setting key.
 */
gboolean pxm_registry_add(PxmRegistry *registry, PxmManifest *manifest,
			  const PxmExtensionClass *klass, GError **error);

/**
 * pxm_registry_resolve:
 *
 * Checks dependencies and orders every phase from the "after" edges (a
 * topological sort; ties broken by id so the order never depends on load
 * order).  Call once, after the last pxm_registry_add().
 *
 * Returns: FALSE with @error set on an unknown dependency or a cycle.
 */
gboolean pxm_registry_resolve(PxmRegistry *registry, GError **error);

/** pxm_registry_get_n: number of extensions. */
guint pxm_registry_get_n(PxmRegistry *registry);

/** pxm_registry_peek: (transfer none): extension @index. */
const PxmExtension *pxm_registry_peek(PxmRegistry *registry, guint index);

/** pxm_registry_lookup: (transfer none) (nullable): extension by id. */
const PxmExtension *pxm_registry_lookup(PxmRegistry *registry, const char *id);

/**
 * pxm_registry_lookup_option:
 * @key: an account setting key
 *
 * Returns: (transfer none) (nullable): the account option of that key some
 * extension declares.
 */
const PxmManifestOption *pxm_registry_lookup_option(PxmRegistry *registry,
						    const char *key);

/**
 * pxm_registry_get_order:
 * @n_out: (out): number of entries
 *
 * Returns: (transfer none): the indices of the extensions with a stage in
 * @phase, in running order.  Valid after pxm_registry_resolve().
 */
const guint *pxm_registry_get_order(PxmRegistry *registry, PxmPhase phase,
				    guint *n_out);

G_END_DECLS

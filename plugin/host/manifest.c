// SPDX-License-Identifier: GPL-3.0-or-later
#include "manifest.h"

#include <json-glib/json-glib.h>
#include <string.h>

/* clang-format off */
G_DEFINE_QUARK(pxm-manifest-error-quark, pxm_manifest_error)
/* clang-format on */

#define MANIFEST_VERSION 1

static const char *const phase_names[PXM_PHASE_COUNT] = {
	[PXM_PHASE_UNWRAP] = "unwrap",   [PXM_PHASE_DECRYPT] = "decrypt",
	[PXM_PHASE_HANDLE] = "handle",   [PXM_PHASE_PRESENT] = "present",
	[PXM_PHASE_COMPOSE] = "compose", [PXM_PHASE_ANNOTATE] = "annotate",
	[PXM_PHASE_ENCRYPT] = "encrypt",
};

const char *
pxm_phase_to_string(PxmPhase phase)
{
	g_return_val_if_fail(phase < PXM_PHASE_COUNT, NULL);
	return phase_names[phase];
}

gboolean
pxm_phase_is_outgoing(PxmPhase phase)
{
	return phase >= PXM_PHASE_COMPOSE && phase < PXM_PHASE_COUNT;
}

void
pxm_manifest_free(PxmManifest *manifest)
{
	if (manifest == NULL)
		return;
	g_free(manifest->source);
	g_free(manifest->id);
	g_free(manifest->name);
	g_free(manifest->description);
	for (guint i = 0; i < manifest->n_xeps; i++)
		g_free(manifest->xeps[i].version);
	g_free(manifest->xeps);
	g_strfreev(manifest->features);
	g_strfreev(manifest->depends);
	g_strfreev(manifest->commands);
	for (guint i = 0; i < PXM_PHASE_COUNT; i++)
		g_strfreev(manifest->stages[i].after);
	for (guint i = 0; i < manifest->n_options; i++) {
		PxmManifestOption *o = &manifest->options[i];

		g_free(o->key);
		g_free(o->label);
		g_free(o->default_choice);
		for (guint j = 0; j < o->n_choices; j++) {
			g_free(o->choices[j].value);
			g_free(o->choices[j].label);
		}
		g_free(o->choices);
	}
	g_free(manifest->options);
	g_free(manifest);
}

/* --- Validation helpers ---------------------------------------------- */

typedef struct {
	const char *source;
	GError **error;
} Ctx;

static gboolean fail(Ctx *ctx, PxmManifestError code, const char *key,
		     const char *fmt, ...) G_GNUC_PRINTF(4, 5);

static gboolean
fail(Ctx *ctx, PxmManifestError code, const char *key, const char *fmt, ...)
{
	g_autofree char *msg = NULL;
	va_list args;

	va_start(args, fmt);
	msg = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_set_error(ctx->error, PXM_MANIFEST_ERROR, code, "%s: key '%s': %s",
		    ctx->source, key, msg);
	return FALSE;
}

static gboolean
is_extension_id(const char *s)
{
	/* Folder-name form: lower-case letters, digits and single dashes. */
	if (s == NULL || !g_ascii_islower(s[0]) || strlen(s) > 64)
		return FALSE;
	for (const char *p = s; *p != '\0'; p++) {
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
			return FALSE;
		if (*p == '-' && (p[1] == '-' || p[1] == '\0'))
			return FALSE;
	}
	return TRUE;
}

static gboolean
check_keys(Ctx *ctx, JsonObject *obj, const char *prefix,
	   const char *const *allowed)
{
	g_autoptr(GList) members = json_object_get_members(obj);

	for (GList *l = members; l != NULL; l = l->next) {
		if (!g_strv_contains(allowed, l->data)) {
			g_autofree char *key = g_strconcat(prefix, l->data,
							   NULL);
			return fail(ctx, PXM_MANIFEST_ERROR_UNKNOWN_KEY, key,
				    "unknown key");
		}
	}
	return TRUE;
}

static JsonNode *
get_member(Ctx *ctx, JsonObject *obj, const char *key, gboolean required,
	   JsonNodeType type, const char *what, gboolean *ok)
{
	JsonNode *node = json_object_get_member(obj, key);

	*ok = TRUE;
	if (node == NULL) {
		if (required)
			*ok = fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, key,
				   "required key is missing");
		return NULL;
	}
	if (JSON_NODE_TYPE(node) != type) {
		*ok = fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, key,
			   "expected %s", what);
		return NULL;
	}
	return node;
}

static gboolean
get_string(Ctx *ctx, JsonObject *obj, const char *key, gboolean required,
	   char **out)
{
	gboolean ok;
	JsonNode *node = get_member(ctx, obj, key, required, JSON_NODE_VALUE,
				    "a string", &ok);
	const char *value;

	if (node == NULL)
		return ok;
	if (json_node_get_value_type(node) != G_TYPE_STRING)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, key,
			    "expected a string");
	value = json_node_get_string(node);
	while (g_ascii_isspace(*value))
		value++;
	if (*value == '\0')
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, key,
			    "must not be empty");
	*out = g_strdup(json_node_get_string(node));
	return TRUE;
}

typedef gboolean (*ItemCheck)(const char *item);

static gboolean
is_feature(const char *s)
{
	/* Disco features are URNs or URLs, or (older XEPs, e.g. the legacy
	 * OMEMO eu.siacs.conversations.axolotl) dotted namespace names. */
	return (strchr(s, ':') != NULL || strchr(s, '.') != NULL) &&
	       strchr(s, ' ') == NULL;
}

static gboolean
get_string_array(Ctx *ctx, JsonObject *obj, const char *key,
		 const char *shown_key, ItemCheck check, const char *what,
		 char ***out)
{
	JsonNode *node = json_object_get_member(obj, key);
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_free);
	JsonArray *array;

	/* Named by its full path (stages[0].after), not its bare key. */
	if (node != NULL && JSON_NODE_TYPE(node) != JSON_NODE_ARRAY)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, shown_key,
			    "expected an array of strings");
	if (node != NULL) {
		array = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(array); i++) {
			JsonNode *item = json_array_get_element(array, i);
			g_autofree char *ikey = g_strdup_printf("%s[%u]",
								shown_key, i);
			const char *s;

			if (JSON_NODE_TYPE(item) != JSON_NODE_VALUE ||
			    json_node_get_value_type(item) != G_TYPE_STRING)
				return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE,
					    ikey, "expected a string");
			s = json_node_get_string(item);
			if (!check(s))
				return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE,
					    ikey, "'%s' is not %s", s, what);
			for (guint j = 0; j < items->len; j++)
				if (g_str_equal(items->pdata[j], s))
					return fail(
						ctx,
						PXM_MANIFEST_ERROR_BAD_VALUE,
						ikey, "'%s' is listed twice",
						s);
			g_ptr_array_add(items, g_strdup(s));
		}
	}
	g_ptr_array_add(items, NULL);
	*out = (char **)g_ptr_array_steal(items, NULL);
	return TRUE;
}

static gboolean
parse_xeps(Ctx *ctx, JsonObject *root, PxmManifest *m)
{
	static const char *const allowed[] = { "number", "version", NULL };
	gboolean ok;
	JsonNode *node = get_member(ctx, root, "xeps", TRUE, JSON_NODE_ARRAY,
				    "an array of objects", &ok);
	JsonArray *array;

	if (node == NULL)
		return ok;
	array = json_node_get_array(node);
	m->n_xeps = json_array_get_length(array);
	if (m->n_xeps == 0)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, "xeps",
			    "must name at least one XEP");
	m->xeps = g_new0(PxmManifestXep, m->n_xeps);
	for (guint i = 0; i < m->n_xeps; i++) {
		JsonNode *item = json_array_get_element(array, i);
		g_autofree char *prefix = g_strdup_printf("xeps[%u].", i);
		g_autofree char *nkey = g_strconcat(prefix, "number", NULL);
		g_autofree char *vkey = g_strconcat(prefix, "version", NULL);
		JsonObject *obj;
		JsonNode *num, *ver;
		gint64 n;

		if (JSON_NODE_TYPE(item) != JSON_NODE_OBJECT) {
			g_autofree char *k = g_strdup_printf("xeps[%u]", i);
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, k,
				    "expected an object");
		}
		obj = json_node_get_object(item);
		if (!check_keys(ctx, obj, prefix, allowed))
			return FALSE;
		num = json_object_get_member(obj, "number");
		ver = json_object_get_member(obj, "version");
		if (num == NULL)
			return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, nkey,
				    "required key is missing");
		if (ver == NULL)
			return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, vkey,
				    "required key is missing");
		if (JSON_NODE_TYPE(num) != JSON_NODE_VALUE ||
		    json_node_get_value_type(num) != G_TYPE_INT64 ||
		    (n = json_node_get_int(num)) < 1 || n > 9999)
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, nkey,
				    "expected a XEP number from 1 to 9999");
		if (JSON_NODE_TYPE(ver) != JSON_NODE_VALUE ||
		    json_node_get_value_type(ver) != G_TYPE_STRING ||
		    !g_regex_match_simple("^[0-9]+(\\.[0-9]+){1,3}$",
					  json_node_get_string(ver), 0, 0))
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, vkey,
				    "expected a version like \"1.2.0\"");
		m->xeps[i].number = (guint)n;
		m->xeps[i].version = g_strdup(json_node_get_string(ver));
	}
	return TRUE;
}

static gboolean
parse_phase(const char *s, PxmPhase *out)
{
	for (guint i = 0; i < PXM_PHASE_COUNT; i++) {
		if (g_str_equal(s, phase_names[i])) {
			*out = i;
			return TRUE;
		}
	}
	return FALSE;
}

static gboolean
is_command_name(const char *s)
{
	/* What libpurple accepts after the slash, kept simple. */
	if (!g_ascii_islower(s[0]) || strlen(s) > 32)
		return FALSE;
	for (const char *p = s; *p != '\0'; p++)
		if (!g_ascii_islower(*p) && !g_ascii_isdigit(*p) && *p != '-')
			return FALSE;
	return TRUE;
}

static gboolean
is_stanza_kind(const char *s)
{
	return g_str_equal(s, "message") || g_str_equal(s, "presence") ||
	       g_str_equal(s, "iq");
}

static gboolean
parse_stage(Ctx *ctx, JsonNode *item, guint i, PxmManifest *m)
{
	static const char *const allowed[] = { "phase", "stanzas", "after",
					       NULL };
	g_autofree char *prefix = g_strdup_printf("stages[%u].", i);
	g_autofree char *pkey = g_strconcat(prefix, "phase", NULL);
	g_autofree char *skey = g_strconcat(prefix, "stanzas", NULL);
	g_autofree char *akey = g_strconcat(prefix, "after", NULL);
	g_auto(GStrv) stanzas = NULL;
	g_auto(GStrv) after = NULL;
	JsonObject *obj;
	JsonNode *p;
	PxmStanzaKind kinds = 0;
	PxmPhase phase;

	if (JSON_NODE_TYPE(item) != JSON_NODE_OBJECT) {
		g_autofree char *k = g_strdup_printf("stages[%u]", i);
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, k,
			    "expected an object");
	}
	obj = json_node_get_object(item);
	if (!check_keys(ctx, obj, prefix, allowed))
		return FALSE;

	p = json_object_get_member(obj, "phase");
	if (p == NULL)
		return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, pkey,
			    "required key is missing");
	if (JSON_NODE_TYPE(p) != JSON_NODE_VALUE ||
	    json_node_get_value_type(p) != G_TYPE_STRING ||
	    !parse_phase(json_node_get_string(p), &phase))
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, pkey,
			    "expected one of unwrap, decrypt, handle, present, "
			    "compose, annotate, encrypt");
	if (m->stages[phase].stanzas != 0)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, pkey,
			    "phase '%s' is declared twice", phase_names[phase]);

	if (json_object_get_member(obj, "stanzas") == NULL)
		return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, skey,
			    "required key is missing");
	if (!get_string_array(ctx, obj, "stanzas", skey, is_stanza_kind,
			      "one of message, presence, iq", &stanzas))
		return FALSE;
	if (stanzas[0] == NULL)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, skey,
			    "must name at least one stanza kind");
	for (guint j = 0; stanzas[j] != NULL; j++) {
		if (g_str_equal(stanzas[j], "message"))
			kinds |= PXM_STANZA_MESSAGE;
		else if (g_str_equal(stanzas[j], "presence"))
			kinds |= PXM_STANZA_PRESENCE;
		else
			kinds |= PXM_STANZA_IQ;
	}
	if (!get_string_array(ctx, obj, "after", akey, is_extension_id,
			      "an extension id", &after))
		return FALSE;
	if (g_strv_contains((const char *const *)after, m->id))
		return fail(ctx, PXM_MANIFEST_ERROR_CYCLE, akey,
			    "a stage cannot run after itself");
	m->stages[phase].stanzas = kinds;
	m->stages[phase].after = g_steal_pointer(&after);
	return TRUE;
}

/* --- Account options ------------------------------------------------ */

#define OPTION_PREFIX "xmpp-modern-"

static gboolean
is_setting_key(const char *s)
{
	/* The switches' keys are OPTION_PREFIX + an extension id; options
	 * share the prefix (and the form) so users' settings stay ours. */
	return g_str_has_prefix(s, OPTION_PREFIX) &&
	       is_extension_id(s + strlen(OPTION_PREFIX));
}

/* A required non-empty string of a nested object, named by its @path. */
static gboolean
get_nested_string(Ctx *ctx, JsonObject *obj, const char *key, const char *path,
		  char **out)
{
	JsonNode *node = json_object_get_member(obj, key);
	const char *value;

	if (node == NULL)
		return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, path,
			    "required key is missing");
	if (JSON_NODE_TYPE(node) != JSON_NODE_VALUE ||
	    json_node_get_value_type(node) != G_TYPE_STRING)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, path,
			    "expected a string");
	value = json_node_get_string(node);
	while (g_ascii_isspace(*value))
		value++;
	if (*value == '\0')
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, path,
			    "must not be empty");
	*out = g_strdup(json_node_get_string(node));
	return TRUE;
}

static gboolean
parse_choices(Ctx *ctx, JsonObject *obj, const char *prefix,
	      PxmManifestOption *o)
{
	static const char *const allowed[] = { "value", "label", NULL };
	g_autofree char *ckey = g_strconcat(prefix, "choices", NULL);
	JsonNode *node = json_object_get_member(obj, "choices");
	JsonArray *array;

	if (node == NULL)
		return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, ckey,
			    "required key is missing");
	if (JSON_NODE_TYPE(node) != JSON_NODE_ARRAY)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, ckey,
			    "expected an array of objects");
	array = json_node_get_array(node);
	o->n_choices = json_array_get_length(array);
	if (o->n_choices == 0)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, ckey,
			    "must offer at least one choice");
	o->choices = g_new0(PxmManifestChoice, o->n_choices);
	for (guint i = 0; i < o->n_choices; i++) {
		JsonNode *item = json_array_get_element(array, i);
		g_autofree char *iprefix = g_strdup_printf("%s[%u].", ckey, i);
		g_autofree char *vkey = g_strconcat(iprefix, "value", NULL);
		g_autofree char *lkey = g_strconcat(iprefix, "label", NULL);
		JsonObject *c;

		if (JSON_NODE_TYPE(item) != JSON_NODE_OBJECT) {
			g_autofree char *k = g_strdup_printf("%s[%u]", ckey, i);
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, k,
				    "expected an object");
		}
		c = json_node_get_object(item);
		if (!check_keys(ctx, c, iprefix, allowed) ||
		    !get_nested_string(ctx, c, "value", vkey,
				       &o->choices[i].value) ||
		    !get_nested_string(ctx, c, "label", lkey,
				       &o->choices[i].label))
			return FALSE;
		for (guint j = 0; j < i; j++)
			if (g_str_equal(o->choices[j].value,
					o->choices[i].value))
				return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE,
					    vkey, "'%s' is listed twice",
					    o->choices[i].value);
	}
	return TRUE;
}

static gboolean
parse_option(Ctx *ctx, JsonNode *item, guint i, PxmManifest *m)
{
	static const char *const allowed[] = { "key",     "type",    "label",
					       "default", "choices", NULL };
	PxmManifestOption *o = &m->options[i];
	g_autofree char *prefix = g_strdup_printf("account_options[%u].", i);
	g_autofree char *kkey = g_strconcat(prefix, "key", NULL);
	g_autofree char *tkey = g_strconcat(prefix, "type", NULL);
	g_autofree char *lkey = g_strconcat(prefix, "label", NULL);
	g_autofree char *dkey = g_strconcat(prefix, "default", NULL);
	g_autofree char *type = NULL;
	g_autofree char *own = NULL;
	JsonObject *obj;
	JsonNode *def;

	if (JSON_NODE_TYPE(item) != JSON_NODE_OBJECT) {
		g_autofree char *k = g_strdup_printf("account_options[%u]", i);
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, k,
			    "expected an object");
	}
	obj = json_node_get_object(item);
	if (!check_keys(ctx, obj, prefix, allowed))
		return FALSE;
	if (!get_nested_string(ctx, obj, "key", kkey, &o->key) ||
	    !get_nested_string(ctx, obj, "type", tkey, &type) ||
	    !get_nested_string(ctx, obj, "label", lkey, &o->label))
		return FALSE;
	def = json_object_get_member(obj, "default");
	if (def == NULL)
		return fail(ctx, PXM_MANIFEST_ERROR_MISSING_KEY, dkey,
			    "required key is missing");
	if (!is_setting_key(o->key))
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, kkey,
			    "'%s' is not a setting key (\"" OPTION_PREFIX
			    "\" and lower-case letters, digits and dashes)",
			    o->key);
	own = g_strconcat(OPTION_PREFIX, m->id, NULL);
	if (g_str_equal(o->key, own))
		return fail(ctx, PXM_MANIFEST_ERROR_DUPLICATE, kkey,
			    "'%s' is the key of the extension's own switch",
			    o->key);
	for (guint j = 0; j < i; j++)
		if (g_str_equal(m->options[j].key, o->key))
			return fail(ctx, PXM_MANIFEST_ERROR_DUPLICATE, kkey,
				    "'%s' is declared twice", o->key);

	if (g_str_equal(type, "bool")) {
		o->type = PXM_OPTION_BOOL;
		if (JSON_NODE_TYPE(def) != JSON_NODE_VALUE ||
		    json_node_get_value_type(def) != G_TYPE_BOOLEAN)
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, dkey,
				    "expected true or false");
		o->default_bool = json_node_get_boolean(def);
	} else if (g_str_equal(type, "int")) {
		o->type = PXM_OPTION_INT;
		if (JSON_NODE_TYPE(def) != JSON_NODE_VALUE ||
		    json_node_get_value_type(def) != G_TYPE_INT64 ||
		    json_node_get_int(def) < G_MININT ||
		    json_node_get_int(def) > G_MAXINT)
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, dkey,
				    "expected an integer");
		o->default_int = (int)json_node_get_int(def);
	} else if (g_str_equal(type, "choice")) {
		o->type = PXM_OPTION_CHOICE;
		if (!parse_choices(ctx, obj, prefix, o))
			return FALSE;
		if (JSON_NODE_TYPE(def) != JSON_NODE_VALUE ||
		    json_node_get_value_type(def) != G_TYPE_STRING)
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, dkey,
				    "expected one of the choices' values");
		for (guint j = 0; j < o->n_choices && o->default_choice == NULL;
		     j++)
			if (g_str_equal(o->choices[j].value,
					json_node_get_string(def)))
				o->default_choice =
					g_strdup(json_node_get_string(def));
		if (o->default_choice == NULL)
			return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, dkey,
				    "'%s' is not one of the choices' values",
				    json_node_get_string(def));
	} else {
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, tkey,
			    "expected one of bool, int, choice");
	}
	if (o->type != PXM_OPTION_CHOICE &&
	    json_object_get_member(obj, "choices") != NULL) {
		g_autofree char *ckey = g_strconcat(prefix, "choices", NULL);

		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, ckey,
			    "only a choice option has choices");
	}
	return TRUE;
}

static gboolean
parse_options(Ctx *ctx, JsonObject *root, PxmManifest *m)
{
	gboolean ok;
	JsonNode *node = get_member(ctx, root, "account_options", FALSE,
				    JSON_NODE_ARRAY, "an array of objects",
				    &ok);
	JsonArray *array;

	if (node == NULL)
		return ok;
	array = json_node_get_array(node);
	m->n_options = json_array_get_length(array);
	m->options = g_new0(PxmManifestOption, m->n_options);
	for (guint i = 0; i < m->n_options; i++)
		if (!parse_option(ctx, json_array_get_element(array, i), i, m))
			return FALSE;
	return TRUE;
}

static gboolean
parse_root(Ctx *ctx, JsonObject *root, PxmManifest *m)
{
	static const char *const allowed[] = { "manifest_version",
					       "id",
					       "name",
					       "description",
					       "xeps",
					       "features",
					       "depends",
					       "commands",
					       "enabled_by_default",
					       "stages",
					       "account_options",
					       NULL };
	JsonNode *node;
	JsonArray *stages;
	gboolean ok;

	if (!check_keys(ctx, root, "", allowed))
		return FALSE;

	node = get_member(ctx, root, "manifest_version", TRUE, JSON_NODE_VALUE,
			  "an integer", &ok);
	if (!ok)
		return FALSE;
	if (json_node_get_value_type(node) != G_TYPE_INT64 ||
	    json_node_get_int(node) != MANIFEST_VERSION)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE,
			    "manifest_version", "only version %d is known",
			    MANIFEST_VERSION);

	if (!get_string(ctx, root, "id", TRUE, &m->id))
		return FALSE;
	if (!is_extension_id(m->id))
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE, "id",
			    "'%s' is not an extension id (lower-case letters, "
			    "digits and dashes, like xep0359-stanza-id)",
			    m->id);
	if (!get_string(ctx, root, "name", TRUE, &m->name) ||
	    !get_string(ctx, root, "description", TRUE, &m->description) ||
	    !parse_xeps(ctx, root, m) ||
	    !get_string_array(ctx, root, "features", "features", is_feature,
			      "a disco feature (a URN or URL)", &m->features) ||
	    !get_string_array(ctx, root, "depends", "depends", is_extension_id,
			      "an extension id", &m->depends) ||
	    !get_string_array(ctx, root, "commands", "commands",
			      is_command_name,
			      "a command name (lower-case letters, digits, "
			      "dashes)",
			      &m->commands))
		return FALSE;
	if (g_strv_contains((const char *const *)m->depends, m->id))
		return fail(ctx, PXM_MANIFEST_ERROR_CYCLE, "depends",
			    "an extension cannot depend on itself");

	node = get_member(ctx, root, "enabled_by_default", TRUE,
			  JSON_NODE_VALUE, "true or false", &ok);
	if (!ok)
		return FALSE;
	if (json_node_get_value_type(node) != G_TYPE_BOOLEAN)
		return fail(ctx, PXM_MANIFEST_ERROR_BAD_VALUE,
			    "enabled_by_default", "expected true or false");
	m->enabled_by_default = json_node_get_boolean(node);

	node = get_member(ctx, root, "stages", FALSE, JSON_NODE_ARRAY,
			  "an array of objects", &ok);
	if (!ok)
		return FALSE;
	if (node != NULL) {
		stages = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(stages); i++)
			if (!parse_stage(ctx, json_array_get_element(stages, i),
					 i, m))
				return FALSE;
	}
	return parse_options(ctx, root, m);
}

PxmManifest *
pxm_manifest_parse(const char *source, const char *data, gssize length,
		   GError **error)
{
	g_autoptr(JsonParser) parser = json_parser_new_immutable();
	g_autoptr(PxmManifest) m = g_new0(PxmManifest, 1);
	g_autoptr(GError) local = NULL;
	Ctx ctx = { source, error };
	JsonNode *root;

	g_return_val_if_fail(source != NULL && data != NULL, NULL);

	m->source = g_strdup(source);
	if (!json_parser_load_from_data(parser, data, length, &local)) {
		g_set_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_PARSE,
			    "%s: not valid JSON: %s", source, local->message);
		return NULL;
	}
	root = json_parser_get_root(parser);
	if (root == NULL || JSON_NODE_TYPE(root) != JSON_NODE_OBJECT) {
		g_set_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_PARSE,
			    "%s: expected a JSON object at the top level",
			    source);
		return NULL;
	}
	if (!parse_root(&ctx, json_node_get_object(root), m))
		return NULL;
	return g_steal_pointer(&m);
}

/* --- Registry -------------------------------------------------------- */

struct PxmRegistry {
	GPtrArray *extensions; /* PxmExtension, owned */
	GArray *order[PXM_PHASE_COUNT];
	gboolean resolved;
};

static void
extension_free(PxmExtension *ext)
{
	pxm_manifest_free(ext->manifest);
	g_free(ext);
}

PxmRegistry *
pxm_registry_new(void)
{
	PxmRegistry *registry = g_new0(PxmRegistry, 1);

	registry->extensions =
		g_ptr_array_new_with_free_func((GDestroyNotify)extension_free);
	for (guint i = 0; i < PXM_PHASE_COUNT; i++)
		registry->order[i] = g_array_new(FALSE, FALSE, sizeof(guint));
	return registry;
}

void
pxm_registry_free(PxmRegistry *registry)
{
	if (registry == NULL)
		return;
	g_ptr_array_unref(registry->extensions);
	for (guint i = 0; i < PXM_PHASE_COUNT; i++)
		g_array_unref(registry->order[i]);
	g_free(registry);
}

/* Account settings are one namespace for every extension: an option must
 * not take another's key, nor the key of an extension's switch. */
static gboolean
check_option_keys(PxmRegistry *registry, const PxmManifest *m, GError **error)
{
	g_autofree char *own = g_strconcat(OPTION_PREFIX, m->id, NULL);

	for (guint i = 0; i < registry->extensions->len; i++) {
		const PxmManifest *other =
			((PxmExtension *)registry->extensions->pdata[i])
				->manifest;
		g_autofree char *switch_key = g_strconcat(OPTION_PREFIX,
							  other->id, NULL);

		for (guint o = 0; o < other->n_options; o++) {
			if (!g_str_equal(other->options[o].key, own))
				continue;
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_DUPLICATE,
				    "%s: key 'id': the switch '%s' has the key "
				    "of an account option of %s",
				    m->source, own, other->source);
			return FALSE;
		}
		for (guint o = 0; o < m->n_options; o++) {
			const char *key = m->options[o].key;
			gboolean taken = g_str_equal(key, switch_key);

			for (guint k = 0; !taken && k < other->n_options; k++)
				taken = g_str_equal(key, other->options[k].key);
			if (!taken)
				continue;
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_DUPLICATE,
				    "%s: key 'account_options[%u].key': '%s' "
				    "is already the key of %s of %s",
				    m->source, o, key,
				    g_str_equal(key, switch_key)
					    ? "the switch"
					    : "an account option",
				    other->source);
			return FALSE;
		}
	}
	return TRUE;
}

gboolean
pxm_registry_add(PxmRegistry *registry, PxmManifest *manifest,
		 const PxmExtensionClass *klass, GError **error)
{
	g_autoptr(PxmManifest) m = manifest;
	PxmExtension *ext;

	g_return_val_if_fail(registry != NULL && !registry->resolved, FALSE);
	g_return_val_if_fail(manifest != NULL && klass != NULL, FALSE);

	if (g_strcmp0(klass->id, m->id) != 0) {
		g_set_error(error, PXM_MANIFEST_ERROR,
			    PXM_MANIFEST_ERROR_MISMATCH,
			    "%s: key 'id': '%s' has no C implementation of "
			    "that id (found '%s')",
			    m->source, m->id, klass->id);
		return FALSE;
	}
	if (pxm_registry_lookup(registry, m->id) != NULL) {
		g_set_error(error, PXM_MANIFEST_ERROR,
			    PXM_MANIFEST_ERROR_DUPLICATE,
			    "%s: key 'id': extension '%s' is already loaded",
			    m->source, m->id);
		return FALSE;
	}
	for (guint i = 0; i < PXM_PHASE_COUNT; i++) {
		gboolean declared = m->stages[i].stanzas != 0;
		gboolean implemented = klass->stages[i] != NULL;

		if (declared != implemented) {
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_MISMATCH,
				    "%s: key 'stages': phase '%s' is %s in the "
				    "manifest but %s in the C class",
				    m->source, phase_names[i],
				    declared ? "declared" : "not declared",
				    implemented ? "implemented"
						: "not implemented");
			return FALSE;
		}
	}
	{
		guint n_class = 0;

		for (const PxmCommand *c = klass->commands;
		     c != NULL && c->name != NULL; c++) {
			n_class++;
			if (!g_strv_contains((const char *const *)m->commands,
					     c->name)) {
				g_set_error(error, PXM_MANIFEST_ERROR,
					    PXM_MANIFEST_ERROR_MISMATCH,
					    "%s: key 'commands': the C class "
					    "implements /%s, the manifest does "
					    "not declare it",
					    m->source, c->name);
				return FALSE;
			}
		}
		if (n_class != g_strv_length(m->commands)) {
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_MISMATCH,
				    "%s: key 'commands': declares %u commands, "
				    "the C class implements %u",
				    m->source, g_strv_length(m->commands),
				    n_class);
			return FALSE;
		}
	}
	if (!check_option_keys(registry, m, error))
		return FALSE;
	ext = g_new0(PxmExtension, 1);
	ext->manifest = g_steal_pointer(&m);
	ext->klass = klass;
	ext->index = registry->extensions->len;
	g_ptr_array_add(registry->extensions, ext);
	return TRUE;
}

guint
pxm_registry_get_n(PxmRegistry *registry)
{
	return registry->extensions->len;
}

const PxmExtension *
pxm_registry_peek(PxmRegistry *registry, guint index)
{
	g_return_val_if_fail(index < registry->extensions->len, NULL);
	return registry->extensions->pdata[index];
}

const PxmExtension *
pxm_registry_lookup(PxmRegistry *registry, const char *id)
{
	for (guint i = 0; i < registry->extensions->len; i++) {
		PxmExtension *ext = registry->extensions->pdata[i];

		if (g_str_equal(ext->manifest->id, id))
			return ext;
	}
	return NULL;
}

const PxmManifestOption *
pxm_registry_lookup_option(PxmRegistry *registry, const char *key)
{
	for (guint i = 0; i < registry->extensions->len; i++) {
		const PxmManifest *m =
			((PxmExtension *)registry->extensions->pdata[i])
				->manifest;

		for (guint o = 0; o < m->n_options; o++)
			if (g_str_equal(m->options[o].key, key))
				return &m->options[o];
	}
	return NULL;
}

const guint *
pxm_registry_get_order(PxmRegistry *registry, PxmPhase phase, guint *n_out)
{
	g_return_val_if_fail(registry->resolved && phase < PXM_PHASE_COUNT,
			     NULL);
	*n_out = registry->order[phase]->len;
	return (const guint *)(gpointer)registry->order[phase]->data;
}

static gint
compare_ids(gconstpointer a, gconstpointer b, gpointer user_data)
{
	PxmRegistry *registry = user_data;
	const PxmExtension *ea = registry->extensions->pdata[*(const guint *)a];
	const PxmExtension *eb = registry->extensions->pdata[*(const guint *)b];

	return strcmp(ea->manifest->id, eb->manifest->id);
}

/*
 * Kahn's algorithm over the members of one phase.  @edges(i, j) says i must
 * run before j.  Ready nodes are taken in id order so the result never
 * depends on the order extensions were added in.
 */
typedef gboolean (*EdgeFunc)(PxmRegistry *registry, guint before, guint after,
			     gpointer data);

static gboolean
toposort(PxmRegistry *registry, GArray *members, EdgeFunc edge, gpointer data,
	 GArray *out, const char *what, GError **error)
{
	guint n = members->len;
	g_autofree guint *indegree = g_new0(guint, n);
	g_autofree gboolean *done = g_new0(gboolean, n);
	g_autoptr(GArray) ready = g_array_new(FALSE, FALSE, sizeof(guint));
	guint *mem = (guint *)(gpointer)members->data;

	for (guint i = 0; i < n; i++)
		for (guint j = 0; j < n; j++)
			if (i != j && edge(registry, mem[j], mem[i], data))
				indegree[i]++;

	for (guint step = 0; step < n; step++) {
		gint pick = -1;

		g_array_set_size(ready, 0);
		for (guint i = 0; i < n; i++)
			if (!done[i] && indegree[i] == 0)
				g_array_append_val(ready, mem[i]);
		if (ready->len == 0) {
			g_autoptr(GString) names = g_string_new(NULL);

			for (guint i = 0; i < n; i++) {
				const PxmExtension *ext =
					registry->extensions->pdata[mem[i]];
				if (done[i])
					continue;
				if (names->len > 0)
					g_string_append(names, ", ");
				g_string_append(names, ext->manifest->id);
			}
			g_set_error(error, PXM_MANIFEST_ERROR,
				    PXM_MANIFEST_ERROR_CYCLE,
				    "%s: the extensions %s form a cycle", what,
				    names->str);
			return FALSE;
		}
		g_array_sort_with_data(ready, compare_ids, registry);
		for (guint i = 0; i < n; i++)
			if (mem[i] == g_array_index(ready, guint, 0))
				pick = i;
		done[pick] = TRUE;
		g_array_append_val(out, mem[pick]);
		for (guint i = 0; i < n; i++)
			if (!done[i] && edge(registry, mem[pick], mem[i], data))
				indegree[i]--;
	}
	return TRUE;
}

static gboolean
after_edge(PxmRegistry *registry, guint before, guint after, gpointer data)
{
	PxmPhase phase = GPOINTER_TO_UINT(data);
	const PxmExtension *eb = registry->extensions->pdata[before];
	const PxmExtension *ea = registry->extensions->pdata[after];

	return g_strv_contains(
		(const char *const *)ea->manifest->stages[phase].after,
		eb->manifest->id);
}

static gboolean
depends_edge(PxmRegistry *registry, guint before, guint after, gpointer data)
{
	const PxmExtension *eb = registry->extensions->pdata[before];
	const PxmExtension *ea = registry->extensions->pdata[after];

	return g_strv_contains((const char *const *)ea->manifest->depends,
			       eb->manifest->id);
}

gboolean
pxm_registry_resolve(PxmRegistry *registry, GError **error)
{
	g_autoptr(GArray) all = g_array_new(FALSE, FALSE, sizeof(guint));
	g_autoptr(GArray) scratch = g_array_new(FALSE, FALSE, sizeof(guint));

	g_return_val_if_fail(!registry->resolved, FALSE);

	for (guint i = 0; i < registry->extensions->len; i++) {
		PxmExtension *ext = registry->extensions->pdata[i];
		PxmManifest *m = ext->manifest;

		g_array_append_val(all, i);
		for (guint d = 0; m->depends[d] != NULL; d++) {
			if (pxm_registry_lookup(registry, m->depends[d]) ==
			    NULL) {
				g_set_error(error, PXM_MANIFEST_ERROR,
					    PXM_MANIFEST_ERROR_DEPENDENCY,
					    "%s: key 'depends[%u]': no "
					    "extension '%s' is loaded",
					    m->source, d, m->depends[d]);
				return FALSE;
			}
		}
		for (guint p = 0; p < PXM_PHASE_COUNT; p++) {
			char **after = m->stages[p].after;

			for (guint a = 0; after != NULL && after[a] != NULL;
			     a++) {
				if (pxm_registry_lookup(registry, after[a]) ==
				    NULL) {
					g_set_error(
						error, PXM_MANIFEST_ERROR,
						PXM_MANIFEST_ERROR_DEPENDENCY,
						"%s: key 'stages' (%s).after: "
						"no extension '%s' is loaded",
						m->source, phase_names[p],
						after[a]);
					return FALSE;
				}
			}
		}
	}
	if (!toposort(registry, all, depends_edge, NULL, scratch, "depends",
		      error))
		return FALSE;

	for (guint p = 0; p < PXM_PHASE_COUNT; p++) {
		g_autoptr(GArray) members = g_array_new(FALSE, FALSE,
							sizeof(guint));
		g_autofree char *what = g_strdup_printf("phase '%s'",
							phase_names[p]);

		for (guint i = 0; i < registry->extensions->len; i++) {
			PxmExtension *ext = registry->extensions->pdata[i];

			if (ext->manifest->stages[p].stanzas != 0)
				g_array_append_val(members, i);
		}
		if (!toposort(registry, members, after_edge,
			      GUINT_TO_POINTER(p), registry->order[p], what,
			      error))
			return FALSE;
	}
	registry->resolved = TRUE;
	return TRUE;
}

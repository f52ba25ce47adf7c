// SPDX-License-Identifier: GPL-3.0-or-later
/* Manifest parsing and validation, the registry, dependency resolution and
 * pipeline ordering. */
#include <string.h>

#include "host.h"
#include "manifest.h"
#include "pxm-test-account.h"
#include "pxm-test.h"

#define OPTIONS                                                                \
	"[{\"key\": \"xmpp-modern-demo-days\", \"type\": \"int\", "            \
	"\"label\": \"days\", \"default\": 7}, "                               \
	"{\"key\": \"xmpp-modern-demo-on\", \"type\": \"bool\", "              \
	"\"label\": \"on\", \"default\": false}, "                             \
	"{\"key\": \"xmpp-modern-demo-mode\", \"type\": \"choice\", "          \
	"\"label\": \"mode\", \"default\": \"b\", \"choices\": "               \
	"[{\"value\": \"a\", \"label\": \"A\"}, "                              \
	"{\"value\": \"b\", \"label\": \"B\"}]}]"

#define VALID                                                                  \
	"{\"manifest_version\": 1, \"id\": \"xep0001-demo\", "                 \
	"\"name\": \"Demo\", \"description\": \"A demo.\", "                   \
	"\"xeps\": [{\"number\": 1, \"version\": \"1.2.0\"}], "                \
	"\"features\": [\"urn:example:demo\"], \"depends\": [], "              \
	"\"enabled_by_default\": true, "                                       \
	"\"stages\": [{\"phase\": \"handle\", \"stanzas\": [\"message\", "     \
	"\"iq\"], \"after\": []}, {\"phase\": \"compose\", \"stanzas\": "      \
	"[\"message\"]}], \"account_options\": " OPTIONS "}"

static void
test_valid(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmManifest) m = pxm_manifest_parse("demo.json", VALID, -1,
						      &error);

	g_assert_no_error(error);
	g_assert_nonnull(m);
	g_assert_cmpstr(m->id, ==, "xep0001-demo");
	g_assert_cmpstr(m->name, ==, "Demo");
	g_assert_cmpuint(m->n_xeps, ==, 1);
	g_assert_cmpuint(m->xeps[0].number, ==, 1);
	g_assert_cmpstr(m->xeps[0].version, ==, "1.2.0");
	g_assert_cmpstr(m->features[0], ==, "urn:example:demo");
	g_assert_null(m->features[1]);
	g_assert_null(m->depends[0]);
	g_assert_true(m->enabled_by_default);
	g_assert_cmpint(m->stages[PXM_PHASE_HANDLE].stanzas, ==,
			PXM_STANZA_MESSAGE | PXM_STANZA_IQ);
	g_assert_cmpint(m->stages[PXM_PHASE_COMPOSE].stanzas, ==,
			PXM_STANZA_MESSAGE);
	g_assert_cmpint(m->stages[PXM_PHASE_UNWRAP].stanzas, ==, 0);

	g_assert_cmpuint(m->n_options, ==, 3);
	g_assert_cmpstr(m->options[0].key, ==, "xmpp-modern-demo-days");
	g_assert_cmpint(m->options[0].type, ==, PXM_OPTION_INT);
	g_assert_cmpstr(m->options[0].label, ==, "days");
	g_assert_cmpint(m->options[0].default_int, ==, 7);
	g_assert_cmpint(m->options[1].type, ==, PXM_OPTION_BOOL);
	g_assert_false(m->options[1].default_bool);
	g_assert_cmpint(m->options[2].type, ==, PXM_OPTION_CHOICE);
	g_assert_cmpstr(m->options[2].default_choice, ==, "b");
	g_assert_cmpuint(m->options[2].n_choices, ==, 2);
	g_assert_cmpstr(m->options[2].choices[0].value, ==, "a");
	g_assert_cmpstr(m->options[2].choices[1].label, ==, "B");
}

/* Each invalid manifest: a replacement applied to VALID, the error code,
 * and the start of the message (file and key named). */
typedef struct {
	const char *name;
	const char *from;
	const char *to;
	PxmManifestError code;
	const char *message_prefix;
} Invalid;

static const Invalid invalid[] = {
	{ "not-json", "{\"manifest_version\"", "{{", PXM_MANIFEST_ERROR_PARSE,
	  "demo.json: not valid JSON" },
	{ "not-object", NULL, "[1, 2]", PXM_MANIFEST_ERROR_PARSE,
	  "demo.json: expected a JSON object" },
	{ "unknown-key", "\"depends\": []", "\"depends\": [], \"priority\": 5",
	  PXM_MANIFEST_ERROR_UNKNOWN_KEY, "demo.json: key 'priority'" },
	{ "unknown-nested-key", "\"version\": \"1.2.0\"",
	  "\"version\": \"1.2.0\", \"status\": \"draft\"",
	  PXM_MANIFEST_ERROR_UNKNOWN_KEY, "demo.json: key 'xeps[0].status'" },
	{ "unknown-stage-key", "\"after\": []",
	  "\"after\": [], \"priority\": 1", PXM_MANIFEST_ERROR_UNKNOWN_KEY,
	  "demo.json: key 'stages[0].priority'" },
	{ "missing-id", "\"id\": \"xep0001-demo\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'id'" },
	{ "missing-name", "\"name\": \"Demo\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'name'" },
	{ "missing-xeps",
	  "\"xeps\": [{\"number\": 1, \"version\": \"1.2.0\"}], ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'xeps'" },
	{ "missing-default", "\"enabled_by_default\": true, ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'enabled_by_default'" },
	{ "wrong-version", "\"manifest_version\": 1", "\"manifest_version\": 2",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'manifest_version'" },
	{ "bad-id", "\"xep0001-demo\"", "\"Demo Extension\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'id'" },
	{ "empty-name", "\"name\": \"Demo\"", "\"name\": \"  \"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'name'" },
	{ "name-not-string", "\"name\": \"Demo\"", "\"name\": 3",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'name'" },
	{ "xep-number-range", "\"number\": 1", "\"number\": 10000",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'xeps[0].number'" },
	{ "xep-number-string", "\"number\": 1", "\"number\": \"1\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'xeps[0].number'" },
	{ "xep-version", "\"1.2.0\"", "\"latest\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'xeps[0].version'" },
	{ "no-xeps", "[{\"number\": 1, \"version\": \"1.2.0\"}]", "[]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'xeps'" },
	{ "bad-feature", "\"urn:example:demo\"", "\"demo feature\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'features[0]'" },
	{ "bad-feature-word", "\"urn:example:demo\"", "\"demo\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'features[0]'" },
	{ "duplicate-feature", "[\"urn:example:demo\"]",
	  "[\"urn:example:demo\", \"urn:example:demo\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'features[1]'" },
	{ "features-not-array", "\"features\": [\"urn:example:demo\"]",
	  "\"features\": \"urn:example:demo\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'features'" },
	{ "default-not-bool", "\"enabled_by_default\": true",
	  "\"enabled_by_default\": \"yes\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'enabled_by_default'" },
	{ "self-dependency", "\"depends\": []",
	  "\"depends\": [\"xep0001-demo\"]", PXM_MANIFEST_ERROR_CYCLE,
	  "demo.json: key 'depends'" },
	{ "bad-phase", "\"phase\": \"handle\"", "\"phase\": \"display\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'stages[0].phase'" },
	{ "duplicate-phase", "\"phase\": \"compose\"", "\"phase\": \"handle\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'stages[1].phase'" },
	{ "bad-stanza", "[\"message\", \"iq\"]", "[\"message\", \"stream\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'stages[0].stanzas[1]'" },
	{ "no-stanzas", "[\"message\", \"iq\"]", "[]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'stages[0].stanzas'" },
	{ "missing-stanzas", "\"stanzas\": [\"message\", \"iq\"], ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'stages[0].stanzas'" },
	{ "after-self", "\"after\": []", "\"after\": [\"xep0001-demo\"]",
	  PXM_MANIFEST_ERROR_CYCLE, "demo.json: key 'stages[0].after'" },
	{ "after-not-id", "\"after\": []", "\"after\": [\"Carbons!\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'stages[0].after[0]'" },
	{ "bad-command", "\"depends\": []",
	  "\"depends\": [], \"commands\": [\"/correct\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'commands[0]'" },
	{ "commands-not-array", "\"depends\": []",
	  "\"depends\": [], \"commands\": \"correct\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'commands'" },
	{ "missing-manifest-version", "\"manifest_version\": 1, ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'manifest_version'" },
	{ "version-not-integer", "\"manifest_version\": 1",
	  "\"manifest_version\": \"1\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'manifest_version'" },
	{ "id-not-string", "\"id\": \"xep0001-demo\"", "\"id\": [1]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'id'" },
	{ "missing-description", "\"description\": \"A demo.\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'description'" },
	{ "description-null", "\"description\": \"A demo.\"",
	  "\"description\": null", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'description'" },
	{ "xeps-not-array", "[{\"number\": 1, \"version\": \"1.2.0\"}]",
	  "{\"number\": 1, \"version\": \"1.2.0\"}",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'xeps'" },
	{ "xep-not-object", "[{\"number\": 1, \"version\": \"1.2.0\"}]",
	  "[\"XEP-0001\"]", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'xeps[0]'" },
	{ "xep-missing-number", "\"number\": 1, ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'xeps[0].number'" },
	{ "xep-missing-version", ", \"version\": \"1.2.0\"", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'xeps[0].version'" },
	{ "feature-not-string", "\"urn:example:demo\"", "42",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'features[0]'" },
	{ "depends-not-array", "\"depends\": []",
	  "\"depends\": \"xep0002-other\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'depends'" },
	{ "depends-not-id", "\"depends\": []", "\"depends\": [\"Other\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'depends[0]'" },
	{ "duplicate-dependency", "\"depends\": []",
	  "\"depends\": [\"xep0002-other\", \"xep0002-other\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'depends[1]'" },
	{ "duplicate-command", "\"depends\": []",
	  "\"depends\": [], \"commands\": [\"demo\", \"demo\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'commands[1]'" },
	{ "stages-object",
	  "\"stages\": [{\"phase\": \"handle\", "
	  "\"stanzas\": [\"message\", \"iq\"], \"after\": []}, "
	  "{\"phase\": \"compose\", \"stanzas\": [\"message\"]}]",
	  "\"stages\": {\"phase\": \"handle\"}", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'stages'" },
	{ "stage-not-object",
	  "{\"phase\": \"compose\", \"stanzas\": "
	  "[\"message\"]}",
	  "\"compose\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'stages[1]'" },
	{ "missing-phase", "\"phase\": \"compose\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY, "demo.json: key 'stages[1].phase'" },
	{ "stanzas-not-array", "[\"message\", \"iq\"]", "\"message\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'stages[0].stanzas'" },
	{ "duplicate-stanza", "[\"message\", \"iq\"]",
	  "[\"message\", \"message\"]", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'stages[0].stanzas[1]'" },
	{ "after-not-array", "\"after\": []", "\"after\": \"xep0002-other\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'stages[0].after'" },
	/* Account options. */
	{ "options-not-array", OPTIONS, "{}", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options'" },
	{ "option-not-object", OPTIONS, "[\"days\"]",
	  PXM_MANIFEST_ERROR_BAD_VALUE, "demo.json: key 'account_options[0]'" },
	{ "option-unknown-key", "\"default\": 7}",
	  "\"default\": 7, \"min\": 0}", PXM_MANIFEST_ERROR_UNKNOWN_KEY,
	  "demo.json: key 'account_options[0].min'" },
	{ "option-missing-key", "\"key\": \"xmpp-modern-demo-days\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'account_options[0].key'" },
	{ "option-missing-type", "\"type\": \"bool\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'account_options[1].type'" },
	{ "option-missing-label", "\"label\": \"days\", ", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'account_options[0].label'" },
	{ "option-missing-default", ", \"default\": 7", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'account_options[0].default'" },
	{ "option-empty-label", "\"label\": \"days\"", "\"label\": \" \"",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].label'" },
	{ "option-key-not-string", "\"xmpp-modern-demo-days\"", "7",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].key'" },
	{ "option-key-prefix", "\"xmpp-modern-demo-days\"", "\"demo-days\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].key'" },
	{ "option-key-form", "\"xmpp-modern-demo-days\"",
	  "\"xmpp-modern-Demo Days\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].key'" },
	{ "option-key-own-switch", "\"xmpp-modern-demo-days\"",
	  "\"xmpp-modern-xep0001-demo\"", PXM_MANIFEST_ERROR_DUPLICATE,
	  "demo.json: key 'account_options[0].key'" },
	{ "option-key-twice", "\"xmpp-modern-demo-on\"",
	  "\"xmpp-modern-demo-days\"", PXM_MANIFEST_ERROR_DUPLICATE,
	  "demo.json: key 'account_options[1].key'" },
	{ "option-bad-type", "\"type\": \"int\"", "\"type\": \"float\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].type'" },
	{ "option-int-default-string", "\"default\": 7", "\"default\": \"7\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].default'" },
	{ "option-int-default-range", "\"default\": 7",
	  "\"default\": 4294967296", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[0].default'" },
	{ "option-bool-default-int", "\"default\": false", "\"default\": 0",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[1].default'" },
	{ "option-choices-on-bool", "\"default\": false}",
	  "\"default\": false, \"choices\": []}", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[1].choices'" },
	{ "option-choice-default-unknown", "\"default\": \"b\"",
	  "\"default\": \"c\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[2].default'" },
	{ "option-choice-default-not-string", "\"default\": \"b\"",
	  "\"default\": true", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[2].default'" },
	{ "option-choices-missing",
	  ", \"choices\": [{\"value\": \"a\", \"label\": \"A\"}, "
	  "{\"value\": \"b\", \"label\": \"B\"}]",
	  "", PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'account_options[2].choices'" },
	{ "option-choices-empty",
	  "[{\"value\": \"a\", \"label\": \"A\"}, "
	  "{\"value\": \"b\", \"label\": \"B\"}]",
	  "[]", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[2].choices'" },
	{ "option-choice-not-object", "{\"value\": \"a\", \"label\": \"A\"}",
	  "\"a\"", PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[2].choices[0]'" },
	{ "option-choice-unknown-key", "\"label\": \"A\"}",
	  "\"label\": \"A\", \"help\": \"x\"}", PXM_MANIFEST_ERROR_UNKNOWN_KEY,
	  "demo.json: key 'account_options[2].choices[0].help'" },
	{ "option-choice-missing-label", ", \"label\": \"B\"", "",
	  PXM_MANIFEST_ERROR_MISSING_KEY,
	  "demo.json: key 'account_options[2].choices[1].label'" },
	{ "option-choice-value-twice", "\"value\": \"b\"", "\"value\": \"a\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[2].choices[1].value'" },
	{ "option-choice-empty-value", "\"value\": \"a\"", "\"value\": \"\"",
	  PXM_MANIFEST_ERROR_BAD_VALUE,
	  "demo.json: key 'account_options[2].choices[0].value'" },
};

static void
test_invalid(gconstpointer data)
{
	const Invalid *c = data;
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmManifest) m = NULL;
	g_autofree char *text = NULL;

	if (c->from == NULL) {
		text = g_strdup(c->to);
	} else {
		const char *at = strstr(VALID, c->from);

		g_assert_nonnull(at);
		text = g_strdup_printf("%.*s%s%s", (int)(at - VALID), VALID,
				       c->to, at + strlen(c->from));
	}
	m = pxm_manifest_parse("demo.json", text, -1, &error);
	g_assert_null(m);
	g_assert_error(error, PXM_MANIFEST_ERROR, c->code);
	if (!g_str_has_prefix(error->message, c->message_prefix))
		g_error("'%s' does not start with '%s'", error->message,
			c->message_prefix);
}

/* --- Registry --------------------------------------------------------- */

static PxmVerdict
noop(PxmAccount *account, gpointer state, PxmStanza *st)
{
	return PXM_VERDICT_CONTINUE;
}

static PxmManifest *
manifest(const char *id, const char *depends, const char *after)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_strdup_printf(
		"{\"manifest_version\": 1, \"id\": \"%s\", \"name\": \"N\", "
		"\"description\": \"D\", \"xeps\": [{\"number\": 1, "
		"\"version\": \"1.0\"}], \"depends\": [%s], "
		"\"enabled_by_default\": true, \"stages\": [{\"phase\": "
		"\"handle\", \"stanzas\": [\"message\"], \"after\": [%s]}]}",
		id, depends, after);
	PxmManifest *m = pxm_manifest_parse(id, text, -1, &error);

	g_assert_no_error(error);
	return m;
}

#define CLASS(name, ident)                                                     \
	static const PxmExtensionClass name = {                                \
		.id = ident, .stages = { [PXM_PHASE_HANDLE] = noop }           \
	}

CLASS(class_a, "ext-a");
CLASS(class_b, "ext-b");
CLASS(class_c, "ext-c");
CLASS(class_d, "ext-d");

static char *
order_string(PxmRegistry *r, PxmPhase phase)
{
	GString *s = g_string_new(NULL);
	guint n;
	const guint *order = pxm_registry_get_order(r, phase, &n);

	for (guint i = 0; i < n; i++)
		g_string_append_printf(
			s, "%s%s", i > 0 ? " " : "",
			pxm_registry_peek(r, order[i])->manifest->id);
	return g_string_free(s, FALSE);
}

static void
test_order(void)
{
	g_autoptr(PxmRegistry) r = pxm_registry_new();
	g_autoptr(GError) error = NULL;
	g_autofree char *order = NULL;

	/* Added in an arbitrary order; c runs after d, a after c. */
	g_assert_true(pxm_registry_add(r, manifest("ext-a", "", "\"ext-c\""),
				       &class_a, &error));
	g_assert_true(pxm_registry_add(r, manifest("ext-c", "", "\"ext-d\""),
				       &class_c, &error));
	g_assert_true(pxm_registry_add(r, manifest("ext-b", "", ""), &class_b,
				       &error));
	g_assert_true(pxm_registry_add(r, manifest("ext-d", "", ""), &class_d,
				       &error));
	g_assert_true(pxm_registry_resolve(r, &error));
	g_assert_no_error(error);
	order = order_string(r, PXM_PHASE_HANDLE);
	/* b and d are free: id order; then c, then a. */
	g_assert_cmpstr(order, ==, "ext-b ext-d ext-c ext-a");
	g_free(order);
	order = order_string(r, PXM_PHASE_COMPOSE);
	g_assert_cmpstr(order, ==, "");
}

static void
test_cycle(void)
{
	g_autoptr(PxmRegistry) r = pxm_registry_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_registry_add(r, manifest("ext-a", "", "\"ext-b\""),
				       &class_a, NULL));
	g_assert_true(pxm_registry_add(r, manifest("ext-b", "", "\"ext-c\""),
				       &class_b, NULL));
	g_assert_true(pxm_registry_add(r, manifest("ext-c", "", "\"ext-a\""),
				       &class_c, NULL));
	g_assert_true(
		pxm_registry_add(r, manifest("ext-d", "", ""), &class_d, NULL));
	g_assert_false(pxm_registry_resolve(r, &error));
	g_assert_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_CYCLE);
	g_assert_nonnull(strstr(error->message, "ext-a, ext-b, ext-c"));
	g_assert_null(strstr(error->message, "ext-d"));
}

static void
test_depends_cycle(void)
{
	g_autoptr(PxmRegistry) r = pxm_registry_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_registry_add(r, manifest("ext-a", "\"ext-b\"", ""),
				       &class_a, NULL));
	g_assert_true(pxm_registry_add(r, manifest("ext-b", "\"ext-a\"", ""),
				       &class_b, NULL));
	g_assert_false(pxm_registry_resolve(r, &error));
	g_assert_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_CYCLE);
}

static void
test_unknown_dependency(void)
{
	g_autoptr(PxmRegistry) r = pxm_registry_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_registry_add(r, manifest("ext-a", "\"ext-z\"", ""),
				       &class_a, NULL));
	g_assert_false(pxm_registry_resolve(r, &error));
	g_assert_error(error, PXM_MANIFEST_ERROR,
		       PXM_MANIFEST_ERROR_DEPENDENCY);
	g_assert_true(
		g_str_has_prefix(error->message, "ext-a: key 'depends[0]'"));
}

static void
test_unknown_after(void)
{
	g_autoptr(PxmRegistry) r = pxm_registry_new();
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_registry_add(r, manifest("ext-a", "", "\"ext-z\""),
				       &class_a, NULL));
	g_assert_false(pxm_registry_resolve(r, &error));
	g_assert_error(error, PXM_MANIFEST_ERROR,
		       PXM_MANIFEST_ERROR_DEPENDENCY);
	g_assert_true(g_str_has_prefix(error->message, "ext-a: key 'stages'"));
	g_assert_nonnull(strstr(error->message, "'ext-z'"));
}

static void
test_mismatch(void)
{
	g_autoptr(PxmRegistry) r = pxm_registry_new();
	g_autoptr(GError) error = NULL;
	static const PxmExtensionClass no_stages = { .id = "ext-a" };

	g_assert_false(pxm_registry_add(r, manifest("ext-a", "", ""), &class_b,
					&error));
	g_assert_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_MISMATCH);
	g_clear_error(&error);
	g_assert_false(pxm_registry_add(r, manifest("ext-a", "", ""),
					&no_stages, &error));
	g_assert_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_MISMATCH);
	g_assert_nonnull(strstr(error->message, "'handle'"));
	g_clear_error(&error);
	g_assert_true(pxm_registry_add(r, manifest("ext-a", "", ""), &class_a,
				       &error));
	g_assert_false(pxm_registry_add(r, manifest("ext-a", "", ""), &class_a,
					&error));
	g_assert_error(error, PXM_MANIFEST_ERROR, PXM_MANIFEST_ERROR_DUPLICATE);
}

static PurpleCmdRet
noop_command(PxmAccount *account, gpointer state, PurpleConversation *conv,
	     const char *args, char **error)
{
	return PURPLE_CMD_RET_OK;
}

static const PxmCommand commands_ab[] = {
	{ "alpha", "alpha: help", TRUE, FALSE, noop_command },
	{ "beta", "beta: help", TRUE, TRUE, noop_command },
	{ NULL },
};

static const PxmExtensionClass class_commands = {
	.id = "ext-a",
	.stages = { [PXM_PHASE_HANDLE] = noop },
	.commands = commands_ab,
};

static PxmManifest *
manifest_with_commands(const char *commands)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_strdup_printf(
		"{\"manifest_version\": 1, \"id\": \"ext-a\", \"name\": \"N\", "
		"\"description\": \"D\", \"xeps\": [{\"number\": 1, "
		"\"version\": \"1.0\"}], \"commands\": [%s], "
		"\"enabled_by_default\": true, \"stages\": [{\"phase\": "
		"\"handle\", \"stanzas\": [\"message\"]}]}",
		commands);
	PxmManifest *m = pxm_manifest_parse("ext-a", text, -1, &error);

	g_assert_no_error(error);
	return m;
}

/* The manifest says which commands an extension adds; the C class must
 * implement exactly those. */
static void
test_commands(void)
{
	g_autoptr(GError) error = NULL;

	{
		g_autoptr(PxmRegistry) r = pxm_registry_new();

		g_assert_true(pxm_registry_add(
			r, manifest_with_commands("\"beta\", \"alpha\""),
			&class_commands, &error));
		g_assert_no_error(error);
		g_assert_cmpstr(pxm_registry_peek(r, 0)->manifest->commands[1],
				==, "alpha");
	}
	{
		g_autoptr(PxmRegistry) r = pxm_registry_new();

		g_assert_false(
			pxm_registry_add(r, manifest_with_commands("\"alpha\""),
					 &class_commands, &error));
		g_assert_error(error, PXM_MANIFEST_ERROR,
			       PXM_MANIFEST_ERROR_MISMATCH);
		g_assert_nonnull(strstr(error->message, "/beta"));
		g_clear_error(&error);
	}
	{
		g_autoptr(PxmRegistry) r = pxm_registry_new();

		g_assert_false(pxm_registry_add(
			r,
			manifest_with_commands(
				"\"alpha\", \"beta\", \"gamma\""),
			&class_commands, &error));
		g_assert_error(error, PXM_MANIFEST_ERROR,
			       PXM_MANIFEST_ERROR_MISMATCH);
	}
}

static PxmManifest *
manifest_with_option(const char *id, const char *key)
{
	g_autoptr(GError) error = NULL;
	g_autofree char *text = g_strdup_printf(
		"{\"manifest_version\": 1, \"id\": \"%s\", \"name\": \"N\", "
		"\"description\": \"D\", \"xeps\": [{\"number\": 1, "
		"\"version\": \"1.0\"}], \"enabled_by_default\": true, "
		"\"stages\": [{\"phase\": \"handle\", \"stanzas\": "
		"[\"message\"]}], \"account_options\": [{\"key\": \"%s\", "
		"\"type\": \"bool\", \"label\": \"L\", \"default\": true}]}",
		id, key);
	g_autofree char *source = g_strconcat(id, ".json", NULL);
	PxmManifest *m = pxm_manifest_parse(source, text, -1, &error);

	g_assert_no_error(error);
	return m;
}

/* Account settings are one namespace: an option's key is no other
 * option's, nor an extension switch's (xmpp-modern-<id>), whichever
 * extension comes first. */
static void
test_option_keys(void)
{
	static const struct {
		const char *key_a, *key_b, *message;
	} cases[] = {
		{ "xmpp-modern-same", "xmpp-modern-same",
		  "ext-b.json: key 'account_options[0].key': "
		  "'xmpp-modern-same' is already the key of an account "
		  "option of ext-a.json" },
		{ "xmpp-modern-a-one", "xmpp-modern-ext-a",
		  "ext-b.json: key 'account_options[0].key': "
		  "'xmpp-modern-ext-a' is already the key of the switch of "
		  "ext-a.json" },
		{ "xmpp-modern-ext-b", "xmpp-modern-b-one",
		  "ext-b.json: key 'id': the switch 'xmpp-modern-ext-b' has "
		  "the key of an account option of ext-a.json" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(PxmRegistry) r = pxm_registry_new();
		g_autoptr(GError) error = NULL;

		g_assert_true(pxm_registry_add(
			r, manifest_with_option("ext-a", cases[i].key_a),
			&class_a, &error));
		g_assert_no_error(error);
		g_assert_false(pxm_registry_add(
			r, manifest_with_option("ext-b", cases[i].key_b),
			&class_b, &error));
		g_assert_error(error, PXM_MANIFEST_ERROR,
			       PXM_MANIFEST_ERROR_DUPLICATE);
		g_assert_cmpstr(error->message, ==, cases[i].message);
		g_assert_cmpuint(pxm_registry_get_n(r), ==, 1);
	}
	{
		g_autoptr(PxmRegistry) r = pxm_registry_new();

		g_assert_true(pxm_registry_add(
			r, manifest_with_option("ext-a", "xmpp-modern-a-one"),
			&class_a, NULL));
		g_assert_true(pxm_registry_add(
			r, manifest_with_option("ext-b", "xmpp-modern-b-one"),
			&class_b, NULL));
		g_assert_true(
			pxm_registry_lookup_option(r, "xmpp-modern-b-one") ==
			&pxm_registry_peek(r, 1)->manifest->options[0]);
		g_assert_null(
			pxm_registry_lookup_option(r, "xmpp-modern-ext-a"));
	}
}

/* The options the plugin's extensions declare: the keys users' settings
 * already use, with the defaults they had when the glue hard-coded them;
 * extensions read them with the manifest's default (no libpurple account
 * here, so the default is what they get). */
static void
test_builtin_options(PxmTestAccount *t, gconstpointer data)
{
	PxmRegistry *r = pxm_host_get_registry();
	const PxmManifestOption *o;

	o = pxm_registry_lookup_option(r, "xmpp-modern-mam-days");
	g_assert_nonnull(o);
	g_assert_cmpint(o->type, ==, PXM_OPTION_INT);
	g_assert_cmpint(o->default_int, ==, 7);
	g_assert_cmpint(
		pxm_account_get_option_int(t->account, "xmpp-modern-mam-days"),
		==, 7);

	o = pxm_registry_lookup_option(r, "xmpp-modern-upload-mode");
	g_assert_nonnull(o);
	g_assert_cmpint(o->type, ==, PXM_OPTION_CHOICE);
	g_assert_cmpuint(o->n_choices, ==, 3);
	g_assert_cmpstr(pxm_account_get_option_choice(
				t->account, "xmpp-modern-upload-mode"),
			==, "auto");

	g_assert_true(pxm_account_get_option_bool(t->account,
						  "xmpp-modern-omemo-default"));
	g_assert_cmpint(pxm_account_get_option_int(
				t->account, "xmpp-modern-self-ping-quiet"),
			==, 900);

	/* Asking for an undeclared option, or as another type, is a
	 * programmer error. */
	g_test_expect_message("xmpp-modern", G_LOG_LEVEL_CRITICAL,
			      "*'xmpp-modern-nope'*");
	g_assert_cmpint(
		pxm_account_get_option_int(t->account, "xmpp-modern-nope"), ==,
		0);
	g_test_assert_expected_messages();
	g_test_expect_message("xmpp-modern", G_LOG_LEVEL_CRITICAL,
			      "*'xmpp-modern-mam-days'*");
	g_assert_false(pxm_account_get_option_bool(t->account,
						   "xmpp-modern-mam-days"));
	g_test_assert_expected_messages();
}

static void
setup_account(PxmTestAccount *t, gconstpointer data)
{
	pxm_test_account_setup(t, "juliet@capulet.example/balcony", FALSE);
}

/* Every manifest the plugin embeds loads, pairs with its class and
 * orders without a cycle. */
static void
test_builtin(void)
{
	g_autoptr(GError) error = NULL;
	PxmRegistry *r;

	g_assert_true(pxm_host_init(&error));
	g_assert_no_error(error);
	r = pxm_host_get_registry();
	g_assert_nonnull(pxm_registry_lookup(r, "xep0359-stanza-id"));
	for (guint i = 0; i < pxm_registry_get_n(r); i++) {
		const PxmManifest *m = pxm_registry_peek(r, i)->manifest;
		g_autofree char *path = g_build_filename(
			PXM_SOURCE_ROOT, "plugin", "extensions", m->id,
			"manifest.json", NULL);

		/* The id equals the folder name. */
		g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	}
	pxm_host_shutdown();
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	g_test_add_func("/manifest/parse/valid", test_valid);
	for (guint i = 0; i < G_N_ELEMENTS(invalid); i++) {
		g_autofree char *path = g_strdup_printf(
			"/manifest/parse/invalid/%s", invalid[i].name);
		g_test_add_data_func(path, &invalid[i], test_invalid);
	}
	g_test_add_func("/manifest/registry/order", test_order);
	g_test_add_func("/manifest/registry/cycle", test_cycle);
	g_test_add_func("/manifest/registry/depends-cycle", test_depends_cycle);
	g_test_add_func("/manifest/registry/unknown-dependency",
			test_unknown_dependency);
	g_test_add_func("/manifest/registry/unknown-after", test_unknown_after);
	g_test_add_func("/manifest/registry/mismatch", test_mismatch);
	g_test_add_func("/manifest/registry/commands", test_commands);
	g_test_add_func("/manifest/registry/option-keys", test_option_keys);
	g_test_add_func("/manifest/builtin", test_builtin);
	g_test_add("/manifest/builtin/options", PxmTestAccount, NULL,
		   setup_account, test_builtin_options,
		   pxm_test_account_teardown);
	return g_test_run();
}

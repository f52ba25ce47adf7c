// SPDX-License-Identifier: GPL-3.0-or-later
#include "jid.h"
#include "pxm-test.h"

static void
test_bare(void)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "alice@example.org", "alice@example.org" },
		{ "Alice@Example.ORG/Pidgin", "alice@example.org" },
		{ "example.org", "example.org" },
		{ "example.org.", "example.org" },
		{ "room@conference.example.org/Nick/With/Slashes",
		  "room@conference.example.org" },
		{ "ÉLODIE@exemple.fr", "élodie@exemple.fr" },
		{ "alice@example.org/res@with-at", "alice@example.org" },
		{ "", NULL },
		{ "@example.org", NULL },
		{ "alice@", NULL },
		{ "alice@example.org/", NULL },
		{ "a@b@c", NULL },
		{ "\xff\xfe@example.org", NULL },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *bare = pxm_jid_bare_dup(cases[i].in);

		g_assert_cmpstr(bare, ==, cases[i].out);
	}
	g_assert_null(pxm_jid_bare_dup(NULL));
}

static void
test_normalize(void)
{
	g_autofree char *a = pxm_jid_normalize_dup("Alice@Example.org/PC");
	g_autofree char *b = pxm_jid_normalize_dup("Example.org");

	/* Resources are case-sensitive (RFC 7622 3.4). */
	g_assert_cmpstr(a, ==, "alice@example.org/PC");
	g_assert_cmpstr(b, ==, "example.org");
	g_assert_cmpstr(pxm_jid_resource_peek("a@b/c/d"), ==, "c/d");
	g_assert_null(pxm_jid_resource_peek("a@b"));
}

static void
test_equal(void)
{
	g_assert_true(
		pxm_jid_bare_equal("ALICE@example.org/x", "alice@EXAMPLE.org"));
	g_assert_false(pxm_jid_bare_equal("alice@example.org",
					  "alice@example.org.evil"));
	g_assert_false(pxm_jid_bare_equal(NULL, NULL));
	g_assert_true(pxm_jid_equal("a@B/R", "A@b/R"));
	g_assert_false(pxm_jid_equal("a@b/R", "a@b/r"));
	g_assert_false(pxm_jid_equal("a@b/R", "a@b"));
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	g_test_add_func("/jid/bare", test_bare);
	g_test_add_func("/jid/normalize", test_normalize);
	g_test_add_func("/jid/equal", test_equal);
	return g_test_run();
}

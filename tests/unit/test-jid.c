// SPDX-License-Identifier: GPL-3.0-or-later
#include "host.h"
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

/* The allocation-free check agrees with pxm_jid_bare_dup(). */
static void
test_normal_bare_length(void)
{
	static const char *const cases[] = {
		"juliet@example.com",
		"juliet@example.com/balcony",
		"example.com",
		"example.com/r",
		"Juliet@example.com",
		"juliet@Example.com",
		"juliet@example.com.",
		"@example.com",
		"juliet@",
		"juliet@example.com/",
		"a@b@c",
		"j\xc3\xbcliet@x",
		"juliet@example.com/r\xc3\xa9sum\xc3\xa9",
		"juliet@x/r\xff",
		"juliet@x/a@b/c",
		"",
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *bare = pxm_jid_bare_dup(cases[i]);
		gsize len = pxm_jid_normal_bare_length(cases[i]);

		if (len > 0) {
			g_assert_nonnull(bare);
			g_assert_cmpuint(strlen(bare), ==, len);
			g_assert_true(strncmp(bare, cases[i], len) == 0);
		}
	}
	g_assert_cmpuint(pxm_jid_normal_bare_length("juliet@example.com/x"), ==,
			 18);
	g_assert_cmpuint(pxm_jid_normal_bare_length("Juliet@example.com"), ==,
			 0);
	g_assert_cmpuint(pxm_jid_normal_bare_length("juliet@x/r\xff"), ==, 0);
}

/* The record's cache follows from/to as they change, long JIDs too. */
static void
test_stanza_bare(void)
{
	xmlnode *m = xmlnode_from_str(
		"<message from='Juliet@Example.COM/balcony' "
		"to='romeo@example.net/garden'><body>x</body></message>",
		-1);
	g_autofree char *local = g_strnfill(300, 'a');
	g_autofree char *long_jid = g_strdup_printf("%s@example.org/r", local);
	PxmStanza st;

	pxm_stanza_init(&st, m, FALSE);
	g_assert_cmpstr(pxm_stanza_bare_from(&st), ==, "juliet@example.com");
	g_assert_cmpstr(pxm_stanza_bare_from(&st), ==, "juliet@example.com");
	g_assert_cmpstr(pxm_stanza_bare_to(&st), ==, "romeo@example.net");
	st.from = "nurse@example.com/kitchen";
	g_assert_cmpstr(pxm_stanza_bare_from(&st), ==, "nurse@example.com");
	st.from = "a@b@c";
	g_assert_null(pxm_stanza_bare_from(&st));
	st.from = NULL;
	g_assert_null(pxm_stanza_bare_from(&st));
	st.to = long_jid;
	g_assert_cmpuint(strlen(pxm_stanza_bare_to(&st)), ==,
			 strlen(long_jid) - 2);
	st.to = "romeo@example.net";
	g_assert_cmpstr(pxm_stanza_bare_to(&st), ==, "romeo@example.net");
	st.to = long_jid;
	g_assert_nonnull(pxm_stanza_bare_to(&st));
	pxm_stanza_clear(&st);
	xmlnode_free(m);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	g_test_add_func("/jid/bare", test_bare);
	g_test_add_func("/jid/normalize", test_normalize);
	g_test_add_func("/jid/equal", test_equal);
	g_test_add_func("/jid/normal-bare-length", test_normal_bare_length);
	g_test_add_func("/jid/stanza-bare", test_stanza_bare);
	return g_test_run();
}

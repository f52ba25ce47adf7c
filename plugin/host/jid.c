// SPDX-License-Identifier: GPL-3.0-or-later
#include "jid.h"

#include <string.h>

/* RFC 7622 section 3.1: each part is at most 1023 octets. */
#define PXM_JID_PART_MAX 1023

const char *
pxm_jid_resource_peek(const char *jid)
{
	const char *slash;

	/* The resource starts at the first '/': neither the local part nor the
	 * domain may contain one, while the resource may contain '@'. */
	slash = jid != NULL ? strchr(jid, '/') : NULL;
	return slash != NULL ? slash + 1 : NULL;
}

static char *
fold_part(const char *part, gssize len)
{
	g_autofree char *nfkc = NULL;
	gssize i;

	if (len == 0 || len > PXM_JID_PART_MAX)
		return NULL;
	/* Most JIDs are ASCII: lower-casing is all NFKC + case folding does
	 * to them, without the allocations (this runs for every stanza). */
	for (i = 0; i < len && (guchar)part[i] < 0x80; i++)
		;
	if (i == len)
		return g_ascii_strdown(part, len);
	if (!g_utf8_validate(part, len, NULL))
		return NULL;
	nfkc = g_utf8_normalize(part, len, G_NORMALIZE_NFKC);
	if (nfkc == NULL)
		return NULL;
	return g_utf8_casefold(nfkc, -1);
}

/* Splits and normalises; returns FALSE on a malformed JID. */
static gboolean
split(const char *jid, char **node, char **domain, const char **resource)
{
	const char *slash, *at, *dstart, *dend;
	g_autofree char *n = NULL;
	g_autofree char *d = NULL;

	if (jid == NULL || *jid == '\0')
		return FALSE;
	slash = strchr(jid, '/');
	dend = slash != NULL ? slash : jid + strlen(jid);
	at = memchr(jid, '@', dend - jid);
	dstart = at != NULL ? at + 1 : jid;
	if (at != NULL) {
		n = fold_part(jid, at - jid);
		if (n == NULL)
			return FALSE;
	}
	/* A trailing dot on the domain is not significant (RFC 7622 3.2). */
	if (dend > dstart && dend[-1] == '.')
		dend--;
	d = fold_part(dstart, dend - dstart);
	if (d == NULL || strchr(d, '@') != NULL)
		return FALSE;
	if (slash != NULL &&
	    (slash[1] == '\0' || strlen(slash + 1) > PXM_JID_PART_MAX ||
	     !g_utf8_validate(slash + 1, -1, NULL)))
		return FALSE;
	*node = g_steal_pointer(&n);
	*domain = g_steal_pointer(&d);
	*resource = slash != NULL ? slash + 1 : NULL;
	return TRUE;
}

/* Bytes that end the fast path of normal_bare_length(): NUL, '/', '@',
 * upper case and non-ASCII (a table: this runs several times for every
 * message). */
static const guint8 special[256] = {
	[0] = 1,   ['/'] = 1, ['@'] = 1, ['A'] = 1, ['B'] = 1,
	['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1,
	['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
	['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1,
	['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1,
	['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, [0x80 ... 0xff] = 1,
};

/* A resource: non-empty, at most 1023 octets, valid UTF-8. */
static gboolean
valid_resource(const char *resource)
{
	const char *p = resource;

	for (; *p != '\0' && (guchar)*p < 0x80; p++)
		;
	if (*p != '\0')
		return strlen(resource) <= PXM_JID_PART_MAX &&
		       g_utf8_validate(resource, -1, NULL);
	return p > resource && p - resource <= PXM_JID_PART_MAX;
}

gsize
pxm_jid_normal_bare_length(const char *jid)
{
	const char *p = jid, *at = NULL;

	for (;;) {
		while (!special[(guchar)*p])
			p++;
		if (*p != '@' || at != NULL)
			break;
		at = p++;
	}
	if (*p != '\0' && *p != '/')
		return 0; /* upper case, non-ASCII or a second '@' */
	if (p == jid || at == jid || (at != NULL && at + 1 == p) ||
	    p[-1] == '.' || (at != NULL && at - jid > PXM_JID_PART_MAX) ||
	    p - (at != NULL ? at + 1 : jid) > PXM_JID_PART_MAX)
		return 0;
	if (*p == '/' && !valid_resource(p + 1))
		return 0;
	return p - jid;
}

char *
pxm_jid_bare_dup(const char *jid)
{
	g_autofree char *node = NULL;
	g_autofree char *domain = NULL;
	const char *resource;
	gsize len;

	if (jid != NULL && (len = pxm_jid_normal_bare_length(jid)) > 0)
		return g_strndup(jid, len);
	if (!split(jid, &node, &domain, &resource))
		return NULL;
	if (node != NULL)
		return g_strconcat(node, "@", domain, NULL);
	return g_steal_pointer(&domain);
}

char *
pxm_jid_normalize_dup(const char *jid)
{
	g_autofree char *node = NULL;
	g_autofree char *domain = NULL;
	const char *resource;

	if (jid != NULL && pxm_jid_normal_bare_length(jid) > 0)
		return g_strdup(jid);
	if (!split(jid, &node, &domain, &resource))
		return NULL;
	return g_strconcat(node != NULL ? node : "", node != NULL ? "@" : "",
			   domain, resource != NULL ? "/" : "",
			   resource != NULL ? resource : "", NULL);
}

gboolean
pxm_jid_bare_equal(const char *a, const char *b)
{
	g_autofree char *ba = pxm_jid_bare_dup(a);
	g_autofree char *bb = pxm_jid_bare_dup(b);

	return ba != NULL && bb != NULL && strcmp(ba, bb) == 0;
}

gboolean
pxm_jid_equal(const char *a, const char *b)
{
	g_autofree char *na = pxm_jid_normalize_dup(a);
	g_autofree char *nb = pxm_jid_normalize_dup(b);

	return na != NULL && nb != NULL && strcmp(na, nb) == 0;
}

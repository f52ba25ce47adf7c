// SPDX-License-Identifier: GPL-3.0-or-later
#include "pep.h"

#include <string.h>

#include "jid.h"
#include "namespaces.h"

#define CATEGORY "xmpp-modern"

struct PxmPepProbe {
	char *bare;     /* normalised */
	char *domain;   /* normalised */
	char *prpl_id;  /* the prpl's query to the domain, until answered */
	char *probe_id; /* ours to the bare JID, until answered */
	gboolean seen_prpl_query;
	gboolean has_pep;
};

PxmPepProbe *
pxm_pep_probe_new(const char *account_jid)
{
	g_autofree char *bare = pxm_jid_bare_dup(account_jid);
	const char *at = bare != NULL ? strchr(bare, '@') : NULL;
	PxmPepProbe *probe;

	if (at == NULL)
		return NULL;
	probe = g_new0(PxmPepProbe, 1);
	probe->domain = g_strdup(at + 1);
	probe->bare = g_steal_pointer(&bare);
	return probe;
}

void
pxm_pep_probe_free(PxmPepProbe *probe)
{
	if (probe == NULL)
		return;
	g_free(probe->bare);
	g_free(probe->domain);
	g_free(probe->prpl_id);
	g_free(probe->probe_id);
	g_free(probe);
}

gboolean
pxm_pep_probe_has_pep(const PxmPepProbe *probe)
{
	return probe != NULL && probe->has_pep;
}

/* A plain disco#info query (no node) in @iq, or NULL. */
static xmlnode *
disco_info_query(xmlnode *iq)
{
	xmlnode *query = xmlnode_get_child_with_namespace(iq, "query",
							  PXM_NS_DISCO_INFO);

	if (query == NULL || xmlnode_get_attrib(query, "node") != NULL)
		return NULL;
	return query;
}

static gboolean
is_iq(xmlnode *stanza, const char *type)
{
	return stanza != NULL && stanza->type == XMLNODE_TYPE_TAG &&
	       g_str_equal(stanza->name, "iq") &&
	       g_strcmp0(xmlnode_get_attrib(stanza, "type"), type) == 0;
}

static xmlnode *
find_pep_identity(xmlnode *query)
{
	for (xmlnode *c = query->child; c != NULL; c = c->next)
		if (c->type == XMLNODE_TYPE_TAG &&
		    g_str_equal(c->name, "identity") &&
		    g_strcmp0(xmlnode_get_attrib(c, "category"), "pubsub") ==
			    0 &&
		    g_strcmp0(xmlnode_get_attrib(c, "type"), "pep") == 0)
			return c;
	return NULL;
}

xmlnode *
pxm_pep_probe_sending(PxmPepProbe *probe, xmlnode *stanza)
{
	const char *id;
	xmlnode *iq;
	g_autofree char *probe_id = NULL;

	g_return_val_if_fail(probe != NULL, NULL);
	if (probe->seen_prpl_query || !is_iq(stanza, "get") ||
	    disco_info_query(stanza) == NULL ||
	    !pxm_jid_equal(xmlnode_get_attrib(stanza, "to"), probe->domain))
		return NULL;
	id = xmlnode_get_attrib(stanza, "id");
	if (id == NULL)
		return NULL;
	/* Only the prpl's login query: later ones (a user browsing the
	 * server) get the server's answer as it is. */
	probe->seen_prpl_query = TRUE;
	probe->prpl_id = g_strdup(id);

	probe_id = g_strdup_printf("pxm-pep-%08x", g_random_int());
	iq = xmlnode_new("iq");
	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "id", probe_id);
	xmlnode_set_attrib(iq, "to", probe->bare);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	probe->probe_id = g_steal_pointer(&probe_id);
	return iq;
}

/* The answer to our query to the bare JID. */
static gboolean
probe_answered(PxmPepProbe *probe, xmlnode *stanza)
{
	const char *from = xmlnode_get_attrib(stanza, "from");
	const char *type = xmlnode_get_attrib(stanza, "type");
	xmlnode *query;

	/* RFC 6120 §8.1.2.1: no 'from' means the account itself. Anyone else
	 * answering our id is not the account's PEP service. */
	if (from != NULL && !pxm_jid_equal(from, probe->bare)) {
		purple_debug_warning(CATEGORY,
				     "pep: answer to our disco#info of the "
				     "account from another JID, ignored\n");
		return FALSE;
	}
	if (g_strcmp0(type, "result") != 0 && g_strcmp0(type, "error") != 0)
		return FALSE;
	g_clear_pointer(&probe->probe_id, g_free);
	query = g_str_equal(type, "result") ? disco_info_query(stanza) : NULL;
	/* XEP-0163 §4: the account's bare JID has the pubsub/pep identity. */
	probe->has_pep = query != NULL && find_pep_identity(query) != NULL;
	purple_debug_info(CATEGORY, "pep: the account %s PEP\n",
			  probe->has_pep ? "announces" : "does not announce");
	return TRUE;
}

/* The server domain's answer to the prpl's login query. */
static void
domain_answered(PxmPepProbe *probe, xmlnode *stanza)
{
	xmlnode *query;
	xmlnode *identity;

	/* The prpl itself only reads an answer from the domain: anything else
	 * with that id is left alone and the real answer still awaited. */
	if (!pxm_jid_equal(xmlnode_get_attrib(stanza, "from"), probe->domain))
		return;
	g_clear_pointer(&probe->prpl_id, g_free);
	query = is_iq(stanza, "result") ? disco_info_query(stanza) : NULL;
	if (query == NULL || find_pep_identity(query) != NULL)
		return;
	if (probe->probe_id != NULL) {
		/* Servers answer in order in practice; if ours is late, PEP
		 * stays off for this session as without us. */
		purple_debug_info(CATEGORY,
				  "pep: the server answered before the "
				  "account; PEP stays off\n");
		return;
	}
	if (!probe->has_pep)
		return;
	identity = xmlnode_new_child(query, "identity");
	/* The prpl walks identities with xmlnode_get_next_twin(), which
	 * wants the namespace of the parsed siblings. */
	xmlnode_set_namespace(identity, xmlnode_get_namespace(query));
	xmlnode_set_attrib(identity, "category", "pubsub");
	xmlnode_set_attrib(identity, "type", "pep");
	purple_debug_info(CATEGORY, "pep: the account announces PEP; telling "
				    "prpl-jabber\n");
}

gboolean
pxm_pep_probe_receiving(PxmPepProbe *probe, xmlnode *stanza)
{
	const char *id;

	g_return_val_if_fail(probe != NULL, FALSE);
	if (stanza == NULL || stanza->type != XMLNODE_TYPE_TAG ||
	    !g_str_equal(stanza->name, "iq"))
		return FALSE;
	id = xmlnode_get_attrib(stanza, "id");
	if (id == NULL)
		return FALSE;
	if (g_strcmp0(id, probe->probe_id) == 0)
		return probe_answered(probe, stanza);
	if (g_strcmp0(id, probe->prpl_id) == 0 &&
	    (is_iq(stanza, "result") || is_iq(stanza, "error")))
		domain_answered(probe, stanza);
	return FALSE;
}

// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The OMEMO unit tests' little network: in-process accounts (peers) with
 * the OMEMO extension on, a PEP service (publish, items by id or the
 * first), and message delivery between them.  Delivery is queued: tests
 * pump it, all of it or IQ answers only.
 */
#pragma once

#include "extension.h"

G_BEGIN_DECLS

typedef struct {
	char *jid; /* full */
	char *dir;
	PxmAccount *account;
	GPtrArray *sent;  /* XML strings */
	GPtrArray *shown; /* bodies that passed the pipeline */
} PxmTestPeer;

typedef struct {
	PxmTestPeer *to;
	xmlnode *node;
} PxmTestDelivery;

/* What is queued, in order (PxmTestDelivery*). */
extern GQueue pxm_test_deliveries;
/* "owner node" -> GHashTable (item id -> payload xmlnode). */
extern GHashTable *pxm_test_pep;
/* Every peer (PxmTestPeer*), freed by pxm_test_net_clear(). */
extern GPtrArray *pxm_test_peers;

/* A room the test plays itself (test-xep0384-omemo-rooms.c): IQs and
 * messages to pxm_test_room go to these instead of the router. */
extern const char *pxm_test_room;
extern xmlnode *(*pxm_test_room_iq)(xmlnode *iq);
extern void (*pxm_test_room_message)(PxmTestPeer *sender, xmlnode *stanza);
/* TRUE: the PEP service refuses a publish whose publish-options carry
 * pubsub#max_items (resource-constraint), as ejabberd 23.01 does. */
extern gboolean pxm_test_pep_refuses_max_items;

/** pxm_test_net_init: an empty PEP service, no peers. */
void pxm_test_net_init(void);

/** pxm_test_net_clear: drops what is queued, the peers, the PEP service,
 * the room hooks. */
void pxm_test_net_clear(void);

/** pxm_test_peer_new: an account @jid (full) with OMEMO on, in a fresh
 * store. */
PxmTestPeer *pxm_test_peer_new(const char *jid);

/** pxm_test_peer_receive: @node reaches @p (IQ answers through its tracker,
 * the rest through the incoming pipeline; what would be shown is noted
 * in p->shown). */
void pxm_test_peer_receive(PxmTestPeer *p, xmlnode *node);

/** pxm_test_iq_reply: (transfer full): an answer of @type to @iq, from
 * @from (nullable). */
xmlnode *pxm_test_iq_reply(xmlnode *iq, const char *from, const char *type);

/** pxm_test_pump: delivers what is queued, until nothing is left. */
void pxm_test_pump(void);

/** pxm_test_pump_iqs: delivers IQ answers only.
 * Returns: (transfer container): the messages left (PxmTestDelivery*). */
GPtrArray *pxm_test_pump_iqs(void);

G_END_DECLS

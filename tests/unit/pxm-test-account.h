// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The fixture most unit tests share: the host with its extensions loaded,
 * one PxmAccount (no libpurple account) with a store in a temporary
 * folder and a send function that records what leaves.
 */
#pragma once

#include "host.h"

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(xmlnode, xmlnode_free)

/**
 * PxmTestAccount:
 * @dir: the temporary folder (removed by teardown)
 * @store_path: the store's file in it
 * @account: the account (NULL between close and open)
 * @sent: (element-type utf8): every stanza sent, as XML, in order
 *
 * Use it as a test's Fixture, or embed it in one.
 */
typedef struct {
	char *dir;
	char *store_path;
	PxmAccount *account;
	GPtrArray *sent;
	/*< private >*/
	char *jid;
	gboolean glue;
} PxmTestAccount;

/**
 * pxm_test_account_setup:
 * @jid: the account's full JID
 * @glue: TRUE to send as the glue does (the outgoing pipeline runs on
 *   what an extension sends, before it is recorded); FALSE to record it
 *   as it is
 *
 * Starts the host and opens the account with every extension off.
 */
void pxm_test_account_setup(PxmTestAccount *t, const char *jid, gboolean glue);

/**
 * pxm_test_account_teardown:
 * Frees the account, shuts the host down, removes the folder.  Has the
 * GTest fixture function signature (@data unused).
 */
void pxm_test_account_teardown(PxmTestAccount *t, gconstpointer data);

/** pxm_test_account_close: frees the account, keeping the store file. */
void pxm_test_account_close(PxmTestAccount *t);

/** pxm_test_account_open: a new account on the same store file. */
void pxm_test_account_open(PxmTestAccount *t);

/** pxm_test_extension_index: the registry index of extension @id. */
guint pxm_test_extension_index(const char *id);

/** pxm_test_account_activate: starts extension @id (asserts it starts). */
void pxm_test_account_activate(PxmTestAccount *t, const char *id);

/** pxm_test_account_state: (transfer none): extension @id's state. */
gpointer pxm_test_account_state(PxmTestAccount *t, const char *id);

/** pxm_test_parse: (transfer full): @xml parsed (asserts it parses). */
xmlnode *pxm_test_parse(const char *xml);

/**
 * pxm_test_receive_facts:
 * @html: (out) (optional): the stanza's html fact afterwards
 * @body: (out) (optional): its body fact afterwards
 *
 * Runs @xml through the incoming pipeline.
 *
 * Returns: the pipeline's verdict.
 */
PxmVerdict pxm_test_receive_facts(PxmTestAccount *t, const char *xml,
				  char **html, char **body);

/** pxm_test_receive: pxm_test_receive_facts() without the facts. */
PxmVerdict pxm_test_receive(PxmTestAccount *t, const char *xml);

/**
 * pxm_test_receive_forwarded:
 * @inner_xml: the forwarded message
 * @timestamp: its original time, 0 for none
 *
 * Runs the incoming phases on what an unwrap stage leaves for a forwarded
 * message (a carbon or an archive result): a wrapper from our bare JID
 * whose facts point at the inner message.
 */
void pxm_test_receive_forwarded(PxmTestAccount *t, const char *inner_xml,
				PxmOrigin origin, gboolean sent_by_me,
				gint64 timestamp);

/**
 * pxm_test_user_sends:
 * Sends @xml as the account would (through its send function: with
 * @glue, through the outgoing pipeline), so it is recorded.
 */
void pxm_test_user_sends(PxmTestAccount *t, const char *xml);

/**
 * pxm_test_send_out:
 * Runs @xml through the outgoing pipeline alone (not recorded).
 *
 * Returns: (transfer full): what the prpl would write.
 */
char *pxm_test_send_out(PxmTestAccount *t, const char *xml);

/** pxm_test_last_sent: (transfer none): the latest stanza sent (asserts
 * there is one). */
const char *pxm_test_last_sent(PxmTestAccount *t);

/**
 * pxm_test_sent_dup:
 * Returns: (transfer full): sent stanza @i, its id (asserted to be a
 * random UUID) replaced by "ID".
 */
char *pxm_test_sent_dup(PxmTestAccount *t, guint i);

/** pxm_test_count_children: children of @node named @name in @ns. */
guint pxm_test_count_children(xmlnode *node, const char *name, const char *ns);

G_END_DECLS

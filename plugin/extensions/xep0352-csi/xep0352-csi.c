// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0352: Client State Indication.
 *
 * The client is inactive while the user is away from it, as libpurple
 * knows it: the account is idle (libpurple's idle reporting, or a plugin
 * such as I'dle Mak'er), or its status is Away or Extended Away (set by
 * hand, or by "away when idle").  Busy, invisible and available are
 * active: the user is there.  The server is told only on changes.
 *
 * libpurple 2 has a signal for status changes (account-status-changed)
 * but none for our own idleness: purple_presence_set_idle() only calls
 * the prpl, which re-sends our presence.  So both the signal and our own
 * outgoing presence make us look again.
 */
#include "../../host/extension.h"

#define ID "xep0352-csi"

typedef struct {
	PxmAccount *account;
	/* What the server believes: a stream starts active (sections 3
	 * and 4). */
	gboolean inactive;
} State;

static gboolean
user_is_away(PxmAccount *account)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	PurplePresence *presence = pa != NULL ? purple_account_get_presence(pa)
					      : NULL;
	PurpleStatus *status;
	PurpleStatusPrimitive primitive;

	if (presence == NULL)
		return FALSE;
	if (purple_presence_is_idle(presence))
		return TRUE;
	status = purple_presence_get_active_status(presence);
	if (status == NULL)
		return FALSE;
	primitive = purple_status_type_get_primitive(
		purple_status_get_type(status));
	return primitive == PURPLE_STATUS_AWAY ||
	       primitive == PURPLE_STATUS_EXTENDED_AWAY;
}

static void
tell(State *state, gboolean inactive)
{
	xmlnode *nonza;

	if (state->inactive == inactive)
		return;
	state->inactive = inactive;
	/* A nonza, not a stanza: the prpl's writer sends any element. */
	nonza = xmlnode_new(inactive ? "inactive" : "active");
	xmlnode_set_namespace(nonza, PXM_NS_CSI);
	purple_debug_info(ID, "telling the server the client is %s\n",
			  inactive ? "inactive" : "active");
	pxm_account_send(state->account, nonza);
}

static void
update(State *state)
{
	tell(state, user_is_away(state->account));
}

static void
on_status_changed(PurpleAccount *pa, PurpleStatus *old, PurpleStatus *status,
		  gpointer data)
{
	State *state = data;

	if (pa == pxm_account_get_purple(state->account))
		update(state);
}

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state;

	/* Section 3: the server offers it after authentication; without
	 * that offer the nonzas are unknown elements (a stream error). */
	if (!pxm_account_has_stream_feature(account, "csi", PXM_NS_CSI)) {
		purple_debug_info(ID,
				  "%s does not offer client state "
				  "indication (or it is unknown until the "
				  "next sign-in)\n",
				  pxm_account_get_bare_jid(account));
		return NULL;
	}
	state = g_new0(State, 1);
	state->account = account;
	purple_signal_connect(purple_accounts_get_handle(),
			      "account-status-changed", state,
			      PURPLE_CALLBACK(on_status_changed), state);
	/* Signing in while away or idle. */
	update(state);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;
	PurpleConnection *gc = pxm_account_get_connection(account);
	PurpleAccount *pa = pxm_account_get_purple(account);

	if (state == NULL)
		return;
	purple_signals_disconnect_by_handle(state);
	/* Turned off while online: leave the stream as it would be without
	 * us. */
	if (gc != NULL && PURPLE_CONNECTION_IS_CONNECTED(gc) && pa != NULL &&
	    !pa->disconnecting)
		tell(state, FALSE);
	g_free(state);
}

/* Our own presence goes out after every change of status or idleness; a
 * directed one (to a room) carries the same state and changes nothing. */
static PxmVerdict
annotate(PxmAccount *account, gpointer data, PxmStanza *st)
{
	State *state = data;

	if (state != NULL && st->type == NULL)
		update(state);
	return PXM_VERDICT_CONTINUE;
}

const PxmExtensionClass pxm_xep0352_csi = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_ANNOTATE] = annotate,
	},
};

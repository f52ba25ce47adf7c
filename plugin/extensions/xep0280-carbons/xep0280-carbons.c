// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * XEP-0280: Message Carbons.
 *
 * At every sign-in (the server forgets it with the session) our server is
 * asked whether it offers carbons, and they are enabled if it does.  The
 * unwrap stage turns a <received/> or <sent/> copy into the message it
 * carries, once it is sure the copy comes from our own account; the host
 * then shows it through the presenter (and quietly consumes copies without
 * a body: chat states, receipts, markers).
 *
 * What <private/> and <no-copy/> mean here: this client never asks for
 * them (what Pidgin sends, the user's other devices may show).  A copy of
 * a message that carries them was made against its sender's wish (by a
 * server that predates or ignores the rule), so it is not shown: when the
 * user's phone marks a message private, it stays on the phone.
 */
#include "../../host/extension.h"

#include <string.h>

#define ID "xep0280-carbons"

typedef struct {
	gboolean enabled; /* the server accepted <enable/> */
	gboolean stopped; /* replies may come after stop() */
} State;

typedef struct {
	State *state;  /* a reference */
	gboolean last; /* no other entity is left to ask */
} Query;

static void
state_unref(State *state)
{
	g_rc_box_release(state);
}

static void
query_free(Query *query)
{
	state_unref(query->state);
	g_free(query);
}

/* --- Enabling --------------------------------------------------------- */

static gboolean
offers_carbons(xmlnode *result)
{
	xmlnode *query = xmlnode_get_child_with_namespace(result, "query",
							  PXM_NS_DISCO_INFO);

	for (xmlnode *f = query != NULL ? xmlnode_get_child(query, "feature")
					: NULL;
	     f != NULL; f = xmlnode_get_next_twin(f))
		if (g_strcmp0(xmlnode_get_attrib(f, "var"), PXM_NS_CARBONS) ==
		    0)
			return TRUE;
	return FALSE;
}

static void
on_disabled(PxmAccount *account, xmlnode *result, const GError *error,
	    gpointer data)
{
	if (error != NULL)
		purple_debug_info(ID, "carbons not disabled: %s\n",
				  error->message);
}

static void
send_toggle(PxmAccount *account, const char *what, PxmIqCallback callback,
	    State *state)
{
	xmlnode *iq = xmlnode_new("iq");

	xmlnode_set_attrib(iq, "type", "set");
	xmlnode_set_namespace(xmlnode_new_child(iq, what), PXM_NS_CARBONS);
	pxm_account_send_iq(account, iq, 0, callback,
			    state != NULL ? g_rc_box_acquire(state) : NULL,
			    state != NULL ? (GDestroyNotify)state_unref : NULL);
}

static void
on_enabled(PxmAccount *account, xmlnode *result, const GError *error,
	   gpointer data)
{
	State *state = data;

	/* Turned off while the server was enabling: undo it.  (At sign-off
	 * pending requests end with an error instead.) */
	if (state->stopped) {
		if (error == NULL)
			send_toggle(account, "disable", on_disabled, NULL);
		return;
	}
	if (error != NULL) {
		/* Section 4: e.g. <forbidden/> by local policy.  Copies that
		 * come anyway are still shown. */
		purple_debug_warning(ID,
				     "the server did not enable carbons: %s\n",
				     error->message);
		return;
	}
	state->enabled = TRUE;
	purple_debug_info(ID, "carbons enabled on %s\n",
			  pxm_account_get_bare_jid(account));
}

static void ask(PxmAccount *account, State *state, const char *jid,
		gboolean last);

static void
on_disco_info(PxmAccount *account, xmlnode *result, const GError *error,
	      gpointer data)
{
	Query *query = data;

	if (query->state->stopped)
		return;
	if (result != NULL && offers_carbons(result)) {
		send_toggle(account, "enable", on_enabled, query->state);
		return;
	}
	if (error != NULL && error->code != PXM_IQ_ERROR_STANZA) {
		purple_debug_info(ID, "no answer about carbons: %s\n",
				  error->message);
		return;
	}
	/* Section 3 asks the server; a deployment may announce it on the
	 * account instead. */
	if (!query->last) {
		ask(account, query->state, pxm_account_get_bare_jid(account),
		    TRUE);
		return;
	}
	purple_debug_info(ID, "%s does not offer carbons\n",
			  pxm_account_get_bare_jid(account));
}

static void
ask(PxmAccount *account, State *state, const char *jid, gboolean last)
{
	xmlnode *iq = xmlnode_new("iq");
	Query *query = g_new0(Query, 1);

	xmlnode_set_attrib(iq, "type", "get");
	xmlnode_set_attrib(iq, "to", jid);
	xmlnode_set_namespace(xmlnode_new_child(iq, "query"),
			      PXM_NS_DISCO_INFO);
	query->state = g_rc_box_acquire(state);
	query->last = last;
	pxm_account_send_iq(account, iq, 0, on_disco_info, query,
			    (GDestroyNotify)query_free);
}

static gpointer
start(PxmAccount *account, GError **error)
{
	State *state = g_rc_box_new0(State);
	const char *bare = pxm_account_get_bare_jid(account);
	const char *at = strchr(bare, '@');

	if (at != NULL)
		ask(account, state, at + 1, FALSE);
	else
		ask(account, state, bare, TRUE);
	return state;
}

static void
stop(PxmAccount *account, gpointer data)
{
	State *state = data;
	PurpleConnection *gc = pxm_account_get_connection(account);
	PurpleAccount *pa = pxm_account_get_purple(account);

	/* Turned off while online (not signing off): the server would keep
	 * sending copies that nobody unwraps. */
	if (state->enabled && gc != NULL &&
	    PURPLE_CONNECTION_IS_CONNECTED(gc) && pa != NULL &&
	    !pa->disconnecting)
		send_toggle(account, "disable", on_disabled, NULL);
	state->stopped = TRUE;
	state_unref(state);
}

/* --- Unwrapping ------------------------------------------------------- */

static gboolean
is_element(xmlnode *node, const char *name, const char *ns)
{
	return node->type == XMLNODE_TYPE_TAG &&
	       g_str_equal(node->name, name) &&
	       g_strcmp0(xmlnode_get_namespace(node), ns) == 0;
}

/* The message in the only child of @wrapper, a <forwarded/>, which holds
 * it and at most a <delay/> (XEP-0297); NULL if anything else is there. */
static xmlnode *
forwarded_message(xmlnode *wrapper, xmlnode **forwarded_out)
{
	xmlnode *forwarded = NULL, *message = NULL;
	const char *ns;

	for (xmlnode *c = wrapper->child; c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG)
			continue;
		if (forwarded != NULL ||
		    !is_element(c, "forwarded", PXM_NS_FORWARD))
			return NULL;
		forwarded = c;
	}
	for (xmlnode *c = forwarded != NULL ? forwarded->child : NULL;
	     c != NULL; c = c->next) {
		if (c->type != XMLNODE_TYPE_TAG ||
		    is_element(c, "delay", PXM_NS_DELAY))
			continue;
		ns = xmlnode_get_namespace(c);
		if (message != NULL || !g_str_equal(c->name, "message") ||
		    (ns != NULL && !g_str_equal(ns, PXM_NS_CLIENT)))
			return NULL;
		message = c;
	}
	*forwarded_out = forwarded;
	return message;
}

/* XEP-0203 stamp of a <delay/> child of @parent; 0 if none or malformed. */
static gint64
delay_of(xmlnode *parent)
{
	xmlnode *delay = pxm_xml_child(parent, "delay", PXM_NS_DELAY);
	const char *stamp = delay != NULL ? xmlnode_get_attrib(delay, "stamp")
					  : NULL;
	g_autoptr(GDateTime) dt = NULL;

	if (stamp == NULL)
		return 0;
	dt = g_date_time_new_from_iso8601(stamp, NULL);
	return dt != NULL ? g_date_time_to_unix(dt) : 0;
}

/* RFC 6120 section 8.1.2.1: what our server sends on behalf of our
 * account has our bare JID as 'from', or none at all.  Nobody else can
 * send without a 'from': the server stamps it on everything it routes. */
static gboolean
from_own_account(PxmAccount *account, const char *from)
{
	return from == NULL || pxm_account_is_own_bare_jid(account, from);
}

static gboolean
is_ours(PxmAccount *account, const char *jid)
{
	return jid == NULL ||
	       pxm_jid_bare_equal(jid, pxm_account_get_bare_jid(account));
}

static gboolean
room_joined(PxmAccount *account, const char *occupant)
{
	PurpleAccount *pa = pxm_account_get_purple(account);
	g_autofree char *room = pxm_jid_bare_dup(occupant);
	PurpleConversation *conv;

	if (pa == NULL || room == NULL)
		return FALSE;
	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_CHAT,
						     room, pa);
	return conv != NULL &&
	       !purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv));
}

static PxmVerdict
unwrap(PxmAccount *account, gpointer data, PxmStanza *st)
{
	xmlnode *wrapper = NULL, *forwarded = NULL, *inner;
	gboolean sent;
	guint copies = 0;
	gint64 stamp;

	if (st->message != st->stanza)
		return PXM_VERDICT_CONTINUE;
	for (xmlnode *c = st->stanza->child; c != NULL; c = c->next) {
		if (is_element(c, "received", PXM_NS_CARBONS) ||
		    is_element(c, "sent", PXM_NS_CARBONS)) {
			wrapper = c;
			copies++;
		}
	}
	if (wrapper == NULL)
		return PXM_VERDICT_CONTINUE;

	/* Sections 7 and 11: a copy MUST come from the user's own bare JID;
	 * anything else is an impersonation attempt (CVE-2017-5589). */
	if (!from_own_account(account, st->from)) {
		purple_debug_warning(ID, "dropping a carbon copy that does not "
					 "come from our own account\n");
		return PXM_VERDICT_DROP;
	}
	/* Section 14 (schema): one <forwarded/> holding one message. */
	inner = copies == 1 ? forwarded_message(wrapper, &forwarded) : NULL;
	if (inner == NULL) {
		purple_debug_warning(ID, "dropping a malformed carbon copy\n");
		return PXM_VERDICT_DROP;
	}
	sent = g_str_equal(wrapper->name, "sent");
	/* Our server copies what one of our resources sent, or what was
	 * addressed to us; a copy of anything else is not one it made. */
	if (sent ? !is_ours(account, xmlnode_get_attrib(inner, "from"))
		 : !is_ours(account, xmlnode_get_attrib(inner, "to"))) {
		purple_debug_warning(ID, "dropping a carbon copy of a message "
					 "between other people\n");
		return PXM_VERDICT_DROP;
	}

	/* Section 9: the sender did not want this copied (see the top). */
	if (pxm_xml_child(inner, "private", PXM_NS_CARBONS) != NULL ||
	    pxm_xml_child(inner, "no-copy", PXM_NS_HINTS) != NULL) {
		purple_debug_info(ID, "not showing a copy of a message its "
				      "sender marked private\n");
		return PXM_VERDICT_CONSUMED;
	}
	/* Section 6.1: rooms send their messages to every joined resource
	 * themselves; a copy would only be a duplicate. */
	if (g_strcmp0(xmlnode_get_attrib(inner, "type"), "groupchat") == 0) {
		purple_debug_info(ID, "not showing a copy of a room message\n");
		return PXM_VERDICT_CONSUMED;
	}
	/* Section 6.1: a private message with a room occupant cannot be
	 * answered without being in the room; such copies SHOULD be
	 * ignored. */
	if (pxm_xml_child(inner, "x", PXM_NS_MUC_USER) != NULL &&
	    !room_joined(account,
			 xmlnode_get_attrib(inner, sent ? "to" : "from"))) {
		purple_debug_info(ID, "not showing a copy of a private message "
				      "in a room we are not in\n");
		return PXM_VERDICT_CONSUMED;
	}

	st->message = inner;
	st->type = xmlnode_get_attrib(inner, "type");
	st->from = xmlnode_get_attrib(inner, "from");
	st->to = xmlnode_get_attrib(inner, "to");
	st->id = xmlnode_get_attrib(inner, "id");
	st->origin = PXM_ORIGIN_CARBON;
	st->sent_by_me = sent;
	/* XEP-0297: the time of the copy's original, if the server gave
	 * one; else the message's own delay; else it happened now. */
	stamp = delay_of(forwarded);
	if (stamp == 0)
		stamp = delay_of(inner);
	if (stamp != 0)
		st->timestamp = stamp;
	return PXM_VERDICT_CONTINUE;
}

const PxmExtensionClass pxm_xep0280_carbons = {
	.id = ID,
	.start = start,
	.stop = stop,
	.stages = {
		[PXM_PHASE_UNWRAP] = unwrap,
	},
};

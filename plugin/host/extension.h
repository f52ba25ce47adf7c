// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * The host's public API: the only header an extension includes.
 *
 * An extension is a manifest (plugin/extensions/<id>/manifest.json) plus a
 * PxmExtensionClass registered under the same id.  The host calls start()
 * when the extension becomes active on a connected account and stop() when it
 * stops (account signs off, user disables it, plugin unloads); the two are
 * symmetric.  In between, the host calls the stage functions the manifest
 * declares, in the order the manifests' "after" edges give.
 */
#pragma once

#include <glib.h>
#include <purple.h>

#include "jid.h"
#include "namespaces.h"
#include "store.h"

G_BEGIN_DECLS

/**
 * PxmAccount: the host's per-account state, alive while the account is
 * connected.  Opaque; extensions use the accessors below.
 */
typedef struct PxmAccount PxmAccount;

/**
 * PxmPhase: the named stages of the two pipelines (DESIGN.md section 3).
 * Incoming stanzas pass UNWRAP -> DECRYPT -> HANDLE -> PRESENT; outgoing
 * ones COMPOSE -> ANNOTATE -> ENCRYPT.
 */
typedef enum {
	PXM_PHASE_UNWRAP,
	PXM_PHASE_DECRYPT,
	PXM_PHASE_HANDLE,
	PXM_PHASE_PRESENT,
	PXM_PHASE_COMPOSE,
	PXM_PHASE_ANNOTATE,
	PXM_PHASE_ENCRYPT,
	PXM_PHASE_COUNT
} PxmPhase;

/** PxmStanzaKind: which top-level stanzas a stage wants (a bit set). */
typedef enum {
	PXM_STANZA_MESSAGE = 1 << 0,
	PXM_STANZA_PRESENCE = 1 << 1,
	PXM_STANZA_IQ = 1 << 2,
} PxmStanzaKind;

/** PxmVerdict: what a stage decided about a stanza. */
typedef enum {
	/* Pass it on to the next stage (and finally to the prpl). */
	PXM_VERDICT_CONTINUE,
	/* The extension took care of it: later stages and the prpl do not see
	 * it. Only meaningful for incoming stanzas. */
	PXM_VERDICT_CONSUMED,
	/* Malformed or hostile: dropped.  The stage has logged one debug line
	 * saying why.  Only meaningful for incoming stanzas. */
	PXM_VERDICT_DROP,
} PxmVerdict;

/** PxmOrigin: how a message reached us. */
typedef enum {
	PXM_ORIGIN_LIVE,    /* sent to this resource */
	PXM_ORIGIN_CARBON,  /* a XEP-0280 copy */
	PXM_ORIGIN_ARCHIVE, /* a XEP-0313 result */
	PXM_ORIGIN_LOCAL,   /* composed here */
} PxmOrigin;

/**
 * PxmStanza: the per-stanza record.  Stages do not return data; they fill in
 * facts here that later stages and the presenter read.  Every string field
 * is owned by the record: set them with pxm_stanza_set() so the old value is
 * freed.  xmlnode fields are borrowed.
 */
typedef struct {
	PxmStanzaKind kind;
	gboolean outgoing;
	/* The top-level stanza as the prpl has it (borrowed; outgoing stages may
	 * change it in place but must stay idempotent: the prpl re-sends
	 * unacknowledged stanzas through the same path). */
	xmlnode *stanza;
	/* The message the facts below describe: the stanza itself, or a
	 * forwarded message an unwrap stage found inside it (borrowed, lives as
	 * long as stanza). */
	xmlnode *message;
	PxmOrigin origin;
	/* TRUE if the message was sent by this account (from another device for
	 * carbons and archive results). */
	gboolean sent_by_me;

	/* Attributes of @message, borrowed from it (an unwrap stage that
	 * changes @message points them into the new one). */
	const char *type; /* message type ("chat", "groupchat", ...) */
	const char *from; /* full JID the message is from */
	const char *to;   /* full JID the message is to */
	const char *id;   /* the message's id attribute */
	/* The plaintext body when a stage produced one (decrypted, or read
	 * from a forwarded message to show it), and for outgoing messages.
	 * Incoming stanzas start without it: read <body/> of @message when
	 * needed (pxm_stanza_has_body() says whether there is one). */
	char *body;
	/* XEP-0359: only set when verified (by = own bare JID or the room). */
	char *stanza_id;
	char *origin_id;
	/* XEP-0313: the archive query this result answers. */
	char *archive_query_id;
	/* XEP-0203 / XEP-0297: original send time, 0 when live. */
	gint64 timestamp;
	gboolean encrypted;
	/* The user asked for this message (history on demand): the presenter
	 * skips it only if this session showed it; one an earlier session
	 * showed (so already in the log) is shown again, not logged again. */
	gboolean requested;
	/* What to show instead of the escaped body (HTML, owned).  A stage
	 * that sets it on a live message makes the host show the message
	 * through the presenter instead of the prpl. */
	char *html;

	/* private: what pxm_stanza_bare_from() and _to() found, kept while
	 * the JID stays the same: the JID, then its bare JID ("" when
	 * malformed), in @text or, for longer ones, in @overflow (freed by
	 * pxm_stanza_clear()). */
	struct {
		char text[160];
		char *overflow;
	} bare_cache[2];
} PxmStanza;

/**
 * pxm_stanza_has_body:
 * Returns: TRUE if the message has a body (a produced one, or a <body/>
 * element in @message).
 */
gboolean pxm_stanza_has_body(const PxmStanza *stanza);

/**
 * pxm_stanza_bare_from:
 *
 * The normalised bare JID of @stanza->from, worked out once per record
 * rather than by every stage that needs it (stages run for every message).
 * A record built by hand (not by pxm_stanza_init()) must be zeroed first
 * and cleared with pxm_stanza_clear().
 *
 * Returns: (transfer none) (nullable): the bare JID, NULL when from is
 * absent or malformed; valid until from changes or the record is cleared.
 */
const char *pxm_stanza_bare_from(const PxmStanza *stanza);

/** pxm_stanza_bare_to: the same for @stanza->to. */
const char *pxm_stanza_bare_to(const PxmStanza *stanza);

/**
 * pxm_stanza_set:
 * @field: address of a string field of a PxmStanza
 * @value: (nullable) (transfer none): the new value, copied
 *
 * Replaces a string fact, freeing the old value.
 */
void pxm_stanza_set(char **field, const char *value);

/**
 * pxm_stanza_is_chat:
 * Returns: TRUE for the messages people write (type chat, normal,
 * groupchat or none), FALSE for errors and headlines.
 */
gboolean pxm_stanza_is_chat(const PxmStanza *stanza);

/**
 * pxm_stanza_is_room_private:
 * Returns: TRUE for a private message with a room occupant (XEP-0045
 * section 7.5: not groupchat, with the muc#user <x/>).  Its sender is
 * known by nick only, and the presenter keeps it with the room's.
 */
gboolean pxm_stanza_is_room_private(const PxmStanza *stanza);

/**
 * pxm_xml_child:
 * @parent: (nullable): an element; NULL gives NULL
 * @name: the child's element name (a name, not a path)
 * @ns: (nullable): its namespace; NULL matches any namespace
 *
 * Looks up the first child element of @parent with that name and
 * namespace.  Use it rather than xmlnode_get_child*(), which split @name
 * as a path on every call.
 *
 * Returns: (transfer none) (nullable): the child, borrowed from @parent.
 */
xmlnode *pxm_xml_child(xmlnode *parent, const char *name, const char *ns);

/**
 * PxmStageFunc:
 * @account: the account the stanza belongs to
 * @state: what the extension's start() returned for this account
 * @stanza: the record; the stage reads and fills it
 *
 * Returns: the stage's verdict.  Outgoing stages return CONTINUE.
 */
typedef PxmVerdict (*PxmStageFunc)(PxmAccount *account, gpointer state,
				   PxmStanza *stanza);

/**
 * PxmCommandFunc:
 * @conv: the conversation the command was typed in
 * @args: (nullable): everything after the command name, stripped
 * @error: (out): on failure, a message for the user (g_malloc'ed)
 *
 * Returns: PURPLE_CMD_RET_OK or PURPLE_CMD_RET_FAILED.
 */
typedef PurpleCmdRet (*PxmCommandFunc)(PxmAccount *account, gpointer state,
				       PurpleConversation *conv,
				       const char *args, char **error);

/**
 * PxmCommand: a conversation command of an extension ("/name args").  It
 * runs only on accounts where the extension is on; elsewhere the user is
 * told it is off.
 * @name: the command, without the slash
 * @help: help text shown by /help, marked for translation
 * @im: available in one-to-one conversations
 * @chat: available in rooms
 */
typedef struct {
	const char *name;
	const char *help;
	gboolean im;
	gboolean chat;
	PxmCommandFunc func;
} PxmCommand;

/**
 * PxmFileSender: how an extension takes over libpurple's "Send File" (and
 * drag and drop) for XMPP contacts, e.g. by HTTP upload.  The glue wraps
 * prpl-jabber's can_receive_file, send_file and new_xfer: a file goes to
 * the first active extension (in id order) that wants it, else to the
 * prpl's own transfer (SI / Jingle).
 * @wanted: whether the extension sends files to @who now; @direct: TRUE
 *   when prpl-jabber could send it directly (the contact advertises a
 *   file-transfer method)
 * @new_xfer: (transfer full): a new PurpleXfer of type SEND for @who with
 *   its init function set; the host then calls purple_xfer_request() or
 *   purple_xfer_request_accepted() on it
 */
typedef struct {
	gboolean (*wanted)(PxmAccount *account, gpointer state, const char *who,
			   gboolean direct);
	PurpleXfer *(*new_xfer)(PxmAccount *account, gpointer state,
				const char *who);
} PxmFileSender;

/**
 * PxmEncryptionDecided:
 * @encrypted: whether the conversation is (or, for a first message, would
 *   be) end-to-end encrypted
 * Called exactly once; with TRUE when the answer cannot be had (the
 * account went offline): content must then not go out in the clear.
 */
typedef void (*PxmEncryptionDecided)(PxmAccount *account, gboolean encrypted,
				     gpointer user_data);

/**
 * PxmSendResult: what an extension did with a message the user typed
 * (PxmExtensionClass.send_message).
 */
typedef enum {
	/* Not handled: the next extension, then the prpl, sends it. */
	PXM_SEND_NOT_MINE,
	/* Sent now; libpurple shows it as sent, as it does for the prpl. */
	PXM_SEND_SENT,
	/* Taken: the extension sends it later and shows it then (e.g. once
	 * keys are fetched), or refuses it then with a line saying why. */
	PXM_SEND_QUEUED,
	/* Not sent; the extension told the user why in the conversation. */
	PXM_SEND_REFUSED,
} PxmSendResult;

/**
 * PxmSendMessageFunc:
 * @to: the recipient as the conversation names it (bare or full JID), or
 *   the room's JID when @groupchat
 * @html: the text as libpurple gives it to the prpl (HTML markup)
 *
 * Called for every message the user sends in a conversation, before the
 * prpl sees it (the glue wraps prpl-jabber's send_im and chat_send).
 * Active extensions are asked in id order; the first that does not answer
 * PXM_SEND_NOT_MINE decides.  Outgoing stages cannot stop a stanza: this
 * is how an extension keeps a message from leaving (end-to-end encryption
 * failing closed).
 */
typedef PxmSendResult (*PxmSendMessageFunc)(PxmAccount *account, gpointer state,
					    const char *to, const char *html,
					    PurpleMessageFlags flags,
					    gboolean groupchat);

/**
 * PxmExtensionClass: the C half of an extension.
 * @id: equals the manifest id and the folder name
 * @start: (nullable): called when the extension becomes active on a
 *   connected account; returns its per-account state (may be NULL).  On
 *   failure set @error and return NULL: the extension stays off for that
 *   account and the reason is logged.
 * @stop: (nullable): the mirror of start(); frees @state.
 * @stages: one function per phase the manifest declares (and only those:
 *   the host checks both agree at load time).
 * @commands: the conversation commands the manifest declares.
 */
typedef struct {
	const char *id;
	gpointer (*start)(PxmAccount *account, GError **error);
	void (*stop)(PxmAccount *account, gpointer state);
	PxmStageFunc stages[PXM_PHASE_COUNT];
	/* (array zero-terminated=1) (nullable): the manifest's "commands",
	 * in any order. */
	const PxmCommand *commands;
	/* (nullable): called once when the plugin loads / unloads, for what
	 * is not per account (e.g. registering the extension's signals on
	 * @plugin).  Symmetric. */
	void (*plugin_load)(PurplePlugin *plugin);
	void (*plugin_unload)(PurplePlugin *plugin);
	/* (nullable): see PxmFileSender. */
	const PxmFileSender *file_sender;
	/* (nullable): see PxmSendMessageFunc. */
	PxmSendMessageFunc send_message;
	/* (nullable): whether the conversation with @bare_jid (a contact or
	 * a room) is end-to-end encrypted; see
	 * pxm_account_conversation_is_encrypted(). */
	gboolean (*is_encrypted)(PxmAccount *account, gpointer state,
				 const char *bare_jid);
	/* (nullable): the same, once what it depends on is known (e.g. the
	 * contact's device lists, fetched if needed); see
	 * pxm_account_conversation_decide_encryption(). */
	void (*decide_encrypted)(PxmAccount *account, gpointer state,
				 const char *bare_jid,
				 PxmEncryptionDecided callback,
				 gpointer user_data, GDestroyNotify destroy);
	/* (array zero-terminated=1) (nullable): see PxmAction. */
	const struct PxmAction *actions;
	/* (nullable): a room (@room: its normalised bare JID) is about to be
	 * joined through prpl-jabber's join_chat (the user joins, Pidgin
	 * auto-joins or rejoins after a reconnect, a bookmark is joined),
	 * before the prpl has sent anything.  Return TRUE to hold the join
	 * until the extension calls pxm_account_release_join() (not from
	 * this hook: return FALSE instead), e.g. to ask the room something
	 * its join presence depends on.  The host lets a join go on by
	 * itself after PXM_JOIN_HOLD_MAX_S and when the extension stops,
	 * and drops it when the account goes offline.  A second join of a
	 * room held is not asked again. */
	gboolean (*join_room)(PxmAccount *account, gpointer state,
			      const char *room);
} PxmExtensionClass;

/** The longest a room join is held (PxmExtensionClass.join_room). */
#define PXM_JOIN_HOLD_MAX_S 10

/**
 * pxm_account_release_join:
 * @extension_id: the id of the extension that held the join
 * @room: the room's normalised bare JID, as join_room() got it
 *
 * Lets a join held by join_room() go on: once no extension holds it, the
 * prpl joins (its join presence passes the compose stages as usual).
 * Nothing happens when the join is no longer held (dropped with the
 * connection, or let go already).
 */
void pxm_account_release_join(PxmAccount *account, const char *extension_id,
			      const char *room);

/**
 * PxmAction: a plugin action of an extension (the plugin's entry in
 * Pidgin's Tools menu, Finch's Actions), after "Extensions…".
 * @label: marked with N_()
 * @func: called for each connected account where the extension is on,
 *   with its state; with none, the user is told so
 */
typedef struct PxmAction {
	const char *label;
	void (*func)(PxmAccount *account, gpointer state);
} PxmAction;

/* --- Accounts ------------------------------------------------------- */

/** pxm_account_get_purple: (transfer none): the libpurple account. */
PurpleAccount *pxm_account_get_purple(PxmAccount *account);

/** pxm_account_get_connection: (transfer none) (nullable): its connection. */
PurpleConnection *pxm_account_get_connection(PxmAccount *account);

/** pxm_account_get_bare_jid: (transfer none): normalised bare JID. */
const char *pxm_account_get_bare_jid(PxmAccount *account);

/** pxm_account_get_store: (transfer none) (nullable): the per-account store,
 * NULL if it could not be opened (already reported to the user). */
PxmStore *pxm_account_get_store(PxmAccount *account);

/**
 * pxm_account_get_option_bool:
 * @key: an account option of type "bool" that an extension declares in its
 *   manifest ("account_options")
 *
 * The account's setting @key, or the manifest's default when it was never
 * set (or there is no libpurple account, as in unit tests).  The manifest
 * is the one place a default is written.  An undeclared @key or one of
 * another type is a programmer error.
 */
gboolean pxm_account_get_option_bool(PxmAccount *account, const char *key);

/** pxm_account_get_option_int: the same for an option of type "int". */
int pxm_account_get_option_int(PxmAccount *account, const char *key);

/**
 * pxm_account_get_option_choice:
 *
 * The same for an option of type "choice": a value the manifest lists (a
 * setting that holds anything else, e.g. edited by hand, reads as the
 * default).
 *
 * Returns: (transfer none): the value.
 */
const char *pxm_account_get_option_choice(PxmAccount *account, const char *key);

/**
 * pxm_account_is_own_bare_jid:
 * @jid: (nullable): any JID
 *
 * Returns: TRUE if @jid, after normalisation, is the account's bare JID.  A
 * full JID is not the bare JID.
 */
gboolean pxm_account_is_own_bare_jid(PxmAccount *account, const char *jid);

/**
 * pxm_account_conversation_is_encrypted:
 * @bare_jid: a contact's or room's normalised bare JID
 *
 * Whether messages to @bare_jid are end-to-end encrypted now (an active
 * extension's is_encrypted hook says so, e.g. OMEMO).  Other extensions
 * that send content (files, links) use it to encrypt it too, or not to
 * send it in the clear.
 *
 * Returns: TRUE if an active extension encrypts that conversation.
 */
gboolean pxm_account_conversation_is_encrypted(PxmAccount *account,
					       const char *bare_jid);

/**
 * pxm_account_conversation_decide_encryption:
 * @bare_jid: a contact's or room's normalised bare JID
 * @callback: called exactly once, possibly before this returns
 * @destroy: (nullable): frees @user_data after the callback
 *
 * Like pxm_account_conversation_is_encrypted(), for content that must know
 * before the first message whether it will be encrypted (a file is
 * encrypted before it is uploaded): the extension that would encrypt the
 * conversation finds out first (e.g. fetches the contact's device lists).
 */
void pxm_account_conversation_decide_encryption(PxmAccount *account,
						const char *bare_jid,
						PxmEncryptionDecided callback,
						gpointer user_data,
						GDestroyNotify destroy);

/**
 * pxm_account_send:
 * @stanza: (transfer full): a stanza to send through the prpl's normal path
 *   (so stream management and the other plugins see it)
 */
void pxm_account_send(PxmAccount *account, xmlnode *stanza);

/**
 * pxm_account_peer_has_feature:
 * @full_jid: a contact's resource
 *
 * Returns: TRUE if that resource advertises @feature (XEP-0115 caps, as
 * prpl-jabber has cached them).
 */
gboolean pxm_account_peer_has_feature(PxmAccount *account, const char *full_jid,
				      const char *feature);

/**
 * pxm_account_shares_presence:
 * @bare_jid: a contact's normalised bare JID
 *
 * Whether @bare_jid may be told what presence would tell (XEP-0184
 * section 9, XEP-0333 section 11: receipts and markers leak presence).
 * libpurple 2 does not expose subscription states: the contact must be in
 * the roster and we must receive their presence (an online resource, as
 * libpurple or the host saw it).  Without a libpurple account (unit tests)
 * the roster is not asked: an available presence received is enough.
 *
 * Returns: TRUE if the contact shares presence with this account.
 */
gboolean pxm_account_shares_presence(PxmAccount *account, const char *bare_jid);

/**
 * pxm_account_peer_may_support:
 * @jid: a contact's full or bare JID
 * @feature: a disco feature, e.g. PXM_NS_RECEIPTS
 *
 * Whether a message to @jid may be understood as using @feature, from the
 * presence the host saw (roster contacts only).  A full JID whose resource
 * announced XEP-0115 caps: whether those caps list @feature; a resource
 * that announced none, or is unknown: TRUE.  A bare JID (the server picks
 * the resource): TRUE unless every online resource announced caps and none
 * lists @feature; TRUE when no resource is known.
 *
 * Returns: FALSE only when @jid is known not to support @feature.
 */
gboolean pxm_account_peer_may_support(PxmAccount *account, const char *jid,
				      const char *feature);

/**
 * pxm_account_occupant_joined_since:
 * @occupant: (nullable): a room occupant, room@service/nick, normalised
 *   (as pxm_jid_normalize_dup() gives it)
 * @when: a time, Unix seconds (e.g. a PxmShownMessage's timestamp)
 *
 * In a room, the entity behind a nick may change when it leaves and joins
 * again: the host notes from the room's presence when each occupant was
 * seen joining (the occupants already there when we joined: when we
 * joined), forgets an occupant when it leaves and the whole room when we
 * leave it.
 *
 * Returns: TRUE if @occupant is in the room and has been since @when or
 * earlier; FALSE when it is not known to be there or joined after @when.
 */
gboolean pxm_account_occupant_joined_since(PxmAccount *account,
					   const char *occupant, gint64 when);

/**
 * pxm_account_has_stream_feature:
 * @name: the element's name, e.g. "csi"
 * @ns: its namespace, e.g. PXM_NS_CSI
 *
 * Returns: TRUE if the server offered that stream feature after
 * authentication on the current connection.  FALSE when it did not, or
 * when it is unknown (the plugin was loaded after the account signed on:
 * known again from the next sign-in).
 */
gboolean pxm_account_has_stream_feature(PxmAccount *account, const char *name,
					const char *ns);

/**
 * pxm_conversation_jid_dup:
 * Returns: (transfer full) (nullable): the normalised bare JID of the
 * partner of an IM conversation, or of the room of a chat.
 */
char *pxm_conversation_jid_dup(PurpleConversation *conv);

/**
 * pxm_account_contact_name_dup:
 * @bare_jid: a contact's bare JID
 * Returns: (transfer full): the name to show for @bare_jid: its alias in
 * the buddy list, or the JID itself.
 */
char *pxm_account_contact_name_dup(PxmAccount *account, const char *bare_jid);

/**
 * pxm_extensions_retry:
 * @account: a libpurple account
 * Starts again, at once, the extensions wanted on @account that are not
 * running (e.g. one whose start() failed until the user decided
 * something).  A wanted extension that handles typed messages
 * (send_message) and failed to start makes the host refuse to send
 * one-to-one messages on the account, with a line saying why: end-to-end
 * encryption fails closed.
 * Returns: TRUE if an extension started or stopped.
 */
gboolean pxm_extensions_retry(PurpleAccount *account);

/**
 * pxm_account_is_room_message:
 * @message: a message to or from @bare_jid
 * @bare_jid: (nullable): the other side's bare JID
 * Returns: TRUE if @message belongs to a room: it carries the muc#user
 * <x/> (private messages with occupants), or @bare_jid is a room we have
 * a conversation with.
 */
gboolean pxm_account_is_room_message(PxmAccount *account, xmlnode *message,
				     const char *bare_jid);

/**
 * pxm_account_is_own_nick:
 * @room: a room's bare JID, as its conversation is named
 * @occupant: (nullable): room@service/nick
 * Returns: TRUE if @occupant is our own nick in @room (a room we are in).
 */
gboolean pxm_account_is_own_nick(PxmAccount *account, const char *room,
				 const char *occupant);

/**
 * pxm_conversation_message_target:
 * @conv: where a command that sends a message was typed
 * @jid: (out) (transfer full): the normalised bare JID of the partner or
 *   room (the conversation key of the presenter)
 * @to: (out) (transfer none): where to send: the room, or the partner as
 *   the conversation names it (possibly a full JID)
 * @groupchat: (out): TRUE in a room
 * @error: (out): a message for the user when FALSE is returned
 *
 * Resolves the target of a message-sending command.  Private conversations
 * with room occupants (named room@service/nick) are refused: the presenter
 * keeps their messages with the room's.
 */
gboolean pxm_conversation_message_target(PurpleConversation *conv, char **jid,
					 const char **to, gboolean *groupchat,
					 char **error);

/* --- IQs ------------------------------------------------------------ */

/** Errors of IQs sent with pxm_account_send_iq(). */
#define PXM_IQ_ERROR (pxm_iq_error_quark())
GQuark pxm_iq_error_quark(void);

typedef enum {
	PXM_IQ_ERROR_STANZA,       /* the peer answered <error/>; message
				    * holds the condition (and text if any) */
	PXM_IQ_ERROR_TIMEOUT,      /* no answer in time */
	PXM_IQ_ERROR_DISCONNECTED, /* the account went offline first */
	PXM_IQ_ERROR_CANCELLED,    /* the extension or plugin stopped */
} PxmIqError;

/**
 * pxm_iq_error_is:
 * @error: (nullable): what an IQ callback got
 *
 * Returns: TRUE if @error is a stanza error (PXM_IQ_ERROR_STANZA) with
 * this defined condition (e.g. "item-not-found"), whatever its text.
 */
gboolean pxm_iq_error_is(const GError *error, const char *condition);

/**
 * pxm_iq_error_refused_options:
 * @error: (nullable): what a pubsub publish with publish-options got
 *
 * Whether the service refused a publish-options field it does not know
 * (ejabberd 23.01 answers resource-constraint, "Unknown field"; others
 * bad-request or not-acceptable), so that publishing again without that
 * field may work.  Not XEP-0060 section 7.1.5's conflict (a node
 * configured otherwise).
 */
gboolean pxm_iq_error_refused_options(const GError *error);

/**
 * PxmIqCallback:
 * @result: (nullable) (transfer none): the result IQ, NULL on error
 * @error: (nullable) (transfer none): why there is no result
 *
 * Called exactly once per request.
 */
typedef void (*PxmIqCallback)(PxmAccount *account, xmlnode *result,
			      const GError *error, gpointer user_data);

/**
 * pxm_account_send_iq:
 * @iq: (transfer full): an <iq type='get|set'>; an id is added if missing
 * @timeout_ms: 0 for the default (30 s)
 * @callback: called exactly once with the result or an error
 * @destroy: (nullable): frees @user_data after the callback, always
 *
 * Replies are matched by id and by sender (the address the request went
 * to, or our own server/bare JID when it had none); a reply from anyone else
 * is dropped as a spoof.
 */
void pxm_account_send_iq(PxmAccount *account, xmlnode *iq, guint timeout_ms,
			 PxmIqCallback callback, gpointer user_data,
			 GDestroyNotify destroy);

/** PxmReplay: why pxm_account_replay() shows a message. */
typedef enum {
	/* Catching up: a message any session showed is not shown again. */
	PXM_REPLAY_CATCHUP,
	/* The user asked for it (e.g. /history): see PxmStanza.requested. */
	PXM_REPLAY_REQUESTED,
} PxmReplay;

/**
 * pxm_account_replay:
 * @message: (transfer none): a forwarded <message/> that an extension
 *   found and checked itself (e.g. an archive result, taken from its
 *   wrapper after the sender of the wrapper was verified)
 * @origin: how it reached us, e.g. PXM_ORIGIN_ARCHIVE
 * @stanza_id: (nullable): its XEP-0359 identity, already verified by the
 *   caller (an archive result's id)
 * @timestamp: its original time (Unix seconds), 0 when unknown
 * @why: catch-up or on request (what the identity gate lets through)
 *
 * Runs @message through DECRYPT, HANDLE and PRESENT, as if an unwrap stage
 * had found it, then shows it through the presenter (identity gate
 * included).  For messages handled later than they arrive, e.g. a page of
 * archive results processed as one batch.  The direction is read from the
 * message: sent by this account when its 'from' is our bare JID (not for
 * rooms).
 *
 * Without a libpurple account (unit tests) nothing can be written: the
 * identity gate alone decides (and records what would be shown).
 *
 * Returns: TRUE if the message was shown; FALSE when it was a duplicate,
 * had nothing to show, or a stage consumed or dropped it.
 */
gboolean pxm_account_replay(PxmAccount *account, xmlnode *message,
			    PxmOrigin origin, const char *stanza_id,
			    gint64 timestamp, PxmReplay why);

/* --- Presenter (DESIGN.md section 4) ---------------------------------- */

/**
 * pxm_presenter_write_identities:
 *
 * Writes the identities of the messages shown so far to the store now
 * (they are otherwise written in batches a little later), inside the
 * caller's transaction when one is open: what an extension commits with
 * its own state (e.g. an archive position) then cannot get ahead of what
 * the store knows was shown.
 */
void pxm_presenter_write_identities(PxmAccount *account);

/**
 * pxm_presenter_remember_sent:
 * @to: the recipient JID (any form)
 * @stanza: the outgoing message facts (origin_id, id)
 *
 * Records the identity of a message this client sends, so the copies that
 * come back from the archive or as carbons are recognised.
 */
void pxm_presenter_remember_sent(PxmAccount *account, const char *to,
				 const PxmStanza *stanza);

/**
 * pxm_presenter_show:
 * @stanza: a message with its facts filled in (body, direction, origin,
 *   timestamp, identities)
 *
 * Writes a message that the prpl would not show by itself (a carbon, an
 * archive result, a decrypted message) to its conversation and log, with
 * the right direction, author, timestamp and flags; records its identity.
 *
 * A message with origin PXM_ORIGIN_LOCAL (composed and sent by an
 * extension, e.g. a correction) is its local echo: written as sent by the
 * user without the identity check, since sending already recorded it.
 *
 * Returns: FALSE if it was a duplicate (already shown) and was not written.
 */
gboolean pxm_presenter_show(PxmAccount *account, PxmStanza *stanza);

/**
 * PxmShownMessage: a message recently shown in a conversation, as the
 * presenter remembers it (the latest ones per conversation, this session).
 * Every string is owned by the presenter; do not keep the pointer past the
 * current call.
 */
typedef struct {
	const char *conversation; /* normalised bare JID: partner or room */
	const char *sender;       /* bare JID (1:1) or room/nick */
	const char *id;           /* the message's id attribute (nullable) */
	const char *origin_id;    /* (nullable) */
	const char *stanza_id;    /* (nullable) */
	/* XEP-0308: the id of the first version of the message this one
	 * corrects (through corrections of corrections), recorded when the
	 * correction applies (a message of the same sender shown in this
	 * conversation: section 5; in a room, since it joined: section 6),
	 * whether or not the correction extension is on; NULL otherwise. */
	const char *replaces;
	const char *excerpt; /* the start of its text (nullable) */
	gboolean sent;       /* sent by this account */
	gint64 timestamp;    /* Unix seconds */
} PxmShownMessage;

/**
 * pxm_presenter_find:
 * @conversation: normalised bare JID of the partner or room
 * @id: a message id, origin-id or stanza-id
 *
 * Returns: (transfer none) (nullable): the latest shown message of
 * @conversation with that id.
 */
const PxmShownMessage *pxm_presenter_find(PxmAccount *account,
					  const char *conversation,
					  const char *id);

/**
 * pxm_presenter_first_version:
 * @message: (nullable): a message pxm_presenter_find() or _last() returned
 *
 * What a correction or retraction of @message names (XEP-0308 section 5:
 * a corrected message is known by its first version).
 *
 * Returns: (transfer none) (nullable): the first version of @message as
 * shown in its conversation (from the same sender), @message itself when
 * it corrects none, NULL when that first version is no longer remembered
 * (its id is still @message->replaces).
 */
const PxmShownMessage *
pxm_presenter_first_version(PxmAccount *account,
			    const PxmShownMessage *message);

/** Which message pxm_presenter_last() returns. */
typedef enum {
	PXM_LAST_ANY,
	PXM_LAST_SENT,
	PXM_LAST_RECEIVED,
} PxmLast;

/**
 * pxm_presenter_last:
 * Returns: (transfer none) (nullable): the latest shown message of
 * @conversation (sent by this account, received, or either).
 */
const PxmShownMessage *pxm_presenter_last(PxmAccount *account,
					  const char *conversation,
					  PxmLast which);

/**
 * pxm_text_first_words_dup:
 * @text: (nullable): any text, e.g. a PxmShownMessage's excerpt
 * @max_chars: the most characters (code points) to keep, "…" excluded
 *
 * The first words of @text on one line, for a quote in a notice or a mark:
 * runs of white space (line breaks included) become one space, leading
 * and trailing ones are dropped, and Unicode direction controls (which
 * could turn the rest of the line around) are left out.  A longer text is
 * cut at the end of a word when one ends past half of @max_chars (else
 * within the word) and ends with "…".  Not escaped: escape it for HTML.
 *
 * Returns: (transfer full): the words, "" for NULL or an empty text.
 */
char *pxm_text_first_words_dup(const char *text, guint max_chars);

/**
 * pxm_presenter_notice:
 * @conversation: normalised bare JID of the partner, or the room
 * @groupchat: TRUE for a room (then it must be open)
 * @html: the text, HTML (escape what comes from the network)
 *
 * Writes an informational line (not a message) into a conversation,
 * opening an IM conversation if needed.  Not logged as a message.
 */
void pxm_presenter_notice(PxmAccount *account, const char *conversation,
			  gboolean groupchat, const char *html);

G_END_DECLS

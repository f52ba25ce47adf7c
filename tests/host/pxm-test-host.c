// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * pxm-test-host: a headless libpurple 2 UI for integration tests.
 *
 * Commands arrive as JSON Lines on stdin, events leave as JSON Lines on
 * stdout. README.md beside this file documents the protocol.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <locale.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gio/gio.h>
#include <glib-unix.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>

#include <purple.h>

#define PXM_UI_ID "pxm-test-host"
#define PXM_PRPL_ID "prpl-jabber"

typedef enum {
	PXM_HOST_ERROR_INVALID_ARGS,
	PXM_HOST_ERROR_NOT_FOUND,
	PXM_HOST_ERROR_FAILED,
} PxmHostError;

#define PXM_HOST_ERROR (pxm_host_error_quark())

static GQuark
pxm_host_error_quark(void)
{
	return g_quark_from_static_string("pxm-host-error-quark");
}

/* What kind of question a pending request is; libpurple's own request
 * types plus presence-subscription authorisation, which comes through the
 * account UI ops instead of the request API. */
typedef enum {
	PXM_REQUEST_INPUT,
	PXM_REQUEST_CHOICE,
	PXM_REQUEST_ACTION,
	PXM_REQUEST_FIELDS,
	PXM_REQUEST_FILE,
	PXM_REQUEST_FOLDER,
	PXM_REQUEST_AUTHORIZE,
} PxmRequestKind;

typedef struct {
	guint id;
	PxmRequestKind kind;
	PurpleRequestType type;
	void *user_data;
	GCallback ok_cb;
	GCallback cancel_cb;
	GArray *action_cbs;
	PurpleRequestFields *fields;
	int default_value;
	gchar *default_text;
} PxmRequest;

typedef struct {
	PurpleDnsQueryData *query;
	PurpleDnsQueryResolvedCallback resolved_cb;
	PurpleDnsQueryFailedCallback failed_cb;
	GSList *hosts;
	gchar *error;
	guint source;
} PxmDnsJob;

typedef struct {
	PurpleSrvTxtQueryData *query;
	PurpleSrvTxtQueryResolvedCallback resolved_cb;
	PurpleSrvTxtQueryFailedCallback failed_cb;
	gboolean is_txt;
	guint source;
} PxmSrvJob;

typedef struct {
	GMainLoop *loop;
	FILE *out;
	gchar *user_dir;
	gboolean remove_user_dir;
	gboolean debug;
	gboolean debug_events;
	gboolean quitting;
	GIOChannel *stdin_channel;
	guint stdin_watch;
	GHashTable *requests;
	guint next_request_id;
	guint next_xfer_id;
	GHashTable *dns_jobs;
	GHashTable *srv_jobs;
	GHashTable *xml_accounts;
	gboolean xml_signals_connected;
	GHashTable *ui_info;
} PxmHost;

static PxmHost host;

/*********************************************************************
 * Event output
 *********************************************************************/

static void pxm_host_quit(void);

static JsonBuilder *
pxm_event_new(const char *name)
{
	JsonBuilder *builder = json_builder_new();

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "event");
	json_builder_add_string_value(builder, name);

	return builder;
}

static void
pxm_add_string(JsonBuilder *builder, const char *name, const char *value)
{
	json_builder_set_member_name(builder, name);
	if (value == NULL) {
		json_builder_add_null_value(builder);
	} else if (g_utf8_validate(value, -1, NULL)) {
		json_builder_add_string_value(builder, value);
	} else {
		/* File names and network data need not be UTF-8, JSON must be. */
		g_autofree gchar *valid = g_utf8_make_valid(value, -1);

		json_builder_add_string_value(builder, valid);
	}
}

static void
pxm_add_int(JsonBuilder *builder, const char *name, gint64 value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_int_value(builder, value);
}

static void
pxm_add_bool(JsonBuilder *builder, const char *name, gboolean value)
{
	json_builder_set_member_name(builder, name);
	json_builder_add_boolean_value(builder, value);
}

static void
pxm_add_account(JsonBuilder *builder, PurpleAccount *account)
{
	pxm_add_string(builder, "account",
		       account != NULL ? purple_account_get_username(account)
				       : NULL);
}

static void
pxm_emit(JsonBuilder *builder)
{
	g_autoptr(JsonGenerator) generator = json_generator_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *data = NULL;
	gsize length = 0;

	json_builder_end_object(builder);
	if (host.out == NULL)
		return;

	root = json_builder_get_root(builder);
	json_generator_set_root(generator, root);
	data = json_generator_to_data(generator, &length);

	if (fwrite(data, 1, length, host.out) != length ||
	    fputc('\n', host.out) == EOF || fflush(host.out) != 0) {
		/* The driver went away: nobody reads events any more. */
		fclose(host.out);
		host.out = NULL;
		pxm_host_quit();
	}
}

/*********************************************************************
 * Event loop UI ops
 *********************************************************************/

#define PXM_READ_COND (G_IO_IN | G_IO_HUP | G_IO_ERR)
#define PXM_WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct {
	PurpleInputFunction func;
	gpointer data;
} PxmInput;

static gboolean
pxm_input_dispatch(GIOChannel *channel, GIOCondition condition, gpointer data)
{
	PxmInput *input = data;
	PurpleInputCondition cond = 0;

	if (condition & PXM_READ_COND)
		cond |= PURPLE_INPUT_READ;
	if (condition & PXM_WRITE_COND)
		cond |= PURPLE_INPUT_WRITE;

	input->func(input->data, g_io_channel_unix_get_fd(channel), cond);

	return TRUE;
}

static guint
pxm_input_add(int fd, PurpleInputCondition cond, PurpleInputFunction func,
	      gpointer data)
{
	g_autoptr(GIOChannel) channel = g_io_channel_unix_new(fd);
	PxmInput *input = g_new0(PxmInput, 1);
	GIOCondition condition = 0;

	input->func = func;
	input->data = data;
	if (cond & PURPLE_INPUT_READ)
		condition |= PXM_READ_COND;
	if (cond & PURPLE_INPUT_WRITE)
		condition |= PXM_WRITE_COND;

	return g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, condition,
				   pxm_input_dispatch, input, g_free);
}

static PurpleEventLoopUiOps pxm_eventloop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = g_source_remove,
	.input_add = pxm_input_add,
	.input_remove = g_source_remove,
	.timeout_add_seconds = g_timeout_add_seconds,
};

/*********************************************************************
 * Loopback-only name resolution
 *********************************************************************/

static gboolean
pxm_name_is_localhost(const char *name)
{
	g_autofree gchar *lower = g_ascii_strdown(name, -1);
	gsize len = strlen(lower);

	if (len > 0 && lower[len - 1] == '.')
		lower[--len] = '\0';

	/* RFC 6761 6.3: localhost and its subdomains are loopback. */
	return g_str_equal(lower, "localhost") ||
	       g_str_has_suffix(lower, ".localhost");
}

static GSList *
pxm_hosts_append(GSList *hosts, GInetAddress *address, guint16 port)
{
	gsize size = g_inet_address_get_native_size(address);
	const guint8 *bytes = g_inet_address_to_bytes(address);
	gpointer sa;
	gsize sa_len;

	if (g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV6) {
		struct sockaddr_in6 *sin6 = g_new0(struct sockaddr_in6, 1);

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		memcpy(&sin6->sin6_addr, bytes,
		       MIN(size, sizeof(sin6->sin6_addr)));
		sa = sin6;
		sa_len = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = g_new0(struct sockaddr_in, 1);

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		memcpy(&sin->sin_addr, bytes, MIN(size, sizeof(sin->sin_addr)));
		sa = sin;
		sa_len = sizeof(*sin);
	}

	/* libpurple's host list alternates (length, struct sockaddr *). */
	hosts = g_slist_append(hosts, GSIZE_TO_POINTER(sa_len));
	return g_slist_append(hosts, sa);
}

static void
pxm_hosts_free(GSList *hosts)
{
	while (hosts != NULL) {
		hosts = g_slist_delete_link(hosts, hosts);
		if (hosts != NULL) {
			g_free(hosts->data);
			hosts = g_slist_delete_link(hosts, hosts);
		}
	}
}

static GSList *
pxm_resolve_loopback(const char *name, guint16 port)
{
	g_autoptr(GInetAddress) literal = NULL;
	GSList *hosts = NULL;

	if (pxm_name_is_localhost(name)) {
		g_autoptr(GInetAddress) v4 =
			g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
		g_autoptr(GInetAddress) v6 =
			g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV6);

		hosts = pxm_hosts_append(hosts, v4, port);
		return pxm_hosts_append(hosts, v6, port);
	}

	literal = g_inet_address_new_from_string(name);
	if (literal != NULL && g_inet_address_get_is_loopback(literal))
		return pxm_hosts_append(hosts, literal, port);

	return NULL;
}

static void
pxm_emit_resolve(const char *kind, const char *name, gboolean ok)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("resolve");

	pxm_add_string(event, "kind", kind);
	pxm_add_string(event, "name", name);
	pxm_add_bool(event, "ok", ok);
	pxm_emit(event);
}

static void
pxm_dns_job_free(PxmDnsJob *job)
{
	if (job->source != 0)
		g_source_remove(job->source);
	pxm_hosts_free(job->hosts);
	g_free(job->error);
	g_free(job);
}

static gboolean
pxm_dns_job_finish(gpointer data)
{
	PxmDnsJob *job = data;
	PurpleDnsQueryData *query = job->query;
	GSList *hosts = g_steal_pointer(&job->hosts);
	g_autofree gchar *error = g_steal_pointer(&job->error);
	PurpleDnsQueryResolvedCallback resolved_cb = job->resolved_cb;
	PurpleDnsQueryFailedCallback failed_cb = job->failed_cb;

	/* The callbacks destroy the query, which calls our destroy op. */
	job->source = 0;
	g_hash_table_remove(host.dns_jobs, query);

	if (hosts != NULL)
		resolved_cb(query, hosts);
	else
		failed_cb(query, error);

	return G_SOURCE_REMOVE;
}

static gboolean
pxm_dns_resolve_host(PurpleDnsQueryData *query,
		     PurpleDnsQueryResolvedCallback resolved_cb,
		     PurpleDnsQueryFailedCallback failed_cb)
{
	const char *name = purple_dnsquery_get_host(query);
	PxmDnsJob *job = g_new0(PxmDnsJob, 1);

	job->query = query;
	job->resolved_cb = resolved_cb;
	job->failed_cb = failed_cb;
	job->hosts = pxm_resolve_loopback(name,
					  purple_dnsquery_get_port(query));
	if (job->hosts == NULL)
		job->error = g_strdup_printf(
			"pxm-test-host resolves loopback names only, not '%s'",
			name);
	pxm_emit_resolve("A", name, job->hosts != NULL);

	/* Answering before libpurple has stored the query handle would leave
	 * it holding a freed query. */
	job->source = g_idle_add(pxm_dns_job_finish, job);
	g_hash_table_insert(host.dns_jobs, query, job);

	return TRUE;
}

static void
pxm_dns_destroy(PurpleDnsQueryData *query)
{
	g_hash_table_remove(host.dns_jobs, query);
}

static PurpleDnsQueryUiOps pxm_dns_ops = {
	.resolve_host = pxm_dns_resolve_host,
	.destroy = pxm_dns_destroy,
};

static void
pxm_srv_job_free(PxmSrvJob *job)
{
	if (job->source != 0)
		g_source_remove(job->source);
	g_free(job);
}

static gboolean
pxm_srv_job_finish(gpointer data)
{
	PxmSrvJob *job = data;
	PurpleSrvTxtQueryData *query = job->query;
	PurpleSrvTxtQueryResolvedCallback resolved_cb = job->resolved_cb;
	PurpleSrvTxtQueryFailedCallback failed_cb = job->failed_cb;
	gboolean is_txt = job->is_txt;

	job->source = 0;
	g_hash_table_remove(host.srv_jobs, query);

	if (is_txt) {
		/* dnssrv.c reports a failed TXT query through the SRV callback
		 * signature, so a TXT callback would get NULL user data. One
		 * record that names no connection method fails the lookup
		 * safely. */
		PurpleTxtResponse *record = g_new0(PurpleTxtResponse, 1);

		record->content = g_strdup("pxm-test-host=no-external-lookups");
		resolved_cb(query, g_list_append(NULL, record));
	} else {
		failed_cb(query, "pxm-test-host does no SRV lookups");
	}

	return G_SOURCE_REMOVE;
}

static gboolean
pxm_srv_resolve(PurpleSrvTxtQueryData *query,
		PurpleSrvTxtQueryResolvedCallback resolved_cb,
		PurpleSrvTxtQueryFailedCallback failed_cb)
{
	PxmSrvJob *job = g_new0(PxmSrvJob, 1);

	job->query = query;
	job->resolved_cb = resolved_cb;
	job->failed_cb = failed_cb;
	job->is_txt = purple_srv_txt_query_get_type(query) == PurpleDnsTypeTxt;
	pxm_emit_resolve(job->is_txt ? "TXT" : "SRV",
			 purple_srv_txt_query_get_query(query), FALSE);

	/* dnssrv.h: these callbacks MUST be called asynchronously. */
	job->source = g_idle_add(pxm_srv_job_finish, job);
	g_hash_table_insert(host.srv_jobs, query, job);

	return TRUE;
}

static void
pxm_srv_destroy(PurpleSrvTxtQueryData *query)
{
	g_hash_table_remove(host.srv_jobs, query);
}

static PurpleSrvTxtQueryUiOps pxm_srv_ops = {
	.resolve = pxm_srv_resolve,
	.destroy = pxm_srv_destroy,
};

/*********************************************************************
 * Debug UI ops
 *********************************************************************/

static const char *
pxm_debug_level_name(PurpleDebugLevel level)
{
	switch (level) {
	case PURPLE_DEBUG_MISC:
		return "misc";
	case PURPLE_DEBUG_INFO:
		return "info";
	case PURPLE_DEBUG_WARNING:
		return "warning";
	case PURPLE_DEBUG_ERROR:
		return "error";
	case PURPLE_DEBUG_FATAL:
		return "fatal";
	default:
		return "all";
	}
}

static void
pxm_debug_print(PurpleDebugLevel level, const char *category, const char *text)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("debug");

	pxm_add_string(event, "level", pxm_debug_level_name(level));
	pxm_add_string(event, "category", category);
	pxm_add_string(event, "message", text);
	pxm_emit(event);
}

static gboolean
pxm_debug_is_enabled(PurpleDebugLevel level, const char *category)
{
	return TRUE;
}

static PurpleDebugUiOps pxm_debug_ops = {
	.print = pxm_debug_print,
	.is_enabled = pxm_debug_is_enabled,
};

/*********************************************************************
 * Conversation UI ops
 *********************************************************************/

static const struct {
	PurpleMessageFlags flag;
	const char *name;
} pxm_message_flags[] = {
	{ PURPLE_MESSAGE_SEND, "send" },
	{ PURPLE_MESSAGE_RECV, "recv" },
	{ PURPLE_MESSAGE_SYSTEM, "system" },
	{ PURPLE_MESSAGE_AUTO_RESP, "auto_resp" },
	{ PURPLE_MESSAGE_ACTIVE_ONLY, "active_only" },
	{ PURPLE_MESSAGE_NICK, "nick" },
	{ PURPLE_MESSAGE_NO_LOG, "nolog" },
	{ PURPLE_MESSAGE_WHISPER, "whisper" },
	{ PURPLE_MESSAGE_ERROR, "error" },
	{ PURPLE_MESSAGE_DELAYED, "delayed" },
	{ PURPLE_MESSAGE_RAW, "raw" },
	{ PURPLE_MESSAGE_IMAGES, "images" },
	{ PURPLE_MESSAGE_NOTIFY, "notify" },
	{ PURPLE_MESSAGE_NO_LINKIFY, "no_linkify" },
	{ PURPLE_MESSAGE_INVISIBLE, "invisible" },
	{ PURPLE_MESSAGE_REMOTE_SEND, "remote_send" },
};

static const char *
pxm_conv_type_name(PurpleConversationType type)
{
	switch (type) {
	case PURPLE_CONV_TYPE_IM:
		return "im";
	case PURPLE_CONV_TYPE_CHAT:
		return "chat";
	case PURPLE_CONV_TYPE_MISC:
		return "misc";
	case PURPLE_CONV_TYPE_ANY:
		return "any";
	default:
		return "unknown";
	}
}

static void
pxm_add_conversation(JsonBuilder *builder, PurpleConversation *conv)
{
	pxm_add_account(builder, purple_conversation_get_account(conv));
	pxm_add_string(builder, "conversation",
		       purple_conversation_get_name(conv));
	pxm_add_string(builder, "conv_type",
		       pxm_conv_type_name(purple_conversation_get_type(conv)));
}

static void
pxm_emit_conversation(const char *name, PurpleConversation *conv)
{
	g_autoptr(JsonBuilder) event = pxm_event_new(name);

	pxm_add_conversation(event, conv);
	pxm_emit(event);
}

static void
pxm_conv_create(PurpleConversation *conv)
{
	pxm_emit_conversation("conv_created", conv);
}

static void
pxm_conv_destroy(PurpleConversation *conv)
{
	pxm_emit_conversation("conv_destroyed", conv);
}

/* Conversation data: set while the user looks at it (view_conversation). */
#define PXM_FOCUS_KEY "pxm-test-host-focus"

static void
pxm_conv_write(PurpleConversation *conv, const char *who, const char *alias,
	       const char *message, PurpleMessageFlags flags, time_t mtime)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("conv_write");

	pxm_add_conversation(event, conv);
	pxm_add_string(event, "who", who);
	pxm_add_string(event, "alias", alias);
	pxm_add_string(event, "text", message);
	json_builder_set_member_name(event, "flags");
	json_builder_begin_array(event);
	for (gsize i = 0; i < G_N_ELEMENTS(pxm_message_flags); i++) {
		if (flags & pxm_message_flags[i].flag)
			json_builder_add_string_value(
				event, pxm_message_flags[i].name);
	}
	json_builder_end_array(event);
	pxm_add_int(event, "flags_int", flags);
	pxm_add_int(event, "time", (gint64)mtime);
	pxm_emit(event);

	/* Like Pidgin and Finch: what is written while the user does not look
	 * at the conversation is unseen until they do (view_conversation). */
	if (!(flags & PURPLE_MESSAGE_SEND) &&
	    !purple_conversation_get_data(conv, PXM_FOCUS_KEY)) {
		int unseen = GPOINTER_TO_INT(
			purple_conversation_get_data(conv, "unseen-count"));

		purple_conversation_set_data(conv, "unseen-count",
					     GINT_TO_POINTER(unseen + 1));
		purple_conversation_update(conv, PURPLE_CONV_UPDATE_UNSEEN);
	}
}

static void
pxm_chat_add_users(PurpleConversation *conv, GList *buddies,
		   gboolean new_arrivals)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("chat_users");

	pxm_add_conversation(event, conv);
	pxm_add_bool(event, "new_arrivals", new_arrivals);
	json_builder_set_member_name(event, "added");
	json_builder_begin_array(event);
	for (GList *l = buddies; l != NULL; l = l->next)
		json_builder_add_string_value(
			event, purple_conv_chat_cb_get_name(l->data));
	json_builder_end_array(event);
	pxm_emit(event);
}

static void
pxm_chat_remove_users(PurpleConversation *conv, GList *users)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("chat_users");

	pxm_add_conversation(event, conv);
	json_builder_set_member_name(event, "removed");
	json_builder_begin_array(event);
	for (GList *l = users; l != NULL; l = l->next)
		json_builder_add_string_value(event, l->data);
	json_builder_end_array(event);
	pxm_emit(event);
}

static gboolean
pxm_conv_has_focus(PurpleConversation *conv)
{
	return purple_conversation_get_data(conv, PXM_FOCUS_KEY) != NULL;
}

static void
pxm_conversation_updated_cb(PurpleConversation *conv, PurpleConvUpdateType type,
			    gpointer data)
{
	g_autoptr(JsonBuilder) event = NULL;

	if (type != PURPLE_CONV_UPDATE_TITLE)
		return;
	event = pxm_event_new("conv_title");
	pxm_add_conversation(event, conv);
	pxm_add_string(event, "title", purple_conversation_get_title(conv));
	pxm_emit(event);
}

static PurpleConversationUiOps pxm_conv_ops = {
	.create_conversation = pxm_conv_create,
	.destroy_conversation = pxm_conv_destroy,
	.write_conv = pxm_conv_write,
	.chat_add_users = pxm_chat_add_users,
	.chat_remove_users = pxm_chat_remove_users,
	.has_focus = pxm_conv_has_focus,
};

/*********************************************************************
 * Request UI ops
 *********************************************************************/

static const char *
pxm_field_type_name(PurpleRequestFieldType type)
{
	switch (type) {
	case PURPLE_REQUEST_FIELD_STRING:
		return "string";
	case PURPLE_REQUEST_FIELD_INTEGER:
		return "integer";
	case PURPLE_REQUEST_FIELD_BOOLEAN:
		return "boolean";
	case PURPLE_REQUEST_FIELD_CHOICE:
		return "choice";
	case PURPLE_REQUEST_FIELD_LIST:
		return "list";
	case PURPLE_REQUEST_FIELD_LABEL:
		return "label";
	case PURPLE_REQUEST_FIELD_IMAGE:
		return "image";
	case PURPLE_REQUEST_FIELD_ACCOUNT:
		return "account";
	default:
		return "none";
	}
}

static const char *const pxm_request_kind_names[] = {
	[PXM_REQUEST_INPUT] = "input",         [PXM_REQUEST_CHOICE] = "choice",
	[PXM_REQUEST_ACTION] = "action",       [PXM_REQUEST_FIELDS] = "fields",
	[PXM_REQUEST_FILE] = "file",           [PXM_REQUEST_FOLDER] = "folder",
	[PXM_REQUEST_AUTHORIZE] = "authorize",
};

static void
pxm_request_free(PxmRequest *req)
{
	if (req->action_cbs != NULL)
		g_array_free(req->action_cbs, TRUE);
	if (req->fields != NULL)
		purple_request_fields_destroy(req->fields);
	g_free(req->default_text);
	g_free(req);
}

static PxmRequest *
pxm_request_new(PxmRequestKind kind, PurpleRequestType type, void *user_data)
{
	PxmRequest *req = g_new0(PxmRequest, 1);

	req->id = ++host.next_request_id;
	req->kind = kind;
	req->type = type;
	req->user_data = user_data;
	g_hash_table_insert(host.requests, GUINT_TO_POINTER(req->id), req);

	return req;
}

static JsonBuilder *
pxm_request_event_new(PxmRequest *req, const char *title, const char *primary,
		      const char *secondary, PurpleAccount *account,
		      const char *who)
{
	JsonBuilder *event = pxm_event_new("request");

	pxm_add_int(event, "id", req->id);
	pxm_add_string(event, "type", pxm_request_kind_names[req->kind]);
	pxm_add_string(event, "title", title);
	pxm_add_string(event, "primary", primary);
	pxm_add_string(event, "secondary", secondary);
	pxm_add_account(event, account);
	pxm_add_string(event, "who", who);

	return event;
}

static void
pxm_add_labels(JsonBuilder *event, const char *name, const char *first,
	       const char *second)
{
	json_builder_set_member_name(event, name);
	json_builder_begin_array(event);
	json_builder_add_string_value(event, first != NULL ? first : "");
	json_builder_add_string_value(event, second != NULL ? second : "");
	json_builder_end_array(event);
}

static void *
pxm_request_input(const char *title, const char *primary, const char *secondary,
		  const char *default_value, gboolean multiline,
		  gboolean masked, gchar *hint, const char *ok_text,
		  GCallback ok_cb, const char *cancel_text, GCallback cancel_cb,
		  PurpleAccount *account, const char *who,
		  PurpleConversation *conv, void *user_data)
{
	PxmRequest *req = pxm_request_new(PXM_REQUEST_INPUT,
					  PURPLE_REQUEST_INPUT, user_data);
	g_autoptr(JsonBuilder) event = NULL;

	req->ok_cb = ok_cb;
	req->cancel_cb = cancel_cb;
	req->default_text = g_strdup(default_value);

	event = pxm_request_event_new(req, title, primary, secondary, account,
				      who);
	pxm_add_string(event, "default_value", default_value);
	pxm_add_bool(event, "multiline", multiline);
	pxm_add_bool(event, "masked", masked);
	pxm_add_string(event, "hint", hint);
	pxm_add_labels(event, "actions", ok_text, cancel_text);
	pxm_emit(event);

	return req;
}

static void *
pxm_request_choice(const char *title, const char *primary,
		   const char *secondary, int default_value,
		   const char *ok_text, GCallback ok_cb,
		   const char *cancel_text, GCallback cancel_cb,
		   PurpleAccount *account, const char *who,
		   PurpleConversation *conv, void *user_data, va_list choices)
{
	PxmRequest *req = pxm_request_new(PXM_REQUEST_CHOICE,
					  PURPLE_REQUEST_CHOICE, user_data);
	g_autoptr(JsonBuilder) event = NULL;
	const char *label;

	req->ok_cb = ok_cb;
	req->cancel_cb = cancel_cb;
	req->default_value = default_value;

	event = pxm_request_event_new(req, title, primary, secondary, account,
				      who);
	pxm_add_int(event, "default_value", default_value);
	pxm_add_labels(event, "actions", ok_text, cancel_text);
	json_builder_set_member_name(event, "choices");
	json_builder_begin_array(event);
	while ((label = va_arg(choices, const char *)) != NULL) {
		int value = va_arg(choices, int);

		json_builder_begin_object(event);
		pxm_add_string(event, "label", label);
		pxm_add_int(event, "value", value);
		json_builder_end_object(event);
	}
	json_builder_end_array(event);
	pxm_emit(event);

	return req;
}

static void *
pxm_request_action_with_icon(const char *title, const char *primary,
			     const char *secondary, int default_action,
			     PurpleAccount *account, const char *who,
			     PurpleConversation *conv, gconstpointer icon_data,
			     gsize icon_size, void *user_data,
			     size_t action_count, va_list actions)
{
	PxmRequest *req = pxm_request_new(PXM_REQUEST_ACTION,
					  PURPLE_REQUEST_ACTION, user_data);
	g_autoptr(JsonBuilder) event = NULL;

	req->action_cbs = g_array_new(FALSE, TRUE, sizeof(GCallback));

	event = pxm_request_event_new(req, title, primary, secondary, account,
				      who);
	pxm_add_int(event, "default_action", default_action);
	json_builder_set_member_name(event, "actions");
	json_builder_begin_array(event);
	for (size_t i = 0; i < action_count; i++) {
		const char *label = va_arg(actions, const char *);
		GCallback cb = va_arg(actions, GCallback);

		json_builder_add_string_value(event,
					      label != NULL ? label : "");
		g_array_append_val(req->action_cbs, cb);
	}
	json_builder_end_array(event);
	pxm_emit(event);

	return req;
}

static void *
pxm_request_action(const char *title, const char *primary,
		   const char *secondary, int default_action,
		   PurpleAccount *account, const char *who,
		   PurpleConversation *conv, void *user_data,
		   size_t action_count, va_list actions)
{
	return pxm_request_action_with_icon(
		title, primary, secondary, default_action, account, who, conv,
		NULL, 0, user_data, action_count, actions);
}

static void
pxm_add_field(JsonBuilder *event, PurpleRequestField *field, const char *group)
{
	PurpleRequestFieldType type = purple_request_field_get_type(field);
	PurpleAccount *account;

	json_builder_begin_object(event);
	pxm_add_string(event, "id", purple_request_field_get_id(field));
	pxm_add_string(event, "type", pxm_field_type_name(type));
	pxm_add_string(event, "label", purple_request_field_get_label(field));
	pxm_add_string(event, "group", group);
	pxm_add_bool(event, "required",
		     purple_request_field_is_required(field));
	pxm_add_bool(event, "visible", purple_request_field_is_visible(field));
	pxm_add_string(event, "type_hint",
		       purple_request_field_get_type_hint(field));

	switch (type) {
	case PURPLE_REQUEST_FIELD_STRING:
		pxm_add_string(event, "value",
			       purple_request_field_string_get_value(field));
		pxm_add_bool(event, "masked",
			     purple_request_field_string_is_masked(field));
		pxm_add_bool(event, "multiline",
			     purple_request_field_string_is_multiline(field));
		break;
	case PURPLE_REQUEST_FIELD_INTEGER:
		pxm_add_int(event, "value",
			    purple_request_field_int_get_value(field));
		break;
	case PURPLE_REQUEST_FIELD_BOOLEAN:
		pxm_add_bool(event, "value",
			     purple_request_field_bool_get_value(field));
		break;
	case PURPLE_REQUEST_FIELD_CHOICE:
		pxm_add_int(event, "value",
			    purple_request_field_choice_get_value(field));
		json_builder_set_member_name(event, "choices");
		json_builder_begin_array(event);
		for (GList *l = purple_request_field_choice_get_labels(field);
		     l != NULL; l = l->next)
			json_builder_add_string_value(event, l->data);
		json_builder_end_array(event);
		break;
	case PURPLE_REQUEST_FIELD_LIST:
		pxm_add_bool(event, "multiple",
			     purple_request_field_list_get_multi_select(field));
		json_builder_set_member_name(event, "items");
		json_builder_begin_array(event);
		for (GList *l = purple_request_field_list_get_items(field);
		     l != NULL; l = l->next)
			json_builder_add_string_value(event, l->data);
		json_builder_end_array(event);
		json_builder_set_member_name(event, "value");
		json_builder_begin_array(event);
		for (GList *l = purple_request_field_list_get_selected(field);
		     l != NULL; l = l->next)
			json_builder_add_string_value(event, l->data);
		json_builder_end_array(event);
		break;
	case PURPLE_REQUEST_FIELD_IMAGE:
		pxm_add_int(event, "size",
			    purple_request_field_image_get_size(field));
		break;
	case PURPLE_REQUEST_FIELD_ACCOUNT:
		account = purple_request_field_account_get_value(field);
		pxm_add_string(event, "value",
			       account != NULL
				       ? purple_account_get_username(account)
				       : NULL);
		break;
	default:
		break;
	}
	json_builder_end_object(event);
}

static void *
pxm_request_fields(const char *title, const char *primary,
		   const char *secondary, PurpleRequestFields *fields,
		   const char *ok_text, GCallback ok_cb,
		   const char *cancel_text, GCallback cancel_cb,
		   PurpleAccount *account, const char *who,
		   PurpleConversation *conv, void *user_data)
{
	PxmRequest *req = pxm_request_new(PXM_REQUEST_FIELDS,
					  PURPLE_REQUEST_FIELDS, user_data);
	g_autoptr(JsonBuilder) event = NULL;

	req->ok_cb = ok_cb;
	req->cancel_cb = cancel_cb;
	/* The UI owns the fields from here on and destroys them on close. */
	req->fields = fields;

	event = pxm_request_event_new(req, title, primary, secondary, account,
				      who);
	pxm_add_labels(event, "actions", ok_text, cancel_text);
	json_builder_set_member_name(event, "fields");
	json_builder_begin_array(event);
	for (GList *g = purple_request_fields_get_groups(fields); g != NULL;
	     g = g->next) {
		const char *group =
			purple_request_field_group_get_title(g->data);

		for (GList *f = purple_request_field_group_get_fields(g->data);
		     f != NULL; f = f->next)
			pxm_add_field(event, f->data, group);
	}
	json_builder_end_array(event);
	pxm_emit(event);

	return req;
}

static void *
pxm_request_file_or_folder(PxmRequestKind kind, PurpleRequestType type,
			   const char *title, const char *filename,
			   gboolean savedialog, GCallback ok_cb,
			   GCallback cancel_cb, PurpleAccount *account,
			   const char *who, void *user_data)
{
	PxmRequest *req = pxm_request_new(kind, type, user_data);
	g_autoptr(JsonBuilder) event = NULL;

	req->ok_cb = ok_cb;
	req->cancel_cb = cancel_cb;
	req->default_text = g_strdup(filename);

	event = pxm_request_event_new(req, title, NULL, NULL, account, who);
	pxm_add_string(event, "default_value", filename);
	pxm_add_bool(event, "savedialog", savedialog);
	pxm_add_labels(event, "actions", "OK", "Cancel");
	pxm_emit(event);

	return req;
}

static void *
pxm_request_file(const char *title, const char *filename, gboolean savedialog,
		 GCallback ok_cb, GCallback cancel_cb, PurpleAccount *account,
		 const char *who, PurpleConversation *conv, void *user_data)
{
	return pxm_request_file_or_folder(PXM_REQUEST_FILE, PURPLE_REQUEST_FILE,
					  title, filename, savedialog, ok_cb,
					  cancel_cb, account, who, user_data);
}

static void *
pxm_request_folder(const char *title, const char *dirname, GCallback ok_cb,
		   GCallback cancel_cb, PurpleAccount *account, const char *who,
		   PurpleConversation *conv, void *user_data)
{
	return pxm_request_file_or_folder(
		PXM_REQUEST_FOLDER, PURPLE_REQUEST_FOLDER, title, dirname,
		FALSE, ok_cb, cancel_cb, account, who, user_data);
}

static void
pxm_request_forget(PxmRequest *req)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("request_closed");

	pxm_add_int(event, "id", req->id);
	g_hash_table_remove(host.requests, GUINT_TO_POINTER(req->id));
	pxm_request_free(req);
	pxm_emit(event);
}

static void
pxm_request_close(PurpleRequestType type, void *ui_handle)
{
	pxm_request_forget(ui_handle);
}

static PurpleRequestUiOps pxm_request_ops = {
	.request_input = pxm_request_input,
	.request_choice = pxm_request_choice,
	.request_action = pxm_request_action,
	.request_fields = pxm_request_fields,
	.request_file = pxm_request_file,
	.close_request = pxm_request_close,
	.request_folder = pxm_request_folder,
	.request_action_with_icon = pxm_request_action_with_icon,
};

/*********************************************************************
 * Account UI ops (presence subscription requests)
 *********************************************************************/

static void
pxm_emit_account_notice(const char *kind, PurpleAccount *account,
			const char *remote_user, const char *alias,
			const char *message)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("account_notice");

	pxm_add_string(event, "kind", kind);
	pxm_add_account(event, account);
	pxm_add_string(event, "who", remote_user);
	pxm_add_string(event, "alias", alias);
	pxm_add_string(event, "message", message);
	pxm_emit(event);
}

static void
pxm_account_notify_added(PurpleAccount *account, const char *remote_user,
			 const char *id, const char *alias, const char *message)
{
	pxm_emit_account_notice("added", account, remote_user, alias, message);
}

static void
pxm_account_request_add(PurpleAccount *account, const char *remote_user,
			const char *id, const char *alias, const char *message)
{
	pxm_emit_account_notice("request_add", account, remote_user, alias,
				message);
}

static void *
pxm_account_request_authorize(PurpleAccount *account, const char *remote_user,
			      const char *id, const char *alias,
			      const char *message, gboolean on_list,
			      PurpleAccountRequestAuthorizationCb authorize_cb,
			      PurpleAccountRequestAuthorizationCb deny_cb,
			      void *user_data)
{
	PxmRequest *req = pxm_request_new(PXM_REQUEST_AUTHORIZE,
					  PURPLE_REQUEST_ACTION, user_data);
	g_autoptr(JsonBuilder) event = NULL;

	req->ok_cb = G_CALLBACK(authorize_cb);
	req->cancel_cb = G_CALLBACK(deny_cb);

	event = pxm_request_event_new(req, NULL, message, NULL, account,
				      remote_user);
	pxm_add_string(event, "alias", alias);
	pxm_add_bool(event, "on_list", on_list);
	pxm_add_labels(event, "actions", "Authorize", "Deny");
	pxm_emit(event);

	return req;
}

static void
pxm_account_close_request(void *ui_handle)
{
	pxm_request_forget(ui_handle);
}

static PurpleAccountUiOps pxm_account_ops = {
	.notify_added = pxm_account_notify_added,
	.request_add = pxm_account_request_add,
	.request_authorize = pxm_account_request_authorize,
	.close_account_request = pxm_account_close_request,
};

/*********************************************************************
 * Notify UI ops
 *********************************************************************/

static const char *
pxm_notify_msg_type_name(PurpleNotifyMsgType type)
{
	switch (type) {
	case PURPLE_NOTIFY_MSG_ERROR:
		return "error";
	case PURPLE_NOTIFY_MSG_WARNING:
		return "warning";
	default:
		return "info";
	}
}

static JsonBuilder *
pxm_notify_event_new(const char *type, const char *title, const char *primary,
		     const char *secondary)
{
	JsonBuilder *event = pxm_event_new("notify");

	pxm_add_string(event, "type", type);
	pxm_add_string(event, "title", title);
	pxm_add_string(event, "primary", primary);
	pxm_add_string(event, "secondary", secondary);

	return event;
}

/* Every notify op returns NULL: libpurple then treats the notification as
 * shown and closed at once, so no handles are left to close. */

static void *
pxm_notify_message(PurpleNotifyMsgType type, const char *title,
		   const char *primary, const char *secondary)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new("message", title,
							    primary, secondary);

	pxm_add_string(event, "msg_type", pxm_notify_msg_type_name(type));
	pxm_emit(event);

	return NULL;
}

static void *
pxm_notify_email(PurpleConnection *gc, const char *subject, const char *from,
		 const char *to, const char *url)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new("email", subject,
							    from, to);

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_add_string(event, "url", url);
	pxm_emit(event);

	return NULL;
}

static void *
pxm_notify_emails(PurpleConnection *gc, size_t count, gboolean detailed,
		  const char **subjects, const char **froms, const char **tos,
		  const char **urls)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new("emails", NULL,
							    NULL, NULL);

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_add_int(event, "count", count);
	pxm_emit(event);

	return NULL;
}

static void *
pxm_notify_formatted(const char *title, const char *primary,
		     const char *secondary, const char *text)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new("formatted", title,
							    primary, secondary);

	pxm_add_string(event, "text", text);
	pxm_emit(event);

	return NULL;
}

static void *
pxm_notify_searchresults(PurpleConnection *gc, const char *title,
			 const char *primary, const char *secondary,
			 PurpleNotifySearchResults *results, gpointer user_data)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new(
		"searchresults", title, primary, secondary);
	guint columns = purple_notify_searchresults_get_columns_count(results);
	guint rows = purple_notify_searchresults_get_rows_count(results);

	pxm_add_account(event, purple_connection_get_account(gc));
	json_builder_set_member_name(event, "columns");
	json_builder_begin_array(event);
	for (guint c = 0; c < columns; c++)
		json_builder_add_string_value(
			event, purple_notify_searchresults_column_get_title(
				       results, c));
	json_builder_end_array(event);
	json_builder_set_member_name(event, "rows");
	json_builder_begin_array(event);
	for (guint r = 0; r < rows; r++) {
		json_builder_begin_array(event);
		for (GList *l = purple_notify_searchresults_row_get(results, r);
		     l != NULL; l = l->next)
			json_builder_add_string_value(
				event, l->data != NULL ? l->data : "");
		json_builder_end_array(event);
	}
	json_builder_end_array(event);
	pxm_emit(event);

	/* The results belong to the UI, which closes them at once. */
	purple_notify_searchresults_free(results);

	return NULL;
}

static void *
pxm_notify_userinfo(PurpleConnection *gc, const char *who,
		    PurpleNotifyUserInfo *user_info)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new("userinfo", NULL,
							    NULL, NULL);
	g_autofree gchar *text =
		purple_notify_user_info_get_text_with_newline(user_info, "\n");

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_add_string(event, "who", who);
	pxm_add_string(event, "text", text);
	pxm_emit(event);

	return NULL;
}

static void *
pxm_notify_uri(const char *uri)
{
	g_autoptr(JsonBuilder) event = pxm_notify_event_new("uri", NULL, NULL,
							    NULL);

	pxm_add_string(event, "uri", uri);
	pxm_emit(event);

	return NULL;
}

static PurpleNotifyUiOps pxm_notify_ops = {
	.notify_message = pxm_notify_message,
	.notify_email = pxm_notify_email,
	.notify_emails = pxm_notify_emails,
	.notify_formatted = pxm_notify_formatted,
	.notify_searchresults = pxm_notify_searchresults,
	.notify_userinfo = pxm_notify_userinfo,
	.notify_uri = pxm_notify_uri,
};

/*********************************************************************
 * File transfer UI ops
 *********************************************************************/

static const char *
pxm_xfer_status_name(PurpleXferStatusType status)
{
	switch (status) {
	case PURPLE_XFER_STATUS_NOT_STARTED:
		return "not_started";
	case PURPLE_XFER_STATUS_ACCEPTED:
		return "accepted";
	case PURPLE_XFER_STATUS_STARTED:
		return "started";
	case PURPLE_XFER_STATUS_DONE:
		return "done";
	case PURPLE_XFER_STATUS_CANCEL_LOCAL:
		return "cancel_local";
	case PURPLE_XFER_STATUS_CANCEL_REMOTE:
		return "cancel_remote";
	default:
		return "unknown";
	}
}

static void
pxm_emit_xfer(const char *stage, PurpleXfer *xfer)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("xfer");
	PurpleXferType type = purple_xfer_get_type(xfer);

	pxm_add_string(event, "stage", stage);
	pxm_add_int(event, "id", GPOINTER_TO_UINT(xfer->ui_data));
	pxm_add_account(event, purple_xfer_get_account(xfer));
	pxm_add_string(event, "type",
		       type == PURPLE_XFER_SEND      ? "send"
		       : type == PURPLE_XFER_RECEIVE ? "receive"
						     : "unknown");
	pxm_add_string(event, "who", purple_xfer_get_remote_user(xfer));
	pxm_add_string(event, "filename", purple_xfer_get_filename(xfer));
	pxm_add_string(event, "local_filename",
		       purple_xfer_get_local_filename(xfer));
	pxm_add_int(event, "size", purple_xfer_get_size(xfer));
	pxm_add_int(event, "bytes_sent", purple_xfer_get_bytes_sent(xfer));
	pxm_add_string(event, "status",
		       pxm_xfer_status_name(purple_xfer_get_status(xfer)));
	json_builder_set_member_name(event, "progress");
	json_builder_add_double_value(event, purple_xfer_get_progress(xfer));
	pxm_emit(event);
}

static void
pxm_xfer_new(PurpleXfer *xfer)
{
	xfer->ui_data = GUINT_TO_POINTER(++host.next_xfer_id);
	pxm_emit_xfer("new", xfer);
}

static void
pxm_xfer_destroy(PurpleXfer *xfer)
{
	pxm_emit_xfer("destroy", xfer);
}

static void
pxm_xfer_add(PurpleXfer *xfer)
{
	pxm_emit_xfer("add", xfer);
}

static void
pxm_xfer_update_progress(PurpleXfer *xfer, double percent)
{
	pxm_emit_xfer("progress", xfer);
}

static void
pxm_xfer_cancel_local(PurpleXfer *xfer)
{
	pxm_emit_xfer("cancel_local", xfer);
}

static void
pxm_xfer_cancel_remote(PurpleXfer *xfer)
{
	pxm_emit_xfer("cancel_remote", xfer);
}

static PurpleXferUiOps pxm_xfer_ops = {
	.new_xfer = pxm_xfer_new,
	.destroy = pxm_xfer_destroy,
	.add_xfer = pxm_xfer_add,
	.update_progress = pxm_xfer_update_progress,
	.cancel_local = pxm_xfer_cancel_local,
	.cancel_remote = pxm_xfer_cancel_remote,
};

/*********************************************************************
 * Connection UI ops and signals
 *********************************************************************/

static const char *const pxm_connection_error_names[] = {
	"network_error",
	"invalid_username",
	"authentication_failed",
	"authentication_impossible",
	"no_ssl_support",
	"encryption_error",
	"name_in_use",
	"invalid_settings",
	"cert_not_provided",
	"cert_untrusted",
	"cert_expired",
	"cert_not_activated",
	"cert_hostname_mismatch",
	"cert_fingerprint_mismatch",
	"cert_self_signed",
	"cert_other_error",
	"other_error",
};

static void
pxm_connect_progress(PurpleConnection *gc, const char *text, size_t step,
		     size_t step_count)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("connect_progress");

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_add_string(event, "text", text);
	pxm_add_int(event, "step", step);
	pxm_add_int(event, "step_count", step_count);
	pxm_emit(event);
}

static PurpleConnectionUiOps pxm_connection_ops = {
	.connect_progress = pxm_connect_progress,
};

static void
pxm_signed_on_cb(PurpleConnection *gc, gpointer data)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("signed_on");

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_emit(event);
}

static void
pxm_signed_off_cb(PurpleConnection *gc, gpointer data)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("signed_off");

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_emit(event);
}

static void
pxm_connection_error_cb(PurpleConnection *gc, PurpleConnectionError reason,
			const char *description, gpointer data)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("connection_error");
	const char *name = "unknown";

	if ((guint)reason < G_N_ELEMENTS(pxm_connection_error_names))
		name = pxm_connection_error_names[reason];

	pxm_add_account(event, purple_connection_get_account(gc));
	pxm_add_int(event, "reason", reason);
	pxm_add_string(event, "reason_name", name);
	pxm_add_string(event, "description", description);
	pxm_emit(event);
}

static void
pxm_chat_joined_cb(PurpleConversation *conv, gpointer data)
{
	pxm_emit_conversation("chat_joined", conv);
}

static void
pxm_chat_left_cb(PurpleConversation *conv, gpointer data)
{
	pxm_emit_conversation("chat_left", conv);
}

static void
pxm_emit_xml(PurpleConnection *gc, const char *dir, const char *xml)
{
	PurpleAccount *account = purple_connection_get_account(gc);
	g_autoptr(JsonBuilder) event = NULL;

	if (xml == NULL || !g_hash_table_contains(host.xml_accounts, account))
		return;

	event = pxm_event_new("xml");
	pxm_add_account(event, account);
	pxm_add_string(event, "dir", dir);
	pxm_add_string(event, "xml", xml);
	pxm_emit(event);
}

static void
pxm_xml_received_cb(PurpleConnection *gc, xmlnode **packet, gpointer data)
{
	g_autofree gchar *xml = NULL;

	if (*packet == NULL ||
	    !g_hash_table_contains(host.xml_accounts,
				   purple_connection_get_account(gc)))
		return;

	xml = xmlnode_to_str(*packet, NULL);
	pxm_emit_xml(gc, "in", xml);
}

static void
pxm_xml_sending_cb(PurpleConnection *gc, char **text, gpointer data)
{
	pxm_emit_xml(gc, "out", *text);
}

static gboolean
pxm_xml_signals_update(GError **error)
{
	PurplePlugin *prpl = purple_plugins_find_with_id(PXM_PRPL_ID);
	gboolean wanted = g_hash_table_size(host.xml_accounts) > 0;

	if (wanted == host.xml_signals_connected)
		return TRUE;
	if (prpl == NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "%s is not loaded", PXM_PRPL_ID);
		return FALSE;
	}

	if (wanted) {
		/* Lowest priority runs first: show what arrived before any
		 * plugin rewrites it. */
		purple_signal_connect_priority(
			prpl, "jabber-receiving-xmlnode", &host.xml_accounts,
			PURPLE_CALLBACK(pxm_xml_received_cb), NULL,
			PURPLE_SIGNAL_PRIORITY_LOWEST);
		purple_signal_connect_priority(
			prpl, "jabber-sending-text", &host.xml_accounts,
			PURPLE_CALLBACK(pxm_xml_sending_cb), NULL,
			PURPLE_SIGNAL_PRIORITY_HIGHEST);
	} else {
		purple_signals_disconnect_by_handle(&host.xml_accounts);
	}
	host.xml_signals_connected = wanted;

	return TRUE;
}

/*********************************************************************
 * Loopback guard for SOCKS5 bytestreams
 *********************************************************************/

#define PXM_NS_BYTESTREAMS "http://jabber.org/protocol/bytestreams"

static gboolean
pxm_host_is_loopback(const char *name)
{
	g_autoptr(GInetAddress) address = NULL;

	if (name == NULL)
		return FALSE;
	if (pxm_name_is_localhost(name))
		return TRUE;

	address = g_inet_address_new_from_string(name);
	return address != NULL && g_inet_address_get_is_loopback(address);
}

/* libpurple offers a XEP-0065 streamhost on every interface address and
 * connects to whatever a peer offers; no pref turns that off. Dropping the
 * streamhosts that are not on loopback, in both directions, keeps file
 * transfers on loopback. */
static void
pxm_strip_streamhosts(PurpleConnection *gc, xmlnode *packet, const char *dir)
{
	g_autoptr(JsonBuilder) event = NULL;
	xmlnode *query;
	xmlnode *streamhost;

	if (packet == NULL || g_strcmp0(packet->name, "iq") != 0)
		return;
	query = xmlnode_get_child_with_namespace(packet, "query",
						 PXM_NS_BYTESTREAMS);
	if (query == NULL)
		return;

	streamhost = xmlnode_get_child(query, "streamhost");
	while (streamhost != NULL) {
		xmlnode *next = xmlnode_get_next_twin(streamhost);
		const char *name = xmlnode_get_attrib(streamhost, "host");

		if (!pxm_host_is_loopback(name)) {
			if (event == NULL) {
				event = pxm_event_new("loopback_guard");
				pxm_add_account(
					event,
					purple_connection_get_account(gc));
				pxm_add_string(event, "dir", dir);
				json_builder_set_member_name(
					event, "dropped_streamhosts");
				json_builder_begin_array(event);
			}
			json_builder_add_string_value(event,
						      name != NULL ? name : "");
			/* xmlnode_free() unlinks a child from its parent first. */
			xmlnode_free(streamhost);
		}
		streamhost = next;
	}

	if (event != NULL) {
		json_builder_end_array(event);
		pxm_emit(event);
	}
}

/* prpl-jabber turns PEP on only when the server domain's disco#info has a
 * pubsub/pep identity; Prosody 0.12 advertises PEP on the account's bare JID
 * instead, so plugins using jabber_pep_publish() (purple-lurch) publish
 * nothing. The account setting "pxm-server-pep-identity" makes the host add
 * that identity to the server's answer, like servers that do advertise it,
 * for that account only: the server itself stays as deployed. */
static void
pxm_add_pep_identity(PurpleConnection *gc, xmlnode *packet)
{
	PurpleAccount *account = purple_connection_get_account(gc);
	g_autofree char *domain = NULL;
	const char *username;
	const char *at;
	xmlnode *query;
	xmlnode *identity;

	if (packet == NULL || g_strcmp0(packet->name, "iq") != 0 ||
	    g_strcmp0(xmlnode_get_attrib(packet, "type"), "result") != 0 ||
	    !purple_account_get_bool(account, "pxm-server-pep-identity", FALSE))
		return;
	query = xmlnode_get_child_with_namespace(
		packet, "query", "http://jabber.org/protocol/disco#info");
	if (query == NULL || xmlnode_get_attrib(query, "node") != NULL)
		return;
	username = purple_account_get_username(account);
	at = strchr(username, '@');
	if (at == NULL)
		return;
	domain = g_strndup(at + 1, strcspn(at + 1, "/"));
	if (g_strcmp0(xmlnode_get_attrib(packet, "from"), domain) != 0)
		return;
	for (identity = xmlnode_get_child(query, "identity"); identity != NULL;
	     identity = xmlnode_get_next_twin(identity)) {
		if (g_strcmp0(xmlnode_get_attrib(identity, "category"),
			      "pubsub") == 0 &&
		    g_strcmp0(xmlnode_get_attrib(identity, "type"), "pep") == 0)
			return;
	}
	identity = xmlnode_new_child(query, "identity");
	/* The prpl walks the identities with xmlnode_get_next_twin(), which
	 * wants the same (explicit) namespace as the parsed siblings. */
	xmlnode_set_namespace(identity, xmlnode_get_namespace(query));
	xmlnode_set_attrib(identity, "category", "pubsub");
	xmlnode_set_attrib(identity, "type", "pep");
	purple_debug_info("pxm-test-host",
			  "added pubsub/pep to %s's disco#info\n", domain);
}

static void
pxm_guard_received_cb(PurpleConnection *gc, xmlnode **packet, gpointer data)
{
	pxm_strip_streamhosts(gc, *packet, "in");
	pxm_add_pep_identity(gc, *packet);
}

static void
pxm_guard_sending_cb(PurpleConnection *gc, xmlnode **packet, gpointer data)
{
	pxm_strip_streamhosts(gc, *packet, "out");
}

static void
pxm_guard_connect(void)
{
	PurplePlugin *prpl = purple_plugins_find_with_id(PXM_PRPL_ID);

	if (prpl == NULL)
		return;

	/* In: right after the raw XML trace (LOWEST), before anything parses.
	 * Out: last before the prpl's own writer, which sits at HIGHEST, so
	 * streamhosts a plugin adds are checked too. */
	purple_signal_connect_priority(prpl, "jabber-receiving-xmlnode", &host,
				       PURPLE_CALLBACK(pxm_guard_received_cb),
				       NULL, PURPLE_SIGNAL_PRIORITY_LOWEST + 1);
	purple_signal_connect_priority(prpl, "jabber-sending-xmlnode", &host,
				       PURPLE_CALLBACK(pxm_guard_sending_cb),
				       NULL,
				       PURPLE_SIGNAL_PRIORITY_HIGHEST - 1);
}

/*********************************************************************
 * Command arguments
 *********************************************************************/

static JsonNode *
pxm_arg(JsonObject *args, const char *name)
{
	JsonNode *node = json_object_get_member(args, name);

	return node != NULL && !JSON_NODE_HOLDS_NULL(node) ? node : NULL;
}

static gboolean
pxm_node_holds(JsonNode *node, GType type)
{
	return node != NULL && JSON_NODE_HOLDS_VALUE(node) &&
	       json_node_get_value_type(node) == type;
}

static const char *
pxm_arg_string(JsonObject *args, const char *name, GError **error)
{
	JsonNode *node = pxm_arg(args, name);

	if (!pxm_node_holds(node, G_TYPE_STRING)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "\"%s\" must be a string", name);
		return NULL;
	}

	return json_node_get_string(node);
}

static const char *
pxm_arg_string_or(JsonObject *args, const char *name, const char *fallback)
{
	JsonNode *node = pxm_arg(args, name);

	return pxm_node_holds(node, G_TYPE_STRING) ? json_node_get_string(node)
						   : fallback;
}

static gint64
pxm_arg_int_or(JsonObject *args, const char *name, gint64 fallback)
{
	JsonNode *node = pxm_arg(args, name);

	return pxm_node_holds(node, G_TYPE_INT64) ? json_node_get_int(node)
						  : fallback;
}

static gboolean
pxm_arg_bool_or(JsonObject *args, const char *name, gboolean fallback)
{
	JsonNode *node = pxm_arg(args, name);

	return pxm_node_holds(node, G_TYPE_BOOLEAN)
		       ? json_node_get_boolean(node)
		       : fallback;
}

static PurpleAccount *
pxm_arg_account(JsonObject *args, GError **error)
{
	const char *name = pxm_arg_string(args, "account", error);
	PurpleAccount *account;

	if (name == NULL)
		return NULL;

	account = purple_accounts_find(name, PXM_PRPL_ID);
	if (account == NULL)
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "no account \"%s\"", name);

	return account;
}

static PurpleConnection *
pxm_arg_connection(JsonObject *args, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);

	if (account == NULL)
		return NULL;

	if (!purple_account_is_connected(account)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_FAILED,
			    "account \"%s\" is not connected",
			    purple_account_get_username(account));
		return NULL;
	}

	return purple_account_get_connection(account);
}

/* Sets an account setting or pref from a JSON scalar of the matching type. */
static gboolean
pxm_set_account_value(PurpleAccount *account, const char *key, JsonNode *value,
		      GError **error)
{
	if (pxm_node_holds(value, G_TYPE_BOOLEAN)) {
		purple_account_set_bool(account, key,
					json_node_get_boolean(value));
	} else if (pxm_node_holds(value, G_TYPE_INT64)) {
		gint64 number = json_node_get_int(value);

		if (number < G_MININT || number > G_MAXINT) {
			g_set_error(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "\"%s\" is out of range for an int setting",
				    key);
			return FALSE;
		}
		purple_account_set_int(account, key, (int)number);
	} else if (pxm_node_holds(value, G_TYPE_STRING)) {
		purple_account_set_string(account, key,
					  json_node_get_string(value));
	} else {
		g_set_error(
			error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			"setting \"%s\" must be a boolean, integer or string",
			key);
		return FALSE;
	}

	return TRUE;
}

/*********************************************************************
 * Commands
 *********************************************************************/

typedef gboolean (*PxmCommandFunc)(JsonObject *args, JsonBuilder *reply,
				   GError **error);

static gboolean
pxm_install_peer_cert(const char *server, const char *pem_path, GError **error)
{
	g_autofree gchar *pem = NULL;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *target = NULL;
	gsize length = 0;

	if (*server == '\0' || strchr(server, '/') != NULL ||
	    g_str_equal(server, ".") || g_str_equal(server, "..")) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "\"%s\" cannot name a certificate file", server);
		return FALSE;
	}
	if (!g_file_get_contents(pem_path, &pem, &length, error))
		return FALSE;

	/* libpurple's tls_peers pool trusts a cert stored under the name it
	 * checks, the connect server. */
	dir = g_build_filename(purple_user_dir(), "certificates", "x509",
			       "tls_peers", NULL);
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errno),
			    "cannot create %s: %s", dir, g_strerror(errno));
		return FALSE;
	}
	target = g_build_filename(dir, server, NULL);

	return g_file_set_contents(target, pem, length, error);
}

static gboolean
pxm_cmd_account(JsonObject *args, JsonBuilder *reply, GError **error)
{
	const char *jid = pxm_arg_string(args, "jid", error);
	const char *server = pxm_arg_string_or(args, "server", "localhost");
	const char *password = pxm_arg_string_or(args, "password", NULL);
	const char *cert = pxm_arg_string_or(args, "cert", NULL);
	gint64 port = pxm_arg_int_or(args, "port", 5222);
	JsonNode *options = pxm_arg(args, "options");
	PurpleAccount *account;
	gboolean created = FALSE;

	if (jid == NULL)
		return FALSE;
	if (port <= 0 || port > 65535) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "port %" G_GINT64_FORMAT " is out of range", port);
		return FALSE;
	}
	if (options != NULL && !JSON_NODE_HOLDS_OBJECT(options)) {
		g_set_error_literal(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "\"options\" must be an object");
		return FALSE;
	}
	if (cert != NULL && !pxm_install_peer_cert(server, cert, error))
		return FALSE;

	account = purple_accounts_find(jid, PXM_PRPL_ID);
	if (account == NULL) {
		account = purple_account_new(jid, PXM_PRPL_ID);
		purple_accounts_add(account);
		created = TRUE;
	}

	if (password != NULL) {
		purple_account_set_password(account, password);
		purple_account_set_remember_password(account, TRUE);
	}
	purple_account_set_string(account, "connect_server", server);
	purple_account_set_int(account, "port", (int)port);
	/* The default names a public SOCKS5 proxy on the internet. */
	purple_account_set_string(account, "ft_proxies", "");
	purple_account_set_string(account, "connection_security",
				  "require_tls");
	purple_account_set_bool(account, "auth_plain_in_clear", FALSE);

	if (options != NULL) {
		JsonObject *object = json_node_get_object(options);
		g_autoptr(GList) names = json_object_get_members(object);

		for (GList *l = names; l != NULL; l = l->next) {
			if (!pxm_set_account_value(
				    account, l->data,
				    json_object_get_member(object, l->data),
				    error))
				return FALSE;
		}
	}

	pxm_add_account(reply, account);
	pxm_add_bool(reply, "created", created);

	return TRUE;
}

static gboolean
pxm_cmd_connect(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	PurpleConnection *gc;

	if (account == NULL)
		return FALSE;

	/* After a connection error libpurple disconnects the account from a
	 * zero timeout (gc->disconnect_timeout); a "connect" read before that
	 * timeout ran would find the account still connected and do nothing,
	 * and the dying connection would go right after: no signed_on ever.
	 * Finish the disconnect now, keeping the password as libpurple's own
	 * callback does. */
	gc = purple_account_get_connection(account);
	if (gc != NULL && gc->disconnect_timeout > 0) {
		g_autofree char *password =
			g_strdup(purple_account_get_password(account));

		purple_account_disconnect(account);
		purple_account_set_password(account, password);
	}

	/* Enabling a new (available) account connects it; an enabled account
	 * that was disconnected needs the explicit call. */
	if (!purple_account_get_enabled(account, PXM_UI_ID))
		purple_account_set_enabled(account, PXM_UI_ID, TRUE);
	if (purple_account_is_disconnected(account))
		purple_account_connect(account);

	pxm_add_account(reply, account);

	return TRUE;
}

static gboolean
pxm_cmd_disconnect(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);

	if (account == NULL)
		return FALSE;

	purple_account_set_enabled(account, PXM_UI_ID, FALSE);
	if (!purple_account_is_disconnected(account))
		purple_account_disconnect(account);

	pxm_add_account(reply, account);

	return TRUE;
}

static gboolean
pxm_cmd_account_state(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);

	if (account == NULL)
		return FALSE;

	pxm_add_account(reply, account);
	pxm_add_string(reply, "state",
		       purple_account_is_connected(account) ? "connected"
		       : purple_account_is_connecting(account)
			       ? "connecting"
			       : "disconnected");
	pxm_add_bool(reply, "enabled",
		     purple_account_get_enabled(account, PXM_UI_ID));

	return TRUE;
}

static PurpleConversation *
pxm_find_or_open_im(PurpleAccount *account, const char *who)
{
	PurpleConversation *conv = purple_find_conversation_with_account(
		PURPLE_CONV_TYPE_IM, who, account);

	if (conv == NULL)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, account,
					       who);

	return conv;
}

static PurpleConversation *
pxm_find_chat(PurpleAccount *account, const char *room, GError **error)
{
	PurpleConversation *conv = purple_find_conversation_with_account(
		PURPLE_CONV_TYPE_CHAT, room, account);

	if (conv == NULL || purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv))) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "not in room \"%s\"", room);
		return NULL;
	}

	return conv;
}

static gchar *
pxm_message_text(JsonObject *args, const char *text)
{
	/* Conversation text is HTML; a test may send plain text as a user
	 * would type it. */
	if (pxm_arg_bool_or(args, "escape", FALSE))
		return g_markup_escape_text(text, -1);

	return g_strdup(text);
}

static gboolean
pxm_cmd_send_im(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleConnection *gc = pxm_arg_connection(args, error);
	const char *to = gc ? pxm_arg_string(args, "to", error) : NULL;
	const char *text = to ? pxm_arg_string(args, "text", error) : NULL;
	PurpleConversation *conv;
	g_autofree gchar *message = NULL;

	if (text == NULL)
		return FALSE;

	conv = pxm_find_or_open_im(purple_connection_get_account(gc), to);
	message = pxm_message_text(args, text);
	purple_conv_im_send(PURPLE_CONV_IM(conv), message);

	pxm_add_string(reply, "conversation",
		       purple_conversation_get_name(conv));

	return TRUE;
}

static gboolean
pxm_cmd_join_room(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleConnection *gc = pxm_arg_connection(args, error);
	const char *room = gc ? pxm_arg_string(args, "room", error) : NULL;
	const char *nick = pxm_arg_string_or(args, "nick", NULL);
	const char *password = pxm_arg_string_or(args, "password", NULL);
	PurplePluginProtocolInfo *prpl_info;
	GHashTable *components;

	if (room == NULL)
		return FALSE;

	prpl_info = PURPLE_PLUGIN_PROTOCOL_INFO(purple_connection_get_prpl(gc));
	if (prpl_info->chat_info_defaults == NULL) {
		g_set_error_literal(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_FAILED,
				    "the protocol has no chat_info_defaults");
		return FALSE;
	}

	/* prpl-jabber's table has static keys and g_free'd values, and the
	 * prpl copies what it keeps. */
	components = prpl_info->chat_info_defaults(gc, room);
	if (nick != NULL)
		g_hash_table_replace(components, (gpointer) "handle",
				     g_strdup(nick));
	if (password != NULL)
		g_hash_table_replace(components, (gpointer) "password",
				     g_strdup(password));
	serv_join_chat(gc, components);
	g_hash_table_destroy(components);

	return TRUE;
}

/*
 * Pidgin's rejoin of the rooms still open when an account comes back
 * (pidgin/gtkconv.c): a room not left when the account goes offline is
 * marked "want-to-rejoin", and joined again from a signed-on handler with
 * its buddy-list components or the prpl's defaults.  Connected by the
 * "rejoin" command, so after the plugin: at the same priority libpurple
 * runs the latest connected handler first.
 */
static int pxm_rejoin_handle;
static gboolean pxm_rejoin_on;

static void
pxm_rejoin_signing_off_cb(PurpleConnection *gc, gpointer data)
{
	PurpleAccount *account = purple_connection_get_account(gc);

	for (GList *l = purple_get_chats(); l != NULL; l = l->next) {
		PurpleConversation *conv = l->data;

		if (purple_conversation_get_account(conv) == account &&
		    !purple_conv_chat_has_left(PURPLE_CONV_CHAT(conv)))
			purple_conversation_set_data(conv, "want-to-rejoin",
						     GINT_TO_POINTER(TRUE));
	}
}

static void
pxm_rejoin_signed_on_cb(PurpleConnection *gc, gpointer data)
{
	PurpleAccount *account = purple_connection_get_account(gc);
	PurplePluginProtocolInfo *info =
		PURPLE_PLUGIN_PROTOCOL_INFO(purple_connection_get_prpl(gc));
	GList *l = purple_get_chats();

	while (l != NULL) {
		PurpleConversation *conv = l->data;
		const char *name = purple_conversation_get_name(conv);
		PurpleChat *chat;
		GHashTable *components = NULL;

		/* Joining may change the list. */
		l = l->next;
		if (purple_conversation_get_account(conv) != account ||
		    purple_conversation_get_data(conv, "want-to-rejoin") ==
			    NULL)
			continue;
		purple_conversation_set_data(conv, "want-to-rejoin", NULL);
		chat = purple_blist_find_chat(account, name);
		if (chat != NULL)
			components = purple_chat_get_components(chat);
		else if (info->chat_info_defaults != NULL)
			components = info->chat_info_defaults(gc, name);
		serv_join_chat(gc, components);
		if (chat == NULL && components != NULL)
			g_hash_table_destroy(components);
	}
}

static gboolean
pxm_cmd_rejoin(JsonObject *args, JsonBuilder *reply, GError **error)
{
	gboolean on = pxm_arg_bool_or(args, "on", TRUE);

	if (on == pxm_rejoin_on)
		return TRUE;
	pxm_rejoin_on = on;
	if (!on) {
		purple_signals_disconnect_by_handle(&pxm_rejoin_handle);
		return TRUE;
	}
	purple_signal_connect(purple_connections_get_handle(), "signing-off",
			      &pxm_rejoin_handle,
			      PURPLE_CALLBACK(pxm_rejoin_signing_off_cb), NULL);
	purple_signal_connect(purple_connections_get_handle(), "signed-on",
			      &pxm_rejoin_handle,
			      PURPLE_CALLBACK(pxm_rejoin_signed_on_cb), NULL);

	return TRUE;
}

static gboolean
pxm_cmd_send_room(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleConnection *gc = pxm_arg_connection(args, error);
	const char *room = gc ? pxm_arg_string(args, "room", error) : NULL;
	const char *text = room ? pxm_arg_string(args, "text", error) : NULL;
	PurpleConversation *conv;
	g_autofree gchar *message = NULL;

	if (text == NULL)
		return FALSE;

	conv = pxm_find_chat(purple_connection_get_account(gc), room, error);
	if (conv == NULL)
		return FALSE;

	message = pxm_message_text(args, text);
	purple_conv_chat_send(PURPLE_CONV_CHAT(conv), message);
	pxm_add_string(reply, "conversation",
		       purple_conversation_get_name(conv));

	return TRUE;
}

static const char *
pxm_cmd_status_name(PurpleCmdStatus status)
{
	switch (status) {
	case PURPLE_CMD_STATUS_OK:
		return "ok";
	case PURPLE_CMD_STATUS_FAILED:
		return "failed";
	case PURPLE_CMD_STATUS_NOT_FOUND:
		return "not_found";
	case PURPLE_CMD_STATUS_WRONG_ARGS:
		return "wrong_args";
	case PURPLE_CMD_STATUS_WRONG_PRPL:
		return "wrong_prpl";
	case PURPLE_CMD_STATUS_WRONG_TYPE:
		return "wrong_type";
	default:
		return "unknown";
	}
}

static gboolean
pxm_cmd_command(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *name = account ? pxm_arg_string(args, "conversation", error)
				   : NULL;
	const char *text = name ? pxm_arg_string(args, "text", error) : NULL;
	const char *type = pxm_arg_string_or(args, "type", "im");
	PurpleConversation *conv;
	PurpleCmdStatus status;
	g_autofree gchar *markup = NULL;
	g_autofree gchar *cmd_error = NULL;

	if (text == NULL)
		return FALSE;

	if (g_str_equal(type, "chat")) {
		conv = pxm_find_chat(account, name, error);
		if (conv == NULL)
			return FALSE;
	} else if (g_str_equal(type, "im")) {
		conv = pxm_find_or_open_im(account, name);
	} else {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "\"type\" must be \"im\" or \"chat\", not \"%s\"",
			    type);
		return FALSE;
	}

	if (*text == '/')
		text++;
	markup = g_markup_escape_text(text, -1);
	status = purple_cmd_do_command(conv, text, markup, &cmd_error);

	pxm_add_string(reply, "conversation",
		       purple_conversation_get_name(conv));
	pxm_add_string(reply, "status", pxm_cmd_status_name(status));
	pxm_add_int(reply, "status_int", status);
	pxm_add_string(reply, "cmd_error", cmd_error);
	if (status != PURPLE_CMD_STATUS_OK) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_FAILED,
			    "command status %s%s%s",
			    pxm_cmd_status_name(status), cmd_error ? ": " : "",
			    cmd_error ? cmd_error : "");
		return FALSE;
	}

	return TRUE;
}

/* What /help shows in Pidgin and Finch (they register /help themselves):
 * libpurple's help texts of the commands available in the conversation. */
static gboolean
pxm_cmd_help(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *name = account ? pxm_arg_string(args, "conversation", error)
				   : NULL;
	const char *type = pxm_arg_string_or(args, "type", "im");
	const char *command = pxm_arg_string_or(args, "command", NULL);
	PurpleConversation *conv;
	GList *texts;

	if (name == NULL)
		return FALSE;
	conv = g_str_equal(type, "chat") ? pxm_find_chat(account, name, error)
					 : pxm_find_or_open_im(account, name);
	if (conv == NULL)
		return FALSE;
	texts = purple_cmd_help(conv, command);
	json_builder_set_member_name(reply, "help");
	json_builder_begin_array(reply);
	for (GList *l = texts; l != NULL; l = l->next)
		json_builder_add_string_value(reply, l->data);
	json_builder_end_array(reply);
	g_list_free(texts);

	return TRUE;
}

static gboolean
pxm_cmd_send_file(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleConnection *gc = pxm_arg_connection(args, error);
	const char *to = gc ? pxm_arg_string(args, "to", error) : NULL;
	const char *path = to ? pxm_arg_string(args, "path", error) : NULL;
	PurplePluginProtocolInfo *prpl_info;
	gboolean can_receive;

	if (path == NULL)
		return FALSE;

	/* serv_send_file() silently does nothing when this says no. */
	prpl_info = PURPLE_PLUGIN_PROTOCOL_INFO(purple_connection_get_prpl(gc));
	can_receive = prpl_info->send_file != NULL &&
		      (prpl_info->can_receive_file == NULL ||
		       prpl_info->can_receive_file(gc, to));
	pxm_add_bool(reply, "can_receive_file", can_receive);

	serv_send_file(gc, to, path);

	return TRUE;
}

/* As the file-transfer window's Cancel button does. */
static gboolean
pxm_cmd_cancel_xfer(JsonObject *args, JsonBuilder *reply, GError **error)
{
	guint id = (guint)pxm_arg_int_or(args, "xfer", 0);

	for (GList *l = purple_xfers_get_all(); l != NULL; l = l->next) {
		PurpleXfer *xfer = l->data;

		if (GPOINTER_TO_UINT(xfer->ui_data) == id) {
			purple_xfer_cancel_local(xfer);
			return TRUE;
		}
	}
	g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
		    "no transfer %u", id);
	return FALSE;
}

static gboolean
pxm_apply_field(PurpleRequestField *field, JsonNode *value, GError **error)
{
	const char *id = purple_request_field_get_id(field);

	switch (purple_request_field_get_type(field)) {
	case PURPLE_REQUEST_FIELD_STRING:
		if (!pxm_node_holds(value, G_TYPE_STRING))
			break;
		purple_request_field_string_set_value(
			field, json_node_get_string(value));
		return TRUE;
	case PURPLE_REQUEST_FIELD_INTEGER:
		if (!pxm_node_holds(value, G_TYPE_INT64))
			break;
		purple_request_field_int_set_value(
			field, (int)json_node_get_int(value));
		return TRUE;
	case PURPLE_REQUEST_FIELD_BOOLEAN:
		if (!pxm_node_holds(value, G_TYPE_BOOLEAN))
			break;
		purple_request_field_bool_set_value(
			field, json_node_get_boolean(value));
		return TRUE;
	case PURPLE_REQUEST_FIELD_CHOICE:
		if (pxm_node_holds(value, G_TYPE_INT64)) {
			purple_request_field_choice_set_value(
				field, (int)json_node_get_int(value));
			return TRUE;
		}
		if (pxm_node_holds(value, G_TYPE_STRING)) {
			int position = 0;

			for (GList *l = purple_request_field_choice_get_labels(
				     field);
			     l != NULL; l = l->next, position++) {
				if (g_str_equal(l->data,
						json_node_get_string(value))) {
					purple_request_field_choice_set_value(
						field, position);
					return TRUE;
				}
			}
			g_set_error(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "field \"%s\" has no choice \"%s\"", id,
				    json_node_get_string(value));
			return FALSE;
		}
		break;
	case PURPLE_REQUEST_FIELD_LIST: {
		g_autoptr(GPtrArray) items = g_ptr_array_new();

		if (pxm_node_holds(value, G_TYPE_STRING)) {
			g_ptr_array_add(items,
					(gpointer)json_node_get_string(value));
		} else if (JSON_NODE_HOLDS_ARRAY(value)) {
			JsonArray *array = json_node_get_array(value);

			for (guint i = 0; i < json_array_get_length(array);
			     i++) {
				JsonNode *item = json_array_get_element(array,
									i);

				if (!pxm_node_holds(item, G_TYPE_STRING))
					goto wrong_type;
				g_ptr_array_add(
					items,
					(gpointer)json_node_get_string(item));
			}
		} else {
			break;
		}
		purple_request_field_list_clear_selected(field);
		for (guint i = 0; i < items->len; i++) {
			const char *item = g_ptr_array_index(items, i);

			if (g_list_find_custom(
				    purple_request_field_list_get_items(field),
				    item, (GCompareFunc)g_strcmp0) == NULL) {
				g_set_error(error, PXM_HOST_ERROR,
					    PXM_HOST_ERROR_INVALID_ARGS,
					    "field \"%s\" has no item \"%s\"",
					    id, item);
				return FALSE;
			}
			purple_request_field_list_add_selected(field, item);
		}
		return TRUE;
	}
	case PURPLE_REQUEST_FIELD_ACCOUNT:
		if (pxm_node_holds(value, G_TYPE_STRING)) {
			PurpleAccount *account = purple_accounts_find(
				json_node_get_string(value), NULL);

			if (account == NULL) {
				g_set_error(error, PXM_HOST_ERROR,
					    PXM_HOST_ERROR_NOT_FOUND,
					    "no account \"%s\"",
					    json_node_get_string(value));
				return FALSE;
			}
			purple_request_field_account_set_value(field, account);
			return TRUE;
		}
		break;
	default:
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "field \"%s\" takes no value", id);
		return FALSE;
	}

wrong_type:
	g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
		    "wrong JSON type for %s field \"%s\"",
		    pxm_field_type_name(purple_request_field_get_type(field)),
		    id);
	return FALSE;
}

static gboolean
pxm_apply_fields(PurpleRequestFields *fields, JsonNode *values, GError **error)
{
	JsonObject *object;
	g_autoptr(GList) ids = NULL;

	if (values == NULL)
		return TRUE;
	if (!JSON_NODE_HOLDS_OBJECT(values)) {
		g_set_error_literal(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "\"fields\" must be an object");
		return FALSE;
	}

	object = json_node_get_object(values);
	ids = json_object_get_members(object);
	for (GList *l = ids; l != NULL; l = l->next) {
		PurpleRequestField *field =
			purple_request_fields_get_field(fields, l->data);

		if (field == NULL) {
			g_set_error(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_NOT_FOUND, "no field \"%s\"",
				    (const char *)l->data);
			return FALSE;
		}
		if (!pxm_apply_field(field,
				     json_object_get_member(object, l->data),
				     error))
			return FALSE;
	}

	return TRUE;
}

static gboolean
pxm_cmd_answer(JsonObject *args, JsonBuilder *reply, GError **error)
{
	gint64 id = pxm_arg_int_or(args, "request", -1);
	gint64 action = pxm_arg_int_or(args, "action", 0);
	JsonNode *value = pxm_arg(args, "value");
	const char *text;
	PxmRequest *req;
	gboolean ok;

	if (id < 0 || id > G_MAXUINT ||
	    (req = g_hash_table_lookup(host.requests, GUINT_TO_POINTER(id))) ==
		    NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "no pending request %" G_GINT64_FORMAT, id);
		return FALSE;
	}
	if (req->kind != PXM_REQUEST_ACTION && action != 0 && action != 1) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "action must be 0 (ok) or 1 (cancel), not "
			    "%" G_GINT64_FORMAT,
			    action);
		return FALSE;
	}
	ok = action == 0;
	text = pxm_node_holds(value, G_TYPE_STRING)
		       ? json_node_get_string(value)
		       : req->default_text;

	switch (req->kind) {
	case PXM_REQUEST_ACTION: {
		GCallback cb;

		if (action < 0 || action >= req->action_cbs->len) {
			g_set_error(
				error, PXM_HOST_ERROR,
				PXM_HOST_ERROR_INVALID_ARGS,
				"request %u has no action %" G_GINT64_FORMAT,
				req->id, action);
			return FALSE;
		}
		cb = g_array_index(req->action_cbs, GCallback, action);
		if (cb != NULL)
			((PurpleRequestActionCb)cb)(req->user_data,
						    (int)action);
		break;
	}
	case PXM_REQUEST_INPUT: {
		GCallback cb = ok ? req->ok_cb : req->cancel_cb;

		if (cb != NULL)
			((PurpleRequestInputCb)cb)(req->user_data, text);
		break;
	}
	case PXM_REQUEST_CHOICE: {
		GCallback cb = ok ? req->ok_cb : req->cancel_cb;
		int choice = pxm_node_holds(value, G_TYPE_INT64)
				     ? (int)json_node_get_int(value)
				     : req->default_value;

		if (cb != NULL)
			((PurpleRequestChoiceCb)cb)(req->user_data, choice);
		break;
	}
	case PXM_REQUEST_FIELDS: {
		GCallback cb = ok ? req->ok_cb : req->cancel_cb;

		if (ok && !pxm_apply_fields(req->fields,
					    pxm_arg(args, "fields"), error))
			return FALSE;
		if (ok &&
		    !purple_request_fields_all_required_filled(req->fields)) {
			g_set_error_literal(error, PXM_HOST_ERROR,
					    PXM_HOST_ERROR_INVALID_ARGS,
					    "required fields are empty");
			return FALSE;
		}
		if (cb != NULL)
			((PurpleRequestFieldsCb)cb)(req->user_data,
						    req->fields);
		break;
	}
	case PXM_REQUEST_FILE:
	case PXM_REQUEST_FOLDER: {
		GCallback cb = ok ? req->ok_cb : req->cancel_cb;

		if (cb != NULL)
			((PurpleRequestFileCb)cb)(req->user_data,
						  ok ? text : NULL);
		break;
	}
	case PXM_REQUEST_AUTHORIZE: {
		GCallback cb = ok ? req->ok_cb : req->cancel_cb;

		if (cb != NULL)
			((PurpleAccountRequestAuthorizationCb)cb)(
				req->user_data);
		/* libpurple forgot the request inside the callback without
		 * telling the UI. */
		if (g_hash_table_contains(host.requests, GUINT_TO_POINTER(id)))
			pxm_request_forget(req);
		break;
	}
	}

	/* The callback may already have closed the request (and freed req). */
	if (g_hash_table_contains(host.requests, GUINT_TO_POINTER(id)))
		purple_request_close(req->type, req);

	pxm_add_int(reply, "request", id);

	return TRUE;
}

static gboolean
pxm_prefs_ensure_parents(const char *name, GError **error)
{
	g_autofree gchar *path = g_strdup(name);

	if (name[0] != '/' || name[1] == '\0') {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "bad pref name \"%s\"", name);
		return FALSE;
	}

	for (char *slash = strchr(path + 1, '/'); slash != NULL;
	     slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		if (!purple_prefs_exists(path))
			purple_prefs_add_none(path);
		*slash = '/';
	}

	return TRUE;
}

static gboolean
pxm_cmd_set_pref(JsonObject *args, JsonBuilder *reply, GError **error)
{
	const char *name = pxm_arg_string(args, "name", error);
	JsonNode *value = pxm_arg(args, "value");
	gboolean exists;
	PurplePrefType want;

	if (name == NULL || !pxm_prefs_ensure_parents(name, error))
		return FALSE;

	if (pxm_node_holds(value, G_TYPE_BOOLEAN)) {
		want = PURPLE_PREF_BOOLEAN;
	} else if (pxm_node_holds(value, G_TYPE_INT64)) {
		want = PURPLE_PREF_INT;
	} else if (pxm_node_holds(value, G_TYPE_STRING)) {
		want = PURPLE_PREF_STRING;
	} else {
		g_set_error_literal(
			error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			"\"value\" must be a boolean, integer or string");
		return FALSE;
	}

	exists = purple_prefs_exists(name);
	if (exists && purple_prefs_get_type(name) != want) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "pref \"%s\" exists with another type", name);
		return FALSE;
	}

	switch (want) {
	case PURPLE_PREF_BOOLEAN:
		if (!exists)
			purple_prefs_add_bool(name,
					      json_node_get_boolean(value));
		purple_prefs_set_bool(name, json_node_get_boolean(value));
		break;
	case PURPLE_PREF_INT:
		if (!exists)
			purple_prefs_add_int(name,
					     (int)json_node_get_int(value));
		purple_prefs_set_int(name, (int)json_node_get_int(value));
		break;
	default:
		if (!exists)
			purple_prefs_add_string(name,
						json_node_get_string(value));
		purple_prefs_set_string(name, json_node_get_string(value));
		break;
	}

	pxm_add_bool(reply, "created", !exists);

	return TRUE;
}

static gboolean
pxm_cmd_get_pref(JsonObject *args, JsonBuilder *reply, GError **error)
{
	const char *name = pxm_arg_string(args, "name", error);

	if (name == NULL)
		return FALSE;
	if (!purple_prefs_exists(name)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "no pref \"%s\"", name);
		return FALSE;
	}

	switch (purple_prefs_get_type(name)) {
	case PURPLE_PREF_BOOLEAN:
		pxm_add_bool(reply, "value", purple_prefs_get_bool(name));
		break;
	case PURPLE_PREF_INT:
		pxm_add_int(reply, "value", purple_prefs_get_int(name));
		break;
	case PURPLE_PREF_STRING:
	case PURPLE_PREF_PATH:
		pxm_add_string(reply, "value", purple_prefs_get_string(name));
		break;
	default:
		json_builder_set_member_name(reply, "value");
		json_builder_add_null_value(reply);
		break;
	}

	return TRUE;
}

static gboolean
pxm_cmd_set_account(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *key = account ? pxm_arg_string(args, "key", error) : NULL;
	JsonNode *value = pxm_arg(args, "value");

	if (key == NULL)
		return FALSE;

	return pxm_set_account_value(account, key, value, error);
}

/* The account's own avatar, as Pidgin's "Use this buddy icon for this
 * account" sets it: purple_buddy_icons_set_account_icon(), which calls the
 * prpl's set_buddy_icon when the account is online.  No "path" clears it. */
static gboolean
pxm_cmd_set_account_icon(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *path = pxm_arg_string_or(args, "path", NULL);
	gchar *data = NULL;
	gsize len = 0;

	if (account == NULL)
		return FALSE;
	if (path != NULL && !g_file_get_contents(path, &data, &len, error))
		return FALSE;
	/* Takes the data. */
	purple_buddy_icons_set_account_icon(account, (guchar *)data, len);
	return TRUE;
}

/* The account's status by primitive ("available", "away",
 * "extended_away", "unavailable" (busy), "invisible"), as the status
 * selector sets it: account-status-changed, then the prpl's presence. */
static gboolean
pxm_cmd_set_status(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *name = account ? pxm_arg_string(args, "status", error)
				   : NULL;
	PurpleStatusPrimitive primitive;
	PurpleStatusType *type;

	if (name == NULL)
		return FALSE;
	primitive = purple_primitive_get_type_from_id(name);
	type = primitive != PURPLE_STATUS_UNSET
		       ? purple_account_get_status_type_with_primitive(
				 account, primitive)
		       : NULL;
	if (type == NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "no status \"%s\" on this account", name);
		return FALSE;
	}
	purple_account_set_status(account, purple_status_type_get_id(type),
				  TRUE, NULL);
	pxm_add_string(reply, "status_id", purple_status_type_get_id(type));

	return TRUE;
}

/* Idleness as libpurple's idle tracking (or I'dle Mak'er) sets it on an
 * account's presence: "idle" true with "seconds" already idle, or false. */
static gboolean
pxm_cmd_set_idle(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	gboolean idle = pxm_arg_bool_or(args, "idle", TRUE);
	gint64 seconds = pxm_arg_int_or(args, "seconds", 0);

	if (account == NULL)
		return FALSE;
	purple_presence_set_idle(purple_account_get_presence(account), idle,
				 idle ? time(NULL) - seconds : 0);

	return TRUE;
}

static gboolean
pxm_cmd_add_buddy(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *who = account ? pxm_arg_string(args, "who", error) : NULL;
	const char *alias = pxm_arg_string_or(args, "alias", NULL);
	const char *group_name = pxm_arg_string_or(args, "group", "Buddies");
	PurpleGroup *group;
	PurpleBuddy *buddy;

	if (who == NULL)
		return FALSE;

	group = purple_find_group(group_name);
	if (group == NULL) {
		group = purple_group_new(group_name);
		purple_blist_add_group(group, NULL);
	}
	buddy = purple_find_buddy_in_group(account, who, group);
	if (buddy == NULL) {
		buddy = purple_buddy_new(account, who, alias);
		purple_blist_add_buddy(buddy, NULL, group, NULL);
	}
	if (purple_account_is_connected(account))
		purple_account_add_buddy(account, buddy);

	return TRUE;
}

/* --- Chats in the buddy list (what Pidgin's "Add Chat" dialog, its
 * "Alias", "Remove" and "Auto-join" menu items do) --------------------- */

/* "room@server" of a chat, lower case; NULL without those components. */
static gchar *
pxm_chat_room_dup(PurpleChat *chat)
{
	GHashTable *components = purple_chat_get_components(chat);
	const char *room = g_hash_table_lookup(components, "room");
	const char *server = g_hash_table_lookup(components, "server");
	g_autofree gchar *jid = NULL;

	if (room == NULL || server == NULL)
		return NULL;
	jid = g_strdup_printf("%s@%s", room, server);

	return g_utf8_strdown(jid, -1);
}

static PurpleChat *
pxm_arg_chat(JsonObject *args, PurpleAccount **account_out, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *room = account ? pxm_arg_string(args, "room", error) : NULL;
	g_autofree gchar *wanted = room ? g_utf8_strdown(room, -1) : NULL;

	if (wanted == NULL)
		return NULL;
	for (PurpleBlistNode *n = purple_blist_get_root(); n != NULL;
	     n = purple_blist_node_next(n, TRUE)) {
		g_autofree gchar *jid = NULL;

		if (!PURPLE_BLIST_NODE_IS_CHAT(n) ||
		    purple_chat_get_account((PurpleChat *)n) != account)
			continue;
		jid = pxm_chat_room_dup((PurpleChat *)n);
		if (g_strcmp0(jid, wanted) == 0) {
			if (account_out != NULL)
				*account_out = account;
			return (PurpleChat *)n;
		}
	}
	g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
		    "no chat \"%s\" in the buddy list", room);

	return NULL;
}

static PurpleGroup *
pxm_group_get(const char *name)
{
	PurpleGroup *group = purple_find_group(name);

	if (group == NULL) {
		group = purple_group_new(name);
		purple_blist_add_group(group, NULL);
	}

	return group;
}

static gboolean
pxm_cmd_chats(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = NULL;

	if (pxm_arg(args, "account") != NULL &&
	    (account = pxm_arg_account(args, error)) == NULL)
		return FALSE;
	json_builder_set_member_name(reply, "chats");
	json_builder_begin_array(reply);
	for (PurpleBlistNode *n = purple_blist_get_root(); n != NULL;
	     n = purple_blist_node_next(n, TRUE)) {
		PurpleChat *chat = (PurpleChat *)n;
		g_autofree gchar *room = NULL;
		GHashTableIter iter;
		gpointer key, value;

		if (!PURPLE_BLIST_NODE_IS_CHAT(n) ||
		    (account != NULL &&
		     purple_chat_get_account(chat) != account))
			continue;
		room = pxm_chat_room_dup(chat);
		json_builder_begin_object(reply);
		pxm_add_account(reply, purple_chat_get_account(chat));
		pxm_add_string(reply, "room", room);
		pxm_add_string(reply, "alias", chat->alias);
		pxm_add_string(
			reply, "group",
			purple_group_get_name(purple_chat_get_group(chat)));
		pxm_add_bool(reply, "gtk_autojoin",
			     purple_blist_node_get_bool(n, "gtk-autojoin"));
		pxm_add_bool(reply, "gnt_autojoin",
			     purple_blist_node_get_bool(n, "gnt-autojoin"));
		json_builder_set_member_name(reply, "components");
		json_builder_begin_object(reply);
		g_hash_table_iter_init(&iter, purple_chat_get_components(chat));
		while (g_hash_table_iter_next(&iter, &key, &value))
			pxm_add_string(reply, key, value);
		json_builder_end_object(reply);
		json_builder_end_object(reply);
	}
	json_builder_end_array(reply);

	return TRUE;
}

static gboolean
pxm_cmd_add_chat(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *room = account ? pxm_arg_string(args, "room", error) : NULL;
	const char *nick = pxm_arg_string_or(args, "nick", NULL);
	const char *password = pxm_arg_string_or(args, "password", NULL);
	const char *at = room ? strchr(room, '@') : NULL;
	GHashTable *components;
	PurpleChat *chat;

	if (room == NULL)
		return FALSE;
	if (at == NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "\"room\" must be room@service");
		return FALSE;
	}
	components = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					   g_free);
	g_hash_table_insert(components, g_strdup("room"),
			    g_strndup(room, at - room));
	g_hash_table_insert(components, g_strdup("server"), g_strdup(at + 1));
	if (nick != NULL)
		g_hash_table_insert(components, g_strdup("handle"),
				    g_strdup(nick));
	if (password != NULL)
		g_hash_table_insert(components, g_strdup("password"),
				    g_strdup(password));
	chat = purple_chat_new(account, pxm_arg_string_or(args, "alias", NULL),
			       components);
	purple_blist_add_chat(
		chat, pxm_group_get(pxm_arg_string_or(args, "group", "Chats")),
		NULL);
	purple_blist_node_set_bool((PurpleBlistNode *)chat, "gtk-autojoin",
				   pxm_arg_bool_or(args, "autojoin", FALSE));

	return TRUE;
}

static gboolean
pxm_cmd_remove_chat(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleChat *chat = pxm_arg_chat(args, NULL, error);

	if (chat == NULL)
		return FALSE;
	purple_blist_remove_chat(chat);

	return TRUE;
}

static gboolean
pxm_cmd_alias_chat(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleChat *chat = pxm_arg_chat(args, NULL, error);

	if (chat == NULL)
		return FALSE;
	purple_blist_alias_chat(chat, pxm_arg_string_or(args, "alias", NULL));

	return TRUE;
}

static gboolean
pxm_cmd_move_chat(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleChat *chat = pxm_arg_chat(args, NULL, error);
	const char *group = chat ? pxm_arg_string(args, "group", error) : NULL;

	if (group == NULL)
		return FALSE;
	purple_blist_add_chat(chat, pxm_group_get(group), NULL);

	return TRUE;
}

static gboolean
pxm_cmd_set_chat_setting(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleChat *chat = pxm_arg_chat(args, NULL, error);
	const char *key = chat ? pxm_arg_string(args, "key", error) : NULL;
	JsonNode *value = pxm_arg(args, "value");
	PurpleBlistNode *node = (PurpleBlistNode *)chat;

	if (key == NULL)
		return FALSE;
	if (pxm_node_holds(value, G_TYPE_BOOLEAN)) {
		purple_blist_node_set_bool(node, key,
					   json_node_get_boolean(value));
	} else if (pxm_node_holds(value, G_TYPE_INT64)) {
		purple_blist_node_set_int(node, key, json_node_get_int(value));
	} else if (pxm_node_holds(value, G_TYPE_STRING)) {
		purple_blist_node_set_string(node, key,
					     json_node_get_string(value));
	} else {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "\"value\" must be a bool, an int or a string");
		return FALSE;
	}

	return TRUE;
}

/* The buddy list's context menu of a chat (what Pidgin shows on the chat's
 * node and in its conversation's "More" menu): "blist-node-extended-menu"
 * items, submenus flattened; with "action", activates that label. */
static void
pxm_menu_walk(GList *items, PurpleBlistNode *node, const char *label,
	      JsonBuilder *reply, PurpleMenuAction **found)
{
	for (GList *l = items; l != NULL; l = l->next) {
		PurpleMenuAction *act = l->data;

		if (act == NULL)
			continue;
		if (act->label != NULL) {
			json_builder_add_string_value(reply, act->label);
			if (*found == NULL && act->callback != NULL &&
			    g_strcmp0(act->label, label) == 0)
				*found = act;
		}
		pxm_menu_walk(act->children, node, label, reply, found);
	}
}

static void
pxm_menu_free(GList *items)
{
	for (GList *l = items; l != NULL; l = l->next) {
		PurpleMenuAction *act = l->data;

		if (act == NULL)
			continue;
		pxm_menu_free(act->children);
		act->children = NULL;
		purple_menu_action_free(act);
	}
	g_list_free(items);
}

static gboolean
pxm_cmd_chat_menu(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleChat *chat = pxm_arg_chat(args, NULL, error);
	const char *label = pxm_arg_string_or(args, "action", NULL);
	PurpleBlistNode *node = (PurpleBlistNode *)chat;
	PurpleMenuAction *found = NULL;
	GList *items;

	if (chat == NULL)
		return FALSE;
	items = purple_blist_node_get_extended_menu(node);
	json_builder_set_member_name(reply, "labels");
	json_builder_begin_array(reply);
	pxm_menu_walk(items, node, label, reply, &found);
	json_builder_end_array(reply);
	if (found != NULL)
		((void (*)(PurpleBlistNode *, gpointer))found->callback)(
			node, found->data);
	pxm_menu_free(items);
	if (label != NULL && found == NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "no menu item \"%s\"", label);
		return FALSE;
	}

	return TRUE;
}

/* The account's own proxy (Accounts > Modify > Proxy). */
static gboolean
pxm_cmd_set_proxy(JsonObject *args, JsonBuilder *reply, GError **error)
{
	static const struct {
		const char *name;
		PurpleProxyType type;
	} types[] = {
		{ "global", PURPLE_PROXY_USE_GLOBAL },
		{ "none", PURPLE_PROXY_NONE },
		{ "http", PURPLE_PROXY_HTTP },
		{ "socks4", PURPLE_PROXY_SOCKS4 },
		{ "socks5", PURPLE_PROXY_SOCKS5 },
		{ "tor", PURPLE_PROXY_TOR },
		{ "envvar", PURPLE_PROXY_USE_ENVVAR },
	};
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *type = account ? pxm_arg_string(args, "type", error) : NULL;
	PurpleProxyInfo *info;
	guint i;

	if (type == NULL)
		return FALSE;
	for (i = 0; i < G_N_ELEMENTS(types); i++)
		if (g_str_equal(types[i].name, type))
			break;
	if (i == G_N_ELEMENTS(types)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "unknown proxy type \"%s\"", type);
		return FALSE;
	}
	info = purple_proxy_info_new();
	purple_proxy_info_set_type(info, types[i].type);
	purple_proxy_info_set_host(info, pxm_arg_string_or(args, "host", NULL));
	purple_proxy_info_set_port(info, (int)pxm_arg_int_or(args, "port", 0));
	purple_proxy_info_set_username(
		info, pxm_arg_string_or(args, "username", NULL));
	purple_proxy_info_set_password(
		info, pxm_arg_string_or(args, "password", NULL));
	/* The account takes ownership. */
	purple_account_set_proxy_info(account, info);

	return TRUE;
}

static PurplePlugin *
pxm_load_plugin(const char *name, GError **error)
{
	/* A bare relative name would make g_module_open() search the library
	 * path instead of the current directory. */
	g_autofree gchar *path = g_canonicalize_filename(name, NULL);
	PurplePlugin *plugin = purple_plugin_probe(path);

	if (plugin == NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_FAILED,
			    "%s is not a loadable libpurple plugin", path);
		return NULL;
	}
	if (!purple_plugin_is_loaded(plugin) && !purple_plugin_load(plugin)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_FAILED,
			    "loading %s failed: %s", path,
			    plugin->error != NULL ? plugin->error
						  : "no reason given");
		return NULL;
	}

	return plugin;
}

static gboolean
pxm_cmd_load_plugin(JsonObject *args, JsonBuilder *reply, GError **error)
{
	const char *path = pxm_arg_string(args, "path", error);
	PurplePlugin *plugin = path ? pxm_load_plugin(path, error) : NULL;

	if (plugin == NULL)
		return FALSE;

	pxm_add_string(reply, "id", purple_plugin_get_id(plugin));

	return TRUE;
}

static PurplePlugin *
pxm_arg_plugin(JsonObject *args, const char *member, GError **error)
{
	const char *id = pxm_arg_string(args, member, error);
	PurplePlugin *plugin;

	if (id == NULL)
		return NULL;

	plugin = purple_plugins_find_with_id(id);
	if (plugin == NULL)
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "no plugin \"%s\"", id);

	return plugin;
}

static gboolean
pxm_cmd_unload_plugin(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurplePlugin *plugin = pxm_arg_plugin(args, "id", error);

	if (plugin == NULL)
		return FALSE;
	if (purple_plugin_is_loaded(plugin) && !purple_plugin_unload(plugin)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_FAILED,
			    "unloading %s failed: %s",
			    purple_plugin_get_id(plugin),
			    plugin->error != NULL ? plugin->error
						  : "no reason given");
		return FALSE;
	}

	return TRUE;
}

static gboolean
pxm_cmd_plugins(JsonObject *args, JsonBuilder *reply, GError **error)
{
	json_builder_set_member_name(reply, "plugins");
	json_builder_begin_array(reply);
	for (GList *l = purple_plugins_get_all(); l != NULL; l = l->next) {
		PurplePlugin *plugin = l->data;

		if (plugin->info == NULL)
			continue;
		json_builder_begin_object(reply);
		pxm_add_string(reply, "id", purple_plugin_get_id(plugin));
		pxm_add_string(reply, "name", purple_plugin_get_name(plugin));
		pxm_add_string(reply, "summary",
			       purple_plugin_get_summary(plugin));
		pxm_add_string(reply, "version",
			       purple_plugin_get_version(plugin));
		pxm_add_string(reply, "path", plugin->path);
		pxm_add_bool(reply, "loaded", purple_plugin_is_loaded(plugin));
		json_builder_end_object(reply);
	}
	json_builder_end_array(reply);

	return TRUE;
}

/* The options of prpl-jabber's account dialog (the plugin adds some). */
static gboolean
pxm_cmd_account_options(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurplePlugin *prpl = purple_find_prpl("prpl-jabber");
	PurplePluginProtocolInfo *info =
		prpl != NULL ? PURPLE_PLUGIN_PROTOCOL_INFO(prpl) : NULL;

	json_builder_set_member_name(reply, "options");
	json_builder_begin_array(reply);
	for (GList *l = info != NULL ? info->protocol_options : NULL; l != NULL;
	     l = l->next) {
		PurpleAccountOption *option = l->data;

		json_builder_begin_object(reply);
		pxm_add_string(reply, "setting",
			       purple_account_option_get_setting(option));
		pxm_add_string(reply, "text",
			       purple_account_option_get_text(option));
		switch (purple_account_option_get_type(option)) {
		case PURPLE_PREF_BOOLEAN:
			pxm_add_string(reply, "type", "bool");
			pxm_add_bool(
				reply, "default",
				purple_account_option_get_default_bool(option));
			break;
		case PURPLE_PREF_INT:
			pxm_add_string(reply, "type", "int");
			json_builder_set_member_name(reply, "default");
			json_builder_add_int_value(
				reply,
				purple_account_option_get_default_int(option));
			break;
		case PURPLE_PREF_STRING_LIST:
			pxm_add_string(reply, "type", "list");
			pxm_add_string(
				reply, "default",
				purple_account_option_get_default_list_value(
					option));
			json_builder_set_member_name(reply, "choices");
			json_builder_begin_array(reply);
			for (GList *c = purple_account_option_get_list(option);
			     c != NULL; c = c->next) {
				PurpleKeyValuePair *kv = c->data;

				json_builder_begin_object(reply);
				pxm_add_string(reply, "value", kv->value);
				pxm_add_string(reply, "text", kv->key);
				json_builder_end_object(reply);
			}
			json_builder_end_array(reply);
			break;
		default:
			pxm_add_string(reply, "type", "string");
			break;
		}
		json_builder_end_object(reply);
	}
	json_builder_end_array(reply);

	return TRUE;
}

static gboolean
pxm_cmd_plugin_action(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurplePlugin *plugin = pxm_arg_plugin(args, "plugin", error);
	const char *label = plugin ? pxm_arg_string(args, "action", error)
				   : NULL;
	PurpleConnection *gc = NULL;
	PurplePluginAction *found = NULL;
	GList *actions;
	g_autoptr(GString) labels = g_string_new(NULL);

	if (label == NULL)
		return FALSE;
	if (pxm_arg(args, "account") != NULL) {
		gc = pxm_arg_connection(args, error);
		if (gc == NULL)
			return FALSE;
	} else if (purple_connections_get_all() != NULL) {
		gc = purple_connections_get_all()->data;
	}
	if (!purple_plugin_is_loaded(plugin) ||
	    !PURPLE_PLUGIN_HAS_ACTIONS(plugin)) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "plugin %s is not loaded or has no actions",
			    purple_plugin_get_id(plugin));
		return FALSE;
	}

	actions = PURPLE_PLUGIN_ACTIONS(plugin, gc);
	for (GList *l = actions; l != NULL; l = l->next) {
		PurplePluginAction *action = l->data;

		/* NULL entries are menu separators. */
		if (action == NULL)
			continue;
		g_string_append_printf(labels, "%s\"%s\"",
				       labels->len ? ", " : "", action->label);
		if (found == NULL && g_strcmp0(action->label, label) == 0)
			found = action;
	}

	if (found != NULL) {
		found->plugin = plugin;
		found->context = gc;
		found->callback(found);
	} else {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "plugin %s has no action \"%s\" (has %s)",
			    purple_plugin_get_id(plugin), label, labels->str);
	}

	for (GList *l = actions; l != NULL; l = l->next) {
		if (l->data != NULL)
			purple_plugin_action_free(l->data);
	}
	g_list_free(actions);

	return found != NULL;
}

static gboolean
pxm_cmd_xml(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);

	if (account == NULL)
		return FALSE;

	if (pxm_arg_bool_or(args, "on", TRUE))
		g_hash_table_add(host.xml_accounts, account);
	else
		g_hash_table_remove(host.xml_accounts, account);

	return pxm_xml_signals_update(error);
}

static gboolean
pxm_cmd_raw(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleConnection *gc = pxm_arg_connection(args, error);
	const char *xml = gc ? pxm_arg_string(args, "xml", error) : NULL;
	xmlnode *node;

	if (xml == NULL)
		return FALSE;

	node = xmlnode_from_str(xml, -1);
	if (node == NULL) {
		g_set_error_literal(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "\"xml\" is not well-formed XML");
		return FALSE;
	}

	/* The sender owns the node: hooks change it in place, the prpl's
	 * writer serialises it. */
	purple_signal_emit(purple_connection_get_prpl(gc),
			   "jabber-sending-xmlnode", gc, &node);
	if (node != NULL)
		xmlnode_free(node);

	return TRUE;
}

static gboolean
pxm_cmd_view_conversation(JsonObject *args, JsonBuilder *reply, GError **error)
{
	PurpleAccount *account = pxm_arg_account(args, error);
	const char *name = account ? pxm_arg_string(args, "conversation", error)
				   : NULL;
	const char *type = pxm_arg_string_or(args, "type", "im");
	gboolean focus = pxm_arg_bool_or(args, "focus", TRUE);
	PurpleConversation *conv;

	if (name == NULL)
		return FALSE;

	conv = purple_find_conversation_with_account(
		g_str_equal(type, "chat") ? PURPLE_CONV_TYPE_CHAT
					  : PURPLE_CONV_TYPE_IM,
		name, account);
	if (conv == NULL) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
			    "no %s conversation \"%s\"", type, name);
		return FALSE;
	}

	purple_conversation_set_data(conv, PXM_FOCUS_KEY,
				     GINT_TO_POINTER(focus));
	/* What Pidgin's and Finch's windows do when they get the focus. */
	if (focus) {
		purple_conversation_set_data(conv, "unseen-count", NULL);
		purple_conversation_set_data(conv, "unseen-state", NULL);
		purple_conversation_update(conv, PURPLE_CONV_UPDATE_UNSEEN);
	}

	pxm_add_string(reply, "conversation",
		       purple_conversation_get_name(conv));
	pxm_add_string(reply, "title", purple_conversation_get_title(conv));

	return TRUE;
}

/* A plugin's signal relayed as "signal" events (watch_signal). */
typedef struct {
	gchar *signal;
	gchar kinds[5]; /* per argument: a(ccount), c(onversation), s(tring) */
} PxmWatch;

static GPtrArray *pxm_watches;

static void
pxm_watch_free(PxmWatch *watch)
{
	g_free(watch->signal);
	g_free(watch);
}

static void
pxm_watch_emit(PxmWatch *watch, gpointer *args)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("signal");

	pxm_add_string(event, "signal", watch->signal);
	json_builder_set_member_name(event, "args");
	json_builder_begin_array(event);
	for (guint i = 0; watch->kinds[i] != '\0'; i++) {
		const char *text = args[i];

		if (args[i] != NULL && watch->kinds[i] == 'a')
			text = purple_account_get_username(args[i]);
		else if (args[i] != NULL && watch->kinds[i] == 'c')
			text = purple_conversation_get_name(args[i]);
		if (text != NULL)
			json_builder_add_string_value(event, text);
		else
			json_builder_add_null_value(event);
	}
	json_builder_end_array(event);
	pxm_emit(event);
}

static void
pxm_watch1(gpointer a, PxmWatch *watch)
{
	gpointer args[] = { a };

	pxm_watch_emit(watch, args);
}

static void
pxm_watch2(gpointer a, gpointer b, PxmWatch *watch)
{
	gpointer args[] = { a, b };

	pxm_watch_emit(watch, args);
}

static void
pxm_watch3(gpointer a, gpointer b, gpointer c, PxmWatch *watch)
{
	gpointer args[] = { a, b, c };

	pxm_watch_emit(watch, args);
}

static void
pxm_watch4(gpointer a, gpointer b, gpointer c, gpointer d, PxmWatch *watch)
{
	gpointer args[] = { a, b, c, d };

	pxm_watch_emit(watch, args);
}

static gboolean
pxm_cmd_watch_signal(JsonObject *args, JsonBuilder *reply, GError **error)
{
	static const GCallback handlers[] = {
		NULL,
		PURPLE_CALLBACK(pxm_watch1),
		PURPLE_CALLBACK(pxm_watch2),
		PURPLE_CALLBACK(pxm_watch3),
		PURPLE_CALLBACK(pxm_watch4),
	};
	PurplePlugin *plugin = pxm_arg_plugin(args, "plugin", error);
	const char *signal = plugin ? pxm_arg_string(args, "signal", error)
				    : NULL;
	PurpleValue *ret = NULL;
	PurpleValue **values = NULL;
	int n = 0;
	PxmWatch *watch;

	if (signal == NULL)
		return FALSE;

	purple_signal_get_values(plugin, signal, &ret, &n, &values);
	if (n < 1 || n > 4) {
		g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_INVALID_ARGS,
			    "%s has no signal \"%s\" with 1 to 4 arguments",
			    purple_plugin_get_id(plugin), signal);
		return FALSE;
	}
	watch = g_new0(PxmWatch, 1);
	watch->signal = g_strdup(signal);
	for (int i = 0; i < n; i++) {
		PurpleType type = purple_value_get_type(values[i]);

		if (type == PURPLE_TYPE_STRING) {
			watch->kinds[i] = 's';
		} else if (type == PURPLE_TYPE_SUBTYPE &&
			   purple_value_get_subtype(values[i]) ==
				   PURPLE_SUBTYPE_ACCOUNT) {
			watch->kinds[i] = 'a';
		} else if (type == PURPLE_TYPE_SUBTYPE &&
			   purple_value_get_subtype(values[i]) ==
				   PURPLE_SUBTYPE_CONVERSATION) {
			watch->kinds[i] = 'c';
		} else {
			g_set_error(error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "argument %d of \"%s\" is not an account, "
				    "a conversation or a string",
				    i + 1, signal);
			pxm_watch_free(watch);
			return FALSE;
		}
	}
	if (pxm_watches == NULL)
		pxm_watches = g_ptr_array_new_with_free_func(
			(GDestroyNotify)pxm_watch_free);
	g_ptr_array_add(pxm_watches, watch);
	/* Until the plugin unregisters the signal (it unloads). */
	purple_signal_connect(plugin, signal, &host, handlers[n], watch);

	return TRUE;
}

static gboolean
pxm_cmd_ping(JsonObject *args, JsonBuilder *reply, GError **error)
{
	return TRUE;
}

static gboolean
pxm_cmd_quit(JsonObject *args, JsonBuilder *reply, GError **error)
{
	pxm_host_quit();

	return TRUE;
}

static const struct {
	const char *name;
	PxmCommandFunc func;
} pxm_commands[] = {
	{ "account", pxm_cmd_account },
	{ "account_state", pxm_cmd_account_state },
	{ "account_options", pxm_cmd_account_options },
	{ "add_buddy", pxm_cmd_add_buddy },
	{ "add_chat", pxm_cmd_add_chat },
	{ "alias_chat", pxm_cmd_alias_chat },
	{ "answer", pxm_cmd_answer },
	{ "chats", pxm_cmd_chats },
	{ "chat_menu", pxm_cmd_chat_menu },
	{ "command", pxm_cmd_command },
	{ "connect", pxm_cmd_connect },
	{ "disconnect", pxm_cmd_disconnect },
	{ "get_pref", pxm_cmd_get_pref },
	{ "help", pxm_cmd_help },
	{ "join_room", pxm_cmd_join_room },
	{ "load_plugin", pxm_cmd_load_plugin },
	{ "move_chat", pxm_cmd_move_chat },
	{ "ping", pxm_cmd_ping },
	{ "plugin_action", pxm_cmd_plugin_action },
	{ "plugins", pxm_cmd_plugins },
	{ "quit", pxm_cmd_quit },
	{ "raw", pxm_cmd_raw },
	{ "rejoin", pxm_cmd_rejoin },
	{ "remove_chat", pxm_cmd_remove_chat },
	{ "send_file", pxm_cmd_send_file },
	{ "cancel_xfer", pxm_cmd_cancel_xfer },
	{ "send_im", pxm_cmd_send_im },
	{ "send_room", pxm_cmd_send_room },
	{ "set_account", pxm_cmd_set_account },
	{ "set_account_icon", pxm_cmd_set_account_icon },
	{ "set_chat_setting", pxm_cmd_set_chat_setting },
	{ "set_idle", pxm_cmd_set_idle },
	{ "set_pref", pxm_cmd_set_pref },
	{ "set_proxy", pxm_cmd_set_proxy },
	{ "set_status", pxm_cmd_set_status },
	{ "unload_plugin", pxm_cmd_unload_plugin },
	{ "view_conversation", pxm_cmd_view_conversation },
	{ "watch_signal", pxm_cmd_watch_signal },
	{ "xml", pxm_cmd_xml },
};

static gboolean
pxm_dispatch(JsonObject *args, const char *name, JsonBuilder *reply,
	     GError **error)
{
	for (gsize i = 0; i < G_N_ELEMENTS(pxm_commands); i++) {
		if (g_str_equal(pxm_commands[i].name, name))
			return pxm_commands[i].func(args, reply, error);
	}

	g_set_error(error, PXM_HOST_ERROR, PXM_HOST_ERROR_NOT_FOUND,
		    "unknown command \"%s\"", name);
	return FALSE;
}

static void
pxm_handle_line(const char *line)
{
	g_autoptr(JsonParser) parser = json_parser_new();
	g_autoptr(JsonBuilder) reply = NULL;
	g_autoptr(GError) error = NULL;
	JsonObject *args = NULL;
	JsonNode *root;
	JsonNode *tag = NULL;
	const char *name = NULL;
	gboolean ok = FALSE;

	while (g_ascii_isspace(*line))
		line++;
	if (*line == '\0')
		return;

	reply = pxm_event_new("reply");
	if (!json_parser_load_from_data(parser, line, -1, &error)) {
		g_prefix_error(&error, "bad JSON: ");
	} else if (!JSON_NODE_HOLDS_OBJECT(
			   root = json_parser_get_root(parser))) {
		g_set_error_literal(&error, PXM_HOST_ERROR,
				    PXM_HOST_ERROR_INVALID_ARGS,
				    "a command must be a JSON object");
	} else {
		args = json_node_get_object(root);
		tag = json_object_get_member(args, "tag");
		name = pxm_arg_string(args, "cmd", &error);
		if (name != NULL)
			ok = pxm_dispatch(args, name, reply, &error);
	}

	if (tag != NULL) {
		json_builder_set_member_name(reply, "tag");
		json_builder_add_value(reply, json_node_copy(tag));
	}
	pxm_add_string(reply, "cmd", name);
	pxm_add_bool(reply, "ok", ok);
	if (!ok)
		pxm_add_string(reply, "error",
			       error != NULL ? error->message
					     : "command failed");
	pxm_emit(reply);
}

static gboolean
pxm_stdin_cb(GIOChannel *channel, GIOCondition condition, gpointer data)
{
	while (!host.quitting) {
		g_autofree gchar *line = NULL;
		g_autoptr(GError) error = NULL;
		GIOStatus status;

		status = g_io_channel_read_line(channel, &line, NULL, NULL,
						&error);
		if (status == G_IO_STATUS_AGAIN)
			return G_SOURCE_CONTINUE;
		if (status != G_IO_STATUS_NORMAL) {
			if (error != NULL)
				g_printerr("pxm-test-host: stdin: %s\n",
					   error->message);
			/* End of input means the driver is done with us. */
			pxm_host_quit();
			break;
		}
		pxm_handle_line(line);
	}

	host.stdin_watch = 0;
	return G_SOURCE_REMOVE;
}

/*********************************************************************
 * Core UI ops and start-up
 *********************************************************************/

static void
pxm_force_bool(const char *name, gboolean value)
{
	purple_prefs_add_bool(name, value);
	purple_prefs_set_bool(name, value);
}

static void
pxm_force_string(const char *name, const char *value)
{
	purple_prefs_add_string(name, value);
	purple_prefs_set_string(name, value);
}

static void
pxm_ui_prefs_init(void)
{
	/* Runs after prefs.xml is read and before purple_network_init(), which
	 * starts UPnP discovery (multicast) when map_ports or auto_ip is on,
	 * and before the default auto_ip asks STUN, UPnP and NAT-PMP (the
	 * default gateway) for our public address. */
	purple_prefs_add_none("/purple/network");
	pxm_force_bool("/purple/network/map_ports", FALSE);
	pxm_force_bool("/purple/network/auto_ip", FALSE);
	pxm_force_string("/purple/network/public_ip", "127.0.0.1");
	pxm_force_string("/purple/network/stun_server", "");
	pxm_force_string("/purple/network/turn_server", "");

	purple_prefs_add_none("/purple/proxy");
	pxm_force_string("/purple/proxy/type", "none");

	purple_prefs_add_none("/purple/logging");
	pxm_force_bool("/purple/logging/log_ims", FALSE);
	pxm_force_bool("/purple/logging/log_chats", FALSE);
	pxm_force_bool("/purple/logging/log_system", FALSE);

	pxm_force_string("/purple/away/idle_reporting", "none");
	pxm_force_bool("/purple/away/away_when_idle", FALSE);
}

static void
pxm_debug_ui_init(void)
{
	if (host.debug_events)
		purple_debug_set_ui_ops(&pxm_debug_ops);
}

static void
pxm_ui_init(void)
{
	purple_conversations_set_ui_ops(&pxm_conv_ops);
	purple_request_set_ui_ops(&pxm_request_ops);
	purple_notify_set_ui_ops(&pxm_notify_ops);
	purple_xfers_set_ui_ops(&pxm_xfer_ops);
	purple_connections_set_ui_ops(&pxm_connection_ops);
	purple_accounts_set_ui_ops(&pxm_account_ops);

	purple_signal_connect(purple_connections_get_handle(), "signed-on",
			      &host, PURPLE_CALLBACK(pxm_signed_on_cb), NULL);
	purple_signal_connect(purple_connections_get_handle(), "signed-off",
			      &host, PURPLE_CALLBACK(pxm_signed_off_cb), NULL);
	purple_signal_connect(purple_connections_get_handle(),
			      "connection-error", &host,
			      PURPLE_CALLBACK(pxm_connection_error_cb), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "chat-joined",
			      &host, PURPLE_CALLBACK(pxm_chat_joined_cb), NULL);
	purple_signal_connect(purple_conversations_get_handle(), "chat-left",
			      &host, PURPLE_CALLBACK(pxm_chat_left_cb), NULL);
	purple_signal_connect(
		purple_conversations_get_handle(), "conversation-updated",
		&host, PURPLE_CALLBACK(pxm_conversation_updated_cb), NULL);
	pxm_guard_connect();
}

static GHashTable *
pxm_get_ui_info(void)
{
	if (host.ui_info == NULL) {
		host.ui_info = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(host.ui_info, (gpointer) "name",
				    (gpointer) "pxm-test-host");
		g_hash_table_insert(host.ui_info, (gpointer) "version",
				    (gpointer) "0");
		g_hash_table_insert(host.ui_info, (gpointer) "client_type",
				    (gpointer) "bot");
	}

	return host.ui_info;
}

static PurpleCoreUiOps pxm_core_ops = {
	.ui_prefs_init = pxm_ui_prefs_init,
	.debug_ui_init = pxm_debug_ui_init,
	.ui_init = pxm_ui_init,
	.get_ui_info = pxm_get_ui_info,
};

static void
pxm_host_quit(void)
{
	if (host.quitting)
		return;

	host.quitting = TRUE;
	g_main_loop_quit(host.loop);
}

static gboolean
pxm_unix_signal_cb(gpointer data)
{
	pxm_host_quit();

	return G_SOURCE_CONTINUE;
}

static gboolean
pxm_remove_tree(const char *path)
{
	if (g_file_test(path, G_FILE_TEST_IS_DIR) &&
	    !g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
		g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
		const char *name;

		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *child = g_build_filename(path, name,
								   NULL);

			pxm_remove_tree(child);
		}
		return g_rmdir(path) == 0;
	}

	return g_unlink(path) == 0;
}

static void
pxm_emit_ready(GPtrArray *plugin_ids)
{
	g_autoptr(JsonBuilder) event = pxm_event_new("ready");

	pxm_add_string(event, "version", purple_core_get_version());
	pxm_add_string(event, "userdir", purple_user_dir());
	pxm_add_int(event, "pid", getpid());
	json_builder_set_member_name(event, "plugins");
	json_builder_begin_array(event);
	for (guint i = 0; i < plugin_ids->len; i++)
		json_builder_add_string_value(event,
					      g_ptr_array_index(plugin_ids, i));
	json_builder_end_array(event);
	pxm_emit(event);
}

static gboolean
pxm_load_startup_plugins(char **paths, GPtrArray *plugin_ids, GError **error)
{
	for (char **p = paths; p != NULL && *p != NULL; p++) {
		PurplePlugin *plugin = pxm_load_plugin(*p, error);

		if (plugin == NULL)
			return FALSE;
		g_ptr_array_add(plugin_ids,
				g_strdup(purple_plugin_get_id(plugin)));
	}

	return TRUE;
}

static void
pxm_free_leftover_requests(void)
{
	g_autoptr(GList) pending = g_hash_table_get_values(host.requests);

	g_hash_table_remove_all(host.requests);
	g_list_free_full(g_steal_pointer(&pending),
			 (GDestroyNotify)pxm_request_free);
}

static void
pxm_close_pending_requests(void)
{
	g_autoptr(GList) pending = g_hash_table_get_values(host.requests);

	for (GList *l = pending; l != NULL; l = l->next) {
		PxmRequest *req = l->data;

		if (req->kind == PXM_REQUEST_AUTHORIZE)
			purple_account_request_close(req);
		else
			purple_request_close(req->type, req);
	}
}

int
main(int argc, char **argv)
{
	g_autofree gchar *opt_user_dir = NULL;
	g_auto(GStrv) opt_plugins = NULL;
	gboolean opt_debug = FALSE;
	gboolean opt_debug_events = FALSE;
	GOptionEntry entries[] = {
		{ "userdir", 0, 0, G_OPTION_ARG_FILENAME, &opt_user_dir,
		  "libpurple user directory (created if missing; default: a "
		  "temporary one, removed on exit)",
		  "DIR" },
		{ "plugin", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_plugins,
		  "Probe and load this libpurple plugin (repeatable)", "PATH" },
		{ "debug", 0, 0, G_OPTION_ARG_NONE, &opt_debug,
		  "Print libpurple debug output to stderr", NULL },
		{ "debug-events", 0, 0, G_OPTION_ARG_NONE, &opt_debug_events,
		  "Emit libpurple debug output as \"debug\" events", NULL },
		{ NULL },
	};
	g_autoptr(GOptionContext) context = g_option_context_new(
		"- headless libpurple driven by JSON Lines");
	g_autoptr(GPtrArray) plugin_ids =
		g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *no_bus = NULL;
	g_autofree gchar *gst_registry = NULL;
	int out_fd;
	int status = 0;

	/* As Pidgin and Finch do: plugins' translations follow the
	 * environment's locale (pxm_host.py pins C.UTF-8 unless a test asks
	 * for another language). */
	setlocale(LC_ALL, "");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("pxm-test-host: %s\n", error->message);
		return 2;
	}

	/* stdout carries only events: keep a private copy of it and send
	 * everything else that writes to fd 1 (g_print in libpurple's debug
	 * output, stray printf) to stderr. */
	out_fd = dup(STDOUT_FILENO);
	if (out_fd < 0 || dup2(STDERR_FILENO, STDOUT_FILENO) < 0 ||
	    (host.out = fdopen(out_fd, "w")) == NULL) {
		g_printerr("pxm-test-host: cannot set up stdout: %s\n",
			   g_strerror(errno));
		return 2;
	}
	/* A write to a closed socket or a vanished driver must not kill us. */
	signal(SIGPIPE, SIG_IGN);

	if (opt_user_dir == NULL) {
		host.user_dir = g_dir_make_tmp("pxm-test-host-XXXXXX", &error);
		if (host.user_dir == NULL) {
			g_printerr("pxm-test-host: %s\n", error->message);
			return 2;
		}
		host.remove_user_dir = TRUE;
	} else {
		host.user_dir = g_steal_pointer(&opt_user_dir);
		if (g_mkdir_with_parents(host.user_dir, 0700) != 0) {
			g_printerr("pxm-test-host: cannot create %s: %s\n",
				   host.user_dir, g_strerror(errno));
			return 2;
		}
	}

	host.debug = opt_debug;
	host.debug_events = opt_debug_events;
	host.loop = g_main_loop_new(NULL, FALSE);
	host.requests = g_hash_table_new(g_direct_hash, g_direct_equal);
	host.dns_jobs = g_hash_table_new_full(g_direct_hash, g_direct_equal,
					      NULL,
					      (GDestroyNotify)pxm_dns_job_free);
	host.srv_jobs = g_hash_table_new_full(g_direct_hash, g_direct_equal,
					      NULL,
					      (GDestroyNotify)pxm_srv_job_free);
	host.xml_accounts = g_hash_table_new(g_direct_hash, g_direct_equal);

	/* libpurple registers itself on the session bus and asks
	 * NetworkManager on the system bus whether the network is up (an
	 * offline laptop would refuse to connect even to loopback). Point
	 * both at nothing, before any thread exists. */
	no_bus = g_strdup_printf("unix:path=%s/no-dbus", host.user_dir);
	g_setenv("DBUS_SESSION_BUS_ADDRESS", no_bus, TRUE);
	g_setenv("DBUS_SYSTEM_BUS_ADDRESS", no_bus, TRUE);
	/* prpl-jabber's media manager makes GStreamer load every system plugin
	 * and probe PulseAudio and Vulkan devices, and cache a registry in
	 * $HOME. The tests need no audio or video: load no GStreamer plugins
	 * and keep the registry in the user dir. */
	gst_registry = g_build_filename(host.user_dir, "gstreamer-registry.bin",
					NULL);
	g_setenv("GST_PLUGIN_SYSTEM_PATH_1_0", "", TRUE);
	g_unsetenv("GST_PLUGIN_PATH_1_0");
	g_setenv("GST_REGISTRY_1_0", gst_registry, TRUE);

	purple_util_set_user_dir(host.user_dir);
	purple_debug_set_enabled(host.debug);
	purple_core_set_ui_ops(&pxm_core_ops);
	purple_eventloop_set_ui_ops(&pxm_eventloop_ops);
	purple_dnsquery_set_ui_ops(&pxm_dns_ops);
	purple_srv_txt_query_set_ui_ops(&pxm_srv_ops);

	for (char **p = opt_plugins; p != NULL && *p != NULL; p++) {
		g_autofree gchar *path = g_canonicalize_filename(*p, NULL);
		g_autofree gchar *dir = g_path_get_dirname(path);

		purple_plugins_add_search_path(dir);
	}

	if (!purple_core_init(PXM_UI_ID)) {
		g_printerr("pxm-test-host: libpurple failed to initialise\n");
		return 1;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();

	if (!pxm_load_startup_plugins(opt_plugins, plugin_ids, &error)) {
		g_autoptr(JsonBuilder) event = pxm_event_new("fatal");

		pxm_add_string(event, "error", error->message);
		pxm_emit(event);
		g_printerr("pxm-test-host: %s\n", error->message);
		status = 1;
	} else {
		host.stdin_channel = g_io_channel_unix_new(STDIN_FILENO);
		g_io_channel_set_encoding(host.stdin_channel, NULL, NULL);
		g_io_channel_set_flags(host.stdin_channel, G_IO_FLAG_NONBLOCK,
				       NULL);
		host.stdin_watch = g_io_add_watch(host.stdin_channel,
						  G_IO_IN | G_IO_HUP | G_IO_ERR,
						  pxm_stdin_cb, NULL);
		g_unix_signal_add(SIGINT, pxm_unix_signal_cb, NULL);
		g_unix_signal_add(SIGTERM, pxm_unix_signal_cb, NULL);

		pxm_emit_ready(plugin_ids);
		if (!host.quitting)
			g_main_loop_run(host.loop);
	}

	if (host.stdin_watch != 0)
		g_source_remove(host.stdin_watch);
	g_clear_pointer(&host.stdin_channel, g_io_channel_unref);

	pxm_close_pending_requests();
	purple_signals_disconnect_by_handle(&host);
	purple_signals_disconnect_by_handle(&host.xml_accounts);
	purple_core_quit();
	pxm_free_leftover_requests();
	g_clear_pointer(&pxm_watches, g_ptr_array_unref);

	{
		g_autoptr(JsonBuilder) event = pxm_event_new("exit");

		pxm_emit(event);
	}

	g_hash_table_destroy(host.requests);
	g_hash_table_destroy(host.dns_jobs);
	g_hash_table_destroy(host.srv_jobs);
	g_hash_table_destroy(host.xml_accounts);
	g_clear_pointer(&host.ui_info, g_hash_table_destroy);
	g_main_loop_unref(host.loop);
	if (host.remove_user_dir)
		pxm_remove_tree(host.user_dir);
	g_free(host.user_dir);
	if (host.out != NULL)
		fclose(host.out);

	return status;
}

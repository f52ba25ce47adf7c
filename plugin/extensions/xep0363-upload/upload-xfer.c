// SPDX-License-Identifier: GPL-3.0-or-later
/*
 * Uploads and downloads as libpurple file transfers (PurpleXfer), so they
 * show in the file-transfer window with progress and can be cancelled
 * there.  We drive the I/O ourselves: purple_xfer_start() with no socket
 * only opens the local file; the HTTP client reads and writes it through
 * purple_xfer_read_file()/purple_xfer_write_file().
 */
#include "xep0363-upload.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n-lib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#define ID PXM_UPLOAD_ID
#define PROGRESS_INTERVAL_US (250 * 1000)

typedef struct {
	PxmUploadState *state; /* borrowed; NULL once detached */
	PxmAccount *account;   /* borrowed, as long as state */
	PurpleXfer *xfer;      /* a reference, NULL once detached */
	char *who;
	gboolean groupchat;
	gboolean upload;
	PxmHttp *http;
	PxmAesgcm *aes;
	guint8 key[PXM_AESGCM_KEY_LEN];
	guint8 iv[16];
	gsize iv_len;
	char *url; /* download: what to fetch; upload: the GET URL */
	/* Upload: the plaintext left to read, then the tag to send. */
	guint64 left;
	guint8 tag[PXM_AESGCM_TAG_LEN];
	gsize tag_sent;
	/* Download: the last bytes seen (the tag, at the end). */
	guint8 held[PXM_AESGCM_TAG_LEN];
	gsize held_len;
	gint64 content_length;
	char *final_path;
	char *temp_path;
	gint64 last_progress;
} Job;

static Job *
job_ref(Job *job)
{
	return g_rc_box_acquire(job);
}

static void
job_clear(Job *job)
{
	g_free(job->who);
	g_free(job->url);
	g_free(job->final_path);
	g_free(job->temp_path);
	pxm_aesgcm_free(job->aes);
	memset(job->key, 0, sizeof(job->key));
}

static void
job_unref(gpointer job)
{
	g_rc_box_release_full(job, (GDestroyNotify)job_clear);
}

/* Ends our part: stops HTTP, forgets the transfer.  Idempotent. */
static void
job_detach(Job *job)
{
	PurpleXfer *xfer = job->xfer;
	gboolean listed = job->state != NULL;

	if (job->http != NULL) {
		PxmHttp *http = job->http;

		job->http = NULL;
		pxm_http_cancel(http);
	}
	if (job->temp_path != NULL) {
		g_unlink(job->temp_path);
		g_clear_pointer(&job->temp_path, g_free);
	}
	if (job->state != NULL) {
		GList **xfers = pxm_upload_state_xfers(job->state);

		*xfers = g_list_remove(*xfers, job);
		job->state = NULL;
	}
	if (xfer != NULL) {
		job->xfer = NULL;
		xfer->data = NULL;
		purple_xfer_unref(xfer);
	}
	if (listed)
		job_unref(job); /* the list's */
}

static Job *
job_new(PxmAccount *account, PxmUploadState *state, const char *who,
	gboolean groupchat, gboolean upload)
{
	Job *job = g_rc_box_new0(Job);
	GList **xfers = pxm_upload_state_xfers(state);

	job->state = state;
	job->account = account;
	job->who = g_strdup(who);
	job->groupchat = groupchat;
	job->upload = upload;
	job->content_length = -1;
	*xfers = g_list_prepend(*xfers, job); /* holds the first ref */
	return job;
}

static void
show_error(Job *job, const char *message)
{
	PurpleXfer *xfer = job->xfer;

	if (xfer == NULL)
		return;
	purple_xfer_error(purple_xfer_get_type(xfer),
			  purple_xfer_get_account(xfer), job->who, message);
	if (job->groupchat) {
		g_autofree char *room = pxm_jid_bare_dup(job->who);
		g_autofree char *html = g_markup_escape_text(message, -1);

		if (purple_find_conversation_with_account(
			    PURPLE_CONV_TYPE_CHAT, room,
			    purple_xfer_get_account(xfer)) != NULL)
			pxm_presenter_notice(job->account, room, TRUE, html);
	} else {
		purple_xfer_conversation_write(xfer, (char *)message, TRUE);
	}
}

/* Fails the transfer with @message shown; libpurple then calls our
 * cancel function, which detaches the job. */
static void
job_fail(Job *job, const char *message)
{
	PurpleXfer *xfer = job->xfer;

	if (xfer == NULL)
		return;
	purple_debug_info(ID, "transfer failed: %s\n", message);
	show_error(job, message);
	job_ref(job);
	purple_xfer_ref(xfer);
	purple_xfer_cancel_local(xfer);
	job_detach(job);
	purple_xfer_unref(xfer);
	job_unref(job);
}

static void
progress(Job *job, gboolean force)
{
	gint64 now = g_get_monotonic_time();

	if (job->xfer == NULL)
		return;
	if (!force && now - job->last_progress < PROGRESS_INTERVAL_US)
		return;
	job->last_progress = now;
	purple_xfer_update_progress(job->xfer);
}

static void
on_cancel(PurpleXfer *xfer)
{
	Job *job = xfer->data;

	/* From the file-transfer window, or our own job_fail(). */
	if (job != NULL)
		job_detach(job);
}

/* --- Upload ----------------------------------------------------------- */

static gssize
upload_read(guint8 *buf, gsize len, gpointer data)
{
	Job *job = data;
	gsize want;
	gssize n;

	if (job->xfer == NULL)
		return -1;
	if (job->left > 0) {
		want = (gsize)MIN((guint64)len, job->left);
		n = purple_xfer_read_file(job->xfer, buf, want);
		/* purple_xfer_read_file cancels the transfer itself on a
		 * read error. */
		if (n <= 0 || job->xfer == NULL)
			return -1;
		job->left -= (guint64)n;
		if (job->aes != NULL) {
			if (!pxm_aesgcm_update(job->aes, buf, (gsize)n))
				return -1;
			if (job->left == 0)
				pxm_aesgcm_tag(job->aes, job->tag);
		}
		progress(job, FALSE);
		return n;
	}
	if (job->aes != NULL && job->tag_sent < PXM_AESGCM_TAG_LEN) {
		/* XEP-0454: the tag follows the ciphertext. */
		want = MIN(len, PXM_AESGCM_TAG_LEN - job->tag_sent);
		memcpy(buf, job->tag + job->tag_sent, want);
		job->tag_sent += want;
		return (gssize)want;
	}
	return 0;
}

static void
send_link(Job *job, const char *link)
{
	PurpleAccount *pa = pxm_account_get_purple(job->account);
	PurpleConversation *conv;
	g_autofree char *html = g_markup_escape_text(link, -1);

	if (job->groupchat) {
		conv = purple_find_conversation_with_account(
			PURPLE_CONV_TYPE_CHAT, job->who, pa);
		if (conv == NULL) {
			job_fail(job, _("You left the room: the link was not "
					"sent."));
			return;
		}
		/* The normal send path: the encryption extension (fail
		 * closed) and our annotate stage see it. */
		purple_conv_chat_send(PURPLE_CONV_CHAT(conv), html);
		return;
	}
	conv = purple_find_conversation_with_account(PURPLE_CONV_TYPE_IM,
						     job->who, pa);
	if (conv == NULL)
		conv = purple_conversation_new(PURPLE_CONV_TYPE_IM, pa,
					       job->who);
	purple_conv_im_send(PURPLE_CONV_IM(conv), html);
}

static void
upload_done(long status, const GError *error, gpointer data)
{
	Job *job = data;
	PurpleXfer *xfer = job->xfer;
	g_autofree char *link = NULL;

	job->http = NULL;
	if (xfer == NULL)
		return;
	if (error != NULL) {
		job_fail(job, error->message);
		return;
	}
	/* Nothing half-sent: the link goes only after a 2xx PUT. */
	if (job->aes != NULL) {
		link = pxm_aesgcm_url_build(job->url, job->iv, job->iv_len,
					    job->key);
	} else {
		link = g_strdup(job->url);
		pxm_upload_state_remember_link(job->state, link);
	}
	purple_xfer_ref(xfer);
	send_link(job, link);
	if (job->xfer != NULL) {
		purple_xfer_set_completed(xfer, TRUE);
		job_detach(job);
		purple_xfer_end(xfer);
	}
	purple_xfer_unref(xfer);
}

static void
on_slot(PxmUploadSlot *slot, const GError *error, gpointer data)
{
	Job *job = data;
	PurpleXfer *xfer = job->xfer;
	PxmHttpRequest req = { 0 };

	if (xfer == NULL)
		return;
	if (slot == NULL) {
		job_fail(job, error->message);
		return;
	}
	job->url = g_strdup(slot->get_url);
	/* Opens the file and marks the transfer started. */
	purple_xfer_start(xfer, -1, NULL, 0);
	if (job->xfer == NULL || purple_xfer_is_canceled(xfer))
		return;
	req.method = "PUT";
	req.url = slot->put_url;
	req.headers = slot->headers;
	req.account = purple_xfer_get_account(xfer);
	req.body_size = purple_xfer_get_size(xfer) +
			(job->aes != NULL ? PXM_AESGCM_TAG_LEN : 0);
	req.read = upload_read;
	req.done = upload_done;
	req.user_data = job_ref(job);
	req.destroy = job_unref;
	job->left = purple_xfer_get_size(xfer);
	job->http = pxm_http_start(&req);
}

static void
upload_go(Job *job, gboolean encrypt)
{
	PurpleXfer *xfer = job->xfer;
	g_autoptr(GError) error = NULL;
	g_autofree char *content_type = NULL;
	guint64 max_size = 0;
	guint64 size;
	const char *name;

	if (xfer == NULL || job->state == NULL)
		return;
	pxm_upload_state_service(job->state, &max_size, NULL);
	size = purple_xfer_get_size(xfer);
	name = purple_xfer_get_filename(xfer);
	if (encrypt) {
		pxm_aesgcm_random(job->key, sizeof(job->key));
		pxm_aesgcm_random(job->iv, PXM_AESGCM_IV_LEN);
		job->iv_len = PXM_AESGCM_IV_LEN;
		job->aes = pxm_aesgcm_new(job->key, job->iv, job->iv_len, TRUE,
					  &error);
		if (job->aes == NULL) {
			job_fail(job, error->message);
			return;
		}
	}
	if (!pxm_upload_check_size(
		    size + (job->aes != NULL ? PXM_AESGCM_TAG_LEN : 0),
		    max_size, &error)) {
		job_fail(job, error->message);
		return;
	}
	if (job->aes == NULL) {
		g_autofree char *guess = g_content_type_guess(name, NULL, 0,
							      NULL);

		content_type = g_content_type_get_mime_type(guess);
	}
	pxm_upload_request_slot(
		job->account, job->state, name != NULL ? name : "file",
		size + (job->aes != NULL ? PXM_AESGCM_TAG_LEN : 0),
		content_type != NULL ? content_type
				     : "application/octet-stream",
		on_slot, job_ref(job), job_unref);
}

/* The answer of pxm_account_conversation_decide_encryption(). */
static void
on_decided(PxmAccount *account, gboolean encrypted, gpointer data)
{
	upload_go(data, encrypted);
}

static void
upload_ready(PxmUploadState *state, const GError *wait_error, gpointer data)
{
	Job *job = data;
	g_autofree char *bare = NULL;

	/* Cancelled while waiting, or the account went offline. */
	if (job->xfer == NULL || job->state == NULL)
		return;
	if (wait_error != NULL) {
		job_fail(job, wait_error->message);
		return;
	}
	if (pxm_upload_state_service(job->state, NULL, NULL) == NULL) {
		job_fail(job, _("Your server offers no file upload "
				"(XEP-0363)."));
		return;
	}
	bare = pxm_jid_bare_dup(job->who);
	if (bare == NULL) {
		upload_go(job, FALSE);
		return;
	}
	/*
	 * A file must be encrypted before it is uploaded, while the
	 * encryption of a first message to a contact is decided when it is
	 * sent, i.e. after the upload: ask now (the encrypting extension
	 * fetches what it needs, e.g. the contact's device lists), so the
	 * file never lies in clear on the server when its link then travels
	 * encrypted.  A room's state is already known.
	 */
	if (job->groupchat)
		upload_go(job, pxm_account_conversation_is_encrypted(
				       job->account, bare));
	else
		pxm_account_conversation_decide_encryption(
			job->account, bare, on_decided, job_ref(job),
			job_unref);
}

static void
upload_init(PurpleXfer *xfer)
{
	Job *job = xfer->data;

	if (job == NULL || job->state == NULL)
		return;
	/* A file sent right after sign-on waits for discovery. */
	pxm_upload_when_ready(job->state, upload_ready, job_ref(job),
			      job_unref);
}

PurpleXfer *
pxm_upload_xfer_send_new(PxmAccount *account, PxmUploadState *state,
			 const char *who, gboolean groupchat)
{
	PurpleXfer *xfer = purple_xfer_new(pxm_account_get_purple(account),
					   PURPLE_XFER_SEND, who);
	Job *job = job_new(account, state, who, groupchat, TRUE);

	job->xfer = xfer;
	purple_xfer_ref(xfer);
	xfer->data = job;
	purple_xfer_set_init_fnc(xfer, upload_init);
	purple_xfer_set_cancel_send_fnc(xfer, on_cancel);
	purple_xfer_set_request_denied_fnc(xfer, on_cancel);
	return xfer;
}

/* --- Download --------------------------------------------------------- */

static gboolean
download_write(const guint8 *buf, gsize len, gpointer data)
{
	Job *job = data;
	guint8 chunk[16384 + PXM_AESGCM_TAG_LEN];

	if (job->xfer == NULL)
		return FALSE;
	if (job->aes == NULL) {
		if (!purple_xfer_write_file(job->xfer, buf, len))
			return FALSE;
		progress(job, FALSE);
		return job->xfer != NULL;
	}
	/* The last 16 bytes are the tag: always hold the latest 16 back. */
	while (len > 0) {
		gsize take = MIN(len, sizeof(chunk) - job->held_len);
		gsize total = job->held_len + take;
		gsize out = total > PXM_AESGCM_TAG_LEN
				    ? total - PXM_AESGCM_TAG_LEN
				    : 0;

		memcpy(chunk, job->held, job->held_len);
		memcpy(chunk + job->held_len, buf, take);
		buf += take;
		len -= take;
		if (out > 0) {
			if (!pxm_aesgcm_update(job->aes, chunk, out) ||
			    !purple_xfer_write_file(job->xfer, chunk, out))
				return FALSE;
		}
		job->held_len = total - out;
		memcpy(job->held, chunk + out, job->held_len);
	}
	memset(chunk, 0, sizeof(chunk));
	progress(job, FALSE);
	return job->xfer != NULL;
}

static void
download_done(long status, const GError *error, gpointer data)
{
	Job *job = data;
	PurpleXfer *xfer = job->xfer;

	job->http = NULL;
	if (xfer == NULL)
		return;
	if (error != NULL) {
		job_fail(job, error->message);
		return;
	}
	/* XEP-0454: the file is kept only if its tag authenticates it. */
	if (job->aes != NULL && (job->held_len != PXM_AESGCM_TAG_LEN ||
				 !pxm_aesgcm_check_tag(job->aes, job->held))) {
		purple_debug_warning(ID, "aesgcm download failed "
					 "authentication: file removed\n");
		job_fail(job, _("The file was damaged or altered on the way "
				"(it failed its integrity check); it was not "
				"kept."));
		return;
	}
	if (xfer->dest_fp != NULL && fflush(xfer->dest_fp) != 0) {
		g_autofree char *msg =
			g_strdup_printf(_("Could not write %s: %s"),
					job->final_path, g_strerror(errno));

		job_fail(job, msg);
		return;
	}
	if (g_rename(job->temp_path, job->final_path) != 0) {
		g_autofree char *msg =
			g_strdup_printf(_("Could not write %s: %s"),
					job->final_path, g_strerror(errno));

		job_fail(job, msg);
		return;
	}
	g_clear_pointer(&job->temp_path, g_free);
	purple_xfer_ref(xfer);
	purple_xfer_set_completed(xfer, TRUE);
	job_detach(job);
	purple_xfer_end(xfer);
	purple_xfer_unref(xfer);
}

static gboolean
download_headers(long status, gint64 length, gpointer data)
{
	Job *job = data;

	if (job->xfer == NULL)
		return FALSE;
	if (length >= 0 && purple_xfer_get_size(job->xfer) == 0)
		purple_xfer_set_size(
			job->xfer, job->aes != NULL
					   ? MAX(length - PXM_AESGCM_TAG_LEN, 0)
					   : length);
	return TRUE;
}

static void
download_init(PurpleXfer *xfer)
{
	Job *job = xfer->data;
	g_autoptr(GError) error = NULL;
	g_autofree char *dir = NULL;
	g_autofree char *base = NULL;
	g_autofree char *template = NULL;
	PxmHttpRequest req = { 0 };
	int fd;

	if (job == NULL || job->state == NULL)
		return;
	/* Into a temporary file next to the chosen one, moved into place
	 * only when complete (and, for aesgcm, authenticated). */
	job->final_path = g_strdup(purple_xfer_get_local_filename(xfer));
	dir = g_path_get_dirname(job->final_path);
	base = g_path_get_basename(job->final_path);
	template = g_strdup_printf("%s/.%s.XXXXXX.part", dir, base);
	fd = g_mkstemp_full(template, O_RDWR, 0600);
	if (fd < 0) {
		g_autofree char *msg =
			g_strdup_printf(_("Could not write %s: %s"),
					job->final_path, g_strerror(errno));

		job_fail(job, msg);
		return;
	}
	close(fd);
	job->temp_path = g_steal_pointer(&template);
	if (job->iv_len > 0) {
		job->aes = pxm_aesgcm_new(job->key, job->iv, job->iv_len, FALSE,
					  &error);
		memset(job->key, 0, sizeof(job->key));
		if (job->aes == NULL) {
			job_fail(job, error->message);
			return;
		}
	}
	purple_xfer_set_local_filename(xfer, job->temp_path);
	purple_xfer_start(xfer, -1, NULL, 0);
	if (job->xfer == NULL || purple_xfer_is_canceled(xfer))
		return;
	purple_xfer_set_local_filename(xfer, job->final_path);
	req.method = "GET";
	req.url = job->url;
	req.account = purple_xfer_get_account(xfer);
	req.headers_cb = download_headers;
	req.write = download_write;
	req.done = download_done;
	req.user_data = job_ref(job);
	req.destroy = job_unref;
	job->http = pxm_http_start(&req);
}

static void
offer(Job *job)
{
	PurpleXfer *xfer = purple_xfer_new(pxm_account_get_purple(job->account),
					   PURPLE_XFER_RECEIVE, job->who);
	g_autofree char *name = pxm_upload_filename_from_url(job->url);

	job->xfer = xfer;
	purple_xfer_ref(xfer);
	xfer->data = job;
	purple_xfer_set_filename(xfer, name);
	if (job->content_length >= 0)
		purple_xfer_set_size(
			xfer, job->iv_len > 0 ? MAX(job->content_length -
							    PXM_AESGCM_TAG_LEN,
						    0)
					      : job->content_length);
	purple_xfer_set_init_fnc(xfer, download_init);
	purple_xfer_set_cancel_recv_fnc(xfer, on_cancel);
	purple_xfer_set_request_denied_fnc(xfer, on_cancel);
	/* The user accepts (or not) and picks where to save. */
	purple_xfer_request(xfer);
}

static gboolean
head_headers(long status, gint64 length, gpointer data)
{
	Job *job = data;

	job->content_length = length;
	return TRUE;
}

static void
head_done(long status, const GError *error, gpointer data)
{
	Job *job = data;

	job->http = NULL;
	if (job->state == NULL)
		return;
	/* Offered even when HEAD failed (some servers refuse it): the size
	 * is then unknown, and the download says what is wrong. */
	if (error != NULL)
		purple_debug_info(ID, "HEAD failed: %s\n", error->message);
	offer(job);
}

void
pxm_upload_offer(PxmAccount *account, PxmUploadState *state, const char *from,
		 const char *url, const guint8 *key, const guint8 *iv,
		 gsize iv_len)
{
	Job *job = job_new(account, state, from, FALSE, FALSE);
	PxmHttpRequest req = { 0 };

	job->url = g_strdup(url);
	if (iv_len > 0) {
		memcpy(job->key, key, PXM_AESGCM_KEY_LEN);
		memcpy(job->iv, iv, iv_len);
		job->iv_len = iv_len;
	}
	req.method = "HEAD";
	req.url = url;
	req.account = pxm_account_get_purple(account);
	req.headers_cb = head_headers;
	req.done = head_done;
	req.user_data = job_ref(job);
	req.destroy = job_unref;
	job->http = pxm_http_start(&req);
}

void
pxm_upload_xfers_cancel_all(PxmUploadState *state)
{
	GList **xfers = pxm_upload_state_xfers(state);

	while (*xfers != NULL) {
		Job *job = (*xfers)->data;

		if (job->xfer != NULL && !purple_xfer_is_completed(job->xfer) &&
		    !purple_xfer_is_canceled(job->xfer))
			job_fail(job, _("The account went offline: the "
					"transfer stopped."));
		else
			job_detach(job);
	}
}

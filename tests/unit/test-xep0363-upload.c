// SPDX-License-Identifier: GPL-3.0-or-later
/* XEP-0363 / XEP-0066 / XEP-0454: service discovery and slots (exact XML,
 * the header allow-list), size checks, aesgcm links (hostile ones too),
 * AES-256-GCM known answers, file-name sanitising, the OOB annotation and
 * the HTTP client's redirect and proxy policies. */
#include <gcrypt.h>
#include <string.h>

#include "host.h"
#include "iq.h"
#include "pxm-test-account.h"
#include "pxm-test.h"
#include "extensions/xep0363-upload/xep0363-upload.h"

#define OWN "alice@example.org/pidgin"
#define EXT "xep0363-upload"

typedef PxmTestAccount Fixture;

static void
setup(Fixture *f, gconstpointer data)
{
	pxm_test_account_setup(f, OWN, FALSE);
	if (GPOINTER_TO_INT(data))
		pxm_test_account_activate(f, EXT);
}

static PxmUploadState *
state(Fixture *f)
{
	return pxm_test_account_state(f, EXT);
}

/* The id of the last IQ sent to @to with a child in @ns. */
static char *
sent_id(Fixture *f, const char *to, const char *ns)
{
	for (guint i = f->sent->len; i-- > 0;) {
		g_autoptr(xmlnode) iq = pxm_test_parse(f->sent->pdata[i]);

		if (g_strcmp0(xmlnode_get_attrib(iq, "to"), to) == 0 &&
		    iq->child != NULL &&
		    ((iq->child->type == XMLNODE_TYPE_TAG &&
		      g_strcmp0(xmlnode_get_namespace(iq->child), ns) == 0) ||
		     pxm_xml_child(iq, "query", ns) != NULL ||
		     pxm_xml_child(iq, "request", ns) != NULL))
			return g_strdup(xmlnode_get_attrib(iq, "id"));
	}
	g_error("nothing in %s was sent to %s", ns, to);
	return NULL;
}

/* Sent stanza @i with its id (the IQ tracker's) replaced by "ID". */
static char *
sent_xml(Fixture *f, guint i)
{
	g_autoptr(xmlnode) node = NULL;

	g_assert_cmpuint(i, <, f->sent->len);
	node = pxm_test_parse(f->sent->pdata[i]);
	g_assert_nonnull(xmlnode_get_attrib(node, "id"));
	xmlnode_set_attrib(node, "id", "ID");
	return xmlnode_to_str(node, NULL);
}

static void
reply(Fixture *f, const char *xml)
{
	g_autoptr(xmlnode) iq = pxm_test_parse(xml);

	g_assert_true(pxm_iq_tracker_handle(f->account->iq, iq));
}

#define UPLOAD_INFO(max)                                                       \
	"<query xmlns='http://jabber.org/protocol/disco#info'>"                \
	"<identity category='store' type='file' name='HTTP File Upload'/>"     \
	"<feature var='urn:xmpp:http:upload:0'/>"                              \
	"<x type='result' xmlns='jabber:x:data'>"                              \
	"<field var='FORM_TYPE' type='hidden'>"                                \
	"<value>urn:xmpp:http:upload:0</value></field>"                        \
	"<field var='max-file-size'><value>" max "</value></field>"            \
	"</x></query>"

/* Runs discovery to the end with the XEP's examples 2 and 4. */
static void
discover(Fixture *f, const char *upload_info)
{
	g_autofree char *items_id = sent_id(f, "example.org",
					    PXM_NS_DISCO_ITEMS);
	g_autofree char *domain_id = sent_id(f, "example.org",
					     PXM_NS_DISCO_INFO);
	g_autofree char *xml = NULL;
	g_autofree char *info_id = NULL;

	xml = g_strdup_printf(
		"<iq from='example.org' id='%s' to='" OWN "' type='result'>"
		"<query xmlns='http://jabber.org/protocol/disco#items'>"
		"<item jid='upload.example.org' name='HTTP File Upload'/>"
		"<item jid='conference.example.org' name='Chatroom Service'/>"
		"<item jid='bob@example.org' name='not a service'/>"
		"</query></iq>",
		items_id);
	reply(f, xml);
	g_clear_pointer(&xml, g_free);
	xml = g_strdup_printf(
		"<iq from='example.org' id='%s' type='result'><query "
		"xmlns='http://jabber.org/protocol/disco#info'><feature "
		"var='http://jabber.org/protocol/disco#info'/></query></iq>",
		domain_id);
	reply(f, xml);
	g_clear_pointer(&xml, g_free);
	info_id = sent_id(f, "upload.example.org", PXM_NS_DISCO_INFO);
	xml = g_strdup_printf("<iq from='upload.example.org' id='%s' "
			      "type='result'>%s</iq>",
			      info_id, upload_info);
	reply(f, xml);
}

static void
test_discovery_xml(Fixture *f, gconstpointer data)
{
	g_autofree char *items = NULL;
	g_autofree char *info = NULL;

	g_assert_cmpuint(f->sent->len, ==, 2);
	items = sent_xml(f, 0);
	info = sent_xml(f, 1);
	g_assert_cmpstr(
		items, ==,
		"<iq type='get' to='example.org' id='ID'><query "
		"xmlns='http://jabber.org/protocol/disco#items'/></iq>");
	g_assert_cmpstr(info, ==,
			"<iq type='get' to='example.org' id='ID'><query "
			"xmlns='http://jabber.org/protocol/disco#info'/></iq>");
}

static void
test_discovery_found(Fixture *f, gconstpointer data)
{
	guint64 max = 0;
	gboolean searching = TRUE;
	g_autofree char *info = NULL;

	discover(f, UPLOAD_INFO("5242880"));
	/* Items with a user part are not services: not asked. */
	for (guint i = 0; i < f->sent->len; i++)
		g_assert_null(strstr(f->sent->pdata[i], "to='bob@"));
	info = sent_xml(f, 2);
	g_assert_cmpstr(info, ==,
			"<iq type='get' to='upload.example.org' id='ID'><query "
			"xmlns='http://jabber.org/protocol/disco#info'/></iq>");
	g_assert_cmpstr(pxm_upload_state_service(state(f), &max, &searching),
			==, "upload.example.org");
	g_assert_cmpuint(max, ==, 5242880);
	/* conference.example.org is still being asked. */
	g_assert_true(searching);
}

/* Section 3: max-file-size counts only in the upload form. */
static void
test_discovery_other_form(Fixture *f, gconstpointer data)
{
	guint64 max = 1;

	discover(f, "<query xmlns='http://jabber.org/protocol/disco#info'>"
		    "<feature var='urn:xmpp:http:upload:0'/>"
		    "<x type='result' xmlns='jabber:x:data'>"
		    "<field var='FORM_TYPE'><value>urn:example:other</value>"
		    "</field><field var='max-file-size'><value>10</value>"
		    "</field></x></query>");
	g_assert_cmpstr(pxm_upload_state_service(state(f), &max, NULL), ==,
			"upload.example.org");
	g_assert_cmpuint(max, ==, 0);
}

static void
test_discovery_hostile_max(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = { "-5", "12abc", "",
					   "99999999999999999999999" };

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *xml = g_strdup_printf(UPLOAD_INFO("%s"),
						       bad[i]);
		g_autoptr(xmlnode) query = pxm_test_parse(xml);
		guint64 max = 1;

		g_assert_true(pxm_upload_service_parse(query, &max));
		g_assert_cmpuint(max, ==, 0);
	}
}

static void
test_discovery_none(Fixture *f, gconstpointer data)
{
	gboolean searching = TRUE;

	discover(f, "<query xmlns='http://jabber.org/protocol/disco#info'>"
		    "<feature var='urn:example'/></query>");
	/* conference.example.org answers with an error. */
	{
		g_autofree char *id = sent_id(f, "conference.example.org",
					      PXM_NS_DISCO_INFO);
		g_autofree char *xml = g_strdup_printf(
			"<iq from='conference.example.org' id='%s' "
			"type='error'><error "
			"type='cancel'><service-unavailable "
			"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
			"</iq>",
			id);

		reply(f, xml);
	}
	g_assert_null(pxm_upload_state_service(state(f), NULL, &searching));
	g_assert_false(searching);
}

/* --- Slots ------------------------------------------------------------ */

static void
test_slot_request_xml(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) iq = pxm_upload_slot_request_new(
		"upload.montague.tld", "très cool.jpg", 23456, "image/jpeg");
	g_autofree char *xml = xmlnode_to_str(iq, NULL);

	g_assert_cmpstr(xml, ==,
			"<iq type='get' to='upload.montague.tld'><request "
			"xmlns='urn:xmpp:http:upload:0' filename='très "
			"cool.jpg' size='23456' content-type='image/jpeg'/>"
			"</iq>");
}

#define SLOT(put_headers)                                                      \
	"<iq from='upload.montague.tld' id='step_03' type='result'>"           \
	"<slot xmlns='urn:xmpp:http:upload:0'>"                                \
	"<put "                                                                \
	"url='https://upload.montague.tld/4a771ac1/"                           \
	"tr%C3%A8s%20cool.jpg'>" put_headers "</put>"                          \
	"<get "                                                                \
	"url='https://download.montague.tld/4a771ac1/tr%C3%A8s%20cool.jpg'/>"  \
	"</slot></iq>"

static void
test_slot_parse(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) iq = pxm_test_parse(SLOT(
		"<header name='Authorization'>Basic Base64String==</header>"
		"<header name='Cookie'>foo=bar; user=romeo</header>"));
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmUploadSlot) slot = pxm_upload_slot_parse(iq, &error);

	g_assert_no_error(error);
	g_assert_cmpstr(slot->put_url, ==,
			"https://upload.montague.tld/4a771ac1/"
			"tr%C3%A8s%20cool.jpg");
	g_assert_cmpstr(slot->get_url, ==,
			"https://download.montague.tld/4a771ac1/"
			"tr%C3%A8s%20cool.jpg");
	g_assert_cmpuint(slot->headers->len, ==, 2);
	g_assert_cmpstr(slot->headers->pdata[0], ==,
			"Authorization: Basic Base64String==");
	g_assert_cmpstr(slot->headers->pdata[1], ==,
			"Cookie: foo=bar; user=romeo");
}

/* Section 5: only Authorization, Cookie and Expires (any case); newlines
 * stripped from names and values; relative order kept. */
static void
test_slot_header_allow_list(Fixture *f, gconstpointer data)
{
	g_autoptr(xmlnode) iq = pxm_test_parse(SLOT(
		"<header name='X-Evil'>1</header>"
		"<header name='Host'>evil.example</header>"
		"<header name='eXpires'>Fri, 01 Jan 2038 00:00:00 GMT</header>"
		"<header name='Cookie'>a=1</header>"
		"<header name='Content-Length'>0</header>"
		"<header name='Coo&#10;kie'>b=2&#13;&#10;X-Injected: yes"
		"</header>"
		"<header name='Cookie'>c=3</header>"
		"<header>no name</header>"));
	g_autoptr(GError) error = NULL;
	g_autoptr(PxmUploadSlot) slot = pxm_upload_slot_parse(iq, &error);

	g_assert_no_error(error);
	g_assert_cmpuint(slot->headers->len, ==, 4);
	g_assert_cmpstr(slot->headers->pdata[0], ==,
			"Expires: Fri, 01 Jan 2038 00:00:00 GMT");
	g_assert_cmpstr(slot->headers->pdata[1], ==, "Cookie: a=1");
	/* One header line, nothing injected. */
	g_assert_cmpstr(slot->headers->pdata[2], ==,
			"Cookie: b=2X-Injected: yes");
	g_assert_cmpstr(slot->headers->pdata[3], ==, "Cookie: c=3");
	for (guint i = 0; i < slot->headers->len; i++)
		g_assert_null(strpbrk(slot->headers->pdata[i], "\r\n"));
}

static void
test_slot_invalid(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		/* Section 5: the host MUST provide TLS. */
		"<slot xmlns='urn:xmpp:http:upload:0'><put url='http://u/x'/>"
		"<get url='https://u/x'/></slot>",
		"<slot xmlns='urn:xmpp:http:upload:0'><put url='https://u/x'/>"
		"<get url='http://u/x'/></slot>",
		"<slot xmlns='urn:xmpp:http:upload:0'><put url='https://u/x'/>"
		"</slot>",
		"<slot xmlns='urn:xmpp:http:upload:0'><get url='https://u/x'/>"
		"</slot>",
		"<slot xmlns='urn:example'><put url='https://u/x'/>"
		"<get url='https://u/x'/></slot>",
		"<slot xmlns='urn:xmpp:http:upload:0'><put "
		"url='file:///etc/x'/>"
		"<get url='https://u/x'/></slot>",
		"<slot xmlns='urn:xmpp:http:upload:0'><put "
		"url='https://u/x y'/><get url='https://u/x'/></slot>",
		"<slot xmlns='urn:xmpp:http:upload:0'><put "
		"url='https://user:pw@u/x'/><get url='https://u/x'/></slot>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autofree char *xml = g_strdup_printf(
			"<iq type='result' id='1'>%s</iq>", bad[i]);
		g_autoptr(xmlnode) iq = pxm_test_parse(xml);
		g_autoptr(GError) error = NULL;
		g_autoptr(PxmUploadSlot) slot = pxm_upload_slot_parse(iq,
								      &error);

		g_assert_null(slot);
		g_assert_error(error, PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_SLOT);
	}
}

typedef struct {
	gboolean called;
	PxmUploadSlot *slot;
	GError *error;
	gboolean destroyed;
} SlotResult;

static void
on_slot(PxmUploadSlot *slot, const GError *error, gpointer data)
{
	SlotResult *r = data;

	r->called = TRUE;
	if (slot != NULL) {
		r->slot = g_new0(PxmUploadSlot, 1);
		r->slot->put_url = g_strdup(slot->put_url);
		r->slot->get_url = g_strdup(slot->get_url);
		r->slot->headers = g_ptr_array_ref(slot->headers);
	}
	if (error != NULL)
		r->error = g_error_copy(error);
}

static void
on_slot_destroy(gpointer data)
{
	((SlotResult *)data)->destroyed = TRUE;
}

static void
test_slot_roundtrip(Fixture *f, gconstpointer data)
{
	SlotResult r = { 0 };
	g_autofree char *id = NULL;
	g_autofree char *xml = NULL;
	g_autofree char *sent = NULL;

	discover(f, UPLOAD_INFO("5242880"));
	pxm_upload_request_slot(f->account, state(f), "hi.jpg", 23425,
				"image/jpeg", on_slot, &r, on_slot_destroy);
	sent = sent_xml(f, f->sent->len - 1);
	g_assert_cmpstr(sent, ==,
			"<iq type='get' to='upload.example.org' id='ID'>"
			"<request xmlns='urn:xmpp:http:upload:0' "
			"filename='hi.jpg' size='23425' "
			"content-type='image/jpeg'/></iq>");
	id = sent_id(f, "upload.example.org", PXM_NS_HTTP_UPLOAD);
	xml = g_strdup_printf(
		"<iq from='upload.example.org' id='%s' type='result'>"
		"<slot xmlns='urn:xmpp:http:upload:0'><put "
		"url='https://h.example.org/p/hi.jpg'/><get "
		"url='https://h.example.org/g/hi.jpg'/></slot></iq>",
		id);
	reply(f, xml);
	g_assert_true(r.called);
	g_assert_true(r.destroyed);
	g_assert_no_error(r.error);
	g_assert_cmpstr(r.slot->get_url, ==, "https://h.example.org/g/hi.jpg");
	pxm_upload_slot_free(r.slot);
}

/* The service's text reaches the user. */
static void
test_slot_refused(Fixture *f, gconstpointer data)
{
	SlotResult r = { 0 };
	g_autofree char *id = NULL;
	g_autofree char *xml = NULL;

	discover(f, UPLOAD_INFO("5242880"));
	pxm_upload_request_slot(f->account, state(f), "big.bin", 5000, NULL,
				on_slot, &r, on_slot_destroy);
	id = sent_id(f, "upload.example.org", PXM_NS_HTTP_UPLOAD);
	xml = g_strdup_printf(
		"<iq from='upload.example.org' id='%s' type='error'>"
		"<error type='modify'><not-acceptable "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/><text "
		"xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>Quota "
		"exceeded</text></error></iq>",
		id);
	reply(f, xml);
	g_assert_true(r.called);
	g_assert_null(r.slot);
	g_assert_error(r.error, PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_SLOT);
	g_assert_nonnull(strstr(r.error->message, "Quota exceeded"));
	g_error_free(r.error);
}

/* A slot from someone else than the service is a spoof (the host's IQ
 * tracker matches the sender). */
static void
test_slot_spoofed(Fixture *f, gconstpointer data)
{
	SlotResult r = { 0 };
	g_autofree char *id = NULL;
	g_autofree char *xml = NULL;
	g_autoptr(xmlnode) iq = NULL;

	discover(f, UPLOAD_INFO("5242880"));
	pxm_upload_request_slot(f->account, state(f), "a.txt", 5, NULL, on_slot,
				&r, on_slot_destroy);
	id = sent_id(f, "upload.example.org", PXM_NS_HTTP_UPLOAD);
	xml = g_strdup_printf(
		"<iq from='mallory@evil.example' id='%s' type='result'>"
		"<slot xmlns='urn:xmpp:http:upload:0'><put "
		"url='https://evil.example/p'/><get "
		"url='https://evil.example/g'/></slot></iq>",
		id);
	iq = pxm_test_parse(xml);
	pxm_iq_tracker_handle(f->account->iq, iq);
	g_assert_false(r.called);
	/* The service's own answer still counts. */
	g_free(xml);
	xml = g_strdup_printf(
		"<iq from='upload.example.org' id='%s' type='result'>"
		"<slot xmlns='urn:xmpp:http:upload:0'><put "
		"url='https://h.example.org/p'/><get "
		"url='https://h.example.org/g'/></slot></iq>",
		id);
	reply(f, xml);
	g_assert_true(r.called);
	g_assert_cmpstr(r.slot->get_url, ==, "https://h.example.org/g");
	pxm_upload_slot_free(r.slot);
}

/* --- Sizes ------------------------------------------------------------ */

static void
test_size_check(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;

	g_assert_true(pxm_upload_check_size(5242880, 5242880, NULL));
	g_assert_true(pxm_upload_check_size(G_MAXUINT32 + 1ull, 0, NULL));
	g_assert_false(pxm_upload_check_size(5242881, 5242880, &error));
	g_assert_error(error, PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_TOO_LARGE);
	/* Human-readable sizes, the limit included. */
	g_assert_nonnull(strstr(error->message, "5.0\xc2\xa0MiB"));
	g_clear_error(&error);
	g_assert_false(
		pxm_upload_check_size(20 * 1024 * 1024, 16777216, &error));
	g_assert_nonnull(strstr(error->message, "20.0\xc2\xa0MiB"));
	g_assert_nonnull(strstr(error->message, "16.0\xc2\xa0MiB"));
	g_clear_error(&error);
	g_assert_false(pxm_upload_check_size(0, 100, &error));
}

/* --- aesgcm ----------------------------------------------------------- */

static void
test_aesgcm_url(Fixture *f, gconstpointer data)
{
	guint8 key[32], iv[16], key2[32], iv2[16];
	gsize iv_len = 0;
	g_autofree char *url = NULL;
	g_autofree char *https = NULL;

	for (guint i = 0; i < 32; i++)
		key[i] = (guint8)(0xa0 + i);
	for (guint i = 0; i < 12; i++)
		iv[i] = (guint8)i;
	url = pxm_aesgcm_url_build("https://up.example.org:5281/x/a%20b.jpg",
				   iv, 12, key);
	g_assert_cmpstr(url, ==,
			"aesgcm://up.example.org:5281/x/a%20b.jpg#"
			"000102030405060708090a0b"
			"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf"
			"b0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
	g_assert_cmpuint(strlen(strchr(url, '#') + 1), ==, 24 + 64);
	g_assert_true(pxm_aesgcm_url_parse(url, &https, iv2, &iv_len, key2));
	g_assert_cmpstr(https, ==, "https://up.example.org:5281/x/a%20b.jpg");
	g_assert_cmpuint(iv_len, ==, 12);
	g_assert_cmpmem(iv2, 12, iv, 12);
	g_assert_cmpmem(key2, 32, key, 32);
}

/* Other clients used 16-byte IVs; upper-case hex too. */
static void
test_aesgcm_url_iv16(Fixture *f, gconstpointer data)
{
	guint8 key[32], iv[16];
	gsize iv_len = 0;
	g_autofree char *https = NULL;

	g_assert_true(pxm_aesgcm_url_parse("aesgcm://h.example/f.png#"
					   "00112233445566778899AABBCCDDEEFF"
					   "000102030405060708090a0b0c0d0e0f101"
					   "112131415161718191a1b1c1d1e1f",
					   &https, iv, &iv_len, key));
	g_assert_cmpuint(iv_len, ==, 16);
	g_assert_cmpuint(iv[15], ==, 0xff);
	g_assert_cmpuint(key[31], ==, 0x1f);
	g_assert_cmpstr(https, ==, "https://h.example/f.png");
}

static void
test_aesgcm_url_hostile(Fixture *f, gconstpointer data)
{
	static const char *const bad[] = {
		/* wrong lengths */
		"aesgcm://h/f#00",
		"aesgcm://h/f#000102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdb"
		"e",
		"aesgcm://h/f#000102030405060708090a0b0c"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		/* not hex */
		"aesgcm://h/f#zz0102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		/* no fragment, no host */
		"aesgcm://h/f",
		"aesgcm:///f#000102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		/* other schemes */
		"https://h/f#000102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		"aesgcmx://h/f#000102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		/* credentials, white space */
		"aesgcm://u@h/f#000102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		"aesgcm://h/f g#000102030405060708090a0b"
		"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbe"
		"bf",
		"",
	};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		guint8 key[32], iv[16];
		gsize iv_len = 0;
		char *https = NULL;

		g_assert_false(
			pxm_aesgcm_url_parse(bad[i], &https, iv, &iv_len, key));
		g_assert_null(https);
	}
}

static void
hex(const char *text, guint8 *out, gsize len)
{
	g_assert_cmpuint(strlen(text), ==, 2 * len);
	for (gsize i = 0; i < len; i++)
		out[i] = (guint8)(g_ascii_xdigit_value(text[2 * i]) << 4 |
				  g_ascii_xdigit_value(text[2 * i + 1]));
}

/* The GCM specification's test cases 13, 14 and 15 (AES-256, 96-bit IV,
 * no associated data), fed in uneven pieces as the stream does. */
static void
test_aesgcm_known_answers(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *key, *iv, *plain, *cipher, *tag;
	} cases[] = {
		{ "000000000000000000000000000000000000000000000000000000000000"
		  "0000",
		  "000000000000000000000000", "", "",
		  "530f8afbc74536b9a963b4f1c4cb738b" },
		{ "000000000000000000000000000000000000000000000000000000000000"
		  "0000",
		  "000000000000000000000000",
		  "00000000000000000000000000000000",
		  "cea7403d4d606b6e074ec5d3baf39d18",
		  "d0d1c8a799996bf0265b98b5d48ab919" },
		{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f946730"
		  "8308",
		  "cafebabefacedbaddecaf888",
		  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a31"
		  "8a72"
		  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aaf"
		  "d255",
		  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555"
		  "d1aa"
		  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f6628980"
		  "15ad",
		  "b094dac5d93471bdec1a502270e3cc6c" },
	};

	for (guint c = 0; c < G_N_ELEMENTS(cases); c++) {
		guint8 key[32], iv[12], tag[16], expected_tag[16], got[16];
		gsize len = strlen(cases[c].plain) / 2;
		g_autofree guint8 *buf = g_malloc(len + 1);
		g_autofree guint8 *cipher = g_malloc(len + 1);
		g_autoptr(PxmAesgcm) enc = NULL;
		g_autoptr(PxmAesgcm) dec = NULL;
		g_autoptr(PxmAesgcm) bad = NULL;
		gsize off = 0, step = 1;

		hex(cases[c].key, key, 32);
		hex(cases[c].iv, iv, 12);
		hex(cases[c].plain, buf, len);
		hex(cases[c].cipher, cipher, len);
		hex(cases[c].tag, expected_tag, 16);
		enc = pxm_aesgcm_new(key, iv, 12, TRUE, NULL);
		g_assert_nonnull(enc);
		/* Pieces of 1, 2, 3... bytes: GCM is a stream. */
		while (off < len) {
			gsize n = MIN(step, len - off);

			g_assert_true(pxm_aesgcm_update(enc, buf + off, n));
			off += n;
			step++;
		}
		pxm_aesgcm_tag(enc, tag);
		g_assert_cmpmem(buf, len, cipher, len);
		g_assert_cmpmem(tag, 16, expected_tag, 16);

		dec = pxm_aesgcm_new(key, iv, 12, FALSE, NULL);
		g_assert_true(pxm_aesgcm_update(dec, buf, len));
		hex(cases[c].plain, cipher, len);
		g_assert_cmpmem(buf, len, cipher, len);
		g_assert_true(pxm_aesgcm_check_tag(dec, expected_tag));

		/* A flipped tag bit fails. */
		bad = pxm_aesgcm_new(key, iv, 12, FALSE, NULL);
		hex(cases[c].cipher, buf, len);
		g_assert_true(pxm_aesgcm_update(bad, buf, len));
		memcpy(got, expected_tag, 16);
		got[0] ^= 1;
		g_assert_false(pxm_aesgcm_check_tag(bad, got));
	}
}

/* Altered ciphertext fails the tag. */
static void
test_aesgcm_tampered(Fixture *f, gconstpointer data)
{
	guint8 key[32] = { 1 }, iv[12] = { 2 }, tag[16];
	guint8 buf[64] = "attack at dawn, attack at dawn, attack at dawn!";
	g_autoptr(PxmAesgcm) enc = pxm_aesgcm_new(key, iv, 12, TRUE, NULL);
	g_autoptr(PxmAesgcm) dec = pxm_aesgcm_new(key, iv, 12, FALSE, NULL);

	pxm_aesgcm_update(enc, buf, sizeof(buf));
	pxm_aesgcm_tag(enc, tag);
	buf[10] ^= 0x80;
	pxm_aesgcm_update(dec, buf, sizeof(buf));
	g_assert_false(pxm_aesgcm_check_tag(dec, tag));
}

/* --- File names ------------------------------------------------------- */

static void
test_filename(Fixture *f, gconstpointer data)
{
	static const struct {
		const char *url, *name;
	} cases[] = {
		{ "https://h/a/b/photo.jpg", "photo.jpg" },
		{ "https://h/a/tr%C3%A8s%20cool.jpg?x=1#frag",
		  "très cool.jpg" },
		{ "https://h/a/..%2F..%2Fetc%2Fpasswd", "etcpasswd" },
		{ "https://h/a/%2E%2E", "download" },
		{ "https://h/a/..", "download" },
		{ "https://h/", "download" },
		{ "https://h", "download" },
		{ "https://h/a/.bashrc", "bashrc" },
		{ "https://h/a/..%5C..%5Cwin.ini", "win.ini" },
		{ "https://h/a/a%0Ab%00c%1B.txt", "abc.txt" },
		/* U+202E RIGHT-TO-LEFT OVERRIDE: "exe.txt" that reads
		 * "txt.exe" */
		{ "https://h/a/%E2%80%AEtxt.exe", "txt.exe" },
		{ "https://h/a/%FF%FE.bin", "\xef\xbf\xbd\xef\xbf\xbd.bin" },
	};

	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree char *name =
			pxm_upload_filename_from_url(cases[i].url);

		g_assert_cmpstr(name, ==, cases[i].name);
	}
}

static void
test_filename_long(Fixture *f, gconstpointer data)
{
	GString *url = g_string_new("https://h/");
	g_autofree char *name = NULL;

	for (guint i = 0; i < 300; i++)
		g_string_append(url, "%C3%A9"); /* é, two bytes */
	g_string_append(url, ".jpeg");
	name = pxm_upload_filename_from_url(url->str);
	g_assert_cmpuint(strlen(name), <=, 200);
	g_assert_true(g_str_has_suffix(name, ".jpeg"));
	g_assert_true(g_utf8_validate(name, -1, NULL));
	g_string_free(url, TRUE);
}

/* --- Links ------------------------------------------------------------ */

static gboolean
link_of(const char *xml, char **url, gsize *iv_len)
{
	g_autoptr(xmlnode) msg = pxm_test_parse(xml);
	guint8 key[32], iv[16];

	return pxm_upload_link_parse(msg, NULL, url, key, iv, iv_len);
}

static void
test_link_parse(Fixture *f, gconstpointer data)
{
	g_autofree char *url = NULL;
	gsize iv_len = 99;

	g_assert_true(link_of(
		"<message from='bob@example.org/x' type='chat'><body>"
		"https://h.example/f.jpg</body><x xmlns='jabber:x:oob'><url>"
		"https://h.example/f.jpg</url></x></message>",
		&url, &iv_len));
	g_assert_cmpstr(url, ==, "https://h.example/f.jpg");
	g_assert_cmpuint(iv_len, ==, 0);
	g_clear_pointer(&url, g_free);

	g_assert_true(
		link_of("<message type='chat'><body>aesgcm://h.example/f.jpg#"
			"000102030405060708090a0b"
			"a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9ba"
			"bbbcbdbebf"
			"</body></message>",
			&url, &iv_len));
	g_assert_cmpstr(url, ==, "https://h.example/f.jpg");
	g_assert_cmpuint(iv_len, ==, 12);
}

static void
test_link_not_files(Fixture *f, gconstpointer data)
{
	static const char *const not_files[] = {
		/* A URL alone is a web page someone shares. */
		"<message><body>https://h.example/f.jpg</body></message>",
		/* The OOB element names another URL. */
		"<message><body>https://h.example/f.jpg</body><x "
		"xmlns='jabber:x:oob'><url>https://evil.example/x</url></x>"
		"</message>",
		/* Text around the URL. */
		"<message><body>look https://h.example/f.jpg</body><x "
		"xmlns='jabber:x:oob'><url>https://h.example/f.jpg</url></x>"
		"</message>",
		/* Other schemes. */
		"<message><body>file:///etc/passwd</body><x "
		"xmlns='jabber:x:oob'><url>file:///etc/passwd</url></x>"
		"</message>",
		"<message><body>ftp://h/f</body><x xmlns='jabber:x:oob'><url>"
		"ftp://h/f</url></x></message>",
		"<message><body>https://user:pw@h/f</body><x "
		"xmlns='jabber:x:oob'><url>https://user:pw@h/f</url></x>"
		"</message>",
		/* OOB in another namespace. */
		"<message><body>https://h/f</body><x xmlns='urn:example'><url>"
		"https://h/f</url></x></message>",
		"<message><body>aesgcm://h/f#00</body></message>",
		"<message/>",
	};

	for (guint i = 0; i < G_N_ELEMENTS(not_files); i++) {
		char *url = NULL;
		gsize iv_len;

		g_assert_false(link_of(not_files[i], &url, &iv_len));
		g_assert_null(url);
	}
}

/* An incoming link is still shown (CONTINUE); without a libpurple account
 * nothing is offered. */
static void
test_link_message_shown(Fixture *f, gconstpointer data)
{
	g_assert_cmpint(
		pxm_test_receive(f,
				 "<message from='bob@example.org/x' "
				 "type='chat' id='1'><body>"
				 "https://h.example/f.jpg</body><x "
				 "xmlns='jabber:x:oob'><url>"
				 "https://h.example/f.jpg</url></x></message>"),
		==, PXM_VERDICT_CONTINUE);
}

/* --- Annotate --------------------------------------------------------- */

static void
test_annotate_oob(Fixture *f, gconstpointer data)
{
	g_autofree char *first = NULL;
	g_autofree char *again = NULL;
	g_autofree char *other = NULL;
	g_autoptr(xmlnode) msg = NULL;

	pxm_upload_state_remember_link(state(f), "https://h.example/g/a.jpg");
	first = pxm_test_send_out(f,
				  "<message type='chat' "
				  "to='bob@example.org'><body>"
				  "https://h.example/g/a.jpg</body></message>");
	g_assert_cmpstr(first, ==,
			"<message type='chat' to='bob@example.org'><body>"
			"https://h.example/g/a.jpg</body><x "
			"xmlns='jabber:x:oob'><url>https://h.example/g/a.jpg"
			"</url></x></message>");
	/* The prpl re-sends unacknowledged stanzas: still one element. */
	again = pxm_test_send_out(f, first);
	g_assert_cmpstr(again, ==, first);
	/* Other messages are left alone. */
	other = pxm_test_send_out(f,
				  "<message type='chat' "
				  "to='bob@example.org'><body>"
				  "https://h.example/g/b.jpg</body></message>");
	g_assert_null(strstr(other, "jabber:x:oob"));
	msg = pxm_test_parse(first);
	g_assert_cmpuint(pxm_test_count_children(msg, "x", PXM_NS_OOB), ==, 1);
}

/* --- Sending policy --------------------------------------------------- */

static void
test_file_wanted(Fixture *f, gconstpointer data)
{
	const PxmExtension *ext = pxm_registry_lookup(pxm_host_get_registry(),
						      EXT);
	const PxmFileSender *fs = ext->klass->file_sender;

	g_assert_nonnull(fs);
	/* Still looking: the default mode takes contacts without a direct
	 * transfer. */
	g_assert_true(
		fs->wanted(f->account, state(f), "bob@example.org", FALSE));
	g_assert_false(
		fs->wanted(f->account, state(f), "bob@example.org", TRUE));
	discover(f, UPLOAD_INFO("100"));
	g_assert_true(
		fs->wanted(f->account, state(f), "bob@example.org", FALSE));
}

/* --- Early sends ----------------------------------------------------- */

typedef struct {
	guint calls;
	gboolean destroyed;
	char *service; /* what the state said when called */
	GError *error;
} Ready;

static void
on_ready(PxmUploadState *st, const GError *error, gpointer data)
{
	Ready *r = data;

	r->calls++;
	g_free(r->service);
	r->service = g_strdup(pxm_upload_state_service(st, NULL, NULL));
	if (error != NULL)
		r->error = g_error_copy(error);
}

static void
on_ready_destroy(gpointer data)
{
	((Ready *)data)->destroyed = TRUE;
}

static void
ready_clear(Ready *r)
{
	g_free(r->service);
	g_clear_error(&r->error);
}

/* A file sent before discovery ended waits for the service. */
static void
test_wait_for_service(Fixture *f, gconstpointer data)
{
	Ready r = { 0 };

	pxm_upload_when_ready(state(f), on_ready, &r, on_ready_destroy);
	g_assert_cmpuint(r.calls, ==, 0);
	g_assert_false(r.destroyed);
	discover(f, UPLOAD_INFO("5242880"));
	/* Called as soon as the service answered (the room service has not
	 * yet). */
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_true(r.destroyed);
	g_assert_no_error(r.error);
	g_assert_cmpstr(r.service, ==, "upload.example.org");
	ready_clear(&r);
	/* Known now: at once. */
	memset(&r, 0, sizeof(r));
	pxm_upload_when_ready(state(f), on_ready, &r, on_ready_destroy);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_true(r.destroyed);
	g_assert_cmpstr(r.service, ==, "upload.example.org");
	ready_clear(&r);
}

/* Discovery ends with no service: the waiter learns it (no error; the
 * transfer then says the server offers no upload). */
static void
test_wait_no_service(Fixture *f, gconstpointer data)
{
	Ready r = { 0 };
	g_autofree char *id = NULL;
	g_autofree char *xml = NULL;

	pxm_upload_when_ready(state(f), on_ready, &r, on_ready_destroy);
	discover(f, "<query xmlns='http://jabber.org/protocol/disco#info'>"
		    "<feature var='urn:example'/></query>");
	g_assert_cmpuint(r.calls, ==, 0);
	id = sent_id(f, "conference.example.org", PXM_NS_DISCO_INFO);
	xml = g_strdup_printf("<iq from='conference.example.org' id='%s' "
			      "type='error'><error type='cancel'>"
			      "<service-unavailable xmlns='urn:ietf:params:"
			      "xml:ns:xmpp-stanzas'/></error></iq>",
			      id);
	reply(f, xml);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_no_error(r.error);
	g_assert_null(r.service);
	ready_clear(&r);
}

/* Bounded: discovery taking too long fails the wait with a clear error. */
static void
test_wait_timeout(Fixture *f, gconstpointer data)
{
	Ready r = { 0 };
	gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

	g_assert_cmpuint(PXM_UPLOAD_WAIT_TIMEOUT_MS, ==, 30000);
	pxm_upload_state_set_wait_timeout(state(f), 20);
	pxm_upload_when_ready(state(f), on_ready, &r, on_ready_destroy);
	while (r.calls == 0 && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_true(r.destroyed);
	g_assert_error(r.error, PXM_UPLOAD_ERROR, PXM_UPLOAD_ERROR_NO_SERVICE);
	g_assert_nonnull(strstr(r.error->message, "in time"));
	ready_clear(&r);
	memset(&r, 0, sizeof(r));
	/* The late answer changes nothing for it. */
	discover(f, UPLOAD_INFO("100"));
	g_assert_cmpuint(r.calls, ==, 0);
}

/* The account goes offline while a file waits: told so, once. */
static void
test_wait_stopped(Fixture *f, gconstpointer data)
{
	Ready r = { 0 };

	pxm_upload_when_ready(state(f), on_ready, &r, on_ready_destroy);
	pxm_account_set_active(f->account, pxm_test_extension_index(EXT),
			       FALSE);
	g_assert_cmpuint(r.calls, ==, 1);
	g_assert_true(r.destroyed);
	g_assert_error(r.error, PXM_UPLOAD_ERROR,
		       PXM_UPLOAD_ERROR_DISCONNECTED);
	ready_clear(&r);
}

/* --- HTTP policies ---------------------------------------------------- */

static void
test_redirects(Fixture *f, gconstpointer data)
{
	g_assert_true(pxm_http_redirect_allowed("https://a.example/x",
						"https://b.example/y"));
	g_assert_true(pxm_http_redirect_allowed("http://a.example/x",
						"http://a.example:80/y"));
	g_assert_false(pxm_http_redirect_allowed("https://a.example/x",
						 "http://a.example/x"));
	g_assert_false(pxm_http_redirect_allowed("http://a.example/x",
						 "http://127.0.0.1/admin"));
	g_assert_false(pxm_http_redirect_allowed("https://a.example/x",
						 "file:///etc/passwd"));
	g_assert_false(pxm_http_redirect_allowed("https://a.example/x",
						 "ftp://a.example/x"));
	g_assert_false(pxm_http_redirect_allowed("https://a.example/x", NULL));
}

static void
test_proxy_url(Fixture *f, gconstpointer data)
{
	PurpleProxyInfo *info = purple_proxy_info_new();
	char *url;

	url = pxm_http_proxy_url(NULL);
	g_assert_cmpstr(url, ==, "");
	g_free(url);
	purple_proxy_info_set_type(info, PURPLE_PROXY_NONE);
	url = pxm_http_proxy_url(info);
	g_assert_cmpstr(url, ==, "");
	g_free(url);
	purple_proxy_info_set_host(info, "127.0.0.1");
	purple_proxy_info_set_port(info, 9050);
	purple_proxy_info_set_type(info, PURPLE_PROXY_TOR);
	url = pxm_http_proxy_url(info);
	/* Remote name resolution: no DNS leak for Tor users. */
	g_assert_cmpstr(url, ==, "socks5h://127.0.0.1:9050");
	g_free(url);
	purple_proxy_info_set_type(info, PURPLE_PROXY_SOCKS5);
	purple_proxy_info_set_host(info, "::1");
	purple_proxy_info_set_port(info, 1081);
	url = pxm_http_proxy_url(info);
	g_assert_cmpstr(url, ==, "socks5h://[::1]:1081");
	g_free(url);
	purple_proxy_info_set_type(info, PURPLE_PROXY_HTTP);
	purple_proxy_info_set_host(info, "proxy.example");
	purple_proxy_info_set_port(info, 3128);
	url = pxm_http_proxy_url(info);
	g_assert_cmpstr(url, ==, "http://proxy.example:3128");
	g_free(url);
	purple_proxy_info_destroy(info);
}

int
main(int argc, char **argv)
{
	pxm_test_init(&argc, &argv);
	gcry_check_version(NULL);
#define ADD(path, func, on)                                                    \
	g_test_add("/xep0363-upload/" path, Fixture, GINT_TO_POINTER(on),      \
		   setup, func, pxm_test_account_teardown)
	ADD("discovery/exact-xml", test_discovery_xml, TRUE);
	ADD("discovery/found", test_discovery_found, TRUE);
	ADD("discovery/other-form", test_discovery_other_form, TRUE);
	ADD("discovery/hostile-max", test_discovery_hostile_max, TRUE);
	ADD("discovery/none", test_discovery_none, TRUE);
	ADD("slot/request-xml", test_slot_request_xml, TRUE);
	ADD("slot/parse", test_slot_parse, TRUE);
	ADD("slot/header-allow-list", test_slot_header_allow_list, TRUE);
	ADD("slot/invalid", test_slot_invalid, TRUE);
	ADD("slot/roundtrip", test_slot_roundtrip, TRUE);
	ADD("slot/refused", test_slot_refused, TRUE);
	ADD("slot/spoofed", test_slot_spoofed, TRUE);
	ADD("size/check", test_size_check, TRUE);
	ADD("aesgcm/url", test_aesgcm_url, TRUE);
	ADD("aesgcm/url-iv16", test_aesgcm_url_iv16, TRUE);
	ADD("aesgcm/url-hostile", test_aesgcm_url_hostile, TRUE);
	ADD("aesgcm/known-answers", test_aesgcm_known_answers, TRUE);
	ADD("aesgcm/tampered", test_aesgcm_tampered, TRUE);
	ADD("filename/sanitised", test_filename, TRUE);
	ADD("filename/long", test_filename_long, TRUE);
	ADD("link/parse", test_link_parse, TRUE);
	ADD("link/not-files", test_link_not_files, TRUE);
	ADD("link/message-shown", test_link_message_shown, TRUE);
	ADD("annotate/oob", test_annotate_oob, TRUE);
	ADD("send/wanted", test_file_wanted, TRUE);
	ADD("wait/for-service", test_wait_for_service, TRUE);
	ADD("wait/no-service", test_wait_no_service, TRUE);
	ADD("wait/timeout", test_wait_timeout, TRUE);
	ADD("wait/stopped", test_wait_stopped, TRUE);
	ADD("http/redirects", test_redirects, TRUE);
	ADD("http/proxy-url", test_proxy_url, TRUE);
	return g_test_run();
}

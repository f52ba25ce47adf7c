// SPDX-License-Identifier: GPL-3.0-or-later
/* XML namespaces, one group per XEP. */
#pragma once

/* RFC 6120: XMPP Core */
#define PXM_NS_CLIENT "jabber:client"
#define PXM_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* XEP-0004: Data Forms */
#define PXM_NS_DATA "jabber:x:data"

/* XEP-0030: Service Discovery */
#define PXM_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define PXM_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

/* XEP-0045: Multi-User Chat */
#define PXM_NS_MUC "http://jabber.org/protocol/muc"
#define PXM_NS_MUC_USER "http://jabber.org/protocol/muc#user"
#define PXM_NS_MUC_ADMIN "http://jabber.org/protocol/muc#admin"

/* XEP-0048: Bookmarks */
#define PXM_NS_BOOKMARKS_LEGACY "storage:bookmarks"

/* XEP-0049: Private XML Storage */
#define PXM_NS_PRIVATE "jabber:iq:private"

/* XEP-0059: Result Set Management */
#define PXM_NS_RSM "http://jabber.org/protocol/rsm"

/* XEP-0060: Publish-Subscribe */
#define PXM_NS_PUBSUB_EVENT "http://jabber.org/protocol/pubsub#event"
#define PXM_NS_PUBSUB "http://jabber.org/protocol/pubsub"
#define PXM_NS_PUBSUB_OWNER "http://jabber.org/protocol/pubsub#owner"
#define PXM_NS_PUBSUB_PUBLISH_OPTIONS                                          \
	"http://jabber.org/protocol/pubsub#publish-options"
#define PXM_NS_PUBSUB_NODE_CONFIG                                              \
	"http://jabber.org/protocol/pubsub#node_config"

/* XEP-0071: XHTML-IM */
#define PXM_NS_XHTML_IM "http://jabber.org/protocol/xhtml-im"

/* XEP-0066: Out of Band Data */
#define PXM_NS_OOB "jabber:x:oob"

/* XEP-0091: Legacy Delayed Delivery */
#define PXM_NS_DELAY_LEGACY "jabber:x:delay"

/* XEP-0115: Entity Capabilities */
#define PXM_NS_CAPS "http://jabber.org/protocol/caps"

/* XEP-0184: Message Delivery Receipts */
#define PXM_NS_RECEIPTS "urn:xmpp:receipts"

/* XEP-0199: XMPP Ping */
#define PXM_NS_PING "urn:xmpp:ping"

/* XEP-0203: Delayed Delivery */
#define PXM_NS_DELAY "urn:xmpp:delay"

/* XEP-0224: Attention */
#define PXM_NS_ATTENTION "urn:xmpp:attention:0"

/* XEP-0249: Direct MUC Invitations */
#define PXM_NS_CONFERENCE "jabber:x:conference"

/* XEP-0280: Message Carbons */
#define PXM_NS_CARBONS "urn:xmpp:carbons:2"

/* XEP-0297: Stanza Forwarding */
#define PXM_NS_FORWARD "urn:xmpp:forward:0"

/* XEP-0308: Last Message Correction */
#define PXM_NS_CORRECT "urn:xmpp:message-correct:0"

/* XEP-0313: Message Archive Management */
#define PXM_NS_MAM "urn:xmpp:mam:2"

/* XEP-0333: Displayed Markers */
#define PXM_NS_CHAT_MARKERS "urn:xmpp:chat-markers:0"

/* XEP-0334: Message Processing Hints */
#define PXM_NS_HINTS "urn:xmpp:hints"

/* XEP-0352: Client State Indication */
#define PXM_NS_CSI "urn:xmpp:csi:0"

/* XEP-0359: Unique and Stable Stanza IDs */
#define PXM_NS_SID "urn:xmpp:sid:0"

/* XEP-0363: HTTP File Upload */
#define PXM_NS_HTTP_UPLOAD "urn:xmpp:http:upload:0"

/* XEP-0380: Explicit Message Encryption */
#define PXM_NS_EME "urn:xmpp:eme:0"

/* XEP-0384: OMEMO Encryption (OMEMO 2, and the legacy 0.3.0 namespace) */
#define PXM_NS_OMEMO "urn:xmpp:omemo:2"
#define PXM_NS_OMEMO_DEVICES "urn:xmpp:omemo:2:devices"
#define PXM_NS_OMEMO_BUNDLES "urn:xmpp:omemo:2:bundles"
#define PXM_NS_OMEMO_LEGACY "eu.siacs.conversations.axolotl"
#define PXM_NS_OMEMO_LEGACY_DEVICELIST                                         \
	"eu.siacs.conversations.axolotl.devicelist"
#define PXM_NS_OMEMO_LEGACY_BUNDLES "eu.siacs.conversations.axolotl.bundles"

/* XEP-0393: Message Styling */
#define PXM_NS_STYLING "urn:xmpp:styling:0"

/* XEP-0402: PEP Native Bookmarks */
#define PXM_NS_BOOKMARKS "urn:xmpp:bookmarks:1"
#define PXM_NS_BOOKMARKS_COMPAT "urn:xmpp:bookmarks:1#compat"

/* XEP-0420: Stanza Content Encryption */
#define PXM_NS_SCE "urn:xmpp:sce:1"

/* XEP-0424: Message Retraction */
#define PXM_NS_RETRACT "urn:xmpp:message-retract:1"

/* XEP-0428: Fallback Indication */
#define PXM_NS_FALLBACK "urn:xmpp:fallback:0"

/* XEP-0444: Message Reactions */
#define PXM_NS_REACTIONS "urn:xmpp:reactions:0"

/* XEP-0461: Message Replies */
#define PXM_NS_REPLY "urn:xmpp:reply:0"

// SPDX-License-Identifier: GPL-3.0-or-later
/* XML namespaces, one group per XEP. */
#pragma once

/* RFC 6120: XMPP Core */
#define PXM_NS_CLIENT "jabber:client"
#define PXM_NS_STANZAS "urn:ietf:params:xml:ns:xmpp-stanzas"

/* XEP-0030: Service Discovery */
#define PXM_NS_DISCO_INFO "http://jabber.org/protocol/disco#info"
#define PXM_NS_DISCO_ITEMS "http://jabber.org/protocol/disco#items"

/* XEP-0203: Delayed Delivery */
#define PXM_NS_DELAY "urn:xmpp:delay"

/* XEP-0297: Stanza Forwarding */
#define PXM_NS_FORWARD "urn:xmpp:forward:0"

/* XEP-0359: Unique and Stable Stanza IDs */
#define PXM_NS_SID "urn:xmpp:sid:0"

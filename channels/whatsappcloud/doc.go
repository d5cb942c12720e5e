// Package whatsappcloud is the WhatsApp channel over Meta's official
// WhatsApp Business Platform (the Cloud API): a signed webhook at
// /webhooks/whatsapp for inbound messages and delivery statuses, and Graph
// API calls for sending text, documents and the business's message
// template. It implements the same bot.Channel seam, contract test, chat ids
// and identities (internal/waid) as the linked-device channel in
// channels/whatsapp, so a business can switch transport and keep its
// people, history and open drafts.
//
// Every Meta wire type stays inside this package. cmd/switchboard builds a
// Channel with New, mounts Handler, and runs it; no other package imports
// it.
//
// Free-form replies are allowed only within 24 hours of the customer's last
// message (Capabilities.Window); outside it only a pre-approved template may
// be sent (Outbound.Template). See README.md for what the channel keeps.
package whatsappcloud

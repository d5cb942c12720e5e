// Package whatsapp is Switchboard's WhatsApp channel: one linked device of
// the business's WhatsApp number, driven by go.mau.fi/whatsmeow. It
// implements bot.Channel and bot.Forgetter; no whatsmeow type leaves it.
//
// cmd/switchboard builds it with New, runs it with Run (which pairs a new
// session by QR code or pairing code, then connects), shows State on /readyz
// and /metrics, and calls Logout for "switchboard whatsapp logout". The
// router delivers through Send; privacy calls Forget after erasing its own
// rows, Unlink for "/disconnect whatsapp" and PurgeStale for retention.
//
// Only 1:1 chats count: groups, broadcasts, status updates, newsletters and
// the business's own messages are ignored, and Send refuses a chat that
// never wrote to us. An inbound message is acknowledged to WhatsApp only
// after the sink stored it; until then whatsmeow keeps it (decrypted) in its
// event buffer and WhatsApp redelivers it.
//
// Logs carry no phone numbers, LIDs or names: whatsmeow's own lines go
// through zerolog at Warn (component=whatsmeow) with digit runs redacted.
package whatsapp

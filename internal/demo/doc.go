// Package demo is what `switchboard demo` plays around the real bot: a
// customer simulator and a canned drafter, clearly labelled as neither
// WhatsApp nor AI.
//
// The Simulator is a web page on loopback where a person writes as WhatsApp
// customers, and the two faces of Meta that the WhatsApp Business Platform
// channel (channels/whatsappcloud) talks to: it posts webhooks (messages and
// delivery statuses, signed with the app secret exactly as Meta signs them)
// to the bot's /webhooks/whatsapp, and it answers the bot's Graph API calls
// (send a message, upload and delete media, check the token). So the real
// channel, router, store and Teams channel run end to end, and the page
// shows each reply with the ticks the bot was told: sent, delivered when
// the page received it, read when it was on screen.
//
// Drafter is the demo's stand-in for an LLM when none is configured: it
// picks a ready-made reply by keywords and names itself "Demo drafter — not
// AI" on every card.
//
// Only cmd/switchboard imports this package, for the demo subcommand.
// Customer texts live in the simulator's memory while the demo runs (the
// page is the customers' phone) and are never logged.
package demo

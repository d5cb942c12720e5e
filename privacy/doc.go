// Package privacy is Switchboard's data-rights engine: it parses and
// authorises the data-rights and admin commands (/forget, /export, /stop,
// /start, /name, /requests, /retention, /privacy, /help), erases subjects
// through one path (store, channel forgetters, WAL checkpoint), streams
// exports as a versioned JSON document, keeps the request register with its
// due dates and the audit trail, and runs the retention purge.
//
// cmd/switchboard builds a Service with New and hands it to the router as a
// bot.Commands; it also mounts ExportHandler on the bot's HTTP server and
// calls Purge and Reminders once a day. Nothing else should import privacy.
package privacy

// Package privacy is Switchboard's data-rights engine: it parses and
// authorises the data-rights and admin commands (/forget, /export, /stop,
// /start, /name, /requests, /retention, /privacy, /help), erases subjects
// through one path (store, channel forgetters, WAL checkpoint), streams
// exports as a versioned JSON document (ExportSchema, documented by
// testdata/export.schema.json), keeps the request register with its due
// dates and the audit trail, and runs the retention purge.
//
// cmd/switchboard is the only importer. It builds a Service with New and
// hands it to the router as bot.Commands, and:
//   - mounts ExportHandler at Options.ExportURL's path (one-time links);
//   - gives Cards() to the Teams channel as its card index, so the Teams
//     Forget hook still finds a subject's cards while erasure runs;
//   - runs Run as a background task (start-up clean-up of export files an
//     earlier process left, and a sweep of expired confirmations);
//   - calls Purge and Reminders once a day, posting reminders to admins.
//
// Erasure order, per subject: capture identities and cards, Store.DeleteSubject
// (one transaction, children first, subject key destroyed, WAL truncated),
// every Forgetter, Store.Checkpoint. The register keeps kind, scope, dates,
// counts and who asked, never the identifier.
package privacy

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
//   - runs Run as a background task once the channels exist (start-up
//     clean-up of export files an earlier process left, the forgets an
//     earlier process did not finish, and a sweep of expired confirmations
//     and of failed forgets due again);
//   - calls Purge and Reminders once a day, posting reminders to admins.
//
// Erasure and export act on people, not subjects: a person is every
// subject linked through their identities and the channels' identity maps
// (Options.Resolvers; whatsmeow's LID map pairs a LID first seen alone with
// the phone number seen later). Erasure order: for every subject, capture
// identities and cards and Store.EraseSubject (one transaction, children
// first, with a forget record holding the identities sealed; subject key
// destroyed, WAL truncated); then a self-erasure's confirmation is sent;
// then every Forgetter for every subject, with all the person's
// identities, and each forget record completed, or kept for the
// forgetters that failed (retried, also after a restart: forgets.go);
// then Store.Checkpoint. The confirmation names
// what went from which store in plain words. The register keeps kind,
// scope, dates, counts and who asked, never the identifier.
//
// An export is delivered through the chat's channel (Options.Senders), so
// the service sees what arrived: whole where the channel takes the file
// (bot.Capabilities.TakesFile), else as a one-time link, else the JSON
// document and each kept file as messages of their own, closed by a reply
// that counts what was sent and names what was not (exportsend.go). Only
// an export delivered whole uses up the hourly one.
package privacy

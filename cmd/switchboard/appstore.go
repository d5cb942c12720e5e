package main

import (
	"context"
	"time"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/channels/whatsapp"
	"github.com/switchboard/switchboard/privacy"
	"github.com/switchboard/switchboard/store"
)

// appStore is everything serve needs of a store, named once, so the rest
// of the wiring never names a concrete store: openStore picks it (SQLite,
// *store.DB, today). It is the router's store with the optional interfaces
// serve relies on (inbound messages stored in one group commit, handled
// messages left out of the rescan, a message followed across a merge,
// closed-hours replies), the media worker's store, the privacy engine's
// store, the linked device's retry texts, and what the wiring calls
// itself. storetest.RunContract checks a store's behaviour against the
// same methods (a cmd test checks that the two lists agree).
//
// `switchboard backup` is not part of it: it copies SQLite's files with
// VACUUM INTO and opens a *store.DB of its own (backup.go).
type appStore interface {
	bot.Store
	bot.Ingester
	bot.HandledMarker
	bot.MessageFinder
	bot.ClosedAckStore
	bot.MediaStore
	privacy.Store
	whatsapp.RetrySource

	// SetRole lowers a Teams sender's stored role to the one the channel
	// established (roleSync).
	SetRole(ctx context.Context, s bot.SubjectID, r bot.Role) error
	// LastInbound opens the Cloud API's reply window (buildCloud).
	LastInbound(ctx context.Context, p bot.Platform, chat bot.ChatID) (time.Time, error)
	// SweepMedia removes media files no row points at (maintenance).
	SweepMedia(ctx context.Context) (int, error)
	// Close closes the store, last at shutdown.
	Close() error
}

var _ appStore = (*store.DB)(nil)

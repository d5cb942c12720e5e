package privacy

import (
	"context"
	"time"

	"github.com/switchboard/switchboard/bot"
)

// Store is the persistence the privacy engine needs; *store.DB satisfies it.
// Every method may be called from several goroutines.
type Store interface {
	// FindSubjects returns the subjects known by id, through the keyed blind
	// index; for an IDTenant identity, every subject of that tenant. No
	// match is an empty slice, not an error.
	FindSubjects(ctx context.Context, id bot.Identity) ([]bot.SubjectID, error)
	// FindSubject returns bot.ErrNotFound if the subject does not exist.
	FindSubject(ctx context.Context, id bot.SubjectID) (bot.Subject, error)
	// Identities returns every identity linked to the subject.
	Identities(ctx context.Context, s bot.SubjectID) ([]bot.Identity, error)
	// SetAIRestricted records or lifts the subject's objection to AI drafting.
	SetAIRestricted(ctx context.Context, s bot.SubjectID, on bool) error
	// SetName replaces the subject's display name (rectification).
	SetName(ctx context.Context, s bot.SubjectID, name string) error
	// ExportSubject calls fn for each stored row about the subject,
	// decrypted, grouped by kind in this order: "subject", "identity",
	// "message", "draft", "decision", "card", "request". An error from fn
	// stops the export and is returned.
	ExportSubject(ctx context.Context, s bot.SubjectID, fn func(kind string, v any) error) error
	// DeleteSubject erases the subject in one transaction, children first,
	// destroys its key in the key store and checkpoints the WAL. It returns
	// the rows removed per table. Register rows (requests) are kept. It
	// records nothing for the channels; erasure uses EraseSubject.
	DeleteSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error)
	// EraseSubject is DeleteSubject that also writes, in the transaction
	// deleting the rows, a forget record (bot.PendingForget): ids, sealed
	// under a key of the record's own, for the forgetters named owed, due
	// at once. It returns the record's id whenever that transaction
	// committed, also with an error from a later step and with
	// bot.ErrNotFound for an unknown subject; "" if nothing was recorded.
	EraseSubject(ctx context.Context, s bot.SubjectID, ids []bot.Identity, owed []string) (string, map[string]int, error)
	// PendingForgets returns the forget records not completed, oldest
	// first, their identities opened.
	PendingForgets(ctx context.Context) ([]bot.PendingForget, error)
	// UpdateForget sets the forgetters a record still owes and when it is
	// next due; an unknown id gives bot.ErrNotFound.
	UpdateForget(ctx context.Context, id string, owed []string, due time.Time) error
	// CompleteForget deletes a record and destroys its key; its bytes
	// leave the WAL at the next Checkpoint. An unknown id is no error.
	CompleteForget(ctx context.Context, id string) error
	// CountSubject returns what DeleteSubject would remove of the subject,
	// per table, with DeleteSubject's keys; an unknown subject gives zeros.
	CountSubject(ctx context.Context, s bot.SubjectID) (map[string]int, error)
	// CardsOf returns the staff cards posted about the subject's drafts;
	// none is not an error.
	CardsOf(ctx context.Context, s bot.SubjectID) ([]bot.CardRef, error)
	// Checkpoint runs wal_checkpoint(TRUNCATE) on every database until no
	// frames are left.
	Checkpoint(ctx context.Context) error
	// CreateRequest adds a register entry and returns its id.
	CreateRequest(ctx context.Context, r bot.Request) (int64, error)
	// CompleteRequest closes a register entry.
	CompleteRequest(ctx context.Context, id int64, status string, counts map[string]int, at time.Time) error
	// OpenRequests returns the register entries not yet completed.
	OpenRequests(ctx context.Context) ([]bot.Request, error)
	// Audit appends one entry to the audit trail.
	Audit(ctx context.Context, e bot.AuditEntry) error
	// Inactive returns the subjects whose last inbound message (the
	// person's own, not our replies) or, with none, whose creation is
	// before the given time.
	Inactive(ctx context.Context, before time.Time) ([]bot.SubjectID, error)
}

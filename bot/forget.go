package bot

import "time"

// PendingForget is an erased subject whose channels have not all forgotten
// the person yet (Forgetter). A store writes it in the transaction that
// deletes the subject's rows, so there is no moment when the rows are gone
// and nothing says which identities the channels still hold; the
// identities are sealed under a key of the record's own, and the record
// and its key are destroyed once every forgetter it owes has succeeded.
// The privacy engine runs it again after a failure or a restart.
type PendingForget struct {
	// ID names the record ("f_…"); it is no subject id.
	ID string
	// Subject is the erased subject (pseudonymous; its rows are gone).
	Subject SubjectID
	// Identities are the ones handed to the forgetters: the subject's and
	// those of the rest of its person. They are personal data: never log
	// them.
	Identities []Identity
	// Owed names the forgetters that have not succeeded yet.
	Owed []string
	// Due is when it is next tried while the process runs; every pending
	// forget is tried at start-up whatever its Due.
	Due time.Time
	// Created is when the erasure recorded it.
	Created time.Time
}

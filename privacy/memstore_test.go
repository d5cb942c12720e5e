package privacy

import (
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// openTestStore returns the store the tests run on.
func openTestStore(t testing.TB, now func() time.Time, _ zerolog.Logger) (testStore, string) {
	return newMemStore(now), ""
}

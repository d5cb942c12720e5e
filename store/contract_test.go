package store_test

import (
	"testing"

	"github.com/switchboard/switchboard/store/storetest"
)

// TestContract runs the store contract on SQLite: a fresh data directory
// per subtest. The byte scans that prove an erased person is gone from the
// files are this package's own (TestNoPlaintextOnDisk, TestCryptoShredding).
func TestContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) storetest.Store { return storetest.Open(t) })
}

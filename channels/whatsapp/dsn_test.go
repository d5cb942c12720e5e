package whatsapp

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"
)

// TestDSNOddPath opens the session db under a path with URI-special
// characters and checks the connection's pragmas.
func TestDSNOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my data?#%20x")
	db, _, err := openStore(context.Background(), dir, zerolog.Nop(), zerolog.WarnLevel)
	require.NoError(t, err)
	for pragma, want := range map[string]string{"secure_delete": "1", "journal_mode": "wal", "foreign_keys": "1", "busy_timeout": "5000"} {
		var got string
		require.NoError(t, db.QueryRow("PRAGMA "+pragma).Scan(&got))
		require.Equal(t, want, got, pragma)
	}
	require.NoError(t, db.Close())
	_, err = os.Stat(filepath.Join(dir, dbFile))
	require.NoError(t, err)
	ents, _ := os.ReadDir(filepath.Dir(dir))
	require.Len(t, ents, 1)
}

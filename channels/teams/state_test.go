package teams

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestFileState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams-state.json")
	s, err := OpenFileState(path)
	require.NoError(t, err)
	ctx := t.Context()

	_, err = s.StaffConversation(ctx)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	conv := Conversation{ServiceURL: "https://smba.trafficmanager.net/emea/", ID: "19:x@thread.tacv2", TenantID: testTenant, Type: "channel"}
	require.NoError(t, s.SetStaffConversation(ctx, conv))
	require.NoError(t, s.AddAdmin(ctx, staffAAD))
	require.NoError(t, s.AddAdmin(ctx, staffAAD))
	require.NoError(t, s.AddAdmin(ctx, adminAAD))
	require.NoError(t, s.RemoveAdmin(ctx, adminAAD))
	require.NoError(t, s.RemoveAdmin(ctx, "absent"))

	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())

	again, err := OpenFileState(path)
	require.NoError(t, err)
	got, err := again.StaffConversation(ctx)
	require.NoError(t, err)
	assert.Equal(t, conv, got)
	admins, err := again.Admins(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{staffAAD}, admins)

	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, err = OpenFileState(path)
	assert.Error(t, err)
}

func TestFileStateWriteFailureKeepsMemory(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenFileState(filepath.Join(dir, "missing-dir", "state.json"))
	require.NoError(t, err)
	assert.Error(t, s.AddAdmin(t.Context(), staffAAD))
	admins, err := s.Admins(t.Context())
	require.NoError(t, err)
	assert.Empty(t, admins, "a failed write changes nothing")
}

func TestFileStateClaimActivity(t *testing.T) {
	path := filepath.Join(t.TempDir(), "teams-state.json")
	s, err := OpenFileState(path)
	require.NoError(t, err)
	ctx := t.Context()
	first, err := s.ClaimActivity(ctx, "k0")
	require.NoError(t, err)
	assert.True(t, first)
	first, err = s.ClaimActivity(ctx, "k0")
	require.NoError(t, err)
	assert.False(t, first)

	again, err := OpenFileState(path)
	require.NoError(t, err)
	first, err = again.ClaimActivity(ctx, "k0")
	require.NoError(t, err)
	assert.False(t, first, "claims survive a restart")
	for i := range maxHandled {
		first, err := again.ClaimActivity(ctx, fmt.Sprintf("n%d", i))
		require.NoError(t, err)
		require.True(t, first)
	}
	first, err = again.ClaimActivity(ctx, "k0")
	require.NoError(t, err)
	assert.True(t, first, "the oldest keys are forgotten past maxHandled")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Less(t, len(b), 16<<10, "the file stays small")
}

package bot_test

import (
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestNewSubjectID(t *testing.T) {
	before := time.Now().Unix()
	seen := make(map[bot.SubjectID]bool)
	for range 1000 {
		id := bot.NewSubjectID()
		require.True(t, strings.HasPrefix(string(id), "s_"), "id %q", id)
		digits := string(id)[2:]
		require.Len(t, digits, 24)
		_, err := hex.DecodeString(digits)
		require.NoError(t, err)
		assert.False(t, seen[id], "ids are unique")
		seen[id] = true
	}
	// The first 8 hex digits are the creation second, so new ids sort after
	// older ones (append-mostly index inserts); the rest is random.
	id := bot.NewSubjectID()
	sec, err := strconv.ParseUint(string(id)[2:10], 16, 32)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, int64(sec), before)
	assert.LessOrEqual(t, int64(sec), time.Now().Unix())
	old := bot.SubjectID("s_" + strconv.FormatInt(before-1, 16) + "ffffffffffffffff")
	assert.Less(t, string(old), string(id), "an id of an earlier second sorts first")
}

package storetest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
	"github.com/switchboard/switchboard/store"
	"github.com/switchboard/switchboard/store/storetest"
)

func TestOpenAndReopen(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "d")
	db := storetest.OpenWith(t, store.Options{Dir: dir})
	s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Ada"})
	require.NoError(t, err)
	require.NoError(t, db.Close())

	again := storetest.OpenWith(t, store.Options{Dir: dir})
	got, err := again.FindSubject(ctx, s.ID)
	require.NoError(t, err)
	assert.Equal(t, "Ada", got.Name)

	other := storetest.Open(t)
	_, err = other.FindSubject(ctx, s.ID)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

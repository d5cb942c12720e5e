package main

import (
	"bytes"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/store/storetest"
)

// What serve needs of a store and what the store contract checks are one
// list: a store that passes storetest.RunContract can be serve's, and
// serve asks nothing the contract leaves unchecked.
var (
	_ appStore        = storetest.Store(nil)
	_ storetest.Store = appStore(nil)
)

// TestOpenStorePassesContract runs the store contract on what openStore
// opens, the store serve runs on.
func TestOpenStorePassesContract(t *testing.T) {
	storetest.RunContract(t, func(t *testing.T) storetest.Store {
		cfg := DefaultConfig()
		cfg.DataDir = t.TempDir()
		health := NewHealth(nil, nil)
		health.Register(compStore)
		st, err := openStore(t.Context(), cfg, bytes.Repeat([]byte{0x7a}, 32), zerolog.Nop(), health)
		require.NoError(t, err)
		t.Cleanup(func() { assert.NoError(t, st.Close()) })
		_, comps := health.Snapshot()
		assert.Equal(t, ComponentState{Ready: true, State: "open", Since: comps[compStore].Since}, comps[compStore], "reported on /readyz")
		return st
	})
}

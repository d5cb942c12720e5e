package whatsapp

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"

	"github.com/switchboard/switchboard/bot"
)

func BenchmarkMapMessage(b *testing.B) {
	c, _, _ := openTestDBB(b)
	ctx := context.Background()
	require.NoError(b, c.LIDMap.PutLIDMapping(ctx, lidJID, pnJID))
	evt := dm(lidJID, types.EmptyJID, text("Do you open on Sunday?"))
	b.ReportAllocs()
	for b.Loop() {
		if m := mapMessage(ctx, evt, c.LIDMap); m.act != actDeliver {
			b.Fatal(m.why)
		}
	}
}

// BenchmarkForget erases one person from a session db holding 1000 others.
func BenchmarkForget(b *testing.B) {
	ctx := context.Background()
	ch, err := New(Options{Dir: b.TempDir()})
	require.NoError(b, err)
	db, container, err := openStore(ctx, ch.opts.Dir, ch.log, 0)
	require.NoError(b, err)
	defer db.Close()
	dev := newDevice(b, container)
	for i := range 1000 {
		plant(b, dev, db, person{
			pn:       types.JID{User: fmt.Sprintf("4477009%05d", i), Server: types.DefaultUserServer},
			lid:      types.JID{User: fmt.Sprintf("1000000000%05d", i), Server: types.HiddenUserServer},
			pushName: "Someone", text: fmt.Sprintf("pending %d", i)})
	}
	b.ResetTimer()
	i := 0
	for b.Loop() {
		id := bot.Identity{Kind: bot.IDPhone, Value: fmt.Sprintf("+4477009%05d", i%1000)}
		i++
		if err := ch.Forget(ctx, "s_b", []bot.Identity{id}); err != nil {
			b.Fatal(err)
		}
	}
}

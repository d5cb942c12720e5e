package whatsapp

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"go.mau.fi/util/dbutil"
	"go.mau.fi/whatsmeow/store"
	"go.mau.fi/whatsmeow/store/sqlstore"
	"go.mau.fi/whatsmeow/types"
)

// lidCache is whatsmeow's cached LID map behind a lock, so Forget can drop
// the cache: sqlstore.CachedLIDMap has no delete, and without this an
// erased person's LID <-> phone pair would stay in memory until restart
// (and a re-learned pair would not be written back, since the cache
// already has it). Run installs it as the device's LID store.
type lidCache struct {
	mu    sync.RWMutex
	inner *sqlstore.CachedLIDMap
	db    *dbutil.Database
}

var _ store.LIDStore = (*lidCache)(nil)

// newLIDCache wraps a fresh cached LID map over db.
func newLIDCache(db *sql.DB) (*lidCache, error) {
	wrapped, err := dbutil.NewWithDB(db, "sqlite3")
	if err != nil {
		return nil, fmt.Errorf("wrap session db: %w", err)
	}
	return &lidCache{inner: sqlstore.NewCachedLIDMap(wrapped), db: wrapped}, nil
}

func (l *lidCache) get() *sqlstore.CachedLIDMap {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.inner
}

// reset drops everything cached; lookups read the table again.
func (l *lidCache) reset() {
	l.mu.Lock()
	l.inner = sqlstore.NewCachedLIDMap(l.db)
	l.mu.Unlock()
}

func (l *lidCache) PutManyLIDMappings(ctx context.Context, m []store.LIDMapping) error {
	return l.get().PutManyLIDMappings(ctx, m)
}

func (l *lidCache) PutLIDMapping(ctx context.Context, lid, pn types.JID) error {
	return l.get().PutLIDMapping(ctx, lid, pn)
}

func (l *lidCache) GetPNForLID(ctx context.Context, lid types.JID) (types.JID, error) {
	return l.get().GetPNForLID(ctx, lid)
}

func (l *lidCache) GetLIDForPN(ctx context.Context, pn types.JID) (types.JID, error) {
	return l.get().GetLIDForPN(ctx, pn)
}

func (l *lidCache) GetManyLIDsForPNs(ctx context.Context, pns []types.JID) (map[types.JID]types.JID, error) {
	return l.get().GetManyLIDsForPNs(ctx, pns)
}

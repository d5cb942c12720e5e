package channeltest

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/switchboard/switchboard/bot"
)

// Notifier is an in-memory bot.Notifier and bot.CardRemover: it records
// posted, updated and removed cards and alerts, and returns CardRefs
// {"staff", "card-1"}, … It is safe for concurrent use.
type Notifier struct {
	mu       sync.Mutex
	posts    []bot.Card
	updates  []bot.Card
	latest   map[int64]bot.Card
	refs     map[int64]bot.CardRef
	removed  []bot.CardRef
	alerts   []string
	seq      int
	failPost int
}

var (
	_ bot.Notifier    = (*Notifier)(nil)
	_ bot.CardRemover = (*Notifier)(nil)
)

// NewNotifier returns an empty Notifier.
func NewNotifier() *Notifier {
	return &Notifier{latest: make(map[int64]bot.Card), refs: make(map[int64]bot.CardRef)}
}

// FailPosts makes the next n PostCard calls fail.
func (n *Notifier) FailPosts(count int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.failPost = count
}

// PostCard records c and returns a new ref.
func (n *Notifier) PostCard(ctx context.Context, c bot.Card) (bot.CardRef, error) {
	if err := ctx.Err(); err != nil {
		return bot.CardRef{}, fmt.Errorf("channeltest: post card: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.failPost > 0 {
		n.failPost--
		return bot.CardRef{}, fmt.Errorf("channeltest: post card: %w", ErrInjected)
	}
	n.seq++
	ref := bot.CardRef{Conversation: "staff", ActivityID: fmt.Sprintf("card-%d", n.seq)}
	n.posts = append(n.posts, c)
	n.latest[c.DraftID] = c
	n.refs[c.DraftID] = ref
	return ref, nil
}

// UpdateCard records c as the card's new state. It returns bot.ErrNotFound
// for a ref it never returned.
func (n *Notifier) UpdateCard(ctx context.Context, ref bot.CardRef, c bot.Card) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("channeltest: update card: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, r := range n.refs {
		if r == ref {
			if id != c.DraftID {
				return fmt.Errorf("channeltest: update card %s with draft %d: card is of draft %d", ref.ActivityID, c.DraftID, id)
			}
			n.updates = append(n.updates, c)
			n.latest[id] = c
			return nil
		}
	}
	return fmt.Errorf("channeltest: update card %s: %w", ref.ActivityID, bot.ErrNotFound)
}

// RemoveCard deletes a posted card; a card it does not have (removed
// already) is not an error.
func (n *Notifier) RemoveCard(ctx context.Context, ref bot.CardRef) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("channeltest: remove card: %w", err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for id, r := range n.refs {
		if r == ref {
			delete(n.refs, id)
			delete(n.latest, id)
			n.removed = append(n.removed, ref)
		}
	}
	return nil
}

// Removed returns the cards removed, oldest first.
func (n *Notifier) Removed() []bot.CardRef {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]bot.CardRef(nil), n.removed...)
}

// Cards returns the latest state of every card still posted, by draft id.
func (n *Notifier) Cards() []bot.Card {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make([]bot.Card, 0, len(n.latest))
	for _, c := range n.latest {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].DraftID < out[j].DraftID })
	return out
}

// Ref returns where the draft's card was posted.
func (n *Notifier) Ref(draftID int64) (bot.CardRef, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	r, ok := n.refs[draftID]
	return r, ok
}

// Alert records text.
func (n *Notifier) Alert(_ context.Context, text string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.alerts = append(n.alerts, text)
	return nil
}

// Posts returns the posted cards, oldest first.
func (n *Notifier) Posts() []bot.Card {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]bot.Card(nil), n.posts...)
}

// Updates returns the card updates, oldest first.
func (n *Notifier) Updates() []bot.Card {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]bot.Card(nil), n.updates...)
}

// Card returns the latest state of the draft's card.
func (n *Notifier) Card(draftID int64) (bot.Card, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	c, ok := n.latest[draftID]
	return c, ok
}

// Alerts returns the alerts, oldest first.
func (n *Notifier) Alerts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.alerts...)
}

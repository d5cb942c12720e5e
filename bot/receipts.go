package bot

import (
	"sync"
	"time"
)

// A platform can report a reply delivered before the outbox worker has
// recorded it as sent (WhatsApp's receipt races MarkSent's commit). Such a
// receipt matches no row; the router keeps it for a short while and applies
// it once the send is recorded, so the card still shows the status.
const (
	earlyReceiptTTL = 2 * time.Minute
	earlyReceiptMax = 4096
)

type receiptKey struct {
	platform Platform
	chat     ChatID
	id       MessageID
}

type heldReceipt struct {
	status MessageStatus
	at     time.Time // when the platform said so
	until  time.Time // when it is dropped
}

// earlyReceipts holds recent receipts by message, in memory only. Keys
// hold chat ids (personal data): they live at most earlyReceiptTTL.
type earlyReceipts struct {
	mu   sync.Mutex
	held map[receiptKey]heldReceipt
}

// hold remembers r's status for each of its ids, keeping the highest.
func (e *earlyReceipts) hold(r Receipt, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.held == nil {
		e.held = make(map[receiptKey]heldReceipt)
	}
	for k, h := range e.held {
		if now.After(h.until) {
			delete(e.held, k)
		}
	}
	for _, id := range r.IDs {
		if len(e.held) >= earlyReceiptMax {
			return
		}
		k := receiptKey{r.Platform, r.Chat, id}
		if h, ok := e.held[k]; ok && h.status.Rank() >= r.Status.Rank() {
			continue
		}
		e.held[k] = heldReceipt{status: r.Status, at: r.At, until: now.Add(earlyReceiptTTL)}
	}
}

// take returns and forgets the receipt held for a sent message, if any.
func (e *earlyReceipts) take(p Platform, chat ChatID, id MessageID, now time.Time) (Receipt, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	k := receiptKey{p, chat, id}
	h, ok := e.held[k]
	if !ok {
		return Receipt{}, false
	}
	delete(e.held, k)
	if now.After(h.until) {
		return Receipt{}, false
	}
	return Receipt{Platform: p, Chat: chat, IDs: []MessageID{id}, Status: h.status, At: h.at}, true
}

// forget drops the receipts held for r's ids.
func (e *earlyReceipts) forget(r Receipt) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, id := range r.IDs {
		delete(e.held, receiptKey{r.Platform, r.Chat, id})
	}
}

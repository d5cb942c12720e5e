package bot

import (
	"errors"
	"sync"
)

// ErrQueueFull is returned by Deliver when the draft queue is full. The
// message is already stored; the router drafts it once the queue has room,
// and a platform redelivery of it is recognised as a duplicate.
var ErrQueueFull = errors.New("draft queue full")

// ErrStopped is returned by Deliver once the router stopped taking input.
var ErrStopped = errors.New("router stopped")

// job is one unit of drafting work. On the start lane: a stored inbound
// message to give a draft row and a card. On the drafting lane: the first
// draft of a draft row (first), or a new draft for an existing draft
// (regenerate, retry).
type job struct {
	msg         Message // start: the stored inbound message (ID != 0)
	draftID     int64   // the draft to draft (again)
	first       bool    // the draft's first draft (status drafting)
	instruction string  // redraft: the staff hint
}

// key identifies a job queued at most once per queue: the message of a
// start job, the draft of a first-draft job; 0 for jobs that may repeat.
func (j job) key() int64 {
	switch {
	case j.msg.ID != 0:
		return j.msg.ID
	case j.first:
		return j.draftID
	}
	return 0
}

// chatJobs holds the queued jobs of one chat. active is true while the
// chat's key is in the ready channel or a worker runs one of its jobs, so at
// most one job of a chat runs at a time and the chat's order is kept.
type chatJobs struct {
	jobs   []job
	active bool
}

// chatQueue is a bounded queue of jobs keyed by chat: one chat's jobs run in
// the order they were pushed, different chats run in parallel on the workers
// that call next. It is safe for concurrent use.
type chatQueue struct {
	mu      sync.Mutex
	limit   int
	queued  int // pushed, not yet taken
	running int // taken, not yet done
	chats   map[string]*chatJobs
	ready   chan string // keys of chats with a queued job and none running
	closed  bool
	drained chan struct{} // closed once closed and nothing is queued or running
	// msgs holds the message row ids of first-draft jobs queued or running,
	// and of messages Deliver is still deciding about, so a rescan of
	// undrafted messages does not queue one twice.
	msgs map[int64]bool
	// skip holds ids of queued messages Deliver answered without a draft
	// after a rescan had queued them; their jobs are dropped.
	skip map[int64]bool
	// scanning is set while a rescan reads undrafted messages; done collects
	// the message ids finished meanwhile, which the rescan must not queue
	// again even though its read still listed them.
	scanning bool
	done     map[int64]bool
	// overflow is set when a push was refused for lack of room: undrafted
	// messages then wait in the store for a rescan.
	overflow bool
}

func newChatQueue(limit int) *chatQueue {
	return &chatQueue{
		limit:   limit,
		chats:   make(map[string]*chatJobs),
		ready:   make(chan string, limit),
		drained: make(chan struct{}),
		msgs:    make(map[int64]bool),
		skip:    make(map[int64]bool),
	}
}

// chatKey keys a chat across platforms.
func chatKey(p Platform, c ChatID) string { return string(p) + "\x00" + string(c) }

// push queues j behind the chat's earlier jobs. It returns ErrStopped after
// close and ErrQueueFull when the queue holds limit jobs. A first-draft job
// for a message already queued or running is accepted and dropped.
func (q *chatQueue) push(key string, j job) error {
	_, err := q.add(key, j)
	return err
}

// add is push that also reports whether j was added (not a duplicate).
func (q *chatQueue) add(key string, j job) (added bool, err error) {
	return q.addJob(key, j, false)
}

// pushClaimed queues the first-draft job of a message claimed with claim.
// On error the claim is released.
func (q *chatQueue) pushClaimed(key string, j job) error {
	_, err := q.addJob(key, j, true)
	return err
}

func (q *chatQueue) addJob(key string, j job, claimed bool) (added bool, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if claimed && j.key() != 0 {
		defer func() {
			if err != nil {
				q.unclaimLocked(j.key())
			}
		}()
	}
	if q.closed {
		return false, ErrStopped
	}
	if !claimed && j.key() != 0 && q.msgs[j.key()] {
		return false, nil
	}
	if q.queued >= q.limit {
		q.overflow = true
		return false, ErrQueueFull
	}
	c := q.chats[key]
	if c == nil {
		c = &chatJobs{}
		q.chats[key] = c
	}
	c.jobs = append(c.jobs, j)
	q.queued++
	if j.key() != 0 {
		q.msgs[j.key()] = true
	}
	if !c.active {
		c.active = true
		// Never blocks: every key in ready has a queued job, so ready holds
		// at most queued ≤ limit keys.
		q.ready <- key
	}
	return true, nil
}

// take removes the first job of the chat whose key came out of ready.
// skipped is true for a job Deliver cancelled; the worker runs nothing but
// still calls finish.
func (q *chatQueue) take(key string) (j job, skipped bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	c := q.chats[key]
	j = c.jobs[0]
	c.jobs[0] = job{}
	c.jobs = c.jobs[1:]
	q.queued--
	q.running++
	if j.key() != 0 && q.skip[j.key()] {
		delete(q.skip, j.key())
		skipped = true
	}
	return j, skipped
}

// claim marks a just-stored message as being decided on by Deliver, so a
// concurrent rescan leaves it alone. It returns false if a rescan queued
// it first.
func (q *chatQueue) claim(id int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.msgs[id] {
		return false
	}
	q.msgs[id] = true
	return true
}

// answered records that Deliver answered a message without a draft: it
// drops Deliver's claim, or, if a rescan had queued the message, cancels
// that job.
func (q *chatQueue) answered(id int64, claimed bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if claimed {
		q.unclaimLocked(id)
		return
	}
	if q.msgs[id] {
		q.skip[id] = true
	}
}

func (q *chatQueue) unclaimLocked(id int64) {
	delete(q.msgs, id)
	if q.scanning {
		q.done[id] = true
	}
}

// finish marks the job taken for key done and lets the chat's next job run.
func (q *chatQueue) finish(key string, j job) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.running--
	if j.key() != 0 {
		q.unclaimLocked(j.key())
	}
	c := q.chats[key]
	if len(c.jobs) > 0 {
		q.ready <- key
	} else {
		delete(q.chats, key)
	}
	q.checkDrained()
}

// close stops pushes; drained is closed once the queued jobs are done.
func (q *chatQueue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.closed = true
	q.checkDrained()
}

func (q *chatQueue) checkDrained() {
	if q.closed && q.queued == 0 && q.running == 0 {
		select {
		case <-q.drained:
		default:
			close(q.drained)
		}
	}
}

// isClosed reports whether close was called.
func (q *chatQueue) isClosed() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.closed
}

// room returns how many more jobs fit.
func (q *chatQueue) room() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.limit - q.queued
}

// beginScan starts a rescan; it returns false if one is already running.
func (q *chatQueue) beginScan() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.scanning || q.closed {
		return false
	}
	q.scanning = true
	q.overflow = false
	q.done = make(map[int64]bool)
	return true
}

// scanned reports whether the message's job finished since beginScan.
func (q *chatQueue) scanned(id int64) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.done[id]
}

// endScan ends a rescan.
func (q *chatQueue) endScan() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.scanning = false
	q.done = nil
}

// needsScan reports whether messages wait in the store for lack of room and
// there is room now (at least half the queue).
func (q *chatQueue) needsScan() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.overflow && !q.closed && q.queued <= q.limit/2
}

// markOverflow records that stored messages wait for a rescan.
func (q *chatQueue) markOverflow() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.overflow = true
}

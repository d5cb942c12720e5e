package bot

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runQueue runs n workers over q calling fn for each job until stop.
func runQueue(q *chatQueue, n int, fn func(key string, j job)) (stop func()) {
	quit := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-quit:
					return
				case key := <-q.ready:
					j, skipped := q.take(key)
					if !skipped {
						fn(key, j)
					}
					q.finish(key, j)
				}
			}
		})
	}
	return func() { close(quit); wg.Wait() }
}

func TestChatQueueKeepsChatOrder(t *testing.T) {
	q := newChatQueue(1000)
	var mu sync.Mutex
	got := map[string][]int64{}
	stop := runQueue(q, 4, func(key string, j job) {
		mu.Lock()
		got[key] = append(got[key], j.msg.ID)
		mu.Unlock()
	})
	defer stop()
	want := map[string][]int64{}
	id := int64(0)
	for i := range 200 {
		key := fmt.Sprintf("chat-%d", i%7)
		id++
		require.NoError(t, q.push(key, job{msg: Message{ID: id}}))
		want[key] = append(want[key], id)
	}
	q.close()
	<-q.drained
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, want, got)
}

func TestChatQueueRunsChatsInParallel(t *testing.T) {
	q := newChatQueue(10)
	started := make(chan string, 2)
	release := make(chan struct{})
	stop := runQueue(q, 2, func(key string, _ job) {
		started <- key
		<-release
	})
	defer stop()
	require.NoError(t, q.push("a", job{msg: Message{ID: 1}}))
	require.NoError(t, q.push("a", job{msg: Message{ID: 2}}))
	require.NoError(t, q.push("b", job{msg: Message{ID: 3}}))
	// Both chats start although chat a still has a job queued: the second
	// worker took chat b, not a's second job.
	got := []string{<-started, <-started}
	assert.ElementsMatch(t, []string{"a", "b"}, got)
	close(release)
	q.close()
	<-q.drained
}

func TestChatQueueBounds(t *testing.T) {
	q := newChatQueue(2)
	require.NoError(t, q.push("a", job{msg: Message{ID: 1}}))
	require.NoError(t, q.push("b", job{msg: Message{ID: 2}}))
	assert.NoError(t, q.push("a", job{msg: Message{ID: 1}}), "a message already queued is accepted once")
	assert.ErrorIs(t, q.push("c", job{msg: Message{ID: 3}}), ErrQueueFull)
	assert.False(t, q.needsScan(), "no rescan while the queue is full")
	stop := runQueue(q, 1, func(string, job) {})
	defer stop()
	require.Eventually(t, q.needsScan, 5*time.Second, time.Millisecond)
	q.close()
	<-q.drained
	assert.ErrorIs(t, q.push("a", job{msg: Message{ID: 4}}), ErrStopped)
}

func TestChatQueueScanSkipsFinished(t *testing.T) {
	q := newChatQueue(10)
	require.True(t, q.beginScan())
	assert.False(t, q.beginScan(), "one scan at a time")
	require.NoError(t, q.push("a", job{msg: Message{ID: 1}}))
	stop := runQueue(q, 1, func(string, job) {})
	defer stop()
	require.Eventually(t, func() bool { return q.scanned(1) }, 5*time.Second, time.Millisecond)
	q.endScan()
	assert.False(t, q.scanned(1))
}

func TestChatQueueClaims(t *testing.T) {
	q := newChatQueue(10)
	require.True(t, q.claim(1))
	added, err := q.add("a", job{msg: Message{ID: 1}})
	require.NoError(t, err)
	assert.False(t, added, "a rescan leaves a claimed message alone")
	q.answered(1, true)
	added, err = q.add("a", job{msg: Message{ID: 1}})
	require.NoError(t, err)
	assert.True(t, added, "a rescan finding it later queues it (the store would have marked it handled)")

	// A rescan queued message 2 before Deliver claimed it; Deliver answers
	// it without a draft, so its job is skipped.
	added, err = q.add("b", job{msg: Message{ID: 2}})
	require.NoError(t, err)
	require.True(t, added)
	assert.False(t, q.claim(2))
	q.answered(2, false)
	var ran []int64
	var mu sync.Mutex
	stop := runQueue(q, 1, func(_ string, j job) { mu.Lock(); ran = append(ran, j.msg.ID); mu.Unlock() })
	defer stop()
	q.close()
	<-q.drained
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, []int64{1}, ran)

	q2 := newChatQueue(1)
	require.NoError(t, q2.push("x", job{msg: Message{ID: 5}}))
	require.True(t, q2.claim(6))
	assert.ErrorIs(t, q2.pushClaimed("y", job{msg: Message{ID: 6}}), ErrQueueFull)
	assert.True(t, q2.claim(6), "a refused push releases the claim")
}

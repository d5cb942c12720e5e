package bot

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestClipText(t *testing.T) {
	r, err := NewRouter(Options{Store: nilStore{}, MaxText: 100})
	require.NoError(t, err)
	tests := []struct {
		name     string
		in       string
		wantOrig int
	}{
		{"Short", "hello", 0},
		{"Exact", strings.Repeat("a", 100), 0},
		{"ASCII over", strings.Repeat("a", 101), 101},
		{"Multibyte over", strings.Repeat("€", 100), 300},
		{"Emoji over", strings.Repeat("😀", 40), 160},
		{"Invalid UTF-8", "ab\xffcd", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, orig := r.clipText(tc.in)
			assert.Equal(t, tc.wantOrig, orig)
			assert.True(t, utf8.ValidString(got))
			assert.LessOrEqual(t, len(got), 100)
			assert.Equal(t, tc.wantOrig, truncatedFrom(got))
			if tc.wantOrig > 0 {
				assert.True(t, strings.HasSuffix(got, fmt.Sprintf("[message truncated from %d bytes]", tc.wantOrig)))
				body := strings.TrimSuffix(got, fmt.Sprintf(truncMarkFmt, tc.wantOrig))
				assert.True(t, strings.HasPrefix(tc.in, body), "the kept part is the start of the text")
			}
		})
	}
}

func FuzzTruncatedFrom(f *testing.F) {
	f.Add("hello")
	f.Add("x\n\n[message truncated from 102400 bytes]")
	f.Add("\n\n[message truncated from -1 bytes]")
	f.Add("\n\n[message truncated from 12 bytes]]")
	f.Fuzz(func(t *testing.T, s string) {
		n := truncatedFrom(s)
		if n != 0 {
			require.True(t, strings.HasSuffix(s, fmt.Sprintf(truncMarkFmt, n)))
		}
	})
}

func FuzzClipText(f *testing.F) {
	f.Add(strings.Repeat("€", 50), 64)
	f.Add("hi", 100)
	f.Fuzz(func(t *testing.T, s string, max int) {
		if max < minMaxText || max > 1<<20 {
			return
		}
		r := &Router{maxText: max}
		got, orig := r.clipText(s)
		require.True(t, utf8.ValidString(got))
		require.LessOrEqual(t, len(got), max)
		if orig > 0 {
			require.Equal(t, orig, truncatedFrom(got))
		}
	})
}

func TestDefaultBackoff(t *testing.T) {
	for attempt := -1; attempt < 30; attempt++ {
		d := DefaultBackoff(attempt)
		assert.GreaterOrEqual(t, d, time.Second)
		assert.LessOrEqual(t, d, 5*time.Minute)
	}
	assert.Greater(t, DefaultBackoff(5), 10*time.Second)
	assert.Equal(t, 5*time.Minute, DefaultBackoff(20).Round(5*time.Minute))
}

func TestNewRouterValidates(t *testing.T) {
	_, err := NewRouter(Options{})
	assert.ErrorContains(t, err, "store is required")
	_, err = NewRouter(Options{Store: nilStore{}, Workers: -1})
	assert.Error(t, err)
	_, err = NewRouter(Options{Store: nilStore{}, MaxText: 10})
	assert.Error(t, err)
	_, err = NewRouter(Options{Store: nilStore{}, Channels: []Channel{nil}})
	assert.Error(t, err)
}

func TestAlreadyMessage(t *testing.T) {
	at := time.Date(2026, 11, 28, 14, 5, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    DraftView
		want string
	}{
		{"Approved", DraftView{Draft: Draft{Status: DraftSent}, Decision: &Decision{ByName: "Ann", At: at}}, "Already approved by Ann at 14:05; nothing sent again."},
		{"Rejected", DraftView{Draft: Draft{Status: DraftRejected}, Decision: &Decision{At: at}}, "Already rejected by a colleague at 14:05; nothing sent."},
		{"No decision", DraftView{Draft: Draft{Status: DraftEdited}}, "Already approved with edits; nothing sent again."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { assert.Equal(t, tc.want, alreadyMessage(tc.v)) })
	}
}

// nilStore satisfies Store for constructor tests that do no I/O; its
// methods are never called.
type nilStore struct{ Store }

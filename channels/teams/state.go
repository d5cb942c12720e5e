package teams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/switchboard/switchboard/bot"
)

// State persists what the channel learns at run time: the staff
// conversation and the admins added with /admin add. The store implements
// it; FileState is a stand-in. Methods may be called from several
// goroutines.
type State interface {
	// StaffConversation returns where cards go, or an error wrapping
	// bot.ErrNotFound if the bot was never installed and no admin said /here.
	StaffConversation(ctx context.Context) (Conversation, error)
	// SetStaffConversation replaces the staff conversation.
	SetStaffConversation(ctx context.Context, c Conversation) error
	// Admins returns the AAD object ids (lower case) added with /admin add.
	Admins(ctx context.Context) ([]string, error)
	// AddAdmin adds an AAD object id; adding one twice is not an error.
	AddAdmin(ctx context.Context, aadObjectID string) error
	// RemoveAdmin removes an added AAD object id; removing an absent one is
	// not an error.
	RemoveAdmin(ctx context.Context, aadObjectID string) error
	// ClaimActivity records that the activity named key (a digest of its
	// conversation and activity ids, no personal data) is being handled, and
	// reports whether this is the first time: a redelivered /admin or /here
	// is then not run again. It remembers at least the last 256 keys.
	ClaimActivity(ctx context.Context, key string) (first bool, err error)
	// Snippets returns the admins' reply snippets, sorted by name.
	Snippets(ctx context.Context) ([]Snippet, error)
	// SetSnippet adds a snippet or replaces the one of the same name.
	SetSnippet(ctx context.Context, s Snippet) error
	// RemoveSnippet removes a snippet and reports whether it existed.
	RemoveSnippet(ctx context.Context, name string) (bool, error)
	// Thread returns the activity id of the card that started subject's
	// thread in the channel conversation conv (a thread root id, without
	// ";messageid="), or "" if there is none.
	Thread(ctx context.Context, conv string, subject bot.SubjectID) (string, error)
	// SetThread records the root of subject's thread in conv, replacing
	// any earlier one.
	SetThread(ctx context.Context, conv string, subject bot.SubjectID, root string) error
	// ForgetThreads drops subject's thread roots (erasure).
	ForgetThreads(ctx context.Context, subject bot.SubjectID) error
}

// Snippet is a named reply text admins keep for staff to add to replies
// (/snippet add). It is business data, not about a person.
type Snippet struct {
	Name string `json:"name"`
	Text string `json:"text"`
}

// thread is where a customer's cards go in a team channel: replies to the
// first card posted about them. It names its subject, so erasure finds it.
type thread struct {
	Conv string `json:"conv"` // the channel conversation, without ";messageid="
	Root string `json:"root"` // the first card's activity id
}

// Cards finds the cards posted about a subject, for erasure. The store
// implements it from the rows bot.Store.SaveCard wrote.
type Cards interface {
	// CardsOf returns every card posted about subject; none is not an error.
	CardsOf(ctx context.Context, subject bot.SubjectID) ([]bot.CardRef, error)
}

// StateFile is FileState's file name in the data directory.
const StateFile = "teams-state.json"

// fileData is FileState's JSON document.
type fileData struct {
	Staff  *Conversation `json:"staff,omitempty"`
	Admins []string      `json:"admins,omitempty"`
	// Handled are the keys of the latest activities claimed, oldest first.
	Handled  []string                 `json:"handled,omitempty"`
	Snippets []Snippet                `json:"snippets,omitempty"`
	Threads  map[bot.SubjectID]thread `json:"threads,omitempty"`
}

// maxHandled bounds FileState's remembered activity keys.
const maxHandled = 256

// FileState keeps State in a JSON file (mode 0600), rewritten atomically on
// each change. It holds AAD object ids, a conversation reference, digests of
// handled activities, the admins' snippets, and thread roots keyed by
// subject id (pseudonymous, dropped by ForgetThreads); no names and no
// message text.
type FileState struct {
	path string
	mu   sync.Mutex
	data fileData
}

var _ State = (*FileState)(nil)

// OpenFileState reads path (a missing file is an empty state).
func OpenFileState(path string) (*FileState, error) {
	s := &FileState{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("open teams state: %w", err)
	}
	if err := json.Unmarshal(b, &s.data); err != nil {
		return nil, fmt.Errorf("open teams state: %w", err)
	}
	return s, nil
}

// StaffConversation implements State.
func (s *FileState) StaffConversation(context.Context) (Conversation, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data.Staff == nil {
		return Conversation{}, fmt.Errorf("staff conversation: %w", bot.ErrNotFound)
	}
	return *s.data.Staff, nil
}

// SetStaffConversation implements State.
func (s *FileState) SetStaffConversation(_ context.Context, c Conversation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.data.Staff
	s.data.Staff = &c
	if err := s.save(); err != nil {
		s.data.Staff = old
		return err
	}
	return nil
}

// Admins implements State.
func (s *FileState) Admins(context.Context) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data.Admins), nil
}

// AddAdmin implements State.
func (s *FileState) AddAdmin(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.data.Admins, id) {
		return nil
	}
	s.data.Admins = append(s.data.Admins, id)
	if err := s.save(); err != nil {
		s.data.Admins = s.data.Admins[:len(s.data.Admins)-1]
		return err
	}
	return nil
}

// RemoveAdmin implements State.
func (s *FileState) RemoveAdmin(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.Index(s.data.Admins, id)
	if i < 0 {
		return nil
	}
	old := slices.Clone(s.data.Admins)
	s.data.Admins = slices.Delete(s.data.Admins, i, i+1)
	if err := s.save(); err != nil {
		s.data.Admins = old
		return err
	}
	return nil
}

// ClaimActivity implements State.
func (s *FileState) ClaimActivity(_ context.Context, key string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if slices.Contains(s.data.Handled, key) {
		return false, nil
	}
	old := s.data.Handled
	next := append(slices.Clone(old), key)
	if len(next) > maxHandled {
		next = next[len(next)-maxHandled:]
	}
	s.data.Handled = next
	if err := s.save(); err != nil {
		s.data.Handled = old
		return false, err
	}
	return true, nil
}

// Snippets implements State.
func (s *FileState) Snippets(context.Context) ([]Snippet, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.data.Snippets), nil
}

// SetSnippet implements State.
func (s *FileState) SetSnippet(_ context.Context, sn Snippet) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.data.Snippets
	next := slices.DeleteFunc(slices.Clone(old), func(x Snippet) bool { return x.Name == sn.Name })
	next = append(next, sn)
	slices.SortFunc(next, func(a, b Snippet) int { return strings.Compare(a.Name, b.Name) })
	s.data.Snippets = next
	if err := s.save(); err != nil {
		s.data.Snippets = old
		return err
	}
	return nil
}

// RemoveSnippet implements State.
func (s *FileState) RemoveSnippet(_ context.Context, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.data.Snippets
	next := slices.DeleteFunc(slices.Clone(old), func(x Snippet) bool { return x.Name == name })
	if len(next) == len(old) {
		return false, nil
	}
	s.data.Snippets = next
	if err := s.save(); err != nil {
		s.data.Snippets = old
		return false, err
	}
	return true, nil
}

// Thread implements State.
func (s *FileState) Thread(_ context.Context, conv string, subject bot.SubjectID) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.data.Threads[subject]; ok && t.Conv == conv {
		return t.Root, nil
	}
	return "", nil
}

// SetThread implements State.
func (s *FileState) SetThread(_ context.Context, conv string, subject bot.SubjectID, root string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.data.Threads
	next := maps.Clone(old)
	if next == nil {
		next = map[bot.SubjectID]thread{}
	}
	next[subject] = thread{Conv: conv, Root: root}
	s.data.Threads = next
	if err := s.save(); err != nil {
		s.data.Threads = old
		return err
	}
	return nil
}

// ForgetThreads implements State.
func (s *FileState) ForgetThreads(_ context.Context, subject bot.SubjectID) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.data.Threads[subject]; !ok {
		return nil
	}
	old := s.data.Threads
	next := maps.Clone(old)
	delete(next, subject)
	s.data.Threads = next
	if err := s.save(); err != nil {
		s.data.Threads = old
		return err
	}
	return nil
}

// save writes the document to a temp file and renames it over path.
func (s *FileState) save() error {
	b, err := json.MarshalIndent(s.data, "", "  ")
	if err != nil {
		return fmt.Errorf("save teams state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".teams-state-*")
	if err != nil {
		return fmt.Errorf("save teams state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save teams state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save teams state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save teams state: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("save teams state: %w", err)
	}
	return nil
}

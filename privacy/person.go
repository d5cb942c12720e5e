package privacy

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/switchboard/switchboard/bot"
)

// person is everyone the system knows as one person: the subjects that
// hold them (a LID first and a phone number later, with no message
// carrying both, make two) and every identity known for them, ours and the
// channels' (whatsmeow's LID map, the Cloud API's user ids). Identities are
// personal data: never log them.
type person struct {
	subjects []bot.SubjectID
	ids      []bot.Identity
}

// Bounds of one person's resolution. A person beyond them is cut short and
// logged; nobody real has that many numbers.
const (
	maxPersonSubjects   = 16
	maxPersonIdentities = 64
	maxPersonRounds     = 8
)

// resolvePerson follows identities and subjects from the seeds until
// nothing new turns up: each subject's identities, the identities the
// channels' resolvers pair with them, and the subjects those name. Seeds
// that name nobody are kept (a subject erased meanwhile erases as nothing).
func (s *Service) resolvePerson(ctx context.Context, subs []bot.SubjectID, ids []bot.Identity) (person, error) {
	var p person
	seenS := map[bot.SubjectID]bool{}
	seenI := map[bot.Identity]bool{}
	var newS []bot.SubjectID
	var newI []bot.Identity
	cut := false
	addS := func(x bot.SubjectID) {
		switch {
		case x == "" || seenS[x]:
		case len(p.subjects) >= maxPersonSubjects:
			cut = true
		default:
			seenS[x] = true
			p.subjects = append(p.subjects, x)
			newS = append(newS, x)
		}
	}
	addI := func(x bot.Identity) {
		switch {
		case x.IsZero() || seenI[x]:
		case len(p.ids) >= maxPersonIdentities:
			cut = true
		default:
			seenI[x] = true
			p.ids = append(p.ids, x)
			newI = append(newI, x)
		}
	}
	for _, x := range subs {
		addS(x)
	}
	for _, x := range ids {
		addI(x)
	}
	for round := 0; len(newS)+len(newI) > 0; round++ {
		if round == maxPersonRounds {
			cut = true
			break
		}
		batchS := newS
		newS = nil
		for _, sub := range batchS {
			got, err := s.st.Identities(ctx, sub)
			if errors.Is(err, bot.ErrNotFound) {
				continue
			}
			if err != nil {
				return person{}, fmt.Errorf("identities of %s: %w", sub, err)
			}
			for _, id := range got {
				addI(id)
			}
		}
		batchI := newI
		newI = nil
		if len(batchI) == 0 {
			continue
		}
		for i, r := range s.resolvers {
			other, err := r.OtherIdentities(ctx, batchI)
			if err != nil {
				return person{}, fmt.Errorf("resolver %d: %w", i, err)
			}
			for _, id := range other {
				addI(id)
			}
		}
		for _, id := range batchI {
			if id.Kind == bot.IDTenant {
				continue
			}
			found, err := s.st.FindSubjects(ctx, id)
			if err != nil {
				return person{}, fmt.Errorf("find subjects: %w", err)
			}
			for _, sub := range found {
				addS(sub)
			}
		}
	}
	if cut {
		s.log.Warn().Int("subjects", len(p.subjects)).Int("identities", len(p.ids)).Msg("person resolution cut short at its bounds")
	}
	return p, nil
}

// resolvePeople groups subjects into people: each seed with every subject
// resolvePerson links to it; a seed already placed joins no second person.
func (s *Service) resolvePeople(ctx context.Context, seeds []bot.SubjectID) ([]person, error) {
	placed := map[bot.SubjectID]bool{}
	var out []person
	for _, sub := range seeds {
		if placed[sub] {
			continue
		}
		p, err := s.resolvePerson(ctx, []bot.SubjectID{sub}, nil)
		if err != nil {
			return nil, err
		}
		for _, x := range p.subjects {
			placed[x] = true
		}
		out = append(out, p)
	}
	return out, nil
}

// singletons makes one person per subject, without asking the resolvers
// (a company-wide erasure takes everyone anyway).
func singletons(subs []bot.SubjectID) []person {
	out := make([]person, len(subs))
	for i, sub := range subs {
		out[i] = person{subjects: []bot.SubjectID{sub}}
	}
	return out
}

// subjectsOf lists the subjects of people, each once.
func subjectsOf(people []person) []bot.SubjectID {
	var out []bot.SubjectID
	for _, p := range people {
		for _, sub := range p.subjects {
			if !slices.Contains(out, sub) {
				out = append(out, sub)
			}
		}
	}
	return out
}

// again resolves people anew from what they were, so an erasure confirmed
// minutes after it was asked for also takes what appeared meanwhile.
func (s *Service) again(ctx context.Context, people []person) ([]person, error) {
	out := make([]person, 0, len(people))
	for _, p := range people {
		q, err := s.resolvePerson(ctx, p.subjects, p.ids)
		if err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, nil
}

package store

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

func TestResolveSubject(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	phone := bot.Identity{Kind: bot.IDPhone, Value: "+447700900123"}
	lid := bot.Identity{Kind: bot.IDLID, Value: "123456789@lid"}

	a, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{phone}, Name: "Ada"})
	require.NoError(t, err)
	assert.Regexp(t, `^s_[0-9a-f]{24}$`, string(a.ID))
	assert.Equal(t, "Ada", a.Name)
	assert.Equal(t, bot.RoleCustomer, a.Role)

	t.Run("SameIdentitySameSubject", func(t *testing.T) {
		b, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+44 7700 900123"}}})
		require.NoError(t, err)
		assert.Equal(t, a.ID, b.ID)
		assert.Equal(t, "Ada", b.Name, "empty name keeps the stored one")
	})
	t.Run("AltIdentityJoins", func(t *testing.T) {
		b, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{lid, phone}, Name: "Ada L"})
		require.NoError(t, err)
		assert.Equal(t, a.ID, b.ID)
		assert.Equal(t, "Ada L", b.Name)
		c, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDLID, Value: "123456789:7@lid"}}})
		require.NoError(t, err)
		assert.Equal(t, a.ID, c.ID, "LID device suffix normalised")
		ids, err := db.Identities(ctx, a.ID)
		require.NoError(t, err)
		assert.Equal(t, []bot.Identity{phone, lid}, ids)
	})
	t.Run("RoleRisesNeverFalls", func(t *testing.T) {
		s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("r")}, Role: bot.RoleAdmin, Tenant: "T-1"})
		require.NoError(t, err)
		assert.Equal(t, bot.RoleAdmin, s.Role)
		assert.Equal(t, "t-1", s.Tenant)
		s2, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("r")}, Role: bot.RoleStaff})
		require.NoError(t, err)
		assert.Equal(t, bot.RoleAdmin, s2.Role)
	})
	t.Run("TwoSubjectsMerge", func(t *testing.T) {
		x, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900001"}}})
		require.NoError(t, err)
		y, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDLID, Value: "1@lid"}}})
		require.NoError(t, err)
		require.NotEqual(t, x.ID, y.ID)
		z, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{
			{Kind: bot.IDLID, Value: "1@lid"}, {Kind: bot.IDPhone, Value: "+447700900001"}, {Kind: bot.IDLID, Value: "2@lid"}}})
		require.NoError(t, err)
		assert.Contains(t, []bot.SubjectID{x.ID, y.ID}, z.ID)
		got, err := db.FindSubjects(ctx, bot.Identity{Kind: bot.IDLID, Value: "2@lid"})
		require.NoError(t, err)
		assert.Equal(t, []bot.SubjectID{z.ID}, got)
	})
	t.Run("LongNameCut", func(t *testing.T) {
		s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{phone, phone}, Name: strings.Repeat("é", maxNameLen)})
		require.NoError(t, err)
		assert.Equal(t, a.ID, s.ID)
		assert.Equal(t, strings.Repeat("é", maxNameLen/2), s.Name)
	})
	for _, tc := range []struct {
		name string
		in   bot.SubjectInput
	}{
		{"NoIdentity", bot.SubjectInput{}},
		{"EmptyValue", bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone}}}},
		{"Tenant", bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDTenant, Value: "t"}}}},
		{"UnknownKind", bot.SubjectInput{Identities: []bot.Identity{{Kind: "fax", Value: "1"}}}},
		{"BadRole", bot.SubjectInput{Identities: []bot.Identity{phone}, Role: "god"}},
	} {
		t.Run("Err"+tc.name, func(t *testing.T) {
			_, err := db.ResolveSubject(ctx, tc.in)
			assert.Error(t, err)
		})
	}
}

func TestFindSubjects(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	a, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("a")}, Role: bot.RoleStaff, Tenant: "tenant-1"})
	require.NoError(t, err)
	b, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{staff("b")}, Role: bot.RoleStaff, Tenant: "TENANT-1"})
	require.NoError(t, err)
	c, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900555"}}})
	require.NoError(t, err)
	tests := []struct {
		name string
		id   bot.Identity
		want []bot.SubjectID
	}{
		{"Teams", bot.Identity{Kind: bot.IDTeams, Value: "AAD-A"}, []bot.SubjectID{a.ID}},
		{"Tenant", bot.Identity{Kind: bot.IDTenant, Value: "tenant-1"}, []bot.SubjectID{a.ID, b.ID}},
		{"Phone", bot.Identity{Kind: bot.IDPhone, Value: "+447700900555"}, []bot.SubjectID{c.ID}},
		{"Unknown", bot.Identity{Kind: bot.IDPhone, Value: "+447700900556"}, []bot.SubjectID{}},
		{"OtherKindSameValue", bot.Identity{Kind: bot.IDLID, Value: "+447700900555"}, []bot.SubjectID{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := db.FindSubjects(ctx, tc.id)
			require.NoError(t, err)
			assert.NotNil(t, got)
			assert.ElementsMatch(t, tc.want, got)
		})
	}
	_, err = db.FindSubjects(ctx, bot.Identity{})
	assert.ErrorIs(t, err, bot.ErrBadIdentity)
}

func TestSubjectSetters(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	s, err := db.ResolveSubject(ctx, bot.SubjectInput{Identities: []bot.Identity{{Kind: bot.IDPhone, Value: "+447700900123"}}, Name: "Old"})
	require.NoError(t, err)

	require.NoError(t, db.SetAIRestricted(ctx, s.ID, true))
	require.NoError(t, db.SetName(ctx, s.ID, "New Name"))
	require.NoError(t, db.SetRole(ctx, s.ID, bot.RoleStaff))
	got, err := db.FindSubject(ctx, s.ID)
	require.NoError(t, err)
	assert.True(t, got.AIRestricted)
	assert.Equal(t, "New Name", got.Name)
	assert.Equal(t, bot.RoleStaff, got.Role)
	assert.Equal(t, s.CreatedAt, got.CreatedAt)

	require.NoError(t, db.SetAIRestricted(ctx, s.ID, false))
	require.NoError(t, db.SetName(ctx, s.ID, ""))
	require.NoError(t, db.SetRole(ctx, s.ID, bot.RoleCustomer))
	got, err = db.FindSubject(ctx, s.ID)
	require.NoError(t, err)
	assert.False(t, got.AIRestricted)
	assert.Empty(t, got.Name)
	assert.Equal(t, bot.RoleCustomer, got.Role)

	assert.Error(t, db.SetRole(ctx, s.ID, "root"))
	assert.ErrorIs(t, db.SetName(ctx, s.ID, string(make([]byte, maxNameLen+1))), bot.ErrTooLarge)
	missing := bot.NewSubjectID()
	assert.ErrorIs(t, db.SetAIRestricted(ctx, missing, true), bot.ErrNotFound)
	assert.ErrorIs(t, db.SetRole(ctx, missing, bot.RoleStaff), bot.ErrNotFound)
	assert.ErrorIs(t, db.SetName(ctx, missing, "x"), bot.ErrNotFound)
	_, err = db.FindSubject(ctx, missing)
	assert.ErrorIs(t, err, bot.ErrNotFound)
	_, err = db.Identities(ctx, missing)
	assert.ErrorIs(t, err, bot.ErrNotFound)
}

// FuzzNormalizeIdentity: normalising is idempotent, so an identity and its
// normalised form share one blind index, and nothing panics.
func FuzzNormalizeIdentity(f *testing.F) {
	for _, seed := range []struct{ kind, value string }{
		{"whatsapp", "+44 7700 900123"}, {"whatsapp", "07700900123"}, {"whatsapp-lid", "123:4@lid"},
		{"teams", " AAD-Object "}, {"tenant", "T"}, {"whatsapp", "+"}, {"whatsapp-lid", "@lid"},
	} {
		f.Add(seed.kind, seed.value)
	}
	kr, err := newKeyring(testKey, 1)
	require.NoError(f, err)
	f.Fuzz(func(t *testing.T, kind, value string) {
		id := bot.Identity{Kind: bot.IdentityKind(kind), Value: value}
		n := normalizeIdentity(id)
		assert.Equal(t, n, normalizeIdentity(n))
		assert.Equal(t, kr.identityIndex(id), kr.identityIndex(n))
		assert.Len(t, kr.identityIndex(id), 32)
	})
}

package drafts

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The business names itself as the controller of people's data: legal name,
// privacy contact (an e-mail or postal address) and, if it has one, its ICO
// registration number, set with /profile and kept in the profile file.
func TestProfileController(t *testing.T) {
	base := *sampleProfile(t)
	apply := func(t *testing.T, p Profile, args string) (Profile, error) {
		t.Helper()
		c, err := ParseProfileCommand(args)
		if err != nil {
			return Profile{}, err
		}
		return c.Apply(p)
	}
	p, err := apply(t, base, "set legal-name Brightwater Plumbing Ltd")
	require.NoError(t, err)
	p, err = apply(t, p, "set privacy-contact privacy@brightwater.example")
	require.NoError(t, err)
	p, err = apply(t, p, "set ico za123456")
	require.NoError(t, err)
	assert.Equal(t, Controller{LegalName: "Brightwater Plumbing Ltd", TradingName: "Brightwater Plumbing",
		PrivacyContact: "privacy@brightwater.example", ICORegistration: "ZA123456"}, p.Controller())
	s := p.Summary()
	assert.Contains(t, s, "Legal name: Brightwater Plumbing Ltd\n")
	assert.Contains(t, s, "Privacy contact: privacy@brightwater.example\n")
	assert.Contains(t, s, "ICO registration: ZA123456\n")

	path := filepath.Join(t.TempDir(), "profile.json")
	require.NoError(t, SaveProfile(path, p))
	back, err := LoadProfile(path)
	require.NoError(t, err)
	assert.Equal(t, p, back)

	addr, err := apply(t, p, "set privacy-contact Data Protection, 12 High Street, Bristol BS1 4DJ")
	require.NoError(t, err)
	assert.Equal(t, "Data Protection, 12 High Street, Bristol BS1 4DJ", addr.PrivacyContact, "a postal address is a contact too")

	cleared, err := apply(t, p, "set ico -")
	require.NoError(t, err)
	assert.Empty(t, cleared.ICORegistration)
	cleared, err = apply(t, cleared, "set legal_name -")
	require.NoError(t, err)
	assert.Empty(t, cleared.LegalName)

	assert.Empty(t, base.Controller().LegalName, "the sample sets none")
	assert.Contains(t, base.Summary(), "Legal name: (not set)\n")

	for _, bad := range []string{
		"set ico 12345678",        // not an ICO registration number
		"set ico Z12",             // too short
		"set privacy-contact a@b", // no domain
		"set privacy-contact x@",  // no domain
		"set privacy-contact <a@b.example>",
		"set privacy-contact hi", // neither an e-mail nor an address
		"set legal-name " + string(make([]byte, 0)) + "A\u202eB",
	} {
		_, err := apply(t, p, bad)
		assert.ErrorIs(t, err, ErrBadProfile, bad)
	}
}

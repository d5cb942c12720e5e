package privacy

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// With opening hours set, /privacy says the closed-hours reply is not AI
// and comes after /stop; without, it says nothing about one.
func TestNoticeClosedHoursReply(t *testing.T) {
	off := Policy{}.withDefaults().Notice()
	assert.NotContains(t, off, "opening hours")

	on := Policy{}.withDefaults().withController(Controller{LegalName: "Acme Plumbing Ltd", ClosedHoursReply: true}).Notice()
	lines := strings.Split(on, "\n")
	i := -1
	for n, l := range lines {
		if l == ClosedHoursNotice {
			i = n
		}
	}
	require.Positive(t, i, "the notice has the line:\n%s", on)
	assert.True(t, strings.HasPrefix(lines[i-1], "Your rights:"), "right after the rights, which name /stop")
	assert.Contains(t, lines[i-1], "/stop")
	assert.Len(t, lines, len(strings.Split(off, "\n"))+1)
}

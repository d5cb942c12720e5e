package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPackagesImportOnlyBot checks the module's layering: every package
// imports, of the module's own packages, only bot (test helpers also the
// package they serve); only cmd/switchboard names the concrete packages.
func TestPackagesImportOnlyBot(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not found")
	}
	const mod = "github.com/switchboard/switchboard/"
	cmd := exec.CommandContext(t.Context(), goBin, "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, mod+"...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	require.NoError(t, err)
	allowed := map[string][]string{
		mod + "cmd/switchboard": nil, // the wiring: anything
		mod + "store/storetest": {mod + "bot", mod + "store"},
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.NotEmpty(t, lines)
	for _, line := range lines {
		fields := strings.Fields(line)
		pkg := fields[0]
		ok, special := allowed[pkg]
		if special && ok == nil {
			continue
		}
		if !special {
			ok = []string{mod + "bot"}
		}
		for _, imp := range fields[1:] {
			if strings.HasPrefix(imp, mod) && !strings.HasPrefix(imp, mod+"internal/") {
				assert.Contains(t, ok, imp, "%s must not import %s", pkg, imp)
			}
		}
	}
}

package bot_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/switchboard/switchboard/bot"
)

// TestFailureStagesListed: every stage the router counts with
// Metrics.Failure (directly or through failLater) is in bot.FailureStages,
// which metrics backends export at zero from the start.
func TestFailureStagesListed(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var used []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			arg := -1
			switch sel.Sel.Name {
			case "Failure":
				arg = 0
			case "failLater":
				arg = 1
			}
			if arg < 0 || len(call.Args) <= arg {
				return true
			}
			lit, ok := call.Args[arg].(*ast.BasicLit)
			if !ok {
				if sel.Sel.Name == "Failure" {
					if id, ok := call.Args[arg].(*ast.Ident); ok && id.Name == "stage" {
						return true // failLater passes its own argument on
					}
					t.Errorf("%s: Failure with a stage that is not a literal", fset.Position(call.Pos()))
				}
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			require.NoError(t, err)
			used = append(used, s)
			return true
		})
	}
	require.NotEmpty(t, used)
	for _, s := range used {
		assert.Contains(t, bot.FailureStages, s, "stage %q is counted but not in bot.FailureStages", s)
	}
	assert.Len(t, slices.Compact(slices.Sorted(slices.Values(bot.FailureStages))), len(bot.FailureStages), "no duplicates")
}

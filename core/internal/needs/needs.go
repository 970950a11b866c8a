// Package needs is for tests that depend on a tool outside Go (h2spec, a
// Python module): where the tool is missing they skip, except under CI=true,
// where a suite that cannot run must fail and name what it lacks.
package needs

import (
	"os"
	"strings"
	"testing"
)

// Missing ends the test because something it needs is absent: a skip on a
// developer's machine, a failure in CI.
func Missing(t testing.TB, what string) {
	t.Helper()
	if strings.EqualFold(os.Getenv("CI"), "true") {
		t.Fatalf("CI=true and this test cannot run: %s", what)
	}
	t.Skip(what)
}

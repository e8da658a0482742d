package pkgmgr

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/patchbay/patchbay/internal/debtest"
	"github.com/patchbay/patchbay/internal/testtool"
)

var update = flag.Bool("update", false, "rewrite the captured tool output in testdata from the real tools")

// lookTool returns the path of a program a test runs (see testtool.Look).
func lookTool(t testing.TB, name string) string {
	t.Helper()
	return testtool.Look(t, name)
}

// run runs a program in dir ("" for the current one) and returns its
// stdout; a failure ends the test (see debtest.Run).
func run(t testing.TB, dir string, env []string, name string, args ...string) string {
	t.Helper()
	return debtest.Run(t, dir, env, name, args...)
}

func writeFile(t testing.TB, path, data string) {
	t.Helper()
	debtest.WriteFile(t, path, data)
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// capture saves a real tool's output as testdata/name, with the test's
// temporary directory replaced by placeholder, when go test -update runs.
func capture(t testing.TB, name string, out []byte, tmp, placeholder string) {
	t.Helper()
	if !*update {
		return
	}
	data := strings.ReplaceAll(string(out), tmp, placeholder)
	writeFile(t, filepath.Join("testdata", name), data)
	t.Logf("wrote testdata/%s", name)
}

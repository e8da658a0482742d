// Package testtool finds the real programs tests run (dpkg, rpm, apt-get,
// dnf, …). A missing program skips the test, unless
// PATCHBAY_TEST_REQUIRE_TOOLS is set (as .ci/run sets it): then it fails,
// so an oracle or driver test never silently stops running in CI.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// EnvRequire names the variable that turns skips into failures.
const EnvRequire = "PATCHBAY_TEST_REQUIRE_TOOLS"

// Look returns the path of program name, or skips (or fails) t.
func Look(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(t, name+" is not installed: "+err.Error())
	}
	return path
}

// SkipOrFail skips t for why, or fails it when EnvRequire is set.
func SkipOrFail(t testing.TB, why string) {
	t.Helper()
	if os.Getenv(EnvRequire) != "" {
		t.Fatalf("%s (%s is set)", why, EnvRequire)
	}
	t.Skip(why)
}

package version

import (
	"os"
	"testing"
)

// skipOrFail skips a test whose real tool is missing, or fails it when
// PATCHBAY_TEST_REQUIRE_TOOLS is set (as CI sets it), so an oracle test
// never silently stops running.
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("PATCHBAY_TEST_REQUIRE_TOOLS") != "" {
		t.Fatalf("%s (PATCHBAY_TEST_REQUIRE_TOOLS is set)", why)
	}
	t.Skip(why)
}

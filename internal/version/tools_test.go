package version

import (
	"testing"

	"github.com/patchbay/patchbay/internal/testtool"
)

// skipOrFail skips a test whose real tool is missing (see testtool).
func skipOrFail(t *testing.T, why string) {
	t.Helper()
	testtool.SkipOrFail(t, why)
}

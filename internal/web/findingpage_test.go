package web

import (
	"testing"

	"github.com/patchbay/patchbay"
)

// TestFindingPage: findings page in the store's order by the last one's
// key; a cursor that is not one is refused naming the parameter.
func TestFindingPage(t *testing.T) {
	var fs []patchbay.Finding
	for h := int64(1); h <= 3; h++ {
		for _, adv := range []string{"DSA-1", "DSA-2"} {
			fs = append(fs, patchbay.Finding{HostID: h, Advisory: adv, Package: patchbay.Package{Name: "openssl", Arch: "amd64"}})
		}
	}
	var got []patchbay.Finding
	var after *findingKey
	for pages := 0; ; pages++ {
		page := findingPage(fs, after, 4)
		got = append(got, page.Items...)
		if page.NextCursor == "" {
			break
		}
		if pages > 3 {
			t.Fatal("no end of pages")
		}
		var err error
		if after, err = findingCursorOf(page.NextCursor); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != len(fs) {
		t.Fatalf("%d findings over the pages, want %d", len(got), len(fs))
	}
	for i := range fs {
		if keyOf(got[i]) != keyOf(fs[i]) {
			t.Fatalf("finding %d: %+v, want %+v", i, keyOf(got[i]), keyOf(fs[i]))
		}
	}
	if page := findingPage(fs, nil, 0); len(page.Items) != len(fs) || page.NextCursor != "" {
		t.Errorf("no limit: %d items, cursor %q", len(page.Items), page.NextCursor)
	}
	if _, err := findingCursorOf("not-a-cursor!"); patchbay.ErrorCodeOf(err) != patchbay.EInvalid {
		t.Errorf("a bad cursor: %v, want an invalid parameter", err)
	}
}

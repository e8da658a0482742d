package main

import (
	"strconv"
	"testing"

	"github.com/patchbay/patchbay/internal/apiv1"
)

// TestCollectPages walks a listing of 2,500 items served 1,000 a page.
func TestCollectPages(t *testing.T) {
	const total = 2500
	var asked []int
	page := func(cursor string, n int) (apiv1.List[int], error) {
		start := 0
		if cursor != "" {
			start, _ = strconv.Atoi(cursor)
		}
		asked = append(asked, n)
		var l apiv1.List[int]
		for i := start; i < min(start+n, total); i++ {
			l.Items = append(l.Items, i)
		}
		if end := start + len(l.Items); end < total && len(l.Items) == n {
			l.NextCursor = strconv.Itoa(end)
		}
		return l, nil
	}
	for _, tc := range []struct{ limit, want int }{{10, 10}, {1000, 1000}, {1500, 1500}, {5000, total}} {
		asked = nil
		got, err := collect(tc.limit, page)
		if err != nil || len(got) != tc.want {
			t.Fatalf("collect(%d) = %d items, %v; want %d", tc.limit, len(got), err, tc.want)
		}
		for i, v := range got {
			if v != i {
				t.Fatalf("collect(%d): item %d is %d: pages overlap or skip", tc.limit, i, v)
			}
		}
		for _, n := range asked {
			if n > 1000 {
				t.Fatalf("collect(%d) asked for a page of %d, over the API's 1,000", tc.limit, n)
			}
		}
	}
}

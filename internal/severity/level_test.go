package severity

import (
	"slices"
	"testing"
)

func TestCompareOrder(t *testing.T) {
	// Ascending order, Unknown above Critical; a stray value sorts as Unknown.
	want := []Level{None, Low, Medium, High, Critical, Unknown}
	for i, a := range want {
		for j, b := range want {
			wantC := 0
			if i < j {
				wantC = -1
			} else if i > j {
				wantC = +1
			}
			if got := Compare(a, b); got != wantC {
				t.Errorf("Compare(%q, %q) = %d, want %d", a, b, got, wantC)
			}
		}
	}
	got := []Level{Unknown, Low, Critical, None, High, Medium}
	slices.SortFunc(got, Compare)
	if !slices.Equal(got, want) {
		t.Errorf("sorted = %v, want %v", got, want)
	}
	if Compare("bogus", Unknown) != 0 || Compare("bogus", Critical) != +1 {
		t.Errorf("Compare(%q, …): want it ranked as Unknown", "bogus")
	}
}

func TestKnown(t *testing.T) {
	for _, tc := range []struct {
		l    Level
		want bool
	}{
		{Critical, true}, {High, true}, {Medium, true}, {Low, true}, {None, true},
		{Unknown, false}, {"", false}, {"bogus", false},
	} {
		if got := tc.l.Known(); got != tc.want {
			t.Errorf("Level(%q).Known() = %v, want %v", tc.l, got, tc.want)
		}
	}
}

func TestParseLevel(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    Level
		wantErr bool
	}{
		{"critical", Critical, false},
		{" High ", High, false},
		{"MEDIUM", Medium, false},
		{"low", Low, false},
		{"none", None, false},
		{"Unknown", Unknown, false},
		{"moderate", "", true},
		{"", "", true},
	} {
		got, err := ParseLevel(tc.in)
		if (err != nil) != tc.wantErr || got != tc.want {
			t.Errorf("ParseLevel(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

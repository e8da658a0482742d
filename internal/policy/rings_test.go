package policy

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/patchbay/patchbay"
)

// fleetOf returns hosts 1..n; those whose id is in pilots carry label
// "pilot", those in db are in group "db".
func fleetOf(n int, pilots, db []int64) []*patchbay.Host {
	hs := make([]*patchbay.Host, n)
	for i := range hs {
		h := host(int64(i+1), "")
		if slices.Contains(pilots, h.ID) {
			h.Labels = []string{"pilot"}
		}
		if slices.Contains(db, h.ID) {
			h.Groups = []string{"db"}
		}
		hs[i] = h
	}
	return hs
}

func TestAssignRings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		specs  []patchbay.RingSpec
		hosts  []*patchbay.Host
		want   []int // ring per host, in host order
		counts []int
	}{
		{"pilot label, then 10%, then the rest",
			[]patchbay.RingSpec{{Name: "pilot", Label: "pilot"}, {Name: "ten", Percent: 10}, {Name: "rest"}},
			fleetOf(20, []int64{7, 19}, nil),
			// 10% of 20 is 2: hosts 1 and 2, the first left in id order.
			[]int{1, 1, 2, 2, 2, 2, 0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 2},
			[]int{2, 2, 16}},
		{"percent rounds up",
			[]patchbay.RingSpec{{Name: "ten", Percent: 10}, {Name: "rest"}},
			fleetOf(11, nil, nil),
			[]int{0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1},
			[]int{2, 9}},
		{"label before group, a host only once",
			[]patchbay.RingSpec{{Name: "pilot", Label: "pilot"}, {Name: "db", Group: "db"}, {Name: "rest"}},
			fleetOf(5, []int64{2, 3}, []int64{3, 4}),
			[]int{2, 0, 0, 1, 2},
			[]int{2, 1, 2}},
		{"label ring later in order still goes first",
			[]patchbay.RingSpec{{Name: "two", Count: 2}, {Name: "pilot", Label: "pilot"}, {Name: "rest"}},
			fleetOf(5, []int64{1}, nil),
			[]int{1, 0, 0, 2, 2},
			[]int{2, 1, 2}},
		{"leftovers go to the last ring",
			[]patchbay.RingSpec{{Name: "pilot", Label: "pilot"}, {Name: "three", Count: 3}},
			fleetOf(6, []int64{6}, nil),
			[]int{1, 1, 1, 1, 1, 0},
			[]int{1, 5}},
		{"count larger than what is left",
			[]patchbay.RingSpec{{Name: "half", Percent: 50}, {Name: "ten", Count: 10}, {Name: "rest"}},
			fleetOf(4, nil, nil),
			[]int{0, 0, 1, 1},
			[]int{2, 2, 0}},
		{"empty rings stay listed",
			[]patchbay.RingSpec{{Name: "pilot", Label: "pilot"}, {Name: "rest"}},
			fleetOf(2, nil, nil),
			[]int{1, 1},
			[]int{0, 2}},
		{"no hosts", []patchbay.RingSpec{{Name: "a", Percent: 10}, {Name: "rest"}}, nil, []int{}, []int{0, 0}},
		{"no specs: one ring", nil, fleetOf(2, nil, nil), []int{0, 0}, []int{2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, rings := AssignRings(tc.specs, tc.hosts)
			counts := make([]int, len(rings))
			for i, r := range rings {
				counts[i] = r.Hosts
				if i < len(tc.specs) && r.RingSpec != tc.specs[i] {
					t.Errorf("ring %d spec %+v; want %+v", i, r.RingSpec, tc.specs[i])
				}
			}
			if !slices.Equal(got, tc.want) || !slices.Equal(counts, tc.counts) {
				t.Errorf("AssignRings = %v, counts %v; want %v, %v", got, counts, tc.want, tc.counts)
			}
		})
	}
}

// TestAssignRingsOrder holds the result to the hosts' IDs, not their order
// in the slice.
func TestAssignRingsOrder(t *testing.T) {
	specs := []patchbay.RingSpec{{Name: "pilot", Label: "pilot"}, {Name: "ten", Percent: 10}, {Name: "five", Count: 5}, {Name: "rest"}}
	hosts := fleetOf(100, []int64{3, 50, 99}, nil)
	want, wantRings := AssignRings(specs, hosts)
	byID := map[int64]int{}
	for i, h := range hosts {
		byID[h.ID] = want[i]
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		shuffled := slices.Clone(hosts)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, rings := AssignRings(specs, shuffled)
		for i, h := range shuffled {
			if got[i] != byID[h.ID] {
				t.Fatalf("shuffled: host %d in ring %d; in id order it is in %d", h.ID, got[i], byID[h.ID])
			}
		}
		if !slices.Equal(rings, wantRings) {
			t.Fatalf("shuffled: rings %+v; want %+v", rings, wantRings)
		}
	}
}

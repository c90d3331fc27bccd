package nemesis

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

func TestGrudges(t *testing.T) {
	five := ids(5)
	for _, tc := range []struct {
		name string
		g    Grudge
		want Grudge
	}{
		{"isolate", Isolate(five, "n3"), Grudge{
			"n3": {"n1", "n2", "n4", "n5"},
			"n1": {"n3"}, "n2": {"n3"}, "n4": {"n3"}, "n5": {"n3"},
		}},
		{"halves", Halves(five), Grudge{
			"n1": {"n3", "n4", "n5"}, "n2": {"n3", "n4", "n5"},
			"n3": {"n1", "n2"}, "n4": {"n1", "n2"}, "n5": {"n1", "n2"},
		}},
		{"minority-third of 5", MinorityThird(five), Grudge{
			"n1": {"n2", "n3", "n4", "n5"},
			"n2": {"n1"}, "n3": {"n1"}, "n4": {"n1"}, "n5": {"n1"},
		}},
		{"minority-third of 9", MinorityThird(ids(9)), Split(ids(9)[:3], ids(9)[3:])},
		{"bridge", must(Bridge(five)), Grudge{
			"n1": {"n4", "n5"}, "n2": {"n4", "n5"},
			"n4": {"n1", "n2"}, "n5": {"n1", "n2"},
		}},
		{"one-way", OneWay(five, "n2"), Grudge{"n2": {"n1", "n3", "n4", "n5"}}},
		{"majorities-ring of 5", must(MajoritiesRing(five)), Grudge{
			"n1": {"n3", "n4"}, "n2": {"n4", "n5"}, "n3": {"n1", "n5"},
			"n4": {"n1", "n2"}, "n5": {"n2", "n3"},
		}},
		{"majorities-ring of 4", must(MajoritiesRing(ids(4))), Grudge{
			"n1": {"n3"}, "n2": {"n4"}, "n3": {"n1"}, "n4": {"n2"},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, tc.g)
		})
	}
}

func must(g Grudge, err error) Grudge {
	if err != nil {
		panic(err)
	}
	return g
}

// Every node of a majorities ring sees a majority (exactly one when a
// symmetric ring allows it), the cut is symmetric, and no two nodes see
// the same set.
func TestMajoritiesRingProperties(t *testing.T) {
	for n := 4; n <= 12; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			nodes := ids(n)
			g, err := MajoritiesRing(nodes)
			require.NoError(t, err)
			seen := map[string]string{}
			for _, x := range nodes {
				sees := g.Sees(nodes, x)
				want := n/2 + 1
				if n%2 == 1 && (n/2)%2 == 1 {
					want++ // no symmetric ring gives exactly a majority
				}
				assert.Len(t, sees, want, "%s sees %v", x, sees)
				assert.Greater(t, 2*len(sees), n, "%s must see a majority", x)
				key := fmt.Sprint(sees)
				assert.NotContains(t, seen, key, "%s and %s see the same majority", x, seen[key])
				seen[key] = x
				for _, y := range g[x] {
					assert.Contains(t, g[y], x, "the ring cut must be symmetric (%s drops %s)", x, y)
				}
			}
		})
	}
	_, err := MajoritiesRing(ids(3))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "at least 4 nodes")
}

// Split-based topologies cut the cluster into exactly two sides that see
// nothing of each other, of the documented sizes.
func TestSplitsAreCleanCuts(t *testing.T) {
	for n := 2; n <= 9; n++ {
		nodes := ids(n)
		for _, tc := range []struct {
			name     string
			g        Grudge
			minority int
		}{
			{"halves", Halves(nodes), n / 2},
			{"minority-third", MinorityThird(nodes), max(1, n/3)},
			{"one", Isolate(nodes, nodes[0]), 1},
		} {
			// Connectivity is an equivalence with two classes.
			sides := map[string]int{}
			var sizes []int
			for _, x := range nodes {
				if _, ok := sides[x]; ok {
					continue
				}
				sides[x] = len(sizes)
				size := 1
				for _, y := range nodes {
					if y != x && tc.g.Connected(x, y) {
						sides[y] = len(sizes)
						size++
					}
				}
				sizes = append(sizes, size)
			}
			require.Len(t, sizes, 2, "%s n=%d", tc.name, n)
			for _, x := range nodes {
				for _, y := range nodes {
					if x != y {
						assert.Equal(t, sides[x] == sides[y], tc.g.Connected(x, y), "%s n=%d: %s-%s", tc.name, n, x, y)
					}
				}
			}
			assert.Equal(t, tc.minority, min(sizes[0], sizes[1]), "%s n=%d", tc.name, n)
		}
	}
}

func contains(s []string, x string) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func TestBridgeNeedsThreeNodes(t *testing.T) {
	_, err := Bridge(ids(2))
	require.Error(t, err)
	g, err := Bridge(ids(3))
	require.NoError(t, err)
	assert.True(t, g.Connected("n1", "n2") && g.Connected("n2", "n3"), "the bridge sees both sides")
	assert.False(t, g.Connected("n1", "n3"))
}

func TestParseTopologies(t *testing.T) {
	got, err := ParseTopologies("")
	require.NoError(t, err)
	assert.Equal(t, Topologies, got)
	got, err = ParseTopologies("one, majority,one")
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "halves"}, got)
	_, err = ParseTopologies("one,triangle")
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"triangle"`)
	assert.Contains(t, err.Error(), "majorities-ring")
}

package checkers_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/faultline/faultline/checkers"
	"github.com/faultline/faultline/history"
)

// Events at equal times are ordered by their position in the history (the
// contract: one line per event, in the order they happened), so a clock
// too coarse to tell two events apart does not make them concurrent: an
// operation that completes at t precedes one invoked at t on a later line,
// and overlaps one invoked at t on an earlier line. Each history is given
// once with the tie decided one way and once the other.
func TestEqualTimesFollowHistoryOrder(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		lines       []string
		want        checkers.Validity
	}{
		// F3: with the write's ok and the read's invoke at time 7, the
		// read follows the write: reading nothing is stale.
		{"read after a write completed at the same time", "linearizable", []string{
			`{"index":0,"time":5,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
			`{"index":1,"time":7,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
			`{"index":2,"time":7,"process":0,"type":"invoke","f":"read","key":"k","value":null}`,
			`{"index":3,"time":9,"process":0,"type":"ok","f":"read","key":"k","value":null}`,
		}, checkers.Invalid},
		{"read invoked before the write completed, at the same time", "linearizable", []string{
			`{"index":0,"time":5,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
			`{"index":1,"time":7,"process":1,"type":"invoke","f":"read","key":"k","value":null}`,
			`{"index":2,"time":7,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
			`{"index":3,"time":9,"process":1,"type":"ok","f":"read","key":"k","value":null}`,
		}, checkers.Valid},
		// Everything at one time: the position alone orders them.
		{"all at one time, sequential", "linearizable", []string{
			`{"index":0,"time":3,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
			`{"index":1,"time":3,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
			`{"index":2,"time":3,"process":1,"type":"invoke","f":"read","key":"k","value":null}`,
			`{"index":3,"time":3,"process":1,"type":"ok","f":"read","key":"k","value":null}`,
		}, checkers.Invalid},
		{"all at one time, concurrent: reads nothing", "linearizable", []string{
			`{"index":0,"time":3,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
			`{"index":1,"time":3,"process":1,"type":"invoke","f":"read","key":"k","value":null}`,
			`{"index":2,"time":3,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
			`{"index":3,"time":3,"process":1,"type":"ok","f":"read","key":"k","value":null}`,
		}, checkers.Valid},
		{"all at one time, concurrent: reads the write", "linearizable", []string{
			`{"index":0,"time":3,"process":0,"type":"invoke","f":"write","key":"k","value":1}`,
			`{"index":1,"time":3,"process":1,"type":"invoke","f":"read","key":"k","value":null}`,
			`{"index":2,"time":3,"process":0,"type":"ok","f":"write","key":"k","value":1}`,
			`{"index":3,"time":3,"process":1,"type":"ok","f":"read","key":"k","value":1}`,
		}, checkers.Valid},
		// The set checker: a final read invoked once the add completed
		// must contain it; one invoked before, at the same time, need not.
		{"set: final read after the add at the same time", "set", []string{
			`{"index":0,"time":1,"process":0,"type":"invoke","f":"add","key":"s","value":1}`,
			`{"index":1,"time":1,"process":0,"type":"ok","f":"add","key":"s","value":1}`,
			`{"index":2,"time":2,"process":0,"type":"invoke","f":"add","key":"s","value":2}`,
			`{"index":3,"time":4,"process":0,"type":"ok","f":"add","key":"s","value":2}`,
			`{"index":4,"time":4,"process":1,"type":"invoke","f":"read","key":"s","value":null,"final":true}`,
			`{"index":5,"time":6,"process":1,"type":"ok","f":"read","key":"s","value":[1],"final":true}`,
		}, checkers.Invalid},
		{"set: final read before the add completed, at the same time", "set", []string{
			`{"index":0,"time":1,"process":0,"type":"invoke","f":"add","key":"s","value":1}`,
			`{"index":1,"time":1,"process":0,"type":"ok","f":"add","key":"s","value":1}`,
			`{"index":2,"time":2,"process":0,"type":"invoke","f":"add","key":"s","value":2}`,
			`{"index":3,"time":4,"process":1,"type":"invoke","f":"read","key":"s","value":null,"final":true}`,
			`{"index":4,"time":4,"process":0,"type":"ok","f":"add","key":"s","value":2}`,
			`{"index":5,"time":6,"process":1,"type":"ok","f":"read","key":"s","value":[1],"final":true}`,
		}, checkers.Unknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr, err := history.Read(strings.NewReader(strings.Join(tc.lines, "\n") + "\n"))
			require.NoError(t, err)
			c, err := checkers.New(tc.model, checkers.Options{})
			require.NoError(t, err)
			res := c.Check(context.Background(), rr.Events)
			require.Equal(t, tc.want, res.Valid, "%s %+v", res.Reason, res.Anomalies)
		})
	}
}

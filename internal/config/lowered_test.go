package config

import (
	"strings"
	"testing"
)

// TestARefusedBodyLimitBlamesOnlyTheVariablesSet: the event limit was
// lowered to a body limit of 10 before it was checked, so start-up also
// said TRIBUTARY_MAX_EVENT_BYTES must be at least 16, got 10, of a
// variable nobody had set.
func TestARefusedBodyLimitBlamesOnlyTheVariablesSet(t *testing.T) {
	for _, tc := range []struct {
		name             string
		env              map[string]string
		blamed, notBlame []string
	}{
		{"body 10", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "10"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES must"}, []string{"TRIBUTARY_MAX_EVENT_BYTES"}},
		{"body 0", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "0"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES must"}, []string{"TRIBUTARY_MAX_EVENT_BYTES"}},
		{"body -1", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "-1"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES must"}, []string{"TRIBUTARY_MAX_EVENT_BYTES"}},
		{"body 10 and in flight 0", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "10", "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT": "0"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES must", "TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT must"}, []string{"TRIBUTARY_MAX_EVENT_BYTES"}},
		{"both too small", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "10", "TRIBUTARY_MAX_EVENT_BYTES": "8"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES must", "TRIBUTARY_MAX_EVENT_BYTES must be at least 16, got 8"}, nil},
		{"the event limit alone", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "2048", "TRIBUTARY_MAX_EVENT_BYTES": "10"},
			[]string{"TRIBUTARY_MAX_EVENT_BYTES must be at least 16, got 10"}, []string{"TRIBUTARY_MAX_BODY_BYTES must"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTributaryEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := Load()
			if err == nil {
				t.Fatalf("%v: started; expected it refused", tc.env)
			}
			for _, want := range tc.blamed {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%v: the error does not say %q:\n%v", tc.env, want, err)
				}
			}
			for _, not := range tc.notBlame {
				if strings.Contains(err.Error(), not) {
					t.Errorf("%v: the error names %s, which is not to blame:\n%v", tc.env, not, err)
				}
			}
		})
	}
}

// TestAnExplicitByteLimitNotInForceIsWarnedOf: a limit the operator set
// that another one overrides (an event limit above the body limit, a
// budget in flight below it) was changed without a word: start-up says
// which setting is not in force and what is. A default raised so is
// warned of too: a body limit of 300 MB raised the bound on the bodies in
// flight, a memory bound, without a word (to no bound at all for the
// largest). A default lowered so (the event limit) only tightens, and is
// not.
func TestAnExplicitByteLimitNotInForceIsWarnedOf(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   map[string]string
		warns []string // each in one warning; none expected if empty
	}{
		{"the defaults", nil, nil},
		{"an event limit above the body limit", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "2048", "TRIBUTARY_MAX_EVENT_BYTES": "4096"},
			[]string{"TRIBUTARY_MAX_EVENT_BYTES (4096)", "2048"}},
		{"an event limit equal to the body limit", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "2048", "TRIBUTARY_MAX_EVENT_BYTES": "2048"}, nil},
		{"the default event limit above a small body limit", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "2048"}, nil},
		{"a budget in flight below the body limit", map[string]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT": "1"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT (1)", "4194304"}},
		{"a client's budget below the body limit", map[string]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT": "1"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT (1)", "4194304"}},
		{"a client's budget above the whole", map[string]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT": "536870912"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT (536870912)", "268435456"}},
		{"a client's budget at its default", map[string]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT": "0"}, nil},
		{"the default budget in flight below a large body limit", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "300000000"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT (its default, 268435456)", "raised to 300000000"}},
		// A client's budget left at its default, half of all clients',
		// below the body limit given, is raised to one body: said, as for
		// one given (the twenty-fifth session).
		{"a body limit above a client's default budget", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "200000000"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT (its default, half of TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT: 134217728)", "raised to 200000000"}},
		{"a budget in flight below two bodies", map[string]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT": "6000000"},
			[]string{"TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT_PER_CLIENT (its default, half of TRIBUTARY_MAX_BODY_BYTES_IN_FLIGHT: 3000000)", "raised to 4194304"}},
		{"a body limit at a client's default budget", map[string]string{"TRIBUTARY_MAX_BODY_BYTES": "134217728"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTributaryEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load()
			if err != nil {
				t.Fatalf("%v: %v", tc.env, err)
			}
			got := c.Warnings()
			if len(tc.warns) == 0 {
				if len(got) != 0 {
					t.Fatalf("%v: warned %q; expected no warning", tc.env, got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("%v: warned %q; expected one warning", tc.env, got)
			}
			for _, want := range tc.warns {
				if !strings.Contains(got[0], want) {
					t.Errorf("%v: the warning %q does not say %q", tc.env, got[0], want)
				}
			}
		})
	}
}

// TestAStallTimeoutGivenBelowTwoHeartbeatsIsWarnedOf: a sibling of the
// byte limits. TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT is raised to two
// heartbeats if shorter (a subscriber that takes every keep-alive must not
// be cut between two), and a value given so was raised without a word, as
// was the default under a heartbeat given above half of it.
func TestAStallTimeoutGivenBelowTwoHeartbeatsIsWarnedOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		warn string // "" for none
	}{
		{"below two default heartbeats", map[string]string{"TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT": "10s"}, "TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT (10s)"},
		{"below two heartbeats given", map[string]string{"TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT": "30s", "TRIBUTARY_HEARTBEAT": "20s"}, "TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT (30s)"},
		{"two heartbeats", map[string]string{"TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT": "30s"}, ""},
		{"the default below two heartbeats given", map[string]string{"TRIBUTARY_HEARTBEAT": "29s"}, "TRIBUTARY_SUBSCRIBER_STALL_TIMEOUT (its default, 30s)"},
		{"the default at two heartbeats given", map[string]string{"TRIBUTARY_HEARTBEAT": "15s"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clearTributaryEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			c, err := Load()
			if err != nil {
				t.Fatalf("%v: %v", tc.env, err)
			}
			got := c.Warnings()
			switch {
			case tc.warn == "" && len(got) != 0:
				t.Errorf("%v: warned %q; expected no warning", tc.env, got)
			case tc.warn != "" && (len(got) != 1 || !strings.Contains(got[0], tc.warn) || !strings.Contains(got[0], "raised to")):
				t.Errorf("%v: warned %q; expected one warning naming %s and what it is raised to", tc.env, got, tc.warn)
			}
		})
	}
}

// TestAPerClientSubscriberLimitAboveTheWholeIsWarnedOf: a client's share of
// the subscriptions set above all of them bounds nothing, and said nothing
// (retest), where the other settings not in force are warned of.
func TestAPerClientSubscriberLimitAboveTheWholeIsWarnedOf(t *testing.T) {
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_MAX_SUBSCRIBERS", "10")
	t.Setenv("TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT", "50")
	c, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Warnings(); len(got) != 1 || !strings.Contains(got[0], "TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT (50)") || !strings.Contains(got[0], "bounds nothing") {
		t.Errorf("50 subscriptions per client of 10: warned %q; want one warning naming the setting and that it bounds nothing", got)
	}
	clearTributaryEnv(t)
	t.Setenv("TRIBUTARY_MAX_SUBSCRIBERS", "10")
	t.Setenv("TRIBUTARY_MAX_SUBSCRIBERS_PER_CLIENT", "10")
	if c, err := Load(); err != nil || len(c.Warnings()) != 0 {
		t.Errorf("10 subscriptions per client of 10: %v, warned %q; want no warning", err, c.Warnings())
	}
}

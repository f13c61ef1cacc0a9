package client

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"
)

// subscribeFor subscribes to srv with opts for at most d, until want events
// have come (0: until the subscription ends), and returns every message it
// delivered, caught-up ones included, with the error that ended it: nil
// when want events came.
func subscribeFor(t *testing.T, srv *httptest.Server, d time.Duration, opts SubscribeOptions, want int) ([]Message, error) {
	t.Helper()
	c := newClient(t, srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got []Message
	events := 0
	for m, err := range c.Subscribe(ctx, opts) {
		if err != nil {
			return got, err
		}
		got = append(got, m)
		if !m.CaughtUp {
			events++
		}
		if want > 0 && events >= want {
			break
		}
	}
	return got, nil
}

// positions is the position of each message's event, in order: 0 for a
// caught-up message, which a test that expects events alone then sees.
func positions(msgs []Message) []int64 {
	got := make([]int64, len(msgs))
	for i, m := range msgs {
		got[i] = m.Event.Position
	}
	return got
}

// versions is the version of each message's event, in order: 0 for a
// caught-up message.
func versions(msgs []Message) []int64 {
	got := make([]int64, len(msgs))
	for i, m := range msgs {
		got[i] = m.Event.Version
	}
	return got
}

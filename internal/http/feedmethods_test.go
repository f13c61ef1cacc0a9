package http_test

import (
	"context"
	"time"
)

// The test feeds that are no fanout.Feed cannot say when they last read
// the log (never judged stalled), nor a database beyond mending, and take
// no turns among the reads of history (esthttp.Feed).

func (historyPanicFeed) LastPoll() time.Time                     { return time.Time{} }
func (historyPanicFeed) Unmendable() error                       { return nil }
func (historyPanicFeed) Reading(context.Context) (func(), error) { return func() {}, nil }

func (*panickyFeed) LastPoll() time.Time                     { return time.Time{} }
func (*panickyFeed) Unmendable() error                       { return nil }
func (*panickyFeed) Reading(context.Context) (func(), error) { return func() {}, nil }

func (typePanicFeed) LastPoll() time.Time                     { return time.Time{} }
func (typePanicFeed) Unmendable() error                       { return nil }
func (typePanicFeed) Reading(context.Context) (func(), error) { return func() {}, nil }

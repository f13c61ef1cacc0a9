package http

import (
	"context"
	"time"
)

// benchFeed cannot say when it last read the log (never judged stalled),
// nor a database beyond mending, and takes no turns among the reads of
// history (Feed).

func (*benchFeed) LastPoll() time.Time                     { return time.Time{} }
func (*benchFeed) Unmendable() error                       { return nil }
func (*benchFeed) Reading(context.Context) (func(), error) { return func() {}, nil }

package http_test

import "time"

// The test feeds that are no fanout.Feed cannot say when they last read
// the log (esthttp.Feed.LastPoll): never judged stalled.

func (historyPanicFeed) LastPoll() time.Time { return time.Time{} }
func (*panickyFeed) LastPoll() time.Time     { return time.Time{} }
func (typePanicFeed) LastPoll() time.Time    { return time.Time{} }

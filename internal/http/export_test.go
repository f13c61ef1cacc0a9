package http

import "time"

// LargeFrames reports what s's frame cache holds of large frames now: how
// many it keeps, how many holds subscriptions' writes have on them (one for
// each write that holds one by reference), and the bytes of the frames
// those writes hold, each frame counted once however many hold it.
func LargeFrames(s *Server) (frames, pins, pinnedBytes int) {
	c := &s.frames
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, f := range c.large {
		pins += f.frame.pins
	}
	return len(c.large), pins, c.pinned
}

// SetAppendsRefusedClock has s's /readyz tell how long ago appends were
// refused by now instead of time.Now.
func SetAppendsRefusedClock(s *Server, now func() time.Time) {
	s.appendsRefused.mu.Lock()
	defer s.appendsRefused.mu.Unlock()
	s.appendsRefused.now = now
}

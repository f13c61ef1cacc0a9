package http

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

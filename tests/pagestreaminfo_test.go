package tests

import "testing"

// TestPageStreamViewRecoversFromAFailedReadOfTheStream: a stream's view
// reads the stream's details first. When that read failed for want of the
// server (a network drop, a restart, no answer within 10 s, a 5xx) the view
// said "Stopped" and stayed so, its tail never started, until the user
// reloaded or left, where the live log, the stream list and the stream's
// own history read try again. It now tries again too, with backoff, says
// when, and shows the stream once the server answers. Here the first read
// of the stream fails as a dropped connection does.
func TestPageStreamViewRecoversFromAFailedReadOfTheStream(t *testing.T) {
	t.Parallel()
	s, b, id := startPageWithAStream(t, "order", 2, "OrderNoted")
	b.dropFirstRead(t, "/streams/"+id, "streamReads")
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the stream's events, read again", versionsJS, "[2,1]")
	b.waitFor(t, "the live tail", statusJS, `"Live at version 2: caught up"`)
	b.waitFor(t, "the stream's type in its details", `return document.getElementById('stream-stream-type').textContent`, `"order"`)
	b.waitFor(t, "the error gone", `return document.getElementById('error').hidden`, "true")
	s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")})
	b.waitFor(t, "the next event, live", versionsJS, "[3,2,1]")
}

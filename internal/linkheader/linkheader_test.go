package linkheader

import "testing"

func TestNextFindsRelNext(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		links []string
		want  string
	}{
		{[]string{`</events?after=1000&limit=1000>; rel="next"`}, "/events?after=1000&limit=1000"},
		{[]string{`</a>; rel="prev", </b>; rel=next`}, "/b"},
		{[]string{`</a>; rel="prev"`, `</c>;rel="next"`}, "/c"},
		{nil, ""},
		{[]string{`<>; rel="next"`}, ""}, // the page itself: found, below
		{[]string{`/d; rel="next"`}, ""}, // not a URI reference in brackets
		{[]string{`</events?type=A,B&after=1>; rel="next"`}, "/events?type=A,B&after=1"}, // a comma inside the URI
		{[]string{`</a>; title="x, y"; rel="prev", </b>; rel="next"`}, "/b"},             // and inside a quoted value
	} {
		if got, _ := Next(tc.links); got != tc.want {
			t.Errorf("Next(%q) = %q, expected %q", tc.links, got, tc.want)
		}
	}
}

// TestNextTellsAnEmptyTargetFromNoLink: <> is a link to the page itself,
// which a read that followed it would ask for again without end; taken
// for no link, it ended a read of the log as if the log ended there.
func TestNextTellsAnEmptyTargetFromNoLink(t *testing.T) {
	t.Parallel()
	if target, ok := Next([]string{`</a>; rel="prev", <>; rel="next"`}); target != "" || !ok {
		t.Errorf("an empty next link: got %q and %v; expected it found, empty", target, ok)
	}
	if target, ok := Next([]string{`</a>; rel="prev"`}); target != "" || ok {
		t.Errorf("no next link: got %q and %v; expected none found", target, ok)
	}
}

// TestWithRelSkipsALinkAnchoredElsewhere: a link's anchor parameter gives
// it another context than the page it came with (RFC 8288 §3.2):
// </p2>; rel="next"; anchor="/other" says /other's next is /p2, not this
// page's. Such a link was taken for the page's own next, and a read
// followed it to another resource's pages. It is now skipped; an anchor
// that names the page itself (anchor="", RFC 3986 §5.2) is no other
// context.
func TestWithRelSkipsALinkAnchoredElsewhere(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		link, want string
		ok         bool
	}{
		{`</p2>; rel="next"; anchor="/other"`, "", false},
		{`</p2>; anchor="#section"; rel="next"`, "", false},
		{`</p2>; rel="next"; ANCHOR=/other`, "", false},
		{`</p2>; rel="next"; anchor="/other", </p3>; rel="next"`, "/p3", true},
		{`</p2>; rel="next"; anchor=""`, "/p2", true},
	} {
		if got, ok := WithRel(tc.link, "next"); got != tc.want || ok != tc.ok {
			t.Errorf("WithRel(%q) = %q, %v; expected %q, %v", tc.link, got, ok, tc.want, tc.ok)
		}
	}
}

// TestWithRelFromKeepsALinkAnchoredToThePageItself: an anchor that names
// the page itself, as its caller tells (here), leaves the link the page's
// (RFC 8288 §3.2), where WithRel skipped every anchor but "": the page's
// next link, anchored to the page's own URL, was taken for none. One
// anchored elsewhere is still skipped, for the next link that is the
// page's.
func TestWithRelFromKeepsALinkAnchoredToThePageItself(t *testing.T) {
	t.Parallel()
	here := func(anchor string) bool { return anchor == "/events" }
	for _, tc := range []struct {
		link, want string
		ok         bool
	}{
		{`</p2>; rel="next"; anchor="/events"`, "/p2", true},
		{`</p2>; anchor=/events; rel=next`, "/p2", true},
		{`</p2>; rel="next"; anchor="/other"`, "", false},
		{`</p2>; rel="next"; anchor="/other", </p3>; rel="next"; anchor="/events"`, "/p3", true},
		{`</p2>; rel="next"; anchor=""`, "/p2", true},
	} {
		if got, ok := WithRelFrom(tc.link, "next", here); got != tc.want || ok != tc.ok {
			t.Errorf("WithRelFrom(%q) with the page /events = %q, %v; expected %q, %v", tc.link, got, ok, tc.want, tc.ok)
		}
		if got, ok := NextFrom([]string{`</p0>; rel="prev"`, tc.link}, here); got != tc.want || ok != tc.ok {
			t.Errorf("NextFrom(%q) with the page /events = %q, %v; expected %q, %v", tc.link, got, ok, tc.want, tc.ok)
		}
	}
}

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
		{[]string{`/d; rel="next"`}, ""}, // not a URI reference in brackets
		{[]string{`</events?type=A,B&after=1>; rel="next"`}, "/events?type=A,B&after=1"}, // a comma inside the URI
		{[]string{`</a>; title="x, y"; rel="prev", </b>; rel="next"`}, "/b"},             // and inside a quoted value
	} {
		if got := Next(tc.links); got != tc.want {
			t.Errorf("Next(%q) = %q, expected %q", tc.links, got, tc.want)
		}
	}
}

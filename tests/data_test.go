package tests

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

// TestDataIsReturnedByteForByte sends data values that any JSON re-encoding
// would change (key order, spacing, number spelling, escapes, HTML
// characters) and requires every read to return the exact bytes sent.
func TestDataIsReturnedByteForByte(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		values := []string{
			`{"z":1,"a":2,"m":3}`,
			"{\n\t\"z\" :  [1,\n 2.50 , {\"deep\":[[],{},[null,true,false,\"\"]]}],\r\n  \"a\":\"grüße 東京 🎉\",   \"m\":{ }\n}",
			`12345678901234567890`,
			`1E400`,
			`-0.0e-0`,
			`"<script>alert('x')</script> & <b>"`,
			`"nul \u0000 esc \u00e9 \ud83c\udf89 \"q\" \\ \/ \n"`,
			`[ "東京" , { "grüße" : "🎉" } , 1.0 ]`,
			`{"a":{"a":{"a":[[[[{"b":[1,[2,[3]]]}]]]]}}}`,
			`null`,
			`true`,
			`""`,
			`"   spaced   "`,
			`{"":{"":[{"":null}]}}`,
		}
		var body strings.Builder
		body.WriteString(`{"stream_type":"doc","events":[`)
		for i, v := range values {
			if i > 0 {
				body.WriteString(",\n  ")
			}
			fmt.Fprintf(&body, `{"type":"Raw","metadata":{"i":%d},"data":%s}`, i, v)
		}
		body.WriteString("]}")

		id := newID()
		s.mustAppend(t, id, body.String())

		check := func(t *testing.T, where string, got []event) {
			t.Helper()
			if len(got) != len(values) {
				t.Fatalf("%s: expected %d events, got %d", where, len(values), len(got))
			}
			for i, e := range got {
				if !bytes.Equal(e.Data, []byte(values[i])) {
					t.Errorf("%s event %d: expected data bytes\n%q\ngot\n%q", where, i+1, values[i], e.Data)
				}
			}
		}

		t.Run("stream read", func(t *testing.T) {
			r := s.get(t, "/streams/"+id+"/events")
			requireStatus(t, r, http.StatusOK)
			var page streamPage
			r.decode(t, &page)
			check(t, "GET /streams/{id}/events", page.Events)
		})
		t.Run("stream read backward", func(t *testing.T) {
			r := s.get(t, "/streams/"+id+"/events?direction=backward")
			requireStatus(t, r, http.StatusOK)
			var page streamPage
			r.decode(t, &page)
			for i, j := 0, len(page.Events)-1; i < j; i, j = i+1, j-1 {
				page.Events[i], page.Events[j] = page.Events[j], page.Events[i]
			}
			check(t, "GET /streams/{id}/events?direction=backward", page.Events)
		})
		t.Run("single event", func(t *testing.T) {
			var got []event
			for v := range values {
				r := s.get(t, fmt.Sprintf("/streams/%s/events/%d", id, v+1))
				requireStatus(t, r, http.StatusOK)
				var e event
				r.decode(t, &e)
				got = append(got, e)
			}
			check(t, "GET /streams/{id}/events/{v}", got)
		})
		t.Run("log read", func(t *testing.T) {
			check(t, "GET /events", s.readLog(t, "/events"))
		})
		t.Run("log read in pages of one", func(t *testing.T) {
			check(t, "GET /events?limit=1", s.readLog(t, "/events?limit=1"))
		})
	})
}

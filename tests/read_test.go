package tests

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestPagingFollowsNextLinksToTheEndAndStopsThere(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(25, "OrderLine")})
		var carts []string
		for range 7 {
			cart := newID()
			carts = append(carts, cart)
			s.mustAppend(t, cart, appendBody{StreamType: "cart", Events: events(1, "CartOpened")})
		}
		for range 3 {
			s.mustAppend(t, newID(), appendBody{StreamType: "other", Events: events(1, "Other")})
		}
		slices.Sort(carts)
		const total = 25 + 7 + 3

		// streamPages reads a stream through its next links and returns the
		// versions of each page.
		streamPages := func(t *testing.T, path string) [][]int64 {
			t.Helper()
			var out [][]int64
			for _, r := range s.pages(t, path, 10) {
				requireETag(t, r, 25)
				var page streamPage
				r.decode(t, &page)
				var versions []int64
				for _, e := range page.Events {
					versions = append(versions, e.Version)
				}
				out = append(out, versions)
			}
			return out
		}
		seq := func(from, to int64) []int64 {
			var out []int64
			for v := from; ; {
				out = append(out, v)
				if v == to {
					return out
				}
				if from < to {
					v++
				} else {
					v--
				}
			}
		}

		for _, tc := range []struct {
			name, path string
			want       [][]int64
		}{
			{"stream forward", "/streams/" + id + "/events?limit=10", [][]int64{seq(1, 10), seq(11, 20), seq(21, 25)}},
			{"stream backward", "/streams/" + id + "/events?limit=10&direction=backward", [][]int64{seq(25, 16), seq(15, 6), seq(5, 1)}},
			{"stream forward from the middle", "/streams/" + id + "/events?from=12&limit=7", [][]int64{seq(12, 18), seq(19, 25)}},
		} {
			t.Run(tc.name, func(t *testing.T) {
				t.Parallel()
				if got := streamPages(t, tc.path); !slices.EqualFunc(got, tc.want, slices.Equal) {
					t.Errorf("expected pages of versions %v, got %v", tc.want, got)
				}
			})
		}
		t.Run("log", func(t *testing.T) {
			t.Parallel()
			pages := s.pages(t, "/events?limit=10", 10)
			var sizes []int
			var all []event
			for _, r := range pages {
				var page logPage
				r.decode(t, &page)
				sizes = append(sizes, len(page.Events))
				all = append(all, page.Events...)
			}
			if want := []int{10, 10, 10, 5}; !slices.Equal(sizes, want) {
				t.Errorf("expected pages of %v events, got %v", want, sizes)
			}
			if len(all) != total {
				t.Fatalf("expected %d events in all, got %d", total, len(all))
			}
			seen := map[string]bool{}
			for i, e := range all {
				if i > 0 && e.Position <= all[i-1].Position {
					t.Errorf("event %d: expected a position above %d, got %d", i, all[i-1].Position, e.Position)
				}
				if seen[e.ID] {
					t.Errorf("event %s appears twice across pages", e.ID)
				}
				seen[e.ID] = true
			}
		})
		t.Run("log filtered by stream type", func(t *testing.T) {
			t.Parallel()
			all := s.readLog(t, "/events?stream_type=cart,other&limit=3")
			if len(all) != 10 {
				t.Fatalf("expected the 10 cart and other events, got %d", len(all))
			}
			for _, e := range all {
				if e.StreamType != "cart" && e.StreamType != "other" {
					t.Errorf("expected only cart and other events, got one of %q", e.StreamType)
				}
			}
		})
		t.Run("streams by type", func(t *testing.T) {
			t.Parallel()
			pages := s.pages(t, "/streams?stream_type=cart&limit=3", 10)
			var sizes []int
			var ids []string
			for _, r := range pages {
				var list streamList
				r.decode(t, &list)
				sizes = append(sizes, len(list.Streams))
				for _, st := range list.Streams {
					if st.StreamType != "cart" {
						t.Errorf("expected only cart streams, got %s of type %q", st.StreamID, st.StreamType)
					}
					ids = append(ids, st.StreamID)
				}
			}
			if want := []int{3, 3, 1}; !slices.Equal(sizes, want) {
				t.Errorf("expected pages of %v streams, got %v", want, sizes)
			}
			if !slices.Equal(ids, carts) {
				t.Errorf("expected every cart stream once, in id order:\n%s\ngot\n%s", strings.Join(carts, "\n"), strings.Join(ids, "\n"))
			}
		})
	})
}

func TestConditionalReadIs304UntilTheStreamChanges(t *testing.T) {
	t.Parallel()
	forEachServer(t, func(t *testing.T, s *server) {
		id := newID()
		s.mustAppend(t, id, appendBody{StreamType: "order", Events: events(1, "OrderPlaced")})

		for _, path := range []string{"/streams/" + id + "/events", "/streams/" + id} {
			r := s.get(t, path)
			requireStatus(t, r, http.StatusOK)
			requireETag(t, r, 1)
			r = s.get(t, path, "If-None-Match", `"1"`)
			requireStatus(t, r, http.StatusNotModified)
			requireETag(t, r, 1)
			if len(r.Body) != 0 {
				t.Errorf("GET %s: expected a 304 without a body, got %q", path, r.Body)
			}
			// Another tag does not match.
			requireStatus(t, s.get(t, path, "If-None-Match", `"7"`), http.StatusOK)
		}

		s.mustAppend(t, id, appendBody{Events: events(1, "OrderPaid")}, "If-Match", `"1"`)

		r := s.get(t, "/streams/"+id+"/events", "If-None-Match", `"1"`)
		requireStatus(t, r, http.StatusOK)
		requireETag(t, r, 2)
		var page streamPage
		r.decode(t, &page)
		if len(page.Events) != 2 {
			t.Errorf("expected both events after the stream changed, got %d", len(page.Events))
		}
		r = s.get(t, "/streams/"+id, "If-None-Match", `"1"`)
		requireStatus(t, r, http.StatusOK)
		requireETag(t, r, 2)
		requireStatus(t, s.get(t, "/streams/"+id+"/events", "If-None-Match", `"2"`), http.StatusNotModified)
	})
}

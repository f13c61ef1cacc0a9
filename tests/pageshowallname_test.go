package tests

import (
	"strings"
	"testing"
)

// TestPageNamesEachShowAllButtonForItsEventAndField: a stream's view of
// large events showed one "Show all (1.0 MiB)" button for each event's data
// and metadata, which a screen reader's list of buttons read out alike,
// none saying what it shows, nor what it controls. Each is named for its
// event and field, controls its block, and says whether it is expanded.
func TestPageNamesEachShowAllButtonForItsEventAndField(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	big := map[string]string{"blob": strings.Repeat("x", 600<<10)}
	s.mustAppend(t, id, appendBody{StreamType: "order", Events: []newEvent{
		{Type: "Big", Data: big},
		{Type: "Big", Data: big, Metadata: map[string]string{"note": strings.Repeat("y\n", 1500)}},
	}})
	b.navigate(t, s.URL+"/#/streams/"+id)
	b.waitFor(t, "the two events", versionsJS, "[2,1]")
	const buttonsJS = `return [...document.querySelectorAll('#stream-events button.more')].map((m) => {
		const pre = document.getElementById(m.getAttribute('aria-controls') || '-');
		return [m.getAttribute('aria-label'), m.getAttribute('aria-expanded'), !!pre && pre.tagName === 'PRE' && pre.nextElementSibling === m];
	})`
	b.waitFor(t, "each button named for its event and field, controlling its block", buttonsJS,
		`[["Show all of v2's data (601 KiB)","false",true],["Show all of v2's metadata (5 KiB)","false",true],["Show all of v1's data (601 KiB)","false",true]]`)
	b.run(t, `document.querySelector('#stream-events button.more').click(); return null`)
	b.waitFor(t, "the first one expanded, and named to show less", buttonsJS,
		`[["Show less of v2's data","true",true],["Show all of v2's metadata (5 KiB)","false",true],["Show all of v1's data (601 KiB)","false",true]]`)
}

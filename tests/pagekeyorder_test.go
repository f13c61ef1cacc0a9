package tests

import "testing"

// TestPageShowsObjectMembersInTheirStoredOrder: members whose names are
// array indices ("10", "2", "0") were shown first, in ascending order,
// where the API returns them as stored ({"z":1,"10":"ten",…}): a
// JavaScript object puts such keys first, and the page showed the object
// it parsed. Data keyed by step or line number read sorted when it was
// not. They are shown in the stored order, in the live log and the
// stream's view, data and metadata, beside a number kept as written.
func TestPageShowsObjectMembersInTheirStoredOrder(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, `{"stream_type":"keys","events":[`+
		`{"type":"Keys","data":{"z":1,"10":"ten","a":3,"2":"two","0":"zero","n":[{"b":1,"1":2}]},"metadata":{"7":1,"x":2}},`+
		`{"type":"Exact","data":{"9":1.10,"1":2,"01":3}}]}`)
	preview := func(pos string) string {
		return `return document.querySelector('#log-events li[data-position="` + pos + `"] pre').textContent`
	}
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the events in the live log", positionsJS, "[2,1]")
	b.waitFor(t, "the first event's members as stored", preview("1"), `"{\"z\":1,\"10\":\"ten\",\"a\":3,\"2\":\"two\",\"0\":\"zero\",\"n\":[{\"b\":1,\"1\":2}]}"`)
	b.waitFor(t, "the second event's members as stored", preview("2"), `"{\"9\":1.10,\"1\":2,\"01\":3}"`)
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's events", versionsJS, "[2,1]")
	blocks := func(version string) string {
		return `return [...document.querySelectorAll('#stream-events li[data-version="` + version + `"] pre')].map(p => p.textContent.replace(/\n */g, '').replaceAll('": ', '":')).join(' | ')`
	}
	b.waitFor(t, "the first event's data and metadata as stored", blocks("1"), `"{\"z\":1,\"10\":\"ten\",\"a\":3,\"2\":\"two\",\"0\":\"zero\",\"n\":[{\"b\":1,\"1\":2}]} | {\"7\":1,\"x\":2}"`)
	b.waitFor(t, "the second event's data as stored", blocks("2"), `"{\"9\":1.10,\"1\":2,\"01\":3}"`)
}

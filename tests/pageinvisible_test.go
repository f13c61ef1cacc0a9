package tests

import (
	"encoding/json"
	"testing"
)

// TestPageShowsEveryCharacterThatShowsAsNothingAsAnEscape: the page
// escaped a fixed list of characters that show as nothing, and others of
// the kind still made data read as other data: Unicode tag characters
// (U+E0041…, which smuggle ASCII text unseen), the deprecated format
// controls U+206A–U+206F, the combining grapheme joiner U+034F, a Hangul
// filler, a run of variation selectors (which smuggle bytes after an
// emoji) all showed "alice" as "alice"; the line and paragraph separators
// and the interlinear annotation controls as "alice ", and C1 controls as
// a box. The page now escapes by Unicode property (default ignorable, format,
// line and paragraph separators, and controls), and leaves alone what
// writes a character: a joiner or a variation selector inside an emoji
// sequence or a script's word, a keycap, a subdivision flag's tags.
func TestPageShowsEveryCharacterThatShowsAsNothingAsAnEscape(t *testing.T) {
	t.Parallel()
	s, b := startPageOnSQLite(t)
	id := newID()
	s.mustAppend(t, id, appendBody{StreamType: "payment", Events: []newEvent{{Type: "PaymentSent",
		Data: json.RawMessage(`{"tags":"alice\udb40\udc41\udb40\udc42","d":"alice\u206a","g":"alice\u034f","f":"alice\u2028\u2029","h":"alice\ufff9",` +
			`"c1":"alice\u0085\u007f","hf":"\u3164","zwj":"alice\u200d","vs":"alice\ufe0f","run":"\ud83d\ude00\ufe0f\ufe0e\ufe0f",` +
			`"flag":"\ud83c\udff4\udb40\udc67\udb40\udc62\udb40\udc65\udb40\udc6e\udb40\udc67\udb40\udc7f","fire":"\u2764\ufe0f\u200d\ud83d\udd25",` +
			`"fa":"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645","keycap":"1\ufe0f\u20e3"}`)}}})
	// The text the page must show, as a JavaScript string: \\u is an
	// escape shown, \u a character kept.
	const want = `'{"tags":"alice\\udb40\\udc41\\udb40\\udc42","d":"alice\\u206a","g":"alice\\u034f","f":"alice\\u2028\\u2029","h":"alice\\ufff9",` +
		`"c1":"alice\\u0085\\u007f","hf":"\\u3164","zwj":"alice\\u200d","vs":"alice\\ufe0f","run":"\ud83d\ude00\ufe0f\\ufe0e\\ufe0f",` +
		`"flag":"\ud83c\udff4\udb40\udc67\udb40\udc62\udb40\udc65\udb40\udc6e\udb40\udc67\udb40\udc7f","fire":"\u2764\ufe0f\u200d\ud83d\udd25",` +
		`"fa":"\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645","keycap":"1\ufe0f\u20e3"}'`
	// The stream's view indents it: its lines are joined, as the preview's.
	same := func(pre string) string {
		return `const got = document.querySelector('` + pre + `').textContent.replace(/\n */g, '').replaceAll('": ', '":');
			return got === ` + want + ` ? 'as expected' : got`
	}
	b.navigate(t, s.URL+"/#/")
	b.waitFor(t, "the event in the live log", positionsJS, "[1]")
	b.waitFor(t, "the preview with every invisible character escaped", same("#log-events pre"), `"as expected"`)
	b.run(t, `location.hash = '#/streams/`+id+`'; return null`)
	b.waitFor(t, "the stream's event", versionsJS, "[1]")
	b.waitFor(t, "the data with every invisible character escaped", same("#stream-events pre"), `"as expected"`)
}

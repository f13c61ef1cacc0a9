package http_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tributary-dev/tributary/internal/teststore"
)

// TestREADMEsMinPositionExampleReadsItsOwnWrite: README's example of
// Tributary-Min-Position sent 1042, a position the walkthrough's log
// never reaches (its append answered positions 1 and 2): run as written,
// after the walkthrough's append, it answered 409 starting-point-ahead,
// not the read of one's own write it shows. The walkthrough's append, then
// the example's header, as README writes them, read the stream: 200 with
// both events. On both stores.
func TestREADMEsMinPositionExampleReadsItsOwnWrite(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	id := regexp.MustCompile(`(?m)^ID=([0-9a-f-]{36})$`).FindStringSubmatch(text)
	body := regexp.MustCompile(`(?s)-H 'If-None-Match: \*' \\\n  -d '(\{.*?\})'\n`).FindStringSubmatch(text)
	header := regexp.MustCompile(`curl -H 'Tributary-Min-Position: (\d+)' "\$S/streams/\$ID/events"`).FindStringSubmatch(text)
	if id == nil || body == nil || header == nil {
		t.Fatalf("README: the walkthrough's ID (%q), its first append's body (%q) or the Tributary-Min-Position example (%q) not found", id, body, header)
	}
	teststore.ForEach(t, func(t *testing.T, k teststore.Kind) {
		s := newServer(t, newContract(t), k.Open(t))
		expectStatus(t, "README's first append", s.do("POST", "/streams/"+id[1]+"/events", body[1], "If-None-Match", "*"), 201)
		r := s.do("GET", "/streams/"+id[1]+"/events", "", "Tributary-Min-Position", header[1])
		if r.status != 200 || strings.Count(string(r.body), `"type":"Order`) != 2 {
			t.Errorf("README's read with Tributary-Min-Position: %s after its append: %d %s; want 200 with the append's two events", header[1], r.status, r.body)
		}
	})
}

package mysqltest

import (
	"sync/atomic"

	"github.com/tributary-dev/tributary/internal/faultproxy"
)

// RefuseCounted arms p to answer each chunk a client sends for which
// refuses returns true with the error packet of number and message, as a
// proxy's query rule or a server that filters a statement does, and
// returns how many chunks it has answered so: a test that sees none did
// not reach its case.
func RefuseCounted(p *faultproxy.Proxy, refuses func(chunk []byte) bool, number uint16, message string) *atomic.Int64 {
	var refused atomic.Int64
	p.AnswerInstead(func(chunk []byte) bool {
		if !refuses(chunk) {
			return false
		}
		refused.Add(1)
		return true
	}, ErrorPacket(number, message))
	return &refused
}

// Package linkheader reads Link header fields (RFC 8288), for the Go
// client and the load tool, which follow a page's rel="next".
package linkheader

import "strings"

// Next returns the target of the first rel="next" link among a response's
// Link field values, and whether there is one: an empty target, <>, is a
// link to the page itself (RFC 3986 §5.2), not the lack of one. A link
// anchored to another resource is skipped (WithRel).
func Next(values []string) (string, bool) { return NextFrom(values, nil) }

// NextFrom is Next, with here telling whether a link's anchor names the
// page itself (its URL, resolved against the page's), whose context the
// link then keeps (RFC 8288 §3.2): only anchor="" does if here is nil.
func NextFrom(values []string, here func(anchor string) bool) (string, bool) {
	for _, v := range values {
		if target, ok := WithRelFrom(v, "next", here); ok {
			return target, true
		}
	}
	return "", false
}

// WithRel returns the target of the first link of a Link field value
// whose relation types include rel, read as RFC 8288 §3 writes it:
// link-values separated by commas, each a URI in <> (which may hold
// commas and semicolons) and parameters after semicolons, whose values
// are tokens or quoted strings (which may hold them too, and \-escapes);
// names and relation types compared without case, rel="a b" naming two,
// and only a link's first rel counting (§3.3). A link whose anchor
// parameter names another context (§3.2; anchor="" is the page itself) is
// that resource's, not the page's, and is skipped, as is a malformed
// link-value, to the comma that ends it.
func WithRel(v, rel string) (string, bool) { return WithRelFrom(v, rel, nil) }

// WithRelFrom is WithRel, with here telling whether a link's anchor names
// the page itself, whose link it then is (RFC 8288 §3.2: an anchor
// overrides the context, and one that names the page leaves it the
// page's): only anchor="" does if here is nil.
func WithRelFrom(v, rel string, here func(anchor string) bool) (string, bool) {
	i := 0
	for i < len(v) {
		i = skipSpace(v, i)
		if i < len(v) && v[i] == ',' {
			i++
			continue
		}
		if i >= len(v) || v[i] != '<' {
			i = skipLinkValue(v, i)
			continue
		}
		end := strings.IndexByte(v[i:], '>')
		if end < 0 {
			return "", false
		}
		target := v[i+1 : i+end]
		i += end + 1
		rels, hasRel, ok := "", false, true
		// anchored: the link has another context than the page (RFC
		// 8288 §3.2): its relations are that resource's, not the page's.
		anchored := false
		for ok {
			i = skipSpace(v, i)
			if i >= len(v) || v[i] == ',' {
				break
			}
			if v[i] != ';' {
				ok = false
				break
			}
			i = skipSpace(v, i+1)
			start := i
			for i < len(v) && !strings.ContainsRune("=;, \t", rune(v[i])) {
				i++
			}
			name := v[start:i]
			i = skipSpace(v, i)
			value := ""
			if i < len(v) && v[i] == '=' {
				value, i, ok = paramValue(v, skipSpace(v, i+1))
			}
			if strings.EqualFold(name, "rel") && !hasRel {
				rels, hasRel = value, true
			}
			if strings.EqualFold(name, "anchor") && value != "" && (here == nil || !here(value)) {
				anchored = true
			}
		}
		if !ok {
			i = skipLinkValue(v, i)
			continue
		}
		if anchored {
			continue
		}
		for _, r := range strings.Fields(rels) {
			if strings.EqualFold(r, rel) {
				return target, true
			}
		}
	}
	return "", false
}

// paramValue reads a parameter's value at i, a quoted string or a token,
// and returns it, where it ends, and false for a quoted string never closed.
func paramValue(v string, i int) (string, int, bool) {
	if i < len(v) && v[i] == '"' {
		var b strings.Builder
		for i++; i < len(v); i++ {
			switch v[i] {
			case '\\':
				if i++; i < len(v) {
					b.WriteByte(v[i])
				}
			case '"':
				return b.String(), i + 1, true
			default:
				b.WriteByte(v[i])
			}
		}
		return "", i, false
	}
	start := i
	for i < len(v) && !strings.ContainsRune(";, \t", rune(v[i])) {
		i++
	}
	return v[start:i], i, true
}

// skipLinkValue returns where the link-value at i ends: at the next comma
// outside a quoted string or a <URI>, or the end of v.
func skipLinkValue(v string, i int) int {
	quoted, inURI := false, false
	for ; i < len(v); i++ {
		switch c := v[i]; {
		case quoted && c == '\\':
			i++
		case quoted:
			quoted = c != '"'
		case inURI:
			inURI = c != '>'
		case c == '"':
			quoted = true
		case c == '<':
			inURI = true
		case c == ',':
			return i
		}
	}
	return i
}

func skipSpace(v string, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

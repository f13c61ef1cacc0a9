package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Var returns the environment variable that sets the Config field named
// field: Var("DataDir") is TRIBUTARY_DATA_DIR. Messages name settings through
// it, so that the names are written once, in Config's tags. It panics on a
// name Config does not have, a mistake its tests catch.
func Var(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		panic("config: no setting " + field)
	}
	return f.Tag.Get("envconfig")
}

// Defaults returns every setting at its default, read from the same tags as
// Load reads: the parts of the service fill a zero option from here.
func Defaults() Config {
	var c Config
	v := reflect.ValueOf(&c).Elem()
	for i := 0; i < v.NumField(); i++ {
		def, ok := v.Type().Field(i).Tag.Lookup("default")
		if !ok {
			continue
		}
		if err := setDefault(v.Field(i), def); err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", v.Type().Field(i).Name, err))
		}
	}
	return c
}

// setDefault parses a default tag into a field of one of Config's kinds.
func setDefault(f reflect.Value, def string) error {
	switch f.Interface().(type) {
	case time.Duration:
		d, err := time.ParseDuration(def)
		f.SetInt(int64(d))
		return err
	case slog.Level:
		var l slog.Level
		err := l.UnmarshalText([]byte(def))
		f.Set(reflect.ValueOf(l))
		return err
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(def)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(def, 10, 64)
		f.SetInt(n)
		return err
	case reflect.Bool:
		b, err := strconv.ParseBool(def)
		f.SetBool(b)
		return err
	default:
		return fmt.Errorf("unsupported kind %s", f.Kind())
	}
	return nil
}

// nearMisses returns an error for each variable of environ (KEY=value
// pairs) that is not a setting but is in the service's namespace, or
// whose name looks meant for a setting. The prefix TRIBUTARY_ (in any
// letter case) is the service's own: a name in it that is no setting was
// ignored, and the service started on the default, which for
// TRIBUTARY_TOKENS (API_TOKENS without its first word) was no access
// control and for TRIBUTARY_DSN the embedded store. Only the names other
// parts of the project read (others), Kubernetes' service links and
// Docker's links (dockerLinks) are left alone. Outside the prefix, a name is refused when it looks meant
// for a setting: a setting's name without its underscores, with at most
// two letters wrong (TRIBUTRAY_MYSQL_DSN). Each error names the setting
// the variable most resembles, and never quotes a value. Where the
// system's names are case-insensitive (Windows), a setting's name in
// another letter case is that setting, read as such, and no near miss:
// caseInsensitive makes the check agree with the reading.
func nearMisses(environ []string, caseInsensitive bool) error {
	names := settingNames()
	same := func(a, b string) bool { return a == b || caseInsensitive && strings.EqualFold(a, b) }
	tokensSet := false
	for _, kv := range environ {
		key, value, _ := strings.Cut(kv, "=")
		if (same(key, Var("APITokens")) || same(key, Var("APITokensFile"))) && strings.TrimSpace(value) != "" {
			tokensSet = true
		}
	}
	links := dockerLinks(environ)
	var errs []error
	for _, kv := range environ {
		key, _, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(names, func(n string) bool { return same(key, n) }) || serviceLink.MatchString(key) || slices.Contains(links, key) {
			continue
		}
		// A name that holds its value is named and matched by what of
		// it is a name (nameOf), never quoted whole.
		shown, name := key, key
		if n, whole := nameOf(key); !whole {
			shown, name = n+"… (the rest of the name, after a character no name has, is not shown: it may hold a value written NAME: value)", n
		}
		if !strings.HasPrefix(strings.ToUpper(name), "TRIBUTARY_") {
			if meant := meantFor(name, names); meant != "" {
				errs = append(errs, fmt.Errorf("%s is not a setting: did you mean %s? (api help lists them)", shown, meant))
			}
			continue
		}
		if shown != key {
			errs = append(errs, fmt.Errorf("%s is not a setting: did you mean %s? (names beginning TRIBUTARY_ are the service's own; api help lists its settings)",
				shown, closest(name, names)))
			continue
		}
		switch {
		case same(key, exampleToken) && tokensSet:
			continue // a client's token beside the server's tokens
		case same(key, exampleToken):
			// Read by the example client, and the likeliest slip for the
			// server's tokens: without these the server would be open.
			errs = append(errs, fmt.Errorf("%s is not a setting (the example client reads it, for a token of its own), and no tokens are set, so access control would be off: did you mean %s? (api help lists them)",
				key, Var("APITokens")))
			continue
		case slices.ContainsFunc(others, func(n string) bool { return same(key, n) }):
			continue
		}
		errs = append(errs, fmt.Errorf("%s is not a setting: did you mean %s? (names beginning TRIBUTARY_ are the service's own; api help lists its settings)",
			key, closest(key, names)))
	}
	return errors.Join(errs...)
}

// nameOf returns what of key, a variable's name, is a name: key, and
// true, where it holds only what names hold (letters, digits, _ . -);
// else what follows its leading quotes, spaces and dashes up to the first
// other character, and false. A setting written as YAML or JSON writes it
// ("TRIBUTARY_API_TOKENS: app:write:…") where NAME=value goes is a
// variable whose name holds the value: an error quoting it whole quoted
// the token, or the DSN's password.
func nameOf(key string) (string, bool) {
	nameChar := func(r rune) bool {
		return r == '_' || r == '.' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	if strings.IndexFunc(key, func(r rune) bool { return !nameChar(r) }) < 0 {
		return key, true
	}
	// What leads it up to its first letter, digit or _ is no part of
	// it: quotes, spaces, a YAML list's dash ("- NAME=value" copied into
	// an env file), which taken for the name resembled no setting, and
	// the variable was ignored without a word.
	name := strings.TrimLeftFunc(key, func(r rune) bool { return !nameChar(r) || r == '.' || r == '-' })
	if i := strings.IndexFunc(name, func(r rune) bool { return !nameChar(r) }); i >= 0 {
		name = name[:i]
	}
	return name, false
}

// exampleToken is the variable the example client (examples/orders, and
// README's client code) takes its token from.
const exampleToken = "TRIBUTARY_TOKEN"

// others are the names of the prefix that other parts of the project read,
// which the service's environment may hold: the tests' (a test starts the
// binary with its own environment), and the Compose files' (compose.yaml,
// compose.replica.yaml), which an operator sets in the shell or a .env file
// that may feed the service's environment too.
var others = []string{
	"TRIBUTARY_TEST_MYSQL_DSN",       // the MySQL tests' server (internal/mysqltest, .ci/run)
	"TRIBUTARY_UPDATE_SCREENSHOT",    // tests/page_test.go
	"TRIBUTARY_CLIENT_TEST_NO_ROOTS", // client/tlsalert_test.go
	"TRIBUTARY_VERSION",              // compose.yaml: the image's tag
	"TRIBUTARY_PORT",                 // compose.yaml: the host's port
	"TRIBUTARY_BIND",                 // compose.yaml: the host's address the port is published on
	"TRIBUTARY_STOP_GRACE_PERIOD",    // compose.yaml: Compose's stop_grace_period
	"TRIBUTARY_DB_PASSWORD",          // compose.yaml: the database user's password
	"TRIBUTARY_REPLICATION_PASSWORD", // compose.replica.yaml
}

// settingNames returns the name of every setting.
func settingNames() []string {
	var names []string
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		if name := t.Field(i).Tag.Get("envconfig"); name != "" { // not warnings
			names = append(names, name)
		}
	}
	return names
}

// serviceLink matches the names of the variables Kubernetes gives a pod for
// each Service of its namespace, NAME being the Service's name upper-cased
// with '-' made '_': NAME_SERVICE_HOST, NAME_SERVICE_PORT,
// NAME_SERVICE_PORT_<PORT NAME>, NAME_PORT, NAME_PORT_<port>_<PROTOCOL> and
// that with _PROTO, _PORT or _ADDR. A Service named tributary-addr gives
// TRIBUTARY_ADDR_SERVICE_HOST, which would otherwise pass for
// TRIBUTARY_ADDR with a suffix and stop every pod of its namespace. No
// setting's name ends so, and Kubernetes writes them in upper case only.
var serviceLink = regexp.MustCompile(`^[A-Z][A-Z0-9_]*_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_[0-9]{1,5}_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)?)$`)

// meantFor returns the name of names that key looks meant for, or "".
func meantFor(key string, names []string) string {
	upper := strings.ToUpper(key)
	squash := func(s string) string { return strings.NewReplacer("_", "", "-", "").Replace(s) }
	best, bestDist := "", 3
	for _, n := range names {
		if upper == n || squash(upper) == squash(n) {
			return n
		}
		if d := editDistance(upper, n); d < bestDist {
			best, bestDist = n, d
		}
	}
	if best != "" {
		return best
	}
	for _, n := range names {
		if strings.HasPrefix(upper, n+"_") && len(n) > len(best) {
			best = n
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours count one.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// closest returns the setting of names that key, a name of the prefix that
// is none of them, most resembles: one that holds every word of key (in
// the words settings use: KEYS is TOKENS, URL is DSN, LISTEN is ADDR),
// with the fewest words more; else a near miss by spelling (meantFor);
// else the one sharing the most words; else the nearest by spelling.
func closest(key string, names []string) string {
	kw := words(key)
	best, bestShared, bestExtra, bestDist := "", 0, 0, 0
	subset := false
	for _, n := range names {
		nw := words(n)
		shared := 0
		for _, w := range kw {
			if slices.Contains(nw, w) {
				shared++
			}
		}
		all := shared == len(kw) && len(kw) > 0
		extra, dist := len(nw)-shared, editDistance(strings.ToUpper(key), n)
		better := false
		switch {
		case best == "":
			better = true
		case all != subset:
			better = all
		case !all && shared != bestShared:
			better = shared > bestShared
		case shared > 0 && extra != bestExtra:
			better = extra < bestExtra
		default:
			better = dist < bestDist
		}
		if better {
			best, bestShared, bestExtra, bestDist, subset = n, shared, extra, dist, all
		}
	}
	if subset {
		return best
	}
	if meant := meantFor(key, names); meant != "" {
		return meant
	}
	return best
}

// words returns the words of a variable's name after the prefix, split on
// its underscores, each in the form settings' names use it: a plural's S
// dropped, and a word operators use for a setting's (KEY, URL, LISTEN,
// REPLICA, GRACE) made that setting's word.
func words(name string) []string {
	upper := strings.ToUpper(name)
	upper = strings.TrimPrefix(upper, "TRIBUTARY_")
	var ws []string
	for _, w := range strings.Split(upper, "_") {
		if len(w) > 3 && strings.HasSuffix(w, "S") && !strings.HasSuffix(w, "SS") {
			w = w[:len(w)-1]
		}
		if s, ok := synonyms[w]; ok {
			w = s
		}
		if w != "" && !slices.Contains(ws, w) {
			ws = append(ws, w)
		}
	}
	return ws
}

// synonyms maps words operators write for a setting's word to it.
var synonyms = map[string]string{
	"KEY": "TOKEN", "AUTH": "TOKEN", "ACCESS": "TOKEN", "BEARER": "TOKEN", "SECRET": "TOKEN",
	"URL": "DSN", "URI": "DSN", "DATABASE": "DSN", "DB": "DSN", "MARIADB": "DSN",
	"LISTEN": "ADDR", "HOST": "ADDR", "HTTP": "ADDR", "ADDRESS": "ADDR", "BIND": "ADDR",
	"REPLICA": "READ", "GRACE": "TIMEOUT", "PATH": "DIR", "DIRECTORY": "DIR",
}

// expected says what the Config field named field takes, for an error that
// does not show the value given.
func expected(field string) string {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		return "valid"
	}
	switch f.Type {
	case reflect.TypeFor[time.Duration]():
		return "a duration such as 30s, 1m30s or 250ms"
	case reflect.TypeFor[slog.Level]():
		return "debug, info, warn or error"
	case reflect.TypeFor[bool]():
		return "true or false"
	case reflect.TypeFor[int](), reflect.TypeFor[int64]():
		return "a whole number in decimal"
	}
	return "valid"
}

// decimalInts reads the integer settings that are set again, in decimal:
// envconfig parses them with base 0, where a zero-padded 0100 is octal 64
// and 0x100 or 1_000 are taken too.
func decimalInts(c *Config) error {
	v := reflect.ValueOf(c).Elem()
	var errs []error
	for i := range v.NumField() {
		f := v.Type().Field(i)
		if f.Type != reflect.TypeFor[int]() && f.Type != reflect.TypeFor[int64]() {
			continue // time.Duration and slog.Level are integers of their own types
		}
		name := f.Tag.Get("envconfig")
		s, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		// ParseInt takes a leading +, which the README's decimal digits
		// do not: +5 is refused as 0x5 is, never taken for 5.
		plus := strings.HasPrefix(s, "+")
		n, err := strconv.ParseInt(s, 10, f.Type.Bits())
		if err != nil || plus {
			if err := outOfRange(name, f.Name, s); err != nil {
				errs = append(errs, err)
			} else {
				errs = append(errs, fmt.Errorf("%s must be a whole number in decimal (the value is not shown)", name))
			}
			continue
		}
		v.Field(i).SetInt(n)
	}
	return errors.Join(errs...)
}

// outOfRange returns the error of value, given for the setting named name
// (the Config field field), where it is a whole number in decimal or a
// duration, as written, that its type cannot hold: said as too large (or
// small, or long) with the bound, where "not a whole number" or "not a
// duration" would send the operator looking for a typo. Otherwise nil. It
// never quotes the value.
func outOfRange(name, field, value string) error {
	f, ok := reflect.TypeFor[Config]().FieldByName(field)
	if !ok {
		return nil
	}
	switch {
	case f.Type == reflect.TypeFor[time.Duration]():
		if !durationSyntax.MatchString(value) {
			return nil
		}
		if _, err := time.ParseDuration(value); err == nil {
			return nil
		}
		// Its syntax is a duration's: only its size can be wrong.
		if strings.HasPrefix(value, "-") {
			return fmt.Errorf("%s is out of range: it must be from 0s to %s (the value is not shown)", name, maxDuration)
		}
		return fmt.Errorf("%s is too long: it must be at most %s (the value is not shown)", name, maxDuration)
	case f.Type == reflect.TypeFor[int]() || f.Type == reflect.TypeFor[int64]():
		n, err := strconv.ParseInt(value, 10, f.Type.Bits())
		if !errors.Is(err, strconv.ErrRange) || strings.HasPrefix(value, "+") {
			return nil
		}
		if n > 0 {
			return fmt.Errorf("%s is too large: it must be at most %d (the value is not shown)", name, n)
		}
		return fmt.Errorf("%s is too small: it must be at least %d (the value is not shown)", name, n)
	}
	return nil
}

// durationSyntax matches what time.ParseDuration reads, whatever its size.
var durationSyntax = regexp.MustCompile(`^[-+]?(0|((\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h))+)$`)

// trimmed are the settings whose entries are trimmed one by one: white
// space around them is harmless.
var trimmed = []string{"TRIBUTARY_API_TOKENS", "TRIBUTARY_CORS_ORIGINS"}

// surroundingSpace refuses every setting whose value begins or ends with
// white space: a value from a file made with echo, or a YAML | block, keeps
// its newline, and its parser's error ("must be a duration such as 30s",
// the value rightly not shown) or the database's ("Incorrect database name
// 'r1⏎'") hid the cause; the embedded store would start empty in a
// directory named "data⏎" beside the real one. Errors never quote a value.
// caseInsensitive: names are read in any letter case (Windows), and are
// checked so.
func surroundingSpace(environ []string, caseInsensitive bool) error {
	var errs []error
	t := reflect.TypeFor[Config]()
	for i := range t.NumField() {
		name := t.Field(i).Tag.Get("envconfig")
		if name == "" || slices.Contains(trimmed, name) {
			continue
		}
		for _, kv := range environ {
			key, value, _ := strings.Cut(kv, "=")
			if (key == name || caseInsensitive && strings.EqualFold(key, name)) && value != strings.TrimSpace(value) {
				// The name as given, which is what the operator looks for.
				errs = append(errs, fmt.Errorf("%s begins or ends with white space (a newline from a file?); remove it", key))
			}
		}
	}
	return errors.Join(errs...)
}

// dockerLinks returns the names (never the values) of environ's variables
// that a legacy Docker link (docker run --link, Compose's links:) gave the
// process: for a link aliased tributary_db, TRIBUTARY_DB_NAME holding
// /<this container>/tributary_db, TRIBUTARY_DB_ENV_<VAR> for each variable
// of the linked container, and TRIBUTARY_DB_PORT… (linkPort; serviceLink
// matches all but a port range's _START and _END). A link is known by its NAME, whose value ends with the
// alias the names begin with: TRIBUTARY_DB_NAME=events (meant as a
// database's name) is no link's, and ENV_ variables without their NAME are
// none either. No setting ends in _NAME or holds _ENV_.
func dockerLinks(environ []string) []string {
	var aliases []string
	for _, kv := range environ {
		key, value, _ := strings.Cut(kv, "=")
		alias, ok := strings.CutSuffix(key, "_NAME")
		if !ok || !linkAlias.MatchString(alias) || !strings.HasPrefix(value, "/") {
			continue
		}
		dir, base := path.Split(value)
		if dir == "/" || strings.Contains(strings.Trim(dir, "/"), "/") {
			continue // a link's is /<container>/<alias>
		}
		if strings.ReplaceAll(strings.ToUpper(base), "-", "_") == alias {
			aliases = append(aliases, alias)
		}
	}
	var names []string
	for _, kv := range environ {
		key, _, _ := strings.Cut(kv, "=")
		for _, a := range aliases {
			rest, ok := strings.CutPrefix(key, a+"_")
			if ok && (rest == "NAME" || strings.HasPrefix(rest, "ENV_") && len(rest) > len("ENV_") || linkPort.MatchString(rest)) {
				names = append(names, key)
				break
			}
		}
	}
	return names
}

// linkPort matches what follows a link's alias in its ports' variables:
// PORT, PORT_3306_TCP and its _PROTO, _PORT and _ADDR, and, for a range of
// ports exposed, _START and _END.
var linkPort = regexp.MustCompile(`^PORT(_[0-9]{1,5}_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR|START|END))?)?$`)

// linkAlias matches a Docker link's alias as its variables' names write
// it: upper case, '-' made '_'.
var linkAlias = regexp.MustCompile(`^[A-Z0-9][A-Z0-9_.]*$`)

package tests

// Containers cannot run where these tests run, so the Dockerfile is held to
// account by BuildKit's own parser, and its binary is built with the
// Dockerfile's own build command and run here.

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/tributary-dev/tributary/internal/freeport"
	"github.com/tributary-dev/tributary/internal/mysqltest"
)

// repoRoot is the module's root, the Docker build context; tests run in tests/.
const repoRoot = ".."

// healthcheckTimeout is how long `api healthcheck` waits (cmd/api); the
// HEALTHCHECK's own timeout must be longer.
const healthcheckTimeout = 3 * time.Second

// dockerfile is the top-level Dockerfile, parsed by BuildKit.
type dockerfile struct {
	metaArgs []instructions.ArgCommand // the ARGs before the first FROM
	stages   []instructions.Stage
}

// parseDockerfile parses ../Dockerfile as `docker build` would, and reports
// any warning of the parser or of BuildKit's lint rules as an error.
func parseDockerfile(t *testing.T) dockerfile {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatalf("open Dockerfile: %v", err)
	}
	defer f.Close()
	res, err := parser.Parse(f)
	if err != nil {
		t.Fatalf("parse Dockerfile: %v", err)
	}
	for _, w := range res.Warnings {
		t.Errorf("Dockerfile line %d: parser warning: %s", w.Location.Start.Line, w.Short)
	}
	lint := linter.New(&linter.Config{Warn: func(rule, _, _, msg string, loc []parser.Range) {
		line := 0
		if len(loc) > 0 {
			line = loc[0].Start.Line
		}
		t.Errorf("Dockerfile line %d: lint rule %s: %s", line, rule, msg)
	}})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		t.Fatalf("parse Dockerfile instructions: %v", err)
	}
	if len(stages) == 0 {
		t.Fatal("Dockerfile: expected at least one stage, got none")
	}
	return dockerfile{metaArgs: metaArgs, stages: stages}
}

// commandsOf returns the commands of type T in stage s, in order.
func commandsOf[T instructions.Command](s instructions.Stage) []T {
	var out []T
	for _, c := range s.Commands {
		if x, ok := c.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// stage returns the stage named name.
func (d dockerfile) stage(t *testing.T, name string) instructions.Stage {
	t.Helper()
	for _, s := range d.stages {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("Dockerfile: expected a stage named %q, got none", name)
	return instructions.Stage{}
}

// runtime is the last stage: the image that is shipped.
func (d dockerfile) runtime() instructions.Stage { return d.stages[len(d.stages)-1] }

// metaArg is the default of an ARG declared before the first FROM.
func (d dockerfile) metaArg(name string) (string, bool) {
	for _, a := range d.metaArgs {
		for _, kv := range a.Args {
			if kv.Key == name && kv.Value != nil {
				return *kv.Value, true
			}
		}
	}
	return "", false
}

// stageEnv is the stage's ENV settings, expanded with args as BuildKit would.
func stageEnv(t *testing.T, s instructions.Stage, args []string) map[string]string {
	t.Helper()
	lex := shell.NewLex('\\')
	out := map[string]string{}
	for _, e := range commandsOf[*instructions.EnvCommand](s) {
		for _, kv := range e.Env {
			v, _, err := lex.ProcessWord(kv.Value, shell.EnvsFromSlice(args))
			if err != nil {
				t.Fatalf("Dockerfile: expand ENV %s=%s: %v", kv.Key, kv.Value, err)
			}
			out[kv.Key] = v
		}
	}
	return out
}

// binaryCopy is the runtime stage's COPY of the built binary from stage build.
func binaryCopy(t *testing.T, runtime instructions.Stage, build string) *instructions.CopyCommand {
	t.Helper()
	for _, c := range commandsOf[*instructions.CopyCommand](runtime) {
		if c.From == build && slices.Contains(c.SourcePaths, "/out/api") {
			return c
		}
	}
	t.Fatalf("Dockerfile: expected the runtime stage to COPY --from=%s /out/api, got none", build)
	return nil
}

// goDirective is the go version go.mod asks for.
func goDirective(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go "); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("go.mod has no go directive")
	return ""
}

func TestDockerfileShipsTheBinaryOnAMinimalBaseAsANonRootUser(t *testing.T) {
	t.Parallel()
	d := parseDockerfile(t)
	if len(d.stages) < 2 {
		t.Fatalf("Dockerfile: expected a build stage and a runtime stage, got %d stage(s)", len(d.stages))
	}
	build, rt := d.stage(t, "build"), d.runtime()

	// The build stage's Go is go.mod's, on an exact tag.
	goVersion, _ := d.metaArg("GO_VERSION")
	if want := goDirective(t); goVersion != want {
		t.Errorf("Dockerfile: expected ARG GO_VERSION=%s (go.mod's go directive), got %q", want, goVersion)
	}
	if !strings.HasPrefix(build.BaseName, "golang:${GO_VERSION}") {
		t.Errorf("Dockerfile: expected the build stage FROM golang:${GO_VERSION}…, got %q", build.BaseName)
	}

	// The runtime base is empty, or distroless static pinned by digest.
	if base := rt.BaseName; base != "scratch" && !(strings.HasPrefix(base, "gcr.io/distroless/static") && strings.Contains(base, "@sha256:")) {
		t.Errorf("Dockerfile: expected the runtime stage FROM scratch or a pinned distroless/static, got %q", base)
	}

	// It runs as a non-root user, who owns the data volume.
	users := commandsOf[*instructions.UserCommand](rt)
	if len(users) != 1 {
		t.Fatalf("Dockerfile: expected one USER in the runtime stage, got %d", len(users))
	}
	user := users[0].User
	if name, _, _ := strings.Cut(user, ":"); name == "" || name == "root" || strings.Trim(name, "0") == "" {
		t.Errorf("Dockerfile: expected a non-root USER, got %q", user)
	}
	rtEnv := stageEnv(t, rt, nil)
	dataDir := rtEnv["TRIBUTARY_DATA_DIR"]
	if dataDir == "" {
		t.Fatal("Dockerfile: expected ENV TRIBUTARY_DATA_DIR in the runtime stage, got none")
	}
	var volumes []string
	for _, v := range commandsOf[*instructions.VolumeCommand](rt) {
		volumes = append(volumes, v.Volumes...)
	}
	if !slices.Equal(volumes, []string{dataDir}) {
		t.Errorf("Dockerfile: expected VOLUME [%q] (TRIBUTARY_DATA_DIR), got %q", dataDir, volumes)
	}
	ownsData := false
	for _, c := range commandsOf[*instructions.CopyCommand](rt) {
		if strings.TrimSuffix(c.DestPath, "/") == dataDir && c.Chown == user {
			ownsData = true
		}
	}
	if !ownsData {
		t.Errorf("Dockerfile: expected a COPY --chown=%s to %s, so that the user can write a new volume there; got none", user, dataDir)
	}

	// It listens on the exposed port.
	var exposed []string
	for _, e := range commandsOf[*instructions.ExposeCommand](rt) {
		exposed = append(exposed, e.Ports...)
	}
	addr := rtEnv["TRIBUTARY_ADDR"]
	if !slices.Equal(exposed, []string{"8080"}) || addr != ":8080" {
		t.Errorf("Dockerfile: expected EXPOSE 8080 and ENV TRIBUTARY_ADDR=:8080, got EXPOSE %q and TRIBUTARY_ADDR %q", exposed, addr)
	}

	// ENTRYPOINT and HEALTHCHECK run the copied binary in exec form: there
	// is no shell.
	bin := binaryCopy(t, rt, build.Name).DestPath
	entry := commandsOf[*instructions.EntrypointCommand](rt)
	if len(entry) != 1 || entry[0].PrependShell || !slices.Equal(entry[0].CmdLine, []string{bin}) {
		t.Errorf("Dockerfile: expected ENTRYPOINT [%q] in exec form, got %+v", bin, entry)
	}
	cmd := commandsOf[*instructions.CmdCommand](rt)
	if len(cmd) != 1 || cmd[0].PrependShell || !slices.Equal(cmd[0].CmdLine, []string{"serve"}) {
		t.Errorf(`Dockerfile: expected CMD ["serve"] in exec form, got %+v`, cmd)
	}
	hc := commandsOf[*instructions.HealthCheckCommand](rt)
	if len(hc) != 1 {
		t.Fatalf("Dockerfile: expected one HEALTHCHECK in the runtime stage, got %d", len(hc))
	}
	h := hc[0].Health
	if want := []string{"CMD", bin, "healthcheck"}; !slices.Equal(h.Test, want) {
		t.Errorf("Dockerfile: expected HEALTHCHECK CMD [%q, \"healthcheck\"] in exec form (test %q), got test %q", bin, want, h.Test)
	}
	if h.Timeout <= healthcheckTimeout || h.Interval <= 0 || h.Retries < 1 {
		t.Errorf("Dockerfile: expected a HEALTHCHECK with an interval, retries and a timeout over api healthcheck's %s, got interval %s, timeout %s, retries %d",
			healthcheckTimeout, h.Interval, h.Timeout, h.Retries)
	}

	// The image says its version, from the build argument the binary gets
	// (TestDockerfileBuildIsStaticStampedAndChecksHealth), declared in the
	// runtime stage too or the label stays empty.
	declared := false
	for _, a := range commandsOf[*instructions.ArgCommand](rt) {
		for _, kv := range a.Args {
			declared = declared || kv.Key == "VERSION"
		}
	}
	version := ""
	for _, l := range commandsOf[*instructions.LabelCommand](rt) {
		for _, kv := range l.Labels {
			if kv.Key == "org.opencontainers.image.version" && declared {
				var err error
				if version, _, err = shell.NewLex('\\').ProcessWord(kv.Value, shell.EnvsFromSlice([]string{"VERSION=v1.2.3"})); err != nil {
					t.Fatalf("Dockerfile: expand LABEL %s=%s: %v", kv.Key, kv.Value, err)
				}
			}
		}
	}
	if version != "v1.2.3" {
		t.Errorf("Dockerfile: expected LABEL org.opencontainers.image.version to be v1.2.3 with --build-arg VERSION=v1.2.3, got %q", version)
	}
}

// dockerBuild builds the binary into dir with the build stage's `go build`
// RUN, expanded by BuildKit's shell lexer with the stage's ARGs and ENV as a
// build with --build-arg VERSION=version for this machine's platform would.
func dockerBuild(t *testing.T, dir, version string) string {
	t.Helper()
	d := parseDockerfile(t)
	build := d.stage(t, "build")
	args := []string{"VERSION=" + version, "TARGETOS=" + runtime.GOOS, "TARGETARCH=" + runtime.GOARCH}
	buildEnv := stageEnv(t, build, args)
	var words []string
	for _, r := range commandsOf[*instructions.RunCommand](build) {
		if len(r.CmdLine) == 1 && strings.Contains(r.CmdLine[0], "go build") {
			vars := slices.Clone(args)
			for k, v := range buildEnv {
				vars = append(vars, k+"="+v)
			}
			var err error
			if words, err = shell.NewLex('\\').ProcessWords(r.CmdLine[0], shell.EnvsFromSlice(vars)); err != nil {
				t.Fatalf("Dockerfile: expand %q: %v", r.CmdLine[0], err)
			}
		}
	}
	if len(words) < 2 || words[0] != "go" || words[1] != "build" {
		t.Fatalf("Dockerfile: expected a RUN go build … in the build stage, got %q", words)
	}
	bin := filepath.Join(dir, "api")
	o := slices.Index(words, "-o")
	if o < 0 || o+1 >= len(words) || words[o+1] != "/out/api" {
		t.Fatalf("Dockerfile: expected the build to write -o /out/api, got %q", words)
	}
	words[o+1] = bin
	cmd := exec.Command(words[0], words[1:]...)
	cmd.Dir = repoRoot
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false") // the build context has no .git
	for k, v := range buildEnv {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s (the Dockerfile's build): %v\n%s", strings.Join(words, " "), err, out)
	}
	return bin
}

func TestDockerfileBuildIsStaticStampedAndChecksHealth(t *testing.T) {
	t.Parallel()
	const version = "v9.8.7-test"
	bin := dockerBuild(t, t.TempDir(), version)

	// Static: no program interpreter, no shared library.
	if runtime.GOOS == "linux" {
		f, err := elf.Open(bin)
		if err != nil {
			t.Fatalf("open %s as ELF: %v", bin, err)
		}
		defer f.Close()
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("the Dockerfile's build has a PT_INTERP program header; expected a static binary")
			}
		}
		if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
			t.Errorf("the Dockerfile's build needs shared libraries %q (%v); expected none", libs, err)
		}
	}

	// What `go version -m` shows: the flags, and none of the test-only
	// modules these tests use.
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatalf("read build info of %s: %v", bin, err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	// (-trimpath leaves -ldflags out; `api version` below shows the stamp.)
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("the Dockerfile's build: expected CGO_ENABLED=0 and -trimpath, got %v", info.Settings)
	}
	for _, dep := range info.Deps {
		for _, testOnly := range []string{"github.com/compose-spec/", "github.com/moby/"} {
			if strings.HasPrefix(dep.Path, testOnly) {
				t.Errorf("the binary links %s %s, a test-only dependency; expected only the service's own", dep.Path, dep.Version)
			}
		}
	}

	run := func(env []string, args ...string) (int, string) {
		t.Helper()
		code, stdout, stderr := runBinary(t, bin, env, args...)
		return code, stdout + stderr
	}
	if code, out := run(nil, "version"); code != 0 || out != version+"\n" {
		t.Errorf("api version: expected exit 0 and %q, got %d and %q", version+"\n", code, out)
	}
	s := startServer(t, "TRIBUTARY_MYSQL_DSN=")
	if code, out := run([]string{"TRIBUTARY_ADDR=" + hostPort(s.URL)}, "healthcheck"); code != 0 {
		t.Errorf("api healthcheck against a live server: expected exit status 0, got %d: %s", code, out)
	}
	if code, out := run([]string{"TRIBUTARY_ADDR=" + freeport.Addr(t)}, "healthcheck"); code != 1 {
		t.Errorf("api healthcheck with no server: expected exit status 1, got %d: %s", code, out)
	}
}

// TestDockerContextHoldsWhatTheBuildNeedsAndLittleElse: .dockerignore keeps
// out the data directory, .git and the tests, but no file that a package of
// the binary compiles or embeds.
func TestDockerContextHoldsWhatTheBuildNeedsAndLittleElse(t *testing.T) {
	t.Parallel()
	f, err := os.Open(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatalf("open .dockerignore: %v", err)
	}
	defer f.Close()
	patterns, err := ignorefile.ReadAll(f)
	if err != nil {
		t.Fatalf("read .dockerignore: %v", err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		t.Fatalf(".dockerignore: %v", err)
	}
	excluded := func(path string) bool {
		t.Helper()
		ex, err := pm.MatchesOrParentMatches(path)
		if err != nil {
			t.Fatalf(".dockerignore: match %s: %v", path, err)
		}
		return ex
	}

	needed := []string{"go.mod", "go.sum"}
	list := exec.Command("go", "list", "-deps", "-json=Dir,GoFiles,EmbedFiles,Module", "./cmd/api")
	list.Dir = repoRoot
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list -deps ./cmd/api: %v", err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			Dir                 string
			GoFiles, EmbedFiles []string
			Module              *struct{ Main bool }
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list: %v", err)
		}
		if p.Module == nil || !p.Module.Main {
			continue
		}
		rel, err := filepath.Rel(root, p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(p.GoFiles, p.EmbedFiles...) {
			needed = append(needed, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(needed) < 10 {
		t.Fatalf("go list found only %q; expected the binary's packages", needed)
	}
	for _, path := range needed {
		if excluded(path) {
			t.Errorf(".dockerignore excludes %s, which the build needs", path)
		}
	}
	for _, path := range []string{"data/tributary.db", ".git/HEAD", "bin/api", "tests/main_test.go", "internal/http/http_test.go",
		"internal/http/testdata/fuzz/x", "docs/performance.md", "compose.yaml", ".env"} {
		if !excluded(path) {
			t.Errorf(".dockerignore lets %s into the build context; expected it kept out", path)
		}
	}
}

// TestTheImagesBinaryKnowsTimeZonesWithoutTheHostsDatabase: the image (an
// empty base) has no zoneinfo, and a DSN with loc=Europe/Paris, which starts
// with `go run` on a machine that has one, was refused in the image:
// "unknown time zone Europe/Paris". The binary carries Go's time zone
// database now. The image's file system is imitated by hiding the host's
// zoneinfo (a tmpfs over it, in a mount namespace of the binary's own).
func TestTheImagesBinaryKnowsTimeZonesWithoutTheHostsDatabase(t *testing.T) {
	t.Parallel()
	const hide = "mount -t tmpfs none /usr/share/zoneinfo && test ! -e /usr/share/zoneinfo/Europe/Paris"
	if out, err := exec.Command("unshare", "-rm", "sh", "-c", hide).CombinedOutput(); err != nil {
		t.Skipf("cannot hide the host's zoneinfo in a mount namespace (unshare -rm): %v: %s", err, out)
	}
	for _, dir := range []string{"/usr/share/lib/zoneinfo", "/usr/lib/locale/TZ", "/etc/zoneinfo"} {
		if _, err := os.Stat(dir); err == nil {
			t.Skipf("%s exists too, where Go looks for zoneinfo: only /usr/share/zoneinfo is hidden", dir)
		}
	}
	bin := dockerBuild(t, t.TempDir(), "v0.0.0-tz")
	dsn := mysqltest.NewDatabase(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	var env []string
	for _, kv := range inheritedEnv() {
		if !strings.HasPrefix(kv, "ZONEINFO=") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command("unshare", "-rm", "sh", "-c", hide+` && exec "$0" migrate`, bin)
	cmd.Env = append(env, "TRIBUTARY_MYSQL_DSN="+dsn+sep+"loc=Europe%2FParis")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("api migrate with loc=Europe/Paris in the DSN and no zoneinfo on the host: expected exit 0, got %v:\n%s", err, out)
	}
}

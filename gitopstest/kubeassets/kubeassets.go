package kubeassets

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Pinned versions of the components. Changing one changes the cache folder.
const (
	KubernetesVersion = "1.37.2" // k8s.io/kubernetes; needs Go >= 1.26.0
	EtcdVersion       = "3.7.3"  // go.etcd.io/etcd/server/v3
	KwokVersion       = "0.8.0"  // sigs.k8s.io/kwok
)

// Component is one binary kept in the cache folder.
type Component string

// The components. [Ensure] builds the ones it is asked for.
const (
	Etcd                  Component = "etcd"
	KubeAPIServer         Component = "kube-apiserver"
	KubeControllerManager Component = "kube-controller-manager"
	KubeScheduler         Component = "kube-scheduler"
	Kwok                  Component = "kwok"
)

// APIServer lists the components of a bare API server.
var APIServer = []Component{Etcd, KubeAPIServer}

// SimCluster lists the components of a simulated full cluster.
var SimCluster = []Component{Etcd, KubeAPIServer, KubeControllerManager, KubeScheduler, Kwok}

// KwokStagesFile is the name, inside the cache folder, of the kwok Stage
// configuration written next to the kwok binary. See [Ensure].
const KwokStagesFile = "kwok-stages.yaml"

// NeverReadyLabel marks Pods that the simulated cluster runs but never makes
// Ready, to exercise failing rollouts.
const NeverReadyLabel = "gitopskit.test/never-ready"

// Options configure [Ensure].
type Options struct {
	// Dir is the cache folder. Default: [DefaultDir].
	Dir string
	// Components to make sure of. Default: [SimCluster] (all of them).
	Components []Component
	// Log receives progress lines (a cold build takes many minutes and says
	// so). Default: discarded.
	Log io.Writer
	// Go is the go command to build with. Default: "go" from PATH.
	Go string
}

// DefaultDir returns the default cache folder:
// <user cache dir>/gitopskit/kube-assets/k8s-<v>-etcd-<v>-kwok-<v>.
func DefaultDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("kubeassets: no user cache directory: %w", err)
	}
	return filepath.Join(base, "gitopskit", "kube-assets",
		fmt.Sprintf("k8s-%s-etcd-%s-kwok-%s", KubernetesVersion, EtcdVersion, KwokVersion)), nil
}

// Ensure makes sure the cache folder holds the requested components at the
// pinned versions, building what is missing, and returns the folder. It is
// idempotent and safe to call from several processes at once: builds are
// serialised by a lock file in the folder.
func Ensure(ctx context.Context, opts Options) (string, error) {
	dir := opts.Dir
	if dir == "" {
		d, err := DefaultDir()
		if err != nil {
			return "", err
		}
		dir = d
	}
	comps := opts.Components
	if len(comps) == 0 {
		comps = SimCluster
	}
	b := &builder{dir: dir, log: opts.Log, goCmd: opts.Go}
	if b.log == nil {
		b.log = io.Discard
	}
	if b.goCmd == "" {
		b.goCmd = "go"
	}
	if b.upToDate(comps) {
		return dir, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("kubeassets: %w", err)
	}
	unlock, err := lockDir(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", fmt.Errorf("kubeassets: lock %s: %w", dir, err)
	}
	defer unlock()
	for _, c := range comps {
		if b.has(c) { // built by another process while we waited for the lock
			continue
		}
		if err := b.build(ctx, c); err != nil {
			return "", err
		}
	}
	return dir, nil
}

type builder struct {
	dir   string
	log   io.Writer
	goCmd string
}

func versionOf(c Component) string {
	switch c {
	case Etcd:
		return EtcdVersion
	case Kwok:
		return KwokVersion
	default:
		return KubernetesVersion
	}
}

// A stamp file next to each binary records the version it was built at, so
// the up-to-date check costs a few stat calls instead of running binaries.
func (b *builder) stamp(c Component) string { return filepath.Join(b.dir, string(c)+".version") }

func (b *builder) has(c Component) bool {
	if fi, err := os.Stat(filepath.Join(b.dir, string(c))); err != nil || fi.Mode()&0o111 == 0 {
		return false
	}
	if c == Kwok {
		if _, err := os.Stat(filepath.Join(b.dir, KwokStagesFile)); err != nil {
			return false
		}
	}
	v, err := os.ReadFile(b.stamp(c))
	return err == nil && strings.TrimSpace(string(v)) == versionOf(c)
}

func (b *builder) upToDate(comps []Component) bool {
	for _, c := range comps {
		if !b.has(c) {
			return false
		}
	}
	return true
}

func (b *builder) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "kube-assets: "+format+"\n", args...)
}

// goEnv isolates the helper builds from whatever the calling project sets.
func goEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "GOFLAGS", "GOWORK", "CGO_ENABLED", "GOOS", "GOARCH":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "GOFLAGS=-mod=mod -buildvcs=false", "GOWORK=off", "CGO_ENABLED=0")
}

func (b *builder) run(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.goCmd, args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("kubeassets: go %s in %s: %w\n%s", strings.Join(args, " "), dir, err, tail(stderr.String(), 40))
	}
	return out, nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// moduleInfo downloads mod@version into the module cache and returns the
// paths of its go.mod file and source folder.
func (b *builder) moduleInfo(ctx context.Context, dir, mod, version string) (goMod, srcDir string, err error) {
	out, err := b.run(ctx, dir, "mod", "download", "-json", mod+"@v"+version)
	if err != nil {
		return "", "", err
	}
	var info struct{ GoMod, Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", "", fmt.Errorf("kubeassets: go mod download %s: %w", mod, err)
	}
	if info.Error != "" {
		return "", "", fmt.Errorf("kubeassets: go mod download %s: %s", mod, info.Error)
	}
	return info.GoMod, info.Dir, nil
}

// helperModule writes (once) a module under dir/src/<name> requiring mod at
// version, with the given extra go.mod text, and tidies it.
func (b *builder) helperModule(ctx context.Context, name, mod, version, extra string) (string, error) {
	m := filepath.Join(b.dir, "src", name)
	if _, err := os.Stat(filepath.Join(m, "go.sum")); err == nil {
		return m, nil
	}
	if err := os.MkdirAll(m, 0o755); err != nil {
		return "", fmt.Errorf("kubeassets: %w", err)
	}
	gomod := fmt.Sprintf("module kubeassets/%s\n\ngo 1.26.0\n\nrequire %s v%s\n%s", name, mod, version, extra)
	if err := os.WriteFile(filepath.Join(m, "go.mod"), []byte(gomod), 0o644); err != nil {
		return "", fmt.Errorf("kubeassets: %w", err)
	}
	b.logf("go mod tidy in %s", m)
	if _, err := b.run(ctx, m, "mod", "tidy"); err != nil {
		_ = os.Remove(filepath.Join(m, "go.sum"))
		return "", err
	}
	return m, nil
}

// kubernetesModule returns the helper module for the Kubernetes binaries.
// k8s.io/kubernetes requires its staging modules (k8s.io/api, client-go, ...)
// at v0.0.0 with replace directives to ./staging; replaces are ignored in a
// dependency, so each one is pinned to its published v0.<minor>.<patch> tag.
func (b *builder) kubernetesModule(ctx context.Context) (string, error) {
	tmp, err := os.MkdirTemp("", "kubeassets")
	if err != nil {
		return "", fmt.Errorf("kubeassets: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.WriteFile(filepath.Join(tmp, "go.mod"), []byte("module tmp\n\ngo 1.26.0\n"), 0o644); err != nil {
		return "", fmt.Errorf("kubeassets: %w", err)
	}
	m := filepath.Join(b.dir, "src", "k8s-"+KubernetesVersion)
	if _, err := os.Stat(filepath.Join(m, "go.sum")); err == nil {
		return m, nil
	}
	b.logf("resolving k8s.io/kubernetes v%s", KubernetesVersion)
	goMod, _, err := b.moduleInfo(ctx, tmp, "k8s.io/kubernetes", KubernetesVersion)
	if err != nil {
		return "", err
	}
	staging := "v0." + KubernetesVersion[strings.Index(KubernetesVersion, ".")+1:]
	data, err := os.ReadFile(goMod)
	if err != nil {
		return "", fmt.Errorf("kubeassets: %w", err)
	}
	var extra strings.Builder
	extra.WriteString("\nreplace (\n")
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[1] == "=>" && strings.HasPrefix(f[2], "./staging/") &&
			!strings.Contains(f[0], "sample-cli-plugin") && !strings.Contains(f[0], "sample-controller") {
			fmt.Fprintf(&extra, "\t%s => %s %s\n", f[0], f[0], staging)
		}
	}
	extra.WriteString(")\n")
	for _, c := range []Component{KubeAPIServer, KubeControllerManager, KubeScheduler} {
		fmt.Fprintf(&extra, "\ntool k8s.io/kubernetes/cmd/%s", c)
	}
	extra.WriteString("\n")
	return b.helperModule(ctx, "k8s-"+KubernetesVersion, "k8s.io/kubernetes", KubernetesVersion, extra.String())
}

func (b *builder) build(ctx context.Context, c Component) error {
	start := time.Now()
	var modDir, pkg, ldflags string
	var err error
	switch c {
	case Etcd:
		// etcd's main package is the root of its server module.
		pkg = "go.etcd.io/etcd/server/v3"
		modDir, err = b.helperModule(ctx, "etcd-"+EtcdVersion, pkg, EtcdVersion, "\ntool "+pkg+"\n")
		ldflags = "-s -w"
	case Kwok:
		pkg = "sigs.k8s.io/kwok/cmd/kwok"
		modDir, err = b.helperModule(ctx, "kwok-"+KwokVersion, "sigs.k8s.io/kwok", KwokVersion, "\ntool "+pkg+"\n")
		ldflags = "-s -w"
		if err == nil {
			err = b.writeKwokStages(ctx, modDir)
		}
	case KubeAPIServer, KubeControllerManager, KubeScheduler:
		pkg = "k8s.io/kubernetes/cmd/" + string(c)
		modDir, err = b.kubernetesModule(ctx)
		v := "k8s.io/component-base/version"
		major, rest, _ := strings.Cut(KubernetesVersion, ".")
		minor, _, _ := strings.Cut(rest, ".")
		ldflags = fmt.Sprintf("-s -w -X %[1]s.gitVersion=v%[2]s -X %[1]s.gitMajor=%[3]s -X %[1]s.gitMinor=%[4]s"+
			" -X %[1]s.gitTreeState=clean -X %[1]s.buildDate=1970-01-01T00:00:00Z", v, KubernetesVersion, major, minor)
	default:
		return fmt.Errorf("kubeassets: unknown component %q", c)
	}
	if err != nil {
		return err
	}
	b.logf("building %s v%s (a cold build takes minutes: kube-apiserver ~8, kube-controller-manager ~5, etcd ~2.5 on 2 cores)", c, versionOf(c))
	out := filepath.Join(b.dir, string(c))
	if _, err := b.run(ctx, modDir, "build", "-trimpath", "-ldflags", ldflags, "-o", out+".tmp", pkg); err != nil {
		return err
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return fmt.Errorf("kubeassets: %w", err)
	}
	if err := os.WriteFile(b.stamp(c), []byte(versionOf(c)+"\n"), 0o644); err != nil {
		return fmt.Errorf("kubeassets: %w", err)
	}
	b.logf("built %s in %s", c, time.Since(start).Round(time.Second))
	return nil
}

// writeKwokStages writes the kwok Stage configuration. kwok's controller has
// no built-in stages; take the stock "fast" stages from the kwok module source
// (the files kwokctl embeds), make pod-ready skip Pods labelled
// [NeverReadyLabel], and add a stage that runs those Pods without ever making
// them Ready.
func (b *builder) writeKwokStages(ctx context.Context, modDir string) error {
	_, src, err := b.moduleInfo(ctx, modDir, "sigs.k8s.io/kwok", KwokVersion)
	if err != nil {
		return err
	}
	stages := filepath.Join(src, "kustomize", "stage")
	var out bytes.Buffer
	for _, f := range []string{"node/fast/node-initialize.yaml", "node/heartbeat-with-lease/node-heartbeat-with-lease.yaml",
		"pod/fast/pod-complete.yaml", "pod/fast/pod-delete.yaml"} {
		data, err := os.ReadFile(filepath.Join(stages, f))
		if err != nil {
			return fmt.Errorf("kubeassets: kwok stage: %w", err)
		}
		out.WriteString("---\n")
		out.Write(data)
	}
	ready, err := os.ReadFile(filepath.Join(stages, "pod/fast/pod-ready.yaml"))
	if err != nil {
		return fmt.Errorf("kubeassets: kwok stage: %w", err)
	}
	const anchor = "    matchExpressions:\n"
	i := bytes.Index(ready, []byte(anchor))
	if i < 0 {
		return errors.New("kubeassets: kwok pod-ready stage has no matchExpressions to extend")
	}
	i += len(anchor)
	out.WriteString("---\n")
	out.Write(ready[:i])
	fmt.Fprintf(&out, "    - key: '.metadata.labels.[\"%s\"]'\n      operator: 'DoesNotExist'\n", NeverReadyLabel)
	out.Write(ready[i:])
	out.WriteString(strings.ReplaceAll(neverReadyStage, "LABEL", NeverReadyLabel))
	tmp := filepath.Join(b.dir, KwokStagesFile+".tmp")
	if err := os.WriteFile(tmp, out.Bytes(), 0o644); err != nil {
		return fmt.Errorf("kubeassets: %w", err)
	}
	return os.Rename(tmp, filepath.Join(b.dir, KwokStagesFile))
}

const neverReadyStage = `---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-running-never-ready
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.labels.["LABEL"]'
      operator: 'Exists'
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.phase'
      operator: 'In'
      values:
      - 'Pending'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: "True"
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: true
        restartCount: 0
        state:
          running:
            startedAt: {{ $now | Quote }}
      {{ end }}
      {{ $hostIPs := NodeIPsWith .spec.nodeName }}
      {{ with $hostIPs }}
      hostIP: {{ index . 0 | Quote }}
      {{ end }}
      {{ $podIPs := PodIPsWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) }}
      {{ with $podIPs }}
      podIP: {{ index . 0 | Quote }}
      {{ end }}
      phase: Running
      startTime: {{ $now | Quote }}
`

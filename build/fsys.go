package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/gitopskit/gitopskit/internal/object"
)

// Virtual layout of the filesystem kustomize sees: the artifact is mounted
// at virtArtifact and the generated overlay lives at virtOverlay. Anything
// else is outside the artifact. Mounting at a fixed path keeps kustomize's
// messages (and so our errors) free of temporary directory names, and ".."
// arithmetic gives the same answer as on disk: a path leaves virtArtifact if
// and only if it leaves the artifact directory.
const (
	virtArtifact = "/artifact"
	virtOverlay  = "/gitopskit"
	// maxSymlinkHops bounds symlink resolution, as the kernel's ELOOP does.
	maxSymlinkHops = 40
)

var errReadOnly = errors.New("the build filesystem is read-only")

// confinedFS is the filesys.FileSystem kustomize builds on. It reads the
// artifact lazily from disk through an os.Root, resolving every symlink
// itself so that any path or link leading outside the root is refused with
// a *PathEscapeError; it enforces the size limits before reading; it serves
// generated files from memory; and it never writes.
//
// Policy failures (escapes, sizes, remote bases, cancellation) are recorded,
// because kustomize swallows or flattens the errors its filesystem returns:
// after a failed build the first recorded failure is the real cause.
type confinedFS struct {
	ctx    context.Context
	root   *os.Root
	limits Limits
	// overlay holds generated files by virtual path; set up before the build
	// and read-only during it.
	overlay map[string][]byte
	// onKustomization inspects every kustomization file read, by the
	// virtual path kustomize asked for and its name for errors, and returns
	// what kustomize is served instead (see serveKustomization).
	onKustomization func(vp, rel string, data []byte) ([]byte, error)
	// countObjects makes ReadFile count the objects of the manifests it
	// reads and refuse a file that brings the total over MaxObjects; it also
	// checks the builtin plugin configurations in them for remote
	// references.
	countObjects bool
	// remote, with AllowRemoteBases, fetches the remote references of the
	// kustomizations read and mounts the copies (see remote_fetch.go).
	remote *remoteFetcher

	mu        sync.Mutex
	total     int64
	objects   int             // counted, see countObjects
	inspected map[string]bool // resolved relative paths counted
	failure   error
	content   map[string][]byte   // files read, by resolved relative path
	reads     []string            // resolved relative paths read, in order
	links     map[string]resolved // resolution cache by virtual path
	mounts    map[string]*mount   // copies of remote references, by virtual directory
}

// mount is the copy of a remote reference, mounted at virtRemote/<n> and
// confined to itself as the artifact is.
type mount struct {
	root  *os.Root
	depth int // how many remote bases deep it was named
}

type resolved struct {
	rel string // path relative to the root with no symlinks, "." for the root
	err error
}

func newConfinedFS(ctx context.Context, root *os.Root, limits Limits) *confinedFS {
	return &confinedFS{
		ctx:       ctx,
		root:      root,
		limits:    limits.withDefaults(),
		overlay:   map[string][]byte{},
		content:   map[string][]byte{},
		inspected: map[string]bool{},
		links:     map[string]resolved{},
	}
}

// fail records err as the build's failure if it is the first one.
func (f *confinedFS) fail(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failure == nil {
		f.failure = err
	}
	return err
}

func (f *confinedFS) firstFailure() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failure
}

// readPaths returns the artifact files read so far, in order.
func (f *confinedFS) readPaths() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.reads)
}

func vclean(p string) string {
	p = filepath.ToSlash(p)
	if !path.IsAbs(p) {
		p = "/" + p
	}
	return path.Clean(p)
}

// virtual returns the virtual path of a resolved path: relative to the
// artifact root, or to a mounted copy (see mountRel).
func virtual(rel string) string {
	if dir, inner, ok := splitMountRel(rel); ok {
		if inner == "." {
			return dir
		}
		return dir + "/" + inner
	}
	if rel == "." || rel == "" {
		return virtArtifact
	}
	return virtArtifact + "/" + rel
}

// mountRel encodes a path relative to the mounted copy dir as a resolved
// path; splitMountRel decodes it. Artifact paths never start with NUL.
func mountRel(dir, inner string) string { return "\x00" + dir + "\x00" + inner }

func splitMountRel(rel string) (dir, inner string, ok bool) {
	rest, ok := strings.CutPrefix(rel, "\x00")
	if !ok {
		return "", "", false
	}
	dir, inner, ok = strings.Cut(rest, "\x00")
	return dir, inner, ok
}

// relName is a resolved path as errors show it: relative to the artifact
// root, or the virtual path of a file in a copy of a remote reference.
func relName(rel string) string {
	if _, _, ok := splitMountRel(rel); ok {
		return virtual(rel)
	}
	return rel
}

// rootOf returns the root a resolved path is relative to, and the path
// relative to it.
func (f *confinedFS) rootOf(rel string) (*os.Root, string) {
	if dir, inner, ok := splitMountRel(rel); ok {
		f.mu.Lock()
		m := f.mounts[dir]
		f.mu.Unlock()
		if m != nil {
			return m.root, inner
		}
	}
	return f.root, rel
}

// addMount mounts the copy of a remote reference at the virtual directory
// dir.
func (f *confinedFS) addMount(dir string, root *os.Root, depth int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mounts == nil {
		f.mounts = map[string]*mount{}
	}
	f.mounts[dir] = &mount{root: root, depth: depth}
}

// mountFor returns the copy vp lies in and vp's path inside it.
func (f *confinedFS) mountFor(vp string) (dir, inner string, m *mount, ok bool) {
	rest, ok := strings.CutPrefix(vp, virtRemote+"/")
	if !ok {
		return "", "", nil, false
	}
	name, inner, _ := strings.Cut(rest, "/")
	dir = virtRemote + "/" + name
	if inner == "" {
		inner = "."
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	m = f.mounts[dir]
	return dir, inner, m, m != nil
}

// depthOf returns how many remote bases deep the virtual path vp lies: 0
// in the artifact.
func (f *confinedFS) depthOf(vp string) int {
	if _, _, m, ok := f.mountFor(vp); ok {
		return m.depth
	}
	return 0
}

// close unmounts the copies of remote references and removes them; the
// filesystem fails every operation on them afterwards.
func (f *confinedFS) close() {
	f.mu.Lock()
	for dir, m := range f.mounts {
		m.root.Close()
		delete(f.mounts, dir)
	}
	f.mu.Unlock()
	if f.remote != nil {
		f.remote.close()
	}
}

// artifactRel names a virtual path relative to the artifact root, with "../"
// for paths outside it.
func artifactRel(vp string) string {
	r, err := filepath.Rel(virtArtifact, vp)
	if err != nil {
		return vp
	}
	return filepath.ToSlash(r)
}

func (f *confinedFS) isOverlayDir(vp string) bool {
	if vp == virtOverlay {
		return true
	}
	for p := range f.overlay {
		if strings.HasPrefix(p, vp+"/") {
			return true
		}
	}
	return false
}

// resolve maps a virtual path to a path relative to the root without
// symlinks, or fails with a *PathEscapeError or an fs.ErrNotExist error.
func (f *confinedFS) resolve(vp string) (string, error) {
	if err := f.ctx.Err(); err != nil {
		return "", f.fail(err)
	}
	vp = vclean(vp)
	f.mu.Lock()
	r, ok := f.links[vp]
	f.mu.Unlock()
	if !ok {
		r.rel, r.err = f.resolveUncached(vp)
		f.mu.Lock()
		f.links[vp] = r
		f.mu.Unlock()
	}
	if r.err != nil && errors.Is(r.err, ErrPathEscape) {
		return "", f.fail(r.err)
	}
	return r.rel, r.err
}

func (f *confinedFS) resolveUncached(vp string) (string, error) {
	rest, ok := strings.CutPrefix(vp, virtArtifact+"/")
	if vp == virtArtifact {
		rest, ok = "", true
	}
	if ok {
		return resolveIn(f.root, vp, rest,
			func(string) error { return &PathEscapeError{Path: artifactRel(vp)} },
			func(link, target string) error { return &PathEscapeError{Path: link, Target: target} })
	}
	if vp == virtOverlay || strings.HasPrefix(vp, virtOverlay+"/") {
		// The overlay's files are all in f.overlay; kustomize probes others.
		return "", &fs.PathError{Op: "stat", Path: vp, Err: fs.ErrNotExist}
	}
	dir, inner, m, mounted := f.mountFor(vp)
	if !mounted {
		return "", &PathEscapeError{Path: artifactRel(vp)}
	}
	// A copy of a remote reference is confined to itself as the artifact is.
	rel, err := resolveIn(m.root, vp, inner,
		func(p string) error { return &PathEscapeError{Path: path.Join(dir, p)} },
		func(link, target string) error { return &PathEscapeError{Path: path.Join(dir, link), Target: target} })
	if err != nil {
		return "", err
	}
	return mountRel(dir, rel), nil
}

// resolveIn resolves rest (vp's path below root) to a path below root
// without symlinks, following them itself: a ".." above root gives
// escape(rest), a symlink leading out linkEscape(link, target).
func resolveIn(root *os.Root, vp, rest string, escape func(rest string) error, linkEscape func(link, target string) error) (string, error) {
	var done []string
	todo := splitPath(rest)
	hops := 0
	for len(todo) > 0 {
		part := todo[0]
		todo = todo[1:]
		switch part {
		case ".", "":
			continue
		case "..":
			if len(done) == 0 {
				return "", escape(rest)
			}
			done = done[:len(done)-1]
			continue
		}
		cand := path.Join(append(slices.Clone(done), part)...)
		fi, err := root.Lstat(cand)
		if err != nil {
			// Report the whole path; the rest cannot be resolved.
			return "", &fs.PathError{Op: "stat", Path: vp, Err: fs.ErrNotExist}
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			done = append(done, part)
			continue
		}
		hops++
		if hops > maxSymlinkHops {
			return "", &fs.PathError{Op: "stat", Path: vp, Err: errors.New("too many levels of symbolic links")}
		}
		target, err := root.Readlink(cand)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: vp, Err: err}
		}
		target = filepath.ToSlash(target)
		if path.IsAbs(target) || filepath.IsAbs(target) {
			return "", linkEscape(cand, target)
		}
		// Check the link on its own, so the error names it.
		if escapes(done, target) {
			return "", linkEscape(cand, target)
		}
		todo = append(splitPath(target), todo...)
	}
	if len(done) == 0 {
		return ".", nil
	}
	return path.Join(done...), nil
}

func splitPath(p string) []string {
	return strings.Split(p, "/")
}

// escapes reports whether following target from the directory dir (a list
// of components below the root) leaves the root.
func escapes(dir []string, target string) bool {
	depth := len(dir)
	for _, part := range splitPath(target) {
		switch part {
		case "", ".":
		case "..":
			depth--
			if depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}

func (f *confinedFS) stat(vp string) (string, fs.FileInfo, error) {
	rel, err := f.resolve(vp)
	if err != nil {
		return "", nil, err
	}
	r, in := f.rootOf(rel)
	fi, err := r.Lstat(in)
	return rel, fi, err
}

// ReadFile reads a file, refusing files over the limits before reading them.
func (f *confinedFS) ReadFile(p string) ([]byte, error) {
	vp := vclean(p)
	if b, ok := f.overlay[vp]; ok {
		return bytes.Clone(b), nil
	}
	rel, fi, err := f.stat(vp)
	if err != nil {
		return nil, err
	}
	data, err := f.load(rel, fi)
	if err != nil {
		return nil, err
	}
	// Kustomize decides that a file is a kustomization by the name it asks
	// for, which may be a symlink to a file of any name: check by that name,
	// on every read.
	asKustomization := isKustomizationFile(path.Base(vp))
	if asKustomization && f.onKustomization != nil {
		name := relName(rel)
		if strings.HasPrefix(vp, virtArtifact+"/") {
			name = artifactRel(vp)
		}
		served, err := f.onKustomization(vp, name, data)
		if err != nil {
			return nil, f.fail(err)
		}
		return bytes.Clone(served), nil
	}
	if !asKustomization && f.countObjects {
		if err := f.inspect(rel, data); err != nil {
			return nil, f.fail(err)
		}
	}
	return bytes.Clone(data), nil
}

// load returns the content of a resolved regular file, from the cache or
// read within the limits. The caller must not change it.
func (f *confinedFS) load(rel string, fi fs.FileInfo) ([]byte, error) {
	f.mu.Lock()
	cached, ok := f.content[rel]
	f.mu.Unlock()
	if ok {
		return cached, nil
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: "read", Path: virtual(rel), Err: errors.New("is a directory")}
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "read", Path: virtual(rel), Err: errors.New("not a regular file")}
	}
	if fi.Size() > f.limits.MaxFileSize {
		return nil, f.fail(&TooLargeError{Path: relName(rel), Size: fi.Size(), Limit: f.limits.MaxFileSize})
	}
	f.mu.Lock()
	f.total += fi.Size()
	total := f.total
	f.mu.Unlock()
	if total > f.limits.MaxTotalSize {
		return nil, f.fail(&TooLargeError{Path: relName(rel), Size: total, Limit: f.limits.MaxTotalSize, Total: true})
	}
	r, in := f.rootOf(rel)
	file, err := r.Open(in)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	data, err := io.ReadAll(io.LimitReader(file, f.limits.MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > f.limits.MaxFileSize {
		return nil, f.fail(&TooLargeError{Path: relName(rel), Size: int64(len(data)), Limit: f.limits.MaxFileSize})
	}
	// Kustomize expands YAML aliases by copying nodes: bound it before
	// kustomize (or inspect) parses the file.
	if err := object.CheckAliases(data, relName(rel)); err != nil {
		return nil, f.fail(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if prev, seen := f.content[rel]; seen {
		return prev, nil
	}
	f.content[rel] = data
	f.reads = append(f.reads, rel)
	return data, nil
}

// inspect counts the objects of a manifest once per file and refuses the
// remote references of the builtin plugin configurations in it (see
// inspectManifest; gitopskit does not fetch them even with
// AllowRemoteBases), failing the build when the count passes MaxObjects.
func (f *confinedFS) inspect(rel string, data []byte) error {
	f.mu.Lock()
	done := f.inspected[rel]
	budget := f.limits.MaxObjects - f.objects
	f.mu.Unlock()
	if done {
		return nil
	}
	n, err := inspectManifest(relName(rel), data, budget)
	if err != nil {
		return f.refusal(err)
	}
	f.mu.Lock()
	if f.inspected[rel] {
		f.mu.Unlock()
		return nil
	}
	f.inspected[rel] = true
	f.objects += n
	objects := f.objects
	f.mu.Unlock()
	if objects > f.limits.MaxObjects {
		return &TooManyObjectsError{Path: relName(rel), Count: objects, Limit: f.limits.MaxObjects}
	}
	return nil
}

func isKustomizationFile(name string) bool {
	return slices.Contains(konfig.RecognizedKustomizationFileNames(), name)
}

// CleanedAbs resolves symlinks, so that kustomize's cycle detection sees
// real locations.
func (f *confinedFS) CleanedAbs(p string) (filesys.ConfirmedDir, string, error) {
	vp := vclean(p)
	if f.isOverlayDir(vp) {
		return filesys.ConfirmedDir(vp), "", nil
	}
	if _, ok := f.overlay[vp]; ok {
		return filesys.ConfirmedDir(path.Dir(vp)), path.Base(vp), nil
	}
	rel, fi, err := f.stat(vp)
	if err != nil {
		return "", "", err
	}
	real := virtual(rel)
	if fi.IsDir() {
		return filesys.ConfirmedDir(real), "", nil
	}
	return filesys.ConfirmedDir(path.Dir(real)), path.Base(real), nil
}

// Exists reports whether p exists inside the artifact or the overlay.
func (f *confinedFS) Exists(p string) bool {
	vp := vclean(p)
	if _, ok := f.overlay[vp]; ok || f.isOverlayDir(vp) {
		return true
	}
	_, _, err := f.stat(vp)
	return err == nil
}

// IsDir reports whether p is a directory inside the artifact or the overlay.
func (f *confinedFS) IsDir(p string) bool {
	vp := vclean(p)
	if f.isOverlayDir(vp) {
		return true
	}
	if _, ok := f.overlay[vp]; ok {
		return false
	}
	_, fi, err := f.stat(vp)
	return err == nil && fi.IsDir()
}

// ReadDir lists the names in a directory, sorted.
func (f *confinedFS) ReadDir(p string) ([]string, error) {
	vp := vclean(p)
	names := map[string]bool{}
	for op := range f.overlay {
		if dir, name := path.Split(op); path.Clean(dir) == vp {
			names[name] = true
		}
	}
	if vp != virtOverlay && !strings.HasPrefix(vp, virtOverlay+"/") {
		rel, err := f.resolve(vp)
		if err != nil {
			if len(names) > 0 {
				return slices.Sorted(mapsKeys(names)), nil
			}
			return nil, err
		}
		r, in := f.rootOf(rel)
		d, err := r.Open(in)
		if err != nil {
			return nil, err
		}
		defer d.Close()
		entries, err := d.ReadDir(-1)
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			names[e.Name()] = true
		}
	}
	return slices.Sorted(mapsKeys(names)), nil
}

func mapsKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// Glob matches a pattern whose directory part has no metacharacters.
func (f *confinedFS) Glob(pattern string) ([]string, error) {
	vp := vclean(pattern)
	dir, base := path.Split(vp)
	dir = path.Clean(dir)
	if strings.ContainsAny(dir, "*?[") {
		return nil, fmt.Errorf("glob %q: patterns are supported in the last path element only", pattern)
	}
	names, err := f.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, n := range names {
		ok, err := path.Match(base, n)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, path.Join(dir, n))
		}
	}
	return out, nil
}

// Walk walks the tree at p in lexical order without following symlinked
// directories, like filepath.Walk.
func (f *confinedFS) Walk(p string, walkFn filepath.WalkFunc) error {
	vp := vclean(p)
	rel, err := f.resolve(vp)
	if err != nil {
		return walkFn(vp, nil, err)
	}
	r, in := f.rootOf(rel)
	fi, err := r.Lstat(in)
	if err != nil {
		return walkFn(vp, nil, err)
	}
	err = f.walk(vp, rel, fi, walkFn)
	if errors.Is(err, filepath.SkipDir) || errors.Is(err, filepath.SkipAll) {
		return nil
	}
	return err
}

func (f *confinedFS) walk(vp, rel string, fi fs.FileInfo, walkFn filepath.WalkFunc) error {
	if err := walkFn(vp, fi, nil); err != nil || !fi.IsDir() {
		return err
	}
	r, in := f.rootOf(rel)
	d, err := r.Open(in)
	if err != nil {
		return walkFn(vp, fi, err)
	}
	entries, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return walkFn(vp, fi, err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, e := range entries {
		cfi, err := e.Info()
		if err != nil {
			return err
		}
		err = f.walk(path.Join(vp, e.Name()), path.Join(rel, e.Name()), cfi, walkFn)
		if err != nil {
			if errors.Is(err, filepath.SkipDir) && cfi.IsDir() {
				continue
			}
			return err
		}
	}
	return nil
}

// Open returns the content of a file as a read-only File.
func (f *confinedFS) Open(p string) (filesys.File, error) {
	data, err := f.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return &memFile{name: path.Base(vclean(p)), r: bytes.NewReader(data), size: int64(len(data))}, nil
}

// Create always fails: builds never write.
func (f *confinedFS) Create(string) (filesys.File, error) { return nil, errReadOnly }

// Mkdir always fails: builds never write.
func (f *confinedFS) Mkdir(string) error { return errReadOnly }

// MkdirAll always fails: builds never write.
func (f *confinedFS) MkdirAll(string) error { return errReadOnly }

// RemoveAll always fails: builds never write.
func (f *confinedFS) RemoveAll(string) error { return errReadOnly }

// WriteFile always fails: builds never write.
func (f *confinedFS) WriteFile(string, []byte) error { return errReadOnly }

var _ filesys.FileSystem = (*confinedFS)(nil)

type memFile struct {
	name string
	r    *bytes.Reader
	size int64
}

func (m *memFile) Read(p []byte) (int, error) { return m.r.Read(p) }
func (m *memFile) Write([]byte) (int, error)  { return 0, errReadOnly }
func (m *memFile) Close() error               { return nil }
func (m *memFile) Stat() (os.FileInfo, error) { return memInfo{m}, nil }

type memInfo struct{ f *memFile }

func (i memInfo) Name() string       { return i.f.name }
func (i memInfo) Size() int64        { return i.f.size }
func (i memInfo) Mode() fs.FileMode  { return 0o444 }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return false }
func (i memInfo) Sys() any           { return nil }

package source

import (
	"context"
	"fmt"
	"io"
)

// Limits bound what one fetch receives and writes: a remote can send
// without end, and a repository of a few megabytes can hold trees that
// expand to gigabytes (one large blob under many paths) or millions of
// files. The pack is counted while it is received, and the artifact while
// it is written, before each file and during each copy, so a fetch stops at
// the bound rather than after receiving or writing everything. Zero fields take the defaults of
// [DefaultLimits]; a negative field means no bound.
type Limits struct {
	// MaxBytes is the most bytes of file content in one artifact: the sum of
	// the sizes of its regular files (a file hard-linked from an earlier
	// artifact counts too, since readers of the artifact read it).
	MaxBytes int64
	// MaxFiles is the most regular files and symbolic links in one artifact.
	MaxFiles int
	// MaxPackBytes is the most bytes one fetch receives from the remote
	// (the pack, before it is unpacked), checked while it is received, so
	// that a remote cannot send without end.
	MaxPackBytes int64
}

// DefaultLimits returns the limits used for zero fields: 1 GiB and 100,000
// files per artifact, above the largest repositories GitOps tools are
// pointed at (the Kubernetes repository's tree is about 25,000 files and
// 250 MB), far below what fills a disk, and 1 GiB received per fetch.
func DefaultLimits() Limits {
	return Limits{MaxBytes: 1 << 30, MaxFiles: 100000, MaxPackBytes: 1 << 30}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxBytes == 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.MaxFiles == 0 {
		l.MaxFiles = d.MaxFiles
	}
	if l.MaxPackBytes == 0 {
		l.MaxPackBytes = d.MaxPackBytes
	}
	return l
}

// check returns a *TooLargeError if an artifact of size bytes and files
// files is over the limits; path names the file that brought it there.
func (l Limits) check(path string, size int64, files int) error {
	if l.MaxFiles >= 0 && files > l.MaxFiles {
		return &TooLargeError{Path: path, Count: int64(files), Limit: int64(l.MaxFiles), Files: true}
	}
	if l.MaxBytes >= 0 && size > l.MaxBytes {
		return &TooLargeError{Path: path, Count: size, Limit: l.MaxBytes}
	}
	return nil
}

// TooLargeError reports an artifact over [Limits]; errors.Is(err,
// ErrTooLarge) holds for it. Nothing of the artifact is left on disk.
type TooLargeError struct {
	// Path is the file (slash-separated, relative to the repository root)
	// that brought the artifact over the limit; empty for an artifact found
	// in the Cache that is over the limits given now.
	Path string
	// Count is the bytes, or with Files the files, that the artifact would
	// have with Path.
	Count int64
	// Limit is the limit exceeded.
	Limit int64
	// Files reports that the file count, not the byte count, is over.
	Files bool
	// Pack reports that the bytes received from the remote are over
	// [Limits.MaxPackBytes]; nothing was written then.
	Pack bool
}

func (e *TooLargeError) Error() string {
	if e.Pack {
		return fmt.Sprintf("receiving the pack brings the fetch to %d bytes, over the limit of %d bytes", e.Count, e.Limit)
	}
	what, unit := "bytes", "bytes"
	if e.Files {
		what, unit = "files", "files"
	}
	if e.Path == "" {
		return fmt.Sprintf("the artifact has %d %s, over the limit of %d %s", e.Count, what, e.Limit, unit)
	}
	return fmt.Sprintf("writing %s brings the artifact to %d %s, over the limit of %d %s", e.Path, e.Count, what, e.Limit, unit)
}

// Is reports whether target is [ErrTooLarge].
func (e *TooLargeError) Is(target error) bool { return target == ErrTooLarge }

// ctxReader fails reads with the context's error once it has ended, so that
// copying a large file stops at the deadline.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

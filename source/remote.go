package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
	"github.com/go-git/go-git/v5/storage"
)

// infiniteDepth is what git sends to deepen a shallow repository fully.
const infiniteDepth = 0x7fffffff

// maxHaves bounds the commits offered to the server as already present.
const maxHaves = 32

// session is one upload-pack conversation with a remote: the reference
// advertisement (the ls-remote round trip) and, if needed, one pack
// request. Over HTTP these are a GET and a POST; over SSH one connection.
type session struct {
	u    *remoteURL
	auth *connAuth
	up   transport.UploadPackSession
	ar   *packp.AdvRefs
	// maxPack bounds the bytes of one pack received (Limits.MaxPackBytes,
	// negative for no bound).
	maxPack int64
}

// openSession connects to u and reads the advertised references.
func openSession(ctx context.Context, u *remoteURL, a *Auth) (*session, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ca, err := a.prepare(ctx, u)
	if err != nil {
		return nil, err
	}
	ep := *u.ep
	ep.CaBundle = ca.caBundle
	cl, err := client.NewClient(&ep)
	if err != nil {
		return nil, invalidf("%s: %v", u, err)
	}
	up, err := cl.NewUploadPackSession(&ep, ca.method)
	if err != nil {
		return nil, classify(ctx, err, ca.hostKeyErr())
	}
	s := &session{u: u, auth: ca, up: up}
	s.ar, err = up.AdvertisedReferencesContext(ctx)
	if err != nil {
		_ = up.Close()
		return nil, classify(ctx, err, ca.hostKeyErr())
	}
	return s, nil
}

func (s *session) close() { _ = s.up.Close() }

// advertised reports whether h is the tip of an advertised reference.
func (s *session) advertised(h plumbing.Hash) bool {
	for _, v := range s.ar.References {
		if v == h {
			return true
		}
	}
	for _, v := range s.ar.Peeled {
		if v == h {
			return true
		}
	}
	return false
}

// allowsCommitWant reports whether the server sends commits that are not
// reference tips when asked by ID.
func (s *session) allowsCommitWant() bool {
	c := s.ar.Capabilities
	return c.Supports(capability.AllowReachableSHA1InWant) || c.Supports(capability.AllowTipSHA1InWant)
}

// fetchPack asks for want with the given depth, offers the commits st
// already has if offerHaves is set, and stores the pack in st. It returns the number of bytes
// received.
func (s *session) fetchPack(ctx context.Context, st storage.Storer, want plumbing.Hash, depth int, offerHaves bool) (int64, error) {
	req := packp.NewUploadPackRequestFromCapabilities(s.ar.Capabilities)
	if s.ar.Capabilities.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	if err := req.Capabilities.Set(capability.Shallow); err != nil {
		return 0, err
	}
	req.Depth = packp.DepthCommits(depth)
	req.Wants = []plumbing.Hash{want}
	shallows, err := st.Shallow()
	if err != nil {
		return 0, err
	}
	if offerHaves {
		req.Haves = localHaves(st, shallows)
	}
	// The server needs to know which of the commits we offer lack their
	// parents; the other shallow commits are not reachable from them.
	// This keeps the request small however long the shallow list grows.
	req.Shallows = intersect(shallows, req.Haves)
	// In a shallow fetch the server walks no history below the new tip, so
	// it leaves out the objects of the commits we have only in a thin pack
	// (deltas against objects outside the pack). go-git filters thin-pack
	// from the advertised capabilities because its pack writer cannot store
	// such packs; we ask for it anyway when we have something and resolve
	// the pack against the storage, object by object.
	thin := len(req.Haves) > 0
	if thin {
		_ = req.Capabilities.Set(capability.ThinPack)
	}

	resp, err := s.up.UploadPack(ctx, req)
	if err != nil {
		return 0, classify(ctx, err, s.auth.hostKeyErr())
	}
	defer resp.Close()

	cr := &countingReader{r: resp, limit: s.maxPack}
	var r io.Reader = cr
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		r = sideband.NewDemuxer(sideband.Sideband64k, cr)
	case req.Capabilities.Supports(capability.Sideband):
		r = sideband.NewDemuxer(sideband.Sideband, cr)
	}
	if thin {
		p, err := packfile.NewParserWithStorage(packfile.NewScanner(r), st)
		if err == nil {
			_, err = p.Parse()
		}
		if err != nil {
			return cr.n, cr.overOr(classify(ctx, fmt.Errorf("receiving pack: %w", err), nil))
		}
	} else if err := packfile.UpdateObjectStorage(st, r); err != nil {
		return cr.n, cr.overOr(classify(ctx, fmt.Errorf("receiving pack: %w", err), nil))
	}
	if err := updateShallow(st, shallows, resp.Shallows, resp.Unshallows); err != nil {
		return cr.n, err
	}
	return cr.n, nil
}

// updateShallow records the shallow boundary after a fetch.
func updateShallow(st storage.Storer, old, add, remove []plumbing.Hash) error {
	if len(add) == 0 && len(remove) == 0 {
		return nil
	}
	gone := make(map[plumbing.Hash]bool, len(remove))
	for _, h := range remove {
		gone[h] = true
	}
	seen := make(map[plumbing.Hash]bool)
	var out []plumbing.Hash
	for _, h := range append(append([]plumbing.Hash(nil), old...), add...) {
		if !gone[h] && !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return st.SetShallow(out)
}

// intersect returns the hashes of a that are in b, in a's order.
func intersect(a, b []plumbing.Hash) []plumbing.Hash {
	in := make(map[plumbing.Hash]bool, len(b))
	for _, h := range b {
		in[h] = true
	}
	var out []plumbing.Hash
	for _, h := range a {
		if in[h] {
			out = append(out, h)
		}
	}
	return out
}

// localHaves lists commits st has: the tips of its references and the
// most recently fetched shallow commits.
func localHaves(st storage.Storer, shallows []plumbing.Hash) []plumbing.Hash {
	seen := make(map[plumbing.Hash]bool)
	var haves []plumbing.Hash
	add := func(h plumbing.Hash) {
		if len(haves) >= maxHaves || seen[h] {
			return
		}
		seen[h] = true
		if _, err := object.GetCommit(st, h); err == nil {
			haves = append(haves, h)
		}
	}
	if iter, err := st.IterReferences(); err == nil {
		_ = iter.ForEach(func(r *plumbing.Reference) error {
			if r.Type() != plumbing.HashReference {
				return nil
			}
			if t, err := object.GetTag(st, r.Hash()); err == nil {
				add(t.Target)
				return nil
			}
			add(r.Hash())
			return nil
		})
	}
	for i := len(shallows) - 1; i >= 0; i-- {
		add(shallows[i])
	}
	return haves
}

// hasObjects reports whether st has the object want and, if it is a tag,
// the commit it points to.
func hasObjects(st storer.EncodedObjectStorer, want, commit plumbing.Hash) bool {
	if _, err := st.EncodedObject(plumbing.AnyObject, want); err != nil {
		return false
	}
	if commit != want {
		if _, err := st.EncodedObject(plumbing.CommitObject, commit); err != nil {
			return false
		}
	}
	return true
}

// ensureObjects makes sure st holds the objects of t, fetching them with
// depth 1 if not, and points the local reference t.refName at them. It
// returns the number of bytes received.
func (s *session) ensureObjects(ctx context.Context, st storage.Storer, t target) (int64, error) {
	var n int64
	if !hasObjects(st, t.want, t.commit) {
		var err error
		switch {
		case t.refName != "" || s.advertised(t.want) || s.allowsCommitWant():
			n, err = s.fetchPack(ctx, st, t.want, 1, true)
		case t.branch != "":
			// The server only sends reference tips: fetch the branch's
			// whole history and look for the commit there.
			n, err = s.fetchPack(ctx, st, s.ar.References[t.branch], infiniteDepth, true)
		default:
			return 0, fmt.Errorf("%w: commit %s: the server does not allow fetching a commit by ID and no branch was given to fetch it from", ErrRefNotFound, t.commit)
		}
		if err != nil {
			if t.refName == "" && isNotOurRef(err) {
				return n, fmt.Errorf("%w: commit %s: %w", ErrRefNotFound, t.commit, err)
			}
			if t.refName == "" && !s.advertised(t.want) && isClosedMidRequest(err) {
				// git-upload-pack answers a want it does not serve by
				// closing the connection; over SSH that can reach us as
				// an EOF while we still send the request, before its
				// "not our ref" message.
				return n, fmt.Errorf("%w: commit %s: the server closed the connection when asked for it: %w", ErrRefNotFound, t.commit, err)
			}
			return n, err
		}
		if !hasObjects(st, t.want, t.commit) {
			return n, fmt.Errorf("%w: commit %s is not on the remote", ErrRefNotFound, t.commit)
		}
	}
	if t.refName != "" && t.refName != "HEAD" {
		ref := plumbing.NewHashReference(plumbing.ReferenceName(t.refName), t.want)
		if err := st.SetReference(ref); err != nil {
			return n, fmt.Errorf("updating %s: %w", t.refName, err)
		}
	}
	return n, nil
}

// isClosedMidRequest reports a connection the server closed while we sent
// the request.
func isClosedMidRequest(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.EPIPE) ||
		strings.HasSuffix(err.Error(), ": EOF")
}

// isNotOurRef reports the server's refusal of an unknown object.
func isNotOurRef(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "not our ref") || strings.Contains(msg, "not valid") || errors.Is(err, plumbing.ErrObjectNotFound)
}

// countingReader counts the bytes of a pack and fails once they pass limit
// (unless it is negative), so that a remote cannot send without end.
type countingReader struct {
	r     io.Reader
	n     int64
	limit int64
	over  error
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.over != nil {
		return 0, c.over
	}
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.limit >= 0 && c.n > c.limit {
		c.over = &TooLargeError{Count: c.n, Limit: c.limit, Pack: true}
		return n, c.over
	}
	return n, err
}

// overOr returns the *TooLargeError of a pack over the limit, which the
// pack parser may not keep in its error chain, or else err.
func (c *countingReader) overOr(err error) error {
	if c.over != nil {
		return c.over
	}
	return err
}

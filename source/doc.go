// Package source fetches a revision of a Git repository, or an artifact of
// an OCI registry, and hands it out as an immutable artifact: a directory
// holding the tree of one commit (or the files of the artifact's layer), a
// revision string such as "main@sha1:<hex>" or "v1.2.0@sha256:<hex>", and
// a digest of the files. It is the first stage of a reconcile and runs on
// every interval, so it is built to be cheap when nothing changed.
//
//	res, err := source.Fetch(ctx, "https://example.com/team/app.git", source.Options{
//		Ref:          source.Ref{SemVer: ">=1.0.0 <2.0.0"},
//		Auth:         auth,
//		Cache:        cache,
//		LastRevision: last, // "" the first time
//	})
//
// [Resolve] answers "which revision is this ref now?" without fetching.
//
// # Refs and precedence
//
// A [Ref] names a branch, a tag, a semantic version range over tags
// (Masterminds/semver syntax; pre-releases only when the range has a
// pre-release part; tags that are not strict semantic versions ignored; a
// "v" prefix tolerated), a full commit SHA-1 (optionally with the branch to
// fetch it from), or a full reference name such as "refs/pull/1/head".
// When several fields are set, the first of
//
//	Commit > Name > SemVer > Tag > Branch
//
// wins and the others are ignored (Branch still tells where to fetch a
// Commit from). The zero Ref is the remote's default branch, the branch its
// HEAD points to.
//
// Revisions name the reference and the commit: "main@sha1:<hex>",
// "v1.2.0@sha1:<hex>" (the commit an annotated tag points to),
// "refs/pull/1/head@sha1:<hex>", and "sha1:<hex>" for a commit fetched
// without a branch. [ParseRevision] splits them.
//
// # Auth
//
// [Auth] holds HTTP basic credentials or a bearer token and an optional CA
// bundle for https://, or an SSH private key (optionally encrypted) and
// known_hosts data for ssh:// and scp-like URLs. Host key checking is on:
// an SSH fetch without known_hosts fails unless the caller sets
// InsecureIgnoreHostKey. Credentials are not sent over plain http:// except
// to loopback addresses, unless AllowInsecureHTTP is set. [AuthFromSecretData]
// reads the keys Flux uses in Secrets ("username", "password",
// "bearerToken", "identity", "known_hosts", "ca.crt"). Nothing is read from
// the environment, ~/.netrc or an SSH agent.
//
// # Artifacts and digest
//
// The [Artifact] directory holds the files of the commit's tree: regular
// files (with their executable bit) and symbolic links (written as they
// are, targets unchecked: consumers that follow them must confine them, as
// package build does). Submodules are not fetched and ".git" never appears.
// A .sourceignore file in the repository root (gitignore syntax) and
// [Options.Ignore] exclude paths, and [Options.Paths] limits the artifact
// to some directories; both apply before the digest, so ignored files do
// not change it. [DirDigest] defines the digest: the SHA-256 of a sorted
// manifest of mode, content hash and path of every file and link, and
// computes it for any directory.
//
// # Caching and the no-op path
//
// With [Options.LastRevision] set, Fetch lists the remote's references
// (one request: a GET of info/refs over HTTP, one upload-pack session over
// SSH) and returns a [Result] with Unchanged set when the ref still
// resolves to that revision, fetching and writing nothing; its Artifact is
// the [Cache]'s artifact of that revision when the Cache still holds it (so
// a restarted program needs no copy of its own), nil otherwise. For a semver
// range the tags are listed and the range resolved again, so a new matching
// tag is a change.
//
// A [Cache] is a directory the caller owns that keeps one bare clone per
// URL. The first fetch is shallow (depth 1) and asks for no tags but the
// one it needs; later fetches of the same URL offer the commits the clone
// has and receive only new objects, and force-pushed branches simply move
// the local reference. Fetches of the same URL are serialized (in-process
// lock and file lock); different URLs run in parallel. Artifacts are
// written once per commit and filter set into the cache and shared by
// later fetches. Without a Cache, Fetch clones into memory and writes the
// artifact into [Options.Dir].
//
// Incremental fetches ask for a thin pack (deltas against objects the
// clone has) and store its objects loose, because go-git's pack writer
// cannot index thin packs; the clone only grows. [Cache.Prune] removes old
// artifacts; deleting a repository's folder under repos/ makes the next
// fetch clone it afresh.
//
// Artifacts in a Cache are written read-only, and a new artifact
// hard-links the files it shares with the previous artifact of the same
// URL instead of writing them again: on the machines this was measured on,
// creating a file costs about 0.7 ms, which dominates everything else.
//
// Measured with BenchmarkSource (3,000 files, 100 commits, git http-backend
// on loopback, 2 cores): first fetch into a Cache ~2.1 s, of which the
// transfer and the bare clone on disk are ~75 ms (in memory ~55 ms) and the
// rest is creating the files; no-op check ~5 ms (one GET); an incremental
// fetch of one new commit ~150 ms with a 344-byte pack; the same revision
// asked again ~17 ms. For comparison go-git's own checkout takes ~0.6 s
// even into an in-memory file system and ~3.3 s to disk, and
// `git clone --depth 1` ~2.4 s. So objects go to a bare repository (on
// disk with a Cache, in memory without) and the package writes the tree
// itself, applying the ignore rules and computing the digest in the same
// pass; the persistent cache costs ~20 ms over memory and saves every
// later transfer.
//
// # Verification
//
// [Options.Verify] checks, before the artifact is handed out, the
// signature of the fetched commit ([VerifyHead]) or of the annotated tag
// ([VerifyTag]) against trusted keys: armored OpenPGP public keys for
// signatures made with gpg, and SSH public keys (authorized_keys lines) for
// signatures made with git's gpg.format=ssh (the SSHSIG format, namespace
// "git"). [Artifact.VerifiedBy] names the key that verified.
//
// # OCI artifacts
//
// [FetchOCI] does for an oci://host/repository URL what Flux's
// OCIRepository does: it resolves an [OCIRef] (a tag, "latest" by
// default; a semver range over the tags, optionally filtered by a regular
// expression; or a digest, which wins) to a manifest, selects a layer (the
// first, or the first of [OCIOptions.MediaType]), checks the layer against
// the digest the manifest gives, and extracts the gzip-compressed tar into
// the artifact directory, applying the artifact's root .sourceignore and
// the Ignore patterns. That is the format `flux push artifact` writes
// ([FluxArtifactMediaType]). The revision is "<tag>@sha256:<manifest
// digest>", or "sha256:<hex>" for a Digest ref. A known revision costs
// one request (the manifest's HEAD), a pinned digest none; artifacts go
// into the same [Cache], keyed by manifest digest and filters. Registry
// credentials are [Auth]'s Username and Password (or a BearerToken used as
// the registry's access token) and CABundle; [OCIOptions.PlainHTTP] is
// Flux's spec.insecure. Signatures (cosign, notation) are not verified.
//
// # The perimeter
//
// A repository is untrusted input, and a URL may carry a credential:
//
//   - Bounds: [Options.Limits] bound the bytes received from the remote
//     (default 1 GiB, counted as they arrive; for OCI the manifest and the
//     compressed layer, checked from the manifest before downloading), and
//     the bytes of file content (default 1 GiB) and the files and symlinks
//     (default 100,000; for OCI the directories too) of an artifact.
//     They are checked while the artifact is written: before each file, from
//     the blob's size before a byte of it is written, and during each copy.
//     A tree that expands past them (one large blob under many paths, a
//     million empty files) fails with a [*TooLargeError] and leaves nothing
//     behind: an artifact directory given in [Options.Dir] is left empty,
//     and nothing enters the Cache. An artifact the Cache already holds is
//     held to the limits of the fetch that asks for it.
//   - Time: the context bounds the whole fetch, the writing included: a
//     context that ends while files are written stops the copy in progress,
//     and Fetch returns the context's error, never a result obtained after
//     the deadline.
//   - Files: symbolic links are written as they are (see Artifacts and
//     digest) and never followed while writing: a link to ../../etc/passwd
//     is a link in the artifact, which consumers must confine. An OCI
//     layer is extracted through an os.Root of the artifact directory: an
//     entry named ../x or /x, a hard link to a file outside, or a file
//     written through a symbolic link that leaves the directory is an
//     error wrapping [ErrInvalid], and so are devices and other special
//     files.
//   - Credentials: a credential never appears in an error of [Fetch] or
//     [Resolve], nor in [Artifact.URL], whatever part of the URL holds it:
//     the user information of a URL (a token is often passed as the user
//     name, as in https://TOKEN@host/repo; an SSH login name is kept), query
//     values and the fragment are replaced by "redacted" (see [RedactURL]),
//     and so are [Auth]'s password and bearer token wherever an underlying
//     error quotes them. Passwords in URLs are refused: credentials belong
//     in [Auth].
//
// # Errors
//
// Errors wrap sentinels to branch on with errors.Is: [ErrInvalid] (bad
// URL, malformed commit SHA, bad semver range, contradictory options),
// [ErrAuth] (credentials refused or unusable), [ErrHostKey] (SSH host key
// unknown or changed), [ErrRepositoryNotFound], [ErrRefNotFound] (the
// message names the ref; for OCI also a tag or manifest the registry does
// not have), [ErrNoMatchingTag], [ErrPathNotFound], [ErrLayerNotFound],
// [ErrTooLarge] (a [*TooLargeError] names the file and the limit) and
// [ErrVerification] (a [*VerificationError] says what failed). When the
// context ends, the error wraps ctx.Err(), so
// errors.Is(err, context.DeadlineExceeded) holds. Over SSH the deadline
// bounds the dial but not the SSH handshake, which go-git does not make
// cancellable.
package source

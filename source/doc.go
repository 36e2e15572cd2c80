// Package source fetches a revision of a Git repository and hands it out as
// an immutable artifact: a directory, the resolved commit, a revision string
// such as "main@sha1:<hex>" and a digest of the files it contains.
//
// A reference may name a branch, a tag, a semantic version range over tags,
// an exact commit or a full reference name. Fetching is cheap when nothing
// changed: the remote is asked for the reference first and nothing is cloned
// when it has not moved.
//
// Status: designed, not yet implemented; this file reserves the package and
// states its job (see the project's issue tracker).
package source

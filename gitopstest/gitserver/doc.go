// Package gitserver runs a Git server on 127.0.0.1 that serves real bare
// repositories over smart HTTP and SSH, and builds their history from Go.
//
// It is the Git half of gitopskit's test kit. It does not import package
// testing, so example programs can use it outside tests; tests usually go
// through the wrappers in package [github.com/gitopskit/gitopskit/gitopstest],
// which fail the test on error and close the server in t.Cleanup.
//
// # Server
//
// [Start] listens on two loopback ports:
//
//   - smart HTTP, with optional HTTP basic auth ([Options.Username],
//     [Options.Password]). Both fetch (upload-pack) and push (receive-pack)
//     are enabled. Fetches run `git upload-pack --stateless-rpc` directly,
//     one process per request; pushes and the dumb protocol are served by
//     `git http-backend` through net/http/cgi.
//   - SSH, served with golang.org/x/crypto/ssh: public-key authentication
//     against [Options.AuthorizedKeys] (or keys added later with
//     [Server.AuthorizeKey]), and `exec` requests for git-upload-pack and
//     git-receive-pack, whose repository path must resolve inside the root.
//
// Repositories live under [Server.Root] as <name>.git and are addressed with
// [Server.HTTPURL] and [Server.SSHURL]. The SSH host key is generated at
// start (or given in [Options.HostKey]); pin it with [Server.HostKey] or the
// ready-made known_hosts line of [Server.KnownHostsLine].
//
// [Server.Close] stops both listeners, ends in-flight requests and sessions
// (killing their git processes) and removes the directories it created.
//
// # Observing and breaking the server
//
// [Server.HTTPRequests] and [Server.SSHSessions] record what clients did, so a
// test can prove, for example, that a client only listed refs and fetched no
// pack when the remote had not moved. [Server.SetHTTPFault] makes the HTTP
// side answer with an error status ([FailHTTP]) or stall ([StallHTTP]).
//
// # Building history
//
// [Server.CreateRepo] makes an empty bare repository and returns a [Repo],
// whose methods write real Git objects with the git CLI: [Repo.Commit] (files,
// symlinks, deletions, fixed author and committer), [Repo.Branch],
// [Repo.Tag], [Repo.AnnotatedTag], and [Repo.ResetBranch] to rewrite a branch
// the way a force push does. Commits are deterministic: the same calls give
// the same commit IDs on every run, because commit times default to a fixed
// clock (see [DefaultTime]) rather than the wall clock.
//
// Every git process the package starts runs with a clean environment: no
// system or global Git configuration, a private HOME, and an explicit
// identity, so the user's own Git setup never changes the result.
package gitserver

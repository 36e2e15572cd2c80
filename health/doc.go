// Package health waits until applied objects are ready and says, per
// object, why one is not.
//
// # Status
//
// [Checks] computes an object's [Status] (Current, InProgress, Failed,
// Terminating, NotFound, Unknown) with kstatus for built-in kinds and for
// custom resources that follow the usual conditions, and with [CELCheck]
// expressions for the custom resources that need their own rule (like
// Flux's healthCheckExprs: current, inProgress and failed expressions over
// the object).
//
// # Waiting
//
// [Waiter.Wait] watches the objects (one LIST and one WATCH per resource and
// namespace, never a request per object) and returns as soon as all are
// Current. It fails fast: when an object is Failed, for example a Deployment
// past its progress deadline, it returns a [*FailedError] with the object's
// reason at once, not when the timeout passes. When the timeout passes first
// it returns a [*TimeoutError] listing each object that was not ready and
// why. errors.Is matches [ErrFailed] and [ErrTimeout].
package health

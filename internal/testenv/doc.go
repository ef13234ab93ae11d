// Package testenv gives tests real AWS SDK clients for the local emulators that
// scripts/emulators.sh starts (kinesis-local, dynalite and kinesalite), built with the
// public kcltest package and wrappable by a fault injector, fresh uniquely named streams and
// lease tables that are removed afterwards, and the path of the shared test data.
//
// A test that needs the emulators fails, saying how to start them, when their endpoints are
// not set; it skips only under -short.
package testenv

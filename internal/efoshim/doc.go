// Package efoshim is a test-only HTTP transport that makes kinesis-local's SubscribeToShard
// responses readable by aws-sdk-go-v2.
//
// kinesis-local 0.6.2 never sends the event stream's initial-response message, which the SDK
// waits for before it hands out the stream ("deserialize initial response: expected
// initial-response"). Real Kinesis sends it. The shim writes that message in front of every
// successful SubscribeToShard response; every other byte still comes from the emulator.
// The library itself never uses this package.
package efoshim

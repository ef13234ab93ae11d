// Package kcltest points a kcl consumer (and any other AWS SDK code) at the local emulators
// that scripts/emulators.sh starts: kinesis-local (Kinesis with enhanced fan-out), dynalite
// (DynamoDB) and kinesalite (a second Kinesis emulator, polling only). It is for local
// development and tests; nothing in it belongs in a program that runs against AWS.
//
// The emulators' endpoints come from the environment variables that
// `scripts/emulators.sh env` prints and `scripts/emulators.sh run CMD` exports to CMD
// (EnvKinesisEndpoint, EnvDynamoDBEndpoint, ...). The clients use the region Region and
// static dummy credentials whose access key id is AccountID, which kinesis-local takes as the
// account in its ARNs.
//
// kinesis-local never sends the initial-response event that opens a SubscribeToShard event
// stream, and aws-sdk-go-v2 waits for it; the Kinesis client of NewClients carries
// InitialResponseTransport, which adds it. Without it, every subscription fails (kcl then
// logs errors and ends the shard after efo.DefaultSubscribeFailureLimit failures in a row).
package kcltest

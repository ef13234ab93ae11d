// Package glue will decode records framed by the AWS Glue Schema Registry serializer (Avro,
// JSON and Protobuf) in pure Go.
//
// Nothing is implemented here yet; no issue has asked for it so far.
package glue

// Command kcl-multilang runs KCL record processors written for the Java MultiLangDaemon
// (KCL for Python, Node.js, Ruby, .NET) on kcl, without a JVM. It reads the same
// .properties file:
//
//	kcl-multilang --properties-file app.properties
//
// Flags override properties: --set key=value for any property, or the named flags below.
// SIGTERM or SIGINT shut it down gracefully: every child gets shutdownRequested and may
// checkpoint within shutdownGraceMillis, then the leases are released. It exits 2 on bad
// configuration and 1 when it stopped on an error.
package main

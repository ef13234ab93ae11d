// Package multilang is kcl's MultiLangDaemon: it runs record processors written for KCL's
// Java MultiLangDaemon (the Python, Node.js, Ruby and .NET KCL clients) on a kcl Consumer.
//
// Each leased shard gets its own child process, started from the configured executable,
// that speaks the MultiLangDaemon's JSON-lines protocol on its stdin and stdout: the daemon
// sends initialize, processRecords, leaseLost, shardEnded and shutdownRequested (or, for
// clients of the first protocol version, shutdown with reason TERMINATE or ZOMBIE) and waits
// for the child's status reply to each; in between, the child may ask for checkpoints, which
// go through kcl's fenced checkpointer and are answered with the result or the name of the
// Java exception the clients expect.
//
// A child that exits, crashes, stops answering or writes an over-long line is killed and
// restarted from the shard's last checkpoint with the records it had not checkpointed;
// nothing is checkpointed that a child did not ask for. Lines on a child's stdout that are
// not protocol messages are skipped, as the Java daemon does.
//
// Config and ParseProperties read the Java daemon's .properties file. The command
// cmd/kcl-multilang is a thin wrapper around Daemon.
package multilang

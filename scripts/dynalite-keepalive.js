// Preloaded into dynalite by scripts/emulators.sh (node -r). dynalite 4.0.0 rethrows the
// error of a request that its client aborted mid-body (index.js: req.on('error', function
// (err) { throw err })), and that uncaught exception ends the whole emulator: one test that
// cancels a DynamoDB call at the wrong moment fails every test after it. Such an abort
// concerns that one request only, so it is logged and dynalite goes on; any other uncaught
// exception still ends the process, as it would without this file.
process.on('uncaughtException', (err) => {
  if (err && err.code === 'ECONNRESET') {
    console.error('dynalite: a client aborted a request:', err.message)
    return
  }
  console.error(err)
  process.exit(1)
})

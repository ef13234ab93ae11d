// The cheapest useful record processor on npm aws-kcl: it does nothing with the records and
// checkpoints at the last one of every batch, so measurements show the daemon's and the
// protocol's cost.
'use strict';

const kcl = require('aws-kcl');

kcl({
  initialize: function (input, done) { done(); },
  processRecords: function (input, done) {
    const records = input.records;
    if (!records || records.length === 0) { done(); return; }
    input.checkpointer.checkpoint(records[records.length - 1].sequenceNumber, function () { done(); });
  },
  leaseLost: function (input, done) { done(); },
  shardEnded: function (input, done) { input.checkpointer.checkpoint(function () { done(); }); },
  shutdownRequested: function (input, done) { input.checkpointer.checkpoint(function () { done(); }); },
}).run();

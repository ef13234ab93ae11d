// A record processor on the official Node.js KCL (npm aws-kcl), written as its users write
// them: it appends every record to the file in $SAMPLE_OUT (one JSON line each) and
// checkpoints at the last record of every batch, at shard end and when shutdown is requested.
'use strict';

const fs = require('fs');
const kcl = require('aws-kcl');

const out = process.env.SAMPLE_OUT;
let shardId = null;

function note(entry) {
  entry.pid = process.pid;
  entry.shardId = shardId;
  fs.appendFileSync(out, JSON.stringify(entry) + '\n');
}

const recordProcessor = {
  initialize: function (input, completeCallback) {
    shardId = input.shardId;
    note({ event: 'initialize', sequenceNumber: input.sequenceNumber, subSequenceNumber: input.subSequenceNumber });
    completeCallback();
  },

  processRecords: function (input, completeCallback) {
    if (!input || !input.records || input.records.length === 0) {
      completeCallback();
      return;
    }
    let last = null;
    for (const record of input.records) {
      note({
        event: 'record',
        data: Buffer.from(record.data, 'base64').toString(),
        partitionKey: record.partitionKey,
        sequenceNumber: record.sequenceNumber,
        subSequenceNumber: record.subSequenceNumber,
        arrival: record.approximateArrivalTimestamp,
      });
      last = record.sequenceNumber;
    }
    input.checkpointer.checkpoint(last, function (err, sequenceNumber) {
      note({ event: 'checkpoint', sequenceNumber: sequenceNumber, error: err || null });
      completeCallback();
    });
  },

  leaseLost: function (input, completeCallback) {
    note({ event: 'leaseLost' });
    completeCallback();
  },

  shardEnded: function (input, completeCallback) {
    input.checkpointer.checkpoint(function (err) {
      note({ event: 'shardEnded', error: err || null });
      completeCallback();
    });
  },

  shutdownRequested: function (input, completeCallback) {
    input.checkpointer.checkpoint(function (err) {
      note({ event: 'shutdownRequested', error: err || null });
      completeCallback();
    });
  },
};

kcl(recordProcessor).run();

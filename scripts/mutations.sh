# The breakages scripts/mutate.sh applies, one line each (sourced by it; see its header):
#   mutation NAME FLAGS PACKAGE TESTS FILE PERL
# Each is a real bug the named tests must catch. Add one for every new guarantee.
# CI runs those not marked slow (scripts/mutate.sh --ci); a slow one here repeats, through the
# emulators, a breakage that a -short test already catches in CI.
# shellcheck shell=bash disable=SC2016

# Leases: the fence of every write is "owner = me AND counter = what I last saw".
mutation checkpoint-owner-fence emu ./leases 'TestFencedWrites|TestStoreContract' leases/table_fenced.go \
	's/(update \+= " REMOVE #pcp, #pcps, #pcs"\n.*?fencedInput\(t\.name, key, update, )ownedCondition/$1"(#o = :owner OR #o <> :owner) AND #c = :counter"/s'
mutation table-counter-fence emu ./leases 'TestFencedWrites|TestStoreContract' leases/table_fenced.go \
	's/const ownedCondition = "#o = :owner AND #c = :counter"/const ownedCondition = "#o = :owner AND (#c = :counter OR #c <> :counter)"/'
mutation coordinator-counter-fence short ./leases 'TestCounterMovedBeyondOurWritesIsAConflict' leases/tenure.go \
	's/explicable := row\.Counter >= tn\.lease\.Counter && row\.Counter-tn\.lease\.Counter <= tn\.unanswered\+1/explicable := true/'

# Polling: Kinesis counts failed GetRecords calls toward 5 calls/s too.
mutation failed-getrecords-not-paced short ./polling 'TestReaderPaces' polling/fetcher.go \
	's/\tf\.pacer\.started\(start\)\n(.*?\tif err != nil \{\n.*?\n\t\}\n)/$1\tf.pacer.started(start)\n/s'
mutation failed-getrecords-not-paced-emu emu,slow ./polling 'TestFailedCallsArePaced' polling/fetcher.go \
	's/\tf\.pacer\.started\(start\)\n(.*?\tif err != nil \{\n.*?\n\t\}\n)/$1\tf.pacer.started(start)\n/s'

# EFO: a resubscribe continues AFTER the last continuation; a guard hides repeats otherwise.
mutation efo-after-is-at short ./efo 'TestResumeAfterEachKindOfEnd|TestLatestIsPinned' efo/position.go \
	's/(func after\(seq string\) StartPosition \{\n\treturn StartPosition\{Type: types\.)ShardIteratorTypeAfterSequenceNumber/$1ShardIteratorTypeAtSequenceNumber/'
mutation efo-resubscribe-at short ./efo 'TestResumeAfterEachKindOfEnd|TestLatestIsPinned' efo/subscription.go \
	's/cur\.pos = after\((aws\.ToString\(e\.Value\.ContinuationSequenceNumber\))\)/cur.pos = StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: $1}/'
mutation efo-resubscribe-at-emu emu,slow ./efo 'TestRenewal|TestResets' efo/subscription.go \
	's/cur\.pos = after\((aws\.ToString\(e\.Value\.ContinuationSequenceNumber\))\)/cur.pos = StartPosition{Type: types.ShardIteratorTypeAtSequenceNumber, SequenceNumber: $1}/'
mutation efo-resubscribe-after-first-record short ./efo 'TestResumeAfterEachKindOfEnd' efo/subscription.go \
	's/\t\t\tcur\.pos = after\(aws\.ToString\(e\.Value\.ContinuationSequenceNumber\)\)\n/\t\t\tcur.pos = after(aws.ToString(e.Value.ContinuationSequenceNumber))\n\t\t\tif len(e.Value.Records) > 1 {\n\t\t\t\tcur.pos = after(aws.ToString(e.Value.Records[0].SequenceNumber))\n\t\t\t}\n/'
mutation efo-resubscribe-after-first-record-emu emu,slow ./efo 'TestRenewal' efo/subscription.go \
	's/\t\t\tcur\.pos = after\(aws\.ToString\(e\.Value\.ContinuationSequenceNumber\)\)\n/\t\t\tcur.pos = after(aws.ToString(e.Value.ContinuationSequenceNumber))\n\t\t\tif len(e.Value.Records) > 1 {\n\t\t\t\tcur.pos = after(aws.ToString(e.Value.Records[0].SequenceNumber))\n\t\t\t}\n/'

# Consumer: Stop during a Drain releases now, and both report Run's result.
mutation stop-during-drain-fails emu . 'TestStopDuringDrain' consumer.go \
	's/(c\.stopNow\(ErrShutdown\) \/\/ Stop during a Drain: release now\n\t\t\})/$1\n\t\tc.mu.Unlock()\n\t\t<-c.done\n\t\treturn ErrClosed/'
# Checkpoints: the last batch's checkpoint finishes the shard and says so by a nil error.
mutation shard-end-checkpoint-errs emu . 'TestReshardDuringConsumption' batch.go \
	's/\t\treturn b\.shard\.finish\(ctx\)\n/\t\tif err := b.shard.finish(ctx); err != nil {\n\t\t\treturn err\n\t\t}\n\t\treturn ErrShardEnded\n/'

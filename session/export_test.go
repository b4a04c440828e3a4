package session

// SetSweepScan sets how many sessions a sweep reads per transaction, so a
// test can cross slice boundaries with a few sessions; it returns a func
// restoring the old value.
func SetSweepScan(n int) (restore func()) {
	old := sweepScan
	sweepScan = n
	return func() { sweepScan = old }
}

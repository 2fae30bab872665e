package postgres

import "github.com/hookd/hookd/pkg/webhook"

// NamesPartitionsOf reads the days whose partitions exist from the catalog
// and reports whether the hot statements name the partitions of the day of
// message msgID.
func (db *DB) NamesPartitionsOf(msgID string) bool {
	db.days.mu.Lock()
	generation := db.days.generation
	db.days.mu.Unlock()
	db.days.read(generation)
	_, ok := db.days.of(webhook.PrefixMessage, msgID)
	return ok
}

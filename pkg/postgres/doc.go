// Package postgres stores hookd's state in PostgreSQL. It is the only
// package that imports gorm and pgx: it implements the store interfaces of
// pkg/webhook and pkg/delivery, owns the embedded, versioned SQL migrations
// and maps database errors (unique violations, missing rows, refused
// values, an unreachable server) to webhook error codes.
//
// One way to write SQL: a hand-written statement is a constant next to the
// method that runs it, executed on the pgx pool with named arguments
// (pgx.NamedArgs, @name), its rows scanned into a struct by column name
// (pgx.RowToStructByName, with the column list kept in one constant per
// row type). gorm, on the same pool, serves the plain reads and writes of
// one table (create, find by key, paged lists, updates of a row) where its
// builder saves code. No statement is assembled from user input.
package postgres

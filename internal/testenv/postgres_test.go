//go:build unix

package testenv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestPostgres(t *testing.T) {
	pg := StartPostgres(t)
	pg.Exec(t, "CREATE TABLE t (k text PRIMARY KEY, v int); INSERT INTO t VALUES ('a', 1), ('b', 2)")
	pg.Exec(t, "INSERT INTO t VALUES ($1, $2)", "c", 3)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n, sum int
	if err := conn.QueryRow(ctx, "SELECT count(*), sum(v) FROM t").Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 3 || sum != 6 {
		t.Errorf("count %d sum %d, want 3 6", n, sum)
	}
}

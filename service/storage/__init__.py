"""PostgreSQL: the connection, the migrations and the queries every part shares."""

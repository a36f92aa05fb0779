DROP FUNCTION madoguchi_book(JSONB);
DROP FUNCTION madoguchi_insert_sql(TEXT, JSONB, TEXT);
DROP FUNCTION madoguchi_lock_id(TEXT);
